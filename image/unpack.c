/*
 * Unpacking one verified layer blob (tar, optionally gzip/zstd/xz
 * compressed) into an empty directory with libarchive.
 *
 * Every entry name is checked before libarchive sees it: absolute names,
 * ".." components, and hard links whose target does the same are refused;
 * every parent of an entry (and of a hard link's target) must be a real
 * directory, never a symlink made earlier in the layer, and a symlink in an
 * entry's own place is removed before the entry is written. Device nodes are refused (a container
 * gets its devices from the runtime). Extended attributes in the trusted.* namespace are dropped,
 * so a layer cannot forge overlayfs metadata.
 *
 * Whiteouts become overlayfs whiteouts: ".wh.NAME" is a 0/0 character
 * device NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its
 * directory. These layers are stacked as overlayfs lower directories.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/zerr.h"
#include "image/img_int.h"

/* Normalises name into out (no leading "./" or trailing "/"); ZE_MALFORMED
 * for absolute names and ".." components. "" for the layer root itself. */
static int clean_name(const char *name, char *out, size_t outsz)
{
	if (!name || name[0] == '/')
		return ZE_MALFORMED;
	size_t k = 0;
	const char *p = name;
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = p;
		while (*e && *e != '/')
			e++;
		size_t n = (size_t)(e - p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return ZE_MALFORMED;
		if (n && !(n == 1 && p[0] == '.')) {
			if (k + n + 2 > outsz)
				return ZE_TOOBIG;
			if (k)
				out[k++] = '/';
			memcpy(out + k, p, n);
			k += n;
		}
		p = e;
	}
	out[k] = 0;
	return 0;
}

/* mkdir -p of the parents of rel under root (whiteouts may come before or
 * without their directory's own entry). */
static int mkparents(const char *root, const char *rel)
{
	char p[PATH_MAX];
	int n = snprintf(p, sizeof p, "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof p)
		return -ENAMETOOLONG;
	size_t rl = strlen(root);
	for (char *s = p + rl + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		struct stat st;
		if (lstat(p, &st) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				*s = '/';
				return ZE_MALFORMED;
			}
		} else if (mkdir(p, 0755) < 0) {
			*s = '/';
			return -errno;
		}
		*s = '/';
	}
	return 0;
}

/* 0 when every parent of rel (relative to the cwd) is a directory, not a
 * symlink; ZE_MALFORMED otherwise. Creates nothing. */
static int check_parents(const char *rel)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof p, "%s", rel) >= (int)sizeof p)
		return -ENAMETOOLONG;
	for (char *s = p; (s = strchr(s, '/')); s++) {
		*s = 0;
		struct stat st;
		if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			return ZE_MALFORMED;
		*s = '/';
	}
	return 0;
}

