/* The table of open connections (rmb_conns.h): arrival order, requests in
 * progress and last activity; linear scans are fine at the sizes configured
 * (a few thousand), and happen only on connect, disconnect, per request and
 * once a second for the timeout. */
#include "rmb/rmb_conns.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "rmb/rmb.h"
#include "common/clock.h"

struct conn {
	uint32_t id;
	unsigned pending;
	int ending; /* handed to a caller to end: not handed again */
	uint64_t seq;
	uint64_t last_ms;
};

struct rmb_conns {
	pthread_mutex_t mu;
	struct conn *c;
	unsigned n, max;
	uint64_t seq;
};

int rmb_conns_new(unsigned max, struct rmb_conns **out)
{
	if (!max)
		return -EINVAL;
	struct rmb_conns *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->c = calloc(max, sizeof(*t->c));
	if (!t->c || pthread_mutex_init(&t->mu, NULL)) {
		free(t->c);
		free(t);
		return -ENOMEM;
	}
	t->max = max;
	*out = t;
	return 0;
}

void rmb_conns_free(struct rmb_conns *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->c);
	free(t);
}

void rmb_conns_add(struct rmb_conns *t, uint32_t id, uint32_t *victim)
{
	*victim = 0;
	pthread_mutex_lock(&t->mu);
	unsigned at = t->n;
	if (t->n == t->max) {
		at = 0;
		for (unsigned i = 1; i < t->n; i++)
			if (t->c[i].seq < t->c[at].seq)
				at = i;
		*victim = t->c[at].id;
	} else {
		t->n++;
	}
	t->c[at].id = id;
	t->c[at].seq = ++t->seq;
	t->c[at].pending = 0;
	t->c[at].ending = 0;
	t->c[at].last_ms = clk_mono_ms();
	pthread_mutex_unlock(&t->mu);
}

void rmb_conns_remove(struct rmb_conns *t, uint32_t id)
{
	pthread_mutex_lock(&t->mu);
	for (unsigned i = 0; i < t->n; i++) {
		if (t->c[i].id == id) {
			t->c[i] = t->c[--t->n];
			break;
		}
	}
	pthread_mutex_unlock(&t->mu);
}

unsigned rmb_conns_count(struct rmb_conns *t)
{
	pthread_mutex_lock(&t->mu);
	unsigned n = t->n;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static struct conn *find(struct rmb_conns *t, uint32_t id)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->c[i].id == id)
			return &t->c[i];
	return NULL;
}

void rmb_conns_begin(struct rmb_conns *t, uint32_t id)
{
	pthread_mutex_lock(&t->mu);
	struct conn *c = find(t, id);
	if (c)
		c->pending++;
	pthread_mutex_unlock(&t->mu);
}

void rmb_conns_end(struct rmb_conns *t, uint32_t id, uint64_t now_ms)
{
	pthread_mutex_lock(&t->mu);
	struct conn *c = find(t, id);
	if (c) {
		if (c->pending)
			c->pending--;
		c->last_ms = now_ms;
	}
	pthread_mutex_unlock(&t->mu);
}

/* Hands out (and marks as ending) up to max ids: all of them, or the
 * stale ones as rmb_conns_stale says. */
static unsigned take(struct rmb_conns *t, int all, uint64_t now_ms, uint64_t timeout_ms,
                     uint32_t *ids, unsigned max)
{
	unsigned n = 0;
	pthread_mutex_lock(&t->mu);
	for (unsigned i = 0; i < t->n && n < max; i++) {
		struct conn *c = &t->c[i];
		if (c->ending || (!all && (c->pending || c->last_ms + timeout_ms > now_ms)))
			continue;
		c->ending = 1;
		ids[n++] = c->id;
	}
	pthread_mutex_unlock(&t->mu);
	return n;
}

unsigned rmb_conns_stale(struct rmb_conns *t, uint64_t now_ms, uint64_t timeout_ms, uint32_t *ids,
                         unsigned max)
{
	return take(t, 0, now_ms, timeout_ms, ids, max);
}

unsigned rmb_conns_take_all(struct rmb_conns *t, uint32_t *ids, unsigned max)
{
	return take(t, 1, 0, 0, ids, max);
}
