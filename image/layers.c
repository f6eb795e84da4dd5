/*
 * A pull's layers: fetched three at a time, each streamed from the download
 * (hashed on the way) through a pipe into an unpacking thread, so the
 * compressed blob never touches the disk and unpacking overlaps the
 * download. The trees grow in tmp/ and are renamed into layers/ together,
 * after one syncfs, only when every digest matched and every unpack
 * succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/zerr.h"
#include "image/img_int.h"

/* Layers fetched and unpacked at once: downloads overlap with unpacking. */
#define IMG_PULL_THREADS 3

struct layers_job {
	struct img_pull *p;
	struct img_reg *tmpl;
	const struct img_manifest *m;
	char (*tmp)[PATH_MAX]; /* per layer: its unpacked tree in tmp/, or "" */
	pthread_mutex_t mu;
	size_t next;
	int rc;
	char err[256];
};

struct unpacker {
	int fd;
	char dir[PATH_MAX];
	int rc;
	char err[256];
};

static void *unpack_main(void *arg)
{
	struct unpacker *u = arg;
	u->rc = img_unpack_fd(u->fd, u->dir, u->err, sizeof u->err);
	return NULL;
}

/*
 * One attempt at a layer: the download is hashed and fed through a pipe to
 * an unpacking thread, so the compressed blob never touches the disk and
 * unpacking overlaps the download. The tree grows in tmp/ and is renamed
 * into layers/ only when the digest matched and the unpack succeeded.
 */
/* A VM disk layer is not unpacked: the verified blob is the file
 * root/disk.raw (or disk.qcow2), readable only by root. */
static int disk_once(struct img_pull *p, struct img_reg *reg, const char *digest, uint64_t size,
                     int disk, char d[PATH_MAX], const char *root, char *err, size_t errsz)
{
	char f[PATH_MAX];
	snprintf(f, sizeof f, "%.4000s/%s", root, img_disk_name(disk));
	int fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc = fd < 0 ? img_errf(err, errsz, -errno, "creating %s: %s", f, strerror(errno))
	                : img_reg_blob(reg, digest, size, fd, img_pull_tick, p, err, errsz);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = img_errf(err, errsz, -errno, "writing %s: %s", f, strerror(errno));
	if (rc < 0) {
		img_rmtree(d, NULL);
		d[0] = 0;
	}
	return rc;
}

static int layer_once(struct img_pull *p, struct img_reg *reg, const char *digest, uint64_t size,
                      int disk, char d[PATH_MAX], char *err, size_t errsz)
{
	int rc = img_tmpdir(p->st, "layer", d, PATH_MAX);
	if (rc < 0)
		return img_errf(err, errsz, rc,
		                "cannot make a temporary directory in the store: %s",
		                strerror(-rc));
	struct unpacker u = {.fd = -1};
	snprintf(u.dir, sizeof u.dir, "%.4000s/root", d);
	if (disk) {
		if (mkdir(u.dir, 0700) < 0) {
			rc = img_errf(err, errsz, -errno, "preparing %s: %s", u.dir,
			              strerror(errno));
			img_rmtree(d, NULL);
			d[0] = 0;
			return rc;
		}
		return disk_once(p, reg, digest, size, disk, d, u.dir, err, errsz);
	}
	int fds[2];
	if (mkdir(u.dir, 0755) < 0 || pipe2(fds, O_CLOEXEC) < 0) {
		rc = img_errf(err, errsz, -errno, "preparing %s: %s", u.dir, strerror(errno));
		img_rmtree(d, NULL);
		return rc;
	}
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	u.fd = fds[0];
	pthread_t t;
	if (pthread_create(&t, NULL, unpack_main, &u) != 0) {
		close(fds[0]);
		close(fds[1]);
		img_rmtree(d, NULL);
		return img_errf(err, errsz, -EAGAIN, "cannot start an unpacking thread");
	}
	rc = img_reg_blob(reg, digest, size, fds[1], img_pull_tick, p, err, errsz);
	close(fds[1]);
	pthread_join(t, NULL);
	close(fds[0]);
	/* The digest decides first: an unverified stream's unpack errors are
	 * not the news. */
	if (rc == 0 && u.rc < 0)
		rc = img_errf(err, errsz, u.rc, "layer %s: %s", digest, u.err);
	if (rc < 0) {
		img_rmtree(d, NULL);
		d[0] = 0;
	}
	return rc; /* on success d/root is the unpacked, verified layer */
}

/* Fetches layer i into d (tmp/…, its root/ the tree); d stays "" when the
 * layer is already in the store. */
