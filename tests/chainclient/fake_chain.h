/*
 * A fake Substrate node for the chain client's tests, on top of fake_rpc.h.
 *
 * It serves the real tfchain metadata fixture, keeps one account's nonce, a
 * transaction pool and a list of blocks, verifies submitted extrinsics
 * (nonce, signature with the era's birth block) like a node's pool would,
 * and mines a block each time the client asks for the finalized head. Each
 * block starts with an unsigned "inherent"; pool extrinsics follow in nonce
 * order with System.ExtrinsicSuccess events, or ExtrinsicFailed with a
 * module error for calls into fail_pallet. Extra storage values can be set
 * by key for accessor tests.
 *
 * Header-only: include once per test program.
 */
#ifndef ZOS_TESTS_FAKE_CHAIN_H
#define ZOS_TESTS_FAKE_CHAIN_H

#include <inttypes.h>

#include "chainclient/hash.h"
#include "chainclient/meta.h"
#include "chainclient/xt.h"
#include "common/hex.h"
#include "fake_rpc.h"

#define FC_MAX_BLOCKS 512
#define FC_MAX_POOL 64
#define FC_MAX_KV 64

struct fc_block {
	uint8_t hash[32];
	char **xts; /* hex */
	size_t nxts;
	char *events; /* hex of SCALE Vec<EventRecord>, NULL = none stored */
};

struct fc_pool {
	char *hex;
	uint64_t nonce;
	uint8_t pallet;
};

struct fchain {
	pthread_mutex_t lock;
	struct meta *meta;
	char *meta_hex;
	struct xt_exts exts;
	uint32_t spec, tx;
	uint64_t height;
	struct fc_block blocks[FC_MAX_BLOCKS];
	struct fc_pool pool[FC_MAX_POOL];
	size_t npool;
	uint64_t nonce;   /* the account's on-chain nonce */
	int withhold;     /* leave the pool out of new blocks */
	int bad_events;   /* store events that do not decode */
	int fail_pallet;  /* calls to this pallet index fail; -1 = none */
	uint8_t fail_error;
	char *kv_key[FC_MAX_KV], *kv_val[FC_MAX_KV];
	size_t nkv;
	int submits, rejected_1010, rejected_1014;
	struct fake_rpc srv;
};

static inline void fc_hash_of(uint64_t n, uint8_t out[32])
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(n >> (8 * i));
	chain_blake2_256(le, 8, out);
}

static inline char *fc_hex(const uint8_t *p, size_t n)
{
	char *s = hex_encode_alloc(p, n, 1);
	if (!s)
		abort();
	return s;
}

static const char *fc_dispatch_info =
	"{\"weight\":{\"ref_time\":1000,\"proof_size\":0},\"class\":\"Normal\",\"pays_fee\":\"Yes\"}";

/* Adds one EventRecord for extrinsic idx to arr. */
static inline void fc_add_outcome(struct fchain *fc, cJSON *arr, size_t idx, int fail)
{
	char *s;
	if (fail)
		s = fake_printf("{\"phase\":{\"ApplyExtrinsic\":%zu},\"event\":{\"System\":{"
				"\"ExtrinsicFailed\":{\"dispatch_error\":{\"Module\":{\"index\":%d,"
				"\"error\":\"0x%02x000000\"}},\"dispatch_info\":%s}}},\"topics\":[]}",
				idx, fc->fail_pallet, fc->fail_error, fc_dispatch_info);
	else
		s = fake_printf("{\"phase\":{\"ApplyExtrinsic\":%zu},\"event\":{\"System\":{"
				"\"ExtrinsicSuccess\":{\"dispatch_info\":%s}}},\"topics\":[]}",
				idx, fc_dispatch_info);
	cJSON *rec = cJSON_Parse(s);
	free(s);
	if (!rec)
		abort();
	cJSON_AddItemToArray(arr, rec);
}

static inline char *fc_encode_events(struct fchain *fc, const cJSON *arr)
{
	const struct meta_pallet *p = meta_pallet(fc->meta, "System");
	const struct meta_storage *st = meta_storage(p, "Events");
	struct zbuf b;
	zbuf_init(&b, 0);
	if (meta_from_json(fc->meta, st->value_type, arr, &b) != 0)
		abort();
	char *s = fc_hex(b.data, b.len);
	zbuf_free(&b);
	return s;
}

