/*
 * Container images by reference: pulled over the OCI Distribution API into a
 * content-addressed store shared by every deployment on the node.
 *
 * A reference is HOST[:PORT]/REPO[:TAG] or HOST[:PORT]/REPO@sha256:HEX (a tag
 * may precede the digest; the digest wins). The registry host is mandatory:
 * short Docker-style names ("busybox", "library/busybox") are REJECTED, not
 * normalised, because a node has no implicit default registry and the policy
 * must see the real host. A first component counts as a host when it contains
 * '.' or ':' or is "localhost". A missing tag means "latest".
 *
 * Store layout under cfg->dir (docs/images.md):
 *
 *   blobs/sha256/<hex>          verified manifests and image configs
 *   layers/sha256/<hex>/        one unpacked layer per compressed layer digest,
 *                               whiteouts in overlayfs form (see below); the
 *                               compressed layer itself is never stored: it
 *                               streams from the registry into the unpacker
 *   refs/<hex of reference>     text: the manifest digest a reference resolved to
 *   holds                       text lines "<holder> <manifest digest>"
 *   tmp/                        downloads and unpacks in progress; wiped at open
 *
 * Nothing in blobs/ or layers/ is ever partially written: each is produced in
 * tmp/, synced, and renamed into place only after its digest matched, so
 * after kill -9 during a pull the store holds only complete, verified
 * objects (img_store_open removes tmp/).
 *
 * Unpacking needs root (owners, whiteout devices, trusted.* xattrs): the
 * agent's capabilities CAP_CHOWN, CAP_MKNOD, CAP_SYS_ADMIN and friends.
 *
 * Whiteouts are translated to overlayfs form while unpacking: ".wh.NAME"
 * becomes a character device 0/0 named NAME, and ".wh..wh..opq" sets the
 * xattr trusted.overlay.opaque="y" on its directory. The unpacked layers are
 * therefore meant to be stacked as overlayfs lower directories (mounted by
 * root in the initial user namespace, which is what trusted.* needs), the
 * last element of img_image.layers being the topmost lowerdir.
 *
 * Thread safety: a store is safe to use from several threads. Concurrent
 * pulls of one image share one download (single flight): the later callers
 * wait for the first and then see the stored result.
 */
#ifndef ZOS_IMAGE_IMAGE_H
#define ZOS_IMAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMG_DIGEST_MAX 72 /* "sha256:" + 64 hex + NUL, rounded */
#define IMG_HOST_MAX 256
#define IMG_REPO_MAX 256
#define IMG_TAG_MAX 129
#define IMG_REF_MAX 700 /* longest reference string accepted */

struct img_config {
	const char *dir;          /* store root (created if missing); required */
	uint64_t max_bytes;       /* size cap of the whole store; 0 = no cap */
	uint64_t max_image_bytes; /* cap of one image (sum of blob sizes); 0 = max_bytes */
	/* Registry lists: hosts ("host" or "host:port") separated by commas or
	 * spaces; "*" matches every registry. A registry is allowed when it is
	 * not in deny and (allow is NULL/empty or it is in allow). */
	const char *allow;
	const char *deny;
	/* Registries spoken to over plain HTTP (same syntax). Every other
	 * registry is HTTPS with certificate verification. */
	const char *insecure;
	/* Optional file (must not be readable by group/other) with one line per
	 * registry: "HOST[:PORT] basic USER PASSWORD" or "HOST[:PORT] token TOKEN".
	 * '#' starts a comment line. Its contents are never logged. NULL = none. */
	const char *credentials_file;
	/* Architecture for image indexes ("amd64", "arm64", ...); NULL = the
	 * node's, from uname(2). The OS is always "linux". */
	const char *arch;
	unsigned retries;   /* attempts per request when the registry is down; 0 = 4 */
	unsigned timeout_s; /* connect + stall timeout per request; 0 = 30 */
};

struct img_store;

/* Parsed reference; all fields NUL-terminated strings. */
struct img_ref {
	char host[IMG_HOST_MAX];     /* "registry.example.com:5000" */
	char repo[IMG_REPO_MAX];     /* "team/app" */
	char tag[IMG_TAG_MAX];       /* "latest" when none was given */
	char digest[IMG_DIGEST_MAX]; /* "sha256:<64 hex>" or "" */
};

/* Parses s into *out. -EINVAL with a reason in err (short names, bad
 * characters, bad digest, too long). */
int img_ref_parse(const char *s, struct img_ref *out, char *err, size_t errsz);

/* Copies cfg (the strings too), creates the layout, removes tmp/ leftovers
 * of an interrupted pull and loads the holds. *out is freed with
 * img_store_close. ZE_CONFIG with a reason logged when the credentials file
 * is unreadable or too open. */
int img_store_open(const struct img_config *cfg, struct img_store **out);
void img_store_close(struct img_store *st);

/* Admission, no network: the reference parses and its registry is allowed
 * by policy. 0, -EINVAL (bad reference) or -EACCES (policy), reason in err. */
int img_policy_check(struct img_store *st, const char *ref, char *err, size_t errsz);

