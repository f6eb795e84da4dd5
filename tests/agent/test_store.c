/* Unit tests of agent/store: schema, deployments, quarantine, outbox, cursors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/store.h"
#include "common/zerr.h"

struct fx {
	char dir[64];
	char path[128];
	struct store *s;
};

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/test_store.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/agent.db", f->dir);
	if (store_open(f->dir, STORE_OPEN_FAST, &f->s) < 0)
		return -1;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;
	char p[160];
	store_close(f->s);
	const char *suffix[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs SQL on the file through a second connection, as damage from outside.
 * The store holds its file exclusively while open, so damage comes while it
 * is closed: an open store is closed first and opened again after. */
static void raw(struct fx *f, const char *q)
{
	int was_open = f->s != NULL;
	if (was_open) {
		store_close(f->s);
		f->s = NULL;
	}
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	char *err = NULL;
	int rc = sqlite3_exec(db, q, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", q, err);
	sqlite3_close(db);
	if (was_open)
		assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
}

static int64_t store_now_for_tests(void)
{
	return (int64_t)time(NULL);
}

/* Another connection's read of one number: SQLITE_OK and *v, or its error. */
static int peek(struct fx *f, const char *q, int64_t *v)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	int rc = sqlite3_prepare_v2(db, q, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static int64_t raw_count(struct fx *f, const char *q)
{
	int64_t v = 0;
	assert_int_equal(peek(f, q, &v), SQLITE_OK);
	return v;
}

static void insert(struct store *s, uint64_t cid, uint32_t twin, size_t n)
{
	struct store_dep d = {.contract_id = cid, .twin_id = twin, .state = STORE_DEP_DEPLOYING,
			      .doc = "{\"doc\":1}", .cap = {.cru = 1, .mru = 100}};
	memset(d.hash, (int)cid, 32);
	struct store_wl w[3] = {
		{.name = "disk", .type = "zmount", .spec = "{\"size\":1}", .cap = {.sru = 10}},
		{.name = "net", .type = "network", .spec = "{}"},
		{.name = "vm", .type = "container", .spec = "{}", .cap = {.cru = 1, .mru = 100}},
	};
	assert_int_equal(store_dep_insert(s, &d, w, n), 0);
}

static void schema_is_current_and_migrates(void **st)
{
	struct fx *f = *st;
	int v;
	assert_int_equal(store_schema_version(f->s, &v), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);
	store_close(f->s);
	f->s = NULL;
	/* A version-1 database gains what migrations 2 and 3 add. */
	raw(f, "DROP INDEX outbox_pending; DROP INDEX history_contract; DROP INDEX deployments_twin;"
	       "DROP TABLE blobs; DROP INDEX deployments_live; DROP INDEX workloads_cap;"
	       "PRAGMA user_version=1;");
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	assert_int_equal(store_schema_version(f->s, &v), 0);
	assert_int_equal(v, 3);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(raw_count(f, "SELECT count(*) FROM sqlite_master WHERE type='index' AND "
				      "name IN ('outbox_pending','history_contract','deployments_twin')"),
			 3);
	assert_int_equal(raw_count(f, "SELECT count(*) FROM sqlite_master WHERE name IN "
				      "('blobs','deployments_live','workloads_cap')"),
			 3);
	raw(f, "PRAGMA user_version=99;");
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), ZE_UNSUPPORTED);
	raw(f, "PRAGMA user_version=3;");
	assert_int_equal(store_open(f->dir, 0, &f->s), 0);
}