/* Appends block height+1 (lock held). */
static inline void fc_mine(struct fchain *fc)
{
	uint64_t n = fc->height + 1;
	struct fc_block *b;
	cJSON *ev = cJSON_CreateArray();
	struct zbuf x;
	static const uint8_t inherent[] = {0x02, 0x00, 0x0b, 0x00, 0x10, 0xa5, 0xd4, 0xe8, 0x00};

	if (n >= FC_MAX_BLOCKS)
		abort();
	b = &fc->blocks[n];
	fc_hash_of(n, b->hash);
	b->xts = calloc(FC_MAX_POOL + 1, sizeof(char *));
	zbuf_init(&x, 0);
	if (!b->xts || !ev || xt_unsigned(inherent, sizeof(inherent), &x) != 0)
		abort();
	b->xts[b->nxts++] = fc_hex(x.data, x.len);
	zbuf_free(&x);
	fc_add_outcome(fc, ev, 0, 0);
	for (int progress = 1; progress && !fc->withhold;) {
		progress = 0;
		for (size_t i = 0; i < fc->npool; i++) {
			if (fc->pool[i].nonce != fc->nonce)
				continue;
			fc_add_outcome(fc, ev, b->nxts, fc->pool[i].pallet == fc->fail_pallet);
			b->xts[b->nxts++] = fc->pool[i].hex;
			fc->pool[i] = fc->pool[--fc->npool];
			fc->nonce++;
			progress = 1;
			break;
		}
	}
	b->events = fc->bad_events ? strdup("0x04ff") : fc_encode_events(fc, ev);
	cJSON_Delete(ev);
	fc->height = n;
}

static inline int fc_block_by_hash(struct fchain *fc, const char *hex, uint64_t *n)
{
	uint8_t h[32];
	if (hex_decode_fixed(hex, h, 32) != 0)
		return -1;
	for (uint64_t i = 0; i <= fc->height; i++)
		if (memcmp(fc->blocks[i].hash, h, 32) == 0) {
			*n = i;
			return 0;
		}
	return -1;
}

static inline void fc_header_json(struct fchain *fc, uint64_t n, char **out)
{
	uint8_t zero[32] = {0};
	char *ph = fc_hex(n ? fc->blocks[n - 1].hash : zero, 32);
	*out = fake_printf("{\"number\":\"0x%" PRIx64 "\",\"parentHash\":\"%s\"}", n, ph);
	free(ph);
}

static inline void fc_submit(struct fchain *fc, const char *hex, double id, struct fake_reply *r)
{
	uint8_t *raw, birth_hash[32];
	size_t n;
	struct xt_decoded d;

	fc->submits++;
	if (hex_decode_alloc(hex, XT_MAX_LEN, &raw, &n) != 0 ||
	    xt_decode(&fc->exts, raw, n, &d) != 0 || !d.is_signed) {
		fake_error(r, id, 1010, "Invalid Transaction", "Could not decode");
		return;
	}
	uint64_t birth = xt_era_birth(&d.era, fc->height);
	if (birth > fc->height) {
		fake_error(r, id, 1010, "Invalid Transaction", "Transaction has an ancient birth block");
		goto out;
	}
	memcpy(birth_hash, fc->blocks[d.era.mortal ? birth : 0].hash, 32);
	if (xt_verify(&fc->exts, &d, fc->spec, fc->tx, fc->blocks[0].hash, birth_hash) != 0) {
		fc->rejected_1010++;
		fake_error(r, id, 1010, "Invalid Transaction", "Transaction has a bad signature");
		goto out;
	}
	if (d.nonce < fc->nonce) {
		fc->rejected_1010++;
		fake_error(r, id, 1010, "Invalid Transaction", "Transaction is outdated");
		goto out;
	}
	for (size_t i = 0; i < fc->npool; i++)
		if (fc->pool[i].nonce == d.nonce) {
			fc->rejected_1014++;
			fake_error(r, id, 1014, "Priority is too low: (0 vs 0)", "The transaction has too low priority to replace another transaction already in the pool.");
			goto out;
		}
	if (fc->npool >= FC_MAX_POOL) {
		fake_error(r, id, 1010, "Invalid Transaction", "pool full");
		goto out;
	}
	fc->pool[fc->npool].hex = strdup(hex);
	fc->pool[fc->npool].nonce = d.nonce;
	fc->pool[fc->npool].pallet = d.call_len ? d.call[0] : 0xff;
	fc->npool++;
	uint8_t h[32];
	xt_hash(raw, n, h);
	char *hs = fc_hex(h, 32), *q = fake_printf("\"%s\"", hs);
	fake_result(r, id, q);
	free(hs);
	free(q);
out:
	free(raw);
}

