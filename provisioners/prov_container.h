/*
 * Containers run by an OCI runtime (runc, or crun where it works).
 * Internal to provisioners/ (prov_container.c drives it).
 *
 * The agent prepares an OCI bundle in <run>/containers/<host>/:
 *   config.json  the OCI runtime spec (prov_ct_bundle.c): user namespace
 *                mapped to the twin's host id range, cgroup limits, seccomp
 *                allow-list, capabilities, masked and read-only paths, the
 *                network namespace, the volumes and disks
 *   rootfs/      overlay of the image (lower, read-only, seen through an
 *                idmapped mount so it is shared unchanged by every range)
 *                and upperfs/upper (prov_ct_rootfs.c)
 *   upperfs/     a loop-mounted ext4 image (upper.img) that bounds what the
 *                container can write
 *   lower/, mnt/N idmapped mounts of the image and of each volume or disk
 * and a supervisor (prov_supervisor.c) that runs `<runtime> run` with the
 * container's output to <dir>/log (size rotation), restarts it with backoff,
 * and survives kill -9 of the agent.
 *
 * Files in <dir>: supervisor.pid and container.pid ("<pid> <starttime>", so
 * a recycled pid is never mistaken for ours), paused (present while the
 * workload is paused), log, log.1.., spec.json, cgroups.
 */
#ifndef ZOS_PROVISIONERS_PROV_CONTAINER_H
#define ZOS_PROVISIONERS_PROV_CONTAINER_H

#include "provisioners/prov_int.h"

#define PROV_CT_MOUNTS_MAX 16
#define PROV_CT_ARGS_MAX 64
#define PROV_CT_ENV_MAX 64
#define PROV_CT_PIDS_MAX 1024
#define PROV_CT_IFACES_MAX 4
#define PROV_CT_LAYERS_MAX 128

struct img_image; /* image/image.h */
/* Host ids per range: container ids 0..65535. */
#define PROV_CT_IDS 65536u

enum prov_ct_mount_kind { PROV_MNT_BIND = 1, PROV_MNT_DISK };

struct prov_ct_mount {
	enum prov_ct_mount_kind kind;
	char src[PROV_PATH_MAX]; /* BIND: host directory; DISK: ext4 image file */
	char dst[256];           /* absolute path inside the container, validated */
};

/* A parsed container workload. Strings are borrowed from the JSON data. */
struct prov_ct_spec {
	const char *image;
	uint64_t cpu, memory, rootfs_size;
	size_t nmounts, nifs;
	const char *mount_name[PROV_CT_MOUNTS_MAX];
	const char *mountpoint[PROV_CT_MOUNTS_MAX];
	const char *if_net[PROV_CT_IFACES_MAX];
	const char *if_ip[PROV_CT_IFACES_MAX];
};

/* Everything the bundle and the supervisor need about one container. */
struct prov_ct_plan {
	char host[PROV_HOST_MAX]; /* also the runtime's container id */
	char dir[PROV_PATH_MAX];
	size_t nlayers; /* the image's layers, lowest first: the overlay's lower dirs */
	char layers[PROV_CT_LAYERS_MAX][PROV_PATH_MAX];
	char image_digest[80];     /* manifest digest of an image by reference, else "" */
	char cwd[256];             /* the process's working directory */
	uint32_t uid, gid;         /* the process's ids inside the container */
	char netns[PROV_PATH_MAX]; /* /run/netns/<host> */
	char runtime[PROV_PATH_MAX];
	char runtime_root[PROV_PATH_MAX];
	char cgroups_path[PROV_PATH_MAX]; /* the spec's linux.cgroupsPath */
	uint32_t uid_base;                /* host id of container root */
	uint64_t cpu, memory, rootfs_size;
	uint64_t log_max;
	unsigned log_keep;
	size_t nmounts;
	struct prov_ct_mount mounts[PROV_CT_MOUNTS_MAX];
	char *argv[PROV_CT_ARGS_MAX + 1];    /* NULL-terminated, owned by the plan */
	char *envp[2 * PROV_CT_ENV_MAX + 2]; /* NULL-terminated, owned by the plan */
};

/* prov_ct_parse.c: checks data; no side effects. */
int prov_ct_parse(const cJSON *data, struct prov_ct_spec *s, char *err, size_t errsz);
/* Fills argv, envp, cwd, uid and gid of the plan from data (already
 * parsed) and, for what data does not set, from the image's config (img may
 * be NULL for a local image): the workload's entrypoint replaces the image's
 * Entrypoint and Cmd; its env is added to the image's Env, replacing keys
 * both set. */
int prov_ct_args(const cJSON *data, const struct img_image *img, struct prov_ct_plan *p, char *err,
                 size_t errsz);
/* 1 when an image string is an OCI reference (HOST/REPO...), 0 when it
 * names a local rootfs folder of image_dir. */
int prov_ct_image_is_ref(const char *image);
/* Frees argv and envp strings. */
void prov_ct_plan_clear(struct prov_ct_plan *p);

/* prov_ct_idmap.c: the host id range of a twin, allocated once and
 * recorded under <storage>/idmap/ so the twin always gets the same range
 * and two twins never share one. */
int prov_ct_twin_range(struct prov_ctx *ctx, uint32_t twin, uint32_t *base, char *err,
                       size_t errsz);

/* prov_ct_rootfs.c: builds <dir>/rootfs (idmapped lower, size-limited upper)
 * and the idmapped mounts of volumes and disks under <dir>/mnt/N;
 * prov_ct_rootfs_down undoes all of it (absent is fine). */
int prov_ct_rootfs_up(const struct prov_ct_plan *p, char *err, size_t errsz);
int prov_ct_rootfs_down(const char *dir);
/* 0 when dir can be idmapped (user namespaces and idmapped mounts work). */
int prov_ct_idmap_probe(const char *dir);
/* Bytes used in the writable layer. */
int prov_ct_upper_usage(const char *dir, uint64_t *bytes);

/* prov_ct_bundle.c: writes <dir>/config.json. */
int prov_ct_bundle_write(const struct prov_ctx *ctx, const struct prov_ct_plan *p, char *err,
                         size_t errsz);
/* prov_ct_seccomp.c: the seccomp allow-list as an OCI "seccomp" object
 * (caller owns it). */
cJSON *prov_ct_seccomp_json(void);

/* prov_runtime.c: runs `<runtime> --root <root> ARGS...` (at most 6 args)
 * and captures its output. */
int prov_rt_cmd(const struct prov_ctx *ctx, char *out, size_t outsz, int timeout_ms,
                const char *const args[]);
/* The runtime's state of container id: "running", "paused", "created",
 * "stopped"; -ENOENT when the runtime does not know it. */
int prov_rt_state(const struct prov_ctx *ctx, const char *id, char *state, size_t statesz,
                  pid_t *pid);
/* Picks the runtime (ctx->runtime_cfg: auto, runc or crun) by a probe. */
void prov_rt_detect(struct prov_ctx *ctx);

/* prov_supervisor.c: starts the supervisor and waits (bounded) until the
 * container's first start runs its entrypoint or failed; the failure's
 * reason is in err. */
int prov_ct_start(const struct prov_ct_plan *p, char *err, size_t errsz);

/* The live process recorded in <dir>/<file> ("supervisor.pid" or
 * "container.pid"): 1 and *pid when it runs, 0 when not. */
int prov_ct_alive(const char *dir, const char *file, pid_t *pid);

/* Stops the supervisor (SIGTERM, then SIGKILL after a bounded wait); the
 * supervisor kills the container and deletes it from the runtime. */
int prov_ct_stop(const char *dir);

#endif
