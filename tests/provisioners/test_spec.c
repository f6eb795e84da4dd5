/*
 * Unit tests of provisioners/prov_spec.c's compute_capacity parser, the one
 * both the container and the VM spec use: each type's bounds at their
 * edges, the same error messages for both, and the environment variable
 * name check the two share.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "provisioners/prov_int.h"

/* rc of prov_spec_capacity on {"compute_capacity": {"cpu": CPU, "memory": MEM}}. */
static int cap(enum prov_cc_kind kind, const char *cc, uint64_t *cpu, uint64_t *mem, char *err,
               size_t errsz)
{
	char text[256];
	snprintf(text, sizeof text, "{\"compute_capacity\": %s}", cc);
	cJSON *data = cJSON_Parse(text);
	assert_non_null(data);
	int rc = prov_spec_capacity(data, kind, cpu, mem, err, errsz);
	cJSON_Delete(data);
	return rc;
}

static void bounds_per_type(void **state)
{
	(void)state;
	uint64_t cpu = 0, mem = 0;
	char err[256];
	/* The container's edges: 1..256 cpus, 16 MiB..1 TiB. */
	assert_int_equal(cap(PROV_CC_CONTAINER, "{\"cpu\": 256, \"memory\": 16777216}", &cpu, &mem,
	                     err, sizeof err),
	                 0);
	assert_int_equal(cpu, 256);
	assert_int_equal(mem, 16777216);
	assert_int_equal(cap(PROV_CC_CONTAINER, "{\"cpu\": 1, \"memory\": 1099511627776}", &cpu,
	                     &mem, err, sizeof err),
	                 0);
	assert_int_equal(mem, 1099511627776ull);
	assert_int_equal(cap(PROV_CC_CONTAINER, "{\"cpu\": 257, \"memory\": 16777216}", &cpu, &mem,
	                     err, sizeof err),
	                 -EINVAL);
	assert_string_equal(err, "field 'cpu' = 257 out of range [1, 256]");
	assert_int_equal(cap(PROV_CC_CONTAINER, "{\"cpu\": 1, \"memory\": 16777215}", &cpu, &mem,
	                     err, sizeof err),
	                 -EINVAL);
	/* The VM's edges: 1..64 cpus, 64 MiB..256 GiB; what a container may
	 * have is refused where a VM may not. */
	assert_int_equal(
	    cap(PROV_CC_VM, "{\"cpu\": 64, \"memory\": 67108864}", &cpu, &mem, err, sizeof err), 0);
	assert_int_equal(cpu, 64);
	assert_int_equal(
	    cap(PROV_CC_VM, "{\"cpu\": 1, \"memory\": 274877906944}", &cpu, &mem, err, sizeof err),
	    0);
	assert_int_equal(
	    cap(PROV_CC_VM, "{\"cpu\": 65, \"memory\": 67108864}", &cpu, &mem, err, sizeof err),
	    -EINVAL);
	assert_string_equal(err, "field 'cpu' = 65 out of range [1, 64]");
	assert_int_equal(
	    cap(PROV_CC_VM, "{\"cpu\": 1, \"memory\": 16777216}", &cpu, &mem, err, sizeof err),
	    -EINVAL);
	assert_int_equal(
	    cap(PROV_CC_VM, "{\"cpu\": 1, \"memory\": 274877906945}", &cpu, &mem, err, sizeof err),
	    -EINVAL);
}

/* Apart from the bounds in a range message, both types say the same. */
static void same_messages(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "{\"cpu\": 1}",
	    "{\"cpu\": -1, \"memory\": 134217728}",
	    "{\"cpu\": \"2\", \"memory\": 134217728}",
	    "{\"cpu\": 1.5, \"memory\": 134217728}",
	    "{\"cpu\": 1, \"memory\": 134217728, \"disk\": 1}",
	    "[1, 134217728]",
	};
	uint64_t cpu, mem;
	char ec[256], ev[256];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(cap(PROV_CC_CONTAINER, bad[i], &cpu, &mem, ec, sizeof ec),
		                 -EINVAL);
		assert_int_equal(cap(PROV_CC_VM, bad[i], &cpu, &mem, ev, sizeof ev), -EINVAL);
		assert_true(ec[0] != '\0');
		assert_string_equal(ec, ev);
	}
	cJSON *none = cJSON_Parse("{\"image\": \"busybox\"}");
	assert_int_equal(prov_spec_capacity(none, PROV_CC_VM, &cpu, &mem, ec, sizeof ec), -EINVAL);
	assert_string_equal(ec, "missing field 'compute_capacity'");
	cJSON_Delete(none);
}

static void env_names(void **state)
{
	(void)state;
	char longest[65], over[66];
	memset(longest, 'A', 64);
	longest[64] = '\0';
	memset(over, 'A', 65);
	over[65] = '\0';
	assert_true(prov_spec_env_name_ok("PATH"));
	assert_true(prov_spec_env_name_ok("_x9"));
	assert_true(prov_spec_env_name_ok(longest));
	assert_false(prov_spec_env_name_ok(""));
	assert_false(prov_spec_env_name_ok("9A"));
	assert_false(prov_spec_env_name_ok("A=B"));
	assert_false(prov_spec_env_name_ok("A-B"));
	assert_false(prov_spec_env_name_ok(over));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bounds_per_type),
	    cmocka_unit_test(same_messages),
	    cmocka_unit_test(env_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
