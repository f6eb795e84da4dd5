/*
 * The operation floor of one deploy, shared by bench_deploy_floor.c and
 * bench_deploy.c (a header of static functions: each bench is one program).
 *
 * What the agent cannot avoid for one one-zmount deployment (docs/rmb.md, docs/deploying.md):
 *   verify   the deploy request's RMB envelope: its challenge (blake2b of
 *            the field encoding) and the ed25519 verify (rmb_env_verify_sig)
 *   convert  the user twin's ed25519 account key to x25519 (seal_twin_x25519)
 *   open     the deployment_data box (seal_open: crypto_box_open_easy, whose
 *            x25519 scalar multiplication dominates)
 *   hash     blake2b-256 of the plaintext (seal_hash_check)
 *   sign     one extrinsic signature: set_contract_deployed(contract_id)
 *            with tfchain's signed extensions and a mortal era (xt_sign)
 *
 * Each part and the whole sequence are timed per iteration on one thread;
 * the figure is the median, which shrugs off preemption on a shared machine.
 *
 * Beside the crypto, the operations a deploy cannot skip either, each
 * measured as the agent's CPU time (and wall time) in the same run:
 *   commit   one durable commit: a SQLite transaction of one small row with
 *            the agent store's settings (WAL, synchronous=FULL, so one
 *            fdatasync), in a directory on the state directory's disk
 *   nng      one REQ/REP round trip of a deploy-sized frame over loopback
 *            TCP; the CPU is the replying process's (the agent's side),
 *            from a server forked before any thread starts
 *   chain    two JSON-RPC round trips (chain_getFinalizedHead) to the chain
 *            the bench runs, over the agent's chain client (chainclient/rpc)
 *            and the agent's transport: over HTTP the calling thread's CPU;
 *            over ws:// that plus the client's I/O thread's CPU per pair
 * The operation floor is their sum: crypto + commit + nng + 2 chain.
 */
#ifndef ZOS_BENCH_DEPLOY_FLOOR_H
#define ZOS_BENCH_DEPLOY_FLOOR_H

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "chainclient/rpc.h"
#include "chainclient/xt.h"
#include "common/buf.h"
#include "common/key.h"
#include "common/seal.h"
#include "rmb/rmb_envelope.h"

#define FLOOR_PARTS 6 /* verify, convert, open, hash, sign, total */

static const char *const floor_part_names[FLOOR_PARTS] = {"envelope verify", "key conversion",
							   "box open", "blake2b-256",
							   "extrinsic sign", "total"};

struct floor_result {
	double us[FLOOR_PARTS]; /* medians */
	size_t doc_len, data_len, env_len;
};

/* A one-zmount deployment document as the CLI sends it (compact JSON). */
static inline int floor_doc(uint32_t twin, unsigned seq, char *out, size_t outsz)
{
	int n = snprintf(out, outsz,
			 "{\"version\":0,\"metadata\":\"\",\"description\":\"bench %u\","
			 "\"workloads\":[{\"version\":0,\"name\":\"disk1\",\"type\":\"zmount\","
			 "\"metadata\":\"\",\"description\":\"\",\"data\":{\"size\":16777216}}],"
			 "\"twin_id\":%u}",
			 seq, twin);
	return n > 0 && (size_t)n < outsz ? n : -1;
}

static inline int floor_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static inline double floor_median_us(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, floor_cmp_u64);
	return n ? (double)v[n / 2] / 1000.0 : 0;
}

