/* Billing arithmetic (devchain/billing.c) against hand-computed bills and
 * an independent exact recomputation of docs/billing.md's formulas. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/zerr.h"
#include "devchain/billing.h"

#define GIB (1ull << 30)

/* tfchain's genesis pricing policy: su 50000, cu 100000, nu 15000,
 * ipu 40000 units USD, all in Gigabytes. */
static const struct dev_bill_prices tfchain_prices = {
	.su = {50000, DEV_UNIT_GIGABYTES},
	.cu = {100000, DEV_UNIT_GIGABYTES},
	.nu = {15000, DEV_UNIT_GIGABYTES},
	.ipu = {40000, DEV_UNIT_GIGABYTES},
};

static uint64_t cost(const struct dev_bill_prices *p, struct dev_bill_usage u)
{
	uint64_t units = 0;
	assert_int_equal(dev_bill_cost_units(p, &u, &units), 0);
	return units;
}

static void test_unit_factors(void **state)
{
	(void)state;
	assert_int_equal(dev_unit_factor_1024(DEV_UNIT_BYTES), 1);
	assert_int_equal(dev_unit_factor_1024(DEV_UNIT_KILOBYTES), 1024);
	assert_int_equal(dev_unit_factor_1024(DEV_UNIT_GIGABYTES), GIB);
	assert_int_equal(dev_unit_factor_1024(DEV_UNIT_TERRABYTES), 1ull << 40);
	assert_int_equal(dev_unit_factor_1024(5), 0);
	assert_int_equal(dev_unit_factor_1000(DEV_UNIT_GIGABYTES), 1000000000ull);
	assert_int_equal(dev_unit_factor_1000(DEV_UNIT_TERRABYTES), 1000000000000ull);
	assert_int_equal(dev_unit_factor_1000(5), 0);
}

static void test_cu_formula(void **state)
{
	(void)state;
	/* cru 4, mru 2 GiB: min(max(.5, 2), max(.25, 4), max(1, 1)) = 1 */
	assert_true(dev_bill_cu_scaled(4, 2 * GIB, DEV_UNIT_GIGABYTES) == (scale_u128)8 * GIB);
	/* cru 1, mru 16 GiB: min(max(4, .5), max(2, 1), max(8, .25)) = 2 */
	assert_true(dev_bill_cu_scaled(1, 16 * GIB, DEV_UNIT_GIGABYTES) ==
		    (scale_u128)16 * GIB);
	/* cru 2, mru 4 GiB: min(max(1, 1), max(.5, 2), max(2, .5)) = 1 */
	assert_true(dev_bill_cu_scaled(2, 4 * GIB, DEV_UNIT_GIGABYTES) == (scale_u128)8 * GIB);
	/* cru 1, no memory: min(.5, 1, .25) = .25 */
	assert_true(dev_bill_cu_scaled(1, 0, DEV_UNIT_GIGABYTES) == (scale_u128)2 * GIB);
	assert_true(dev_bill_cu_scaled(0, 0, DEV_UNIT_GIGABYTES) == 0);
}

static void test_hand_computed(void **state)
{
	(void)state;
	/* su = 100/200 = .5 -> 25000/h; cu = 1 -> 100000/h; one hour;
	 * nu = 1 GB * 15000. Total 125000 + 15000. */
	assert_int_equal(cost(&tfchain_prices, (struct dev_bill_usage){.cru = 2,
								       .mru = 4 * GIB,
								       .sru = 100 * GIB,
								       .nru = 1000000000ull,
								       .window = 3600}),
			 140000);
	/* su = .5 + 1200/1200 = 1.5 -> 75000/h, cu 1 -> 100000/h, one IP
	 * 40000/h: 215000/h for 60 s = 3583.33.. rounded up. */
	assert_int_equal(cost(&tfchain_prices, (struct dev_bill_usage){.cru = 2,
								       .mru = 4 * GIB,
								       .sru = 100 * GIB,
								       .hru = 1200 * GIB,
								       .public_ips = 1,
								       .window = 60}),
			 3584);
	/* cu .25 -> 25000/h for one second = 6.94.. -> 7. */
	assert_int_equal(cost(&tfchain_prices, (struct dev_bill_usage){.cru = 1, .window = 1}),
			 7);
	/* Nothing used, nothing billed; traffic alone is not time-bound. */
	assert_int_equal(cost(&tfchain_prices, (struct dev_bill_usage){.window = 3600}), 0);
	assert_int_equal(cost(&tfchain_prices, (struct dev_bill_usage){.nru = 1}), 1);
	assert_int_equal(cost(&tfchain_prices, (struct dev_bill_usage){.nru = 2000000000ull}),
			 30000);
}

static void test_mixed_units(void **state)
{
	(void)state;
	/* su in MiB: 1200 MiB of hdd = 1 su -> 1000/h. cu in KiB: cru 1 and
	 * 4 KiB -> min(max(1, .5), max(.5, 1), max(2, .25)) = 1 -> 3600/h. */
	struct dev_bill_prices p = {
		.su = {1000, DEV_UNIT_MEGABYTES},
		.cu = {3600, DEV_UNIT_KILOBYTES},
		.nu = {1, DEV_UNIT_BYTES},
		.ipu = {0, DEV_UNIT_GIGABYTES},
	};
	assert_int_equal(cost(&p, (struct dev_bill_usage){.hru = 1200ull << 20,
							   .cru = 1,
							   .mru = 4096,
							   .nru = 5,
							   .window = 3600}),
			 4605);
}

