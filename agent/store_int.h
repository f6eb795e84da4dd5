/* Internals shared by the store's files; not for other modules. */
#ifndef ZOS_AGENT_STORE_INT_H
#define ZOS_AGENT_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "agent/store.h"

/* Every statement the store runs, prepared once and reused. */
enum store_stmt {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_DEP_INSERT,
	SQ_DEP_GET,
	SQ_DEP_STATE,
	SQ_DEP_SET_STATE,
	SQ_DEP_IDS,
	SQ_DEP_LIST,
	SQ_DEP_DELETE,
	SQ_DEP_MAX,
	SQ_WL_INSERT,
	SQ_WL_GET,
	SQ_WL_SET,
	SQ_WL_SET_STATE,
	SQ_WL_DELETE,
	SQ_HIST_ADD,
	SQ_HIST_GET,
	SQ_QUAR_DEP,
	SQ_QUAR_WLS,
	SQ_QUAR_COUNT,
	SQ_PRUNE_HIST,
	SQ_PRUNE_WLS,
	SQ_PRUNE_DEPS,
	SQ_STATS_RESERVED,
	SQ_STATS_USED,
	SQ_STATS_DEPS,
	SQ_STATS_WLS,
	SQ_OB_ADD,
	SQ_OB_DUE,
	SQ_OB_AFTER,
	SQ_OB_NEXT,
	SQ_OB_SENDING,
	SQ_OB_RETRY,
	SQ_OB_DONE,
	SQ_OB_PENDING,
	SQ_OB_STATE,
	SQ_CUR_GET,
	SQ_CUR_SET,
	SQ__COUNT,
};

struct store {
	sqlite3 *db;
	pthread_mutex_t mu; /* recursive */
	int depth;          /* nesting of store_begin */
	int failed;         /* an inner transaction rolled back */
	int durable;        /* commits are made durable (not STORE_OPEN_FAST) */
	int lazy;           /* the open transaction promises nothing: no sync */
	sqlite3_stmt *st[SQ__COUNT];

	/* Group commit (store_sync.c): SQLite commits with synchronous=NORMAL,
	 * and a durable commit then waits until one fdatasync of the WAL that
	 * started after it has finished. Commits that arrive while a sync runs
	 * share the next one. */
	char *wal_path;           /* heap: DIR/agent.db-wal */
	int wal_fd;               /* our own descriptor of the WAL, -1 = none */
	int full;                 /* no WAL: every commit runs synchronous=FULL */
	pthread_mutex_t sync_mu;  /* guards the fields below */
	pthread_cond_t sync_cv;
	uint64_t commit_seq;      /* durable commits written (under mu, read atomically) */
	uint64_t synced_seq;      /* of those, durable on disk */
	int syncing;              /* a sync is running */
	uint64_t syncs;           /* syncs done */
	uint64_t writes;          /* write transactions committed (store_write_count) */
	uint64_t dep_max;         /* highest contract id inserted or found (written
				   * under mu, read atomically) */
	store_sync_fn sync_fn;    /* test hook, NULL = fdatasync */
	void *sync_ud;
};

/* The statement, reset and unbound, or NULL (logged) if it does not prepare. */
sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id);
/* Maps an SQLite result code to the project's errors. */
int store_err(struct store *s, int rc, const char *what);
void store_lock(struct store *s);
void store_unlock(struct store *s);
int64_t store_now(void);
/* Ends a write made under store_lock() without store_begin(): unlocks,
 * and when the statement ran on its own (autocommit) in a durable store,
 * returns only once it is on disk. rc is the write's result, returned
 * unless the sync fails. */
int store_unlock_write(struct store *s, int rc);
/* store_unlock_write() that, given ticket, does not wait: *ticket gets the
 * commit's number for store_wait_durable() (0 = nothing to wait for). */
int store_unlock_durable(struct store *s, int rc, uint64_t *ticket);
/* Opens the WAL descriptor and makes the directory entries durable (once, at
 * open); 0 or a negative error. */
int store_sync_open(struct store *s, const char *dir);
void store_sync_close(struct store *s);
/* Waits until every durable commit up to seq is on disk, syncing if no
 * running sync covers it. */
int store_sync_to(struct store *s, uint64_t seq);

/* store_vfs.c: the VFS the store opens its file with (the default one, with
 * the WAL's appends written once per commit). Registered once per process;
 * 0, or -EIO when SQLite has no default VFS. */
#define STORE_VFS_NAME "zos-store"
int store_vfs_register(void);
/* Steps a statement that returns no rows, then resets it. */
int store_step_done(struct store *s, sqlite3_stmt *st, const char *what);
/* One integer from a one-row query (bound with arg when bind); ZE_ABSENT
 * without a row; *isnull (may be NULL) says whether the value was NULL. */
int store_query_int(struct store *s, enum store_stmt id, int bind, int64_t arg, int64_t *out,
		    int *isnull);

#endif
