/* The devchain's SQLite store of versioned state, blocks and chain facts (store.h). */
#include "devchain/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"
#include "devchain/runtime.h"

#define SCHEMA_VERSION 1

enum {
	Q_GET,
	Q_SCAN,
	Q_PUT,
	Q_BLOCK,
	Q_BLOCK_NUM,
	Q_BLOCK_PUT,
	Q_META_GET,
	Q_META_PUT,
	Q_HEAD,
	Q_COUNT
};

/* Scans take every version of every key under the prefix up to block num
 * and keep the newest; SQLite returns the bare columns of the MAX() row. */
static const char *const queries[Q_COUNT] = {
	[Q_GET] = "SELECT value FROM state WHERE key = ?1 AND num <= ?2 ORDER BY num DESC LIMIT 1",
	[Q_SCAN] = "SELECT key, value FROM (SELECT key, value, MAX(num) FROM state"
		   " WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) AND key > ?3 AND num <= ?4"
		   " GROUP BY key) WHERE value IS NOT NULL ORDER BY key LIMIT ?5",
	[Q_PUT] = "INSERT OR REPLACE INTO state(key, num, value) VALUES (?1, ?2, ?3)",
	[Q_BLOCK] = "SELECT hash, header, body FROM blocks WHERE num = ?1",
	[Q_BLOCK_NUM] = "SELECT num FROM blocks WHERE hash = ?1",
	[Q_BLOCK_PUT] = "INSERT INTO blocks(num, hash, header, body) VALUES (?1, ?2, ?3, ?4)",
	[Q_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	[Q_META_PUT] = "INSERT OR REPLACE INTO meta(k, v) VALUES (?1, ?2)",
	[Q_HEAD] = "SELECT MAX(num) FROM blocks",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS state(key BLOB NOT NULL, num INTEGER NOT NULL, value BLOB,"
	" PRIMARY KEY(key, num)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS blocks(num INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
	" header BLOB NOT NULL, body BLOB NOT NULL);";

struct dev_store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
};

static int db_err(struct dev_store *st, const char *what)
{
	int code = sqlite3_errcode(st->db);
	log_err("devchain", "store: %s: %s", what, sqlite3_errmsg(st->db));
	if (code == SQLITE_NOMEM)
		return -ENOMEM;
	if (code == SQLITE_FULL)
		return -ENOSPC;
	if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		return ZE_MALFORMED;
	return -EIO;
}

static int exec(struct dev_store *st, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("devchain", "store: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return db_err(st, "exec");
	}
	return 0;
}

/* Refuses a file that is damaged or that some other program wrote. */
static int check_store(struct dev_store *st)
{
	sqlite3_stmt *s;
	int rc = 0;
	if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK)
		return db_err(st, "integrity check");
	int step = sqlite3_step(s);
	if (step != SQLITE_ROW) {
		rc = db_err(st, "integrity check");
	} else {
		const unsigned char *r = sqlite3_column_text(s, 0);
		if (!r || strcmp((const char *)r, "ok") != 0) {
			log_err("devchain", "store: integrity check failed: %s",
				r ? (const char *)r : "?");
			rc = ZE_MALFORMED;
		}
	}
	sqlite3_finalize(s);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return db_err(st, "schema version");
	int ver = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (ver != 0 && ver != SCHEMA_VERSION) {
		log_err("devchain", "store: schema version %d, expected %d", ver, SCHEMA_VERSION);
		return ZE_MALFORMED;
	}
	return 0;
}

int dev_store_volatile(struct dev_store *st)
{
	return exec(st, "PRAGMA synchronous=OFF;");
}

int dev_store_open(const char *path, struct dev_store **out)
{
	struct dev_store *st = calloc(1, sizeof(*st));
	int rc;
	if (!st)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		rc = st->db ? db_err(st, path) : -ENOMEM;
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if ((rc = check_store(st)))
		goto fail;
	/* WAL with synchronous=NORMAL survives a killed process (not a power
	 * cut of the last commits), which is what a dev chain needs. */
	if ((rc = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")))
		goto fail;
	if ((rc = exec(st, "BEGIN;")) || (rc = exec(st, schema)) ||
	    (rc = exec(st, "PRAGMA user_version=1; COMMIT;"))) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT, &st->q[i],
				       NULL) != SQLITE_OK) {
			/* A file with our tables but other columns lands here. */
			rc = db_err(st, "prepare");
			if (rc == -EIO)
				rc = ZE_MALFORMED;
			goto fail;
		}
	}
	*out = st;
	return 0;
fail:
	dev_store_close(st);
	return rc;
}

