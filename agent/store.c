/* The store's connection, statements, schema migrations and transactions. */
#include "agent/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/zerr.h"

#define DEP_LIVE "('deploying','deployed','paused')"
/* Finished deployments (nothing left on the host) last changed before ?1. */
#define PRUNABLE                                                                          \
	"SELECT d.contract_id FROM deployments d WHERE d.state IN ('failed','deleted') AND " \
	"d.updated < ?1 AND NOT EXISTS (SELECT 1 FROM workloads w WHERE "                    \
	"w.contract_id = d.contract_id AND w.state <> 'deleted')"

static const char *const sql[SQ__COUNT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_DEP_INSERT] = "INSERT INTO deployments(contract_id,twin_id,state,hash,doc,cru,mru,sru,"
			  "hru,created,updated,reason) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
	[SQ_DEP_GET] = "SELECT contract_id,twin_id,state,hash,doc,cru,mru,sru,hru,created,updated,"
		       "reason FROM deployments WHERE contract_id=?",
	[SQ_DEP_STATE] = "SELECT state,cru,mru,sru,hru FROM deployments WHERE contract_id=?",
	[SQ_DEP_SET_STATE] = "UPDATE deployments SET state=?,reason=?,updated=? WHERE contract_id=?",
	[SQ_DEP_IDS] = "SELECT contract_id FROM deployments ORDER BY contract_id",
	[SQ_DEP_LIST] = "SELECT contract_id,twin_id,state,hash,NULL,cru,mru,sru,hru,created,"
			"updated,reason FROM deployments WHERE twin_id=? ORDER BY contract_id",
	[SQ_DEP_DELETE] = "DELETE FROM deployments WHERE contract_id=?",
	[SQ_DEP_MAX] = "SELECT max(contract_id) FROM deployments",
	[SQ_WL_INSERT] = "INSERT INTO workloads(contract_id,name,type,state,ord,spec,result,cru,"
			 "mru,sru,hru,updated) VALUES(?,?,?,?,?,?,NULL,?,?,?,?,?)",
	/* In install order once read (load_wls sorts by ord): an ORDER BY
	 * here would make SQLite build a temporary B-tree on every read. */
	[SQ_WL_GET] = "SELECT name,type,state,ord,spec,result,cru,mru,sru,hru,updated FROM "
		      "workloads WHERE contract_id=?",
	[SQ_WL_SET] = "UPDATE workloads SET state=?,result=?,updated=? WHERE contract_id=? AND "
		      "name=?",
	[SQ_WL_SET_STATE] = "UPDATE workloads SET state=?,updated=? WHERE contract_id=? AND name=?",
	[SQ_WL_DELETE] = "DELETE FROM workloads WHERE contract_id=?",
	[SQ_HIST_ADD] = "INSERT INTO history(contract_id,name,ts,state,message) VALUES(?,?,?,?,?)",
	[SQ_HIST_GET] = "SELECT name,ts,state,message FROM history WHERE contract_id=? ORDER BY id",
	/* quote() renders any column as SQL text, whatever garbage it holds. */
	[SQ_QUAR_DEP] = "INSERT INTO quarantine(tbl,row_key,data,reason,ts) SELECT 'deployments',"
			"contract_id,quote(twin_id)||','||quote(state)||','||quote(hash)||','||"
			"quote(doc)||','||quote(created)||','||quote(updated)||','||quote(reason),"
			"?2,?3 FROM deployments WHERE contract_id=?1",
	[SQ_QUAR_WLS] = "INSERT INTO quarantine(tbl,row_key,data,reason,ts) SELECT 'workloads',"
			"contract_id||'/'||quote(name),quote(type)||','||quote(state)||','||"
			"quote(ord)||','||quote(spec)||','||quote(result),?2,?3 FROM workloads "
			"WHERE contract_id=?1",
	[SQ_QUAR_COUNT] = "SELECT count(*) FROM quarantine",
	[SQ_PRUNE_HIST] = "DELETE FROM history WHERE contract_id IN (" PRUNABLE ")",
	[SQ_PRUNE_WLS] = "DELETE FROM workloads WHERE contract_id IN (" PRUNABLE ")",
	[SQ_PRUNE_DEPS] = "DELETE FROM deployments WHERE contract_id IN (" PRUNABLE ")",
	[SQ_STATS_RESERVED] = "SELECT ifnull(sum(cru),0),ifnull(sum(mru),0),ifnull(sum(sru),0),"
			      "ifnull(sum(hru),0) FROM deployments WHERE state IN " DEP_LIVE,
	[SQ_STATS_USED] = "SELECT ifnull(sum(cru),0),ifnull(sum(mru),0),ifnull(sum(sru),0),"
			  "ifnull(sum(hru),0) FROM workloads WHERE state IN ('ok','paused')",
	[SQ_STATS_DEPS] = "SELECT count(*) FROM deployments WHERE state IN " DEP_LIVE
			  " AND (?1=0 OR twin_id=?1)",
	[SQ_STATS_WLS] = "SELECT count(*) FROM workloads w JOIN deployments d USING(contract_id) "
			 "WHERE d.state IN " DEP_LIVE " AND w.state<>'deleted' AND "
			 "(?1=0 OR d.twin_id=?1)",
	[SQ_OB_ADD] = "INSERT OR IGNORE INTO outbox(kind,contract_id,key,payload,created,attempts,"
		      "next_try,last_error,done) VALUES(?,?,?,?,?,?,0,'',0)",
	[SQ_OB_DUE] = "SELECT id,kind,contract_id,key,payload,created,attempts,next_try,last_error "
		      "FROM outbox WHERE done=0 AND next_try<=? ORDER BY id LIMIT ?",
	/* A range of ids: "+done" keeps SQLite from the index on done, which
	 * would visit every pending row and sort them on each read. */
	[SQ_OB_AFTER] = "SELECT id,kind,contract_id,key,payload,created,attempts,next_try,"
			"last_error FROM outbox WHERE id>? AND +done=0 ORDER BY id LIMIT ?",
	[SQ_OB_NEXT] = "SELECT min(next_try) FROM outbox WHERE done=0",
	[SQ_OB_SENDING] = "UPDATE outbox SET attempts=attempts+1 WHERE id=? AND done=0",
	[SQ_OB_RETRY] = "UPDATE outbox SET next_try=?,last_error=? WHERE id=? AND done=0",
	/* The payload is dropped once the outcome is known: the key alone keeps
	 * the fact from being queued again, and done rows stay small. */
	[SQ_OB_DONE] = "UPDATE outbox SET done=1,outcome=?,payload='' WHERE id=?",
	[SQ_OB_PENDING] = "SELECT count(*) FROM outbox WHERE done=0",
	[SQ_OB_STATE] = "SELECT done,ifnull(outcome,'') FROM outbox WHERE key=?",
	[SQ_CUR_GET] = "SELECT value FROM cursors WHERE name=?",
	[SQ_CUR_SET] = "INSERT INTO cursors(name,value) VALUES(?,?) ON CONFLICT(name) DO UPDATE "
		       "SET value=excluded.value",
};

