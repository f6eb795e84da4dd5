/*
 * A container's log for zos.deployment.logs: the last lines of <dir>/log,
 * reaching into the rotated log.1 .. log.N when the current file holds
 * fewer lines than asked. Bounded by PROV_LOGS_MAX_BYTES whatever is asked.
 */
#include "provisioners/prov_container.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads the last up to cap bytes of path into buf (appended before what is
 * already there: older files are read after newer ones). */
static int read_tail(const char *path, char *buf, size_t *have, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EIO;
	}
	size_t room = cap - *have;
	size_t want = (uint64_t)st.st_size < room ? (size_t)st.st_size : room;
	if (want == 0) {
		close(fd);
		return 0;
	}
	memmove(buf + want, buf, *have);
	size_t got = 0;
	off_t off = st.st_size - (off_t)want;
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got < want) /* the file shrank (rotation): keep what we read */
		memmove(buf + got, buf + want, *have);
	*have += got;
	return 0;
}

static size_t count_lines(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k + (n && s[n - 1] != '\n');
}

int prov_logs(struct prov_ctx *ctx, const struct prov_workload_id *id, unsigned tail, char **out,
              size_t *outlen, int *truncated, char *err, size_t errsz)
{
	char host[PROV_HOST_MAX], dir[PROV_PATH_MAX], path[PROV_PATH_MAX];
	int rc;
	*out = NULL;
	*outlen = 0;
	*truncated = 0;
	if ((rc = prov_host_name(id, host)) < 0 ||
	    (rc = prov_fmt(dir, sizeof dir, "%s/containers/%s", ctx->run_dir, host)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (access(dir, F_OK) != 0)
		return prov_err(err, errsz, -ENOENT, "container %s has no log on this node",
		                id->name);
	char *buf = malloc(PROV_LOGS_MAX_BYTES + 1);
	if (!buf)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	size_t have = 0;
	for (unsigned k = 0; k <= ctx->log_keep && have < PROV_LOGS_MAX_BYTES; k++) {
		if (k ? prov_fmt(path, sizeof path, "%s/log.%u", dir, k)
		      : prov_fmt(path, sizeof path, "%s/log", dir))
			break;
		if ((rc = read_tail(path, buf, &have, PROV_LOGS_MAX_BYTES)) < 0) {
			free(buf);
			return prov_err(err, errsz, rc, "cannot read %s: %s", path, zerr_str(rc));
		}
		if (count_lines(buf, have) > tail)
			break;
	}
	/* Keep the last tail lines. */
	size_t start = have, lines = 0;
	if (have && buf[have - 1] == '\n')
		start--;
	while (start > 0) {
		if (buf[start - 1] == '\n' && ++lines == tail)
			break;
		start--;
	}
	if (start > 0 || have == PROV_LOGS_MAX_BYTES)
		*truncated = 1;
	memmove(buf, buf + start, have - start);
	*outlen = have - start;
	buf[*outlen] = '\0';
	*out = buf;
	return 0;
}
