/*
 * zos-cli contract bill-history ID: what the chain billed for a contract,
 * and when.
 *
 * tfchain-dev keeps the last bills of each contract in
 * SmartContractModule.ContractBillHistory (kept after the contract is
 * removed). A runtime without that item (tfchain), or a query with --from /
 * --to, reads the ContractBilled events of a bounded block range instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainclient/grid.h"
#include "cli/grid.h"
#include "common/zerr.h"

/* Blocks one event scan may read; the default range when none is given. */
#define BILL_SCAN_MAX 10000u
#define BILL_SCAN_DEFAULT 1000u

static void bill_usage(FILE *f)
{
	fprintf(f,
		"usage: zos-cli contract bill-history ID [--from BLOCK] [--to BLOCK]\n"
		"                                    [--url URL] [--json]\n"
		"Prints each bill of contract ID: when (UTC), the discount level and the\n"
		"amount in TFT, then the total. Reads the chain's ContractBillHistory; with\n"
		"--from/--to, or on a runtime without it, scans the ContractBilled events of\n"
		"blocks FROM..TO (default: the last %u blocks; at most %u blocks).\n",
		BILL_SCAN_DEFAULT, BILL_SCAN_MAX);
}

/* One bill (a ContractBill as JSON) into the output array, if it is the
 * contract's. block 0 = unknown (storage has no block numbers). */
static int bill_add(cJSON *arr, const cJSON *bill, uint64_t id, uint64_t block,
		    scale_u128 *total, size_t *count)
{
	uint64_t cid, ts;
	scale_u128 amount;
	const cJSON *lvl = cJSON_GetObjectItemCaseSensitive(bill, "discount_level");
	char when[32] = "?";
	struct tm tm;
	cJSON *o;

	if (meta_json_u64(cJSON_GetObjectItemCaseSensitive(bill, "contract_id"), &cid) < 0 ||
	    meta_json_u64(cJSON_GetObjectItemCaseSensitive(bill, "timestamp"), &ts) < 0 ||
	    meta_json_u128(cJSON_GetObjectItemCaseSensitive(bill, "amount_billed"), &amount) < 0)
		return ZE_MALFORMED;
	if (cid != id)
		return 0;
	time_t t = (time_t)ts;
	if (ts <= (uint64_t)INT32_MAX * 64 && gmtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!(o = cJSON_CreateObject()))
		return -ENOMEM;
	cJSON_AddItemToArray(arr, o);
	if (cli_grid_add_u64(o, "timestamp", ts) || !cJSON_AddStringToObject(o, "time", when) ||
	    (block && cli_grid_add_u64(o, "block_number", block)) ||
	    !cJSON_AddStringToObject(o, "discount_level",
				     cJSON_IsString(lvl) ? lvl->valuestring : "?") ||
	    cli_grid_add_amount(o, "amount", amount))
		return -ENOMEM;
	if (*total > ~(scale_u128)0 - amount)
		return ZE_TOOBIG;
	*total += amount;
	(*count)++;
	return 0;
}

static int bill_from_storage(struct cli_grid *g, uint64_t id, cJSON *arr, scale_u128 *total,
			     size_t *count)
{
	cJSON *keys = cJSON_CreateArray(), *v = NULL;
	const cJSON *b;
	int rc = -ENOMEM;

	char idtext[24];

	/* A decimal string: the key encoder takes any u64 that way, exactly. */
	snprintf(idtext, sizeof idtext, "%llu", (unsigned long long)id);
	if (!keys || !cJSON_AddItemToArray(keys, cJSON_CreateString(idtext)))
		goto out;
	rc = chain_get_json(g->chain, "SmartContractModule", "ContractBillHistory", keys, NULL, &v);
	if (rc == ZE_ABSENT) {
		rc = 0; /* no bill yet */
		goto out;
	}
	if (rc < 0)
		goto out;
	cJSON_ArrayForEach(b, v)
		if ((rc = bill_add(arr, b, id, 0, total, count)) < 0)
			break;
out:
	cJSON_Delete(keys);
	cJSON_Delete(v);
	return rc;
}

static int bill_from_events(struct cli_grid *g, uint64_t id, uint64_t from, uint64_t to,
			    cJSON *arr, scale_u128 *total, size_t *count)
{
	struct chain_runtime *rt = NULL;
	int rc = chain_client_runtime(g->chain, &rt);

	for (uint64_t n = from; rc == 0 && n <= to; n++) {
		uint8_t hash[32];
		cJSON *evs = NULL;
		const cJSON *ev;
		if ((rc = rpc_block_hash(chain_client_rpc(g->chain), n, hash)) < 0 ||
		    (rc = chain_events(g->chain, rt, hash, &evs)) < 0) {
			cli_err("cannot read the events of block %llu: %s", (unsigned long long)n,
				cli_chain_why(rc));
			break;
		}
		cJSON_ArrayForEach(ev, evs) {
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(ev, "pallet");
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(ev, "event");
			if (!cJSON_IsString(p) || !cJSON_IsString(e) ||
			    strcmp(p->valuestring, "SmartContractModule") ||
			    strcmp(e->valuestring, "ContractBilled"))
				continue;
			rc = bill_add(arr, cJSON_GetObjectItemCaseSensitive(ev, "data"), id, n, total,
				      count);
			if (rc < 0)
				break;
		}
		cJSON_Delete(evs);
	}
	chain_runtime_put(rt);
	return rc;
}

