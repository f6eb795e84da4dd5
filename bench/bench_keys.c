/*
 * Signature throughput of the two account schemes, as the devchain's pool
 * and the RMB server verify them: sr25519 (common/sr25519.c, our own
 * schnorrkel on libsodium's Ristretto255) beside ed25519 (libsodium's
 * crypto_sign), the floor, measured in the same run over the same 32-byte
 * messages (an RMB challenge, a hashed extrinsic payload). Also the cost of
 * loading a key from a phrase (PBKDF2, 2048 rounds) and of one Merlin
 * transcript challenge.
 *
 *   bench_keys [ITERATIONS (2000)]
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/key.h"
#include "common/merlin.h"

/* Signs and verifies n times with k; prints operations per second. */
static int run(const char *name, const struct zkey *k, int n)
{
	uint8_t msg[32], sig[64];
	randombytes_buf(msg, sizeof msg);
	double t0 = clk_seconds(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++) {
		msg[0] = (uint8_t)i;
		if (key_sign(k, msg, sizeof msg, sig) != 0)
			return 1;
	}
	double t1 = clk_seconds(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++)
		if (key_verify_scheme(k->scheme, k->pk, msg, sizeof msg, sig) != 0)
			return 1;
	double t2 = clk_seconds(CLOCK_MONOTONIC);
	printf("%-8s sign %8.0f/s  verify %8.0f/s\n", name, n / (t1 - t0), n / (t2 - t1));
	return 0;
}

int main(int argc, char **argv)
{
	char *end = NULL;
	long iters = argc > 1 ? strtol(argv[1], &end, 10) : 2000;
	if (argc > 1 && (*end || iters > 1000000))
		return 2;
	int n = (int)iters;
	struct zkey ed, sr;
	if (n <= 0 || sodium_init() < 0)
		return 2;
	/* The first load pays OpenSSL's initialisation: not timed. */
	if (key_from_suri("//Alice", KEY_SR25519, NULL, &sr) != 0 ||
	    key_from_suri("//Alice", KEY_ED25519, NULL, &ed) != 0)
		return 1;
	double t0 = clk_seconds(CLOCK_MONOTONIC);
	for (int i = 0; i < 10; i++)
		if (key_from_suri("//Alice", i % 2 ? KEY_SR25519 : KEY_ED25519, NULL,
				  i % 2 ? &sr : &ed) != 0)
			return 1;
	double t1 = clk_seconds(CLOCK_MONOTONIC);
	printf("phrase to key (PBKDF2 2048 + derivation): %.2f ms\n", (t1 - t0) * 1e3 / 10);
	/* Twice each, interleaved, so that a busy machine shows as a spread. */
	for (int round = 0; round < 2; round++)
		if (run("ed25519", &ed, n) || run("sr25519", &sr, n))
			return 1;
	struct merlin t;
	uint8_t c[64];
	t0 = clk_seconds(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++) {
		merlin_init(&t, "bench");
		merlin_append(&t, "m", c, 32);
		merlin_challenge(&t, "c", c, 64);
	}
	t1 = clk_seconds(CLOCK_MONOTONIC);
	printf("merlin init+append+challenge: %.1f us\n", (t1 - t0) * 1e6 / n);
	key_wipe(&ed);
	key_wipe(&sr);
	return 0;
}
