/*
 * The extrinsic submitter: one per account, the only owner of its nonce.
 *
 * Callers queue calls by pallet and call name with JSON arguments (meta.h's
 * form); a worker thread encodes each call against the runtime current at
 * sending time, signs it with a mortal era, submits it, and follows the
 * finalized chain until it finds the block that includes it. The caller
 * then gets a final outcome, never a mere submission receipt:
 *
 *   CHAIN_OUTCOME_SUCCESS   included; System.ExtrinsicSuccess
 *   CHAIN_OUTCOME_FAILED    included; System.ExtrinsicFailed (error names
 *                           the dispatch error, e.g.
 *                           "SmartContractModule.NodeNotAuthorized")
 *   CHAIN_OUTCOME_REJECTED  the node refused it (error has the RPC message);
 *                           it was never included
 *   CHAIN_OUTCOME_EXPIRED   not included within the give-up window; its era
 *                           has ended, so it can never be included
 *   CHAIN_OUTCOME_INVALID   could not be built (unknown call, bad args)
 *   CHAIN_OUTCOME_UNKNOWN   the submitter stopped, or the node could not be
 *                           reached, before the outcome was known: it may or
 *                           may not be included
 *
 * Nonces are kept locally and advanced per submission, so calls queued
 * back-to-back go into the pool without waiting for blocks. After a
 * rejection for a stale or duplicate nonce (RPC errors 1010/1014), or a
 * submission whose fate is unknown, the nonce is resynced from the chain
 * (system_accountNextIndex, which counts the pool) and the call is re-signed
 * and resent, a bounded number of times.
 *
 * The give-up window: the extrinsic is signed with a mortal era that admits
 * it in at least give_up_blocks blocks after the current one (the era's
 * period is a power of two, at most 65536), and the submitter follows the
 * chain until that era has ended. So EXPIRED is final: the extrinsic can
 * never be included later, and sending the call again cannot double it.
 *
 * Two ways to learn outcomes:
 *
 *   polling (standalone: the CLI, tests) - while a call is in flight the
 *   worker reads the finalized head every poll_ms and each new block's body
 *   and, for the including block, its System.Events;
 *
 *   fed (a daemon that follows the chain anyway) - a follower that reads
 *   every finalized block in order hands each one to chain_submitter_feed
 *   (its number, hash, the hashes of its extrinsics and its decoded
 *   events). The submitter then resolves its extrinsics from the block that
 *   included them (matched by extrinsic hash, outcome from the events of
 *   that extrinsic index) and expires them by block number, and sends no
 *   request of its own to follow the chain. It switches to fed mode on the
 *   first feed and back to polling when neither a feed nor
 *   chain_submitter_feed_alive came for CHAIN_FED_FRESH_MS, so a follower
 *   that stops or stalls costs latency, never an outcome. A feed that skips
 *   blocks (a follower that jumped ahead) makes the submitter read the
 *   skipped blocks itself. Stall detection is the same in both modes: no
 *   new block for stall_ms ends in-flight calls as UNKNOWN. While fed, eras
 *   are born at the last fed block, so a send costs one request (the
 *   submission) instead of a header read and the submission.
 *
 * Batching (opts.batch_ms > 0): calls queued within batch_ms of the first
 * waiting one (at most batch_max, 64 by default, which keeps a batch far
 * below tfchain's block weight and length limits; with batch_idle_ms, only
 * until the callers paused that long: a burst of calls goes as soon as it
 * is over, not a fixed window later) are sent as ONE
 * extrinsic, Utility.batch_all(calls), when the runtime's metadata has it;
 * otherwise, and for a single call, each is sent on its own. Every caller
 * still gets its own outcome: on success each gets SUCCESS with the events
 * of its own item (those before its Utility.ItemCompleted) plus the
 * extrinsic's System events. batch_all is atomic: when the batch fails or
 * is refused, nothing of it happened, and every call of it is sent again on
 * its own, so one bad call fails alone (its caller gets FAILED with its own
 * dispatch error) and does not fail the others. A batch that expires or
 * ends UNKNOWN gives that outcome to each of its calls. Calls tfchain does
 * not charge for (the node's reports and uptime) are never batched: in a
 * batch_all the batch would pay for them.
 *
 * At most CHAIN_XT_WINDOW extrinsics are in flight; calls beyond wait for
 * an outcome, then go together (batched where they may be).
 */
#ifndef ZOS_CHAINCLIENT_SUBMIT_H
#define ZOS_CHAINCLIENT_SUBMIT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "chainclient/client.h"
#include "common/key.h"

enum chain_outcome_status {
	CHAIN_OUTCOME_SUCCESS = 0,
	CHAIN_OUTCOME_FAILED,
	CHAIN_OUTCOME_REJECTED,
	CHAIN_OUTCOME_EXPIRED,
	CHAIN_OUTCOME_INVALID,
	CHAIN_OUTCOME_UNKNOWN,
};

struct chain_outcome {
	enum chain_outcome_status status;
	int err;         /* 0 on success, else a ZE_* / -errno code matching status */
	char error[160]; /* dispatch error name or RPC/local message; "" on success */
	uint8_t xt_hash[32];
	uint8_t block_hash[32];
	uint64_t block_number;
	uint32_t xt_index;
	uint64_t nonce;
	int resends; /* times it was re-signed after a nonce or version refusal */
	/* This extrinsic's events (chain_events' flattened form), or NULL when
	 * not included. Owned by the outcome: see chain_outcome_clear. */
	cJSON *events;
};

/* Frees the events; the struct may be reused. */
void chain_outcome_clear(struct chain_outcome *o);
/* "success", "failed", ... */
const char *chain_outcome_status_name(enum chain_outcome_status s);

