/*
 * volume {size}: a filesystem whose size the kernel enforces: an ext4 image
 * <storage>/volumes/<host>.img (fully allocated) on an autoclear loop device, mounted at
 * <storage>/volumes/<host>/. Containers bind-mount that directory.
 *
 * Without loop devices the volume is refused, unless the configuration
 * allows unenforced volumes: then it is a plain directory and the result
 * says "enforced": false.
 */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const char *const volume_keys[] = {"size", NULL};

struct vol_paths {
	char host[PROV_HOST_MAX];
	char img[PROV_PATH_MAX];
	char mnt[PROV_PATH_MAX];
	char dir[PROV_PATH_MAX];
};

static int volume_parse(const cJSON *data, uint64_t *size, char *err, size_t errsz)
{
	int rc = prov_json_keys(data, volume_keys, err, errsz);
	if (rc < 0)
		return rc;
	return prov_json_u64(data, "size", PROV_VOLUME_MIN, PROV_DISK_MAX, size, err, errsz);
}

static int volume_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	uint64_t size;
	int rc = volume_parse(data, &size, err, errsz);
	if (rc < 0)
		return rc;
	memset(cap, 0, sizeof *cap);
	cap->sru = size;
	return 0;
}

static int vol_paths(struct prov_ctx *ctx, const struct prov_workload_id *id, struct vol_paths *p)
{
	int rc;
	if ((rc = prov_host_name(id, p->host)) < 0 ||
	    (rc = prov_fmt(p->dir, sizeof p->dir, "%s/volumes", ctx->storage_dir)) < 0 ||
	    (rc = prov_fmt(p->img, sizeof p->img, "%s/%s.img", p->dir, p->host)) < 0 ||
	    (rc = prov_fmt(p->mnt, sizeof p->mnt, "%s/%s", p->dir, p->host)) < 0)
		return rc;
	return 0;
}

static cJSON *volume_result(const struct vol_paths *p, uint64_t size, int enforced)
{
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddStringToObject(r, "volume_id", p->host) ||
	    !cJSON_AddStringToObject(r, "path", p->mnt) ||
	    !cJSON_AddNumberToObject(r, "size", (double)size) ||
	    !cJSON_AddBoolToObject(r, "enforced", enforced)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static void volume_cleanup(const struct vol_paths *p)
{
	if (prov_is_mountpoint(p->mnt) == 1 && umount2(p->mnt, 0) < 0)
		umount2(p->mnt, MNT_DETACH);
	if (access(p->img, F_OK) == 0)
		prov_loop_detach_file(p->img);
	unlink(p->img);
	rmdir(p->mnt);
}

static int provision_unenforced(struct prov_ctx *ctx, const struct vol_paths *p, uint64_t size,
                                cJSON **result, char *err, size_t errsz)
{
	if (!ctx->allow_unenforced_volumes)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "this node cannot enforce volume sizes (no loop devices) and "
		                "unenforced volumes are not allowed");
	int rc = prov_mkdirs(p->mnt, 0755);
	if (rc < 0)
		return prov_err(err, errsz, rc, "cannot create %s: %s", p->mnt, zerr_str(rc));
	if (!(*result = volume_result(p, size, 0)))
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	return 0;
}

