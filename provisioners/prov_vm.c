/*
 * zmachine (virtual machine): zos's zmachine fields, run by qemu.
 *
 * The guest boots the node's kernel and initramfs (vm.kernel, vm.initrd).
 * Its root filesystem is an ext4 disk image made from the image's rootfs
 * tree (virtio-blk, serial "zos-root"), its configuration (entrypoint, env,
 * addresses, mounts) a small ext4 disk the initramfs reads ("zos-cfg"),
 * zmounts more virtio-blk disks, and each network interface a tap on the
 * deployment network's bridge. See prov_vm.h for the supervisor.
 *
 * Two kinds of image bring their own kernel (prov_vm_disk.c): a whole disk
 * image, copied into the VM's raw root disk and booted by the firmware with
 * a cloud-init seed beside it, and an image by reference with a kernel in
 * /boot, booted directly with the image's initramfs. How a VM boots is
 * recorded beside its root disk (<root>.boot) when the disk is made.
 *
 * Host objects: <run>/vms/<host>/ (spec, pid files, console log, QMP
 * socket, cgroup paths, taps), <storage>/vms/<host>.img (the root disk),
 * cgroups <parent>/<host>, taps in the networks' namespaces and the
 * supervisor process.
 */
#include "provisioners/prov_vm.h"

#include "common/clock.h"
#include "common/log.h"
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SPEC_MAX (512 * 1024)
#define CFG_DISK_SIZE (8ull << 20)
#define MKFS_TIMEOUT_MS 120000
#define QMP_TIMEOUT_MS 3000
#define READY_TIMEOUT_MS 10000
#define PROBE_TIMEOUT_MS 8000
#define UID_BASE_DEFAULT 3000000u
#define STOP_MS_DEFAULT 10000u

struct vm_paths {
	char host[PROV_HOST_MAX];
	char dir[PROV_PATH_MAX];
	char spec[PROV_PATH_MAX];
	char cgfile[PROV_PATH_MAX];
	char nics[PROV_PATH_MAX];
	char qmp[PROV_PATH_MAX];
	char cfg[PROV_PATH_MAX];
	char root[PROV_PATH_MAX];
	/* Beside the root disk and kept as long: how the VM boots ("node",
	 * "kernel" or "disk") and the image's own kernel and initramfs. */
	char boot[PROV_PATH_MAX];
	char kernel[PROV_PATH_MAX];
	char initrd[PROV_PATH_MAX];
};

static int vm_paths(struct prov_ctx *ctx, const struct prov_workload_id *id, struct vm_paths *p)
{
	int rc;
	if ((rc = prov_host_name(id, p->host)) < 0 ||
	    (rc = prov_fmt(p->dir, sizeof p->dir, "%s/vms/%s", ctx->run_dir, p->host)) < 0 ||
	    (rc = prov_fmt(p->spec, sizeof p->spec, "%s/spec.json", p->dir)) < 0 ||
	    (rc = prov_fmt(p->cgfile, sizeof p->cgfile, "%s/cgroups", p->dir)) < 0 ||
	    (rc = prov_fmt(p->nics, sizeof p->nics, "%s/nics", p->dir)) < 0 ||
	    (rc = prov_fmt(p->qmp, sizeof p->qmp, "%s/qmp.sock", p->dir)) < 0 ||
	    (rc = prov_fmt(p->cfg, sizeof p->cfg, "%s/cfg.img", p->dir)) < 0 ||
	    (rc = prov_fmt(p->root, sizeof p->root, "%s/vms/%s.img", ctx->storage_dir, p->host)) <
	        0 ||
	    (rc = prov_fmt(p->boot, sizeof p->boot, "%s.boot", p->root)) < 0 ||
	    (rc = prov_fmt(p->kernel, sizeof p->kernel, "%s.kernel", p->root)) < 0 ||
	    (rc = prov_fmt(p->initrd, sizeof p->initrd, "%s.initrd", p->root)) < 0)
		return rc;
	return 0;
}

static const char *const boot_names[] = {"node", "kernel", "disk"};

/* How the VM boots, as recorded when its root disk was made. */
static int boot_read(const struct vm_paths *vp)
{
	char buf[16];
	if (prov_read_file(vp->boot, buf, sizeof buf, NULL) == 0)
		for (int i = 0; i < 3; i++)
			if (strcmp(buf, boot_names[i]) == 0)
				return i;
	return PROV_VM_BOOT_NODE;
}

/* The root disk and what was made with it. */
static void remove_disks(const struct vm_paths *vp)
{
	const char *const files[] = {vp->root, vp->boot, vp->kernel, vp->initrd};
	char tmp[PROV_PATH_MAX];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		unlink(files[i]);
		if (prov_fmt(tmp, sizeof tmp, "%s.tmp", files[i]) == 0)
			unlink(tmp);
	}
}

/* Each VM's qemu runs as its own uid (and gid of the same number): the
 * slot base + hash(host) % 65536, or the next free one when another VM holds
 * it, so no two VMs share a uid (they could signal or trace each other).
 * The choice is kept in <dir>/uid so that it survives restarts. */
static int uid_taken(struct prov_ctx *ctx, const char *self, uid_t uid)
{
	char vms[PROV_PATH_MAX], f[PROV_PATH_MAX], buf[32];
	if (prov_fmt(vms, sizeof vms, "%s/vms", ctx->run_dir) < 0)
		return 0;
	DIR *d = opendir(vms);
	if (!d)
		return 0;
	int taken = 0;
	struct dirent *e;
	while (!taken && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, self) == 0 ||
		    prov_fmt(f, sizeof f, "%s/%s/uid", vms, e->d_name) < 0 ||
		    prov_read_file(f, buf, sizeof buf, NULL) < 0)
			continue;
		taken = strtoul(buf, NULL, 10) == (unsigned long)uid;
	}
	closedir(d);
	return taken;
}

