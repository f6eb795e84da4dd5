/* Pool admission (the checks Substrate's signed extensions make) and the
 * read side used by the RPC server. */
#include "devchain/chain_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/log.h"
#include "common/zerr.h"
#include "devchain/system.h"

__attribute__((format(printf, 3, 4))) static int reject(struct dev_reject *why, int code,
							const char *fmt, ...)
{
	va_list ap;
	why->code = code;
	va_start(ap, fmt);
	vsnprintf(why->reason, sizeof(why->reason), fmt, ap);
	va_end(ap);
	log_info("devchain", "rejected extrinsic: %s", why->reason);
	return ZE_CHAIN;
}

/* Why xt_decode said "unsupported": name the signature scheme. */
static const char *unsupported_reason(const uint8_t *p, size_t n)
{
	struct scale_rd r;
	uint64_t len;
	uint8_t ver, addr, sig;
	scale_rd_init(&r, p, n);
	if (scale_get_compact(&r, &len) || scale_get_u8(&r, &ver))
		return "unsupported extrinsic";
	if ((ver & 0x7f) != 4)
		return "unsupported extrinsic version (only v4)";
	if (!(ver & 0x80))
		return "unsigned extrinsics are not accepted";
	if (scale_get_u8(&r, &addr) || addr != 0)
		return "unsupported address kind (only MultiAddress::Id)";
	if (scale_skip(&r, 32) || scale_get_u8(&r, &sig))
		return "unsupported extrinsic";
	if (sig == 2)
		return "ecdsa signatures are not supported (use an ed25519 or sr25519 key)";
	return "unsupported signature kind";
}

struct admit {
	uint64_t state_nonce;
	dev_balance free;
	int exists;
	uint8_t era_hash[32];
};

static int check_pooled(struct dev_chain *c, const struct dev_pxt *x, struct dev_reject *why)
{
	struct dev_pxt *dup = dev_pool_find(&c->pool, x->d.signer, x->d.nonce);
	if (!dup)
		return 0;
	return reject(why, DEV_RPC_TOO_LOW_PRIORITY,
		      memcmp(dup->hash, x->hash, 32) == 0
			      ? "Transaction Already Imported"
			      : "Priority is too low: a transaction with this nonce is already in "
				"the pool");
}

/* The block hash the signature commits to (the era's birth block). */
static int check_era(struct dev_chain *c, const struct dev_pxt *x, struct admit *a,
		     struct dev_reject *why)
{
	if (x->d.era.mortal) {
		uint64_t next = (uint64_t)c->head + 1;
		uint64_t birth = xt_era_birth(&x->d.era, next);
		if (birth > c->head || next >= xt_era_death(&x->d.era, next))
			return reject(why, DEV_RPC_INVALID_TX,
				      "Transaction has an ancient birth block (era expired or "
				      "not yet valid)");
		if (dev_chain_hash_of(c, (uint32_t)birth, a->era_hash))
			return reject(why, DEV_RPC_INVALID_TX, "era birth block unknown");
	} else {
		memcpy(a->era_hash, c->genesis, 32);
	}
	return 0;
}

