/* Registry, names, node capacity and admission. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>
#include <sys/sysinfo.h>

#include "tests/provisioners/prov_test.h"

static void registry_has_every_type(void **st)
{
	static const char *const types[] = {"zmount", "volume", "network", "zmachine",
	                                    "container"};
	for (size_t i = 0; i < 5; i++) {
		const struct prov_ops *o = prov_lookup(types[i]);
		assert_non_null(o);
		assert_string_equal(o->type, types[i]);
		assert_non_null(o->validate);
		assert_non_null(o->provision);
		assert_non_null(o->deprovision);
		assert_non_null(o->pause);
		assert_non_null(o->resume);
		assert_non_null(o->inspect);
		assert_non_null(o->usage);
	}
	/* zmachine is the virtual machine, not another name of the container. */
	assert_ptr_not_equal(prov_lookup("zmachine"), prov_lookup("container"));
	assert_null(prov_lookup("vm"));
	assert_null(prov_lookup(""));
	assert_null(prov_lookup(NULL));
	assert_null(prov_lookup("ZMOUNT"));
}

static void names(void **st)
{
	assert_int_equal(prov_name_valid("abc_DEF_123"), 0);
	assert_int_equal(prov_name_valid("x23456789012345678901234567890123456"), 0);
	assert_int_equal(prov_name_valid("x234567890123456789012345678901234567"), -EINVAL);
	assert_int_equal(prov_name_valid(""), -EINVAL);
	assert_int_equal(prov_name_valid(".."), -EINVAL);
	assert_int_equal(prov_name_valid("a-b"), -EINVAL);
	assert_int_equal(prov_name_valid(NULL), -EINVAL);
	char a[16], b[16];
	prov_if_name("zv", "zos-1-a", 0, a);
	prov_if_name("zv", "zos-1-a", 1, b);
	assert_true(strlen(a) <= 15);
	assert_string_not_equal(a, b);
}

static void admission(void **st)
{
	struct prov_capacity total = {4, 8ull << 30, 100ull << 30, 0};
	struct prov_capacity used = {3, 4ull << 30, 0, 0};
	struct prov_capacity ok = {1, 4ull << 30, 100ull << 30, 0};
	char err[256] = "";
	assert_int_equal(prov_admit(&total, &used, &ok, err, sizeof err), 0);
	struct prov_capacity cpu = {2, 0, 0, 0};
	assert_int_equal(prov_admit(&total, &used, &cpu, err, sizeof err), ZE_CAPACITY);
	assert_string_equal(err, "not enough cru: want 2, free 1 (total 4, used 3)");
	struct prov_capacity mem = {0, (4ull << 30) + 1, 0, 0};
	assert_int_equal(prov_admit(&total, &used, &mem, err, sizeof err), ZE_CAPACITY);
	assert_non_null(strstr(err, "mru"));
	struct prov_capacity hru = {0, 0, 0, 1};
	assert_int_equal(prov_admit(&total, &used, &hru, err, sizeof err), ZE_CAPACITY);
	/* Overflowing sums must not wrap into "fits". */
	struct prov_capacity huge = {0, UINT64_MAX, 0, 0};
	assert_int_equal(prov_admit(&total, &used, &huge, err, sizeof err), ZE_CAPACITY);
	struct prov_capacity over = {5, 0, 0, 0}, none = {0, 0, 0, 0};
	assert_int_equal(prov_admit(&total, &over, &none, err, sizeof err), 0);
	assert_int_equal(prov_admit(&total, &over, &cpu, err, sizeof err), ZE_CAPACITY);
}

static void node_capacity(void **st)
{
	char root[] = "/tmp/zos-cap-XXXXXX";
	assert_non_null(mkdtemp(root));
	struct prov_config cfg = {.storage_dir = root,
	                          .image_dir = root,
	                          .run_dir = root,
	                          .reserved = {1, 1ull << 30, 1ull << 30, 0}};
	struct prov_ctx *ctx;
	assert_int_equal(prov_ctx_new(&cfg, &ctx), 0);
	struct prov_capacity t;
	assert_int_equal(prov_node_capacity(ctx, &t), 0);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(t.cru, cpus > 1 ? (uint64_t)cpus - 1 : 0);
	struct sysinfo si;
	sysinfo(&si);
	uint64_t mem = (uint64_t)si.totalram * si.mem_unit;
	assert_int_equal(t.mru, mem - (1ull << 30));
	assert_true(t.sru > 0);
	assert_int_equal(t.hru, 0);
	prov_ctx_free(ctx);
	/* A reservation bigger than the node leaves zero, not a wrapped number. */
	cfg.reserved.cru = 100000;
	assert_int_equal(prov_ctx_new(&cfg, &ctx), 0);
	assert_int_equal(prov_node_capacity(ctx, &t), 0);
	assert_int_equal(t.cru, 0);
	prov_ctx_free(ctx);
	rmdir(root);
}

static void bad_config(void **st)
{
	struct prov_ctx *ctx = NULL;
	struct prov_config rel = {
	    .storage_dir = "relative", .image_dir = "/tmp", .run_dir = "/tmp"};
	assert_int_equal(prov_ctx_new(&rel, &ctx), ZE_CONFIG);
	struct prov_config none = {.storage_dir = "/tmp", .image_dir = NULL, .run_dir = "/tmp"};
	assert_int_equal(prov_ctx_new(&none, &ctx), ZE_CONFIG);
	struct prov_config cg = {.storage_dir = "/tmp",
	                         .image_dir = "/tmp",
	                         .run_dir = "/tmp",
	                         .cgroup_parent = "../escape"};
	assert_int_equal(prov_ctx_new(&cg, &ctx), ZE_CONFIG);
	assert_null(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(registry_has_every_type),
	    cmocka_unit_test(names),
	    cmocka_unit_test(admission),
	    cmocka_unit_test(node_capacity),
	    cmocka_unit_test(bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
