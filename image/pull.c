/*
 * img_pull, img_resolve and img_get: references to complete images in the
 * store. Pulls of one reference are single flight; blobs are downloaded to
 * tmp/, verified, and only then unpacked and renamed into the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"
#include "image/img_int.h"

static int report(struct img_pull *p, int force)
{
	if (!p->progress)
		return p->failed;
	/* Layers download in parallel: one caller of the callback at a time. */
	pthread_mutex_lock(&p->cb_mu);
	uint64_t t = clk_mono_ms();
	int stop = 0;
	if (force || t - p->last_ms >= 200) {
		p->last_ms = t;
		pthread_mutex_lock(&p->st->lock);
		uint64_t d = p->fl->done, tot = p->fl->total;
		pthread_mutex_unlock(&p->st->lock);
		stop = p->progress(p->arg, d, tot);
	}
	pthread_mutex_unlock(&p->cb_mu);
	return stop || p->failed;
}

int img_pull_tick(void *arg, uint64_t n)
{
	struct img_pull *p = arg;
	pthread_mutex_lock(&p->st->lock);
	p->fl->done += n; /* n wraps to subtract on a retried download */
	pthread_mutex_unlock(&p->st->lock);
	return report(p, 0);
}

static void sha256_hex(const void *b, size_t n, char out[IMG_DIGEST_MAX])
{
	img_sha256_digest(b, n, out);
}

/* Fetches the platform manifest of r: body, its digest. */
static int fetch_manifest(struct img_store *st, struct img_reg *reg, const struct img_ref *r,
                          char **body, size_t *len, char digest[IMG_DIGEST_MAX], char *err,
                          size_t errsz)
{
	char ctype[128];
	const char *want = r->digest[0] ? r->digest : r->tag;
	int rc = img_reg_manifest(reg, want, body, len, ctype, sizeof ctype, err, errsz);
	if (rc < 0)
		return rc;
	sha256_hex(*body, *len, digest);
	if (r->digest[0] && strcmp(digest, r->digest)) {
		free(*body);
		return img_errf(err, errsz, ZE_CRYPTO,
		                "digest mismatch: manifest %s from %s has digest %s", r->digest,
		                r->host, digest);
	}
	int kind = img_manifest_kind(*body, *len, ctype);
	if (kind == 0)
		return 0;
	if (kind < 0) {
		free(*body);
		return img_errf(err, errsz, ZE_MALFORMED,
		                "%s/%s:%s is neither an image manifest nor an image index (%.60s)",
		                r->host, r->repo, want, ctype);
	}
	char child[IMG_DIGEST_MAX];
	rc = img_index_pick(*body, *len, st->arch, child, err, errsz);
	free(*body);
	*body = NULL;
	if (rc < 0)
		return rc;
	if ((rc = img_reg_manifest(reg, child, body, len, ctype, sizeof ctype, err, errsz)) < 0)
		return rc;
	sha256_hex(*body, *len, digest);
	if (strcmp(digest, child)) {
		free(*body);
		return img_errf(err, errsz, ZE_CRYPTO,
		                "digest mismatch: manifest %s from %s has digest %s", child,
		                r->host, digest);
	}
	if (img_manifest_kind(*body, *len, ctype) != 0) {
		free(*body);
		return img_errf(err, errsz, ZE_MALFORMED, "the index entry %s is not a manifest",
		                child);
	}
	return 0;
}

