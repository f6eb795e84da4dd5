/*
 * The one retry delay: capped doubling. The attempt-th retry (0 for the
 * first) waits base_ms * 2^attempt, at most max_ms; with jitter, up to a
 * quarter more is added at random so that many retries started together
 * drift apart. Callers that keep state between retries use struct backoff;
 * callers that count attempts themselves call backoff_delay().
 */
#ifndef ZOS_COMMON_BACKOFF_H
#define ZOS_COMMON_BACKOFF_H

#include <stdint.h>

/* base_ms * 2^attempt capped at max_ms (max_ms below base_ms means
 * base_ms), plus up to a quarter of jitter when jitter is non-zero. */
int64_t backoff_delay(int64_t base_ms, int64_t max_ms, unsigned attempt, int jitter);

struct backoff {
	int64_t base_ms, max_ms;
	int jitter;
	unsigned attempt; /* retries since the last reset */
};

/* A backoff whose next delay is base_ms. */
void backoff_init(struct backoff *b, int64_t base_ms, int64_t max_ms, int jitter);
/* The delay to wait now; the one after it doubles (up to max_ms). */
int64_t backoff_next(struct backoff *b);
/* After a success: the next delay is base_ms again. */
void backoff_reset(struct backoff *b);

#endif
