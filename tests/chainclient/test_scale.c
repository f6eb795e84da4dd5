/* Unit tests of the SCALE primitives: parity-scale-codec's compact table,
 * minimality, bounds and the u128 helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/scale.h"
#include "common/hex.h"
#include "common/zerr.h"

/* Decodes hex (spaces allowed) into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	char tmp[512];
	size_t n = 0;
	for (; *s; s++)
		if (*s != ' ') {
			assert_true(n < sizeof tmp - 1);
			tmp[n++] = *s;
		}
	tmp[n] = 0;
	assert_true(n / 2 <= max);
	assert_int_equal(hex_decode_fixed(tmp, out, n / 2), 0);
	return n / 2;
}

/* The table of parity-scale-codec's compact_64_encoding_works test. */
static const struct {
	uint64_t v;
	const char *hex;
} compact_table[] = {
	{0, "00"},
	{63, "fc"},
	{64, "01 01"},
	{16383, "fd ff"},
	{16384, "02 00 01 00"},
	{1073741823, "fe ff ff ff"},
	{1073741824, "03 00 00 00 40"},
	{(1ull << 32) - 1, "03 ff ff ff ff"},
	{1ull << 32, "07 00 00 00 00 01"},
	{1ull << 40, "0b 00 00 00 00 00 01"},
	{1ull << 48, "0f 00 00 00 00 00 00 01"},
	{(1ull << 56) - 1, "0f ff ff ff ff ff ff ff"},
	{1ull << 56, "13 00 00 00 00 00 00 00 01"},
	{UINT64_MAX, "13 ff ff ff ff ff ff ff ff"},
};

static void compact_table_round_trips(void **st)
{
	for (size_t i = 0; i < sizeof compact_table / sizeof compact_table[0]; i++) {
		uint8_t want[32];
		size_t n = unhex(compact_table[i].hex, want, sizeof want);
		struct zbuf b;
		zbuf_init(&b, 0);
		assert_int_equal(scale_put_compact(&b, compact_table[i].v), 0);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, want, n);

		struct scale_rd r;
		uint64_t v;
		scale_rd_init(&r, want, n);
		assert_int_equal(scale_get_compact(&r, &v), 0);
		assert_true(v == compact_table[i].v);
		assert_int_equal(scale_rd_left(&r), 0);
		/* Every strict prefix is truncated input. */
		for (size_t k = 0; k < n; k++) {
			scale_rd_init(&r, want, k);
			assert_int_equal(scale_get_compact(&r, &v), ZE_MALFORMED);
			assert_int_equal(r.off, 0);
		}
		zbuf_free(&b);
	}
}

static void compact128_extremes(void **st)
{
	uint8_t want[17], *p = want;
	unhex("33 ffffffffffffffffffffffffffffffff", want, sizeof want);
	struct zbuf b;
	zbuf_init(&b, 0);
	scale_u128 max = ~(scale_u128)0;
	assert_int_equal(scale_put_compact128(&b, max), 0);
	assert_int_equal(b.len, 17);
	assert_memory_equal(b.data, want, 17);

	struct scale_rd r;
	scale_u128 v;
	scale_rd_init(&r, p, 17);
	assert_int_equal(scale_get_compact128(&r, &v), 0);
	assert_true(v == max);
	/* Too large for a u64, but well formed. */
	uint64_t v64;
	scale_rd_init(&r, p, 17);
	assert_int_equal(scale_get_compact(&r, &v64), ZE_TOOBIG);
	zbuf_free(&b);
}

static void compact_rejects_non_minimal(void **st)
{
	static const char *bad[] = {
		"01 00",          /* 0 in two bytes */
		"fd 00",          /* 63 in two bytes */
		"02 00 00 00",    /* 0 in four bytes */
		"fe ff 00 00",    /* 16383 in four bytes */
		"03 ff ff ff 3f", /* 2^30-1 in big mode */
		"07 00 00 00 40 00", /* trailing zero byte */
		"37 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff", /* 17 bytes */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t in[32];
		size_t n = unhex(bad[i], in, sizeof in);
		struct scale_rd r;
		uint64_t v;
		scale_u128 w;
		scale_rd_init(&r, in, n);
		int rc = scale_get_compact(&r, &v);
		assert_true(rc == ZE_MALFORMED || rc == ZE_TOOBIG);
		assert_int_equal(r.off, 0);
		scale_rd_init(&r, in, n);
		rc = scale_get_compact128(&r, &w);
		assert_true(rc == ZE_MALFORMED || rc == ZE_TOOBIG);
	}
}

static void fixed_ints_are_little_endian(void **st)
{
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(scale_put_u8(&b, 0x01), 0);
	assert_int_equal(scale_put_u16(&b, 0x0302), 0);
	assert_int_equal(scale_put_u32(&b, 0x07060504), 0);
	assert_int_equal(scale_put_u64(&b, 0x0f0e0d0c0b0a0908ull), 0);
	scale_u128 big = ((scale_u128)0x1f1e1d1c1b1a1918ull << 64) | 0x1716151413121110ull;
	assert_int_equal(scale_put_u128(&b, big), 0);
	assert_int_equal(scale_put_bool(&b, 7), 0);
	assert_int_equal(b.len, 32);
	for (size_t i = 0; i < 31; i++)
		assert_int_equal(b.data[i], i + 1);
	assert_int_equal(b.data[31], 1);

	struct scale_rd r;
	uint8_t a;
	uint16_t c;
	uint32_t d;
	uint64_t e;
	scale_u128 f;
	int g;
	scale_rd_init(&r, b.data, b.len);
	assert_int_equal(scale_get_u8(&r, &a), 0);
	assert_int_equal(scale_get_u16(&r, &c), 0);
	assert_int_equal(scale_get_u32(&r, &d), 0);
	assert_int_equal(scale_get_u64(&r, &e), 0);
	assert_int_equal(scale_get_u128(&r, &f), 0);
	assert_int_equal(scale_get_bool(&r, &g), 0);
	assert_int_equal(a, 1);
	assert_int_equal(c, 0x0302);
	assert_int_equal(d, 0x07060504);
	assert_true(e == 0x0f0e0d0c0b0a0908ull);
	assert_true(f == big);
	assert_int_equal(g, 1);
	assert_int_equal(scale_get_u8(&r, &a), ZE_MALFORMED);
	zbuf_free(&b);
}

