/*
 * The submitter fed by an external follower, against a real tfchain-dev
 * ($BUILD/tfchain-dev, skipped when not built): outcomes resolved from the
 * fed blocks (success, a module error, expiry by era), no follow requests of
 * its own while fed, stall detection while fed, and Utility.batch_all
 * batching (one extrinsic for calls queued together, each caller with its
 * own outcome; a batch with a bad call resent call by call).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "chainclient/rpc.h"
#include "chainclient/submit.h"
#include "chainclient/xt.h"
#include "common/key.h"
#include "common/zerr.h"
#include "tests/chainclient/devchain_proc.h"

static struct zkey alice, bob;

/* The test's follower: its own client, reads every finalized block once
 * and feeds it (or only says it is alive when blocks_off is set). */
struct feeder {
	struct chain_client *c;
	struct chain_submitter *s;
	pthread_t thr;
	atomic_int stop, blocks_off, bodies, fed;
	/* chain_events_of_pallets against chain_events filtered afterwards */
	atomic_int compared, mismatched;
	uint64_t last;
};

static const char *const wanted[] = {"System", "Utility", "SmartContractModule"};

/* 1 when sel holds exactly all's events of the wanted pallets, in order. */
static int same_selection(const cJSON *all, const cJSON *sel)
{
	const cJSON *e, *s = sel ? sel->child : NULL;
	cJSON_ArrayForEach(e, all) {
		const cJSON *p = cJSON_GetObjectItem(e, "pallet");
		int want = 0;
		for (size_t i = 0; i < 3; i++)
			want |= cJSON_IsString(p) && strcmp(p->valuestring, wanted[i]) == 0;
		if (!want)
			continue;
		if (!s || !cJSON_Compare(e, s, 1))
			return 0;
		s = s->next;
	}
	return s == NULL;
}

static int feed_block(struct feeder *fd, uint64_t n)
{
	struct rpc_client *rpc = chain_client_rpc(fd->c);
	struct chain_fed_block b = {.number = n};
	struct chain_runtime *rt = NULL;
	uint8_t **xts = NULL, (*hashes)[32] = NULL;
	size_t *lens = NULL, cnt = 0;
	cJSON *events = NULL;
	uint64_t num;
	int want = chain_submitter_wants_bodies(fd->s);
	int rc = rpc_block_hash(rpc, n, b.hash);
	if (!rc && want)
		rc = rpc_block(rpc, b.hash, &num, &xts, &lens, &cnt);
	if (!rc)
		rc = chain_client_runtime(fd->c, &rt);
	if (!rc)
		rc = chain_events(fd->c, rt, b.hash, &events);
	if (!rc) {
		/* What the agent's follower decodes: only the wanted pallets. */
		cJSON *sel = NULL;
		int r2 = chain_events_of_pallets(fd->c, rt, b.hash, wanted, 3, &sel);
		atomic_fetch_add(&fd->compared, 1);
		if (r2 || !same_selection(events, sel))
			atomic_fetch_add(&fd->mismatched, 1);
		cJSON_Delete(sel);
	}
	chain_runtime_put(rt);
	if (!rc && want) {
		hashes = calloc(cnt ? cnt : 1, 32);
		for (size_t i = 0; hashes && i < cnt; i++)
			xt_hash(xts[i], lens[i], hashes[i]);
		b.xt_hashes = (const uint8_t(*)[32])hashes;
		b.xt_count = cnt;
		atomic_fetch_add(&fd->bodies, 1);
	}
	b.events = events;
	if (!rc) {
		chain_submitter_feed(fd->s, &b);
		atomic_fetch_add(&fd->fed, 1);
	}
	free(hashes);
	cJSON_Delete(events);
	rpc_keys_free(xts, lens, cnt);
	return rc;
}

static void *feeder_main(void *arg)
{
	struct feeder *fd = arg;
	while (!atomic_load(&fd->stop)) {
		uint64_t head;
		uint8_t hh[32];
		if (atomic_load(&fd->blocks_off)) {
			chain_submitter_feed_alive(fd->s);
		} else if (chain_finalized(fd->c, &head, hh) == 0) {
			if (!fd->last)
				fd->last = head;
			while (fd->last < head && feed_block(fd, fd->last + 1) == 0)
				fd->last++;
			chain_submitter_feed_alive(fd->s);
		}
		sleep_ms(20);
	}
	return NULL;
}

