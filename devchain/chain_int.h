/* Shared between chain.c (blocks) and chain_submit.c (pool admission). */
#ifndef ZOS_DEVCHAIN_CHAIN_INT_H
#define ZOS_DEVCHAIN_CHAIN_INT_H

#include <pthread.h>

#include "chainclient/xt.h"
#include "devchain/chain.h"
#include "devchain/exec.h"
#include "devchain/metagen.h"
#include "devchain/pool.h"
#include "devchain/runtime.h"

struct dev_chain {
	pthread_mutex_t lock;
	struct dev_store *store;
	struct dev_meta *meta;
	struct dev_params params;
	struct xt_exts exts;
	uint8_t genesis[32];
	uint32_t head;
	uint8_t head_hash[32];
	uint8_t state_root[32];
	uint64_t last_ts;
	struct dev_pool pool;
};

/* The dispatch entry of a call (pallet index ++ call index ++ args). */
int dev_chain_find_call(const uint8_t *call, size_t len, const struct dev_pallet **p,
			const struct dev_call **c);
/* Fee of a pooled extrinsic (0 for free calls). */
dev_balance dev_chain_fee(const struct dev_chain *c, const struct dev_pxt *x);
/* Hash of block num (under the lock); ZE_ABSENT past the head. */
int dev_chain_hash_of(struct dev_chain *c, uint32_t num, uint8_t hash[32]);

#endif
