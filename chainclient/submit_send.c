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

static int chain_build(struct chain_submitter *s, struct chain_job *j,
		       const struct chain_runtime *rt, struct zbuf *xt)
{
	struct zbuf call;
	struct xt_params p;
	uint64_t best, birth, current;
	uint8_t parent[32];
	int ret;

	zbuf_init(&call, XT_MAX_LEN);
	if (cJSON_IsObject(j->args)) {
		cJSON *args;
		const char *which;
		ret = chain_call_args(rt->meta, j->pallet, j->call, j->args, &args, &which);
		if (ret == -EINVAL && which)
			log_err("chain", "%s.%s in runtime %u: argument '%s' missing or unknown",
				j->pallet, j->call, rt->spec_version, which);
		if (!ret)
			ret = meta_encode_call(rt->meta, j->pallet, j->call, args, &call);
		cJSON_Delete(args);
	} else {
		ret = meta_encode_call(rt->meta, j->pallet, j->call, j->args, &call);
	}
	if (ret) {
		zbuf_free(&call);
		return ret == ZE_ABSENT ? ZE_UNSUPPORTED : ret;
	}
	memset(&p, 0, sizeof(p));
	ret = rpc_header(chain_client_rpc(s->c), NULL, &best, parent);
	if (ret)
		goto out;
	/* The era is born at the best block's parent, whose hash its header
	 * just gave: one request fewer per call than reading the best block's
	 * hash, for one block less of validity. Eras quantised past one block
	 * (periods from 4096) still read the birth block's hash. */
	current = best ? best - 1 : 0;
	xt_era_mortal(chain_era_period(s->opts.give_up_blocks), current, &p.era);
	birth = xt_era_birth(&p.era, current);
	if (best && birth == best - 1)
		memcpy(p.block_hash, parent, 32);
	else if ((ret = rpc_block_hash(chain_client_rpc(s->c), birth, p.block_hash)))
		goto out;
	if (!s->nonce_valid) {
		uint64_t n;
		ret = rpc_account_next_index(chain_client_rpc(s->c), s->key.pk, &n);
		if (ret)
			goto out;
		chain_submitter_set_nonce(s, 1, n);
	}
	p.call = call.data;
	p.call_len = call.len;
	p.nonce = s->nonce;
	p.tip = 0;
	p.spec_version = rt->spec_version;
	p.tx_version = rt->tx_version;
	memcpy(p.genesis, rt->genesis, 32);
	ret = xt_sign(&rt->exts, &p, &s->key, xt);
	if (ret)
		goto out;
	xt_hash(xt->data, xt->len, j->hash);
	j->nonce = s->nonce;
	j->death = xt_era_death(&p.era, current);
	/* Blocks up to the best one cannot hold what is not sent yet. */
	if (!s->inflight || !s->scanned_valid) {
		s->scanned = best;
		s->scanned_valid = 1;
		s->head_seen = best;
		s->progress_ms = clk_mono_ms();
	}
out:
	zbuf_free(&call);
	return ret;
}

int chain_send(struct chain_submitter *s, struct chain_job *j)
{
	struct chain_runtime *rt = NULL;
	struct rpc_error e;
	struct zbuf xt;
	uint8_t hash[32];
	int ret;

	ret = chain_client_runtime(s->c, &rt);
	if (ret) {
		chain_job_fail(j, CHAIN_OUTCOME_REJECTED, ret, "cannot load the runtime: %s",
			       zerr_str(ret));
		return 0;
	}
	zbuf_init(&xt, XT_MAX_LEN);
	ret = chain_build(s, j, rt, &xt);
	if (ret == ZE_UNSUPPORTED || ret == -EINVAL) {
		chain_job_fail(j, CHAIN_OUTCOME_INVALID, ret, "%s.%s %s in runtime %u", j->pallet,
			       j->call,
			       ret == ZE_UNSUPPORTED ? "does not exist" : "arguments do not fit",
			       rt->spec_version);
		ret = 0;
		goto out;
	}
	if (ret) {
		/* Nothing was sent: the caller may retry safely. */
		chain_job_fail(j, CHAIN_OUTCOME_REJECTED, ret, "could not prepare: %s",
			       zerr_str(ret));
		ret = 0;
		goto out;
	}
	memset(&e, 0, sizeof(e));
	ret = rpc_submit_extrinsic(chain_client_rpc(s->c), xt.data, xt.len, hash, &e);
	if (ret == 0 || (ret == ZE_CHAIN && e.code == RPC_ERR_ALREADY_IMPORTED)) {
		log_debug("chain", "%s.%s sent with nonce %llu", j->pallet, j->call,
			  (unsigned long long)j->nonce);
		chain_submitter_set_nonce(s, 1, s->nonce + 1);
		ret = 1;
		goto out;
	}
	if (ret == ZE_CHAIN && chain_resendable(&e) && j->resends < s->opts.max_resends) {
		log_info("chain", "%s.%s nonce %llu refused (%ld %s %s); resyncing", j->pallet,
			 j->call, (unsigned long long)j->nonce, e.code, e.message, e.data);
		j->resends++;
		chain_submitter_set_nonce(s, 0, 0);
		if (e.code == RPC_ERR_INVALID_TX)
			chain_client_refresh(s->c, NULL);
		ret = 2;
		goto out;
	}
	if (ret == ZE_CHAIN) {
		chain_submitter_set_nonce(s, 0, 0);
		chain_job_fail(j, CHAIN_OUTCOME_REJECTED, ZE_CHAIN, "%ld: %s%s%s", e.code, e.message,
			       e.data[0] ? ": " : "", e.data);
		ret = 0;
		goto out;
	}
	/* The node may or may not have it; its hash is known, so follow it
	 * until it shows up or its era ends. The next nonce comes from the
	 * chain, which counts it if it reached the pool. */
	log_warn("chain", "%s.%s: submission fate unknown (%s); following it", j->pallet, j->call,
		 zerr_str(ret));
	chain_submitter_set_nonce(s, 0, 0);
	ret = 1;
out:
	zbuf_free(&xt);
	chain_runtime_put(rt);
	return ret;
}
