/* Trial: a deployment with the "example" type parses through the real registry, in stage order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "agent/deployment.h"
#include "provisioners/prov.h"

static void example_type_parses(void **st)
{
	const char *doc = "{\"version\":0,\"twin_id\":7,\"workloads\":["
			  "{\"version\":0,\"name\":\"e\",\"type\":\"example\",\"data\":{}},"
			  "{\"version\":0,\"name\":\"d\",\"type\":\"zmount\",\"data\":{\"size\":1048576}}]}";
	struct dep_doc d;
	char err[256] = "";
	int rc = dep_parse(doc, strlen(doc), 7, prov_lookup, &d, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(d.count, 2);
	assert_string_equal(d.w[0].type, "zmount");
	assert_string_equal(d.w[1].type, "example");
	dep_free(&d);
	const char *bad = "{\"version\":0,\"twin_id\":7,\"workloads\":["
			  "{\"version\":0,\"name\":\"e\",\"type\":\"example\",\"data\":{\"x\":1}}]}";
	assert_int_equal(dep_parse(bad, strlen(bad), 7, prov_lookup, &d, err, sizeof err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest t[] = {cmocka_unit_test(example_type_parses)};
	return cmocka_run_group_tests(t, NULL, NULL);
}
