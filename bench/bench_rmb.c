/*
 * RMB round trips per second through the real rmb server and client, with
 * 1 and 8 concurrent clients, against a floor measured in the same run:
 * bare nng REQ/REP round trips of the same frame sizes plus one ed25519
 * sign and one verify on each side (what RMB cannot avoid).
 *
 *   bench_rmb [SECONDS_PER_RUN [ROUNDS]]     (default 2 s, 3 rounds)
 *
 * Everything runs in one process over tcp on 127.0.0.1. Rounds alternate
 * rmb and floor runs; each run prints round trips/s and p50/p99 latency,
 * then the medians and the ratio rmb/floor per client count.
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"
#include "rmb/rmb_client.h"
#include "rmb/rmb_envelope.h"
#include "rmb/rmb_server.h"

#define NODE_TWIN 100
#define MAX_CLIENTS 8
#define MAX_SAMPLES 2000000
#define PAYLOAD_CHARS 200

static double run_seconds = 2;
static char payload[PAYLOAD_CHARS + 32];

static void key_for(uint32_t twin, struct zkey *k)
{
	uint8_t seed[32];
	memset(seed, (int)twin, sizeof(seed));
	if (key_from_seed(seed, k))
		abort();
}

static int lookup(void *ctx, uint32_t id, struct rmb_twin *out)
{
	struct zkey k;
	if (id == 0 || id > NODE_TWIN)
		return ZE_ABSENT;
	key_for(id, &k);
	memcpy(out->account, k.pk, 32);
	key_wipe(&k);
	return 0;
}

static int h_echo(void *arg, const struct rmb_call *call, cJSON **reply, struct rmb_error *err)
{
	*reply = call->payload ? cJSON_Duplicate(call->payload, 1) : NULL;
	return call->payload && !*reply ? -ENOMEM : 0;
}

/* ---- latency bookkeeping ---- */

struct run {
	const char *url;
	int floor;
	uint32_t twin;
	uint64_t *lat; /* this client's samples */
	size_t n;
	int failed;
	size_t req_len, rep_len;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- RMB clients ---- */

static void *rmb_client_thread(void *p)
{
	struct run *r = p;
	struct rmb_client_cfg cfg;
	struct rmb_client *c;
	struct zkey k, node;
	rmb_client_cfg_init(&cfg);
	key_for(r->twin, &k);
	key_for(NODE_TWIN, &node);
	cfg.url = r->url;
	cfg.key = &k;
	cfg.src = r->twin;
	cfg.dst = NODE_TWIN;
	memcpy(cfg.dst_pk, node.pk, 32);
	cfg.attempts = 1;
	if (rmb_client_new(&cfg, &c)) {
		r->failed = 1;
		return NULL;
	}
	uint64_t end = ((uint64_t)clk_ns(CLOCK_MONOTONIC)) + (uint64_t)(run_seconds * 1e9);
	while (r->n < MAX_SAMPLES) {
		struct rmb_result res;
		uint64_t t0 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		if (t0 >= end)
			break;
		if (rmb_client_call(c, "bench.echo", payload, &res) || !res.ok) {
			r->failed++;
			rmb_result_clear(&res);
			continue;
		}
		r->lat[r->n++] = ((uint64_t)clk_ns(CLOCK_MONOTONIC)) - t0;
		rmb_result_clear(&res);
	}
	rmb_client_free(c);
	key_wipe(&k);
	key_wipe(&node);
	return NULL;
}

/* ---- the floor: bare nng plus the unavoidable crypto ---- */

struct floor_srv {
	nng_socket sock;
	size_t rep_len;
	struct zkey key;
	uint8_t peer_pk[32];
	int stop;
};

/* Each side signs what it sends and verifies what it receives: the frame's
 * blake2b-256, as RMB does, with the signature in the frame's last bytes. */
static void floor_sign(const struct zkey *k, uint8_t *buf, size_t len)
{
	uint8_t h[32];
	crypto_generichash(h, 32, buf, len - 64, NULL, 0);
	key_sign(k, h, 32, buf + len - 64);
}

static int floor_verify(const uint8_t pk[32], const uint8_t *buf, size_t len)
{
	uint8_t h[32];
	if (len < 64)
		return -1;
	crypto_generichash(h, 32, buf, len - 64, NULL, 0);
	return key_verify(pk, h, 32, buf + len - 64);
}

static void *floor_worker(void *p)
{
	struct floor_srv *s = p;
	nng_ctx ctx;
	nng_aio *aio;
	if (nng_ctx_open(&ctx, s->sock) || nng_aio_alloc(&aio, NULL, NULL))
		abort();
	for (;;) {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio))
			break;
		nng_msg *m = nng_aio_get_msg(aio);
		int ok = floor_verify(s->peer_pk, nng_msg_body(m), nng_msg_len(m)) == 0;
		nng_msg_free(m);
		if (!ok || nng_msg_alloc(&m, s->rep_len))
			abort();
		memset(nng_msg_body(m), 'r', s->rep_len);
		floor_sign(&s->key, nng_msg_body(m), s->rep_len);
		nng_aio_set_msg(aio, m);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio)) {
			nng_msg_free(nng_aio_get_msg(aio));
			break;
		}
	}
	nng_aio_free(aio);
	return NULL;
}