static void test_errors(void **state)
{
	(void)state;
	struct dev_bill_prices p = tfchain_prices;
	struct dev_bill_usage u = {.cru = 1, .window = 1};
	uint64_t units;

	p.cu.unit = DEV_UNIT_COUNT;
	assert_int_equal(dev_bill_cost_units(&p, &u, &units), -EINVAL);
	p = tfchain_prices;
	p.nu.unit = 9;
	assert_int_equal(dev_bill_cost_units(&p, &u, &units), -EINVAL);
	u = (struct dev_bill_usage){.hru = UINT64_MAX, .sru = UINT64_MAX, .window = UINT64_MAX};
	assert_int_equal(dev_bill_cost_units(&tfchain_prices, &u, &units), -EOVERFLOW);
	u = (struct dev_bill_usage){.nru = UINT64_MAX};
	p = tfchain_prices;
	p.nu = (struct dev_policy){UINT32_MAX, DEV_UNIT_BYTES};
	assert_int_equal(dev_bill_cost_units(&p, &u, &units), -EOVERFLOW);
}

static void test_to_planck(void **state)
{
	(void)state;
	scale_u128 planck;
	assert_int_equal(dev_bill_units_to_planck(1, 0, &planck), -EINVAL);
	/* 140000 units = 0.014 USD = 0.28 TFT at 0.05 USD. */
	assert_int_equal(dev_bill_units_to_planck(140000, 50, &planck), 0);
	assert_true(planck == 2800000);
	assert_int_equal(dev_bill_units_to_planck(1, 3, &planck), 0);
	assert_true(planck == 333); /* rounded down */
	assert_int_equal(dev_bill_units_to_planck(UINT64_MAX, 1, &planck), 0);
	assert_true(planck == (scale_u128)UINT64_MAX * 1000);
}

static void test_report_window(void **state)
{
	(void)state;
	uint64_t w = 0;
	assert_int_equal(dev_bill_report_window(100, 100, 200, &w), ZE_STATE);
	assert_int_equal(dev_bill_report_window(100, 50, 200, &w), ZE_STATE);
	assert_int_equal(dev_bill_report_window(100, 201, 200, &w), ZE_TOOBIG);
	assert_int_equal(dev_bill_report_window(100, 150, 200, &w), 0);
	assert_int_equal(w, 50);
	assert_int_equal(dev_bill_report_window(100, 200, 200, &w), 0);
	assert_int_equal(w, 100);
}

/* The formulas of docs/billing.md evaluated with the plain (not least)
 * common denominator 3600 * 1200 F_su * 8 F_cu, GiB units. */
static uint64_t reference(const struct dev_bill_prices *p, const struct dev_bill_usage *u)
{
	scale_u128 fsu = GIB, fcu = GIB;
	scale_u128 m = u->mru, cf = (scale_u128)u->cru * fcu;
	scale_u128 a = 2 * m > 4 * cf ? 2 * m : 4 * cf;
	scale_u128 b = m > 8 * cf ? m : 8 * cf;
	scale_u128 c = 4 * m > 2 * cf ? 4 * m : 2 * cf;
	scale_u128 cu8 = a < b ? (a < c ? a : c) : (b < c ? b : c);
	scale_u128 den = (scale_u128)3600 * 1200 * fsu * 8 * fcu;
	scale_u128 num = (scale_u128)p->su.value * u->window *
				 ((scale_u128)u->hru + 6 * (scale_u128)u->sru) * 8 * fcu +
			 (scale_u128)p->cu.value * u->window * cu8 * 1200 * fsu +
			 (scale_u128)p->ipu.value * u->public_ips * u->window * 1200 * fsu * 8 *
				 fcu;
	scale_u128 res = (num + den - 1) / den;
	scale_u128 nu = ((scale_u128)u->nru * p->nu.value + 999999999) / 1000000000;
	return (uint64_t)(res + nu);
}

static void test_against_reference(void **state)
{
	(void)state;
	/* A fixed seed: the same inputs on every run. */
	srandom(42);
	for (int i = 0; i < 2000; i++) {
		struct dev_bill_usage u = {
			.cru = (uint64_t)(random() % 64),
			.mru = (uint64_t)random() % (512 * GIB),
			.sru = (uint64_t)random() % (4096 * GIB),
			.hru = ((uint64_t)random() << 12) % (16384 * GIB),
			.nru = (uint64_t)random() * 1000,
			.public_ips = (uint32_t)(random() % 4),
			.window = (uint64_t)(random() % 100000),
		};
		assert_int_equal(cost(&tfchain_prices, u), reference(&tfchain_prices, &u));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unit_factors),   cmocka_unit_test(test_cu_formula),
		cmocka_unit_test(test_hand_computed),  cmocka_unit_test(test_mixed_units),
		cmocka_unit_test(test_errors),	       cmocka_unit_test(test_to_planck),
		cmocka_unit_test(test_report_window),  cmocka_unit_test(test_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
