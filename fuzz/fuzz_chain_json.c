/*
 * libFuzzer target for the agent's decoding of what a chain node answers:
 * the JSON-RPC response envelope and each method's result (chainclient/
 * rpc.c, rpc_methods.c), served by an in-process HTTP server, and the
 * decoders from storage JSON into grid structs (grid_*_from_json).
 *
 * Input: a first byte choosing the method, then the text. When the text
 * starts with '=', the rest is placed as "result" in an envelope with the
 * right id (reaching the method's own decoding); otherwise it is the whole
 * response body. Beyond "no crash, no leak, no overread": what decodes is
 * in range (heights, versions, lengths).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "chainclient/rpc.h"
#include "common/jnum.h"
#include "common/zerr.h"
#include "tests/chainclient/fake_rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	const uint8_t *p;
	size_t n;
} cur;

static void serve(void *ud, const char *method, const cJSON *params, double id,
                  struct fake_reply *r)
{
	(void)ud;
	(void)method;
	(void)params;
	if (cur.n && cur.p[0] == '=') {
		char *res = strndup((const char *)cur.p + 1, cur.n - 1);
		r->body =
		    res ? fake_printf("{\"jsonrpc\":\"2.0\",\"id\":%.0f,\"result\":%s}", id, res)
		        : NULL;
		free(res);
	} else {
		r->body = strndup((const char *)cur.p, cur.n);
	}
}

static struct rpc_client *client(void)
{
	static struct fake_rpc f;
	static struct rpc_client *c;
	if (!c) {
		struct rpc_opts o;
		rpc_opts_default(&o);
		o.retries = 0;
		o.max_response = 1 << 20;
		if (fake_start(&f, serve, NULL) || rpc_client_new(f.url, &o, &c))
			abort();
	}
	return c;
}

static void grid_decoders(const uint8_t *p, size_t n)
{
	cJSON *j = cJSON_ParseWithLength((const char *)p, n);
	if (!j)
		return;
	struct grid_account a;
	struct grid_twin t;
	struct grid_node nd;
	struct grid_farm fm;
	struct grid_pricing_policy pp;
	struct grid_contract ct;
	(void)grid_account_from_json(j, &a);
	if (grid_twin_from_json(j, &t) == 0 && t.pk_len > sizeof t.pk)
		abort();
	(void)grid_node_from_json(j, &nd);
	(void)grid_farm_from_json(j, &fm);
	(void)grid_pricing_policy_from_json(j, &pp);
	memset(&ct, 0, sizeof ct);
	if (grid_contract_from_json(j, &ct) == 0)
		grid_contract_clear(&ct);
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	cur.p = data + 1;
	cur.n = size - 1;
	grid_decoders(cur.p, cur.n);
	struct rpc_client *c = client();
	uint8_t hash[32], key[4] = {1, 2, 3, 4};
	uint64_t num, nonce;
	uint32_t spec, tx;
	uint8_t *val = NULL, **xts = NULL;
	size_t len = 0, nx = 0, *lens = NULL;
	int rc;
	switch (data[0] % 8) {
	case 0:
		rc = rpc_get_storage(c, key, sizeof key, NULL, 4096, &val, &len);
		if (rc == 0 && len > 4096)
			abort();
		if (rc == 0)
			free(val);
		break;
	case 1:
		(void)rpc_block_hash(c, 5, hash);
		break;
	case 2:
		if (rpc_header(c, NULL, &num, hash) == 0 && num > JNUM_MAX)
			abort();
		break;
	case 3:
		(void)rpc_runtime_version(c, &spec, &tx);
		break;
	case 4:
		if (rpc_metadata(c, &val, &len) == 0)
			free(val);
		break;
	case 5:
		(void)rpc_account_next_index(c, hash, &nonce);
		break;
	case 6:
		if (rpc_block(c, hash, &num, &xts, &lens, &nx) == 0)
			rpc_keys_free(xts, lens, nx);
		break;
	default:
		(void)rpc_finalized_head(c, hash);
		break;
	}
	return 0;
}
