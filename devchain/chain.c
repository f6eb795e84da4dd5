/* Opening the chain, genesis, and block production. */
#include "devchain/chain_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/hash.h"
#include "common/clock.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/zerr.h"
#include "devchain/genesis.h"
#include "devchain/system.h"

int dev_chain_find_call(const uint8_t *call, size_t len, const struct dev_pallet **p,
			const struct dev_call **c)
{
	if (len < 2)
		return ZE_MALFORMED;
	for (size_t i = 0; i < dev_npallets; i++) {
		if (dev_pallets[i]->index != call[0])
			continue;
		for (size_t j = 0; j < dev_pallets[i]->ncalls; j++) {
			if (dev_pallets[i]->calls[j].index == call[1]) {
				*p = dev_pallets[i];
				*c = &dev_pallets[i]->calls[j];
				return 0;
			}
		}
	}
	return ZE_ABSENT;
}

/* Calls inside calls (batch_all inside batch_all) nest at most this deep. */
#define DEV_DISPATCH_DEPTH 4

int dev_dispatch_call(struct dev_ctx *ctx, struct scale_rd *rd)
{
	const struct dev_pallet *p;
	const struct dev_call *call;
	size_t start = rd->off;
	struct scale_rd args;
	int rc;
	if (!ctx->meta || ctx->depth >= DEV_DISPATCH_DEPTH)
		return ZE_UNSUPPORTED;
	/* The call's extent: the metadata walk stops where it ends. */
	if ((rc = dev_types_check(dev_meta_registry(ctx->meta), dev_meta_runtime_call(ctx->meta),
				  rd)))
		return rc;
	if ((rc = dev_chain_find_call(rd->p + start, rd->off - start, &p, &call)))
		return rc == ZE_ABSENT ? ZE_MALFORMED : rc;
	scale_rd_init(&args, rd->p + start + 2, rd->off - start - 2);
	ctx->depth++;
	rc = call->fn(ctx, &args);
	ctx->depth--;
	if (DEV_IS_MODULE_ERR(rc) && ctx->err_pallet < 0)
		ctx->err_pallet = p->index;
	return rc;
}

dev_balance dev_chain_fee(const struct dev_chain *c, const struct dev_pxt *x)
{
	if (x->free_call)
		return 0;
	return c->params.fee_base + c->params.fee_per_byte * (dev_balance)x->len;
}

int dev_chain_hash_of(struct dev_chain *c, uint32_t num, uint8_t hash[32])
{
	if (num == c->head) {
		memcpy(hash, c->head_hash, 32);
		return 0;
	}
	return dev_store_block(c->store, num, hash, NULL, NULL);
}

/* State root: a hash chain over each block's sorted changes. It commits to
 * the whole state history, not a Merkle trie, which a dev chain without
 * light clients does not need. */
static void state_root(const uint8_t parent[32], const struct dev_changes *ch, uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t len[8];
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, parent, 32);
	for (size_t i = 0; i < ch->n; i++) {
		const struct dev_change *e = &ch->v[i];
		for (int k = 0; k < 8; k++)
			len[k] = (uint8_t)((uint64_t)e->klen >> (8 * k));
		crypto_generichash_update(&st, len, 8);
		crypto_generichash_update(&st, e->key, e->klen);
		uint8_t del = (uint8_t)e->deleted;
		crypto_generichash_update(&st, &del, 1);
		for (int k = 0; k < 8; k++)
			len[k] = (uint8_t)((uint64_t)e->vlen >> (8 * k));
		crypto_generichash_update(&st, len, 8);
		if (e->vlen)
			crypto_generichash_update(&st, e->val, e->vlen);
	}
	crypto_generichash_final(&st, out, 32);
}

static int encode_header(const uint8_t parent[32], uint32_t num, const uint8_t sroot[32],
			 const uint8_t xroot[32], struct zbuf *out)
{
	int rc = scale_put_bytes(out, parent, 32);
	rc = rc ? rc : scale_put_compact(out, num);
	rc = rc ? rc : scale_put_bytes(out, sroot, 32);
	rc = rc ? rc : scale_put_bytes(out, xroot, 32);
	return rc ? rc : scale_put_compact(out, 0); /* digest: no logs */
}

