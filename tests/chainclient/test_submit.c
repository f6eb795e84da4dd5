/*
 * The submitter against a fake node serving the real tfchain metadata:
 * outcomes read from the including block's events, module error names,
 * giving up, nonce resync after 1010/1014, pipelining, runtime upgrade.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "chainclient/submit.h"
#include "common/clock.h"
#include "common/key.h"
#include "common/zerr.h"
#include "fake_chain.h"

struct fx {
	struct fchain fc;
	struct chain_client *c;
	struct chain_submitter *s;
	struct zkey alice, bob;
};

static long batch_ms;      /* the next setup's batching window */
static long batch_idle_ms; /* and its idle close */

static int setup_with(void **st, unsigned give_up)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct chain_client_opts co;
	struct chain_submit_opts so;

	if (!f || fc_start(&f->fc, fc_fixture()) != 0)
		return -1;
	chain_client_opts_default(&co);
	co.rpc.timeout_ms = 5000;
	co.rpc.retries = 1;
	co.rpc.backoff_ms = 10;
	co.recheck_ms = 3600000; /* upgrades are noticed through 1010 in these tests */
	chain_submit_opts_default(&so);
	so.poll_ms = 5;
	so.give_up_blocks = give_up;
	so.stall_ms = 20000;
	so.batch_ms = batch_ms;
	so.batch_idle_ms = batch_idle_ms;
	batch_ms = batch_idle_ms = 0;
	if (chain_client_new(f->fc.srv.url, &co, &f->c) != 0 || key_dev("alice", &f->alice) != 0 ||
	    key_dev("bob", &f->bob) != 0 || chain_submitter_new(f->c, &f->alice, &so, &f->s) != 0)
		return -1;
	*st = f;
	return 0;
}

static int setup(void **st) { return setup_with(st, 8); }

static int teardown(void **st)
{
	struct fx *f = *st;
	chain_submitter_free(f->s);
	chain_client_free(f->c);
	fc_stop(&f->fc);
	key_wipe(&f->alice);
	key_wipe(&f->bob);
	free(f);
	return 0;
}

static cJSON *transfer_args(struct fx *f, unsigned amount)
{
	char hex[80], *s;
	hex_encode(f->bob.pk, 32, 1, hex, sizeof(hex));
	s = fake_printf("[{\"Id\":\"%s\"},%u]", hex, amount);
	cJSON *a = cJSON_Parse(s);
	free(s);
	assert_non_null(a);
	return a;
}

static void success_is_read_from_events(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	cJSON *args = transfer_args(f, 1000);

	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	assert_int_equal(o.err, 0);
	assert_int_equal(o.xt_index, 1); /* after the block's inherent */
	assert_true(o.block_number >= 1);
	assert_int_equal(o.nonce, 0);
	assert_non_null(chain_event_find(o.events, "System", "ExtrinsicSuccess"));
	assert_int_equal(cJSON_GetArraySize(o.events), 1);
	assert_int_equal(chain_submitter_nonce(f->s), 1);
	chain_outcome_clear(&o);
	cJSON_Delete(args);

	/* Arguments by name are ordered by the runtime's call definition. */
	args = grid_args_transfer(f->bob.pk, 77);
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	assert_int_equal(o.nonce, 1);
	chain_outcome_clear(&o);
	cJSON_AddNumberToObject(args, "memo", 1);
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_INVALID);
	cJSON_Delete(args);
}

static void module_error_is_named(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	cJSON *args = cJSON_Parse("[7]");

	pthread_mutex_lock(&f->fc.lock);
	f->fc.fail_pallet = meta_pallet(f->fc.meta, "SmartContractModule")->index;
	f->fc.fail_error = 9;
	pthread_mutex_unlock(&f->fc.lock);
	assert_int_equal(chain_submit_wait(f->s, "SmartContractModule", "cancel_contract", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_FAILED);
	assert_int_equal(o.err, ZE_CHAIN);
	assert_string_equal(o.error, "SmartContractModule.TwinNotAuthorizedToCancelContract");
	assert_non_null(chain_event_find(o.events, "System", "ExtrinsicFailed"));
	chain_outcome_clear(&o);
	cJSON_Delete(args);
}

static void gives_up_after_era(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	cJSON *args = transfer_args(f, 5);
	uint64_t h0;

	pthread_mutex_lock(&f->fc.lock);
	f->fc.withhold = 1;
	h0 = f->fc.height;
	pthread_mutex_unlock(&f->fc.lock);
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_EXPIRED);
	assert_null(o.events);
	pthread_mutex_lock(&f->fc.lock);
	/* give_up_blocks = 4: an era of 8 admitted it in blocks h0+1..h0+7,
	 * all of which were searched. */
	assert_true(f->fc.height >= h0 + 7);
	assert_true(f->fc.height <= h0 + 8);
	pthread_mutex_unlock(&f->fc.lock);
	assert_int_equal(chain_submitter_nonce(f->s), -1); /* resync before the next */
	chain_outcome_clear(&o);
	cJSON_Delete(args);
}