static void deployment_round_trip_and_reopen(void **st)
{
	struct fx *f = *st;
	insert(f->s, 5, 7, 3);
	insert(f->s, 6, 8, 1);
	struct store_dep d0 = {.contract_id = 5, .twin_id = 7, .doc = "{}"};
	assert_int_equal(store_dep_insert(f->s, &d0, NULL, 0), ZE_STATE);

	assert_int_equal(store_wl_set(f->s, 5, "disk", STORE_WL_OK, "{\"path\":\"/x\"}", "made"), 0);
	assert_int_equal(store_wl_set(f->s, 5, "nope", STORE_WL_OK, NULL, "x"), ZE_ABSENT);
	assert_int_equal(store_dep_set_state(f->s, 5, STORE_DEP_DEPLOYED, NULL), 0);
	assert_int_equal(store_dep_set_state(f->s, 99, STORE_DEP_DEPLOYED, NULL), ZE_ABSENT);

	/* Everything is on disk after a close. */
	store_close(f->s);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	struct store_dep d;
	struct store_wl *w;
	size_t n;
	assert_int_equal(store_dep_get(f->s, 5, &d, &w, &n), 0);
	assert_int_equal(d.twin_id, 7);
	assert_int_equal(d.state, STORE_DEP_DEPLOYED);
	assert_string_equal(d.doc, "{\"doc\":1}");
	assert_int_equal(d.hash[0], 5);
	assert_int_equal(d.cap.mru, 100);
	assert_int_equal(n, 3);
	assert_string_equal(w[0].name, "disk");
	assert_int_equal(w[0].state, STORE_WL_OK);
	assert_string_equal(w[0].result, "{\"path\":\"/x\"}");
	assert_string_equal(w[2].name, "vm");
	assert_int_equal(w[2].state, STORE_WL_INIT);
	assert_null(w[2].result);
	assert_int_equal(w[0].cap.sru, 10);
	store_dep_clear(&d);
	store_wls_free(w, n);
	assert_int_equal(store_dep_get(f->s, 77, &d, &w, &n), ZE_ABSENT);

	struct store_stats s;
	assert_int_equal(store_stats(f->s, 7, &s), 0);
	assert_int_equal(s.deployments, 1);
	assert_int_equal(s.workloads, 3);
	assert_int_equal(s.reserved.mru, 200);
	assert_int_equal(s.used.sru, 10);
	assert_int_equal(s.used.mru, 0);
	assert_int_equal(store_stats(f->s, 0, &s), 0);
	assert_int_equal(s.deployments, 2);
	assert_int_equal(s.workloads, 4);
	assert_int_equal(store_dep_set_state(f->s, 6, STORE_DEP_DELETED, "gone"), 0);
	assert_int_equal(store_stats(f->s, 0, &s), 0);
	assert_int_equal(s.deployments, 1);
	assert_int_equal(s.reserved.mru, 100);
}

static int count_cb(void *ctx, const struct store_dep *d)
{
	(*(int *)ctx)++;
	assert_null(d->doc);
	return 0;
}

struct hist {
	int n;
	char last[64];
};

static int hist_cb(void *ctx, const char *name, int64_t ts, const char *state, const char *msg)
{
	struct hist *h = ctx;
	h->n++;
	snprintf(h->last, sizeof h->last, "%s:%s:%s", name, state, msg);
	return 0;
}

/* Whether the store may hold a contract is known without a read for ids
 * above every one it held or took: after inserts, and again after a reopen
 * (from the file). */
static void may_exist_bounds_the_ids(void **st)
{
	struct fx *f = *st;
	assert_int_equal(store_dep_may_exist(f->s, 1), 0);
	insert(f->s, 9, 7, 1);
	insert(f->s, 4, 7, 1);
	assert_int_equal(store_dep_may_exist(f->s, 4), 1);
	assert_int_equal(store_dep_may_exist(f->s, 5), 1); /* below: the read says */
	assert_int_equal(store_dep_may_exist(f->s, 9), 1);
	assert_int_equal(store_dep_may_exist(f->s, 10), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	assert_int_equal(store_dep_may_exist(f->s, 9), 1);
	assert_int_equal(store_dep_may_exist(f->s, 10), 0);
	insert(f->s, 12, 7, 0);
	assert_int_equal(store_dep_may_exist(f->s, 11), 1);
	assert_int_equal(store_dep_may_exist(f->s, 13), 0);
}

/* Workloads come back in install order (ord), whatever order their rows
 * are in. */
static void workloads_come_in_install_order(void **st)
{
	struct fx *f = *st;
	insert(f->s, 5, 7, 3);
	raw(f, "UPDATE workloads SET ord=2-ord WHERE contract_id=5");
	struct store_dep d;
	struct store_wl *w;
	size_t n;
	assert_int_equal(store_dep_get(f->s, 5, &d, &w, &n), 0);
	assert_int_equal(n, 3);
	const char *want[3] = {"vm", "net", "disk"};
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(w[i].name, want[i]);
		assert_int_equal(w[i].ord, (int)i);
	}
	store_dep_clear(&d);
	store_wls_free(w, n);
}

