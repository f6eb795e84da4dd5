/* Unit tests of zos-cli's TFT amounts (cli/grid_amount.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/grid.h"
#include "common/zerr.h"

/* "340282366920938463463374607431768211455", 2^128 - 1. */
#define U128_MAX (~(scale_u128)0)

static scale_u128 parse_ok(const char *s)
{
	scale_u128 v = 12345;
	assert_int_equal(cli_tft_parse(s, &v), 0);
	return v;
}

static void amount_parses_exactly(void **st)
{
	(void)st;
	assert_true(parse_ok("1.5") == 15000000);
	assert_true(parse_ok("1") == 10000000);
	assert_true(parse_ok("0") == 0);
	assert_true(parse_ok("0.0000001") == 1);
	assert_true(parse_ok("0.1") == 1000000);
	assert_true(parse_ok("000.5") == 5000000);
	assert_true(parse_ok("1000000") == (scale_u128)10000000000000ULL);
	assert_true(parse_ok("12.3456789") == 123456789);
	/* 0.1 + 0.2 is exactly 0.3 here: no floating point on the way. */
	assert_true(parse_ok("0.1") + parse_ok("0.2") == parse_ok("0.3"));
}

static void amount_rejects_bad_text(void **st)
{
	static const char *const bad[] = {"", "-1", "+1", "1.", ".5", " 1", "1 ", "1,5",
					  "1e3", "0x10", "1.2.3", "abc", "1.5TFT", "--", "1..5"};
	(void)st;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		scale_u128 v = 7;
		int rc = cli_tft_parse(bad[i], &v);
		if (rc != ZE_MALFORMED)
			fail_msg("'%s' gave %d, want ZE_MALFORMED", bad[i], rc);
		assert_true(v == 7); /* untouched on failure */
	}
	scale_u128 v;
	assert_int_equal(cli_tft_parse(NULL, &v), ZE_MALFORMED);
}

static void amount_rejects_more_than_7_decimals(void **st)
{
	scale_u128 v = 7;
	(void)st;
	assert_int_equal(cli_tft_parse("1.12345678", &v), -ERANGE);
	assert_int_equal(cli_tft_parse("0.00000001", &v), -ERANGE);
	/* Even trailing zeros: the amount must be written as the chain sees it. */
	assert_int_equal(cli_tft_parse("1.50000000", &v), -ERANGE);
	/* Junk after many decimals is malformed, not "too precise". */
	assert_int_equal(cli_tft_parse("1.12345678x", &v), ZE_MALFORMED);
	assert_true(v == 7);
}

static void amount_overflow_is_refused(void **st)
{
	scale_u128 v;
	char s[64];
	(void)st;
	/* The largest amount: (2^128 - 1) planck. */
	assert_int_equal(cli_tft_parse("34028236692093846346337460743176.82114550", &v), -ERANGE);
	assert_int_equal(cli_tft_parse("34028236692093846346337460743176.8211455", &v), 0);
	assert_true(v == U128_MAX);
	assert_int_equal(cli_tft_parse("34028236692093846346337460743176.8211456", &v),
			 ZE_TOOBIG);
	assert_int_equal(cli_tft_parse("34028236692093846346337460743177", &v), ZE_TOOBIG);
	assert_int_equal(cli_tft_parse("340282366920938463463374607431768211456", &v), ZE_TOOBIG);
	memset(s, '9', 60);
	s[60] = '\0';
	assert_int_equal(cli_tft_parse(s, &v), ZE_TOOBIG);
}

static void amount_formats_with_7_decimals(void **st)
{
	char out[CLI_TFT_STRLEN];
	(void)st;
	cli_tft_format(15000000, out);
	assert_string_equal(out, "1.5000000");
	cli_tft_format(0, out);
	assert_string_equal(out, "0.0000000");
	cli_tft_format(1, out);
	assert_string_equal(out, "0.0000001");
	cli_tft_format(9999999, out);
	assert_string_equal(out, "0.9999999");
	cli_tft_format(10000000, out);
	assert_string_equal(out, "1.0000000");
	cli_tft_format(123456789, out);
	assert_string_equal(out, "12.3456789");
	cli_tft_format(U128_MAX, out);
	assert_string_equal(out, "34028236692093846346337460743176.8211455");
}

static void amount_round_trips(void **st)
{
	static const scale_u128 vals[] = {0, 1, 9, 10, 9999999, 10000000, 10000001,
					  114400, 10000000000000ULL, U128_MAX, U128_MAX - 1};
	char out[CLI_TFT_STRLEN];
	(void)st;
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		scale_u128 v;
		cli_tft_format(vals[i], out);
		assert_int_equal(cli_tft_parse(out, &v), 0);
		assert_true(v == vals[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(amount_parses_exactly),
		cmocka_unit_test(amount_rejects_bad_text),
		cmocka_unit_test(amount_rejects_more_than_7_decimals),
		cmocka_unit_test(amount_overflow_is_refused),
		cmocka_unit_test(amount_formats_with_7_decimals),
		cmocka_unit_test(amount_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