/* Migration i brings the schema from version i to i + 1. Never edit one that
 * has shipped; append a new one. */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	"CREATE TABLE deployments("
	" contract_id INTEGER PRIMARY KEY, twin_id INTEGER NOT NULL, state TEXT NOT NULL,"
	" hash BLOB NOT NULL, doc TEXT NOT NULL, cru INTEGER NOT NULL, mru INTEGER NOT NULL,"
	" sru INTEGER NOT NULL, hru INTEGER NOT NULL, created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE workloads("
	" contract_id INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
	" state TEXT NOT NULL, ord INTEGER NOT NULL, spec TEXT NOT NULL, result TEXT,"
	" cru INTEGER NOT NULL, mru INTEGER NOT NULL, sru INTEGER NOT NULL,"
	" hru INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(contract_id, name));"
	"CREATE TABLE history(id INTEGER PRIMARY KEY, contract_id INTEGER NOT NULL,"
	" name TEXT NOT NULL, ts INTEGER NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL);"
	"CREATE TABLE outbox(id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
	" contract_id INTEGER NOT NULL, key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL,"
	" created INTEGER NOT NULL, attempts INTEGER NOT NULL, next_try INTEGER NOT NULL,"
	" last_error TEXT NOT NULL, done INTEGER NOT NULL, outcome TEXT);"
	"CREATE TABLE cursors(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE quarantine(id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, row_key TEXT NOT NULL,"
	" data TEXT, reason TEXT NOT NULL, ts INTEGER NOT NULL);",

	"CREATE INDEX outbox_pending ON outbox(done, next_try);"
	"CREATE INDEX history_contract ON history(contract_id, id);"
	"CREATE INDEX deployments_twin ON deployments(twin_id);",

	/* State a module keeps as one value (the reporter's per-contract
	 * progress, rewritten whole each cycle: cheaper than a row each), and
	 * covering indexes for the reporter's scans, which then skip the
	 * documents and specs stored in the rows. */
	"CREATE TABLE blobs(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
	"CREATE INDEX deployments_live ON deployments(contract_id, state, created);"
	"CREATE INDEX workloads_cap ON workloads(contract_id, state, cru, mru, sru, hru);",
};

