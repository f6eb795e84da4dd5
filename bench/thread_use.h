/*
 * A process's CPU time and context switches by thread role, for the
 * benches (a header of static functions: each bench is one program).
 *
 * The agent names its long-lived threads by role (rmb-worker, eng-worker,
 * follower, chain-ws, chain-submit, nng's own nng:task, ...), so summing
 * /proc/PID/task/N/schedstat over the threads of one name says where a
 * deploy's CPU goes and which hand-offs cost switches, without a profiler.
 * schedstat's fields are the thread's CPU time (ns), its time waiting to
 * run, and the number of times it was switched in. A thread that exits
 * between two snapshots takes its time with it; the agent's long-lived
 * threads do not.
 */
#ifndef BENCH_THREAD_USE_H
#define BENCH_THREAD_USE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

/* More roles than the agent has; the rest are summed under "other". */
#define TU_ROLES 32

struct tu_role {
	char name[16]; /* the thread's comm (15 characters at most) */
	long long ns;  /* CPU time */
	long long switches;
	unsigned threads;
};

struct thread_use {
	struct tu_role r[TU_ROLES];
	unsigned n;
};

/* The role called name in u, or NULL. */
static inline const struct tu_role *tu_lookup(const struct thread_use *u, const char *name)
{
	for (unsigned i = 0; i < u->n; i++)
		if (strcmp(u->r[i].name, name) == 0)
			return &u->r[i];
	return NULL;
}

/* The role called name in u, added when new (as "other" once u is full). */
static inline struct tu_role *tu_find(struct thread_use *u, const char *name)
{
	const struct tu_role *c = tu_lookup(u, name);
	if (!c && u->n == TU_ROLES - 1)
		c = tu_lookup(u, name = "other");
	if (c)
		return &u->r[c - u->r];
	struct tu_role *r = &u->r[u->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%.15s", name);
	return r;
}

/* Snapshots pid's threads by role into *u; 0, or -1 when the process is
 * gone. */
static inline int tu_snapshot(int pid, struct thread_use *u)
{
	char path[64], sub[128];
	memset(u, 0, sizeof *u);
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint8_t *comm = NULL, *stat = NULL;
		size_t len;
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%.20s/comm", path, de->d_name);
		if (zfile_read(sub, 64, &comm, &len) == 0) {
			snprintf(sub, sizeof sub, "%s/%.20s/schedstat", path, de->d_name);
			if (zfile_read(sub, 160, &stat, &len) == 0) {
				char *end;
				long long ns = strtoll((char *)stat, &end, 10);
				(void)strtoll(end, &end, 10);
				long long sw = strtoll(end, NULL, 10);
				comm[strcspn((char *)comm, "\n")] = '\0';
				struct tu_role *r = tu_find(u, (char *)comm);
				r->ns += ns;
				r->switches += sw;
				r->threads++;
			}
		}
		free(comm);
		free(stat);
	}
	closedir(d);
	return 0;
}

/* *out = b - a, role by role (a role new in b counts whole). */
static inline void tu_diff(const struct thread_use *a, const struct thread_use *b,
                           struct thread_use *out)
{
	*out = *b;
	for (unsigned i = 0; i < out->n; i++) {
		const struct tu_role *was = tu_lookup(a, out->r[i].name);
		if (was) {
			out->r[i].ns -= was->ns;
			out->r[i].switches -= was->switches;
		}
	}
}

/* The sums over all roles: CPU time (ns) and switches. */
static inline void tu_totals(const struct thread_use *u, long long *ns, long long *switches)
{
	*ns = *switches = 0;
	for (unsigned i = 0; i < u->n; i++) {
		*ns += u->r[i].ns;
		*switches += u->r[i].switches;
	}
}

static inline int tu_cmp_ns(const void *pa, const void *pb)
{
	const struct tu_role *a = pa, *b = pb;
	return a->ns < b->ns ? 1 : a->ns > b->ns ? -1 : 0;
}

/* Prints, for each level's use u[i] over d[i] deploys, each role's CPU
 * (us) and switches per deploy; roles in the order of the last level's
 * CPU, those under 1 us and 0.05 switches per deploy everywhere left out. */
static inline void tu_print(FILE *f, const struct thread_use *u, const double *d,
                            const unsigned *users, unsigned nlevels)
{
	if (!nlevels)
		return;
	struct thread_use order = u[nlevels - 1];
	qsort(order.r, order.n, sizeof order.r[0], tu_cmp_ns);
	fprintf(f, "%-19s", "thread (n)");
	for (unsigned l = 0; l < nlevels; l++)
		fprintf(f, " | %3u: us/d  sw/d", users[l]);
	fprintf(f, "\n");
	for (unsigned i = 0; i < order.n; i++) {
		const char *name = order.r[i].name;
		int shown = 0;
		for (unsigned l = 0; l < nlevels; l++) {
			const struct tu_role *r = tu_lookup(&u[l], name);
			if (r &&
			    ((double)r->ns / 1e3 / d[l] >= 1 || (double)r->switches / d[l] >= 0.05))
				shown = 1;
		}
		if (!shown)
			continue;
		char label[32];
		snprintf(label, sizeof label, "%.15s (%u)", name, order.r[i].threads);
		fprintf(f, "%-19s", label);
		for (unsigned l = 0; l < nlevels; l++) {
			const struct tu_role *r = tu_lookup(&u[l], name);
			fprintf(f, " | %9.0f %5.1f", r ? (double)r->ns / 1e3 / d[l] : 0.0,
			        r ? (double)r->switches / d[l] : 0.0);
		}
		fprintf(f, "\n");
	}
}

#endif