/* Whether the connected runtime stores a bill history. */
static int bill_has_storage(struct cli_grid *g, int *has)
{
	struct chain_runtime *rt = NULL;
	int rc = chain_client_runtime(g->chain, &rt);

	if (rc == 0) {
		const struct meta_pallet *p = meta_pallet(rt->meta, "SmartContractModule");
		*has = p && meta_storage(p, "ContractBillHistory");
	}
	chain_runtime_put(rt);
	return rc;
}

static int bill_print_table(const cJSON *out)
{
	const cJSON *bills = cJSON_GetObjectItemCaseSensitive(out, "bills"), *b;
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(out, "total");

	printf("contract_id: %.0f\nsource: %s\n",
	       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(out, "contract_id")),
	       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, "source")));
	printf("%-22s %-8s %-10s %s\n", "TIME (UTC)", "BLOCK", "DISCOUNT", "AMOUNT (TFT)");
	cJSON_ArrayForEach(b, bills) {
		const cJSON *blk = cJSON_GetObjectItemCaseSensitive(b, "block_number");
		char block[24] = "-";
		if (cJSON_IsNumber(blk))
			snprintf(block, sizeof block, "%.0f", blk->valuedouble);
		printf("%-22s %-8s %-10s %s\n",
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "time")), block,
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "discount_level")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "amount")));
	}
	printf("total: %s TFT in %d bill(s)\n", cJSON_GetStringValue(total),
	       cJSON_GetArraySize(bills));
	return fflush(stdout) == 0 ? 0 : -EIO;
}

int cli_contract_bill_history(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GRID_LONGOPTS,
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts go = {0};
	struct cli_grid g;
	uint64_t id, from = 0, to = 0, best;
	int opt, rc, has_from = 0, has_to = 0, ret = CLI_FAIL, storage = 0;
	scale_u128 total = 0;
	size_t count = 0;
	cJSON *out = NULL, *arr;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&go, opt, optarg))
			continue;
		switch (opt) {
		case 'f':
			if (cli_parse_num("--from", optarg, 1, UINT32_MAX, &from) < 0)
				return CLI_USAGE;
			has_from = 1;
			break;
		case 't':
			if (cli_parse_num("--to", optarg, 1, UINT32_MAX, &to) < 0)
				return CLI_USAGE;
			has_to = 1;
			break;
		case 'h': bill_usage(stdout); return CLI_OK;
		default: bill_usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 1 || cli_keysrc_given(&go.keysrc)) {
		bill_usage(stderr);
		return CLI_USAGE;
	}
	if (cli_parse_num("contract ID", argv[optind], 1, UINT64_MAX, &id) < 0)
		return CLI_USAGE;
	if ((rc = cli_grid_open(&g, &go, 0)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	if ((rc = bill_has_storage(&g, &storage)) < 0) {
		cli_err("cannot reach the chain at %s: %s", g.url, cli_chain_why(rc));
		goto out;
	}
	int scan = has_from || has_to || !storage;
	if (scan) {
		if ((rc = chain_block_number(g.chain, &best)) < 0) {
			cli_err("cannot read the best block from %s: %s", g.url, cli_chain_why(rc));
			goto out;
		}
		if (!has_to || to > best)
			to = best;
		if (!has_from)
			from = to >= BILL_SCAN_DEFAULT ? to - BILL_SCAN_DEFAULT + 1 : 1;
		if (from > to || to - from >= BILL_SCAN_MAX) {
			cli_err("--from %llu --to %llu: give a range of 1..%u blocks up to the best "
				"block %llu", (unsigned long long)from, (unsigned long long)to,
				BILL_SCAN_MAX, (unsigned long long)best);
			ret = CLI_USAGE;
			goto out;
		}
	}
	if (!(out = cJSON_CreateObject()) || cli_grid_add_u64(out, "contract_id", id) ||
	    !cJSON_AddStringToObject(out, "source", scan ? "events" : "ContractBillHistory") ||
	    (scan && (cli_grid_add_u64(out, "from_block", from) ||
		      cli_grid_add_u64(out, "to_block", to))) ||
	    !(arr = cJSON_AddArrayToObject(out, "bills")))
		goto out;
	rc = scan ? bill_from_events(&g, id, from, to, arr, &total, &count)
		  : bill_from_storage(&g, id, arr, &total, &count);
	if (rc < 0) {
		cli_err("cannot read the bills of contract %llu: %s", (unsigned long long)id,
			cli_chain_why(rc));
		goto out;
	}
	if (count == 0) {
		/* No bill: say so when the contract does not exist either, rather
		 * than print an empty table that reads as "nothing billed yet". */
		struct grid_contract gc;
		rc = grid_contract(g.chain, id, &gc);
		if (rc == ZE_ABSENT) {
			cli_err("contract %llu does not exist on %s and has no bills%s",
				(unsigned long long)id, g.url,
				scan ? " in the blocks scanned (see --from/--to)" : "");
			goto out;
		}
		if (rc == 0)
			grid_contract_clear(&gc);
	}
	if (cli_grid_add_amount(out, "total", total))
		goto out;
	rc = g.json ? cli_grid_print(out, 1) : bill_print_table(out);
	if (rc == 0)
		ret = CLI_OK;
out:
	cJSON_Delete(out);
	cli_grid_close(&g);
	return ret;
}
