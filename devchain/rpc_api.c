/* JSON-RPC 2.0 framing and the Substrate methods. */
#include "devchain/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/jnum.h"
#include "common/key.h"
#include "common/utf8.h"
#include "common/zerr.h"
#include "devchain/chain.h"
#include "devchain/runtime.h"

enum {
	E_PARSE = -32700,
	E_REQUEST = -32600,
	E_METHOD = -32601,
	E_PARAMS = -32602,
	E_INTERNAL = -32603,
	E_TOO_LARGE = -32008, /* the batch's answers exceed DEV_RPC_RESPONSE_MAX */
	E_UNKNOWN_BLOCK = 4003,
};

#define KEYS_PAGE_MAX 1000

/* A method's outcome: a result, or an error with code/message/data. */
struct reply {
	cJSON *result;
	int code;
	const char *message;
	char data[240];
};

static int fail(struct reply *r, int code, const char *message, const char *data)
{
	r->code = code;
	r->message = message;
	if (data)
		snprintf(r->data, sizeof(r->data), "%s", data);
	return -1;
}

static int ok(struct reply *r, cJSON *v)
{
	if (!v)
		return fail(r, E_INTERNAL, "Internal error", "out of memory");
	r->result = v;
	return 0;
}

static cJSON *hex_json(const uint8_t *p, size_t n)
{
	char *s = hex_encode_alloc(p, n, 1);
	if (!s)
		return NULL;
	cJSON *v = cJSON_CreateString(s);
	free(s);
	return v;
}

/* "0x1f": Substrate's form of block numbers in headers. */
static cJSON *num_json(uint64_t n)
{
	char s[24];
	snprintf(s, sizeof(s), "0x%llx", (unsigned long long)n);
	return cJSON_CreateString(s);
}

static const cJSON *param(const cJSON *params, int i)
{
	const cJSON *v = params ? cJSON_GetArrayItem(params, i) : NULL;
	return v && !cJSON_IsNull(v) ? v : NULL;
}

/* An optional block hash parameter: NULL/absent = the best block. */
static int block_at(struct dev_chain *c, const cJSON *v, uint32_t *num, struct reply *r)
{
	uint8_t hash[32];
	if (!v)
		return dev_chain_resolve(c, NULL, num) ? fail(r, E_INTERNAL, "Internal error", NULL) : 0;
	if (!cJSON_IsString(v) || hex_decode_fixed(v->valuestring, hash, 32))
		return fail(r, E_PARAMS, "Invalid params", "block hash must be 0x + 64 hex digits");
	if (dev_chain_resolve(c, hash, num))
		return fail(r, E_UNKNOWN_BLOCK, "Client error: UnknownBlock", v->valuestring);
	return 0;
}

static int bytes_param(const cJSON *v, size_t max, uint8_t **out, size_t *len, struct reply *r,
		       const char *what)
{
	char msg[96];
	if (!v || !cJSON_IsString(v)) {
		snprintf(msg, sizeof(msg), "%s must be a 0x-hex string", what);
		return fail(r, E_PARAMS, "Invalid params", msg);
	}
	int rc = hex_decode_alloc(v->valuestring, max, out, len);
	if (rc) {
		snprintf(msg, sizeof(msg), "%s: %s", what,
			 rc == ZE_TOOBIG ? "too long" : "bad hex");
		return fail(r, E_PARAMS, "Invalid params", msg);
	}
	return 0;
}

static int m_get_storage(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	uint8_t *key;
	size_t klen;
	uint32_t num;
	struct zbuf v;
	if (bytes_param(param(params, 0), DEV_KEY_MAX, &key, &klen, r, "key"))
		return -1;
	if (block_at(c, param(params, 1), &num, r)) {
		free(key);
		return -1;
	}
	zbuf_init(&v, DEV_VALUE_MAX);
	int rc = klen ? dev_chain_storage(c, num, key, klen, &v) : ZE_ABSENT;
	free(key);
	if (rc == ZE_ABSENT)
		rc = ok(r, cJSON_CreateNull());
	else if (rc)
		rc = fail(r, E_INTERNAL, "Internal error", zerr_str(rc));
	else
		rc = ok(r, hex_json(v.data, v.len));
	zbuf_free(&v);
	return rc;
}

