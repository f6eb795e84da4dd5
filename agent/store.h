/*
 * The agent's state store: SQLite in WAL mode, one file under the state
 * directory (STATE_DIR/agent.db).
 *
 * Tables: deployments (one per contract, with the plaintext document and
 * the lifecycle state the engine drives it to), workloads (their actual
 * state and result), history (every workload state change), outbox (chain
 * calls to send), cursors (named integers such as the last followed block)
 * and quarantine (records that failed to load).
 *
 * Durability: every call is its own transaction unless wrapped in
 * store_begin()/store_commit(), and returns only once what it wrote is on
 * disk. SQLite commits in WAL mode with synchronous=NORMAL (a commit is in
 * the OS cache when SQLite returns, which survives kill -9), and then the
 * store's group commit makes it durable against a power loss: the caller
 * waits for one fdatasync of the WAL that started after its commit.
 * Concurrent durable commits share that sync (one leader syncs, the others
 * wait for it), so N deploys accepted at once cost about one sync, not N.
 * Durable commits are promises made to others: an "accepted" reply must not
 * be sent before it returns. A chain call may leave before its outbox row is
 * durable: a row lost to a power cut goes with the state change that queued
 * it, which is made again, and the start asks the chain before sending any
 * row that was pending (docs/deploy-engine.md, "Crash points").
 * A transaction that promises nothing (store_begin_lazy()) does not wait:
 * it is made durable by the next durable commit's sync (the WAL is written
 * and synced in order), e.g. the outbox's "sending" mark that precedes
 * every chain call (a start asks the chain before resending any row that
 * was pending, so that mark need not survive a power cut).
 * STORE_OPEN_FAST drops the syncs (tests, benchmarks).
 *
 * The store holds its file exclusively from its first transaction until
 * store_close(): no other process can read it meanwhile. STORE_OPEN_SHARED
 * leaves it readable by other connections at the cost of SQLite's file
 * locks and shared WAL index on every transaction; the agent never uses it,
 * a program that watches a store another process writes (a test) does, in
 * both processes.
 *
 * Thread safety: one connection guarded by a recursive mutex; any thread
 * may call, and store_begin() holds the store until store_commit() or
 * store_rollback() on the same thread.
 *
 * Corrupt records: a deployment or workload row that fails to decode is
 * moved (with its workloads) into quarantine, logged, and reported as
 * ZE_MALFORMED to the caller that met it; it never stops start-up.
 */
#ifndef ZOS_AGENT_STORE_H
#define ZOS_AGENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "provisioners/prov.h"

#define STORE_SCHEMA_VERSION 3
#define STORE_OPEN_FAST 1   /* synchronous=NORMAL */
#define STORE_OPEN_SHARED 2 /* other connections may read and write meanwhile */

/* What the engine drives a deployment to. */
enum store_dep_state {
	STORE_DEP_DEPLOYING = 0, /* accepted: install its workloads */
	STORE_DEP_DEPLOYED,      /* everything runs; set_contract_deployed queued */
	STORE_DEP_PAUSED,        /* grace period: workloads paused */
	STORE_DEP_FAILED,        /* rejected: roll back, reject_contract queued */
	STORE_DEP_DELETED,       /* contract gone: remove everything */
	STORE_DEP__COUNT,
};

/* What a workload is (the document in docs/deploying.md). */
enum store_wl_state {
	STORE_WL_INIT = 0,
	STORE_WL_OK,
	STORE_WL_ERROR,
	STORE_WL_PAUSED,
	STORE_WL_DELETED,
	STORE_WL__COUNT,
};

const char *store_dep_state_name(enum store_dep_state s);
const char *store_wl_state_name(enum store_wl_state s);
int store_dep_state_parse(const char *s, enum store_dep_state *out);
int store_wl_state_parse(const char *s, enum store_wl_state *out);

#define STORE_REASON_MAX 256

struct store_dep {
	uint64_t contract_id;
	uint32_t twin_id;
	enum store_dep_state state;
	uint8_t hash[32];
	char *doc;                 /* heap, plaintext document; NULL from lists */
	struct prov_capacity cap;  /* reserved by the whole deployment */
	int64_t created, updated;  /* unix seconds */
	char reason[STORE_REASON_MAX];
};

struct store_wl {
	char name[PROV_NAME_MAX + 1];
	char type[33];
	enum store_wl_state state;
	int ord;                   /* install order, 0 first */
	char *spec;                /* heap: the workload's data object as JSON */
	char *result;              /* heap: provision/inspect result JSON, or NULL */
	struct prov_capacity cap;
	int64_t updated;
};

struct store;

/* Opens (creating dir/agent.db) and migrates to STORE_SCHEMA_VERSION.
 * ZE_UNSUPPORTED for a database written by a newer schema. */
int store_open(const char *dir, int flags, struct store **out);
void store_close(struct store *s); /* NULL accepted */
int store_schema_version(struct store *s, int *version);

int store_begin(struct store *s);
/*
 * Group commit's sync, replaceable for tests: called with the WAL's
 * descriptor instead of fdatasync(fd); 0 or a negative errno. The store
 * keeps ud. NULL restores fdatasync. Set it before any other thread uses s.
 */
