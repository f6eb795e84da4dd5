/*
 * Twin key cache: a 4-way set-associative table in front of the chain
 * lookup. The lookup runs without the lock, so a slow chain never stalls
 * the hits of other threads; two threads missing the same twin both ask,
 * which is harmless. Unknown answers are never cached.
 */
#include "rmb/rmb_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

#define WAYS 4

enum { SLOT_EMPTY = 0, SLOT_FOUND, SLOT_ABSENT };

struct twin_slot {
	int state;
	uint64_t expires_ms;
	uint64_t used_ms;
	struct rmb_twin t;
};

struct rmb_twins {
	pthread_mutex_t mu;
	struct twin_slot *slots;
	size_t nsets;
	uint64_t ttl_ms, neg_ttl_ms;
	unsigned max_inflight;
	atomic_uint inflight;
	rmb_twin_lookup_fn fn;
	void *ctx;
};

int rmb_twins_new(size_t entries, uint64_t ttl_ms, uint64_t neg_ttl_ms, unsigned inflight,
		  rmb_twin_lookup_fn fn, void *ctx, struct rmb_twins **out)
{
	if (!fn || !entries || !inflight || entries > (SIZE_MAX / sizeof(struct twin_slot)) - WAYS)
		return -EINVAL;
	struct rmb_twins *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nsets = (entries + WAYS - 1) / WAYS;
	c->slots = calloc(c->nsets * WAYS, sizeof(*c->slots));
	if (!c->slots || pthread_mutex_init(&c->mu, NULL)) {
		free(c->slots);
		free(c);
		return -ENOMEM;
	}
	c->ttl_ms = ttl_ms;
	c->neg_ttl_ms = neg_ttl_ms;
	c->max_inflight = inflight;
	c->fn = fn;
	c->ctx = ctx;
	*out = c;
	return 0;
}

void rmb_twins_free(struct rmb_twins *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c->slots);
	free(c);
}

static struct twin_slot *set_of(struct rmb_twins *c, uint32_t id)
{
	return &c->slots[((uint64_t)id * 2654435761u) % c->nsets * WAYS];
}

/* The slot to (re)use for id: its own, else an empty or expired one, else
 * the least recently used. */
static struct twin_slot *victim(struct rmb_twins *c, uint32_t id, uint64_t now_ms)
{
	struct twin_slot *set = set_of(c, id), *best = &set[0];
	for (int i = 0; i < WAYS; i++)
		if (set[i].state != SLOT_EMPTY && set[i].t.id == id)
			return &set[i];
	for (int i = 0; i < WAYS; i++) {
		if (set[i].state == SLOT_EMPTY || set[i].expires_ms <= now_ms)
			return &set[i];
		if (set[i].used_ms < best->used_ms)
			best = &set[i];
	}
	return best;
}

int rmb_twins_get(struct rmb_twins *c, uint32_t id, uint64_t now_ms, struct rmb_twin *out)
{
	struct twin_slot *set = set_of(c, id);
	int rc = 1;

	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < WAYS; i++) {
		struct twin_slot *s = &set[i];
		if (s->state == SLOT_EMPTY || s->t.id != id || s->expires_ms <= now_ms)
			continue;
		s->used_ms = now_ms;
		if (s->state == SLOT_FOUND) {
			*out = s->t;
			rc = 0;
		} else {
			rc = ZE_ABSENT;
		}
		break;
	}
	pthread_mutex_unlock(&c->mu);
	if (rc <= 0)
		return rc;

	if (atomic_fetch_add(&c->inflight, 1) >= c->max_inflight) {
		atomic_fetch_sub(&c->inflight, 1);
		return ZE_UNKNOWN;
	}
	struct rmb_twin t;
	memset(&t, 0, sizeof(t));
	rc = c->fn(c->ctx, id, &t);
	atomic_fetch_sub(&c->inflight, 1);
	if (rc != 0 && rc != ZE_ABSENT)
		return ZE_UNKNOWN;
	t.id = id;
	t.relay[RMB_RELAY_MAX] = 0;

	pthread_mutex_lock(&c->mu);
	struct twin_slot *s = victim(c, id, now_ms);
	s->state = rc ? SLOT_ABSENT : SLOT_FOUND;
	s->expires_ms = now_ms + (rc ? c->neg_ttl_ms : c->ttl_ms);
	s->used_ms = now_ms;
	s->t = t;
	pthread_mutex_unlock(&c->mu);
	if (!rc)
		*out = t;
	return rc;
}
