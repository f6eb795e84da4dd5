/* Unit tests of common/: buffers, hex, error names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/hex.h"
#include "common/jnum.h"
#include "common/num.h"
#include "common/utf8.h"
#include "common/zerr.h"

static void buf_cap_is_enforced(void **st)
{
	struct zbuf b;
	zbuf_init(&b, 8);
	assert_int_equal(zbuf_put(&b, "12345678", 8), 0);
	assert_int_equal(zbuf_putc(&b, 'x'), ZE_TOOBIG);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "12345678", 8);
	zbuf_free(&b);
}

/* A bounded array grows by doubling and refuses index max, unchanged. */
static void buf_grows_arrays_to_a_bound(void **state)
{
	(void)state;
	uint32_t *v = NULL;
	size_t cap = 0;
	for (size_t n = 0; n < 300; n++) {
		assert_int_equal(zbuf_grow_array((void **)&v, &cap, n, sizeof *v, 300), 0);
		v[n] = (uint32_t)n;
	}
	assert_int_equal(cap, 512);
	assert_int_equal(zbuf_grow_array((void **)&v, &cap, 300, sizeof *v, 300), 0);
	assert_int_equal(zbuf_grow_array((void **)&v, &cap, 512, sizeof *v, 512), ZE_TOOBIG);
	assert_int_equal(cap, 512);
	assert_int_equal(v[299], 299);
	free(v);
}

static void buf_grows_and_steals(void **st)
{
	struct zbuf b;
	zbuf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(zbuf_putc(&b, (uint8_t)i), 0);
	assert_int_equal(zbuf_cstr(&b), 0);
	size_t n;
	uint8_t *p = zbuf_steal(&b, &n);
	assert_int_equal(n, 1000);
	assert_int_equal(p[999], (uint8_t)999);
	assert_null(b.data);
	free(p);
}

static void hex_round_trip(void **st)
{
	uint8_t in[] = {0x00, 0x01, 0xab, 0xff}, out[4];
	char s[16];
	assert_int_equal(hex_encode(in, 4, 1, s, sizeof s), 0);
	assert_string_equal(s, "0x0001abff");
	assert_int_equal(hex_decode_fixed(s, out, 4), 0);
	assert_memory_equal(in, out, 4);
	assert_int_equal(hex_decode_fixed("0001ABFF", out, 4), 0);
	assert_memory_equal(in, out, 4);
	assert_int_equal(hex_encode(in, 4, 1, s, 10), -ENOSPC);
}

static void hex_rejects_bad_input(void **st)
{
	uint8_t out[4], *p;
	size_t n;
	assert_int_equal(hex_decode_fixed("0x0001abf", out, 4), ZE_MALFORMED);
	assert_int_equal(hex_decode_fixed("0x0001abfg", out, 4), ZE_MALFORMED);
	assert_int_equal(hex_decode_alloc("0xabc", 10, &p, &n), ZE_MALFORMED);
	assert_int_equal(hex_decode_alloc("0xabcd", 1, &p, &n), ZE_TOOBIG);
	assert_int_equal(hex_decode_alloc("0x", 1, &p, &n), 0);
	assert_int_equal(n, 0);
	free(p);
}

/* Every byte as a digit: only the 22 hex digits decode, to their values;
 * a span decodes its length only. */
