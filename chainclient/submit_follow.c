/*
 * Following the chain for in-flight extrinsics: scan each new block's body
 * for their hashes, read System.Events of the including block, and resolve
 * them; expire those whose era has ended unseen. In fed mode the blocks come
 * from an external follower (chain_submitter_feed) and nothing is read here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client_int.h"
#include "chainclient/submit_int.h"
#include "common/clock.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/zerr.h"

/* Blocks scanned per poll, so a long backlog does not starve the queue. */
#define CHAIN_SCAN_BATCH 64

static void chain_unlink(struct chain_submitter *s, struct chain_job *j)
{
	for (struct chain_job **pp = &s->inflight; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			j->next = NULL;
			return;
		}
	}
}

void chain_inflight_abandon(struct chain_submitter *s, int err, const char *why)
{
	struct chain_job *j;

	while ((j = s->inflight)) {
		s->inflight = j->next;
		j->next = NULL;
		chain_job_fail(j, CHAIN_OUTCOME_UNKNOWN, err, "%s", why);
	}
}

cJSON *chain_events_of(const cJSON *events, uint32_t idx)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *e;

	if (!out)
		return NULL;
	cJSON_ArrayForEach(e, events)
	{
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(e, "index");
		if (!cJSON_IsNumber(i) || i->valuedouble != (double)idx)
			continue;
		cJSON *d = cJSON_Duplicate(e, 1);
		if (!d || !cJSON_AddItemToArray(out, d)) {
			cJSON_Delete(d);
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}

/* Item pos's share of a successful batch's events: those between the
 * previous Utility.ItemCompleted and its own, plus the events every item
 * shares (System's, Utility.BatchCompleted and what follows it). */
static cJSON *chain_batch_slice(const cJSON *evs, unsigned pos)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *e;
	unsigned item = 0;
	int after = 0;

	if (!out)
		return NULL;
	cJSON_ArrayForEach(e, evs)
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "pallet");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "event");
		int utility = cJSON_IsString(p) && strcmp(p->valuestring, "Utility") == 0;
		const char *name = cJSON_IsString(n) ? n->valuestring : "";
		if (utility && strcmp(name, "ItemCompleted") == 0) {
			item++;
			continue;
		}
		if (utility && strcmp(name, "BatchCompleted") == 0)
			after = 1;
		int shared = after || (cJSON_IsString(p) && strcmp(p->valuestring, "System") == 0);
		if (!shared && item != pos)
			continue;
		cJSON *d = cJSON_Duplicate(e, 1);
		if (!d || !cJSON_AddItemToArray(out, d)) {
			cJSON_Delete(d);
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}

