/*
 * The command-line options zos-cli's commands share, parsed in one place:
 * the chain's endpoint list (--url, repeatable, and its deprecated alias
 * --chain), a node's RMB address (--rmb), --json and the key sources, and
 * every number given on the command line (cli_parse_num).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/num.h"

/* For a repeated --url: prev and next joined with a comma (next alone when
 * prev is NULL), the chain client's endpoint list, in a static buffer that
 * the next call replaces (one list per command line). */
static const char *url_append(const char *prev, const char *next)
{
	static char list[2048];
	char tmp[sizeof(list)];

	if (!prev)
		return next;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s,%s", prev, next) >= sizeof(tmp)) {
		cli_err("--url: the endpoint list is over %zu bytes; %s left out", sizeof(list) - 1,
		        next);
		return prev;
	}
	memcpy(list, tmp, sizeof(list));
	return list;
}

int cli_opt(struct cli_opts *o, int opt, const char *arg)
{
	if (cli_keysrc_opt(&o->keysrc, opt, arg))
		return 1;
	switch (opt) {
	case CLI_OPT_URL:
		o->url = url_append(o->url, arg);
		return 1;
	case CLI_OPT_CHAIN:
		o->url = url_append(o->url, cli_chain_alias(arg));
		return 1;
	case CLI_OPT_RMB:
		o->rmb = arg;
		return 1;
	case CLI_OPT_JSON:
		o->json = 1;
		return 1;
	default:
		return 0;
	}
}

int cli_parse_num(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t x;

	if (num_u64(s, max, &x) < 0 || x < min) {
		cli_err("%s must be a number in %llu..%llu, not '%s'", what,
		        (unsigned long long)min, (unsigned long long)max, s);
		return -EINVAL;
	}
	*v = x;
	return 0;
}
