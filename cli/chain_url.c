/*
 * zos-cli: the chain's address and the words for a chain that cannot be
 * used. Every command takes the chain as --url (default $ZOS_CHAIN_URL,
 * then CLI_CHAIN_DEFAULT_URL), checks its scheme before anything is sent,
 * and, when a call fails in transport, says what happened at which address
 * (connection refused, timeout, HTTP status) and what to start or set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/rpc.h"
#include "cli/cli.h"
#include "common/zerr.h"

const char *cli_chain_url(const char *given)
{
	const char *env = getenv("ZOS_CHAIN_URL");

	if (given)
		return given;
	return env && *env ? env : CLI_CHAIN_DEFAULT_URL;
}

static int url_scheme_ok(const char *p, size_t n)
{
	static const char *const schemes[] = {"http://", "https://", "ws://", "wss://"};

	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t l = strlen(schemes[i]);
		if (n > l && strncmp(p, schemes[i], l) == 0)
			return 1;
	}
	return 0;
}

int cli_chain_url_check(const char *list)
{
	const char *p = list;
	int n = 0;

	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t l = strcspn(p, ", ");
		if (!url_scheme_ok(p, l)) {
			const char *sep = memmem(p, l, "://", 3);
			if (sep && ((sep - p == 3 && !strncmp(p, "tcp", 3)) ||
			            (sep - p == 3 && !strncmp(p, "ipc", 3))))
				cli_err("--url '%.*s' is an RMB (nng) address, not a chain: --url "
				        "is the "
				        "chain (http://, https://, ws:// or wss://); give the "
				        "node's RMB "
				        "address with --rmb",
				        (int)l, p);
			else if (sep)
				cli_err("chain URL '%.*s' has the unknown scheme '%.*s://': use "
				        "http://, https://, ws:// or wss:// (e.g. %s)",
				        (int)l, p, (int)(sep - p), p, CLI_CHAIN_DEFAULT_URL);
			else
				cli_err(
				    "chain URL '%.*s' has no scheme: use http://, https://, ws:// "
				    "or wss:// (e.g. http://%.*s)",
				    (int)l, p, (int)l, p);
			return -EINVAL;
		}
		n++;
		p += l;
	}
	if (!n) {
		cli_err(
		    "empty chain URL: give --url http://HOST:PORT (or ws://, https://, wss://)");
		return -EINVAL;
	}
	return 0;
}

int cli_rmb_addr_check(const char *addr)
{
	if (!strncmp(addr, "http://", 7) || !strncmp(addr, "https://", 8) ||
	    !strncmp(addr, "ws://", 5) || !strncmp(addr, "wss://", 6)) {
		cli_err("--rmb '%s' looks like a chain URL: --rmb is the node's RMB address "
			"(tcp://HOST:PORT or ipc://PATH); give the chain with --url",
			addr);
		return -EINVAL;
	}
	return 0;
}

const char *cli_chain_why(int rc)
{
	static char buf[640];
	struct rpc_failure_info f;

	if (rc != ZE_UNKNOWN && rc != ZE_TIMEOUT)
		return zerr_str(rc);
	rpc_last_failure(&f);
	switch (f.kind) {
	case RPC_FAIL_REFUSED:
		snprintf(buf, sizeof buf,
		         "connection refused at %s: nothing listens there; start tfchain-dev or a "
		         "tfchain node at that URL, or set --url / ZOS_CHAIN_URL",
		         f.url);
		break;
	case RPC_FAIL_TIMEOUT:
		snprintf(buf, sizeof buf,
		         "timeout: %s did not answer in time (%s); check that the chain there is "
		         "up and reachable, or set --url / ZOS_CHAIN_URL",
		         f.url, f.detail);
		break;
	case RPC_FAIL_RESOLVE:
		snprintf(buf, sizeof buf,
		         "cannot resolve the host of %s: check the name in --url / ZOS_CHAIN_URL",
		         f.url);
		break;
	case RPC_FAIL_HTTP:
		snprintf(buf, sizeof buf,
		         "HTTP status %ld from %s: it is not a chain's JSON-RPC endpoint, or it "
		         "failed; check --url / ZOS_CHAIN_URL",
		         f.http_status, f.url);
		break;
	case RPC_FAIL_OTHER:
		snprintf(buf, sizeof buf, "no answer from %s (%s); check --url / ZOS_CHAIN_URL",
		         f.url, f.detail[0] ? f.detail : zerr_str(rc));
		break;
	default:
		return zerr_str(rc);
	}
	return buf;
}

int cli_chain_reached(int rc)
{
	struct rpc_failure_info f;

	if (rc != ZE_UNKNOWN && rc != ZE_TIMEOUT)
		return 1;
	rpc_last_failure(&f);
	return f.kind == RPC_FAIL_NONE || f.kind == RPC_FAIL_HTTP;
}

const char *cli_chain_alias(const char *arg)
{
	static int warned;

	if (!warned)
		fprintf(stderr, "zos-cli: warning: --chain is deprecated, use --url for the chain "
		                "(and --rmb for the node's RMB address)\n");
	warned = 1;
	return arg;
}
