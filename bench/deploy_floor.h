/*
 * The CPU floor of one deploy, shared by bench_deploy_floor.c and
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
 */
#ifndef ZOS_BENCH_DEPLOY_FLOOR_H
#define ZOS_BENCH_DEPLOY_FLOOR_H

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static inline uint64_t floor_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
		uint64_t t0 = floor_now_ns();
		if (rmb_env_verify_sig(&env, user.pk) != 0)
			goto bad;
		uint64_t t1 = floor_now_ns();
		if (seal_twin_x25519(NULL, 0, user.pk, user_x_pk) < 0)
			goto bad;
		uint64_t t2 = floor_now_ns();
		if (seal_open(data, data_len, user_x_pk, node_x_sk, 0, &pt, &ptlen) < 0)
			goto bad;
		uint64_t t3 = floor_now_ns();
		int hrc = seal_hash_check(pt, ptlen, hash);
		uint64_t t4 = floor_now_ns();
		seal_free(pt, ptlen);
		if (hrc != 0)
			goto bad;
		uint64_t t5 = floor_now_ns();
		zbuf_reset(&xt);
		p.nonce++;
		if (xt_sign(&exts, &p, &node, &xt) < 0)
			goto bad;
		uint64_t t6 = floor_now_ns();
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

#endif
