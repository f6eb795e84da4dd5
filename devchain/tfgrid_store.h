/*
 * Typed storage access for TfgridModule and SmartContractModule on top of
 * runtime.h's raw key/value storage. Keys are built exactly like tfchain's
 * (twox128(pallet) ++ twox128(item) ++ Blake2_128Concat(SCALE(key))), so what
 * the pallets write here is what an agent reads from a real tfchain.
 *
 * Getters return 0, ZE_ABSENT when there is no value, ZE_MALFORMED when the
 * stored value does not decode (including trailing bytes), or a storage
 * error. Plain u32/u64 counters read as 0 when absent (their default).
 */
#ifndef ZOS_DEVCHAIN_TFGRID_STORE_H
#define ZOS_DEVCHAIN_TFGRID_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "devchain/runtime.h"
#include "devchain/tfgrid_types.h"

#define DEV_TFGRID_PALLET "TfgridModule"
#define DEV_SC_PALLET "SmartContractModule"
#define DEV_TFGRID_INDEX 11
#define DEV_SC_INDEX 12

/* Bound of the Vec<u64>/Vec<u32> index lists (ActiveNodeContracts...). */
#define DEV_ID_LIST_MAX 65536

/* SCALE (little-endian) encodings of map keys. */
void dev_le32(uint8_t out[4], uint32_t v);
void dev_le64(uint8_t out[8], uint64_t v);

/* Appends the storage key of a plain value (nkeys 0), a Blake2_128Concat
 * map (k1) or double map (k1, k2) to key. */
int dev_key(const char *pallet, const char *item, const void *k1, size_t l1, const void *k2,
	    size_t l2, struct zbuf *key);

/* Plain or single-map u32/u64 values; k may be NULL for a plain value. */
int dev_get_u32(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		size_t klen, uint32_t *v);
int dev_put_u32(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		size_t klen, uint32_t v);
int dev_get_u64(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		size_t klen, uint64_t *v);
int dev_put_u64(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		size_t klen, uint64_t v);
int dev_del(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
	    size_t klen);
/* Next id of a plain counter (TwinID, FarmID, ...): reads, increments,
 * stores. -EOVERFLOW at the type's limit. */
int dev_next_id32(struct dev_ctx *ctx, const char *pallet, const char *item, uint32_t *id);
int dev_next_id64(struct dev_ctx *ctx, const char *pallet, const char *item, uint64_t *id);

/* Vec<u64> under a single-map key: *ids is heap (caller frees), *n = 0 and
 * *ids = NULL when absent. Put with n == 0 deletes the entry. */
int dev_get_u64_list(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		     size_t klen, uint64_t **ids, size_t *n);
int dev_put_u64_list(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		     size_t klen, const uint64_t *ids, size_t n);
/* Adds id (if missing) / removes id (if present). */
int dev_u64_list_add(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		     size_t klen, uint64_t id);
int dev_u64_list_remove(struct dev_ctx *ctx, const char *pallet, const char *item,
			const void *k, size_t klen, uint64_t id);
/* Appends an id the caller just allocated (dev_next_id), so it cannot be in
 * the list yet: no scan of the list for it. */
int dev_u64_list_add_fresh(struct dev_ctx *ctx, const char *pallet, const char *item,
			   const void *k, size_t klen, uint64_t id);
/* Vec<u32> variant (NodesByFarmID). */
int dev_u32_list_add(struct dev_ctx *ctx, const char *pallet, const char *item, const void *k,
		     size_t klen, uint32_t id);
int dev_u32_list_remove(struct dev_ctx *ctx, const char *pallet, const char *item,
			const void *k, size_t klen, uint32_t id);

/* Typed map entries. */
int dev_twin_get(struct dev_ctx *ctx, uint32_t id, struct dev_twin *t);
int dev_twin_put(struct dev_ctx *ctx, const struct dev_twin *t);
/* The twin id of an account; ZE_ABSENT when it has none. */
int dev_twin_id_of(struct dev_ctx *ctx, const uint8_t account[32], uint32_t *id);
int dev_farm_get(struct dev_ctx *ctx, uint32_t id, struct dev_farm *f);
int dev_farm_put(struct dev_ctx *ctx, const struct dev_farm *f);
int dev_node_get(struct dev_ctx *ctx, uint32_t id, struct dev_node *n);
int dev_node_put(struct dev_ctx *ctx, const struct dev_node *n);
int dev_pricing_policy_get(struct dev_ctx *ctx, uint32_t id, struct dev_pricing_policy *p);
int dev_pricing_policy_put(struct dev_ctx *ctx, const struct dev_pricing_policy *p);
/* c must be zeroed or cleared; the caller clears it after use. */
int dev_contract_get(struct dev_ctx *ctx, uint64_t id, struct dev_contract *c);
int dev_contract_put(struct dev_ctx *ctx, const struct dev_contract *c);
int dev_billing_info_get(struct dev_ctx *ctx, uint64_t id, struct dev_billing_info *i);
int dev_billing_info_put(struct dev_ctx *ctx, uint64_t id, const struct dev_billing_info *i);

/* Emits event `variant` of `pallet` with the payload encoded into b (enc_rc
 * is the encoder's result: an encoding error is returned instead), then
 * frees b. Usage: dev_emit_encoded(ctx, p, v, &b, dev_twin_encode(t, &b)). */
int dev_emit_encoded(struct dev_ctx *ctx, uint8_t pallet, uint8_t variant, struct zbuf *b,
		     int enc_rc);

#endif
