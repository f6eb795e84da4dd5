/* Typed storage access of the grid pallets (see tfgrid_store.h). */
#include "devchain/tfgrid_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/hash.h"
#include "common/zerr.h"

void dev_le32(uint8_t out[4], uint32_t v)
{
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

void dev_le64(uint8_t out[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

int dev_key(const char *pallet, const char *item, const void *k1, size_t l1, const void *k2,
	    size_t l2, struct zbuf *key)
{
	static const enum chain_hasher h[2] = {CHAIN_HASHER_BLAKE2_128_CONCAT,
					       CHAIN_HASHER_BLAKE2_128_CONCAT};
	const uint8_t *keys[2] = {k1, k2};
	size_t lens[2] = {l1, l2};
	size_t nkeys = k1 ? (k2 ? 2 : 1) : 0;
	return chain_storage_key(pallet, item, nkeys, h, keys, lens, key);
}

/* Reads the value under key into a fresh buffer that the caller frees. */
static int read_key(struct dev_ctx *ctx, const struct zbuf *key, struct zbuf *val)
{
	zbuf_init(val, DEV_VALUE_MAX);
	int rc = dev_storage_get(ctx, key->data, key->len, val);
	if (rc)
		zbuf_free(val);
	return rc;
}

typedef int (*dec_fn)(struct scale_rd *r, void *out);

/* Reads and decodes one value; the whole value must be consumed. */
static int get_decoded(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		       size_t klen, dec_fn dec, void *out)
{
	struct zbuf key, val;
	struct scale_rd r;
	int rc;

	zbuf_init(&key, DEV_KEY_MAX);
	if ((rc = dev_key(pallet, item, k, klen, NULL, 0, &key)))
		goto out;
	if ((rc = read_key(ctx, &key, &val)))
		goto out;
	scale_rd_init(&r, val.data, val.len);
	rc = dec(&r, out);
	if (rc == 0 && scale_rd_left(&r) != 0)
		rc = ZE_MALFORMED;
	zbuf_free(&val);
out:
	zbuf_free(&key);
	return rc;
}

static int put_raw(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		   size_t klen, const struct zbuf *val)
{
	struct zbuf key;
	int rc;

	zbuf_init(&key, DEV_KEY_MAX);
	rc = dev_key(pallet, item, k, klen, NULL, 0, &key);
	if (rc == 0)
		rc = dev_storage_put(ctx, key.data, key.len, val->data, val->len);
	zbuf_free(&key);
	return rc;
}

int dev_del(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
	    size_t klen)
{
	struct zbuf key;
	int rc;

	zbuf_init(&key, DEV_KEY_MAX);
	rc = dev_key(pallet, item, k, klen, NULL, 0, &key);
	if (rc == 0)
		rc = dev_storage_delete(ctx, key.data, key.len);
	zbuf_free(&key);
	return rc;
}

static int dec_u32(struct scale_rd *r, void *out)
{
	return scale_get_u32(r, out);
}

static int dec_u64(struct scale_rd *r, void *out)
{
	return scale_get_u64(r, out);
}

int dev_get_u32(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		size_t klen, uint32_t *v)
{
	int rc = get_decoded(ctx, pallet, item, k, klen, dec_u32, v);
	if (rc == ZE_ABSENT && !k) {
		*v = 0;
		return 0;
	}
	return rc;
}

int dev_get_u64(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		size_t klen, uint64_t *v)
{
	int rc = get_decoded(ctx, pallet, item, k, klen, dec_u64, v);
	if (rc == ZE_ABSENT && !k) {
		*v = 0;
		return 0;
	}
	return rc;
}

/* A u32 (width 4) or u64 (width 8) value, little-endian as SCALE has it. */
static int put_uint(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
                    size_t klen, uint64_t v, int width)
{
	struct zbuf b;
	zbuf_init(&b, 16);
	int rc = width == 4 ? scale_put_u32(&b, (uint32_t)v) : scale_put_u64(&b, v);
	if (rc == 0)
		rc = put_raw(ctx, pallet, item, k, klen, &b);
	zbuf_free(&b);
	return rc;
}

int dev_put_u32(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		size_t klen, uint32_t v)
{
	return put_uint(ctx, pallet, item, k, klen, v, 4);
}

int dev_put_u64(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		size_t klen, uint64_t v)
{
	return put_uint(ctx, pallet, item, k, klen, v, 8);
}

/* Reads, increments and stores a plain counter of the given width. */
static int next_id(struct dev_ctx *ctx, const char *pallet, const char *item, int width,
                   uint64_t *id)
{
	uint64_t v = 0, max = width == 4 ? UINT32_MAX : UINT64_MAX;
	uint32_t v32;
	int rc = width == 4 ? dev_get_u32(ctx, pallet, item, NULL, 0, &v32)
	                    : dev_get_u64(ctx, pallet, item, NULL, 0, &v);
	if (rc)
		return rc;
	if (width == 4)
		v = v32;
	if (v == max)
		return -EOVERFLOW;
	if ((rc = put_uint(ctx, pallet, item, NULL, 0, v + 1, width)))
		return rc;
	*id = v + 1;
	return 0;
}

int dev_next_id32(struct dev_ctx *ctx, const char *pallet, const char *item, uint32_t *id)
{
	uint64_t v;
	int rc = next_id(ctx, pallet, item, 4, &v);
	if (rc == 0)
		*id = (uint32_t)v;
	return rc;
}

int dev_next_id64(struct dev_ctx *ctx, const char *pallet, const char *item, uint64_t *id)
{
	return next_id(ctx, pallet, item, 8, id);
}

/* ---- Id lists ------------------------------------------------------------ */

struct id_list {
	uint64_t *ids;
	size_t n;
	int wide; /* 1: Vec<u64>, 0: Vec<u32> */
};

static int dec_id_list(struct scale_rd *r, void *out)
{
	struct id_list *l = out;
	size_t n, w = l->wide ? 8 : 4;
	int rc = scale_get_len(r, DEV_ID_LIST_MAX, w, &n);
	if (rc)
		return rc;
	l->ids = calloc(n ? n : 1, sizeof(*l->ids));
	if (!l->ids)
		return -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t v32;
		if (l->wide)
			rc = scale_get_u64(r, &l->ids[i]);
		else if ((rc = scale_get_u32(r, &v32)) == 0)
			l->ids[i] = v32;
	}
	if (rc) {
		free(l->ids);
		l->ids = NULL;
		return rc;
	}
	l->n = n;
	return 0;
}

static int get_list(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		    size_t klen, struct id_list *l)
{
	l->ids = NULL;
	l->n = 0;
	int rc = get_decoded(ctx, pallet, item, k, klen, dec_id_list, l);
	if (rc) {
		free(l->ids);
		l->ids = NULL;
		l->n = 0;
	}
	return rc == ZE_ABSENT ? 0 : rc;
}

static int put_list(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		    size_t klen, const struct id_list *l)
{
	struct zbuf b;
	int rc;

	if (l->n == 0)
		return dev_del(ctx, pallet, item, k, klen);
	if (l->n > DEV_ID_LIST_MAX)
		return ZE_TOOBIG;
	zbuf_init(&b, 0);
	rc = scale_put_compact(&b, l->n);
	for (size_t i = 0; i < l->n && rc == 0; i++)
		rc = l->wide ? scale_put_u64(&b, l->ids[i]) : scale_put_u32(&b, (uint32_t)l->ids[i]);
	if (rc == 0)
		rc = put_raw(ctx, pallet, item, k, klen, &b);
	zbuf_free(&b);
	return rc;
}

int dev_get_u64_list(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		     size_t klen, uint64_t **ids, size_t *n)
{
	struct id_list l = {.wide = 1};
	int rc = get_list(ctx, pallet, item, k, klen, &l);
	if (rc)
		return rc;
	*ids = l.ids;
	*n = l.n;
	return 0;
}

int dev_put_u64_list(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		     size_t klen, const uint64_t *ids, size_t n)
{
	struct id_list l = {.ids = (uint64_t *)ids, .n = n, .wide = 1};
	return put_list(ctx, pallet, item, k, klen, &l);
}

/* Element i of a raw Vec<u64> (wide) or Vec<u32> body, little-endian. */
static uint64_t raw_id(const uint8_t *p, size_t i, int wide)
{
	size_t w = wide ? 8 : 4;
	uint64_t v = 0;

	for (size_t b = w; b-- > 0;)
		v = v << 8 | p[i * w + b];
	return v;
}

/*
 * The list under key as its SCALE bytes (compact length, then the
 * elements), read in place from the block's overlay when it is there, else
 * from the store into val: *body its n elements (n = 0 when absent). Id
 * lists are changed on these bytes as they are, not decoded into an array
 * and re-encoded element by element, which made every change cost ten times
 * more per id already in the list.
 */
static int raw_list(struct dev_ctx *ctx, const struct zbuf *key, int wide, struct zbuf *val,
                    const uint8_t **body, size_t *n)
{
	struct scale_rd r;
	size_t w = wide ? 8 : 4, vlen = 0;
	const uint8_t *v = NULL;
	*body = NULL;
	*n = 0;
	int rc = dev_storage_peek(ctx, key->data, key->len, &v, &vlen);
	if (rc == 0 && !v) {
		/* Not in this block yet: read it from the store once. */
		rc = dev_storage_get(ctx, key->data, key->len, val);
		v = val->data;
		vlen = val->len;
	}
	if (rc == ZE_ABSENT)
		return 0;
	if (rc)
		return rc;
	scale_rd_init(&r, v, vlen);
	if ((rc = scale_get_len(&r, DEV_ID_LIST_MAX, w, n)))
		return rc;
	if (scale_rd_left(&r) != *n * w)
		return ZE_MALFORMED;
	*body = v + r.off;
	return 0;
}

/* The list of n elements at body with id appended, unless it is there
 * (*changed = 0). */
static int with_id(const uint8_t *body, size_t n, uint64_t id, int wide, struct zbuf *out,
                   int *changed)
{
	size_t w = wide ? 8 : 4;
	int rc;
	for (size_t i = 0; i < n; i++)
		if (raw_id(body, i, wide) == id)
			return 0;
	if (n >= DEV_ID_LIST_MAX)
		return ZE_TOOBIG;
	*changed = 1;
	if ((rc = zbuf_reserve(out, 9 + (n + 1) * w)) || (rc = scale_put_compact(out, n + 1)) ||
	    (n && (rc = zbuf_put(out, body, n * w))))
		return rc;
	return wide ? scale_put_u64(out, id) : scale_put_u32(out, (uint32_t)id);
}

/* The list without any occurrence of id, copying the runs between them;
 * out stays empty when nothing is left (*changed = 0 when id is absent). */
static int without_id(const uint8_t *body, size_t n, uint64_t id, int wide, struct zbuf *out,
                      int *changed)
{
	size_t w = wide ? 8 : 4, kept = 0;
	int rc;
	for (size_t i = 0; i < n; i++)
		kept += raw_id(body, i, wide) != id;
	*changed = kept != n;
	if (kept == n || kept == 0)
		return 0;
	if ((rc = zbuf_reserve(out, 9 + kept * w)) || (rc = scale_put_compact(out, kept)))
		return rc;
	for (size_t i = 0, run = 0; i <= n && rc == 0; i++) {
		if (i < n && raw_id(body, i, wide) != id)
			continue;
		if (i > run)
			rc = zbuf_put(out, body + run * w, (i - run) * w);
		run = i + 1;
	}
	return rc;
}

/* Adds id to (remove = 0) or removes it from the list: the new value is
 * handed to the overlay without another copy, so a change copies the list
 * once; an emptied list is deleted. */
static int list_edit(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
                     size_t klen, uint64_t id, int wide, int remove)
{
	struct zbuf key, val, out;
	size_t n = 0;
	const uint8_t *body = NULL;
	int rc, changed = 0;

	zbuf_init(&key, DEV_KEY_MAX);
	zbuf_init(&out, DEV_VALUE_MAX);
	zbuf_init(&val, DEV_VALUE_MAX);
	if ((rc = dev_key(pallet, item, k, klen, NULL, 0, &key)) == 0 &&
	    (rc = raw_list(ctx, &key, wide, &val, &body, &n)) == 0)
		rc = remove ? without_id(body, n, id, wide, &out, &changed)
		            : with_id(body, n, id, wide, &out, &changed);
	if (rc == 0 && changed && out.len == 0) {
		rc = dev_storage_delete(ctx, key.data, key.len);
	} else if (rc == 0 && changed) {
		size_t olen;
		uint8_t *o = zbuf_steal(&out, &olen);
		rc = o ? dev_storage_put_owned(ctx, key.data, key.len, o, olen) : -ENOMEM;
	}
	zbuf_free(&key);
	zbuf_free(&val);
	zbuf_free(&out);
	return rc;
}

int dev_u64_list_add(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		     size_t klen, uint64_t id)
{
	return list_edit(ctx, pallet, item, k, klen, id, 1, 0);
}

int dev_u64_list_add_fresh(struct dev_ctx *ctx, const char *pallet, const char *item,
			   const void *k, size_t klen, uint64_t id)
{
	struct zbuf key;
	uint8_t le[8];
	zbuf_init(&key, DEV_KEY_MAX);
	dev_le64(le, id);
	int rc = dev_key(pallet, item, k, klen, NULL, 0, &key);
	if (rc == 0)
		rc = dev_storage_vec_append(ctx, key.data, key.len, le, sizeof le, DEV_ID_LIST_MAX);
	zbuf_free(&key);
	return rc;
}

int dev_u32_list_add(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		     size_t klen, uint32_t id)
{
	return list_edit(ctx, pallet, item, k, klen, id, 0, 0);
}

int dev_u64_list_remove(struct dev_ctx *ctx, const char *pallet, const char *item,
			const void *k, size_t klen, uint64_t id)
{
	return list_edit(ctx, pallet, item, k, klen, id, 1, 1);
}

int dev_u32_list_remove(struct dev_ctx *ctx, const char *pallet, const char *item,
			const void *k, size_t klen, uint32_t id)
{
	return list_edit(ctx, pallet, item, k, klen, id, 0, 1);
}

/* ---- Typed entries ------------------------------------------------------- */

#define CODEC(name, type)                                                    \
	static int dec_##name(struct scale_rd *r, void *out)                 \
	{                                                                    \
		return dev_##name##_decode(r, (type *)out);                  \
	}                                                                    \
	static int put_##name(struct dev_ctx *ctx, const char *pallet,       \
			      const char *item, const void *k, size_t klen,  \
			      const type *obj)                               \
	{                                                                    \
		struct zbuf b;                                               \
		zbuf_init(&b, 0);                                            \
		int rc = dev_##name##_encode(obj, &b);                       \
		if (rc == 0)                                                 \
			rc = put_raw(ctx, pallet, item, k, klen, &b);        \
		zbuf_free(&b);                                               \
		return rc;                                                   \
	}

CODEC(twin, struct dev_twin)
CODEC(farm, struct dev_farm)
CODEC(node, struct dev_node)
CODEC(pricing_policy, struct dev_pricing_policy)
CODEC(contract, struct dev_contract)
CODEC(billing_info, struct dev_billing_info)

/* get and put of a map entry keyed by its own u32 id field. */
#define ENTRY32(name, type, pallet, item)                                          \
	int dev_##name##_get(struct dev_ctx *ctx, uint32_t id, type *out)          \
	{                                                                          \
		uint8_t k[4];                                                      \
		dev_le32(k, id);                                                   \
		return get_decoded(ctx, pallet, item, k, 4, dec_##name, out);      \
	}                                                                          \
	int dev_##name##_put(struct dev_ctx *ctx, const type *obj)                 \
	{                                                                          \
		uint8_t k[4];                                                      \
		dev_le32(k, obj->id);                                              \
		return put_##name(ctx, pallet, item, k, 4, obj);                   \
	}

ENTRY32(twin, struct dev_twin, DEV_TFGRID_PALLET, "Twins")
ENTRY32(farm, struct dev_farm, DEV_TFGRID_PALLET, "Farms")
ENTRY32(node, struct dev_node, DEV_TFGRID_PALLET, "Nodes")
ENTRY32(pricing_policy, struct dev_pricing_policy, DEV_TFGRID_PALLET, "PricingPolicies")

int dev_twin_id_of(struct dev_ctx *ctx, const uint8_t account[32], uint32_t *id)
{
	return dev_get_u32(ctx, DEV_TFGRID_PALLET, "TwinIdByAccountID", account, 32, id);
}

int dev_contract_get(struct dev_ctx *ctx, uint64_t id, struct dev_contract *c)
{
	uint8_t k[8];
	dev_le64(k, id);
	int rc = get_decoded(ctx, DEV_SC_PALLET, "Contracts", k, 8, dec_contract, c);
	/* A decoded contract that then failed the trailing-bytes check still
	 * owns its deployment data. */
	if (rc)
		dev_contract_clear(c);
	return rc;
}

int dev_contract_put(struct dev_ctx *ctx, const struct dev_contract *c)
{
	uint8_t k[8];
	dev_le64(k, c->contract_id);
	return put_contract(ctx, DEV_SC_PALLET, "Contracts", k, 8, c);
}

int dev_billing_info_get(struct dev_ctx *ctx, uint64_t id, struct dev_billing_info *i)
{
	uint8_t k[8];
	dev_le64(k, id);
	return get_decoded(ctx, DEV_SC_PALLET, "ContractBillingInformationByID", k, 8,
			   dec_billing_info, i);
}

int dev_billing_info_put(struct dev_ctx *ctx, uint64_t id, const struct dev_billing_info *i)
{
	uint8_t k[8];
	dev_le64(k, id);
	return put_billing_info(ctx, DEV_SC_PALLET, "ContractBillingInformationByID", k, 8, i);
}

int dev_emit_encoded(struct dev_ctx *ctx, uint8_t pallet, uint8_t variant, struct zbuf *b,
		     int enc_rc)
{
	int rc = enc_rc ? enc_rc : dev_event_emit(ctx, pallet, variant, b->data, b->len);
	zbuf_free(b);
	return rc;
}