/* state_queryStorageAt [keys, at?]: one change set holding every key's value
 * at the block (polkadot.js reads storage this way over HTTP). */
static int m_query_storage_at(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	const cJSON *keys = param(params, 0), *k;
	uint32_t num;
	uint8_t hash[32];
	if (!keys || !cJSON_IsArray(keys) || cJSON_GetArraySize(keys) > KEYS_PAGE_MAX)
		return fail(r, E_PARAMS, "Invalid params", "keys must be an array of at most 1000");
	if (block_at(c, param(params, 1), &num, r))
		return -1;
	if (dev_chain_block(c, num, hash, NULL, NULL))
		return fail(r, E_INTERNAL, "Internal error", NULL);
	cJSON *out = cJSON_CreateArray(), *set = cJSON_CreateObject(), *changes = NULL;
	if (!out || !set || !cJSON_AddItemToObject(set, "block", hex_json(hash, 32)) ||
	    !(changes = cJSON_AddArrayToObject(set, "changes"))) {
		cJSON_Delete(out);
		cJSON_Delete(set);
		return fail(r, E_INTERNAL, "Internal error", "out of memory");
	}
	cJSON_AddItemToArray(out, set);
	struct zbuf v;
	zbuf_init(&v, DEV_VALUE_MAX);
	cJSON_ArrayForEach(k, keys)
	{
		uint8_t *key;
		size_t klen;
		if (bytes_param(k, DEV_KEY_MAX, &key, &klen, r, "key")) {
			zbuf_free(&v);
			cJSON_Delete(out);
			return -1;
		}
		zbuf_reset(&v);
		int rc = klen ? dev_chain_storage(c, num, key, klen, &v) : ZE_ABSENT;
		cJSON *pair = cJSON_CreateArray();
		if (pair) {
			cJSON_AddItemToArray(pair, hex_json(key, klen));
			cJSON_AddItemToArray(pair, rc ? cJSON_CreateNull() : hex_json(v.data, v.len));
			cJSON_AddItemToArray(changes, pair);
		}
		free(key);
		if (!pair || (rc && rc != ZE_ABSENT)) {
			zbuf_free(&v);
			cJSON_Delete(out);
			return fail(r, E_INTERNAL, "Internal error", rc ? zerr_str(rc) : "out of memory");
		}
	}
	zbuf_free(&v);
	return ok(r, out);
}

static int add_key(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	cJSON *s = hex_json(key, klen);
	if (!s)
		return -ENOMEM;
	cJSON_AddItemToArray(arg, s);
	return 0;
}

static int keys_common(struct dev_chain *c, const cJSON *prefix_p, size_t count,
		       const cJSON *start_p, const cJSON *at_p, struct reply *r)
{
	uint8_t *prefix = NULL, *start = NULL;
	size_t plen, slen = 0;
	uint32_t num;
	int rc = -1;
	cJSON *arr = NULL;
	if (bytes_param(prefix_p, DEV_KEY_MAX, &prefix, &plen, r, "prefix"))
		return -1;
	if (start_p && bytes_param(start_p, DEV_KEY_MAX, &start, &slen, r, "start key"))
		goto out;
	if (block_at(c, at_p, &num, r))
		goto out;
	if (!(arr = cJSON_CreateArray())) {
		fail(r, E_INTERNAL, "Internal error", "out of memory");
		goto out;
	}
	/* A start key before the prefix means "from the prefix on". */
	int rcs = dev_chain_keys(c, num, prefix, plen, slen ? start : NULL, slen, count, add_key, arr);
	if (rcs) {
		fail(r, E_INTERNAL, "Internal error", zerr_str(rcs));
		goto out;
	}
	rc = ok(r, arr);
	arr = NULL;
out:
	cJSON_Delete(arr);
	free(prefix);
	free(start);
	return rc;
}

static int m_get_keys_paged(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	const cJSON *count = param(params, 1);
	uint64_t n;
	if (jnum_u64(count, UINT64_MAX, &n))
		return fail(r, E_PARAMS, "Invalid params", "count must be a non-negative integer");
	if (n > KEYS_PAGE_MAX)
		return fail(r, E_PARAMS, "Invalid params", "count exceeds 1000");
	return keys_common(c, param(params, 0), (size_t)n, param(params, 2), param(params, 3), r);
}