static int vm_uid(struct prov_ctx *ctx, const struct vm_paths *vp, uid_t *out)
{
	char f[PROV_PATH_MAX], buf[32];
	int rc = prov_fmt(f, sizeof f, "%s/uid", vp->dir);
	if (rc < 0)
		return rc;
	if (prov_read_file(f, buf, sizeof buf, NULL) == 0) {
		unsigned long v = strtoul(buf, NULL, 10);
		if (v >= ctx->vm_uid_base && v < (unsigned long)ctx->vm_uid_base + 65536u) {
			*out = (uid_t)v;
			return 0;
		}
	}
	uint32_t h = 2166136261u;
	for (const char *c = vp->host; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	/* The lock makes choosing and recording one step for concurrent
	 * provisions of different VMs. */
	pthread_mutex_lock(&ctx->vm_lock);
	rc = -ENOSPC;
	for (uint32_t k = 0; k < 65536u; k++) {
		uid_t u = (uid_t)(ctx->vm_uid_base + (h + k) % 65536u);
		if (uid_taken(ctx, vp->host, u))
			continue;
		int n = snprintf(buf, sizeof buf, "%u\n", (unsigned)u);
		if ((rc = prov_write_file(f, buf, (size_t)n, 0600)) == 0)
			*out = u;
		break;
	}
	pthread_mutex_unlock(&ctx->vm_lock);
	return rc;
}

/* ---- context: kernel, initramfs, acceleration ---- */

int prov_vm_ctx_init(struct prov_ctx *c, const struct prov_config *cfg)
{
	pthread_mutex_init(&c->vm_lock, NULL);
	c->vm_uid_base = cfg->vm_uid_base ? cfg->vm_uid_base : UID_BASE_DEFAULT;
	c->vm_stop_ms = cfg->vm_stop_timeout_ms ? cfg->vm_stop_timeout_ms : STOP_MS_DEFAULT;
	const char *a = cfg->vm_accel;
	if (!a || !*a || strcmp(a, "auto") == 0)
		c->vm_accel_want = PROV_ACCEL_AUTO;
	else if (strcmp(a, "kvm") == 0)
		c->vm_accel_want = PROV_ACCEL_KVM;
	else if (strcmp(a, "tcg") == 0)
		c->vm_accel_want = PROV_ACCEL_TCG;
	else
		return ZE_CONFIG;
	if (cfg->vm_kernel && *cfg->vm_kernel) {
		if (!(c->vm_kernel = strdup(cfg->vm_kernel)))
			return -ENOMEM;
	} else {
		/* The newest Debian cloud kernel, else any installed kernel. */
		static const char *const pats[] = {"/boot/vmlinuz-*-cloud-amd64",
		                                   "/boot/vmlinuz-*"};
		for (size_t i = 0; i < 2 && !c->vm_kernel; i++) {
			glob_t g;
			if (glob(pats[i], 0, NULL, &g) == 0 && g.gl_pathc > 0)
				c->vm_kernel = strdup(g.gl_pathv[g.gl_pathc - 1]);
			globfree(&g);
		}
	}
	if (cfg->vm_initrd && *cfg->vm_initrd && !(c->vm_initrd = strdup(cfg->vm_initrd)))
		return -ENOMEM;
	return 0;
}

void prov_vm_ctx_free(struct prov_ctx *c)
{
	free(c->vm_kernel);
	free(c->vm_initrd);
	pthread_mutex_destroy(&c->vm_lock);
}

/* Decided once: kvm only when a probe guest really ran under it. */
static int vm_accel(struct prov_ctx *ctx)
{
	pthread_mutex_lock(&ctx->vm_lock);
	if (!ctx->vm_accel_used) {
		if (ctx->vm_accel_want == PROV_ACCEL_AUTO)
			ctx->vm_accel_used =
			    access("/dev/kvm", R_OK | W_OK) == 0 &&
			            prov_vm_probe(ctx->vm_kernel, ctx->vm_initrd, PROV_ACCEL_KVM,
			                          PROBE_TIMEOUT_MS) == 0
			        ? PROV_ACCEL_KVM
			        : PROV_ACCEL_TCG;
		else
			ctx->vm_accel_used = ctx->vm_accel_want;
	}
	int a = ctx->vm_accel_used;
	pthread_mutex_unlock(&ctx->vm_lock);
	return a;
}

void prov_vm_accel(struct prov_ctx *ctx, char *out, size_t outsz)
{
	pthread_mutex_lock(&ctx->vm_lock);
	int used = ctx->vm_accel_used, want = ctx->vm_accel_want;
	pthread_mutex_unlock(&ctx->vm_lock);
	const char *name = used == PROV_ACCEL_KVM ? "kvm" : used == PROV_ACCEL_TCG ? "tcg" : NULL;
	if (name)
		snprintf(out, outsz, "%s%s", name,
		         want == PROV_ACCEL_AUTO
		             ? (used == PROV_ACCEL_KVM ? " (auto: probe ran)"
		                                       : " (auto: kvm probe failed)")
		             : "");
	else
		snprintf(out, outsz, "auto (not probed yet)");
}

/* ---- validate ---- */

static int vm_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	struct prov_vm_spec s;
	int rc = prov_vm_parse(data, &s, err, errsz);
	if (rc < 0)
		return rc;
	memset(cap, 0, sizeof *cap);
	cap->cru = s.cpu;
	cap->mru = s.memory;
	cap->sru = s.size;
	return 0;
}

