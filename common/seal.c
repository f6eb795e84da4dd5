/* Sealing and opening payloads for one recipient with crypto_box (seal.h). */
#include "common/seal.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/key.h"
#include "common/zerr.h"

_Static_assert(SEAL_NONCE_LEN == crypto_box_NONCEBYTES, "nonce size");
_Static_assert(SEAL_MAC_LEN == crypto_box_MACBYTES, "mac size");

int seal_twin_x25519(const uint8_t *pk, size_t pk_len, const uint8_t account[32],
		     uint8_t out[32])
{
	if (pk) {
		if (pk_len != 32)
			return ZE_MALFORMED;
		memcpy(out, pk, 32);
		return 0;
	}
	return key_x25519_pk(account, out);
}

int seal_x25519_sk(const uint8_t ed_sk[64], uint8_t out[32])
{
	return crypto_sign_ed25519_sk_to_curve25519(out, ed_sk) == 0 ? 0 : ZE_CRYPTO;
}

int seal_box(const uint8_t *pt, size_t n, const uint8_t recipient_pk[32],
	     const uint8_t sender_sk[32], size_t max, uint8_t **out, size_t *outlen)
{
	if (!max)
		max = SEAL_DEFAULT_MAX;
	if (n > max || max - n < SEAL_OVERHEAD)
		return ZE_TOOBIG;
	size_t len = SEAL_OVERHEAD + n;
	uint8_t *p = malloc(len);
	if (!p)
		return -ENOMEM;
	p[0] = SEAL_VERSION;
	randombytes_buf(p + 1, SEAL_NONCE_LEN);
	if (crypto_box_easy(p + 1 + SEAL_NONCE_LEN, pt, n, p + 1, recipient_pk,
			    sender_sk) != 0) {
		free(p);
		return ZE_CRYPTO;
	}
	*out = p;
	*outlen = len;
	return 0;
}

int seal_open(const uint8_t *in, size_t n, const uint8_t sender_pk[32],
	      const uint8_t recipient_sk[32], size_t max, uint8_t **pt, size_t *ptlen)
{
	if (!max)
		max = SEAL_DEFAULT_MAX;
	if (n > max)
		return ZE_TOOBIG;
	if (n < SEAL_OVERHEAD || in[0] != SEAL_VERSION)
		return ZE_MALFORMED;
	size_t len = n - SEAL_OVERHEAD;
	uint8_t *p = malloc(len + 1);
	if (!p)
		return -ENOMEM;
	if (crypto_box_open_easy(p, in + 1 + SEAL_NONCE_LEN, n - 1 - SEAL_NONCE_LEN,
				 in + 1, sender_pk, recipient_sk) != 0) {
		seal_free(p, len);
		return ZE_CRYPTO;
	}
	p[len] = '\0';
	*pt = p;
	*ptlen = len;
	return 0;
}

void seal_free(uint8_t *pt, size_t len)
{
	if (!pt)
		return;
	/* seal_open allocates one byte more for the NUL; wipe it too. */
	sodium_memzero(pt, len + 1);
	free(pt);
}

void seal_hash(const void *p, size_t n, uint8_t out[32])
{
	crypto_generichash(out, 32, p, n, NULL, 0);
}

int seal_hash_check(const void *p, size_t n, const uint8_t want[32])
{
	uint8_t h[32];
	seal_hash(p, n, h);
	return sodium_memcmp(h, want, 32) == 0 ? 0 : ZE_CRYPTO;
}
