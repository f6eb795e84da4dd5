/*
 * Replay cache: a ring of entries in insertion order (which is also expiry
 * order, since every entry lives the same window) indexed by a chained hash
 * table. Keys are a keyed blake2b of (src, uid), with a per-process random
 * key, so a peer cannot aim many uids at one bucket.
 */
#include "rmb/rmb_guard.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

#define NIL UINT32_MAX

struct replay_ent {
	uint8_t key[16];
	uint64_t t_ms;
	uint32_t next; /* next entry in the same bucket */
	uint32_t live; /* 0 once forgotten: still holds its ring slot */
};

struct rmb_replay {
	pthread_mutex_t mu;
	struct replay_ent *ring;
	uint32_t *buckets;
	size_t cap, head, count;
	size_t mask;
	uint64_t window_ms;
	uint8_t hkey[crypto_generichash_KEYBYTES];
};

int rmb_replay_new(size_t entries, uint64_t window_ms, struct rmb_replay **out)
{
	if (!entries || entries >= NIL / 2)
		return -EINVAL;
	struct rmb_replay *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	size_t nb = 1;
	while (nb < entries)
		nb <<= 1;
	r->ring = calloc(entries, sizeof(*r->ring));
	r->buckets = malloc(nb * sizeof(*r->buckets));
	if (!r->ring || !r->buckets || pthread_mutex_init(&r->mu, NULL)) {
		free(r->ring);
		free(r->buckets);
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nb; i++)
		r->buckets[i] = NIL;
	r->cap = entries;
	r->mask = nb - 1;
	r->window_ms = window_ms;
	randombytes_buf(r->hkey, sizeof(r->hkey));
	*out = r;
	return 0;
}

void rmb_replay_free(struct rmb_replay *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->ring);
	free(r->buckets);
	free(r);
}

static void replay_key(const struct rmb_replay *r, uint32_t src, const char *uid,
		       uint8_t key[16])
{
	crypto_generichash_state st;
	uint8_t b[4] = {(uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8),
			(uint8_t)src};
	crypto_generichash_init(&st, r->hkey, sizeof(r->hkey), 16);
	crypto_generichash_update(&st, b, sizeof(b));
	crypto_generichash_update(&st, (const uint8_t *)uid, strlen(uid));
	crypto_generichash_final(&st, key, 16);
}

static size_t bucket_of(const struct rmb_replay *r, const uint8_t key[16])
{
	uint64_t v;
	memcpy(&v, key, sizeof(v));
	return (size_t)v & r->mask;
}

/* Index of the live entry with key, or NIL; *prev gets its predecessor. */
static uint32_t find(const struct rmb_replay *r, const uint8_t key[16], uint32_t *prev)
{
	uint32_t p = NIL;
	for (uint32_t i = r->buckets[bucket_of(r, key)]; i != NIL; i = r->ring[i].next) {
		if (!memcmp(r->ring[i].key, key, 16)) {
			if (prev)
				*prev = p;
			return i;
		}
		p = i;
	}
	return NIL;
}

static void unlink_ent(struct rmb_replay *r, uint32_t idx)
{
	struct replay_ent *e = &r->ring[idx];
	uint32_t prev = NIL;
	if (!e->live || find(r, e->key, &prev) != idx)
		return;
	if (prev == NIL)
		r->buckets[bucket_of(r, e->key)] = e->next;
	else
		r->ring[prev].next = e->next;
	e->live = 0;
}

static void expire(struct rmb_replay *r, uint64_t now_ms)
{
	while (r->count) {
		struct replay_ent *e = &r->ring[r->head];
		if (e->t_ms + r->window_ms > now_ms)
			break;
		unlink_ent(r, (uint32_t)r->head);
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
}

int rmb_replay_add(struct rmb_replay *r, uint32_t src, const char *uid, uint64_t now_ms)
{
	uint8_t key[16];
	int rc = 0;
	replay_key(r, src, uid, key);
	pthread_mutex_lock(&r->mu);
	expire(r, now_ms);
	if (find(r, key, NULL) != NIL) {
		rc = -EEXIST;
	} else if (r->count == r->cap) {
		rc = ZE_CAPACITY;
	} else {
		uint32_t idx = (uint32_t)((r->head + r->count) % r->cap);
		struct replay_ent *e = &r->ring[idx];
		size_t b = bucket_of(r, key);
		memcpy(e->key, key, 16);
		e->t_ms = now_ms;
		e->live = 1;
		e->next = r->buckets[b];
		r->buckets[b] = idx;
		r->count++;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void rmb_replay_forget(struct rmb_replay *r, uint32_t src, const char *uid)
{
	uint8_t key[16];
	replay_key(r, src, uid, key);
	pthread_mutex_lock(&r->mu);
	uint32_t idx = find(r, key, NULL);
	if (idx != NIL)
		unlink_ent(r, idx);
	pthread_mutex_unlock(&r->mu);
}

size_t rmb_replay_count(struct rmb_replay *r)
{
	pthread_mutex_lock(&r->mu);
	size_t n = r->count;
	pthread_mutex_unlock(&r->mu);
	return n;
}