static int m_get_keys(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	return keys_common(c, param(params, 0), KEYS_PAGE_MAX, NULL, param(params, 1), r);
}

static int m_get_metadata(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	size_t len;
	uint32_t num;
	if (block_at(c, param(params, 0), &num, r))
		return -1;
	const uint8_t *m = dev_chain_metadata(c, &len);
	return ok(r, hex_json(m, len));
}

static int m_runtime_version(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	uint32_t num;
	if (block_at(c, param(params, 0), &num, r))
		return -1;
	cJSON *v = cJSON_CreateObject();
	if (!v || !cJSON_AddStringToObject(v, "specName", DEV_SPEC_NAME) ||
	    !cJSON_AddStringToObject(v, "implName", DEV_IMPL_NAME) ||
	    !cJSON_AddNumberToObject(v, "authoringVersion", 1) ||
	    !cJSON_AddNumberToObject(v, "specVersion", DEV_SPEC_VERSION) ||
	    !cJSON_AddNumberToObject(v, "implVersion", 1) ||
	    !cJSON_AddArrayToObject(v, "apis") ||
	    !cJSON_AddNumberToObject(v, "transactionVersion", DEV_TX_VERSION) ||
	    !cJSON_AddNumberToObject(v, "stateVersion", 1)) {
		cJSON_Delete(v);
		return fail(r, E_INTERNAL, "Internal error", "out of memory");
	}
	return ok(r, v);
}

static int m_block_hash(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	const cJSON *n = param(params, 0);
	uint32_t num, head;
	uint8_t hash[32];
	if (!n) {
		dev_chain_head(c, NULL, hash);
		return ok(r, hex_json(hash, 32));
	}
	if (cJSON_IsNumber(n)) {
		if (jnum_u32(n, &num) < 0)
			return fail(r, E_PARAMS, "Invalid params", "block number");
	} else if (cJSON_IsString(n)) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(n->valuestring, &end, 0);
		if (errno || *end || end == n->valuestring || v > UINT32_MAX)
			return fail(r, E_PARAMS, "Invalid params", "block number");
		num = (uint32_t)v;
	} else {
		return fail(r, E_PARAMS, "Invalid params", "block number");
	}
	dev_chain_head(c, &head, NULL);
	if (num > head)
		return ok(r, cJSON_CreateNull());
	int rc = dev_chain_block(c, num, hash, NULL, NULL);
	if (rc == ZE_ABSENT)
		return ok(r, cJSON_CreateNull());
	if (rc)
		return fail(r, E_INTERNAL, "Internal error", zerr_str(rc));
	return ok(r, hex_json(hash, 32));
}

static cJSON *header_json(const uint8_t *p, size_t n)
{
	struct scale_rd rd;
	const uint8_t *parent, *sroot, *xroot;
	uint64_t num, ndigest;
	scale_rd_init(&rd, p, n);
	if (scale_get_view(&rd, 32, &parent) || scale_get_compact(&rd, &num) ||
	    scale_get_view(&rd, 32, &sroot) || scale_get_view(&rd, 32, &xroot) ||
	    scale_get_compact(&rd, &ndigest) || ndigest != 0)
		return NULL;
	cJSON *h = cJSON_CreateObject(), *d;
	if (!h || !cJSON_AddItemToObject(h, "parentHash", hex_json(parent, 32)) ||
	    !cJSON_AddItemToObject(h, "number", num_json(num)) ||
	    !cJSON_AddItemToObject(h, "stateRoot", hex_json(sroot, 32)) ||
	    !cJSON_AddItemToObject(h, "extrinsicsRoot", hex_json(xroot, 32)) ||
	    !(d = cJSON_AddObjectToObject(h, "digest")) || !cJSON_AddArrayToObject(d, "logs")) {
		cJSON_Delete(h);
		return NULL;
	}
	return h;
}

