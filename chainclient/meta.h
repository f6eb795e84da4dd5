/*
 * Runtime metadata v14: decoder, lookups by name, and the generic SCALE <->
 * JSON codec driven by the portable type registry.
 *
 * meta_decode() parses the bytes of state_getMetadata ("meta" magic, version
 * 14) into a struct meta that owns everything it points to: all names, type
 * definitions and default values live in one arena released by meta_free().
 * Every type id stored in a decoded struct meta has been checked to be a valid
 * index into types[], so consumers may index without re-checking.
 * Docs are skipped, not stored. A decoded struct meta is never modified, so
 * threads may share it without a lock.
 *
 * JSON forms (decoder output; the encoder accepts the same):
 *   bool            true / false
 *   integers        JSON number when |v| <= 2^53, else a decimal string
 *                   (the encoder also accepts decimal strings for any width)
 *   char, str       JSON string (str must be valid UTF-8)
 *   [u8; N], Vec<u8> and other byte sequences   "0x..." hex
 *                   (the encoder also takes an AccountId32 as SS58)
 *   composite       named fields: object {"field": v}; one unnamed field: the
 *                   inner value itself (newtypes such as AccountId32); several
 *                   unnamed fields: array; no field: null
 *   variant         "Variant" when it has no fields, else {"Variant": payload}
 *                   with the payload formed as for a composite
 *   Option<T>       null or the value
 *   Vec<T>, [T; N]  array; tuple: array, () is null
 *   Compact<T>      as T
 *   BitVec          array of booleans
 */
#ifndef ZOS_CHAINCLIENT_META_H
#define ZOS_CHAINCLIENT_META_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "chainclient/hash.h"
#include "chainclient/scale.h"
#include "common/buf.h"

/* Bounds on what meta_decode accepts and allocates. */
#define META_MAX_INPUT (32u << 20)
#define META_MAX_TYPES 65536u
#define META_MAX_ITEMS 65536u /* fields, variants, pallets, entries per list */
#define META_MAX_NAME 1024u   /* bytes of one name or path segment */
#define META_MAX_ARENA (64u << 20)

/* Generic codec bounds: nesting depth and JSON nodes per value. */
#define META_MAX_DEPTH 64
#define META_MAX_NODES (1u << 20)

enum meta_kind {
	META_COMPOSITE = 0,
	META_VARIANT = 1,
	META_SEQUENCE = 2,
	META_ARRAY = 3,
	META_TUPLE = 4,
	META_PRIMITIVE = 5,
	META_COMPACT = 6,
	META_BITSEQ = 7,
};

/* Order and values are scale-info's TypeDefPrimitive. */
enum meta_prim {
	META_BOOL = 0,
	META_CHAR,
	META_STR,
	META_U8,
	META_U16,
	META_U32,
	META_U64,
	META_U128,
	META_U256,
	META_I8,
	META_I16,
	META_I32,
	META_I64,
	META_I128,
	META_I256,
};

struct meta_field {
	const char *name;      /* NULL for an unnamed (tuple struct) field */
	uint32_t type;
	const char *type_name; /* source type name as written, or NULL */
};

struct meta_variant {
	const char *name;
	uint8_t index;
	struct meta_field *fields;
	size_t nfields;
};

struct meta_type {
	const char **path; /* e.g. {"sp_core", "crypto", "AccountId32"} */
	size_t npath;
	const char **param_names; /* generic parameters, e.g. {"T"} */
	uint32_t *param_types;    /* UINT32_MAX when the parameter has no type */
	size_t nparams;
	enum meta_kind kind;
	/* META_COMPOSITE */
	struct meta_field *fields;
	size_t nfields;
	/* META_VARIANT, sorted as in the metadata (not by index) */
	struct meta_variant *variants;
	size_t nvariants;
	/* META_SEQUENCE, META_ARRAY, META_COMPACT: the element type */
	uint32_t elem;
	uint32_t len; /* META_ARRAY */
	/* META_TUPLE */
	uint32_t *tuple;
	size_t ntuple;
	enum meta_prim prim; /* META_PRIMITIVE */
	uint32_t bit_store, bit_order; /* META_BITSEQ */
};

enum meta_modifier { META_MOD_OPTIONAL = 0, META_MOD_DEFAULT = 1 };

struct meta_storage {
	const char *name;
	enum meta_modifier modifier;
	int is_map;
	enum chain_hasher *hashers; /* one per key; none for a plain value */
	size_t nhashers;
	/* A map's key type: the key itself with one hasher, a tuple of the keys
	 * with several (see meta_storage_key_type). */
	uint32_t key_type;
	uint32_t value_type;
	const uint8_t *def; /* SCALE default value */
	size_t def_len;
};

struct meta_constant {
	const char *name;
	uint32_t type;
	const uint8_t *value;
	size_t len;
};

struct meta_pallet {
	const char *name;
	uint8_t index;
	const char *storage_prefix; /* NULL when the pallet has no storage */
	struct meta_storage *storage;
	size_t nstorage;
	int has_calls, has_events, has_errors;
	uint32_t calls_type, events_type, errors_type; /* variant types */
	struct meta_constant *constants;
	size_t nconstants;
};

struct meta_signed_ext {
	const char *identifier; /* "CheckNonce"... */
	uint32_t type;          /* the "extra" carried in the extrinsic */
	uint32_t additional;    /* the "additional signed" data, only in the payload */
};

