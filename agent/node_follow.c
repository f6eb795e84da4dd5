/*
 * The contract watcher: follows finalized blocks from a cursor persisted in
 * the store and hands every SmartContractModule event to the engine, which
 * picks those of this node's contracts (grace period started and ended,
 * cancelled, rejected, updated). The cursor moves only past a block whose
 * events were all handed over, so a crash or an RPC failure repeats a
 * block rather than skip it (the engine's transitions are idempotent).
 *
 * Over WebSocket the chain client's finalized-head subscription wakes the
 * follower as soon as a block is final, and the announced header is the
 * head: its hash is computed here (rpc_heads_final) and checked by the
 * chain in the same request that reads the block, so following costs one
 * request per block. Over HTTP it polls the head, with the hash of the
 * block after the cursor in the same request (usually the new head, so no
 * header read). Either way it reads blocks by number from its cursor, so
 * blocks announced while a connection was down, or while an endpoint was
 * replaced by another, are read after it (none skipped), and the cursor
 * never goes back over a block already handed over (none processed twice,
 * short of a crash between two cursor writes).
 *
 * A gap too long to replay (a node that was off for days) is skipped to
 * the head and closed by a full sync, which also runs every
 * node.sync_interval as the backstop for anything missed.
 *
 * It is also the only reader of blocks for the node's extrinsic submitter:
 * each block's events (of the pallets in follow_pallets only) are decoded
 * once and handed to both the engine and the submitter
 * (chain_submitter_feed), which resolves its own extrinsics from the block
 * that included them instead of polling the chain. The block's events and
 * body go in one request (chain_block_reads, a JSON-RPC batch); the body is
 * read only while the submitter has calls queued or in flight, and the follower
 * then polls faster (FOLLOW_BUSY_POLL_MS); a call being queued wakes it from
 * a longer sleep (node_chain.c), so an outcome is known about one block
 * after inclusion. Feeding does not touch the cursor: a block fed twice (a
 * retried block) is harmless, and a submitter that was not fed for a while
 * reads what it missed itself.
 *
 * The engine hears of its progress (eng_follow_head when it knows of a
 * head, eng_follow_done after each block, eng_follow_stall when a block
 * fails or it stops): a deploy command for a contract of a block it is
 * about to process waits for that block and takes what its
 * ContractCreated event accepted, instead of reading the contract.
 */
#include "agent/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/xt.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

#define FOLLOW_POLL_MS 500L
/* Polling over HTTP while the submitter waits for outcomes: about a
 * benchmark chain's block time, a fraction of tfchain's 6 s. */
#define FOLLOW_BUSY_POLL_MS 100L
#define FOLLOW_BACKOFF_MAX_MS 30000L
/* Blocks replayed at most per pass, so stop stays prompt. */
#define FOLLOW_BATCH 64
/* Beyond this many blocks behind, skip to the head and sync instead. */
#define FOLLOW_MAX_GAP 14400
/* The cursor is written at most this often: every write is a durable
 * commit, and replaying a few seconds of blocks after a crash is harmless
 * because the engine's transitions are idempotent. */
#define FOLLOW_PERSIST_MS 5000
/* With a head subscription: the longest wait for an announcement before a
 * pass anyway (a missed or reset subscription costs at most this). */
#define FOLLOW_HEADS_MAX_MS 2000L
#define FOLLOW_HEADS_SLICE_MS 250L
/* An announced head older than this is not trusted to be the latest (a
 * subscription that went quiet on a live connection): the head is asked. */
#define FOLLOW_HEADS_STALE_MS 30000L

/* The events anyone here reads: the engine's contract events, and the
 * outcome events the submitter resolves its extrinsics from (System's, and
 * Utility's for batches). The others are walked over, not decoded; the
 * agent's outcome callbacks read only the status. */
static const char *const follow_pallets[] = {"System", "Utility", "SmartContractModule"};

/* Gives block number (hash, events) to the submitter, with the hashes of
 * its extrinsics when the block's body was read. */
static int follow_feed(struct agent_node *n, uint64_t number, const uint8_t hash[32],
		       const cJSON *events, int body, uint8_t **xts, size_t *lens, size_t cnt)
{
	struct chain_fed_block b = {.number = number, .events = events};
	uint8_t(*hashes)[32] = NULL;
	memcpy(b.hash, hash, 32);
	if (body) {
		if (!(hashes = calloc(cnt ? cnt : 1, sizeof(*hashes))))
			return -ENOMEM;
		for (size_t i = 0; i < cnt; i++)
			xt_hash(xts[i], lens[i], hashes[i]);
		b.xt_hashes = (const uint8_t(*)[32])hashes;
		b.xt_count = cnt;
	}
	chain_submitter_feed(n->submitter, &b);
	free(hashes);
	return 0;
}