static cJSON *body_json(const uint8_t *p, size_t n)
{
	struct scale_rd rd;
	uint64_t count;
	cJSON *arr = cJSON_CreateArray();
	scale_rd_init(&rd, p, n);
	if (!arr || scale_get_compact(&rd, &count))
		goto fail;
	for (uint64_t i = 0; i < count; i++) {
		size_t start = rd.off;
		uint64_t len;
		cJSON *s;
		if (scale_get_compact(&rd, &len) || scale_skip(&rd, len) ||
		    !(s = hex_json(p + start, rd.off - start)))
			goto fail;
		cJSON_AddItemToArray(arr, s);
	}
	return arr;
fail:
	cJSON_Delete(arr);
	return NULL;
}

static int get_block(struct dev_chain *c, const cJSON *params, struct reply *r, int with_body)
{
	uint32_t num;
	struct zbuf header, body;
	cJSON *out = NULL;
	if (block_at(c, param(params, 0), &num, r)) {
		if (r->code != E_UNKNOWN_BLOCK)
			return -1;
		/* Substrate answers null for a block it does not know. */
		r->code = 0;
		r->data[0] = 0;
		return ok(r, cJSON_CreateNull());
	}
	zbuf_init(&header, 1u << 16);
	zbuf_init(&body, 64u << 20);
	int rc = dev_chain_block(c, num, NULL, &header, with_body ? &body : NULL);
	if (rc) {
		fail(r, E_INTERNAL, "Internal error", zerr_str(rc));
		goto done;
	}
	cJSON *h = header_json(header.data, header.len);
	if (!with_body) {
		out = h;
	} else {
		cJSON *b = cJSON_CreateObject(), *x = body_json(body.data, body.len);
		out = cJSON_CreateObject();
		if (b && h && x && out) {
			cJSON_AddItemToObject(b, "header", h);
			cJSON_AddItemToObject(b, "extrinsics", x);
			cJSON_AddItemToObject(out, "block", b);
			cJSON_AddNullToObject(out, "justifications");
		} else {
			cJSON_Delete(b);
			cJSON_Delete(h);
			cJSON_Delete(x);
			cJSON_Delete(out);
			out = NULL;
		}
	}
	rc = out ? ok(r, out) : fail(r, E_INTERNAL, "Internal error", "stored block does not decode");
done:
	zbuf_free(&header);
	zbuf_free(&body);
	return rc;
}

static int m_header(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	return get_block(c, params, r, 0);
}

static int m_block(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	return get_block(c, params, r, 1);
}

static int m_finalized_head(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	uint8_t hash[32];
	dev_chain_head(c, NULL, hash); /* instant finality */
	return ok(r, hex_json(hash, 32));
}

static int m_next_index(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	const cJSON *who = param(params, 0);
	uint8_t pk[32];
	uint64_t nonce;
	if (!who || !cJSON_IsString(who) || key_parse_account(who->valuestring, pk))
		return fail(r, E_PARAMS, "Invalid params", "account must be SS58 or 0x-hex");
	if (dev_chain_next_index(c, pk, &nonce))
		return fail(r, E_INTERNAL, "Internal error", NULL);
	return ok(r, cJSON_CreateNumber((double)nonce));
}

static int m_submit(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	uint8_t *xt, hash[32];
	size_t len;
	struct dev_reject why;
	const cJSON *v = param(params, 0);
	/* Twice the limit, so an oversized extrinsic earns a 1010 that says so. */
	if (v && cJSON_IsString(v) && strlen(v->valuestring) > 4 * (size_t)DEV_XT_MAX + 2)
		return fail(r, DEV_RPC_INVALID_TX, "Invalid Transaction",
			    "Transaction would exhaust the block limits (too large)");
	if (bytes_param(v, 2 * (size_t)DEV_XT_MAX, &xt, &len, r, "extrinsic"))
		return -1;
	memset(&why, 0, sizeof(why));
	int rc = dev_chain_submit(c, xt, len, hash, &why);
	free(xt);
	if (rc == ZE_CHAIN)
		return fail(r, why.code,
			    why.code == DEV_RPC_INVALID_TX	  ? "Invalid Transaction"
			    : why.code == DEV_RPC_TOO_LOW_PRIORITY ? "Priority is too low"
								   : "Immediately Dropped",
			    why.reason);
	if (rc)
		return fail(r, E_INTERNAL, "Internal error", zerr_str(rc));
	return ok(r, hex_json(hash, 32));
}

