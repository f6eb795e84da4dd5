/*
 * zos-cli deploy --node ID FILE.json: seals the deployment for the node,
 * creates the node contract, sends zos.deployment.deploy over RMB and
 * follows the deployment until it is Deployed or rejected.
 *
 * Two modes (docs/real-tfchain.md): the sealed deployment goes into the
 * contract's deployment_data when it fits the runtime's
 * MaxDeploymentDataLength; otherwise (or with --hash-only) the contract
 * holds only deployment_hash and zos.deployment.deploy carries the sealed
 * deployment. On a runtime without set_contract_deployed/reject_contract
 * (tfchain's) the node's own answer is final, and a contract the node
 * refused is cancelled unless --keep-contract says otherwise.
 */
#include <errno.h>
#include <sodium.h>
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
	        "           [--hash-only] [--keep-contract]\n"
	        "\n"
	        "Reads the deployment document FILE.json ({version, twin_id, metadata,\n"
	        "description, workloads: [...]}; twin_id is filled in when missing), seals it\n"
	        "for node ID, creates the node contract as the key's twin, asks the node's\n"
	        "agent to deploy it, and follows it: each workload's state and result is\n"
	        "printed until the contract is Deployed (exit 0) or rejected (the reason is\n"
	        "printed, exit 1). --timeout bounds the following (default 120 s).\n"
	        "\n"
	        "A sealed deployment larger than the runtime's MaxDeploymentDataLength (or any,\n"
	        "with --hash-only) is not stored on chain: the contract holds its hash and the\n"
	        "node receives it with the deploy command. On a runtime without an on-chain\n"
	        "Deployed state the node's answer is final, and a contract the node refuses\n"
	        "is cancelled so that it stops costing (--keep-contract keeps it).\n");
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

/* Cancels the contract this command created after the node refused it, on
 * a runtime where the node cannot reject it on chain: the user's own call,
 * so that a deployment that will never run stops costing. */
static void cancel_refused(struct cli_link *l, uint64_t cid)
{
	struct chain_submitter *s;
	struct chain_outcome o;
	memset(&o, 0, sizeof o);
	int rc = chain_submitter_new(l->chain, &l->key, NULL, &s);
	if (rc == 0) {
		cJSON *args = grid_args_contract_id(cid);
		rc = args ? chain_submit_wait(s, "SmartContractModule", "cancel_contract", args, &o)
		          : -ENOMEM;
		cJSON_Delete(args);
		chain_submitter_free(s);
	}
	if (rc == 0 && o.status == CHAIN_OUTCOME_SUCCESS)
		printf("cancelled: contract %llu (the node refused it and this runtime has no "
		       "reject_contract; --keep-contract keeps it)\n",
		       (unsigned long long)cid);
	else
		cli_err("contract %llu was refused but could not be cancelled (%s): cancel it with "
		        "'zos-cli contract cancel %llu' to stop paying for it",
		        (unsigned long long)cid, rc < 0 ? zerr_str(rc) : o.error,
		        (unsigned long long)cid);
	chain_outcome_clear(&o);
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
		const cJSON *prev = cJSON_GetObjectItemCaseSensitive(seen, name->valuestring);
		if (cJSON_IsString(prev) && !strcmp(prev->valuestring, state->valuestring))
			continue;
		char *res = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(w, "result"));
		printf("workload %s: %s%s%s\n", name->valuestring, state->valuestring,
		       res ? " " : "", res ? res : "");
		free(res);
		cJSON_DeleteItemFromObjectCaseSensitive(seen, name->valuestring);
		cJSON_AddStringToObject(seen, name->valuestring, state->valuestring);
	}
	fflush(stdout);
}

/* Polls the agent (and the chain, where it has a Deployed state) until
 * deployed, rejected or timeout; *refused set when the node gave up on it. */