/* Seals the context's changes as block num and commits it. */
static int seal(struct dev_chain *c, struct dev_ctx *ctx, uint32_t num, const struct zbuf *body,
		uint8_t hash[32], uint8_t sroot[32])
{
	uint8_t xroot[32];
	struct zbuf header;
	int rc;
	/* The state root hashes the changes in key order. */
	dev_changes_sort(&ctx->block);
	state_root(num ? c->state_root : (const uint8_t[32]){0}, &ctx->block, sroot);
	/* Extrinsics root: blake2b-256 of the SCALE body, for the same reason. */
	chain_blake2_256(body->data ? body->data : (const uint8_t *)"", body->len, xroot);
	zbuf_init(&header, 1024);
	rc = encode_header(num ? c->head_hash : (const uint8_t[32]){0}, num, sroot, xroot, &header);
	if (!rc) {
		chain_blake2_256(header.data, header.len, hash);
		struct dev_store_meta metas[2] = {{"state_root", sroot, 32}, {"genesis_hash", hash, 32}};
		rc = dev_store_commit(c->store, num, hash, header.data, header.len, body->data,
				      body->len, &ctx->block, metas, num ? 1 : 2);
	}
	zbuf_free(&header);
	return rc;
}

static int build_genesis(struct dev_chain *c, const cJSON *genesis)
{
	struct dev_ctx ctx;
	struct zbuf body;
	uint8_t hash[32], sroot[32];
	int rc;
	dev_ctx_init(&ctx, c->store, 0, 0, &c->params);
	zbuf_init(&body, 16);
	rc = scale_put_compact(&body, 0);
	if (!rc)
		rc = dev_genesis_apply(&ctx, genesis);
	if (!rc)
		rc = seal(c, &ctx, 0, &body, hash, sroot);
	if (!rc) {
		memcpy(c->genesis, hash, 32);
		memcpy(c->head_hash, hash, 32);
		memcpy(c->state_root, sroot, 32);
		c->head = 0;
	}
	zbuf_free(&body);
	dev_ctx_free(&ctx);
	return rc;
}

static int load_fact(struct dev_chain *c, const char *name, uint8_t out[32])
{
	struct zbuf v;
	zbuf_init(&v, 64);
	int rc = dev_store_meta_get(c->store, name, &v);
	if (!rc && v.len != 32)
		rc = ZE_MALFORMED;
	if (!rc)
		memcpy(out, v.data, 32);
	zbuf_free(&v);
	return rc;
}

/* Picks up a chain from the store: head, genesis, state root, time. */
static int load_head(struct dev_chain *c)
{
	struct zbuf v;
	uint8_t key[32];
	int rc;
	if ((rc = dev_store_block(c->store, c->head, c->head_hash, NULL, NULL)) ||
	    (rc = load_fact(c, "genesis_hash", c->genesis)) ||
	    (rc = load_fact(c, "state_root", c->state_root)))
		return rc == ZE_ABSENT ? ZE_MALFORMED : rc;
	chain_storage_prefix("Timestamp", "Now", key);
	zbuf_init(&v, 16);
	rc = dev_store_get(c->store, c->head, key, 32, &v);
	if (!rc && v.len == 8) {
		struct scale_rd r;
		scale_rd_init(&r, v.data, v.len);
		rc = scale_get_u64(&r, &c->last_ts);
	} else if (rc == ZE_ABSENT) {
		rc = 0;
	}
	zbuf_free(&v);
	return rc;
}

int dev_chain_open(const char *db_path, const cJSON *genesis, struct dev_chain **out)
{
	struct dev_chain *c = calloc(1, sizeof(*c));
	int rc;
	if (!c)
		return -ENOMEM;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		return -ENOMEM;
	}
	dev_pool_init(&c->pool);
	xt_exts_default(&c->exts);
	c->params = (struct dev_params){DEV_EXISTENTIAL_DEPOSIT, DEV_FEE_BASE, DEV_FEE_PER_BYTE};
	if ((rc = dev_meta_build(dev_pallets, dev_npallets, &c->meta)))
		goto fail;
	if ((rc = dev_store_open(db_path, &c->store)))
		goto fail;
	rc = dev_store_head(c->store, &c->head);
	if (rc == ZE_ABSENT) {
		rc = build_genesis(c, genesis);
		if (rc)
			log_err("devchain", "genesis: %s", zerr_str(rc));
	} else if (!rc) {
		log_info("devchain", "resuming the chain in %s; genesis is not read again", db_path);
		rc = load_head(c);
		if (rc)
			log_err("devchain", "store %s: cannot resume: %s", db_path, zerr_str(rc));
	}
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	dev_chain_close(c);
	return rc;
}

