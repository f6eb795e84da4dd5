/*
 * The reporter's bulk reads and writes on the store. The store's API works
 * one contract at a time; a report cycle touches every contract, so these
 * run a few statements over all of them (under the store's lock) on the
 * store's own tables: deployments and workloads read, each scanned once
 * through a covering index and joined here (cheaper than SQLite's grouped
 * join, which looks every contract's workloads up one by one); the cursors
 * table for the cycle's bookkeeping; and one row of the blobs table,
 * "rep:slots", for every contract's two record slots, rewritten whole by
 * each cycle.
 *
 * A cycle's statements stay prepared and its arrays allocated between
 * cycles, in the reporter's workspace (struct rep_ws): a steady cycle then
 * costs the rows SQLite steps through and the pages it writes, nothing
 * more.
 *
 * Stores written by earlier agents kept the slots as four cursors per
 * contract ("rep.<field>.<contract id>"); they are read when the blob is
 * absent and deleted when it is first written.
 */
#include "agent/reporter_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/store_int.h"
#include "common/log.h"
#include "common/buf.h"
#include "common/zerr.h"

/* The live contracts; their ok/paused workloads' capacity; their slots. */
static const char sql_deps[] = "SELECT contract_id, created FROM deployments"
                               " WHERE state IN ('deployed','paused') ORDER BY contract_id";

static const char sql_wls[] = "SELECT contract_id, cru, mru, sru, hru FROM workloads"
                              " WHERE state IN ('ok','paused')";

static const char sql_blob_get[] = "SELECT value FROM blobs WHERE name='" REP_B_SLOTS "'";

static const char sql_blob_put[] = "INSERT INTO blobs(name,value) VALUES('" REP_B_SLOTS "',?1)"
                                   " ON CONFLICT(name) DO UPDATE SET value=excluded.value";

static const char sql_legacy_slots[] =
    "SELECT name, value FROM cursors WHERE name GLOB 'rep.[tn][ab].*'";

static const char sql_legacy_drop[] = "DELETE FROM cursors WHERE name GLOB 'rep.[tn][ab].*'";

static const char sql_fails[] = "SELECT name, value FROM cursors WHERE name GLOB 'rep:fail.*'";

static const char sql_fail_drop[] = "DELETE FROM cursors WHERE name=?1";

static const char *const sql_of[REP_ST__COUNT] = {
    [REP_ST_DEPS] = sql_deps,          [REP_ST_WLS] = sql_wls,
    [REP_ST_BLOB_GET] = sql_blob_get,  [REP_ST_BLOB_PUT] = sql_blob_put,
    [REP_ST_LEGACY_DROP] = sql_legacy_drop, [REP_ST_FAILS] = sql_fails,
};

/* The blob: a version, the count, then per contract in ascending order its
 * id and ta, na, tb, nb (a slot with t = 0 is unused: cycle timestamps are
 * positive), all little-endian 64-bit. */
#define SLOTS_VERSION 1u
#define SLOTS_HEAD 8u
#define SLOTS_REC 40u

static int prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : store_err(s, rc, "reporter prepare");
}

void rep_ws_init(struct rep_ws *w, struct store *s)
{
	memset(w, 0, sizeof *w);
	w->store = s;
	zbuf_init(&w->text, 0);
	zbuf_init(&w->blob, 0);
}

void rep_ws_free(struct rep_ws *w)
{
	if (w->store)
		store_lock(w->store);
	for (int i = 0; i < REP_ST__COUNT; i++)
		sqlite3_finalize(w->st[i]);
	if (w->store)
		store_unlock(w->store);
	free(w->rows);
	free(w->recs);
	zbuf_free(&w->text);
	zbuf_free(&w->blob);
	memset(w, 0, sizeof *w);
}

/* Statement id of w, prepared on first use (persistent: SQLite keeps it
 * out of its lookaside memory). The caller holds the store lock and resets
 * it after use, so that no statement keeps a read transaction open. */
static int ws_stmt(struct rep_ws *w, enum rep_stmt id, sqlite3_stmt **st)
{
	if (!w->st[id]) {
		int rc = sqlite3_prepare_v3(w->store->db, sql_of[id], -1, SQLITE_PREPARE_PERSISTENT,
		                            &w->st[id], NULL);
		if (rc != SQLITE_OK) {
			w->st[id] = NULL;
			return store_err(w->store, rc, "reporter prepare");
		}
	}
	*st = w->st[id];
	return 0;
}