void chain_resolve_hash(struct chain_submitter *s, const uint8_t h[32], const struct meta *m,
                        const cJSON *evs, uint32_t idx, const uint8_t bhash[32], uint64_t bnum)
{
	struct chain_job *jobs[CHAIN_BATCH_MAX];
	enum chain_outcome_status st;
	char error[sizeof(((struct chain_outcome *)0)->error)] = "";
	const cJSON *ev;
	size_t n = 0;
	int err = 0;

	for (struct chain_job *j = s->inflight; j && n < CHAIN_BATCH_MAX; j = j->next)
		if (memcmp(j->hash, h, 32) == 0)
			jobs[n++] = j;
	if (!n)
		return;
	if (!evs) {
		st = CHAIN_OUTCOME_UNKNOWN;
		err = -ENOMEM;
		snprintf(error, sizeof(error), "out of memory reading the outcome");
	} else if (chain_event_find(evs, "System", "ExtrinsicSuccess")) {
		st = CHAIN_OUTCOME_SUCCESS;
	} else if ((ev = chain_event_find(evs, "System", "ExtrinsicFailed"))) {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
		const cJSON *de = cJSON_GetObjectItemCaseSensitive(data, "dispatch_error");
		st = CHAIN_OUTCOME_FAILED;
		err = ZE_CHAIN;
		if (!m || chain_dispatch_error_name(m, de, error, sizeof(error)) < 0)
			snprintf(error, sizeof(error), "undecodable dispatch error");
	} else {
		/* Included but without an outcome event: the events are not what
		 * this client understands, so it cannot claim either result. */
		st = CHAIN_OUTCOME_UNKNOWN;
		err = ZE_MALFORMED;
		snprintf(error, sizeof(error), "no System.ExtrinsicSuccess/Failed event");
	}
	for (size_t i = 0; i < n; i++)
		chain_unlink(s, jobs[i]);
	if (st == CHAIN_OUTCOME_FAILED && jobs[0]->batch_n > 1) {
		/* batch_all reverted every call: none happened. Each goes again
		 * on its own, so only the bad one fails. */
		log_info("chain",
		         "batch of %zu calls (nonce %llu, block %llu) failed with %s; "
		         "sending each on its own",
		         n, (unsigned long long)jobs[0]->nonce, (unsigned long long)bnum, error);
		chain_requeue_solo(s, jobs, n);
		return;
	}
	/* A batch is one extrinsic: one line says what became of it (its calls'
	 * own lines are at debug, and each call's owner logs what it meant). */
	if (jobs[0]->batch_n > 1)
		log_info("chain", "batch of %zu %s.%s nonce %llu in block %llu #%u: %s%s%s", n,
		         jobs[0]->pallet, jobs[0]->call, (unsigned long long)jobs[0]->nonce,
		         (unsigned long long)bnum, idx, chain_outcome_status_name(st),
		         error[0] ? " " : "", error);
	for (size_t i = 0; i < n; i++) {
		struct chain_job *j = jobs[i];
		struct chain_outcome o;
		memset(&o, 0, sizeof(o));
		o.status = st;
		o.err = err;
		memcpy(o.error, error, sizeof(o.error));
		memcpy(o.xt_hash, j->hash, 32);
		memcpy(o.block_hash, bhash, 32);
		o.block_number = bnum;
		o.xt_index = idx;
		o.nonce = j->nonce;
		o.resends = j->resends;
		if (evs)
			o.events = j->batch_n > 1 && st == CHAIN_OUTCOME_SUCCESS
			               ? chain_batch_slice(evs, j->batch_pos)
			               : cJSON_Duplicate(evs, 1);
		log_msg(j->batch_n > 1 ? LOG_LVL_DEBUG : LOG_LVL_INFO, "chain",
		        "%s.%s nonce %llu in block %llu #%u%s: %s%s%s", j->pallet, j->call,
		        (unsigned long long)j->nonce, (unsigned long long)bnum, idx,
		        j->batch_n > 1 ? " (batched)" : "", chain_outcome_status_name(o.status),
		        o.error[0] ? " " : "", o.error);
		chain_job_finish(j, &o);
	}
}

/*
 * System.Events of an including block. A transport failure is returned to
 * retry later; events that do not decode are retried once against a fresh
 * runtime (the block may be the first after an upgrade), and otherwise
 * reported through *bad so the extrinsic ends as UNKNOWN instead of the
 * follower retrying the same block forever.
 */
static int chain_block_events(struct chain_submitter *s, const uint8_t bhash[32],
                              struct chain_runtime **rt, cJSON **events, int *bad)
{
	int changed = 0, ret;

	*bad = 0;
	ret = chain_client_runtime(s->c, rt);
	if (!ret)
		ret = chain_events(s->c, *rt, bhash, events);
	if (!ret || zerr_transient(ret) || ret == -ENOMEM)
		return ret;
	if (chain_client_refresh(s->c, &changed) == 0 && changed) {
		chain_runtime_put(*rt);
		*rt = NULL;
		ret = chain_client_runtime(s->c, rt);
		if (!ret)
			ret = chain_events(s->c, *rt, bhash, events);
		if (!ret || zerr_transient(ret) || ret == -ENOMEM)
			return ret;
	}
	*bad = ret;
	return 0;
}

/* A block's extrinsics as read by rpc_block. */
struct chain_blk {
	uint8_t hash[32];
	uint64_t num;
	uint8_t **xts;
	size_t *lens, cnt;
};

/* Reads block n (its hash when known, else NULL) into b; free with
 * rpc_keys_free(b->xts, b->lens, b->cnt). */
