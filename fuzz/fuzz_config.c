/*
 * libFuzzer target for the agent's configuration parser (config/): an INI
 * file applied over the defaults, then the cross-key checks. Beyond "no
 * crash, no leak, no overread": a configuration that loads writes out
 * (cfg_write) as INI that loads again to the same configuration.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void changed(const char *key, int restart, void *arg)
{
	(void)restart;
	(void)arg;
	fprintf(stderr, "%s changed across cfg_write and cfg_apply_file\n", key);
	abort();
}

/* Writes p into the memfd fd and returns its /proc path in path. */
static int put(int fd, const void *p, size_t n, char *path, size_t pathsz)
{
	if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	if (n && write(fd, p, n) != (ssize_t)n)
		return -1;
	snprintf(path, pathsz, "/proc/self/fd/%d", fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static struct cfg a, b; /* large: not on the stack */
	char path[64], err[512];
	if (fd < 0 && (fd = memfd_create("fuzz-config", 0)) < 0)
		abort();
	if (size > 65536 || put(fd, data, size, path, sizeof path))
		return 0;
	cfg_defaults(&a);
	err[0] = 0; /* so that a refusal without a reason shows */
	if (cfg_apply_file(&a, path, err, sizeof err) != 0 ||
	    cfg_finish(&a, err, sizeof err) != 0) {
		if (!err[0])
			abort(); /* every refusal says why */
		return 0;
	}
	char *txt = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&txt, &len);
	if (!f || cfg_write(&a, f) != 0)
		abort();
	fclose(f);
	cfg_defaults(&b);
	if (put(fd, txt, len, path, sizeof path))
		abort();
	if (cfg_apply_file(&b, path, err, sizeof err) != 0 ||
	    cfg_finish(&b, err, sizeof err) != 0) {
		fprintf(stderr, "the written configuration does not load: %s\n", err);
		abort();
	}
	if (cfg_diff(&a, &b, changed, NULL) != 0)
		abort();
	free(txt);
	return 0;
}
