/*
 * zos-cli contract: node contracts, from the user's side.
 *
 *   zos-cli contract create --node ID --file DEPLOYMENT.json KEYSOURCE
 *   zos-cli contract get ID
 *   zos-cli contract cancel ID KEYSOURCE
 *   zos-cli contract list ...                                   (grid_list.c)
 *   zos-cli contract bill-history ID [--from BLOCK --to BLOCK]   (grid_bill.c)
 *
 * (each with [--url URL] [--json]).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "cli/grid.h"
#include "common/seal.h"
#include "common/zerr.h"

void cli_contract_usage(FILE *f)
{
	fprintf(f,
		"usage: zos-cli contract create --node ID --file DEPLOYMENT.json " CLI_KEY_USAGE "\n"
		"       zos-cli contract get ID\n"
		"       zos-cli contract cancel ID " CLI_KEY_USAGE "\n"
		"       zos-cli contract list [--node ID | --twin ID | " CLI_KEY_USAGE "] [--max N]\n"
		"       zos-cli contract bill-history ID [--from BLOCK --to BLOCK]\n"
		"       (all take [--url URL] [--json])\n"
		"\n"
		"create        checks the deployment document ({version, twin_id, metadata,\n"
		"              description, workloads: [...]}; twin_id is filled in with the\n"
		"              key's twin when missing), seals it for the node (only the node\n"
		"              can read it), creates the node contract with the document's\n"
		"              blake2b-256 hash and prints the contract id. Send the id to the\n"
		"              node next (zos-cli deploy does both and follows the deployment).\n"
		"get           prints a contract: state (Created, Deployed, GracePeriod), owner\n"
		"              twin, node, deployment hash.\n"
		"cancel        cancels a contract of the key's twin; the node removes the\n"
		"              workloads.\n"
		"list          the contracts of a twin (the key's, or --twin; scans at most\n"
		"              --max contracts, default %u), or a node's active contracts.\n"
		"bill-history  what the chain billed for a contract, and when.\n",
		CLI_CONTRACT_SCAN_DEFAULT);
}

static const char *contract_cause_name(enum grid_cause c)
{
	switch (c) {
	case GRID_CAUSE_NONE: return "";
	case GRID_CAUSE_CANCELED_BY_USER: return "CanceledByUser";
	case GRID_CAUSE_OUT_OF_FUNDS: return "OutOfFunds";
	case GRID_CAUSE_CANCELED_BY_COLLECTIVE: return "CanceledByCollective";
	case GRID_CAUSE_DEPLOYMENT_FAILED: return "DeploymentFailed";
	case GRID_CAUSE_OTHER: break;
	}
	return "Other";
}

static const char *contract_type_name(enum grid_contract_type t)
{
	switch (t) {
	case GRID_NODE_CONTRACT: return "NodeContract";
	case GRID_NAME_CONTRACT: return "NameContract";
	case GRID_RENT_CONTRACT: return "RentContract";
	}
	return "?";
}

int cli_contract_fields(cJSON *o, const struct grid_contract *c)
{
	if (cli_grid_add_u64(o, "contract_id", c->contract_id) ||
	    !cJSON_AddStringToObject(o, "state", grid_contract_state_name(c->state)))
		return -ENOMEM;
	if (c->state == GRID_CONTRACT_DELETED &&
	    !cJSON_AddStringToObject(o, "cause", contract_cause_name(c->cause)))
		return -ENOMEM;
	if (c->state == GRID_CONTRACT_GRACE_PERIOD && cli_grid_add_u64(o, "grace_block", c->grace_block))
		return -ENOMEM;
	if (cli_grid_add_u64(o, "twin_id", c->twin_id) ||
	    !cJSON_AddStringToObject(o, "type", contract_type_name(c->type)))
		return -ENOMEM;
	if (c->type == GRID_NAME_CONTRACT)
		return 0;
	if (cli_grid_add_u64(o, "node_id", c->node_id))
		return -ENOMEM;
	if (c->type != GRID_NODE_CONTRACT)
		return 0;
	if (cli_grid_add_hex(o, "deployment_hash", c->deployment_hash, 32) ||
	    cli_grid_add_u64(o, "deployment_data_bytes", c->deployment_data_len) ||
	    cli_grid_add_u64(o, "public_ips", c->public_ips))
		return -ENOMEM;
	if (c->has_solution_provider)
		return cli_grid_add_u64(o, "solution_provider_id", c->solution_provider_id);
	return cJSON_AddNullToObject(o, "solution_provider_id") ? 0 : -ENOMEM;
}

/* Reads contract id; prints why not. */
static int contract_read(struct cli_grid *g, uint64_t id, struct grid_contract *c)
{
	int rc = grid_contract(g->chain, id, c);

	if (rc == ZE_ABSENT)
		cli_err("contract %llu does not exist (cancelled, rejected and deleted contracts "
			"are removed)", (unsigned long long)id);
	else if (rc < 0)
		cli_err("cannot read contract %llu from %s: %s", (unsigned long long)id, g->url,
			cli_chain_why(rc));
	return rc;
}

