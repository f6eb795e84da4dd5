/*
 * The chain: store, runtime metadata, pool and block production behind one
 * lock. The RPC threads and the block timer call these functions
 * concurrently; each takes the chain lock for as short as it can (signature
 * checks run outside it).
 */
#ifndef ZOS_DEVCHAIN_CHAIN_H
#define ZOS_DEVCHAIN_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "chainclient/scale.h"
#include "common/buf.h"
#include "devchain/store.h"

#define DEV_SPEC_NAME "substrate-threefold"
#define DEV_IMPL_NAME "tfchain-dev"
#define DEV_SPEC_VERSION 1u
#define DEV_TX_VERSION 1u

#define DEV_XT_MAX (512u << 10)          /* one extrinsic, length prefix included */
#define DEV_BLOCK_MAX_XTS 4096
#define DEV_BLOCK_MAX_BYTES (4u << 20)

/* JSON-RPC error codes of author_submitExtrinsic refusals. */
#define DEV_RPC_INVALID_TX 1010
#define DEV_RPC_TOO_LOW_PRIORITY 1014
#define DEV_RPC_DROPPED 1016

struct dev_chain;

struct dev_reject {
	int code;         /* DEV_RPC_* */
	char reason[200]; /* one line, for the error's data and the log */
};

/*
 * Opens the store at db_path (":memory:" for none) and, when it is empty,
 * builds block 0 from genesis (the JSON object of genesis.h). A store
 * that does not open cleanly is refused (see dev_store_open). *out is freed
 * with dev_chain_close.
 */
int dev_chain_open(const char *db_path, const cJSON *genesis, struct dev_chain **out);
void dev_chain_close(struct dev_chain *c);
/* The chain's store is temporary (deleted at exit): no disk syncs, so a
 * block's commit never waits for the disk while the chain's lock is held
 * (RPC reads wait on that lock). See dev_store_volatile. */
int dev_chain_volatile(struct dev_chain *c);

/* Builds and commits the next block with timestamp now_ms (raised above the
 * previous block's). Outputs may be NULL. */
int dev_chain_produce(struct dev_chain *c, uint64_t now_ms, uint32_t *num, size_t *nxts);

/* Validates a signed extrinsic and queues it: 0 with its hash, or
 * ZE_CHAIN with *why filled (also logged). */
int dev_chain_submit(struct dev_chain *c, const uint8_t *p, size_t n, uint8_t hash[32],
		     struct dev_reject *why);

void dev_chain_head(struct dev_chain *c, uint32_t *num, uint8_t hash[32]);
void dev_chain_genesis_hash(const struct dev_chain *c, uint8_t hash[32]);
/* Block number of hash (NULL = head); ZE_ABSENT for an unknown hash. */
int dev_chain_resolve(struct dev_chain *c, const uint8_t *hash, uint32_t *num);
int dev_chain_storage(struct dev_chain *c, uint32_t num, const uint8_t *key, size_t klen,
		      struct zbuf *val);
int dev_chain_keys(struct dev_chain *c, uint32_t num, const uint8_t *prefix, size_t plen,
		   const uint8_t *after, size_t alen, size_t limit, dev_store_fn fn, void *arg);
int dev_chain_block(struct dev_chain *c, uint32_t num, uint8_t hash[32], struct zbuf *header,
		    struct zbuf *body);
/* The account's next nonce: its state nonce past the run of consecutive
 * nonces already in the pool. */
int dev_chain_next_index(struct dev_chain *c, const uint8_t who[32], uint64_t *nonce);
/* Number of extrinsics waiting in the pool. */
size_t dev_chain_pending(struct dev_chain *c);
/* Calls fn with each pooled extrinsic (under the chain lock: fn must not
 * call back into the chain). Stops at fn's first nonzero return. */
int dev_chain_pool_each(struct dev_chain *c, int (*fn)(void *arg, const uint8_t *xt, size_t len),
			void *arg);
/* The fee an extrinsic would pay (0 for free calls); ZE_MALFORMED when it
 * does not decode or names no known call. */
int dev_chain_fee_of(struct dev_chain *c, const uint8_t *p, size_t n, scale_u128 *fee);
/* The encoded v14 metadata (owned by the chain). */
const uint8_t *dev_chain_metadata(const struct dev_chain *c, size_t *len);

#endif
