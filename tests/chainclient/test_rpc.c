/*
 * JSON-RPC transport against an in-process fake node: values, absent vs
 * unknown, retries, timeouts, the response cap, error objects, reuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/rpc.h"
#include "common/zerr.h"
#include "fake_rpc.h"

/* What the fake node does; each test sets it before calling. */
enum mode {
	M_STORAGE,   /* value for key 0x01, null otherwise */
	M_500,       /* HTTP 500 always */
	M_503_TWICE, /* HTTP 503 for the first two hits, then a value */
	M_SLOW,      /* answers after 1.5 s */
	M_HUGE,      /* a 100 KB result */
	M_ERROR,     /* JSON-RPC error 1014 */
	M_BAD_ID,    /* answers with the wrong id */
	M_GARBAGE,   /* not JSON */
	M_VERSION,   /* runtime version and header */
	M_HEAD,      /* finalized head numbered `head`, and storage as M_STORAGE */
};

struct node {
	enum mode mode;
	int seen;
	int head; /* M_HEAD */
};

static void handler(void *ud, const char *method, const cJSON *params, double id,
		    struct fake_reply *r)
{
	struct node *n = ud;
	int seen = __atomic_fetch_add(&n->seen, 1, __ATOMIC_SEQ_CST);

	switch (n->mode) {
	case M_STORAGE: {
		const cJSON *k = cJSON_GetArrayItem(params, 0);
		if (cJSON_IsString(k) && strcmp(k->valuestring, "0x01") == 0)
			fake_result(r, id, "\"0x2a000000\"");
		else
			fake_result(r, id, "null");
		break;
	}
	case M_500:
		r->status = 500;
		break;
	case M_503_TWICE:
		if (seen < 2)
			r->status = 503;
		else
			fake_result(r, id, "\"0x2a000000\"");
		break;
	case M_SLOW:
		r->delay_ms = 1500;
		fake_result(r, id, "null");
		break;
	case M_HUGE: {
		size_t n = 100000;
		char *s = malloc(n + 3);
		assert_non_null(s);
		s[0] = '"';
		memset(s + 1, 'a', n);
		s[n + 1] = '"';
		s[n + 2] = '\0';
		fake_result(r, id, s);
		free(s);
		break;
	}
	case M_ERROR:
		fake_error(r, id, 1014, "Priority is too low", "Priority is too low: (1 vs 1)");
		break;
	case M_BAD_ID:
		fake_result(r, id + 1, "null");
		break;
	case M_GARBAGE:
		r->body = strdup("<html>bad gateway</html>");
		break;
	case M_HEAD:
		if (strcmp(method, "chain_getFinalizedHead") == 0) {
			fake_result(r, id, "\"0x1111111111111111111111111111111111111111111111111111111111111111\"");
		} else if (strcmp(method, "chain_getHeader") == 0) {
			char *h = fake_printf("{\"number\":%d,\"parentHash\":\"0x"
					      "1111111111111111111111111111111111111111111111111111111111111111\"}",
					      __atomic_load_n(&n->head, __ATOMIC_SEQ_CST));
			fake_result(r, id, h);
			free(h);
		} else {
			fake_result(r, id, "\"0x2a000000\"");
		}
		break;
	case M_VERSION:
		if (strcmp(method, "state_getRuntimeVersion") == 0)
			fake_result(r, id, "{\"specName\":\"x\",\"specVersion\":127,"
					   "\"transactionVersion\":2}");
		else if (strcmp(method, "chain_getHeader") == 0)
			fake_result(r, id, "{\"number\":\"0x1f\",\"parentHash\":\"0x"
					   "1111111111111111111111111111111111111111111111111111111111111111\"}");
		else
			fake_error(r, id, -32601, "Method not found", NULL);
		break;
	}
}

struct fx {
	struct node node;
	struct fake_rpc srv;
	struct rpc_client *c;
};

