/* Request verification: the checks of docs/rmb.md in order, over the bounded
 * state of rmb_guard.h (replay cache, twin cache, rate limiter). */
#include "rmb/rmb_verify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

struct rmb_verifier {
	struct rmb_verify_cfg cfg;
	struct rmb_replay *replay;
	struct rmb_twins *twins;
	struct rmb_ratelimit *rate;
};

void rmb_verify_cfg_init(struct rmb_verify_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->max_msg = RMB_MAX_MSG_DEFAULT;
	c->max_ttl_s = 120;
	c->skew_s = 30;
	c->replay_entries = 262144;
	c->twin_entries = 1024;
	c->twin_ttl_s = 60;
	c->twin_neg_ttl_s = 10;
	c->twin_lookups = 2;
	c->twin_neg_entries = 4096;
	c->twin_lookup_rate = 20;
	c->twin_lookup_burst = 40;
	c->rate = 50;
	c->burst = 100;
	c->rate_entries = 4096;
}

int rmb_verifier_new(const struct rmb_verify_cfg *cfg, rmb_twin_lookup_fn fn, void *ctx,
		     struct rmb_verifier **out)
{
	if (!cfg->max_msg || !cfg->max_ttl_s)
		return ZE_CONFIG;
	struct rmb_verifier *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->cfg = *cfg;
	/* An accepted envelope stays valid at most max_ttl + 2*skew after it
	 * arrives (now may be skew ahead, expiry is judged skew late): the
	 * replay cache must remember it that long. */
	uint64_t window_ms = ((uint64_t)cfg->max_ttl_s + 2u * cfg->skew_s + 1) * 1000u;
	int rc = rmb_replay_new(cfg->replay_entries, window_ms, &v->replay);
	if (!rc && cfg->replay_path)
		rc = rmb_replay_persist(v->replay, cfg->replay_path, clk_mono_ms(),
					clk_wall_s() * 1000u);
	if (!rc)
		rc = rmb_twins_new(cfg->twin_entries, (uint64_t)cfg->twin_ttl_s * 1000u,
				   (uint64_t)cfg->twin_neg_ttl_s * 1000u, cfg->twin_lookups, fn, ctx,
				   &v->twins);
	if (!rc)
		rc = rmb_twins_limit(v->twins, cfg->twin_neg_entries, cfg->twin_lookup_rate,
				     cfg->twin_lookup_burst);
	if (!rc)
		rc = rmb_ratelimit_new(cfg->rate_entries, cfg->rate, cfg->burst, &v->rate);
	if (rc) {
		rmb_verifier_free(v);
		if (cfg->replay_path && rc != -ENOMEM)
			log_err("rmb", "replay cache %s: %s", cfg->replay_path, zerr_str(rc));
		return rc == -EINVAL ? ZE_CONFIG : rc;
	}
	*out = v;
	return 0;
}

void rmb_verifier_free(struct rmb_verifier *v)
{
	if (!v)
		return;
	rmb_replay_free(v->replay);
	rmb_twins_free(v->twins);
	rmb_ratelimit_free(v->rate);
	free(v);
}

int rmb_verify_time(const struct rmb_env *env, uint64_t wall_s, uint32_t max_ttl_s,
		    uint32_t skew_s, struct rmb_error *err)
{
	if (env->exp > max_ttl_s) {
		rmb_error_set(err, RMB_E_EXPIRED, 0, "ttl %u s exceeds the maximum of %u s",
			      env->exp, max_ttl_s);
		return -EPERM;
	}
	if (env->now > wall_s + skew_s) {
		rmb_error_set(err, RMB_E_EXPIRED, 0, "created %llu s in the future",
			      (unsigned long long)(env->now - wall_s));
		return -EPERM;
	}
	if (env->now + env->exp + skew_s < wall_s) {
		rmb_error_set(err, RMB_E_EXPIRED, 0, "expired %llu s ago",
			      (unsigned long long)(wall_s - env->now - env->exp));
		return -EPERM;
	}
	return 0;
}

