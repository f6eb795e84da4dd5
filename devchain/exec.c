/*
 * Execution contexts: reads at a base block through the block and call layers of changes (exec.h).
 */
#include "devchain/exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/scale.h"
#include "common/zerr.h"

/* A block's changes and events stay in memory until commit. */
#define BLOCK_BYTES_MAX (256u << 20)
#define EVENTS_MAX (64u << 20)

void dev_ctx_init(struct dev_ctx *ctx, struct dev_store *store, int has_base, uint32_t base,
		  const struct dev_params *params)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->store = store;
	ctx->has_base = has_base;
	ctx->base = base;
	ctx->params = params;
	ctx->phase = DEV_PHASE_INITIALIZATION;
	dev_changes_init(&ctx->block);
	dev_changes_init(&ctx->call);
	zbuf_init(&ctx->events, EVENTS_MAX);
}

void dev_ctx_free(struct dev_ctx *ctx)
{
	dev_changes_free(&ctx->block);
	dev_changes_free(&ctx->call);
	zbuf_free(&ctx->events);
}

int dev_err_is_resource(int rc)
{
	return rc == -ENOMEM || rc == -EIO || rc == -ENOSPC;
}

void dev_ctx_call_begin(struct dev_ctx *ctx)
{
	dev_changes_clear(&ctx->call);
	ctx->in_call = 1;
	ctx->call_events_len = ctx->events.len;
	ctx->call_nevents = ctx->nevents;
}

int dev_ctx_call_commit(struct dev_ctx *ctx)
{
	ctx->in_call = 0;
	return dev_changes_merge(&ctx->block, &ctx->call);
}

void dev_ctx_call_rollback(struct dev_ctx *ctx)
{
	ctx->in_call = 0;
	dev_changes_clear(&ctx->call);
	ctx->events.len = ctx->call_events_len;
	ctx->nevents = ctx->call_nevents;
}

const uint8_t *dev_origin(const struct dev_ctx *ctx)
{
	return ctx->origin;
}

uint32_t dev_block_number(const struct dev_ctx *ctx)
{
	return ctx->number;
}

uint64_t dev_block_timestamp_ms(const struct dev_ctx *ctx)
{
	return ctx->now_ms;
}

static int check_key(size_t klen)
{
	return klen == 0 || klen > DEV_KEY_MAX ? -EINVAL : 0;
}

/* The call layer's change for key, an append run resolved into a plain
 * value first (readers see whole values). */
static int call_change(struct dev_ctx *ctx, const uint8_t *key, size_t klen,
                       const struct dev_change **out)
{
	struct dev_change *e = ctx->in_call ? dev_changes_find_mut(&ctx->call, key, klen) : NULL;
	*out = e;
	if (!e || !e->append)
		return 0;
	return dev_changes_resolve_run(&ctx->call, e, dev_changes_find(&ctx->block, key, klen));
}

/* Runs under prefix resolved, before a walk of the call layer. */
static int resolve_runs(struct dev_ctx *ctx, const uint8_t *prefix, size_t plen)
{
	for (size_t i = 0; ctx->in_call && i < ctx->call.n; i++) {
		struct dev_change *e = &ctx->call.v[i];
		if (!e->append || e->klen < plen || memcmp(e->key, prefix, plen))
			continue;
		int rc = dev_changes_resolve_run(&ctx->call, e,
		                                 dev_changes_find(&ctx->block, e->key, e->klen));
		if (rc)
			return rc;
	}
	return 0;
}

/* The overlay's change for key (call layer first), or NULL when it says
 * nothing of the key. */
static int overlay_change(struct dev_ctx *ctx, const uint8_t *key, size_t klen,
                          const struct dev_change **c)
{
	int rc;
	*c = NULL;
	if (check_key(klen))
		return -EINVAL;
	if ((rc = call_change(ctx, key, klen, c)))
		return rc;
	if (!*c)
		*c = dev_changes_find(&ctx->block, key, klen);
	return 0;
}

