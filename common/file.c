/* Reading whole files with a size cap (file.h). */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/zerr.h"

int zfile_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	if (max >= SIZE_MAX - 1)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Grow as data arrives rather than trusting st_size, which a pipe or
	 * a file being written does not give reliably. */
	size_t cap = max + 1 < 4096 ? max + 1 : 4096, n = 0;
	uint8_t *buf = malloc(cap + 1);
	int rc = buf ? 0 : -ENOMEM;
	while (rc == 0) {
		if (n == cap) {
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			uint8_t *p = malloc(ncap + 1);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			memcpy(p, buf, n);
			/* The old copy may hold a secret (a deployment's plaintext). */
			sodium_memzero(buf, cap + 1);
			free(buf);
			buf = p;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		else if (r == 0)
			break;
		else if ((n += (size_t)r) > max)
			rc = ZE_TOOBIG;
	}
	close(fd);
	if (rc < 0) {
		if (buf) {
			sodium_memzero(buf, cap + 1);
			free(buf);
		}
		return rc;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}