/* Runs iters iterations; 0 or -1 (a step failed: a bug, printed). */
static inline int deploy_floor_measure(unsigned iters, struct floor_result *r)
{
	struct zkey user, node;
	uint8_t node_x_sk[32], node_x_pk[32], user_x_sk[32], hash[32];
	char doc[512];
	int rc = -1;
	uint64_t *t = calloc((size_t)iters * FLOOR_PARTS, sizeof *t);
	uint8_t *data = NULL;
	size_t data_len = 0;
	struct rmb_env env;
	struct zbuf xt;
	rmb_env_init(&env);
	zbuf_init(&xt, 1 << 16);
	memset(r, 0, sizeof *r);
	if (!t || key_generate(&user) < 0 || key_generate(&node) < 0)
		goto out;
	int dl = floor_doc(4242, 1, doc, sizeof doc);
	if (dl < 0 || key_x25519_sk(&node, node_x_sk) < 0 || key_x25519_pk(node.pk, node_x_pk) < 0 ||
	    key_x25519_sk(&user, user_x_sk) < 0 ||
	    seal_box((const uint8_t *)doc, (size_t)dl, node_x_pk, user_x_sk, 0, &data, &data_len) < 0)
		goto out;
	seal_hash(doc, (size_t)dl, hash);

	/* The deploy request as the CLI sends it. */
	char uid[RMB_UID_MAX + 1];
	const char *dat = "{\"contract_id\":\"123456\"}";
	rmb_uid_new(uid);
	env.ver = RMB_VERSION;
	env.kind = RMB_REQUEST;
	env.src = 4242;
	env.dst = 7;
	env.now = (uint64_t)time(NULL);
	env.exp = 60;
	if (rmb_env_set_uid(&env, uid) < 0 || rmb_env_set_cmd(&env, "zos.deployment.deploy") < 0 ||
	    rmb_env_set_dat(&env, dat, strlen(dat)) < 0 || rmb_env_sign(&env, &user) < 0)
		goto out;
	char *enc = NULL;
	size_t enc_len = 0;
	if (rmb_env_encode(&env, 0, &enc, &enc_len) == 0)
		free(enc);

	/* set_contract_deployed(u64) as a call: pallet, call index, u64. */
	uint8_t call[10] = {26, 9, 0x40, 0xe2, 0x01, 0, 0, 0, 0, 0};
	struct xt_exts exts;
	xt_exts_default(&exts);
	struct xt_params p;
	memset(&p, 0, sizeof p);
	p.call = call;
	p.call_len = sizeof call;
	xt_era_mortal(64, 1000, &p.era);
	p.nonce = 17;
	p.spec_version = 1;
	p.tx_version = 1;
	memset(p.genesis, 0xab, 32);
	memset(p.block_hash, 0xcd, 32);

	for (unsigned i = 0; i < iters; i++) {
		uint64_t *ti = t + (size_t)i * FLOOR_PARTS;
		uint8_t user_x_pk[32];
		uint8_t *pt = NULL;
		size_t ptlen = 0;
		uint64_t t0 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		if (rmb_env_verify_sig(&env, user.pk) != 0)
			goto bad;
		uint64_t t1 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		if (seal_twin_x25519(NULL, 0, user.pk, user_x_pk) < 0)
			goto bad;
		uint64_t t2 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		if (seal_open(data, data_len, user_x_pk, node_x_sk, 0, &pt, &ptlen) < 0)
			goto bad;
		uint64_t t3 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		int hrc = seal_hash_check(pt, ptlen, hash);
		uint64_t t4 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		seal_free(pt, ptlen);
		if (hrc != 0)
			goto bad;
		uint64_t t5 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		zbuf_reset(&xt);
		p.nonce++;
		if (xt_sign(&exts, &p, &node, &xt) < 0)
			goto bad;
		uint64_t t6 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		ti[0] = t1 - t0;
		ti[1] = t2 - t1;
		ti[2] = t3 - t2;
		ti[3] = t4 - t3;
		ti[4] = t6 - t5;
		ti[5] = (t4 - t0) + (t6 - t5);
	}
	/* Column-wise medians. */
	uint64_t *col = malloc((size_t)iters * sizeof *col);
	if (!col)
		goto out;
	for (int k = 0; k < FLOOR_PARTS; k++) {
		for (unsigned i = 0; i < iters; i++)
			col[i] = t[(size_t)i * FLOOR_PARTS + k];
		r->us[k] = floor_median_us(col, iters);
	}
	free(col);
	r->doc_len = (size_t)dl;
	r->data_len = data_len;
	r->env_len = enc_len;
	rc = 0;
	goto out;
bad:
	fprintf(stderr, "deploy floor: a crypto step failed (bug)\n");
out:
	free(t);
	free(data);
	rmb_env_clear(&env);
	zbuf_free(&xt);
	key_wipe(&user);
	key_wipe(&node);
	sodium_memzero(node_x_sk, sizeof node_x_sk);
	sodium_memzero(user_x_sk, sizeof user_x_sk);
	return rc;
}

