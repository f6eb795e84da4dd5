/*
 * zos-cli deployment get|list|changes: the node agent's deployment queries
 * over RMB; and the node link shared with zos-cli deploy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/deploy.h"
#include "common/hex.h"
#include "common/num.h"
#include "common/zerr.h"
#include "rmb/rmb_chain.h"

int cli_link_open(const struct cli_link_opts *o, struct cli_link *l)
{
	memset(l, 0, sizeof *l);
	const char *url = cli_chain_url(o->opts.url);
	int rc = cli_chain_url_check(url);
	if (rc == 0 && o->opts.rmb)
		rc = cli_rmb_addr_check(o->opts.rmb);
	if (rc < 0)
		return rc;
	if ((rc = cli_load_key(&o->opts.keysrc, &l->key)) < 0)
		return rc;
	if ((rc = chain_client_new(url, NULL, &l->chain)) < 0) {
		cli_err("cannot use the chain at %s: %s", url, zerr_str(rc));
		goto fail;
	}
	if ((rc = grid_twin_id_by_account(l->chain, l->key.pk, &l->src)) < 0) {
		cli_err(rc == ZE_ABSENT ? "this key has no twin on the chain at %s (create one "
					  "first: zos-cli twin create)%s"
					: "cannot look up this key's twin on the chain at %s: %s",
			url, rc == ZE_ABSENT ? "" : cli_chain_why(rc));
		goto fail;
	}
	if ((rc = grid_node(l->chain, o->node_id, &l->node)) < 0) {
		cli_err(rc == ZE_ABSENT ? "node %u does not exist on the chain at %s%s"
					: "cannot read node %u from the chain at %s: %s",
			o->node_id, url, rc == ZE_ABSENT ? "" : cli_chain_why(rc));
		goto fail;
	}
	if ((rc = grid_twin(l->chain, l->node.twin_id, &l->node_twin)) < 0) {
		cli_err("cannot read twin %u of node %u: %s", l->node.twin_id, o->node_id,
			cli_chain_why(rc));
		goto fail;
	}
	char addr[RMB_RELAY_MAX + 1];
	if (o->opts.rmb) {
		if ((size_t)snprintf(addr, sizeof addr, "%s", o->opts.rmb) >= sizeof addr) {
			cli_err("--rmb is too long");
			rc = -EINVAL;
			goto fail;
		}
	} else if (!l->node_twin.has_relay ||
		   rmb_relay_first(l->node_twin.relay, addr, sizeof addr) < 0) {
		cli_err("twin %u of node %u has no RMB address in its relay (pass --rmb)",
			l->node.twin_id, o->node_id);
		rc = -ENOENT;
		goto fail;
	}
	snprintf(l->addr, sizeof l->addr, "%s", addr);
	struct rmb_client_cfg cfg;
	rmb_client_cfg_init(&cfg);
	cfg.url = addr;
	cfg.key = &l->key;
	cfg.src = l->src;
	cfg.dst = l->node.twin_id;
	memcpy(cfg.dst_pk, l->node_twin.account, 32);
	if (o->timeout_ms)
		cfg.timeout_ms = o->timeout_ms;
	cfg.fail_fast = 1;
	if ((rc = rmb_client_new(&cfg, &l->rmb)) == -ECONNREFUSED) {
		cli_err("connection refused at %s: node %u's agent is not running there (ask "
			"its farmer to start zos-agent, or give its address with --rmb)",
			addr, o->node_id);
		goto fail;
	} else if (rc < 0) {
		cli_err("cannot open %s: %s", addr, zerr_str(rc));
		goto fail;
	}
	return 0;
fail:
	cli_link_close(l);
	return rc;
}

void cli_link_close(struct cli_link *l)
{
	rmb_client_free(l->rmb);
	chain_client_free(l->chain);
	key_wipe(&l->key);
	memset(l, 0, sizeof *l);
}

int cli_link_call(struct cli_link *l, const char *cmd, const cJSON *payload, cJSON **reply,
		  uint32_t *code, char *err, size_t errsz)
{
	char *json = payload ? cJSON_PrintUnformatted(payload) : NULL;
	if (payload && !json)
		return -ENOMEM;
	struct rmb_result res;
	memset(&res, 0, sizeof res);
	int rc = rmb_client_call(l->rmb, cmd, json, &res);
	free(json);
	if (rc < 0) {
		cli_err("%s to node %u at %s failed: %s", cmd, l->node.id, l->addr,
			rc == ZE_CRYPTO	     ? "reply not signed by the node's twin"
			: rc == ZE_TIMEOUT ? "timeout: its agent did not answer (is zos-agent "
					     "running and reachable?)"
					   : zerr_str(rc));
		return rc;
	}
	if (!res.ok) {
		*code = res.err.code;
		snprintf(err, errsz, "%s", res.err.message);
		rmb_result_clear(&res);
		return 1;
	}
	*reply = cJSON_Parse(res.json_len ? res.json : "null");
	rmb_result_clear(&res);
	if (!*reply) {
		cli_err("%s: the reply is not JSON", cmd);
		return ZE_MALFORMED;
	}
	return 0;
}

static void deployment_usage(FILE *f)
{
	fprintf(f,
		"usage: zos-cli deployment get --node ID --contract ID " CLI_KEY_USAGE "\n"
		"       zos-cli deployment changes --node ID --contract ID " CLI_KEY_USAGE "\n"
		"       zos-cli deployment list --node ID " CLI_KEY_USAGE "\n"
		"       zos-cli deployment logs --node ID CONTRACT NAME [--tail N] " CLI_KEY_USAGE
		"\n"
		"           [--url URL] [--rmb ADDR] [--timeout MS] [--json]\n"
		"\n"
		"Asks node ID's agent over RMB, as the key's twin, and prints the JSON reply\n"
		"on stdout (--json is accepted for symmetry with the other commands):\n"
		"get: the deployment and each workload's state and result; changes: each\n"
		"workload's state history; list: the twin's deployments on the node.\n"
		"logs: the last N (default 100, at most 10000) lines a container wrote to\n"
		"stdout and stderr, printed as they are (only the contract's twin may read them).\n"
		"--url is the chain (http(s):// or ws(s)://, repeatable; default\n"
		"$ZOS_CHAIN_URL, else " CLI_CHAIN_DEFAULT_URL "; --chain is a deprecated alias).\n"
		"--rmb is the node's RMB address (tcp:// or ipc://), default its twin's relay.\n");
}

int cli_deployment_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'},
		{"contract", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"tail", required_argument, NULL, 'T'},
		{"name", required_argument, NULL, 'N'},
		CLI_JSON_LONGOPT,
		{"help", no_argument, NULL, 'h'},
		CLI_KEY_LONGOPTS,
		CLI_LINK_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	if (argc < 2) {
		deployment_usage(stderr);
		return CLI_USAGE;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		deployment_usage(stdout);
		return CLI_OK;
	}
	const char *cmd = !strcmp(sub, "get") ? "zos.deployment.get"
			  : !strcmp(sub, "changes") ? "zos.deployment.changes"
			  : !strcmp(sub, "list") ? "zos.deployment.list"
			  : !strcmp(sub, "logs") ? "zos.deployment.logs" : NULL;
	if (!cmd) {
		cli_err("unknown deployment command '%s'", sub);
		deployment_usage(stderr);
		return CLI_USAGE;
	}
	struct cli_link_opts o = {0};
	uint64_t node = 0, contract = 0, v, tail = 0;
	const char *name = NULL;
	int opt;
	argc--;
	argv++;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&o.opts, opt, optarg))
			continue;
		switch (opt) {
		case 'n':
			if (cli_parse_num("--node", optarg, 0, UINT32_MAX, &node) < 0)
				return CLI_USAGE;
			break;
		case 'c':
			if (cli_parse_num("--contract", optarg, 0, UINT64_MAX, &contract) < 0)
				return CLI_USAGE;
			break;
		case 't':
			if (cli_parse_num("--timeout", optarg, 0, 600000, &v) < 0)
				return CLI_USAGE;
			o.timeout_ms = (unsigned)v;
			break;
		case 'T':
			if (cli_parse_num("--tail", optarg, 1, 10000, &tail) < 0)
				return CLI_USAGE;
			break;
		case 'N': name = optarg; break;
		case 'h': deployment_usage(stdout); return CLI_OK;
		default: deployment_usage(stderr); return CLI_USAGE;
		}
	}
	int logs = !strcmp(sub, "logs");
	/* logs CONTRACT NAME: the two may also be given positionally. */
	if (logs && optind + 2 == argc && !contract && !name) {
		if (cli_parse_num("CONTRACT", argv[optind], 0, UINT64_MAX, &contract) < 0)
			return CLI_USAGE;
		name = argv[optind + 1];
		optind += 2;
	}
	if (optind != argc || !node || (strcmp(sub, "list") && !contract) || (logs && !name) ||
	    (!logs && (name || tail))) {
		deployment_usage(stderr);
		return CLI_USAGE;
	}
	o.node_id = (uint32_t)node;
	struct cli_link l;
	int lrc = cli_link_open(&o, &l);
	if (lrc < 0)
		return lrc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	cJSON *p = cJSON_CreateObject(), *reply = NULL;
	char cid[24], msg[RMB_ERRMSG_MAX + 1];
	uint32_t code = 0;
	snprintf(cid, sizeof cid, "%llu", (unsigned long long)contract);
	int rc = -ENOMEM;
	if (p && (!contract || cJSON_AddStringToObject(p, "contract_id", cid)) &&
	    (!name || cJSON_AddStringToObject(p, "name", name)) &&
	    (!tail || cJSON_AddNumberToObject(p, "tail", (double)tail)))
		rc = cli_link_call(&l, cmd, p, &reply, &code, msg, sizeof msg);
	cJSON_Delete(p);
	cli_link_close(&l);
	if (rc == 1) {
		cli_err("%s refused: %u: %s", sub, code, msg);
		return CLI_FAIL;
	}
	if (rc < 0)
		return CLI_FAIL;
	if (logs) {
		const cJSON *lines = cJSON_GetObjectItemCaseSensitive(reply, "lines"), *ln;
		if (!cJSON_IsArray(lines)) {
			cli_err("logs: the reply has no lines");
			cJSON_Delete(reply);
			return CLI_FAIL;
		}
		cJSON_ArrayForEach(ln, lines) if (cJSON_IsString(ln)) printf("%s\n", ln->valuestring);
		cJSON_Delete(reply);
		return CLI_OK;
	}
	char *out = cJSON_Print(reply);
	cJSON_Delete(reply);
	if (!out)
		return CLI_FAIL;
	printf("%s\n", out);
	free(out);
	return CLI_OK;
}
