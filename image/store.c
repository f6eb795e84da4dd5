/*
 * The image store on disk: layout, crash-safe writes, the reference index,
 * holds and garbage collection. Everything visible under blobs/, layers/ and
 * refs/ was made in tmp/ (or as a temporary file) and renamed into place.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"
#include "image/img_int.h"

int img_path(const struct img_store *st, char *out, size_t outsz, const char *kind,
             const char *digest)
{
	if (!img_digest_valid(digest))
		return -EINVAL;
	int n = snprintf(out, outsz, "%s/%s/sha256/%s", st->dir, kind, digest + 7);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

int img_exists(const char *path, int want_dir)
{
	struct stat s;
	if (lstat(path, &s) < 0)
		return 0;
	return want_dir ? S_ISDIR(s.st_mode) : S_ISREG(s.st_mode);
}

static int fsync_dir_of(const char *path)
{
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s", path);
	char *s = strrchr(d, '/');
	if (!s)
		return 0;
	*s = 0;
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int img_write_atomic(struct img_store *st, const char *path, const void *p, size_t n)
{
	char tmp[PATH_MAX];
	int rc = img_tmpdir(st, "f", tmp, sizeof tmp);
	if (rc < 0)
		return rc;
	/* img_tmpdir made a directory; write the file inside it. */
	char f[PATH_MAX + 8];
	snprintf(f, sizeof f, "%s/data", tmp);
	int fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		rmdir(tmp);
		return rc;
	}
	const uint8_t *b = p;
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, b + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(f, path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_dir_of(path);
	unlink(f);
	rmdir(tmp);
	return rc;
}

int img_read_blob(struct img_store *st, const char *digest, size_t max, char **out, size_t *len)
{
	char p[PATH_MAX];
	int rc = img_path(st, p, sizeof p, "blobs", digest);
	if (rc < 0)
		return rc;
	FILE *f = fopen(p, "rbe");
	if (!f)
		return -errno;
	struct stat s;
	if (fstat(fileno(f), &s) < 0 || (uint64_t)s.st_size > max) {
		fclose(f);
		return ZE_TOOBIG;
	}
	char *b = malloc((size_t)s.st_size + 1);
	if (!b) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n = fread(b, 1, (size_t)s.st_size, f);
	fclose(f);
	if (n != (size_t)s.st_size) {
		free(b);
		return -EIO;
	}
	b[n] = 0;
	*out = b;
	*len = n;
	return 0;
}

/* refs/ file names: hex of the canonical reference, so any reference maps
 * to one safe file name. */
static int ref_path(struct img_store *st, const char *canon, char *out, size_t outsz)
{
	size_t n = strlen(canon);
	if (n * 2 + strlen(st->dir) + 8 > outsz)
		return -ENAMETOOLONG;
	int k = snprintf(out, outsz, "%s/refs/", st->dir);
	for (size_t i = 0; i < n; i++)
		k += snprintf(out + k, outsz - (size_t)k, "%02x", (unsigned char)canon[i]);
	return 0;
}

int img_ref_lookup(struct img_store *st, const char *canon, char digest[IMG_DIGEST_MAX])
{
	char p[PATH_MAX * 2];
	int rc = ref_path(st, canon, p, sizeof p);
	if (rc < 0)
		return rc;
	FILE *f = fopen(p, "re");
	if (!f)
		return -ENOENT;
	char b[IMG_DIGEST_MAX + 2] = {0};
	size_t n = fread(b, 1, sizeof b - 1, f);
	fclose(f);
	while (n && (b[n - 1] == '\n'))
		b[--n] = 0;
	if (!img_digest_valid(b))
		return -ENOENT;
	memcpy(digest, b, 72);
	return 0;
}

int img_ref_store(struct img_store *st, const char *canon, const char *digest)
{
	char p[PATH_MAX * 2];
	int rc = ref_path(st, canon, p, sizeof p);
	if (rc < 0)
		return rc;
	char b[IMG_DIGEST_MAX + 2];
	int n = snprintf(b, sizeof b, "%s\n", digest);
	return img_write_atomic(st, p, b, (size_t)n);
}

