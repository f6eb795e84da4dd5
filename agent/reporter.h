/*
 * The capacity reporter: one consumption record per deployed contract every
 * report interval, sent to the chain through the durable outbox.
 *
 * A record holds what the contract's ok and paused workloads reserve (cru in
 * cpus, mru/sru/hru in bytes) and nru, the network bytes measured since the
 * contract's last report the chain accepted. Its window starts at that
 * report (or at the deployment's creation) and ends at the cycle's
 * timestamp, capped at max_window_s.
 *
 * Records are cut into as few calls as the runtime's limits allow and each
 * call becomes one outbox item, all queued in one store transaction with the
 * cycle's bookkeeping, before anything is sent. The call is chosen from the
 * runtime's metadata: add_reports, or tfchain's report_contract_resources +
 * add_nru_reports.
 *
 * Progress is per contract and moves only when the item that carried its
 * record ended in success: a failed item leaves the contract's window and
 * counter where they were, so the next cycle reports the whole span as one
 * longer window. While any item of a cycle is still pending, no new cycle
 * starts, so a contract never has two records in flight; an item resent
 * after a crash is the same bytes under the same key, which the chain
 * ignores when it has seen the timestamp. docs/reports.md has the details.
 *
 * Durable state lives in the store's cursors table ("rep:*" and
 * "rep.[tn][ab].<contract>" names); a struct rep holds only the schedule.
 * Not thread-safe: call rep_cycle from one thread (the daemon tick).
 */
#ifndef ZOS_AGENT_REPORTER_H
#define ZOS_AGENT_REPORTER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/store.h"
#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "chainclient/meta.h"
#include "common/buf.h"

#define REP_DEFAULT_INTERVAL_S 3600u
#define REP_DEFAULT_JITTER_S 300u
#define REP_JITTER_NONE UINT_MAX
/* Longest window one record claims. Neither runtime enforces one in its
 * code (add_reports bills from its own last_updated); the cap keeps a
 * tfchain NruConsumption window, which is priced per second, sane. */
#define REP_DEFAULT_MAX_WINDOW_S (24u * 3600u)
/* Seconds a contract must have been accepted before a cycle reports it
 * (reporter.c, queue_cycle: the chain's billing starts a block or two later). */
#define REP_MIN_AGE_S 3
/* Largest extrinsic when the metadata has no System.BlockLength: the
 * devchain's own bound (DEV_XT_MAX, length prefix included). */
#define REP_DEFAULT_MAX_XT_BYTES (512u << 10)
/* Records per add_reports call: the devchain pallet refuses more
 * (TooManyReports) and its metadata does not expose the bound. */
#define REP_ADD_REPORTS_MAX 1024u
/* What a signed extrinsic adds around its call, at most: length prefix,
 * version, address, signature, mortal era, nonce and tip compacts. */
#define REP_XT_OVERHEAD (5 + 1 + 33 + 65 + 2 + 9 + 17)
/* Outbox kind of report items (the kind of the report calls in the engine's
 * call table, agent/engine_calls.c). */
#define REP_OUTBOX_KIND "reports"

enum rep_variant {
	REP_ADD_REPORTS = 0,    /* add_reports(Vec<Consumption>) */
	REP_RESOURCES_NRU = 1,  /* report_contract_resources + add_nru_reports */
};

/* Cumulative network bytes of a contract's workloads (a counter that may
 * restart from zero when the workloads are recreated). */
typedef int (*rep_usage_fn)(void *ctx, uint64_t contract_id, uint64_t *bytes);

/* Optional hooks around a cycle's usage calls: begin before the first
 * (a source may read what it needs for every contract at once; an error
 * leaves it answering one contract at a time), end after the last. */
typedef int (*rep_usage_begin_fn)(void *ctx);
typedef void (*rep_usage_end_fn)(void *ctx);

/* Queues one outbox item; called inside the reporter's store transaction.
 * *added = 0 when the key was queued before. */
typedef int (*rep_enqueue_fn)(void *ctx, uint64_t contract_id, const char *key,
			      const char *payload, int *added);

struct rep_config {
	unsigned interval_s;   /* 0 = REP_DEFAULT_INTERVAL_S */
	unsigned jitter_s;     /* each cycle starts up to this much late, so that nodes
				* restarted together spread out; 0 = REP_DEFAULT_JITTER_S
				* (at most a tenth of the interval), REP_JITTER_NONE = none */
	unsigned max_window_s; /* 0 = REP_DEFAULT_MAX_WINDOW_S */
	size_t max_xt_bytes;   /* 0 = System.BlockLength normal, else the default */
	size_t max_records;    /* per call; 0 = REP_ADD_REPORTS_MAX for add_reports,
				* no count bound for tfchain's calls */
	unsigned retry_s;      /* after a cycle that could not run; 0 = 60, or
				* interval_s when shorter */
};

