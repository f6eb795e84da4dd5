/*
 * Unit tests of provisioners/prov_util.c's file writing: the content lands
 * atomically, and the directory holding the renamed file is synced (this
 * program's own fsync, which the static library calls instead of libc's,
 * records what was synced).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "provisioners/prov_int.h"

static char synced_dirs[8][PATH_MAX];
static int nsynced_dirs, nsynced_files;

int fsync(int fd)
{
	char link[64], path[PATH_MAX];
	struct stat st;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n > 0 && fstat(fd, &st) == 0) {
		path[n] = 0;
		if (S_ISDIR(st.st_mode) && nsynced_dirs < 8)
			snprintf(synced_dirs[nsynced_dirs++], PATH_MAX, "%s", path);
		else if (S_ISREG(st.st_mode))
			nsynced_files++;
	}
	return (int)syscall(SYS_fsync, fd);
}

static void write_file_syncs_its_directory(void **st)
{
	char dir[] = "/tmp/prov-util-XXXXXX", path[PATH_MAX], real[PATH_MAX], buf[16];
	size_t len;
	assert_non_null(mkdtemp(dir));
	assert_non_null(realpath(dir, real));
	snprintf(path, sizeof path, "%s/state.json", dir);
	nsynced_dirs = nsynced_files = 0;
	assert_int_equal(prov_write_file(path, "{\"a\":1}", 7, 0600), 0);
	assert_int_equal(nsynced_files, 1);
	assert_int_equal(nsynced_dirs, 1);
	assert_string_equal(synced_dirs[0], real);
	assert_int_equal(prov_read_file(path, buf, sizeof buf, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(buf, "{\"a\":1}", 7);
	/* No temporary file is left behind. */
	snprintf(path, sizeof path, "%s/state.json.tmp", dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof path, "%s/state.json", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(write_file_syncs_its_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