/* ---- disks ---- */

static int has_ext4(const char *img)
{
	int fd = open(img, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	unsigned char m[2];
	ssize_t n = pread(fd, m, 2, 0x438);
	close(fd);
	return n == 2 && m[0] == 0x53 && m[1] == 0xef;
}

/* A sparse file of size bytes formatted ext4, filled from tree when given;
 * made under a temporary name so a crash leaves no half-made disk. */
static int make_ext4(const char *file, uint64_t size, const char *tree, int journal, char *err,
                     size_t errsz)
{
	char prog[PROV_PATH_MAX], tmp[PROV_PATH_MAX], out[256];
	if (prov_which("mkfs.ext4", prog, sizeof prog) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED, "mkfs.ext4 not installed (e2fsprogs)");
	if (prov_fmt(tmp, sizeof tmp, "%s.tmp", file) < 0)
		return prov_err(err, errsz, -ENAMETOOLONG, "path too long");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return prov_err(err, errsz, -errno, "cannot create %s: %s", tmp, strerror(errno));
	int rc = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0) {
		unlink(tmp);
		return prov_err(err, errsz, rc, "cannot size %s: %s", tmp, zerr_str(rc));
	}
	const char *argv[16];
	size_t n = 0;
	argv[n++] = prog;
	argv[n++] = "-q";
	argv[n++] = "-F";
	argv[n++] = "-m";
	argv[n++] = "0";
	argv[n++] = "-E";
	argv[n++] = "lazy_itable_init=1,lazy_journal_init=1,nodiscard";
	if (!journal) {
		argv[n++] = "-O";
		argv[n++] = "^has_journal";
	}
	if (tree) {
		argv[n++] = "-d";
		argv[n++] = tree;
	}
	argv[n++] = tmp;
	argv[n] = NULL;
	if ((rc = prov_run(argv, out, sizeof out, MKFS_TIMEOUT_MS)) < 0) {
		unlink(tmp);
		return prov_err(err, errsz, rc,
		                "cannot make the disk %s (is size large enough?): %s", file,
		                out[0] ? out : zerr_str(rc));
	}
	if (rename(tmp, file) < 0) {
		rc = -errno;
		unlink(tmp);
		return prov_err(err, errsz, rc, "cannot rename %s: %s", tmp, zerr_str(rc));
	}
	return 0;
}

/* A volume is shared into the guest by a virtiofsd (tag "zv<k>") that the
 * supervisor runs next to qemu; the volume's size is enforced on the host,
 * as for containers. */
static int add_volume(struct prov_ctx *ctx, const struct prov_workload_id *id,
                      const struct prov_vm_spec *s, size_t i, struct prov_vm_plan *p,
                      const struct vm_paths *vp, const char *cfgdir, char *err, size_t errsz)
{
	struct prov_workload_id mid = {.twin_id = id->twin_id, .contract_id = id->contract_id};
	char mh[PROV_HOST_MAX], tag[16];
	snprintf(mid.name, sizeof mid.name, "%s", s->mount_name[i]);
	struct prov_vm_vol *v = &p->vols[p->nvols];
	int rc;
	if (prov_host_name(&mid, mh) < 0 ||
	    (rc = prov_fmt(v->dir, sizeof v->dir, "%s/volumes/%s", ctx->storage_dir, mh)) < 0 ||
	    (rc = prov_fmt(v->sock, sizeof v->sock, "%s/vfs%zu.sock", vp->dir, p->nvols)) < 0)
		return prov_err(err, errsz, -EINVAL, "bad mount name");
	if (!p->virtiofsd[0] && prov_vm_virtiofsd_path(p->virtiofsd, sizeof p->virtiofsd) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "volume %s: sharing volumes with VMs needs virtiofsd (Debian "
		                "package qemu-system-common); use a zmount for %s",
		                s->mount_name[i], s->mountpoint[i]);
	struct stat st;
	int enforced = prov_is_mountpoint(v->dir) == 1;
	if (!enforced &&
	    !(ctx->allow_unenforced_volumes && stat(v->dir, &st) == 0 && S_ISDIR(st.st_mode)))
		return prov_err(err, errsz, -ENOENT, "volume %s is not provisioned",
		                s->mount_name[i]);
	snprintf(tag, sizeof tag, "zv%u", (unsigned)p->nvols);
	p->nvols++;
	if ((rc = prov_vm_cfg_put(cfgdir, "mounts", i, "tag", tag, err, errsz)) < 0 ||
	    (rc = prov_vm_cfg_put(cfgdir, "mounts", i, "path", s->mountpoint[i], err, errsz)) < 0)
		return rc;
	return 0;
}

/* zmounts become virtio-blk disks "zm<i>" mounted by /init; a raw zmount
 * gets an ext4 filesystem first, as containers do. */