typedef int (*store_sync_fn)(void *ud, int fd);
void store_set_sync_fn(struct store *s, store_sync_fn fn, void *ud);
/* Syncs done by group commit since open (each covers every commit before it). */
uint64_t store_sync_count(struct store *s);
/* Write transactions committed since open: each top-level commit and each
 * write outside a transaction, lazy or durable (tests and benchmarks count
 * a deploy's writes with it). */
uint64_t store_write_count(struct store *s);
/* The WAL's writes since open (tests and benchmarks): the WAL's appends
 * reach the file once per commit (store_vfs.c). */
struct store_wal_stats {
	uint64_t writes;      /* writes SQLite made */
	uint64_t file_writes; /* writes that reached the file for them */
	uint64_t in_place;    /* of SQLite's, those below the end of the log,
			       * written at once */
};
/* ZE_ABSENT when the store has no WAL. */
int store_wal_stats(struct store *s, struct store_wal_stats *out);
/*
 * A transaction that promises nothing to anyone else (a workload's state as
 * found on the host, a deployment the chain was not told about yet, an
 * outbox row's known outcome): it commits with synchronous=NORMAL, so it
 * survives kill -9 but a power loss may drop it until the next durable
 * commit, whose sync covers it (the WAL is written and synced in order).
 * What it records must be recomputable after such a loss (restore inspects
 * the host, a resend asks the chain first). store_begin() nested inside joins
 * it; everything outside one runs durable.
 */
int store_begin_lazy(struct store *s);
int store_commit(struct store *s);
/*
 * store_commit() that does not wait for the sync: the transaction is
 * committed (visible to every later reader) when it returns 0, and durable
 * once store_wait_durable(s, *ticket) returned 0. For a caller that holds
 * a lock of its own around the transaction: it releases that lock before
 * waiting, so that concurrent commits can share one sync. Nothing may be
 * promised to anyone before the wait returned 0. *ticket is 0 when there
 * is nothing to wait for (nested, lazy, or a store opened STORE_OPEN_FAST).
 */
int store_commit_async(struct store *s, uint64_t *ticket);
int store_wait_durable(struct store *s, uint64_t ticket);
void store_rollback(struct store *s);

/* Inserts a deployment with its workloads (ord = array index) in one
 * transaction, each workload in state init with a history entry.
 * ZE_STATE if the contract is already there. */
int store_dep_insert(struct store *s, const struct store_dep *d, const struct store_wl *w,
		     size_t n);
/* Loads one deployment and its workloads (ordered by ord). ZE_ABSENT when
 * unknown, ZE_MALFORMED when the record was corrupt (now quarantined).
 * Release with store_dep_clear() and store_wls_free(). w may be NULL. */
int store_dep_get(struct store *s, uint64_t contract_id, struct store_dep *d,
		  struct store_wl **w, size_t *n);
void store_dep_clear(struct store_dep *d);
void store_wls_free(struct store_wl *w, size_t n);
/* 0 when the store cannot hold contract_id: it is above every id it held
 * at open or inserted since (ids only grow), so asking costs no read; else
 * 1 (store_dep_state then says). */
int store_dep_may_exist(struct store *s, uint64_t contract_id);
/* A deployment's state and reserved capacity only (no document, no
 * workloads), for a state change. ZE_ABSENT when unknown, ZE_MALFORMED
 * (the row quarantined) when its state or capacity does not parse, as
 * store_dep_get. */
int store_dep_state(struct store *s, uint64_t contract_id, enum store_dep_state *state,
		    struct prov_capacity *cap);

int store_dep_set_state(struct store *s, uint64_t contract_id, enum store_dep_state st,
			const char *reason);
/* Sets a workload's state (and result unless result is NULL) and appends
 * (state, message) to its history. ZE_ABSENT for an unknown workload. */
int store_wl_set(struct store *s, uint64_t contract_id, const char *name,
		 enum store_wl_state st, const char *result, const char *message);

/* Contract ids of all deployments, ascending; *ids freed by the caller.
 * Rows that do not load are quarantined and skipped. */
int store_dep_ids(struct store *s, uint64_t **ids, size_t *n);

/* Calls cb for each deployment of twin (doc is NULL), ascending ids; a
 * non-zero return from cb stops and is returned. */
typedef int (*store_dep_cb)(void *ctx, const struct store_dep *d);
int store_dep_list(struct store *s, uint32_t twin_id, store_dep_cb cb, void *ctx);

/* Workload history of one contract in order. */
typedef int (*store_hist_cb)(void *ctx, const char *name, int64_t ts, const char *state,
			     const char *message);
int store_history(struct store *s, uint64_t contract_id, store_hist_cb cb, void *ctx);

struct store_stats {
	struct prov_capacity reserved; /* deployments not failed or deleted */
	struct prov_capacity used;     /* workloads ok or paused */
	uint64_t deployments;          /* of the twin given, not failed or deleted */
	uint64_t workloads;            /* of those, not deleted */
};
/* Counts for twin_id (0 = every twin); capacities are always node-wide. */
int store_stats(struct store *s, uint32_t twin_id, struct store_stats *st);

