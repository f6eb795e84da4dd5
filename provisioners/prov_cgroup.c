/*
 * Where the cgroups of containers are, v1 (one hierarchy per controller) or
 * v2 (the unified hierarchy), detected at runtime from /proc/self/mountinfo.
 * The OCI runtime creates them and sets the limits (prov_ct_bundle.c); this
 * file finds them for usage reports, health and the last-resort cleanup.
 *
 * v1: a workload's cgroups go under the agent's own cgroup of each
 * controller, <mount><own path>/<parent>/<host>, so whatever limits the
 * agent's environment also bounds its workloads. v2: under
 * <mount>/<parent>/<host>, because a v2 cgroup that holds processes (the
 * agent's own) cannot delegate controllers to children.
 */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KILL_ROUNDS 50
#define FREEZE_ROUNDS 200

static const char *const ctrl_name[PROV_CG_N] = {"cpu", "cpuacct", "memory", "pids", "freezer"};

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int prov_cg_write(const char *dir, const char *file, const char *s)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "%s/%s", dir, file) < 0)
		return -ENAMETOOLONG;
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = strlen(s);
	ssize_t w = write(fd, s, n);
	int rc = w == (ssize_t)n ? 0 : w < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

static int cg_read(const char *dir, const char *file, char *buf, size_t bufsz)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "%s/%s", dir, file) < 0)
		return -ENAMETOOLONG;
	return prov_read_file(p, buf, bufsz, NULL);
}

static int has_word(const char *list, const char *w, const char *seps)
{
	size_t n = strlen(w);
	for (const char *p = list; (p = strstr(p, w)) != NULL; p += n) {
		int start = p == list || strchr(seps, p[-1]);
		int end = p[n] == '\0' || strchr(seps, p[n]);
		if (start && end)
			return 1;
	}
	return 0;
}

/* The agent's own path in the hierarchy that carries ctrl (v1), from
 * /proc/self/cgroup lines "N:ctrl,ctrl:/path". */
static int own_path(const char *ctrl, char *out, size_t outsz)
{
	char buf[8192];
	if (prov_read_file("/proc/self/cgroup", buf, sizeof buf, NULL) < 0)
		return -EIO;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		if (has_word(c1 + 1, ctrl, ","))
			return prov_fmt(out, outsz, "%s", strcmp(c2 + 1, "/") ? c2 + 1 : "");
	}
	return -ENOENT;
}

void prov_cg_detect(struct prov_ctx *ctx)
{
	struct prov_cg_layout *l = &ctx->cg;
	memset(l, 0, sizeof *l);
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char line[4096], v2mnt[PROV_PATH_MAX] = "";
	char v1mnt[PROV_CG_N][PROV_PATH_MAX];
	memset(v1mnt, 0, sizeof v1mnt);
	while (fgets(line, sizeof line, f)) {
		/* id parent maj:min root mountpoint opts ... - fstype source superopts */
		char *dash = strstr(line, " - ");
		if (!dash)
			continue;
		char mnt[PROV_PATH_MAX], fstype[32], src[64], sopts[512];
		if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(dash + 3, "%31s %63s %511s", fstype, src, sopts) != 3)
			continue;
		if (strcmp(fstype, "cgroup2") == 0 && !v2mnt[0])
			prov_fmt(v2mnt, sizeof v2mnt, "%s", mnt);
		if (strcmp(fstype, "cgroup") != 0)
			continue;
		for (int i = 0; i < PROV_CG_N; i++)
			if (has_word(sopts, ctrl_name[i], ",") && !v1mnt[i][0])
				prov_fmt(v1mnt[i], sizeof v1mnt[i], "%s", mnt);
	}
	fclose(f);

	char ctrls[256];
	if (v2mnt[0] && cg_read(v2mnt, "cgroup.controllers", ctrls, sizeof ctrls) == 0 &&
	    has_word(ctrls, "memory", " \n") && has_word(ctrls, "cpu", " \n") &&
	    has_word(ctrls, "pids", " \n")) {
		l->v2 = 1;
		prov_fmt(l->base[0], sizeof l->base[0], "%s/%s", v2mnt, ctx->cgroup_parent);
	} else {
		for (int i = 0; i < PROV_CG_N; i++) {
			char own[PROV_PATH_MAX];
			if (!v1mnt[i][0] || own_path(ctrl_name[i], own, sizeof own) < 0 ||
			    prov_fmt(l->base[i], sizeof l->base[i], "%s%s/%s", v1mnt[i], own,
			             ctx->cgroup_parent) < 0)
				l->base[i][0] = '\0';
		}
	}
	ctx->feat.cgroup_v2 = l->v2;
	int all = ctx->feat.root;
	if (l->v2) {
		all = all && l->base[0][0];
	} else {
		for (int i = 0; i < PROV_CG_N; i++)
			all = all && l->base[i][0];
	}
	ctx->feat.cgroups = all;
}