static int add_mounts(struct prov_ctx *ctx, const struct prov_workload_id *id,
                      const struct prov_vm_spec *s, const struct prov_deployment_view *deps,
                      struct prov_vm_plan *p, const struct vm_paths *vp, const char *cfgdir,
                      char *err, size_t errsz)
{
	for (size_t i = 0; i < s->nmounts; i++) {
		const char *type = prov_spec_dep_type(deps, s->mount_name[i]);
		int rc;
		if (type && strcmp(type, "volume") == 0) {
			if ((rc = add_volume(ctx, id, s, i, p, vp, cfgdir, err, errsz)) < 0)
				return rc;
			continue;
		}
		if (!type || strcmp(type, "zmount") != 0)
			return prov_err(err, errsz, -ENOENT,
			                "mount %s is not a zmount of this deployment",
			                s->mount_name[i]);
		struct prov_workload_id mid = {.twin_id = id->twin_id,
		                               .contract_id = id->contract_id};
		char mh[PROV_HOST_MAX];
		snprintf(mid.name, sizeof mid.name, "%s", s->mount_name[i]);
		struct prov_vm_disk *d = &p->disks[p->ndisks];
		if (prov_host_name(&mid, mh) < 0 ||
		    (rc = prov_fmt(d->file, sizeof d->file, "%s/zmounts/%s.img", ctx->storage_dir,
		                   mh)) < 0)
			return prov_err(err, errsz, -EINVAL, "bad mount name");
		struct stat st;
		if (lstat(d->file, &st) < 0 || !S_ISREG(st.st_mode))
			return prov_err(err, errsz, -ENOENT, "zmount %s is not provisioned",
			                s->mount_name[i]);
		if (!has_ext4(d->file)) {
			char prog[PROV_PATH_MAX], out[256];
			if (prov_which("mkfs.ext4", prog, sizeof prog) < 0)
				return prov_err(err, errsz, ZE_UNSUPPORTED,
				                "mkfs.ext4 not installed");
			const char *argv[] = {prog,
			                      "-q",
			                      "-F",
			                      "-m",
			                      "0",
			                      "-E",
			                      "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
			                      d->file,
			                      NULL};
			if ((rc = prov_run(argv, out, sizeof out, MKFS_TIMEOUT_MS)) < 0)
				return prov_err(err, errsz, rc, "cannot format zmount %s: %s",
				                s->mount_name[i], out[0] ? out : zerr_str(rc));
		}
		snprintf(d->serial, sizeof d->serial, "zm%u", (unsigned)i);
		p->ndisks++;
		if ((rc = prov_vm_cfg_put(cfgdir, "mounts", i, "serial", d->serial, err, errsz)) <
		        0 ||
		    (rc = prov_vm_cfg_put(cfgdir, "mounts", i, "path", s->mountpoint[i], err,
		                          errsz)) < 0)
			return rc;
	}
	return 0;
}

/* ---- network ---- */

static void del_taps(const char *nics)
{
	char buf[1024];
	if (prov_read_file(nics, buf, sizeof buf, NULL) < 0)
		return;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		if (prov_netns_exists(line))
			prov_ip(NULL, 0,
			        (const char *const[]){"-n", line, "link", "del", sp + 1, NULL});
	}
}

static int add_nics(struct prov_ctx *ctx, const struct prov_workload_id *id,
                    const struct prov_vm_spec *s, const struct prov_deployment_view *deps,
                    const struct vm_paths *vp, struct prov_vm_plan *p, const char *cfgdir,
                    char *err, size_t errsz)
{
	char list[1024] = "";
	size_t used = 0;
	int rc;
	for (size_t i = 0; i < s->nifs; i++) {
		const char *t = prov_spec_dep_type(deps, s->if_net[i]);
		if (!t || strcmp(t, "network") != 0)
			return prov_err(err, errsz, -ENOENT,
			                "network %s is not part of this deployment", s->if_net[i]);
		struct prov_vm_nic *n = &p->nics[i];
		char addr[24], gw[16];
		if ((rc = prov_network_tap(ctx, id->contract_id, s->if_net[i], vp->host,
		                           (unsigned)i, s->if_ip[i], p->uid, n->tap, n->netns, addr,
		                           gw, err, errsz)) < 0)
			return rc;
		p->nnics++;
		int k = snprintf(list + used, sizeof list - used, "%s %s\n", n->netns, n->tap);
		if (k > 0 && (size_t)k < sizeof list - used)
			used += (size_t)k;
		/* Recorded at once, so a failure later still removes this tap. */
		if ((rc = prov_write_file(vp->nics, list, used, 0600)) < 0)
			return prov_err(err, errsz, rc, "cannot record taps: %s", zerr_str(rc));
		/* A locally administered MAC from the tap's (hashed) name. */
		snprintf(n->mac, sizeof n->mac, "02:%c%c:%c%c:%c%c:%c%c:%c%c", n->tap[2], n->tap[3],
		         n->tap[4], n->tap[5], n->tap[6], n->tap[7], n->tap[8], n->tap[9],
		         n->tap[10], n->tap[11]);
		if ((rc = prov_vm_cfg_put(cfgdir, "net", i, "addr", addr, err, errsz)) < 0 ||
		    (i == 0 && (rc = prov_vm_cfg_put(cfgdir, "net", i, "gw", gw, err, errsz)) < 0))
			return rc;
	}
	return 0;
}

/* ---- provision ---- */

static int feature_check(struct prov_ctx *ctx, char *err, size_t errsz)
{
	char q[PROV_PATH_MAX];
	if (!ctx->feat.root || !ctx->feat.cgroups || !ctx->feat.netns_tools)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "VMs need root, the cpu/memory/pids cgroup controllers and ip(8)");
	if (prov_vm_qemu_path(q, sizeof q) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "VMs need qemu-system-x86_64 (apt-get install qemu-system-x86)");
	if (!ctx->vm_kernel || access(ctx->vm_kernel, R_OK) != 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "no VM kernel: install linux-image-cloud-amd64 or set vm.kernel");
	if (!ctx->vm_initrd || access(ctx->vm_initrd, R_OK) != 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "no VM initramfs: build one with scripts/vm-initramfs.sh "
		                "/lib/modules/<kernel version> FILE and set vm.initrd = FILE");
	return 0;
}