static int m_chain(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	return ok(r, cJSON_CreateString("tfchain-dev"));
}

static int m_version(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	return ok(r, cJSON_CreateString("1.0.0"));
}

static int m_properties(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	cJSON *v = cJSON_CreateObject();
	if (!v || !cJSON_AddNumberToObject(v, "ss58Format", 42) ||
	    !cJSON_AddNumberToObject(v, "tokenDecimals", 7) ||
	    !cJSON_AddStringToObject(v, "tokenSymbol", "TFT")) {
		cJSON_Delete(v);
		return fail(r, E_INTERNAL, "Internal error", "out of memory");
	}
	return ok(r, v);
}

static int m_health(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	cJSON *v = cJSON_CreateObject();
	if (!v || !cJSON_AddNumberToObject(v, "peers", 0) || !cJSON_AddFalseToObject(v, "isSyncing") ||
	    !cJSON_AddFalseToObject(v, "shouldHavePeers")) {
		cJSON_Delete(v);
		return fail(r, E_INTERNAL, "Internal error", "out of memory");
	}
	return ok(r, v);
}

static int add_xt(void *arg, const uint8_t *xt, size_t len)
{
	cJSON *s = hex_json(xt, len);
	if (!s)
		return -ENOMEM;
	cJSON_AddItemToArray(arg, s);
	return 0;
}

static int m_pending(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	cJSON *arr = cJSON_CreateArray();
	if (!arr || dev_chain_pool_each(c, add_xt, arr)) {
		cJSON_Delete(arr);
		return fail(r, E_INTERNAL, "Internal error", "out of memory");
	}
	return ok(r, arr);
}

/* payment_queryInfo [xt, at?]: Substrate's RuntimeDispatchInfo shape. */
static int m_query_info(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	uint8_t *xt;
	size_t len;
	scale_u128 fee;
	char dec[40];
	if (bytes_param(param(params, 0), DEV_XT_MAX, &xt, &len, r, "extrinsic"))
		return -1;
	int rc = dev_chain_fee_of(c, xt, len, &fee);
	free(xt);
	if (rc)
		return fail(r, E_PARAMS, "Invalid params", "not a signed extrinsic of a known call");
	scale_u128_str(fee, dec);
	cJSON *v = cJSON_CreateObject(), *w;
	if (!v || !(w = cJSON_AddObjectToObject(v, "weight")) ||
	    !cJSON_AddNumberToObject(w, "refTime", 100000000) ||
	    !cJSON_AddNumberToObject(w, "proofSize", 0) ||
	    !cJSON_AddStringToObject(v, "class", "normal") ||
	    !cJSON_AddStringToObject(v, "partialFee", dec)) {
		cJSON_Delete(v);
		return fail(r, E_INTERNAL, "Internal error", "out of memory");
	}
	return ok(r, v);
}

static int m_methods(struct dev_chain *c, const cJSON *params, struct reply *r);

/* Subscriptions live on a WebSocket connection (rpc_ws.c answers them
 * there); they are listed by rpc_methods, as a client checks that list, and
 * refused over HTTP as a Substrate node refuses them. */
static int m_ws_only(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	return fail(r, E_METHOD, "Method not found",
		    "subscriptions need a WebSocket connection (ws:// on the same port)");
}