static void list_and_history(void **st)
{
	struct fx *f = *st;
	insert(f->s, 1, 7, 2);
	insert(f->s, 2, 7, 1);
	insert(f->s, 3, 9, 1);
	int n = 0;
	assert_int_equal(store_dep_list(f->s, 7, count_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_wl_set(f->s, 1, "net", STORE_WL_ERROR, "{}", "boom"), 0);
	struct hist h = {0};
	assert_int_equal(store_history(f->s, 1, hist_cb, &h), 0);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.last, "net:error:boom");
	uint64_t *ids;
	size_t k;
	assert_int_equal(store_dep_ids(f->s, &ids, &k), 0);
	assert_int_equal(k, 3);
	assert_int_equal(ids[2], 3);
	free(ids);
}

static void corrupt_rows_are_quarantined(void **st)
{
	struct fx *f = *st;
	insert(f->s, 1, 7, 3);
	insert(f->s, 2, 7, 3);
	insert(f->s, 3, 7, 3);
	raw(f, "UPDATE deployments SET state='bogus' WHERE contract_id=1;"
	       "UPDATE workloads SET name='bad name!' WHERE contract_id=2 AND name='vm';"
	       "UPDATE deployments SET hash=x'00' WHERE contract_id=3;");
	store_close(f->s);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	insert(f->s, 4, 7, 3);
	struct store_dep d;
	struct store_wl *w;
	size_t n;
	for (uint64_t cid = 1; cid <= 3; cid++)
		assert_int_equal(store_dep_get(f->s, cid, &d, &w, &n), ZE_MALFORMED);
	/* Once quarantined, the record is gone from the live tables. */
	assert_int_equal(store_dep_get(f->s, 1, &d, &w, &n), ZE_ABSENT);
	assert_int_equal(store_dep_get(f->s, 4, &d, &w, &n), 0);
	store_dep_clear(&d);
	store_wls_free(w, n);
	uint64_t q;
	assert_int_equal(store_quarantine_count(f->s, &q), 0);
	assert_int_equal(q, 3 + 3 * 3);
	uint64_t *ids;
	assert_int_equal(store_dep_ids(f->s, &ids, &n), 0);
	assert_int_equal(n, 1);
	free(ids);
}

/* Done rows do not accumulate: store_dep_prune bounds them in count and
 * age; pending rows always stay. */