/* Downloads a blob to a verified file; *tmp gets its path (in tmp/). */
static int download(struct img_pull *p, struct img_reg *reg, const char *digest, uint64_t size,
                    int durable, char *tmp, size_t tmpsz, char *err, size_t errsz)
{
	char d[PATH_MAX];
	int rc = img_tmpdir(p->st, "blob", d, sizeof d);
	if (rc < 0)
		return img_errf(err, errsz, rc,
		                "cannot make a temporary directory in the store: %s",
		                strerror(-rc));
	if ((size_t)snprintf(tmp, tmpsz, "%.4000s/data", d) >= tmpsz) {
		rmdir(d);
		return img_errf(err, errsz, -ENAMETOOLONG, "store path too long");
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		rmdir(d);
		return img_errf(err, errsz, rc, "cannot create %s: %s", tmp, strerror(-rc));
	}
	rc = img_reg_blob(reg, digest, size, fd, img_pull_tick, p, err, errsz);
	/* A layer blob lives only until it is unpacked (and the unpacked tree
	 * is synced), so only blobs the store keeps are synced here. */
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = img_errf(err, errsz, -errno, "fsync %s: %s", tmp, strerror(errno));
	close(fd);
	if (rc < 0) {
		/* A mismatching or partial blob is never kept. */
		unlink(tmp);
		rmdir(d);
	}
	return rc;
}

static void tmp_drop(const char *tmpfile)
{
	char d[PATH_MAX];
	snprintf(d, sizeof d, "%s", tmpfile);
	char *s = strrchr(d, '/');
	if (s)
		*s = 0;
	img_rmtree(d, NULL);
}

static int store_blob(struct img_pull *p, struct img_reg *reg, const char *digest, uint64_t size,
                      char *err, size_t errsz)
{
	char dst[PATH_MAX], tmp[PATH_MAX];
	int rc = img_path(p->st, dst, sizeof dst, "blobs", digest);
	if (rc < 0)
		return rc;
	if (img_exists(dst, 0)) {
		img_pull_tick(p, size);
		return 0;
	}
	if ((rc = download(p, reg, digest, size, 1, tmp, sizeof tmp, err, errsz)) < 0)
		return rc;
	/* Another process may have stored the same verified blob meanwhile. */
	if (rename(tmp, dst) < 0 && !img_exists(dst, 0))
		rc = img_errf(err, errsz, -errno, "storing %s: %s", digest, strerror(errno));
	tmp_drop(tmp);
	return rc;
}

static int do_pull(struct img_pull *p, const struct img_ref *r, const char *canon, char *err,
                   size_t errsz)
{
	struct img_store *st = p->st;
	char digest[IMG_DIGEST_MAX];
	struct img_image *have = NULL;
	/* A pinned digest already complete in the store needs no network. */
	if (r->digest[0] &&
	    (img_ref_lookup(st, canon, digest) == 0 || (memcpy(digest, r->digest, 72), 1)) &&
	    img_image_build(st, digest, &have, NULL, 0) == 0) {
		pthread_mutex_lock(&st->lock);
		p->fl->done = p->fl->total = have->size;
		pthread_mutex_unlock(&st->lock);
		img_image_free(have);
		return 0;
	}
	struct img_reg *reg;
	int rc = img_reg_new(st, r, &reg);
	if (rc < 0)
		return img_errf(err, errsz, rc, "out of memory");
	char *body = NULL;
	size_t len = 0;
	struct img_manifest *m = calloc(1, sizeof *m);
	if (!m) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = fetch_manifest(st, reg, r, &body, &len, digest, err, errsz)) < 0)
		goto out;
	if ((rc = img_manifest_parse(body, len, m, err, errsz)) < 0)
		goto out;
	uint64_t total = m->config_size;
	for (size_t i = 0; i < m->n; i++)
		total += m->layers[i].size;
	pthread_mutex_lock(&st->lock);
	p->fl->total = total;
	p->fl->done = 0;
	if (st->max_image_bytes && total > st->max_image_bytes) {
		pthread_mutex_unlock(&st->lock);
		rc = img_errf(err, errsz, ZE_TOOBIG,
		              "image %s is %" PRIu64 " bytes, over this node's limit of %" PRIu64,
		              canon, total, st->max_image_bytes);
		goto out;
	}
	if (st->max_bytes) {
		uint64_t used = img_usage_locked(st);
		if (used + total > st->max_bytes && st->active == 1) {
			img_gc_locked(st, digest, NULL);
			used = img_usage_locked(st);
		}
		if (used + total > st->max_bytes) {
			pthread_mutex_unlock(&st->lock);
			rc = img_errf(err, errsz, ZE_TOOBIG,
			              "the image store is full: %" PRIu64 " of %" PRIu64
			              " bytes used, image needs %" PRIu64,
			              used, st->max_bytes, total);
			goto out;
		}
	}
	pthread_mutex_unlock(&st->lock);
	report(p, 1);
	if ((rc = store_blob(p, reg, m->config, m->config_size, err, errsz)) < 0)
		goto out;
	if ((rc = img_store_layers(p, reg, m, err, errsz)) < 0)
		goto out;
	char path[PATH_MAX];
	if ((rc = img_path(st, path, sizeof path, "blobs", digest)) < 0 ||
	    (!img_exists(path, 0) && (rc = img_write_atomic(st, path, body, len)) < 0) ||
	    (rc = img_ref_store(st, canon, digest)) < 0) {
		img_errf(err, errsz, rc, "cannot write the manifest into the store: %s",
		         zerr_str(rc));
		goto out;
	}
	report(p, 1);
	log_info("image", "pulled %s (%s, %zu layers, %" PRIu64 " bytes)", canon, digest, m->n,
	         total);