static int setup_short(void **st) { return setup_with(st, 4); }
static int setup_long(void **st) { return setup_with(st, 60000); }

static void stale_nonce_is_resynced(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	cJSON *args = transfer_args(f, 1);

	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	chain_outcome_clear(&o);
	/* Another process used nonce 1 meanwhile; ours is now outdated. */
	pthread_mutex_lock(&f->fc.lock);
	f->fc.nonce++;
	pthread_mutex_unlock(&f->fc.lock);
	assert_int_equal(chain_submitter_nonce(f->s), 1);
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	assert_int_equal(o.nonce, 2);
	assert_int_equal(f->fc.rejected_1010, 1);
	chain_outcome_clear(&o);
	cJSON_Delete(args);
}

static void duplicate_nonce_is_resynced(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	cJSON *args = transfer_args(f, 1);

	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	chain_outcome_clear(&o);
	/* Another submitter put nonce 1 into the pool first. */
	pthread_mutex_lock(&f->fc.lock);
	f->fc.pool[f->fc.npool].hex = strdup("0x00");
	f->fc.pool[f->fc.npool].nonce = 1;
	f->fc.pool[f->fc.npool].pallet = 0xfe;
	f->fc.npool++;
	pthread_mutex_unlock(&f->fc.lock);
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	assert_int_equal(o.nonce, 2);
	assert_int_equal(f->fc.rejected_1014, 1);
	assert_int_equal(o.xt_index, 2); /* the other one went first */
	chain_outcome_clear(&o);
	cJSON_Delete(args);
}

struct tally {
	pthread_mutex_t lock;
	int done, ok;
	uint64_t nonces;
	enum chain_outcome_status last_status;
	int last_err;
};

static void tally_cb(void *ud, struct chain_outcome *o)
{
	struct tally *t = ud;
	pthread_mutex_lock(&t->lock);
	t->done++;
	t->ok += o->status == CHAIN_OUTCOME_SUCCESS;
	t->nonces |= 1ull << (o->nonce & 63);
	t->last_status = o->status;
	t->last_err = o->err;
	pthread_mutex_unlock(&t->lock);
}

static void async_calls_pipeline(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = transfer_args(f, 3);

	for (int i = 0; i < 5; i++)
		assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t), 0);
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&t.lock);
		int d = t.done;
		pthread_mutex_unlock(&t.lock);
		if (d == 5)
			break;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(t.done, 5);
	assert_int_equal(t.ok, 5);
	assert_int_equal(t.nonces, 0x1f); /* 0..4, each once */
	assert_int_equal(f->fc.submits, 5);
	cJSON_Delete(args);
}

static int setup_batch(void **st)
{
	batch_ms = 50;
	return setup_with(st, 8);
}

static void tally_wait(struct tally *t, int n)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&t->lock);
		int d = t->done;
		pthread_mutex_unlock(&t->lock);
		if (d == n)
			break;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
}

/* tfchain's metadata has Utility.batch_all: calls queued together are one
 * extrinsic, one nonce, each with its own success. */
static void batch_all_with_tfchain_metadata(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = transfer_args(f, 3);

	for (int i = 0; i < 3; i++)
		assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t), 0);
	tally_wait(&t, 3);
	assert_int_equal(t.done, 3);
	assert_int_equal(t.ok, 3);
	assert_int_equal(t.nonces, 0x1); /* all nonce 0 */
	assert_int_equal(f->fc.submits, 1);
	cJSON_Delete(args);
}

static int setup_batch_idle(void **st)
{
	batch_ms = 5000;
	batch_idle_ms = 300;
	return setup_with(st, 8);
}

