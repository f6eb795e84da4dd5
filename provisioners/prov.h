/*
 * Provisioners: the workload types the node runs.
 *
 * Each workload type is one const table of operations (struct prov_ops) in
 * its own file; prov_lookup() finds a table by the deployment's "type" string.
 * The engine drives every workload through these operations:
 *
 *   validate    parse the workload's "data" and say what it reserves; no side
 *               effects, safe on hostile input.
 *   provision   create the kernel objects; returns a JSON result. Idempotent:
 *               provisioning what exists with the same spec succeeds without
 *               change. A failed provision removes what it made.
 *   deprovision remove everything; succeeds when nothing is there.
 *   pause/resume used during a contract's grace period.
 *   inspect     does the workload exist and is it healthy. Never changes
 *               anything, so the agent can adopt running workloads after a
 *               restart.
 *   usage       measured consumption.
 *
 * Host objects are named from struct prov_workload_id ("zos-<contract>-<name>"
 * and short hashes of it where the kernel limits names), so inspect and
 * deprovision find them again after the agent restarts.
 *
 * Every operation returns 0 or a negative error (common/zerr.h) and, on
 * error, writes a one-line human readable reason into err (always
 * NUL-terminated when errsz > 0). Errors worth knowing:
 *   -EINVAL / ZE_MALFORMED / ZE_TOOBIG  the data is invalid (validate)
 *   ZE_UNSUPPORTED  this node lacks a kernel feature the type needs
 *   ZE_STATE        exists with a different spec that cannot be updated
 *   ZE_CAPACITY     prov_admit(): does not fit
 *   -ENOENT         a missing image, or a mount/network not in the deployment
 *
 * Thread safety: operations on different workloads may run concurrently;
 * operations on the same workload must be serialized by the caller.
 */
#ifndef ZOS_PROVISIONERS_PROV_H
#define ZOS_PROVISIONERS_PROV_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct img_store; /* image/image.h */

/* Workload names: ^[a-zA-Z0-9_]{1,36}$ (docs/deploying.md). */
#define PROV_NAME_MAX 36

/* Capacity units: cru = logical cpus, mru/sru/hru = bytes. */
struct prov_capacity {
	uint64_t cru;
	uint64_t mru;
	uint64_t sru;
	uint64_t hru;
};

struct prov_config {
	const char *storage_dir;      /* zmount disks and volume images (created if missing) */
	const char *image_dir;        /* image store: one subdirectory (rootfs tree) per image */
	const char *run_dir;          /* container state, pid files and logs (created if missing) */
	const char *cgroup_parent;    /* cgroup directory name for workloads, e.g. "zos" */
	int allow_unenforced_volumes; /* volumes without a kernel size limit are allowed */
	struct prov_capacity reserved; /* kept for the system; cru in cpus, rest bytes */
	uint64_t log_max_bytes;        /* container log size before rotation; 0 = 8 MiB */
	unsigned log_keep;             /* rotated logs kept (log.1 .. log.N); 0 = 2 */
	/* Virtual machines (type zmachine, docs/vms.md). */
	const char *vm_kernel; /* guest kernel; NULL or "" = newest /boot/vmlinuz-*-cloud-amd64 */
	const char *vm_initrd; /* initramfs of scripts/vm-initramfs.sh; NULL or "" = none */
	const char *vm_accel;  /* "auto" (NULL), "kvm" or "tcg" */
	uint32_t vm_uid_base;  /* each qemu: its own uid in base..base+65535; 0 = 3000000 */
	unsigned vm_stop_timeout_ms; /* graceful guest shutdown before kill; 0 = 10000 */
	const char *runtime;         /* OCI runtime: "auto" (NULL), "runc" or "crun" */
	uint32_t uid_base;           /* first host id of the twins' id ranges; 0 = 1<<30 */
	uint64_t rootfs_size;        /* default writable layer of a container; 0 = 1 GiB */
	/* The image store (image/image.h), borrowed: it must outlive the
	 * context. NULL when the node pulls no images. The agent pulls and holds
	 * a container's image before provision; the provisioner gets it with
	 * img_get(prov_ctx_images(ctx), ref, ...), no network needed. */
	struct img_store *images;
	int wireguard;                 /* enum prov_wg_mode; 0 = auto */
	const char *public_ip;         /* node's public IPv4 for users' endpoints; NULL/"" = none */
	unsigned public_port_min;      /* public_port workloads' range; 0/0 = 20000..29999 */
	unsigned public_port_max;
	const char *gateway_domain;    /* NAME.<domain> for gateway-name-proxy; NULL/"" = none */
	const char *gateway_cert;      /* PEM file: wildcard certificate and key; NULL/"" = none */
	unsigned gateway_http_port;    /* on public_ip; 0 = no plain HTTP */
	unsigned gateway_https_port;   /* on public_ip; 0 = no TLS */
};