struct meta_arena;

struct meta {
	struct meta_type *types; /* indexed by type id */
	size_t ntypes;
	struct meta_pallet *pallets;
	size_t npallets;
	uint32_t extrinsic_type;
	uint8_t extrinsic_version;
	struct meta_signed_ext *exts;
	size_t nexts;
	uint32_t runtime_type;
	struct meta_arena *arena;
};

/*
 * Decodes metadata: raw bytes starting with "meta", or the same wrapped in a
 * SCALE Vec<u8> (as returned by the Metadata_metadata runtime call).
 * *out is the caller's, released with meta_free(). ZE_MALFORMED on bad or
 * trailing input, ZE_UNSUPPORTED on another metadata version, ZE_TOOBIG past
 * the META_MAX_* bounds.
 */
int meta_decode(const uint8_t *p, size_t n, struct meta **out);
void meta_free(struct meta *m);

/* Reads a whole metadata file (raw bytes, or 0x-hex text) and decodes it. */
int meta_load_file(const char *path, struct meta **out);

/* Lookups: NULL when absent. Pointers live as long as m. */
const struct meta_type *meta_type(const struct meta *m, uint32_t id);
const struct meta_pallet *meta_pallet(const struct meta *m, const char *name);
const struct meta_pallet *meta_pallet_by_index(const struct meta *m, uint8_t index);
const struct meta_storage *meta_storage(const struct meta_pallet *p, const char *name);
const struct meta_constant *meta_constant(const struct meta_pallet *p, const char *name);
const struct meta_variant *meta_call(const struct meta *m, const struct meta_pallet *p,
				     const char *name);
const struct meta_variant *meta_event(const struct meta *m, const struct meta_pallet *p,
				      const char *name);
const struct meta_variant *meta_error(const struct meta *m, const struct meta_pallet *p,
				      const char *name);
const struct meta_variant *meta_variant_by_name(const struct meta_type *t, const char *name);
const struct meta_variant *meta_variant_by_index(const struct meta_type *t, uint8_t index);
const struct meta_signed_ext *meta_signed_ext(const struct meta *m, const char *identifier);
/* Last path segment ("AccountId32"), or "" for anonymous types. */
const char *meta_type_name(const struct meta_type *t);

/* The type of key i of a storage map (i < nhashers); -EINVAL otherwise. */
int meta_storage_key_type(const struct meta *m, const struct meta_storage *s, size_t i,
			  uint32_t *type);
/*
 * Full storage key of PALLET.ITEM with the first nkeys keys (SCALE-encoded,
 * nkeys <= the entry's hasher count, fewer gives an iteration prefix), hashed
 * with the hashers from the metadata. Appends to out. ZE_ABSENT when the
 * pallet or item does not exist, -EINVAL when too many keys are given.
 */
int meta_storage_key(const struct meta *m, const char *pallet, const char *item,
		     size_t nkeys, const uint8_t *const *keys, const size_t *key_lens,
		     struct zbuf *out);

/*
 * The keys inside a full storage key of entry s (as state_getKeysPaged
 * returns them), decoded with the entry's key types into a JSON array, one
 * value per hasher. Every hasher must keep the key (Concat variants,
 * Identity): ZE_UNSUPPORTED otherwise. ZE_MALFORMED when the bytes do not
 * add up. Caller cJSON_Delete()s *out.
 */
int meta_storage_key_decode(const struct meta *m, const struct meta_storage *s,
			    const uint8_t *full, size_t n, cJSON **out);

/*
 * Generic decoder: reads one value of type `type` from r and returns it as a
 * new cJSON tree (caller cJSON_Delete()s it). The reader advances past the
 * value. ZE_MALFORMED on bad input, ZE_TOOBIG past META_MAX_DEPTH or
 * META_MAX_NODES.
 */
int meta_to_json(const struct meta *m, uint32_t type, struct scale_rd *r, cJSON **out);
/* The same for a whole buffer, which must be consumed exactly. */
/* Moves r past one value of type without decoding it (nothing allocated);
 * r is unchanged on error. */
int meta_skip(const struct meta *m, uint32_t type, struct scale_rd *r);
int meta_to_json_buf(const struct meta *m, uint32_t type, const uint8_t *p, size_t n,
		     cJSON **out);
/* Generic encoder, the mirror of meta_to_json: appends SCALE(v) to out;
 * -EINVAL when v does not fit the type. out is unchanged on failure. */
int meta_from_json(const struct meta *m, uint32_t type, const cJSON *v, struct zbuf *out);

/* SCALE call: pallet index ++ call index ++ args, args a JSON array of the
 * call's arguments in order. ZE_ABSENT for an unknown pallet or call. */
int meta_encode_call(const struct meta *m, const char *pallet, const char *call,
		     const cJSON *args, struct zbuf *out);
/* Decodes a call into {"pallet": name, "call": name, "args": {name: value}}. */
int meta_decode_call(const struct meta *m, struct scale_rd *r, cJSON **out);

/* Reads a JSON integer (number or decimal string) as u64/u128; -EINVAL when
 * it is not a non-negative integer that fits. For code reading decoded JSON. */
int meta_json_u64(const cJSON *v, uint64_t *out);
int meta_json_u128(const cJSON *v, scale_u128 *out);

#endif
