/* The reporter's cycle: settle the previous one (reporter_settle.c), then
 * queue the next. */
#include "agent/reporter_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine.h"
#include "common/log.h"
#include "common/zerr.h"

int rep_enqueue_engine(void *eng, uint64_t contract_id, const char *key, const char *payload,
		       int *added)
{
	return eng_outbox_enqueue(eng, ENG_CALL_REPORTS, contract_id, key, payload, added);
}

static int store_enqueue(void *store, uint64_t contract_id, const char *key,
			 const char *payload, int *added)
{
	return store_outbox_add(store, REP_OUTBOX_KIND, contract_id, key, payload, added);
}

int rep_new(const struct rep_config *cfg, const struct rep_deps *deps, struct rep **out)
{
	if (!deps || !deps->store || (!deps->client && !deps->meta))
		return -EINVAL;
	struct rep *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	if (cfg)
		r->cfg = *cfg;
	if (!r->cfg.interval_s)
		r->cfg.interval_s = REP_DEFAULT_INTERVAL_S;
	if (!r->cfg.max_window_s)
		r->cfg.max_window_s = REP_DEFAULT_MAX_WINDOW_S;
	if (r->cfg.jitter_s == REP_JITTER_NONE)
		r->cfg.jitter_s = 0;
	else if (!r->cfg.jitter_s)
		r->cfg.jitter_s = REP_DEFAULT_JITTER_S < r->cfg.interval_s / 10
					  ? REP_DEFAULT_JITTER_S
					  : r->cfg.interval_s / 10;
	if (r->cfg.jitter_s > UINT32_MAX / 1000)
		r->cfg.jitter_s = UINT32_MAX / 1000; /* randombytes_uniform takes ms in 32 bits */
	if (!r->cfg.retry_s) /* never later than the next regular cycle */
		r->cfg.retry_s = r->cfg.interval_s < 60 ? r->cfg.interval_s : 60;
	r->deps = *deps;
	if (!r->deps.enqueue) {
		r->deps.enqueue = store_enqueue;
		r->deps.enqueue_ctx = deps->store;
	}
	*out = r;
	return 0;
}

void rep_free(struct rep *r)
{
	free(r);
}

int64_t rep_next_ms(const struct rep *r)
{
	return r->next_ms;
}

void rep_stats(const struct rep *r, struct rep_stats *out)
{
	*out = r->stats;
}

/* --- queueing a new cycle --- */

/* Was the record in slot sl accepted? Yes unless its cycle left a
 * failure marker covering the contract. */
static int accepted(const struct rep_slot *sl, uint64_t cid, const struct rep_fail *f, size_t nf)
{
	if (!sl->used)
		return 0;
	for (size_t i = 0; i < nf; i++)
		if (f[i].ts == sl->t && (int64_t)cid > f[i].lo && (int64_t)cid <= f[i].hi)
			return 0;
	return 1;
}

/* The record of one contract at ts; *slot_b says which slot takes it and
 * *counter what to remember there. */
static void make_record(struct rep *r, const struct rep_row *row, int64_t ts,
			const struct rep_fail *f, size_t nf, struct grid_report *g, int *slot_b,
			int64_t *counter)
{
	int acc_a = accepted(&row->a, row->cid, f, nf), acc_b = accepted(&row->b, row->cid, f, nf);
	const struct rep_slot *ack = NULL;
	if (acc_a && (!acc_b || row->a.t >= row->b.t))
		ack = &row->a;
	else if (acc_b)
		ack = &row->b;
	/* The new record never overwrites the progress. */
	*slot_b = ack == &row->a;
	int64_t start = ack ? ack->t : row->created;
	uint64_t window = start < ts ? (uint64_t)(ts - start) : 1;
	if (window > r->cfg.max_window_s)
		window = r->cfg.max_window_s;
	uint64_t base = ack && ack->n > 0 ? (uint64_t)ack->n : 0, now = base;
	if (r->deps.usage) {
		int rc = r->deps.usage(r->deps.usage_ctx, row->cid, &now);
		if (rc < 0) {
			/* Unmeasured now: nothing claimed, nothing lost; the bytes go
			 * into the next report that can measure them. */
			log_debug("reporter", "contract %" PRIu64 ": usage: %s", row->cid,
				  zerr_str(rc));
			r->stats.unmeasured++;
			now = base;
		}
	}
	if (now > INT64_MAX)
		now = INT64_MAX;
	*g = (struct grid_report){.contract_id = row->cid, .timestamp = (uint64_t)ts,
				  .window = window, .cru = row->cru, .sru = row->sru,
				  .hru = row->hru, .mru = row->mru,
				  /* A counter below the last one restarted with its workloads. */
				  .nru = now >= base ? now - base : now};
	*counter = (int64_t)now;
}

