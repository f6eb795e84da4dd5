/* Small helpers shared by the workload types: errors, names, JSON fields, files. */
#include "provisioners/prov_int.h"
#include "common/jnum.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int prov_err(char *err, size_t errsz, int rc, const char *fmt, ...)
{
	if (err && errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int prov_fmt(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	return 0;
}

int prov_name_valid(const char *name)
{
	if (!name)
		return -EINVAL;
	size_t n = 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '_';
		if (!ok || n >= PROV_NAME_MAX)
			return -EINVAL;
	}
	return n ? 0 : -EINVAL;
}

int prov_host_name(const struct prov_workload_id *id, char out[PROV_HOST_MAX])
{
	if (!id || prov_name_valid(id->name) < 0)
		return -EINVAL;
	return prov_fmt(out, PROV_HOST_MAX, "zos-%" PRIu64 "-%s", id->contract_id, id->name);
}

void prov_if_name(const char *prefix, const char *host, unsigned idx, char out[16])
{
	/* FNV-1a over the host name and the index: stable across restarts, and
	 * 48 bits make a collision between two workloads practically impossible. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *p = host; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 0x100000001b3ull;
	}
	h ^= idx;
	h *= 0x100000001b3ull;
	snprintf(out, 16, "%.3s%012" PRIx64, prefix, (uint64_t)(h & 0xffffffffffffull));
}

int prov_json_u64(const cJSON *data, const char *key, uint64_t min, uint64_t max, uint64_t *out,
                  char *err, size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
	if (!v)
		return prov_err(err, errsz, -EINVAL, "missing field '%s'", key);
	if (!cJSON_IsNumber(v))
		return prov_err(err, errsz, -EINVAL, "field '%s' must be a number", key);
	uint64_t x;
	/* Doubles hold integers exactly up to 2^53, far above any bound here. */
	if (jnum_u64(v, UINT64_MAX, &x) < 0)
		return prov_err(err, errsz, -EINVAL, "field '%s' must be a non-negative integer",
		                key);
	if (x < min || x > max)
		return prov_err(err, errsz, -EINVAL,
		                "field '%s' = %" PRIu64 " out of range [%" PRIu64 ", %" PRIu64 "]",
		                key, x, min, max);
	*out = x;
	return 0;
}

int prov_json_str(const cJSON *data, const char *key, size_t maxlen, const char **out, char *err,
                  size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
	if (!v)
		return prov_err(err, errsz, -EINVAL, "missing field '%s'", key);
	if (!cJSON_IsString(v) || !v->valuestring)
		return prov_err(err, errsz, -EINVAL, "field '%s' must be a string", key);
	size_t n = strnlen(v->valuestring, maxlen + 1);
	if (n == 0 || n > maxlen)
		return prov_err(err, errsz, -EINVAL, "field '%s' must have 1..%zu characters", key,
		                maxlen);
	*out = v->valuestring;
	return 0;
}

int prov_json_keys(const cJSON *data, const char *const *allowed, char *err, size_t errsz)
{
	if (!cJSON_IsObject(data))
		return prov_err(err, errsz, -EINVAL, "workload data must be an object");
	const cJSON *it;
	cJSON_ArrayForEach(it, data)
	{
		int known = 0;
		for (const char *const *a = allowed; *a && !known; a++)
			known = it->string && strcmp(it->string, *a) == 0;
		if (!known)
			return prov_err(err, errsz, -EINVAL, "unknown field '%.40s'",
			                it->string ? it->string : "");
	}
	return 0;
}

int prov_mkdirs(const char *path, mode_t mode)
{
	char buf[PROV_PATH_MAX];
	if (prov_fmt(buf, sizeof buf, "%s", path) < 0)
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (stat(buf, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* The rename is only durable once the directory holding it is synced:
 * without it, a power loss can bring back the old file (or none). */
static int sync_parent(const char *path)
{
	char dir[PROV_PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		return prov_fmt(dir, sizeof dir, ".") < 0 ? -ENAMETOOLONG : sync_dir(dir);
	if (slash == path)
		return sync_dir("/");
	if ((size_t)(slash - path) >= sizeof dir)
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	return sync_dir(dir);
}

int prov_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PROV_PATH_MAX];
	if (prov_fmt(tmp, sizeof tmp, "%s.tmp", path) < 0)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	const char *p = data;
	size_t off = 0;
	int rc = 0;
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	return sync_parent(path);
}

int prov_read_file(const char *path, char *buf, size_t bufsz, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	int rc = 0;
	for (;;) {
		if (off + 1 >= bufsz) {
			char c;
			ssize_t n = read(fd, &c, 1);
			rc = n > 0 ? -EFBIG : n < 0 ? -errno : 0;
			break;
		}
		ssize_t n = read(fd, buf + off, bufsz - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (rc < 0)
		return rc;
	buf[off] = '\0';
	if (len)
		*len = off;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	/* Errors are ignored so that one stubborn entry does not leave the
	 * rest behind; prov_rm_tree checks the top afterwards. */
	if (type == FTW_DP || type == FTW_D)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

int prov_rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	/* FTW_PHYS: never follow symlinks planted by a container; FTW_MOUNT:
	 * never descend into something mounted below. */
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	if (lstat(path, &st) == 0)
		return -ENOTEMPTY;
	return 0;
}

const char *prov_strerror(int e)
{
	const char *s = strerrordesc_np(e);
	return s ? s : "unknown error";
}

/* nftw has no user pointer; thread-local keeps concurrent calls apart. */
static _Thread_local uint64_t du_total;

static int du_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type == FTW_F || type == FTW_D || type == FTW_DP || type == FTW_SL)
		du_total += (uint64_t)st->st_blocks * 512;
	return 0;
}

int prov_du(const char *path, uint64_t *bytes)
{
	du_total = 0;
	if (nftw(path, du_one, 16, FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	*bytes = du_total;
	return 0;
}

int prov_is_mountpoint(const char *path)
{
	char parent[PROV_PATH_MAX];
	if (prov_fmt(parent, sizeof parent, "%s/..", path) < 0)
		return -ENAMETOOLONG;
	struct stat a, b;
	if (lstat(path, &a) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (stat(parent, &b) < 0)
		return -errno;
	return a.st_dev != b.st_dev;
}

int prov_image_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PROV_IMAGE_NAME_MAX)
		return 0;
	/* Starting with an alphanumeric rules out ".", ".." and hidden names. */
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int prov_mountpoint_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > PROV_MOUNTPOINT_MAX || s[0] != '/' || s[n - 1] == '/')
		return 0;
	for (const char *c = s; *c;) {
		c++; /* skip '/' */
		size_t k = strcspn(c, "/");
		if (k == 0 || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (strspn(c, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") <
		    k)
			return 0;
		c += k;
	}
	static const char *const reserved[] = {"/proc", "/dev", "/sys", NULL};
	for (const char *const *r = reserved; *r; r++) {
		size_t k = strlen(*r);
		if (strncmp(s, *r, k) == 0 && (s[k] == '\0' || s[k] == '/'))
			return 0;
	}
	return 1;
}
