/* The store's deployments, workloads, history, quarantine and statistics. */
#include "agent/store_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/deployment.h"
#include "common/log.h"
#include "common/zerr.h"

static const char *const dep_names[STORE_DEP__COUNT] = {
	"deploying", "deployed", "paused", "failed", "deleted",
};
static const char *const wl_names[STORE_WL__COUNT] = {
	"init", "ok", "error", "paused", "deleted",
};

const char *store_dep_state_name(enum store_dep_state s)
{
	return (unsigned)s < STORE_DEP__COUNT ? dep_names[s] : "invalid";
}

const char *store_wl_state_name(enum store_wl_state s)
{
	return (unsigned)s < STORE_WL__COUNT ? wl_names[s] : "invalid";
}

static int parse_name(const char *const *names, int count, const char *s, int *out)
{
	for (int i = 0; s && i < count; i++)
		if (!strcmp(names[i], s)) {
			*out = i;
			return 0;
		}
	return ZE_MALFORMED;
}

int store_dep_state_parse(const char *s, enum store_dep_state *out)
{
	int v, rc = parse_name(dep_names, STORE_DEP__COUNT, s, &v);
	if (rc == 0)
		*out = (enum store_dep_state)v;
	return rc;
}

int store_wl_state_parse(const char *s, enum store_wl_state *out)
{
	int v, rc = parse_name(wl_names, STORE_WL__COUNT, s, &v);
	if (rc == 0)
		*out = (enum store_wl_state)v;
	return rc;
}

static void bind_cap(sqlite3_stmt *st, int first, const struct prov_capacity *c)
{
	sqlite3_bind_int64(st, first, (sqlite3_int64)c->cru);
	sqlite3_bind_int64(st, first + 1, (sqlite3_int64)c->mru);
	sqlite3_bind_int64(st, first + 2, (sqlite3_int64)c->sru);
	sqlite3_bind_int64(st, first + 3, (sqlite3_int64)c->hru);
}

/* Capacities are stored as int64; a negative one is a corrupt row. */
static int col_cap(sqlite3_stmt *st, int first, struct prov_capacity *c)
{
	int64_t v[4];
	for (int i = 0; i < 4; i++) {
		if (sqlite3_column_type(st, first + i) != SQLITE_INTEGER)
			return ZE_MALFORMED;
		v[i] = sqlite3_column_int64(st, first + i);
		if (v[i] < 0)
			return ZE_MALFORMED;
	}
	c->cru = (uint64_t)v[0];
	c->mru = (uint64_t)v[1];
	c->sru = (uint64_t)v[2];
	c->hru = (uint64_t)v[3];
	return 0;
}

static int insert_history(struct store *s, uint64_t cid, const char *name, const char *state,
			  const char *message)
{
	sqlite3_stmt *st = store_stmt(s, SQ_HIST_ADD);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cid);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now());
	sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, message ? message : "", -1, SQLITE_STATIC);
	return store_step_done(s, st, "history add");
}

