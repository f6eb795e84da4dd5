/*
 * A container's root filesystem and mounts, made on the host before the OCI
 * runtime starts it.
 *
 * Container root is an unprivileged host id (the twin's range, see
 * prov_ct_idmap.c), yet the image's files belong to host root. Instead of
 * copying and chowning the image for every range, the image directory is
 * cloned with open_tree(OPEN_TREE_CLONE) and the clone is idmapped
 * (mount_setattr MOUNT_ATTR_IDMAP) with a user namespace that maps 0 to the
 * range's first id: through <dir>/lower/0 the image's root-owned files look
 * owned by the range, that is by root inside the container, while the files
 * on disk stay shared and unchanged. The clone is read-only. overlayfs
 * (which accepts idmapped lower layers) stacks it under <dir>/upperfs/upper,
 * on an ext4 image of the workload's size limit attached to a loop device,
 * so a container cannot write more than that; upper/ is owned by the range's
 * root. Volumes and disks get the same idmapped clones at <dir>/mnt/N and
 * the runtime bind-mounts those.
 *
 * Everything here is mounted in the agent's mount namespace, so it outlives
 * the agent like the container does; prov_ct_rootfs_down removes it.
 */
#include "provisioners/prov_container.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A user namespace mapping 0..PROV_CT_IDS-1 to base..: a child unshares
 * one and waits; we write its maps and keep a descriptor of it. */
