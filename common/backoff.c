/* Capped doubling retry delays with optional jitter (backoff.h). */
#include "common/backoff.h"

#include <sodium.h>

int64_t backoff_delay(int64_t base_ms, int64_t max_ms, unsigned attempt, int jitter)
{
	int64_t d = base_ms < 0 ? 0 : base_ms;
	if (max_ms < d)
		max_ms = d;
	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (jitter && d >= 4)
		d += (int64_t)randombytes_uniform((uint32_t)(d / 4 > UINT32_MAX ? UINT32_MAX : d / 4));
	return d;
}

void backoff_init(struct backoff *b, int64_t base_ms, int64_t max_ms, int jitter)
{
	b->base_ms = base_ms;
	b->max_ms = max_ms;
	b->jitter = jitter;
	b->attempt = 0;
}

int64_t backoff_next(struct backoff *b)
{
	int64_t d = backoff_delay(b->base_ms, b->max_ms, b->attempt, b->jitter);
	if (b->attempt < 64)
		b->attempt++;
	return d;
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
