/* The store's chain-call outbox and cursors. */
#include "agent/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

/* --- outbox --- */

static int add(struct store *s, const char *kind, uint64_t contract_id, const char *key,
	       const char *payload, int attempts, int *added)
{
	if (strlen(kind) >= sizeof ((struct store_outbox *)0)->kind ||
	    strlen(key) >= STORE_KEY_MAX)
		return -EINVAL;
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_OB_ADD);
	int rc = -EIO;
	if (st) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)contract_id);
		sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, payload ? payload : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, store_now());
		sqlite3_bind_int(st, 6, attempts);
		rc = store_step_done(s, st, "outbox add");
		if (rc == 0 && added)
			*added = sqlite3_changes(s->db) > 0;
	}
	return store_unlock_write(s, rc);
}

int store_outbox_add(struct store *s, const char *kind, uint64_t contract_id, const char *key,
		     const char *payload, int *added)
{
	return add(s, kind, contract_id, key, payload, 0, added);
}

int store_outbox_add_sending(struct store *s, const char *kind, uint64_t contract_id,
			     const char *key, const char *payload, int *added)
{
	return add(s, kind, contract_id, key, payload, 1, added);
}

static void copy_text(char *dst, size_t dsz, const unsigned char *src)
{
	snprintf(dst, dsz, "%s", src ? (const char *)src : "");
}

/* One row of SQ_OB_DUE's columns; SQLITE_ROW, or SQLITE_NOMEM. */
static int read_row(sqlite3_stmt *st, struct store_outbox *o)
{
	o->id = sqlite3_column_int64(st, 0);
	copy_text(o->kind, sizeof o->kind, sqlite3_column_text(st, 1));
	o->contract_id = (uint64_t)sqlite3_column_int64(st, 2);
	copy_text(o->key, sizeof o->key, sqlite3_column_text(st, 3));
	const unsigned char *p = sqlite3_column_text(st, 4);
	o->payload = strdup(p ? (const char *)p : "");
	if (!o->payload)
		return SQLITE_NOMEM;
	o->created = sqlite3_column_int64(st, 5);
	o->attempts = sqlite3_column_int(st, 6);
	o->next_try = sqlite3_column_int64(st, 7);
	copy_text(o->last_error, sizeof o->last_error, sqlite3_column_text(st, 8));
	return SQLITE_ROW;
}

/* Steps st into v (at most max rows, *k counts them); 0 or a store error
 * naming what. The caller holds the store lock. */
static int read_rows(struct store *s, sqlite3_stmt *st, struct store_outbox *v, size_t max,
		     size_t *k, const char *what)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *k < max) {
		if ((rc = read_row(st, &v[*k])) != SQLITE_ROW)
			break;
		(*k)++;
	}
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_err(s, rc, what);
}

void store_outbox_free(struct store_outbox *items, size_t n)
{
	if (!items)
		return;
	for (size_t i = 0; i < n; i++)
		free(items[i].payload);
	free(items);
}

int store_outbox_due(struct store *s, int64_t now_ms, size_t max, struct store_outbox **items,
		     size_t *n)
{
	*items = NULL;
	*n = 0;
	if (!max)
		return 0;
	struct store_outbox *v = calloc(max, sizeof *v);
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	int rc = -EIO;
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_OB_DUE);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	rc = read_rows(s, st, v, max, &k, "outbox due");
	sqlite3_reset(st);
out:
	store_unlock(s);
	if (rc < 0) {
		store_outbox_free(v, k);
		return rc;
	}
	*items = v;
	*n = k;
	return 0;
}

int store_outbox_after(struct store *s, int64_t after_id, size_t max,
		       struct store_outbox **items, size_t *n)
{
	*items = NULL;
	*n = 0;
	if (!max)
		return 0;
	/* Room for what a pass usually finds (a few rows), grown when more
	 * come: max is the dispatcher's whole memory bound, thousands of rows,
	 * too much to allocate and clear on every pass. */
	size_t cap = max < 16 ? max : 16, k = 0;
	struct store_outbox *v = calloc(cap, sizeof *v);
	if (!v)
		return -ENOMEM;
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_OB_AFTER);
	int rc = -EIO;
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < max) {
		if (k == cap) {
			size_t ncap = cap * 2 < max ? cap * 2 : max;
			struct store_outbox *nv = realloc(v, ncap * sizeof *v);
			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			memset(nv + cap, 0, (ncap - cap) * sizeof *nv);
			v = nv;
			cap = ncap;
		}
		if ((rc = read_row(st, &v[k])) != SQLITE_ROW)
			break;
		k++;
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_err(s, rc, "outbox after");
	sqlite3_reset(st);
out:
	store_unlock(s);
	if (rc < 0) {
		store_outbox_free(v, k);
		return rc;
	}
	*items = v;
	*n = k;
	return 0;
}

int store_outbox_next(struct store *s, int64_t *next_ms)
{
	int isnull = 1;
	int rc = store_query_int(s, SQ_OB_NEXT, 0, 0, next_ms, &isnull);
	if (rc == 0 && isnull)
		return ZE_ABSENT;
	return rc;
}

