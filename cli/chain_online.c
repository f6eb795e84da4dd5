/*
 * zos-cli chain get / chain call: the subcommands that talk to a node.
 *
 *   zos-cli chain get PALLET ITEM [KEY...] [--url URL]
 *   zos-cli chain call PALLET CALL 'JSON-ARGS' KEYSOURCE [--url URL] [--give-up N]
 *
 * Keys and arguments are JSON in meta.h's form (numbers, "0x.." bytes,
 * {"Variant": ...}); where the runtime expects an AccountId32 or a
 * MultiAddress, an SS58 address, a dev name (alice...) or 0x-hex is accepted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/submit.h"
#include "cli/chain.h"
#include "cli/cli.h"
#include "cli/grid.h"
#include "common/hex.h"
#include "common/key.h"
#include "common/zerr.h"

/* An account given as SS58, 0x-hex or a dev name, as the JSON of [u8; 32]. */
static cJSON *online_account(const char *s)
{
	uint8_t pk[32];
	char hex[67];

	if (cli_grid_parse_account(s, pk) != 0)
		return NULL;
	hex_encode(pk, 32, 1, hex, sizeof(hex));
	return cJSON_CreateString(hex);
}

static int online_is_account(const struct meta *m, uint32_t type)
{
	const char *name = meta_type_name(meta_type(m, type));

	return !strcmp(name, "AccountId32") || !strcmp(name, "MultiAddress");
}

/*
 * Rewrites a friendly account string into the JSON the encoder wants for
 * type `type`. Returns the replacement (caller frees) or NULL to keep v.
 */
static cJSON *online_friendly(const struct meta *m, uint32_t type, const cJSON *v)
{
	const char *name = meta_type_name(meta_type(m, type));

	if (!cJSON_IsString(v))
		return NULL;
	if (!strcmp(name, "AccountId32"))
		return online_account(v->valuestring);
	if (!strcmp(name, "MultiAddress")) {
		cJSON *acc = online_account(v->valuestring), *o;
		if (!acc)
			return NULL;
		o = cJSON_CreateObject();
		if (!o) {
			cJSON_Delete(acc);
			return NULL;
		}
		cJSON_AddItemToObject(o, "Id", acc);
		return o;
	}
	return NULL;
}

/*
 * One command-line key. An account key type takes the argument as written
 * (an SS58 address may start with a digit, which JSON would read as a
 * number); other types take JSON when the whole argument parses, else a
 * string.
 */
static cJSON *online_key_arg(const struct meta *m, uint32_t type, const char *arg)
{
	cJSON *v, *f, *raw = cJSON_CreateString(arg);

	if (!raw)
		return NULL;
	if ((f = online_friendly(m, type, raw))) {
		cJSON_Delete(raw);
		return f;
	}
	cJSON_Delete(raw);
	if (!(v = cJSON_ParseWithOpts(arg, NULL, 1)))
		v = cJSON_CreateString(arg);
	if (v && (f = online_friendly(m, type, v))) {
		cJSON_Delete(v);
		v = f;
	} else if (cJSON_IsString(v) && online_is_account(m, type)) {
		/* Not an account in any form: say so rather than "does not fit". */
		cJSON_Delete(v);
		v = NULL;
	}
	return v;
}

static void online_get_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli chain get PALLET ITEM [KEY...] [--url URL]\n"
		   "Reads a storage value from the node and prints it as JSON (null when absent).\n"
		   "A KEY of an account type is an SS58 address, 0x-hex or a dev name (alice...);\n"
		   "any other KEY is JSON when the whole argument parses (1, \"0x..\"), else a string.\n"
		   "URL is http(s):// or ws(s)://; repeat --url (or separate URLs with commas)\n"
		   "for fallback endpoints. $ZOS_CHAIN_CA_FILE names a PEM CA file for\n"
		   "https:// and wss://. The URL defaults to $ZOS_CHAIN_URL, else " CLI_CHAIN_DEFAULT_URL ".\n");
}

