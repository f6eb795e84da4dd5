/*
 * tfchain-dev runtime framework: what a pallet sees.
 *
 * A pallet is a const struct dev_pallet: a name and index (as in the
 * runtime metadata), a dispatch table of calls, optional genesis and block
 * hooks, and a describe() callback that declares its types, storage, calls,
 * events, errors and constants for the v14 metadata.
 *
 * Everything a call does goes through a struct dev_ctx: storage reads and
 * writes land in a transactional overlay that is discarded when the call
 * fails, events are tagged with the phase (extrinsic index, initialization
 * or finalization), and the block's changes reach SQLite in one transaction.
 *
 * Errors: 0 or a negative code. A call fails the extrinsic
 * (ExtrinsicFailed, state rolled back, fee and nonce kept) by returning
 *   DEV_MODULE_ERR(n)   -> DispatchError::Module{index: pallet, error: [n,0,0,0]}
 *   DEV_ERR_BAD_ORIGIN  -> DispatchError::BadOrigin
 *   any other ZE_* code  -> DispatchError::Other
 * Resource errors (-ENOMEM, -EIO, -ENOSPC from storage) abort the whole
 * block instead: nothing of it is committed and production retries.
 */
#ifndef ZOS_DEVCHAIN_RUNTIME_H
#define ZOS_DEVCHAIN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "chainclient/scale.h"
#include "common/buf.h"

struct dev_ctx;   /* one block's (or one call's) execution context */
struct dev_types; /* the metadata type registry */
struct dev_meta;  /* the metadata being described */

/* ---- Errors a call returns ------------------------------------------- */

#define DEV_ERR_MODULE_BASE (1 << 20)
/* Pallet error n (its index in the pallet's Error variant, 0..255). */
#define DEV_MODULE_ERR(n) (-(DEV_ERR_MODULE_BASE + (int)(uint8_t)(n)))
#define DEV_IS_MODULE_ERR(rc) ((rc) <= -DEV_ERR_MODULE_BASE && (rc) > -(DEV_ERR_MODULE_BASE + 256))
#define DEV_MODULE_ERR_INDEX(rc) ((uint8_t)(-(rc) - DEV_ERR_MODULE_BASE))
#define DEV_ERR_BAD_ORIGIN (-(DEV_ERR_MODULE_BASE + 256))

/* ---- Execution context ------------------------------------------------ */

/* The signer of the extrinsic being applied, or NULL in hooks and genesis.
 * The pointer stays valid for the call. */
const uint8_t *dev_origin(const struct dev_ctx *ctx);
uint32_t dev_block_number(const struct dev_ctx *ctx);
/* Timestamp.Now of the block being built, in milliseconds since the epoch. */
uint64_t dev_block_timestamp_ms(const struct dev_ctx *ctx);

/* Storage by raw key (build keys with chainclient/hash.h chain_storage_key).
 * get appends the value to *val (caller owns val) and returns ZE_ABSENT
 * when there is none; keys are at most DEV_KEY_MAX bytes, values at most
 * DEV_VALUE_MAX. Reads see this block's and this call's earlier writes. */
#define DEV_KEY_MAX 1024
#define DEV_VALUE_MAX (1u << 20)
int dev_storage_get(struct dev_ctx *ctx, const uint8_t *key, size_t klen, struct zbuf *val);
/* 1 when key has a value, 0 when not, or a negative error. */
int dev_storage_exists(struct dev_ctx *ctx, const uint8_t *key, size_t klen);
int dev_storage_put(struct dev_ctx *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
		    size_t vlen);
int dev_storage_delete(struct dev_ctx *ctx, const uint8_t *key, size_t klen);
/*
 * For big values rewritten often (id lists): peek sets *val to the value as
 * this block's overlay holds it, without a copy (valid until the next
 * write), or to NULL when the overlay says nothing of the key (read it with
 * dev_storage_get then); ZE_ABSENT when the overlay holds its deletion.
 * put_owned stores val (malloc'd) without copying it and frees it on
 * failure.
 */
int dev_storage_peek(struct dev_ctx *ctx, const uint8_t *key, size_t klen, const uint8_t **val,
		     size_t *vlen);
