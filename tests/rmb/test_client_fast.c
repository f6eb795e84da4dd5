/* Unit tests of the RMB client's fail-fast open (rmb/rmb_client.c): nothing
 * listening at a tcp:// address, or no ipc:// socket file, is -ECONNREFUSED
 * at once; a listening peer, or the background dial without fail_fast, is
 * not refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/key.h"
#include "rmb/rmb_client.h"

/* A loopback port nothing listens on (bound, then closed), or, with keep, a
 * socket listening on it (*fd, the caller closes it). */
static int loopback_port(int keep, int *fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
	if (keep) {
		assert_int_equal(listen(s, 4), 0);
		*fd = s;
	} else {
		close(s);
	}
	return ntohs(a.sin_port);
}

static int open_at(const char *url, int fail_fast)
{
	struct rmb_client_cfg cfg;
	struct rmb_client *c = NULL;
	struct zkey k;
	assert_int_equal(key_dev("alice", &k), 0);
	rmb_client_cfg_init(&cfg);
	cfg.url = url;
	cfg.key = &k;
	cfg.src = 1;
	cfg.dst = 2;
	cfg.fail_fast = fail_fast;
	int rc = rmb_client_new(&cfg, &c);
	rmb_client_free(c);
	key_wipe(&k);
	return rc;
}

static void refused_at_once(void **st)
{
	(void)st;
	char url[64];
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", loopback_port(0, NULL));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(open_at(url, 1), -ECONNREFUSED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	/* Without fail_fast the dial goes on in the background. */
	assert_int_equal(open_at(url, 0), 0);
	assert_int_equal(open_at("ipc:///nonexistent-dir-zos-test/rmb.sock", 1), -ECONNREFUSED);
}

static void listening_is_not_refused(void **st)
{
	(void)st;
	int fd = -1;
	char url[64];
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", loopback_port(1, &fd));
	assert_int_equal(open_at(url, 1), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(refused_at_once),
	    cmocka_unit_test(listening_is_not_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
