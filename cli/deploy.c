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
	        "           [--url URL] [--rmb ADDR] [--timeout S] [--rmb-timeout MS]\n"
	        "           [--hash-only] [--keep-contract] [--json]\n"
	        "       zos-cli deploy --contract ID [--node ID] [--sealed FILE] " CLI_KEY_USAGE "\n"
	        "           [--url URL] [--rmb ADDR] [--timeout S] [--json]\n"
	        "\n"
	        "Reads the deployment document FILE.json ({version, twin_id, metadata,\n"
	        "description, workloads: [...]}; twin_id is filled in when missing), seals it\n"
	        "for node ID, checks that the node answers over RMB and has the free capacity\n"
	        "the workloads ask for (nothing is paid otherwise), creates the node contract\n"
	        "as the key's twin, asks the node's agent to deploy it, and follows it until\n"
	        "the contract is Deployed (exit 0) or rejected (exit 1). Progress (each\n"
	        "workload's state and result) goes to stderr; the result ('contract: ID',\n"
	        "then 'deployed|rejected|refused|unreachable|timeout: contract ID (reason)',\n"
	        "or one JSON document with --json) to stdout. --timeout bounds the following\n"
	        "(default 120 s).\n"
	        "\n"
	        "--url is the chain (http(s):// or ws(s)://, repeatable; default\n"
	        "$ZOS_CHAIN_URL, else " CLI_CHAIN_DEFAULT_URL "; --chain is a deprecated alias);\n"
	        "--rmb is the node's RMB address (tcp:// or ipc://), default its twin's relay.\n"
	        "\n"
	        "When the node cannot be reached once the contract exists, the contract id,\n"
	        "what it was billed so far and the commands to resend or cancel it are\n"
	        "printed. --contract ID resends an existing contract's deployment to its node\n"
	        "and follows it (--sealed FILE: a hash-only contract's sealed deployment, as\n"
	        "saved by the first deploy in zos-contract-ID.sealed).\n"
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
		cli_err("create_node_contract not sent: %s", cli_chain_why(rc));
		return rc;
	}
	if (o.status == CHAIN_OUTCOME_REJECTED && !cli_chain_reached(o.err)) {
		cli_err("create_node_contract not sent: %s", cli_chain_why(o.err));
		chain_outcome_clear(&o);
		return ZE_CHAIN;
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
static int cancel_refused(struct cli_link *l, uint64_t cid, FILE *out)
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
	int ok = rc == 0 && o.status == CHAIN_OUTCOME_SUCCESS;
	if (ok)
		fprintf(out,
		        "cancelled: contract %llu (the node refused it and this runtime has no "
		        "reject_contract; --keep-contract keeps it)\n",
		        (unsigned long long)cid);
	else
		cli_err("contract %llu was refused but could not be cancelled (%s): cancel it with "
		        "'zos-cli contract cancel %llu' to stop paying for it",
		        (unsigned long long)cid, rc < 0 ? cli_chain_why(rc) : o.error,
		        (unsigned long long)cid);
	chain_outcome_clear(&o);
	return ok;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Prints a workload's line (progress, on stderr) when its state changed
 * since the last poll. */
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
			fprintf(stderr, "workload %s: pulling %s: %.1f of %.1f MB\n", name->valuestring,
			       img->valuestring, done->valuedouble / 1e6, total->valuedouble / 1e6);
		} else {
			char *res =
			    cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(w, "result"));
			fprintf(stderr, "workload %s: %s%s%s\n", name->valuestring, state->valuestring,
			       res ? " " : "", res ? res : "");
			free(res);
		}
		cJSON_DeleteItemFromObjectCaseSensitive(seen, name->valuestring);
		cJSON_AddStringToObject(seen, name->valuestring, shown);
	}
}

/* How a deploy ended, for the result line or the --json document. */
struct deploy_result {
	const char *state; /* deployed, rejected, refused, unreachable, timeout */
	char reason[RMB_ERRMSG_MAX + 64];
	cJSON *last;       /* the node's last zos.deployment.get reply, owned */
	int answered;      /* the node answered at least once while following */
};

/* Polls the agent (and the chain, where it has a Deployed state) until
 * deployed, rejected or timeout; *refused set when the node gave up on it. */
