/*
 * Twin key cache in front of the chain lookup. Twins are looked up before
 * a request's signature can be checked, so anyone can make the node look
 * up any id; the cache is built so that such traffic cannot evict real
 * twins nor drive unbounded chain reads:
 *   - found twins live in their own 4-way set-associative table; absent
 *     answers go to a separate table and never displace a found twin;
 *   - one lookup per twin id at a time (a second miss for an id being
 *     looked up answers "unknown" at once instead of asking again);
 *   - lookups of twins not in the cache at all are limited in number at
 *     once and in rate (token bucket); beyond, "unknown" at once;
 *   - a found twin whose entry expired keeps being served with its last
 *     key while a background thread looks it up again (for up to
 *     STALE_FACTOR times its ttl), so no request of a known twin waits on
 *     the chain, and a flood or a stalled chain does not lock it out.
 * Lookups run without the lock, so a slow chain never stalls the hits of
 * other threads. Unknown answers are never cached.
 */
#include "rmb/rmb_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

#define WAYS 4
#define INFLIGHT_IDS 64
#define STALE_FACTOR 10
#define REFRESH_QUEUE 64

struct refresh {
	uint32_t id;
	uint64_t now_ms; /* of the request that found it expired */
};

struct twin_slot {
	int used;
	uint64_t expires_ms;
	uint64_t used_ms;
	struct rmb_twin t;
};

struct neg_slot {
	uint32_t id;
	int used;
	uint64_t expires_ms;
};

struct rmb_twins {
	pthread_mutex_t mu;
	struct twin_slot *slots;
	size_t nsets;
	struct neg_slot *neg;
	size_t neg_nsets;
	uint64_t ttl_ms, neg_ttl_ms;
	unsigned max_inflight, inflight; /* lookups of uncached twins */
	uint32_t busy_ids[INFLIGHT_IDS]; /* ids being looked up */
	uint8_t busy_used[INFLIGHT_IDS];
	double rate, burst, tokens; /* uncached lookups; rate 0 = no limit */
	uint64_t tokens_ms;
	rmb_twin_lookup_fn fn;
	void *ctx;
	/* background refreshes of expired known twins */
	pthread_t th;
	pthread_cond_t rcv;
	struct refresh rq[REFRESH_QUEUE];
	size_t rhead, rcount;
	unsigned long refreshed;
	int stopping;
};

static void *refresher(void *arg);

int rmb_twins_new(size_t entries, uint64_t ttl_ms, uint64_t neg_ttl_ms, unsigned inflight,
                  rmb_twin_lookup_fn fn, void *ctx, struct rmb_twins **out)
{
	if (!fn || !entries || !inflight || entries > (SIZE_MAX / sizeof(struct twin_slot)) / 8)
		return -EINVAL;
	struct rmb_twins *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nsets = (entries + WAYS - 1) / WAYS;
	c->neg_nsets = c->nsets;
	c->slots = calloc(c->nsets * WAYS, sizeof(*c->slots));
	c->neg = calloc(c->neg_nsets * WAYS, sizeof(*c->neg));
	if (!c->slots || !c->neg || pthread_mutex_init(&c->mu, NULL)) {
		free(c->slots);
		free(c->neg);
		free(c);
		return -ENOMEM;
	}
	c->ttl_ms = ttl_ms;
	c->neg_ttl_ms = neg_ttl_ms;
	c->max_inflight = inflight;
	c->fn = fn;
	c->ctx = ctx;
	if (pthread_cond_init(&c->rcv, NULL)) {
		pthread_mutex_destroy(&c->mu);
		free(c->slots);
		free(c->neg);
		free(c);
		return -ENOMEM;
	}
	if (pthread_create(&c->th, NULL, refresher, c)) {
		pthread_cond_destroy(&c->rcv);
		pthread_mutex_destroy(&c->mu);
		free(c->slots);
		free(c->neg);
		free(c);
		return -EAGAIN;
	}
	pthread_setname_np(c->th, "rmb-twins");
	*out = c;
	return 0;
}

