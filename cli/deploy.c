/*
 * zos-cli deploy --node ID FILE.json: seals the deployment for the node,
 * creates the node contract, sends zos.deployment.deploy over RMB and
 * follows the deployment until it is Deployed on chain or rejected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainclient/submit.h"
#include "cli/deploy.h"
#include "cli/grid.h"
#include "common/seal.h"
#include "common/zerr.h"

static void deploy_usage(FILE *f)
{
	fprintf(f,
		"usage: zos-cli deploy --node ID FILE.json " CLI_KEY_USAGE "\n"
		"           [--chain URL] [--url ADDR] [--timeout S] [--rmb-timeout MS]\n"
		"\n"
		"Reads the deployment document FILE.json ({version, twin_id, metadata,\n"
		"description, workloads: [...]}; twin_id is filled in when missing), seals it\n"
		"for node ID, creates the node contract as the key's twin, asks the node's\n"
		"agent to deploy it, and follows it: each workload's state and result is\n"
		"printed until the contract is Deployed (exit 0) or rejected (the reason is\n"
		"printed, exit 1). --timeout bounds the following (default 120 s).\n");
}

static int create_contract(struct cli_link *l, const uint8_t hash[32], const uint8_t *data,
			   size_t len, uint64_t *cid)
{
	struct chain_submitter *s;
	int rc = chain_submitter_new(l->chain, &l->key, NULL, &s);
	if (rc < 0) {
		cli_err("cannot start the submitter: %s", zerr_str(rc));
		return rc;
	}
	cJSON *args = grid_args_create_node_contract(l->node.id, hash, data, len, 0);
	struct chain_outcome o;
	memset(&o, 0, sizeof o);
	rc = args ? chain_submit_wait(s, "SmartContractModule", "create_node_contract", args, &o)
		  : -ENOMEM;
	cJSON_Delete(args);
	chain_submitter_free(s);
	if (rc < 0) {
		cli_err("create_node_contract not sent: %s", zerr_str(rc));
		return rc;
	}
	if (o.status != CHAIN_OUTCOME_SUCCESS) {
		cli_err("create_node_contract %s: %s", chain_outcome_status_name(o.status), o.error);
		chain_outcome_clear(&o);
		return ZE_CHAIN;
	}
	rc = cli_grid_created_contract(&o, cid);
	chain_outcome_clear(&o);
	return rc;
}

/* Seals the document for the node with the caller's key, whose twin must
 * publish this key's x25519 key for the node to open it. */
static int seal_for_node(struct cli_link *l, const char *doc, uint8_t **data, size_t *len,
			 uint8_t hash[32])
{
	int rc = cli_doc_check_sender(l->chain, &l->key, l->src);

	if (rc < 0)
		return rc;
	rc = cli_doc_seal(&l->key, l->node_twin.pk_len ? l->node_twin.pk : NULL,
			  l->node_twin.pk_len, l->node_twin.account, doc, data, len, hash);
	if (rc == ZE_MALFORMED || rc == ZE_CRYPTO)
		cli_err("twin %u's key is not a usable x25519 key", l->node.twin_id);
	else if (rc == ZE_TOOBIG)
		cli_err("the sealed deployment exceeds %u bytes", SEAL_DEFAULT_MAX);
	else if (rc < 0)
		cli_err("cannot seal the deployment: %s", zerr_str(rc));
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Prints a workload's line when its state changed since the last poll. */
static void print_workloads(const cJSON *reply, cJSON *seen)
{
	const cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(reply, "workloads")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(w, "name");
		const cJSON *state = cJSON_GetObjectItemCaseSensitive(w, "state");
		if (!cJSON_IsString(name) || !cJSON_IsString(state))
			continue;
		/* A container whose image is being pulled: bytes done of total. */
		const cJSON *pull = cJSON_GetObjectItemCaseSensitive(w, "pulling");
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(pull, "image");
		const cJSON *done = cJSON_GetObjectItemCaseSensitive(pull, "done");
		const cJSON *total = cJSON_GetObjectItemCaseSensitive(pull, "total");
		char shown[64];
		if (cJSON_IsString(img) && cJSON_IsNumber(done) && cJSON_IsNumber(total))
			snprintf(shown, sizeof shown, "pulling %.0f", done->valuedouble);
		else
			snprintf(shown, sizeof shown, "%s", state->valuestring);
		const cJSON *prev = cJSON_GetObjectItemCaseSensitive(seen, name->valuestring);
		if (cJSON_IsString(prev) && !strcmp(prev->valuestring, shown))
			continue;
		if (shown[0] == 'p' && !strncmp(shown, "pulling ", 8)) {
			printf("workload %s: pulling %s: %.1f of %.1f MB\n", name->valuestring,
			       img->valuestring, done->valuedouble / 1e6, total->valuedouble / 1e6);
		} else {
			char *res =
			    cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(w, "result"));
			printf("workload %s: %s%s%s\n", name->valuestring, state->valuestring,
			       res ? " " : "", res ? res : "");
			free(res);
		}
		cJSON_DeleteItemFromObjectCaseSensitive(seen, name->valuestring);
		cJSON_AddStringToObject(seen, name->valuestring, shown);
	}
	fflush(stdout);
}