/* Which WireGuard carries networks' access: auto picks the kernel's when
 * "ip link add type wireguard" works, else wireguard-go. */
enum prov_wg_mode { PROV_WG_AUTO = 0, PROV_WG_KERNEL = 1, PROV_WG_USERSPACE = 2, PROV_WG_NONE = 3 };

/* Opaque: the configuration (copied) and what was detected about the host. */
struct prov_ctx;

/* Copies cfg, creates storage_dir and run_dir, probes cgroups (v1 or v2),
 * loop devices and namespaces. A missing feature is not an error here; the
 * types that need it return ZE_UNSUPPORTED. *out is freed with prov_ctx_free. */
int prov_ctx_new(const struct prov_config *cfg, struct prov_ctx **out);
void prov_ctx_free(struct prov_ctx *ctx);
/* The image store of prov_config.images (borrowed), or NULL. */
struct img_store *prov_ctx_images(const struct prov_ctx *ctx);

/* What the host offers, for tests and logs: each field 1 when usable. */
struct prov_features {
	int root;
	int cgroup_v2;   /* 1: unified hierarchy; 0: v1 controllers */
	int cgroups;     /* cpu, memory, pids and freezer controllers usable */
	int loop;        /* /dev/loop-control and loop devices attach */
	int namespaces;  /* pid, mount, uts, ipc and net namespaces */
	int netns_tools; /* ip(8) can create named netns, bridges and veths */
	int userns;      /* user namespaces and idmapped mounts work */
	int oci_runtime; /* an OCI runtime ran a probe container (see prov_runtime_name) */
	int wireguard;   /* enum prov_wg_mode: kernel, userspace or none */
};
void prov_ctx_features(const struct prov_ctx *ctx, struct prov_features *f);
/* The OCI runtime picked at start-up ("runc", "crun") or "none", and why
 * when none: borrowed from ctx. */
const char *prov_runtime_name(const struct prov_ctx *ctx);
const char *prov_runtime_why(const struct prov_ctx *ctx);

struct prov_workload_id {
	uint32_t twin_id;
	uint64_t contract_id;
	char name[PROV_NAME_MAX + 1];
};

/* One other workload of the same deployment, so a container can resolve its
 * mounts and network interfaces by name. Pointers are borrowed. */
struct prov_dep_workload {
	const char *name;
	const char *type; /* "zmount", "volume", "network", ... */
};

struct prov_deployment_view {
	uint32_t twin_id;
	uint64_t contract_id;
	size_t count;
	const struct prov_dep_workload *workloads;
};

enum prov_health {
	PROV_ABSENT = 0, /* nothing on the host */
	PROV_OK,         /* exists and works */
	PROV_PAUSED,     /* exists, frozen */
	PROV_DEGRADED,   /* exists but broken (half made, process restarting, ...) */
};

/* Measured use. Counters (cpu, net) are cumulative since the workload's
 * objects were created; memory and disk are current values. */
struct prov_usage {
	uint64_t cpu_ns;
	uint64_t mem_bytes;
	uint64_t disk_bytes;
	uint64_t net_rx_bytes;
	uint64_t net_tx_bytes;
};

/* Something only one workload on the node may have: "udp/51820" (a
 * WireGuard listen port), "tcp/8080", "name/blog" (a gateway name). */
