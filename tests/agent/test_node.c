/*
 * The node's offline pieces: which address goes into the twin's relay, the
 * worker threads' prompt stop, and the registration remembered in the
 * store (taken only when it is this identity's). The chain side is
 * tests/integration/test_agent_e2e.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/node_int.h"
#include "agent/store.h"
#include "common/clock.h"
#include "common/log.h"

static void relay_of(const char *pub, const char *const *listen, unsigned n, char *out,
		     size_t outsz)
{
	struct cfg c;
	cfg_defaults(&c);
	snprintf(c.rmb_public_address, sizeof c.rmb_public_address, "%s", pub);
	c.rmb_listen.n = n;
	for (unsigned i = 0; i < n; i++)
		snprintf(c.rmb_listen.v[i], sizeof c.rmb_listen.v[i], "%s", listen[i]);
	node_relay_of(&c, out, outsz);
}

static void test_relay(void **st)
{
	char out[CFG_STR_MAX];
	const char *wild[] = {"tcp://0.0.0.0:8800", "ipc:///run/zos-agent/rmb.sock",
			      "tcp://[::]:8801", "tcp://:8802"};
	const char *named[] = {"ipc:///x.sock", "tcp://10.1.2.3:8800", "tcp://10.9.9.9:1"};

	/* Published in the forms tfchain's runtime accepts (docs/rmb.md). */
	relay_of("tcp://node.example:8800", wild, 4, out, sizeof out);
	assert_string_equal(out, "node.example");
	relay_of("tcp://203.0.113.5:7001", wild, 4, out, sizeof out);
	assert_string_equal(out, "203.0.113.5.7001");
	/* A host name on another port has no such form: the URL as written. */
	relay_of("tcp://node.example:7001", wild, 4, out, sizeof out);
	assert_string_equal(out, "tcp://node.example:7001");
	/* Wildcards and ipc are not addresses a user can dial. */
	relay_of("", wild, 4, out, sizeof out);
	assert_string_equal(out, "");
	relay_of("", named, 3, out, sizeof out);
	assert_string_equal(out, "10.1.2.3");
	relay_of("", named, 0, out, sizeof out);
	assert_string_equal(out, "");
}

static void *sleeper(void *arg)
{
	struct node_worker *w = arg;
	/* Longer than the test runner allows: only a stop ends it in time. */
	return (void *)(intptr_t)node_worker_sleep(w, 3600000);
}

static void test_worker_stop(void **st)
{
	struct node_worker w;
	assert_int_equal(node_worker_init(&w), 0);
	int64_t t0 = clk_mono_ms();
	assert_int_equal(node_worker_sleep(&w, 50), 0);
	assert_true(clk_mono_ms() - t0 >= 50);
	assert_int_equal(node_worker_stopping(&w), 0);

	assert_int_equal(node_worker_start(&w, "sleeper", sleeper, &w), 0);
	/* The name is what top -H and the benches' thread table show. */
	char name[16];
	assert_int_equal(pthread_getname_np(w.thread, name, sizeof name), 0);
	assert_string_equal(name, "sleeper");
	node_worker_stop(&w); /* joins: returns only when the sleep ended */
	assert_int_equal(w.running, 0);
	assert_int_equal(node_worker_stopping(&w), 1);
	node_worker_stop(&w); /* a second stop is a no-op */
	node_worker_destroy(&w);
}

struct fx {
	char dir[64];
	struct agent_node *n;
};

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/test-node.XXXXXX");
	if (!mkdtemp(f->dir) || agent_node_new(&f->n) != 0 ||
	    store_open(f->dir, STORE_OPEN_FAST, &f->n->store) != 0)
		return -1;
	memset(f->n->account, 0x42, sizeof f->n->account);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;
	char path[128];
	store_close(f->n->store);
	agent_node_free(f->n);
	const char *files[] = {"agent.db", "agent.db-wal", "agent.db-shm"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The tag node_register.c keeps for account 0x42..42. */
static int64_t tag42(void)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | 0x42;
	return (int64_t)(v >> 1);
}

static void test_ids_remembered(void **st)
{
	struct fx *f = *st;
	struct agent_node *n = f->n;

	node_ids_load(n); /* nothing remembered yet */
	assert_int_equal(atomic_load(&n->twin_id), 0);
	assert_int_equal(atomic_load(&n->node_id), 0);

	assert_int_equal(store_cursor_set(n->store, "node:account", tag42()), 0);
	assert_int_equal(store_cursor_set(n->store, "node:twin", 7), 0);
	assert_int_equal(store_cursor_set(n->store, "node:id", 0), 0);
	node_ids_load(n); /* a twin without a node is not a registration */
	assert_int_equal(atomic_load(&n->twin_id), 0);

	assert_int_equal(store_cursor_set(n->store, "node:id", 3), 0);
	node_ids_load(n);
	assert_int_equal(atomic_load(&n->twin_id), 7);
	assert_int_equal(atomic_load(&n->node_id), 3);
}

static void test_ids_other_identity(void **st)
{
	struct fx *f = *st;
	struct agent_node *n = f->n;

	assert_int_equal(store_cursor_set(n->store, "node:account", tag42() ^ 1), 0);
	assert_int_equal(store_cursor_set(n->store, "node:twin", 7), 0);
	assert_int_equal(store_cursor_set(n->store, "node:id", 3), 0);
	node_ids_load(n);
	assert_int_equal(atomic_load(&n->twin_id), 0);
	assert_int_equal(atomic_load(&n->node_id), 0);

	/* Out of range ids are ignored too. */
	assert_int_equal(store_cursor_set(n->store, "node:account", tag42()), 0);
	assert_int_equal(store_cursor_set(n->store, "node:twin", (int64_t)UINT32_MAX + 1), 0);
	node_ids_load(n);
	assert_int_equal(atomic_load(&n->twin_id), 0);
}

int main(void)
{
	log_setup(LOG_LVL_ERROR, LOG_TARGET_STDERR, "test_node");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_worker_stop),
		cmocka_unit_test_setup_teardown(test_ids_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_other_identity, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
