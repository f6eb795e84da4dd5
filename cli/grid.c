/*
 * zos-cli grid commands: the shared session and output, and the two
 * balance commands.
 *
 *   zos-cli balance [ACCOUNT | KEYSOURCE] [--url URL] [--json]
 *   zos-cli transfer TO AMOUNT KEYSOURCE [--url URL] [--json]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "cli/grid.h"
#include "common/hex.h"
#include "common/jnum.h"
#include "common/num.h"
#include "common/zerr.h"


int cli_grid_common_opts(int argc, char **argv, struct cli_opts *o, void (*usage)(FILE *),
			 int *rc)
{
	static const struct option longopts[] = {
		CLI_GRID_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(o, opt, optarg))
			continue;
		*rc = opt == 'h' ? CLI_OK : CLI_USAGE;
		usage(opt == 'h' ? stdout : stderr);
		return -1;
	}
	return 0;
}

int cli_grid_open(struct cli_grid *g, const struct cli_opts *o, int need_key)
{
	int rc;

	memset(g, 0, sizeof *g);
	g->json = o->json;
	g->url = cli_chain_url(o->url);
	if ((rc = cli_chain_url_check(g->url)) < 0)
		return rc;
	if (need_key) {
		if ((rc = cli_load_key(&o->keysrc, &g->key)) < 0)
			return rc;
		g->have_key = 1;
	}
	if ((rc = chain_client_new(g->url, NULL, &g->chain)) < 0) {
		cli_err("cannot use the chain URL %s: %s", g->url, zerr_str(rc));
		cli_grid_close(g);
		return rc;
	}
	return 0;
}

void cli_grid_close(struct cli_grid *g)
{
	chain_client_free(g->chain);
	g->chain = NULL;
	if (g->have_key)
		key_wipe(&g->key);
	g->have_key = 0;
}

int cli_grid_parse_account(const char *s, uint8_t pk[32])
{
	struct zkey k;

	if (key_parse_account(s, pk) == 0)
		return 0;
	if (key_dev(s, &k) != 0)
		return -EINVAL;
	memcpy(pk, k.pk, 32);
	key_wipe(&k);
	return 0;
}

int cli_grid_add_u64(cJSON *o, const char *name, uint64_t v)
{
	char s[24];

	/* JSON numbers are exact up to 2^53; larger integers go out as strings. */
	if (v <= JNUM_MAX)
		return cJSON_AddNumberToObject(o, name, (double)v) ? 0 : -ENOMEM;
	snprintf(s, sizeof s, "%llu", (unsigned long long)v);
	return cJSON_AddStringToObject(o, name, s) ? 0 : -ENOMEM;
}

int cli_grid_add_amount(cJSON *o, const char *name, scale_u128 planck)
{
	char tft[CLI_TFT_STRLEN], raw[40], key[64];

	cli_tft_format(planck, tft);
	scale_u128_str(planck, raw);
	snprintf(key, sizeof key, "%s_planck", name);
	if (!cJSON_AddStringToObject(o, name, tft) || !cJSON_AddStringToObject(o, key, raw))
		return -ENOMEM;
	return 0;
}

int cli_grid_add_hex(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	char *h = hex_encode_alloc(p, n, 1);
	int ok = h && cJSON_AddStringToObject(o, name, h);

	free(h);
	return ok ? 0 : -ENOMEM;
}

int cli_grid_add_account(cJSON *o, const char *name, const uint8_t pk[32])
{
	char ss58[64], key[64];

	if (ss58_encode(pk, 42, ss58, sizeof ss58) < 0 || !cJSON_AddStringToObject(o, name, ss58))
		return -ENOMEM;
	snprintf(key, sizeof key, "%s_id", name);
	return cli_grid_add_hex(o, key, pk, 32);
}

const cJSON *cli_grid_event_data(const struct chain_outcome *o, const char *pallet,
				 const char *name)
{
	const cJSON *ev = o->events ? chain_event_find(o->events, pallet, name) : NULL;

	return ev ? cJSON_GetObjectItemCaseSensitive(ev, "data") : NULL;
}

/* contract_id anywhere (a few levels) inside j: the event's data is the
 * Contract itself on tfchain-dev, wrapped once more on some runtimes. */
static int grid_find_contract_id(const cJSON *j, int depth, uint64_t *id)
{
	const cJSON *k;

	if (!j || depth > 4)
		return ZE_ABSENT;
	if (cJSON_IsObject(j) &&
	    meta_json_u64(cJSON_GetObjectItemCaseSensitive(j, "contract_id"), id) == 0 && *id)
		return 0;
	cJSON_ArrayForEach(k, j)
		if (grid_find_contract_id(k, depth + 1, id) == 0)
			return 0;
	return ZE_ABSENT;
}

