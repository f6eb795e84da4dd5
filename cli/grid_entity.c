/*
 * zos-cli twin, farm and node: the grid's identities.
 *
 *   zos-cli twin create KEYSOURCE [--relay ADDR] [--pk HEX]
 *   zos-cli twin get [ID | --account ACCOUNT | KEYSOURCE]
 *   zos-cli farm create NAME KEYSOURCE
 *   zos-cli farm get ID
 *   zos-cli node get ID
 *
 * (each with [--url URL] [--json]).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "cli/grid.h"
#include "common/hex.h"
#include "common/seal.h"
#include "common/zerr.h"

/* What a subcommand table entry runs. */
struct entity_sub {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static int entity_dispatch(const char *cmd, const struct entity_sub *subs, size_t n,
			   void (*usage)(FILE *), int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	cli_err("unknown %s command '%s'", cmd, argv[1]);
	usage(stderr);
	return CLI_USAGE;
}

/* ---- twin --------------------------------------------------------------- */

static void twin_usage(FILE *f)
{
	fprintf(f,
		"usage: zos-cli twin create " CLI_KEY_USAGE " [--relay ADDR] [--pk HEX]\n"
		"       zos-cli twin get [ID | --account ACCOUNT | " CLI_KEY_USAGE "]\n"
		"       (both take [--url URL] [--json])\n"
		"\n"
		"create  registers the key's account as a twin. --relay is the RMB address it\n"
		"        listens at (e.g. tcp://203.0.113.5:7001); --pk an x25519 public key\n"
		"        (32 bytes of hex) for workload encryption, when not the one derived\n"
		"        from the account key. Prints the new twin id.\n"
		"get     prints a twin by id, by account (SS58, 0x-hex, dev name) or the key's.\n");
}

static int twin_print(struct cli_grid *g, const struct grid_twin *t)
{
	uint8_t x[32];
	cJSON *out = cJSON_CreateObject();
	int rc = -ENOMEM;

	if (!out || cli_grid_add_u64(out, "twin_id", t->id) ||
	    cli_grid_add_account(out, "account", t->account))
		goto out;
	if (!(t->has_relay ? cJSON_AddStringToObject(out, "relay", t->relay)
			   : cJSON_AddNullToObject(out, "relay")))
		goto out;
	if (t->pk_len ? cli_grid_add_hex(out, "pk", t->pk, t->pk_len)
		      : !cJSON_AddNullToObject(out, "pk"))
		goto out;
	/* The key a user seals deployments for (docs/deploy-engine.md, Encryption). */
	if (seal_twin_x25519(t->pk_len ? t->pk : NULL, t->pk_len, t->account, x) == 0 &&
	    cli_grid_add_hex(out, "x25519_public_key", x, 32))
		goto out;
	rc = cli_grid_print(out, g->json);
out:
	cJSON_Delete(out);
	return rc;
}

static int twin_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GRID_LONGOPTS,
		{"relay", required_argument, NULL, 'r'},
		{"pk", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts go = {0};
	struct cli_grid g;
	struct chain_outcome o;
	struct grid_twin t;
	const char *relay = NULL;
	uint8_t pk[32];
	int opt, rc, has_pk = 0, ret = CLI_FAIL;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&go, opt, optarg))
			continue;
		switch (opt) {
		case 'r':
			if (!*optarg || strlen(optarg) > GRID_MAX_RELAY) {
				cli_err("--relay must be 1..%d bytes", GRID_MAX_RELAY);
				return CLI_USAGE;
			}
			relay = optarg;
			break;
		case 'p':
			if (hex_decode_fixed(optarg, pk, 32) < 0) {
				cli_err("--pk needs 32 bytes of hex (an x25519 public key)");
				return CLI_USAGE;
			}
			has_pk = 1;
			break;
		case 'h': twin_usage(stdout); return CLI_OK;
		default: twin_usage(stderr); return CLI_USAGE;
		}
	}
	if (optind != argc) {
		twin_usage(stderr);
		return CLI_USAGE;
	}
	if ((rc = cli_grid_open(&g, &go, 1)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	/* An sr25519 account has no x25519 form: the twin publishes the x25519
	 * key zos-cli derives from the account's secret, for workload sealing. */
	if (!has_pk && g.key.scheme == KEY_SR25519) {
		if ((rc = key_x25519_pk_of(&g.key, pk)) < 0) {
			cli_err("cannot derive an x25519 key: %s", cli_chain_why(rc));
			goto out;
		}
		has_pk = 1;
	}
	cJSON *args = grid_args_create_twin(relay, has_pk ? pk : NULL, has_pk ? 32 : 0);
	rc = cli_grid_submit(&g, "TfgridModule", "create_twin", args, &o);
	cJSON_Delete(args);
	if (rc < 0)
		goto out;
	chain_outcome_clear(&o);
	if ((rc = grid_twin_by_account(g.chain, g.key.pk, &t)) < 0) {
		cli_err("create_twin succeeded, but the twin cannot be read back: %s", cli_chain_why(rc));
		goto out;
	}
	if (twin_print(&g, &t) == 0)
		ret = CLI_OK;
out:
	cli_grid_close(&g);
	return ret;
}

static int twin_get(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GRID_LONGOPTS,
		{"account", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts go = {0};
	struct cli_grid g;
	struct grid_twin t;
	const char *account = NULL;
	uint8_t pk[32];
	uint64_t id = 0;
	int opt, rc, ret = CLI_FAIL;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&go, opt, optarg))
			continue;
		switch (opt) {
		case 'a': account = optarg; break;
		case 'h': twin_usage(stdout); return CLI_OK;
		default: twin_usage(stderr); return CLI_USAGE;
		}
	}
	int given = cli_keysrc_given(&go.keysrc), npos = argc - optind;
	if (npos > 1 || npos + !!account + !!given != 1) {
		twin_usage(stderr);
		return CLI_USAGE;
	}
	if (npos && cli_parse_num("twin ID", argv[optind], 1, UINT32_MAX, &id) < 0)
		return CLI_USAGE;
	if (account && cli_grid_parse_account(account, pk) < 0) {
		cli_err("--account '%s' is not an SS58 address, 0x-hex or a dev name", account);
		return CLI_USAGE;
	}
	if ((rc = cli_grid_open(&g, &go, given)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	if (given)
		memcpy(pk, g.key.pk, 32);
	rc = id ? grid_twin(g.chain, (uint32_t)id, &t) : grid_twin_by_account(g.chain, pk, &t);
	if (rc == ZE_ABSENT) {
		if (id)
			cli_err("twin %llu does not exist", (unsigned long long)id);
		else
			cli_err("this account has no twin");
	} else if (rc < 0) {
		cli_err("cannot read the twin from %s: %s", g.url, cli_chain_why(rc));
	} else if (twin_print(&g, &t) == 0) {
		ret = CLI_OK;
	}
	cli_grid_close(&g);
	return ret;
}

int cli_cmd_twin(int argc, char **argv)
{
	static const struct entity_sub subs[] = {{"create", twin_create}, {"get", twin_get}};
	return entity_dispatch("twin", subs, sizeof subs / sizeof subs[0], twin_usage, argc, argv);
}

/* ---- farm --------------------------------------------------------------- */

static void farm_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli farm create NAME " CLI_KEY_USAGE "\n"
		   "       zos-cli farm get ID\n"
		   "       (both take [--url URL] [--json])\n"
		   "\n"
		   "create  registers a farm owned by the key's twin (the twin must exist) and\n"
		   "        prints its id. Names are unique on the chain.\n"
		   "get     prints a farm: name, owner twin, pricing policy.\n");
}