int64_t store_now(void)
{
	return (int64_t)time(NULL);
}

void store_lock(struct store *s)
{
	pthread_mutex_lock(&s->mu);
}

void store_unlock(struct store *s)
{
	pthread_mutex_unlock(&s->mu);
}

int store_err(struct store *s, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return ZE_STATE;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		log_err("store", "%s: database corrupt: %s", what, sqlite3_errmsg(s->db));
		return ZE_MALFORMED;
	case SQLITE_FULL:
		return -ENOSPC;
	default:
		log_err("store", "%s: %s", what, sqlite3_errmsg(s->db));
		return -EIO;
	}
}

sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id)
{
	if (!s->st[id]) {
		int rc = sqlite3_prepare_v3(s->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    &s->st[id], NULL);
		if (rc != SQLITE_OK) {
			log_err("store", "prepare %d: %s", (int)id, sqlite3_errmsg(s->db));
			return NULL;
		}
	}
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	return s->st[id];
}

static int exec(struct store *s, const char *q, const char *what)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, q, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_err("store", "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return store_err(s, rc, what);
	}
	return 0;
}

/* Runs a statement without results. */
int store_step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	if (!st)
		return -EIO;
	int rc = sqlite3_step(st);
	int err = rc == SQLITE_DONE ? 0 : store_err(s, rc, what);
	sqlite3_reset(st);
	return err;
}

static int begin(struct store *s, int lazy)
{
	store_lock(s);
	if (s->depth == 0) {
		int rc = store_step_done(s, store_stmt(s, SQ_BEGIN), "begin");
		if (rc < 0) {
			store_unlock(s);
			return rc;
		}
		s->failed = 0;
		s->lazy = lazy;
	}
	s->depth++;
	return 0;
}

int store_begin(struct store *s)
{
	return begin(s, 0);
}

int store_begin_lazy(struct store *s)
{
	return begin(s, 1);
}

static int commit(struct store *s, uint64_t *ticket)
{
	int rc = 0, lazy = 0;
	if (--s->depth == 0) {
		if (s->failed) {
			store_step_done(s, store_stmt(s, SQ_ROLLBACK), "rollback");
			rc = ZE_STATE;
		} else if ((rc = store_step_done(s, store_stmt(s, SQ_COMMIT), "commit")) < 0) {
			store_step_done(s, store_stmt(s, SQ_ROLLBACK), "rollback");
		}
		lazy = s->lazy;
		s->lazy = 0;
		if (lazy) {
			if (rc == 0)
				__atomic_add_fetch(&s->writes, 1, __ATOMIC_RELAXED);
			store_unlock(s);
			return rc;
		}
		/* A durable commit waits for its group's sync, without the lock. */
		return store_unlock_durable(s, rc, ticket);
	}
	store_unlock(s);
	return rc;
}

int store_commit(struct store *s)
{
	return commit(s, NULL);
}

int store_commit_async(struct store *s, uint64_t *ticket)
{
	*ticket = 0;
	return commit(s, ticket);
}

void store_rollback(struct store *s)
{
	/* An inner rollback dooms the outer transaction: its commit fails. */
	if (--s->depth == 0) {
		store_step_done(s, store_stmt(s, SQ_ROLLBACK), "rollback");
		s->lazy = 0;
	} else {
		s->failed = 1;
	}
	store_unlock(s);
}

/* The journal mode SQLite settled on: WAL unless the file system cannot
 * share memory between processes. */
static int journal_wal(struct store *s, int *wal)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_err(s, rc, "journal_mode");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *m = sqlite3_column_text(st, 0);
		*wal = m && strcmp((const char *)m, "wal") == 0;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_err(s, rc, "journal_mode");
}

static int user_version(struct store *s, int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_err(s, rc, "user_version");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_err(s, rc, "user_version");
}