static int store_layer(struct img_pull *p, struct img_reg *reg, const char *digest, uint64_t size,
                       int disk, char d[PATH_MAX], char *err, size_t errsz)
{
	char dst[PATH_MAX];
	d[0] = 0;
	int rc = img_path(p->st, dst, sizeof dst, "layers", digest);
	if (rc < 0)
		return rc;
	if (img_exists(dst, 1)) {
		img_pull_tick(p, size);
		return 0;
	}
	/* A stream cannot be rewound: a transfer that breaks after data flowed
	 * (-ESPIPE from the retry, or the registry going away) starts the layer
	 * again, a bounded number of times. */
	for (unsigned attempt = 1;; attempt++) {
		rc = layer_once(p, reg, digest, size, disk, d, err, errsz);
		if (!(rc == -ESPIPE || rc == ZE_UNKNOWN) || attempt >= p->st->retries || p->failed)
			return rc;
		log_warn("image", "layer %s: %s; starting it again", digest, err);
	}
}

/* Makes the unpacked layers durable with one syncfs for the whole image
 * (per layer it would flush the filesystem once per layer), then renames
 * each into the store: the rename says "complete". */
static int commit_layers(struct img_pull *p, const struct img_manifest *m, char (*tmp)[PATH_MAX],
                         char *err, size_t errsz)
{
	int rc = 0, any = 0;
	for (size_t i = 0; i < m->n; i++)
		any |= tmp[i][0] != 0;
	if (!any)
		return 0;
	int fd = open(p->st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0)
		rc = img_errf(err, errsz, -errno, "syncing the image store: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < m->n; i++) {
		if (!tmp[i][0])
			continue;
		char dst[PATH_MAX], root[PATH_MAX + 8];
		snprintf(root, sizeof root, "%s/root", tmp[i]);
		if (rc == 0 &&
		    (rc = img_path(p->st, dst, sizeof dst, "layers", m->layers[i].digest)) == 0 &&
		    rename(root, dst) < 0 &&
		    !((errno == EEXIST || errno == ENOTEMPTY) && img_exists(dst, 1)))
			rc = img_errf(err, errsz, -errno, "storing layer %s: %s",
			              m->layers[i].digest, strerror(errno));
		img_rmtree(tmp[i], NULL);
		tmp[i][0] = 0;
	}
	return rc;
}

static void *layers_worker(void *arg)
{
	struct layers_job *j = arg;
	struct img_reg *reg = NULL;
	char e[256] = "";
	int rc = img_reg_dup(j->tmpl, &reg);
	while (rc == 0) {
		pthread_mutex_lock(&j->mu);
		size_t i = j->next < j->m->n && j->rc == 0 ? j->next++ : SIZE_MAX;
		pthread_mutex_unlock(&j->mu);
		if (i == SIZE_MAX)
			break;
		rc = store_layer(j->p, reg, j->m->layers[i].digest, j->m->layers[i].size,
		                 j->m->layers[i].disk, j->tmp[i], e, sizeof e);
	}
	img_reg_free(reg);
	if (rc < 0) {
		pthread_mutex_lock(&j->mu);
		/* The first real failure, not the cancellations it caused. */
		if (j->rc == 0 || (j->rc == -ECANCELED && rc != -ECANCELED && !j->p->fl->f.done)) {
			j->rc = rc;
			snprintf(j->err, sizeof j->err, "%s", e);
		}
		j->p->failed = 1;
		pthread_mutex_unlock(&j->mu);
	}
	return NULL;
}

int img_store_layers(struct img_pull *p, struct img_reg *reg, const struct img_manifest *m,
                     char *err, size_t errsz)
{
	char(*tmp)[PATH_MAX] = calloc(m->n, sizeof *tmp);
	if (!tmp)
		return img_errf(err, errsz, -ENOMEM, "out of memory");
	struct layers_job j = {.p = p, .tmpl = reg, .m = m, .tmp = tmp};
	pthread_mutex_init(&j.mu, NULL);
	pthread_t t[IMG_PULL_THREADS];
	size_t n = m->n < IMG_PULL_THREADS ? m->n : IMG_PULL_THREADS, started = 0;
	for (size_t i = 1; i < n; i++, started++)
		if (pthread_create(&t[i], NULL, layers_worker, &j) != 0)
			break;
	layers_worker(&j);
	for (size_t i = 1; i <= started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&j.mu);
	int rc = j.rc < 0 ? img_errf(err, errsz, j.rc, "%s", j.err) : 0;
	if (rc == 0)
		rc = commit_layers(p, m, tmp, err, errsz);
	for (size_t i = 0; i < m->n; i++)
		if (tmp[i][0])
			img_rmtree(tmp[i], NULL);
	free(tmp);
	return rc;
}
