/*
 * libFuzzer target for the key parsers and sr25519 verification: secret and
 * public URIs (phrases, hex seeds, junctions, passwords) and sr25519
 * signatures, which the devchain and the RMB server check on network input.
 *
 * The first byte picks what the rest is: a secret URI (ed25519 or sr25519),
 * a public URI, or a public key ++ signature ++ message to verify. Beyond "no
 * crash, no leak, no overread": a key a URI gives signs, and its signature
 * verifies under its scheme and not after a flipped bit.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/key.h"
#include "common/sr25519.h"

#define URI_MAX 512

static void check_key(const struct zkey *k)
{
	uint8_t sig[64];
	if (key_sign(k, (const uint8_t *)"fuzz", 4, sig) != 0 ||
	    key_verify_scheme(k->scheme, k->pk, (const uint8_t *)"fuzz", 4, sig) != 0)
		__builtin_trap();
	sig[0] ^= 1;
	if (key_verify_scheme(k->scheme, k->pk, (const uint8_t *)"fuzz", 4, sig) == 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char uri[URI_MAX + 1];
	struct zkey k;
	uint8_t pk[32];

	if (size < 1 || sodium_init() < 0)
		return 0;
	uint8_t mode = data[0] % 4;
	data++;
	size--;
	if (mode == 3) {
		if (size < 96)
			return 0;
		(void)sr25519_verify(data, data + 96, size - 96, data + 32);
		(void)sr25519_derive_soft_public(data, data + 32, pk);
		return 0;
	}
	if (size > URI_MAX)
		return 0;
	memcpy(uri, data, size);
	uri[size] = 0;
	if (mode == 2) {
		(void)key_public_from_uri(uri, KEY_SR25519, pk);
		return 0;
	}
	if (key_from_suri(uri, mode == 1 ? KEY_SR25519 : KEY_ED25519, NULL, &k) == 0) {
		check_key(&k);
		key_wipe(&k);
	}
	return 0;
}