static void *floor_client_thread(void *p)
{
	struct run *r = p;
	nng_socket s;
	struct zkey k, node;
	key_for(1, &k);
	key_for(NODE_TWIN, &node);
	uint8_t *req = malloc(r->req_len);
	if (!req || nng_req0_open(&s) || nng_dial(s, r->url, NULL, 0))
		abort();
	memset(req, 'q', r->req_len);
	uint64_t end = ((uint64_t)clk_ns(CLOCK_MONOTONIC)) + (uint64_t)(run_seconds * 1e9);
	while (r->n < MAX_SAMPLES) {
		uint64_t t0 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		if (t0 >= end)
			break;
		char *rep = NULL;
		size_t n = 0;
		floor_sign(&k, req, r->req_len);
		if (nng_send(s, req, r->req_len, 0) || nng_recv(s, &rep, &n, NNG_FLAG_ALLOC)) {
			r->failed++;
			continue;
		}
		if (floor_verify(node.pk, (uint8_t *)rep, n))
			r->failed++;
		nng_free(rep, n);
		r->lat[r->n++] = ((uint64_t)clk_ns(CLOCK_MONOTONIC)) - t0;
	}
	nng_close(s);
	free(req);
	key_wipe(&k);
	key_wipe(&node);
	return NULL;
}

/* ---- driver ---- */

struct result {
	double rps, p50_us, p99_us, cpu_us; /* cpu_us: process CPU per round trip */
};

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static struct result measure(const char *what, const char *url, int floor, int nclients,
			     size_t req_len, size_t rep_len)
{
	pthread_t th[MAX_CLIENTS];
	struct run runs[MAX_CLIENTS];
	struct result res = {0, 0, 0, 0};
	double c0 = cpu_s();
	uint64_t t0 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
	for (int i = 0; i < nclients; i++) {
		runs[i] = (struct run){url, floor, (uint32_t)(1 + i), malloc(MAX_SAMPLES * 8), 0, 0,
				       req_len, rep_len};
		if (!runs[i].lat)
			abort();
		pthread_create(&th[i], NULL, floor ? floor_client_thread : rmb_client_thread,
			       &runs[i]);
	}
	size_t total = 0;
	int failed = 0;
	for (int i = 0; i < nclients; i++) {
		pthread_join(th[i], NULL);
		total += runs[i].n;
		failed += runs[i].failed;
	}
	double secs = (double)(((uint64_t)clk_ns(CLOCK_MONOTONIC)) - t0) / 1e9;
	double cpu = cpu_s() - c0;
	uint64_t *all = malloc((total ? total : 1) * 8);
	size_t k = 0;
	for (int i = 0; i < nclients; i++) {
		memcpy(all + k, runs[i].lat, runs[i].n * 8);
		k += runs[i].n;
		free(runs[i].lat);
	}
	qsort(all, total, 8, cmp_u64);
	res.rps = (double)total / secs;
	res.cpu_us = total ? cpu * 1e6 / (double)total : 0;
	if (total) {
		res.p50_us = (double)all[total / 2] / 1e3;
		res.p99_us = (double)all[total * 99 / 100] / 1e3;
	}
	printf("  %-5s clients=%d  %8.0f rt/s  p50 %8.1f us  p99 %8.1f us  cpu %6.1f us/rt  (%zu "
	       "round trips, %d failed)\n",
	       what, nclients, res.rps, res.p50_us, res.p99_us, res.cpu_us, total, failed);
	fflush(stdout);
	free(all);
	return res;
}

static int cmp_result(const void *a, const void *b)
{
	double x = ((const struct result *)a)->rps, y = ((const struct result *)b)->rps;
	return x < y ? -1 : x > y;
}

/* Frame sizes of one echo round trip, to give the floor the same load. */
static void frame_sizes(size_t *req_len, size_t *rep_len)
{
	struct rmb_env e;
	struct zkey k;
	char *txt;
	rmb_env_init(&e);
	key_for(1, &k);
	e.ver = RMB_VERSION;
	rmb_uid_new(e.uid);
	rmb_env_set_cmd(&e, "bench.echo");
	e.src = 1;
	e.dst = NODE_TWIN;
	e.now = clk_wall_s();
	e.exp = 60;
	rmb_env_set_dat(&e, payload, strlen(payload));
	rmb_env_sign(&e, &k);
	if (rmb_env_encode(&e, 0, &txt, req_len))
		abort();
	free(txt);
	e.kind = RMB_REPLY;
	e.src = NODE_TWIN;
	e.dst = 1;
	if (rmb_env_encode(&e, 0, &txt, rep_len))
		abort();
	free(txt);
	rmb_env_clear(&e);
	key_wipe(&k);
}

#define MAX_ROUNDS 9

