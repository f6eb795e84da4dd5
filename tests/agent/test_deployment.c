/* Unit tests of agent/deployment: hostile deployment documents. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/deployment.h"
#include "common/zerr.h"

/* Fake types: each reserves "size" bytes (sru for disks, mru for vms); a
 * data object with "bad" is refused. */
static int fake_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	if (cJSON_GetObjectItem(data, "bad")) {
		snprintf(err, errsz, "bad is not allowed");
		return -EINVAL;
	}
	const cJSON *s = cJSON_GetObjectItem(data, "size");
	cap->sru = cJSON_IsNumber(s) ? (uint64_t)s->valuedouble : 0;
	cap->cru = 1;
	return 0;
}

static const struct prov_ops fake_ops[] = {
	{.type = "zmount", .validate = fake_validate},
	{.type = "volume", .validate = fake_validate},
	{.type = "network", .validate = fake_validate},
	{.type = "container", .validate = fake_validate},
};

static const struct prov_ops *fake_lookup(const char *type)
{
	for (size_t i = 0; i < sizeof fake_ops / sizeof fake_ops[0]; i++)
		if (!strcmp(fake_ops[i].type, type))
			return &fake_ops[i];
	return NULL;
}

static int parse(const char *s, uint32_t twin, struct dep_doc *d, char *why)
{
	return dep_parse(s, strlen(s), twin, fake_lookup, d, why, 256);
}

#define WL(name, type, data) \
	"{\"version\":0,\"name\":\"" name "\",\"type\":\"" type "\",\"data\":" data "}"

static void valid_document_in_install_order(void **st)
{
	const char *s = "{\"version\":0,\"twin_id\":7,\"metadata\":\"m\",\"workloads\":["
			WL("vm", "container", "{}") "," WL("net", "network", "{}") ","
			WL("disk", "zmount", "{\"size\":100}") "," WL("vol", "volume", "{\"size\":5}")
			"]}  \n";
	struct dep_doc d;
	char why[256] = "";
	assert_int_equal(parse(s, 7, &d, why), 0);
	assert_int_equal(d.count, 4);
	assert_string_equal(d.w[0].name, "disk");
	assert_string_equal(d.w[1].name, "vol");
	assert_string_equal(d.w[2].name, "net");
	assert_string_equal(d.w[3].name, "vm");
	assert_int_equal(d.total.sru, 105);
	assert_int_equal(d.total.cru, 4);
	dep_free(&d);
	dep_free(&d); /* idempotent */
}

struct bad {
	const char *doc;
	int rc;
	const char *why;
};