/* ms until the fake node has seen n submissions; -1 after 10 s. */
static int64_t submits_after(struct fx *f, int n, int64_t t0)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&f->fc.lock);
		int k = f->fc.submits;
		pthread_mutex_unlock(&f->fc.lock);
		if (k >= n)
			return clk_mono_ms() - t0;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* With batch_idle_ms the window closes once the callers pause: a burst
 * goes as one batch as soon as it is over, not batch_ms after its first
 * call; calls that come closer together than the pause still join it. */
static void batch_window_closes_when_callers_pause(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = transfer_args(f, 3);
	int64_t t0 = clk_mono_ms();

	for (int i = 0; i < 3; i++) {
		assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t), 0);
		struct timespec ts = {0, 20000000}; /* well under the 300 ms pause */
		nanosleep(&ts, NULL);
	}
	int64_t sent = submits_after(f, 1, t0);
	assert_true(sent >= 0);
	assert_true(sent < 2500); /* the window is 5000 ms */
	tally_wait(&t, 3);
	assert_int_equal(t.done, 3);
	assert_int_equal(t.ok, 3);
	assert_int_equal(t.nonces, 0x1); /* one batch: all nonce 0 */
	assert_int_equal(f->fc.submits, 1);
	cJSON_Delete(args);
}

static int setup_batch_long(void **st)
{
	batch_ms = 300;
	return setup_with(st, 8);
}

/* Calls queued inside an open batch window do not wake the worker one by
 * one: it wakes for the first call, at the window's end, and then sends
 * the whole batch (a wakeup per call would be a thread switch per call). */
static void one_wakeup_per_batch(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = transfer_args(f, 3);
	enum { N = 40 };

	uint64_t w0 = chain_submitter_wakeups(f->s);
	for (int i = 0; i < N; i++) {
		assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t), 0);
		/* Spread over 80 ms of the 300 ms window, as deploys finish. */
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	assert_true(submits_after(f, 1, clk_mono_ms()) >= 0);
	uint64_t woke = chain_submitter_wakeups(f->s) - w0;
	/* The first call, the window's end; a few 5 ms polls for the outcome
	 * may have followed the send before this thread looked. */
	assert_true(woke >= 1);
	assert_true(woke < 10);
	tally_wait(&t, N);
	assert_int_equal(t.done, N);
	assert_int_equal(t.ok, N);
	assert_int_equal(f->fc.submits, 1);
	cJSON_Delete(args);
}

/* A failing batch is sent again call by call: each gets its own outcome. */
static void failed_batch_goes_call_by_call(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = transfer_args(f, 3);
	const struct meta_pallet *u = meta_pallet(f->fc.meta, "Utility");

	assert_non_null(u);
	f->fc.fail_pallet = u->index; /* the batch fails; plain transfers do not */
	for (int i = 0; i < 3; i++)
		assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t), 0);
	tally_wait(&t, 3);
	assert_int_equal(t.done, 3);
	assert_int_equal(t.ok, 3);
	assert_int_equal(t.nonces, 0xe); /* the failed batch took 0; outcomes on 1..3 */
	assert_int_equal(f->fc.submits, 4);
	cJSON_Delete(args);
}

/* No more than CHAIN_XT_WINDOW extrinsics in flight: the pool would refuse
 * the next ones as too far ahead of the account's nonce, and each would be
 * resent only after a backoff. The calls beyond wait for an outcome. */
static void in_flight_extrinsics_are_bounded(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = transfer_args(f, 3);
	const int calls = CHAIN_XT_WINDOW + 4;
	int submits = 0;

	pthread_mutex_lock(&f->fc.lock);
	f->fc.withhold = 1;
	pthread_mutex_unlock(&f->fc.lock);
	for (int i = 0; i < calls; i++)
		assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t),
		                 0);
	for (int i = 0; i < 2000 && submits < CHAIN_XT_WINDOW; i++) {
		pthread_mutex_lock(&f->fc.lock);
		submits = f->fc.submits;
		pthread_mutex_unlock(&f->fc.lock);
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(submits, CHAIN_XT_WINDOW);
	/* Blocks keep coming without them (withheld): still no more sent. */
	struct timespec pause = {0, 100000000};
	nanosleep(&pause, NULL);
	pthread_mutex_lock(&f->fc.lock);
	assert_int_equal(f->fc.submits, CHAIN_XT_WINDOW);
	f->fc.withhold = 0;
	pthread_mutex_unlock(&f->fc.lock);
	tally_wait(&t, calls);
	assert_int_equal(t.done, calls);
	assert_int_equal(t.ok, calls);
	assert_int_equal(f->fc.submits, calls);
	assert_int_equal(f->fc.rejected_1010, 0);
	cJSON_Delete(args);
}

