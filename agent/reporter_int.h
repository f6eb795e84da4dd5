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
 * measured at ("rep.ta.<id>", "rep.na.<id>", "rep.tb.<id>", "rep.nb.<id>").
 * A record is accepted unless its cycle left a failure marker covering the
 * contract, so settling a cycle writes per failed part, not per contract.
 * The slot holding the newest accepted record is the contract's progress;
 * the next record goes into the other slot.
 */
#define REP_F_T_A "ta"
#define REP_F_N_A "na"
#define REP_F_T_B "tb"
#define REP_F_N_B "nb"

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
};

/* A failed part of cycle ts: contract ids in (lo, hi]. */
struct rep_fail {
	int64_t ts, lo, hi;
};

/* Contracts to report, ascending ids; *rows freed by the caller. */
int rep_db_rows(struct store *s, struct rep_row **rows, size_t *n);
/* Every failure marker; *f freed by the caller. */
int rep_db_fails(struct store *s, struct rep_fail **f, size_t *n);
/* Sets field (REP_F_*) of each contract to its value, in the caller's
 * transaction (one statement prepared once). */
int rep_db_put(struct store *s, const char *field, const uint64_t *cids, const int64_t *vals,
	       size_t n);
/* Drops the slots of contracts no longer deployed or paused, and failure
 * markers no slot refers to. */
int rep_db_prune(struct store *s);

#endif