static int whiteout(const char *root, const char *rel, const char *base, char *err, size_t errsz)
{
	char p[PATH_MAX];
	size_t dl = (size_t)(base - rel);
	int rc = mkparents(root, rel);
	if (rc < 0)
		return img_errf(err, errsz, rc, "layer entry %s: parent is not a directory", rel);
	if (!strcmp(base, ".wh..wh..opq")) {
		snprintf(p, sizeof p, "%s/%.*s", root, (int)dl, rel);
		if (setxattr(p, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return img_errf(err, errsz, -errno,
			                "cannot mark %s opaque (trusted.overlay.opaque): %s", rel,
			                strerror(errno));
		return 0;
	}
	const char *name = base + 4;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return img_errf(err, errsz, ZE_MALFORMED, "layer entry %s: bad whiteout", rel);
	snprintf(p, sizeof p, "%s/%.*s%s", root, (int)dl, rel, name);
	struct stat st;
	if (lstat(p, &st) == 0) {
		/* The same layer made it and deletes it: the whiteout wins. */
		uint64_t f = 0;
		img_rmtree(p, &f);
	}
	if (mknod(p, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return img_errf(err, errsz, -errno, "cannot create whiteout for %s: %s", rel,
		                strerror(errno));
	return 0;
}

/* Drops trusted.* extended attributes from e (kept: user., security.). */
static void filter_xattrs(struct archive_entry *e)
{
	if (archive_entry_xattr_reset(e) == 0)
		return;
	struct {
		char *name;
		void *val;
		size_t len;
	} keep[64];
	int n = 0, dropped = 0;
	const char *name;
	const void *val;
	size_t len;
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		if (!strncmp(name, "trusted.", 8) || n == 64) {
			dropped = 1;
			continue;
		}
		keep[n].name = strdup(name);
		keep[n].val = malloc(len ? len : 1);
		if (!keep[n].name || !keep[n].val) {
			free(keep[n].name);
			free(keep[n].val);
			dropped = 1;
			continue;
		}
		memcpy(keep[n].val, val, len);
		keep[n].len = len;
		n++;
	}
	if (dropped) {
		archive_entry_xattr_clear(e);
		for (int i = 0; i < n; i++)
			archive_entry_xattr_add_entry(e, keep[i].name, keep[i].val, keep[i].len);
	}
	for (int i = 0; i < n; i++) {
		free(keep[i].name);
		free(keep[i].val);
	}
}

/* Opens a for reading: fd >= 0 streams from it, else the file blob. */
static int unpack_open(struct archive *a, const char *blob, int fd)
{
	return fd >= 0 ? archive_read_open_fd(a, fd, 1 << 17)
	               : archive_read_open_filename(a, blob, 1 << 17);
}

static int unpack(const char *blob, int fd, const char *dir, char *err, size_t errsz)
{
	struct archive *a = archive_read_new();
	struct archive *w = archive_write_disk_new();
	if (!a || !w) {
		archive_read_free(a);
		archive_write_free(w);
		return -ENOMEM;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	/* Symlinks are checked here rather than by libarchive's
	 * SECURE_SYMLINKS, which opens every component of every entry's path
	 * (three opens per file): the tree is private to this thread until it
	 * is renamed into the store, so checking each parent with lstat
	 * (mkparents) and replacing a symlink in the entry's own place is
	 * enough, and several times cheaper for layers of many small files. */
	int flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
	            ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	            ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
	archive_write_disk_set_options(w, flags);
	/* Owners are the numeric ids of the image, never looked up by name. */
	int rc = 0;
	/* This thread gets its own working directory (CLONE_FS) and works
	 * inside the layer root with relative names: libarchive's symlink
	 * checks then walk only the entry's own components, not the store's
	 * path, and no other thread's cwd changes. */
	if (unshare(CLONE_FS) < 0 || chdir(dir) < 0) {
		rc = img_errf(err, errsz, -errno, "cannot enter %s: %s", dir, strerror(errno));
		goto out;
	}
	if (unpack_open(a, blob, fd) != ARCHIVE_OK) {
		rc = img_errf(err, errsz, ZE_MALFORMED, "layer %s: %s", blob,
		              archive_error_string(a));
		goto out;
	}
	struct archive_entry *e;
	char rel[PATH_MAX];
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(e);
		if (clean_name(name, rel, sizeof rel) < 0) {
			rc =
			    img_errf(err, errsz, ZE_MALFORMED,
			             "layer entry '%.200s' escapes the image root (absolute or ..)",
			             name ? name : "");
			goto out;
		}
		if (!rel[0])
			continue; /* the root itself keeps the store's mode */
		const char *base = strrchr(rel, '/');
		base = base ? base + 1 : rel;
		if (!strncmp(base, ".wh.", 4)) {
			if ((rc = whiteout(".", rel, base, err, errsz)) < 0)
				goto out;
			continue;
		}
		mode_t t = archive_entry_filetype(e);
		if (t == AE_IFCHR || t == AE_IFBLK) {
			rc = img_errf(err, errsz, ZE_MALFORMED,
			              "layer entry '%.200s' is a device node; images may not carry "
			              "devices",
			              rel);
			goto out;
		}
		const char *hl = archive_entry_hardlink(e);
		if (hl) {
			char hrel[PATH_MAX];
			if (clean_name(hl, hrel, sizeof hrel) < 0 || !hrel[0]) {
				rc = img_errf(
				    err, errsz, ZE_MALFORMED,
				    "layer entry '%.200s' is a hard link out of the image root",
				    rel);
				goto out;
			}
			/* link(2) follows symlinks in the target's parents: they
			 * must all be directories of the layer. */
			if (check_parents(hrel) < 0) {
				rc = img_errf(err, errsz, ZE_MALFORMED,
				              "layer entry '%.200s' is a hard link through a "
				              "symlink",
				              rel);
				goto out;
			}
			archive_entry_set_hardlink(e, hrel);
		}
		if ((rc = mkparents(".", rel)) < 0) {
			rc = img_errf(err, errsz, ZE_MALFORMED,
			              "layer entry '%.200s' goes through a non-directory", rel);
			goto out;
		}
		/* Never write through a symlink in the entry's own place (a
		 * directory entry would otherwise chmod/chown its target). */
		struct stat ls;
		if (lstat(rel, &ls) == 0 && S_ISLNK(ls.st_mode) && unlink(rel) < 0) {
			rc = img_errf(err, errsz, -errno, "replacing symlink %.200s: %s", rel,
			              strerror(errno));
			goto out;
		}
		archive_entry_set_pathname(e, rel);
		filter_xattrs(e);
		r = archive_write_header(w, e);
		if (r < ARCHIVE_WARN) {
			rc = img_errf(err, errsz, ZE_MALFORMED, "layer entry '%.200s': %s", rel,
			              archive_error_string(w));
			goto out;
		}
		if (archive_entry_size(e) > 0 && r >= ARCHIVE_WARN) {
			const void *buf;
			size_t sz;
			la_int64_t off;
			int dr;
			while ((dr = archive_read_data_block(a, &buf, &sz, &off)) == ARCHIVE_OK) {
				if (archive_write_data_block(w, buf, sz, off) < ARCHIVE_WARN) {
					rc = img_errf(err, errsz, -EIO, "writing %.200s: %s", rel,
					              archive_error_string(w));
					goto out;
				}
			}
			if (dr != ARCHIVE_EOF) {
				rc = img_errf(err, errsz, ZE_MALFORMED, "layer entry '%.200s': %s",
				              rel, archive_error_string(a));
				goto out;
			}
		}
		if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
			rc = img_errf(err, errsz, -EIO, "finishing %.200s: %s", rel,
			              archive_error_string(w));
			goto out;
		}
	}
	if (r != ARCHIVE_EOF)
		rc = img_errf(err, errsz, ZE_MALFORMED, "layer %s is not a valid tar: %s", blob,
		              archive_error_string(a));
out:
	if (archive_write_close(w) != ARCHIVE_OK && rc == 0)
		rc = img_errf(err, errsz, -EIO, "finishing the layer: %s", archive_error_string(w));
	archive_read_free(a);
	archive_write_free(w);
	return rc;
}

struct unpack_job {
	const char *blob, *dir;
	char *err;
	size_t errsz;
	int rc;
};

static void *unpack_thread(void *arg)
{
	struct unpack_job *j = arg;
	j->rc = unpack(j->blob, -1, j->dir, j->err, j->errsz);
	return NULL;
}

int img_unpack(const char *blob, const char *dir, char *err, size_t errsz)
{
	/* In a thread of its own: unpack() changes the thread's cwd. */
	struct unpack_job j = {blob, dir, err, errsz, 0};
	pthread_t t;
	if (pthread_create(&t, NULL, unpack_thread, &j) != 0)
		return img_errf(err, errsz, -EAGAIN, "cannot start an unpacking thread");
	pthread_join(t, NULL);
	return j.rc;
}

int img_unpack_fd(int fd, const char *dir, char *err, size_t errsz)
{
	int rc = unpack("the layer stream", fd, dir, err, errsz);
	/* Read to the end whatever the outcome, so the writer never blocks
	 * on a full pipe; the stream is still hashed on the other side. */
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		;
	return rc;
}