static void outbox_retention_is_bounded(void **st)
{
	struct fx *f = *st;
	char key[32];
	int added, done;
	for (int i = 0; i < STORE_OUTBOX_DONE_MAX / 1000 + 20; i++) {
		snprintf(key, sizeof key, "deployed:%d", i);
		assert_int_equal(store_outbox_add(f->s, "deployed", (uint64_t)i, key, "{}", &added), 0);
	}
	struct store_outbox *it;
	size_t n;
	assert_int_equal(store_outbox_due(f->s, INT64_MAX, 1000, &it, &n), 0);
	assert_int_equal(n, STORE_OUTBOX_DONE_MAX / 1000 + 20);
	/* All done but the last 5. */
	for (size_t i = 0; i + 5 < n; i++)
		assert_int_equal(store_outbox_done(f->s, it[i].id, "ok"), 0);
	store_outbox_free(it, n);
	/* Through the store's periodic prune: nothing is old, nothing beyond
	 * the bound, so every row stays. */
	uint64_t pruned;
	assert_int_equal(store_dep_prune(f->s, (int64_t)time(NULL), &pruned), 0);
	assert_int_equal(store_outbox_state(f->s, "deployed:0", &done, NULL, 0), 0);
	/* Old done rows go, also through store_dep_prune. */
	raw(f, "UPDATE outbox SET created=1000 WHERE key IN ('deployed:0','deployed:1','deployed:119')");
	assert_int_equal(store_dep_prune(f->s, (int64_t)time(NULL), &pruned), 0);
	assert_int_equal(store_outbox_state(f->s, "deployed:0", &done, NULL, 0), ZE_ABSENT);
	assert_int_equal(store_outbox_state(f->s, "deployed:1", &done, NULL, 0), ZE_ABSENT);
	assert_int_equal(store_outbox_state(f->s, "deployed:2", &done, NULL, 0), 0);
	assert_int_equal(store_outbox_state(f->s, "deployed:119", &done, NULL, 0), 0);
	assert_int_equal(done, 0); /* pending: never deleted */
	/* A count bound: only the newest 10 done rows stay. */
	assert_int_equal(store_outbox_prune(f->s, 0, 10, &pruned), 0);
	assert_int_equal(pruned, 113 - 10);
	assert_int_equal(store_outbox_state(f->s, "deployed:104", &done, NULL, 0), ZE_ABSENT);
	assert_int_equal(store_outbox_state(f->s, "deployed:105", &done, NULL, 0), 0);
	assert_int_equal(store_outbox_state(f->s, "deployed:114", &done, NULL, 0), 0);
	uint64_t pending;
	assert_int_equal(store_outbox_pending(f->s, &pending), 0);
	assert_int_equal(pending, 5);
}

