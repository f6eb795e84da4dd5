/*
 * Containers: the supervisor process and the container's init.
 * Internal to provisioners/ (prov_zmachine.c drives it).
 *
 * prov_ct_start double-forks a supervisor: it is its own session leader,
 * reparented to init, so killing the agent (even with SIGKILL) leaves it and
 * the container running. The supervisor starts the container in new pid,
 * mount, uts and ipc namespaces, joined to the prepared network namespace
 * and cgroups, writes its output to <dir>/log with size rotation, restarts it
 * with backoff when it dies, and on SIGTERM kills it and exits.
 *
 * Files in <dir>: supervisor.pid and container.pid ("<pid> <starttime>", so
 * a recycled pid is never mistaken for ours), log, log.1.., and the overlay
 * dirs upper/, work/, rootfs/.
 */
#ifndef ZOS_PROVISIONERS_PROV_CONTAINER_H
#define ZOS_PROVISIONERS_PROV_CONTAINER_H

#include "provisioners/prov_internal.h"

#define PROV_CT_MOUNTS_MAX 16
#define PROV_CT_ARGS_MAX 64
#define PROV_CT_ENV_MAX 64
#define PROV_CT_PIDS_MAX 1024

enum prov_ct_mount_kind { PROV_MNT_BIND = 1, PROV_MNT_DISK };

struct prov_ct_mount {
	enum prov_ct_mount_kind kind;
	char src[PROV_PATH_MAX]; /* BIND: host directory; DISK: ext4 image file */
	char dst[256];           /* absolute path inside the container, validated */
};

struct prov_ct_plan {
	char host[PROV_HOST_MAX];
	char dir[PROV_PATH_MAX];
	char image[PROV_PATH_MAX]; /* image rootfs, the overlay's lower layer */
	char netns[PROV_PATH_MAX]; /* /run/netns/<host> */
	struct prov_cg cg;
	uint64_t log_max;
	unsigned log_keep;
	size_t nmounts;
	struct prov_ct_mount mounts[PROV_CT_MOUNTS_MAX];
	char *argv[PROV_CT_ARGS_MAX + 1]; /* NULL-terminated, owned by the plan */
	char *envp[PROV_CT_ENV_MAX + 2];  /* NULL-terminated, owned by the plan */
};

/* Installs the container's seccomp filter (needs no_new_privs set). System
 * calls only. ZE_UNSUPPORTED on architectures without a filter here. */
int prov_seccomp_install(void);

/* Frees argv and envp strings. */
void prov_ct_plan_clear(struct prov_ct_plan *p);

/* Starts the supervisor and waits (bounded) until the container's first
 * start executed its entrypoint or failed; the failure's reason is in err. */
int prov_ct_start(const struct prov_ct_plan *p, char *err, size_t errsz);

/* The live process recorded in <dir>/<file> ("supervisor.pid" or
 * "container.pid"): 1 and *pid when it runs, 0 when not. */
int prov_ct_alive(const char *dir, const char *file, pid_t *pid);

/* Stops the supervisor (SIGTERM, then SIGKILL after a bounded wait). The
 * container dies with it; callers still destroy the cgroups afterwards. */
int prov_ct_stop(const char *dir);

#endif