static void hex_digits_are_exact(void **st)
{
	(void)st;
	int taken = 0;
	for (int c = 0; c < 256; c++) {
		char s[3] = {'0', (char)c, '\0'};
		uint8_t v;
		int rc = hex_decode_fixed(s, &v, 1);
		int want = (c >= '0' && c <= '9') ? c - '0'
			   : (c >= 'a' && c <= 'f') ? c - 'a' + 10
			   : (c >= 'A' && c <= 'F') ? c - 'A' + 10
						    : -1;
		if (want < 0 || c == 0) {
			assert_int_equal(rc, ZE_MALFORMED);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(v, want);
		taken++;
	}
	assert_int_equal(taken, 22);
	uint8_t *p;
	size_t n;
	assert_int_equal(hex_decode_span("0xa1b2zz", 6, 8, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(p[0], 0xa1);
	assert_int_equal(p[1], 0xb2);
	free(p);
	assert_int_equal(hex_decode_span("0x", 1, 8, &p, &n), ZE_MALFORMED);
}

static void errors_have_names(void **st)
{
	assert_string_equal(zerr_str(ZE_ABSENT), "absent on chain");
	assert_string_equal(zerr_str(-ENOENT), strerror(ENOENT));
	assert_true(zerr_transient(ZE_UNKNOWN));
	assert_false(zerr_transient(ZE_ABSENT));
}

static void file_read_is_bounded(void **st)
{
	char path[] = "/tmp/test_file.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	uint8_t *p = NULL;
	size_t n = 0;
	assert_int_equal(zfile_read(path, 10, &p, &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal((char *)p, "0123456789");
	free(p);
	p = NULL;
	assert_int_equal(zfile_read(path, 9, &p, &n), ZE_TOOBIG);
	assert_null(p);
	unlink(path);
	assert_int_equal(zfile_read(path, 9, &p, &n), -ENOENT);
	assert_int_equal(zfile_read("/tmp", 9, &p, &n), -EISDIR);
	/* A file larger than the first read buffer grows it. */
	char path2[] = "/tmp/test_file.XXXXXX";
	fd = mkstemp(path2);
	assert_true(fd >= 0);
	static char big[10000];
	memset(big, 'x', sizeof big);
	assert_int_equal(write(fd, big, sizeof big), (ssize_t)sizeof big);
	close(fd);
	assert_int_equal(zfile_read(path2, 1 << 20, &p, &n), 0);
	assert_int_equal(n, sizeof big);
	assert_int_equal(p[n], 0);
	free(p);
	unlink(path2);
}

static void jnum_refuses_non_integers(void **st)
{
	uint64_t v = 77;
	uint32_t w = 77;
	const char *bad[] = {"1.5", "-1", "-0.5", "1e300", "9007199254740993.5", "\"5\"", "null",
			     "true", "[1]"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cJSON *j = cJSON_Parse(bad[i]);
		assert_non_null(j);
		assert_int_equal(jnum_u64(j, UINT64_MAX, &v), ZE_MALFORMED);
		assert_int_equal(jnum_u32(j, &w), ZE_MALFORMED);
		cJSON_Delete(j);
	}
	assert_int_equal(v, 77);
	assert_int_equal(jnum_u64(NULL, 10, &v), ZE_MALFORMED);
	cJSON *j = cJSON_Parse("4294967296");
	assert_int_equal(jnum_u32(j, &w), ZE_MALFORMED);
	assert_int_equal(jnum_u64(j, UINT64_MAX, &v), 0);
	assert_int_equal(v, 4294967296ull);
	assert_int_equal(jnum_u64(j, 100, &v), ZE_MALFORMED);
	cJSON_Delete(j);
	j = cJSON_Parse("1.0"); /* the same double as 1: a converter cannot tell */
	assert_int_equal(jnum_u32(j, &w), 0);
	assert_int_equal(w, 1);
	cJSON_Delete(j);
	j = cJSON_Parse("9007199254740992");
	assert_int_equal(jnum_u64(j, UINT64_MAX, &v), 0);
	cJSON_Delete(j);
}

static void jnum_signed_and_decimal_strings(void **st)
{
	int64_t i = 5;
	uint64_t v = 5;
	const char *bad_i[] = {"1.5", "-0.5", "9007199254740994", "-9007199254740994", "\"1\"", "null"};
	for (size_t k = 0; k < sizeof bad_i / sizeof *bad_i; k++) {
		cJSON *j = cJSON_Parse(bad_i[k]);
		assert_non_null(j);
		assert_int_equal(jnum_i64(j, &i), ZE_MALFORMED);
		cJSON_Delete(j);
	}
	assert_int_equal(i, 5);
	cJSON *j = cJSON_Parse("-9007199254740992");
	assert_int_equal(jnum_i64(j, &i), 0);
	assert_true(i == -9007199254740992ll);
	cJSON_Delete(j);

	const char *bad_u[] = {"\"\"", "\"-1\"", "\" 1\"", "\"0x10\"", "\"18446744073709551616\"",
			       "\"000000000000000000001\"", "1.5", "-1", "true"};
	for (size_t k = 0; k < sizeof bad_u / sizeof *bad_u; k++) {
		j = cJSON_Parse(bad_u[k]);
		assert_non_null(j);
		assert_int_equal(jnum_u64_dec(j, &v), ZE_MALFORMED);
		cJSON_Delete(j);
	}
	assert_int_equal(v, 5);
	j = cJSON_Parse("\"18446744073709551615\"");
	assert_int_equal(jnum_u64_dec(j, &v), 0);
	assert_true(v == UINT64_MAX);
	cJSON_Delete(j);
	j = cJSON_Parse("42");
	assert_int_equal(jnum_u64_dec(j, &v), 0);
	assert_int_equal(v, 42);
	cJSON_Delete(j);
	j = cJSON_Parse("\"0\"");
	assert_int_equal(jnum_u64_dec(j, &v), 0);
	assert_int_equal(v, 0);
	cJSON_Delete(j);
}

static void num_takes_only_digits(void **st)
{
	uint64_t v = 7;
	const char *bad[] = {"", "-1", "+1", " 1", "1 ", "0x10", "1.0", "1e3", "18446744073709551616"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(num_u64(bad[i], UINT64_MAX, &v), -EINVAL);
	assert_int_equal(num_u64(NULL, 10, &v), -EINVAL);
	assert_int_equal(v, 7);
	assert_int_equal(num_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(num_u64("007", 10, &v), 0);
	assert_int_equal(v, 7);
	/* The bound holds for single digits too (9 > 5), and at the edge. */
	assert_int_equal(num_u64("9", 5, &v), -EINVAL);
	assert_int_equal(num_u64("65535", 65535, &v), 0);
	assert_int_equal(num_u64("65536", 65535, &v), -EINVAL);
	assert_int_equal(num_u64("0", 0, &v), 0);
	assert_int_equal(v, 0);
}

static void utf8_validation(void **st)
{
	assert_true(utf8_valid("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 17));
	assert_false(utf8_valid("\xff", 1));
	assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(utf8_valid("\xe2\x82", 2));         /* cut */
	assert_true(utf8_valid("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_cap_is_enforced), cmocka_unit_test(buf_grows_and_steals),
		cmocka_unit_test(buf_grows_arrays_to_a_bound),
		cmocka_unit_test(hex_round_trip),      cmocka_unit_test(hex_rejects_bad_input),
		cmocka_unit_test(hex_digits_are_exact),
		cmocka_unit_test(errors_have_names),    cmocka_unit_test(file_read_is_bounded),
		cmocka_unit_test(jnum_refuses_non_integers),
		cmocka_unit_test(jnum_signed_and_decimal_strings), cmocka_unit_test(num_takes_only_digits),
		cmocka_unit_test(utf8_validation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
