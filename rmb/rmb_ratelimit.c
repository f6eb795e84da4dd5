/*
 * Per-twin token buckets in a 4-way set-associative table of fixed size.
 * Only twins whose signature verified reach the limiter, so a forger cannot
 * spend another twin's budget.
 */
#include "rmb/rmb_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define WAYS 4

struct bucket {
	int used;
	uint32_t twin;
	double tokens;
	uint64_t last_ms;
};

struct rmb_ratelimit {
	pthread_mutex_t mu;
	struct bucket *b;
	size_t nsets;
	double rate, burst;
};

int rmb_ratelimit_new(size_t entries, double rate, double burst, struct rmb_ratelimit **out)
{
	if (!entries || entries > SIZE_MAX / sizeof(struct bucket) - WAYS || !(rate > 0) ||
	    !(burst >= 1))
		return -EINVAL;
	struct rmb_ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->nsets = (entries + WAYS - 1) / WAYS;
	rl->b = calloc(rl->nsets * WAYS, sizeof(*rl->b));
	if (!rl->b || pthread_mutex_init(&rl->mu, NULL)) {
		free(rl->b);
		free(rl);
		return -ENOMEM;
	}
	rl->rate = rate;
	rl->burst = burst;
	*out = rl;
	return 0;
}

void rmb_ratelimit_free(struct rmb_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->b);
	free(rl);
}

static struct bucket *lookup(struct rmb_ratelimit *rl, uint32_t twin, uint64_t now_ms)
{
	struct bucket *set = &rl->b[((uint64_t)twin * 2654435761u) % rl->nsets * WAYS];
	struct bucket *lru = &set[0];
	for (int i = 0; i < WAYS; i++)
		if (set[i].used && set[i].twin == twin)
			return &set[i];
	for (int i = 0; i < WAYS; i++) {
		if (!set[i].used) {
			lru = &set[i];
			break;
		}
		if (set[i].last_ms < lru->last_ms)
			lru = &set[i];
	}
	lru->used = 1;
	lru->twin = twin;
	lru->tokens = rl->burst;
	lru->last_ms = now_ms;
	return lru;
}

int rmb_ratelimit_take(struct rmb_ratelimit *rl, uint32_t twin, uint64_t now_ms)
{
	int rc = -EAGAIN;
	pthread_mutex_lock(&rl->mu);
	struct bucket *b = lookup(rl, twin, now_ms);
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * rl->rate / 1000.0;
		if (b->tokens > rl->burst)
			b->tokens = rl->burst;
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		rc = 0;
	}
	pthread_mutex_unlock(&rl->mu);
	return rc;
}