static inline void deploy_floor_print(const struct floor_result *r, FILE *f)
{
	fprintf(f, "deploy CPU floor (median; document %zu B, deployment_data %zu B, envelope %zu B):\n",
		r->doc_len, r->data_len, r->env_len);
	for (int k = 0; k < FLOOR_PARTS; k++)
		fprintf(f, "  %-16s %8.1f us\n", floor_part_names[k], r->us[k]);
}

/* ---- the operations beside the crypto ---- */

struct floor_op {
	double cpu_us, wall_us; /* medians per operation (nng: CPU is a mean) */
	int ok;
};

static inline int floor_exec(sqlite3 *db, const char *q)
{
	return sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* One durable commit, iters times, in a fresh database under dir. */
static inline int floor_commit_measure(const char *dir, unsigned iters, struct floor_op *r)
{
	char path[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;
	uint64_t *cpu = calloc(iters, sizeof *cpu), *wall = calloc(iters, sizeof *wall);
	memset(r, 0, sizeof *r);
	snprintf(path, sizeof path, "%s/floor-commit.%d.db", dir, (int)getpid());
	if (!cpu || !wall || sqlite3_open(path, &db) != SQLITE_OK ||
	    floor_exec(db, "PRAGMA journal_mode=WAL") < 0 ||
	    floor_exec(db, "PRAGMA synchronous=FULL") < 0 ||
	    floor_exec(db, "PRAGMA cache_size=-512") < 0 ||
	    floor_exec(db, "PRAGMA temp_store=MEMORY") < 0 ||
	    floor_exec(db, "CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT)") < 0 ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO t(k,v) VALUES(?,?)", -1, &st, NULL) !=
		SQLITE_OK)
		goto out;
	static const char row[] = "{\"contract_id\":123456,\"state\":\"deploying\",\"twin\":4242,"
				  "\"hash\":\"0123456789abcdef0123456789abcdef\"}";
	for (unsigned i = 0; i < iters; i++) {
		uint64_t c0 = ((uint64_t)clk_ns(CLOCK_THREAD_CPUTIME_ID)), w0 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		if (floor_exec(db, "BEGIN IMMEDIATE") < 0)
			goto out;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)(i % 64));
		sqlite3_bind_text(st, 2, row, -1, SQLITE_STATIC);
		int src = sqlite3_step(st);
		sqlite3_reset(st);
		if (src != SQLITE_DONE || floor_exec(db, "COMMIT") < 0)
			goto out;
		cpu[i] = ((uint64_t)clk_ns(CLOCK_THREAD_CPUTIME_ID)) - c0;
		wall[i] = ((uint64_t)clk_ns(CLOCK_MONOTONIC)) - w0;
	}
	r->cpu_us = floor_median_us(cpu, iters);
	r->wall_us = floor_median_us(wall, iters);
	r->ok = 1;
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "deploy floor: commit in %s: %s\n", dir,
			db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_finalize(st);
	sqlite3_close(db);
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int k = 0; k < 3; k++) {
		char p[4200];
		snprintf(p, sizeof p, "%s%s", path, sfx[k]);
		unlink(p);
	}
	free(cpu);
	free(wall);
	return rc;
}

/*
 * The nng round trip's replying side: a child process forked before the
 * bench starts any thread (nng's and libcurl's threads do not survive a
 * fork). It answers every request with a frame of the same size, and a
 * one-byte request with its own CPU time so far (ns, decimal), so the
 * parent measures the agent's side of a round trip alone. It exits when
 * its parent is gone.
 */
struct floor_nng {
	pid_t pid;
	int port;
};

static inline void floor_nng_serve(int wfd, pid_t parent)
{
	nng_socket s;
	nng_listener l;
	int port = 0;
	if (nng_rep0_open(&s) != 0 || nng_listen(s, "tcp://127.0.0.1:0", &l, 0) != 0 ||
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
		port = 0;
	if (write(wfd, &port, sizeof port) != (ssize_t)sizeof port || !port)
		_exit(1);
	close(wfd);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1000);
	for (;;) {
		void *buf = NULL;
		size_t len = 0;
		int rv = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC);
		if (rv == NNG_ETIMEDOUT) {
			if (getppid() != parent)
				_exit(0);
			continue;
		}
		if (rv != 0)
			_exit(1);
		if (len == 1) {
			struct rusage ru;
			char out[32];
			getrusage(RUSAGE_SELF, &ru);
			uint64_t ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
					      1000000000u +
				      ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
			int n = snprintf(out, sizeof out, "%llu", (unsigned long long)ns);
			nng_free(buf, len);
			if (nng_send(s, out, (size_t)n + 1, 0) != 0)
				_exit(1);
			continue;
		}
		/* The reply, like the agent's, is a fresh frame of about the request's size. */
		void *rep = nng_alloc(len);
		if (!rep)
			_exit(1);
		memcpy(rep, buf, len);
		nng_free(buf, len);
		if (nng_send(s, rep, len, NNG_FLAG_ALLOC) != 0)
			_exit(1);
	}
}