out:
	free(m);
	free(body);
	img_reg_free(reg);
	return rc;
}

static void flight_put(struct img_store *st, struct img_pflight *f)
{
	if (--f->refs == 0)
		free(f);
	(void)st;
}

/* The stored image for a finished pull, held for holder (may be NULL). The
 * caller counts in st->active, so no GC runs between the pull and the hold. */
static int finish(struct img_store *st, const char *canon, const char *holder,
                  struct img_image **out, char *err, size_t errsz)
{
	int rc = img_get(st, canon, out, err, errsz);
	if (rc == 0 && holder && (rc = img_hold(st, (*out)->digest, holder)) < 0) {
		img_image_free(*out);
		*out = NULL;
		img_errf(err, errsz, rc, "cannot record the use of %s: %s", canon, zerr_str(rc));
	}
	return rc;
}

static void active_done(struct img_store *st)
{
	pthread_mutex_lock(&st->lock);
	st->active--;
	pthread_mutex_unlock(&st->lock);
}

int img_pull_hold(struct img_store *st, const char *ref, const char *holder,
                  img_progress_fn progress, void *arg, struct img_image **out, char *err,
                  size_t errsz)
{
	*out = NULL;
	struct img_ref r;
	char canon[IMG_REF_MAX];
	int rc = img_policy_check(st, ref, err, errsz);
	if (rc < 0)
		return rc;
	if ((rc = img_ref_parse(ref, &r, err, errsz)) < 0 ||
	    (rc = img_ref_canonical(&r, canon, sizeof canon)) < 0)
		return rc;
	pthread_mutex_lock(&st->lock);
	/* Counted as active until the result is held: GC waits. */
	st->active++;
	struct img_pflight *f = NULL;
	for (struct img_flight *i = st->flights; i; i = i->next)
		if (!strcmp(i->key, canon))
			f = (struct img_pflight *)i;
	if (f) {
		/* Someone is pulling this already: wait for its result. */
		f->refs++;
		while (!f->f.done) {
			struct timespec ts = clk_after(CLOCK_MONOTONIC, 200);
			pthread_cond_timedwait(&st->cond, &st->lock, &ts);
			if (!f->f.done && progress) {
				uint64_t d = f->done, t = f->total;
				pthread_mutex_unlock(&st->lock);
				int stop = progress(arg, d, t);
				pthread_mutex_lock(&st->lock);
				if (stop) {
					flight_put(st, f);
					st->active--;
					pthread_mutex_unlock(&st->lock);
					return img_errf(err, errsz, -ECANCELED, "pull cancelled");
				}
			}
		}
		rc = f->f.rc;
		if (rc < 0)
			img_errf(err, errsz, rc, "%s", f->f.err);
		flight_put(st, f);
		pthread_mutex_unlock(&st->lock);
		if (rc == 0)
			rc = finish(st, canon, holder, out, err, errsz);
		active_done(st);
		return rc;
	}
	f = calloc(1, sizeof *f);
	if (!f) {
		st->active--;
		pthread_mutex_unlock(&st->lock);
		return -ENOMEM;
	}
	snprintf(f->f.key, sizeof f->f.key, "%s", canon);
	f->refs = 1;
	f->f.next = st->flights;
	st->flights = &f->f;
	pthread_mutex_unlock(&st->lock);

	struct img_pull p = {.st = st, .fl = f, .progress = progress, .arg = arg};
	pthread_mutex_init(&p.cb_mu, NULL);
	char e[256] = "";
	rc = do_pull(&p, &r, canon, e, sizeof e);
	/* The last progress while the flight (its counters) still exists. */
	if (rc == 0 && progress)
		report(&p, 1);

	pthread_mutex_lock(&st->lock);
	for (struct img_flight **i = &st->flights; *i; i = &(*i)->next)
		if (*i == &f->f) {
			*i = f->f.next;
			break;
		}
	f->f.done = 1;
	f->f.rc = rc;
	snprintf(f->f.err, sizeof f->f.err, "%s", e);
	pthread_cond_broadcast(&st->cond);
	flight_put(st, f);
	pthread_mutex_unlock(&st->lock);
	if (rc < 0) {
		log_warn("image", "pull of %s failed: %s", canon, e);
		img_errf(err, errsz, rc, "%s", e);
	} else {
		rc = finish(st, canon, holder, out, err, errsz);
	}
	pthread_mutex_destroy(&p.cb_mu);
	active_done(st);
	return rc;
}

