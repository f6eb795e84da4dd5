/*
 * Helpers shared by the workload types. Not part of the public API.
 */
#ifndef ZOS_PROVISIONERS_PROV_INT_H
#define ZOS_PROVISIONERS_PROV_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/zerr.h"
#include "provisioners/prov.h"

#define PROV_PATH_MAX 512
/* "zos-" + 20 digits + "-" + 36 name characters + NUL */
#define PROV_HOST_MAX 64
#define PROV_DISK_MIN (1ull << 20)
#define PROV_VOLUME_MIN (16ull << 20)
#define PROV_DISK_MAX (16ull << 40)

/* Where the cgroup controllers live on this host. */
enum prov_cg_ctrl {
	PROV_CG_CPU = 0,
	PROV_CG_CPUACCT,
	PROV_CG_MEMORY,
	PROV_CG_PIDS,
	PROV_CG_FREEZER,
	PROV_CG_N
};

struct prov_cg_layout {
	int v2;
	/* v1: the directory under which workload cgroups of each controller go;
	 * v2: base[0] only. Empty when not usable. */
	char base[PROV_CG_N][PROV_PATH_MAX];
};

struct prov_ctx {
	char *storage_dir;
	char *image_dir;
	char *run_dir;
	char *cgroup_parent;
	int allow_unenforced_volumes;
	struct prov_capacity reserved;
	uint64_t log_max_bytes;
	unsigned log_keep;
	char *runtime_cfg;                /* auto, runc or crun */
	char runtime[PROV_PATH_MAX];      /* absolute path of the picked runtime, "" when none */
	char runtime_name[16];            /* "runc", "crun" or "none" */
	char runtime_why[256];            /* why none works */
	char runtime_root[PROV_PATH_MAX]; /* <run>/oci: the runtime's state */
	uint32_t uid_base;
	uint64_t rootfs_size;
	struct img_store *images; /* borrowed */
	struct prov_features feat;
	struct prov_cg_layout cg;
	/* Virtual machines: paths resolved at start; the acceleration is
	 * decided once, by the first VM (vm_lock guards vm_accel_used). */
	char *vm_kernel;
	char *vm_initrd;
	int vm_accel_want; /* PROV_ACCEL_* */
	int vm_accel_used; /* PROV_ACCEL_KVM or _TCG once decided, else 0 */
	uint32_t vm_uid_base;
	unsigned vm_stop_ms;
	pthread_mutex_t vm_lock;
	int wg_mode;     /* enum prov_wg_mode: what the configuration asks for */
	int wg_impl;     /* enum prov_wg_mode: what prov_wg_probe found usable */
	char *public_ip; /* shown in results as the WireGuard endpoint; NULL = none */
	unsigned port_min, port_max; /* public_port range */
	char *gw_domain;             /* gateway names are NAME.<gw_domain>; NULL = no gateway */
	char *gw_cert;               /* PEM certificate and key for TLS; NULL = none */
	unsigned gw_http_port, gw_https_port; /* 0 = off */
};

enum { PROV_ACCEL_AUTO = 0, PROV_ACCEL_KVM, PROV_ACCEL_TCG };

/* A local image name of image_dir: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
#define PROV_IMAGE_NAME_MAX 64
int prov_image_name_ok(const char *s);
/* A mountpoint inside a container or VM: absolute, normalized, plain
 * [A-Za-z0-9._-] components, not / and not under /proc, /dev or /sys. */
#define PROV_MOUNTPOINT_MAX 255
int prov_mountpoint_ok(const char *s);

/* Formats a reason into err and returns rc (negative), so callers can write
 * `return prov_err(err, errsz, -EINVAL, "...")`. */