/* A cycle being built: its records in ascending contract order and the
 * encoded calls per part. */
struct batch {
	struct grid_report *recs;
	size_t n;
	struct rep_call (*calls)[2];
	size_t *ncalls, nparts;
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; b->calls && b->ncalls && i < b->nparts; i++)
		for (size_t c = 0; c < b->ncalls[i]; c++)
			rep_call_clear(&b->calls[i][c]);
	free(b->recs);
	free(b->calls);
	free(b->ncalls);
}

/* A contract accepted moments ago waits for the next cycle: the chain
 * starts its billing when the deployment lands (a block or two after the
 * agent accepted it), and skips, without an event, a report that is not
 * later than that start. Its first report then covers the time since
 * acceptance. */
static int too_young(const struct rep_row *row, int64_t ts)
{
	return row->created + REP_MIN_AGE_S > ts;
}

/* Builds and encodes the records of every contract in rows old enough,
 * and puts each record into its row's free slot (rows then hold what the
 * cycle's transaction stores). */
static int batch_build(struct rep *r, const struct meta *m, const struct rep_limits *lim,
                       struct rep_row *rows, size_t nrows, const struct rep_fail *f, size_t nf,
                       int64_t ts, struct batch *b)
{
	memset(b, 0, sizeof *b);
	if (!(b->recs = malloc((nrows ? nrows : 1) * sizeof *b->recs)))
		return -ENOMEM;
	for (size_t i = 0; i < nrows; i++) {
		int slot_b;
		int64_t counter;
		if (too_young(&rows[i], ts) || rows[i].bad)
			continue;
		make_record(r, &rows[i], ts, f, nf, &b->recs[b->n++], &slot_b, &counter);
		*(slot_b ? &rows[i].b : &rows[i].a) = (struct rep_slot){1, ts, counter};
	}
	if (b->n == 0)
		return 0;
	b->nparts = (b->n + lim->max_records - 1) / lim->max_records;
	if (b->nparts > REP_MAX_PARTS)
		return ZE_TOOBIG;
	b->calls = calloc(b->nparts, sizeof *b->calls);
	b->ncalls = calloc(b->nparts, sizeof *b->ncalls);
	if (!b->calls || !b->ncalls)
		return -ENOMEM;
	for (size_t p = 0; p < b->nparts; p++) {
		size_t first = p * lim->max_records, cnt = b->n - first;
		if (cnt > lim->max_records)
			cnt = lim->max_records;
		int rc = rep_encode_calls(m, lim, &b->recs[first], cnt, 0, b->calls[p],
					  &b->ncalls[p]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Queues every part, the records' slots and the cycle's bookkeeping in one
 * transaction. */
static int batch_commit(struct rep *r, const struct rep_limits *lim, const struct batch *b,
                        const struct rep_row *rows, size_t nrows, int64_t ts)
{
	struct store *s = r->deps.store;
	char key[STORE_KEY_MAX], name[32];
	int rc = store_begin(s);
	if (rc < 0)
		return rc;
	for (size_t p = 0; p < b->nparts && rc == 0; p++) {
		size_t first = p * lim->max_records, last = first + lim->max_records - 1;
		if (last >= b->n)
			last = b->n - 1;
		for (size_t c = 0; c < b->ncalls[p] && rc == 0; c++) {
			int added = 0;
			rc = rep_part_key(ts, p, lim->variant, (int)c, key, sizeof key);
			if (rc == 0)
				rc =
				    r->deps.enqueue(r->deps.enqueue_ctx, b->recs[first].contract_id,
				                    key, b->calls[p][c].payload, &added);
			if (rc == 0 && !added)
				log_warn("reporter", "%s was queued before; not again", key);
		}
		snprintf(name, sizeof name, REP_C_HI_FMT, p);
		if (rc == 0)
			rc = store_cursor_set(s, name, (int64_t)b->recs[last].contract_id);
		snprintf(name, sizeof name, REP_C_CNT_FMT, p);
		if (rc == 0)
			rc = store_cursor_set(s, name, (int64_t)(last - first + 1));
	}
	if (rc == 0)
		rc = rep_db_put_slots(s, rows, nrows);
	if (rc == 0)
		rc = store_cursor_set(s, REP_C_VARIANT, lim->variant);
	if (rc == 0)
		rc = store_cursor_set(s, REP_C_PARTS, (int64_t)b->nparts);
	if (rc == 0)
		rc = store_cursor_set(s, REP_C_CYCLE, ts);
	if (rc == 0)
		rc = store_cursor_set(s, REP_C_LAST, ts);
	if (rc < 0) {
		store_rollback(s);
		return rc;
	}
	return store_commit(s);
}

static int queue_cycle(struct rep *r, const struct meta *m, int64_t ts)
{
	struct rep_limits lim;
	struct rep_row *rows = NULL;
	struct batch b;
	size_t n = 0;
	int rc = rep_limits(m, &r->cfg, &lim);
	if (rc < 0)
		return rc;
	struct rep_fail *f = NULL;
	size_t nf = 0;
	if ((rc = rep_db_fails(r->deps.store, &f, &nf)) < 0)
		return rc;
	if ((rc = rep_db_rows(r->deps.store, &rows, &n)) < 0) {
		free(f);
		return rc;
	}
	rc = batch_build(r, m, &lim, rows, n, f, nf, ts, &b);
	free(f);
	if (rc == 0 && b.n == 0)
		rc = store_cursor_set(r->deps.store, REP_C_LAST, ts);
	else if (rc == 0)
		rc = batch_commit(r, &lim, &b, rows, n, ts);
	free(rows);
	if (rc == 0 && b.n) {
		r->stats.queued = 1;
		r->stats.timestamp = ts;
		r->stats.records = b.n;
		for (size_t p = 0; p < b.nparts; p++)
			r->stats.calls += b.ncalls[p];
		log_info("reporter", "cycle %" PRId64 ": %zu records in %zu calls queued", ts, b.n,
		         r->stats.calls);
		if (r->stats.unmeasured)
			log_warn("reporter", "cycle %" PRId64 ": usage of %zu contracts unmeasured;"
				 " their bytes wait for the next report", ts, r->stats.unmeasured);
	}
	batch_free(&b);
	return rc;
}

/* --- the tick --- */

static int64_t jitter_ms(const struct rep *r)
{
	return r->cfg.jitter_s ? (int64_t)randombytes_uniform(r->cfg.jitter_s * 1000u) : 0;
}

static int with_meta(struct rep *r, int64_t ts)
{
	if (!r->deps.client)
		return queue_cycle(r, r->deps.meta, ts);
	struct chain_runtime *rt;
	int rc = chain_client_runtime(r->deps.client, &rt);
	if (rc < 0)
		return ZE_UNKNOWN;
	rc = queue_cycle(r, rt->meta, ts);
	chain_runtime_put(rt);
	return rc;
}

int rep_cycle(struct rep *r, int64_t now_ms)
{
	struct store *s = r->deps.store;
	int rc = 0;
	memset(&r->stats, 0, sizeof r->stats);
	if (r->next_ms == 0) {
		/* First tick: due one interval after the last cycle, or now. */
		int64_t last = rep_cursor_or(s, REP_C_LAST, 0, &rc);
		if (rc < 0)
			return rc;
		r->next_ms = last > 0 ? last * 1000 + (int64_t)r->cfg.interval_s * 1000 + jitter_ms(r)
				      : now_ms;
	}
	if ((rc = rep_settle(r)) != 0) {
		if (rc > 0) {
			r->stats.waiting = 1;
			return 0;
		}
		return rc; /* a store error: the caller logs it and ticks again */
	}
	if (now_ms < r->next_ms)
		return 0;
	int64_t ts = now_ms / 1000, last = rep_cursor_or(s, REP_C_LAST, 0, &rc);
	if (rc < 0)
		return rc;
	if (ts <= last) {
		/* The clock is behind the last cycle: a timestamp the chain has
		 * seen would be ignored, so wait until time passes it. */
		r->next_ms = (last + 1) * 1000;
		return 0;
	}
	rc = with_meta(r, ts);
	if (rc < 0) {
		log_warn("reporter", "cycle %" PRId64 " not queued: %s; retry in %u s", ts,
			 zerr_str(rc), r->cfg.retry_s);
		r->next_ms = now_ms + (int64_t)r->cfg.retry_s * 1000;
		return rc;
	}
	r->next_ms = ts * 1000 + (int64_t)r->cfg.interval_s * 1000 + jitter_ms(r);
	return 0;
}