struct fx {
	struct chain_client *cs; /* the submitter's client, counted */
	struct chain_submitter *s;
	struct feeder fd;
};

/* ahead > 0: the submitter starts that many nonces past the chain's, so
 * what it sends waits in the pool for ever and is never included. */
static int fx_new(void **st, long batch_ms, unsigned give_up, long stall_ms, unsigned ahead)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct chain_submit_opts so;

	if (!f || chain_client_new(dev_url, NULL, &f->cs) ||
	    chain_client_new(dev_url, NULL, &f->fd.c))
		return -1;
	chain_submit_opts_default(&so);
	so.poll_ms = 50;
	so.give_up_blocks = give_up;
	so.batch_ms = batch_ms;
	so.stall_ms = stall_ms;
	if (ahead) {
		struct grid_account a;
		if (grid_account(f->cs, alice.pk, &a))
			return -1;
		so.has_first_nonce = 1;
		so.first_nonce = a.nonce + ahead;
		so.max_resends = 1;
	}
	if (chain_submitter_new(f->cs, &alice, &so, &f->s))
		return -1;
	f->fd.s = f->s;
	if (pthread_create(&f->fd.thr, NULL, feeder_main, &f->fd))
		return -1;
	/* Fed mode starts with the first feed. */
	for (int i = 0; i < 100 && !atomic_load(&f->fd.fed); i++)
		sleep_ms(20);
	*st = f;
	return 0;
}

static int setup(void **st)
{
	return fx_new(st, 0, 16, 0, 0);
}
static int setup_batch(void **st)
{
	return fx_new(st, 100, 16, 0, 0);
}
static int setup_ahead(void **st)
{
	return fx_new(st, 0, 4, 0, 10);
}
static int setup_stall(void **st)
{
	return fx_new(st, 0, 16, 600, 0);
}

static int teardown(void **st)
{
	struct fx *f = *st;
	atomic_store(&f->fd.stop, 1);
	pthread_join(f->fd.thr, NULL);
	chain_submitter_free(f->s);
	chain_client_free(f->cs);
	chain_client_free(f->fd.c);
	free(f);
	return 0;
}

static uint64_t requests(struct chain_client *c)
{
	struct rpc_stats st;
	rpc_client_stats(chain_client_rpc(c), &st);
	return st.requests;
}

struct tally {
	pthread_mutex_t lock;
	int done;
	struct chain_outcome o[8];
};

static void tally_cb(void *ud, struct chain_outcome *o)
{
	struct tally *t = ud;
	pthread_mutex_lock(&t->lock);
	t->o[t->done++] = *o;
	o->events = NULL; /* kept */
	pthread_mutex_unlock(&t->lock);
}

static void tally_wait(struct tally *t, int n)
{
	for (int i = 0; i < 400; i++) {
		pthread_mutex_lock(&t->lock);
		int d = t->done;
		pthread_mutex_unlock(&t->lock);
		if (d >= n)
			return;
		sleep_ms(25);
	}
	fail_msg("only %d of %d outcomes", t->done, n);
}

static void tally_clear(struct tally *t)
{
	for (int i = 0; i < t->done; i++)
		chain_outcome_clear(&t->o[i]);
}

static void fed_success_failure_without_polling(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;

	/* Warm up: runtime, nonce. */
	cJSON *args = grid_args_transfer(bob.pk, 1);
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	chain_outcome_clear(&o);

	uint64_t r0 = requests(f->cs);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
		assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
		assert_non_null(chain_event_find(o.events, "Balances", "Transfer"));
		assert_true(o.block_number > 0);
		chain_outcome_clear(&o);
	}
	/* Sending costs the submission only (the era is born at the last fed
	 * block); following the chain costs the submitter nothing. */
	uint64_t used = requests(f->cs) - r0;
	assert_true(used <= 3);
	cJSON_Delete(args);

	args = grid_args_contract_id(987654);
	assert_int_equal(
	    chain_submit_wait(f->s, "SmartContractModule", "set_contract_deployed", args, &o), 0);
	cJSON_Delete(args);
	assert_int_equal(o.status, CHAIN_OUTCOME_FAILED);
	assert_non_null(strstr(o.error, "SmartContractModule."));
	chain_outcome_clear(&o);
	assert_true(atomic_load(&f->fd.bodies) > 0);
	assert_true(atomic_load(&f->fd.compared) > 0);
	assert_int_equal(atomic_load(&f->fd.mismatched), 0);
}

