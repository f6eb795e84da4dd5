/*
 * The agent's configuration.
 *
 * Sources, later ones winning: built-in defaults, an INI file (default
 * /etc/zos-agent/agent.conf), ZOS_AGENT_<SECTION>_<KEY> environment variables,
 * then command-line overrides ("section.key=value"). Every key is listed in
 * config/agent.conf.example and docs/configuration.md. Unknown keys and bad
 * values are errors; the message names the source (file:line, environment
 * variable or flag) and the key.
 *
 * A struct cfg is plain data with fixed-size fields: copy it with `=`, there is
 * nothing to free. Strings are NUL-terminated and at most CFG_STR_MAX - 1 bytes.
 * Sizes are bytes, intervals seconds.
 *
 * Threads must not read a struct cfg that the daemon may replace on SIGHUP;
 * subsystems copy what they need in their start and reload hooks.
 */
#ifndef ZOS_CONFIG_CONFIG_H
#define ZOS_CONFIG_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "common/log.h"

/* Longest string value, with its NUL. */
#define CFG_STR_MAX 512
/* Longest line of a configuration file, without its newline: any key with a
 * value of CFG_STR_MAX - 1 bytes fits, so whatever cfg_write prints loads. */
#define CFG_LINE_MAX 4095
#define CFG_LIST_MAX 8
#define CFG_DEFAULT_FILE "/etc/zos-agent/agent.conf"
#define CFG_ENV_PREFIX "ZOS_AGENT_"
/* Names the config file when -f is not given. */
#define CFG_ENV_FILE "ZOS_AGENT_CONFIG"

/* network.wireguard: which WireGuard implementation carries networks. */
enum cfg_wg_mode { CFG_WG_AUTO = 0, CFG_WG_KERNEL = 1, CFG_WG_USERSPACE = 2 };
extern const char *const cfg_wg_mode_names[3];

struct cfg_list {
	unsigned n;
	char v[CFG_LIST_MAX][CFG_STR_MAX];
};

struct cfg {
	/* [chain] */
	char chain_url[CFG_STR_MAX];   /* substrate JSON-RPC endpoints: a comma-separated
					* list of http(s):// and ws(s):// URLs */
	char chain_ca_file[CFG_STR_MAX]; /* PEM CAs for https/wss; "" = the system's */
	uint32_t chain_rpc_timeout;    /* seconds per RPC call */

	/* [rmb] */
	struct cfg_list rmb_listen;         /* nng URLs: tcp://host:port, ipc:///path */
	char rmb_public_address[CFG_STR_MAX]; /* goes into the twin's relay; "" = none yet */
	uint32_t rmb_workers;               /* concurrent request handlers */
	uint64_t rmb_max_message;           /* bytes, a whole envelope */
	uint32_t rmb_twin_cache_ttl;        /* seconds a cached twin key is trusted */
	uint64_t rmb_memory_budget;         /* bytes of frames in flight at once */
	uint32_t rmb_frame_timeout;         /* seconds to complete a frame */

	/* [node] */
	char state_dir[CFG_STR_MAX];  /* durable state: store, cursors, outbox */
	char seed_file[CFG_STR_MAX];  /* ed25519 identity; default state_dir/identity.seed */
	uint32_t farm_id;             /* 0 = not set */
	uint32_t report_interval;     /* seconds between capacity reports */
	uint32_t sync_interval;       /* seconds between full contract syncs */
	uint32_t deploy_workers;      /* deployments provisioned in parallel */
	int sched_batch;              /* 1: the agent's threads run under SCHED_BATCH */
	/* create_node's location and serial; "" = not set (update_node keeps
	 * the chain's value) */
	char node_country[CFG_STR_MAX], node_city[CFG_STR_MAX];
	char node_latitude[CFG_STR_MAX], node_longitude[CFG_STR_MAX];
	char node_serial[CFG_STR_MAX];
	/* terms and conditions signed with user_accept_tc; "" = not signed by the agent */
	char terms_link[CFG_STR_MAX], terms_hash[CFG_STR_MAX];
	uint32_t uptime_interval; /* seconds between uptime reports */

	/* [log] */
	enum log_level log_level;
	enum log_target log_target;

	/* [storage]: what struct prov_config needs (storage_dir, image_dir,
	 * run_dir, allow_unenforced_volumes, log_max_bytes, log_keep). The
	 * directories default to subdirectories of state_dir. */
	char volumes_dir[CFG_STR_MAX];    /* backing files of zmount/volume disks */
	char images_dir[CFG_STR_MAX];     /* container image store (one rootfs per image) */
	char containers_dir[CFG_STR_MAX]; /* container state, pid files and logs */
	int allow_unenforced_volumes;     /* 1: accept volumes whose size cannot be enforced */
	uint64_t container_log_max;       /* bytes of a container log before rotation */
	uint32_t container_log_keep;      /* rotated container logs kept */

	/* [containers]: how containers run (provisioners/prov_container.h) */
	char container_runtime[CFG_STR_MAX]; /* OCI runtime: auto, runc or crun */
	uint32_t container_uid_base;         /* first host id of the twins' id ranges */
	uint64_t container_rootfs_size;      /* default writable layer of a container */

