/*
 * Host id ranges of twins. Container root of every container of a twin is
 * mapped to the first id of that twin's range (PROV_CT_IDS ids). A range is
 * allocated once, the first time the twin deploys a container, and recorded
 * in <storage>/idmap/twin-<id> (the range's index, written atomically and
 * fsynced), so the twin always gets the same range, across agent restarts
 * and kill -9, and two twins never share one: allocation takes an exclusive
 * lock on <storage>/idmap/lock and picks the lowest index no file names.
 */
#include "provisioners/prov_container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Indexes are bounded by the 32-bit id space above the base. */
static uint32_t max_ranges(uint32_t base)
{
	uint64_t room = 0xfffffffeull - base;
	uint64_t n = room / PROV_CT_IDS;
	return n > 65536 ? 65536 : (uint32_t)n;
}

static int read_index(const char *file, uint32_t *idx)
{
	char buf[32];
	int rc = prov_read_file(file, buf, sizeof buf, NULL);
	if (rc < 0)
		return rc;
	char *end;
	unsigned long v = strtoul(buf, &end, 10);
	if (end == buf || (*end != '\n' && *end != '\0') || v > 65535)
		return ZE_MALFORMED;
	*idx = (uint32_t)v;
	return 0;
}

/* Marks the indexes every recorded twin holds. */
static int used_indexes(const char *dir, unsigned char *used, uint32_t n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "twin-", 5) != 0 || strchr(e->d_name, '.'))
			continue;
		char f[PROV_PATH_MAX];
		uint32_t idx;
		if (prov_fmt(f, sizeof f, "%s/%s", dir, e->d_name) == 0 &&
		    read_index(f, &idx) == 0 && idx < n)
			used[idx] = 1;
	}
	closedir(d);
	return 0;
}

int prov_ct_twin_range(struct prov_ctx *ctx, uint32_t twin, uint32_t *base, char *err, size_t errsz)
{
	char dir[PROV_PATH_MAX], file[PROV_PATH_MAX], lock[PROV_PATH_MAX];
	int rc;
	if ((rc = prov_fmt(dir, sizeof dir, "%s/idmap", ctx->storage_dir)) < 0 ||
	    (rc = prov_fmt(file, sizeof file, "%s/twin-%u", dir, twin)) < 0 ||
	    (rc = prov_fmt(lock, sizeof lock, "%s/lock", dir)) < 0)
		return prov_err(err, errsz, rc, "storage path too long");
	if ((rc = prov_mkdirs(dir, 0700)) < 0)
		return prov_err(err, errsz, rc, "cannot create %s: %s", dir, zerr_str(rc));
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return prov_err(err, errsz, -errno, "cannot open %s: %s", lock,
		                prov_strerror(errno));
	while (flock(lfd, LOCK_EX) < 0 && errno == EINTR)
		;
	uint32_t n = max_ranges(ctx->uid_base), idx = 0;
	rc = read_index(file, &idx);
	if (rc == 0 && idx >= n)
		rc = prov_err(err, errsz, ZE_CONFIG,
		              "id range %u of twin %u lies past 2^32 with uid_base %u; "
		              "lower [containers] uid_base",
		              idx, twin, ctx->uid_base);
	else if (rc == -ENOENT) {
		unsigned char *used = calloc(n ? n : 1, 1);
		if (!used) {
			rc = prov_err(err, errsz, -ENOMEM, "out of memory");
			goto out;
		}
		rc = used_indexes(dir, used, n);
		for (idx = 0; rc == 0 && idx < n && used[idx]; idx++)
			;
		free(used);
		if (rc < 0) {
			rc = prov_err(err, errsz, rc, "cannot read %s: %s", dir, zerr_str(rc));
		} else if (idx >= n) {
			rc =
			    prov_err(err, errsz, ZE_CAPACITY,
			             "no free user id range left above uid_base %u", ctx->uid_base);
		} else {
			char v[16];
			int len = snprintf(v, sizeof v, "%u\n", idx);
			rc = prov_write_file(file, v, (size_t)len, 0600);
			if (rc < 0)
				prov_err(err, errsz, rc, "cannot record id range in %s: %s", file,
				         zerr_str(rc));
		}
	} else if (rc < 0) {
		rc = prov_err(err, errsz, rc, "cannot read %s: %s", file, zerr_str(rc));
	}
	if (rc == 0)
		*base = ctx->uid_base + idx * PROV_CT_IDS;
out:
	close(lfd);
	return rc;
}
