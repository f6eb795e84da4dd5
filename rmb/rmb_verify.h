/*
 * Request verification, in the order of docs/rmb.md: decode (100 malformed,
 * 101 payload), time window (102), source twin on chain (103, or a
 * retryable 500 when the chain cannot answer), signature (104), then
 * destination (105), replay (106) and the per-twin rate (429).
 */
#ifndef ZOS_RMB_VERIFY_H
#define ZOS_RMB_VERIFY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "rmb/rmb_envelope.h"
#include "rmb/rmb_guard.h"

struct rmb_verify_cfg {
	uint32_t self_twin;     /* requests must be addressed to this twin */
	size_t max_msg;         /* bytes; larger is refused before parsing */
	uint32_t max_ttl_s;     /* longest exp accepted */
	uint32_t skew_s;        /* clock skew allowed both ways */
	size_t replay_entries;  /* accepted requests remembered at once */
	const char *replay_path; /* file keeping them across restarts (not
				  * copied; NULL: memory only) */
	size_t twin_entries;    /* twins cached */
	uint32_t twin_ttl_s;    /* a key change on chain is seen within this */
	uint32_t twin_neg_ttl_s;
	unsigned twin_lookups;  /* chain lookups of uncached twins at once */
	size_t twin_neg_entries; /* absent twins remembered (own table) */
	double twin_lookup_rate; /* chain lookups of uncached twins per second */
	double twin_lookup_burst;
	double rate;            /* requests per second per twin, sustained */
	double burst;           /* requests per twin at once */
	size_t rate_entries;    /* twins tracked by the limiter */
};

/* Defaults: 1 MiB, ttl <= 120 s, skew 30 s, 262144 uids (8 MiB: 1450
 * requests/s sustained over the 181 s replay window), 1024 twins for 60 s
 * and 4096 absent ones for 10 s, with 2 chain lookups of uncached twins at
 * once and 20 per second (bursts of 40), 50 req/s with bursts of 100 over
 * 4096 twins. */
void rmb_verify_cfg_init(struct rmb_verify_cfg *c);

struct rmb_verifier;

/* The verifier keeps fn/ctx (not copied). Free with rmb_verifier_free. */
int rmb_verifier_new(const struct rmb_verify_cfg *cfg, rmb_twin_lookup_fn fn, void *ctx,
		     struct rmb_verifier **out);
void rmb_verifier_free(struct rmb_verifier *v);

/* Checks one request frame at wall time wall_s / monotonic now_ms.
 * Returns 0 when accepted: env is filled, *payload is dat parsed as JSON
 * (NULL when dat is empty; the caller cJSON_Deletes it), the (src, uid)
 * pair is remembered and a rate token spent. Otherwise returns -EPERM
 * (refused) or -ENOMEM and fills err; env then holds whatever decoded
 * (uid, src) so the error reply can be addressed. The caller clears env
 * in both cases. */
int rmb_verify_request(struct rmb_verifier *v, const void *buf, size_t len, uint64_t wall_s,
		       uint64_t now_ms, struct rmb_env *env, cJSON **payload,
		       struct rmb_error *err);

/* Forgets an accepted request's uid: for requests that were answered with
 * a retryable error without having done anything, so a retry may reuse it. */
void rmb_verify_forget(struct rmb_verifier *v, const struct rmb_env *env);

/* The time checks alone (also used by the client on replies): 0 or -EPERM. */
int rmb_verify_time(const struct rmb_env *env, uint64_t wall_s, uint32_t max_ttl_s,
		    uint32_t skew_s, struct rmb_error *err);

size_t rmb_verify_replay_count(struct rmb_verifier *v);

#endif