int dev_storage_get(struct dev_ctx *ctx, const uint8_t *key, size_t klen, struct zbuf *val)
{
	const struct dev_change *c;
	int rc = overlay_change(ctx, key, klen, &c);
	if (rc)
		return rc;
	if (c)
		return c->deleted ? ZE_ABSENT : zbuf_put(val, c->val, c->vlen);
	if (!ctx->has_base)
		return ZE_ABSENT;
	return dev_store_get(ctx->store, ctx->base, key, klen, val);
}

int dev_storage_exists(struct dev_ctx *ctx, const uint8_t *key, size_t klen)
{
	struct zbuf v;
	zbuf_init(&v, DEV_VALUE_MAX);
	int rc = dev_storage_get(ctx, key, klen, &v);
	zbuf_free(&v);
	if (rc == ZE_ABSENT)
		return 0;
	return rc ? rc : 1;
}

static struct dev_changes *layer(struct dev_ctx *ctx)
{
	return ctx->in_call ? &ctx->call : &ctx->block;
}

int dev_storage_put(struct dev_ctx *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
		    size_t vlen)
{
	static const uint8_t empty;
	if (check_key(klen) || vlen > DEV_VALUE_MAX)
		return -EINVAL;
	if (ctx->block.bytes + ctx->call.bytes > BLOCK_BYTES_MAX)
		return ZE_TOOBIG;
	return dev_changes_set(layer(ctx), key, klen, vlen ? val : &empty, vlen);
}

int dev_storage_peek(struct dev_ctx *ctx, const uint8_t *key, size_t klen, const uint8_t **val,
		     size_t *vlen)
{
	const struct dev_change *c;
	int rc = overlay_change(ctx, key, klen, &c);
	*val = NULL;
	*vlen = 0;
	if (rc)
		return rc;
	if (!c)
		return 0;
	if (c->deleted)
		return ZE_ABSENT;
	*val = c->val;
	*vlen = c->vlen;
	return 0;
}

int dev_storage_put_owned(struct dev_ctx *ctx, const uint8_t *key, size_t klen, uint8_t *val,
			  size_t vlen)
{
	if (check_key(klen) || vlen > DEV_VALUE_MAX || !val) {
		free(val);
		return -EINVAL;
	}
	if (ctx->block.bytes + ctx->call.bytes > BLOCK_BYTES_MAX) {
		free(val);
		return ZE_TOOBIG;
	}
	return dev_changes_set_owned_val(layer(ctx), key, klen, val, vlen);
}

int dev_storage_vec_append(struct dev_ctx *ctx, const uint8_t *key, size_t klen,
                           const uint8_t *elem, size_t esz, size_t max)
{
	struct dev_changes *l = layer(ctx);
	int rc;
	if (check_key(klen) || esz == 0 || max > (DEV_VALUE_MAX - 4) / esz)
		return -EINVAL;
	if (ctx->block.bytes + ctx->call.bytes > BLOCK_BYTES_MAX)
		return ZE_TOOBIG;
	struct dev_change *e = dev_changes_find_mut(l, key, klen);
	if (e && !e->append && !e->deleted)
		return dev_changes_vec_append(l, e, elem, 1, esz, max);
	const struct dev_change *b =
	    l == &ctx->call && (!e || e->append) ? dev_changes_find(&ctx->block, key, klen) : NULL;
	if (e && e->append && (!b || b->deleted))
		return -EINVAL; /* a run is only made over the block's Vec */
	if (b && !b->deleted) {
		/* The block holds the Vec: record the element in a run the merge
		 * appends in place, so a failed call leaves the block's value as
		 * it was. The count bound is checked now, against both. */
		size_t count, run = e ? e->vlen / esz : 0;
		if ((rc = dev_vec_count(b->val, b->vlen, esz, &count)) < 0)
			return rc;
		return count + run >= max ? ZE_TOOBIG
		                          : dev_changes_append_run(l, key, klen, elem, esz);
	}
	/* First append to key in this block (or after its deletion): the
	 * value as stored, plus the element, as a plain change. */
	struct zbuf v;
	size_t count = 0;
	zbuf_init(&v, DEV_VALUE_MAX);
	rc = e || (b && b->deleted) || !ctx->has_base
	         ? ZE_ABSENT
	         : dev_store_get(ctx->store, ctx->base, key, klen, &v);
	if (rc == ZE_ABSENT)
		rc = scale_put_compact(&v, 0);
	if (rc == 0)
		rc = dev_vec_count(v.data, v.len, esz, &count);
	if (rc == 0 && count >= max)
		rc = ZE_TOOBIG;
	if (rc == 0 && (rc = dev_changes_set(l, key, klen, v.data, v.len)) == 0)
		rc = dev_changes_vec_append(l, dev_changes_find_mut(l, key, klen), elem, 1, esz,
		                            max);
	zbuf_free(&v);
	return rc;
}