/* Forks the server; call before any thread starts. 0 or -1. */
static inline int floor_nng_start(struct floor_nng *n)
{
	int p[2];
	memset(n, 0, sizeof *n);
	if (pipe(p) < 0)
		return -1;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		floor_nng_serve(p[1], parent);
		_exit(0);
	}
	close(p[1]);
	ssize_t r = read(p[0], &n->port, sizeof n->port);
	close(p[0]);
	n->pid = pid;
	if (r != (ssize_t)sizeof n->port || !n->port) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		n->pid = 0;
		return -1;
	}
	return 0;
}

static inline void floor_nng_stop(struct floor_nng *n)
{
	if (n->pid > 0) {
		kill(n->pid, SIGTERM);
		waitpid(n->pid, NULL, 0);
	}
	n->pid = 0;
}

static inline int floor_nng_cpu(nng_socket s, uint64_t *ns)
{
	char q = '?', *buf = NULL;
	size_t len = 0;
	if (nng_send(s, &q, 1, 0) != 0 || nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0)
		return -1;
	int ok = len > 1 && buf[len - 1] == '\0';
	if (ok)
		*ns = strtoull(buf, NULL, 10);
	nng_free(buf, len);
	return ok ? 0 : -1;
}

/* iters round trips of a frame_len-byte request to the server. */
static inline int floor_nng_measure(const struct floor_nng *n, size_t frame_len, unsigned iters,
				    struct floor_op *r)
{
	nng_socket s;
	char url[64];
	uint64_t *wall = calloc(iters, sizeof *wall), c0 = 0, c1 = 0;
	uint8_t *frame = malloc(frame_len);
	int rc = -1;
	memset(r, 0, sizeof *r);
	if (!wall || !frame || !n->pid || nng_req0_open(&s) != 0) {
		free(wall);
		free(frame);
		return -1;
	}
	randombytes_buf(frame, frame_len);
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", n->port);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	if (nng_dial(s, url, NULL, 0) != 0)
		goto out;
	for (unsigned i = 0; i < iters / 10 + 10; i++) { /* warm up the connection */
		void *b = NULL;
		size_t l = 0;
		if (nng_send(s, frame, frame_len, 0) != 0 || nng_recv(s, &b, &l, NNG_FLAG_ALLOC) != 0)
			goto out;
		nng_free(b, l);
	}
	if (floor_nng_cpu(s, &c0) < 0)
		goto out;
	for (unsigned i = 0; i < iters; i++) {
		void *b = NULL;
		size_t l = 0;
		uint64_t w0 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		if (nng_send(s, frame, frame_len, 0) != 0 || nng_recv(s, &b, &l, NNG_FLAG_ALLOC) != 0)
			goto out;
		wall[i] = ((uint64_t)clk_ns(CLOCK_MONOTONIC)) - w0;
		nng_free(b, l);
	}
	if (floor_nng_cpu(s, &c1) < 0)
		goto out;
	r->cpu_us = (double)(c1 - c0) / 1000.0 / iters;
	r->wall_us = floor_median_us(wall, iters);
	r->ok = 1;
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "deploy floor: nng round trip to %s failed\n", url);
	nng_close(s);
	free(wall);
	free(frame);
	return rc;
}

/* iters pairs of chain_getFinalizedHead on rpc; the figure is per pair.
 * Over WebSocket the client's I/O thread writes and reads the socket, so
 * its CPU over the loop, shared out per pair, is added to the caller's; it
 * also carries the announced heads that arrive meanwhile (a few per
 * second, as in the agent). */
