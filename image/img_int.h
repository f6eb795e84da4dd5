/* Internals shared by the image module's files; not part of its API. */
#ifndef ZOS_IMAGE_IMG_INT_H
#define ZOS_IMAGE_IMG_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "image/image.h"

#define IMG_MANIFEST_MAX (4u << 20) /* bytes of one manifest, index or config */
#define IMG_LAYERS_MAX 128          /* layers in one image */

struct img_cred {
	char host[IMG_HOST_MAX];
	char *user;     /* basic */
	char *password; /* basic */
	char *token;    /* bearer token given as is */
};

/* One pull in progress, keyed by the canonical reference. */
struct img_flight {
	struct img_flight *next;
	char key[IMG_REF_MAX];
	int done;
	int rc;
	char err[256];
	unsigned waiters;
};

struct img_hold_ent {
	char holder[129];
	char digest[IMG_DIGEST_MAX];
};

struct img_store {
	char *dir; /* realpath of the store root */
	uint64_t max_bytes;
	uint64_t max_image_bytes;
	char *allow, *deny, *insecure;
	char arch[32];
	unsigned retries;
	unsigned timeout_s;
	struct img_cred *creds;
	size_t n_creds;

	pthread_mutex_t lock; /* everything below, and the holds file */
	pthread_cond_t cond;
	struct img_flight *flights;
	unsigned active; /* pulls running */
	struct img_hold_ent *holds;
	size_t n_holds;
};

/* A parsed platform manifest. */
struct img_manifest {
	char config[IMG_DIGEST_MAX];
	uint64_t config_size;
	size_t n;
	struct {
		char digest[IMG_DIGEST_MAX];
		uint64_t size;
		int disk; /* IMG_DISK_NONE (a tar layer), IMG_DISK_RAW or IMG_DISK_QCOW2 */
	} layers[IMG_LAYERS_MAX];
};

/* ref.c */
int img_list_match(const char *list, const char *host);
/* "host/repo:tag" or "host/repo@digest" into out. */
int img_ref_canonical(const struct img_ref *r, char *out, size_t outsz);
int img_digest_valid(const char *d);

/* store.c */
int img_path(const struct img_store *st, char *out, size_t outsz, const char *kind,
             const char *digest);
int img_exists(const char *path, int want_dir);
int img_write_atomic(struct img_store *st, const char *path, const void *p, size_t n);
int img_read_blob(struct img_store *st, const char *digest, size_t max, char **out, size_t *len);
int img_ref_lookup(struct img_store *st, const char *canon, char digest[IMG_DIGEST_MAX]);
int img_ref_store(struct img_store *st, const char *canon, const char *digest);
int img_rmtree(const char *path, uint64_t *freed);
int img_tmpdir(struct img_store *st, const char *prefix, char *out, size_t outsz);
int img_gc_locked(struct img_store *st, const char *keep, uint64_t *freed);
uint64_t img_usage_locked(struct img_store *st);

/* manifest.c */
int img_manifest_parse(const char *json, size_t len, struct img_manifest *m, char *err,
                       size_t errsz);
/* From an index, the manifest digest for linux/arch: 0, -ENOENT, ZE_MALFORMED. */
int img_index_pick(const char *json, size_t len, const char *arch, char digest[IMG_DIGEST_MAX],
                   char *err, size_t errsz);
/* 1 index, 0 manifest, ZE_MALFORMED otherwise. */
int img_manifest_kind(const char *json, size_t len, const char *ctype);
/* The file name a disk layer is stored under: "disk.raw" or "disk.qcow2". */
const char *img_disk_name(int disk);
int img_image_build(struct img_store *st, const char *digest, struct img_image **out, char *err,
                    size_t errsz);

/* sha.c: streaming SHA-256 (opaque context). */
struct img_sha;
int img_sha_new(struct img_sha **out);
int img_sha_reset(struct img_sha *s);
void img_sha_update(struct img_sha *s, const void *p, size_t n);
void img_sha_hex(struct img_sha *s, char hex[65]); /* finishes */
void img_sha_free(struct img_sha *s);
/* "sha256:<hex>" of n bytes at p ("" when out of memory). */
void img_sha256_digest(const void *p, size_t n, char out[IMG_DIGEST_MAX]);

/* registry.c: one connection context per pull. */
struct img_reg;
int img_reg_new(struct img_store *st, const struct img_ref *ref, struct img_reg **out);
void img_reg_free(struct img_reg *r);
/* Another connection to the same registry with the same authorization. */
int img_reg_dup(const struct img_reg *src, struct img_reg **out);
/* GET a manifest by tag or digest into a new buffer (caller frees). */
int img_reg_manifest(struct img_reg *r, const char *tag_or_digest, char **body, size_t *len,
                     char *ctype, size_t ctsz, char *err, size_t errsz);
typedef int (*img_reg_tick_fn)(void *arg, uint64_t n);
/* Streams blob digest (size bytes) into fd while hashing; ZE_CRYPTO on mismatch. */
int img_reg_blob(struct img_reg *r, const char *digest, uint64_t size, int fd, img_reg_tick_fn tick,
                 void *arg, char *err, size_t errsz);

/* unpack.c: a verified layer blob into an empty directory. */
int img_unpack(const char *blob, const char *dir, char *err, size_t errsz);
/* The same from a stream (a pipe the download writes), read to its end.
 * Must run in a thread of its own: it unshares and changes that thread's
 * working directory (img_unpack starts one itself). */
int img_unpack_fd(int fd, const char *dir, char *err, size_t errsz);

int img_errf(char *err, size_t errsz, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* pull.c / layers.c: one pull in progress. */
/* A flight (single-flight pull) with its progress counters. */
struct img_pflight {
	struct img_flight f;
	unsigned refs;
	uint64_t done, total;
};

struct img_pull {
	struct img_store *st;
	struct img_pflight *fl;
	img_progress_fn progress;
	void *arg;
	pthread_mutex_t cb_mu; /* the callback, last_ms */
	uint64_t last_ms;
	volatile int failed; /* a layer failed: the others stop early */
};

/* Counts n more bytes done (n wraps to subtract on a retried download) and
 * reports progress; nonzero: stop (cancelled, or another layer failed). */
int img_pull_tick(void *arg, uint64_t n);
/* Fetches and unpacks the layers of m that the store lacks, and renames
 * them into layers/. */
int img_store_layers(struct img_pull *p, struct img_reg *reg, const struct img_manifest *m,
                     char *err, size_t errsz);

#endif