/*
 * Reads block number's events (and body, when the submitter wants it) in
 * one request. known is its hash when the caller has it; verify says that
 * hash was computed here from an announced header, so the request also
 * asks the chain's hash of the block to check it.
 */
static int follow_read(struct agent_node *n, struct chain_runtime *rt, uint64_t number,
		       uint8_t hash[32], const uint8_t *known, int verify, int body,
		       cJSON **events, uint8_t ***xts, size_t **lens, size_t *cnt)
{
	uint8_t *raw = NULL;
	size_t nraw = 0;
	int rc = 0;
	if (known)
		memcpy(hash, known, 32);
	else
		rc = rpc_block_hash(chain_client_rpc(n->chain), number, hash);
	if (rc == 0 && !known)
		verify = 0;
	if (rc == 0)
		rc = chain_block_reads(n->chain, rt, number, hash, verify, body, &raw, &nraw, xts,
				       lens, cnt);
	if (rc == ZE_STATE && verify) {
		/* hash is now the chain's: stop trusting computed ones. */
		log_warn("node", "block %" PRIu64 ": the hash of its announced header is not the "
			 "chain's; asking for finalized heads from now on", number);
		n->follow_hash_bad = 1;
		rc = chain_block_reads(n->chain, rt, number, hash, 0, body, &raw, &nraw, xts, lens,
				       cnt);
	}
	if (rc == 0) {
		rc = chain_events_decode(rt, raw, nraw, follow_pallets,
					 sizeof follow_pallets / sizeof follow_pallets[0], events);
		if (rc < 0) {
			rpc_keys_free(*xts, *lens, *cnt);
			*xts = NULL;
			*lens = NULL;
			*cnt = 0;
		}
	}
	free(raw);
	return rc;
}

/* Hands block number's events to the engine and the submitter. */
static int follow_block(struct agent_node *n, struct eng *e, uint64_t number,
			const uint8_t *known, int verify)
{
	uint8_t hash[32];
	struct chain_runtime *rt;
	cJSON *events = NULL;
	uint8_t **xts = NULL;
	size_t *lens = NULL, cnt = 0;
	int rc;
	/* Asked before the block is read: a call sent later cannot be in it. */
	int body = n->submitter && chain_submitter_wants_bodies(n->submitter);
	if ((rc = chain_client_runtime(n->chain, &rt)) < 0)
		return rc;
	rc = follow_read(n, rt, number, hash, known, verify, body, &events, &xts, &lens, &cnt);
	chain_runtime_put(rt);
	if (rc < 0)
		return rc;
	if (n->submitter)
		rc = follow_feed(n, number, hash, events, body, xts, lens, cnt);
	rpc_keys_free(xts, lens, cnt);
	if (rc < 0) {
		cJSON_Delete(events);
		return rc;
	}
	const cJSON *ev;
	int handed = 0;
	eng_hold_wakes(e, 1); /* the block's jobs start together, below */
	cJSON_ArrayForEach(ev, events)
	{
		const cJSON *pallet = cJSON_GetObjectItemCaseSensitive(ev, "pallet");
		if (!cJSON_IsString(pallet) || strcmp(pallet->valuestring, "SmartContractModule"))
			continue;
		int r = eng_on_chain_event(e, ev);
		handed++;
		/* A malformed event cannot get better by reading it again. */
		if (r == ZE_MALFORMED) {
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(ev, "event");
			log_warn("node", "block %" PRIu64 ": %s event without a contract id skipped",
				 number, cJSON_IsString(name) ? name->valuestring : "?");
		} else if (r < 0) {
			rc = r;
			break;
		}
	}
	eng_hold_wakes(e, 0);
	cJSON_Delete(events);
	/* Tests read this line to check that no block is skipped or repeated. */
	if (rc == 0)
		log_debug("node", "followed block %" PRIu64 " (%d contract events)", number, handed);
	return rc;
}

/*
 * The finalized head. Over WebSocket, the one the subscription announced
 * (no request; *hashed set: its hash was computed here), unless it is
 * older than FOLLOW_HEADS_STALE_MS or computed hashes proved wrong. Else
 * asked, with the hash of the block after the cursor in the same request:
 * an unchanged head (the common case when polling faster than blocks come)
 * or one that is that next block costs that one request; another one also
 * costs its header, for the number and the parent's hash. *have_parent is
 * 0 when the parent's hash is not known (not needed then: the block after
 * the cursor is the head itself).
 */