static void outbox_is_idempotent(void **st)
{
	struct fx *f = *st;
	int added;
	assert_int_equal(store_outbox_add(f->s, "deployed", 5, "deployed:5", "{\"c\":5}", &added), 0);
	assert_int_equal(added, 1);
	assert_int_equal(store_outbox_add(f->s, "deployed", 5, "deployed:5", "{\"c\":5}", &added), 0);
	assert_int_equal(added, 0);
	assert_int_equal(store_outbox_add(f->s, "rejected", 6, "rejected:6", "{}", &added), 0);
	assert_int_equal(added, 1);
	uint64_t pending;
	assert_int_equal(store_outbox_pending(f->s, &pending), 0);
	assert_int_equal(pending, 2);

	struct store_outbox *it;
	size_t n;
	assert_int_equal(store_outbox_due(f->s, 1000, 10, &it, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(it[0].key, "deployed:5");
	assert_string_equal(it[0].payload, "{\"c\":5}");
	int64_t id0 = it[0].id, id1 = it[1].id;
	store_outbox_free(it, n);

	assert_int_equal(store_outbox_sending(f->s, id1), 0);
	assert_int_equal(store_outbox_retry(f->s, id1, 5000, "chain down"), 0);
	assert_int_equal(store_outbox_due(f->s, 1000, 10, &it, &n), 0);
	assert_int_equal(n, 1);
	store_outbox_free(it, n);
	int64_t next;
	assert_int_equal(store_outbox_next(f->s, &next), 0);
	assert_int_equal(next, 0);

	assert_int_equal(store_outbox_done(f->s, id0, "ok"), 0);
	assert_int_equal(store_outbox_done(f->s, id0, "again"), 0);
	int done;
	char out[32];
	assert_int_equal(store_outbox_state(f->s, "deployed:5", &done, out, sizeof out), 0);
	assert_int_equal(done, 1);
	assert_int_equal(store_outbox_state(f->s, "nope", &done, NULL, 0), ZE_ABSENT);
	/* A spent key is never queued again, even after a restart. */
	store_close(f->s);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	assert_int_equal(store_outbox_add(f->s, "deployed", 5, "deployed:5", "{}", &added), 0);
	assert_int_equal(added, 0);
	assert_int_equal(store_outbox_next(f->s, &next), 0);
	assert_int_equal(next, 5000);
	assert_int_equal(store_outbox_due(f->s, 5000, 10, &it, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(it[0].attempts, 1);
	assert_string_equal(it[0].last_error, "chain down");
	assert_int_equal(store_outbox_done(f->s, it[0].id, "ok"), 0);
	store_outbox_free(it, n);
	assert_int_equal(store_outbox_next(f->s, &next), ZE_ABSENT);
}

/* The rows pending after an id, in id order, bounded by max: fewer than the
 * first allocation, more (the array grows), exactly max, and none. */
static void outbox_after_reads_in_order(void **st)
{
	struct fx *f = *st;
	char key[32], payload[32];
	int added;
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof key, "deployed:%d", i);
		snprintf(payload, sizeof payload, "{\"n\":%d}", i);
		assert_int_equal(store_outbox_add(f->s, "deployed", (uint64_t)i, key, payload, &added),
		                 0);
	}
	struct store_outbox *it;
	size_t n;
	assert_int_equal(store_outbox_after(f->s, 0, 100, &it, &n), 0);
	assert_int_equal(n, 40);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, "deployed:%zu", i);
		snprintf(payload, sizeof payload, "{\"n\":%zu}", i);
		assert_string_equal(it[i].key, key);
		assert_string_equal(it[i].payload, payload);
		assert_int_equal(it[i].contract_id, i);
		if (i)
			assert_true(it[i].id > it[i - 1].id);
	}
	int64_t tenth = it[9].id, last = it[39].id;
	/* Done rows are not pending. */
	assert_int_equal(store_outbox_done(f->s, it[10].id, "ok"), 0);
	store_outbox_free(it, n);

	assert_int_equal(store_outbox_after(f->s, tenth, 3, &it, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(it[0].key, "deployed:11");
	assert_string_equal(it[2].key, "deployed:13");
	store_outbox_free(it, n);

	assert_int_equal(store_outbox_after(f->s, tenth, 17, &it, &n), 0);
	assert_int_equal(n, 17);
	assert_string_equal(it[16].key, "deployed:27");
	store_outbox_free(it, n);

	assert_int_equal(store_outbox_after(f->s, last, 100, &it, &n), 0);
	assert_int_equal(n, 0);
	store_outbox_free(it, n);
}

static void transactions_commit_together(void **st)
{
	struct fx *f = *st;
	insert(f->s, 1, 7, 1);
	int added;
	/* A doomed inner step rolls the whole transaction back. */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_dep_set_state(f->s, 1, STORE_DEP_FAILED, "bad"), 0);
	assert_int_equal(store_outbox_add(f->s, "rejected", 1, "rejected:1", "{}", &added), 0);
	assert_int_equal(store_wl_set(f->s, 1, "missing", STORE_WL_OK, NULL, ""), ZE_ABSENT);
	assert_int_equal(store_commit(f->s), ZE_STATE);
	struct store_dep d;
	assert_int_equal(store_dep_get(f->s, 1, &d, NULL, NULL), 0);
	assert_int_equal(d.state, STORE_DEP_DEPLOYING);
	store_dep_clear(&d);
	int done;
	assert_int_equal(store_outbox_state(f->s, "rejected:1", &done, NULL, 0), ZE_ABSENT);

	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_dep_set_state(f->s, 1, STORE_DEP_FAILED, "bad"), 0);
	assert_int_equal(store_outbox_add(f->s, "rejected", 1, "rejected:1", "{}", &added), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_outbox_state(f->s, "rejected:1", &done, NULL, 0), 0);
	assert_int_equal(done, 0);
}

/* A lazy transaction on a durable store: nested calls join it, a doomed
 * inner step rolls it back, and what it committed is there after a reopen;
 * the durable calls around it work as before. */
/* The light state read of a transition, the outbox row queued already
 * counted as sending, and the write counter: one per top-level commit or
 * lone write, none for nested writes or a failed transaction. */