int store_dep_insert(struct store *s, const struct store_dep *d, const struct store_wl *w,
		     size_t n)
{
	int rc = store_begin(s);
	if (rc < 0)
		return rc;
	int64_t now = store_now();
	sqlite3_stmt *st = store_stmt(s, SQ_DEP_INSERT);
	rc = -EIO;
	if (!st)
		goto fail;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)d->contract_id);
	sqlite3_bind_int64(st, 2, d->twin_id);
	sqlite3_bind_text(st, 3, store_dep_state_name(d->state), -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, d->hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d->doc ? d->doc : "", -1, SQLITE_STATIC);
	bind_cap(st, 6, &d->cap);
	sqlite3_bind_int64(st, 10, now);
	sqlite3_bind_int64(st, 11, now);
	sqlite3_bind_text(st, 12, d->reason, -1, SQLITE_STATIC);
	if ((rc = store_step_done(s, st, "deployment insert")) < 0)
		goto fail;
	/* Raised even if an outer transaction rolls back: it only bounds.
	 * Writers hold the store's lock; readers load it without. */
	if (d->contract_id > s->dep_max)
		__atomic_store_n(&s->dep_max, d->contract_id, __ATOMIC_RELAXED);
	for (size_t i = 0; i < n; i++) {
		if (!(st = store_stmt(s, SQ_WL_INSERT))) {
			rc = -EIO;
			goto fail;
		}
		sqlite3_bind_int64(st, 1, (sqlite3_int64)d->contract_id);
		sqlite3_bind_text(st, 2, w[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, w[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, store_wl_state_name(w[i].state), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, (int)i);
		sqlite3_bind_text(st, 6, w[i].spec ? w[i].spec : "{}", -1, SQLITE_STATIC);
		bind_cap(st, 7, &w[i].cap);
		sqlite3_bind_int64(st, 11, now);
		if ((rc = store_step_done(s, st, "workload insert")) < 0 ||
		    (rc = insert_history(s, d->contract_id, w[i].name,
					 store_wl_state_name(w[i].state), "accepted")) < 0)
			goto fail;
	}
	return store_commit(s);
fail:
	store_rollback(s);
	return rc;
}

void store_dep_clear(struct store_dep *d)
{
	if (d->doc) {
		sodium_memzero(d->doc, strlen(d->doc));
		free(d->doc);
	}
	memset(d, 0, sizeof *d);
}

void store_wls_free(struct store_wl *w, size_t n)
{
	if (!w)
		return;
	for (size_t i = 0; i < n; i++) {
		if (w[i].spec) {
			sodium_memzero(w[i].spec, strlen(w[i].spec));
			free(w[i].spec);
		}
		free(w[i].result);
	}
	free(w);
}

/* Reads a deployments row (SQ_DEP_GET / SQ_DEP_LIST column order). */
static int row_dep(sqlite3_stmt *st, int with_doc, struct store_dep *d, const char **why)
{
	memset(d, 0, sizeof *d);
	d->contract_id = (uint64_t)sqlite3_column_int64(st, 0);
	int64_t twin = sqlite3_column_int64(st, 1);
	if (twin < 0 || twin > UINT32_MAX)
		return *why = "twin_id out of range", ZE_MALFORMED;
	d->twin_id = (uint32_t)twin;
	if (store_dep_state_parse((const char *)sqlite3_column_text(st, 2), &d->state) < 0)
		return *why = "unknown deployment state", ZE_MALFORMED;
	if (sqlite3_column_type(st, 3) != SQLITE_BLOB || sqlite3_column_bytes(st, 3) != 32)
		return *why = "hash is not 32 bytes", ZE_MALFORMED;
	memcpy(d->hash, sqlite3_column_blob(st, 3), 32);
	if (col_cap(st, 5, &d->cap) < 0)
		return *why = "capacity columns invalid", ZE_MALFORMED;
	d->created = sqlite3_column_int64(st, 9);
	d->updated = sqlite3_column_int64(st, 10);
	const unsigned char *r = sqlite3_column_text(st, 11);
	snprintf(d->reason, sizeof d->reason, "%s", r ? (const char *)r : "");
	if (with_doc) {
		if (sqlite3_column_type(st, 4) != SQLITE_TEXT)
			return *why = "document is not text", ZE_MALFORMED;
		d->doc = strdup((const char *)sqlite3_column_text(st, 4));
		if (!d->doc)
			return -ENOMEM;
	}
	return 0;
}

static int row_wl(sqlite3_stmt *st, struct store_wl *w, const char **why)
{
	const char *name = (const char *)sqlite3_column_text(st, 0);
	const char *type = (const char *)sqlite3_column_text(st, 1);
	if (!name || dep_name_valid(name) < 0)
		return *why = "invalid workload name", ZE_MALFORMED;
	memcpy(w->name, name, strlen(name) + 1);
	if (!type || !type[0] || strlen(type) >= sizeof w->type)
		return *why = "invalid workload type", ZE_MALFORMED;
	memcpy(w->type, type, strlen(type) + 1);
	if (store_wl_state_parse((const char *)sqlite3_column_text(st, 2), &w->state) < 0)
		return *why = "unknown workload state", ZE_MALFORMED;
	w->ord = sqlite3_column_int(st, 3);
	if (sqlite3_column_type(st, 4) != SQLITE_TEXT)
		return *why = "workload spec is not text", ZE_MALFORMED;
	if (!(w->spec = strdup((const char *)sqlite3_column_text(st, 4))))
		return -ENOMEM;
	if (sqlite3_column_type(st, 5) == SQLITE_TEXT &&
	    !(w->result = strdup((const char *)sqlite3_column_text(st, 5))))
		return -ENOMEM;
	if (col_cap(st, 6, &w->cap) < 0)
		return *why = "workload capacity invalid", ZE_MALFORMED;
	w->updated = sqlite3_column_int64(st, 10);
	return 0;
}

/* Moves a contract's rows into quarantine; the caller holds the lock. */
static void quarantine(struct store *s, uint64_t cid, const char *why)
{
	log_err("store", "deployment %llu does not load (%s): quarantined",
		(unsigned long long)cid, why);
	if (store_begin(s) < 0)
		return;
	enum store_stmt ids[] = {SQ_QUAR_DEP, SQ_QUAR_WLS, SQ_WL_DELETE, SQ_DEP_DELETE};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		sqlite3_stmt *st = store_stmt(s, ids[i]);
		if (!st) {
			store_rollback(s);
			return;
		}
		sqlite3_bind_int64(st, 1, (sqlite3_int64)cid);
		if (ids[i] == SQ_QUAR_DEP || ids[i] == SQ_QUAR_WLS) {
			sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, store_now());
		}
		if (store_step_done(s, st, "quarantine") < 0) {
			store_rollback(s);
			return;
		}
	}
	store_commit(s);
}

