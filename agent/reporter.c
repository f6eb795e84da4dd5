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

/* The pallet and call of a payload rep_payload wrote, from its fixed
 * opening {"pallet":"P","call":"C", without parsing the records after it
 * (names are identifiers: no escapes). -EINVAL for any other text. */
static int payload_call(const char *payload, char *pallet, size_t psz, char *call, size_t csz)
{
	static const char p0[] = "{\"pallet\":\"", c0[] = "\",\"call\":\"";
	if (strncmp(payload, p0, sizeof p0 - 1) != 0)
		return -EINVAL;
	const char *p = payload + sizeof p0 - 1, *pe = strchr(p, '"');
	if (!pe || pe == p || (size_t)(pe - p) >= psz || strncmp(pe, c0, sizeof c0 - 1) != 0)
		return -EINVAL;
	const char *c = pe + sizeof c0 - 1, *ce = strchr(c, '"');
	if (!ce || ce == c || (size_t)(ce - c) >= csz || ce[1] != ',')
		return -EINVAL;
	memcpy(pallet, p, (size_t)(pe - p));
	pallet[pe - p] = 0;
	memcpy(call, c, (size_t)(ce - c));
	call[ce - c] = 0;
	return 0;
}

int rep_enqueue_engine(void *eng, uint64_t contract_id, const char *key, const char *payload,
		       int *added)
{
	char pallet[64], call[64];
	/* The engine would parse the whole payload (a cJSON tree of 1,024
	 * records; about 13 ms for a cycle of 10,000) to learn the two names
	 * it opens with. */
	if (payload_call(payload, pallet, sizeof pallet, call, sizeof call) == 0)
		return eng_outbox_enqueue_call(eng, pallet, call, contract_id, key, payload, added);
	return eng_outbox_enqueue(eng, contract_id, key, payload, added);
}

static int store_enqueue(void *store, uint64_t contract_id, const char *key,
			 const char *payload, int *added)
{
	return store_outbox_add(store, REP_OUTBOX_KIND, contract_id, key, payload, added);
}

int rep_new(const struct rep_config *cfg, const struct rep_deps *deps, struct rep **out)
{
	if (!deps || !deps->store || (!deps->chain && !deps->meta))
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
	rep_ws_init(&r->ws, deps->store);
	if (!r->deps.enqueue) {
		r->deps.enqueue = store_enqueue;
		r->deps.enqueue_ctx = deps->store;
	}
	*out = r;
	return 0;
}