static void fed_expiry_by_era(void **st)
{
	struct fx *f = *st;
	struct chain_outcome o;
	cJSON *args = grid_args_transfer(bob.pk, 1);

	uint64_t r0 = requests(f->cs);
	assert_int_equal(chain_submit_wait(f->s, "Balances", "transfer", args, &o), 0);
	uint64_t used = requests(f->cs) - r0;
	cJSON_Delete(args);
	assert_int_equal(o.status, CHAIN_OUTCOME_EXPIRED);
	chain_outcome_clear(&o);
	/* Expired by the fed block numbers: runtime, header and submission,
	 * no block reads of its own. */
	assert_true(used <= 6);
}

static void fed_stall_ends_unknown(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = grid_args_transfer(bob.pk, 1);

	/* Alive but no blocks: in-flight calls end UNKNOWN after stall_ms. */
	atomic_store(&f->fd.blocks_off, 1);
	sleep_ms(50);
	assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t), 0);
	tally_wait(&t, 1);
	assert_int_equal(t.o[0].status, CHAIN_OUTCOME_UNKNOWN);
	tally_clear(&t);
	atomic_store(&f->fd.blocks_off, 0);
	cJSON_Delete(args);
}

static void batch_is_one_extrinsic(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};

	for (unsigned i = 0; i < 3; i++) {
		cJSON *args = grid_args_transfer(bob.pk, 10 + i);
		assert_int_equal(
		    chain_submit_async(f->s, "Balances", "transfer", args, tally_cb, &t), 0);
		cJSON_Delete(args);
	}
	tally_wait(&t, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t.o[i].status, CHAIN_OUTCOME_SUCCESS);
		assert_memory_equal(t.o[i].xt_hash, t.o[0].xt_hash, 32);
		assert_true(t.o[i].nonce == t.o[0].nonce);
		/* Each caller sees its own transfer only. */
		int transfers = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, t.o[i].events)
		{
			const cJSON *ev = cJSON_GetObjectItem(e, "event");
			transfers += cJSON_IsString(ev) && strcmp(ev->valuestring, "Transfer") == 0;
		}
		assert_int_equal(transfers, 1);
	}
	tally_clear(&t);
}

static void bad_call_fails_alone(void **st)
{
	struct fx *f = *st;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *good = grid_args_transfer(bob.pk, 5);
	cJSON *bad = grid_args_contract_id(987655);

	assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", good, tally_cb, &t), 0);
	assert_int_equal(chain_submit_async(f->s, "SmartContractModule", "set_contract_deployed",
	                                    bad, tally_cb, &t),
	                 0);
	assert_int_equal(chain_submit_async(f->s, "Balances", "transfer", good, tally_cb, &t), 0);
	tally_wait(&t, 3);
	int ok = 0, failed = 0;
	for (int i = 0; i < 3; i++) {
		if (t.o[i].status == CHAIN_OUTCOME_SUCCESS)
			ok++;
		if (t.o[i].status == CHAIN_OUTCOME_FAILED) {
			failed++;
			assert_non_null(strstr(t.o[i].error, "SmartContractModule."));
		}
	}
	assert_int_equal(ok, 2);
	assert_int_equal(failed, 1);
	tally_clear(&t);
	cJSON_Delete(good);
	cJSON_Delete(bad);
}

int main(void)
{
	char bin[512];
	int rc = dev_open(bin, sizeof(bin), "/tmp/test_submit_fed.XXXXXX");

	if (rc != 0)
		return rc;
	if (key_dev("alice", &alice) || key_dev("bob", &bob)) {
		dev_stop();
		printf("could not start %s\n", bin);
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fed_success_failure_without_polling, setup, teardown),
	    cmocka_unit_test_setup_teardown(fed_expiry_by_era, setup_ahead, teardown),
	    cmocka_unit_test_setup_teardown(fed_stall_ends_unknown, setup_stall, teardown),
	    cmocka_unit_test_setup_teardown(batch_is_one_extrinsic, setup_batch, teardown),
	    cmocka_unit_test_setup_teardown(bad_call_fails_alone, setup_batch, teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	key_wipe(&alice);
	key_wipe(&bob);
	dev_stop();
	return rc;
}
