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
 * and its rotations, spec.json, cgroups, nics, qmp.sock, cfg.img (or
 * seed.img for a disk image VM).
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
	/* Direct kernel boot; an empty kernel boots the first disk through
	 * the firmware (SeaBIOS) and its own bootloader, an empty initrd boots
	 * the kernel without one. */
	char kernel[PROV_PATH_MAX];
	char initrd[PROV_PATH_MAX];
	char append[256]; /* kernel command line; "" = the node initramfs's */
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
	int image_disk; /* a local name ending in .raw, .qcow2 or .img: a disk image file */
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

/* Images with their own kernel (prov_vm_disk.c). How a VM boots: */
enum { PROV_VM_BOOT_NODE = 0, PROV_VM_BOOT_KERNEL = 1, PROV_VM_BOOT_DISK = 2 };
/* 1 when a local image name names a disk image file (.raw, .qcow2, .img). */
int prov_vm_disk_name(const char *name);
/* The format a file name declares: IMG_DISK_RAW (.raw), IMG_DISK_QCOW2
 * (.qcow2), 0 for any other name (the header decides). */
int prov_vm_disk_format(const char *name);
/* The disk of a disk image: the store's disk artifact (img->disk), or a
 * one-layer image whose layer holds a single regular file *.raw, *.qcow2
 * or disk.img. 1 with path and *format (IMG_DISK_*, 0 when only the header
 * can tell), 0 when img is a filesystem image. */
int prov_vm_image_disk(const struct img_image *img, char *path, size_t pathsz, int *format);
/* Checks a disk image before anything uses it: its header (other formats,
 * and qcow2 backing or external data files, are refused), then qemu-img
 * info with the format forced. *format (0 = from the header) becomes
 * IMG_DISK_RAW or IMG_DISK_QCOW2; *vsize the disk's size in bytes. */
int prov_vm_disk_inspect(const char *file, int *format, uint64_t *vsize, char *err, size_t errsz);
/* Makes dst a sparse raw copy of src grown to size bytes (refused when
 * size < vsize); made under dst.tmp, renamed when complete. */
int prov_vm_disk_copy(const char *src, int format, uint64_t vsize, uint64_t size, const char *dst,
                      char *err, size_t errsz);
/* When tree/boot holds vmlinuz or vmlinuz-<version> (regular files, the
 * newest version), copies it to kernel and its initramfs (initrd.img-<v>,
 * initramfs-<v>.img or initrd.img) to initrd (removed when there is none):
 * 1; 0 when the tree has no kernel. */
int prov_vm_tree_kernel(const char *tree, const char *kernel, const char *initrd, char *err,
                        size_t errsz);

/* Makes out a 1 MiB FAT image labelled "cidata" (cloud-init's NoCloud
 * seed) for a disk image VM: meta-data (instance id and hostname host),
 * user-data (#cloud-config: hostname, ssh_authorized_keys from env
 * SSH_KEY) and network-config (version 2: each of p's nics by MAC with the
 * address and gateway add_nics wrote into cfgdir). All user values are
 * JSON-quoted (JSON is YAML). Needs mkfs.fat and mcopy: ZE_UNSUPPORTED
 * (no message) without them. */
int prov_vm_seed(const cJSON *data, const char *host, const struct prov_vm_plan *p,
                 const char *cfgdir, const char *out, char *err, size_t errsz);

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
