/*
 * zos-cli deploy --node ID FILE.json: seals the deployment for the node,
 * creates the node contract, sends zos.deployment.deploy over RMB and
 * follows the deployment until it is Deployed on chain or rejected.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chainclient/submit.h"
#include "cli/deploy.h"
#include "common/seal.h"
#include "common/zerr.h"

/* Plaintext deployments are at most what the agent accepts. */
#define DOC_MAX (16u << 10)

/* Zeroes every string of a JSON tree before it is freed: it is plaintext. */
static void wipe_json(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->string)
			sodium_memzero(j->string, strlen(j->string));
		if (j->valuestring)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		wipe_json(j->child);
	}
}

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

/* Reads a small file whole; *buf NUL-terminated, freed (wiped) by caller. */
static int read_file(const char *path, size_t max, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *p = malloc(max + 2);
	size_t n = 0;
	int rc = p ? 0 : -ENOMEM;
	while (rc == 0) {
		ssize_t r = read(fd, p + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		else if (r == 0)
			break;
		else if ((n += (size_t)r) > max)
			rc = ZE_TOOBIG;
	}
	close(fd);
	if (rc < 0) {
		if (p)
			sodium_memzero(p, max + 2);
		free(p);
		return rc;
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
}

/* The document as sent: twin_id set to the caller's, printed compactly.
 * *out is plaintext: the caller wipes it. */
static int prepare_doc(const char *text, size_t len, uint32_t twin, char **out)
{
	cJSON *doc = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(doc)) {
		cli_err("the deployment file is not a JSON object");
		cJSON_Delete(doc);
		return ZE_MALFORMED;
	}
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "twin_id");
	if (!t) {
		if (!cJSON_AddNumberToObject(doc, "twin_id", twin)) {
			cJSON_Delete(doc);
			return -ENOMEM;
		}
	} else if (!cJSON_IsNumber(t) || t->valuedouble != (double)twin) {
		cli_err("the document's twin_id is not this key's twin %u", twin);
		wipe_json(doc);
		cJSON_Delete(doc);
		return -EINVAL;
	}
	*out = cJSON_PrintUnformatted(doc);
	wipe_json(doc);
	cJSON_Delete(doc);
	return *out ? 0 : -ENOMEM;
}

/* contract_id anywhere inside the ContractCreated event's data. */
static int find_contract_id(const cJSON *j, int depth, uint64_t *id)
{
	if (!j || depth > 4)
		return -ENOENT;
	const cJSON *c = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "contract_id") : NULL;
	if (cJSON_IsNumber(c) && c->valuedouble >= 1) {
		*id = (uint64_t)c->valuedouble;
		return 0;
	}
	if (cJSON_IsString(c) && cli_parse_uint("contract_id", c->valuestring, UINT64_MAX, id) == 0)
		return 0;
	const cJSON *k;
	cJSON_ArrayForEach(k, j)
		if (find_contract_id(k, depth + 1, id) == 0)
			return 0;
	return -ENOENT;
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
	const cJSON *ev = chain_event_find(o.events, "SmartContractModule", "ContractCreated");
	rc = ev ? find_contract_id(cJSON_GetObjectItemCaseSensitive(ev, "data"), 0, cid) : -ENOENT;
	if (rc < 0)
		cli_err("create_node_contract succeeded but no ContractCreated event names the id");
	chain_outcome_clear(&o);
	return rc;
}

/* Seals plaintext for the node with the caller's key. */
static int seal_for_node(struct cli_link *l, const char *pt, uint8_t **data, size_t *len)
{
	uint8_t node_x[32], user_x[32], mine[32], theirs[32];
	int rc = seal_twin_x25519(l->node_twin.pk_len ? l->node_twin.pk : NULL,
				 l->node_twin.pk_len, l->node_twin.account, node_x);
	if (rc < 0) {
		cli_err("twin %u's key is not a usable x25519 key", l->node.twin_id);
		return rc;
	}
	/* The node opens the box with the x25519 key the chain gives for this
	 * twin; a pk set on chain that is not this key's would make it refuse. */
	struct grid_twin me;
	if ((rc = grid_twin(l->chain, l->src, &me)) < 0) {
		cli_err("cannot read twin %u: %s", l->src, zerr_str(rc));
		return rc;
	}
	if ((rc = key_x25519_pk(l->key.pk, mine)) < 0 ||
	    (rc = seal_twin_x25519(me.pk_len ? me.pk : NULL, me.pk_len, me.account, theirs)) < 0 ||
	    sodium_memcmp(mine, theirs, 32) != 0) {
		cli_err("twin %u's pk on chain is not this key's x25519 key: the node could not "
			"open the deployment", l->src);
		return rc < 0 ? rc : ZE_CRYPTO;
	}
	if ((rc = key_x25519_sk(&l->key, user_x)) == 0)
		rc = seal_box((const uint8_t *)pt, strlen(pt), node_x, user_x, 0, data, len);
	sodium_memzero(user_x, sizeof user_x);
	if (rc == ZE_TOOBIG)
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
	char *text = NULL, *pt = NULL;
	size_t tlen = 0;
	int rc = read_file(argv[optind], DOC_MAX, &text, &tlen);
	if (rc < 0) {
		cli_err("cannot read %s: %s", argv[optind],
			rc == ZE_TOOBIG ? "larger than a deployment may be" : zerr_str(rc));
		return CLI_FAIL;
	}
	struct cli_link l;
	if (cli_link_open(&o, &l) < 0) {
		sodium_memzero(text, tlen);
		free(text);
		return CLI_FAIL;
	}
	rc = prepare_doc(text, tlen, l.src, &pt);
	sodium_memzero(text, tlen);
	free(text);
	int ret = CLI_FAIL;
	uint8_t *data = NULL, hash[32];
	size_t dlen = 0;
	uint64_t cid = 0;
	if (rc < 0 || seal_for_node(&l, pt, &data, &dlen) < 0)
		goto out;
	seal_hash(pt, strlen(pt), hash);
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
	if (pt) {
		sodium_memzero(pt, strlen(pt));
		free(pt);
	}
	free(data);
	cli_link_close(&l);
	return ret;
}