int dev_storage_delete(struct dev_ctx *ctx, const uint8_t *key, size_t klen)
{
	if (check_key(klen))
		return -EINVAL;
	return dev_changes_set(layer(ctx), key, klen, NULL, 0);
}

static int snap_add(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	return dev_changes_set(arg, key, klen, val, vlen);
}

static int has_prefix(const struct dev_change *c, const uint8_t *prefix, size_t plen)
{
	return c->klen >= plen && memcmp(c->key, prefix, plen) == 0;
}

static int overlay(struct dev_changes *snap, const struct dev_changes *l, const uint8_t *prefix,
		   size_t plen)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct dev_change *c = &l->v[i];
		if (!has_prefix(c, prefix, plen))
			continue;
		int rc = dev_changes_set(snap, c->key, c->klen, c->deleted ? NULL : c->val, c->vlen);
		if (rc)
			return rc;
	}
	return 0;
}

int dev_storage_iter(struct dev_ctx *ctx, const uint8_t *prefix, size_t plen, dev_iter_fn fn,
		     void *arg)
{
	struct dev_changes snap;
	int rc = 0;
	if (plen > DEV_KEY_MAX)
		return -EINVAL;
	dev_changes_init(&snap);
	if ((rc = resolve_runs(ctx, prefix, plen)))
		return rc;
	if (ctx->has_base)
		rc = dev_store_scan(ctx->store, ctx->base, prefix, plen, NULL, 0, SIZE_MAX, snap_add,
				    &snap);
	if (!rc)
		rc = overlay(&snap, &ctx->block, prefix, plen);
	if (!rc && ctx->in_call)
		rc = overlay(&snap, &ctx->call, prefix, plen);
	dev_changes_sort(&snap);
	for (size_t i = 0; i < snap.n && !rc; i++) {
		const struct dev_change *c = &snap.v[i];
		if (c->deleted)
			continue;
		rc = fn(arg, c->key, c->klen, c->val, c->vlen);
	}
	dev_changes_free(&snap);
	return rc > 0 ? 0 : rc;
}

int dev_event_emit(struct dev_ctx *ctx, uint8_t pallet_index, uint8_t variant,
		   const uint8_t *payload, size_t len)
{
	size_t mark = ctx->events.len;
	int rc = scale_put_u8(&ctx->events, (uint8_t)ctx->phase);
	if (!rc && ctx->phase == DEV_PHASE_APPLY)
		rc = scale_put_u32(&ctx->events, ctx->xt_index);
	if (!rc)
		rc = scale_put_u8(&ctx->events, pallet_index);
	if (!rc)
		rc = scale_put_u8(&ctx->events, variant);
	if (!rc && len)
		rc = scale_put_bytes(&ctx->events, payload, len);
	if (!rc)
		rc = scale_put_compact(&ctx->events, 0); /* topics */
	if (rc) {
		ctx->events.len = mark;
		return rc;
	}
	ctx->nevents++;
	return 0;
}

int dev_ctx_events_value(const struct dev_ctx *ctx, struct zbuf *out)
{
	int rc = scale_put_compact(out, ctx->nevents);
	return rc ? rc : zbuf_put(out, ctx->events.data, ctx->events.len);
}
