/* prov_logs: the last lines of a container's log, reaching into the rotated
 * files, bounded. Needs no root: the log files are written by the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/provisioners/prov_test.h"

static struct fixture F;

static int setup(void **st)
{
	return fixture_open(&F, 0) < 0 ? -1 : 0;
}

static int teardown(void **st)
{
	fixture_close(&F);
	return 0;
}

static void write_log(const struct prov_workload_id *id, const char *file, const char *text)
{
	char host[PROV_HOST_MAX], dir[400], p[512];
	prov_host_name(id, host);
	snprintf(dir, sizeof dir, "%s/containers/%s", F.run, host);
	assert_int_equal(prov_mkdirs(dir, 0700), 0);
	snprintf(p, sizeof p, "%s/%s", dir, file);
	assert_int_equal(prov_write_file(p, text, strlen(text), 0600), 0);
}

static void tail_lines(void **st)
{
	struct prov_workload_id id = test_id(7, 1, "app");
	char *out = NULL, err[256];
	size_t len;
	int trunc;
	assert_int_equal(prov_logs(F.ctx, &id, 5, &out, &len, &trunc, err, sizeof err), -ENOENT);
	assert_null(out);
	/* log.2 is older than log.1, which is older than log. */
	write_log(&id, "log.2", "a1\na2\n");
	write_log(&id, "log.1", "b1\nb2\nb3\n");
	write_log(&id, "log", "c1\nc2");
	assert_int_equal(prov_logs(F.ctx, &id, 2, &out, &len, &trunc, err, sizeof err), 0);
	assert_string_equal(out, "c1\nc2");
	assert_int_equal(len, 5);
	assert_true(trunc);
	free(out);
	assert_int_equal(prov_logs(F.ctx, &id, 4, &out, &len, &trunc, err, sizeof err), 0);
	assert_string_equal(out, "b2\nb3\nc1\nc2");
	assert_true(trunc);
	free(out);
	assert_int_equal(prov_logs(F.ctx, &id, 100, &out, &len, &trunc, err, sizeof err), 0);
	assert_string_equal(out, "a1\na2\nb1\nb2\nb3\nc1\nc2");
	assert_false(trunc);
	free(out);
}

/* A huge log is read from its end only, within PROV_LOGS_MAX_BYTES. */
static void bounded(void **st)
{
	struct prov_workload_id id = test_id(7, 2, "chatty");
	size_t n = 3 * PROV_LOGS_MAX_BYTES;
	char *big = malloc(n + 16);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = i % 64 == 63 ? '\n' : 'x';
	memcpy(big + n, "last line\n", 11);
	write_log(&id, "log", big);
	free(big);
	char *out = NULL, err[256];
	size_t len;
	int trunc;
	assert_int_equal(prov_logs(F.ctx, &id, 10000, &out, &len, &trunc, err, sizeof err), 0);
	assert_true(len <= PROV_LOGS_MAX_BYTES);
	assert_true(trunc);
	assert_non_null(strstr(out, "last line"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tail_lines),
	    cmocka_unit_test(bounded),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