static inline void fc_storage(struct fchain *fc, const cJSON *params, double id, struct fake_reply *r)
{
	const cJSON *k = cJSON_GetArrayItem(params, 0), *at = cJSON_GetArrayItem(params, 1);
	uint8_t ek[32];
	uint64_t n = fc->height;
	char *ekh;

	if (!cJSON_IsString(k)) {
		fake_error(r, id, -32602, "bad params", NULL);
		return;
	}
	chain_storage_prefix("System", "Events", ek);
	ekh = fc_hex(ek, 32);
	if (strcmp(k->valuestring, ekh) == 0) {
		free(ekh);
		if (cJSON_IsString(at) && fc_block_by_hash(fc, at->valuestring, &n) != 0) {
			fake_error(r, id, 4003, "Client error: unknown block", NULL);
			return;
		}
		if (!fc->blocks[n].events) {
			fake_result(r, id, "null");
		} else {
			char *q = fake_printf("\"%s\"", fc->blocks[n].events);
			fake_result(r, id, q);
			free(q);
		}
		return;
	}
	free(ekh);
	for (size_t i = 0; i < fc->nkv; i++)
		if (strcmp(fc->kv_key[i], k->valuestring) == 0) {
			char *q = fake_printf("\"%s\"", fc->kv_val[i]);
			fake_result(r, id, q);
			free(q);
			return;
		}
	fake_result(r, id, "null");
}

static inline void fc_handler(void *ud, const char *method, const cJSON *params, double id,
		       struct fake_reply *r)
{
	struct fchain *fc = ud;
	const cJSON *p0 = cJSON_GetArrayItem(params, 0);
	char *s = NULL, *t = NULL;
	uint64_t n;

	pthread_mutex_lock(&fc->lock);
	if (!strcmp(method, "chain_getBlockHash")) {
		n = cJSON_IsNumber(p0) ? (uint64_t)p0->valuedouble : fc->height;
		if (n > fc->height) {
			fake_result(r, id, "null");
		} else {
			t = fc_hex(fc->blocks[n].hash, 32);
			s = fake_printf("\"%s\"", t);
			fake_result(r, id, s);
		}
	} else if (!strcmp(method, "chain_getFinalizedHead")) {
		fc_mine(fc);
		t = fc_hex(fc->blocks[fc->height].hash, 32);
		s = fake_printf("\"%s\"", t);
		fake_result(r, id, s);
	} else if (!strcmp(method, "chain_getHeader")) {
		n = fc->height;
		if (cJSON_IsString(p0) && fc_block_by_hash(fc, p0->valuestring, &n) != 0) {
			fake_result(r, id, "null");
		} else {
			fc_header_json(fc, n, &s);
			fake_result(r, id, s);
		}
	} else if (!strcmp(method, "chain_getBlock")) {
		if (!cJSON_IsString(p0) || fc_block_by_hash(fc, p0->valuestring, &n) != 0) {
			fake_result(r, id, "null");
		} else {
			cJSON *arr = cJSON_CreateArray();
			for (size_t i = 0; i < fc->blocks[n].nxts; i++)
				cJSON_AddItemToArray(arr, cJSON_CreateString(fc->blocks[n].xts[i]));
			char *xs = cJSON_PrintUnformatted(arr);
			cJSON_Delete(arr);
			fc_header_json(fc, n, &t);
			s = fake_printf("{\"block\":{\"header\":%s,\"extrinsics\":%s},\"justifications\":null}", t, xs);
			free(xs);
			fake_result(r, id, s);
		}
	} else if (!strcmp(method, "state_getRuntimeVersion")) {
		s = fake_printf("{\"specName\":\"substrate-threefold\",\"specVersion\":%u,"
				"\"transactionVersion\":%u}", fc->spec, fc->tx);
		fake_result(r, id, s);
	} else if (!strcmp(method, "state_getMetadata")) {
		s = fake_printf("\"%s\"", fc->meta_hex);
		fake_result(r, id, s);
	} else if (!strcmp(method, "system_accountNextIndex")) {
		n = fc->nonce;
		for (int again = 1; again;) {
			again = 0;
			for (size_t i = 0; i < fc->npool; i++)
				if (fc->pool[i].nonce == n) {
					n++;
					again = 1;
				}
		}
		s = fake_printf("%" PRIu64, n);
		fake_result(r, id, s);
	} else if (!strcmp(method, "author_submitExtrinsic")) {
		if (cJSON_IsString(p0))
			fc_submit(fc, p0->valuestring, id, r);
		else
			fake_error(r, id, -32602, "bad params", NULL);
	} else if (!strcmp(method, "state_getStorage")) {
		fc_storage(fc, params, id, r);
	} else {
		fake_error(r, id, -32601, "Method not found", NULL);
	}
	pthread_mutex_unlock(&fc->lock);
	free(s);
	free(t);
}

