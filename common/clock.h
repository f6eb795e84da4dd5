/*
 * The clocks every module reads. Monotonic time measures intervals and
 * deadlines (it never jumps); wall time is unix time, for what is stored or
 * compared with other machines (timestamps on the chain, in RMB envelopes,
 * in the outbox). Values are signed so that differences are safe.
 */
#ifndef ZOS_COMMON_CLOCK_H
#define ZOS_COMMON_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

int64_t clk_mono_ms(void); /* CLOCK_MONOTONIC, milliseconds */
int64_t clk_mono_us(void); /* CLOCK_MONOTONIC, microseconds */
int64_t clk_wall_ms(void); /* CLOCK_REALTIME, unix milliseconds */
int64_t clk_wall_s(void);  /* CLOCK_REALTIME, unix seconds */
/* Any clock (CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID, ...) in nanoseconds,
 * and in seconds as a double: for measuring, as the benchmarks do. */
int64_t clk_ns(clockid_t clock);
double clk_seconds(clockid_t clock);

/* The time on clock (CLOCK_MONOTONIC or CLOCK_REALTIME) ms milliseconds from
 * now, normalised, for pthread_cond_timedwait and clock_nanosleep. */
struct timespec clk_after(clockid_t clock, int64_t ms);

/* Initialises *cv so that its timed waits run on CLOCK_MONOTONIC: a wait
 * bounded with clk_after(CLOCK_MONOTONIC, ms) then lasts ms whatever the
 * wall clock does (a wall clock stepped back would otherwise stretch a
 * CLOCK_REALTIME deadline by the step). Returns 0 or a negative errno. */
int clk_cond_init(pthread_cond_t *cv);

#endif