int main(int argc, char **argv)
{
	int rounds = 3;
	if (argc > 1) {
		char *end;
		run_seconds = strtod(argv[1], &end);
		if (*end || !(run_seconds > 0 && run_seconds <= 60)) {
			fprintf(stderr, "usage: bench_rmb [SECONDS_PER_RUN (0..60] [ROUNDS 1..9]]\n");
			return 2;
		}
	}
	if (argc > 2) {
		rounds = argv[2][0] - '0';
		if (argv[2][1] || rounds < 1 || rounds > MAX_ROUNDS) {
			fprintf(stderr, "usage: bench_rmb [SECONDS_PER_RUN (0..60] [ROUNDS 1..9]]\n");
			return 2;
		}
	}
	if (sodium_init() < 0)
		return 1;
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "bench_rmb");
	snprintf(payload, sizeof(payload), "{\"data\":\"");
	memset(payload + strlen(payload), 'x', PAYLOAD_CHARS - 12);
	snprintf(payload + PAYLOAD_CHARS - 3, 4, "\"}");

	size_t req_len, rep_len;
	frame_sizes(&req_len, &rep_len);
	printf("frames: request %zu bytes, reply %zu bytes; %.1f s per run, %d rounds "
	       "alternating rmb and floor; medians below\n",
	       req_len, rep_len, run_seconds, rounds);

	/* The RMB server as the agent runs it (default contexts and workers),
	 * with the rate limit opened and the replay cache sized for the load. */
	struct rmb_server_cfg cfg;
	struct rmb_server *srv;
	struct zkey node;
	char rmb_url[64], floor_url[64];
	int port = 0;
	rmb_server_cfg_init(&cfg);
	cfg.listen[0] = "tcp://127.0.0.1:0";
	cfg.nlisten = 1;
	cfg.verify.rate = 1e9;
	cfg.verify.burst = 1e9;
	cfg.verify.replay_entries = 1u << 22;
	key_for(NODE_TWIN, &node);
	if (rmb_server_new(&cfg, &node, NODE_TWIN, lookup, NULL, &srv) ||
	    rmb_server_register(srv, "bench.echo", h_echo, NULL) || rmb_server_start(srv) ||
	    rmb_server_tcp_port(srv, 0, &port)) {
		fprintf(stderr, "cannot start the rmb server\n");
		return 1;
	}
	snprintf(rmb_url, sizeof(rmb_url), "tcp://127.0.0.1:%d", port);

	/* The floor: same frame sizes, as many server threads as RMB workers,
	 * one signature made and one checked on each side. */
	struct floor_srv fs;
	struct zkey c1;
	nng_listener l;
	pthread_t fth[MAX_CLIENTS];
	memset(&fs, 0, sizeof(fs));
	fs.rep_len = rep_len;
	fs.key = node;
	if (nng_rep0_open(&fs.sock) || nng_listen(fs.sock, "tcp://127.0.0.1:0", &l, 0) ||
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port))
		return 1;
	/* Floor clients all sign as twin 1: looking keys up per caller is part
	 * of what RMB adds, not of the floor. */
	key_for(1, &c1);
	memcpy(fs.peer_pk, c1.pk, 32);
	key_wipe(&c1);
	unsigned nfloor = cfg.workers < MAX_CLIENTS ? cfg.workers : MAX_CLIENTS;
	for (unsigned i = 0; i < nfloor; i++)
		pthread_create(&fth[i], NULL, floor_worker, &fs);
	snprintf(floor_url, sizeof(floor_url), "tcp://127.0.0.1:%d", port);

	/* Rounds alternate so that load from elsewhere on the machine hits both. */
	const int counts[2] = {1, 8};
	for (int c = 0; c < 2; c++) {
		struct result r[MAX_ROUNDS], f[MAX_ROUNDS];
		for (int i = 0; i < rounds; i++) {
			r[i] = measure("rmb", rmb_url, 0, counts[c], req_len, rep_len);
			f[i] = measure("floor", floor_url, 1, counts[c], req_len, rep_len);
		}
		qsort(r, (size_t)rounds, sizeof(*r), cmp_result);
		qsort(f, (size_t)rounds, sizeof(*f), cmp_result);
		struct result rm = r[rounds / 2], fm = f[rounds / 2];
		printf("clients=%d: rmb %.0f rt/s (p99 %.1f us, cpu %.1f us/rt), floor %.0f rt/s "
		       "(p99 %.1f us, cpu %.1f us/rt): rmb = %.0f%% of floor\n",
		       counts[c], rm.rps, rm.p99_us, rm.cpu_us, fm.rps, fm.p99_us, fm.cpu_us,
		       fm.rps > 0 ? 100.0 * rm.rps / fm.rps : 0.0);
		fflush(stdout);
	}
	rmb_server_free(srv);
	nng_close(fs.sock);
	for (unsigned i = 0; i < nfloor; i++)
		pthread_join(fth[i], NULL);
	key_wipe(&node);
	key_wipe(&fs.key);
	return 0;
}