static __thread uint64_t rm_bytes;
static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_DP && S_ISREG(s->st_mode))
		rm_bytes += (uint64_t)s->st_blocks * 512;
	if (flag == FTW_DP)
		return rmdir(p) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(p) < 0 && errno != ENOENT ? -1 : 0;
}

int img_rmtree(const char *path, uint64_t *freed)
{
	struct stat s;
	if (lstat(path, &s) < 0)
		return errno == ENOENT ? 0 : -errno;
	rm_bytes = 0;
	int rc = 0;
	if (S_ISDIR(s.st_mode))
		rc = nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
	else if (unlink(path) < 0)
		rc = -errno;
	else
		rm_bytes = (uint64_t)s.st_blocks * 512;
	if (freed)
		*freed += rm_bytes;
	return rc;
}

int img_tmpdir(struct img_store *st, const char *prefix, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s/tmp/%s.XXXXXX", st->dir, prefix);
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	return mkdtemp(out) ? 0 : -errno;
}

static int mkdirs(const char *base, const char *const *subs)
{
	char p[PATH_MAX];
	for (; *subs; subs++) {
		snprintf(p, sizeof p, "%s/%s", base, *subs);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* ---- holds ---- */

static int holds_save(struct img_store *st)
{
	size_t cap = st->n_holds * (129 + IMG_DIGEST_MAX + 2) + 1;
	char *b = malloc(cap);
	if (!b)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < st->n_holds; i++)
		k += (size_t)snprintf(b + k, cap - k, "%s %s\n", st->holds[i].holder,
		                      st->holds[i].digest);
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/holds", st->dir);
	int rc = img_write_atomic(st, p, b, k);
	free(b);
	return rc;
}

static int holds_load(struct img_store *st)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/holds", st->dir);
	FILE *f = fopen(p, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		char h[129], d[IMG_DIGEST_MAX];
		if (sscanf(line, "%128s %71s", h, d) != 2 || !img_digest_valid(d))
			continue;
		struct img_hold_ent *n = realloc(st->holds, (st->n_holds + 1) * sizeof *n);
		if (!n) {
			fclose(f);
			return -ENOMEM;
		}
		st->holds = n;
		memcpy(n[st->n_holds].holder, h, sizeof h);
		memcpy(n[st->n_holds].digest, d, sizeof d);
		st->n_holds++;
	}
	fclose(f);
	return 0;
}

static int holder_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 128)
		return 0;
	for (; *h; h++)
		if (*h <= ' ' || *h == 0x7f)
			return 0;
	return 1;
}

int img_hold(struct img_store *st, const char *digest, const char *holder)
{
	if (!img_digest_valid(digest) || !holder_ok(holder))
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	int rc = 0;
	size_t i;
	for (i = 0; i < st->n_holds; i++)
		if (strcmp(st->holds[i].holder, holder) == 0)
			break;
	if (i == st->n_holds) {
		struct img_hold_ent *n = realloc(st->holds, (st->n_holds + 1) * sizeof *n);
		if (!n) {
			pthread_mutex_unlock(&st->lock);
			return -ENOMEM;
		}
		st->holds = n;
		snprintf(n[i].holder, sizeof n[i].holder, "%s", holder);
		st->n_holds++;
	} else if (strcmp(st->holds[i].digest, digest) == 0) {
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	memcpy(st->holds[i].digest, digest, 72);
	rc = holds_save(st);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int img_release(struct img_store *st, const char *holder)
{
	pthread_mutex_lock(&st->lock);
	int rc = 0;
	for (size_t i = 0; i < st->n_holds; i++) {
		if (strcmp(st->holds[i].holder, holder) != 0)
			continue;
		st->holds[i] = st->holds[--st->n_holds];
		rc = holds_save(st);
		break;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- garbage collection ---- */

struct keepset {
	char (*d)[IMG_DIGEST_MAX];
	size_t n, cap;
};

static int keep_add(struct keepset *k, const char *digest)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->d[i], digest) == 0)
			return 0;
	if (k->n == k->cap) {
		size_t nc = k->cap ? k->cap * 2 : 64;
		void *n = realloc(k->d, nc * sizeof *k->d);
		if (!n)
			return -ENOMEM;
		k->d = n;
		k->cap = nc;
	}
	snprintf(k->d[k->n++], IMG_DIGEST_MAX, "%s", digest);
	return 0;
}

static int keep_has(const struct keepset *k, const char *hex)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->d[i] + 7, hex) == 0)
			return 1;
	return 0;
}