static void state_read_premark_and_write_count(void **st)
{
	struct fx *f = *st;
	insert(f->s, 1, 7, 3);
	insert(f->s, 2, 7, 1);
	enum store_dep_state state;
	struct prov_capacity cap;
	assert_int_equal(store_dep_state(f->s, 1, &state, &cap), 0);
	assert_int_equal(state, STORE_DEP_DEPLOYING);
	assert_int_equal(cap.cru, 1);
	assert_int_equal(cap.mru, 100);
	assert_int_equal(store_dep_state(f->s, 99, &state, &cap), ZE_ABSENT);
	raw(f, "UPDATE deployments SET state='bogus' WHERE contract_id=2;");
	assert_int_equal(store_dep_state(f->s, 2, &state, &cap), ZE_MALFORMED);
	assert_int_equal(store_dep_state(f->s, 2, &state, &cap), ZE_ABSENT); /* quarantined */

	uint64_t w0 = store_write_count(f->s);
	int added = 0;
	assert_int_equal(store_begin_lazy(f->s), 0);
	assert_int_equal(store_dep_set_state(f->s, 1, STORE_DEP_DEPLOYED, NULL), 0);
	assert_int_equal(store_outbox_add_sending(f->s, "deployed", 1, "deployed:1", "{}", &added),
			 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(added, 1);
	assert_int_equal(store_write_count(f->s) - w0, 1);
	/* A spent key is not queued again, marked or not. */
	assert_int_equal(store_outbox_add_sending(f->s, "deployed", 1, "deployed:1", "{}", &added),
			 0);
	assert_int_equal(added, 0);
	assert_int_equal(store_outbox_add(f->s, "deployed", 3, "deployed:3", "{}", &added), 0);
	assert_int_equal(store_write_count(f->s) - w0, 3);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_wl_set(f->s, 1, "missing", STORE_WL_OK, NULL, ""), ZE_ABSENT);
	assert_int_equal(store_commit(f->s), ZE_STATE);
	assert_int_equal(store_write_count(f->s) - w0, 3);

	struct store_outbox *items = NULL;
	size_t n = 0;
	assert_int_equal(store_outbox_due(f->s, INT64_MAX, 8, &items, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(items[0].key, "deployed:1");
	assert_int_equal(items[0].attempts, 1);
	assert_string_equal(items[1].key, "deployed:3");
	assert_int_equal(items[1].attempts, 0);
	store_outbox_free(items, n);
}

static void lazy_transactions(void **st)
{
	struct fx *f = *st;
	store_close(f->s);
	assert_int_equal(store_open(f->dir, 0, &f->s), 0);
	insert(f->s, 1, 7, 1);
	int added, done;
	assert_int_equal(store_begin_lazy(f->s), 0);
	assert_int_equal(store_wl_set(f->s, 1, "missing", STORE_WL_OK, NULL, ""), ZE_ABSENT);
	assert_int_equal(store_commit(f->s), ZE_STATE);

	assert_int_equal(store_begin_lazy(f->s), 0);
	assert_int_equal(store_dep_set_state(f->s, 1, STORE_DEP_DEPLOYED, NULL), 0);
	assert_int_equal(store_outbox_add(f->s, "deployed", 1, "deployed:1", "{}", &added), 0);
	assert_int_equal(store_commit(f->s), 0);
	struct store_outbox *items = NULL;
	size_t n = 0;
	assert_int_equal(store_outbox_due(f->s, INT64_MAX, 8, &items, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_sending(f->s, items[0].id), 0);
	assert_int_equal(store_begin_lazy(f->s), 0);
	assert_int_equal(store_outbox_done(f->s, items[0].id, "ok"), 0);
	assert_int_equal(store_commit(f->s), 0);
	store_outbox_free(items, n);

	store_close(f->s);
	assert_int_equal(store_open(f->dir, 0, &f->s), 0);
	struct store_dep d;
	assert_int_equal(store_dep_get(f->s, 1, &d, NULL, NULL), 0);
	assert_int_equal(d.state, STORE_DEP_DEPLOYED);
	store_dep_clear(&d);
	assert_int_equal(store_outbox_state(f->s, "deployed:1", &done, NULL, 0), 0);
	assert_int_equal(done, 1);
}

static void finished_deployments_are_pruned(void **st)
{
	struct fx *f = *st;
	insert(f->s, 1, 7, 2); /* deleted, everything removed: pruned */
	insert(f->s, 2, 7, 2); /* deleted, a workload still there: kept */
	insert(f->s, 3, 7, 2); /* deployed: kept */
	insert(f->s, 4, 7, 0); /* rejected before any workload: pruned */
	for (uint64_t cid = 1; cid <= 2; cid++) {
		assert_int_equal(store_dep_set_state(f->s, cid, STORE_DEP_DELETED, "gone"), 0);
		assert_int_equal(store_wl_set(f->s, cid, "disk", STORE_WL_DELETED, NULL, "x"), 0);
	}
	assert_int_equal(store_wl_set(f->s, 1, "net", STORE_WL_DELETED, NULL, "x"), 0);
	assert_int_equal(store_dep_set_state(f->s, 3, STORE_DEP_DEPLOYED, NULL), 0);
	assert_int_equal(store_dep_set_state(f->s, 4, STORE_DEP_FAILED, "bad"), 0);
	uint64_t n;
	/* Too recent: nothing goes. */
	assert_int_equal(store_dep_prune(f->s, store_now_for_tests() - 60, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_dep_prune(f->s, store_now_for_tests() + 1, &n), 0);
	assert_int_equal(n, 2);
	struct store_dep d;
	assert_int_equal(store_dep_get(f->s, 1, &d, NULL, NULL), ZE_ABSENT);
	assert_int_equal(store_dep_get(f->s, 4, &d, NULL, NULL), ZE_ABSENT);
	for (uint64_t cid = 2; cid <= 3; cid++) {
		assert_int_equal(store_dep_get(f->s, cid, &d, NULL, NULL), 0);
		store_dep_clear(&d);
	}
	struct hist h = {0};
	assert_int_equal(store_history(f->s, 1, hist_cb, &h), 0);
	assert_int_equal(h.n, 0);
}

static void cursors(void **st)
{
	struct fx *f = *st;
	int64_t v;
	assert_int_equal(store_cursor_get(f->s, "block", &v), ZE_ABSENT);
	assert_int_equal(store_cursor_set(f->s, "block", 41), 0);
	assert_int_equal(store_cursor_set(f->s, "block", 42), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	assert_int_equal(store_cursor_get(f->s, "block", &v), 0);
	assert_int_equal(v, 42);
}

/* The store holds its file from its first transaction until it is closed;
 * STORE_OPEN_SHARED lets another connection read meanwhile. */
static void held_exclusively_unless_shared(void **st)
{
	static const char *const q = "SELECT count(*) FROM deployments";
	struct fx *f = *st;
	int64_t n = -1;
	insert(f->s, 1, 7, 1);
	assert_int_equal(peek(f, q, &n), SQLITE_BUSY);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(peek(f, q, &n), SQLITE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST | STORE_OPEN_SHARED, &f->s), 0);
	insert(f->s, 2, 7, 1);
	assert_int_equal(peek(f, q, &n), SQLITE_OK);
	assert_int_equal(n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(schema_is_current_and_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(deployment_round_trip_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(may_exist_bounds_the_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(workloads_come_in_install_order, setup, teardown),
		cmocka_unit_test_setup_teardown(list_and_history, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_rows_are_quarantined, setup, teardown),
		cmocka_unit_test_setup_teardown(outbox_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(outbox_retention_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(outbox_after_reads_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(transactions_commit_together, setup, teardown),
		cmocka_unit_test_setup_teardown(lazy_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(state_read_premark_and_write_count, setup,
						teardown),
		cmocka_unit_test_setup_teardown(finished_deployments_are_pruned, setup, teardown),
		cmocka_unit_test_setup_teardown(cursors, setup, teardown),
		cmocka_unit_test_setup_teardown(held_exclusively_unless_shared, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
