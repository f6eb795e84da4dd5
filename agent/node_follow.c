/*
 * The contract watcher: follows finalized blocks from a cursor persisted in
 * the store and hands every SmartContractModule event to the engine, which
 * picks those of this node's contracts (grace period started and ended,
 * cancelled, rejected, updated). The cursor moves only past a block whose
 * events were all handed over, so a crash or an RPC failure repeats a
 * block rather than skip it (the engine's transitions are idempotent).
 *
 * Over WebSocket the chain client's finalized-head subscription wakes the
 * follower as soon as a block is final; over HTTP it polls. Either way it
 * reads blocks by number from its cursor, so blocks announced while a
 * connection was down, or while an endpoint was replaced by another, are
 * read after it (none skipped), and the cursor never goes back over a
 * block already handed over (none processed twice, short of a crash
 * between two cursor writes).
 *
 * A gap too long to replay (a node that was off for days) is skipped to
 * the head and closed by a full sync, which also runs every
 * node.sync_interval as the backstop for anything missed.
 */
#include "agent/node_int.h"

#include <inttypes.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

#define FOLLOW_POLL_MS 500L
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

/* Hands block number's events to the engine; known is its hash when the
 * caller has it (the finalized head's), saving a request. */
static int follow_block(struct agent_node *n, struct eng *e, uint64_t number,
			const uint8_t *known)
{
	uint8_t hash[32];
	struct chain_runtime *rt;
	cJSON *events = NULL;
	int rc = 0;
	if (known)
		memcpy(hash, known, 32);
	else
		rc = rpc_block_hash(chain_client_rpc(n->chain), number, hash);
	if (rc < 0)
		return rc;
	if ((rc = chain_client_runtime(n->chain, &rt)) < 0)
		return rc;
	rc = chain_events(n->chain, rt, hash, &events);
	chain_runtime_put(rt);
	if (rc < 0)
		return rc;
	const cJSON *ev;
	int handed = 0;
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
	cJSON_Delete(events);
	/* Tests read this line to check that no block is skipped or repeated. */
	if (rc == 0)
		log_debug("node", "followed block %" PRIu64 " (%d contract events)", number, handed);
	return rc;
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
	uint8_t head_hash[32];
	*behind = 0;
	int rc = chain_finalized(n->chain, &head, head_hash);
	atomic_store(&n->chain_ok, rc >= 0);
	if (rc < 0)
		return rc;
	atomic_store(&n->follow_head, (int64_t)head);
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
		return follow_persist(n, e);
	}
	if (head - (uint64_t)cursor > FOLLOW_MAX_GAP) {
		log_warn("node", "%" PRIu64 " blocks behind: skipping to block %" PRIu64
			 " and syncing every contract", head - (uint64_t)cursor, head);
		if ((rc = eng_full_sync(e)) < 0)
			return rc;
		n->follow_cursor = (int64_t)head;
		return follow_persist(n, e);
	}
	uint64_t b = (uint64_t)cursor + 1;
	for (int i = 0; i < FOLLOW_BATCH && b <= head; i++, b++) {
		if ((rc = follow_block(n, e, b, b == head ? head_hash : NULL)) < 0) {
			log_debug("node", "block %" PRIu64 ": %s; retrying", b, zerr_str(rc));
			break;
		}
		n->follow_cursor = (int64_t)b;
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
		if (rc == ZE_UNSUPPORTED)
			return node_worker_sleep(&n->follow, ms);
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
	if (follow_persist(n, e) < 0)
		log_warn("node", "could not store the block cursor; a restart replays a few blocks");
	return NULL;
}
