/*
 * Creating a workload's cgroups with its limits, and moving a process into
 * them: what the VM supervisor needs around qemu (and the container
 * supervisor of this tree). Kept apart from prov_cgroup.c, which finds,
 * reads and removes cgroups for every type.
 */
#include "provisioners/prov_vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFS_PERIOD_US ((uint64_t)100000)

static int cg_n(const struct prov_cg *cg)
{
	return cg->v2 ? 1 : PROV_CG_N;
}

static int enable_v2(const char *path)
{
	/* Controllers must be enabled in every ancestor's subtree_control. */
	char parent[PROV_PATH_MAX], grand[PROV_PATH_MAX];
	if (prov_fmt(parent, sizeof parent, "%s", path) < 0)
		return -ENAMETOOLONG;
	char *s = strrchr(parent, '/');
	if (!s)
		return -EINVAL;
	*s = '\0';
	if (prov_fmt(grand, sizeof grand, "%s", parent) < 0)
		return -ENAMETOOLONG;
	s = strrchr(grand, '/');
	if (!s)
		return -EINVAL;
	*s = '\0';
	int rc = prov_cg_write(grand, "cgroup.subtree_control", "+cpu +memory +pids");
	if (rc < 0)
		return rc;
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return -errno;
	return prov_cg_write(parent, "cgroup.subtree_control", "+cpu +memory +pids");
}

int prov_cg_create(const struct prov_cg *cg, uint64_t cpus, uint64_t mem, uint64_t pids, char *err,
                   size_t errsz)
{
	char v[64];
	int rc;
	if (cg->v2 && (rc = enable_v2(cg->path[0])) < 0)
		return prov_err(err, errsz, rc, "cannot enable cgroup v2 controllers: %s",
		                zerr_str(rc));
	for (int i = 0; i < cg_n(cg); i++) {
		if ((rc = prov_mkdirs(cg->path[i], 0755)) < 0)
			goto fail;
	}
	if (cg->v2) {
		const char *d = cg->path[0];
		snprintf(v, sizeof v, "%" PRIu64 " %" PRIu64, cpus * CFS_PERIOD_US, CFS_PERIOD_US);
		if ((rc = prov_cg_write(d, "cpu.max", v)) < 0)
			goto fail;
		snprintf(v, sizeof v, "%" PRIu64, mem);
		if ((rc = prov_cg_write(d, "memory.max", v)) < 0)
			goto fail;
		/* Without swap accounting the limit could be dodged by swapping. */
		prov_cg_write(d, "memory.swap.max", "0");
		snprintf(v, sizeof v, "%" PRIu64, pids);
		if ((rc = prov_cg_write(d, "pids.max", v)) < 0)
			goto fail;
		return 0;
	}
	snprintf(v, sizeof v, "%" PRIu64, CFS_PERIOD_US);
	if ((rc = prov_cg_write(cg->path[PROV_CG_CPU], "cpu.cfs_period_us", v)) < 0)
		goto fail;
	snprintf(v, sizeof v, "%" PRIu64, cpus * CFS_PERIOD_US);
	if ((rc = prov_cg_write(cg->path[PROV_CG_CPU], "cpu.cfs_quota_us", v)) < 0)
		goto fail;
	snprintf(v, sizeof v, "%" PRIu64, mem);
	if ((rc = prov_cg_write(cg->path[PROV_CG_MEMORY], "memory.limit_in_bytes", v)) < 0)
		goto fail;
	/* memsw exists only with swap accounting; set it when it does. */
	prov_cg_write(cg->path[PROV_CG_MEMORY], "memory.memsw.limit_in_bytes", v);
	snprintf(v, sizeof v, "%" PRIu64, pids);
	if ((rc = prov_cg_write(cg->path[PROV_CG_PIDS], "pids.max", v)) < 0)
		goto fail;
	return 0;
fail:
	prov_err(err, errsz, rc, "cannot set up cgroups: %s", zerr_str(rc));
	prov_cg_destroy(cg);
	return rc;
}

int prov_cg_attach(const struct prov_cg *cg, pid_t pid)
{
	char v[32];
	snprintf(v, sizeof v, "%d", (int)pid);
	for (int i = 0; i < cg_n(cg); i++) {
		int rc = prov_cg_write(cg->path[i], "cgroup.procs", v);
		if (rc < 0)
			return rc;
	}
	return 0;
}