int prov_err(char *err, size_t errsz, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* snprintf into out; -ENAMETOOLONG when it does not fit. */
int prov_fmt(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "zos-<contract>-<name>"; -EINVAL for an invalid name. */
int prov_host_name(const struct prov_workload_id *id, char out[PROV_HOST_MAX]);

/* A kernel interface name (at most 15 characters): prefix (up to 3 chars)
 * followed by 12 hex digits of a hash of host name and index. */
void prov_if_name(const char *prefix, const char *host, unsigned idx, char out[16]);

/* An integral JSON number in [min, max] at data[key]. */
int prov_json_u64(const cJSON *data, const char *key, uint64_t min, uint64_t max, uint64_t *out,
                  char *err, size_t errsz);
/* A string at data[key] of length in [1, maxlen]; *out is borrowed from data. */
int prov_json_str(const cJSON *data, const char *key, size_t maxlen, const char **out, char *err,
                  size_t errsz);
/* Checks that data is an object holding only keys from allowed (NULL-ended). */
int prov_json_keys(const cJSON *data, const char *const *allowed, char *err, size_t errsz);

/* strerror without locale lookups (and so without locks): safe in a child
 * forked from a multi-threaded agent. */
const char *prov_strerror(int e);
/* Bytes allocated below path (st_blocks), not following symlinks or
 * crossing mounts. */
int prov_du(const char *path, uint64_t *bytes);

/* mkdir -p, every missing component with mode. */
int prov_mkdirs(const char *path, mode_t mode);
/* Writes data atomically (temporary file, fsync, rename). */
int prov_write_file(const char *path, const void *data, size_t len, mode_t mode);
/* Reads at most bufsz-1 bytes and NUL-terminates; -EFBIG when larger. */
int prov_read_file(const char *path, char *buf, size_t bufsz, size_t *len);
/* Removes a tree without following symlinks or crossing mounts; absent is ok. */
int prov_rm_tree(const char *path);
/* 1 when path is a mount point (its device differs from its parent's). */
int prov_is_mountpoint(const char *path);

/* Runs an absolute program with argv (argv[0] is the path), no shell, stdin
 * from /dev/null; stdout and stderr captured into out (truncated, may be
 * NULL). Kills it after timeout_ms. 0 on exit status 0, else -EIO. */
int prov_run(const char *const argv[], char *out, size_t outsz, int timeout_ms);
/* Finds a program in the system directories; -ENOENT when absent. */
int prov_which(const char *name, char *out, size_t outsz);

/* Loop devices. prov_loop_attach binds file to a free loop device with
 * autoclear (the kernel detaches it when its last user goes away); *fd is
 * the open device, which the caller closes once it is mounted. Uses only
 * system calls, so it is safe in a freshly forked child. */
int prov_loop_attach(const char *file, char *dev, size_t devsz, int *fd);
/* The loop device backed by file, "/dev/loopN"; -ENOENT when none. */
int prov_loop_find(const char *file, char *dev, size_t devsz);
/* Detaches every loop device backed by file; none is fine. */
int prov_loop_detach_file(const char *file);

/* Cgroups of one workload. */
struct prov_cg {
	int v2;
	char path[PROV_CG_N][PROV_PATH_MAX]; /* empty entries are unused */
};
void prov_cg_detect(struct prov_ctx *ctx);
/* Fills cg with the paths for host name without creating anything: where
 * the OCI runtime makes them for prov_cg_spec_path(). */
int prov_cg_paths(const struct prov_ctx *ctx, const char *host, struct prov_cg *cg);
/* The OCI spec's cgroupsPath for host: v1 "<parent>/<host>" (relative, so
 * the runtime puts it under its own, the agent's, cgroup of each controller,
 * as prov_cg_paths does); v2 "/<parent>/<host>". */
int prov_cg_spec_path(const struct prov_ctx *ctx, const char *host, char *out, size_t outsz);
/* 1 frozen, 0 thawed, negative error. */
int prov_cg_frozen(const struct prov_cg *cg);
/* Kills every process and removes the cgroups; absent is fine. */
int prov_cg_destroy(const struct prov_cg *cg);
int prov_cg_exists(const struct prov_cg *cg);
/* Removes the (empty) <cgroup_parent> directories the OCI runtime left in
 * every cgroup hierarchy; for tests and tools with a parent of their own. */
void prov_cg_parent_cleanup(const struct prov_ctx *ctx);
int prov_cg_stats(const struct prov_cg *cg, uint64_t *cpu_ns, uint64_t *mem_bytes);
/* Writes s to dir/file (a cgroup control file). Only system calls: safe
 * in forked children. */
int prov_cg_write(const char *dir, const char *file, const char *s);
/* Serialization of the paths into the run dir, so that an agent started in
 * another cgroup still finds them. */
int prov_cg_save(const struct prov_cg *cg, const char *file);
int prov_cg_load(struct prov_cg *cg, const char *file);

/* ip(8) wrappers; ns may be NULL for the host namespace. */
int prov_ip(char *err, size_t errsz, const char *const args[]);
int prov_netns_exists(const char *ns);
int prov_netns_add(const char *ns, char *err, size_t errsz);
int prov_netns_del(const char *ns);
/* Writes value to /proc/sys/<key> inside network namespace ns. */
int prov_netns_sysctl(const char *ns, const char *key, const char *value);
/* Sums rx/tx bytes of the interfaces of ns (loopback excluded) or of one
 * interface when ifname is not NULL. */
int prov_netns_counters(const char *ns, const char *ifname, uint64_t *rx, uint64_t *tx);

/* Networks: used by zmachine to attach interfaces. */
int prov_network_attach(struct prov_ctx *ctx, uint64_t contract, const char *net_name,
                        const char *ct_ns, const char *host, unsigned idx, const char *ip,
                        char *err, size_t errsz);
/* A tap for a VM on the bridge of network net_name (the deployment's
 * contract), created in the network's namespace, owned by uid, up. Fills
 * the tap's and namespace's names, the guest's address with the subnet's
 * prefix ("a.b.c.d/n") and the gateway. */
int prov_network_tap(struct prov_ctx *ctx, uint64_t contract, const char *net_name,
                     const char *host, unsigned idx, const char *ip, uid_t uid, char tap[16],
                     char netns[PROV_HOST_MAX], char addr[24], char gw[16], char *err,
                     size_t errsz);
/* WireGuard access to a network (prov_wg.c). */
#define PROV_WG_PEERS_MAX 32
#define PROV_WG_ALLOWED_MAX 8
#define PROV_WG_ENDPOINT_MAX 63
struct prov_wg_peer {
	uint32_t subnet;
	unsigned subnet_prefix;
	char public_key[45]; /* base64, checked */
	uint32_t allowed[PROV_WG_ALLOWED_MAX];
	unsigned allowed_prefix[PROV_WG_ALLOWED_MAX];
	size_t n_allowed;
	char endpoint[PROV_WG_ENDPOINT_MAX + 1]; /* "" = the peer connects to us */
};
struct prov_wg_spec {
	int enabled; /* 0: the network has no private key, so no WireGuard */
	uint8_t private_key[32]; /* secret: wiped by prov_wg_spec_wipe */
	uint16_t listen_port;
	size_t n_peers;
	struct prov_wg_peer peers[PROV_WG_PEERS_MAX];
};
/* Parses the network's WireGuard fields; subnet is the network's own, which
 * no peer may route. On error the key is already wiped. */
int prov_wg_parse(const cJSON *data, uint32_t subnet, unsigned subnet_prefix,
                  struct prov_wg_spec *s, char *err, size_t errsz);
void prov_wg_spec_wipe(struct prov_wg_spec *s);
/* SHA-256 (hex) of the whole configuration, to tell a changed spec from a
 * repeated one without storing the key. */
int prov_wg_digest(const struct prov_wg_spec *s, char hex[65]);
/* Sets ctx->wg_impl from ctx->wg_mode and what works on this host. */
int prov_wg_probe(struct prov_ctx *ctx);
const char *prov_wg_impl_name(const struct prov_ctx *ctx);
void prov_wg_if_name(const char *host, char out[16]);
/* The network's address on the tunnel, 100.64.<b>.<c> for subnet a.b.c.0. */
void prov_wg_address(uint32_t subnet, char out[16]);
/* Creates, configures and moves the interface into ns, then routes the
 * peers' allowed_ips through it. Removes what it made on failure. */
int prov_wg_up(struct prov_ctx *ctx, const char *ns, uint32_t subnet, const struct prov_wg_spec *s,
               char *err, size_t errsz);
/* Link up (with routes, a NULL-ended list of "a.b.c.d/n") or down: resume
 * and pause. */
int prov_wg_set_up(const char *ns, const char *ifname, const char *const *routes, int up,
                   char *err, size_t errsz);
/* 1 when the interface in ns is up, 0 down, -ENOENT absent. */
int prov_wg_is_up(const char *ns, const char *ifname);
int prov_wg_exists(const char *ns, const char *ifname);
/* Deletes the interface wherever it is; absent is fine. */
void prov_wg_remove(const char *ns, const char *ifname);
/* {interface, public_key, listen_port, ip, implementation, endpoint?}; the
 * caller owns it. NULL when out of memory. */
cJSON *prov_wg_result(const struct prov_ctx *ctx, const char *ns, uint32_t subnet,
                      const struct prov_wg_spec *s);

/* The namespace and subnet of network net_name of a contract; -ENOENT when
 * it is not provisioned. */
int prov_network_subnet(struct prov_ctx *ctx, uint64_t contract, const char *net_name,
                        char ns[PROV_HOST_MAX], uint32_t *subnet, unsigned *prefix);

/* The nftables table zos_access and the host <-> network uplinks
 * (prov_pubport.c), shared with the name gateway. ns NULL: the host. */
int prov_nft_table(struct prov_ctx *ctx, const char *ns, char *err, size_t errsz);
/* key -> value in map port_tcp|port_udp; an equal entry stays, another
 * value is replaced. Keys and values are "a.b.c.d . port". */
int prov_nft_map_set(const char *ns, const char *map, const char *key, const char *value,
                     char *err, size_t errsz);
void prov_nft_map_del(const char *ns, const char *map, const char *key);
int prov_nft_map_has(const char *ns, const char *map, const char *key);
/* A free /30 of 100.127.0.0/16 for an uplink of workload host. */
int prov_uplink_block(struct prov_ctx *ctx, const char *host, unsigned *out);
/* The veth pair hveth (host, block's .1) <-> nveth (in ns, .2), made when
 * either end is missing. */
int prov_uplink_make(const char *ns, const char *hveth, const char *nveth, unsigned block,
                     char *err, size_t errsz);
uint32_t prov_uplink_addr(unsigned block, int ns_end);

/* Parses "a.b.c.d" into host-order address. */
int prov_ipv4_parse(const char *s, uint32_t *addr);
/* Parses "a.b.c.d/n". */
int prov_cidr_parse(const char *s, uint32_t *addr, unsigned *prefix);

/* prov_ext4.c: ext4 images. 1 when img holds an ext4 filesystem (one made
 * before a reboot is kept, not wiped). */
int prov_ext4_has(const char *img);
/* mkfs.ext4 of the existing (sized) file img. */
int prov_ext4_format(const char *img, char *err, size_t errsz);
/* Attaches img to an autoclear loop device and mounts its ext4 at mnt. */
int prov_ext4_mount(const char *img, const char *mnt, char *err, size_t errsz);

/* prov_spec.c: what container and VM specs share. The mounts field
 * [{name, mountpoint}] into name[] and point[] (at most max, *n counts;
 * strings borrowed from mounts). */
int prov_spec_mounts(const cJSON *mounts, size_t max, const char **name, const char **point,
                     size_t *n, char *err, size_t errsz);
/* The network field {interfaces[{network, ip}], ...} into net_name[] and
 * ip[] (at most max, *n counts; strings borrowed from net). */
int prov_spec_ifaces(const cJSON *net, size_t max, const char **net_name, const char **ip,
                     size_t *n, char *err, size_t errsz);
/* The image ref from the image store, where the agent pulled and holds it
 * before provisioning; *img is the caller's (img_image_free). */
struct img_image;
int prov_spec_image(struct prov_ctx *ctx, const char *ref, struct img_image **img, char *err,
                    size_t errsz);
/*
 * The compute_capacity field {cpu, memory} of data: the one parser for every
 * workload type that reserves cpu and memory, with one set of error
 * messages. kind picks the type's bounds (the table in prov_spec.c):
 * cpu in [1, cpu max], memory bytes in [memory min, memory max].
 */
enum prov_cc_kind { PROV_CC_CONTAINER, PROV_CC_VM };
int prov_spec_capacity(const cJSON *data, enum prov_cc_kind kind, uint64_t *cpu, uint64_t *memory,
                       char *err, size_t errsz);
/* 1 when k is an environment variable name a spec may set:
 * [A-Za-z_][A-Za-z0-9_]*, at most 64 bytes. */
int prov_spec_env_name_ok(const char *k);
/* 1 when the spec recorded in file (at most max bytes) equals data. */
int prov_spec_equal(const char *file, const cJSON *data, size_t max);
/* The type of workload name in deps, NULL when deps has none of that name. */
const char *prov_spec_dep_type(const struct prov_deployment_view *deps, const char *name);

#endif