/* Sets a storage value by full key (both 0x-hex). */
static inline void fc_set(struct fchain *fc, const uint8_t *key, size_t klen, const uint8_t *val,
		   size_t vlen)
{
	pthread_mutex_lock(&fc->lock);
	if (fc->nkv >= FC_MAX_KV)
		abort();
	fc->kv_key[fc->nkv] = fc_hex(key, klen);
	fc->kv_val[fc->nkv] = fc_hex(val, vlen);
	fc->nkv++;
	pthread_mutex_unlock(&fc->lock);
}

/* 0 when started; 77 when the fixture is missing (the caller skips). */
static inline int fc_start(struct fchain *fc, const char *fixture)
{
	FILE *f;
	uint8_t *raw;
	long sz;

	memset(fc, 0, sizeof(*fc));
	pthread_mutex_init(&fc->lock, NULL);
	f = fopen(fixture, "rb");
	if (!f)
		return 77;
	if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
		abort();
	raw = malloc((size_t)sz);
	if (!raw || fread(raw, 1, (size_t)sz, f) != (size_t)sz)
		abort();
	fclose(f);
	if (meta_decode(raw, (size_t)sz, &fc->meta) != 0 ||
	    xt_exts_from_meta(fc->meta, &fc->exts, NULL) != 0)
		abort();
	fc->meta_hex = fc_hex(raw, (size_t)sz);
	free(raw);
	fc->spec = 100;
	fc->tx = 1;
	fc->fail_pallet = -1;
	fc_hash_of(0, fc->blocks[0].hash);
	if (fake_start(&fc->srv, fc_handler, fc) != 0)
		abort();
	return 0;
}

static inline void fc_stop(struct fchain *fc)
{
	fake_stop(&fc->srv);
	for (uint64_t i = 0; i <= fc->height; i++) {
		for (size_t j = 0; j < fc->blocks[i].nxts; j++)
			free(fc->blocks[i].xts[j]);
		free(fc->blocks[i].xts);
		free(fc->blocks[i].events);
	}
	for (size_t i = 0; i < fc->npool; i++)
		free(fc->pool[i].hex);
	for (size_t i = 0; i < fc->nkv; i++) {
		free(fc->kv_key[i]);
		free(fc->kv_val[i]);
	}
	free(fc->meta_hex);
	meta_free(fc->meta);
	pthread_mutex_destroy(&fc->lock);
}

static inline const char *fc_fixture(void)
{
	static char path[512];
	const char *dir = getenv("ZOS_FIXTURES_DIR");
	snprintf(path, sizeof(path), "%s/tfchain-metadata-v14-2023-04.scale",
		 dir ? dir : "tests/fixtures");
	return path;
}

#endif