static int migrate(struct store *s)
{
	for (;;) {
		int v, rc;
		/* Each step and its version bump commit together, so a crash
		 * between migrations resumes at the right one. The version is read
		 * inside the write transaction: another opener may have just
		 * migrated. */
		if ((rc = exec(s, "BEGIN IMMEDIATE", "migrate")) < 0)
			return rc;
		if ((rc = user_version(s, &v)) < 0) {
			exec(s, "ROLLBACK", "migrate");
			return rc;
		}
		if (v >= STORE_SCHEMA_VERSION) {
			exec(s, "ROLLBACK", "migrate");
			if (v == STORE_SCHEMA_VERSION)
				return 0;
			log_err("store", "database schema %d is newer than this agent's %d", v,
				STORE_SCHEMA_VERSION);
			return ZE_UNSUPPORTED;
		}
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version=%d", v + 1);
		if ((rc = exec(s, migrations[v], "migrate")) < 0 ||
		    (rc = exec(s, bump, "migrate")) < 0 || (rc = exec(s, "COMMIT", "migrate")) < 0) {
			exec(s, "ROLLBACK", "migrate");
			return rc;
		}
		log_info("store", "migrated schema to version %d", v + 1);
	}
}

int store_open(const char *dir, int flags, struct store **out)
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s/agent.db", dir) >= (int)sizeof path)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* The file holds plaintext deployments: create it private before SQLite
	 * does (its -wal and -shm files copy these permissions). */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);

	struct store *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->mu, &a);
	pthread_mutexattr_destroy(&a);
	pthread_mutex_init(&s->sync_mu, NULL);
	pthread_cond_init(&s->sync_cv, NULL);
	s->wal_fd = -1;

	int rc = store_vfs_register();
	if (rc < 0) {
		log_err("store", "open %s: SQLite has no default VFS", path);
		goto fail;
	}
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			     STORE_VFS_NAME);
	if (rc != SQLITE_OK) {
		log_err("store", "open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "no memory");
		rc = rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	s->durable = !(flags & STORE_OPEN_FAST);
	int wal = 0;
	/* The agent is the store's only user (agent.lock keeps one agent per
	 * state directory), so it holds the file's lock from its first
	 * transaction on: no fcntl locks around each transaction, and the WAL's
	 * index in this process's memory instead of a shared -shm file. Set
	 * before the first access, as SQLite requires for the latter. Another
	 * process can read the store only once the agent has stopped. */
	if ((!(flags & STORE_OPEN_SHARED) &&
	     (rc = exec(s, "PRAGMA locking_mode=EXCLUSIVE", "pragma")) < 0) ||
	    (rc = journal_wal(s, &wal)) < 0)
		goto fail;
	/* Without a WAL there is nothing for group commit to sync: every commit
	 * then syncs itself (synchronous=FULL), as it would anywhere. */
	s->full = s->durable && !wal;
	if (s->full)
		log_warn("store", "%s: no WAL on this file system; every commit syncs alone",
			 path);
	/* A small page cache keeps the idle agent's memory low; the working set
	 * of one deployment is a few pages. */
	if ((rc = exec(s, s->full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		       "pragma")) < 0 ||
	    (rc = exec(s, "PRAGMA cache_size=-512", "pragma")) < 0 ||
	    (rc = exec(s, "PRAGMA temp_store=MEMORY", "pragma")) < 0 || (rc = migrate(s)) < 0)
		goto fail;
	int64_t max = 0;
	int none = 1;
	if ((rc = store_query_int(s, SQ_DEP_MAX, 0, 0, &max, &none)) < 0)
		goto fail;
	s->dep_max = none || max < 0 ? 0 : (uint64_t)max;
	if (s->durable && !s->full && (rc = store_sync_open(s, dir)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < SQ__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db)
		sqlite3_close(s->db);
	store_sync_close(s);
	pthread_cond_destroy(&s->sync_cv);
	pthread_mutex_destroy(&s->sync_mu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int store_schema_version(struct store *s, int *version)
{
	store_lock(s);
	int rc = user_version(s, version);
	store_unlock(s);
	return rc;
}

/* One integer from a one-row query bound with at most one integer. */
int store_query_int(struct store *s, enum store_stmt id, int bind, int64_t arg, int64_t *out,
		     int *isnull)
{
	store_lock(s);
	sqlite3_stmt *st = store_stmt(s, id);
	int rc = -EIO;
	if (st) {
		if (bind)
			sqlite3_bind_int64(st, 1, arg);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (isnull)
				*isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
			*out = sqlite3_column_int64(st, 0);
			rc = 0;
		} else {
			rc = rc == SQLITE_DONE ? ZE_ABSENT : store_err(s, rc, "query");
		}
		sqlite3_reset(st);
	}
	store_unlock(s);
	return rc;
}