static const struct method {
	const char *name;
	int (*fn)(struct dev_chain *c, const cJSON *params, struct reply *r);
} methods[] = {
	{"state_getStorage", m_get_storage},
	{"state_getStorageAt", m_get_storage},
	{"state_queryStorageAt", m_query_storage_at},
	{"state_getKeysPaged", m_get_keys_paged},
	{"state_getKeys", m_get_keys},
	{"state_getMetadata", m_get_metadata},
	{"state_getRuntimeVersion", m_runtime_version},
	{"chain_getRuntimeVersion", m_runtime_version},
	{"chain_getBlockHash", m_block_hash},
	{"chain_getHeader", m_header},
	{"chain_getBlock", m_block},
	{"chain_getFinalizedHead", m_finalized_head},
	{"chain_getFinalisedHead", m_finalized_head},
	{"system_accountNextIndex", m_next_index},
	{"account_nextIndex", m_next_index},
	{"author_submitExtrinsic", m_submit},
	{"system_chain", m_chain},
	{"system_name", m_chain},
	{"system_version", m_version},
	{"system_properties", m_properties},
	{"system_health", m_health},
	{"author_pendingExtrinsics", m_pending},
	{"payment_queryInfo", m_query_info},
	{"rpc_methods", m_methods},
	{"chain_subscribeNewHeads", m_ws_only},
	{"chain_subscribeNewHead", m_ws_only},
	{"chain_subscribeFinalizedHeads", m_ws_only},
	{"chain_subscribeFinalisedHeads", m_ws_only},
	{"chain_subscribeAllHeads", m_ws_only},
	{"chain_unsubscribeNewHeads", m_ws_only},
	{"chain_unsubscribeNewHead", m_ws_only},
	{"chain_unsubscribeFinalizedHeads", m_ws_only},
	{"chain_unsubscribeFinalisedHeads", m_ws_only},
	{"chain_unsubscribeAllHeads", m_ws_only},
	{"state_subscribeRuntimeVersion", m_ws_only},
	{"state_unsubscribeRuntimeVersion", m_ws_only},
	{"state_subscribeStorage", m_ws_only},
	{"state_unsubscribeStorage", m_ws_only},
};

static int m_methods(struct dev_chain *c, const cJSON *params, struct reply *r)
{
	cJSON *v = cJSON_CreateObject(), *list;
	if (!v || !(list = cJSON_AddArrayToObject(v, "methods"))) {
		cJSON_Delete(v);
		return fail(r, E_INTERNAL, "Internal error", "out of memory");
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(methods[i].name));
	return ok(r, v);
}