static void ws_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* The row of contract cid in rows (ascending), or NULL. */
static struct rep_row *find_row(struct rep_row *rows, size_t n, int64_t cid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((int64_t)rows[mid].cid < cid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && (int64_t)rows[lo].cid == cid ? &rows[lo] : NULL;
}

/* Puts one "rep.<t|n><a|b>.<id>" cursor into its row's slot. */
static void slot_put(struct rep_row *rows, size_t n, const char *name, int64_t value)
{
	char *end;
	errno = 0;
	int64_t cid = strtoll(name + 7, &end, 10);
	if (errno || end == name + 7 || *end)
		return; /* not one of ours: names are written by rep_db_put only */
	struct rep_row *r = find_row(rows, n, cid);
	if (!r)
		return; /* a contract no longer live: pruned later */
	struct rep_slot *sl = name[5] == 'a' ? &r->a : &r->b;
	if (name[4] == 't') {
		sl->used = 1;
		sl->t = value;
	} else {
		sl->n = value;
	}
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Adds a workload's value to its contract's sum; a negative value or an
 * overflow marks the contract bad (not reported). */
static void add_cap(struct rep_row *r, uint64_t *sum, sqlite3_int64 v)
{
	if (v < 0 || *sum > UINT64_MAX - (uint64_t)v)
		r->bad = 1;
	else
		*sum += (uint64_t)v;
}

static int read_deps(struct store *s, sqlite3_stmt *st, struct rep_row **rows, size_t *n,
                     size_t *cap)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = zbuf_grow_array((void **)rows, cap, *n, sizeof **rows,
					  REP_MAX_CONTRACTS)) < 0)
			break;
		struct rep_row *r = &(*rows)[(*n)++];
		memset(r, 0, sizeof *r);
		r->cid = (uint64_t)sqlite3_column_int64(st, 0);
		r->created = sqlite3_column_int64(st, 1);
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = store_err(s, rc, "reporter deployments");
	ws_done(st);
	return rc;
}

static int read_wls(struct store *s, sqlite3_stmt *st, struct rep_row *rows, size_t n)
{
	struct rep_row *r = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t cid = sqlite3_column_int64(st, 0);
		/* The covering index returns the workloads by contract, so the
		 * next contract is usually the next row. */
		if (r && (int64_t)r->cid != cid && r + 1 < rows + n && (int64_t)r[1].cid == cid)
			r++;
		else if (!r || (int64_t)r->cid != cid)
			r = find_row(rows, n, cid);
		if (!r)
			continue; /* not deployed or paused */
		add_cap(r, &r->cru, sqlite3_column_int64(st, 1));
		add_cap(r, &r->mru, sqlite3_column_int64(st, 2));
		add_cap(r, &r->sru, sqlite3_column_int64(st, 3));
		add_cap(r, &r->hru, sqlite3_column_int64(st, 4));
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = store_err(s, rc, "reporter workloads");
	ws_done(st);
	return rc;
}

/* Checks the blob's header; its record count, or -1 when it does not read
 * back. */
static long slots_count(const uint8_t *p, size_t len)
{
	if (!p || len < SLOTS_HEAD)
		return -1;
	uint64_t head = get_le64(p), cnt = head >> 32;
	if ((head & 0xffffffffu) != SLOTS_VERSION || cnt > REP_MAX_CONTRACTS ||
	    len != SLOTS_HEAD + cnt * SLOTS_REC)
		return -1;
	return (long)cnt;
}

/* Calls fn for every entry of the stored blob; *found = 0 when there is
 * none. A blob that does not read back counts as empty (every contract is
 * then reported from its creation, capped), with a warning. */
static int walk_slots(struct store *s, sqlite3_stmt *st,
                      void (*fn)(void *ctx, uint64_t cid, const struct rep_slot sl[2]), void *ctx,
                      int *found)
{
	int rc;
	*found = 0;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *p = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		long cnt = slots_count(p, len);
		*found = 1;
		if (cnt < 0)
			log_warn("reporter", "progress blob unreadable (%zu bytes); ignored", len);
		for (long i = 0; i < cnt; i++) {
			const uint8_t *e = p + SLOTS_HEAD + (size_t)i * SLOTS_REC;
			struct rep_slot sl[2];
			for (int k = 0; k < 2; k++) {
				sl[k].t = (int64_t)get_le64(e + 8 + 16 * k);
				sl[k].n = (int64_t)get_le64(e + 16 + 16 * k);
				sl[k].used = sl[k].t != 0;
			}
			fn(ctx, get_le64(e), sl);
		}
		rc = SQLITE_DONE;
	}
	rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "reporter slots");
	ws_done(st);
	return rc;
}

