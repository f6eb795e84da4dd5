/*
 * zmount {size}: a sparse raw disk image of size bytes under
 * <storage>/zmounts/<host>.img. Updates may only grow it. When a zmachine
 * mounts it, the zmachine formats it ext4 on first use. A new disk is
 * created in place and sized, without an fsync (zmount_create says why);
 * the directory is created on first use.
 */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const zmount_keys[] = {"size", NULL};

static int zmount_parse(const cJSON *data, uint64_t *size, char *err, size_t errsz)
{
	int rc = prov_json_keys(data, zmount_keys, err, errsz);
	if (rc < 0)
		return rc;
	return prov_json_u64(data, "size", PROV_DISK_MIN, PROV_DISK_MAX, size, err, errsz);
}

static int zmount_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	uint64_t size;
	int rc = zmount_parse(data, &size, err, errsz);
	if (rc < 0)
		return rc;
	memset(cap, 0, sizeof *cap);
	cap->sru = size;
	return 0;
}

static int zmount_path(struct prov_ctx *ctx, const struct prov_workload_id *id, char *host,
                       char *path, size_t pathsz)
{
	int rc = prov_host_name(id, host);
	if (rc < 0)
		return rc;
	return prov_fmt(path, pathsz, "%s/zmounts/%s.img", ctx->storage_dir, host);
}

static cJSON *zmount_result(const char *host, const char *path, uint64_t size)
{
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddStringToObject(r, "volume_id", host) ||
	    !cJSON_AddStringToObject(r, "path", path) ||
	    !cJSON_AddNumberToObject(r, "size", (double)size)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

/*
 * A new disk is created under its name (O_EXCL: never over one that is
 * there) and then sized, without an fsync. A crash between the two, or a
 * power cut before the file system wrote the size, leaves an empty file:
 * inspect reports an empty image absent, and provision (the engine's
 * restore) sizes it, with a sync, like any disk that grows. Created in
 * place, a disk costs one directory operation; made unnamed (O_TMPFILE) and
 * linked afterwards it cost two, both also on ext4's orphan list, and a
 * twentieth of the agent's CPU per deploy (docs/performance.md, "Deploy
 * engine"). *fdp gets the new file; -EEXIST when the disk is there already.
 */
static int zmount_create(const char *dir, const char *path, uint64_t size, int *fdp, char *err,
                         size_t errsz)
{
	int rc, fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* The directory is made on first use (or after someone removed
		 * it), not checked on every provision. */
		if ((rc = prov_mkdirs(dir, 0700)) < 0)
			return prov_err(err, errsz, rc, "cannot create %s: %s", dir, zerr_str(rc));
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0)
		return errno == EEXIST ? -EEXIST
		                       : prov_err(err, errsz, -errno, "cannot create %s: %s", path,
		                                  strerror(errno));
	/* ftruncate makes the image sparse: blocks are allocated on write. */
	if (ftruncate(fd, (off_t)size) < 0) {
		rc = prov_err(err, errsz, -errno, "cannot size %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return rc;
	}
	*fdp = fd;
	return 0;
}

static int zmount_provision(struct prov_ctx *ctx, const struct prov_workload_id *id,
                            const cJSON *data, const struct prov_deployment_view *deps,
                            cJSON **result, char *err, size_t errsz)
{
	uint64_t size;
	int rc = zmount_parse(data, &size, err, errsz);
	if (rc < 0)
		return rc;
	char host[PROV_HOST_MAX], path[PROV_PATH_MAX], dir[PROV_PATH_MAX];
	if ((rc = zmount_path(ctx, id, host, path, sizeof path)) < 0 ||
	    (rc = prov_fmt(dir, sizeof dir, "%s/zmounts", ctx->storage_dir)) < 0)
		return prov_err(err, errsz, rc, "bad workload id: %s", zerr_str(rc));

	/* Creation first: a deploy makes a new disk, only a restore or an
	 * update finds one there (then the link fails with EEXIST). */
	int created = 0, fd = -1;
	rc = zmount_create(dir, path, size, &fd, err, errsz);
	if (rc == -EEXIST)
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	else if (rc < 0)
		return rc;
	else
		created = 1;
	rc = 0;
	if (fd < 0)
		return prov_err(err, errsz, -errno, "cannot open %s: %s", path, strerror(errno));
	uint64_t cur = size; /* what a disk just created has */
	if (!created) {
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			rc = prov_err(err, errsz, -EEXIST, "%s exists and is not a disk image", path);
			goto out;
		}
		if ((cur = (uint64_t)st.st_size) > size) {
			rc = prov_err(err, errsz, ZE_STATE,
			              "zmount can only grow: has %" PRIu64 " bytes, asked %" PRIu64,
			              cur, size);
			goto out;
		}
	}
	/* Growing a disk that may hold data is synced: its new size must not
	 * be lost once the workload reports it. */
	if (cur != size && (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0)) {
		rc = prov_err(err, errsz, -errno, "cannot size %s: %s", path, strerror(errno));
		goto out;
	}
	if (!(*result = zmount_result(host, path, size)))
		rc = prov_err(err, errsz, -ENOMEM, "out of memory");
out:
	close(fd);
	if (rc < 0 && created)
		unlink(path);
	return rc;
}

