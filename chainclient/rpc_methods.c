/*
 * Typed helpers over rpc_call for the Substrate methods the client uses.
 * Each one checks the shape of the result and turns a null where a value
 * was asked for into ZE_ABSENT; any other surprise is ZE_UNKNOWN, since the
 * server's answer cannot be trusted.
 */
#include "chainclient/rpc.h"
#include "chainclient/rpc_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/hash.h"
#include "chainclient/scale.h"
#include "common/buf.h"
#include "common/hex.h"
#include "common/jnum.h"
#include "common/key.h"
#include "common/zerr.h"

#define RPC_MAX_KEYS 1000

/* Adds "0x.." of p to arr; or a JSON null when p is NULL. */
int rpc_add_hex(cJSON *arr, const uint8_t *p, size_t n)
{
	cJSON *item;

	if (!p) {
		item = cJSON_CreateNull();
	} else {
		char *s = hex_encode_alloc(p, n, 1);
		if (!s)
			return -ENOMEM;
		item = cJSON_CreateString(s);
		free(s);
	}
	if (!item || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

int rpc_hex_result(const cJSON *res, size_t max, uint8_t **out, size_t *outlen)
{
	int ret;

	if (cJSON_IsNull(res))
		return ZE_ABSENT;
	if (!cJSON_IsString(res))
		return ZE_UNKNOWN;
	ret = hex_decode_alloc(res->valuestring, max, out, outlen);
	if (ret == ZE_MALFORMED)
		return ZE_UNKNOWN;
	return ret;
}

int rpc_hash_result(const cJSON *res, uint8_t hash[32])
{
	if (cJSON_IsNull(res))
		return ZE_ABSENT;
	if (!cJSON_IsString(res) || hex_decode_fixed(res->valuestring, hash, 32) < 0)
		return ZE_UNKNOWN;
	return 0;
}

int rpc_json_u64(const cJSON *v, uint64_t *out)
{
	if (cJSON_IsNumber(v))
		return jnum_u64(v, UINT64_MAX, out);
	if (!cJSON_IsString(v))
		return ZE_MALFORMED;
	return rpc_hex_u64(v->valuestring, strlen(v->valuestring), out);
}

int rpc_hex_u64(const char *s, size_t len, uint64_t *out)
{
	if (len < 3 || len > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return ZE_MALFORMED;
	uint64_t x = 0;
	for (size_t i = 2; i < len; i++) {
		int d = hex_digit(s[i]);
		if (d < 0)
			return ZE_MALFORMED;
		x = x << 4 | (uint64_t)d;
	}
	*out = x;
	return 0;
}

int rpc_get_storage(struct rpc_client *c, const uint8_t *key, size_t keylen,
		    const uint8_t *at, size_t max, uint8_t **out, size_t *outlen)
{
	cJSON *params = cJSON_CreateArray(), *res = NULL;
	int ret;

	*out = NULL;
	*outlen = 0;
	if (!at && c->opts.coalesce_reads) {
		cJSON_Delete(params);
		return rpc_get_storage_coalesced(c, key, keylen, max, out, outlen);
	}
	if (!params)
		return -ENOMEM;
	ret = rpc_add_hex(params, key, keylen);
	if (!ret && at)
		ret = rpc_add_hex(params, at, 32);
	if (!ret)
		ret = rpc_call(c, "state_getStorage", params, &res, NULL);
	if (!ret)
		ret = rpc_hex_result(res, max, out, outlen);
	cJSON_Delete(res);
	cJSON_Delete(params);
	return ret;
}

void rpc_keys_free(uint8_t **keys, size_t *lens, size_t nkeys)
{
	if (keys)
		for (size_t i = 0; i < nkeys; i++)
			free(keys[i]);
	free(keys);
	free(lens);
}

/* Decodes a JSON array of hex strings into separately allocated buffers. */
static int rpc_hex_array(const cJSON *arr, size_t maxn, size_t maxeach, uint8_t ***items,
			 size_t **lens, size_t *n)
{
	size_t cnt, i = 0;
	const cJSON *it;
	int ret = 0;

	*items = NULL;
	*lens = NULL;
	*n = 0;
	if (!cJSON_IsArray(arr))
		return ZE_UNKNOWN;
	cnt = (size_t)cJSON_GetArraySize(arr);
	if (cnt > maxn)
		return ZE_TOOBIG;
	if (cnt == 0)
		return 0;
	*items = calloc(cnt, sizeof(**items));
	*lens = calloc(cnt, sizeof(**lens));
	if (!*items || !*lens) {
		ret = -ENOMEM;
		goto fail;
	}
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it)) {
			ret = ZE_UNKNOWN;
			goto fail;
		}
		ret = hex_decode_alloc(it->valuestring, maxeach, &(*items)[i], &(*lens)[i]);
		if (ret < 0) {
			ret = ret == ZE_MALFORMED ? ZE_UNKNOWN : ret;
			goto fail;
		}
		i++;
	}
	*n = cnt;
	return 0;
fail:
	rpc_keys_free(*items, *lens, i);
	*items = NULL;
	*lens = NULL;
	return ret;
}

