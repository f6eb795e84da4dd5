/*
 * zos-cli rmb call: one signed RMB request to a twin, its verified reply
 * printed as JSON.
 * zos-cli rmb serve: a minimal RMB peer (zos.system.version, rmb.echo) that
 * verifies callers on chain, for testing clients and other implementations.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "cli/cli.h"
#include "common/hex.h"
#include "common/version.h"
#include "common/zerr.h"
#include "rmb/rmb_chain.h"
#include "rmb/rmb_client.h"
#include "rmb/rmb_server.h"


static void rmb_usage(FILE *f)
{
	fprintf(f,
		"usage: zos-cli rmb call DST_TWIN CMD [JSON] " CLI_KEY_USAGE "\n"
		"           [--src TWIN] [--rmb ADDR] [--dst-pk HEX] [--url URL]\n"
		"           [--timeout MS] [--attempts N] [--ttl S]\n"
		"       zos-cli rmb serve --listen ADDR [--listen ADDR...] " CLI_KEY_USAGE "\n"
		"           [--src TWIN] [--url URL]\n"
		"\n"
		"Signs CMD with payload JSON (none when omitted) as twin --src and sends it to\n"
		"twin DST_TWIN over RMB. The reply must be signed by DST_TWIN's key; its\n"
		"payload is printed as JSON. An error reply prints 'rmb error CODE (name):\n"
		"message' on stderr and exits 1.\n"
		"\n"
		"  --src TWIN     the caller's twin (default: looked up on chain by key)\n"
		"  --rmb ADDR     destination nng URL, tcp:// or ipc:// (default: the twin's\n"
		"                 relay on chain); nothing listening there fails at once\n"
		"  --dst-pk HEX   destination account key (default: the twin's on chain)\n"
		"  --url URL      the chain, http(s):// or ws(s)://, repeatable (default\n"
		"                 $ZOS_CHAIN_URL or " CLI_CHAIN_DEFAULT_URL "); --chain is a\n"
		"                 deprecated alias\n"
		"  --timeout MS   per attempt (default 5000); --attempts N (default 3),\n"
		"                 resending the same envelope (same uid)\n"
		"  --ttl S        request lifetime (default 60)\n"
		"\n"
		"serve runs a minimal RMB peer as twin --src (default: the key's twin on\n"
		"chain) answering zos.system.version and rmb.echo, verifying callers'\n"
		"keys on chain, until SIGINT or SIGTERM.\n");
}

static int parse_u32(const char *s, const char *name, uint32_t *out)
{
	uint64_t v;
	int rc = cli_parse_num(name, s, 0, UINT32_MAX, &v);
	if (!rc)
		*out = (uint32_t)v;
	return rc;
}

/* The caller's twin id from TfgridModule.TwinIdByAccountID. */
static int src_twin_from_chain(struct chain_client *c, const struct zkey *k, uint32_t *out)
{
	int rc = grid_twin_id_by_account(c, k->pk, out);
	if (rc == ZE_ABSENT)
		cli_err("this key has no twin on chain (create one first, or pass --src)");
	else if (rc)
		cli_err("cannot look up this key's twin on chain: %s", cli_chain_why(rc));
	return rc;
}

struct call_opts {
	struct cli_opts opts; /* the key, --url (the chain), --rmb (the node) */
	const char *src, *dst_pk;
	uint32_t timeout_ms, attempts, ttl_s;
};