static inline int floor_chain_measure(struct rpc_client *rpc, unsigned iters, struct floor_op *r)
{
	uint64_t *cpu = calloc(iters, sizeof *cpu), *wall = calloc(iters, sizeof *wall);
	struct rpc_stats s0, s1;
	int rc = -1;
	memset(r, 0, sizeof *r);
	if (!cpu || !wall)
		goto out;
	rpc_client_stats(rpc, &s0);
	for (unsigned i = 0; i < iters; i++) {
		uint64_t c0 = ((uint64_t)clk_ns(CLOCK_THREAD_CPUTIME_ID)), w0 = ((uint64_t)clk_ns(CLOCK_MONOTONIC));
		for (int k = 0; k < 2; k++) {
			cJSON *res = NULL;
			if (rpc_call(rpc, "chain_getFinalizedHead", NULL, &res, NULL) < 0) {
				fprintf(stderr, "deploy floor: chain_getFinalizedHead failed\n");
				goto out;
			}
			cJSON_Delete(res);
		}
		cpu[i] = ((uint64_t)clk_ns(CLOCK_THREAD_CPUTIME_ID)) - c0;
		wall[i] = ((uint64_t)clk_ns(CLOCK_MONOTONIC)) - w0;
	}
	rpc_client_stats(rpc, &s1);
	r->cpu_us = floor_median_us(cpu, iters) +
		    (double)(s1.io_cpu_ns - s0.io_cpu_ns) / 1000.0 / iters;
	r->wall_us = floor_median_us(wall, iters);
	r->ok = 1;
	rc = 0;
out:
	free(cpu);
	free(wall);
	return rc;
}

/* The whole operation floor of one deploy. */
struct deploy_floor {
	struct floor_result crypto;
	struct floor_op commit, nng, chain; /* chain: two round trips */
	double total_us;                    /* CPU: crypto + commit + nng + chain */
	double wall_us;                     /* the same operations' wall time */
	int chain_ws;                       /* the chain part went over ws:// */
};

/* Measures what it can: the commit needs dir, the nng part a server (n may
 * be NULL), the chain part rpc (may be NULL); missing parts count 0 and are
 * printed as such. -1 only when the crypto fails (a bug). */
static inline int deploy_floor_all(unsigned iters, const char *dir, const struct floor_nng *n,
				   struct rpc_client *rpc, struct deploy_floor *f)
{
	memset(f, 0, sizeof *f);
	if (deploy_floor_measure(iters, &f->crypto) < 0)
		return -1;
	unsigned io = iters / 20 > 200 ? 200 : iters / 20 < 20 ? 20 : iters / 20;
	if (dir)
		floor_commit_measure(dir, io, &f->commit);
	if (n)
		floor_nng_measure(n, f->crypto.env_len ? f->crypto.env_len : 315, io * 5, &f->nng);
	if (rpc) {
		const char *u = rpc_client_url(rpc);
		f->chain_ws = u && (strncmp(u, "ws://", 5) == 0 || strncmp(u, "wss://", 6) == 0);
		floor_chain_measure(rpc, io, &f->chain);
	}
	f->total_us = f->crypto.us[FLOOR_PARTS - 1] + f->commit.cpu_us + f->nng.cpu_us +
		      f->chain.cpu_us;
	f->wall_us = f->crypto.us[FLOOR_PARTS - 1] + f->commit.wall_us + f->nng.wall_us +
		     f->chain.wall_us;
	return 0;
}

static inline void floor_op_print(FILE *out, const char *name, const struct floor_op *o)
{
	if (o->ok)
		fprintf(out, "  %-34s %8.1f us CPU %10.1f us wall\n", name, o->cpu_us, o->wall_us);
	else
		fprintf(out, "  %-34s not measured (counts 0)\n", name);
}

static inline void deploy_floor_all_print(const struct deploy_floor *f, FILE *out)
{
	deploy_floor_print(&f->crypto, out);
	fprintf(out, "deploy operation floor (the agent's CPU per operation):\n");
	fprintf(out, "  %-34s %8.1f us CPU\n", "crypto (total above)", f->crypto.us[FLOOR_PARTS - 1]);
	floor_op_print(out, "durable commit (1 row, fdatasync)", &f->commit);
	floor_op_print(out, "nng REQ/REP round trip (rep side)", &f->nng);
	floor_op_print(out, f->chain_ws ? "chain round trips (2, ws)" : "chain round trips (2, HTTP)",
		       &f->chain);
	fprintf(out, "  %-34s %8.1f us CPU %10.1f us wall\n", "OPERATION FLOOR", f->total_us,
		f->wall_us);
}

#endif