void dev_store_close(struct dev_store *st)
{
	if (!st)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	free(st);
}

static sqlite3_stmt *stmt(struct dev_store *st, int q)
{
	sqlite3_reset(st->q[q]);
	sqlite3_clear_bindings(st->q[q]);
	return st->q[q];
}

static int put_col(sqlite3_stmt *s, int col, struct zbuf *b, size_t max)
{
	const void *p = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);
	if (!b)
		return 0;
	if (n < 0 || (size_t)n > max)
		return ZE_MALFORMED;
	return zbuf_put(b, p, (size_t)n);
}

int dev_store_head(struct dev_store *st, uint32_t *num)
{
	sqlite3_stmt *s = stmt(st, Q_HEAD);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return db_err(st, "head");
	if (sqlite3_column_type(s, 0) == SQLITE_NULL)
		rc = ZE_ABSENT;
	else {
		*num = (uint32_t)sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_reset(s);
	return rc;
}

int dev_store_get(struct dev_store *st, uint32_t num, const uint8_t *key, size_t klen,
		  struct zbuf *val)
{
	sqlite3_stmt *s = stmt(st, Q_GET);
	sqlite3_bind_blob(s, 1, key, (int)klen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, num);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rc = ZE_ABSENT;
	else if (rc != SQLITE_ROW)
		rc = db_err(st, "get");
	else if (sqlite3_column_type(s, 0) == SQLITE_NULL)
		rc = ZE_ABSENT;
	else
		rc = put_col(s, 0, val, DEV_VALUE_MAX);
	sqlite3_reset(s);
	return rc;
}

/* The smallest blob above every key starting with prefix: prefix with its
 * last non-0xff byte incremented and the rest cut. 0 when there is none. */
static size_t prefix_end(const uint8_t *prefix, size_t plen, uint8_t *end)
{
	while (plen && prefix[plen - 1] == 0xff)
		plen--;
	if (!plen)
		return 0;
	memcpy(end, prefix, plen);
	end[plen - 1]++;
	return plen;
}

int dev_store_scan(struct dev_store *st, uint32_t num, const uint8_t *prefix, size_t plen,
		   const uint8_t *after, size_t alen, size_t limit, dev_store_fn fn, void *arg)
{
	uint8_t end[DEV_KEY_MAX];
	static const uint8_t none;
	if (plen > DEV_KEY_MAX)
		return ZE_TOOBIG;
	size_t elen = prefix_end(prefix, plen, end);
	sqlite3_stmt *s = stmt(st, Q_SCAN);
	sqlite3_bind_blob(s, 1, plen ? prefix : &none, (int)plen, SQLITE_STATIC);
	if (elen)
		sqlite3_bind_blob(s, 2, end, (int)elen, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	/* Every blob sorts after the empty one except the empty key itself,
	 * which no storage item uses. */
	sqlite3_bind_blob(s, 3, after ? after : &none, after ? (int)alen : 0, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, num);
	sqlite3_bind_int64(s, 5, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *k = sqlite3_column_blob(s, 0);
		int kn = sqlite3_column_bytes(s, 0);
		const uint8_t *v = sqlite3_column_blob(s, 1);
		int vn = sqlite3_column_bytes(s, 1);
		static const uint8_t empty;
		int r = fn(arg, k ? k : &empty, (size_t)kn, v ? v : &empty, (size_t)vn);
		if (r) {
			sqlite3_reset(s);
			return r < 0 ? r : 0;
		}
	}
	if (rc != SQLITE_DONE)
		rc = db_err(st, "scan");
	else
		rc = 0;
	sqlite3_reset(s);
	return rc;
}

int dev_store_block(struct dev_store *st, uint32_t num, uint8_t hash[32], struct zbuf *header,
		    struct zbuf *body)
{
	sqlite3_stmt *s = stmt(st, Q_BLOCK);
	sqlite3_bind_int64(s, 1, num);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rc = ZE_ABSENT;
	} else if (rc != SQLITE_ROW) {
		rc = db_err(st, "block");
	} else if (sqlite3_column_bytes(s, 0) != 32) {
		rc = ZE_MALFORMED;
	} else {
		if (hash)
			memcpy(hash, sqlite3_column_blob(s, 0), 32);
		rc = put_col(s, 1, header, 1u << 16);
		if (!rc)
			rc = put_col(s, 2, body, 64u << 20);
	}
	sqlite3_reset(s);
	return rc;
}

int dev_store_block_num(struct dev_store *st, const uint8_t hash[32], uint32_t *num)
{
	sqlite3_stmt *s = stmt(st, Q_BLOCK_NUM);
	sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rc = ZE_ABSENT;
	else if (rc != SQLITE_ROW)
		rc = db_err(st, "block number");
	else {
		*num = (uint32_t)sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_reset(s);
	return rc;
}

int dev_store_meta_get(struct dev_store *st, const char *name, struct zbuf *val)
{
	sqlite3_stmt *s = stmt(st, Q_META_GET);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rc = ZE_ABSENT;
	else if (rc != SQLITE_ROW)
		rc = db_err(st, "meta");
	else
		rc = put_col(s, 0, val, 1u << 20);
	sqlite3_reset(s);
	return rc;
}

static int step_done(struct dev_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st, what);
	sqlite3_reset(s);
	return rc;
}

int dev_store_commit(struct dev_store *st, uint32_t num, const uint8_t hash[32],
		     const uint8_t *header, size_t hlen, const uint8_t *body, size_t blen,
		     const struct dev_changes *changes, const struct dev_store_meta *metas,
		     size_t nmetas)
{
	static const uint8_t empty;
	int rc = exec(st, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	for (size_t i = 0; i < changes->n && !rc; i++) {
		const struct dev_change *c = &changes->v[i];
		sqlite3_stmt *s = stmt(st, Q_PUT);
		sqlite3_bind_blob(s, 1, c->key, (int)c->klen, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, num);
		if (c->deleted)
			sqlite3_bind_null(s, 3);
		else
			sqlite3_bind_blob(s, 3, c->vlen ? c->val : &empty, (int)c->vlen,
					  SQLITE_STATIC);
		rc = step_done(st, s, "put");
	}
	if (!rc) {
		sqlite3_stmt *s = stmt(st, Q_BLOCK_PUT);
		sqlite3_bind_int64(s, 1, num);
		sqlite3_bind_blob(s, 2, hash, 32, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, header, (int)hlen, SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, blen ? body : &empty, (int)blen, SQLITE_STATIC);
		rc = step_done(st, s, "block put");
	}
	for (size_t i = 0; i < nmetas && !rc; i++) {
		sqlite3_stmt *s = stmt(st, Q_META_PUT);
		sqlite3_bind_text(s, 1, metas[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, metas[i].len ? metas[i].val : &empty, (int)metas[i].len,
				  SQLITE_STATIC);
		rc = step_done(st, s, "meta put");
	}
	if (!rc)
		rc = exec(st, "COMMIT");
	if (rc)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