struct rows_walk {
	struct rep_row *rows;
	size_t n, j;
};

/* Both lists ascend: walk them together. */
static void slots_to_row(void *ctx, uint64_t cid, const struct rep_slot sl[2])
{
	struct rows_walk *w = ctx;
	while (w->j < w->n && w->rows[w->j].cid < cid)
		w->j++;
	if (w->j < w->n && w->rows[w->j].cid == cid) {
		w->rows[w->j].a = sl[0];
		w->rows[w->j].b = sl[1];
	} /* else a contract no longer live */
}

/* The slots of a store written before the blob, one cursor per field. */
static int read_legacy(struct store *s, struct rep_row *rows, size_t n)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(s, sql_legacy_slots, &st);
	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (name)
			slot_put(rows, n, name, sqlite3_column_int64(st, 1));
	}
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : store_err(s, rc, "reporter slots");
	sqlite3_finalize(st);
	return rc;
}

int rep_db_rows_ws(struct rep_ws *w, size_t *n)
{
	struct store *s = w->store;
	sqlite3_stmt *deps = NULL, *wls = NULL, *blob = NULL;
	size_t k = 0;
	int rc, found = 0;

	*n = 0;
	store_lock(s);
	if ((rc = ws_stmt(w, REP_ST_DEPS, &deps)) == 0 && (rc = ws_stmt(w, REP_ST_WLS, &wls)) == 0)
		rc = ws_stmt(w, REP_ST_BLOB_GET, &blob);
	if (rc == 0)
		rc = read_deps(s, deps, &w->rows, &k, &w->rows_cap);
	if (rc == 0)
		rc = read_wls(s, wls, w->rows, k);
	struct rows_walk rw = {w->rows, k, 0};
	if (rc == 0)
		rc = walk_slots(s, blob, slots_to_row, &rw, &found);
	if (rc == 0 && !found)
		rc = read_legacy(s, w->rows, k);
	store_unlock(s);
	if (rc < 0)
		return rc;
	/* A contract whose capacity does not read stays in the list, so that
	 * its slots are kept, but is not reported. */
	for (size_t i = 0; i < k; i++)
		if (w->rows[i].bad)
			log_warn("reporter",
			         "contract %" PRIu64 ": capacity out of range, not reported",
			         w->rows[i].cid);
	*n = k;
	return 0;
}

int rep_db_rows(struct store *s, struct rep_row **rows, size_t *n)
{
	struct rep_ws w;
	rep_ws_init(&w, s);
	int rc = rep_db_rows_ws(&w, n);
	*rows = rc == 0 ? w.rows : NULL;
	if (rc == 0)
		w.rows = NULL; /* handed to the caller */
	rep_ws_free(&w);
	return rc;
}

int rep_db_put_slots(struct rep_ws *w, const struct rep_row *rows, size_t n)
{
	struct store *s = w->store;
	sqlite3_stmt *st = NULL;
	if (n > REP_MAX_CONTRACTS)
		return ZE_TOOBIG;
	size_t len = SLOTS_HEAD + n * SLOTS_REC;
	zbuf_reset(&w->blob);
	if (zbuf_reserve(&w->blob, len) < 0)
		return -ENOMEM;
	uint8_t *p = w->blob.data;
	put_le64(p, (uint64_t)n << 32 | SLOTS_VERSION);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = p + SLOTS_HEAD + i * SLOTS_REC;
		const struct rep_slot *sl[2] = {&rows[i].a, &rows[i].b};
		put_le64(e, rows[i].cid);
		for (int k = 0; k < 2; k++) {
			put_le64(e + 8 + 16 * k, sl[k]->used ? (uint64_t)sl[k]->t : 0);
			put_le64(e + 16 + 16 * k, sl[k]->used ? (uint64_t)sl[k]->n : 0);
		}
	}
	store_lock(s);
	int rc = ws_stmt(w, REP_ST_BLOB_PUT, &st);
	if (rc == 0) {
		sqlite3_bind_blob(st, 1, p, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "reporter slots");
		ws_done(st);
	}
	/* The per-field cursors of an older agent, read once, now superseded. */
	if (rc == 0 && (rc = ws_stmt(w, REP_ST_LEGACY_DROP, &st)) == 0) {
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "reporter slots");
		ws_done(st);
	}
	store_unlock(s);
	return rc;
}