static int follow(struct cli_link *l, uint64_t cid, unsigned timeout_s, int chain_marks,
                  int *refused, struct deploy_result *res)
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
	res->state = "timeout";
	while (time(NULL) < end) {
		cJSON *reply = NULL;
		uint32_t code;
		int rc = cli_link_call(l, "zos.deployment.get", p, &reply, &code, msg, sizeof msg);
		if (rc == 1)
			cli_err("get: %u: %s", code, msg);
		if (rc >= 0)
			res->answered = 1;
		if (rc == 0) {
			print_workloads(reply, seen);
			cJSON_Delete(res->last);
			res->last = reply;
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "state");
			const cJSON *why = cJSON_GetObjectItemCaseSensitive(reply, "reason");
			const char *s = cJSON_IsString(st) ? st->valuestring : "";
			if (!strcmp(s, "failed") || !strcmp(s, "deleted")) {
				res->state = "rejected";
				snprintf(res->reason, sizeof res->reason, "%s",
				         cJSON_IsString(why) ? why->valuestring : "");
				*refused = 1;
				break;
			}
			struct grid_contract c;
			if (!strcmp(s, "deployed") && !chain_marks) {
				res->state = "deployed";
				snprintf(res->reason, sizeof res->reason,
				         "the node's answer: this runtime has no on-chain Deployed "
				         "state");
				ret = CLI_OK;
				break;
			}
			if (!strcmp(s, "deployed") && grid_contract(l->chain, cid, &c) == 0) {
				int on_chain = c.state == GRID_CONTRACT_DEPLOYED;
				grid_contract_clear(&c);
				if (on_chain) {
					res->state = "deployed";
					ret = CLI_OK;
					break;
				}
			}
		}
		sleep_ms(500);
	}
	if (ret != CLI_OK && !strcmp(res->state, "timeout")) {
		if (!res->answered)
			res->state = "unreachable";
		snprintf(res->reason, sizeof res->reason, "no final state within %u s", timeout_s);
		cli_err("contract %s: no final state within %u s", id, timeout_s);
	}
	cJSON_Delete(p);
	cJSON_Delete(seen);
	return ret;
}

/* The key options to repeat in a printed command; a secret given on the
 * command line itself is not echoed. */
static void key_options(const struct cli_keysrc *k, char *buf, size_t n)
{
	const char *opt = k->seed_file       ? "--seed-file"
	                  : k->mnemonic_file ? "--mnemonic-file"
	                  : k->dev           ? "--dev"
	                                     : NULL;
	const char *val = k->seed_file ? k->seed_file : k->mnemonic_file ? k->mnemonic_file : k->dev;
	if (opt)
		snprintf(buf, n, "%s %s%s%s", opt, val, k->scheme ? " --scheme " : "",
		         k->scheme ? k->scheme : "");
	else
		snprintf(buf, n, "KEY-OPTIONS");
}

/* Keeps a hash-only contract's sealed deployment where a resend can read it
 * (the node needs these very bytes: sealing again gives another hash). */
