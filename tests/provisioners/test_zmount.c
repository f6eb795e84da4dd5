/* zmount: sparse disk images; lifecycle, idempotency, grow-only, hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/provisioners/prov_test.h"

static struct fixture F;
static const struct prov_ops *Z;

static int setup(void **st)
{
	Z = prov_lookup("zmount");
	return Z && fixture_open(&F, 0) == 0 ? 0 : -1;
}

static int teardown(void **st)
{
	fixture_close(&F);
	return 0;
}

static void lifecycle(void **st)
{
	char err[256] = "";
	struct prov_workload_id id = test_id(7, 1, "disk1");
	cJSON *d = json("{\"size\": 104857600}");
	struct prov_capacity cap;
	assert_int_equal(Z->validate(d, &cap, err, sizeof err), 0);
	assert_int_equal(cap.sru, 104857600);
	assert_int_equal(cap.cru + cap.mru + cap.hru, 0);

	enum prov_health h;
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	cJSON *res = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	const char *path = cJSON_GetObjectItem(res, "path")->valuestring;
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 104857600);
	assert_true((uint64_t)sb.st_blocks * 512 < 1048576); /* sparse */
	char vid[PROV_HOST_MAX];
	prov_host_name(&id, vid);
	assert_string_equal(cJSON_GetObjectItem(res, "volume_id")->valuestring, vid);

	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	struct prov_usage u;
	assert_int_equal(Z->usage(F.ctx, &id, &u, err, sizeof err), 0);
	assert_true(u.disk_bytes < 1048576);
	assert_int_equal(Z->pause(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(Z->resume(F.ctx, &id, err, sizeof err), 0);

	/* Same spec again: success, same object. */
	cJSON *res2 = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res2, err, sizeof err), 0);
	assert_string_equal(cJSON_GetObjectItem(res2, "path")->valuestring, path);
	cJSON_Delete(res2);

	/* Grow works, shrink is refused with ZE_STATE and changes nothing. */
	cJSON *big = json("{\"size\": 209715200}"), *small = json("{\"size\": 1048576}");
	assert_int_equal(Z->provision(F.ctx, &id, big, NULL, &res2, err, sizeof err), 0);
	cJSON_Delete(res2);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 209715200);
	res2 = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, small, NULL, &res2, err, sizeof err), ZE_STATE);
	assert_null(res2);
	assert_non_null(strstr(err, "grow"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 209715200);

	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	/* Gone already: still success. Pause/usage of nothing: an error. */
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(Z->pause(F.ctx, &id, err, sizeof err), -ENOENT);
	assert_int_equal(Z->usage(F.ctx, &id, &u, err, sizeof err), -ENOENT);
	cJSON_Delete(res);
	cJSON_Delete(d);
	cJSON_Delete(big);
	cJSON_Delete(small);
}

/* What a crash or an operator may leave: no zmounts directory, a creation's
 * temporary file, an empty image whose size a power cut lost. */
static void leftovers(void **st)
{
	char err[256] = "", dir[512], tmp[600];
	struct prov_workload_id id = test_id(7, 2, "disk2");
	cJSON *d = json("{\"size\": 1048576}"), *res = NULL;
	enum prov_health h;
	struct stat sb;
	snprintf(dir, sizeof dir, "%s/zmounts", F.storage);
	/* The directory is made on first use, and again when it was removed. */
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	char path[512];
	snprintf(path, sizeof path, "%s", cJSON_GetObjectItem(res, "path")->valuestring);
	cJSON_Delete(res);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(rmdir(dir), 0);
	res = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 1048576);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);

	/* The temporary file an earlier version's interrupted creation left
	 * does not stop it, and goes with the disk. */
	snprintf(tmp, sizeof tmp, "%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	res = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 1048576);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(stat(tmp, &sb), -1);
	assert_int_equal(stat(path, &sb), -1);

	res = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);

	/* An empty image (a creation a crash cut short: the name without its
	 * size) is not healthy; provision sizes it, as the restore runs it. */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	res = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
	cJSON_Delete(d);
}

static void hostile_data(void **st)
{
	static const char *const bad[] = {
	    "{}",
	    "[]",
	    "42",
	    "{\"size\": -1}",
	    "{\"size\": 1.5}",
	    "{\"size\": \"100\"}",
	    "{\"size\": 1}",
	    "{\"size\": 1e30}",
	    "{\"size\": 104857600, \"path\": \"/etc\"}",
	    "{\"size\": null}",
	    "{\"size\": 17592186044417}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[256] = "";
		struct prov_capacity cap;
		cJSON *d = json(bad[i]);
		assert_int_equal(Z->validate(d, &cap, err, sizeof err), -EINVAL);
		assert_true(err[0] != '\0');
		cJSON *res = NULL;
		struct prov_workload_id id = test_id(7, 2, "bad");
		assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), -EINVAL);
		assert_null(res);
		cJSON_Delete(d);
	}
}

static void hostile_names(void **st)
{
	static const char *const bad[] = {
	    "", "../x", "a/b", "a.b", "a b", "x234567890123456789012345678901234567", "-"};
	cJSON *d = json("{\"size\": 1048576}");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[256];
		struct prov_workload_id id = test_id(7, 3, "x");
		snprintf(id.name, sizeof id.name, "%s", bad[i]);
		if (strlen(bad[i]) > PROV_NAME_MAX)
			memcpy(id.name, bad[i], PROV_NAME_MAX), id.name[PROV_NAME_MAX] = 'x';
		cJSON *res = NULL;
		enum prov_health h;
		assert_true(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err) < 0);
		assert_null(res);
		assert_true(Z->inspect(F.ctx, &id, &h, err, sizeof err) < 0);
		assert_true(Z->deprovision(F.ctx, &id, err, sizeof err) < 0);
	}
	cJSON_Delete(d);
	/* Nothing was created for any of them. */
	char dir[256];
	snprintf(dir, sizeof dir, "%s/zmounts", F.storage);
	char ls[4096];
	const char *argv[] = {"/bin/ls", "-A", dir, NULL};
	if (prov_run(argv, ls, sizeof ls, 5000) == 0)
		assert_string_equal(ls, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lifecycle),
	    cmocka_unit_test(leftovers),
	    cmocka_unit_test(hostile_data),
	    cmocka_unit_test(hostile_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