static void stopping_leaves_in_flight_unknown(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = transfer_args(f, 3);
	int submits = 0;

	pthread_mutex_lock(&f->fc.lock);
	f->fc.withhold = 1;
	pthread_mutex_unlock(&f->fc.lock);
	assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t), 0);
	for (int i = 0; i < 2000 && !submits; i++) {
		pthread_mutex_lock(&f->fc.lock);
		submits = f->fc.submits;
		pthread_mutex_unlock(&f->fc.lock);
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(submits, 1);
	/* Sent but not seen in a block: neither success nor failure is known. */
	chain_submitter_free(f->s);
	f->s = NULL;
	assert_int_equal(t.done, 1);
	assert_int_equal(t.ok, 0);
	assert_int_equal(t.last_status, CHAIN_OUTCOME_UNKNOWN);
	assert_int_equal(t.last_err, ZE_STATE);
	cJSON_Delete(args);
}

static void undecodable_events_end_unknown(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	cJSON *args = transfer_args(f, 1);

	pthread_mutex_lock(&f->fc.lock);
	f->fc.bad_events = 1;
	pthread_mutex_unlock(&f->fc.lock);
	/* Included, but the outcome cannot be read: not success, not failure. */
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_UNKNOWN);
	assert_int_equal(o.err, ZE_MALFORMED);
	assert_non_null(strstr(o.error, "included in block"));
	chain_outcome_clear(&o);
	cJSON_Delete(args);
}

static void bad_calls_are_invalid(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	cJSON *args = cJSON_Parse("[\"not a number\"]");

	assert_int_equal(chain_submit_wait(f->s, "Nope", "nope", NULL, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_INVALID);
	assert_int_equal(o.err, ZE_UNSUPPORTED);
	assert_int_equal(chain_submit_wait(f->s, "SmartContractModule", "cancel_contract", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_INVALID);
	assert_int_equal(f->fc.submits, 0);
	cJSON_Delete(args);
}

static void runtime_upgrade_is_followed(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	struct chain_runtime *rt;
	cJSON *args = transfer_args(f, 1);

	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	chain_outcome_clear(&o);
	pthread_mutex_lock(&f->fc.lock);
	f->fc.spec = 101;
	pthread_mutex_unlock(&f->fc.lock);
	/* Signed for spec 100, refused as a bad signature, reloaded, re-signed. */
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	assert_int_equal(f->fc.rejected_1010, 1);
	assert_int_equal(chain_client_runtime(f->c, &rt), 0);
	assert_int_equal(rt->spec_version, 101);
	chain_runtime_put(rt);
	chain_outcome_clear(&o);
	cJSON_Delete(args);
}

int main(void)
{
	if (access(fc_fixture(), R_OK) != 0) {
		printf("skip: metadata fixture %s not found (set ZOS_FIXTURES_DIR)\n", fc_fixture());
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(success_is_read_from_events, setup, teardown),
		cmocka_unit_test_setup_teardown(module_error_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(gives_up_after_era, setup_short, teardown),
		cmocka_unit_test_setup_teardown(stale_nonce_is_resynced, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_nonce_is_resynced, setup, teardown),
		cmocka_unit_test_setup_teardown(async_calls_pipeline, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_all_with_tfchain_metadata, setup_batch, teardown),
		cmocka_unit_test_setup_teardown(failed_batch_goes_call_by_call, setup_batch, teardown),
		cmocka_unit_test_setup_teardown(one_wakeup_per_batch, setup_batch_long, teardown),
		cmocka_unit_test_setup_teardown(batch_window_closes_when_callers_pause,
						setup_batch_idle, teardown),
		cmocka_unit_test_setup_teardown(in_flight_extrinsics_are_bounded, setup_long, teardown),
		cmocka_unit_test_setup_teardown(stopping_leaves_in_flight_unknown, setup_long, teardown),
		cmocka_unit_test_setup_teardown(undecodable_events_end_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_calls_are_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(runtime_upgrade_is_followed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