int rpc_get_keys_paged(struct rpc_client *c, const uint8_t *prefix, size_t plen,
		       unsigned count, const uint8_t *start, size_t slen, const uint8_t *at,
		       uint8_t ***keys, size_t **lens, size_t *nkeys)
{
	cJSON *params = cJSON_CreateArray(), *res = NULL, *num;
	int ret;

	*keys = NULL;
	*lens = NULL;
	*nkeys = 0;
	if (!params)
		return -ENOMEM;
	if (count > RPC_MAX_KEYS)
		count = RPC_MAX_KEYS;
	ret = rpc_add_hex(params, prefix, plen);
	if (!ret) {
		num = cJSON_CreateNumber(count);
		if (!num || !cJSON_AddItemToArray(params, num)) {
			cJSON_Delete(num);
			ret = -ENOMEM;
		}
	}
	if (!ret && (start || at))
		ret = rpc_add_hex(params, start, slen);
	if (!ret && at)
		ret = rpc_add_hex(params, at, 32);
	if (!ret)
		ret = rpc_call(c, "state_getKeysPaged", params, &res, NULL);
	if (!ret)
		ret = rpc_hex_array(res, count, 4096, keys, lens, nkeys);
	cJSON_Delete(res);
	cJSON_Delete(params);
	return ret;
}

int rpc_block_hash(struct rpc_client *c, uint64_t n, uint8_t hash[32])
{
	char params[40];
	cJSON *res = NULL;
	int ret;

	snprintf(params, sizeof(params), "[%" PRIu64 "]", n);
	ret = rpc_call_text(c, "chain_getBlockHash", params, &res, NULL);
	if (!ret)
		ret = rpc_hash_result(res, hash);
	cJSON_Delete(res);
	return ret;
}

static int rpc_at_params(const uint8_t *at, cJSON **params)
{
	*params = cJSON_CreateArray();
	if (!*params)
		return -ENOMEM;
	if (at && rpc_add_hex(*params, at, 32) < 0) {
		cJSON_Delete(*params);
		*params = NULL;
		return -ENOMEM;
	}
	return 0;
}

int rpc_header(struct rpc_client *c, const uint8_t *at, uint64_t *number, uint8_t parent[32])
{
	cJSON *params, *res = NULL;
	int ret = rpc_at_params(at, &params);

	if (ret)
		return ret;
	ret = rpc_call(c, "chain_getHeader", params, &res, NULL);
	if (!ret && cJSON_IsNull(res))
		ret = ZE_ABSENT;
	else if (!ret && (rpc_json_u64(cJSON_GetObjectItemCaseSensitive(res, "number"), number) < 0 ||
			  rpc_hash_result(cJSON_GetObjectItemCaseSensitive(res, "parentHash"),
					  parent) < 0))
		ret = ZE_UNKNOWN;
	cJSON_Delete(res);
	cJSON_Delete(params);
	return ret;
}

int rpc_finalized_head(struct rpc_client *c, uint8_t hash[32])
{
	cJSON *res = NULL;
	int ret = rpc_call(c, "chain_getFinalizedHead", NULL, &res, NULL);

	if (!ret)
		ret = rpc_hash_result(res, hash);
	cJSON_Delete(res);
	return ret;
}