static int follow(struct cli_link *l, uint64_t cid, unsigned timeout_s, int chain_marks,
                  int *refused)
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
				printf("rejected: %s\n",
				       cJSON_IsString(why) ? why->valuestring : "");
				*refused = 1;
				cJSON_Delete(reply);
				break;
			}
			struct grid_contract c;
			if (!strcmp(s, "deployed") && !chain_marks) {
				printf(
				    "deployed: contract %s (the node's answer: this runtime has no "
				    "on-chain Deployed state)\n",
				    id);
				ret = CLI_OK;
				cJSON_Delete(reply);
				break;
			}
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
	    {"hash-only", no_argument, NULL, 'H'},
	    {"keep-contract", no_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_KEY_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_link_opts o = {0};
	uint64_t node = 0, timeout_s = 120, v;
	int opt, hash_only = 0, keep = 0;
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
		case 'H':
			hash_only = 1;
			break;
		case 'K':
			keep = 1;
			break;
		case 'h':
			deploy_usage(stdout);
			return CLI_OK;
		default:
			deploy_usage(stderr);
			return CLI_USAGE;
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
	char *b64 = NULL;
	int chain_marks = 0, chain_rejects = 0, refused = 0;
	if (rc < 0 || seal_for_node(&l, pt, &data, &dlen, hash) < 0)
		goto out;
	/* Everything that decides the mode is read before paying. */
	uint32_t limit;
	if ((rc = cli_doc_fits_chain(l.chain, dlen, &limit)) < 0 ||
	    (chain_marks = grid_has_call(l.chain, "SmartContractModule", "set_contract_deployed")) <
	        0 ||
	    (chain_rejects = grid_has_call(l.chain, "SmartContractModule", "reject_contract")) <
	        0) {
		if (rc >= 0)
			cli_err("cannot read the runtime's calls from the chain");
		goto out;
	}
	if (!rc && !hash_only) {
		hash_only = 1;
		printf(
		    "the sealed deployment is %zu bytes, this runtime keeps at most %u on chain: "
		    "the contract holds its hash and the node receives it over RMB\n",
		    dlen, limit);
	}
	if (hash_only) {
		size_t b64len = sodium_base64_encoded_len(dlen, sodium_base64_VARIANT_ORIGINAL);
		if (!(b64 = malloc(b64len))) {
			cli_err("out of memory");
			goto out;
		}
		sodium_bin2base64(b64, b64len, data, dlen, sodium_base64_VARIANT_ORIGINAL);
	}
	if (create_contract(&l, hash, data, hash_only ? 0 : dlen, &cid) < 0)
		goto out;
	printf("contract: %llu\n", (unsigned long long)cid);
	fflush(stdout);

	cJSON *p = cJSON_CreateObject(), *reply = NULL;
	char id[24], msg[RMB_ERRMSG_MAX + 1];
	uint32_t code = 0;
	snprintf(id, sizeof id, "%llu", (unsigned long long)cid);
	rc = -ENOMEM;
	if (p && cJSON_AddStringToObject(p, "contract_id", id) &&
	    (!b64 || cJSON_AddStringToObject(p, "deployment", b64)))
		rc = cli_link_call(&l, "zos.deployment.deploy", p, &reply, &code, msg, sizeof msg);
	cJSON_Delete(p);
	if (rc == 1) {
		printf("refused: %u: %s\n", code, msg);
		/* 503: the node could not ask the chain; the contract is fine. */
		refused = code != 503;
		goto out;
	}
	if (rc < 0)
		goto out;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "status");
	printf("status: %s\n", cJSON_IsString(st) ? st->valuestring : "?");
	fflush(stdout);
	cJSON_Delete(reply);
	ret = follow(&l, cid, (unsigned)timeout_s, chain_marks, &refused);
out:
	if (refused && !chain_rejects) {
		if (keep)
			printf(
			    "kept: contract %llu stays Created and keeps costing until you cancel "
			    "it ('zos-cli contract cancel %llu')\n",
			    (unsigned long long)cid, (unsigned long long)cid);
		else
			cancel_refused(&l, cid);
	}
	free(b64);
	cli_doc_free(pt);
	free(data);
	cli_link_close(&l);
	return ret;
}