static int by_ord(const void *a, const void *b)
{
	int x = ((const struct store_wl *)a)->ord, y = ((const struct store_wl *)b)->ord;
	return (x > y) - (x < y);
}

static int load_wls(struct store *s, uint64_t cid, struct store_wl **out, size_t *n,
		    const char **why)
{
	sqlite3_stmt *st = store_stmt(s, SQ_WL_GET);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cid);
	struct store_wl *w = NULL;
	size_t k = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == DEP_MAX_WORKLOADS) {
			*why = "too many workloads";
			rc = ZE_MALFORMED;
			goto fail;
		}
		if (k == cap) {
			size_t nc = cap ? cap * 2 : 4;
			struct store_wl *nw = realloc(w, nc * sizeof *w);
			if (!nw) {
				rc = -ENOMEM;
				goto fail;
			}
			w = nw;
			cap = nc;
		}
		memset(&w[k], 0, sizeof w[k]);
		k++;
		if ((rc = row_wl(st, &w[k - 1], why)) < 0)
			goto fail;
	}
	if (rc != SQLITE_DONE) {
		rc = store_err(s, rc, "workloads get");
		goto fail;
	}
	sqlite3_reset(st);
	/* Install order (ord is unique: the index it was inserted with). */
	if (k > 1)
		qsort(w, k, sizeof *w, by_ord);
	*out = w;
	*n = k;
	return 0;
fail:
	sqlite3_reset(st);
	store_wls_free(w, k);
	return rc;
}

