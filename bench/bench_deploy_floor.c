/*
 * The CPU floor of one deploy (deploy_floor.h): envelope verify, key
 * conversion, box open, blake2b-256 and one extrinsic signature, each and
 * together, median per iteration on one thread. Printed beside it, measured
 * in the same run: one core's bare ed25519 verify and sign (160-byte
 * message), the two primitives the floor is made of.
 *
 *   bench_deploy_floor [ITERATIONS (20000)] [ROUNDS (3)]
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/deploy_floor.h"

static double prim_us(int verify, unsigned iters)
{
	uint8_t pk[32], sk[64], msg[160], sig[64];
	uint64_t *t = calloc(iters, sizeof *t);
	if (!t)
		return 0;
	crypto_sign_keypair(pk, sk);
	randombytes_buf(msg, sizeof msg);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
	for (unsigned i = 0; i < iters; i++) {
		uint64_t t0 = floor_now_ns();
		if (verify) {
			if (crypto_sign_verify_detached(sig, msg, sizeof msg, pk) != 0)
				abort();
		} else {
			crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
		}
		t[i] = floor_now_ns() - t0;
	}
	double m = floor_median_us(t, iters);
	free(t);
	sodium_memzero(sk, sizeof sk);
	return m;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v == 0 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned iters = 20000, rounds = 3;
	if ((argc > 1 && parse_uint(argv[1], 10000000, &iters) < 0) ||
	    (argc > 2 && parse_uint(argv[2], 100, &rounds) < 0) || argc > 3) {
		fprintf(stderr, "usage: bench_deploy_floor [ITERATIONS (20000)] [ROUNDS (3)]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	printf("%-6s %10s %10s %10s %10s %10s %10s | %10s %10s\n", "round", "verify", "convert",
	       "open", "hash", "sign", "TOTAL", "ed25519 v", "ed25519 s");
	for (unsigned r = 0; r < rounds; r++) {
		struct floor_result f;
		if (deploy_floor_measure(iters, &f) < 0)
			return 1;
		double v = prim_us(1, iters), s = prim_us(0, iters);
		if (r == 0)
			deploy_floor_print(&f, stdout);
		printf("%-6u %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f | %10.1f %10.1f   (us, median of %u)\n",
		       r + 1, f.us[0], f.us[1], f.us[2], f.us[3], f.us[4], f.us[5], v, s, iters);
		fflush(stdout);
	}
	return 0;
}