static int farm_print(struct cli_grid *g, const struct grid_farm *f)
{
	cJSON *out = cJSON_CreateObject();
	int rc = -ENOMEM;

	if (out && !cli_grid_add_u64(out, "farm_id", f->id) &&
	    cJSON_AddStringToObject(out, "name", f->name) &&
	    !cli_grid_add_u64(out, "twin_id", f->twin_id) &&
	    !cli_grid_add_u64(out, "pricing_policy_id", f->pricing_policy_id))
		rc = cli_grid_print(out, g->json);
	cJSON_Delete(out);
	return rc;
}

static int farm_create(int argc, char **argv)
{
	struct cli_opts go = {0};
	struct cli_grid g;
	struct chain_outcome o;
	struct grid_farm f;
	uint64_t id;
	int rc, ret = CLI_FAIL;

	if (cli_grid_common_opts(argc, argv, &go, farm_usage, &rc) < 0)
		return rc;
	if (argc - optind != 1) {
		farm_usage(stderr);
		return CLI_USAGE;
	}
	const char *name = argv[optind];
	if (!*name || strlen(name) > GRID_MAX_NAME) {
		cli_err("NAME must be 1..%d bytes", GRID_MAX_NAME);
		return CLI_USAGE;
	}
	if ((rc = cli_grid_open(&g, &go, 1)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	cJSON *args = grid_args_create_farm(name);
	rc = cli_grid_submit(&g, "TfgridModule", "create_farm", args, &o);
	cJSON_Delete(args);
	if (rc < 0)
		goto out;
	const cJSON *d = cli_grid_event_data(&o, "TfgridModule", "FarmStored");
	rc = d ? meta_json_u64(cJSON_GetObjectItemCaseSensitive(d, "id"), &id) : -ENOENT;
	chain_outcome_clear(&o);
	if (rc < 0 || id > UINT32_MAX) {
		cli_err("create_farm succeeded, but no FarmStored event names the farm id");
		goto out;
	}
	if ((rc = grid_farm(g.chain, (uint32_t)id, &f)) < 0)
		cli_err("farm %llu was created, but cannot be read back: %s",
			(unsigned long long)id, cli_chain_why(rc));
	else if (farm_print(&g, &f) == 0)
		ret = CLI_OK;
out:
	cli_grid_close(&g);
	return ret;
}

static int farm_get(int argc, char **argv)
{
	struct cli_opts go = {0};
	struct cli_grid g;
	struct grid_farm f;
	uint64_t id;
	int rc, ret = CLI_FAIL;

	if (cli_grid_common_opts(argc, argv, &go, farm_usage, &rc) < 0)
		return rc;
	if (argc - optind != 1 || cli_keysrc_given(&go.keysrc)) {
		farm_usage(stderr);
		return CLI_USAGE;
	}
	if (cli_parse_num("farm ID", argv[optind], 1, UINT32_MAX, &id) < 0)
		return CLI_USAGE;
	if ((rc = cli_grid_open(&g, &go, 0)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	rc = grid_farm(g.chain, (uint32_t)id, &f);
	if (rc == ZE_ABSENT)
		cli_err("farm %llu does not exist", (unsigned long long)id);
	else if (rc < 0)
		cli_err("cannot read farm %llu from %s: %s", (unsigned long long)id, g.url,
			cli_chain_why(rc));
	else if (farm_print(&g, &f) == 0)
		ret = CLI_OK;
	cli_grid_close(&g);
	return ret;
}

int cli_cmd_farm(int argc, char **argv)
{
	static const struct entity_sub subs[] = {{"create", farm_create}, {"get", farm_get}};
	return entity_dispatch("farm", subs, sizeof subs / sizeof subs[0], farm_usage, argc, argv);
}

/* ---- node --------------------------------------------------------------- */

static void node_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli node get ID [--url URL] [--json]\n"
		   "Prints a node: its farm, its twin (account, RMB relay, the x25519 key\n"
		   "deployments are sealed for) and its registered capacity (bytes, cores).\n"
		   "A node registers itself: zos-agent does it on first start.\n");
}

static int node_get(int argc, char **argv)
{
	struct cli_opts go = {0};
	struct cli_grid g;
	struct grid_node n;
	struct grid_twin t;
	uint64_t id;
	uint8_t x[32];
	cJSON *out = NULL, *res;
	int rc, ret = CLI_FAIL;

	if (cli_grid_common_opts(argc, argv, &go, node_usage, &rc) < 0)
		return rc;
	if (argc - optind != 1 || cli_keysrc_given(&go.keysrc)) {
		node_usage(stderr);
		return CLI_USAGE;
	}
	if (cli_parse_num("node ID", argv[optind], 1, UINT32_MAX, &id) < 0)
		return CLI_USAGE;
	if ((rc = cli_grid_open(&g, &go, 0)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	rc = grid_node(g.chain, (uint32_t)id, &n);
	if (rc == ZE_ABSENT) {
		cli_err("node %llu does not exist", (unsigned long long)id);
		goto out;
	}
	if (rc == 0 && (rc = grid_twin(g.chain, n.twin_id, &t)) == ZE_ABSENT)
		rc = ZE_MALFORMED; /* a node always has a twin */
	if (rc < 0) {
		cli_err("cannot read node %llu from %s: %s", (unsigned long long)id, g.url,
			cli_chain_why(rc));
		goto out;
	}
	if (!(out = cJSON_CreateObject()) || cli_grid_add_u64(out, "node_id", n.id) ||
	    cli_grid_add_u64(out, "farm_id", n.farm_id) ||
	    cli_grid_add_u64(out, "twin_id", n.twin_id) ||
	    cli_grid_add_account(out, "account", t.account) ||
	    !(t.has_relay ? cJSON_AddStringToObject(out, "relay", t.relay)
			  : cJSON_AddNullToObject(out, "relay")))
		goto out;
	if (seal_twin_x25519(t.pk_len ? t.pk : NULL, t.pk_len, t.account, x) == 0 &&
	    cli_grid_add_hex(out, "x25519_public_key", x, 32))
		goto out;
	if (!(res = cJSON_AddObjectToObject(out, "resources")) || cli_grid_add_u64(res, "cru", n.cru) ||
	    cli_grid_add_u64(res, "mru", n.mru) || cli_grid_add_u64(res, "sru", n.sru) ||
	    cli_grid_add_u64(res, "hru", n.hru))
		goto out;
	if (cli_grid_print(out, g.json) == 0)
		ret = CLI_OK;
out:
	cJSON_Delete(out);
	cli_grid_close(&g);
	return ret;
}

int cli_cmd_node(int argc, char **argv)
{
	static const struct entity_sub subs[] = {{"get", node_get}};
	return entity_dispatch("node", subs, sizeof subs / sizeof subs[0], node_usage, argc, argv);
}
