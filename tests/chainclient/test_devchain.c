/*
 * The chain client against a real tfchain-dev process ($BUILD/tfchain-dev,
 * skipped when not built): typed accessors on the devchain's own layouts
 * after real calls (twin, farm, node, contract through its states), a
 * failing call's module error name, and two submitters of one account
 * started on the same nonce, which must resync and all succeed.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "chainclient/submit.h"
#include "common/key.h"
#include "common/zerr.h"
#include "tests/chainclient/devchain_proc.h"

static struct chain_client *cl;
static struct chain_submitter *sa, *sb;
static struct zkey alice, bob;

static int group_setup(void **st)
{
	struct chain_submit_opts so;

	if (chain_client_new(dev_url, NULL, &cl) || key_dev("alice", &alice) ||
	    key_dev("bob", &bob))
		return -1;
	chain_submit_opts_default(&so);
	so.poll_ms = 50;
	so.give_up_blocks = 16;
	if (chain_submitter_new(cl, &alice, &so, &sa) || chain_submitter_new(cl, &bob, &so, &sb))
		return -1;
	return 0;
}

static int group_teardown(void **st)
{
	chain_submitter_free(sa);
	chain_submitter_free(sb);
	chain_client_free(cl);
	key_wipe(&alice);
	key_wipe(&bob);
	return 0;
}

static void call_ok(struct chain_submitter *s, const char *pallet, const char *call, cJSON *args,
		    struct chain_outcome *o)
{
	assert_non_null(args);
	assert_int_equal(chain_submit_wait(s, pallet, call, args, o), 0);
	if (o->status != CHAIN_OUTCOME_SUCCESS)
		fail_msg("%s.%s: %s %s", pallet, call, chain_outcome_status_name(o->status), o->error);
	cJSON_Delete(args);
}

static void twin_farm_node_contract(void **st)
{
	struct chain_outcome o;
	struct grid_twin t;
	struct grid_farm fm;
	struct grid_node nd;
	struct grid_contract c;
	uint8_t pk[32], hash[32], data[4] = {0xde, 0xad, 0xbe, 0xef};
	uint64_t *ids, cid;
	size_t n;

	memset(pk, 0x42, sizeof(pk));
	memset(hash, 0x11, sizeof(hash));
	call_ok(sa, "TfgridModule", "create_twin", grid_args_create_twin("tcp://127.0.0.1:1", pk, 32), &o);
	assert_non_null(chain_event_find(o.events, "TfgridModule", "TwinStored"));
	chain_outcome_clear(&o);
	assert_int_equal(grid_twin_by_account(cl, alice.pk, &t), 0);
	assert_string_equal(t.relay, "tcp://127.0.0.1:1");
	assert_int_equal(t.pk_len, 32);
	assert_memory_equal(t.pk, pk, 32);
	assert_memory_equal(t.account, alice.pk, 32);

	call_ok(sa, "TfgridModule", "create_farm", grid_args_create_farm("farm1"), &o);
	chain_outcome_clear(&o);
	struct grid_node_info ni = {.farm_id = 1, .hru = 1000, .sru = 2000, .cru = 8,
				    .mru = 17179869184ull, .city = "Ghent", .country = "Belgium",
				    .latitude = "51.05", .longitude = "3.72"};
	call_ok(sa, "TfgridModule", "create_node", grid_args_create_node(&ni), &o);
	chain_outcome_clear(&o);
	assert_int_equal(grid_farm(cl, 1, &fm), 0);
	assert_string_equal(fm.name, "farm1");
	assert_int_equal(fm.twin_id, t.id);
	assert_int_equal(grid_node_by_twin(cl, t.id, &nd), 0);
	assert_int_equal(nd.farm_id, 1);
	assert_int_equal(nd.cru, 8);
	assert_true(nd.mru == 17179869184ull);
	ni.cru = 16;
	call_ok(sa, "TfgridModule", "update_node", grid_args_update_node(nd.id, &ni), &o);
	chain_outcome_clear(&o);
	assert_int_equal(grid_node(cl, nd.id, &nd), 0);
	assert_int_equal(nd.cru, 16);

	call_ok(sb, "TfgridModule", "create_twin", grid_args_create_twin(NULL, NULL, 0), &o);
	chain_outcome_clear(&o);
	call_ok(sb, "SmartContractModule", "create_node_contract",
		grid_args_create_node_contract(nd.id, hash, data, sizeof(data), 0), &o);
	const cJSON *ev = chain_event_find(o.events, "SmartContractModule", "ContractCreated");
	assert_non_null(ev);
	assert_int_equal(meta_json_u64(cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "data"),
							   "contract_id"), &cid), 0);
	chain_outcome_clear(&o);
	assert_int_equal(grid_contract(cl, cid, &c), 0);
	assert_int_equal(c.state, GRID_CONTRACT_CREATED);
	assert_int_equal(c.node_id, nd.id);
	assert_memory_equal(c.deployment_hash, hash, 32);
	assert_int_equal(c.deployment_data_len, 4);
	assert_memory_equal(c.deployment_data, data, 4);
	grid_contract_clear(&c);

	/* Only the contract's node may mark it deployed. */
	cJSON *args = grid_args_contract_id(cid);
	assert_int_equal(chain_submit_wait(sb, "SmartContractModule", "set_contract_deployed", args,
					   &o), 0);
	cJSON_Delete(args);
	assert_int_equal(o.status, CHAIN_OUTCOME_FAILED);
	assert_non_null(strstr(o.error, "SmartContractModule."));
	chain_outcome_clear(&o);
	call_ok(sa, "SmartContractModule", "set_contract_deployed", grid_args_contract_id(cid), &o);
	chain_outcome_clear(&o);
	assert_int_equal(grid_contract(cl, cid, &c), 0);
	assert_int_equal(c.state, GRID_CONTRACT_DEPLOYED);
	grid_contract_clear(&c);
	assert_int_equal(grid_active_contracts(cl, nd.id, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_true(ids[0] == cid);
	free(ids);
}

struct tally {
	pthread_mutex_t lock;
	int done, ok, resends;
	uint64_t nonces;
};

static void tally_cb(void *ud, struct chain_outcome *o)
{
	struct tally *t = ud;
	pthread_mutex_lock(&t->lock);
	t->done++;
	t->ok += o->status == CHAIN_OUTCOME_SUCCESS;
	t->resends += o->resends;
	t->nonces |= 1ull << (o->nonce & 63);
	pthread_mutex_unlock(&t->lock);
}

static void two_submitters_collide_and_resync(void **st)
{
	struct chain_submit_opts so;
	struct chain_submitter *s1, *s2;
	struct grid_account a;
	struct tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cJSON *args = grid_args_transfer(bob.pk, 1);

	/* Both believe they own the same next nonce. */
	assert_int_equal(grid_account(cl, alice.pk, &a), 0);
	chain_submit_opts_default(&so);
	so.poll_ms = 50;
	so.give_up_blocks = 16;
	so.max_resends = 10; /* each refusal costs one resync; allow for interleaving */
	so.has_first_nonce = 1;
	so.first_nonce = a.nonce;
	assert_int_equal(chain_submitter_new(cl, &alice, &so, &s1), 0);
	assert_int_equal(chain_submitter_new(cl, &alice, &so, &s2), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(chain_submit_async(s1, "Balances", "transfer", args, tally_cb, &t), 0);
		assert_int_equal(chain_submit_async(s2, "Balances", "transfer", args, tally_cb, &t), 0);
	}
	for (int i = 0; i < 600; i++) {
		pthread_mutex_lock(&t.lock);
		int d = t.done;
		pthread_mutex_unlock(&t.lock);
		if (d == 6)
			break;
		sleep_ms(50);
	}
	chain_submitter_free(s1);
	chain_submitter_free(s2);
	assert_int_equal(t.done, 6);
	assert_int_equal(t.ok, 6);
	assert_true(t.resends >= 1);
	/* Six distinct nonces from the shared starting point. */
	assert_true(t.nonces == (0x3full << (a.nonce & 63)) || a.nonce + 6 > 64);
	cJSON_Delete(args);
}

int main(void)
{
	char bin[512];
	int rc = dev_open(bin, sizeof(bin), "/tmp/test_devchain.XXXXXX");

	if (rc != 0)
		return rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(twin_farm_node_contract),
		cmocka_unit_test(two_submitters_collide_and_resync),
	};
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	dev_stop();
	return rc;
}