static int chain_read_block(struct chain_submitter *s, uint64_t n, const uint8_t *known,
                            struct chain_blk *b)
{
	struct rpc_client *rpc = chain_client_rpc(s->c);
	int ret = 0;

	memset(b, 0, sizeof(*b));
	if (known)
		memcpy(b->hash, known, 32);
	else
		ret = rpc_block_hash(rpc, n, b->hash);
	if (!ret)
		ret = rpc_block(rpc, b->hash, &b->num, &b->xts, &b->lens, &b->cnt);
	if (!ret && b->num != n)
		ret = ZE_UNKNOWN;
	return ret;
}

static int chain_is_inflight(struct chain_submitter *s, const uint8_t h[32])
{
	for (struct chain_job *j = s->inflight; j; j = j->next)
		if (memcmp(j->hash, h, 32) == 0)
			return 1;
	return 0;
}

/* Searches block b (number n) for in-flight extrinsics; 0 when done with
 * it, an error to retry it later. */
static int chain_scan_block(struct chain_submitter *s, uint64_t n, const struct chain_blk *b)
{
	struct chain_runtime *rt = NULL;
	struct chain_job *j, *next;
	uint8_t h[32];
	cJSON *events = NULL;
	int ret = 0, bad = 0, have_events = 0;

	for (size_t i = 0; i < b->cnt; i++) {
		xt_hash(b->xts[i], b->lens[i], h);
		if (!chain_is_inflight(s, h))
			continue;
		if (!have_events) {
			ret = chain_block_events(s, b->hash, &rt, &events, &bad);
			if (ret) {
				log_warn("chain", "events of block %llu: %s", (unsigned long long)n,
				         zerr_str(ret));
				goto out;
			}
			have_events = 1;
		}
		if (bad) {
			for (j = s->inflight; j; j = next) {
				next = j->next;
				if (memcmp(j->hash, h, 32) != 0)
					continue;
				chain_unlink(s, j);
				chain_job_fail(
				    j, CHAIN_OUTCOME_UNKNOWN, bad,
				    "included in block %llu, but its events do not decode: %s",
				    (unsigned long long)n, zerr_str(bad));
			}
			continue;
		}
		cJSON *evs = chain_events_of(events, (uint32_t)i);
		chain_resolve_hash(s, h, rt->meta, evs, (uint32_t)i, b->hash, n);
		cJSON_Delete(evs);
	}
out:
	cJSON_Delete(events);
	chain_runtime_put(rt);
	return ret;
}

/*
 * The watched head. Following finalized blocks, the head's hash is asked
 * first: the same hash as at the last poll means nothing new (one request),
 * else the head block itself is read (its number and extrinsics in one
 * request, kept in *hb for the scan) instead of its header.
 */
static int chain_head(struct chain_submitter *s, uint64_t *head, struct chain_blk *hb, int *have_hb)
{
	struct rpc_client *rpc = chain_client_rpc(s->c);
	uint8_t hh[32];
	int ret;

	*have_hb = 0;
	if (s->opts.follow_best)
		return chain_block_number(s->c, head);
	ret = rpc_finalized_head(rpc, hh);
	if (ret)
		return ret;
	if (s->fin_valid && memcmp(hh, s->fin_hash, 32) == 0) {
		*head = s->fin_num;
		return 0;
	}
	memset(hb, 0, sizeof(*hb));
	memcpy(hb->hash, hh, 32);
	ret = rpc_block(rpc, hh, &hb->num, &hb->xts, &hb->lens, &hb->cnt);
	/* The node just named this block: it cannot be absent. */
	if (ret)
		return ret == ZE_ABSENT ? ZE_UNKNOWN : ret;
	*have_hb = 1;
	*head = hb->num;
	memcpy(s->fin_hash, hh, 32);
	s->fin_num = hb->num;
	s->fin_valid = 1;
	return 0;
}