	/* [images]: the image store for containers pulled by reference */
	char image_store_dir[CFG_STR_MAX];   /* default state_dir/image-store */
	uint64_t image_max_size;             /* bytes the store may use; 0 = no cap */
	char image_allow[CFG_STR_MAX];       /* registries allowed; "" = all not denied */
	char image_deny[CFG_STR_MAX];        /* registries refused */
	char image_insecure[CFG_STR_MAX];    /* registries spoken to over plain HTTP */
	char image_credentials_file[CFG_STR_MAX]; /* 0600 file of registry logins; "" = none */
	/* [vm]: virtual machines (zmachine), docs/vms.md */
	char vm_kernel[CFG_STR_MAX]; /* guest kernel; "" = newest /boot/vmlinuz-*-cloud-amd64 */
	char vm_initrd[CFG_STR_MAX]; /* from scripts/vm-initramfs.sh; "" = state_dir/vm-initrd.img */
	char vm_accel[CFG_STR_MAX];  /* auto, kvm or tcg */
	uint32_t vm_uid_base;        /* qemu of a VM runs as uid_base + hash(name) % 65536 */
	uint32_t vm_stop_timeout;    /* seconds a guest gets to power off before it is killed */
	/* [network]: how deployments' networks are reached from outside */
	int wireguard_mode;          /* enum cfg_wg_mode */
	char public_ip[CFG_STR_MAX]; /* the node's public IPv4 shown to users; "" = none */
	uint32_t public_port_min;    /* public_port workloads take ports in min..max */
	uint32_t public_port_max;
	char gateway_domain[CFG_STR_MAX]; /* names are NAME.<domain>; "" = no gateway */
	char gateway_cert[CFG_STR_MAX];   /* PEM with the (wildcard) certificate and key; "" = no TLS */
	uint32_t gateway_http_port;       /* plain HTTP on public_ip; 0 = off */
	uint32_t gateway_https_port;      /* TLS on public_ip; 0 = off */

	/* [reserved]: capacity kept for the host, never offered to workloads */
	uint32_t reserved_cru; /* cores */
	uint64_t reserved_mru; /* bytes of memory */
	uint64_t reserved_sru; /* bytes of SSD */
	uint64_t reserved_hru; /* bytes of HDD */

	/* [metrics]: the Prometheus and health endpoint; "" = off */
	char metrics_listen[CFG_STR_MAX]; /* HOST:PORT */
};

/* Where the configuration comes from; NULL members mean "none". */
struct cfg_source {
	const char *file;       /* NULL: $ZOS_AGENT_CONFIG, else CFG_DEFAULT_FILE */
	char *const *envp;      /* environment to read ZOS_AGENT_* from */
	const char *const *overrides; /* "section.key=value" strings */
	unsigned n_overrides;
};

void cfg_defaults(struct cfg *c);

/*
 * The whole pipeline: defaults, file, environment, overrides, then derived
 * values (seed_file) and checks across keys. A file named by the caller or by
 * $ZOS_AGENT_CONFIG must exist; the default file may be absent. On error, c is
 * unspecified and err holds one line ("file:line: section.key: why").
 * *used_file (optional) is set to the file read, or "" when none was.
 */
int cfg_load(struct cfg *c, const struct cfg_source *src, char *err, size_t errsz,
	     char *used_file, size_t used_sz);

/* Applies one INI file over c. Duplicate scalar keys are errors; list keys
 * (rmb.listen) repeated in a file accumulate. */
int cfg_apply_file(struct cfg *c, const char *path, char *err, size_t errsz);
/* Applies every ZOS_AGENT_* variable in envp (except ZOS_AGENT_CONFIG). */
int cfg_apply_env(struct cfg *c, char *const *envp, char *err, size_t errsz);
/* Sets "section.key" from text; origin names the source in errors. List
 * values are comma-separated and replace the list. */
int cfg_set(struct cfg *c, const char *key, const char *value, const char *origin, char *err,
	    size_t errsz);
/* Derives defaults that depend on other keys and checks cross-key rules. */
int cfg_finish(struct cfg *c, char *err, size_t errsz);

/* Writes the normalized configuration as INI that cfg_apply_file reads back
 * to an identical struct. Returns 0 or -EIO. */
int cfg_write(const struct cfg *c, FILE *f);

/* Calls fn for each key whose value differs between a and b; restart is 1
 * when the running daemon cannot apply the new value. Returns the count. */
typedef void (*cfg_change_fn)(const char *key, int restart, void *arg);
int cfg_diff(const struct cfg *a, const struct cfg *b, cfg_change_fn fn, void *arg);
/* Copies every key that needs a restart from cur into next, so next
 * describes what actually runs after a reload. */
void cfg_keep_restart_keys(struct cfg *next, const struct cfg *cur);

/* Formats a byte count the way the config writes it ("2G", "1536K", "7"). */
void cfg_format_size(uint64_t v, char *out, size_t outsz);

#endif
