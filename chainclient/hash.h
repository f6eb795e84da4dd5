/*
 * Substrate hashers and storage keys.
 *
 * twox = xxHash64 with seeds 0,1,.. concatenated little-endian (libxxhash);
 * blake2b via libsodium. Storage key = twox128(pallet) ++ twox128(item) ++
 * hasher(SCALE(key)) for each map key.
 */
#ifndef ZOS_CHAINCLIENT_HASH_H
#define ZOS_CHAINCLIENT_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Order and values are metadata v14's StorageHasher enum. */
enum chain_hasher {
	CHAIN_HASHER_BLAKE2_128 = 0,
	CHAIN_HASHER_BLAKE2_256 = 1,
	CHAIN_HASHER_BLAKE2_128_CONCAT = 2,
	CHAIN_HASHER_TWOX128 = 3,
	CHAIN_HASHER_TWOX256 = 4,
	CHAIN_HASHER_TWOX64_CONCAT = 5,
	CHAIN_HASHER_IDENTITY = 6,
};

void chain_twox64(const void *p, size_t n, uint8_t out[8]);
void chain_twox128(const void *p, size_t n, uint8_t out[16]);
void chain_twox256(const void *p, size_t n, uint8_t out[32]);
void chain_blake2_128(const void *p, size_t n, uint8_t out[16]);
void chain_blake2_256(const void *p, size_t n, uint8_t out[32]);

const char *chain_hasher_name(enum chain_hasher h); /* "Blake2_128Concat"... */
int chain_hasher_parse(const char *name, enum chain_hasher *h);
/* Bytes the hasher adds before the key (16 for Blake2_128Concat, 8 for Twox64Concat...). */
size_t chain_hasher_prefix_len(enum chain_hasher h);
/* 1 when the key itself follows the hash (Concat variants, Identity). */
int chain_hasher_is_concat(enum chain_hasher h);

/* Appends hasher(key) to out. */
int chain_hash_key(enum chain_hasher h, const uint8_t *key, size_t n, struct zbuf *out);
/* twox128(pallet) ++ twox128(item). */
void chain_storage_prefix(const char *pallet, const char *item, uint8_t out[32]);
/* Full key of a plain value or a (double/n-) map: prefix ++ hashers[i](keys[i]).
 * Appends to out. */
int chain_storage_key(const char *pallet, const char *item, size_t nkeys,
		      const enum chain_hasher *hashers, const uint8_t *const *keys,
		      const size_t *key_lens, struct zbuf *out);

/*
 * Recovers the keys of a map entry from its full storage key: skips the
 * 32-byte prefix, then for each key its hasher's hash and key_sizes[i] bytes
 * of SCALE key. The last size may be 0, meaning "the rest of the key".
 * Only the Concat hashers and Identity keep the key (ZE_UNSUPPORTED else).
 * keys[i] point into full (no copy); ZE_MALFORMED when lengths do not add up.
 */
int chain_storage_key_parts(const uint8_t *full, size_t n, size_t nkeys,
			    const enum chain_hasher *hashers, const size_t *key_sizes,
			    const uint8_t **keys, size_t *key_lens);
/* The one key of a single map, as a view into full. */
int chain_storage_map_key(const uint8_t *full, size_t n, enum chain_hasher h,
			  const uint8_t **key, size_t *key_len);

#endif
