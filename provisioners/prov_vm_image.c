/*
 * A VM's image by OCI reference: the unpacked layers of the image store
 * (image/image.h) merged into one tree for `mkfs.ext4 -d`, and the image
 * config's Entrypoint, Cmd, Env and WorkingDir written to the configuration
 * disk's tree where the workload sets none.
 *
 * The store keeps whiteouts in overlayfs form (a 0/0 character device hides
 * a name of the layers below, the xattr trusted.overlay.opaque=y hides a
 * directory's lower contents), so the merge applies the layers lowest first
 * the way overlayfs would show them. Regular files are hard-linked from the
 * store when the tree is on the store's filesystem (nothing is copied, and
 * mkfs only reads them), copied otherwise. Everything is done relative to
 * directory descriptors with O_NOFOLLOW, so no symlink of a layer is ever
 * followed on the host.
 */
#include "provisioners/prov_vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/image.h"

/* Deeper trees than this are refused (each level holds two descriptors). */
#define MERGE_DEPTH_MAX 96
#define ENV_KEY_MAX 64
#define ENV_VAL_MAX 4096

static int rm_at(int dfd, const char *name, int depth);

/* Removes every entry of the open directory fd. */
static int empty_dir(int fd, int depth)
{
	if (depth > MERGE_DEPTH_MAX)
		return -ELOOP;
	int dup_fd = dup(fd);
	if (dup_fd < 0)
		return -errno;
	DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -errno;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		rc = rm_at(fd, e->d_name, depth + 1);
	}
	closedir(d);
	return rc;
}

/* Removes name (a whole tree when it is a directory); absent is fine. */
static int rm_at(int dfd, const char *name, int depth)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = empty_dir(fd, depth);
	close(fd);
	if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	return rc;
}

static int copy_file(int sdir, int ddir, const char *name, const struct stat *st)
{
	int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		int rc = -errno;
		close(in);
		return rc;
	}
	int rc = 0;
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = -errno;
				break;
			}
			off += w;
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 &&
	    (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0))
		rc = -errno;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (rc == 0)
		futimens(out, ts);
	close(in);
	close(out);
	return rc;
}

/* One non-directory entry of a layer into the tree (replacing what lower
 * layers put there). */
static int put_leaf(int sdir, int ddir, const char *name, const struct stat *st)
{
	int rc = rm_at(ddir, name, 0);
	if (rc < 0)
		return rc;
	if (S_ISREG(st->st_mode)) {
		if (linkat(sdir, name, ddir, name, 0) == 0)
			return 0;
		if (errno != EXDEV && errno != EPERM && errno != EMLINK)
			return -errno;
		return copy_file(sdir, ddir, name, st);
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PROV_PATH_MAX];
		ssize_t n = readlinkat(sdir, name, target, sizeof target - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, ddir, name) < 0 ||
		    fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		return 0;
	}
	if (S_ISFIFO(st->st_mode)) {
		if (mkfifoat(ddir, name, st->st_mode & 07777) < 0 ||
		    fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		return 0;
	}
	return 0; /* sockets and the like: nothing an image can carry */
}

static int merge_dir(int sfd, int dfd, int depth, char *err, size_t errsz);

