/*
 * Sending one call: encode against the current runtime, pick the nonce,
 * sign with a mortal era, submit, and sort out the node's answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client_int.h"
#include "chainclient/submit_int.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

/* An era born at the current block admits the extrinsic in the next
 * period - 1 blocks; the period is the smallest power of two that gives at
 * least n of them, within the era's bounds [4, 65536]. */
static uint64_t chain_era_period(unsigned n)
{
	uint64_t p = 4;

	while (p < (uint64_t)n + 1 && p < 65536)
		p <<= 1;
	return p;
}

/* The node's answer says the nonce we used is taken or stale, or that the
 * signature does not check (a runtime upgrade changed the versions we sign). */
static int chain_resendable(const struct rpc_error *e)
{
	return e->code == RPC_ERR_INVALID_TX || e->code == RPC_ERR_PRIORITY_TOO_LOW;
}

/* Encodes j's call against rt into call. */
static int chain_encode(const struct chain_runtime *rt, struct chain_job *j, struct zbuf *call)
{
	int ret;

	if (cJSON_IsObject(j->args)) {
		cJSON *args;
		const char *which;
		ret = chain_call_args(rt->meta, j->pallet, j->call, j->args, &args, &which);
		if (ret == -EINVAL && which)
			log_err("chain", "%s.%s in runtime %u: argument '%s' missing or unknown",
			        j->pallet, j->call, rt->spec_version, which);
		if (!ret)
			ret = meta_encode_call(rt->meta, j->pallet, j->call, args, call);
		cJSON_Delete(args);
	} else {
		ret = meta_encode_call(rt->meta, j->pallet, j->call, j->args, call);
	}
	return ret == ZE_ABSENT ? ZE_UNSUPPORTED : ret;
}

/*
 * Utility.batch_all(calls) around the n encoded calls: its call index, then
 * Vec<RuntimeCall>, whose items are exactly what meta_encode_call makes.
 * ZE_UNSUPPORTED when the runtime has no Utility.batch_all.
 */
static int chain_batch_call(const struct chain_runtime *rt, struct zbuf *calls, size_t n,
                            struct zbuf *out)
{
	const struct meta_pallet *p = meta_pallet(rt->meta, "Utility");
	const struct meta_variant *v =
	    p && p->has_calls ? meta_call(rt->meta, p, "batch_all") : NULL;
	int ret;

	if (!v)
		return ZE_UNSUPPORTED;
	if ((ret = scale_put_u8(out, p->index)) || (ret = scale_put_u8(out, v->index)) ||
	    (ret = scale_put_compact(out, n)))
		return ret;
	for (size_t i = 0; i < n; i++)
		if ((ret = scale_put_bytes(out, calls[i].data, calls[i].len)))
			return ret;
	return 0;
}

/*
 * The last finalized block fed by the follower, when it can be the era's
 * birth instead of asking the chain for its head: fed mode, a block fed in
 * the last CHAIN_FED_BIRTH_MS (longer than tfchain's 6 s blocks), an era
 * period that births at exactly that block, and a first attempt (a resend
 * after a refusal asks the chain, in case the follower lags behind).
 */
#define CHAIN_FED_BIRTH_MS 10000