struct chain_submit_opts {
	unsigned give_up_blocks; /* 0 = 32 */
	long poll_ms;            /* chain polling interval when not fed; 0 = 1000 */
	int max_resends;         /* re-sign attempts after nonce rejections; 0 = 3 */
	/* 1: resolve on best blocks instead of finalized (polling only: feeds
	 * of finalized blocks are then ignored) */
	int follow_best;
	size_t max_queue; /* queued calls; 0 = 1024 */
	/* Upper bound in ms without progress of the watched chain before
	 * in-flight calls end as UNKNOWN; 0 = 600000. */
	long stall_ms;
	/* Start from this nonce instead of asking the chain (a caller that
	 * manages nonces itself); a wrong one is corrected by the resync. */
	int has_first_nonce;
	uint64_t first_nonce;
	/* Coalescing window in ms (0 = off, every call its own extrinsic);
	 * see "Batching" above. */
	long batch_ms;
	unsigned batch_max; /* calls per batch; 0 = 64, at most 64 */
	/* With batch_ms: also close the window when no call was queued for
	 * this many ms (0 = off: always wait batch_ms, or batch_max calls). */
	long batch_idle_ms;
	/* Called with queued_ud after each call is queued, on the caller's
	 * thread and without the submitter's lock: a follower that feeds the
	 * submitter can wake up and read blocks promptly. May be NULL. */
	void (*queued)(void *ud);
	void *queued_ud;
};

#define CHAIN_BATCH_MAX 64
/* Extrinsics sent and not yet resolved, at most. A node's transaction pool
 * keeps only so many of one account's extrinsics ahead of its nonce
 * (tfchain-dev: 16 ahead, then 1010 "valid in the future", which costs a
 * resend after a backoff); calls due beyond that wait for an outcome and
 * then go together, as one batch where they may be batched. */
#define CHAIN_XT_WINDOW 16
/* A feed (or alive) older than this puts the submitter back to polling. */
#define CHAIN_FED_FRESH_MS 5000

void chain_submit_opts_default(struct chain_submit_opts *o);

/*
 * Called on the submitter's thread with the final outcome. The callback may
 * take o->events (set it to NULL); everything else is freed after it
 * returns. It must not block for long, and must not call
 * chain_submitter_free or chain_submit_wait (the worker would wait on
 * itself); chain_submit_async is allowed.
 */
typedef void (*chain_outcome_cb)(void *ud, struct chain_outcome *o);

struct chain_submitter;

/*
 * Starts a submitter for key's account on client c (borrowed; must outlive
 * the submitter). The key is copied and wiped on free. opts may be NULL.
 */
int chain_submitter_new(struct chain_client *c, const struct zkey *key,
                        const struct chain_submit_opts *opts, struct chain_submitter **out);
/* Stops the worker; calls not yet final get CHAIN_OUTCOME_UNKNOWN (or, if
 * never sent, CHAIN_OUTCOME_REJECTED with err ZE_STATE). */
void chain_submitter_free(struct chain_submitter *s);

/*
 * Queues pallet.call(args). args (copied) is a JSON array of the call's
 * arguments in order, or an object of them by name, which is mapped onto
 * the runtime's argument order when sending (see chain_call_args). cb runs
 * exactly once, later, on the worker thread, unless this returns an error
 * (-EAGAIN when the queue is full, ZE_STATE when stopping).
 */
int chain_submit_async(struct chain_submitter *s, const char *pallet, const char *call,
                       const cJSON *args, chain_outcome_cb cb, void *ud);

/*
 * The same, waiting for the outcome. Returns 0 and fills *o whatever the
 * outcome (check o->status); an error only when the call could not be
 * queued. Clear *o with chain_outcome_clear.
 */
int chain_submit_wait(struct chain_submitter *s, const char *pallet, const char *call,
                      const cJSON *args, struct chain_outcome *o);

/*
 * One finalized block as an external follower hands it over. Nothing is
 * taken: the submitter copies what it keeps (the events of its own
 * extrinsics only) before chain_submitter_feed returns.
 */
struct chain_fed_block {
	uint64_t number;
	uint8_t hash[32];
	/* The hashes (xt_hash) of the block's extrinsics in block order, or
	 * NULL when the body was not read, which the follower may do only when
	 * chain_submitter_wants_bodies returned 0 before it read this block. */
	const uint8_t (*xt_hashes)[32];
	size_t xt_count;
	/* The block's events in chain_events' flattened form; may be NULL
	 * when xt_hashes is. */
	const cJSON *events;
};

/*
 * Non-zero while calls are queued or in flight: the follower must then read
 * block bodies for the submitter. Thread-safe.
 */
int chain_submitter_wants_bodies(struct chain_submitter *s);

/*
 * Feeds the next finalized block; blocks must come in increasing order
 * (numbers already fed are ignored except to match extrinsics). Cheap when
 * none of the block's extrinsics is ours: no allocation, no request.
 * Thread-safe; outcomes are still delivered on the submitter's thread.
 */
void chain_submitter_feed(struct chain_submitter *s, const struct chain_fed_block *b);

/* Says the follower is alive though no new block came (keeps fed mode). */
void chain_submitter_feed_alive(struct chain_submitter *s);

/*
 * How many times the worker thread came back from a wait so far (each is a
 * thread switch): calls queued inside one batch window cost one wakeup for
 * the batch, not one each. Thread-safe.
 */
uint64_t chain_submitter_wakeups(struct chain_submitter *s);

/* The locally held next nonce, or -1 when it must be resynced. */
int64_t chain_submitter_nonce(struct chain_submitter *s);

#endif