int rmb_twins_limit(struct rmb_twins *c, size_t neg_entries, double rate, double burst)
{
	if (!neg_entries || neg_entries > SIZE_MAX / sizeof(struct neg_slot) / 8 || rate < 0 ||
	    (rate > 0 && burst < 1))
		return -EINVAL;
	size_t nsets = (neg_entries + WAYS - 1) / WAYS;
	struct neg_slot *n = calloc(nsets * WAYS, sizeof(*n));
	if (!n)
		return -ENOMEM;
	pthread_mutex_lock(&c->mu);
	free(c->neg);
	c->neg = n;
	c->neg_nsets = nsets;
	c->rate = rate;
	c->burst = burst;
	c->tokens = burst;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

void rmb_twins_free(struct rmb_twins *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = 1;
	pthread_cond_signal(&c->rcv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	pthread_cond_destroy(&c->rcv);
	pthread_mutex_destroy(&c->mu);
	free(c->slots);
	free(c->neg);
	free(c);
}

static size_t set_index(uint32_t id, size_t nsets)
{
	return (size_t)(((uint64_t)id * 2654435761u) % nsets) * WAYS;
}

static struct twin_slot *pos_find(struct rmb_twins *c, uint32_t id)
{
	struct twin_slot *set = &c->slots[set_index(id, c->nsets)];
	for (int i = 0; i < WAYS; i++)
		if (set[i].used && set[i].t.id == id)
			return &set[i];
	return NULL;
}

/* The slot for a found twin: its own, else an empty one, else the least
 * recently used (only found twins compete for these slots). */
static struct twin_slot *pos_victim(struct rmb_twins *c, uint32_t id)
{
	struct twin_slot *s = pos_find(c, id), *set = &c->slots[set_index(id, c->nsets)];
	if (s)
		return s;
	s = &set[0];
	for (int i = 0; i < WAYS; i++) {
		if (!set[i].used)
			return &set[i];
		if (set[i].used_ms < s->used_ms)
			s = &set[i];
	}
	return s;
}

static struct neg_slot *neg_find(struct rmb_twins *c, uint32_t id)
{
	struct neg_slot *set = &c->neg[set_index(id, c->neg_nsets)];
	for (int i = 0; i < WAYS; i++)
		if (set[i].used && set[i].id == id)
			return &set[i];
	return NULL;
}

static void neg_put(struct rmb_twins *c, uint32_t id, uint64_t expires_ms)
{
	struct neg_slot *s = neg_find(c, id), *set = &c->neg[set_index(id, c->neg_nsets)];
	for (int i = 0; !s && i < WAYS; i++)
		if (!set[i].used)
			s = &set[i];
	if (!s) /* the one expiring first */
		for (int i = 0; i < WAYS; i++)
			if (!s || set[i].expires_ms < s->expires_ms)
				s = &set[i];
	*s = (struct neg_slot){id, 1, expires_ms};
}

/* Index of id among the lookups running, or -1. Under the lock. */
static int busy_find(const struct rmb_twins *c, uint32_t id)
{
	for (int i = 0; i < INFLIGHT_IDS; i++)
		if (c->busy_used[i] && c->busy_ids[i] == id)
			return i;
	return -1;
}

/* Claims id for a lookup; 0 when another thread already looks it up or
 * INFLIGHT_IDS lookups run. Under the lock. */
static int busy_claim(struct rmb_twins *c, uint32_t id)
{
	if (busy_find(c, id) >= 0)
		return 0;
	for (int i = 0; i < INFLIGHT_IDS; i++)
		if (!c->busy_used[i]) {
			c->busy_used[i] = 1;
			c->busy_ids[i] = id;
			return 1;
		}
	return 0;
}

static void busy_release(struct rmb_twins *c, uint32_t id)
{
	int i = busy_find(c, id);
	if (i >= 0)
		c->busy_used[i] = 0;
}

/* Takes a token for a lookup of an uncached twin. Under the lock. */
static int token_take(struct rmb_twins *c, uint64_t now_ms)
{
	if (c->rate <= 0)
		return 1;
	if (now_ms > c->tokens_ms) {
		c->tokens += (double)(now_ms - c->tokens_ms) * c->rate / 1000.0;
		if (c->tokens > c->burst)
			c->tokens = c->burst;
		c->tokens_ms = now_ms;
	}
	if (c->tokens < 1)
		return 0;
	c->tokens -= 1;
	return 1;
}

/* Records a lookup's answer for id at now_ms. Under the lock. */
static void store_answer(struct rmb_twins *c, uint32_t id, int rc, const struct rmb_twin *t,
                         uint64_t now_ms)
{
	if (rc == 0) {
		struct twin_slot *s = pos_victim(c, id);
		s->used = 1;
		s->expires_ms = now_ms + c->ttl_ms;
		s->used_ms = now_ms;
		s->t = *t;
		struct neg_slot *n = neg_find(c, id);
		if (n)
			n->used = 0;
	} else if (rc == ZE_ABSENT) {
		struct twin_slot *s = pos_find(c, id);
		if (s)
			s->used = 0; /* the chain says it is gone: its key is void */
		neg_put(c, id, now_ms + c->neg_ttl_ms);
	}
	/* Unknown: nothing learnt; a stale entry stays as it was. */
}

/* Asks the chain about id; ZE_UNKNOWN for any answer but found or absent. */
static int ask(struct rmb_twins *c, uint32_t id, struct rmb_twin *t)
{
	memset(t, 0, sizeof(*t));
	int rc = c->fn(c->ctx, id, t);
	if (rc != 0 && rc != ZE_ABSENT)
		rc = ZE_UNKNOWN;
	t->id = id;
	t->relay[RMB_RELAY_MAX] = 0;
	return rc;
}

/* Refreshes expired entries of known twins, one at a time, so that no
 * request waits on the chain for a twin whose last key still serves. */
static void *refresher(void *arg)
{
	struct rmb_twins *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->rcount && !c->stopping)
			pthread_cond_wait(&c->rcv, &c->mu);
		if (c->stopping)
			break;
		struct refresh job = c->rq[c->rhead];
		c->rhead = (c->rhead + 1) % REFRESH_QUEUE;
		c->rcount--;
		pthread_mutex_unlock(&c->mu);
		struct rmb_twin t;
		int rc = ask(c, job.id, &t);
		pthread_mutex_lock(&c->mu);
		busy_release(c, job.id);
		store_answer(c, job.id, rc, &t, job.now_ms);
		c->refreshed++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Queues a refresh of a known twin unless one is pending. Under the lock. */
static void refresh_later(struct rmb_twins *c, uint32_t id, uint64_t now_ms)
{
	if (c->rcount == REFRESH_QUEUE || !busy_claim(c, id))
		return;
	c->rq[(c->rhead + c->rcount) % REFRESH_QUEUE] = (struct refresh){id, now_ms};
	c->rcount++;
	pthread_cond_signal(&c->rcv);
}

int rmb_twins_get(struct rmb_twins *c, uint32_t id, uint64_t now_ms, struct rmb_twin *out)
{
	pthread_mutex_lock(&c->mu);
	struct twin_slot *s = pos_find(c, id);
	if (s && s->expires_ms > now_ms) {
		s->used_ms = now_ms;
		*out = s->t;
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	if (s && now_ms < s->expires_ms + (STALE_FACTOR - 1) * c->ttl_ms) {
		/* Expired but recent: served now, refreshed in the background. */
		s->used_ms = now_ms;
		*out = s->t;
		refresh_later(c, id, now_ms);
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	struct neg_slot *n = neg_find(c, id);
	if (n && n->expires_ms > now_ms) {
		pthread_mutex_unlock(&c->mu);
		return ZE_ABSENT;
	}
	/* A twin not known (or too long ago): the caller waits for the chain,
	 * within the limits of lookups at once and per second. */
	if (c->inflight >= c->max_inflight || !busy_claim(c, id)) {
		pthread_mutex_unlock(&c->mu);
		return ZE_UNKNOWN;
	}
	if (!token_take(c, now_ms)) {
		busy_release(c, id);
		pthread_mutex_unlock(&c->mu);
		return ZE_UNKNOWN;
	}
	c->inflight++;
	pthread_mutex_unlock(&c->mu);

	struct rmb_twin t;
	int rc = ask(c, id, &t);

	pthread_mutex_lock(&c->mu);
	busy_release(c, id);
	c->inflight--;
	store_answer(c, id, rc, &t, now_ms);
	pthread_mutex_unlock(&c->mu);
	if (rc == 0)
		*out = t;
	return rc;
}

unsigned long rmb_twins_refreshed(struct rmb_twins *c)
{
	pthread_mutex_lock(&c->mu);
	unsigned long n = c->refreshed;
	pthread_mutex_unlock(&c->mu);
	return n;
}
