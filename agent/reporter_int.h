/* Internals shared by the reporter's files; not for other modules. */
#ifndef ZOS_AGENT_REPORTER_INT_H
#define ZOS_AGENT_REPORTER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/reporter.h"

/* Per-contract cursor fields: timestamp and counter of the last report the
 * chain accepted, and of the report in flight. */
#define REP_F_T_ACK "ta"
#define REP_F_N_ACK "na"
#define REP_F_T_PEND "tp"
#define REP_F_N_PEND "np"

/* Cycle-level cursors. */
#define REP_C_CYCLE "rep:cycle"     /* timestamp of the cycle in flight; 0 none */
#define REP_C_VARIANT "rep:variant" /* its enum rep_variant */
#define REP_C_PARTS "rep:parts"     /* its number of parts */
#define REP_C_LAST "rep:last"       /* timestamp of the last cycle queued */
#define REP_C_PRUNED "rep:pruned"   /* day (unix s / 86400) of the last prune */
/* "rep:hi.<i>": the highest contract id in part i (parts are contiguous
 * runs of ascending contract ids). */
#define REP_C_HI_FMT "rep:hi.%zu"

/* Bound on contracts per cycle, so a runaway store cannot exhaust memory. */
#define REP_MAX_CONTRACTS 1000000u
/* Bound on parts per cycle (each is 1 or 2 outbox items). */
#define REP_MAX_PARTS 65536u

/* A deployed or paused contract with its reserved capacity and progress. */
struct rep_row {
	uint64_t cid;
	int64_t created;       /* unix seconds */
	uint64_t cru, mru, sru, hru;
	int has_ack;
	int64_t t_ack, n_ack;
};

/* A contract of the cycle in flight. */
struct rep_member {
	uint64_t cid;
	int64_t n_pend;
};

/* Contracts to report, ascending ids; *rows freed by the caller. */
int rep_db_rows(struct store *s, struct rep_row **rows, size_t *n);
/* Contracts whose pending timestamp is ts, ascending ids; caller frees. */
int rep_db_members(struct store *s, int64_t ts, struct rep_member **m, size_t *n);
/* Sets field (REP_F_*) of each contract to its value, in the caller's
 * transaction (one statement prepared once). */
int rep_db_put(struct store *s, const char *field, const uint64_t *cids, const int64_t *vals,
	       size_t n);
/* Drops the per-contract cursors of contracts no longer deployed or paused. */
int rep_db_prune(struct store *s);

#endif