static int zmount_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                              size_t errsz)
{
	char host[PROV_HOST_MAX], path[PROV_PATH_MAX];
	int rc = zmount_path(ctx, id, host, path, sizeof path);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	/* A container that had it mounted holds a loop device; release it. */
	if (access(path, F_OK) == 0)
		prov_loop_detach_file(path);
	if (unlink(path) < 0 && errno != ENOENT)
		return prov_err(err, errsz, -errno, "cannot remove %s: %s", path, strerror(errno));
	char tmp[PROV_PATH_MAX];
	if (prov_fmt(tmp, sizeof tmp, "%s.new", path) == 0)
		unlink(tmp); /* left by an earlier version's interrupted creation */
	return 0;
}

static int zmount_exists(struct prov_ctx *ctx, const struct prov_workload_id *id, struct stat *st,
                         char *err, size_t errsz)
{
	char host[PROV_HOST_MAX], path[PROV_PATH_MAX];
	int rc = zmount_path(ctx, id, host, path, sizeof path);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (lstat(path, st) < 0)
		return errno == ENOENT
		           ? 0
		           : prov_err(err, errsz, -errno, "%s: %s", path, strerror(errno));
	return S_ISREG(st->st_mode) ? 1 : 0;
}

/* A disk has nothing running: pausing means nothing, but the disk must exist. */
static int zmount_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                        size_t errsz)
{
	struct stat st;
	int rc = zmount_exists(ctx, id, &st, err, errsz);
	if (rc < 0)
		return rc;
	return rc ? 0 : prov_err(err, errsz, -ENOENT, "zmount %s is not provisioned", id->name);
}

static int zmount_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id,
                          enum prov_health *h, char *err, size_t errsz)
{
	struct stat st;
	int rc = zmount_exists(ctx, id, &st, err, errsz);
	if (rc < 0)
		return rc;
	/* An empty file is a creation whose size a power cut lost (a file
	 * system without a journal may keep the name alone): made again, i.e.
	 * sized, by provision. No zmount is ever 0 bytes. */
	*h = rc && st.st_size > 0 ? PROV_OK : PROV_ABSENT;
	return 0;
}

static int zmount_usage(struct prov_ctx *ctx, const struct prov_workload_id *id,
                        struct prov_usage *u, char *err, size_t errsz)
{
	struct stat st;
	int rc = zmount_exists(ctx, id, &st, err, errsz);
	if (rc < 0)
		return rc;
	if (!rc)
		return prov_err(err, errsz, -ENOENT, "zmount %s is not provisioned", id->name);
	memset(u, 0, sizeof *u);
	u->disk_bytes = (uint64_t)st.st_blocks * 512;
	return 0;
}

const struct prov_ops prov_zmount_ops = {
    .type = "zmount",
    .validate = zmount_validate,
    .provision = zmount_provision,
    .deprovision = zmount_deprovision,
    .pause = zmount_pause,
    .resume = zmount_pause,
    .inspect = zmount_inspect,
    .usage = zmount_usage,
};
