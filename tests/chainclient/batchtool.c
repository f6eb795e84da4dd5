/*
 * batchtool URL: checks Utility.batch_all batching against a running chain
 * (test_real_tfchain.sh runs it on tfchain's runtime under Chopsticks).
 * //Eve's submitter, with a batching window that closes when its callers
 * pause (batch_idle_ms, as the agent's), sends two transfers to //Ferdie
 * queued together (one extrinsic, both succeed), then a transfer, a call
 * that fails (cancel_contract of a contract that does not exist) and a
 * transfer (the batch fails, each call goes again on its own: two
 * successes and one ContractNotExists). A scenario whose calls expire
 * (Chopsticks may drop an extrinsic that arrives while it builds a block)
 * is run once more. Prints one line per outcome; exit 0 when all is as
 * expected.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "chainclient/submit.h"
#include "common/key.h"

struct tally {
	pthread_mutex_t mu;
	int done;
	struct chain_outcome o[3];
};

static void on_outcome(void *ud, struct chain_outcome *o)
{
	struct tally *t = ud;
	printf("%s%s%s nonce %llu block %llu #%u\n", chain_outcome_status_name(o->status),
	       o->error[0] ? " " : "", o->error, (unsigned long long)o->nonce,
	       (unsigned long long)o->block_number, o->xt_index);
	pthread_mutex_lock(&t->mu);
	t->o[t->done] = *o;
	t->o[t->done].events = NULL;
	t->done++;
	pthread_mutex_unlock(&t->mu);
}

static void wait_for(struct tally *t, int n)
{
	struct timespec ts = {0, 100000000L};
	for (int i = 0; i < 1200; i++) {
		pthread_mutex_lock(&t->mu);
		int d = t->done;
		pthread_mutex_unlock(&t->mu);
		if (d >= n)
			return;
		nanosleep(&ts, NULL);
	}
}

/* 0 as expected, 1 wrong, 2 expired (run again). */
static int scenario(struct chain_submitter *s, int with_bad, const uint8_t to[32])
{
	struct tally t = {.mu = PTHREAD_MUTEX_INITIALIZER};
	cJSON *good = grid_args_transfer(to, 10000000);
	cJSON *bad = grid_args_contract_id(999999999);
	int n = with_bad ? 3 : 2, rc = 0;

	chain_submit_async(s, "Balances", "transfer_keep_alive", good, on_outcome, &t);
	if (with_bad)
		chain_submit_async(s, "SmartContractModule", "cancel_contract", bad, on_outcome,
		                   &t);
	chain_submit_async(s, "Balances", "transfer_keep_alive", good, on_outcome, &t);
	wait_for(&t, n);
	cJSON_Delete(good);
	cJSON_Delete(bad);
	pthread_mutex_lock(&t.mu);
	int ok = 0, failed = 0;
	for (int i = 0; i < t.done; i++) {
		if (t.o[i].status == CHAIN_OUTCOME_EXPIRED)
			rc = 2;
		ok += t.o[i].status == CHAIN_OUTCOME_SUCCESS;
		failed += t.o[i].status == CHAIN_OUTCOME_FAILED &&
		          strcmp(t.o[i].error, "SmartContractModule.ContractNotExists") == 0;
	}
	if (rc == 0 && (t.done != n || ok != 2 || failed != (with_bad ? 1 : 0)))
		rc = 1;
	/* Together: one extrinsic. Apart: each its own. */
	if (rc == 0 && !with_bad && memcmp(t.o[0].xt_hash, t.o[1].xt_hash, 32) != 0)
		rc = 1;
	if (rc == 0 && with_bad &&
	    (!memcmp(t.o[0].xt_hash, t.o[1].xt_hash, 32) ||
	     !memcmp(t.o[1].xt_hash, t.o[2].xt_hash, 32)))
		rc = 1;
	pthread_mutex_unlock(&t.mu);
	return rc;
}

int main(int argc, char **argv)
{
	struct chain_client *c;
	struct chain_submitter *s;
	struct chain_submit_opts so;
	struct zkey eve, ferdie;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: batchtool URL\n");
		return 2;
	}
	if (chain_client_new(argv[1], NULL, &c) || key_dev("eve", &eve) ||
	    key_dev("ferdie", &ferdie))
		return 1;
	chain_submit_opts_default(&so);
	so.poll_ms = 300;
	so.batch_ms = 300;
	/* As the agent does: the window closes once the calls queued together
	 * are in (they come microseconds apart), not a fixed 300 ms later. */
	so.batch_idle_ms = 100;
	so.give_up_blocks = 10;
	if (chain_submitter_new(c, &eve, &so, &s)) {
		chain_client_free(c);
		return 1;
	}
	for (int with_bad = 0; with_bad < 2; with_bad++) {
		printf("== %s\n", with_bad ? "transfer, failing call, transfer" : "two transfers");
		for (int attempt = 0; attempt < 2; attempt++)
			if ((rc = scenario(s, with_bad, ferdie.pk)) != 2)
				break;
		if (rc)
			break;
	}
	chain_submitter_free(s);
	chain_client_free(c);
	key_wipe(&eve);
	key_wipe(&ferdie);
	printf("%s\n", rc ? "FAIL" : "ok");
	return rc ? 1 : 0;
}
