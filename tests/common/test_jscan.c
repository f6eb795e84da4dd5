/* Unit tests of common/jscan.c: skipping values, finding a member, plain
 * integers, and agreement with cJSON on every prefix and one-byte change of
 * the texts the chain client routes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/jscan.h"
#include "common/zerr.h"

static int skip_all(const char *t)
{
	size_t pos = 0, n = strlen(t);
	int rc = jscan_skip(t, n, &pos);
	if (rc < 0)
		return rc;
	return jscan_peek(t, n, &pos) == -1 ? 0 : ZE_MALFORMED;
}

static void skips_every_kind_of_value(void **st)
{
	(void)st;
	const char *ok[] = {"0",
	                    "-0",
	                    "12",
	                    "-1.5",
	                    "2e10",
	                    "1E-3",
	                    "0.25e+2",
	                    "true",
	                    "false",
	                    "null",
	                    "\"\"",
	                    "\"a\tb\"",           /* a raw tab, as cJSON takes it */
	                    "\"\\ud83d\\ude00\"", /* a surrogate pair */
	                    "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\"",
	                    "[]",
	                    " [ 1 , [ ] , { } ] ",
	                    "{\"a\":{\"b\":[null,{\"c\":\"}\"}]}}"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_int_equal(skip_all(ok[i]), 0);
	const char *bad[] = {"",
	                     " ",
	                     "01",
	                     "-",
	                     "1.",
	                     ".5",
	                     "1e",
	                     "+1",
	                     "tru",
	                     "nul",
	                     "\"abc",
	                     "\"\\x\"",
	                     "\"\\u12G4\"",
	                     "\"\\ude00\"",
	                     "\"\\ud83d\"",
	                     "\"\\ud83d\\u0041\"",
	                     "[1,]",
	                     "[1 2]",
	                     "{\"a\"}",
	                     "{\"a\":1,}",
	                     "{a:1}",
	                     "{\"a\":1",
	                     "]",
	                     "[",
	                     "{\"a\":1}}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(skip_all(bad[i]), ZE_MALFORMED);
	/* Nesting is bounded: JSCAN_DEPTH arrays, not one more. */
	for (int d = JSCAN_DEPTH; d <= JSCAN_DEPTH + 1; d++) {
		char deep[2 * (JSCAN_DEPTH + 1) + 1];
		memset(deep, '[', (size_t)d);
		memset(deep + d, ']', (size_t)d);
		deep[2 * d] = '\0';
		assert_int_equal(skip_all(deep), d == JSCAN_DEPTH ? 0 : ZE_MALFORMED);
	}
	/* The text need not end with NUL: nothing past n is read. */
	const char unterminated[3] = {'"', 'a', '"'};
	size_t pos = 0;
	assert_int_equal(jscan_skip(unterminated, 2, &pos), ZE_MALFORMED);
	pos = 0;
	assert_int_equal(jscan_skip(unterminated, 3, &pos), 0);
	assert_int_equal(pos, 3);
}