static int load_cg(struct prov_ctx *ctx, const struct vm_paths *vp, struct prov_cg *cg)
{
	if (prov_cg_load(cg, vp->cgfile) == 0)
		return 0;
	return prov_cg_paths(ctx, vp->host, cg);
}

/* Stops the VM and removes its runtime objects; keeps dir and disks. */
static void teardown(struct prov_ctx *ctx, const struct vm_paths *vp, unsigned stop_ms)
{
	prov_vm_stop(vp->dir, stop_ms);
	pid_t q;
	if (prov_vm_alive(vp->dir, "qemu.pid", &q) == 1)
		kill(q, SIGKILL);
	struct prov_cg cg;
	if (load_cg(ctx, vp, &cg) == 0)
		prov_cg_destroy(&cg);
	del_taps(vp->nics);
	unlink(vp->nics);
	unlink(vp->qmp);
}

/* The last line qemu or the supervisor wrote, for error messages. */
static void last_words(const struct vm_paths *vp, char *out, size_t outsz)
{
	char path[PROV_PATH_MAX], buf[4096];
	out[0] = '\0';
	int fd;
	if (prov_fmt(path, sizeof path, "%s/console.log", vp->dir) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	const char *nl = strrchr(buf, '\n'), *line = nl ? nl + 1 : buf;
	size_t k = strlen(line) < outsz - 1 ? strlen(line) : outsz - 1;
	memcpy(out, line, k);
	out[k] = '\0';
}

static int wait_ready(const struct vm_paths *vp, char *err, size_t errsz)
{
	int64_t t0 = clk_mono_ms();
	char st[32];
	int rc;
	for (;;) {
		if ((rc = prov_qmp_status(vp->qmp, st, sizeof st, QMP_TIMEOUT_MS)) == 0)
			return 0;
		pid_t q;
		int gone = prov_vm_alive(vp->dir, "qemu.pid", &q) != 1;
		if (gone || clk_mono_ms() - t0 > READY_TIMEOUT_MS) {
			char last[200];
			last_words(vp, last, sizeof last);
			return prov_err(err, errsz, rc, "qemu %s: %s",
			                gone ? "exited" : "did not answer",
			                last[0] ? last : zerr_str(rc));
		}
		struct timespec d = {0, 50 * 1000000L};
		nanosleep(&d, NULL);
	}
}

static int boot_write(const struct vm_paths *vp, int boot, char *err, size_t errsz)
{
	const char *b = boot_names[boot];
	int rc = prov_write_file(vp->boot, b, strlen(b), 0600);
	return rc < 0 ? prov_err(err, errsz, rc, "cannot write %s: %s", vp->boot, zerr_str(rc)) : 0;
}

/* A whole disk image becomes the VM's own raw root disk, grown to size. */
static int make_root_disk(const struct prov_vm_spec *s, const struct vm_paths *vp, const char *file,
                          int format, char *err, size_t errsz)
{
	uint64_t vsize = 0;
	int rc;
	if ((rc = prov_vm_disk_inspect(file, &format, &vsize, err, errsz)) < 0 ||
	    (rc = boot_write(vp, PROV_VM_BOOT_DISK, err, errsz)) < 0)
		return rc;
	return prov_vm_disk_copy(file, format, vsize, s->size, vp->root, err, errsz);
}

/* The root disk: a disk image copied, the local image folder, or the
 * image's layers merged into a temporary tree next to the disk (removed
 * again: a VM keeps nothing of its image but its disk, and the image's
 * kernel when it boots that). The boot mode is recorded before the root
 * disk, whose appearance completes the step. */
static int make_root(const struct prov_vm_spec *s, const struct vm_paths *vp,
                     const struct img_image *img, const char *image, const char *vmdir,
                     int own_kernel_ok, char *err, size_t errsz)
{
	char tree[PROV_PATH_MAX], disk[PROV_PATH_MAX];
	struct stat st;
	int rc, format = 0;
	if ((rc = prov_mkdirs(vmdir, 0700)) < 0)
		return prov_err(err, errsz, rc, "cannot create %s: %s", vmdir, zerr_str(rc));
	if (!img && stat(image, &st) == 0 && S_ISREG(st.st_mode)) {
		/* Its name declares raw or qcow2; the header must agree (a
		 * .img file is whatever its header says). */
		return make_root_disk(s, vp, image, prov_vm_disk_format(s->image), err, errsz);
	}
	if (!img && (stat(image, &st) < 0 || !S_ISDIR(st.st_mode)))
		return prov_err(err, errsz, -ENOENT,
		                "image '%s' not found: neither an OCI reference (HOST/REPO:TAG) "
		                "nor a folder or disk image file in images_dir",
		                s->image);
	if (!img) {
		if ((rc = boot_write(vp, PROV_VM_BOOT_NODE, err, errsz)) < 0)
			return rc;
		return make_ext4(vp->root, s->size, image, 1, err, errsz);
	}
	if ((rc = prov_vm_image_disk(img, disk, sizeof disk, &format)) < 0)
		return prov_err(err, errsz, rc, "cannot read the image %s: %s", s->image,
		                zerr_str(rc));
	if (rc == 1)
		return make_root_disk(s, vp, disk, format, err, errsz);
	if ((rc = prov_fmt(tree, sizeof tree, "%s.tree", vp->root)) < 0)
		return prov_err(err, errsz, rc, "path too long");
	if ((rc = prov_vm_merge_layers(img->layers, tree, err, errsz)) < 0)
		return rc;
	int boot = PROV_VM_BOOT_NODE;
	if (own_kernel_ok &&
	    (rc = prov_vm_tree_kernel(tree, vp->kernel, vp->initrd, err, errsz)) != 0)
		boot = PROV_VM_BOOT_KERNEL;
	if (rc >= 0 && (rc = boot_write(vp, boot, err, errsz)) == 0)
		rc = make_ext4(vp->root, s->size, tree, 1, err, errsz);
	prov_rm_tree(tree);
	return rc;
}

static int vm_start(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
                    const struct prov_vm_spec *s, const struct vm_paths *vp,
                    const struct prov_deployment_view *deps, struct prov_vm_plan *p, char *err,
                    size_t errsz)
{
	int rc;
	char cfgdir[PROV_PATH_MAX], image[PROV_PATH_MAX], vmdir[PROV_PATH_MAX];
	snprintf(p->host, sizeof p->host, "%s", vp->host);
	snprintf(p->dir, sizeof p->dir, "%s", vp->dir);
	snprintf(p->qmp, sizeof p->qmp, "%s", vp->qmp);
	snprintf(p->kernel, sizeof p->kernel, "%s", ctx->vm_kernel);
	snprintf(p->initrd, sizeof p->initrd, "%s", ctx->vm_initrd);
	p->accel = vm_accel(ctx);
	p->cpus = s->cpu;
	p->mem = s->memory;
	if ((rc = vm_uid(ctx, vp, &p->uid)) < 0)
		return prov_err(err, errsz, rc, "cannot pick a uid for qemu: %s", zerr_str(rc));
	p->gid = (gid_t)p->uid;
	p->kvm_gid = (gid_t)-1;
	struct group *g;
	if (p->accel == PROV_ACCEL_KVM && (g = getgrnam("kvm")))
		p->kvm_gid = g->gr_gid;
	p->log_max = ctx->log_max_bytes;
	p->log_keep = ctx->log_keep;
	p->stop_ms = ctx->vm_stop_ms;
	if ((rc = prov_fmt(cfgdir, sizeof cfgdir, "%s/cfg.d", vp->dir)) < 0 ||
	    (rc = prov_fmt(vmdir, sizeof vmdir, "%s/vms", ctx->storage_dir)) < 0 ||
	    (rc = prov_fmt(image, sizeof image, "%s/%s", ctx->image_dir, s->image)) < 0)
		return prov_err(err, errsz, rc, "path too long");

	/* An image by reference was pulled and held for this workload by the
	 * agent before provisioning: here it is only read from the store. */
	struct img_image *img = NULL;
	if (s->image_ref && (rc = prov_spec_image(ctx, s->image, &img, err, errsz)) < 0)
		return rc;
	/* The root disk survives restarts and keeps the guest's changes. An
	 * image by reference with a kernel in /boot boots that kernel unless
	 * the workload names an entrypoint (which only the node's initramfs
	 * runs). */
	const cJSON *entry = cJSON_GetObjectItemCaseSensitive(data, "entrypoint");
	if (access(vp->root, F_OK) != 0 &&
	    (rc = make_root(s, vp, img, image, vmdir, img && !entry, err, errsz)) < 0)
		goto out;
	int boot = boot_read(vp);
	struct prov_vm_disk *d = &p->disks[p->ndisks++];
	snprintf(d->file, sizeof d->file, "%s", vp->root);
	snprintf(d->serial, sizeof d->serial, "zos-root");
	if (boot == PROV_VM_BOOT_DISK) {
		/* The firmware boots the disk's own bootloader. */
		p->kernel[0] = p->initrd[0] = '\0';
		if (entry || cJSON_GetObjectItemCaseSensitive(data, "env"))
			log_warn("vm",
			         "%s boots its own disk image: its entrypoint and env are not "
			         "applied (SSH_KEY and the addresses only through the cloud-init "
			         "seed, for a guest that reads one)",
			         vp->host);
	} else if (boot == PROV_VM_BOOT_KERNEL) {
		snprintf(p->kernel, sizeof p->kernel, "%s", vp->kernel);
		if (access(vp->initrd, F_OK) == 0)
			snprintf(p->initrd, sizeof p->initrd, "%s", vp->initrd);
		else
			p->initrd[0] = '\0';
		snprintf(p->append, sizeof p->append, "console=ttyS0 root=/dev/vda rw panic=-1");
	}

	prov_rm_tree(cfgdir);
	if ((rc = prov_vm_cfg_tree(data, cfgdir, vp->host, err, errsz)) < 0 ||
	    (img && boot == PROV_VM_BOOT_NODE &&
	     (rc = prov_vm_image_cfg(img, data, cfgdir, err, errsz)) < 0) ||
	    (rc = add_nics(ctx, id, s, deps, vp, p, cfgdir, err, errsz)) < 0)
		goto out;
	if (boot != PROV_VM_BOOT_DISK) {
		d = &p->disks[p->ndisks++];
		snprintf(d->file, sizeof d->file, "%s", vp->cfg);
		snprintf(d->serial, sizeof d->serial, "zos-cfg");
		d->readonly = 1;
	} else {
		/* What an opaque disk can still use: a NoCloud seed with the
		 * SSH key, hostname and addresses, for cloud-init to read. */
		char seed[PROV_PATH_MAX];
		if ((rc = prov_fmt(seed, sizeof seed, "%s/seed.img", vp->dir)) < 0) {
			prov_err(err, errsz, rc, "path too long");
			goto out;
		}
		rc = prov_vm_seed(data, vp->host, p, cfgdir, seed, err, errsz);
		if (rc == ZE_UNSUPPORTED) {
			log_warn("vm",
			         "%s: no cloud-init seed (mkfs.fat and mcopy are not installed: "
			         "dosfstools, mtools)",
			         vp->host);
		} else if (rc < 0) {
			goto out;
		} else {
			d = &p->disks[p->ndisks++];
			snprintf(d->file, sizeof d->file, "%s", seed);
			snprintf(d->serial, sizeof d->serial, "cidata");
			d->readonly = 1;
		}
	}
	if ((rc = add_mounts(ctx, id, s, deps, p, vp, cfgdir, err, errsz)) < 0 ||
	    (boot != PROV_VM_BOOT_DISK &&
	     (rc = make_ext4(vp->cfg, CFG_DISK_SIZE, cfgdir, 0, err, errsz)) < 0))
		goto out;
	prov_rm_tree(cfgdir);

	if ((rc = prov_cg_paths(ctx, vp->host, &p->cg)) < 0 ||
	    (rc = prov_cg_create(&p->cg, s->cpu, s->memory + PROV_VM_MEM_OVERHEAD, PROV_VM_PIDS_MAX,
	                         err, errsz)) < 0)
		goto out;
	if ((rc = prov_cg_save(&p->cg, vp->cgfile)) < 0) {
		prov_err(err, errsz, rc, "cannot record cgroups: %s", zerr_str(rc));
		goto out;
	}
	if ((rc = prov_vm_argv(p, 0)) < 0) {
		prov_err(err, errsz, rc, "cannot build qemu's command line: %s", zerr_str(rc));
		goto out;
	}
	if ((rc = prov_vm_start(p, err, errsz)) < 0)
		goto out;
	rc = wait_ready(vp, err, errsz);
out:
	/* The tree may hold env secrets; the disk image is root's, 0600. */
	prov_rm_tree(cfgdir);
	img_image_free(img);
	return rc;
}

static cJSON *vm_result(struct prov_ctx *ctx, const struct vm_paths *vp,
                        const struct prov_vm_spec *s)
{
	char log[PROV_PATH_MAX], accel[64];
	if (prov_fmt(log, sizeof log, "%s/console.log", vp->dir) < 0)
		return NULL;
	prov_vm_accel(ctx, accel, sizeof accel);
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddStringToObject(r, "id", vp->host) ||
	    !cJSON_AddStringToObject(r, "console_log", log) ||
	    !cJSON_AddStringToObject(r, "accel", accel) ||
	    !cJSON_AddStringToObject(r, "boot", boot_names[boot_read(vp)]) ||
	    (s->nifs && !cJSON_AddStringToObject(r, "ip", s->if_ip[0]))) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static int vm_provision(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
                        const struct prov_deployment_view *deps, cJSON **result, char *err,
                        size_t errsz)
{
	struct prov_vm_spec s;
	struct vm_paths vp;
	int rc = prov_vm_parse(data, &s, err, errsz);
	if (rc < 0 || (rc = feature_check(ctx, err, errsz)) < 0)
		return rc;
	if ((rc = vm_paths(ctx, id, &vp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	/* "vfs<i>.sock" is as long as "qmp.sock": both must fit a unix socket. */
	if (strlen(vp.qmp) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return prov_err(err, errsz, ZE_CONFIG,
		                "%s is too long for a unix socket: set a shorter "
		                "storage.containers_dir",
		                vp.qmp);
	pid_t pid;
	int fresh = access(vp.spec, F_OK) != 0;
	if (!fresh) {
		if (!prov_spec_equal(vp.spec, data, SPEC_MAX))
			return prov_err(err, errsz, ZE_STATE,
			                "zmachine %s exists with another spec", id->name);
		if (prov_vm_alive(vp.dir, "supervisor.pid", &pid) == 1)
			goto done;
		/* Same spec but not running (reboot, crash): start it again on
		 * the same root disk. */
		teardown(ctx, &vp, 0);
	} else {
		prov_rm_tree(vp.dir);
		remove_disks(&vp);
		char *text = cJSON_PrintUnformatted(data);
		if (!text)
			return prov_err(err, errsz, -ENOMEM, "out of memory");
		if ((rc = prov_mkdirs(vp.dir, 0700)) == 0)
			rc = prov_write_file(vp.spec, text, strlen(text), 0600);
		free(text);
		if (rc < 0)
			return prov_err(err, errsz, rc, "cannot write %s: %s", vp.spec,
			                zerr_str(rc));
	}
	struct prov_vm_plan *p = calloc(1, sizeof *p);
	if (!p)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	rc = vm_start(ctx, id, data, &s, &vp, deps, p, err, errsz);
	prov_vm_plan_clear(p);
	free(p);
	if (rc < 0) {
		teardown(ctx, &vp, 0);
		/* Keep the disk of a VM that existed before this call. */
		if (fresh) {
			prov_rm_tree(vp.dir);
			remove_disks(&vp);
		}
		return rc;
	}
done:
	if (!(*result = vm_result(ctx, &vp, &s)))
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	return 0;
}

static int vm_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                          size_t errsz)
{
	struct vm_paths vp;
	int rc = vm_paths(ctx, id, &vp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	teardown(ctx, &vp, ctx->vm_stop_ms);
	struct prov_cg cg;
	if (load_cg(ctx, &vp, &cg) == 0 && prov_cg_exists(&cg) && (rc = prov_cg_destroy(&cg)) < 0)
		return prov_err(err, errsz, rc, "cannot remove cgroups of %s: %s", vp.host,
		                zerr_str(rc));
	if ((rc = prov_rm_tree(vp.dir)) < 0)
		return prov_err(err, errsz, rc, "cannot remove %s: %s", vp.dir, zerr_str(rc));
	if (unlink(vp.root) < 0 && errno != ENOENT)
		return prov_err(err, errsz, -errno, "cannot remove %s: %s", vp.root,
		                strerror(errno));
	remove_disks(&vp);
	/* What an agent killed while making the root disk left: the merged
	 * image tree (hard links into the image store) and the unfinished disk. */
	char left[PROV_PATH_MAX];
	if (prov_fmt(left, sizeof left, "%s.tree", vp.root) == 0)
		prov_rm_tree(left);
	if (prov_fmt(left, sizeof left, "%s.tmp", vp.root) == 0)
		unlink(left);
	return 0;
}

static int vm_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id, enum prov_health *h,
                      char *err, size_t errsz)
{
	struct vm_paths vp;
	int rc = vm_paths(ctx, id, &vp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	struct prov_cg cg;
	int cg_ok = load_cg(ctx, &vp, &cg) == 0 && prov_cg_exists(&cg);
	if (access(vp.dir, F_OK) != 0 && !cg_ok && access(vp.root, F_OK) != 0) {
		*h = PROV_ABSENT;
		return 0;
	}
	pid_t sp, qp;
	char st[32];
	*h = PROV_DEGRADED;
	/* The supervisor restarting qemu (the guest powered off) is degraded
	 * until qemu is back; a monitor that answers decides the rest. */
	if (prov_vm_alive(vp.dir, "supervisor.pid", &sp) == 1 &&
	    prov_vm_alive(vp.dir, "qemu.pid", &qp) == 1 && cg_ok &&
	    prov_qmp_status(vp.qmp, st, sizeof st, QMP_TIMEOUT_MS) == 0) {
		if (strcmp(st, "running") == 0)
			*h = PROV_OK;
		else if (strcmp(st, "paused") == 0)
			*h = PROV_PAUSED;
	}
	return 0;
}

static int vm_monitor(struct prov_ctx *ctx, const struct prov_workload_id *id, const char *cmd,
                      char *err, size_t errsz)
{
	struct vm_paths vp;
	int rc = vm_paths(ctx, id, &vp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	pid_t qp;
	if (prov_vm_alive(vp.dir, "qemu.pid", &qp) != 1)
		return prov_err(err, errsz, -ENOENT, "zmachine %s is not running", id->name);
	char out[256];
	if ((rc = prov_qmp(vp.qmp, cmd, out, sizeof out, QMP_TIMEOUT_MS)) < 0)
		return prov_err(err, errsz, rc, "qemu monitor %s of %s failed: %s", cmd, vp.host,
		                rc == -EIO ? out : zerr_str(rc));
	return 0;
}

static int vm_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                    size_t errsz)
{
	return vm_monitor(ctx, id, "stop", err, errsz);
}

static int vm_resume(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                     size_t errsz)
{
	return vm_monitor(ctx, id, "cont", err, errsz);
}

static int vm_usage(struct prov_ctx *ctx, const struct prov_workload_id *id, struct prov_usage *u,
                    char *err, size_t errsz)
{
	struct vm_paths vp;
	struct prov_cg cg;
	int rc = vm_paths(ctx, id, &vp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (load_cg(ctx, &vp, &cg) < 0 || !prov_cg_exists(&cg))
		return prov_err(err, errsz, -ENOENT, "zmachine %s is not provisioned", id->name);
	memset(u, 0, sizeof *u);
	uint64_t mem;
	if ((rc = prov_cg_stats(&cg, &u->cpu_ns, &mem)) < 0)
		return prov_err(err, errsz, rc, "cannot read cgroup stats: %s", zerr_str(rc));
	/* A guest owns all its memory whatever it touched so far. */
	char *buf = malloc(SPEC_MAX);
	if (buf && prov_read_file(vp.spec, buf, SPEC_MAX, NULL) == 0) {
		cJSON *data = cJSON_Parse(buf);
		struct prov_vm_spec s;
		char e[8];
		if (data && prov_vm_parse(data, &s, e, sizeof e) == 0)
			u->mem_bytes = s.memory;
		cJSON_Delete(data);
	}
	free(buf);
	prov_du(vp.root, &u->disk_bytes);
	char nics[1024];
	if (prov_read_file(vp.nics, nics, sizeof nics, NULL) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(nics, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *sp = strchr(line, ' ');
			uint64_t rx = 0, tx = 0;
			if (!sp)
				continue;
			*sp = '\0';
			/* The tap's transmit is the guest's receive. */
			if (prov_netns_counters(line, sp + 1, &tx, &rx) == 0) {
				u->net_rx_bytes += rx;
				u->net_tx_bytes += tx;
			}
		}
	}
	return 0;
}

const struct prov_ops prov_vm_ops = {
    .type = "zmachine",
    .validate = vm_validate,
    .provision = vm_provision,
    .deprovision = vm_deprovision,
    .pause = vm_pause,
    .resume = vm_resume,
    .inspect = vm_inspect,
    .usage = vm_usage,
};
