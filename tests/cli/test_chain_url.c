/* Unit tests of zos-cli's chain address checks and failure words
 * (cli/chain_url.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/rpc.h"
#include "cli/cli.h"
#include "common/zerr.h"

static void good_schemes_pass(void **st)
{
	(void)st;
	assert_int_equal(cli_chain_url_check("http://127.0.0.1:9944"), 0);
	assert_int_equal(cli_chain_url_check("https://tfchain.grid.tf"), 0);
	assert_int_equal(cli_chain_url_check("ws://127.0.0.1:9944"), 0);
	assert_int_equal(cli_chain_url_check("wss://a/ws, http://b:9944,ws://c"), 0);
}

static void bad_urls_are_refused(void **st)
{
	(void)st;
	assert_int_equal(cli_chain_url_check("127.0.0.1:9944"), -EINVAL);
	assert_int_equal(cli_chain_url_check("ftp://x"), -EINVAL);
	assert_int_equal(cli_chain_url_check("tcp://127.0.0.1:7000"), -EINVAL);
	assert_int_equal(cli_chain_url_check("ipc:///run/rmb.sock"), -EINVAL);
	assert_int_equal(cli_chain_url_check("http://"), -EINVAL);
	assert_int_equal(cli_chain_url_check(""), -EINVAL);
	assert_int_equal(cli_chain_url_check(" , "), -EINVAL);
	/* One bad endpoint in a list is enough. */
	assert_int_equal(cli_chain_url_check("http://a:1,b:2"), -EINVAL);
}

static void default_and_env(void **st)
{
	(void)st;
	unsetenv("ZOS_CHAIN_URL");
	assert_string_equal(cli_chain_url(NULL), CLI_CHAIN_DEFAULT_URL);
	setenv("ZOS_CHAIN_URL", "ws://x:1", 1);
	assert_string_equal(cli_chain_url(NULL), "ws://x:1");
	assert_string_equal(cli_chain_url("http://given"), "http://given");
	unsetenv("ZOS_CHAIN_URL");
}

/* A chain that is not there: the words name the refusal at the URL and the
 * fix; an error that is not a transport failure keeps its own name. */
static void refused_is_named(void **st)
{
	(void)st;
	struct rpc_client *c;
	cJSON *res = NULL;
	/* Port 1 on loopback: nothing listens there. */
	assert_int_equal(rpc_client_new("http://127.0.0.1:1", NULL, &c), 0);
	int rc = rpc_call(c, "system_chain", NULL, &res, NULL);
	assert_true(rc < 0);
	const char *why = cli_chain_why(rc);
	assert_non_null(strstr(why, "connection refused at http://127.0.0.1:1"));
	assert_non_null(strstr(why, "start tfchain-dev"));
	assert_non_null(strstr(why, "--url / ZOS_CHAIN_URL"));
	assert_int_equal(cli_chain_reached(rc), 0);
	assert_string_equal(cli_chain_why(ZE_ABSENT), zerr_str(ZE_ABSENT));
	assert_int_equal(cli_chain_reached(ZE_CHAIN), 1);
	rpc_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_schemes_pass),
	    cmocka_unit_test(bad_urls_are_refused),
	    cmocka_unit_test(default_and_env),
	    cmocka_unit_test(refused_is_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