static void finds_the_first_member_at_its_level(void **st)
{
	(void)st;
	const char *t = "{\"result\":{\"id\":1,\"x\":[\"id\"]},\"id\" : 42 ,\"id\":43}";
	size_t n = strlen(t), vs, ve;
	uint64_t v;
	assert_int_equal(jscan_member(t, n, 0, "id", &vs, &ve), 0);
	assert_int_equal(jscan_u64(t, vs, ve, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(jscan_member(t, n, 0, "result", &vs, &ve), 0);
	assert_memory_equal(t + vs, "{\"id\":1", 7);
	assert_int_equal(t[ve - 1], '}');
	assert_int_equal(jscan_member(t, n, 0, "nope", &vs, &ve), ZE_ABSENT);
	assert_int_equal(jscan_member("{}", 2, 0, "id", &vs, &ve), ZE_ABSENT);
	assert_int_equal(jscan_member("[1]", 3, 0, "id", &vs, &ve), ZE_MALFORMED);
	/* An escaped key is not compared: the caller falls back to cJSON. */
	const char *esc = "{\"\\u0069d\":5}";
	assert_int_equal(jscan_member(esc, strlen(esc), 0, "id", &vs, &ve), ZE_ABSENT);
	/* A value that does not end where a member may end is refused. */
	const char *lead = "{\"id\":01}";
	assert_int_equal(jscan_member(lead, strlen(lead), 0, "id", &vs, &ve), ZE_MALFORMED);
	const char *cut = "{\"a\":\"x\",\"id\":";
	assert_int_equal(jscan_member(cut, strlen(cut), 0, "id", &vs, &ve), ZE_MALFORMED);
}

static void integers_are_plain_digits(void **st)
{
	(void)st;
	uint64_t v = 7;
	const char *ok[] = {"0", "9007199254740992"};
	const uint64_t want[] = {0, 9007199254740992ull};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(jscan_u64(ok[i], 0, strlen(ok[i]), &v), 0);
		assert_int_equal(v, want[i]);
	}
	const char *bad[] = {
	    "", "-1", "1.0", "1e3", "01", "9007199254740993", "\"1\"", "null", "12345678901234567"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 7;
		assert_int_equal(jscan_u64(bad[i], 0, strlen(bad[i]), &v), ZE_MALFORMED);
		assert_int_equal(v, 7);
	}
}

/* What the scanner accepts whole, cJSON parses; an id it reads is cJSON's.
 * Checked on every prefix and every one-byte change (to a few bytes that
 * matter to JSON) of answers like the chain's. */
static void check_against_cjson(const char *t, size_t n)
{
	size_t pos = 0, vs, ve;
	int whole = jscan_skip(t, n, &pos) == 0 && jscan_peek(t, n, &pos) == -1;
	cJSON *j = cJSON_ParseWithLength(t, n);
	if (whole)
		assert_non_null(j);
	uint64_t id;
	if (j && jscan_member(t, n, 0, "id", &vs, &ve) == 0 && jscan_u64(t, vs, ve, &id) == 0) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "id");
		assert_true(cJSON_IsNumber(c));
		assert_true(c->valuedouble == (double)id);
	}
	cJSON_Delete(j);
}

static void agrees_with_cjson(void **st)
{
	(void)st;
	const char *texts[] = {
	    "{\"jsonrpc\":\"2.0\",\"result\":\"0x0c00\",\"id\":17}",
	    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"bad \\\"x\\\"\"},"
	    "\"id\":3}",
	    "[{\"jsonrpc\":\"2.0\",\"result\":{\"block\":{\"header\":{\"number\":\"0x1a\"},"
	    "\"extrinsics\":[\"0x280403000b\",\"0x00\"]},\"justifications\":null},\"id\":9},"
	    "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":10}]",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"chain_finalizedHead\",\"params\":"
	    "{\"subscription\":\"abc\",\"result\":{\"number\":\"0x10\",\"digest\":{\"logs\":[]}}}}",
	};
	const char subst[] = {'"', '\\', '{', '}', '[', ']', ',',
	                      ':', '0',  '1', '-', 'e', ' ', 'x'};
	for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
		size_t n = strlen(texts[k]);
		char *t = malloc(n);
		assert_non_null(t);
		for (size_t len = 0; len <= n; len++) {
			memcpy(t, texts[k], n);
			check_against_cjson(t, len);
		}
		for (size_t i = 0; i < n; i++)
			for (size_t s = 0; s < sizeof subst; s++) {
				memcpy(t, texts[k], n);
				t[i] = subst[s];
				check_against_cjson(t, n);
			}
		free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(skips_every_kind_of_value),
	    cmocka_unit_test(finds_the_first_member_at_its_level),
	    cmocka_unit_test(integers_are_plain_digits),
	    cmocka_unit_test(agrees_with_cjson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