static void hostile_documents_are_refused(void **st)
{
	char longname[256], longdoc[DEP_MAX_DOC + 64];
	snprintf(longname, sizeof longname, "{\"version\":0,\"twin_id\":7,\"workloads\":[%s]}",
		 WL("a234567890123456789012345678901234567", "zmount", "{}"));
	memset(longdoc, ' ', sizeof longdoc - 1);
	longdoc[sizeof longdoc - 1] = 0;
	memcpy(longdoc, "{\"version\":0,\"twin_id\":7,\"workloads\":[", 38);
	const struct bad cases[] = {
		{"", ZE_MALFORMED, "not valid JSON"},
		{"[1]", ZE_MALFORMED, "must be a JSON object"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[]} x", ZE_MALFORMED, "trailing"},
		{"{\"version\":0,\"twin_id\":8,\"workloads\":[" WL("a", "zmount", "{}") "]}",
		 ZE_MALFORMED, "does not match the contract's twin 7"},
		{"{\"version\":-1,\"twin_id\":7,\"workloads\":[]}", ZE_MALFORMED, "version"},
		{"{\"version\":1.5,\"twin_id\":7,\"workloads\":[]}", ZE_MALFORMED, "version"},
		{"{\"version\":0,\"workloads\":[]}", ZE_MALFORMED, "twin_id must be a number"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":{}}", ZE_MALFORMED, "array"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[]}", ZE_MALFORMED, "no workloads"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[1]}", ZE_MALFORMED, "must be an object"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[" WL("a-b", "zmount", "{}") "]}",
		 ZE_MALFORMED, "name must match"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[" WL("", "zmount", "{}") "]}",
		 ZE_MALFORMED, "name must match"},
		{longname, ZE_MALFORMED, "name must match"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[" WL("a", "zmount", "{}") ","
		 WL("a", "volume", "{}") "]}", ZE_MALFORMED, "\"a\" is used twice"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[" WL("a", "zdb", "{}") "]}",
		 ZE_UNSUPPORTED, "unknown type \"zdb\""},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[" WL("a", "zmount", "[]") "]}",
		 ZE_MALFORMED, "data must be an object"},
		{"{\"version\":0,\"twin_id\":7,\"workloads\":[" WL("a", "zmount", "{\"bad\":1}") "]}",
		 -EINVAL, "workload \"a\": invalid zmount data: bad is not allowed"},
		{"{\"version\":0,\"twin_id\":7,\"metadata\":5,\"workloads\":[]}", ZE_MALFORMED,
		 "metadata must be a string"},
		{longdoc, ZE_TOOBIG, "larger than"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dep_doc d;
		char why[256] = "";
		int rc = parse(cases[i].doc, 7, &d, why);
		if (rc != cases[i].rc || !strstr(why, cases[i].why))
			fail_msg("case %zu: rc %d why \"%s\"", i, rc, why);
		assert_null(d.root);
		assert_null(d.w);
	}
}

static void too_many_workloads(void **st)
{
	char *s = malloc(DEP_MAX_DOC);
	assert_non_null(s);
	size_t off = (size_t)snprintf(s, DEP_MAX_DOC, "{\"version\":0,\"twin_id\":7,\"workloads\":[");
	for (int i = 0; i <= DEP_MAX_WORKLOADS; i++)
		off += (size_t)snprintf(s + off, DEP_MAX_DOC - off,
					"%s{\"version\":0,\"name\":\"w%d\",\"type\":\"zmount\",\"data\":{}}",
					i ? "," : "", i);
	snprintf(s + off, DEP_MAX_DOC - off, "]}");
	struct dep_doc d;
	char why[256];
	assert_int_equal(parse(s, 7, &d, why), ZE_TOOBIG);
	assert_non_null(strstr(why, "more than"));
	free(s);
}

static void deep_nesting_is_refused(void **st)
{
	size_t n = 5000;
	char *s = malloc(2 * n + 1);
	assert_non_null(s);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = 0;
	struct dep_doc d;
	char why[256];
	assert_int_equal(parse(s, 7, &d, why), ZE_MALFORMED);
	free(s);
}

static void embedded_nul_is_refused(void **st)
{
	const char s[] = "{\"version\":0,\"twin_id\":7,\"workloads\":[]}\0junk";
	struct dep_doc d;
	char why[256];
	assert_int_equal(dep_parse(s, sizeof s - 1, 7, fake_lookup, &d, why, sizeof why),
			 ZE_MALFORMED);
}

static void names(void **st)
{
	assert_int_equal(dep_name_valid("a_Z09"), 0);
	assert_int_equal(dep_name_valid("123456789012345678901234567890123456"), 0);
	assert_int_equal(dep_name_valid("1234567890123456789012345678901234567"), -EINVAL);
	assert_int_equal(dep_name_valid(""), -EINVAL);
	assert_int_equal(dep_name_valid("a.b"), -EINVAL);
	assert_int_equal(dep_name_valid("é"), -EINVAL);
	struct prov_capacity a = {.cru = UINT64_MAX}, b = {.cru = 1};
	assert_int_equal(dep_cap_add(&a, &b), ZE_TOOBIG);
	assert_int_equal(a.cru, UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_document_in_install_order),
		cmocka_unit_test(hostile_documents_are_refused),
		cmocka_unit_test(too_many_workloads),
		cmocka_unit_test(deep_nesting_is_refused),
		cmocka_unit_test(embedded_nul_is_refused),
		cmocka_unit_test(names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
