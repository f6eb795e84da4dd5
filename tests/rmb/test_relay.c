/* The relay forms on chain: nng URLs, bare hosts with the default RMB port,
 * IPv4.PORT, and the compact form the agent publishes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "rmb/rmb_chain.h"

static void first(const char *relay, const char *want)
{
	char out[128];
	assert_int_equal(rmb_relay_first(relay, out, sizeof out), 0);
	assert_string_equal(out, want);
}

static void compact(const char *url, const char *want)
{
	char out[128];
	assert_int_equal(rmb_relay_compact(url, out, sizeof out), 0);
	assert_string_equal(out, want);
}

static void test_first(void **st)
{
	(void)st;
	first("tcp://10.0.0.1:7001", "tcp://10.0.0.1:7001");
	first(" tcp://a:1, tcp://b:2", "tcp://a:1");
	first("node1.example.com", "tcp://node1.example.com:8800");
	first("203.0.113.5", "tcp://203.0.113.5:8800");
	first("203.0.113.5.7001 other", "tcp://203.0.113.5:7001");
	/* Four numeric labels are an address, six are a name like any other. */
	first("1.2.3.4.5.6", "tcp://1.2.3.4.5.6:8800");
	first("18800.example.com", "tcp://18800.example.com:8800");
	char small[8];
	assert_int_equal(rmb_relay_first("", small, sizeof small), -ENOENT);
	assert_int_equal(rmb_relay_first("node1.example.com", small, sizeof small), -ENOSPC);
}

static void test_compact(void **st)
{
	(void)st;
	compact("tcp://node1.example.com:8800", "node1.example.com");
	compact("tcp://203.0.113.5:7001", "203.0.113.5.7001");
	compact("tcp://203.0.113.5:8800", "203.0.113.5");
	compact("tcp://node1.example.com:7001", "tcp://node1.example.com:7001");
	compact("tcp://[::1]:7001", "tcp://[::1]:7001");
	/* Compact forms resolve back to the URL they came from. */
	const char *urls[] = {"tcp://node1.example.com:8800", "tcp://203.0.113.5:7001",
	                      "tcp://127.0.0.1:65535"};
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		char c[128], back[128];
		assert_int_equal(rmb_relay_compact(urls[i], c, sizeof c), 0);
		assert_null(strstr(c, ":"));
		assert_int_equal(rmb_relay_first(c, back, sizeof back), 0);
		assert_string_equal(back, urls[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first),
	    cmocka_unit_test(test_compact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