int store_dep_get(struct store *s, uint64_t contract_id, struct store_dep *d,
		  struct store_wl **w, size_t *n)
{
	const char *why = NULL;
	struct store_wl *wl = NULL;
	size_t nw = 0;
	memset(d, 0, sizeof *d);
	if (w) {
		*w = NULL;
		*n = 0;
	}
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_DEP_GET);
	int rc = -EIO;
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)contract_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? ZE_ABSENT : store_err(s, rc, "deployment get");
		sqlite3_reset(st);
		goto out;
	}
	rc = row_dep(st, 1, d, &why);
	/* The workloads are read before the deployment's statement is reset,
	 * so both come from one read transaction: one snapshot, and one take
	 * of the WAL's read lock instead of two. */
	if (rc == 0 && w)
		rc = load_wls(s, contract_id, &wl, &nw, &why);
	sqlite3_reset(st);
	if (rc == ZE_MALFORMED)
		quarantine(s, contract_id, why);
out:
	store_unlock(s);
	if (rc < 0) {
		store_dep_clear(d);
		return rc;
	}
	if (w) {
		*w = wl;
		*n = nw;
	}
	return 0;
}

int store_dep_may_exist(struct store *s, uint64_t contract_id)
{
	return contract_id <= __atomic_load_n(&s->dep_max, __ATOMIC_RELAXED);
}

int store_dep_state(struct store *s, uint64_t contract_id, enum store_dep_state *state,
		    struct prov_capacity *cap)
{
	const char *why = NULL;
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_DEP_STATE);
	int rc = -EIO;
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)contract_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? ZE_ABSENT : store_err(s, rc, "deployment state");
	} else if (store_dep_state_parse((const char *)sqlite3_column_text(st, 0), state) < 0) {
		why = "unknown deployment state";
		rc = ZE_MALFORMED;
	} else if (col_cap(st, 1, cap) < 0) {
		why = "capacity columns invalid";
		rc = ZE_MALFORMED;
	} else {
		rc = 0;
	}
	sqlite3_reset(st);
	/* As store_dep_get: a row that does not load goes to quarantine. */
	if (rc == ZE_MALFORMED)
		quarantine(s, contract_id, why);
out:
	store_unlock(s);
	return rc;
}

int store_dep_set_state(struct store *s, uint64_t contract_id, enum store_dep_state state,
			const char *reason)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_DEP_SET_STATE);
	int rc = -EIO;
	if (st) {
		sqlite3_bind_text(st, 1, store_dep_state_name(state), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, reason ? reason : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, store_now());
		sqlite3_bind_int64(st, 4, (sqlite3_int64)contract_id);
		rc = store_step_done(s, st, "deployment state");
		if (rc == 0 && sqlite3_changes(s->db) == 0)
			rc = ZE_ABSENT;
	}
	return store_unlock_write(s, rc);
}

int store_wl_set(struct store *s, uint64_t contract_id, const char *name,
		 enum store_wl_state state, const char *result, const char *message)
{
	int rc = store_begin(s);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = store_stmt(s, result ? SQ_WL_SET : SQ_WL_SET_STATE);
	rc = -EIO;
	if (!st)
		goto fail;
	int i = 1;
	sqlite3_bind_text(st, i++, store_wl_state_name(state), -1, SQLITE_STATIC);
	if (result)
		sqlite3_bind_text(st, i++, result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, store_now());
	sqlite3_bind_int64(st, i++, (sqlite3_int64)contract_id);
	sqlite3_bind_text(st, i++, name, -1, SQLITE_STATIC);
	if ((rc = store_step_done(s, st, "workload set")) < 0)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		rc = ZE_ABSENT;
		goto fail;
	}
	if ((rc = insert_history(s, contract_id, name, store_wl_state_name(state), message)) < 0)
		goto fail;
	return store_commit(s);
fail:
	store_rollback(s);
	return rc;
}

int store_dep_ids(struct store *s, uint64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	uint64_t *v = NULL;
	size_t k = 0, cap = 0;
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_DEP_IDS);
	int rc = -EIO;
	if (!st)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			size_t nc = cap ? cap * 2 : 64;
			uint64_t *nv = realloc(v, nc * sizeof *v);
			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		v[k++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "deployment ids");
	sqlite3_reset(st);