static struct rpc_opts fast_opts(void)
{
	struct rpc_opts o;
	rpc_opts_default(&o);
	o.connect_timeout_ms = 500;
	o.timeout_ms = 400;
	o.retries = 2;
	o.backoff_ms = 10;
	o.backoff_max_ms = 40;
	o.max_response = 10000;
	return o;
}

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct rpc_opts o = fast_opts();
	if (!f || fake_start(&f->srv, handler, &f->node) != 0)
		return -1;
	if (rpc_client_new(f->srv.url, &o, &f->c) != 0)
		return -1;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;
	rpc_client_free(f->c);
	fake_stop(&f->srv);
	free(f);
	return 0;
}

static void value_and_absent_are_distinct(void **st)
{
	struct fx *f = *st;
	uint8_t key1 = 0x01, key2 = 0x02, *v;
	size_t n;

	f->node.mode = M_STORAGE;
	assert_int_equal(rpc_get_storage(f->c, &key1, 1, NULL, 1024, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(v[0], 0x2a);
	free(v);
	assert_int_equal(rpc_get_storage(f->c, &key2, 1, NULL, 1024, &v, &n), ZE_ABSENT);
	assert_null(v);
	/* A value over the caller's bound is not silently truncated. */
	assert_int_equal(rpc_get_storage(f->c, &key1, 1, NULL, 2, &v, &n), ZE_TOOBIG);
}

static void server_error_is_unknown_after_bounded_retries(void **st)
{
	struct fx *f = *st;
	struct rpc_stats s;
	uint8_t key = 1, *v;
	size_t n;

	f->node.mode = M_500;
	assert_int_equal(rpc_get_storage(f->c, &key, 1, NULL, 1024, &v, &n), ZE_UNKNOWN);
	assert_int_equal(fake_hits(&f->srv), 3); /* one try plus retries = 2 */
	rpc_client_stats(f->c, &s);
	assert_int_equal(s.retries, 2);
}

static void transient_failures_are_retried(void **st)
{
	struct fx *f = *st;
	uint8_t key = 1, *v;
	size_t n;

	f->node.mode = M_503_TWICE;
	assert_int_equal(rpc_get_storage(f->c, &key, 1, NULL, 1024, &v, &n), 0);
	assert_int_equal(n, 4);
	free(v);
	assert_int_equal(fake_hits(&f->srv), 3);
}

static void connection_refused_is_unknown(void **st)
{
	struct fake_rpc srv;
	struct node node = {.mode = M_STORAGE};
	struct rpc_opts o = fast_opts();
	struct rpc_client *c;
	struct rpc_stats s;
	uint8_t key = 1, *v;
	size_t n;

	/* A port that just stopped listening refuses connections. */
	assert_int_equal(fake_start(&srv, handler, &node), 0);
	assert_int_equal(rpc_client_new(srv.url, &o, &c), 0);
	fake_stop(&srv);
	assert_int_equal(rpc_get_storage(c, &key, 1, NULL, 1024, &v, &n), ZE_UNKNOWN);
	rpc_client_stats(c, &s);
	assert_int_equal(s.requests, 3);
	rpc_client_free(c);
}

static void timeout_is_unknown(void **st)
{
	struct fx *f = *st;
	uint8_t key = 1, *v;
	size_t n;

	f->node.mode = M_SLOW;
	assert_int_equal(rpc_get_storage(f->c, &key, 1, NULL, 1024, &v, &n), ZE_UNKNOWN);
	assert_int_equal(fake_hits(&f->srv), 3);
}

static void submission_is_not_replayed(void **st)
{
	struct fx *f = *st;
	struct rpc_error e;
	uint8_t xt[3] = {1, 2, 3}, hash[32];

	/* The node may have acted on a request that timed out or failed with a
	 * 500: sending the extrinsic again could run it twice. */
	f->node.mode = M_SLOW;
	assert_int_equal(rpc_submit_extrinsic(f->c, xt, 3, hash, &e), ZE_UNKNOWN);
	assert_int_equal(fake_hits(&f->srv), 1);
	f->node.mode = M_500;
	assert_int_equal(rpc_submit_extrinsic(f->c, xt, 3, hash, &e), ZE_UNKNOWN);
	assert_int_equal(fake_hits(&f->srv), 2);
}

static void refused_submission_is_retried(void **st)
{
	struct fake_rpc srv;
	struct node node = {.mode = M_STORAGE};
	struct rpc_opts o = fast_opts();
	struct rpc_client *c;
	struct rpc_stats s;
	uint8_t xt[3] = {1, 2, 3}, hash[32];

	/* Refused connections never reached a node: safe to try again. */
	assert_int_equal(fake_start(&srv, handler, &node), 0);
	assert_int_equal(rpc_client_new(srv.url, &o, &c), 0);
	fake_stop(&srv);
	assert_int_equal(rpc_submit_extrinsic(c, xt, 3, hash, NULL), ZE_UNKNOWN);
	rpc_client_stats(c, &s);
	assert_int_equal(s.requests, 3);
	rpc_client_free(c);
}

static void response_size_is_capped(void **st)
{
	struct fx *f = *st;
	cJSON *res = (cJSON *)1;

	f->node.mode = M_HUGE;
	assert_int_equal(rpc_call(f->c, "state_getMetadata", NULL, &res, NULL), ZE_TOOBIG);
	assert_null(res);
	assert_int_equal(fake_hits(&f->srv), 1); /* an oversized answer is not retried */
}

static void error_object_is_surfaced(void **st)
{
	struct fx *f = *st;
	struct rpc_error e;
	uint8_t xt[3] = {1, 2, 3}, hash[32];

	f->node.mode = M_ERROR;
	assert_int_equal(rpc_submit_extrinsic(f->c, xt, 3, hash, &e), ZE_CHAIN);
	assert_int_equal(e.code, RPC_ERR_PRIORITY_TOO_LOW);
	assert_string_equal(e.message, "Priority is too low");
	assert_string_equal(e.data, "Priority is too low: (1 vs 1)");
	assert_int_equal(fake_hits(&f->srv), 1);
}

static void mismatched_or_garbage_answers_are_unknown(void **st)
{
	struct fx *f = *st;
	uint8_t key = 1, *v;
	size_t n;

	f->node.mode = M_BAD_ID;
	assert_int_equal(rpc_get_storage(f->c, &key, 1, NULL, 1024, &v, &n), ZE_UNKNOWN);
	f->node.mode = M_GARBAGE;
	assert_int_equal(rpc_get_storage(f->c, &key, 1, NULL, 1024, &v, &n), ZE_UNKNOWN);
}

static void handle_is_reused(void **st)
{
	struct fx *f = *st;
	struct rpc_stats s;
	uint8_t key = 1, *v;
	size_t n;

	f->node.mode = M_STORAGE;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(rpc_get_storage(f->c, &key, 1, NULL, 1024, &v, &n), 0);
		free(v);
	}
	rpc_client_stats(f->c, &s);
	assert_int_equal(s.handles_created, 1);
	assert_int_equal(s.requests, 5);
}

struct worker {
	struct rpc_client *c;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t key = 1, *v;
	size_t n;

	for (int i = 0; i < 20; i++) {
		if (rpc_get_storage(w->c, &key, 1, NULL, 1024, &v, &n) == 0 && n == 4)
			w->ok++;
		free(v);
	}
	return NULL;
}

static void threads_share_a_client(void **st)
{
	struct fx *f = *st;
	struct worker w[4];
	pthread_t t[4];
	struct rpc_stats s;

	f->node.mode = M_STORAGE;
	for (int i = 0; i < 4; i++) {
		w[i].c = f->c;
		w[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 20);
	}
	rpc_client_stats(f->c, &s);
	assert_int_equal(s.requests, 80);
	/* Never more handles than concurrent callers: each one is reused. */
	assert_true(s.handles_created >= 1 && s.handles_created <= 4);
}

static void typed_results_parse(void **st)
{
	struct fx *f = *st;
	uint32_t spec = 0, tx = 0;
	uint64_t num = 0;
	uint8_t parent[32];
	struct rpc_error e;
	cJSON *res;

	f->node.mode = M_VERSION;
	assert_int_equal(rpc_runtime_version(f->c, &spec, &tx), 0);
	assert_int_equal(spec, 127);
	assert_int_equal(tx, 2);
	assert_int_equal(rpc_header(f->c, NULL, &num, parent), 0);
	assert_int_equal(num, 31);
	assert_int_equal(parent[31], 0x11);
	/* Every request is counted, an error answer too (metrics, benches). */
	uint64_t before = rpc_requests_total();
	assert_int_equal(rpc_call(f->c, "nope", NULL, &res, &e), ZE_CHAIN);
	assert_int_equal(e.code, -32601);
	assert_true(rpc_requests_total() == before + 1);
}

static void json_u64_rejects_junk(void **st)
{
	uint64_t v;
	cJSON *j = cJSON_CreateString("0xffffffffffffffff");
	assert_int_equal(rpc_json_u64(j, &v), 0);
	assert_true(v == UINT64_MAX);
	cJSON_Delete(j);
	j = cJSON_CreateString("0x1ffffffffffffffff");
	assert_int_equal(rpc_json_u64(j, &v), ZE_MALFORMED);
	cJSON_Delete(j);
	j = cJSON_CreateString("12");
	assert_int_equal(rpc_json_u64(j, &v), ZE_MALFORMED);
	cJSON_Delete(j);
	j = cJSON_CreateNumber(-1);
	assert_int_equal(rpc_json_u64(j, &v), ZE_MALFORMED);
	cJSON_Delete(j);
}

static void urls_are_checked(void **st)
{
	struct rpc_client *c;
	assert_int_equal(rpc_client_new("ftp://x", NULL, &c), ZE_CONFIG);
	assert_int_equal(rpc_client_new("http://a:1,ftp://x", NULL, &c), ZE_CONFIG);
	assert_int_equal(rpc_client_new(" , ", NULL, &c), ZE_CONFIG);
	assert_int_equal(rpc_client_new("ws://", NULL, &c), ZE_CONFIG);
	/* A ws:// URL is used over WebSocket, never rewritten to http://. */
	assert_int_equal(rpc_client_new("ws://127.0.0.1:9", NULL, &c), 0);
	assert_string_equal(rpc_client_url(c), "ws://127.0.0.1:9");
	assert_string_equal(rpc_client_endpoint(c), "ws://127.0.0.1:9");
	rpc_client_free(c);
	assert_int_equal(rpc_client_new("http://a:1, https://b:2", NULL, &c), 0);
	assert_string_equal(rpc_client_endpoint(c), "http://a:1");
	rpc_client_free(c);
}

/* The first alive endpoint not more than max_lag behind the best. */
static void endpoints_are_picked_by_health(void **st)
{
	int alive[3] = {1, 1, 1};
	uint64_t fin[3] = {100, 100, 100};

	assert_int_equal(rpc_pick_endpoint(alive, fin, 3, 20), 0);
	fin[0] = 79; /* lagging by 21 */
	assert_int_equal(rpc_pick_endpoint(alive, fin, 3, 20), 1);
	fin[0] = 80; /* within the allowance */
	assert_int_equal(rpc_pick_endpoint(alive, fin, 3, 20), 0);
	alive[0] = 0;
	fin[0] = 1000; /* a dead endpoint's head does not count */
	assert_int_equal(rpc_pick_endpoint(alive, fin, 3, 20), 1);
	alive[1] = 0;
	assert_int_equal(rpc_pick_endpoint(alive, fin, 3, 20), 2);
	alive[2] = 0;
	assert_int_equal(rpc_pick_endpoint(alive, fin, 3, 20), -1);
}

/* A dead first endpoint: the call is answered by the second at once, and
 * later calls stay there. */
static void dead_endpoint_fails_over(void **st)
{
	struct fake_rpc dead, live;
	struct node node = {.mode = M_STORAGE};
	struct rpc_opts o = fast_opts();
	struct rpc_client *c;
	uint8_t key1 = 0x01, *v;
	size_t n;
	char list[160];

	assert_int_equal(fake_start(&dead, handler, &node), 0);
	assert_int_equal(fake_start(&live, handler, &node), 0);
	snprintf(list, sizeof(list), "%s,%s", dead.url, live.url);
	fake_stop(&dead);
	assert_int_equal(rpc_client_new(list, &o, &c), 0);
	assert_int_equal(rpc_get_storage(c, &key1, 1, NULL, 1024, &v, &n), 0);
	free(v);
	assert_string_equal(rpc_client_endpoint(c), live.url);
	assert_int_equal(rpc_get_storage(c, &key1, 1, NULL, 1024, &v, &n), 0);
	free(v);
	assert_int_equal(fake_hits(&live), 2);
	rpc_client_free(c);
	fake_stop(&live);
}

static int wait_endpoint(struct rpc_client *c, const char *url)
{
	for (int i = 0; i < 200; i++) {
		if (strcmp(rpc_client_endpoint(c), url) == 0)
			return 1;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* The health check leaves an endpoint whose finalized head lags more than
 * max_lag behind the other, and comes back when it has caught up. */
static void lagging_endpoint_is_left(void **st)
{
	struct fake_rpc a, b;
	struct node na = {.mode = M_HEAD, .head = 100}, nb = {.mode = M_HEAD, .head = 100};
	struct rpc_opts o = fast_opts();
	struct rpc_client *c;
	char list[160];

	o.health_ms = 20;
	o.max_lag = 10;
	assert_int_equal(fake_start(&a, handler, &na), 0);
	assert_int_equal(fake_start(&b, handler, &nb), 0);
	snprintf(list, sizeof(list), "%s,%s", a.url, b.url);
	assert_int_equal(rpc_client_new(list, &o, &c), 0);
	assert_string_equal(rpc_client_endpoint(c), a.url);
	__atomic_store_n(&nb.head, 111, __ATOMIC_SEQ_CST); /* a is 11 behind */
	assert_true(wait_endpoint(c, b.url));
	__atomic_store_n(&na.head, 105, __ATOMIC_SEQ_CST); /* within 10 again */
	assert_true(wait_endpoint(c, a.url));
	rpc_client_free(c);
	fake_stop(&a);
	fake_stop(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(value_and_absent_are_distinct, setup, teardown),
		cmocka_unit_test_setup_teardown(server_error_is_unknown_after_bounded_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(transient_failures_are_retried, setup, teardown),
		cmocka_unit_test(connection_refused_is_unknown),
		cmocka_unit_test_setup_teardown(timeout_is_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(submission_is_not_replayed, setup, teardown),
		cmocka_unit_test(refused_submission_is_retried),
		cmocka_unit_test_setup_teardown(response_size_is_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(error_object_is_surfaced, setup, teardown),
		cmocka_unit_test_setup_teardown(mismatched_or_garbage_answers_are_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(handle_is_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(threads_share_a_client, setup, teardown),
		cmocka_unit_test_setup_teardown(typed_results_parse, setup, teardown),
		cmocka_unit_test(json_u64_rejects_junk),
		cmocka_unit_test(urls_are_checked),
		cmocka_unit_test(endpoints_are_picked_by_health),
		cmocka_unit_test(dead_endpoint_fails_over),
		cmocka_unit_test(lagging_endpoint_is_left),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
