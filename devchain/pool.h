/*
 * The transaction pool: verified signed extrinsics waiting for a block,
 * ordered by (signer, nonce) so block building takes each account's run of
 * consecutive nonces. Bounded in count and bytes.
 */
#ifndef ZOS_DEVCHAIN_POOL_H
#define ZOS_DEVCHAIN_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "chainclient/xt.h"

#define DEV_POOL_MAX 16384
#define DEV_POOL_MAX_BYTES (128u << 20)
/* How far past an account's next nonce the pool queues extrinsics. */
#define DEV_POOL_FUTURE 16

struct dev_pxt {
	uint8_t *bytes; /* the whole extrinsic, with its length prefix */
	size_t len;
	uint8_t hash[32];
	struct xt_decoded d; /* views into bytes */
	int free_call;       /* DEV_CALL_FREE: no fee */
	int done;            /* included or dropped by the block being built */
};

struct dev_pool {
	struct dev_pxt **v;
	size_t n, cap;
	size_t bytes;
};

void dev_pool_init(struct dev_pool *p);
void dev_pool_free(struct dev_pool *p);

/* The pooled extrinsic of signer with nonce, or NULL. */
struct dev_pxt *dev_pool_find(const struct dev_pool *p, const uint8_t signer[32], uint64_t nonce);
/* Takes ownership of x on success. ZE_TOOBIG when the pool is full. */
int dev_pool_add(struct dev_pool *p, struct dev_pxt *x);
/* Removes every entry marked done. */
void dev_pool_sweep(struct dev_pool *p);
void dev_pxt_free(struct dev_pxt *x);

#endif