/* Fills what the command line did not give from the chain. */
static int resolve(const struct call_opts *o, uint32_t dst, const struct zkey *k,
		   struct rmb_client_cfg *cfg, char *url, size_t urlsz)
{
	struct chain_client *chain = NULL;
	int rc = 0;
	if (o->opts.rmb && cli_rmb_addr_check(o->opts.rmb) < 0)
		return -EINVAL;
	int need_chain = !o->src || !o->opts.rmb || !o->dst_pk;
	if (need_chain) {
		const char *curl = cli_chain_url(o->opts.url);
		rc = cli_chain_url_check(curl);
		if (!rc && (rc = chain_client_new(curl, NULL, &chain)))
			cli_err("cannot use the chain at %s: %s", curl, zerr_str(rc));
		if (rc)
			return rc;
	}
	if (o->src)
		rc = parse_u32(o->src, "--src", &cfg->src);
	else
		rc = src_twin_from_chain(chain, k, &cfg->src);
	struct rmb_twin t;
	memset(&t, 0, sizeof(t));
	if (!rc && (!o->opts.rmb || !o->dst_pk)) {
		rc = rmb_chain_twin_lookup(chain, dst, &t);
		if (rc == ZE_ABSENT)
			cli_err("twin %u does not exist on chain", dst);
		else if (rc)
			cli_err("cannot look up twin %u on the chain at %s: %s", dst,
				cli_chain_url(o->opts.url), cli_chain_why(rc));
	}
	if (!rc && o->dst_pk && hex_decode_fixed(o->dst_pk, cfg->dst_pk, 32)) {
		cli_err("--dst-pk needs 64 hex digits");
		rc = -EINVAL;
	} else if (!rc && !o->dst_pk) {
		memcpy(cfg->dst_pk, t.account, 32);
	}
	if (!rc && o->opts.rmb) {
		if ((size_t)snprintf(url, urlsz, "%s", o->opts.rmb) >= urlsz) {
			cli_err("--rmb too long");
			rc = -EINVAL;
		}
	} else if (!rc && rmb_relay_first(t.relay, url, urlsz)) {
		cli_err("twin %u has no RMB address in its relay field (pass --rmb)", dst);
		rc = -ENOENT;
	}
	chain_client_free(chain);
	return rc;
}

static int do_call(const struct call_opts *o, uint32_t dst, const char *cmd, const char *json)
{
	struct zkey k;
	struct rmb_client_cfg cfg;
	struct rmb_client *c = NULL;
	struct rmb_result res;
	char url[RMB_RELAY_MAX + 1];

	if (cli_load_key(&o->opts.keysrc, &k))
		return CLI_USAGE;
	rmb_client_cfg_init(&cfg);
	cfg.key = &k;
	cfg.dst = dst;
	cfg.url = url;
	if (o->timeout_ms)
		cfg.timeout_ms = o->timeout_ms;
	if (o->attempts)
		cfg.attempts = o->attempts;
	if (o->ttl_s)
		cfg.ttl_s = o->ttl_s;
	cfg.fail_fast = 1;
	int rc = resolve(o, dst, &k, &cfg, url, sizeof(url));
	if (!rc) {
		rc = rmb_client_new(&cfg, &c);
		if (rc == -ECONNREFUSED)
			cli_err("connection refused at %s: twin %u's RMB peer (its zos-agent) is not "
				"running there; start it, or give its address with --rmb",
				url, dst);
		else if (rc)
			cli_err("cannot open %s: %s", url, zerr_str(rc));
	}
	key_wipe(&k);
	if (rc)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	rc = rmb_client_call(c, cmd, json, &res);
	rmb_client_free(c);
	if (rc == -EINVAL) {
		cli_err("CMD must match [A-Za-z0-9._-]+ and JSON must be one JSON document");
		return CLI_USAGE;
	}
	if (rc) {
		cli_err("rmb call %s to twin %u at %s failed: %s (uid %s)", cmd, dst, url,
			rc == ZE_CRYPTO ? "reply not signed by the destination twin" : zerr_str(rc),
			res.uid);
		return CLI_FAIL;
	}
	if (!res.ok) {
		cli_err("rmb error %u (%s): %s%s", res.err.code, rmb_code_name(res.err.code),
			res.err.message, res.err.retry ? " [retryable]" : "");
		rmb_result_clear(&res);
		return CLI_FAIL;
	}
	printf("%s\n", res.json_len ? res.json : "null");
	rmb_result_clear(&res);
	return CLI_OK;
}

static int h_version(void *arg, const struct rmb_call *call, cJSON **reply,
		     struct rmb_error *err)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "version", ZOS_VERSION) ||
	    !cJSON_AddStringToObject(o, "program", "zos-cli rmb serve")) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*reply = o;
	return 0;
}

static int h_echo(void *arg, const struct rmb_call *call, cJSON **reply, struct rmb_error *err)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *p = call->payload ? cJSON_Duplicate(call->payload, 1) : cJSON_CreateNull();
	if (!o || !p || !cJSON_AddItemToObject(o, "payload", p)) {
		cJSON_Delete(o);
		cJSON_Delete(p);
		return -ENOMEM;
	}
	if (!cJSON_AddNumberToObject(o, "caller", call->src)) {
		cJSON_Delete(o); /* p belongs to o now */
		return -ENOMEM;
	}
	*reply = o;
	return 0;
}