/* ---- create ------------------------------------------------------------- */

/* Seals the document for the node's twin. *data heap (not secret). */
static int contract_seal(struct cli_grid *g, const struct grid_node *n, const char *doc,
			 uint8_t **data, size_t *len, uint8_t hash[32])
{
	struct grid_twin nt;
	int rc = grid_twin(g->chain, n->twin_id, &nt);

	if (rc < 0) {
		cli_err("cannot read node %u's twin %u: %s", n->id, n->twin_id, cli_chain_why(rc));
		return rc;
	}
	rc = cli_doc_seal(&g->key, nt.pk_len ? nt.pk : NULL, nt.pk_len, nt.account, doc, data, len,
			  hash);
	if (rc == ZE_MALFORMED || rc == ZE_CRYPTO)
		cli_err("node %u's twin %u has no usable x25519 key", n->id, n->twin_id);
	else if (rc < 0)
		cli_err("cannot seal the deployment: %s", cli_chain_why(rc));
	return rc;
}

static int contract_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GRID_LONGOPTS,
		{"node", required_argument, NULL, 'n'},
		{"file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_opts go = {0};
	struct cli_grid g;
	struct grid_node node;
	struct chain_outcome o;
	const char *file = NULL;
	char *text = NULL, *doc = NULL, why[256];
	size_t tlen = 0, dlen = 0;
	uint8_t *data = NULL, hash[32];
	uint64_t node_id = 0, cid;
	uint32_t twin;
	cJSON *out = NULL;
	int opt, rc, ret = CLI_FAIL;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&go, opt, optarg))
			continue;
		switch (opt) {
		case 'n':
			if (cli_parse_num("--node", optarg, 1, UINT32_MAX, &node_id) < 0)
				return CLI_USAGE;
			break;
		case 'f': file = optarg; break;
		case 'h': cli_contract_usage(stdout); return CLI_OK;
		default: cli_contract_usage(stderr); return CLI_USAGE;
		}
	}
	if (optind != argc || !node_id || !file) {
		cli_err("contract create needs --node ID and --file DEPLOYMENT.json");
		return CLI_USAGE;
	}
	if ((rc = cli_doc_read(file, &text, &tlen)) < 0) {
		cli_err("cannot read %s: %s", file,
			rc == ZE_TOOBIG ? "larger than a deployment may be (16 KiB)" : cli_chain_why(rc));
		return CLI_FAIL;
	}
	if ((rc = cli_grid_open(&g, &go, 1)) < 0) {
		cli_doc_text_free(text, tlen);
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	}
	/* Everything is checked before the one step that costs a fee. */
	if (cli_grid_caller_twin(&g, &twin) < 0)
		goto out;
	if ((rc = cli_doc_prepare(text, tlen, twin, &doc, why, sizeof why)) < 0) {
		cli_err("%s is not a valid deployment: %s", file, why);
		goto out;
	}
	if ((rc = grid_node(g.chain, (uint32_t)node_id, &node)) < 0) {
		if (rc == ZE_ABSENT)
			cli_err("node %llu does not exist", (unsigned long long)node_id);
		else
			cli_err("cannot read node %llu: %s", (unsigned long long)node_id, cli_chain_why(rc));
		goto out;
	}
	if (cli_doc_check_sender(g.chain, &g.key, twin) < 0 ||
	    contract_seal(&g, &node, doc, &data, &dlen, hash) < 0)
		goto out;
	uint32_t limit;
	if ((rc = cli_doc_fits_chain(g.chain, dlen, &limit)) <= 0) {
		if (rc == 0)
			cli_err("the sealed deployment is %zu bytes; this runtime keeps at most %u "
				"in a contract's deployment_data (SmartContractModule."
				"MaxDeploymentDataLength). Nothing was sent. Use 'zos-cli deploy', "
				"which then puts only the deployment's hash on chain and hands the "
				"sealed deployment to the node over RMB",
				dlen, limit);
		goto out;
	}
	cJSON *args = grid_args_create_node_contract(node.id, hash, data, dlen, 0);
	rc = cli_grid_submit(&g, "SmartContractModule", "create_node_contract", args, &o);
	cJSON_Delete(args);
	if (rc < 0)
		goto out;
	if (cli_grid_created_contract(&o, &cid) < 0)
		goto out_clear;
	if (!(out = cJSON_CreateObject()) || cli_grid_add_u64(out, "contract_id", cid) ||
	    !cJSON_AddStringToObject(out, "state", "Created") ||
	    cli_grid_add_u64(out, "node_id", node.id) || cli_grid_add_u64(out, "twin_id", twin) ||
	    cli_grid_add_hex(out, "deployment_hash", hash, 32) ||
	    cli_grid_add_u64(out, "deployment_data_bytes", dlen) ||
	    cli_grid_add_outcome(out, &o, g.key.pk))
		goto out_clear;
	if (cli_grid_print(out, g.json) == 0)
		ret = CLI_OK;
