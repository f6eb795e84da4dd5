/*
 * Storage reads through the runtime's metadata, and block helpers: the
 * follower's reads of one block go out as one batched request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/client_int.h"
#include "chainclient/rpc_int.h"
#include "common/log.h"
#include "common/zerr.h"

#define CHAIN_MAX_KEYS 8

int chain_storage_raw(struct chain_client *c, const struct chain_runtime *rt, const char *pallet,
		      const char *item, size_t nkeys, const uint8_t *const *keys,
		      const size_t *key_lens, const uint8_t *at, uint8_t **out, size_t *outlen)
{
	struct zbuf key;
	int ret;

	*out = NULL;
	*outlen = 0;
	zbuf_init(&key, 4096);
	ret = meta_storage_key(rt->meta, pallet, item, nkeys, keys, key_lens, &key);
	if (ret == ZE_ABSENT) {
		log_warn("chain", "runtime %u has no storage %s.%s", rt->spec_version, pallet, item);
		ret = ZE_UNSUPPORTED;
	}
	if (!ret)
		ret = rpc_get_storage(c->rpc, key.data, key.len, at, c->opts.max_value, out, outlen);
	zbuf_free(&key);
	return ret;
}

/* SCALE-encodes each JSON key by the entry's key types. */
static int chain_encode_keys(const struct meta *m, const struct meta_storage *s, const cJSON *keys,
			     struct zbuf *enc, size_t *nkeys)
{
	size_t n = keys ? (size_t)cJSON_GetArraySize(keys) : 0;
	const cJSON *k;
	size_t i = 0;
	uint32_t type;
	int ret;

	if (keys && !cJSON_IsArray(keys))
		return -EINVAL;
	if (n != s->nhashers || n > CHAIN_MAX_KEYS) {
		log_warn("chain", "storage %s takes %zu key(s), %zu given", s->name, s->nhashers, n);
		return -EINVAL;
	}
	cJSON_ArrayForEach(k, keys) {
		ret = meta_storage_key_type(m, s, i, &type);
		if (!ret)
			ret = meta_from_json(m, type, k, &enc[i]);
		if (ret) {
			log_warn("chain", "storage %s: key %zu does not fit its type (#%u %s)",
				 s->name, i, type, meta_type_name(meta_type(m, type)));
			return ret;
		}
		i++;
	}
	*nkeys = n;
	return 0;
}

static int chain_get_json_rt(struct chain_client *c, const struct chain_runtime *rt,
			     const char *pallet, const char *item, const cJSON *keys,
			     const uint8_t *at, cJSON **out)
{
	const struct meta_pallet *p;
	const struct meta_storage *s;
	struct zbuf enc[CHAIN_MAX_KEYS];
	const uint8_t *kp[CHAIN_MAX_KEYS];
	size_t kl[CHAIN_MAX_KEYS], nkeys = 0;
	uint8_t *val = NULL;
	size_t vlen = 0;
	int ret;

	*out = NULL;
	for (size_t i = 0; i < CHAIN_MAX_KEYS; i++)
		zbuf_init(&enc[i], 1u << 16);
	p = meta_pallet(rt->meta, pallet);
	s = p ? meta_storage(p, item) : NULL;
	if (!s) {
		log_warn("chain", "runtime %u has no storage %s.%s", rt->spec_version, pallet, item);
		ret = ZE_UNSUPPORTED;
		goto out;
	}
	ret = chain_encode_keys(rt->meta, s, keys, enc, &nkeys);
	if (ret)
		goto out;
	for (size_t i = 0; i < nkeys; i++) {
		kp[i] = enc[i].data;
		kl[i] = enc[i].len;
	}
	ret = chain_storage_raw(c, rt, pallet, item, nkeys, kp, kl, at, &val, &vlen);
	if (ret == ZE_ABSENT && s->modifier == META_MOD_DEFAULT) {
		ret = meta_to_json_buf(rt->meta, s->value_type, s->def, s->def_len, out);
		goto out;
	}
	if (ret)
		goto out;
	ret = meta_to_json_buf(rt->meta, s->value_type, val, vlen, out);
	if (ret)
		log_err("chain", "%s.%s: stored value does not decode as runtime %u's %s: %s", pallet,
			item, rt->spec_version, meta_type_name(meta_type(rt->meta, s->value_type)),
			zerr_str(ret));
out:
	free(val);
	for (size_t i = 0; i < CHAIN_MAX_KEYS; i++)
		zbuf_free(&enc[i]);
	return ret;
}

int chain_get_json(struct chain_client *c, const char *pallet, const char *item,
		   const cJSON *keys, const uint8_t *at, cJSON **out)
{
	struct chain_runtime *rt = NULL;
	int changed = 0, ret;

	*out = NULL;
	ret = chain_client_runtime(c, &rt);
	if (ret)
		return ret;
	ret = chain_get_json_rt(c, rt, pallet, item, keys, at, out);
	/* A value that does not decode, or an item that does not exist, may
	 * mean the runtime was upgraded since the last check: look now rather
	 * than at the next interval, and read again if it was. */
	if ((ret == ZE_MALFORMED || ret == ZE_UNSUPPORTED) && chain_client_refresh(c, &changed) == 0 &&
	    changed) {
		chain_runtime_put(rt);
		rt = NULL;
		ret = chain_client_runtime(c, &rt);
		if (!ret)
			ret = chain_get_json_rt(c, rt, pallet, item, keys, at, out);
	}
	chain_runtime_put(rt);
	return ret;
}

