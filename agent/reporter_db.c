/*
 * The reporter's bulk reads and writes on the store. The store's API works
 * one contract at a time; a report cycle touches every contract, so these
 * run one statement over all of them (one prepared statement per call,
 * under the store's lock) on the store's own tables: deployments and
 * workloads read, cursors read and written. Cursor names are
 * "rep.<field>.<contract id as SQLite prints it>".
 */
#include "agent/reporter_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/store_int.h"
#include "common/log.h"
#include "common/zerr.h"

/* The live contracts and what their ok/paused workloads reserve; their
 * slots come from one range scan of the cursors (cheaper than a lookup per
 * contract and field). */
static const char sql_rows[] =
	"SELECT d.contract_id, d.created, ifnull(sum(w.cru),0), ifnull(sum(w.mru),0),"
	" ifnull(sum(w.sru),0), ifnull(sum(w.hru),0)"
	" FROM deployments d LEFT JOIN workloads w ON w.contract_id=d.contract_id"
	" AND w.state IN ('ok','paused')"
	" WHERE d.state IN ('deployed','paused') GROUP BY d.contract_id ORDER BY d.contract_id";

static const char sql_slots[] = "SELECT name, value FROM cursors WHERE name GLOB 'rep.[tn][ab].*'";

static const char sql_fails[] = "SELECT name, value FROM cursors WHERE name GLOB 'rep:fail.*'";

static const char sql_put[] = "INSERT INTO cursors(name,value) VALUES(?1,?2)"
			      " ON CONFLICT(name) DO UPDATE SET value=excluded.value";

static const char sql_prune_slots[] =
	"DELETE FROM cursors WHERE name GLOB 'rep.[tn][ab].*' AND"
	" CAST(substr(name,8) AS INTEGER) NOT IN"
	" (SELECT contract_id FROM deployments WHERE state IN ('deployed','paused'))";

/* "rep:fail.<ts>.<lo>": ts starts at offset 10 and ends at the next dot. */
static const char sql_prune_fails[] =
	"DELETE FROM cursors WHERE name GLOB 'rep:fail.*' AND"
	" CAST(substr(name,10,instr(substr(name,10),'.')-1) AS INTEGER) NOT IN"
	" (SELECT value FROM cursors WHERE name GLOB 'rep.t[ab].*')";

static int prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : store_err(s, rc, "reporter prepare");
}

/* Grows *v (of elements of size sz) to hold one more; bounded. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	if (n >= REP_MAX_CONTRACTS)
		return ZE_TOOBIG;
	size_t nc = *cap ? *cap * 2 : 256;
	void *nv = realloc(*v, nc * sz);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

static int col_u64(sqlite3_stmt *st, int col, uint64_t *out)
{
	sqlite3_int64 v = sqlite3_column_int64(st, col);
	if (v < 0)
		return ZE_MALFORMED;
	*out = (uint64_t)v;
	return 0;
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

int rep_db_rows(struct store *s, struct rep_row **rows, size_t *n)
{
	struct rep_row *v = NULL;
	size_t k = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc;

	*rows = NULL;
	*n = 0;
	store_lock(s);
	if ((rc = prepare(s, sql_rows, &st)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = grow((void **)&v, &cap, k, sizeof *v)) < 0)
			goto out;
		struct rep_row *r = &v[k];
		memset(r, 0, sizeof *r);
		r->cid = (uint64_t)sqlite3_column_int64(st, 0);
		r->created = sqlite3_column_int64(st, 1);
		if (col_u64(st, 2, &r->cru) || col_u64(st, 3, &r->mru) || col_u64(st, 4, &r->sru) ||
		    col_u64(st, 5, &r->hru)) {
			log_warn("reporter", "contract %" PRIu64 ": negative capacity, not reported",
				 r->cid);
			continue;
		}
		k++;
	}
	if (rc != SQLITE_DONE) {
		rc = store_err(s, rc, "reporter rows");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = prepare(s, sql_slots, &st)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (name)
			slot_put(v, k, name, sqlite3_column_int64(st, 1));
	}
	rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "reporter slots");
out:
	sqlite3_finalize(st);
	store_unlock(s);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*rows = v;
	*n = k;
	return 0;
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

int rep_db_fails(struct store *s, struct rep_fail **f, size_t *n)
{
	struct rep_fail *v = NULL;
	size_t k = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc;

	*f = NULL;
	*n = 0;
	store_lock(s);
	if ((rc = prepare(s, sql_fails, &st)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (k >= REP_MAX_FAILS) {
			rc = ZE_TOOBIG;
			goto out;
		}
		if ((rc = grow((void **)&v, &cap, k, sizeof *v)) < 0)
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

int rep_db_put(struct store *s, const char *field, const uint64_t *cids, const int64_t *vals,
	       size_t n)
{
	sqlite3_stmt *st = NULL;
	char name[48];
	int rc;

	if (strlen(field) != 2)
		return -EINVAL;
	store_lock(s);
	if ((rc = prepare(s, sql_put, &st)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		/* The id as SQLite prints an INTEGER, so the SQL side can join. */
		int len = snprintf(name, sizeof name, "rep.%s.%" PRId64, field, (int64_t)cids[i]);
		if (len < 0 || (size_t)len >= sizeof name) {
			rc = -ENAMETOOLONG;
			goto out;
		}
		sqlite3_bind_text(st, 1, name, len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, vals[i]);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			rc = store_err(s, rc, "reporter cursor");
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	store_unlock(s);
	return rc;
}

int rep_db_prune(struct store *s)
{
	const char *const q[] = {sql_prune_slots, sql_prune_fails};
	int rc = 0;

	store_lock(s);
	for (size_t i = 0; i < 2 && rc == 0; i++) {
		sqlite3_stmt *st = NULL;
		if ((rc = prepare(s, q[i], &st)) == 0) {
			rc = sqlite3_step(st);
			rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "reporter prune");
		}
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return rc;
}