int img_pull(struct img_store *st, const char *ref, img_progress_fn progress, void *arg,
             struct img_image **out, char *err, size_t errsz)
{
	return img_pull_hold(st, ref, NULL, progress, arg, out, err, errsz);
}

int img_get(struct img_store *st, const char *ref, struct img_image **out, char *err, size_t errsz)
{
	*out = NULL;
	char digest[IMG_DIGEST_MAX];
	if (img_digest_valid(ref)) {
		memcpy(digest, ref, 72);
	} else {
		struct img_ref r;
		char canon[IMG_REF_MAX];
		int rc = img_ref_parse(ref, &r, err, errsz);
		if (rc < 0 || (rc = img_ref_canonical(&r, canon, sizeof canon)) < 0)
			return rc;
		if (img_ref_lookup(st, canon, digest) < 0) {
			if (!r.digest[0])
				return img_errf(err, errsz, -ENOENT, "image %s is not in the store",
				                ref);
			memcpy(digest, r.digest, 72);
		}
	}
	return img_image_build(st, digest, out, err, errsz);
}

int img_resolve(struct img_store *st, const char *ref, char digest[IMG_DIGEST_MAX], uint64_t *size,
                char *err, size_t errsz)
{
	struct img_image *img;
	char d[IMG_DIGEST_MAX];
	int rc = img_policy_check(st, ref, err, errsz);
	if (rc < 0)
		return rc;
	struct img_ref r;
	img_ref_parse(ref, &r, NULL, 0);
	if (r.digest[0] && img_get(st, ref, &img, NULL, 0) == 0) {
		if (digest)
			memcpy(digest, img->digest, 72);
		*size = img->size;
		img_image_free(img);
		return 0;
	}
	struct img_reg *reg;
	if ((rc = img_reg_new(st, &r, &reg)) < 0)
		return rc;
	char *body = NULL;
	size_t len;
	struct img_manifest *m = calloc(1, sizeof *m);
	if (!m)
		rc = -ENOMEM;
	if (rc == 0 && (rc = fetch_manifest(st, reg, &r, &body, &len, d, err, errsz)) == 0 &&
	    (rc = img_manifest_parse(body, len, m, err, errsz)) == 0) {
		*size = m->config_size;
		for (size_t i = 0; i < m->n; i++)
			*size += m->layers[i].size;
		if (digest)
			memcpy(digest, d, 72);
	}
	free(m);
	free(body);
	img_reg_free(reg);
	return rc;
}