int cli_grid_created_contract(const struct chain_outcome *o, uint64_t *id)
{
	const cJSON *d = cli_grid_event_data(o, "SmartContractModule", "ContractCreated");
	int rc = grid_find_contract_id(d, 0, id);

	if (rc < 0)
		cli_err("create_node_contract succeeded, but no ContractCreated event names the id");
	return rc;
}

/* The fee the signer paid: TransactionPayment.TransactionFeePaid on tfchain,
 * else the signer's Balances.Withdraw (tfchain-dev charges fees that way). */
static int grid_fee(const struct chain_outcome *o, const uint8_t signer[32], scale_u128 *fee)
{
	const cJSON *d = cli_grid_event_data(o, "TransactionPayment", "TransactionFeePaid");
	const cJSON *ev;
	uint8_t who[32];

	if (d && meta_json_u128(cJSON_GetObjectItemCaseSensitive(d, "actual_fee"), fee) == 0)
		return 0;
	cJSON_ArrayForEach(ev, o->events) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(ev, "pallet");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(ev, "event");
		const cJSON *w;
		if (!cJSON_IsString(p) || !cJSON_IsString(e) || strcmp(p->valuestring, "Balances") ||
		    strcmp(e->valuestring, "Withdraw"))
			continue;
		d = cJSON_GetObjectItemCaseSensitive(ev, "data");
		w = cJSON_GetObjectItemCaseSensitive(d, "who");
		if (cJSON_IsString(w) && hex_decode_fixed(w->valuestring, who, 32) == 0 &&
		    !memcmp(who, signer, 32) &&
		    meta_json_u128(cJSON_GetObjectItemCaseSensitive(d, "amount"), fee) == 0)
			return 0;
	}
	return ZE_ABSENT;
}

int cli_grid_add_outcome(cJSON *o, const struct chain_outcome *oc, const uint8_t signer[32])
{
	scale_u128 fee;
	int rc;

	const cJSON *ev;
	cJSON *names;
	char name[128];

	if ((rc = cli_grid_add_u64(o, "block_number", oc->block_number)) < 0 ||
	    (rc = cli_grid_add_hex(o, "extrinsic_hash", oc->xt_hash, 32)) < 0)
		return rc;
	/* What the extrinsic did, as "Pallet.Event" names. */
	if (!(names = cJSON_AddArrayToObject(o, "events")))
		return -ENOMEM;
	cJSON_ArrayForEach(ev, oc->events) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(ev, "pallet");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(ev, "event");
		if (!cJSON_IsString(p) || !cJSON_IsString(e))
			continue;
		snprintf(name, sizeof name, "%s.%s", p->valuestring, e->valuestring);
		if (!cJSON_AddItemToArray(names, cJSON_CreateString(name)))
			return -ENOMEM;
	}
	if (signer && grid_fee(oc, signer, &fee) == 0)
		return cli_grid_add_amount(o, "fee", fee);
	return 0;
}

int cli_grid_submit(struct cli_grid *g, const char *pallet, const char *call,
		    const cJSON *args, struct chain_outcome *o)
{
	struct chain_submit_opts so;
	struct chain_submitter *s = NULL;
	int rc;

	memset(o, 0, sizeof *o);
	if (!args)
		return -ENOMEM;
	chain_submit_opts_default(&so);
	so.poll_ms = 250;
	if ((rc = chain_submitter_new(g->chain, &g->key, &so, &s)) < 0 ||
	    (rc = chain_submit_wait(s, pallet, call, args, o)) < 0) {
		cli_err("cannot submit %s.%s to %s: %s", pallet, call, g->url, cli_chain_why(rc));
		chain_submitter_free(s);
		return rc;
	}
	chain_submitter_free(s);
	if (o->status == CHAIN_OUTCOME_SUCCESS)
		return 0;
	if (g->json) {
		cJSON *j = cJSON_CreateObject();
		if (j && cJSON_AddStringToObject(j, "status", chain_outcome_status_name(o->status)) &&
		    cJSON_AddStringToObject(j, "error", o->error) &&
		    (!o->events || cli_grid_add_outcome(j, o, g->key.pk) == 0))
			cli_grid_print(j, 1);
		cJSON_Delete(j);
	}
	/* Only a failed call was included (and paid for); say so for the rest,
	 * and never call "rejected" what never reached the chain. */
	if (o->status == CHAIN_OUTCOME_REJECTED && !cli_chain_reached(o->err))
		cli_err("%s.%s not sent: %s", pallet, call, cli_chain_why(o->err));
	else if (o->status == CHAIN_OUTCOME_FAILED)
		cli_err("%s.%s failed: %s", pallet, call, o->error[0] ? o->error : "no reason given");
	else
		cli_err("%s.%s %s (chain at %s): %s", pallet, call,
			chain_outcome_status_name(o->status), g->url,
			o->error[0] ? o->error : "no reason given");
	chain_outcome_clear(o);
	return ZE_CHAIN;
}