int cli_chain_get(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_URL_LONGOPT,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts co = {0};
	struct chain_client *c = NULL;
	struct chain_runtime *rt = NULL;
	cJSON *keys = NULL, *v = NULL;
	int opt, ret, rc = CLI_FAIL;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&co, opt, optarg))
			continue;
		switch (opt) {
		case 'h': online_get_usage(stdout); return CLI_OK;
		default: online_get_usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind < 2) {
		online_get_usage(stderr);
		return CLI_USAGE;
	}
	const char *url = co.url;
	const char *pallet = argv[optind], *item = argv[optind + 1];
	int nkeys = argc - optind - 2;
	if (cli_chain_url_check(cli_chain_url(url)) < 0)
		return CLI_USAGE;
	if ((ret = chain_client_new(cli_chain_url(url), NULL, &c)) ||
	    (ret = chain_client_runtime(c, &rt))) {
		cli_err("cannot reach the chain at %s: %s", cli_chain_url(url), cli_chain_why(ret));
		goto out;
	}
	const struct meta_pallet *p = meta_pallet(rt->meta, pallet);
	const struct meta_storage *s = p ? meta_storage(p, item) : NULL;
	if (!s) {
		cli_err("runtime %u has no storage %s.%s", rt->spec_version, pallet, item);
		goto out;
	}
	if ((size_t)nkeys != s->nhashers) {
		cli_err("%s.%s takes %zu key(s), %d given", pallet, item, s->nhashers, nkeys);
		rc = CLI_USAGE;
		goto out;
	}
	keys = cJSON_CreateArray();
	for (int i = 0; keys && i < nkeys; i++) {
		uint32_t type;
		cJSON *k;
		if (meta_storage_key_type(rt->meta, s, (size_t)i, &type) != 0 ||
		    !(k = online_key_arg(rt->meta, type, argv[optind + 2 + i]))) {
			cli_err("key %d: cannot use '%s'", i + 1, argv[optind + 2 + i]);
			goto out;
		}
		cJSON_AddItemToArray(keys, k);
	}
	if (!keys)
		goto out;
	ret = chain_get_json(c, pallet, item, keys, NULL, &v);
	if (ret == ZE_ABSENT) {
		puts("null");
		rc = CLI_OK;
		goto out;
	}
	if (ret) {
		cli_err("%s.%s: %s", pallet, item, zerr_str(ret));
		goto out;
	}
	char *text = cJSON_Print(v);
	if (!text)
		goto out;
	puts(text);
	free(text);
	rc = CLI_OK;
out:
	cJSON_Delete(keys);
	cJSON_Delete(v);
	chain_runtime_put(rt);
	chain_client_free(c);
	return rc;
}

/* Makes account arguments friendly, positional or named. */
static int online_fix_args(const struct meta *m, const char *pallet, const char *call,
			   cJSON *args)
{
	const struct meta_pallet *p = meta_pallet(m, pallet);
	const struct meta_variant *v = p ? meta_call(m, p, call) : NULL;

	if (!v)
		return ZE_UNSUPPORTED;
	for (size_t i = 0; i < v->nfields; i++) {
		cJSON *a = cJSON_IsArray(args) ? cJSON_GetArrayItem(args, (int)i)
		           : v->fields[i].name ? cJSON_GetObjectItemCaseSensitive(args, v->fields[i].name)
					       : NULL;
		cJSON *f = a ? online_friendly(m, v->fields[i].type, a) : NULL;
		if (!f)
			continue;
		/* Object members need their key set on the replacement. */
		int ok = cJSON_IsArray(args)
				 ? cJSON_ReplaceItemViaPointer(args, a, f)
				 : cJSON_ReplaceItemInObjectCaseSensitive(args, v->fields[i].name, f);
		if (!ok) {
			cJSON_Delete(f);
			return -ENOMEM;
		}
	}
	return 0;
}

static void online_call_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli chain call PALLET CALL 'JSON-ARGS' " CLI_KEY_USAGE "\n"
		   "                          [--url URL] [--give-up BLOCKS] [--nonce N]\n"
		   "Signs and submits PALLET.CALL with JSON-ARGS (an array in order, or an object\n"
		   "by name), waits for the including block and prints the outcome and the\n"
		   "extrinsic's events as JSON. Exits 1 when the call fails, naming the error.\n"
		   "--nonce starts from N instead of the chain's next nonce; a stale or taken\n"
		   "nonce is corrected from the chain and the call re-signed (\"resends\").\n");
}