int dev_chain_volatile(struct dev_chain *c)
{
	pthread_mutex_lock(&c->lock);
	int rc = dev_store_volatile(c->store);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void dev_chain_close(struct dev_chain *c)
{
	if (!c)
		return;
	dev_pool_free(&c->pool);
	dev_store_close(c->store);
	dev_meta_free(c->meta);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- Block production ---- */

/* Runs one hook in its own layer: a failing hook changes nothing. */
static int run_hook(struct dev_ctx *ctx, const struct dev_pallet *p,
		    int (*hook)(struct dev_ctx *), const char *what)
{
	dev_ctx_call_begin(ctx);
	int rc = hook(ctx);
	if (rc) {
		dev_ctx_call_rollback(ctx);
		log_warn("devchain", "block %u: %s.%s failed: %s", ctx->number, p->name, what,
			 zerr_str(rc));
		return dev_err_is_resource(rc) ? rc : 0;
	}
	return dev_ctx_call_commit(ctx);
}

static void log_drop(const struct dev_pxt *x, const char *why)
{
	char hash[20];
	hex_encode(x->hash, 8, 1, hash, sizeof(hash));
	log_info("devchain", "dropped extrinsic %s..: %s", hash, why);
}

/* Applies x as extrinsic number index of the block. *applied = 0 when it
 * is no longer valid (dropped, logged, not included). */
static int apply(struct dev_chain *c, struct dev_ctx *ctx, struct dev_pxt *x, uint32_t index,
		 int *applied)
{
	const struct dev_pallet *p;
	const struct dev_call *call;
	struct dev_account a;
	int exists, rc;
	*applied = 0;
	if (dev_chain_find_call(x->d.call, x->d.call_len, &p, &call)) {
		log_drop(x, "call not found");
		return 0;
	}
	if (x->d.era.mortal) {
		uint64_t birth = xt_era_birth(&x->d.era, ctx->number);
		if (birth > c->head || ctx->number >= xt_era_death(&x->d.era, ctx->number)) {
			log_drop(x, "era expired");
			return 0;
		}
	}
	if ((rc = dev_account_get(ctx, x->d.signer, &a, &exists)))
		return rc;
	if (!exists || a.nonce != x->d.nonce) {
		log_drop(x, exists ? "nonce no longer valid" : "account no longer exists");
		return 0;
	}
	ctx->phase = DEV_PHASE_APPLY;
	ctx->xt_index = index;
	/* Fee and nonce stay even when the call fails. */
	dev_ctx_call_begin(ctx);
	a.nonce++;
	rc = dev_account_put(ctx, x->d.signer, &a);
	if (!rc && !x->free_call)
		rc = dev_balance_withdraw(ctx, x->d.signer, dev_chain_fee(c, x));
	if (rc) {
		dev_ctx_call_rollback(ctx);
		if (dev_err_is_resource(rc))
			return rc;
		log_drop(x, "cannot pay its fee any more");
		return 0;
	}
	if ((rc = dev_ctx_call_commit(ctx)))
		return rc;
	*applied = 1;
	struct scale_rd args;
	scale_rd_init(&args, x->d.call + 2, x->d.call_len - 2);
	dev_ctx_call_begin(ctx);
	ctx->origin = x->d.signer;
	ctx->meta = c->meta;
	ctx->err_pallet = -1;
	rc = call->fn(ctx, &args);
	ctx->origin = NULL;
	if (rc) {
		dev_ctx_call_rollback(ctx);
		if (dev_err_is_resource(rc))
			return rc;
	} else if ((rc = dev_ctx_call_commit(ctx))) {
		return rc;
	}
	return dev_system_outcome(ctx, rc, ctx->err_pallet >= 0 ? (uint8_t)ctx->err_pallet : p->index,
				  !x->free_call);
}

/* Appends the extrinsics the pool can give this block to body, applying
 * each. */
static int apply_pool(struct dev_chain *c, struct dev_ctx *ctx, struct zbuf *xts, uint32_t *count)
{
	size_t i = 0;
	while (i < c->pool.n && *count < DEV_BLOCK_MAX_XTS) {
		struct dev_pxt *first = c->pool.v[i];
		struct dev_account a;
		int exists, rc;
		size_t end = i;
		while (end < c->pool.n && !memcmp(c->pool.v[end]->d.signer, first->d.signer, 32))
			end++;
		if ((rc = dev_account_get(ctx, first->d.signer, &a, &exists)))
			return rc;
		uint64_t want = a.nonce;
		for (size_t j = i; j < end && *count < DEV_BLOCK_MAX_XTS; j++) {
			struct dev_pxt *x = c->pool.v[j];
			int applied;
			if (x->d.nonce < want) {
				log_drop(x, "stale nonce");
				x->done = 1;
				continue;
			}
			if (x->d.nonce > want)
				break; /* a gap: wait for the missing nonce */
			if (xts->len + x->len > DEV_BLOCK_MAX_BYTES)
				return 0;
			if ((rc = apply(c, ctx, x, *count, &applied)))
				return rc;
			x->done = 1;
			if (!applied)
				break;
			if ((rc = zbuf_put(xts, x->bytes, x->len)))
				return rc;
			(*count)++;
			want++;
		}
		i = end;
	}
	return 0;
}

int dev_chain_produce(struct dev_chain *c, uint64_t now_ms, uint32_t *num_out, size_t *nxts)
{
	struct dev_ctx ctx;
	struct zbuf xts, body;
	uint32_t count = 0;
	size_t left = 0;
	uint8_t hash[32], sroot[32];
	int rc;
	int64_t t0 = clk_mono_us();
	pthread_mutex_lock(&c->lock);
	int64_t t1 = clk_mono_us();
	uint32_t num = c->head + 1;
	dev_ctx_init(&ctx, c->store, 1, c->head, &c->params);
	ctx.number = num;
	ctx.now_ms = now_ms > c->last_ts ? now_ms : c->last_ts + 1;
	memcpy(ctx.parent_hash, c->head_hash, 32);
	zbuf_init(&xts, DEV_BLOCK_MAX_BYTES);
	zbuf_init(&body, DEV_BLOCK_MAX_BYTES + 16);

	ctx.phase = DEV_PHASE_INITIALIZATION;
	rc = dev_system_initialize(&ctx);
	for (size_t i = 0; i < dev_npallets && !rc; i++)
		if (dev_pallets[i]->on_initialize)
			rc = run_hook(&ctx, dev_pallets[i], dev_pallets[i]->on_initialize,
				      "on_initialize");
	if (!rc)
		rc = apply_pool(c, &ctx, &xts, &count);
	ctx.phase = DEV_PHASE_FINALIZATION;
	for (size_t i = 0; i < dev_npallets && !rc; i++)
		if (dev_pallets[i]->on_finalize)
			rc = run_hook(&ctx, dev_pallets[i], dev_pallets[i]->on_finalize,
				      "on_finalize");
	if (!rc)
		rc = dev_system_finalize(&ctx);
	if (!rc && !(rc = scale_put_compact(&body, count)))
		rc = zbuf_put(&body, xts.data, xts.len);
	int64_t ts = clk_mono_us();
	if (!rc)
		rc = seal(c, &ctx, num, &body, hash, sroot);
	int64_t te = clk_mono_us();
	if (!rc) {
		c->head = num;
		memcpy(c->head_hash, hash, 32);
		memcpy(c->state_root, sroot, 32);
		c->last_ts = ctx.now_ms;
		dev_pool_sweep(&c->pool);
		left = c->pool.n;
	} else {
		/* Nothing was committed: the extrinsics stay for the next try. */
		for (size_t i = 0; i < c->pool.n; i++)
			c->pool.v[i]->done = 0;
	}
	pthread_mutex_unlock(&c->lock);
	int64_t t2 = clk_mono_us();
	zbuf_free(&xts);
	zbuf_free(&body);
	dev_ctx_free(&ctx);
	if (rc) {
		log_err("devchain", "block %u not produced: %s", num, zerr_str(rc));
		return rc;
	}
	/* The lock wait and the build time: how late a block is, and how long
	 * RPC reads wait behind it. */
	log_info("devchain",
		 "block %u: %u extrinsics (%zu left in the pool), lock wait %.1f ms, built in "
		 "%.1f ms (stored in %.1f ms)",
		 num, count, left, (double)(t1 - t0) / 1e3, (double)(t2 - t1) / 1e3,
		 (double)(te - ts) / 1e3);
	if (num_out)
		*num_out = num;
	if (nxts)
		*nxts = count;
	return 0;
}