/* Network, no store writes: resolves ref to its manifest for this node's
 * platform and returns the manifest digest (digest may be NULL) and the
 * image's total size in bytes (config + compressed layers, from the
 * manifest) so the caller can compare it with free storage. When the image
 * is already in the store, answers from the store without the network. */
int img_resolve(struct img_store *st, const char *ref, char digest[IMG_DIGEST_MAX], uint64_t *size,
                char *err, size_t errsz);

/* Progress callback: bytes of blobs downloaded so far and the image total
 * (both count blobs already in the store as done). Called from the pulling
 * threads (layers are fetched in parallel) but never concurrently, at most a
 * few times a second and once at the end. Return nonzero
 * to cancel the pull (img_pull then fails with -ECANCELED; a waiter of a
 * shared pull cancels only its own wait). */
typedef int (*img_progress_fn)(void *arg, uint64_t done, uint64_t total);

/* VM disk images as registry artifacts: a manifest whose only layer has
 * one of these media types carries a whole bootable disk (the layer blob is
 * the disk, uncompressed). Such a layer is stored as the file
 * layers/sha256/<hex>/disk.raw or disk.qcow2 instead of being unpacked. */
#define IMG_MT_DISK_RAW "application/vnd.zos.vm.disk.raw"
#define IMG_MT_DISK_QCOW2 "application/vnd.zos.vm.disk.qcow2"
enum { IMG_DISK_NONE = 0, IMG_DISK_RAW = 1, IMG_DISK_QCOW2 = 2 };

/* An image ready to run. Every pointer is owned by the struct, which
 * img_image_free releases. String arrays are NULL-terminated. */
struct img_image {
	char digest[IMG_DIGEST_MAX];        /* manifest digest */
	char config_digest[IMG_DIGEST_MAX]; /* image config digest */
	uint64_t size;                      /* config + compressed layers */
	size_t n_layers;
	char **layers; /* absolute paths of unpacked layer dirs, lowest first;
	                 also NULL-terminated */
	/* From the image config ("config" object); each NULL when the image
	 * sets none (an empty array in the image gives a lone NULL). */
	char **entrypoint;
	char **cmd;
	char **env; /* "KEY=VALUE" */
	char *workdir;
	char *user;
	/* A disk image artifact (see IMG_MT_DISK_RAW): the stored disk file
	 * (inside layers[0]) and IMG_DISK_RAW or IMG_DISK_QCOW2; NULL and
	 * IMG_DISK_NONE for a filesystem image. The file is the store's: read
	 * it, never write it. */
	char *disk;
	int disk_format;
};
void img_image_free(struct img_image *img);

/* Pulls ref into the store (idempotent: an image already complete in the
 * store costs one manifest request for a tag, none for a digest) and
 * returns it in *out (caller frees with img_image_free). progress may be
 * NULL. Errors (reason in err, never containing credentials):
 *   -EINVAL       bad reference          -EACCES   policy, or auth refused
 *   -ENOENT       no such image/tag/platform in the registry
 *   ZE_CRYPTO     a blob's digest does not match (the blob is deleted)
 *   ZE_TOOBIG     image over max_image_bytes, or store over max_bytes after GC
 *   ZE_UNKNOWN    registry unreachable after the retries
 *   ZE_MALFORMED  manifest/config/layer not understood, or a layer entry
 *                 escapes its root (.., absolute paths, device nodes)
 *   -ECANCELED    progress returned nonzero */
int img_pull(struct img_store *st, const char *ref, img_progress_fn progress, void *arg,
             struct img_image **out, char *err, size_t errsz);

/* img_pull, then img_hold(digest, holder) before any GC can run: what a
 * deployment uses (no window in which a concurrent img_gc could collect the
 * image between the pull and the hold). holder as for img_hold. */
int img_pull_hold(struct img_store *st, const char *ref, const char *holder,
                  img_progress_fn progress, void *arg, struct img_image **out, char *err,
                  size_t errsz);

/* No network: the image ref (or a bare "sha256:..." manifest digest) as it
 * is in the store, for adoption after an agent restart. -ENOENT when it is
 * not completely there. *out freed with img_image_free. */
int img_get(struct img_store *st, const char *ref, struct img_image **out, char *err, size_t errsz);

/* Holds keep an image from GC. holder names the user, e.g. "<contract>/<name>"
 * (at most 128 bytes, no whitespace); one holder holds at most one image (a
 * new hold replaces its old one). Persisted in the store (survive restart).
 * img_release of an unknown holder succeeds. */
int img_hold(struct img_store *st, const char *digest, const char *holder);
int img_release(struct img_store *st, const char *holder);

/* Deletes every image no holder holds and every blob and layer no remaining
 * image uses. *freed (may be NULL) gets the bytes released. Never removes
 * what a pull in progress is using. */
int img_gc(struct img_store *st, uint64_t *freed);

/* Bytes the store currently uses (blobs + unpacked layers, approximate;
 * walks the store, so not for hot paths). */
int img_store_usage(struct img_store *st, uint64_t *bytes);

/* Bytes a new image may still take: free space of the store's filesystem,
 * and at most max_bytes minus the current usage when a cap is set. */
int img_store_avail(struct img_store *st, uint64_t *bytes);

#endif