int cli_grid_caller_twin(struct cli_grid *g, uint32_t *twin)
{
	char ss58[64];
	int rc = grid_twin_id_by_account(g->chain, g->key.pk, twin);

	if (rc == ZE_ABSENT) {
		ss58_encode(g->key.pk, 42, ss58, sizeof ss58);
		cli_err("account %s has no twin yet (create one: zos-cli twin create)", ss58);
	} else if (rc < 0) {
		cli_err("cannot read the twin of this key from %s: %s", g->url, cli_chain_why(rc));
	}
	return rc;
}

/* "name: value" lines; prefix names nested members. */
static int grid_print_lines(const cJSON *o, const char *prefix)
{
	const cJSON *m;
	char key[128], planck[160];

	cJSON_ArrayForEach(m, o) {
		const char *name = m->string ? m->string : "";
		size_t n = strlen(name);
		/* "x_planck" is shown as the unit of its sibling "x". */
		if (n > 7 && !strcmp(name + n - 7, "_planck"))
			continue;
		snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", name);
		snprintf(planck, sizeof planck, "%s_planck", name);
		int amount = cJSON_GetObjectItemCaseSensitive(o, planck) != NULL;
		if (cJSON_IsObject(m)) {
			if (grid_print_lines(m, key) < 0)
				return -EIO;
		} else if (cJSON_IsString(m)) {
			printf("%s: %s%s\n", key, m->valuestring, amount ? " TFT" : "");
		} else if (cJSON_IsNumber(m)) {
			printf("%s: %.0f\n", key, m->valuedouble);
		} else if (cJSON_IsBool(m)) {
			printf("%s: %s\n", key, cJSON_IsTrue(m) ? "true" : "false");
		} else if (cJSON_IsNull(m)) {
			printf("%s: none\n", key);
		} else {
			char *t = cJSON_PrintUnformatted(m);
			if (!t)
				return -ENOMEM;
			printf("%s: %s\n", key, t);
			free(t);
		}
	}
	return 0;
}

int cli_grid_print(const cJSON *o, int json)
{
	int rc = 0;

	if (json) {
		char *t = cJSON_Print(o);
		if (!t)
			return -ENOMEM;
		puts(t);
		free(t);
	} else {
		rc = grid_print_lines(o, "");
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return -EIO;
	return rc;
}

/* ---- balance ------------------------------------------------------------ */

static void balance_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli balance [ACCOUNT | " CLI_KEY_USAGE "] [--url URL] [--json]\n"
		   "Prints the free, reserved and frozen balance of ACCOUNT (SS58, 0x-hex or a\n"
		   "dev name), or of the key's account, in TFT (7 decimals) and in planck.\n"
		   "URL is http(s):// or ws(s)://; repeat --url (or separate URLs with commas)\n"
		   "for fallback endpoints. $ZOS_CHAIN_CA_FILE names a PEM CA file for\n"
		   "https:// and wss://. The URL defaults to $ZOS_CHAIN_URL, else " CLI_CHAIN_DEFAULT_URL ".\n");
}

int cli_cmd_balance(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GRID_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts go = {0};
	struct cli_grid g;
	struct grid_account acc;
	uint8_t pk[32];
	cJSON *out = NULL;
	int opt, rc, ret = CLI_FAIL;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&go, opt, optarg))
			continue;
		switch (opt) {
		case 'h': balance_usage(stdout); return CLI_OK;
		default: balance_usage(stderr); return CLI_USAGE;
		}
	}
	int given = cli_keysrc_given(&go.keysrc);
	if (argc - optind > 1 || (argc - optind == 1) == given) {
		balance_usage(stderr);
		return CLI_USAGE;
	}
	if (!given && cli_grid_parse_account(argv[optind], pk) < 0) {
		cli_err("'%s' is not an SS58 address, 32 bytes of 0x-hex or a dev name",
			argv[optind]);
		return CLI_USAGE;
	}
	if ((rc = cli_grid_open(&g, &go, given)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	if (given)
		memcpy(pk, g.key.pk, 32);
	if ((rc = grid_account(g.chain, pk, &acc)) < 0) {
		cli_err("cannot read the account from %s: %s", g.url, cli_chain_why(rc));
		goto out;
	}
	if (!(out = cJSON_CreateObject()) || cli_grid_add_account(out, "account", pk) ||
	    cli_grid_add_amount(out, "free", acc.free) ||
	    cli_grid_add_amount(out, "reserved", acc.reserved) ||
	    cli_grid_add_amount(out, "frozen", acc.frozen) ||
	    cli_grid_add_u64(out, "nonce", acc.nonce))
		goto out;
	if (cli_grid_print(out, g.json) == 0)
		ret = CLI_OK;
out:
	cJSON_Delete(out);
	cli_grid_close(&g);
	return ret;
}

/* ---- transfer ----------------------------------------------------------- */

static void transfer_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli transfer TO AMOUNT " CLI_KEY_USAGE " [--url URL] [--json]\n"
		   "Sends AMOUNT TFT (at most 7 decimals: 1.5 = 15000000 planck) from the key's\n"
		   "account to TO (SS58, 0x-hex or a dev name), keeping the sender alive, and\n"
		   "prints the block, the fee paid and both new free balances. A refused\n"
		   "transfer exits 1 naming the chain's error.\n");
}