static int parse_payload(const struct rmb_env *env, cJSON **payload, struct rmb_error *err)
{
	*payload = NULL;
	if (!env->dat_len)
		return 0;
	if (rmb_json_parse(env->dat, env->dat_len, payload)) {
		rmb_error_set(err, RMB_E_PAYLOAD, 0, "dat is not one JSON document");
		return -EPERM;
	}
	return 0;
}

static int check_twin(struct rmb_verifier *v, const struct rmb_env *env, uint64_t now_ms,
		      struct rmb_error *err)
{
	struct rmb_twin t;
	int rc = rmb_twins_get(v->twins, env->src, now_ms, &t);
	if (rc == ZE_ABSENT) {
		rmb_error_set(err, RMB_E_UNKNOWN_TWIN, 0, "twin %u does not exist", env->src);
		return -EPERM;
	}
	if (rc) {
		rmb_error_set(err, RMB_E_INTERNAL, 1, "cannot look up twin %u now, retry later",
			      env->src);
		return -EPERM;
	}
	if (rmb_env_verify_sig(env, t.account)) {
		rmb_error_set(err, RMB_E_SIGNATURE, 0, "signature does not verify for twin %u",
			      env->src);
		return -EPERM;
	}
	return 0;
}

static int check_session(struct rmb_verifier *v, const struct rmb_env *env, uint64_t now_ms,
			 struct rmb_error *err)
{
	if (env->dst != v->cfg.self_twin) {
		rmb_error_set(err, RMB_E_DESTINATION, 0, "addressed to twin %u, this is twin %u",
			      env->dst, v->cfg.self_twin);
		return -EPERM;
	}
	int rc = rmb_replay_add(v->replay, env->src, env->uid, now_ms);
	if (rc == -EEXIST) {
		rmb_error_set(err, RMB_E_REPLAYED, 0, "uid %s was already received", env->uid);
		return -EPERM;
	}
	if (rc) {
		rmb_error_set(err, RMB_E_INTERNAL, 1, "busy: replay cache full, retry later");
		return -EPERM;
	}
	if (rmb_ratelimit_take(v->rate, env->src, now_ms)) {
		/* Not processed, so a retry with the same uid must not count as a replay. */
		rmb_replay_forget(v->replay, env->src, env->uid);
		rmb_error_set(err, RMB_E_RATE_LIMITED, 1, "rate limited: twin %u sends too fast",
			      env->src);
		return -EPERM;
	}
	return 0;
}

int rmb_verify_request(struct rmb_verifier *v, const void *buf, size_t len, uint64_t wall_s,
		       uint64_t now_ms, struct rmb_env *env, cJSON **payload,
		       struct rmb_error *err)
{
	uint32_t code;
	*payload = NULL;
	int rc = rmb_env_decode(buf, len, v->cfg.max_msg, env, &code);
	if (rc == -ENOMEM) {
		rmb_error_set(err, RMB_E_INTERNAL, 1, "out of memory");
		return rc;
	}
	if (rc == ZE_TOOBIG) {
		rmb_error_set(err, RMB_E_MALFORMED, 0, "message of %zu bytes exceeds %zu", len,
			      v->cfg.max_msg);
		return -EPERM;
	}
	if (rc) {
		rmb_error_set(err, code, 0, code == RMB_E_PAYLOAD ? "dat is not valid base64"
								 : "not a valid envelope");
		return -EPERM;
	}
	if (env->kind != RMB_REQUEST || !env->uid[0] || !env->cmd[0]) {
		rmb_error_set(err, RMB_E_MALFORMED, 0, "not a request (typ, uid and cmd required)");
		return -EPERM;
	}
	cJSON *p = NULL;
	if (parse_payload(env, &p, err))
		return -EPERM;
	if (rmb_verify_time(env, wall_s, v->cfg.max_ttl_s, v->cfg.skew_s, err) ||
	    check_twin(v, env, now_ms, err) || check_session(v, env, now_ms, err)) {
		cJSON_Delete(p);
		return -EPERM;
	}
	*payload = p;
	return 0;
}

void rmb_verify_forget(struct rmb_verifier *v, const struct rmb_env *env)
{
	rmb_replay_forget(v->replay, env->src, env->uid);
}

size_t rmb_verify_replay_count(struct rmb_verifier *v)
{
	return rmb_replay_count(v->replay);
}
