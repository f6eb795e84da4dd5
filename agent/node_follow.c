/*
 * The contract watcher: follows finalized blocks from a cursor persisted in
 * the store and hands every SmartContractModule event to the engine, which
 * picks those of this node's contracts (grace period started and ended,
 * cancelled, rejected, updated). The cursor moves only past a block whose
 * events were all handed over, so a crash or an RPC failure repeats a
 * block rather than skip it (the engine's transitions are idempotent).
 *
 * A gap too long to replay (a node that was off for days) is skipped to
 * the head and closed by a full sync, which also runs every
 * node.sync_interval as the backstop for anything missed.
 */
#include "agent/node_int.h"

#include <inttypes.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"

#define FOLLOW_POLL_MS 500L
#define FOLLOW_BACKOFF_MAX_MS 30000L
/* Blocks replayed at most per pass, so stop stays prompt. */
#define FOLLOW_BATCH 64
/* Beyond this many blocks behind, skip to the head and sync instead. */
#define FOLLOW_MAX_GAP 14400

/* Hands block number's events to the engine. */
static int follow_block(struct agent_node *n, struct eng *e, uint64_t number)
{
	uint8_t hash[32];
	struct chain_runtime *rt;
	cJSON *events = NULL;
	int rc = rpc_block_hash(chain_client_rpc(n->chain), number, hash);
	if (rc < 0)
		return rc;
	if ((rc = chain_client_runtime(n->chain, &rt)) < 0)
		return rc;
	rc = chain_events(n->chain, rt, hash, &events);
	chain_runtime_put(rt);
	if (rc < 0)
		return rc;
	const cJSON *ev;
	cJSON_ArrayForEach(ev, events)
	{
		const cJSON *pallet = cJSON_GetObjectItemCaseSensitive(ev, "pallet");
		if (!cJSON_IsString(pallet) || strcmp(pallet->valuestring, "SmartContractModule"))
			continue;
		int r = eng_on_chain_event(e, ev);
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
	return rc;
}

/* One pass: replays up to FOLLOW_BATCH blocks. *behind set when more wait. */
static int follow_pass(struct agent_node *n, struct eng *e, int *behind)
{
	uint64_t head;
	uint8_t head_hash[32];
	int64_t cursor;
	*behind = 0;
	int rc = chain_finalized(n->chain, &head, head_hash);
	if (rc < 0)
		return rc;
	rc = eng_cursor_get(e, &cursor);
	if (rc == ZE_ABSENT || (rc == 0 && cursor >= 0 && (uint64_t)cursor > head)) {
		/* First start (the engine's first sync covers the past), or a
		 * chain that was reset under us. */
		log_info("node", "following contract events from block %" PRIu64, head);
		return eng_cursor_set(e, (int64_t)head);
	}
	if (rc < 0)
		return rc;
	if (head - (uint64_t)cursor > FOLLOW_MAX_GAP) {
		log_warn("node", "%" PRIu64 " blocks behind: skipping to block %" PRIu64
			 " and syncing every contract", head - (uint64_t)cursor, head);
		if ((rc = eng_full_sync(e)) < 0)
			return rc;
		return eng_cursor_set(e, (int64_t)head);
	}
	uint64_t b = (uint64_t)cursor + 1;
	for (int i = 0; i < FOLLOW_BATCH && b <= head; i++, b++) {
		if ((rc = follow_block(n, e, b)) < 0) {
			log_debug("node", "block %" PRIu64 ": %s; retrying", b, zerr_str(rc));
			return rc;
		}
		if ((rc = eng_cursor_set(e, (int64_t)b)) < 0)
			return rc;
		if (node_worker_stopping(&n->follow))
			return 0;
	}
	*behind = b <= head;
	return 0;
}

void *node_follow_main(void *arg)
{
	struct agent_node *n = arg;
	struct eng *e = atomic_load(&n->eng);
	long backoff = FOLLOW_POLL_MS;
	/* The engine runs its first full sync at start; the next one is due
	 * one interval later (the interval as reloaded meanwhile). */
	int64_t last_sync = node_mono_ms();
	int failing = 0;
	for (;;) {
		int behind = 0;
		int rc = follow_pass(n, e, &behind);
		if (rc < 0) {
			if (!failing)
				log_warn("node", "following blocks: %s; retrying with backoff",
					 zerr_str(rc));
			failing = 1;
			backoff = backoff * 2 > FOLLOW_BACKOFF_MAX_MS ? FOLLOW_BACKOFF_MAX_MS
								      : backoff * 2;
		} else {
			if (failing)
				log_info("node", "following blocks again");
			failing = 0;
			backoff = FOLLOW_POLL_MS;
		}
		int64_t now = node_mono_ms();
		if (now - last_sync >= (int64_t)atomic_load(&n->sync_interval) * 1000) {
			eng_full_sync(e);
			last_sync = now;
		}
		if (node_worker_sleep(&n->follow, behind && rc == 0 ? 0 : backoff))
			break;
	}
	return NULL;
}