out_clear:
	chain_outcome_clear(&o);
out:
	cJSON_Delete(out);
	free(data);
	cli_doc_free(doc);
	cli_doc_text_free(text, tlen);
	cli_grid_close(&g);
	return ret;
}

/* ---- get, cancel -------------------------------------------------------- */

/* Options and the one ID argument of get and cancel. */
static int contract_id_args(int argc, char **argv, struct cli_opts *go, uint64_t *id,
			    int *rc)
{
	if (cli_grid_common_opts(argc, argv, go, cli_contract_usage, rc) < 0)
		return -1;
	*rc = CLI_USAGE;
	if (argc - optind != 1) {
		cli_contract_usage(stderr);
		return -1;
	}
	return cli_parse_num("contract ID", argv[optind], 1, UINT64_MAX, id);
}

static int contract_get(int argc, char **argv)
{
	struct cli_opts go = {0};
	struct cli_grid g;
	struct grid_contract c;
	uint64_t id;
	cJSON *out;
	int rc, ret = CLI_FAIL;

	if (contract_id_args(argc, argv, &go, &id, &rc) < 0)
		return rc;
	if ((rc = cli_grid_open(&g, &go, 0)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	if (contract_read(&g, id, &c) == 0) {
		out = cJSON_CreateObject();
		if (out && cli_contract_fields(out, &c) == 0 && cli_grid_print(out, g.json) == 0)
			ret = CLI_OK;
		cJSON_Delete(out);
		grid_contract_clear(&c);
	}
	cli_grid_close(&g);
	return ret;
}

static int contract_cancel(int argc, char **argv)
{
	struct cli_opts go = {0};
	struct cli_grid g;
	struct chain_outcome o;
	uint64_t id, v;
	cJSON *out = NULL;
	int rc, ret = CLI_FAIL;

	if (contract_id_args(argc, argv, &go, &id, &rc) < 0)
		return rc;
	if ((rc = cli_grid_open(&g, &go, 1)) < 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	cJSON *args = grid_args_contract_id(id);
	rc = cli_grid_submit(&g, "SmartContractModule", "cancel_contract", args, &o);
	cJSON_Delete(args);
	if (rc < 0)
		goto out;
	if (!(out = cJSON_CreateObject()) || cli_grid_add_u64(out, "contract_id", id) ||
	    !cJSON_AddStringToObject(out, "status", "canceled"))
		goto out_clear;
	/* tfchain names the node and twin in NodeContractCanceled. */
	const cJSON *d = cli_grid_event_data(&o, "SmartContractModule", "NodeContractCanceled");
	if (d && meta_json_u64(cJSON_GetObjectItemCaseSensitive(d, "node_id"), &v) == 0 &&
	    cli_grid_add_u64(out, "node_id", v))
		goto out_clear;
	if (cli_grid_add_outcome(out, &o, g.key.pk) == 0 && cli_grid_print(out, g.json) == 0)
		ret = CLI_OK;
out_clear:
	chain_outcome_clear(&o);
out:
	cJSON_Delete(out);
	cli_grid_close(&g);
	return ret;
}

int cli_cmd_contract(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{"create", contract_create}, {"get", contract_get},
		{"cancel", contract_cancel}, {"list", cli_contract_list},
		{"bill-history", cli_contract_bill_history},
	};

	if (argc < 2) {
		cli_contract_usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		cli_contract_usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	cli_err("unknown contract command '%s'", argv[1]);
	cli_contract_usage(stderr);
	return CLI_USAGE;
}