out:
	store_unlock(s);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*ids = v;
	*n = k;
	return 0;
}

int store_dep_list(struct store *s, uint32_t twin_id, store_dep_cb cb, void *ctx)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_DEP_LIST);
	int rc = -EIO;
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, twin_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_dep d;
		const char *why = NULL;
		/* A bad row is skipped here; store_dep_get quarantines it. */
		if (row_dep(st, 0, &d, &why) < 0)
			continue;
		int r = cb(ctx, &d);
		if (r) {
			sqlite3_reset(st);
			store_unlock(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "deployment list");
	sqlite3_reset(st);
out:
	store_unlock(s);
	return rc;
}

int store_history(struct store *s, uint64_t contract_id, store_hist_cb cb, void *ctx)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, SQ_HIST_GET);
	int rc = -EIO;
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)contract_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *state = (const char *)sqlite3_column_text(st, 2);
		const char *msg = (const char *)sqlite3_column_text(st, 3);
		int r = cb(ctx, name ? name : "", sqlite3_column_int64(st, 1), state ? state : "",
			   msg ? msg : "");
		if (r) {
			sqlite3_reset(st);
			store_unlock(s);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "history");
	sqlite3_reset(st);
out:
	store_unlock(s);
	return rc;
}

static int sum_cap(struct store *s, enum store_stmt id, struct prov_capacity *c)
{
	sqlite3_stmt *st = store_stmt(s, id);
	if (!st)
		return -EIO;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = col_cap(st, 0, c) < 0 ? ZE_MALFORMED : 0;
	else
		rc = store_err(s, rc, "stats");
	sqlite3_reset(st);
	return rc;
}

int store_stats(struct store *s, uint32_t twin_id, struct store_stats *out)
{
	memset(out, 0, sizeof *out);
	int64_t deps = 0, wls = 0;
	store_lock(s);
	int rc = sum_cap(s, SQ_STATS_RESERVED, &out->reserved);
	if (rc == 0)
		rc = sum_cap(s, SQ_STATS_USED, &out->used);
	if (rc == 0)
		rc = store_query_int(s, SQ_STATS_DEPS, 1, twin_id, &deps, NULL);
	if (rc == 0)
		rc = store_query_int(s, SQ_STATS_WLS, 1, twin_id, &wls, NULL);
	store_unlock(s);
	out->deployments = (uint64_t)deps;
	out->workloads = (uint64_t)wls;
	return rc;
}

int store_dep_prune(struct store *s, int64_t before, uint64_t *n)
{
	int rc = store_begin(s);
	if (rc < 0)
		return rc;
	/* Children first: their selection reads the deployments still there. */
	enum store_stmt ids[] = {SQ_PRUNE_HIST, SQ_PRUNE_WLS, SQ_PRUNE_DEPS};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		sqlite3_stmt *st = store_stmt(s, ids[i]);
		if (!st) {
			store_rollback(s);
			return -EIO;
		}
		sqlite3_bind_int64(st, 1, before);
		if ((rc = store_step_done(s, st, "prune")) < 0) {
			store_rollback(s);
			return rc;
		}
	}
	uint64_t pruned = (uint64_t)sqlite3_changes(s->db);
	if ((rc = store_commit(s)) < 0)
		return rc;
	if (n)
		*n = pruned;
	/* The outbox keeps done rows for their keys; bounded in age and count. */
	return store_outbox_prune(s, before - STORE_OUTBOX_RETAIN_S, STORE_OUTBOX_DONE_MAX, NULL);
}

int store_quarantine_count(struct store *s, uint64_t *n)
{
	int64_t v = 0;
	int rc = store_query_int(s, SQ_QUAR_COUNT, 0, 0, &v, NULL);
	*n = (uint64_t)v;
	return rc;
}