static int follow_head(struct agent_node *n, uint64_t *head, uint8_t hash[32],
		       uint8_t parent[32], int *hashed, int *have_parent)
{
	struct rpc_client *rpc = chain_client_rpc(n->chain);
	uint8_t next[32];
	int64_t age;
	int have_next = 0, rc;
	*hashed = 0;
	*have_parent = 1;
	if (!n->follow_hash_bad && rpc_heads_final(rpc, head, hash, parent, &age) == 0 &&
	    age < FOLLOW_HEADS_STALE_MS) {
		*hashed = 1;
		return 0;
	}
	if (n->follow_cursor >= 0)
		rc = rpc_finalized_head_and_hash(rpc, (uint64_t)n->follow_cursor + 1, hash, next,
						 &have_next);
	else
		rc = rpc_finalized_head(rpc, hash);
	if (rc < 0)
		return rc;
	if (n->follow_fin_num >= 0 && memcmp(hash, n->follow_fin_hash, 32) == 0) {
		*head = (uint64_t)n->follow_fin_num;
		memcpy(parent, n->follow_fin_parent, 32);
		*have_parent = n->follow_fin_parent_ok;
		return 0;
	}
	if (have_next && memcmp(hash, next, 32) == 0) {
		*head = (uint64_t)n->follow_cursor + 1;
		*have_parent = 0;
	} else {
		rc = rpc_header(rpc, hash, head, parent);
		/* The node just named this block: its header cannot be absent. */
		if (rc == ZE_ABSENT)
			rc = ZE_UNKNOWN;
		if (rc < 0)
			return rc;
	}
	n->follow_fin_num = (int64_t)*head;
	memcpy(n->follow_fin_hash, hash, 32);
	memcpy(n->follow_fin_parent, parent, 32);
	n->follow_fin_parent_ok = *have_parent;
	return 0;
}

/* Writes the in-memory cursor to the store when it moved. */
static int follow_persist(struct agent_node *n, struct eng *e)
{
	if (n->follow_cursor < 0 || n->follow_cursor == n->follow_saved)
		return 0;
	int rc = eng_cursor_set(e, n->follow_cursor);
	if (rc == 0) {
		n->follow_saved = n->follow_cursor;
		n->follow_saved_ms = clk_mono_ms();
	}
	return rc;
}

/* One pass: replays up to FOLLOW_BATCH blocks. *behind set when more wait.
 * The cursor lives in memory; the store's copy follows at most every
 * FOLLOW_PERSIST_MS and when the follower stops. */
static int follow_pass(struct agent_node *n, struct eng *e, int *behind)
{
	uint64_t head;
	uint8_t head_hash[32], parent_hash[32];
	int hashed, have_parent;
	*behind = 0;
	int rc = follow_head(n, &head, head_hash, parent_hash, &hashed, &have_parent);
	atomic_store(&n->chain_ok, rc >= 0);
	if (rc < 0) {
		eng_follow_stall(e);
		return rc;
	}
	atomic_store(&n->follow_head, (int64_t)head);
	if (n->submitter)
		chain_submitter_feed_alive(n->submitter);
	if (n->follow_cursor < 0) {
		int64_t stored;
		rc = eng_cursor_get(e, &stored);
		if (rc < 0 && rc != ZE_ABSENT)
			return rc;
		n->follow_cursor = n->follow_saved = rc == ZE_ABSENT ? -1 : stored;
		n->follow_saved_ms = clk_mono_ms();
	}
	int64_t cursor = n->follow_cursor;
	atomic_store(&n->follow_at, cursor);
	if (cursor < 0 || (uint64_t)cursor > head) {
		/* First start (the engine's first sync covers the past), or a
		 * chain that was reset under us. */
		log_info("node", "following contract events from block %" PRIu64, head);
		n->follow_cursor = (int64_t)head;
		atomic_store(&n->follow_at, n->follow_cursor);
		eng_follow_reset(e, head);
		return follow_persist(n, e);
	}
	if (head - (uint64_t)cursor > FOLLOW_MAX_GAP) {
		log_warn("node", "%" PRIu64 " blocks behind: skipping to block %" PRIu64
			 " and syncing every contract", head - (uint64_t)cursor, head);
		if ((rc = eng_full_sync(e)) < 0)
			return rc;
		n->follow_cursor = (int64_t)head;
		eng_follow_reset(e, head);
		return follow_persist(n, e);
	}
	/* Deploy commands for contracts of these blocks wait for them rather
	 * than read their contract (the engine's hand-off). */
	eng_follow_done(e, (uint64_t)cursor);
	eng_follow_head(e, head, hashed);
	uint64_t b = (uint64_t)cursor + 1;
	for (int i = 0; i < FOLLOW_BATCH && b <= head; i++, b++) {
		const uint8_t *known = b == head		       ? head_hash
				       : b + 1 == head && have_parent ? parent_hash
								      : NULL;
		if ((rc = follow_block(n, e, b, known, hashed && b == head)) < 0) {
			log_debug("node", "block %" PRIu64 ": %s; retrying", b, zerr_str(rc));
			eng_follow_stall(e);
			break;
		}
		n->follow_cursor = (int64_t)b;
		eng_follow_done(e, b);
		atomic_store(&n->follow_at, n->follow_cursor);
		if (node_worker_stopping(&n->follow))
			break;
	}
	*behind = rc == 0 && b <= head;
	if (clk_mono_ms() - n->follow_saved_ms >= FOLLOW_PERSIST_MS ||
	    node_worker_stopping(&n->follow)) {
		int w = follow_persist(n, e);
		if (w < 0)
			return w;
	}
	return rc;
}