int chain_block_number(struct chain_client *c, uint64_t *number)
{
	uint8_t parent[32];

	return rpc_header(c->rpc, NULL, number, parent);
}

int chain_finalized(struct chain_client *c, uint64_t *number, uint8_t hash[32])
{
	uint8_t parent[32];
	int ret = rpc_finalized_head(c->rpc, hash);

	if (!ret)
		ret = rpc_header(c->rpc, hash, number, parent);
	/* The node just named this block: its header cannot be absent. */
	return ret == ZE_ABSENT ? ZE_UNKNOWN : ret;
}

int chain_timestamp_ms(struct chain_client *c, const uint8_t *at, uint64_t *ms)
{
	cJSON *v = NULL;
	int ret = chain_get_json(c, "Timestamp", "Now", NULL, at, &v);

	if (!ret && meta_json_u64(v, ms) < 0)
		ret = ZE_MALFORMED;
	cJSON_Delete(v);
	return ret;
}

int chain_block_reads(struct chain_client *c, const struct chain_runtime *rt, uint64_t number,
		      uint8_t hash[32], int verify, int body, uint8_t **events, size_t *nevents,
		      uint8_t ***xts, size_t **lens, size_t *nxt)
{
	struct rpc_batch_call calls[BR_N];
	cJSON *params[BR_N] = {NULL, NULL, NULL};
	struct zbuf key;
	uint64_t num = 0;
	size_t first = verify ? BR_HASH : BR_EVENTS, last = body ? BR_BODY : BR_EVENTS;
	int ret;

	*events = NULL;
	*nevents = 0;
	*xts = NULL;
	*lens = NULL;
	*nxt = 0;
	memset(calls, 0, sizeof calls);
	zbuf_init(&key, 256);
	ret = meta_storage_key(rt->meta, "System", "Events", 0, NULL, NULL, &key);
	if (ret == ZE_ABSENT)
		ret = ZE_UNSUPPORTED;
	for (size_t i = 0; i < BR_N && !ret; i++)
		if (!(params[i] = cJSON_CreateArray()))
			ret = -ENOMEM;
	if (!ret && (!cJSON_AddItemToArray(params[BR_HASH], cJSON_CreateNumber((double)number)) ||
		     rpc_add_hex(params[BR_EVENTS], key.data, key.len) < 0 ||
		     rpc_add_hex(params[BR_EVENTS], hash, 32) < 0 ||
		     rpc_add_hex(params[BR_BODY], hash, 32) < 0))
		ret = -ENOMEM;
	zbuf_free(&key);
	calls[BR_HASH] = (struct rpc_batch_call){.method = "chain_getBlockHash",
						 .params = params[BR_HASH]};
	calls[BR_EVENTS] = (struct rpc_batch_call){.method = "state_getStorage",
						   .params = params[BR_EVENTS]};
	calls[BR_BODY] = (struct rpc_batch_call){.method = "chain_getBlock",
						 .params = params[BR_BODY]};
	/* The usual answer is read from the text (block_scan.c); any other
	 * answer as before, from its cJSON tree. */
	struct rpc_batch_text t = {.base = 0};
	uint8_t got[32];
	int scanned = 0;
	zbuf_init(&t.text, 0);
	if (!ret)
		ret = rpc_call_batch_text(c->rpc, calls + first, last - first + 1, &t);
	if (!ret && t.text.len &&
	    chain_scan_block_reads(&t.text, t.base, first, last, c->opts.max_value, got, events,
				   nevents, &num, xts, lens, nxt) == 0)
		scanned = 1;
	else if (!ret)
		rpc_batch_answers(c->rpc, calls + first, last - first + 1, &t);
	zbuf_free(&t.text);
	if (!ret && verify) {
		if (!scanned && !(ret = calls[BR_HASH].rc))
			ret = rpc_hash_result(calls[BR_HASH].result, got);
		if (!ret && memcmp(got, hash, 32) != 0) {
			memcpy(hash, got, 32);
			ret = ZE_STATE;
		}
	}
	if (!ret && !scanned) {
		ret = calls[BR_EVENTS].rc;
		if (!ret)
			ret = rpc_hex_result(calls[BR_EVENTS].result, c->opts.max_value, events,
					     nevents);
		/* A block without events stores nothing. */
		if (ret == ZE_ABSENT)
			ret = 0;
	}
	if (!ret && body) {
		if (!scanned && !(ret = calls[BR_BODY].rc))
			ret = rpc_block_result(calls[BR_BODY].result, &num, xts, lens, nxt);
		/* The chain named this block: its body cannot be absent. */
		if (ret == ZE_ABSENT || (!ret && num != number))
			ret = ZE_UNKNOWN;
	}
	if (ret) {
		free(*events);
		*events = NULL;
		*nevents = 0;
		rpc_keys_free(*xts, *lens, *nxt);
		*xts = NULL;
		*lens = NULL;
		*nxt = 0;
	}
	rpc_batch_free(calls, BR_N);
	for (size_t i = 0; i < BR_N; i++)
		cJSON_Delete(params[i]);
	return ret;
}