static int chain_fed_birth(struct chain_submitter *s, const struct chain_job *j, uint64_t *num,
                           uint8_t hash[32])
{
	int64_t now = clk_mono_ms();
	int ok = 0;

	if (s->opts.follow_best || j->resends || chain_era_period(s->opts.give_up_blocks) >= 4096)
		return 0;
	pthread_mutex_lock(&s->lock);
	/* A follower replaying old blocks feeds recent calls of stale ones:
	 * the best block last read by a header says how far behind it is. */
	uint64_t slack = chain_era_period(s->opts.give_up_blocks) / 4;
	if (s->fed_valid && s->fed_ms && now - s->fed_ms < CHAIN_FED_FRESH_MS &&
	    now - s->fed_top_ms < CHAIN_FED_BIRTH_MS && s->best_seen <= s->fed_top + slack) {
		*num = s->fed_top;
		memcpy(hash, s->fed_hash, 32);
		ok = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* Signs call for jobs[0..n) (one extrinsic) into xt. */
static int chain_build(struct chain_submitter *s, struct chain_job **jobs, size_t n,
                       const struct chain_runtime *rt, const struct zbuf *call, struct zbuf *xt)
{
	struct xt_params p;
	uint64_t best, birth, current;
	uint8_t parent[32], h[32];
	int ret;

	memset(&p, 0, sizeof(p));
	if (chain_fed_birth(s, jobs[0], &current, p.block_hash)) {
		/* Born at the last fed finalized block: no request. Nothing
		 * not yet sent can be in it or before it. */
		best = current;
		xt_era_mortal(chain_era_period(s->opts.give_up_blocks), current, &p.era);
	} else {
		ret = rpc_header(chain_client_rpc(s->c), NULL, &best, parent);
		if (ret)
			return ret;
		s->best_seen = best;
		/* The era is born at the best block's parent, whose hash its
		 * header just gave: one request fewer per call than reading the
		 * best block's hash, for one block less of validity. Eras
		 * quantised past one block (periods from 4096) still read the
		 * birth block's hash. */
		current = best ? best - 1 : 0;
		xt_era_mortal(chain_era_period(s->opts.give_up_blocks), current, &p.era);
		birth = xt_era_birth(&p.era, current);
		if (best && birth == best - 1)
			memcpy(p.block_hash, parent, 32);
		else if ((ret = rpc_block_hash(chain_client_rpc(s->c), birth, p.block_hash)))
			return ret;
	}
	if (!s->nonce_valid) {
		uint64_t nn;
		ret = rpc_account_next_index(chain_client_rpc(s->c), s->key.pk, &nn);
		if (ret)
			return ret;
		chain_submitter_set_nonce(s, 1, nn);
	}
	p.call = call->data;
	p.call_len = call->len;
	p.nonce = s->nonce;
	p.tip = 0;
	p.spec_version = rt->spec_version;
	p.tx_version = rt->tx_version;
	memcpy(p.genesis, rt->genesis, 32);
	ret = xt_sign(&rt->exts, &p, &s->key, xt);
	if (ret)
		return ret;
	xt_hash(xt->data, xt->len, h);
	for (size_t i = 0; i < n; i++) {
		memcpy(jobs[i]->hash, h, 32);
		jobs[i]->nonce = s->nonce;
		jobs[i]->death = xt_era_death(&p.era, current);
		jobs[i]->batch_n = n > 1 ? (unsigned)n : 0;
		jobs[i]->batch_pos = (unsigned)i;
	}
	pthread_mutex_lock(&s->lock);
	s->sent_best = best;
	pthread_mutex_unlock(&s->lock);
	/* Blocks up to the best one cannot hold what is not sent yet. */
	if (!s->inflight || !s->scanned_valid) {
		s->scanned = best;
		s->scanned_valid = 1;
		s->head_seen = best;
		s->progress_ms = clk_mono_ms();
	}
	return 0;
}

static void chain_unwatch(struct chain_submitter *s, struct chain_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->watched)
			chain_watch_del(s, jobs[i]->hash);
		jobs[i]->watched = 0;
	}
}

/* Encodes each job's call into calls[]; jobs whose call does not exist or
 * whose arguments do not fit are finished as INVALID and dropped from
 * jobs[] (the others keep their order). Returns how many are left. */
static size_t chain_encode_all(struct chain_submitter *s, const struct chain_runtime *rt,
                               struct chain_job **jobs, size_t n, struct zbuf *calls)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct chain_job *j = jobs[i];
		zbuf_init(&calls[k], XT_MAX_LEN);
		int ret = chain_encode(rt, j, &calls[k]);
		if (ret == ZE_UNSUPPORTED || ret == -EINVAL) {
			zbuf_free(&calls[k]);
			chain_job_fail(j, CHAIN_OUTCOME_INVALID, ret, "%s.%s %s in runtime %u",
			               j->pallet, j->call,
			               ret == ZE_UNSUPPORTED ? "does not exist"
			                                     : "arguments do not fit",
			               rt->spec_version);
		} else if (ret) {
			zbuf_free(&calls[k]);
			chain_job_fail(j, CHAIN_OUTCOME_REJECTED, ret, "could not prepare: %s",
			               zerr_str(ret));
		} else {
			jobs[k++] = j;
		}
	}
	return k;
}

/* Debug trace of one submission: each call's first argument (a contract id
 * for the engine's calls) and how long it waited in the queue, so a
 * deploy's path can be followed from the engine's log lines to its block. */
