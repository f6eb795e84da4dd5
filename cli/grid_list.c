/*
 * zos-cli contract list: the contracts of a twin (a scan of
 * SmartContractModule.Contracts, bounded by --max) or a node's active ones.
 *
 *   zos-cli contract list [--node ID | --twin ID | KEYSOURCE] [--max N]
 *                         [--url URL] [--json]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "cli/grid.h"
#include "common/zerr.h"

#define CONTRACT_SCAN_MAX 1000000u
#define CONTRACT_KEYS_PAGE 1000u

/* Appends every contract id stored in SmartContractModule.Contracts, at
 * most max of them (ZE_TOOBIG beyond). *ids heap, caller frees. */
static int contract_scan_ids(struct cli_grid *g, size_t max, uint64_t **ids, size_t *n)
{
	struct chain_runtime *rt = NULL;
	struct zbuf prefix;
	uint8_t *start = NULL;
	size_t slen = 0, cnt = 0;
	uint64_t *v = NULL;
	int rc;

	zbuf_init(&prefix, 64);
	if ((rc = chain_client_runtime(g->chain, &rt)) < 0)
		goto out;
	const struct meta_pallet *p = meta_pallet(rt->meta, "SmartContractModule");
	const struct meta_storage *s = p ? meta_storage(p, "Contracts") : NULL;
	if (!s) {
		rc = ZE_UNSUPPORTED;
		goto out;
	}
	if ((rc = meta_storage_key(rt->meta, "SmartContractModule", "Contracts", 0, NULL, NULL,
				   &prefix)) < 0)
		goto out;
	for (;;) {
		uint8_t **keys = NULL;
		size_t *lens = NULL, nk = 0;
		rc = rpc_get_keys_paged(chain_client_rpc(g->chain), prefix.data, prefix.len,
					CONTRACT_KEYS_PAGE, start, slen, NULL, &keys, &lens, &nk);
		if (rc < 0)
			goto out;
		if (cnt + nk > max) {
			rpc_keys_free(keys, lens, nk);
			rc = ZE_TOOBIG;
			goto out;
		}
		uint64_t *nv = nk ? realloc(v, (cnt + nk) * sizeof *v) : v;
		if (nk && !nv) {
			rpc_keys_free(keys, lens, nk);
			rc = -ENOMEM;
			goto out;
		}
		v = nv;
		for (size_t i = 0; i < nk && rc == 0; i++) {
			cJSON *k = NULL;
			rc = meta_storage_key_decode(rt->meta, s, keys[i], lens[i], &k);
			if (rc == 0 && meta_json_u64(cJSON_GetArrayItem(k, 0), &v[cnt]) < 0)
				rc = ZE_MALFORMED;
			if (rc == 0)
				cnt++;
			cJSON_Delete(k);
		}
		free(start);
		start = NULL;
		/* The next page starts after this page's last key. */
		if (rc == 0 && nk == CONTRACT_KEYS_PAGE && !(start = malloc(lens[nk - 1])))
			rc = -ENOMEM;
		if (start) {
			memcpy(start, keys[nk - 1], lens[nk - 1]);
			slen = lens[nk - 1];
		}
		rpc_keys_free(keys, lens, nk);
		if (rc < 0 || nk < CONTRACT_KEYS_PAGE)
			break;
	}
out:
	free(start);
	zbuf_free(&prefix);
	chain_runtime_put(rt);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*ids = v;
	*n = cnt;
	return 0;
}

int cli_contract_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GRID_LONGOPTS,
		{"node", required_argument, NULL, 'n'},
		{"twin", required_argument, NULL, 't'},
		{"max", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts go = {0};
	struct cli_grid g;
	uint64_t node = 0, twin = 0, max = CLI_CONTRACT_SCAN_DEFAULT, *ids = NULL;
	size_t n = 0;
	cJSON *out = NULL, *arr;
	int opt, rc, ret = CLI_FAIL;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&go, opt, optarg))
			continue;
		switch (opt) {
		case 'n':
			if (cli_parse_num("--node", optarg, 1, UINT32_MAX, &node) < 0)
				return CLI_USAGE;
			break;
		case 't':
			if (cli_parse_num("--twin", optarg, 1, UINT32_MAX, &twin) < 0)
				return CLI_USAGE;
			break;
		case 'm':
			if (cli_parse_num("--max", optarg, 1, CONTRACT_SCAN_MAX, &max) < 0)
				return CLI_USAGE;
			break;
		case 'h': cli_contract_usage(stdout); return CLI_OK;
		default: cli_contract_usage(stderr); return CLI_USAGE;
		}
	}
	int given = cli_keysrc_given(&go.keysrc);
	if (optind != argc || !!node + !!twin + given != 1) {
		cli_err("contract list needs one of --node ID, --twin ID or a key");
		return CLI_USAGE;
	}
	if ((rc = cli_grid_open(&g, &go, given)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	if (given) {
		uint32_t t;
		if (cli_grid_caller_twin(&g, &t) < 0)
			goto out;
		twin = t;
	}
	rc = node ? grid_active_contracts(g.chain, (uint32_t)node, &ids, &n)
		  : contract_scan_ids(&g, (size_t)max, &ids, &n);
	if (rc == ZE_TOOBIG) {
		cli_err("more than %llu contracts on the chain; raise --max or list by --node",
			(unsigned long long)max);
		goto out;
	}
	if (rc < 0) {
		cli_err("cannot list contracts from %s: %s", g.url, cli_chain_why(rc));
		goto out;
	}
	if (!(out = cJSON_CreateObject()) ||
	    (node ? cli_grid_add_u64(out, "node_id", node) : cli_grid_add_u64(out, "twin_id", twin)) ||
	    !(arr = cJSON_AddArrayToObject(out, "contracts")))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct grid_contract c;
		cJSON *item;
		rc = grid_contract(g.chain, ids[i], &c);
		if (rc == ZE_ABSENT)
			continue; /* removed since it was listed */
		if (rc < 0) {
			cli_err("cannot read contract %llu: %s", (unsigned long long)ids[i],
				cli_chain_why(rc));
			goto out;
		}
		int skip = !node && c.twin_id != twin;
		if (!skip) {
			item = cJSON_CreateObject();
			if (!item || cli_contract_fields(item, &c) < 0) {
				cJSON_Delete(item);
				grid_contract_clear(&c);
				goto out;
			}
			cJSON_AddItemToArray(arr, item);
		}
		grid_contract_clear(&c);
	}
	if (g.json) {
		if (cli_grid_print(out, 1) == 0)
			ret = CLI_OK;
		goto out;
	}
	const cJSON *it;
	printf("%-12s %-12s %-8s %s\n", "CONTRACT", "STATE", "NODE", "TWIN");
	cJSON_ArrayForEach(it, arr) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "contract_id");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "state");
		const cJSON *nd = cJSON_GetObjectItemCaseSensitive(it, "node_id");
		const cJSON *tw = cJSON_GetObjectItemCaseSensitive(it, "twin_id");
		char idbuf[24];
		if (cJSON_IsString(id))
			snprintf(idbuf, sizeof idbuf, "%s", id->valuestring);
		else
			snprintf(idbuf, sizeof idbuf, "%.0f", cJSON_GetNumberValue(id));
		printf("%-12s %-12s %-8.0f %.0f\n", idbuf, cJSON_GetStringValue(st),
		       cJSON_IsNumber(nd) ? nd->valuedouble : 0.0, cJSON_GetNumberValue(tw));
	}
	ret = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
out:
	cJSON_Delete(out);
	free(ids);
	cli_grid_close(&g);
	return ret;
}