static const char *save_sealed(uint64_t cid, const uint8_t *data, size_t len, char *path,
                               size_t n)
{
	snprintf(path, n, "zos-contract-%llu.sealed", (unsigned long long)cid);
	FILE *f = fopen(path, "wx");
	if (!f || fwrite(data, 1, len, f) != len) {
		if (f)
			fclose(f);
		cli_err("cannot save the sealed deployment to %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fclose(f) != 0)
		return NULL;
	fprintf(stderr, "the sealed deployment is saved in %s (a resend needs it)\n", path);
	return path;
}

/* --sealed FILE: a hash-only contract's sealed deployment, as saved above. */
static int read_sealed(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "r");
	uint8_t *b = f ? malloc(SEAL_DEFAULT_MAX + 1) : NULL;
	size_t got = b ? fread(b, 1, SEAL_DEFAULT_MAX + 1, f) : 0;
	if (f)
		fclose(f);
	if (!b || got == 0 || got > SEAL_DEFAULT_MAX) {
		cli_err("cannot read the sealed deployment %s: %s", path,
		        !f ? strerror(errno) : got ? "too large" : "empty or unreadable");
		free(b);
		return -EINVAL;
	}
	*data = b;
	*len = got;
	return 0;
}

/* The node of contract cid, for a resend without --node. */
static int contract_node(const struct cli_link_opts *o, uint64_t cid, uint32_t *node)
{
	const char *url = cli_chain_url(o->opts.url);
	struct chain_client *c = NULL;
	struct grid_contract gc;
	int rc = cli_chain_url_check(url);
	if (rc < 0)
		return rc;
	if ((rc = chain_client_new(url, NULL, &c)) < 0) {
		cli_err("cannot use the chain at %s: %s", url, zerr_str(rc));
		return rc;
	}
	rc = grid_contract(c, cid, &gc);
	int got = rc == 0;
	if (rc == ZE_ABSENT)
		cli_err("contract %llu does not exist on the chain at %s", (unsigned long long)cid,
		        url);
	else if (rc < 0)
		cli_err("cannot read contract %llu from %s: %s", (unsigned long long)cid, url,
		        cli_chain_why(rc));
	else if (gc.type != GRID_NODE_CONTRACT || !gc.node_id) {
		cli_err("contract %llu is not a node contract", (unsigned long long)cid);
		rc = -EINVAL;
	} else {
		*node = gc.node_id;
	}
	if (got)
		grid_contract_clear(&gc);
	chain_client_free(c);
	return rc;
}

static void print_result(int json, uint64_t cid, uint32_t node, const struct deploy_result *r,
                         int cancelled)
{
	if (!json) {
		printf("%s: contract %llu%s%s%s\n", r->state, (unsigned long long)cid,
		       r->reason[0] ? " (" : "", r->reason, r->reason[0] ? ")" : "");
		fflush(stdout);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON *w = r->last ? cJSON_GetObjectItemCaseSensitive(r->last, "workloads") : NULL;
	if (o && cli_grid_add_u64(o, "contract_id", cid) == 0 &&
	    cJSON_AddNumberToObject(o, "node_id", node) && cJSON_AddStringToObject(o, "state", r->state) &&
	    cJSON_AddStringToObject(o, "reason", r->reason) &&
	    cJSON_AddBoolToObject(o, "cancelled", cancelled) &&
	    (!w || cJSON_AddItemToObject(o, "workloads", cJSON_Duplicate(w, 1))))
		cli_grid_print(o, 1);
	cJSON_Delete(o);
}

int cli_deploy_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"node", required_argument, NULL, 'n'},
	    {"contract", required_argument, NULL, 'c'},
	    {"sealed", required_argument, NULL, 'S'},
	    {"timeout", required_argument, NULL, 't'},
	    {"rmb-timeout", required_argument, NULL, 'r'},
	    {"hash-only", no_argument, NULL, 'H'},
	    {"keep-contract", no_argument, NULL, 'K'},
	    CLI_JSON_LONGOPT,
	    {"help", no_argument, NULL, 'h'},
	    CLI_KEY_LONGOPTS,
	    CLI_LINK_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_link_opts o = {0};
	uint64_t node = 0, timeout_s = 120, v, resend = 0;
	int opt, hash_only = 0, keep = 0;
	const char *sealed_path = NULL;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&o.opts, opt, optarg))
			continue;
		switch (opt) {
		case 'n':
			if (cli_parse_num("--node", optarg, 0, UINT32_MAX, &node) < 0)
				return CLI_USAGE;
			break;
		case 'c':
			if (cli_parse_num("--contract", optarg, 0, UINT64_MAX, &resend) < 0)
				return CLI_USAGE;
			break;
		case 'S': sealed_path = optarg; break;
		case 't':
			if (cli_parse_num("--timeout", optarg, 0, 86400, &timeout_s) < 0)
				return CLI_USAGE;
			break;
		case 'r':
			if (cli_parse_num("--rmb-timeout", optarg, 0, 600000, &v) < 0)
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
	const int json = o.opts.json;
	if (resend ? optind != argc : optind + 1 != argc || !node) {
		deploy_usage(stderr);
		return CLI_USAGE;
	}
	if (resend && !node) {
		uint32_t n32 = 0;
		int nrc = contract_node(&o, resend, &n32);
		if (nrc < 0)
			return nrc == -EINVAL ? CLI_USAGE : CLI_FAIL;
		node = n32;
	}
	o.node_id = (uint32_t)node;
	char *text = NULL, *pt = NULL, why[256];
	size_t tlen = 0;
	int rc = 0;
	if (!resend && (rc = cli_doc_read(argv[optind], &text, &tlen)) < 0) {
		cli_err("cannot read %s: %s", argv[optind],
			rc == ZE_TOOBIG ? "larger than a deployment may be" : zerr_str(rc));
		return CLI_FAIL;
	}
	struct cli_link l;
	if ((rc = cli_link_open(&o, &l)) < 0) {
		cli_doc_text_free(text, tlen);
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	}
	if (!resend) {
		rc = cli_doc_prepare_twin(text, tlen, l.src, &pt, why, sizeof why);
		cli_doc_text_free(text, tlen);
		if (rc < 0)
			cli_err("%s is not a valid deployment: %s", argv[optind], why);
	}
	int ret = CLI_FAIL;
	uint8_t *data = NULL, hash[32];
	size_t dlen = 0;
	uint64_t cid = resend;
	char *b64 = NULL, keyopt[600], saved[64];
	int chain_marks = 0, chain_rejects = 0, refused = 0, cancelled = 0;
	struct deploy_result res = {.state = "refused"};
	struct cli_deploy_resend rs = {.url = o.opts.url, .rmb = o.opts.rmb};
	key_options(&o.opts.keysrc, keyopt, sizeof keyopt);
	rs.keyopt = keyopt;
	if (rc < 0)
		goto out;
	if (resend) {
		struct grid_contract gc;
		if ((rc = grid_contract(l.chain, cid, &gc)) < 0) {
			cli_err("cannot read contract %llu: %s", (unsigned long long)cid,
			        rc == ZE_ABSENT ? "it does not exist" : cli_chain_why(rc));
			goto out;
		}
		int bad = gc.node_id != l.node.id || gc.twin_id != l.src;
		int need_sealed = gc.deployment_data_len == 0;
		grid_contract_clear(&gc);
		if (bad) {
			cli_err("contract %llu is not this twin's contract on node %u",
			        (unsigned long long)cid, l.node.id);
			goto out;
		}
		if (need_sealed && !sealed_path) {
			cli_err("contract %llu holds only the deployment's hash: give its sealed "
			        "deployment with --sealed FILE (zos-cli deploy saved it as "
			        "zos-contract-%llu.sealed), or cancel it and deploy again",
			        (unsigned long long)cid, (unsigned long long)cid);
			goto out;
		}
		if (need_sealed && read_sealed(sealed_path, &data, &dlen) < 0)
			goto out;
		hash_only = need_sealed;
		rs.sealed = sealed_path;
	} else if (seal_for_node(&l, pt, &data, &dlen, hash) < 0) {
		goto out;
	}
	/* Everything that decides the mode is read before paying. */
	uint32_t limit;
	if ((!resend && (rc = cli_doc_fits_chain(l.chain, dlen, &limit)) < 0) ||
	    (chain_marks = grid_has_call(l.chain, "SmartContractModule", "set_contract_deployed")) <
	        0 ||
	    (chain_rejects = grid_has_call(l.chain, "SmartContractModule", "reject_contract")) <
	        0) {
		if (rc >= 0)
			cli_err("cannot read the runtime's calls from the chain");
		goto out;
	}
	if (!resend && !rc && !hash_only) {
		hash_only = 1;
		fprintf(json ? stderr : stdout,
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
	/* The node must be up and have room before anything is paid. */
	if (!resend && cli_deploy_check_node(&l, pt) < 0)
		goto out;
	if (!resend) {
		if (create_contract(&l, hash, data, hash_only ? 0 : dlen, &cid) < 0)
			goto out;
		if (!json)
			printf("contract: %llu\n", (unsigned long long)cid);
		fflush(stdout);
		fprintf(stderr, "contract %llu created; sending it to node %u at %s\n",
		        (unsigned long long)cid, l.node.id, l.addr);
	} else {
		fprintf(stderr, "resending contract %llu to node %u at %s\n", (unsigned long long)cid,
		        l.node.id, l.addr);
	}

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
		snprintf(res.reason, sizeof res.reason, "%u: %s", code, msg);
		/* 503: the node could not ask the chain; the contract is fine. */
		refused = code != 503;
		if (!refused) {
			res.state = "unreachable";
			if (hash_only && !resend)
				rs.sealed = save_sealed(cid, data, dlen, saved, sizeof saved);
			cli_deploy_stranded(&l, cid, &rs);
		}
		goto out;
	}
	if (rc < 0) {
		res.state = "unreachable";
		snprintf(res.reason, sizeof res.reason, "the node did not answer the deploy");
		if (hash_only && !resend)
			rs.sealed = save_sealed(cid, data, dlen, saved, sizeof saved);
		cli_deploy_stranded(&l, cid, &rs);
		goto out;
	}
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "status");
	fprintf(stderr, "status: %s\n", cJSON_IsString(st) ? st->valuestring : "?");
	cJSON_Delete(reply);
	ret = follow(&l, cid, (unsigned)timeout_s, chain_marks, &refused, &res);
	if (ret != CLI_OK && !res.answered) {
		if (hash_only && !resend)
			rs.sealed = save_sealed(cid, data, dlen, saved, sizeof saved);
		cli_deploy_stranded(&l, cid, &rs);
	}
out:
	if (refused && !chain_rejects) {
		if (keep)
			fprintf(json ? stderr : stdout,
			        "kept: contract %llu stays Created and keeps costing until you cancel "
			        "it ('zos-cli contract cancel %llu')\n",
			        (unsigned long long)cid, (unsigned long long)cid);
		else
			cancelled = cancel_refused(&l, cid, json ? stderr : stdout);
	}
	if (cid)
		print_result(json, cid, l.node.id, &res, cancelled);
	cJSON_Delete(res.last);
	free(b64);
	cli_doc_free(pt);
	free(data);
	cli_link_close(&l);
	return ret;
}