static int merge_entry(int sfd, int dfd, const char *name, int depth, char *err, size_t errsz)
{
	struct stat st, dst;
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return prov_err(err, errsz, -errno, "layer entry %s: %s", name, strerror(errno));
	/* An overlayfs whiteout: the name is deleted from the layers below. */
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
		return rm_at(dfd, name, 0);
	if (!S_ISDIR(st.st_mode)) {
		int rc = put_leaf(sfd, dfd, name, &st);
		return rc < 0 ? prov_err(err, errsz, rc, "cannot place %s: %s", name, zerr_str(rc))
		              : 0;
	}
	if (depth >= MERGE_DEPTH_MAX)
		return prov_err(err, errsz, -ELOOP, "image tree deeper than %d levels",
		                MERGE_DEPTH_MAX);
	if (fstatat(dfd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(dst.st_mode))
		rm_at(dfd, name, 0);
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return prov_err(err, errsz, -errno, "cannot create %s: %s", name, strerror(errno));
	int s = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = 0;
	if (s < 0 || d < 0) {
		rc = prov_err(err, errsz, -errno, "cannot open %s: %s", name, strerror(errno));
		goto out;
	}
	/* An opaque directory hides everything the lower layers put in it. */
	char v[4];
	ssize_t n = fgetxattr(s, "trusted.overlay.opaque", v, sizeof v);
	if (n == 1 && v[0] == 'y' && (rc = empty_dir(d, 0)) < 0) {
		prov_err(err, errsz, rc, "cannot empty opaque %s: %s", name, zerr_str(rc));
		goto out;
	}
	if ((rc = merge_dir(s, d, depth + 1, err, errsz)) < 0)
		goto out;
	/* The topmost layer's directory owns the metadata, as in overlayfs. */
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (fchown(d, st.st_uid, st.st_gid) < 0 || fchmod(d, st.st_mode & 07777) < 0 ||
	    futimens(d, ts) < 0)
		rc = prov_err(err, errsz, -errno, "cannot set %s's owner and mode: %s", name,
		              strerror(errno));
out:
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	return rc;
}

static int merge_dir(int sfd, int dfd, int depth, char *err, size_t errsz)
{
	int dup_fd = dup(sfd);
	if (dup_fd < 0)
		return prov_err(err, errsz, -errno, "dup: %s", strerror(errno));
	DIR *dir = fdopendir(dup_fd);
	if (!dir) {
		close(dup_fd);
		return prov_err(err, errsz, -errno, "cannot read a layer: %s", strerror(errno));
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		rc = merge_entry(sfd, dfd, e->d_name, depth, err, errsz);
	}
	closedir(dir);
	return rc;
}

int prov_vm_merge_layers(char *const *layers, const char *tree, char *err, size_t errsz)
{
	int rc = prov_rm_tree(tree);
	if (rc < 0 && rc != -ENOENT)
		return prov_err(err, errsz, rc, "cannot remove %s: %s", tree, zerr_str(rc));
	if ((rc = prov_mkdirs(tree, 0755)) < 0)
		return prov_err(err, errsz, rc, "cannot create %s: %s", tree, zerr_str(rc));
	int dfd = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return prov_err(err, errsz, -errno, "cannot open %s: %s", tree, strerror(errno));
	for (size_t i = 0; rc == 0 && layers && layers[i]; i++) {
		int sfd = open(layers[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0) {
			rc = prov_err(err, errsz, -errno, "cannot open layer %s: %s", layers[i],
			              strerror(errno));
			break;
		}
		rc = merge_dir(sfd, dfd, 0, err, errsz);
		close(sfd);
	}
	/* The root directory keeps the mode images expect. */
	if (rc == 0 && fchmod(dfd, 0755) < 0)
		rc = prov_err(err, errsz, -errno, "chmod %s: %s", tree, strerror(errno));
	close(dfd);
	if (rc < 0)
		prov_rm_tree(tree);
	return rc;
}

static int env_key_ok(const char *k, size_t n)
{
	if (n == 0 || n > ENV_KEY_MAX || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
		            k[i]))
			return 0;
	return 1;
}

int prov_vm_image_cfg(const struct img_image *img, const cJSON *data, const char *dir, char *err,
                      size_t errsz)
{
	char path[PROV_PATH_MAX], key[ENV_KEY_MAX + 1];
	int rc;
	/* The workload's entrypoint replaces the image's whole command, as a
	 * zos zmachine's entrypoint does; without one, Entrypoint then Cmd. */
	if (!cJSON_GetObjectItemCaseSensitive(data, "entrypoint")) {
		size_t argc = 0;
		char **parts[2] = {img->entrypoint, img->cmd};
		for (size_t p = 0; p < 2; p++)
			for (size_t i = 0; parts[p] && parts[p][i]; i++) {
				if (argc >= PROV_VM_ARGS_USER_MAX)
					return prov_err(err, errsz, -EINVAL,
					                "the image's Entrypoint and Cmd have more "
					                "than %d arguments",
					                PROV_VM_ARGS_USER_MAX);
				const char *a = parts[p][i];
				if ((rc = prov_fmt(path, sizeof path, "%s/args/%zu", dir, argc)) <
				        0 ||
				    (rc = prov_write_file(path, a, strlen(a), 0600)) < 0)
					return prov_err(err, errsz, rc, "cannot write %s: %s", path,
					                zerr_str(rc));
				argc++;
			}
		if (argc == 0)
			return prov_err(err, errsz, -EINVAL,
			                "the image sets no Entrypoint or Cmd: set the workload's "
			                "entrypoint");
	}
	/* Env of the image under the workload's own (which is already there). */
	size_t n = 0;
	for (size_t i = 0; img->env && img->env[i]; i++) {
		const char *kv = img->env[i], *eq = strchr(kv, '=');
		if (!eq || !env_key_ok(kv, (size_t)(eq - kv)) || strlen(eq + 1) > ENV_VAL_MAX ||
		    ++n > PROV_VM_ENV_MAX)
			continue; /* nothing the guest's init could export */
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		if ((rc = prov_fmt(path, sizeof path, "%s/env/%s", dir, key)) < 0)
			return prov_err(err, errsz, rc, "path too long");
		if (access(path, F_OK) == 0)
			continue;
		if ((rc = prov_write_file(path, eq + 1, strlen(eq + 1), 0600)) < 0)
			return prov_err(err, errsz, rc, "cannot write %s: %s", path, zerr_str(rc));
	}
	if (img->workdir && img->workdir[0] == '/' && strlen(img->workdir) < 1024) {
		if ((rc = prov_fmt(path, sizeof path, "%s/workdir", dir)) < 0 ||
		    (rc = prov_write_file(path, img->workdir, strlen(img->workdir), 0600)) < 0)
			return prov_err(err, errsz, rc, "cannot write %s: %s", path, zerr_str(rc));
	}
	return 0;
}
