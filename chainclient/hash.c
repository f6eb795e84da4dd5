/* Substrate hashers (twox, blake2b) and storage keys built from them (hash.h). */
#include "chainclient/hash.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "common/zerr.h"

/* Substrate's twox: xxh64 with seeds 0..n-1, each result little-endian. */
static void twox(const void *p, size_t n, uint8_t *out, unsigned nseeds)
{
	for (unsigned s = 0; s < nseeds; s++) {
		uint64_t h = XXH64(p, n, s);
		for (unsigned i = 0; i < 8; i++)
			out[8 * s + i] = (uint8_t)(h >> (8 * i));
	}
}

void chain_twox64(const void *p, size_t n, uint8_t out[8])
{
	twox(p, n, out, 1);
}

void chain_twox128(const void *p, size_t n, uint8_t out[16])
{
	twox(p, n, out, 2);
}

void chain_twox256(const void *p, size_t n, uint8_t out[32])
{
	twox(p, n, out, 4);
}

void chain_blake2_128(const void *p, size_t n, uint8_t out[16])
{
	/* Cannot fail for these output sizes and no key. */
	crypto_generichash(out, 16, p, n, NULL, 0);
}

void chain_blake2_256(const void *p, size_t n, uint8_t out[32])
{
	crypto_generichash(out, 32, p, n, NULL, 0);
}

static const struct {
	const char *name;
	size_t prefix;
	int concat;
} hashers[] = {
	[CHAIN_HASHER_BLAKE2_128] = {"Blake2_128", 16, 0},
	[CHAIN_HASHER_BLAKE2_256] = {"Blake2_256", 32, 0},
	[CHAIN_HASHER_BLAKE2_128_CONCAT] = {"Blake2_128Concat", 16, 1},
	[CHAIN_HASHER_TWOX128] = {"Twox128", 16, 0},
	[CHAIN_HASHER_TWOX256] = {"Twox256", 32, 0},
	[CHAIN_HASHER_TWOX64_CONCAT] = {"Twox64Concat", 8, 1},
	[CHAIN_HASHER_IDENTITY] = {"Identity", 0, 1},
};
#define NHASHERS (sizeof hashers / sizeof hashers[0])

static int valid(enum chain_hasher h)
{
	return (unsigned)h < NHASHERS;
}

const char *chain_hasher_name(enum chain_hasher h)
{
	return valid(h) ? hashers[h].name : "?";
}

int chain_hasher_parse(const char *name, enum chain_hasher *h)
{
	for (size_t i = 0; name && i < NHASHERS; i++) {
		if (strcasecmp(name, hashers[i].name) == 0) {
			*h = (enum chain_hasher)i;
			return 0;
		}
	}
	return -EINVAL;
}

size_t chain_hasher_prefix_len(enum chain_hasher h)
{
	return valid(h) ? hashers[h].prefix : 0;
}

int chain_hasher_is_concat(enum chain_hasher h)
{
	return valid(h) ? hashers[h].concat : 0;
}

int chain_hash_key(enum chain_hasher h, const uint8_t *key, size_t n, struct zbuf *out)
{
	uint8_t hash[32];
	if (!valid(h))
		return -EINVAL;
	switch (h) {
	case CHAIN_HASHER_BLAKE2_128:
	case CHAIN_HASHER_BLAKE2_128_CONCAT:
		chain_blake2_128(key, n, hash);
		break;
	case CHAIN_HASHER_BLAKE2_256:
		chain_blake2_256(key, n, hash);
		break;
	case CHAIN_HASHER_TWOX128:
		chain_twox128(key, n, hash);
		break;
	case CHAIN_HASHER_TWOX256:
		chain_twox256(key, n, hash);
		break;
	case CHAIN_HASHER_TWOX64_CONCAT:
		chain_twox64(key, n, hash);
		break;
	case CHAIN_HASHER_IDENTITY:
		break;
	}
	size_t old = out->len;
	int rc = zbuf_put(out, hash, hashers[h].prefix);
	if (rc == 0 && hashers[h].concat)
		rc = zbuf_put(out, key, n);
	if (rc)
		out->len = old;
	return rc;
}

void chain_storage_prefix(const char *pallet, const char *item, uint8_t out[32])
{
	chain_twox128(pallet, strlen(pallet), out);
	chain_twox128(item, strlen(item), out + 16);
}

int chain_storage_key(const char *pallet, const char *item, size_t nkeys,
		      const enum chain_hasher *hashers_, const uint8_t *const *keys,
		      const size_t *key_lens, struct zbuf *out)
{
	uint8_t prefix[32];
	size_t old = out->len;
	chain_storage_prefix(pallet, item, prefix);
	int rc = zbuf_put(out, prefix, sizeof prefix);
	for (size_t i = 0; rc == 0 && i < nkeys; i++)
		rc = chain_hash_key(hashers_[i], keys[i], key_lens[i], out);
	if (rc)
		out->len = old;
	return rc;
}

int chain_storage_key_parts(const uint8_t *full, size_t n, size_t nkeys,
			    const enum chain_hasher *hashers_, const size_t *key_sizes,
			    const uint8_t **keys, size_t *key_lens)
{
	size_t off = 32;
	if (n < off)
		return ZE_MALFORMED;
	for (size_t i = 0; i < nkeys; i++) {
		if (!valid(hashers_[i]))
			return -EINVAL;
		if (!hashers[hashers_[i]].concat)
			return ZE_UNSUPPORTED;
		size_t skip = hashers[hashers_[i]].prefix;
		if (n - off < skip)
			return ZE_MALFORMED;
		off += skip;
		size_t sz = key_sizes[i];
		if (sz == 0) {
			if (i != nkeys - 1)
				return -EINVAL;
			sz = n - off;
		}
		if (n - off < sz)
			return ZE_MALFORMED;
		keys[i] = full + off;
		key_lens[i] = sz;
		off += sz;
	}
	return off == n ? 0 : ZE_MALFORMED;
}

int chain_storage_map_key(const uint8_t *full, size_t n, enum chain_hasher h,
			  const uint8_t **key, size_t *key_len)
{
	size_t zero = 0;
	return chain_storage_key_parts(full, n, 1, &h, &zero, key, key_len);
}