/* Checks that depend on chain state; called under the lock. */
static int check_state(struct dev_chain *c, struct dev_pxt *x, struct admit *a,
		       struct dev_reject *why)
{
	struct dev_ctx ctx;
	struct dev_account acc;
	int rc;
	if ((rc = check_era(c, x, a, why)))
		return rc;
	dev_ctx_init(&ctx, c->store, 1, c->head, &c->params);
	rc = dev_account_get(&ctx, x->d.signer, &acc, &a->exists);
	dev_ctx_free(&ctx);
	if (rc)
		return reject(why, DEV_RPC_INVALID_TX, "cannot read the account: %s", zerr_str(rc));
	a->state_nonce = acc.nonce;
	a->free = acc.free;
	if (x->d.nonce < a->state_nonce)
		return reject(why, DEV_RPC_INVALID_TX,
			      "Transaction is outdated (stale nonce %llu, account nonce %llu)",
			      (unsigned long long)x->d.nonce, (unsigned long long)a->state_nonce);
	if (x->d.nonce > a->state_nonce + DEV_POOL_FUTURE)
		return reject(why, DEV_RPC_INVALID_TX,
			      "Transaction will be valid in the future (nonce %llu, account "
			      "nonce %llu, at most %d ahead)",
			      (unsigned long long)x->d.nonce, (unsigned long long)a->state_nonce,
			      DEV_POOL_FUTURE);
	if (!a->exists)
		return reject(why, DEV_RPC_INVALID_TX,
			      "Inability to pay some fees (account does not exist)");
	dev_balance fee = dev_chain_fee(c, x);
	if (a->free < fee || a->free - fee < c->params.existential_deposit)
		return reject(why, DEV_RPC_INVALID_TX,
			      "Inability to pay some fees (e.g. account balance too low)");
	return check_pooled(c, x, why);
}

/* Decodes and checks what needs no chain state. */
static int check_static(struct dev_chain *c, const uint8_t *p, size_t n, struct dev_pxt *x,
			struct dev_reject *why)
{
	const struct dev_pallet *pal;
	const struct dev_call *call;
	if (n > DEV_XT_MAX)
		return reject(why, DEV_RPC_INVALID_TX,
			      "Transaction would exhaust the block limits (%zu bytes, at most %u)",
			      n, DEV_XT_MAX);
	x->bytes = malloc(n ? n : 1);
	if (!x->bytes)
		return -ENOMEM;
	memcpy(x->bytes, p, n);
	x->len = n;
	xt_hash(x->bytes, n, x->hash);
	int rc = xt_decode(&c->exts, x->bytes, n, &x->d);
	if (rc == ZE_UNSUPPORTED)
		return reject(why, DEV_RPC_INVALID_TX, "%s", unsupported_reason(p, n));
	if (rc)
		return reject(why, DEV_RPC_INVALID_TX, "Could not decode extrinsic: %s",
			      zerr_str(rc));
	if (!x->d.is_signed)
		return reject(why, DEV_RPC_INVALID_TX, "unsigned extrinsics are not accepted");
	if (dev_chain_find_call(x->d.call, x->d.call_len, &pal, &call))
		return reject(why, DEV_RPC_INVALID_TX, "Call not found (pallet %u, call %u)",
			      x->d.call_len ? x->d.call[0] : 0,
			      x->d.call_len > 1 ? x->d.call[1] : 0);
	if (dev_meta_check_call(c->meta, x->d.call, x->d.call_len))
		return reject(why, DEV_RPC_INVALID_TX,
			      "Could not decode the arguments of %s.%s", pal->name, call->name);
	x->free_call = (call->flags & DEV_CALL_FREE) != 0;
	return 0;
}

