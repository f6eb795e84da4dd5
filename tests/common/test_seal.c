/* Unit tests of common/seal: workload encryption between two twins. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/key.h"
#include "common/seal.h"
#include "common/zerr.h"

struct party {
	uint8_t ed_pk[32], ed_sk[64];
	uint8_t x_pk[32], x_sk[32];
};

static void party_new(struct party *p)
{
	crypto_sign_keypair(p->ed_pk, p->ed_sk);
	assert_int_equal(seal_twin_x25519(NULL, 0, p->ed_pk, p->x_pk), 0);
	assert_int_equal(seal_x25519_sk(p->ed_sk, p->x_sk), 0);
}

static const char doc[] = "{\"version\":0,\"twin_id\":7,\"workloads\":[]}";

static void round_trip(void **st)
{
	struct party user, node;
	party_new(&user);
	party_new(&node);
	uint8_t *ct, *pt;
	size_t ctlen, ptlen;
	assert_int_equal(seal_box((const uint8_t *)doc, strlen(doc), node.x_pk, user.x_sk, 0,
				  &ct, &ctlen), 0);
	assert_int_equal(ctlen, strlen(doc) + SEAL_OVERHEAD);
	assert_int_equal(ct[0], SEAL_VERSION);
	assert_int_equal(seal_open(ct, ctlen, user.x_pk, node.x_sk, 0, &pt, &ptlen), 0);
	assert_int_equal(ptlen, strlen(doc));
	assert_string_equal((char *)pt, doc);
	seal_free(pt, ptlen);

	uint8_t h[32];
	seal_hash(doc, strlen(doc), h);
	assert_int_equal(seal_hash_check(doc, strlen(doc), h), 0);
	h[31] ^= 1;
	assert_int_equal(seal_hash_check(doc, strlen(doc), h), ZE_CRYPTO);
	free(ct);
}

static void tampering_is_detected(void **st)
{
	struct party user, node, other;
	party_new(&user);
	party_new(&node);
	party_new(&other);
	uint8_t *ct, *pt = NULL;
	size_t ctlen, ptlen;
	assert_int_equal(seal_box((const uint8_t *)doc, strlen(doc), node.x_pk, user.x_sk, 0,
				  &ct, &ctlen), 0);
	/* Every flipped byte, version, nonce, mac or body, is refused. */
	for (size_t i = 0; i < ctlen; i++) {
		ct[i] ^= 0x40;
		int rc = seal_open(ct, ctlen, user.x_pk, node.x_sk, 0, &pt, &ptlen);
		assert_true(rc == ZE_CRYPTO || (i == 0 && rc == ZE_MALFORMED));
		ct[i] ^= 0x40;
	}
	/* A box from somebody else does not open as the user's. */
	assert_int_equal(seal_open(ct, ctlen, other.x_pk, node.x_sk, 0, &pt, &ptlen), ZE_CRYPTO);
	/* Nor for another node. */
	assert_int_equal(seal_open(ct, ctlen, user.x_pk, other.x_sk, 0, &pt, &ptlen), ZE_CRYPTO);
	/* Truncations. */
	assert_int_equal(seal_open(ct, SEAL_OVERHEAD - 1, user.x_pk, node.x_sk, 0, &pt, &ptlen),
			 ZE_MALFORMED);
	assert_int_equal(seal_open(ct, ctlen - 1, user.x_pk, node.x_sk, 0, &pt, &ptlen), ZE_CRYPTO);
	assert_null(pt);
	free(ct);
}

static void sizes_are_capped(void **st)
{
	struct party user, node;
	party_new(&user);
	party_new(&node);
	size_t n = 100;
	uint8_t *big = calloc(1, n), *ct, *pt;
	size_t ctlen, ptlen;
	assert_non_null(big);
	assert_int_equal(seal_box(big, n, node.x_pk, user.x_sk, n + SEAL_OVERHEAD - 1, &ct, &ctlen),
			 ZE_TOOBIG);
	assert_int_equal(seal_box(big, n, node.x_pk, user.x_sk, n + SEAL_OVERHEAD, &ct, &ctlen), 0);
	assert_int_equal(seal_open(ct, ctlen, user.x_pk, node.x_sk, ctlen - 1, &pt, &ptlen),
			 ZE_TOOBIG);
	assert_int_equal(seal_open(ct, ctlen, user.x_pk, node.x_sk, ctlen, &pt, &ptlen), 0);
	assert_int_equal(ptlen, n);
	seal_free(pt, ptlen);
	free(ct);
	free(big);
}

static void twin_pk_wins_over_account(void **st)
{
	struct party user;
	party_new(&user);
	uint8_t pk[32], out[32];
	memset(pk, 0x11, sizeof pk);
	assert_int_equal(seal_twin_x25519(pk, 32, user.ed_pk, out), 0);
	assert_memory_equal(out, pk, 32);
	assert_int_equal(seal_twin_x25519(pk, 31, user.ed_pk, out), ZE_MALFORMED);
	assert_int_equal(seal_twin_x25519(pk, 33, user.ed_pk, out), ZE_MALFORMED);
	/* The conversion agrees with libsodium's. */
	uint8_t want[32];
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(want, user.ed_pk), 0);
	assert_int_equal(seal_twin_x25519(NULL, 0, user.ed_pk, out), 0);
	assert_memory_equal(out, want, 32);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(tampering_is_detected),
		cmocka_unit_test(sizes_are_capped),
		cmocka_unit_test(twin_pk_wins_over_account),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