static int transfer_amount(const char *s, scale_u128 *v)
{
	int rc = cli_tft_parse(s, v);

	if (rc == -ERANGE)
		cli_err("AMOUNT '%s' has more than %d decimals (1 TFT = 10^7 planck)", s,
			CLI_TFT_DECIMALS);
	else if (rc == ZE_TOOBIG)
		cli_err("AMOUNT '%s' is too large", s);
	else if (rc < 0)
		cli_err("AMOUNT '%s' is not a TFT amount such as 1 or 0.25", s);
	else if (*v == 0) {
		cli_err("AMOUNT must be more than 0");
		rc = -EINVAL;
	}
	return rc;
}

/* transfer_keep_alive where the runtime has it (it refuses to reap the
 * sender's account), else the older runtimes' transfer. */
static const char *transfer_call(struct cli_grid *g)
{
	struct chain_runtime *rt = NULL;
	const char *call = "transfer_keep_alive";

	if (chain_client_runtime(g->chain, &rt) == 0) {
		const struct meta_pallet *p = meta_pallet(rt->meta, "Balances");
		if (p && !meta_call(rt->meta, p, call) && meta_call(rt->meta, p, "transfer"))
			call = "transfer";
	}
	chain_runtime_put(rt);
	return call;
}

int cli_cmd_transfer(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GRID_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts go = {0};
	struct cli_grid g;
	struct chain_outcome o;
	struct grid_account from_acc, to_acc;
	scale_u128 amount;
	uint8_t to[32];
	cJSON *out = NULL;
	int opt, rc, ret = CLI_FAIL;

	/* getopt would take a negative amount ("-1") for options: name it as
	 * the amount it is meant to be. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (argv[i][0] == '-' &&
		    ((argv[i][1] >= '0' && argv[i][1] <= '9') || argv[i][1] == '.')) {
			cli_err("AMOUNT '%s' is negative: give a positive TFT amount such as 1 "
				"or 0.25", argv[i]);
			return CLI_USAGE;
		}
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&go, opt, optarg))
			continue;
		switch (opt) {
		case 'h': transfer_usage(stdout); return CLI_OK;
		default: transfer_usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 2) {
		transfer_usage(stderr);
		return CLI_USAGE;
	}
	if (cli_grid_parse_account(argv[optind], to) < 0) {
		cli_err("TO '%s' is not an SS58 address, 32 bytes of 0x-hex or a dev name",
			argv[optind]);
		return CLI_USAGE;
	}
	if (transfer_amount(argv[optind + 1], &amount) < 0)
		return CLI_USAGE;
	if ((rc = cli_grid_open(&g, &go, 1)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	cJSON *args = grid_args_transfer(to, amount);
	rc = cli_grid_submit(&g, "Balances", transfer_call(&g), args, &o);
	cJSON_Delete(args);
	if (rc < 0)
		goto out;
	/* The balances after the including block, best effort: the transfer
	 * itself is done whatever these reads say. */
	int have = grid_account(g.chain, g.key.pk, &from_acc) == 0 &&
		   grid_account(g.chain, to, &to_acc) == 0;
	if (!(out = cJSON_CreateObject()) || !cJSON_AddStringToObject(out, "status", "success") ||
	    cli_grid_add_account(out, "from", g.key.pk) || cli_grid_add_account(out, "to", to) ||
	    cli_grid_add_amount(out, "amount", amount) ||
	    cli_grid_add_outcome(out, &o, g.key.pk) ||
	    (have && (cli_grid_add_amount(out, "from_free", from_acc.free) ||
		      cli_grid_add_amount(out, "to_free", to_acc.free))))
		goto out_clear;
	if (cli_grid_print(out, g.json) == 0)
		ret = CLI_OK;
out_clear:
	chain_outcome_clear(&o);
out:
	cJSON_Delete(out);
	cli_grid_close(&g);
	return ret;
}