int dev_chain_submit(struct dev_chain *c, const uint8_t *p, size_t n, uint8_t hash[32],
		     struct dev_reject *why)
{
	struct dev_pxt *x = calloc(1, sizeof(*x));
	struct admit a;
	int rc;
	if (!x)
		return -ENOMEM;
	if ((rc = check_static(c, p, n, x, why)))
		goto out;
	/* Cheap checks first; the account is read once, after the signature. */
	pthread_mutex_lock(&c->lock);
	rc = check_era(c, x, &a, why);
	if (!rc)
		rc = check_pooled(c, x, why);
	pthread_mutex_unlock(&c->lock);
	if (rc)
		goto out;
	/* The signature check is the expensive part: outside the lock. */
	if (xt_verify(&c->exts, &x->d, DEV_SPEC_VERSION, DEV_TX_VERSION, c->genesis, a.era_hash)) {
		rc = reject(why, DEV_RPC_INVALID_TX,
			    "Invalid signature (BadProof: wrong key, genesis, era or versions)");
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	/* The state may have moved while we verified. */
	rc = check_state(c, x, &a, why);
	if (!rc) {
		rc = dev_pool_add(&c->pool, x);
		if (rc == ZE_TOOBIG)
			rc = reject(why, DEV_RPC_DROPPED, "Immediately Dropped: the pool is full");
		else if (!rc)
			memcpy(hash, x->hash, 32);
	}
	pthread_mutex_unlock(&c->lock);
	if (!rc)
		return 0;
out:
	dev_pxt_free(x);
	return rc;
}

/* ---- Reads ---- */

void dev_chain_head(struct dev_chain *c, uint32_t *num, uint8_t hash[32])
{
	pthread_mutex_lock(&c->lock);
	if (num)
		*num = c->head;
	if (hash)
		memcpy(hash, c->head_hash, 32);
	pthread_mutex_unlock(&c->lock);
}

void dev_chain_genesis_hash(const struct dev_chain *c, uint8_t hash[32])
{
	memcpy(hash, c->genesis, 32); /* set once at open */
}

int dev_chain_resolve(struct dev_chain *c, const uint8_t *hash, uint32_t *num)
{
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (!hash)
		*num = c->head;
	else if (!memcmp(hash, c->head_hash, 32))
		*num = c->head;
	else
		rc = dev_store_block_num(c->store, hash, num);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int dev_chain_storage(struct dev_chain *c, uint32_t num, const uint8_t *key, size_t klen,
		      struct zbuf *val)
{
	pthread_mutex_lock(&c->lock);
	int rc = dev_store_get(c->store, num, key, klen, val);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int dev_chain_keys(struct dev_chain *c, uint32_t num, const uint8_t *prefix, size_t plen,
		   const uint8_t *after, size_t alen, size_t limit, dev_store_fn fn, void *arg)
{
	pthread_mutex_lock(&c->lock);
	int rc = dev_store_scan(c->store, num, prefix, plen, after, alen, limit, fn, arg);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int dev_chain_block(struct dev_chain *c, uint32_t num, uint8_t hash[32], struct zbuf *header,
		    struct zbuf *body)
{
	pthread_mutex_lock(&c->lock);
	int rc = dev_store_block(c->store, num, hash, header, body);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int dev_chain_next_index(struct dev_chain *c, const uint8_t who[32], uint64_t *nonce)
{
	struct dev_ctx ctx;
	struct dev_account acc;
	int exists;
	pthread_mutex_lock(&c->lock);
	dev_ctx_init(&ctx, c->store, 1, c->head, &c->params);
	int rc = dev_account_get(&ctx, who, &acc, &exists);
	dev_ctx_free(&ctx);
	if (!rc) {
		uint64_t n = acc.nonce;
		while (dev_pool_find(&c->pool, who, n))
			n++;
		*nonce = n;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

size_t dev_chain_pending(struct dev_chain *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->pool.n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

const uint8_t *dev_chain_metadata(const struct dev_chain *c, size_t *len)
{
	return dev_meta_bytes(c->meta, len);
}

int dev_chain_pool_each(struct dev_chain *c, int (*fn)(void *arg, const uint8_t *xt, size_t len),
			void *arg)
{
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->pool.n && !rc; i++)
		rc = fn(arg, c->pool.v[i]->bytes, c->pool.v[i]->len);
	pthread_mutex_unlock(&c->lock);
	return rc < 0 ? rc : 0;
}

int dev_chain_fee_of(struct dev_chain *c, const uint8_t *p, size_t n, scale_u128 *fee)
{
	struct dev_pxt x = {0};
	const struct dev_pallet *pal;
	const struct dev_call *call;
	if (n > DEV_XT_MAX || xt_decode(&c->exts, p, n, &x.d) || !x.d.is_signed ||
	    dev_chain_find_call(x.d.call, x.d.call_len, &pal, &call))
		return ZE_MALFORMED;
	x.len = n;
	x.free_call = (call->flags & DEV_CALL_FREE) != 0;
	*fee = dev_chain_fee(c, &x);
	return 0;
}
