/*
 * Virtual machines: the qemu command line, the supervisor process and the
 * QMP client. Internal to provisioners/ (prov_vm.c drives them).
 *
 * prov_vm_start double-forks a supervisor, its own session leader reparented
 * to init, so killing the agent (even with SIGKILL) leaves it and the VM
 * running. The supervisor starts qemu in the VM's cgroups with its taps
 * opened for it (in the networks' namespaces), as the VM's own uid with no
 * other group than kvm's, writes qemu's serial console to <dir>/console.log
 * with size rotation, restarts qemu with backoff when it exits (the guest
 * powered off or crashed), and on SIGTERM asks the guest to power down
 * through QMP, kills qemu after the grace period and exits.
 *
 * Files in <dir> (owned by root): supervisor.pid and qemu.pid ("<pid>
 * <starttime>", so a recycled pid is never mistaken for ours), console.log
 * and its rotations, spec.json, cgroups, nics, qmp.sock, cfg.img, root.img.
 * qemu opens none of them: the supervisor's child opens (as root) the taps,
 * disks, kernel, initramfs and the listening QMP socket and hands them over
 * as descriptors, so qemu's uid owns no file and can reach nothing else.
 */
#ifndef ZOS_PROVISIONERS_PROV_VM_H
#define ZOS_PROVISIONERS_PROV_VM_H

#include <sys/types.h>

#include "provisioners/prov_int.h"

#define PROV_VM_DISKS_MAX 10
#define PROV_VM_NICS_MAX 4
#define PROV_VM_ARGS_MAX 256
#define PROV_VM_PIDS_MAX 512
/* What qemu itself needs beside the guest's memory (TCG's translation
 * buffer is capped at 64 MiB on the command line). */
#define PROV_VM_MEM_OVERHEAD (192ull << 20)

struct prov_vm_disk {
	char file[PROV_PATH_MAX];
	char serial[20]; /* the guest finds its disks by virtio serial */
	int readonly;
};

struct prov_vm_nic {
	char netns[PROV_HOST_MAX]; /* the network's namespace, /run/netns/<netns> */
	char tap[16];
	char mac[18];
};

/* A volume shared into the guest through virtiofs ("zv<i>" tag). */
struct prov_vm_vol {
	char dir[PROV_PATH_MAX];  /* the volume's host directory */
	char sock[PROV_PATH_MAX]; /* <dir>/vfs<i>.sock, made by the supervisor */
};
#define PROV_VM_VOLS_MAX 8

struct prov_vm_plan {
	char host[PROV_HOST_MAX];
	char dir[PROV_PATH_MAX];
	char qmp[PROV_PATH_MAX]; /* <dir>/qmp.sock, made by the supervisor */
	char kernel[PROV_PATH_MAX];
	char initrd[PROV_PATH_MAX];
	int accel; /* PROV_ACCEL_KVM or PROV_ACCEL_TCG */
	uint64_t cpus;
	uint64_t mem; /* bytes, a multiple of 1 MiB */
	uid_t uid;
	gid_t gid;
	gid_t kvm_gid; /* supplementary group for /dev/kvm, (gid_t)-1 for none */
	struct prov_cg cg;
	uint64_t log_max;
	unsigned log_keep;
	unsigned stop_ms;
	size_t ndisks;
	struct prov_vm_disk disks[PROV_VM_DISKS_MAX];
	size_t nnics;
	struct prov_vm_nic nics[PROV_VM_NICS_MAX];
	size_t nvols;
	struct prov_vm_vol vols[PROV_VM_VOLS_MAX];
	char virtiofsd[PROV_PATH_MAX]; /* set when nvols > 0 */
	/* Built by prov_vm_argv: qemu's argv, NULL-terminated, owned here. */
	char *argv[PROV_VM_ARGS_MAX + 1];
};

/* The workload's data, parsed. Strings are borrowed from the cJSON. */
#define PROV_VM_MOUNTS_MAX 8
#define PROV_VM_ARGS_USER_MAX 64
#define PROV_VM_ENV_MAX 64
#define PROV_VM_SIZE_MIN (64ull << 20)
#define PROV_VM_SIZE_DEFAULT (1ull << 30)
struct prov_vm_spec {
	const char *image;
	int image_ref; /* image is an OCI reference (contains '/'), not a local folder */
	uint64_t cpu, memory, size;
	size_t nmounts, nifs;
	const char *mount_name[PROV_VM_MOUNTS_MAX];
	const char *mountpoint[PROV_VM_MOUNTS_MAX];
	const char *if_net[PROV_VM_NICS_MAX];
	const char *if_ip[PROV_VM_NICS_MAX];
};
/* Checks data (no side effects). */
int prov_vm_parse(const cJSON *data, struct prov_vm_spec *s, char *err, size_t errsz);
/* Writes the configuration disk's tree into dir: hostname, args/<i>,
 * env/<NAME> (scripts/vm-init.sh reads it). */
