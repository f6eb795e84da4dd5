/* Unit tests of common/clock and common/backoff: clock units and order, the
 * measuring clocks, monotonic condition variables, the capped doubling, the
 * jitter bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <sodium.h>

#include "common/backoff.h"
#include "common/clock.h"

static void clocks_agree_in_units(void **st)
{
	int64_t ms = clk_mono_ms(), us = clk_mono_us(), ms2 = clk_mono_ms();
	assert_true(ms <= ms2);
	/* The microsecond reading falls between the two millisecond ones. */
	assert_true(us / 1000 >= ms && us / 1000 <= ms2);

	int64_t ws = clk_wall_s(), wms = clk_wall_ms(), ws2 = clk_wall_s();
	assert_true(wms / 1000 >= ws && wms / 1000 <= ws2);
	/* Wall time is unix time: after 2020-01-01, before 2200. */
	assert_true(ws > 1577836800 && ws < 7258118400);
}

static void monotonic_clock_advances(void **st)
{
	int64_t a = clk_mono_us();
	struct timespec d = {0, 3000000};
	nanosleep(&d, NULL);
	int64_t b = clk_mono_us();
	assert_true(b - a >= 3000);
}

/* The measuring clocks read the same clock as the others, in their units;
 * thread CPU time advances with work, not with sleep. */
static void measuring_clocks(void **st)
{
	int64_t us = clk_mono_us();
	int64_t ns = clk_ns(CLOCK_MONOTONIC);
	double s = clk_seconds(CLOCK_MONOTONIC);
	int64_t us2 = clk_mono_us();
	assert_true(ns / 1000 >= us && ns / 1000 <= us2);
	assert_true((int64_t)(s * 1e6) >= us - 1 && (int64_t)(s * 1e6) <= us2 + 1);

	double c0 = clk_seconds(CLOCK_THREAD_CPUTIME_ID);
	struct timespec d = {0, 20000000};
	nanosleep(&d, NULL);
	double c1 = clk_seconds(CLOCK_THREAD_CPUTIME_ID);
	assert_true(c1 - c0 < 0.015);
	volatile uint64_t x = 0;
	while (clk_seconds(CLOCK_THREAD_CPUTIME_ID) - c1 < 0.002)
		x++;
	assert_true(x > 0);
}

static void after_is_normalised(void **st)
{
	struct timespec now, t;
	clock_gettime(CLOCK_MONOTONIC, &now);
	t = clk_after(CLOCK_MONOTONIC, 1999);
	assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
	int64_t diff = ((int64_t)t.tv_sec - now.tv_sec) * 1000 + (t.tv_nsec - now.tv_nsec) / 1000000;
	assert_true(diff >= 1999 && diff < 2100);
	/* A negative delay means now, not the past. */
	t = clk_after(CLOCK_MONOTONIC, -5000);
	assert_true(t.tv_sec >= now.tv_sec);
}

/* A condition variable from clk_cond_init waits until a CLOCK_MONOTONIC
 * deadline. Were it on the default wall clock, the monotonic deadline (the
 * machine's uptime) would lie decades in the past and the wait would end at
 * once. */
static void cond_waits_on_the_monotonic_clock(void **st)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	assert_int_equal(clk_cond_init(&cv), 0);
	pthread_mutex_lock(&mu);
	int64_t t0 = clk_mono_ms();
	struct timespec ts = clk_after(CLOCK_MONOTONIC, 60);
	int rc = 0;
	while (rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&cv, &mu, &ts);
	int64_t waited = clk_mono_ms() - t0;
	pthread_mutex_unlock(&mu);
	pthread_cond_destroy(&cv);
	assert_true(waited >= 59);
	assert_true(waited < 5000);
}

static void delay_doubles_up_to_the_cap(void **st)
{
	assert_int_equal(backoff_delay(100, 3200, 0, 0), 100);
	assert_int_equal(backoff_delay(100, 3200, 1, 0), 200);
	assert_int_equal(backoff_delay(100, 3200, 5, 0), 3200);
	assert_int_equal(backoff_delay(100, 3200, 6, 0), 3200);
	assert_int_equal(backoff_delay(100, 3000, 5, 0), 3000);
	/* Large attempt counts do not overflow. */
	assert_int_equal(backoff_delay(1000, 60000, 4000000000u, 0), 60000);
	/* A cap below the base means the base; a zero base stays zero. */
	assert_int_equal(backoff_delay(500, 100, 3, 0), 500);
	assert_int_equal(backoff_delay(0, 100, 3, 0), 0);
}

static void jitter_adds_at_most_a_quarter(void **st)
{
	int above = 0;
	for (int i = 0; i < 200; i++) {
		int64_t d = backoff_delay(1000, 60000, 2, 1);
		assert_true(d >= 4000 && d < 5000);
		above += d > 4000;
	}
	/* 200 draws from [0, 1000) all being 0 would mean no jitter at all. */
	assert_true(above > 0);
	/* Delays too small to split get none. */
	assert_int_equal(backoff_delay(3, 3, 0, 1), 3);
}

static void state_doubles_and_resets(void **st)
{
	struct backoff b;
	backoff_init(&b, 1000, 60000, 0);
	int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_int_equal(backoff_next(&b), want[i]);
	backoff_reset(&b);
	assert_int_equal(backoff_next(&b), 1000);
	/* Many failures in a row stay at the cap. */
	for (int i = 0; i < 1000; i++)
		backoff_next(&b);
	assert_int_equal(backoff_next(&b), 60000);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(clocks_agree_in_units),
	    cmocka_unit_test(monotonic_clock_advances),
	    cmocka_unit_test(measuring_clocks),
	    cmocka_unit_test(after_is_normalised),
	    cmocka_unit_test(cond_waits_on_the_monotonic_clock),
	    cmocka_unit_test(delay_doubles_up_to_the_cap),
	    cmocka_unit_test(jitter_adds_at_most_a_quarter),
	    cmocka_unit_test(state_doubles_and_resets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