/*
 * Waits for the next finalized block: on a head announcement above *seen
 * (or the cursor), FOLLOW_HEADS_MAX_MS at most; a plain sleep of ms when no
 * endpoint has a live subscription. Non-zero when the worker must stop.
 */
static int follow_wait(struct agent_node *n, uint64_t *seen, long ms)
{
	struct rpc_client *rpc = chain_client_rpc(n->chain);
	uint64_t floor = n->follow_cursor > 0 ? (uint64_t)n->follow_cursor : 0;
	if (*seen < floor)
		*seen = floor;
	for (long waited = 0; waited < FOLLOW_HEADS_MAX_MS; waited += FOLLOW_HEADS_SLICE_MS) {
		uint64_t num;
		int rc = rpc_heads_wait(rpc, *seen, FOLLOW_HEADS_SLICE_MS, &num);
		if (rc == ZE_UNSUPPORTED) {
			if (ms > FOLLOW_BUSY_POLL_MS && n->submitter &&
			    chain_submitter_wants_bodies(n->submitter))
				ms = FOLLOW_BUSY_POLL_MS;
			return node_worker_sleep(&n->follow, ms);
		}
		if (node_worker_stopping(&n->follow))
			return 1;
		if (rc == 0) {
			*seen = num;
			return 0;
		}
	}
	return 0;
}

void *node_follow_main(void *arg)
{
	struct agent_node *n = arg;
	struct eng *e = atomic_load(&n->eng);
	/* Failures wait twice the poll interval, then doubling up to the cap. */
	struct backoff fail;
	backoff_init(&fail, FOLLOW_POLL_MS * 2, FOLLOW_BACKOFF_MAX_MS, 0);
	long backoff = FOLLOW_POLL_MS;
	/* The engine runs its first full sync at start; the next one is due
	 * one interval later (the interval as reloaded meanwhile). */
	int64_t last_sync = clk_mono_ms();
	int failing = 0;
	uint64_t seen = 0;
	n->follow_cursor = n->follow_saved = -1;
	n->follow_fin_num = -1;
	for (;;) {
		int behind = 0;
		int rc = follow_pass(n, e, &behind);
		if (rc < 0) {
			if (!failing)
				log_warn("node", "following blocks: %s; retrying with backoff",
					 zerr_str(rc));
			failing = 1;
			backoff = (long)backoff_next(&fail);
		} else {
			if (failing)
				log_info("node", "following blocks again");
			failing = 0;
			backoff_reset(&fail);
			backoff = FOLLOW_POLL_MS;
		}
		int64_t now = clk_mono_ms();
		if (now - last_sync >= (int64_t)atomic_load(&n->sync_interval) * 1000) {
			eng_full_sync(e);
			last_sync = now;
		}
		int stop;
		if (behind && rc == 0)
			stop = node_worker_sleep(&n->follow, 0);
		else if (rc == 0)
			stop = follow_wait(n, &seen, backoff);
		else
			stop = node_worker_sleep(&n->follow, backoff);
		if (stop)
			break;
	}
	eng_follow_stall(e);
	if (follow_persist(n, e) < 0)
		log_warn("node", "could not store the block cursor; a restart replays a few blocks");
	return NULL;
}