/* Polls the agent and the chain until Deployed, rejected or timeout. */
static int follow(struct cli_link *l, uint64_t cid, unsigned timeout_s)
{
	cJSON *p = cJSON_CreateObject(), *seen = cJSON_CreateObject();
	char id[24], msg[RMB_ERRMSG_MAX + 1];
	snprintf(id, sizeof id, "%llu", (unsigned long long)cid);
	if (!p || !seen || !cJSON_AddStringToObject(p, "contract_id", id)) {
		cJSON_Delete(p);
		cJSON_Delete(seen);
		return CLI_FAIL;
	}
	int ret = CLI_FAIL;
	time_t end = time(NULL) + timeout_s;
	while (time(NULL) < end) {
		cJSON *reply = NULL;
		uint32_t code;
		int rc = cli_link_call(l, "zos.deployment.get", p, &reply, &code, msg, sizeof msg);
		if (rc == 1)
			cli_err("get: %u: %s", code, msg);
		if (rc == 0) {
			print_workloads(reply, seen);
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "state");
			const cJSON *why = cJSON_GetObjectItemCaseSensitive(reply, "reason");
			const char *s = cJSON_IsString(st) ? st->valuestring : "";
			if (!strcmp(s, "failed") || !strcmp(s, "deleted")) {
				printf("rejected: %s\n", cJSON_IsString(why) ? why->valuestring : "");
				cJSON_Delete(reply);
				break;
			}
			struct grid_contract c;
			if (!strcmp(s, "deployed") && grid_contract(l->chain, cid, &c) == 0) {
				int on_chain = c.state == GRID_CONTRACT_DEPLOYED;
				grid_contract_clear(&c);
				if (on_chain) {
					printf("deployed: contract %s\n", id);
					ret = CLI_OK;
					cJSON_Delete(reply);
					break;
				}
			}
			cJSON_Delete(reply);
		}
		sleep_ms(500);
	}
	if (ret != CLI_OK && time(NULL) >= end)
		cli_err("contract %s: no final state within %u s", id, timeout_s);
	cJSON_Delete(p);
	cJSON_Delete(seen);
	return ret;
}

int cli_deploy_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'},
		{"chain", required_argument, NULL, 'C'},
		{"url", required_argument, NULL, 'u'},
		{"timeout", required_argument, NULL, 't'},
		{"rmb-timeout", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		CLI_KEY_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct cli_link_opts o = {0};
	uint64_t node = 0, timeout_s = 120, v;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_keysrc_opt(&o.keysrc, opt, optarg))
			continue;
		switch (opt) {
		case 'n':
			if (cli_parse_uint("node", optarg, UINT32_MAX, &node) < 0)
				return CLI_USAGE;
			break;
		case 'C': o.chain = optarg; break;
		case 'u': o.url = optarg; break;
		case 't':
			if (cli_parse_uint("timeout", optarg, 86400, &timeout_s) < 0)
				return CLI_USAGE;
			break;
		case 'r':
			if (cli_parse_uint("rmb-timeout", optarg, 600000, &v) < 0)
				return CLI_USAGE;
			o.timeout_ms = (unsigned)v;
			break;
		case 'h': deploy_usage(stdout); return CLI_OK;
		default: deploy_usage(stderr); return CLI_USAGE;
		}
	}
	if (optind + 1 != argc || !node) {
		deploy_usage(stderr);
		return CLI_USAGE;
	}
	o.node_id = (uint32_t)node;
	char *text = NULL, *pt = NULL, why[256];
	size_t tlen = 0;
	int rc = cli_doc_read(argv[optind], &text, &tlen);
	if (rc < 0) {
		cli_err("cannot read %s: %s", argv[optind],
			rc == ZE_TOOBIG ? "larger than a deployment may be" : zerr_str(rc));
		return CLI_FAIL;
	}
	struct cli_link l;
	if (cli_link_open(&o, &l) < 0) {
		cli_doc_text_free(text, tlen);
		return CLI_FAIL;
	}
	rc = cli_doc_prepare_twin(text, tlen, l.src, &pt, why, sizeof why);
	cli_doc_text_free(text, tlen);
	if (rc < 0)
		cli_err("%s is not a valid deployment: %s", argv[optind], why);
	int ret = CLI_FAIL;
	uint8_t *data = NULL, hash[32];
	size_t dlen = 0;
	uint64_t cid = 0;
	if (rc < 0 || seal_for_node(&l, pt, &data, &dlen, hash) < 0)
		goto out;
	if (create_contract(&l, hash, data, dlen, &cid) < 0)
		goto out;
	printf("contract: %llu\n", (unsigned long long)cid);
	fflush(stdout);

	cJSON *p = cJSON_CreateObject(), *reply = NULL;
	char id[24], msg[RMB_ERRMSG_MAX + 1];
	uint32_t code = 0;
	snprintf(id, sizeof id, "%llu", (unsigned long long)cid);
	rc = -ENOMEM;
	if (p && cJSON_AddStringToObject(p, "contract_id", id))
		rc = cli_link_call(&l, "zos.deployment.deploy", p, &reply, &code, msg, sizeof msg);
	cJSON_Delete(p);
	if (rc == 1) {
		printf("refused: %u: %s\n", code, msg);
		goto out;
	}
	if (rc < 0)
		goto out;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "status");
	printf("status: %s\n", cJSON_IsString(st) ? st->valuestring : "?");
	fflush(stdout);
	cJSON_Delete(reply);
	ret = follow(&l, cid, (unsigned)timeout_s);
out:
	cli_doc_free(pt);
	free(data);
	cli_link_close(&l);
	return ret;
}