void rep_free(struct rep *r)
{
	if (!r)
		return;
	rep_ws_free(&r->ws);
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

/* A cycle being built: its records in ascending contract order (in the
 * workspace) and how they are cut into parts. */
struct batch {
	struct grid_report *recs;
	size_t n, nparts;
};

/* A contract accepted moments ago waits for the next cycle: the chain
 * starts its billing when the deployment lands (a block or two after the
 * agent accepted it), and skips, without an event, a report that is not
 * later than that start. Its first report then covers the time since
 * acceptance. */
static int too_young(const struct rep_row *row, int64_t ts)
{
	return row->created + REP_MIN_AGE_S > ts;
}

/* Records of part p: *first and *cnt. */
static void part_range(const struct rep_limits *lim, const struct batch *b, size_t p,
                       size_t *first, size_t *cnt)
{
	*first = p * lim->max_records;
	*cnt = b->n - *first < lim->max_records ? b->n - *first : lim->max_records;
}

/* Builds the records of every contract in rows old enough, and puts each
 * record into its row's free slot (rows then hold what the cycle's
 * transaction stores); checks them against the runtime once. */
static int batch_build(struct rep *r, const struct meta *m, const struct rep_limits *lim,
                       struct rep_row *rows, size_t nrows, const struct rep_fail *f, size_t nf,
                       int64_t ts, struct batch *b)
{
	struct rep_ws *w = &r->ws;
	memset(b, 0, sizeof *b);
	if (nrows > w->recs_cap) {
		struct grid_report *v = realloc(w->recs, nrows * sizeof *v);
		if (!v)
			return -ENOMEM;
		w->recs = v;
		w->recs_cap = nrows;
	}
	b->recs = w->recs;
	int rc = 0;
	if (r->deps.usage && r->deps.usage_begin &&
	    (rc = r->deps.usage_begin(r->deps.usage_ctx)) < 0)
		log_warn("reporter", "usage snapshot: %s; reading each contract alone",
		         zerr_str(rc));
	for (size_t i = 0; i < nrows; i++) {
		int slot_b;
		int64_t counter;
		if (too_young(&rows[i], ts) || rows[i].bad)
			continue;
		make_record(r, &rows[i], ts, f, nf, &b->recs[b->n++], &slot_b, &counter);
		*(slot_b ? &rows[i].b : &rows[i].a) = (struct rep_slot){1, ts, counter};
	}
	if (r->deps.usage && r->deps.usage_end)
		r->deps.usage_end(r->deps.usage_ctx);
	if (b->n == 0)
		return 0;
	b->nparts = (b->n + lim->max_records - 1) / lim->max_records;
	if (b->nparts > REP_MAX_PARTS)
		return ZE_TOOBIG;
	/* Every record has the same fixed-size shape: one check covers all,
	 * and the size of each part follows from its count. */
	rc = rep_check_shape(m, lim, &b->recs[0]);
	for (size_t p = 0; p < b->nparts && rc == 0; p++) {
		size_t first, cnt;
		part_range(lim, b, p, &first, &cnt);
		rc = rep_fits(lim, cnt);
	}
	return rc;
}

/* Queues every part, the records' slots and the cycle's bookkeeping in one
 * transaction. Each part's payload is written just before it is queued,
 * into the workspace's one text buffer. */
static int batch_commit(struct rep *r, const struct rep_limits *lim, const struct batch *b,
                        const struct rep_row *rows, size_t nrows, int64_t ts)
{
	struct store *s = r->deps.store;
	struct zbuf *text = &r->ws.text;
	size_t ncalls = rep_ncalls(lim);
	char key[STORE_KEY_MAX], name[32];
	int rc = store_begin(s);
	if (rc < 0)
		return rc;
	for (size_t p = 0; p < b->nparts && rc == 0; p++) {
		size_t first, cnt;
		part_range(lim, b, p, &first, &cnt);
		for (size_t c = 0; c < ncalls && rc == 0; c++) {
			int added = 0;
			rc = rep_part_key(ts, p, lim->variant, (int)c, key, sizeof key);
			if (rc == 0)
				rc = rep_payload(lim, c, &b->recs[first], cnt, text);
			if (rc == 0)
				rc = r->deps.enqueue(r->deps.enqueue_ctx, b->recs[first].contract_id,
				                     key, (const char *)text->data, &added);
			if (rc == 0 && !added)
				log_warn("reporter", "%s was queued before; not again", key);
		}
		snprintf(name, sizeof name, REP_C_HI_FMT, p);
		if (rc == 0)
			rc = store_cursor_set(s, name, (int64_t)b->recs[first + cnt - 1].contract_id);
		snprintf(name, sizeof name, REP_C_CNT_FMT, p);
		if (rc == 0)
			rc = store_cursor_set(s, name, (int64_t)cnt);
	}
	if (rc == 0)
		rc = rep_db_put_slots(&r->ws, rows, nrows);
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
	struct batch b;
	size_t n = 0;
	int rc = rep_limits(m, &r->cfg, &lim);
	if (rc < 0)
		return rc;
	struct rep_fail *f = NULL;
	size_t nf = 0;
	if ((rc = rep_db_fails(r->deps.store, &r->ws, &f, &nf)) < 0)
		return rc;
	if ((rc = rep_db_rows_ws(&r->ws, &n)) < 0) {
		free(f);
		return rc;
	}
	rc = batch_build(r, m, &lim, r->ws.rows, n, f, nf, ts, &b);
	free(f);
	if (rc == 0 && b.n == 0)
		rc = store_cursor_set(r->deps.store, REP_C_LAST, ts);
	else if (rc == 0)
		rc = batch_commit(r, &lim, &b, r->ws.rows, n, ts);
	if (rc == 0 && b.n) {
		r->stats.queued = 1;
		r->stats.timestamp = ts;
		r->stats.records = b.n;
		r->stats.calls = b.nparts * rep_ncalls(&lim);
		log_info("reporter", "cycle %" PRId64 ": %zu records in %zu calls queued", ts, b.n,
		         r->stats.calls);
		if (r->stats.unmeasured)
			log_warn("reporter", "cycle %" PRId64 ": usage of %zu contracts unmeasured;"
				 " their bytes wait for the next report", ts, r->stats.unmeasured);
	}
	return rc;
}

/* --- the tick --- */

static int64_t jitter_ms(const struct rep *r)
{
	return r->cfg.jitter_s ? (int64_t)randombytes_uniform(r->cfg.jitter_s * 1000u) : 0;
}

struct cycle_arg {
	struct rep *r;
	int64_t ts;
};

static int cycle_with(void *arg, const struct meta *m)
{
	struct cycle_arg *a = arg;
	return queue_cycle(a->r, m, a->ts);
}

static int with_meta(struct rep *r, int64_t ts)
{
	if (!r->deps.chain)
		return queue_cycle(r, r->deps.meta, ts);
	if (!r->deps.chain->with_meta)
		return ZE_UNSUPPORTED;
	struct cycle_arg a = {.r = r, .ts = ts};
	return r->deps.chain->with_meta(r->deps.chain->ctx, cycle_with, &a);
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