/* Adds the manifest and everything it references. */
static int keep_image(struct img_store *st, struct keepset *k, const char *digest)
{
	int rc = keep_add(k, digest);
	char *b;
	size_t n;
	if (rc < 0 || img_read_blob(st, digest, IMG_MANIFEST_MAX, &b, &n) < 0)
		return rc;
	struct img_manifest *m = calloc(1, sizeof *m);
	if (!m) {
		free(b);
		return -ENOMEM;
	}
	if (img_manifest_parse(b, n, m, NULL, 0) == 0) {
		rc = keep_add(k, m->config);
		for (size_t i = 0; rc == 0 && i < m->n; i++)
			rc = keep_add(k, m->layers[i].digest);
	}
	free(m);
	free(b);
	return rc;
}

static void sweep(struct img_store *st, const char *kind, const struct keepset *k, uint64_t *freed)
{
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s/%s/sha256", st->dir, kind);
	DIR *dir = opendir(d);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || keep_has(k, e->d_name))
			continue;
		char p[PATH_MAX + 300];
		snprintf(p, sizeof p, "%s/%s", d, e->d_name);
		if (img_rmtree(p, freed) < 0)
			log_warn("image", "gc: cannot remove %s: %s", p, strerror(errno));
	}
	closedir(dir);
}

/* Removes refs/ entries whose manifest is gone. */
static void sweep_refs(struct img_store *st)
{
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s/refs", st->dir);
	DIR *dir = opendir(d);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		char p[PATH_MAX + 600], b[IMG_DIGEST_MAX + 2] = {0}, bp[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", d, e->d_name);
		FILE *f = fopen(p, "re");
		if (!f)
			continue;
		size_t n = fread(b, 1, sizeof b - 1, f);
		fclose(f);
		while (n && b[n - 1] == '\n')
			b[--n] = 0;
		if (img_path(st, bp, sizeof bp, "blobs", b) < 0 || !img_exists(bp, 0))
			unlink(p);
	}
	closedir(dir);
}

int img_gc_locked(struct img_store *st, const char *keep, uint64_t *freed)
{
	struct keepset k = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < st->n_holds; i++)
		rc = keep_image(st, &k, st->holds[i].digest);
	if (rc == 0 && keep)
		rc = keep_image(st, &k, keep);
	if (rc == 0) {
		uint64_t f = 0;
		sweep(st, "layers", &k, &f);
		sweep(st, "blobs", &k, &f);
		sweep_refs(st);
		if (freed)
			*freed = f;
		if (f)
			log_info("image", "gc freed %" PRIu64 " bytes", f);
	}
	free(k.d);
	return rc;
}

