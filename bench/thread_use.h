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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Reads one small /proc file into buf (NUL-terminated); 0 or -1. */
static inline int tu_read(const char *path, char *buf, size_t bufsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, bufsz - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	return 0;
}

static inline struct tu_role *tu_find(struct thread_use *u, const char *name)
{
	for (unsigned i = 0; i < u->n; i++)
		if (strcmp(u->r[i].name, name) == 0)
			return &u->r[i];
	if (u->n == TU_ROLES - 1)
		name = "other";
	for (unsigned i = 0; i < u->n; i++)
		if (strcmp(u->r[i].name, name) == 0)
			return &u->r[i];
	struct tu_role *r = &u->r[u->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%.15s", name);
	return r;
}

/* Snapshots pid's threads by role into *u; 0, or -1 when the process is
 * gone. */
static inline int tu_snapshot(int pid, struct thread_use *u)
{
	char path[64], sub[128], buf[160], comm[32];
	memset(u, 0, sizeof *u);
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%.20s/comm", path, de->d_name);
		if (tu_read(sub, comm, sizeof comm) < 0)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(sub, sizeof sub, "%s/%.20s/schedstat", path, de->d_name);
		if (tu_read(sub, buf, sizeof buf) < 0)
			continue;
		char *end;
		long long ns = strtoll(buf, &end, 10);
		(void)strtoll(end, &end, 10);
		long long sw = strtoll(end, NULL, 10);
		struct tu_role *r = tu_find(u, comm);
		r->ns += ns;
		r->switches += sw;
		r->threads++;
	}
	closedir(d);
	return 0;
}

/* *out = b - a, role by role (a role new in b counts whole). */
static inline void tu_diff(const struct thread_use *a, const struct thread_use *b,
			   struct thread_use *out)
{
	*out = *b;
	for (unsigned i = 0; i < out->n; i++)
		for (unsigned j = 0; j < a->n; j++)
			if (strcmp(out->r[i].name, a->r[j].name) == 0) {
				out->r[i].ns -= a->r[j].ns;
				out->r[i].switches -= a->r[j].switches;
				break;
			}
}

static inline long long tu_total_switches(const struct thread_use *u)
{
	long long s = 0;
	for (unsigned i = 0; i < u->n; i++)
		s += u->r[i].switches;
	return s;
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
		for (unsigned l = 0; l < nlevels; l++)
			for (unsigned j = 0; j < u[l].n; j++)
				if (strcmp(u[l].r[j].name, name) == 0 &&
				    ((double)u[l].r[j].ns / 1e3 / d[l] >= 1 ||
				     (double)u[l].r[j].switches / d[l] >= 0.05))
					shown = 1;
		if (!shown)
			continue;
		char label[32];
		snprintf(label, sizeof label, "%.15s (%u)", name, order.r[i].threads);
		fprintf(f, "%-19s", label);
		for (unsigned l = 0; l < nlevels; l++) {
			double ns = 0, sw = 0;
			for (unsigned j = 0; j < u[l].n; j++)
				if (strcmp(u[l].r[j].name, name) == 0) {
					ns = (double)u[l].r[j].ns;
					sw = (double)u[l].r[j].switches;
				}
			fprintf(f, " | %9.0f %5.1f", ns / 1e3 / d[l], sw / d[l]);
		}
		fprintf(f, "\n");
	}
}

#endif