#define PROV_CLAIM_MAX 80
struct prov_claim {
	char key[PROV_CLAIM_MAX];
	int public_range; /* a port that must lie in the node's public port range */
};
#define PROV_CLAIMS_MAX 64

struct prov_ops {
	const char *type;
	/* Checks data and fills what it reserves. No side effects. */
	int (*validate)(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz);
	/* *result (caller frees with cJSON_Delete) is set only on success.
	 * deps may be NULL for types that reference nothing. */
	int (*provision)(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
	                 const struct prov_deployment_view *deps, cJSON **result, char *err,
	                 size_t errsz);
	int (*deprovision)(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
	                   size_t errsz);
	int (*pause)(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
	             size_t errsz);
	int (*resume)(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
	              size_t errsz);
	int (*inspect)(struct prov_ctx *ctx, const struct prov_workload_id *id, enum prov_health *h,
	               char *err, size_t errsz);
	int (*usage)(struct prov_ctx *ctx, const struct prov_workload_id *id, struct prov_usage *u,
	             char *err, size_t errsz);
	/* Optional (NULL: claims nothing). The node-wide unique things valid
	 * data takes, into out[0..max), count in *n; no side effects. The
	 * engine refuses a deployment whose claims another live deployment
	 * holds, or that the host uses (prov_claim_host_free). */
	int (*claims)(const cJSON *data, struct prov_claim *out, size_t max, size_t *n);
};

/* The acceleration VMs use, into out: "kvm" or "tcg" once decided,
 * "auto (not probed yet)" before the first VM of an auto node. */
void prov_vm_accel(struct prov_ctx *ctx, char *out, size_t outsz);
/* The last `tail` lines of a container's stdout and stderr (its rotated log
 * files included), at most PROV_LOGS_MAX_BYTES. *out (NUL-terminated,
 * caller frees) holds *outlen bytes as the container wrote them, not
 * necessarily UTF-8; *truncated is 1 when older output exists. -ENOENT
 * when the workload has no log on this node. */
#define PROV_LOGS_MAX_BYTES (256u * 1024)
int prov_logs(struct prov_ctx *ctx, const struct prov_workload_id *id, unsigned tail, char **out,
              size_t *outlen, int *truncated, char *err, size_t errsz);
/* 0 when the host can give the claim: a port is outside the public range
 * (when public_range) or bound by something else on the host (a bind test on
 * all addresses) gives ZE_STATE with the reason in err. */
int prov_claim_check(struct prov_ctx *ctx, const struct prov_claim *c, char *err, size_t errsz);
/* The bind test alone, for a claim key such as "udp/51820". */
int prov_claim_host_free(const char *claim, char *err, size_t errsz);

/* The table for a type name, or NULL when the type is unknown. */
const struct prov_ops *prov_lookup(const char *type);

/* When a type is installed within one deployment, in this order: what
 * others reference (storage, then networks), the rest, then what runs on
 * them (compute). Removal goes the other way. */
enum prov_stage {
	PROV_STAGE_STORAGE = 0, /* zmount, volume */
	PROV_STAGE_NETWORK,     /* network */
	PROV_STAGE_OTHER,       /* public_port, gateway-name-proxy, unknown types */
	PROV_STAGE_COMPUTE,     /* zmachine, container: need the others */
};
/* The install stage of a type name (registry.c lists each type's). */
enum prov_stage prov_stage_of(const char *type);
/* 1 when workloads of the type run from an image and have logs: the compute
 * types. 0 for the others, unknown types and NULL. */
int prov_runs_image(const char *type);

/* Checks a workload name against ^[a-zA-Z0-9_]{1,36}$; 0 or -EINVAL. */
int prov_name_valid(const char *name);

/* The node's total: online cpus, physical memory, size of the filesystem
 * holding storage_dir (as sru; hru 0, there are no separate disks), each
 * minus the configured reservation (never below zero). */
int prov_node_capacity(struct prov_ctx *ctx, struct prov_capacity *total);

/* 0 when used + want fits in total, else ZE_CAPACITY with the numbers of
 * the first resource that does not fit in err. */
int prov_admit(const struct prov_capacity *total, const struct prov_capacity *used,
               const struct prov_capacity *want, char *err, size_t errsz);

#endif
