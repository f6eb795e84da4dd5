/*
 * The bounded state the verifier keeps: a replay cache of recently accepted
 * (src, uid) pairs, a twin key cache in front of the chain, and a per-twin
 * rate limiter. Each is thread-safe, allocates its whole table at creation,
 * and never grows. Times are passed in (monotonic milliseconds) so tests can
 * drive them.
 */
#ifndef ZOS_RMB_GUARD_H
#define ZOS_RMB_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "rmb/rmb.h"

/* ---- replay cache ---- */

struct rmb_replay;

/* Remembers up to `entries` pairs, each for window_ms after it was added.
 * The caller frees *out with rmb_replay_free. */
int rmb_replay_new(size_t entries, uint64_t window_ms, struct rmb_replay **out);
void rmb_replay_free(struct rmb_replay *r);
/* 0 when (src, uid) is new (now remembered), -EEXIST when seen within the
 * window, ZE_CAPACITY when the table is full of live entries (the caller
 * must refuse the request: forgetting one could let it be replayed). */
int rmb_replay_add(struct rmb_replay *r, uint32_t src, const char *uid, uint64_t now_ms);
/* Forgets (src, uid), so that a request refused for a transient reason can
 * be retried with the same uid. No-op when absent. */
void rmb_replay_forget(struct rmb_replay *r, uint32_t src, const char *uid);
size_t rmb_replay_count(struct rmb_replay *r);
/* Makes the cache survive restarts: loads the requests of `path` accepted
 * within the window (wall clock), then records every add and forget there.
 * now_ms/wall_ms are the monotonic and wall clocks now. Call before the
 * cache is shared; at most once. 0, or a negative errno (path unusable). */
int rmb_replay_persist(struct rmb_replay *r, const char *path, uint64_t now_ms,
		       uint64_t wall_ms);

/* ---- twin cache ---- */

struct rmb_twin {
	uint32_t id;
	uint8_t account[32]; /* ed25519 public key: verifies the twin's envelopes */
	int has_pk;
	uint8_t pk[32]; /* x25519 key, when set on chain */
	char relay[RMB_RELAY_MAX + 1]; /* "" when unset */
};

/* Looks a twin up on chain: 0 and *out filled, ZE_ABSENT when the chain
 * confirms there is no such twin, any other error when the answer is not
 * known (RPC down...). Called without any rmb lock held, from several
 * threads at once. */
typedef int (*rmb_twin_lookup_fn)(void *ctx, uint32_t twin_id, struct rmb_twin *out);

struct rmb_twins;

/* ttl_ms: how long a found twin is trusted; once expired, its last key
 * still serves (up to 10 * ttl_ms) while a background thread reads it again,
 * so a key change on chain is seen within ttl_ms plus one lookup, or later
 * when the chain cannot be asked. neg_ttl_ms: how long an absent twin stays absent;
 * inflight: chain lookups of uncached twins running at once at most. A
 * miss beyond that answers ZE_UNKNOWN at once, so requests naming many
 * unknown twins cannot tie up every worker in chain calls while cached
 * twins wait. Found and absent twins have separate tables (`entries` each
 * until rmb_twins_limit): absent answers never evict a found twin. */
int rmb_twins_new(size_t entries, uint64_t ttl_ms, uint64_t neg_ttl_ms, unsigned inflight,
		  rmb_twin_lookup_fn fn, void *ctx, struct rmb_twins **out);
/* Sizes the table of absent twins and limits lookups of uncached twins to
 * `rate` per second with bursts of `burst` (rate 0: no limit, the default).
 * Call before the cache is shared between threads. */
int rmb_twins_limit(struct rmb_twins *c, size_t neg_entries, double rate, double burst);
void rmb_twins_free(struct rmb_twins *c);
/* 0, ZE_ABSENT, or ZE_UNKNOWN when the lookup could not answer. */
int rmb_twins_get(struct rmb_twins *c, uint32_t id, uint64_t now_ms, struct rmb_twin *out);
/* Background refreshes completed so far (for tests). */
unsigned long rmb_twins_refreshed(struct rmb_twins *c);

/* ---- rate limiter ---- */

struct rmb_ratelimit;

/* Token bucket per twin: `rate` requests per second sustained, `burst` at
 * once. Tracks up to `entries` twins; the least recently seen one in a full
 * set is forgotten (it starts again with a full bucket). */
int rmb_ratelimit_new(size_t entries, double rate, double burst, struct rmb_ratelimit **out);
void rmb_ratelimit_free(struct rmb_ratelimit *rl);
/* 0 when a token was taken, -EAGAIN when the twin is over its rate. */
int rmb_ratelimit_take(struct rmb_ratelimit *rl, uint32_t twin, uint64_t now_ms);

#endif