void chain_follow(struct chain_submitter *s)
{
	struct chain_blk hb;
	uint64_t head;
	int64_t now = clk_mono_ms();
	int ret, have_hb = 0;

	if (!s->inflight)
		return;
	ret = chain_head(s, &head, &hb, &have_hb);
	if (!ret && head > s->head_seen) {
		s->head_seen = head;
		s->progress_ms = now;
	}
	if (now - s->progress_ms > s->opts.stall_ms) {
		log_err("chain", "no new %s block for %ld ms",
		        s->opts.follow_best ? "best" : "finalized", s->opts.stall_ms);
		chain_inflight_abandon(s, ZE_TIMEOUT, "the chain made no progress");
		goto out;
	}
	if (ret)
		goto out;
	uint64_t last = s->scanned + CHAIN_SCAN_BATCH;
	for (uint64_t n = s->scanned + 1; n <= head && n <= last && s->inflight; n++) {
		struct chain_blk b;
		int r;
		if (have_hb && n == head) {
			r = chain_scan_block(s, n, &hb);
		} else {
			r = chain_read_block(s, n, NULL, &b);
			if (!r)
				r = chain_scan_block(s, n, &b);
			rpc_keys_free(b.xts, b.lens, b.cnt);
		}
		if (r < 0)
			break;
		s->scanned = n;
	}
	chain_expire(s);
out:
	if (have_hb)
		rpc_keys_free(hb.xts, hb.lens, hb.cnt);
}

void chain_expire(struct chain_submitter *s)
{
	struct chain_job *j, *next;

	/* Valid in [birth, death): once death - 1 is searched, it is gone. */
	for (j = s->inflight; j; j = next) {
		next = j->next;
		if (s->scanned + 1 < j->death)
			continue;
		chain_unlink(s, j);
		chain_submitter_set_nonce(s, 0, 0);
		chain_job_fail(j, CHAIN_OUTCOME_EXPIRED, ZE_TIMEOUT,
		               "not included by block %llu; its era has ended",
		               (unsigned long long)s->scanned);
	}
}

int chain_fed_run(struct chain_submitter *s)
{
	struct chain_fed *f;
	int64_t now = clk_mono_ms();
	uint64_t top;
	int live, gap, valid;

	pthread_mutex_lock(&s->lock);
	f = s->fhead;
	s->fhead = s->ftail = NULL;
	gap = s->fed_gap;
	s->fed_gap = 0;
	live = s->fed_ms && now - s->fed_ms < CHAIN_FED_FRESH_MS && !s->opts.follow_best;
	top = s->fed_top;
	valid = s->fed_valid;
	pthread_mutex_unlock(&s->lock);

	if (f) {
		struct chain_runtime *rt = NULL;
		/* The runtime is cached: no request unless it changed. */
		if (chain_client_runtime(s->c, &rt) < 0)
			rt = NULL;
		for (struct chain_fed *x = f; x; x = x->next)
			for (size_t i = 0; i < x->n; i++)
				chain_resolve_hash(s, x->m[i].hash, rt ? rt->meta : NULL,
				                   x->m[i].events, x->m[i].idx, x->hash, x->number);
		chain_runtime_put(rt);
		chain_fed_free_list(f);
	}
	/* Entering fed mode, or a feed that skipped blocks: what the follower
	 * did not show is read directly until the submitter has caught up. */
	if (live && valid && (gap || !s->fed_live) && s->inflight && top > s->scanned) {
		s->catchup = 1;
		s->catchup_to = top;
	}
	s->fed_live = live;
	if (!live || !valid)
		return 0;
	if (s->catchup) {
		if (s->scanned < s->catchup_to)
			return 0;
		s->catchup = 0;
	}
	if (!s->inflight)
		return 1;
	if (top > s->scanned)
		s->scanned = top;
	/* Progress is any new block fed, also below the head seen when
	 * sending (a follower replaying a backlog). */
	if (top > s->fed_prog) {
		s->fed_prog = top;
		s->progress_ms = now;
	}
	if (now - s->progress_ms > s->opts.stall_ms) {
		log_err("chain", "no new finalized block fed for %ld ms", s->opts.stall_ms);
		chain_inflight_abandon(s, ZE_TIMEOUT, "the chain made no progress");
		return 1;
	}
	chain_expire(s);
	return 1;
}