int prov_cg_spec_path(const struct prov_ctx *ctx, const char *host, char *out, size_t outsz)
{
	return prov_fmt(out, outsz, "%s%s/%s", ctx->cg.v2 ? "/" : "", ctx->cgroup_parent, host);
}

int prov_cg_paths(const struct prov_ctx *ctx, const char *host, struct prov_cg *cg)
{
	memset(cg, 0, sizeof *cg);
	if (!ctx->feat.cgroups)
		return ZE_UNSUPPORTED;
	cg->v2 = ctx->cg.v2;
	int n = cg->v2 ? 1 : PROV_CG_N;
	for (int i = 0; i < n; i++)
		if (prov_fmt(cg->path[i], sizeof cg->path[i], "%s/%s", ctx->cg.base[i], host) < 0)
			return -ENAMETOOLONG;
	return 0;
}

static int cg_n(const struct prov_cg *cg)
{
	return cg->v2 ? 1 : PROV_CG_N;
}

static const char *cg_dir(const struct prov_cg *cg, enum prov_cg_ctrl c)
{
	return cg->v2 ? cg->path[0] : cg->path[c];
}

int prov_cg_frozen(const struct prov_cg *cg)
{
	char buf[256];
	int rc;
	if (cg->v2) {
		if ((rc = cg_read(cg->path[0], "cgroup.events", buf, sizeof buf)) < 0)
			return rc;
		return strstr(buf, "frozen 1") != NULL;
	}
	if ((rc = cg_read(cg->path[PROV_CG_FREEZER], "freezer.state", buf, sizeof buf)) < 0)
		return rc;
	return strncmp(buf, "FROZEN", 6) == 0;
}

/* Thaws a cgroup whose container is being removed: frozen tasks die only
 * once thawed. Pausing itself is the OCI runtime's job. */
static void cg_thaw(const struct prov_cg *cg)
{
	if (cg->v2)
		prov_cg_write(cg->path[0], "cgroup.freeze", "0");
	else
		prov_cg_write(cg->path[PROV_CG_FREEZER], "freezer.state", "THAWED");
	for (int i = 0; i < FREEZE_ROUNDS && prov_cg_frozen(cg) == 1; i++)
		nap_ms(10);
}

static int count_procs(const char *dir, int kill_them)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "%s/cgroup.procs", dir) < 0)
		return -ENAMETOOLONG;
	FILE *f = fopen(p, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	int n = 0;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1) {
		n++;
		if (kill_them && pid > 0)
			kill((pid_t)pid, SIGKILL);
	}
	fclose(f);
	return n;
}

int prov_cg_exists(const struct prov_cg *cg)
{
	for (int i = 0; i < cg_n(cg); i++)
		if (cg->path[i][0] && access(cg->path[i], F_OK) == 0)
			return 1;
	return 0;
}

int prov_cg_destroy(const struct prov_cg *cg)
{
	if (!prov_cg_exists(cg))
		return 0;
	const char *mem = cg_dir(cg, PROV_CG_MEMORY);
	if (cg->v2 && access(mem, F_OK) == 0)
		prov_cg_write(mem, "cgroup.kill", "1");
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int n = 0;
		for (int i = 0; i < cg_n(cg); i++) {
			int k = count_procs(cg->path[i], 1);
			n += k > 0 ? k : 0;
		}
		/* Frozen tasks only die once thawed. */
		if (n > 0 && access(cg_dir(cg, PROV_CG_FREEZER), F_OK) == 0)
			cg_thaw(cg);
		if (n == 0)
			break;
		nap_ms(20);
	}
	int rc = 0;
	for (int i = 0; i < cg_n(cg); i++) {
		for (int t = 0; t < KILL_ROUNDS; t++) {
			if (rmdir(cg->path[i]) == 0 || errno == ENOENT)
				break;
			if (errno != EBUSY || t == KILL_ROUNDS - 1) {
				rc = -errno;
				break;
			}
			nap_ms(20);
		}
	}
	return rc;
}