static void chain_trace_sent(struct chain_job **jobs, size_t n)
{
	char ids[1024];
	size_t off = 0;
	int64_t now = clk_mono_ms();

	ids[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(ids) - 32; i++) {
		/* The first argument, by position or by name. */
		const cJSON *a0 = jobs[i]->args ? jobs[i]->args->child : NULL;
		int w = cJSON_IsString(a0)
		            ? snprintf(ids + off, sizeof(ids) - off, "%s%.20s", i ? " " : "",
		                       a0->valuestring)
		            : snprintf(ids + off, sizeof(ids) - off, "%s%.0f", i ? " " : "",
		                       cJSON_IsNumber(a0) ? a0->valuedouble : -1.0);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	log_debug("chain", "%s.%s: %zu call(s) sent with nonce %llu, queued %lld..%lld ms ago: %s",
	          jobs[0]->pallet, jobs[0]->call, n, (unsigned long long)jobs[0]->nonce,
	          (long long)(now - jobs[0]->queued_ms), (long long)(now - jobs[n - 1]->queued_ms),
	          ids);
}

int chain_send(struct chain_submitter *s, struct chain_job **jobs, size_t *np)
{
	struct chain_runtime *rt = NULL;
	struct zbuf calls[CHAIN_BATCH_MAX], batch, xt;
	const struct zbuf *call;
	struct rpc_error e;
	uint8_t hash[32];
	size_t n = *np;
	int ret;

	ret = chain_client_runtime(s->c, &rt);
	if (ret) {
		for (size_t i = 0; i < n; i++)
			chain_job_fail(jobs[i], CHAIN_OUTCOME_REJECTED, ret,
			               "cannot load the runtime: %s", zerr_str(ret));
		return 0;
	}
	n = *np = chain_encode_all(s, rt, jobs, n, calls);
	zbuf_init(&batch, XT_MAX_LEN);
	zbuf_init(&xt, XT_MAX_LEN);
	if (n == 0) {
		ret = 0;
		goto out;
	}
	call = &calls[0];
	if (n > 1) {
		ret = chain_batch_call(rt, calls, n, &batch);
		if (ret) {
			if (ret == ZE_UNSUPPORTED && !s->nobatch_logged) {
				log_info("chain",
				         "runtime %u has no Utility.batch_all: sending calls "
				         "one by one",
				         rt->spec_version);
				s->nobatch_logged = 1;
			} else if (ret != ZE_UNSUPPORTED) {
				log_info("chain", "batch of %zu calls: %s; sending them one by one",
				         n, zerr_str(ret));
			}
			chain_requeue_solo(s, jobs + 1, n - 1);
			for (size_t i = 1; i < n; i++)
				zbuf_free(&calls[i]);
			n = *np = 1;
		} else {
			call = &batch;
		}
	}
	ret = chain_build(s, jobs, n, rt, call, &xt);
	if (!ret) {
		for (size_t i = 0; i < n && !ret; i++)
			if (!(ret = chain_watch_add(s, jobs[i]->hash)))
				jobs[i]->watched = 1;
		if (ret)
			chain_unwatch(s, jobs, n);
	}
	if (ret) {
		/* Nothing was sent: the caller may retry safely. */
		for (size_t i = 0; i < n; i++)
			chain_job_fail(jobs[i], CHAIN_OUTCOME_REJECTED, ret,
			               "could not prepare: %s", zerr_str(ret));
		ret = 0;
		goto out;
	}
	memset(&e, 0, sizeof(e));
	ret = rpc_submit_extrinsic(chain_client_rpc(s->c), xt.data, xt.len, hash, &e);
	if (ret == 0 || (ret == ZE_CHAIN && e.code == RPC_ERR_ALREADY_IMPORTED)) {
		if (log_get_level() >= LOG_LVL_DEBUG)
			chain_trace_sent(jobs, n);
		chain_submitter_set_nonce(s, 1, s->nonce + 1);
		ret = 1;
		goto out;
	}
	if (ret == ZE_CHAIN && chain_resendable(&e) && jobs[0]->resends < s->opts.max_resends) {
		log_info("chain", "%s.%s nonce %llu refused (%ld %s %s); resyncing",
		         jobs[0]->pallet, jobs[0]->call, (unsigned long long)jobs[0]->nonce, e.code,
		         e.message, e.data);
		chain_unwatch(s, jobs, n);
		for (size_t i = 0; i < n; i++)
			jobs[i]->resends++;
		chain_submitter_set_nonce(s, 0, 0);
		if (e.code == RPC_ERR_INVALID_TX)
			chain_client_refresh(s->c, NULL);
		ret = 2;
		goto out;
	}
	if (ret == ZE_CHAIN) {
		chain_submitter_set_nonce(s, 0, 0);
		chain_unwatch(s, jobs, n);
		if (n > 1) {
			/* A refused batch: one of its calls may be what the pool
			 * refuses; each goes on its own. */
			log_info("chain",
			         "batch of %zu calls refused (%ld: %s); sending each on its own", n,
			         e.code, e.message);
			chain_requeue_solo(s, jobs, n);
		} else {
			chain_job_fail(jobs[0], CHAIN_OUTCOME_REJECTED, ZE_CHAIN, "%ld: %s%s%s",
			               e.code, e.message, e.data[0] ? ": " : "", e.data);
		}
		ret = 0;
		goto out;
	}
	/* The node may or may not have it; its hash is known, so follow it
	 * until it shows up or its era ends. The next nonce comes from the
	 * chain, which counts it if it reached the pool. */
	log_warn("chain", "%s.%s: submission fate unknown (%s); following it", jobs[0]->pallet,
	         jobs[0]->call, zerr_str(ret));
	chain_submitter_set_nonce(s, 0, 0);
	ret = 1;
out:
	for (size_t i = 0; i < n; i++)
		zbuf_free(&calls[i]);
	zbuf_free(&batch);
	zbuf_free(&xt);
	chain_runtime_put(rt);
	return ret;
}