int dev_storage_put_owned(struct dev_ctx *ctx, const uint8_t *key, size_t klen, uint8_t *val,
			  size_t vlen);
/*
 * Appends one element of esz bytes to the SCALE Vec stored at key (absent:
 * a Vec of one), at most max elements (ZE_TOOBIG beyond); ZE_MALFORMED
 * when the value is not a Vec of esz-byte elements. The stored bytes are
 * those of a get, append and put; the cost is constant once the block
 * holds the value (the first append to a key in a block copies it), where
 * get and put copy the whole Vec each time.
 */
int dev_storage_vec_append(struct dev_ctx *ctx, const uint8_t *key, size_t klen,
                           const uint8_t *elem, size_t esz, size_t max);

/* Called once per key under prefix, in key order, on a snapshot taken when
 * the iteration starts (so the callback may write storage). A callback
 * returns 0 to go on, 1 to stop early, or a negative error that stops the
 * iteration and is returned. */
typedef int (*dev_iter_fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
			   size_t vlen);
int dev_storage_iter(struct dev_ctx *ctx, const uint8_t *prefix, size_t plen, dev_iter_fn fn,
		     void *arg);

/* Deposits an event: RuntimeEvent = pallet_index ++ variant ++ payload
 * (the variant's SCALE fields), with the current phase and no topics. */
int dev_event_emit(struct dev_ctx *ctx, uint8_t pallet_index, uint8_t variant,
		   const uint8_t *payload, size_t len);

/* ---- Balances ----------------------------------------------------------- */

/* TFT has 7 decimals; balances are u128 in units of 10^-7 TFT. */
typedef scale_u128 dev_balance;

/* Free balance (0 for an account that does not exist). */
int dev_balance_free(struct dev_ctx *ctx, const uint8_t who[32], dev_balance *free);
/* Moves amount; keep_alive refuses to take `from` below the existential
 * deposit. Emits Balances.Transfer (and Endowed/NewAccount for a new `to`).
 * Fails with Balances module errors (InsufficientBalance, ExistentialDeposit,
 * Expendability) without changing anything. */
int dev_balance_transfer(struct dev_ctx *ctx, const uint8_t from[32], const uint8_t to[32],
			 dev_balance amount, int keep_alive);
/* Burns amount from who (Balances.Withdraw), keeping who alive. */
int dev_balance_withdraw(struct dev_ctx *ctx, const uint8_t who[32], dev_balance amount);
/* Mints amount into who (Balances.Deposit; creates the account). */
int dev_balance_deposit(struct dev_ctx *ctx, const uint8_t who[32], dev_balance amount);

/* ---- Metadata description --------------------------------------------- */

/* Type ids index the portable registry. The builder functions record the
 * first error in the registry (sticky, as with stdio's ferror) and then
 * return DEV_TYPE_NONE; the framework checks it once after describe(), so a
 * pallet's describe() may chain calls without testing each one. Types with a
 * path ("sp_core::crypto::AccountId32") are registered once: describing the
 * same path again returns the first id. */
typedef uint32_t dev_type;
#define DEV_TYPE_NONE UINT32_MAX

struct dev_field {
	const char *name;      /* NULL for a tuple-like (unnamed) field */
	dev_type type;
	const char *type_name; /* Rust type name shown by tools, may be NULL */
};

struct dev_variant {
	const char *name;
	uint8_t index;
	size_t nfields;
	const struct dev_field *fields;
};

dev_type dev_type_bool(struct dev_types *r);
dev_type dev_type_str(struct dev_types *r);
dev_type dev_type_u8(struct dev_types *r);
dev_type dev_type_u16(struct dev_types *r);
dev_type dev_type_u32(struct dev_types *r);
dev_type dev_type_u64(struct dev_types *r);
dev_type dev_type_u128(struct dev_types *r);
dev_type dev_type_compact(struct dev_types *r, dev_type of);
dev_type dev_type_vec(struct dev_types *r, dev_type of);
dev_type dev_type_array(struct dev_types *r, uint32_t len, dev_type of);
dev_type dev_type_tuple(struct dev_types *r, size_t n, const dev_type *items);
/* Option<T> (Rust path "Option", variants None = 0, Some(T) = 1). */
dev_type dev_type_option(struct dev_types *r, dev_type of);
/* path: Rust path joined by "::"; NULL for none. */
dev_type dev_type_composite(struct dev_types *r, const char *path, size_t nfields,
			    const struct dev_field *fields);