/* Parses "rep:fail.<ts>.<lo>". */
static int fail_name(const char *name, struct rep_fail *f)
{
	const char *p = name + strlen("rep:fail.");
	char *end;
	errno = 0;
	f->ts = strtoll(p, &end, 10);
	if (errno || end == p || *end != '.')
		return ZE_MALFORMED;
	p = end + 1;
	f->lo = strtoll(p, &end, 10);
	return errno || end == p || *end ? ZE_MALFORMED : 0;
}

int rep_db_fails(struct store *s, struct rep_ws *w, struct rep_fail **f, size_t *n)
{
	struct rep_fail *v = NULL;
	size_t k = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc;

	*f = NULL;
	*n = 0;
	store_lock(s);
	if ((rc = w ? ws_stmt(w, REP_ST_FAILS, &st) : prepare(s, sql_fails, &st)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (k >= REP_MAX_FAILS) {
			rc = ZE_TOOBIG;
			goto out;
		}
		if ((rc = zbuf_grow_array((void **)&v, &cap, k, sizeof *v, REP_MAX_CONTRACTS)) <
		    0)
			goto out;
		if (!name || fail_name(name, &v[k]) < 0) {
			log_warn("reporter", "ignoring malformed cursor %s", name ? name : "(null)");
			continue;
		}
		v[k].hi = sqlite3_column_int64(st, 1);
		k++;
	}
	rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "reporter fails");
out:
	if (w && st)
		ws_done(st);
	else
		sqlite3_finalize(st);
	store_unlock(s);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*f = v;
	*n = k;
	return 0;
}

/* The distinct cycle timestamps the slots hold; few (two per contract at
 * most, the same for every contract reported by one cycle). */
struct ts_set {
	int64_t *v;
	size_t n, cap;
	int err;
};

static int ts_has(const struct ts_set *t, int64_t ts)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i] == ts)
			return 1;
	return 0;
}

static void slots_ts(void *ctx, uint64_t cid, const struct rep_slot sl[2])
{
	struct ts_set *t = ctx;
	for (int k = 0; k < 2 && !t->err; k++) {
		if (!sl[k].used || ts_has(t, sl[k].t))
			continue;
		if (t->n >= REP_MAX_FAILS ||
		    zbuf_grow_array((void **)&t->v, &t->cap, t->n, sizeof *t->v,
				    REP_MAX_CONTRACTS) < 0)
			t->err = 1;
		else
			t->v[t->n++] = sl[k].t;
	}
}

int rep_db_prune(struct store *s)
{
	struct rep_fail *f = NULL;
	struct ts_set t = {0};
	size_t nf = 0;
	sqlite3_stmt *st = NULL;
	char name[64];
	int rc, found;

	if ((rc = rep_db_fails(s, NULL, &f, &nf)) < 0 || nf == 0) {
		free(f);
		return rc;
	}
	store_lock(s);
	rc = prepare(s, sql_blob_get, &st);
	if (rc == 0)
		rc = walk_slots(s, st, slots_ts, &t, &found);
	sqlite3_finalize(st);
	st = NULL;
	if (rc == 0 && t.err)
		rc = -ENOMEM; /* keep every marker rather than drop a live one */
	/* Without the blob the slots are still an older agent's cursors: the
	 * markers wait until a cycle has written it. */
	if (rc == 0 && found)
		rc = prepare(s, sql_fail_drop, &st);
	for (size_t i = 0; found && i < nf && rc == 0; i++) {
		/* A marker only matters while some slot holds its cycle. */
		if (ts_has(&t, f[i].ts))
			continue;
		int len = snprintf(name, sizeof name, REP_C_FAIL_FMT, f[i].ts, f[i].lo);
		if (len < 0 || (size_t)len >= sizeof name)
			continue;
		sqlite3_bind_text(st, 1, name, len, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "reporter prune");
	}
	sqlite3_finalize(st);
	store_unlock(s);
	free(t.v);
	free(f);
	return rc;
}
