/*
 * The operation floor of one deploy (deploy_floor.h): the crypto (envelope
 * verify, key conversion, box open, blake2b-256, one extrinsic signature),
 * one durable commit, one nng round trip and, given a chain URL, two chain
 * round trips; each and together, medians. Printed beside it, measured in
 * the same run: one core's bare ed25519 verify and sign (160-byte
 * message), the two primitives the crypto is made of.
 *
 *   bench_deploy_floor [ITERATIONS (20000)] [ROUNDS (3)] [CHAIN_URL]
 *
 * The commit runs in $FLOOR_DIR (default /tmp): put it on the disk that
 * holds the agent's state directory.
 *
 * Then the store's group commit (agent/store.h) in the same directory:
 * 1, 8 and 64 threads each making durable commits (store_cursor_set, one
 * small row each) for GROUP_S seconds: commits per second, syncs, and
 * commits per sync. One thread is what a store without group commit
 * does at any concurrency (each commit waits for its own sync).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "common/clock.h"
#include "agent/store.h"
#include "bench/deploy_floor.h"
#include "chainclient/client.h"
#include "common/log.h"

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
		uint64_t t0 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		if (verify) {
			if (crypto_sign_verify_detached(sig, msg, sizeof msg, pk) != 0)
				abort();
		} else {
			crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
		}
		t[i] = ((uint64_t)clk_ns(CLOCK_MONOTONIC)) - t0;
	}
	double m = floor_median_us(t, iters);
	free(t);
	sodium_memzero(sk, sizeof sk);
	return m;
}

#define GROUP_S 3.0

struct group_arg {
	struct store *s;
	int id;
	double end_ms;
	unsigned long n;
	int err;
};

static void *group_main(void *p)
{
	struct group_arg *a = p;
	char name[32];
	snprintf(name, sizeof name, "bench.%d", a->id);
	while ((double)((uint64_t)clk_ns(CLOCK_MONOTONIC)) / 1e6 < a->end_ms) {
		if (store_cursor_set(a->s, name, (int64_t)a->n) < 0) {
			a->err = 1;
			break;
		}
		a->n++;
	}
	return NULL;
}

/* Durable commits per second from nthreads threads through one store. */
static int group_commit(const char *dir, int nthreads)
{
	char sub[4096];
	struct store *s;
	snprintf(sub, sizeof sub, "%s/floor-store.%d", dir, (int)getpid());
	if (store_open(sub, 0, &s) < 0) {
		fprintf(stderr, "store in %s: cannot open\n", sub);
		return -1;
	}
	struct group_arg a[64];
	pthread_t th[64];
	uint64_t y0 = store_sync_count(s);
	double t0 = (double)((uint64_t)clk_ns(CLOCK_MONOTONIC)) / 1e6;
	int started = 0;
	for (int i = 0; i < nthreads && i < 64; i++, started++) {
		a[i] = (struct group_arg){.s = s, .id = i, .end_ms = t0 + GROUP_S * 1000.0};
		if (pthread_create(&th[i], NULL, group_main, &a[i]) != 0)
			break;
	}
	unsigned long n = 0;
	int err = 0;
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		n += a[i].n;
		err |= a[i].err;
	}
	double secs = ((double)((uint64_t)clk_ns(CLOCK_MONOTONIC)) / 1e6 - t0) / 1000.0;
	uint64_t syncs = store_sync_count(s) - y0;
	store_close(s);
	const char *sfx[] = {"agent.db", "agent.db-wal", "agent.db-shm"};
	for (int k = 0; k < 3; k++) {
		char p[4200];
		snprintf(p, sizeof p, "%s/%s", sub, sfx[k]);
		unlink(p);
	}
	rmdir(sub);
	printf("  %2d thread(s): %7.0f durable commits/s, %6.0f syncs/s, %5.1f commits per sync%s\n",
	       started, (double)n / secs, (double)syncs / secs,
	       syncs ? (double)n / (double)syncs : 0.0, err ? " (a commit failed)" : "");
	return err ? -1 : 0;
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
	    (argc > 2 && parse_uint(argv[2], 100, &rounds) < 0) || argc > 4) {
		fprintf(stderr,
			"usage: bench_deploy_floor [ITERATIONS (20000)] [ROUNDS (3)] [CHAIN_URL]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	log_setup(LOG_LVL_ERROR, LOG_TARGET_STDERR, "bench_deploy_floor");
	/* Before any thread: the nng server is a forked child. */
	struct floor_nng srv;
	if (floor_nng_start(&srv) < 0)
		fprintf(stderr, "nng floor server did not start: the nng part counts 0\n");
	struct chain_client *chain = NULL;
	if (argc > 3 && chain_client_new(argv[3], NULL, &chain) < 0) {
		fprintf(stderr, "chain %s: cannot connect\n", argv[3]);
		floor_nng_stop(&srv);
		return 1;
	}
	const char *dir = getenv("FLOOR_DIR") ? getenv("FLOOR_DIR") : "/tmp";
	printf("%-5s %7s %7s %7s %5s %6s %7s | %7s %7s %7s | %8s | %9s %9s\n", "round", "verify",
	       "convert", "open", "hash", "sign", "crypto", "commit", "nng", "2 chain", "FLOOR",
	       "ed25519 v", "ed25519 s");
	for (unsigned r = 0; r < rounds; r++) {
		struct deploy_floor f;
		if (deploy_floor_all(iters, dir, srv.pid ? &srv : NULL,
				     chain ? chain_client_rpc(chain) : NULL, &f) < 0) {
			floor_nng_stop(&srv);
			return 1;
		}
		double v = prim_us(1, iters), s = prim_us(0, iters);
		if (r == 0)
			deploy_floor_all_print(&f, stdout);
		const double *u = f.crypto.us;
		printf("%-5u %7.1f %7.1f %7.1f %5.1f %6.1f %7.1f | %7.1f %7.1f %7.1f | %8.1f | %9.1f %9.1f"
		       "   (us CPU, medians; %u iterations)\n",
		       r + 1, u[0], u[1], u[2], u[3], u[4], u[5], f.commit.cpu_us, f.nng.cpu_us,
		       f.chain.cpu_us, f.total_us, v, s, iters);
		fflush(stdout);
	}
	chain_client_free(chain);
	floor_nng_stop(&srv);
	printf("store group commit in %s (agent/store.h, %.0f s per row):\n", dir, GROUP_S);
	int threads[] = {1, 8, 64};
	for (int i = 0; i < 3; i++)
		if (group_commit(dir, threads[i]) < 0)
			return 1;
	return 0;
}