static uint64_t field_u64(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

int prov_cg_stats(const struct prov_cg *cg, uint64_t *cpu_ns, uint64_t *mem_bytes)
{
	char buf[4096];
	int rc;
	if (cg->v2) {
		if ((rc = cg_read(cg->path[0], "cpu.stat", buf, sizeof buf)) < 0)
			return rc;
		*cpu_ns = field_u64(buf, "usage_usec ") * 1000;
		if ((rc = cg_read(cg->path[0], "memory.current", buf, sizeof buf)) < 0)
			return rc;
		*mem_bytes = strtoull(buf, NULL, 10);
		return 0;
	}
	if ((rc = cg_read(cg->path[PROV_CG_CPUACCT], "cpuacct.usage", buf, sizeof buf)) < 0)
		return rc;
	*cpu_ns = strtoull(buf, NULL, 10);
	if ((rc = cg_read(cg->path[PROV_CG_MEMORY], "memory.usage_in_bytes", buf, sizeof buf)) < 0)
		return rc;
	*mem_bytes = strtoull(buf, NULL, 10);
	return 0;
}

int prov_cg_save(const struct prov_cg *cg, const char *file)
{
	char buf[PROV_CG_N * (PROV_PATH_MAX + 1) + 8];
	size_t off = 0;
	int n = snprintf(buf, sizeof buf, "%d\n", cg->v2);
	off = (size_t)n;
	for (int i = 0; i < PROV_CG_N; i++) {
		n = snprintf(buf + off, sizeof buf - off, "%s\n", cg->path[i]);
		if (n < 0 || (size_t)n >= sizeof buf - off)
			return -ENAMETOOLONG;
		off += (size_t)n;
	}
	return prov_write_file(file, buf, off, 0600);
}

int prov_cg_load(struct prov_cg *cg, const char *file)
{
	char buf[PROV_CG_N * (PROV_PATH_MAX + 1) + 8];
	int rc = prov_read_file(file, buf, sizeof buf, NULL);
	if (rc < 0)
		return rc;
	memset(cg, 0, sizeof *cg);
	char *line = buf;
	char *nl = strchr(line, '\n');
	if (!nl || (line[0] != '0' && line[0] != '1'))
		return ZE_MALFORMED;
	cg->v2 = line[0] == '1';
	line = nl + 1;
	for (int i = 0; i < PROV_CG_N; i++) {
		nl = strchr(line, '\n');
		if (!nl)
			return ZE_MALFORMED;
		*nl = '\0';
		/* The file lives in our run dir; still, accept only plain
		 * absolute paths. */
		if (line[0] && (line[0] != '/' || strstr(line, "/..")))
			return ZE_MALFORMED;
		if (prov_fmt(cg->path[i], sizeof cg->path[i], "%s", line) < 0)
			return ZE_MALFORMED;
		line = nl + 1;
	}
	return 0;
}

void prov_cg_parent_cleanup(const struct prov_ctx *ctx)
{
	/* The runtime creates <parent> in every hierarchy (blkio, devices,
	 * the named systemd one, the unified one ...), not only in those the
	 * agent reads, and removes only the containers' own cgroups. */
	char buf[8192];
	if (prov_read_file("/proc/self/cgroup", buf, sizeof buf, NULL) < 0)
		return;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1, *own = strcmp(c2 + 1, "/") ? c2 + 1 : "";
		char first[64];
		size_t k = strcspn(ctrls, ",");
		if (k >= sizeof first)
			continue;
		memcpy(first, ctrls, k);
		first[k] = '\0';
		const char *dir = !first[0]                         ? "unified"
		                  : strncmp(first, "name=", 5) == 0 ? first + 5
		                                                    : first;
		/* Joined hierarchies are mounted as "cpu,cpuacct" with links
		 * for each name: the first name reaches it. */
		char p[PROV_PATH_MAX];
		if (prov_fmt(p, sizeof p, "/sys/fs/cgroup/%s%s/%s", dir, own, ctx->cgroup_parent) ==
		    0)
			rmdir(p);
		if (prov_fmt(p, sizeof p, "/sys/fs/cgroup/%s/%s", dir, ctx->cgroup_parent) == 0)
			rmdir(p);
	}
	if (ctx->cg.v2 && ctx->cg.base[0][0])
		rmdir(ctx->cg.base[0]);
}