int rpc_runtime_version(struct rpc_client *c, uint32_t *spec, uint32_t *tx)
{
	cJSON *res = NULL;
	uint64_t s, t;
	int ret = rpc_call(c, "state_getRuntimeVersion", NULL, &res, NULL);

	if (!ret) {
		if (rpc_json_u64(cJSON_GetObjectItemCaseSensitive(res, "specVersion"), &s) < 0 ||
		    rpc_json_u64(cJSON_GetObjectItemCaseSensitive(res, "transactionVersion"), &t) < 0 ||
		    s > UINT32_MAX || t > UINT32_MAX) {
			ret = ZE_UNKNOWN;
		} else {
			*spec = (uint32_t)s;
			*tx = (uint32_t)t;
		}
	}
	cJSON_Delete(res);
	return ret;
}

int rpc_metadata(struct rpc_client *c, uint8_t **out, size_t *outlen)
{
	cJSON *res = NULL;
	int ret = rpc_call(c, "state_getMetadata", NULL, &res, NULL);

	*out = NULL;
	*outlen = 0;
	if (!ret)
		ret = rpc_hex_result(res, 16u << 20, out, outlen);
	cJSON_Delete(res);
	return ret == ZE_ABSENT ? ZE_UNKNOWN : ret;
}

int rpc_account_next_index(struct rpc_client *c, const uint8_t account[32], uint64_t *nonce)
{
	char ss58[80];
	cJSON *params = NULL, *res = NULL, *s;
	int ret = ss58_encode(account, 42, ss58, sizeof(ss58));

	if (ret)
		return ret;
	params = cJSON_CreateArray();
	s = cJSON_CreateString(ss58);
	if (!params || !s || !cJSON_AddItemToArray(params, s)) {
		cJSON_Delete(s);
		cJSON_Delete(params);
		return -ENOMEM;
	}
	ret = rpc_call(c, "system_accountNextIndex", params, &res, NULL);
	if (!ret && rpc_json_u64(res, nonce) < 0)
		ret = ZE_UNKNOWN;
	cJSON_Delete(res);
	cJSON_Delete(params);
	return ret;
}

int rpc_submit_extrinsic(struct rpc_client *c, const uint8_t *xt, size_t n, uint8_t hash[32],
			 struct rpc_error *err)
{
	cJSON *params = cJSON_CreateArray(), *res = NULL;
	int ret;

	if (!params)
		return -ENOMEM;
	ret = rpc_add_hex(params, xt, n);
	if (!ret)
		ret = rpc_call_once(c, "author_submitExtrinsic", params, &res, err);
	if (!ret && rpc_hash_result(res, hash) < 0)
		ret = ZE_UNKNOWN;
	cJSON_Delete(res);
	cJSON_Delete(params);
	return ret;
}

int rpc_block_result(const cJSON *res, uint64_t *number, uint8_t ***xts, size_t **lens,
		     size_t *n)
{
	const cJSON *blk, *hdr;

	*xts = NULL;
	*lens = NULL;
	*n = 0;
	if (cJSON_IsNull(res))
		return ZE_ABSENT;
	blk = cJSON_GetObjectItemCaseSensitive(res, "block");
	hdr = cJSON_GetObjectItemCaseSensitive(blk, "header");
	if (rpc_json_u64(cJSON_GetObjectItemCaseSensitive(hdr, "number"), number) < 0)
		return ZE_UNKNOWN;
	return rpc_hex_array(cJSON_GetObjectItemCaseSensitive(blk, "extrinsics"), RPC_MAX_BLOCK_XTS,
			     RPC_MAX_XT_BYTES, xts, lens, n);
}

int rpc_block(struct rpc_client *c, const uint8_t hash[32], uint64_t *number, uint8_t ***xts,
	      size_t **lens, size_t *n)
{
	cJSON *params, *res = NULL;
	int ret = rpc_at_params(hash, &params);

	*xts = NULL;
	*lens = NULL;
	*n = 0;
	if (ret)
		return ret;
	ret = rpc_call(c, "chain_getBlock", params, &res, NULL);
	if (!ret)
		ret = rpc_block_result(res, number, xts, lens, n);
	cJSON_Delete(res);
	cJSON_Delete(params);
	return ret;
}