int store_outbox_sending(struct store *s, int64_t id)
{
	int marked = 0;
	int rc = store_outbox_sending_many(s, &id, 1, &marked);
	return rc == 0 && !marked ? ZE_ABSENT : rc;
}

int store_outbox_sending_many(struct store *s, const int64_t *ids, size_t n, int *marked)
{
	/* Lazy: the mark promises nothing. It survives kill -9 at once (it is
	 * in the WAL before the call leaves), and when a power cut drops it the
	 * start after asks the chain before resending every row that was
	 * pending (docs/deploy-engine.md, "Crash points"). */
	int rc = store_begin_lazy(s);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = store_stmt(s, SQ_OB_SENDING);
	rc = st ? 0 : -EIO;
	for (size_t i = 0; i < n && rc == 0; i++) {
		sqlite3_bind_int64(st, 1, ids[i]);
		rc = store_step_done(s, st, "outbox sending");
		marked[i] = rc == 0 && sqlite3_changes(s->db) > 0;
	}
	if (rc < 0) {
		store_rollback(s);
		return rc;
	}
	return store_commit(s);
}

int store_outbox_last_pending(struct store *s, int64_t *id)
{
	int isnull = 1;
	sqlite3_stmt *st = NULL;
	*id = 0;
	store_lock(s);
	/* Prepared per call: it runs once per engine start. */
	int rc = sqlite3_prepare_v2(s->db, "SELECT max(id) FROM outbox WHERE done=0", -1, &st,
				    NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
		if (!isnull)
			*id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = store_err(s, rc, "outbox last pending");
	}
	sqlite3_finalize(st);
	store_unlock(s);
	return rc;
}

int store_outbox_retry(struct store *s, int64_t id, int64_t next_ms, const char *err)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_OB_RETRY);
	int rc = -EIO;
	if (st) {
		sqlite3_bind_int64(st, 1, next_ms);
		sqlite3_bind_text(st, 2, err ? err : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, id);
		rc = store_step_done(s, st, "outbox retry");
	}
	return store_unlock_write(s, rc);
}

int store_outbox_done(struct store *s, int64_t id, const char *outcome)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_OB_DONE);
	int rc = -EIO;
	if (st) {
		sqlite3_bind_text(st, 1, outcome ? outcome : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		rc = store_step_done(s, st, "outbox done");
		if (rc == 0 && sqlite3_changes(s->db) == 0)
			rc = ZE_ABSENT;
	}
	return store_unlock_write(s, rc);
}

int store_outbox_pending(struct store *s, uint64_t *n)
{
	int64_t v = 0;
	int rc = store_query_int(s, SQ_OB_PENDING, 0, 0, &v, NULL);
	*n = (uint64_t)v;
	return rc;
}

int store_outbox_state(struct store *s, const char *key, int *done, char *outcome,
		       size_t outsz)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_OB_STATE);
	int rc = -EIO;
	if (st) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*done = sqlite3_column_int(st, 0);
			if (outcome && outsz)
				copy_text(outcome, outsz, sqlite3_column_text(st, 1));
			rc = 0;
		} else {
			rc = rc == SQLITE_DONE ? ZE_ABSENT : store_err(s, rc, "outbox state");
		}
		sqlite3_reset(st);
	}
	store_unlock(s);
	return rc;
}

int store_outbox_prune(struct store *s, int64_t before, uint64_t keep, uint64_t *n)
{
	/* Rows created before `before`, and done rows beyond the newest `keep`. */
	static const char sql[] =
		"DELETE FROM outbox WHERE done=1 AND (created<?1 OR id<=(SELECT id FROM outbox "
		"WHERE done=1 ORDER BY id DESC LIMIT 1 OFFSET ?2))";
	sqlite3_stmt *st = NULL;
	store_lock(s);
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = store_err(s, rc, "outbox prune");
	} else {
		sqlite3_bind_int64(st, 1, before);
		sqlite3_bind_int64(st, 2, keep > INT64_MAX ? INT64_MAX : (sqlite3_int64)keep);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "outbox prune");
		if (!rc && n)
			*n = (uint64_t)sqlite3_changes(s->db);
	}
	sqlite3_finalize(st);
	return store_unlock_write(s, rc);
}

/* --- cursors --- */

int store_cursor_get(struct store *s, const char *name, int64_t *value)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_CUR_GET);
	int rc = -EIO;
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*value = sqlite3_column_int64(st, 0);
			rc = 0;
		} else {
			rc = rc == SQLITE_DONE ? ZE_ABSENT : store_err(s, rc, "cursor get");
		}
		sqlite3_reset(st);
	}
	store_unlock(s);
	return rc;
}

int store_cursor_set(struct store *s, const char *name, int64_t value)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_CUR_SET);
	int rc = -EIO;
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, value);
		rc = store_step_done(s, st, "cursor set");
	}
	return store_unlock_write(s, rc);
}