/* One request object to one response object (NULL for a notification). */
static cJSON *handle_one(struct dev_chain *c, const cJSON *req)
{
	struct reply r = {0};
	const cJSON *id = NULL, *method, *params;
	int is_call = cJSON_IsObject(req);
	if (is_call) {
		id = cJSON_GetObjectItemCaseSensitive(req, "id");
		if (id && !cJSON_IsNumber(id) && !cJSON_IsString(id) && !cJSON_IsNull(id))
			id = NULL;
		/* The id is echoed in the answer: it must be valid UTF-8 (the
		 * answer is JSON) and short (a batch must not multiply it). */
		if (cJSON_IsString(id) && (strlen(id->valuestring) > DEV_RPC_ID_MAX ||
					   !utf8_valid(id->valuestring, strlen(id->valuestring)))) {
			id = NULL;
			is_call = 0;
		}
	}
	const cJSON *ver = is_call ? cJSON_GetObjectItemCaseSensitive(req, "jsonrpc") : NULL;
	method = is_call ? cJSON_GetObjectItemCaseSensitive(req, "method") : NULL;
	params = is_call ? cJSON_GetObjectItemCaseSensitive(req, "params") : NULL;
	if (!is_call || !cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0 ||
	    !cJSON_IsString(method)) {
		fail(&r, E_REQUEST, "Invalid request", NULL);
	} else if (params && !cJSON_IsArray(params) && !cJSON_IsNull(params)) {
		fail(&r, E_PARAMS, "Invalid params", "params must be an array");
	} else {
		size_t i, n = sizeof(methods) / sizeof(methods[0]);
		for (i = 0; i < n && strcmp(methods[i].name, method->valuestring) != 0; i++)
			;
		if (i == n)
			fail(&r, E_METHOD, "Method not found", NULL);
		else
			methods[i].fn(c, cJSON_IsArray(params) ? params : NULL, &r);
	}
	if (is_call && !cJSON_GetObjectItemCaseSensitive(req, "id") && r.code != E_REQUEST) {
		cJSON_Delete(r.result); /* a notification gets no answer */
		return NULL;
	}
	cJSON *out = cJSON_CreateObject();
	if (!out) {
		cJSON_Delete(r.result);
		return NULL;
	}
	cJSON_AddStringToObject(out, "jsonrpc", "2.0");
	if (r.code) {
		cJSON *e = cJSON_AddObjectToObject(out, "error");
		if (e) {
			cJSON_AddNumberToObject(e, "code", r.code);
			cJSON_AddStringToObject(e, "message", r.message);
			if (r.data[0])
				cJSON_AddStringToObject(e, "data", r.data);
		}
	} else {
		cJSON_AddItemToObject(out, "result", r.result);
	}
	cJSON_AddItemToObject(out, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
	return out;
}

cJSON *dev_rpc_result(struct dev_chain *c, const char *method, const cJSON *params)
{
	size_t i, n = sizeof(methods) / sizeof(methods[0]);
	struct reply r = {0};

	for (i = 0; i < n && strcmp(methods[i].name, method) != 0; i++)
		;
	if (i == n || methods[i].fn(c, params, &r) < 0 || r.code) {
		cJSON_Delete(r.result);
		return NULL;
	}
	return r.result;
}

static char *error_text(int code, const char *message)
{
	char buf[160];
	snprintf(buf, sizeof(buf),
		 "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":\"%s\"},\"id\":null}", code,
		 message);
	return strdup(buf);
}

/* The answer to a batch entry that did not fit the response budget. */
static char *too_large(const cJSON *req)
{
	const cJSON *id = cJSON_IsObject(req) ? cJSON_GetObjectItemCaseSensitive(req, "id") : NULL;
	char *idtxt = id && (cJSON_IsNumber(id) || cJSON_IsString(id))
			      ? cJSON_PrintUnformatted(id)
			      : NULL;
	size_t n = (idtxt ? strlen(idtxt) : 4) + 256;
	char *out = malloc(n);
	if (out)
		snprintf(out, n,
			 "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":\"Response too "
			 "large\",\"data\":\"the answers to one request are limited to %u bytes; "
			 "split the batch\"},\"id\":%s}",
			 E_TOO_LARGE, DEV_RPC_RESPONSE_MAX, idtxt ? idtxt : "null");
	free(idtxt);
	return out;
}

/* A batch answered entry by entry into one text, within DEV_RPC_RESPONSE_MAX:
 * entries past the budget get a "Response too large" error instead of their
 * result, so a small request cannot make the node write megabytes. */
static char *handle_batch(struct dev_chain *c, const cJSON *req)
{
	struct zbuf b;
	const cJSON *item;
	size_t answered = 0;
	/* Each error entry is a few hundred bytes (the id is capped): the
	 * budget plus one per entry bounds the text. */
	zbuf_init(&b, DEV_RPC_RESPONSE_MAX + (size_t)DEV_RPC_BATCH_MAX * (DEV_RPC_ID_MAX + 512));
	int rc = zbuf_putc(&b, '[');
	cJSON_ArrayForEach(item, req)
	{
		if (rc)
			break;
		cJSON *one = handle_one(c, item);
		if (!one)
			continue;
		char *txt = cJSON_PrintUnformatted(one);
		cJSON_Delete(one);
		if (txt && b.len + strlen(txt) > DEV_RPC_RESPONSE_MAX) {
			free(txt);
			txt = too_large(item);
		}
		if (!txt) {
			rc = -ENOMEM;
			break;
		}
		if (answered++)
			rc = zbuf_putc(&b, ',');
		if (!rc)
			rc = zbuf_put(&b, txt, strlen(txt));
		free(txt);
	}
	if (!rc)
		rc = zbuf_putc(&b, ']');
	if (!rc)
		rc = zbuf_cstr(&b);
	if (rc || !answered) {
		zbuf_free(&b);
		return NULL;
	}
	size_t len;
	return (char *)zbuf_steal(&b, &len);
}

char *dev_rpc_handle(struct dev_chain *c, const char *body, size_t len)
{
	cJSON *req = cJSON_ParseWithLength(body ? body : "", len);
	cJSON *out = NULL;
	char *text;
	if (!req)
		return error_text(E_PARSE, "Parse error");
	if (cJSON_IsArray(req)) {
		int n = cJSON_GetArraySize(req);
		if (n == 0 || n > DEV_RPC_BATCH_MAX) {
			cJSON_Delete(req);
			return error_text(E_REQUEST, n ? "Batch too large" : "Invalid request");
		}
		text = handle_batch(c, req);
		cJSON_Delete(req);
		return text;
	}
	out = handle_one(c, req);
	cJSON_Delete(req);
	if (!out)
		return NULL;
	text = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	return text;
}
