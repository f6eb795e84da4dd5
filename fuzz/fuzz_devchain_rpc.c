/*
 * libFuzzer target for tfchain-dev's JSON-RPC request handling
 * (dev_rpc_handle: parsing, batches, every method's parameter checks) on an
 * in-memory chain. Beyond "no crash, no leak, no overread": every answer is
 * one JSON value, and a batch's answer stays within the response budget.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devchain/chain.h"
#include "devchain/genesis.h"
#include "devchain/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dev_chain *chain(void)
{
	static struct dev_chain *c;
	if (!c) {
		cJSON *g = NULL;
		if (dev_genesis_load(NULL, &g) || dev_chain_open(":memory:", g, &c))
			abort();
		cJSON_Delete(g);
		uint32_t num;
		size_t n;
		if (dev_chain_produce(c, 1700000000000ull, &num, &n))
			abort();
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > DEV_RPC_BODY_MAX)
		return 0; /* the HTTP side answers 413 before parsing */
	char *out = dev_rpc_handle(chain(), (const char *)data, size);
	if (!out)
		return 0;
	size_t len = strlen(out);
	cJSON *j = cJSON_ParseWithLength(out, len);
	if (!j)
		abort();
	if (cJSON_IsArray(j) &&
	    len > DEV_RPC_RESPONSE_MAX + (size_t)DEV_RPC_BATCH_MAX * (DEV_RPC_ID_MAX + 512))
		abort();
	cJSON_Delete(j);
	free(out);
	return 0;
}