struct eng_chain; /* agent/engine.h */

struct rep_deps {
	struct store *store;          /* borrowed */
	/* The runtime: the engine's chain interface (its with_meta gives the
	 * current snapshot at each cycle) or, when chain is NULL, a fixed meta
	 * (tests, bench). Both borrowed. */
	const struct eng_chain *chain;
	const struct meta *meta;
	rep_usage_fn usage;           /* NULL: nru is always 0 */
	rep_usage_begin_fn usage_begin; /* NULL: none */
	rep_usage_end_fn usage_end;     /* NULL: none */
	void *usage_ctx;
	/* NULL: store_outbox_add(store, REP_OUTBOX_KIND, ...), which does not
	 * wake a dispatcher; rep_enqueue_engine wakes the engine's. */
	rep_enqueue_fn enqueue;
	void *enqueue_ctx;
};

/* An enqueue function over eng_outbox_enqueue; ctx is the struct eng. */
int rep_enqueue_engine(void *eng, uint64_t contract_id, const char *key, const char *payload,
		       int *added);

/* What the last rep_cycle call did. */
struct rep_stats {
	int queued;            /* 1: a new cycle was queued */
	int waiting;           /* 1: an earlier cycle still has items in flight */
	int64_t timestamp;     /* the queued cycle's timestamp (s) */
	size_t records;        /* records queued */
	size_t calls;          /* outbox items (extrinsics) queued */
	size_t resolved_ok;    /* records of the settled cycle the chain accepted */
	size_t resolved_failed;/* records of it that did not apply (reported again) */
	size_t unmeasured;     /* contracts whose usage could not be read */
};

struct rep;

/* cfg may be NULL (defaults); deps is copied, what it points to borrowed.
 * -EINVAL without a store or without a runtime source. *out freed with
 * rep_free, before the store is closed: between cycles the reporter keeps
 * its arrays (about 250 bytes per contract) and prepared statements on the
 * store's connection, so that a steady cycle allocates and prepares
 * nothing. */
int rep_new(const struct rep_config *cfg, const struct rep_deps *deps, struct rep **out);
void rep_free(struct rep *r); /* NULL accepted */

/*
 * The daemon tick. First settles the previous cycle when all its items have
 * an outcome (moving each contract's progress on success); then, when no
 * item is in flight and the cycle is due at now_ms (unix ms), queues a new
 * one. 0 when it did its part (including "nothing due"), else an error and
 * the cycle is retried after retry_s (ZE_UNKNOWN: runtime unavailable).
 */
int rep_cycle(struct rep *r, int64_t now_ms);
/* When the next cycle is due (unix ms); the daemon may sleep until then,
 * but should also tick while items are in flight to settle them. */
int64_t rep_next_ms(const struct rep *r);
void rep_stats(const struct rep *r, struct rep_stats *out);

/* --- encoding (reporter_enc.c), pure functions --- */

/* Limits of one report call in a runtime. */
struct rep_limits {
	enum rep_variant variant;
	size_t max_xt_bytes;  /* one extrinsic, length prefix included */
	size_t record_bytes;  /* SCALE bytes of one record in the largest call */
	size_t max_records;   /* records per call */
};

/* The variant the metadata offers and its limits; cfg may be NULL.
 * ZE_UNSUPPORTED when neither variant exists or its types are not the
 * fixed-size records this code expects, ZE_TOOBIG when not even one record
 * fits the extrinsic size. */
int rep_limits(const struct meta *m, const struct rep_config *cfg, struct rep_limits *out);

/* One encoded call: the outbox payload {"pallet","call","args"} and the
 * call bytes it stands for (pallet index ++ call index ++ args). */
struct rep_call {
	char name[32];       /* "add_reports", ... */
	char *payload;       /* heap JSON */
	struct zbuf bytes;   /* heap SCALE call */
};
void rep_call_clear(struct rep_call *c);

/*
 * Encodes n records (n >= 1) as the report calls the metadata offers: one
 * add_reports, or report_contract_resources then add_nru_reports. calls[]
 * filled up to *ncalls (1 or 2); release each with rep_call_clear. Checks
 * the encoded call against the metadata by encoding it from the payload;
 * ZE_TOOBIG when a call would exceed lim's extrinsic size or record count.
 */
int rep_encode_reports(const struct meta *m, const struct rep_limits *lim,
		       const struct grid_report *r, size_t n, struct rep_call calls[2],
		       size_t *ncalls);

#endif
