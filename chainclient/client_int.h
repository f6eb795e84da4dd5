/* Internals shared by the chain client's files; not for other modules. */
#ifndef ZOS_CHAINCLIENT_CLIENT_INT_H
#define ZOS_CHAINCLIENT_CLIENT_INT_H

#include <pthread.h>
#include <stdint.h>

#include "chainclient/client.h"

struct chain_client {
	struct rpc_client *rpc;
	struct chain_client_opts opts;
	pthread_mutex_t lock;      /* guards rt and checked_ms */
	pthread_mutex_t load_lock; /* serializes version checks and reloads */
	struct chain_runtime *rt;  /* the client's reference, or NULL */
	int64_t checked_ms;
};

/* Block reads: [chain_getBlockHash(number)], state_getStorage(Events, hash),
 * [chain_getBlock(hash)], calls first..last of one batch. */
enum { BR_HASH, BR_EVENTS, BR_BODY, BR_N };
struct zbuf;
/*
 * The batch's answers read from its text (block_scan.c), calls first..last
 * with ids base.. : 0 with the chain's hash of the block (first == BR_HASH),
 * its events (*events heap, NULL when it has none; at most max_events
 * bytes) and, when last == BR_BODY, its number and extrinsics (free with
 * rpc_keys_free). Anything but the plain success (an error, a null body,
 * another shape, too large) gives ZE_UNKNOWN or -ENOMEM and no outputs: the
 * caller then reads the answers with cJSON (rpc_batch_answers).
 */
int chain_scan_block_reads(const struct zbuf *text, uint64_t base, size_t first, size_t last,
			   size_t max_events, uint8_t got_hash[32], uint8_t **events,
			   size_t *nevents, uint64_t *num, uint8_t ***xts, size_t **lens,
			   size_t *nxt);

#endif