static int userns_fd(uint32_t base)
{
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(go[0]);
		close(go[1]);
		return e;
	}
	if (pid == 0) {
		close(go[1]);
		char c;
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		/* Wait until the parent is done with our namespace. */
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	close(go[0]);
	int fd = -1, rc = 0;
	char p[64], map[64];
	int n = snprintf(map, sizeof map, "0 %u %u\n", base, PROV_CT_IDS);
	static const char *const files[] = {"uid_map", "gid_map"};
	/* The child may not have unshared yet: retry briefly until its
	 * namespace differs from ours. */
	for (int t = 0; t < 200; t++) {
		struct stat a, b;
		snprintf(p, sizeof p, "/proc/%d/ns/user", (int)pid);
		if (stat(p, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 && a.st_ino != b.st_ino)
			break;
		usleep(1000);
	}
	for (size_t i = 0; i < 2 && rc == 0; i++) {
		snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, files[i]);
		int f = open(p, O_WRONLY | O_CLOEXEC);
		if (f < 0 || write(f, map, (size_t)n) != n)
			rc = -errno ? -errno : -EIO;
		if (f >= 0)
			close(f);
	}
	if (rc == 0) {
		snprintf(p, sizeof p, "/proc/%d/ns/user", (int)pid);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			rc = -errno;
	}
	close(go[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return rc < 0 ? rc : fd;
}

/* Clones the mount at src, idmaps it with userns and attaches it at dst. */
static int idmap_clone(const char *src, const char *dst, int userns, int ro)
{
	int fd = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct mount_attr attr = {
	    .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
	                (ro ? MOUNT_ATTR_RDONLY : 0),
	    .userns_fd = (uint64_t)userns,
	};
	int rc = 0;
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0 ||
	    move_mount(fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int prov_ct_idmap_probe(const char *dir)
{
	int ns = userns_fd(1u << 30);
	if (ns < 0)
		return ns;
	int fd = open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	int rc = fd < 0 ? -errno : 0;
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
	if (rc == 0 && mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		rc = -errno;
	/* A detached clone disappears with its last descriptor. */
	if (fd >= 0)
		close(fd);
	close(ns);
	return rc;
}

/* The writable layer: <dir>/upper.img, made once (it keeps the container's
 * files across restarts and re-provisioning), mounted at <dir>/upperfs. */
static int upper_up(const struct prov_ct_plan *p, char *err, size_t errsz)
{
	char img[PROV_PATH_MAX], mnt[PROV_PATH_MAX], d[PROV_PATH_MAX];
	int rc;
	if ((rc = prov_fmt(img, sizeof img, "%s/upper.img", p->dir)) < 0 ||
	    (rc = prov_fmt(mnt, sizeof mnt, "%s/upperfs", p->dir)) < 0)
		return prov_err(err, errsz, rc, "path too long");
	if (!prov_ext4_has(img)) {
		int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return prov_err(err, errsz, -errno, "cannot create %s: %s", img,
			                prov_strerror(errno));
		rc = ftruncate(fd, (off_t)p->rootfs_size) < 0 ? -errno : 0;
		close(fd);
		if (rc < 0)
			return prov_err(err, errsz, rc, "cannot size %s: %s", img, zerr_str(rc));
		if ((rc = prov_ext4_format(img, err, errsz)) < 0)
			return rc;
	}
	if ((rc = prov_mkdirs(mnt, 0700)) < 0 || (rc = prov_ext4_mount(img, mnt, err, errsz)) < 0)
		return rc < 0 && !err[0] ? prov_err(err, errsz, rc, "cannot mount upper layer")
		                         : rc;
	static const char *const subs[] = {"upper", "work"};
	for (size_t i = 0; i < 2; i++) {
		if ((rc = prov_fmt(d, sizeof d, "%s/%s", mnt, subs[i])) < 0)
			return prov_err(err, errsz, rc, "path too long");
		if (mkdir(d, 0755) < 0 && errno != EEXIST)
			return prov_err(err, errsz, -errno, "cannot create %s: %s", d,
			                prov_strerror(errno));
	}
	/* The root directory of the container belongs to its root, and its
	 * other users may enter it whatever the agent's umask. */
	if ((rc = prov_fmt(d, sizeof d, "%s/upper", mnt)) < 0 ||
	    chown(d, p->uid_base, p->uid_base) < 0 || chmod(d, 0755) < 0)
		return prov_err(err, errsz, rc < 0 ? rc : -errno, "cannot chown upper layer");
	return 0;
}

static int mounts_up(const struct prov_ct_plan *p, int userns, char *err, size_t errsz)
{
	char dst[PROV_PATH_MAX], stage[PROV_PATH_MAX];
	int rc;
	for (size_t i = 0; i < p->nmounts; i++) {
		const struct prov_ct_mount *m = &p->mounts[i];
		if ((rc = prov_fmt(dst, sizeof dst, "%s/mnt/%zu", p->dir, i)) < 0 ||
		    (rc = prov_fmt(stage, sizeof stage, "%s/stage/%zu", p->dir, i)) < 0)
			return prov_err(err, errsz, rc, "path too long");
		if ((rc = prov_mkdirs(dst, 0700)) < 0)
			return prov_err(err, errsz, rc, "cannot create %s", dst);
		const char *src = m->src;
		if (m->kind == PROV_MNT_DISK) {
			if ((rc = prov_mkdirs(stage, 0700)) < 0 ||
			    (rc = prov_ext4_mount(m->src, stage, err, errsz)) < 0)
				return rc;
			src = stage;
		}
		rc = idmap_clone(src, dst, userns, 0);
		/* The idmapped clone holds the disk's superblock (and through
		 * it the loop device); the staging mount is not needed. */
		if (m->kind == PROV_MNT_DISK)
			umount2(stage, MNT_DETACH);
		if (rc < 0)
			return prov_err(err, errsz, rc, "cannot idmap mount %s: %s", m->src,
			                zerr_str(rc));
	}
	return 0;
}

/* overlayfs with one "lowerdir+" per layer (the new mount API, no limit of
 * one page of options), topmost first; the classic mount(2) string where
 * the kernel lacks "lowerdir+" (before 6.8). */
static int mount_overlay(const struct prov_ct_plan *p, const char *root, char *err, size_t errsz)
{
	char path[PROV_PATH_MAX], upper[PROV_PATH_MAX], work[PROV_PATH_MAX];
	if (prov_fmt(upper, sizeof upper, "%s/upperfs/upper", p->dir) < 0 ||
	    prov_fmt(work, sizeof work, "%s/upperfs/work", p->dir) < 0)
		return prov_err(err, errsz, -ENAMETOOLONG, "path too long");
	int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	int rc = fs < 0 ? -errno : 0;
	for (size_t i = p->nlayers; rc == 0 && i-- > 0;) {
		if (prov_fmt(path, sizeof path, "%s/lower/%zu", p->dir, i) < 0)
			rc = -ENAMETOOLONG;
		else if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", path, 0) < 0)
			rc = -errno;
	}
	if (rc == 0 && (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
	                fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
	                fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0))
		rc = -errno;
	if (rc == 0) {
		int m = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
		if (m < 0 || move_mount(m, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			rc = -errno;
		if (m >= 0)
			close(m);
	}
	if (fs >= 0)
		close(fs);
	if (rc == 0)
		return 0;
	/* Older kernels: one option string. */
	char opts[4096];
	size_t off = 0;
	int n = snprintf(opts, sizeof opts, "lowerdir=");
	off = (size_t)n;
	for (size_t i = p->nlayers; i-- > 0;) {
		n = snprintf(opts + off, sizeof opts - off, "%s%s/lower/%zu",
		             i + 1 == p->nlayers ? "" : ":", p->dir, i);
		if (n < 0 || (size_t)n >= sizeof opts - off)
			return prov_err(err, errsz, -E2BIG,
			                "too many image layers for this kernel's overlayfs");
		off += (size_t)n;
	}
	n = snprintf(opts + off, sizeof opts - off, ",upperdir=%s,workdir=%s", upper, work);
	if (n < 0 || (size_t)n >= sizeof opts - off)
		return prov_err(err, errsz, -E2BIG,
		                "too many image layers for this kernel's overlayfs");
	if (mount("overlay", root, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		return prov_err(err, errsz, -errno, "cannot mount the container's overlay: %s",
		                prov_strerror(errno));
	return 0;
}

int prov_ct_rootfs_up(const struct prov_ct_plan *p, char *err, size_t errsz)
{
	char lower[PROV_PATH_MAX], root[PROV_PATH_MAX];
	int rc;
	prov_ct_rootfs_down(p->dir);
	if (p->nlayers == 0 || p->nlayers > PROV_CT_LAYERS_MAX)
		return prov_err(err, errsz, -EINVAL, "the image has no layers");
	if ((rc = prov_fmt(root, sizeof root, "%s/rootfs", p->dir)) < 0)
		return prov_err(err, errsz, rc, "path too long");
	if ((rc = prov_mkdirs(root, 0755)) < 0)
		return prov_err(err, errsz, rc, "cannot create %s: %s", root, zerr_str(rc));
	if ((rc = upper_up(p, err, errsz)) < 0)
		goto fail;
	int ns = userns_fd(p->uid_base);
	if (ns < 0) {
		rc = prov_err(err, errsz, ns == -EPERM ? ZE_UNSUPPORTED : ns,
		              "cannot make the id mapping's user namespace: %s", zerr_str(ns));
		goto fail;
	}
	for (size_t i = 0; rc == 0 && i < p->nlayers; i++) {
		if ((rc = prov_fmt(lower, sizeof lower, "%s/lower/%zu", p->dir, i)) < 0 ||
		    (rc = prov_mkdirs(lower, 0700)) < 0) {
			prov_err(err, errsz, rc, "cannot create %s", lower);
			break;
		}
		rc = idmap_clone(p->layers[i], lower, ns, 1);
		if (rc < 0) {
			int code = rc == -EINVAL ? ZE_UNSUPPORTED : rc;
			prov_err(
			    err, errsz, code,
			    "cannot idmap the image layer %s (the image store's filesystem must "
			    "support idmapped mounts, e.g. ext4, xfs, btrfs, tmpfs): %s",
			    p->layers[i], zerr_str(rc));
			rc = code;
		}
	}
	if (rc == 0)
		rc = mounts_up(p, ns, err, errsz);
	close(ns);
	if (rc < 0 || (rc = mount_overlay(p, root, err, errsz)) < 0)
		goto fail;
	return 0;
fail:
	prov_ct_rootfs_down(p->dir);
	return rc;
}

static void detach_all(const char *dir)
{
	/* Mounts may be stacked (a crash half way through a provision). */
	for (int i = 0; i < 8 && umount2(dir, MNT_DETACH) == 0; i++)
		;
}

int prov_ct_rootfs_down(const char *dir)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "%s/rootfs", dir) == 0)
		detach_all(p);
	for (int i = 0; i < PROV_CT_LAYERS_MAX; i++) {
		if (prov_fmt(p, sizeof p, "%s/lower/%d", dir, i) == 0 && !access(p, F_OK))
			detach_all(p);
	}
	for (int i = 0; i < PROV_CT_MOUNTS_MAX; i++) {
		if (prov_fmt(p, sizeof p, "%s/mnt/%d", dir, i) == 0)
			detach_all(p);
		if (prov_fmt(p, sizeof p, "%s/stage/%d", dir, i) == 0)
			detach_all(p);
	}
	if (prov_fmt(p, sizeof p, "%s/upperfs", dir) == 0)
		detach_all(p);
	return 0;
}

int prov_ct_upper_usage(const char *dir, uint64_t *bytes)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "%s/upperfs/upper", dir) < 0)
		return -ENAMETOOLONG;
	return prov_du(p, bytes);
}