dev_type dev_type_variant(struct dev_types *r, const char *path, size_t nvariants,
			  const struct dev_variant *variants);
/* Shared Substrate types: AccountId32 ([u8;32]), H256, Vec<u8>, the
 * Balance (u128). */
dev_type dev_type_account_id(struct dev_types *r);
dev_type dev_type_h256(struct dev_types *r);
dev_type dev_type_bytes(struct dev_types *r);
dev_type dev_type_balance(struct dev_types *r);

enum dev_storage_modifier { DEV_STORAGE_OPTIONAL = 0, DEV_STORAGE_DEFAULT = 1 };

struct dev_storage_desc {
	const char *name;
	enum dev_storage_modifier modifier;
	size_t nkeys;             /* 0 = plain value */
	const uint8_t *hashers;   /* nkeys enum chain_hasher values */
	const dev_type *keys;     /* nkeys key types */
	dev_type value;
	const uint8_t *def;       /* SCALE default (for DEV_STORAGE_DEFAULT) */
	size_t deflen;
};

/* The registry describe() builds into. */
struct dev_types *dev_meta_types(struct dev_meta *m);
/* A call: its index and name must match the pallet's dispatch table. */
void dev_meta_call(struct dev_meta *m, const char *name, uint8_t index, size_t nargs,
		   const struct dev_field *args);
/* The same with the index taken from the dispatch table (struct
 * dev_pallet.calls), which then is the one place that says it; a name the
 * table does not have fails the build. */
void dev_meta_call_args(struct dev_meta *m, const char *name, size_t nargs,
                        const struct dev_field *args);
void dev_meta_storage(struct dev_meta *m, const struct dev_storage_desc *d);
/* The pallet's Event type: a variant type from dev_type_variant. */
void dev_meta_events(struct dev_meta *m, dev_type event_variant);
/* The pallet's Error type: error names in index order (0, 1, ...). */
void dev_meta_errors(struct dev_meta *m, size_t n, const char *const *names);
/* A constant: its type and SCALE value (copied). */
void dev_meta_constant(struct dev_meta *m, const char *name, dev_type type, const uint8_t *val,
		       size_t len);

/* ---- Pallets ------------------------------------------------------------ */

/* Signed calls pay a fee; DEV_CALL_FREE calls (node reports) do not. */
#define DEV_CALL_FREE 0x1u

/* A call's arguments were checked against their described types before
 * the call runs (the extrinsic is refused otherwise), so decoding args
 * fails only on a description/handler mismatch. */
struct dev_call {
	const char *name;
	uint8_t index;
	unsigned flags;
	int (*fn)(struct dev_ctx *ctx, struct scale_rd *args);
};

struct dev_pallet {
	const char *name; /* "TfgridModule" */
	uint8_t index;    /* RuntimeCall/RuntimeEvent index */
	const struct dev_call *calls;
	size_t ncalls;
	/* Declares everything for metadata; may be NULL for no metadata. */
	int (*describe)(struct dev_meta *m);
	/* Builds genesis state from the genesis JSON member named after the
	 * pallet (NULL when the file has none; devchain/genesis.h describes
	 * the file). Events it emits are not recorded. May be NULL. */
	int (*genesis)(struct dev_ctx *ctx, const cJSON *section);
	/* Run at the start and end of every block, in pallet table order.
	 * Events they emit carry phase Initialization / Finalization. An error
	 * from a hook is logged and its changes are rolled back. May be NULL. */
	int (*on_initialize)(struct dev_ctx *ctx);
	int (*on_finalize)(struct dev_ctx *ctx);
};

/* The runtime's pallets, in index order. */
extern const struct dev_pallet dev_pallet_system, dev_pallet_timestamp, dev_pallet_balances;
extern const struct dev_pallet dev_pallet_tfgrid, dev_pallet_smartcontract;
extern const struct dev_pallet *const dev_pallets[];
extern const size_t dev_npallets;

#endif
