/* Internals shared by the reporter's files; not for other modules. */
#ifndef ZOS_AGENT_REPORTER_INT_H
#define ZOS_AGENT_REPORTER_INT_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/reporter.h"

/*
 * Per-contract state: two record slots, a and b, each the timestamp of the
 * cycle that queued the contract's record and the usage counter it was
 * measured at, all contracts' in one blob (REP_B_SLOTS in the store's
 * blobs table, reporter_db.c). A record is accepted unless its cycle left
 * a failure marker covering the contract, so settling a cycle writes per
 * failed part, not per contract. The slot holding the newest accepted
 * record is the contract's progress; the next record goes into the other
 * slot.
 */
#define REP_B_SLOTS "rep:slots"

/* Cycle-level cursors. */
#define REP_C_CYCLE "rep:cycle"     /* timestamp of the cycle in flight; 0 none */
#define REP_C_VARIANT "rep:variant" /* its enum rep_variant */
#define REP_C_PARTS "rep:parts"     /* its number of parts */
#define REP_C_LAST "rep:last"       /* timestamp of the last cycle queued */
#define REP_C_PRUNED "rep:pruned"   /* day (unix s / 86400) of the last prune */
/* Part i of the cycle in flight: its highest contract id (parts are runs
 * of ascending ids) and its number of records. */
#define REP_C_HI_FMT "rep:hi.%zu"
#define REP_C_CNT_FMT "rep:cnt.%zu"
/* A failed part: "rep:fail.<ts>.<lo>" = hi covers the ids in (lo, hi]. */
#define REP_C_FAIL_FMT "rep:fail.%" PRId64 ".%" PRId64

/* Bound on contracts per cycle, so a runaway store cannot exhaust memory. */
#define REP_MAX_CONTRACTS 1000000u
/* Bound on parts per cycle (each is 1 or 2 outbox items). */
#define REP_MAX_PARTS 65536u
/* Bound on failure markers kept (a node failing every cycle for weeks). */
#define REP_MAX_FAILS 100000u

struct rep_slot {
	int used;
	int64_t t, n;
};

/* A deployed or paused contract with its reserved capacity and slots. */
struct rep_row {
	uint64_t cid;
	int64_t created;       /* unix seconds */
	uint64_t cru, mru, sru, hru;
	struct rep_slot a, b;
	int bad; /* capacity out of range: not reported */
};

/* A failed part of cycle ts: contract ids in (lo, hi]. */
struct rep_fail {
	int64_t ts, lo, hi;
};

/* rep_encode_reports, and with full = 0 the cycle's cheaper form: the
 * payloads only, written as text (the same bytes cJSON prints from
 * grid_report_calls' arguments), the size computed from the record size,
 * and the names and types checked by encoding the first record alone
 * (calls[i].bytes stays empty). */
int rep_encode_calls(const struct meta *m, const struct rep_limits *lim,
		     const struct grid_report *r, size_t n, int full, struct rep_call calls[2],
		     size_t *ncalls);

/* The pieces of that cheaper form, for a cycle that checks once and
 * writes every part's payload into one reused buffer. */
/* Calls per part of lim's variant (1 or 2). */
size_t rep_ncalls(const struct rep_limits *lim);
/* Checks that rec encodes with the runtime's own types as call c of each
 * part, to the record size lim assumes (ZE_UNSUPPORTED otherwise): done
 * once per cycle, since every record has the same fixed-size shape. */
int rep_check_shape(const struct meta *m, const struct rep_limits *lim,
		    const struct grid_report *rec);
/* 0 when a call of n records fits lim, else ZE_TOOBIG. */
int rep_fits(const struct rep_limits *lim, size_t n);
/* Call c's payload text for r[0..n), written into b after resetting it
 * (NUL-terminated; b keeps its memory for the next part). */
int rep_payload(const struct rep_limits *lim, size_t c, const struct grid_report *r, size_t n,
		struct zbuf *b);

struct sqlite3_stmt;

/* The reporter's prepared statements (reporter_db.c). */
enum rep_stmt {
	REP_ST_DEPS,
	REP_ST_WLS,
	REP_ST_BLOB_GET,
	REP_ST_BLOB_PUT,
	REP_ST_LEGACY_DROP,
	REP_ST_FAILS,
	REP_ST__COUNT
};

/*
 * What one cycle leaves to the next, so that a steady cycle allocates
 * nothing and prepares nothing: the contracts' rows, the records, one
 * part's payload text and the progress blob, each kept at its largest size
 * so far (about 250 bytes per contract in all), and the statements,
 * prepared on first use. Owned by a struct rep; rep_ws_free releases it,
 * and must run while the store is open.
 */
struct rep_ws {
	struct store *store; /* borrowed */
	struct sqlite3_stmt *st[REP_ST__COUNT];
	struct rep_row *rows;
	size_t rows_cap;
	struct grid_report *recs;
	size_t recs_cap;
	struct zbuf text;
	struct zbuf blob;
};
void rep_ws_init(struct rep_ws *w, struct store *s);
void rep_ws_free(struct rep_ws *w);

struct rep {
	struct rep_config cfg;
	struct rep_deps deps;
	int64_t next_ms; /* 0 until the schedule was read from the store */
	struct rep_stats stats;
	struct rep_ws ws;
};

/* The outbox key of part i's call c: "report:<ts>:<i>[:res|:nru]". */
int rep_part_key(int64_t ts, size_t i, enum rep_variant v, int c, char *key, size_t sz);
/* The call whose outcome decides a part's progress: the one with nru. */
int rep_progress_call(enum rep_variant v);
/* A cursor's value, dflt when absent; other errors go to *rc. */
int64_t rep_cursor_or(struct store *s, const char *name, int64_t dflt, int *rc);
/* Settles the cycle in flight when all its items have an outcome: 0 when
 * none is open (any more), 1 while items are in flight, or an error. */
int rep_settle(struct rep *r);

/* The live (deployed or paused) contracts with their capacity and slots,
 * ascending ids (rows[i].bad: capacity out of range, not to be reported);
 * *rows freed by the caller. */
int rep_db_rows(struct store *s, struct rep_row **rows, size_t *n);
/* The same into w->rows (valid until w's next use), with w's statements. */
int rep_db_rows_ws(struct rep_ws *w, size_t *n);
/* Every failure marker; *f freed by the caller. w may be NULL (its
 * statement is then prepared for this call). */
int rep_db_fails(struct store *s, struct rep_ws *w, struct rep_fail **f, size_t *n);
/* Replaces every contract's slots with those of rows (ascending ids; a
 * contract not in rows loses its slots), in the caller's transaction. */
int rep_db_put_slots(struct rep_ws *w, const struct rep_row *rows, size_t n);
/* Drops failure markers no slot refers to. */
int rep_db_prune(struct store *s);

#endif