static int volume_provision(struct prov_ctx *ctx, const struct prov_workload_id *id,
                            const cJSON *data, const struct prov_deployment_view *deps,
                            cJSON **result, char *err, size_t errsz)
{
	uint64_t size;
	int rc = volume_parse(data, &size, err, errsz);
	if (rc < 0)
		return rc;
	struct vol_paths p;
	if ((rc = vol_paths(ctx, id, &p)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if ((rc = prov_mkdirs(p.dir, 0700)) < 0)
		return prov_err(err, errsz, rc, "cannot create %s: %s", p.dir, zerr_str(rc));
	if (!ctx->feat.loop)
		return provision_unenforced(ctx, &p, size, result, err, errsz);

	struct stat st;
	int have_img = lstat(p.img, &st) == 0;
	if (have_img && !S_ISREG(st.st_mode))
		return prov_err(err, errsz, -EEXIST, "%s exists and is not an image", p.img);
	if (have_img && (uint64_t)st.st_size != size)
		return prov_err(err, errsz, ZE_STATE,
		                "volume exists with size %" PRIu64 ", asked %" PRIu64,
		                (uint64_t)st.st_size, size);
	int mounted = prov_is_mountpoint(p.mnt);
	if (have_img && mounted == 1) {
		if (!(*result = volume_result(&p, size, 1)))
			return prov_err(err, errsz, -ENOMEM, "out of memory");
		return 0;
	}

	/* An image with a filesystem survives reboots: mount it again. */
	int fresh = !(have_img && prov_ext4_has(p.img));
	if (fresh) {
		int fd = open(p.img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return prov_err(err, errsz, -errno, "cannot create %s: %s", p.img,
			                strerror(errno));
		/* Allocating every block up front makes the size a guarantee: a
		 * full disk fails here, not later inside the user's writes. */
		rc = posix_fallocate(fd, 0, (off_t)size);
		if (rc == EOPNOTSUPP || rc == EINVAL)
			rc = ftruncate(fd, (off_t)size) < 0 ? errno : 0;
		close(fd);
		if (rc) {
			rc = -rc;
			prov_err(err, errsz, rc, "cannot allocate %" PRIu64 " bytes for %s: %s",
			         size, p.img, zerr_str(rc));
			goto fail;
		}
		if ((rc = prov_ext4_format(p.img, err, errsz)) < 0)
			goto fail;
	}
	if ((rc = prov_mkdirs(p.mnt, 0755)) < 0) {
		prov_err(err, errsz, rc, "cannot create %s: %s", p.mnt, zerr_str(rc));
		goto fail;
	}
	if ((rc = prov_ext4_mount(p.img, p.mnt, err, errsz)) < 0)
		goto fail;
	if (!(*result = volume_result(&p, size, 1))) {
		rc = prov_err(err, errsz, -ENOMEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
	/* Never wipe a filesystem we did not make: only fresh images go. */
	if (fresh) {
		volume_cleanup(&p);
	} else {
		if (prov_is_mountpoint(p.mnt) == 1)
			umount2(p.mnt, MNT_DETACH);
	}
	return rc;
}

static int volume_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                              size_t errsz)
{
	struct vol_paths p;
	int rc = vol_paths(ctx, id, &p);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (prov_is_mountpoint(p.mnt) == 1 && umount2(p.mnt, 0) < 0) {
		/* Still used by a container: detach it from the tree now; the
		 * kernel frees the filesystem when the last user is gone. */
		if (umount2(p.mnt, MNT_DETACH) < 0)
			return prov_err(err, errsz, -errno, "cannot unmount %s: %s", p.mnt,
			                strerror(errno));
	}
	if (access(p.img, F_OK) == 0)
		prov_loop_detach_file(p.img);
	if (unlink(p.img) < 0 && errno != ENOENT)
		return prov_err(err, errsz, -errno, "cannot remove %s: %s", p.img, strerror(errno));
	/* An unenforced volume's directory holds the user's files. */
	if ((rc = prov_rm_tree(p.mnt)) < 0)
		return prov_err(err, errsz, rc, "cannot remove %s: %s", p.mnt, zerr_str(rc));
	return 0;
}

/* 0 absent, 1 ok, 2 half made; negative error. */
static int volume_state(struct prov_ctx *ctx, const struct prov_workload_id *id,
                        struct vol_paths *p, char *err, size_t errsz)
{
	int rc = vol_paths(ctx, id, p);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	int img = access(p->img, F_OK) == 0;
	int dir = access(p->mnt, F_OK) == 0;
	int mounted = prov_is_mountpoint(p->mnt) == 1;
	if (!img && !dir)
		return 0;
	if (img && mounted)
		return 1;
	if (!img && dir && !ctx->feat.loop)
		return 1; /* unenforced */
	return 2;
}

static int volume_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                        size_t errsz)
{
	struct vol_paths p;
	int rc = volume_state(ctx, id, &p, err, errsz);
	if (rc < 0)
		return rc;
	/* A volume has nothing running; pause only checks it is there. */
	return rc == 0 ? prov_err(err, errsz, -ENOENT, "volume %s is not provisioned", id->name)
	               : 0;
}

static int volume_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id,
                          enum prov_health *h, char *err, size_t errsz)
{
	struct vol_paths p;
	int rc = volume_state(ctx, id, &p, err, errsz);
	if (rc < 0)
		return rc;
	*h = rc == 0 ? PROV_ABSENT : rc == 1 ? PROV_OK : PROV_DEGRADED;
	return 0;
}

static int volume_usage(struct prov_ctx *ctx, const struct prov_workload_id *id,
                        struct prov_usage *u, char *err, size_t errsz)
{
	struct vol_paths p;
	int rc = volume_state(ctx, id, &p, err, errsz);
	if (rc < 0)
		return rc;
	if (rc != 1)
		return prov_err(err, errsz, -ENOENT, "volume %s is not mounted", id->name);
	memset(u, 0, sizeof *u);
	if (prov_is_mountpoint(p.mnt) != 1) {
		/* Unenforced: a directory on the host's filesystem. */
		if ((rc = prov_du(p.mnt, &u->disk_bytes)) < 0)
			return prov_err(err, errsz, rc, "cannot measure %s: %s", p.mnt,
			                zerr_str(rc));
		return 0;
	}
	struct statvfs v;
	if (statvfs(p.mnt, &v) < 0)
		return prov_err(err, errsz, -errno, "statvfs %s: %s", p.mnt, strerror(errno));
	u->disk_bytes = (uint64_t)(v.f_blocks - v.f_bfree) * v.f_frsize;
	return 0;
}

const struct prov_ops prov_volume_ops = {
    .type = "volume",
    .validate = volume_validate,
    .provision = volume_provision,
    .deprovision = volume_deprovision,
    .pause = volume_pause,
    .resume = volume_pause,
    .inspect = volume_inspect,
    .usage = volume_usage,
};
