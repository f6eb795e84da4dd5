/*
 * Unit tests of the store's WAL writes (agent/store_vfs.c): a commit reaches
 * the file as one write, before the commit returns, so what was committed
 * survives kill -9 however the transaction wrote its log (spilled early,
 * rewritten in place, rolled back, across checkpoints).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/store.h"
#include "common/zerr.h"

/* Deployments of the large transaction, each with a document of DOC_BYTES:
 * together several times the store's page cache (512 KiB), so SQLite spills
 * pages to the log before the commit. */
#define BIG_N 300
#define DOC_BYTES 4000

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/test_store_wal.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/agent.db", f->dir);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;
	char p[160];
	const char *suffix[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static int put(struct store *s, uint64_t cid, const char *doc)
{
	struct store_dep d = {.contract_id = cid,
	                      .twin_id = 7,
	                      .state = STORE_DEP_DEPLOYING,
	                      .doc = (char *)doc,
	                      .cap = {.cru = 1}};
	struct store_wl w[3] = {
	    {.name = "disk", .type = "zmount", .spec = "{\"size\":1}", .cap = {.sru = 10}},
	    {.name = "net", .type = "network", .spec = "{}"},
	    {.name = "vm", .type = "container", .spec = "{}", .cap = {.cru = 1}},
	};
	return store_dep_insert(s, &d, w, 3);
}

static char *big_doc(void)
{
	char *doc = malloc(DOC_BYTES + 1);
	if (!doc)
		return NULL;
	for (size_t i = 0; i < DOC_BYTES; i++)
		doc[i] = (char)('a' + i % 26);
	doc[DOC_BYTES] = '\0';
	return doc;
}

/* Runs fn in a child on the store in dir, then kills the child with SIGKILL
 * at once; *stats gets the child's WAL counts just before. */
static void run_killed(const char *dir, int (*fn)(struct store *s), struct store_wal_stats *stats)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		struct store_wal_stats ws = {0};
		close(p[0]);
		if (store_open(dir, STORE_OPEN_FAST, &s) < 0 || fn(s) < 0 ||
		    store_wal_stats(s, &ws) < 0)
			_exit(1);
		if (write(p[1], &ws, sizeof ws) != (ssize_t)sizeof ws)
			_exit(1);
		/* No close, no exit: what the commits left in the OS is all
		 * there is. */
		raise(SIGKILL);
		_exit(2);
	}
	close(p[1]);
	memset(stats, 0, sizeof *stats);
	ssize_t got = read(p[0], stats, sizeof *stats);
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		fail_msg("the child exited (%d) before its kill", WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(got, (ssize_t)sizeof *stats);
}

/* SQLite's own check of the file, through another connection. */
static void assert_intact(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static uint64_t count(const char *dir)
{
	struct store *s;
	struct store_stats n;
	assert_int_equal(store_open(dir, STORE_OPEN_FAST, &s), 0);
	assert_int_equal(store_stats(s, 0, &n), 0);
	store_close(s);
	return n.deployments;
}

static void a_commit_is_one_write(void **st)
{
	struct fx *f = *st;
	struct store *s;
	struct store_wal_stats a, b, c;
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &s), 0);
	assert_int_equal(store_wal_stats(s, &a), 0);
	/* A deployment, its workloads and their history: several pages. */
	assert_int_equal(put(s, 1, "{}"), 0);
	assert_int_equal(store_wal_stats(s, &b), 0);
	assert_true(b.writes - a.writes >= 4); /* two frames at least, two writes each */
	assert_int_equal(b.file_writes - a.file_writes, 1);
	/* Twenty in one transaction: still one. */
	assert_int_equal(store_begin(s), 0);
	for (uint64_t cid = 2; cid < 22; cid++)
		assert_int_equal(put(s, cid, "{}"), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_wal_stats(s, &c), 0);
	assert_int_equal(c.file_writes - b.file_writes, 1);
	assert_int_equal(c.in_place, 0);
	store_close(s);
	assert_int_equal(count(f->dir), 21);
	assert_intact(f->path);
}

/* One transaction larger than the page cache, whose pages change again
 * after SQLite spilled them: the commit rewrites those frames in place. */
static int big_spilled(struct store *s)
{
	char *doc = big_doc();
	int rc = doc ? store_begin(s) : -1;
	for (uint64_t cid = 1; rc == 0 && cid <= BIG_N; cid++)
		rc = put(s, cid, doc);
	for (uint64_t cid = 1; rc == 0 && cid <= BIG_N; cid++)
		rc = store_dep_set_state(s, cid, STORE_DEP_DEPLOYED, "");
	if (rc == 0)
		rc = store_commit(s);
	else if (doc)
		store_rollback(s);
	free(doc);
	return rc;
}

static int one_more(struct store *s)
{
	return put(s, 100000, "{}");
}

/* Enough small commits for several checkpoints: the log starts again from
 * its header at offset 0 each time. */
static int many_small(struct store *s)
{
	int rc = 0;
	for (uint64_t cid = 200000; rc == 0 && cid < 200400; cid++)
		rc = put(s, cid, "{}");
	return rc;
}

static void commits_survive_kill(void **st)
{
	struct fx *f = *st;
	struct store_wal_stats ws;
	run_killed(f->dir, big_spilled, &ws);
	/* The path under test ran: frames were rewritten in place. */
	assert_true(ws.in_place > 0);
	assert_true(ws.file_writes < ws.writes);
	assert_int_equal(count(f->dir), BIG_N);
	struct store *s;
	enum store_dep_state state;
	struct prov_capacity cap;
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &s), 0);
	for (uint64_t cid = 1; cid <= BIG_N; cid++) {
		assert_int_equal(store_dep_state(s, cid, &state, &cap), 0);
		assert_int_equal(state, STORE_DEP_DEPLOYED);
	}
	store_close(s);
	assert_intact(f->path);

	run_killed(f->dir, one_more, &ws);
	/* The first commit after a start begins a new log: SQLite writes and
	 * syncs the log's header before the frames. */
	assert_true(ws.writes >= 4);
	assert_true(ws.file_writes <= 2);
	assert_int_equal(count(f->dir), BIG_N + 1);

	run_killed(f->dir, many_small, &ws);
	assert_int_equal(count(f->dir), BIG_N + 1 + 400);
	assert_intact(f->path);
}

static void rolled_back_spill_leaves_nothing(void **st)
{
	struct fx *f = *st;
	struct store *s;
	char *doc = big_doc();
	assert_non_null(doc);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &s), 0);
	assert_int_equal(store_begin(s), 0);
	for (uint64_t cid = 1; cid <= BIG_N; cid++)
		assert_int_equal(put(s, cid, doc), 0);
	store_rollback(s);
	free(doc);
	/* The next commits write over the frames the rollback dropped. */
	assert_int_equal(put(s, 5, "{}"), 0);
	assert_int_equal(put(s, 6, "{}"), 0);
	store_close(s);
	assert_int_equal(count(f->dir), 2);
	assert_intact(f->path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(a_commit_is_one_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(commits_survive_kill, setup, teardown),
	    cmocka_unit_test_setup_teardown(rolled_back_spill_leaves_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