/* A header's logs are few and short (a pre-runtime digest, a seal). */
#define RPC_MAX_HEADER 65536

static int rpc_hex_field(const cJSON *o, const char *name, uint8_t out[32])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsString(v) || hex_decode_fixed(v->valuestring, out, 32) < 0)
		return ZE_MALFORMED;
	return 0;
}

int rpc_header_hash(const cJSON *hdr, uint64_t *number, uint8_t hash[32], uint8_t parent[32])
{
	uint8_t sroot[32], xroot[32];
	const cJSON *logs, *l;
	struct zbuf enc;
	int ret;

	if (!cJSON_IsObject(hdr) ||
	    rpc_json_u64(cJSON_GetObjectItemCaseSensitive(hdr, "number"), number) < 0 ||
	    *number > UINT32_MAX || rpc_hex_field(hdr, "parentHash", parent) < 0 ||
	    rpc_hex_field(hdr, "stateRoot", sroot) < 0 ||
	    rpc_hex_field(hdr, "extrinsicsRoot", xroot) < 0)
		return ZE_MALFORMED;
	logs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(hdr, "digest"),
						"logs");
	if (!cJSON_IsArray(logs))
		return ZE_MALFORMED;
	/* Header { parent_hash, number: Compact<u32>, state_root,
	 * extrinsics_root, digest: Vec<DigestItem> }, each log already the
	 * SCALE encoding of its DigestItem. */
	zbuf_init(&enc, RPC_MAX_HEADER);
	ret = scale_put_bytes(&enc, parent, 32);
	ret = ret ? ret : scale_put_compact(&enc, *number);
	ret = ret ? ret : scale_put_bytes(&enc, sroot, 32);
	ret = ret ? ret : scale_put_bytes(&enc, xroot, 32);
	ret = ret ? ret : scale_put_compact(&enc, (uint64_t)cJSON_GetArraySize(logs));
	cJSON_ArrayForEach(l, logs)
	{
		uint8_t *b = NULL;
		size_t n = 0;
		if (ret)
			break;
		if (!cJSON_IsString(l) ||
		    hex_decode_alloc(l->valuestring, RPC_MAX_HEADER, &b, &n) < 0) {
			ret = ZE_MALFORMED;
			break;
		}
		ret = scale_put_bytes(&enc, b, n);
		free(b);
	}
	if (!ret)
		chain_blake2_256(enc.data, enc.len, hash);
	zbuf_free(&enc);
	return ret ? ZE_MALFORMED : 0;
}

int rpc_finalized_head_and_hash(struct rpc_client *c, uint64_t n, uint8_t fin[32],
				uint8_t hash[32], int *have)
{
	cJSON *p = cJSON_CreateArray();
	struct rpc_batch_call calls[2] = {{.method = "chain_getFinalizedHead"},
					  {.method = "chain_getBlockHash", .params = p}};
	int ret;

	*have = 0;
	/* Without batches the second call would be a request of its own. */
	if (atomic_load(&c->no_batch)) {
		cJSON_Delete(p);
		return rpc_finalized_head(c, fin);
	}
	if (!p || !cJSON_AddItemToArray(p, cJSON_CreateNumber((double)n))) {
		cJSON_Delete(p);
		return -ENOMEM;
	}
	ret = rpc_call_batch(c, calls, 2);
	if (!ret)
		ret = calls[0].rc;
	if (!ret)
		ret = rpc_hash_result(calls[0].result, fin);
	/* The node just answered: a null finalized head is no answer. */
	if (ret == ZE_ABSENT)
		ret = ZE_UNKNOWN;
	if (!ret && calls[1].rc == 0 && rpc_hash_result(calls[1].result, hash) == 0)
		*have = 1;
	rpc_batch_free(calls, 2);
	cJSON_Delete(p);
	return ret;
}