static int online_print_outcome(const struct chain_outcome *o)
{
	cJSON *j = cJSON_CreateObject();
	char hex[67];
	char *text;

	if (!j)
		return -ENOMEM;
	cJSON_AddStringToObject(j, "status", chain_outcome_status_name(o->status));
	if (o->error[0])
		cJSON_AddStringToObject(j, "error", o->error);
	hex_encode(o->xt_hash, 32, 1, hex, sizeof(hex));
	cJSON_AddStringToObject(j, "extrinsic_hash", hex);
	cJSON_AddNumberToObject(j, "nonce", (double)o->nonce);
	cJSON_AddNumberToObject(j, "resends", o->resends);
	if (o->events) {
		hex_encode(o->block_hash, 32, 1, hex, sizeof(hex));
		cJSON_AddNumberToObject(j, "block_number", (double)o->block_number);
		cJSON_AddStringToObject(j, "block_hash", hex);
		cJSON_AddNumberToObject(j, "index", o->xt_index);
		cJSON_AddItemReferenceToObject(j, "events", o->events);
	}
	text = cJSON_Print(j);
	cJSON_Delete(j);
	if (!text)
		return -ENOMEM;
	puts(text);
	free(text);
	return 0;
}

int cli_chain_call(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_URL_LONGOPT,
		{"give-up", required_argument, NULL, 'g'},
		{"nonce", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		CLI_KEY_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct cli_opts co = {0};
	struct chain_submit_opts so;
	struct chain_client *c = NULL;
	struct chain_runtime *rt = NULL;
	struct chain_submitter *s = NULL;
	struct chain_outcome o = {0};
	struct zkey k;
	uint64_t give_up = 0;
	cJSON *args = NULL;
	int opt, ret, rc = CLI_FAIL, have_key = 0;

	chain_submit_opts_default(&so);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&co, opt, optarg))
			continue;
		switch (opt) {
		case 'g':
			if (cli_parse_num("--give-up", optarg, 0, 65536, &give_up))
				return CLI_USAGE;
			break;
		case 'n':
			if (cli_parse_num("--nonce", optarg, 0, UINT32_MAX, &so.first_nonce))
				return CLI_USAGE;
			so.has_first_nonce = 1;
			break;
		case 'h': online_call_usage(stdout); return CLI_OK;
		default: online_call_usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 3) {
		online_call_usage(stderr);
		return CLI_USAGE;
	}
	const char *url = co.url;
	const char *pallet = argv[optind], *call = argv[optind + 1];
	args = cJSON_Parse(argv[optind + 2]);
	if (!args || (!cJSON_IsArray(args) && !cJSON_IsObject(args))) {
		cli_err("JSON-ARGS must be a JSON array or object");
		cJSON_Delete(args);
		return CLI_USAGE;
	}
	if (cli_load_key(&co.keysrc, &k)) {
		cJSON_Delete(args);
		return CLI_USAGE;
	}
	have_key = 1;
	if (give_up)
		so.give_up_blocks = (unsigned)give_up;
	so.poll_ms = 250;
	if (cli_chain_url_check(cli_chain_url(url)) < 0) {
		rc = CLI_USAGE;
		goto out;
	}
	if ((ret = chain_client_new(cli_chain_url(url), NULL, &c)) ||
	    (ret = chain_client_runtime(c, &rt))) {
		cli_err("cannot reach the chain at %s: %s", cli_chain_url(url), cli_chain_why(ret));
		goto out;
	}
	if ((ret = online_fix_args(rt->meta, pallet, call, args))) {
		cli_err("runtime %u has no call %s.%s", rt->spec_version, pallet, call);
		goto out;
	}
	if ((ret = chain_submitter_new(c, &k, &so, &s)) ||
	    (ret = chain_submit_wait(s, pallet, call, args, &o))) {
		cli_err("cannot submit: %s", cli_chain_why(ret));
		goto out;
	}
	online_print_outcome(&o);
	if (o.status == CHAIN_OUTCOME_SUCCESS)
		rc = CLI_OK;
	else if (o.status == CHAIN_OUTCOME_REJECTED && !cli_chain_reached(o.err))
		cli_err("%s.%s not sent: %s", pallet, call, cli_chain_why(o.err));
	else
		cli_err("%s.%s %s: %s", pallet, call, chain_outcome_status_name(o.status), o.error);
out:
	chain_outcome_clear(&o);
	chain_submitter_free(s);
	chain_runtime_put(rt);
	chain_client_free(c);
	cJSON_Delete(args);
	if (have_key)
		key_wipe(&k);
	return rc;
}