int prov_vm_cfg_tree(const cJSON *data, const char *dir, const char *hostname, char *err,
                     size_t errsz);
/* Writes dir/sub/idx/leaf = value. */
int prov_vm_cfg_put(const char *dir, const char *sub, size_t idx, const char *leaf,
                    const char *value, char *err, size_t errsz);

/* Images by OCI reference (prov_vm_image.c). */
struct img_image;
/* Makes tree (removed first; created 0755) the union of layers (lowest
 * first, NULL-terminated, as img_image.layers), honouring the store's
 * overlayfs-form whiteouts and opaque directories. Files are hard-linked
 * from the store when on the same filesystem, copied otherwise; the caller
 * removes tree when done. On failure tree is removed. */
int prov_vm_merge_layers(char *const *layers, const char *tree, char *err, size_t errsz);
/* Writes into the configuration tree dir what the image config gives and
 * the workload does not: args/<i> from Entrypoint then Cmd when data has no
 * entrypoint (-EINVAL when the image has neither), env/<NAME> for each
 * image Env not already there, and workdir from WorkingDir. Call after
 * prov_vm_cfg_tree. */
int prov_vm_image_cfg(const struct img_image *img, const cJSON *data, const char *dir, char *err,
                      size_t errsz);

/* Cgroup limits (prov_cg_limits.c); the same declarations as in
 * prov_int.h, repeated so the VM code does not depend on who else
 * uses them. Creates the cgroups and sets cpu (whole cpus), memory (bytes)
 * and pids limits; moves pid into every cgroup (system calls only). */
int prov_cg_create(const struct prov_cg *cg, uint64_t cpus, uint64_t mem, uint64_t pids, char *err,
                   size_t errsz);
int prov_cg_attach(const struct prov_cg *cg, pid_t pid);

/* Context set-up (prov_ctx.c): accel, kernel, initramfs and uid keys. */
int prov_vm_ctx_init(struct prov_ctx *c, const struct prov_config *cfg);
void prov_vm_ctx_free(struct prov_ctx *c);

/* Fills p->argv for the plan. Descriptors qemu receives: tap i as 3+i,
 * then disk i (a read-only and a read-write one), then kernel, initramfs,
 * the QMP socket and the connection to volume i's virtiofsd. The probe variant
 * boots only kernel and initramfs and asks /init to print a marker. */
int prov_vm_argv(struct prov_vm_plan *p, int probe);
void prov_vm_plan_clear(struct prov_vm_plan *p);
/* The qemu binary, "/usr/bin/qemu-system-x86_64"; -ENOENT when absent. */
int prov_vm_qemu_path(char *out, size_t outsz);
/* qemu's virtiofsd (Debian 12: /usr/lib/qemu/virtiofsd); -ENOENT when absent. */
int prov_vm_virtiofsd_path(char *out, size_t outsz);

/* Boots kernel and initramfs under accel with a short timeout and looks for
 * /init's marker on the console: 0 when the guest really ran. */
int prov_vm_probe(const char *kernel, const char *initrd, int accel, int timeout_ms);

/* Starts the supervisor and waits (bounded) until qemu started or failed;
 * the failure's reason is in err. */
int prov_vm_start(const struct prov_vm_plan *p, char *err, size_t errsz);
/* The live process recorded in <dir>/<file>: 1 and *pid when it runs. */
int prov_vm_alive(const char *dir, const char *file, pid_t *pid);
/* Stops the supervisor: it powers the guest down (at most its grace
 * period), kills qemu and exits; killed after a bounded wait otherwise. */
int prov_vm_stop(const char *dir, unsigned stop_ms);

/* QMP over the unix socket sock. Sends {"execute": cmd}, and puts the text
 * of the reply's "return" value (or "error" description) into out. Only
 * system calls and stack buffers: usable in the forked supervisor. 0 on a
 * return, -EIO on an error reply, ZE_TIMEOUT, or a connection error. */
int prov_qmp(const char *sock, const char *cmd, char *out, size_t outsz, int timeout_ms);
/* qemu's run state ("running", "paused", "shutdown", ...) into out. */
int prov_qmp_status(const char *sock, char *out, size_t outsz, int timeout_ms);

#endif