/* What the metrics endpoint shows (store_metrics.c). */
struct store_metrics {
	uint64_t deployments[STORE_DEP__COUNT]; /* by enum store_dep_state */
	uint64_t workloads[STORE_WL__COUNT];    /* by enum store_wl_state */
	uint64_t outbox_pending;
	int64_t outbox_oldest; /* unix seconds the oldest pending item was queued; 0 = none */
};
int store_metrics(struct store *s, struct store_metrics *out);

/* Forgets finished deployments: failed or deleted, every workload deleted,
 * last changed before `before` (unix seconds); with their workloads and
 * history. *n (may be NULL) gets how many. Their outbox keys stay spent
 * for STORE_OUTBOX_RETAIN_S more: done outbox rows older than that, and
 * beyond the newest STORE_OUTBOX_DONE_MAX, are deleted here too
 * (store_outbox_prune). */
int store_dep_prune(struct store *s, int64_t before, uint64_t *n);

/* Rows in quarantine (for reports and tests). */
int store_quarantine_count(struct store *s, uint64_t *n);

/* --- chain-call outbox --- */

#define STORE_KEY_MAX 96

struct store_outbox {
	int64_t id;
	char kind[16];          /* "deployed", "rejected", "reports", ... */
	uint64_t contract_id;
	char key[STORE_KEY_MAX]; /* idempotency key, unique for ever */
	char *payload;          /* heap JSON */
	int64_t created;        /* unix seconds */
	int attempts;           /* sends started */
	int64_t next_try;       /* unix milliseconds */
	char last_error[STORE_REASON_MAX];
};

/* Queues a call unless key was ever queued: *added = 1 if inserted, 0 if
 * the key is pending or already done. Runs inside the caller's transaction
 * when there is one, so a state change and its call commit together. */
int store_outbox_add(struct store *s, const char *kind, uint64_t contract_id,
		     const char *key, const char *payload, int *added);
/* store_outbox_add() of a row already counted as sending (attempts 1), for
 * a caller that hands it to its send before anything else could: the
 * separate store_outbox_sending() write is saved. Safe because the start
 * treats a pending row the same whatever its attempts (it asks the chain
 * first), and the mark commits with the row (docs/deploy-engine.md, "Crash
 * points"). */
int store_outbox_add_sending(struct store *s, const char *kind, uint64_t contract_id,
			     const char *key, const char *payload, int *added);
/* Pending items due at now_ms (next_try <= now_ms), oldest first, at most
 * max. *items freed with store_outbox_free(). */
int store_outbox_due(struct store *s, int64_t now_ms, size_t max, struct store_outbox **items,
		     size_t *n);
void store_outbox_free(struct store_outbox *items, size_t n);
/* Earliest next_try among pending items; ZE_ABSENT when none is pending. */
int store_outbox_next(struct store *s, int64_t *next_ms);
/* A send starts: attempts++ in a lazy transaction (it survives kill -9 at
 * once, not necessarily a power cut), before the call leaves. ZE_ABSENT when
 * the item is no longer pending. */
int store_outbox_sending(struct store *s, int64_t id);
/* Pending items with id > after_id, by id, at most max (the engine's
 * dispatcher reads only rows queued since its last read). *items freed with
 * store_outbox_free(). */
int store_outbox_after(struct store *s, int64_t after_id, size_t max,
		       struct store_outbox **items, size_t *n);
/* store_outbox_sending for n items in one lazy transaction; marked[i] =
 * 0 when item i is no longer pending (done or gone): do not send it. */
int store_outbox_sending_many(struct store *s, const int64_t *ids, size_t n, int *marked);
/* The id of the newest pending item, 0 when none. */
int store_outbox_last_pending(struct store *s, int64_t *id);
/* A send failed with its outcome unknown: when to try again, and why. */
int store_outbox_retry(struct store *s, int64_t id, int64_t next_ms, const char *err);
/* The outcome is known: the item leaves the outbox, its key stays spent. */
int store_outbox_done(struct store *s, int64_t id, const char *outcome);
int store_outbox_pending(struct store *s, uint64_t *n);
/* Done rows are kept so their keys stay spent (a replayed event cannot
 * submit the same call again), but not forever: this deletes done rows
 * created before `before` (unix seconds) and done rows beyond the newest
 * `keep`. Pending rows are never deleted. *n (may be NULL) gets how many. */
int store_outbox_prune(struct store *s, int64_t before, uint64_t keep, uint64_t *n);
#define STORE_OUTBOX_RETAIN_S (30 * 86400)
#define STORE_OUTBOX_DONE_MAX 100000
/* 1 in *done when key was sent and its outcome recorded, 0 when pending;
 * ZE_ABSENT when never queued. outcome (may be NULL) gets the recorded text. */
int store_outbox_state(struct store *s, const char *key, int *done, char *outcome,
		       size_t outsz);

/* --- cursors --- */
int store_cursor_get(struct store *s, const char *name, int64_t *value); /* ZE_ABSENT */
int store_cursor_set(struct store *s, const char *name, int64_t value);

#endif