static void short_input_never_over_reads(void **st)
{
	/* A heap copy of exact size lets ASan catch any over-read. */
	uint8_t *p = malloc(3);
	assert_non_null(p);
	memcpy(p, "\x01\x02\x03", 3);
	struct scale_rd r;
	uint32_t d;
	uint64_t e;
	scale_u128 f;
	uint8_t out[4];
	const uint8_t *view;
	scale_rd_init(&r, p, 3);
	assert_int_equal(scale_get_u32(&r, &d), ZE_MALFORMED);
	assert_int_equal(scale_get_u64(&r, &e), ZE_MALFORMED);
	assert_int_equal(scale_get_u128(&r, &f), ZE_MALFORMED);
	assert_int_equal(scale_get_bytes(&r, out, 4), ZE_MALFORMED);
	assert_int_equal(scale_get_view(&r, 4, &view), ZE_MALFORMED);
	assert_int_equal(scale_skip(&r, 4), ZE_MALFORMED);
	assert_int_equal(r.off, 0);
	assert_int_equal(scale_get_view(&r, 3, &view), 0);
	assert_ptr_equal(view, p);
	free(p);

	uint8_t two = 2;
	int bv;
	scale_rd_init(&r, &two, 1);
	assert_int_equal(scale_get_bool(&r, &bv), ZE_MALFORMED);
}

static void vec_lengths_are_bounded(void **st)
{
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(scale_put_vec_u8(&b, (const uint8_t *)"hello", 5), 0);
	assert_int_equal(b.len, 6);
	assert_int_equal(b.data[0], 5 << 2);

	struct scale_rd r;
	const uint8_t *p;
	size_t n;
	scale_rd_init(&r, b.data, b.len);
	assert_int_equal(scale_get_vec_u8(&r, 4, &p, &n), ZE_TOOBIG);
	assert_int_equal(r.off, 0);
	assert_int_equal(scale_get_vec_u8(&r, 5, &p, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "hello", 5);

	/* A length claiming more items than the input can hold. */
	uint8_t claim[] = {0x02, 0x00, 0x01, 0x00, 0xaa};
	size_t len;
	scale_rd_init(&r, claim, sizeof claim);
	assert_int_equal(scale_get_len(&r, SIZE_MAX, 1, &len), ZE_MALFORMED);
	scale_rd_init(&r, claim, sizeof claim);
	assert_int_equal(scale_get_len(&r, 100, 1, &len), ZE_TOOBIG);
	uint8_t two[] = {0x08, 0xaa, 0xbb, 0xcc};
	scale_rd_init(&r, two, sizeof two);
	assert_int_equal(scale_get_len(&r, 10, 2, &len), ZE_MALFORMED);
	scale_rd_init(&r, two, sizeof two);
	assert_int_equal(scale_get_len(&r, 10, 1, &len), 0);
	assert_int_equal(len, 2);
	/* Zero-sized items: only the max bounds the count. */
	scale_rd_init(&r, claim, 4);
	assert_int_equal(scale_get_len(&r, SIZE_MAX, 0, &len), 0);
	assert_int_equal(len, 16384);
	zbuf_free(&b);
}

static void output_cap_is_enforced(void **st)
{
	struct zbuf b;
	zbuf_init(&b, 4);
	assert_int_equal(scale_put_u32(&b, 1), 0);
	assert_int_equal(scale_put_u8(&b, 1), ZE_TOOBIG);
	zbuf_reset(&b);
	assert_int_equal(scale_put_u8(&b, 9), 0);
	assert_int_equal(scale_put_vec_u8(&b, (const uint8_t *)"abcd", 4), ZE_TOOBIG);
	assert_int_equal(b.len, 1);
	zbuf_free(&b);
}

static void u128_text(void **st)
{
	char s[40];
	scale_u128 v;
	scale_u128_str(0, s);
	assert_string_equal(s, "0");
	scale_u128_str(~(scale_u128)0, s);
	assert_string_equal(s, "340282366920938463463374607431768211455");
	assert_int_equal(scale_u128_parse(s, &v), 0);
	assert_true(v == ~(scale_u128)0);
	assert_int_equal(scale_u128_parse("340282366920938463463374607431768211456", &v),
			 ZE_MALFORMED);
	assert_int_equal(scale_u128_parse("", &v), ZE_MALFORMED);
	assert_int_equal(scale_u128_parse("-1", &v), ZE_MALFORMED);
	assert_int_equal(scale_u128_parse("12a", &v), ZE_MALFORMED);
	assert_int_equal(scale_u128_parse("10000000", &v), 0);
	assert_true(v == 10000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compact_table_round_trips),
		cmocka_unit_test(compact128_extremes),
		cmocka_unit_test(compact_rejects_non_minimal),
		cmocka_unit_test(fixed_ints_are_little_endian),
		cmocka_unit_test(short_input_never_over_reads),
		cmocka_unit_test(vec_lengths_are_bounded),
		cmocka_unit_test(output_cap_is_enforced),
		cmocka_unit_test(u128_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