static int do_serve(const struct call_opts *o, const char *const *listen, size_t nlisten)
{
	struct zkey k;
	struct chain_client *chain = NULL;
	struct rmb_server *srv = NULL;
	struct rmb_server_cfg cfg;
	uint32_t twin = 0;
	sigset_t set;
	int sig = 0;

	if (cli_load_key(&o->opts.keysrc, &k))
		return CLI_USAGE;
	const char *curl = cli_chain_url(o->opts.url);
	int rc = cli_chain_url_check(curl);
	if (!rc && (rc = chain_client_new(curl, NULL, &chain)))
		cli_err("cannot use the chain at %s: %s", curl, zerr_str(rc));
	else if (o->src)
		rc = parse_u32(o->src, "--src", &twin);
	else
		rc = src_twin_from_chain(chain, &k, &twin);
	rmb_server_cfg_init(&cfg);
	for (size_t i = 0; i < nlisten; i++)
		cfg.listen[i] = listen[i];
	cfg.nlisten = nlisten;
	/* Signals go to sigwait below, not to nng's or the workers' threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (!rc) {
		rc = rmb_server_new(&cfg, &k, twin, rmb_chain_twin_lookup, chain, &srv);
		if (!rc)
			rc = rmb_server_register(srv, "zos.system.version", h_version, NULL);
		if (!rc)
			rc = rmb_server_register(srv, "rmb.echo", h_echo, NULL);
		if (!rc)
			rc = rmb_server_start(srv);
		if (rc)
			cli_err("cannot serve: %s", zerr_str(rc));
	}
	key_wipe(&k);
	if (!rc) {
		fprintf(stderr, "zos-cli: serving twin %u\n", twin);
		sigwait(&set, &sig);
	}
	rmb_server_free(srv);
	chain_client_free(chain);
	return rc ? CLI_FAIL : CLI_OK;
}

int cli_cmd_rmb(int argc, char **argv)
{
	enum { O_SRC = 1, O_DSTPK, O_TIMEOUT, O_ATTEMPTS, O_TTL, O_LISTEN };
	static const struct option longopts[] = {
		CLI_KEY_LONGOPTS,
		{"src", required_argument, NULL, O_SRC},
		CLI_URL_LONGOPT,
		CLI_RMB_LONGOPT,
		{"dst-pk", required_argument, NULL, O_DSTPK},
		CLI_CHAIN_LONGOPT,
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"attempts", required_argument, NULL, O_ATTEMPTS},
		{"ttl", required_argument, NULL, O_TTL},
		{"listen", required_argument, NULL, O_LISTEN},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct call_opts o;
	const char *listen[RMB_LISTEN_MAX];
	size_t nlisten = 0;
	int opt;
	memset(&o, 0, sizeof(o));
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_opt(&o.opts, opt, optarg))
			continue;
		switch (opt) {
		case O_SRC: o.src = optarg; break;
		case O_DSTPK: o.dst_pk = optarg; break;
		case O_TIMEOUT:
			if (parse_u32(optarg, "--timeout", &o.timeout_ms))
				return CLI_USAGE;
			break;
		case O_ATTEMPTS:
			if (parse_u32(optarg, "--attempts", &o.attempts))
				return CLI_USAGE;
			break;
		case O_TTL:
			if (parse_u32(optarg, "--ttl", &o.ttl_s))
				return CLI_USAGE;
			break;
		case O_LISTEN:
			if (nlisten == RMB_LISTEN_MAX) {
				cli_err("at most %d --listen addresses", RMB_LISTEN_MAX);
				return CLI_USAGE;
			}
			listen[nlisten++] = optarg;
			break;
		case 'h': rmb_usage(stdout); return CLI_OK;
		default: rmb_usage(stderr); return CLI_USAGE;
		}
	}
	int npos = argc - optind;
	if (npos == 1 && !strcmp(argv[optind], "serve")) {
		if (!nlisten) {
			cli_err("serve needs at least one --listen address");
			return CLI_USAGE;
		}
		return do_serve(&o, listen, nlisten);
	}
	if (npos < 3 || npos > 4 || strcmp(argv[optind], "call")) {
		rmb_usage(stderr);
		return CLI_USAGE;
	}
	uint32_t dst;
	if (parse_u32(argv[optind + 1], "DST_TWIN", &dst))
		return CLI_USAGE;
	return do_call(&o, dst, argv[optind + 2], npos == 4 ? argv[optind + 3] : NULL);
}