int img_gc(struct img_store *st, uint64_t *freed)
{
	if (freed)
		*freed = 0;
	pthread_mutex_lock(&st->lock);
	/* A running pull owns blobs no hold names yet: collect later. */
	int rc = st->active ? -EBUSY : img_gc_locked(st, NULL, freed);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static __thread uint64_t du_bytes;
static int du_one(const char *p, const struct stat *s, int flag, struct FTW *ftw)
{
	(void)p, (void)flag, (void)ftw;
	du_bytes += (uint64_t)s->st_blocks * 512;
	return 0;
}

uint64_t img_usage_locked(struct img_store *st)
{
	du_bytes = 0;
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/blobs", st->dir);
	nftw(p, du_one, 32, FTW_PHYS | FTW_MOUNT);
	snprintf(p, sizeof p, "%s/layers", st->dir);
	nftw(p, du_one, 32, FTW_PHYS | FTW_MOUNT);
	return du_bytes;
}

int img_store_usage(struct img_store *st, uint64_t *bytes)
{
	pthread_mutex_lock(&st->lock);
	*bytes = img_usage_locked(st);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

int img_store_avail(struct img_store *st, uint64_t *bytes)
{
	struct statvfs v;
	if (statvfs(st->dir, &v) < 0)
		return -errno;
	uint64_t fs = (uint64_t)v.f_bavail * v.f_frsize;
	if (st->max_bytes) {
		pthread_mutex_lock(&st->lock);
		uint64_t used = img_usage_locked(st);
		pthread_mutex_unlock(&st->lock);
		uint64_t cap = used < st->max_bytes ? st->max_bytes - used : 0;
		if (cap < fs)
			fs = cap;
	}
	*bytes = fs;
	return 0;
}

/* ---- open / close ---- */

int img_creds_load(struct img_store *st, const char *path); /* creds.c */

static const char *node_arch(void)
{
	struct utsname u;
	if (uname(&u) < 0)
		return "amd64";
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	if (!strncmp(u.machine, "armv7", 5))
		return "arm";
	if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i386"))
		return "386";
	return "amd64";
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

int img_store_open(const struct img_config *cfg, struct img_store **out)
{
	*out = NULL;
	if (!cfg || !cfg->dir || !*cfg->dir)
		return ZE_CONFIG;
	if (sodium_init() < 0)
		return -EIO;
	if (mkdir(cfg->dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	struct img_store *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	int rc = clk_cond_init(&st->cond);
	if (rc < 0) {
		free(st);
		return rc;
	}
	pthread_mutex_init(&st->lock, NULL);
	/* realpath: unpacking refuses symlinks anywhere in a target path, so
	 * the store's own path must have none. */
	st->dir = realpath(cfg->dir, NULL);
	st->allow = dup_opt(cfg->allow);
	st->deny = dup_opt(cfg->deny);
	st->insecure = dup_opt(cfg->insecure);
	if (!st->dir || (cfg->allow && !st->allow) || (cfg->deny && !st->deny) ||
	    (cfg->insecure && !st->insecure)) {
		rc = st->dir ? -ENOMEM : -errno;
		goto fail;
	}
	st->max_bytes = cfg->max_bytes;
	st->max_image_bytes = cfg->max_image_bytes ? cfg->max_image_bytes : cfg->max_bytes;
	snprintf(st->arch, sizeof st->arch, "%s", cfg->arch ? cfg->arch : node_arch());
	st->retries = cfg->retries ? cfg->retries : 4;
	st->timeout_s = cfg->timeout_s ? cfg->timeout_s : 30;
	static const char *const subs[] = {"blobs", "blobs/sha256", "layers", "layers/sha256",
	                                   "refs",  "tmp",          NULL};
	if ((rc = mkdirs(st->dir, subs)) < 0)
		goto fail;
	/* Whatever an interrupted pull left in tmp/ is unverified: drop it. */
	char t[PATH_MAX];
	snprintf(t, sizeof t, "%s/tmp", st->dir);
	DIR *d = opendir(t);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
				continue;
			char p[PATH_MAX + 300];
			snprintf(p, sizeof p, "%s/%s", t, e->d_name);
			img_rmtree(p, NULL);
		}
		closedir(d);
	}
	if ((rc = holds_load(st)) < 0)
		goto fail;
	if (cfg->credentials_file && (rc = img_creds_load(st, cfg->credentials_file)) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	img_store_close(st);
	return rc;
}

void img_store_close(struct img_store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_creds; i++) {
		struct img_cred *c = &st->creds[i];
		char *v[] = {c->user, c->password, c->token};
		for (int j = 0; j < 3; j++)
			if (v[j]) {
				sodium_memzero(v[j], strlen(v[j]));
				free(v[j]);
			}
	}
	free(st->creds);
	free(st->holds);
	free(st->dir);
	free(st->allow);
	free(st->deny);
	free(st->insecure);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
	free(st);
}
