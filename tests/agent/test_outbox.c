/*
 * Unit tests of the engine's outbox against a fake chain that answers only
 * when told: the call table's already-applied checks, the asynchronous
 * dispatcher (bounded in flight, retries with backoff, outcomes in any
 * order, a stop with calls in flight), and persistence (a restart sends
 * what was unfinished, once; a process killed between a send and its
 * outcome, and what a power cut leaves, neither lose a call nor apply one
 * twice; a send and its outcome cost no sync).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "agent/engine_int.h"
#include "common/zerr.h"

#define MAXP 8192
#define MAXC 16

/* ---------------- fake chain ---------------- */

struct fpend {
	eng_submit_cb cb;
	void *ud;
	char call[48];
	char key[STORE_KEY_MAX];
	int attempt;
	int answered;
	int64_t at; /* monotonic ms of the submit */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fpend p[MAXP];
	size_t np; /* calls submitted */
	unsigned in_flight, max_in_flight;
	int auto_answer; /* answer every call at once with auto_rc */
	int auto_rc;
	int die_on_submit; /* the process kills itself (SIGKILL) in submit_async */
	int cancelled;
	int reads;     /* get_contract calls */
	int read_fail; /* get_contract answers ZE_UNKNOWN */
	int present[MAXC];
	enum eng_cstate state[MAXC];
} F;

static int f_get_contract(void *ctx, uint64_t id, struct eng_contract *out)
{
	pthread_mutex_lock(&F.mu);
	F.reads++;
	int rc = 0;
	if (F.read_fail)
		rc = ZE_UNKNOWN;
	else if (id >= MAXC || !F.present[id])
		rc = ZE_ABSENT;
	else
		*out = (struct eng_contract){.id = id, .state = F.state[id], .node_id = 1};
	pthread_mutex_unlock(&F.mu);
	return rc;
}

static int f_get_twin(void *ctx, uint32_t twin, struct eng_twin *out)
{
	return ZE_ABSENT;
}

static int f_node_contracts(void *ctx, uint32_t node, uint64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	return 0;
}

static int f_submit_async(void *ctx, const struct eng_call *call, eng_submit_cb cb, void *ud)
{
	if (F.die_on_submit)
		raise(SIGKILL); /* the call left; its outcome never comes back */
	pthread_mutex_lock(&F.mu);
	if (F.cancelled || F.np >= MAXP) {
		pthread_mutex_unlock(&F.mu);
		return ZE_STATE;
	}
	struct fpend *p = &F.p[F.np++];
	*p = (struct fpend){.cb = cb, .ud = ud, .attempt = call->attempt, .at = clk_mono_ms()};
	snprintf(p->call, sizeof p->call, "%s", call->call);
	snprintf(p->key, sizeof p->key, "%s", call->key);
	if (F.auto_answer) {
		/* Inline, before submit_async returns: allowed by the interface. */
		int rc = F.auto_rc;
		p->answered = 1;
		pthread_mutex_unlock(&F.mu);
		cb(ud, rc, rc ? "auto" : "");
		return 0;
	}
	if (++F.in_flight > F.max_in_flight)
		F.max_in_flight = F.in_flight;
	pthread_cond_broadcast(&F.cv);
	pthread_mutex_unlock(&F.mu);
	return 0;
}

static void f_cancel(void *ctx)
{
	pthread_mutex_lock(&F.mu);
	F.cancelled = 1;
	pthread_mutex_unlock(&F.mu);
}

static const struct eng_chain fake_chain = {
    .get_contract = f_get_contract,
    .get_twin = f_get_twin,
    .node_contracts = f_node_contracts,
    .submit_async = f_submit_async,
    .cancel = f_cancel,
};

/* Answers call i (from this thread, not the dispatcher's). */
static void answer(size_t i, int rc, const char *why)
{
	pthread_mutex_lock(&F.mu);
	assert_true(i < F.np);
	struct fpend *p = &F.p[i];
	assert_false(p->answered);
	p->answered = 1;
	F.in_flight--;
	int cancelled = F.cancelled;
	pthread_mutex_unlock(&F.mu);
	if (!cancelled)
		p->cb(p->ud, rc, why);
}

/* Waits until n calls were submitted; fails after 5 s. */
static void wait_submitted(size_t n)
{
	int64_t end = clk_mono_ms() + 5000;
	pthread_mutex_lock(&F.mu);
	while (F.np < n && clk_mono_ms() < end) {
		pthread_mutex_unlock(&F.mu);
		usleep(2000);
		pthread_mutex_lock(&F.mu);
	}
	size_t got = F.np;
	pthread_mutex_unlock(&F.mu);
	assert_true(got >= n);
}

static size_t submitted(void)
{
	pthread_mutex_lock(&F.mu);
	size_t n = F.np;
	pthread_mutex_unlock(&F.mu);
	return n;
}

/* ---------------- harness ---------------- */

struct fx {
	char dir[64];
	struct store *s;
	struct eng *e;
	unsigned in_flight;
	unsigned base_ms, max_ms;
};

static const struct prov_ops *no_lookup(const char *type)
{
	return NULL;
}

static void start(struct fx *f)
{
	struct eng_config cfg = {
	    .node_id = 1,
	    .lookup = no_lookup,
	    .workers = 1,
	    .outbox_in_flight = f->in_flight,
	    .outbox_base_ms = f->base_ms ? f->base_ms : 5,
	    .outbox_max_ms = f->max_ms ? f->max_ms : 20,
	};
	pthread_mutex_lock(&F.mu);
	F.cancelled = 0;
	pthread_mutex_unlock(&F.mu);
	assert_int_equal(eng_new(&cfg, &fake_chain, f->s, &f->e), 0);
	assert_int_equal(eng_start(f->e), 0);
}

static void stop(struct fx *f)
{
	eng_free(f->e);
	f->e = NULL;
}

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	memset(&F, 0, sizeof F);
	pthread_mutex_init(&F.mu, NULL);
	pthread_cond_init(&F.cv, NULL);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_outbox.XXXXXX");
	if (!mkdtemp(f->dir) || store_open(f->dir, STORE_OPEN_FAST, &f->s) < 0)
		return -1;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;
	eng_free(f->e);
	store_close(f->s);
	char p[128];
	const char *names[] = {"agent.db", "agent.db-wal", "agent.db-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Queues a report call under key (a call whose resend is never checked). */
static void enqueue_report(struct fx *f, const char *key)
{
	int added = 0;
	assert_int_equal(eng_outbox_enqueue(f->e, 1, key,
	                                    "{\"pallet\":\"SmartContractModule\",\"call\":"
	                                    "\"add_reports\",\"args\":[]}",
	                                    &added),
	                 0);
	assert_int_equal(added, 1);
}

static void assert_outcome(struct fx *f, const char *key, int done, const char *outcome)
{
	int d = -1;
	char out[300];
	assert_int_equal(store_outbox_state(f->s, key, &d, out, sizeof out), 0);
	assert_int_equal(d, done);
	if (outcome)
		assert_string_equal(out, outcome);
}

static void idle(struct fx *f)
{
	assert_int_equal(eng_wait_idle(f->e, 1, 5000), 0);
}

static int attempts_of(struct fx *f, const char *key)
{
	struct store_outbox *it;
	size_t n;
	int a = -1;
	assert_int_equal(store_outbox_due(f->s, INT64_MAX, 10000, &it, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(it[i].key, key))
			a = it[i].attempts;
	store_outbox_free(it, n);
	return a;
}

/* ---------------- tests ---------------- */

/* Every entry of the call table, and each already-applied check against
 * each contract state. */
static void call_table_checks(void **st)
{
	struct fx *f = *st;
	struct eng_config cfg = {.node_id = 1, .lookup = no_lookup};
	assert_int_equal(eng_new(&cfg, &fake_chain, f->s, &f->e), 0);
	for (size_t i = 0; i < eng_call_table_len; i++) {
		const struct eng_call_def *d = &eng_call_table[i];
		assert_non_null(d->kind);
		assert_true(strlen(d->kind) < sizeof((struct store_outbox *)0)->kind);
		assert_non_null(d->applied);
		assert_ptr_equal(eng_call_find(d->pallet, d->call), d);
	}
	assert_null(eng_call_find("SmartContractModule", "no_such_call"));

	struct {
		const char *call;
		int present;
		enum eng_cstate state;
		int read_fail;
		int want; /* 1 applied, 0 send, -1 cannot tell */
		const char *outcome;
		int reads; /* chain reads it makes */
	} cases[] = {
	    {"set_contract_deployed", 1, ENG_CS_CREATED, 0, 0, NULL, 1},
	    {"set_contract_deployed", 1, ENG_CS_DEPLOYED, 0, 1, "ok (already deployed)", 1},
	    {"set_contract_deployed", 1, ENG_CS_GRACE, 0, 1, "ok (already deployed)", 1},
	    {"set_contract_deployed", 1, ENG_CS_DELETED, 0, 1, "contract deleted on chain", 1},
	    {"set_contract_deployed", 0, 0, 0, 1, "contract no longer on chain", 1},
	    {"set_contract_deployed", 1, ENG_CS_CREATED, 1, -1, NULL, 1},
	    {"reject_contract", 1, ENG_CS_CREATED, 0, 0, NULL, 1},
	    {"reject_contract", 1, ENG_CS_DEPLOYED, 0, 0, NULL, 1},
	    {"reject_contract", 1, ENG_CS_DELETED, 0, 1, "contract deleted on chain", 1},
	    {"reject_contract", 0, 0, 0, 1, "contract no longer on chain", 1},
	    {"reject_contract", 1, ENG_CS_CREATED, 1, -1, NULL, 1},
	    {"add_reports", 0, 0, 0, 0, NULL, 0},
	    {"report_contract_resources", 0, 0, 0, 0, NULL, 0},
	    {"add_nru_reports", 0, 0, 0, 0, NULL, 0},
	    {"report_uptime_v2", 0, 0, 1, 0, NULL, 0},
	    {"report_uptime", 0, 0, 1, 0, NULL, 0},
	};
	size_t covered = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct eng_call_def *d = NULL;
		for (size_t k = 0; k < eng_call_table_len; k++)
			if (!strcmp(eng_call_table[k].call, cases[i].call))
				d = &eng_call_table[k];
		assert_non_null(d);
		pthread_mutex_lock(&F.mu);
		F.present[3] = cases[i].present;
		F.state[3] = cases[i].state;
		F.read_fail = cases[i].read_fail;
		F.reads = 0;
		pthread_mutex_unlock(&F.mu);
		const char *outcome = NULL;
		int rc = d->applied(f->e, 3, NULL, &outcome);
		if (cases[i].want < 0)
			assert_true(rc < 0);
		else
			assert_int_equal(rc, cases[i].want);
		if (cases[i].outcome)
			assert_string_equal(outcome, cases[i].outcome);
		assert_int_equal(F.reads, cases[i].reads);
		covered++;
	}
	/* Each table entry has a case above. */
	for (size_t k = 0; k < eng_call_table_len; k++) {
		int found = 0;
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
			found |= !strcmp(eng_call_table[k].call, cases[i].call);
		assert_true(found);
	}
	assert_true(covered > eng_call_table_len);

	/* A call not in the table is refused, not queued. */
	int added = 1;
	assert_int_equal(eng_outbox_enqueue(f->e, 1, "x:1",
	                                    "{\"pallet\":\"Balances\",\"call\":\"transfer\","
	                                    "\"args\":{}}",
	                                    &added),
	                 -EINVAL);
	assert_int_equal(eng_outbox_enqueue(f->e, 1, "x:2", "[1,2]", &added), -EINVAL);
	uint64_t pending;
	assert_int_equal(store_outbox_pending(f->s, &pending), 0);
	assert_int_equal(pending, 0);

	/* Rows written before the one shape still parse into their call. */
	cJSON *h;
	const struct eng_call_def *d;
	const cJSON *a;
	assert_int_equal(eng_call_parse("deployed", 5, "{}", &h, &d, &a), 0);
	assert_string_equal(d->call, "set_contract_deployed");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "contract_id")->valuestring, "5");
	cJSON_Delete(h);
	assert_int_equal(eng_call_parse("rejected", 5, "{\"reason\":\"ab\"}", &h, &d, &a), 0);
	assert_string_equal(d->call, "reject_contract");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "reason")->valuestring, "0x6162");
	cJSON_Delete(h);
	assert_int_equal(eng_call_parse("reports", 5, "{}", &h, &d, &a), ZE_MALFORMED);
}

/* No more than outbox_in_flight calls wait for an outcome at once, and no
 * thread waits for them: the rest go as outcomes come in. */
static void bounded_in_flight(void **st)
{
	struct fx *f = *st;
	f->in_flight = 3;
	start(f);
	char key[32];
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof key, "report:%d", i);
		enqueue_report(f, key);
	}
	wait_submitted(3);
	usleep(100000);
	assert_int_equal(submitted(), 3);
	for (size_t i = 0; i < 10; i++) {
		wait_submitted(i + 1);
		answer(i, 0, "");
	}
	idle(f);
	assert_int_equal(submitted(), 10);
	assert_int_equal(F.max_in_flight, 3);
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof key, "report:%d", i);
		assert_outcome(f, key, 1, "ok");
		/* Handed out in the order they were queued. */
		assert_string_equal(F.p[i].key, key);
	}
}

/* An unknown outcome is retried after a backoff that grows; a check of the
 * chain comes first for calls that have one. */
static void retry_with_backoff(void **st)
{
	struct fx *f = *st;
	f->in_flight = 4;
	f->base_ms = 60;
	f->max_ms = 1000;
	F.present[2] = 1;
	F.state[2] = ENG_CS_CREATED;
	start(f);
	enqueue_report(f, "report:a");
	wait_submitted(1);
	answer(0, ZE_UNKNOWN, "connection refused");
	wait_submitted(2);
	int64_t gap1 = F.p[1].at - F.p[0].at;
	answer(1, ZE_UNKNOWN, "connection refused");
	wait_submitted(3);
	int64_t gap2 = F.p[2].at - F.p[1].at;
	assert_true(gap1 >= 60);
	assert_true(gap2 >= 120); /* doubled */
	assert_int_equal(F.p[2].attempt, 3);
	assert_int_equal(attempts_of(f, "report:a"), 3);
	answer(2, 0, "");
	idle(f);
	assert_outcome(f, "report:a", 1, "ok");
	/* Reports are resent without reading the chain. */
	assert_int_equal(F.reads, 0);

	/* set_contract_deployed: the resend asks the chain first; once the
	 * chain says Deployed, it is not sent again. */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(eng_outbox_deployed(f->e, 2), 0);
	assert_int_equal(store_commit(f->s), 0);
	eng_kick_outbox(f->e);
	wait_submitted(4);
	pthread_mutex_lock(&F.mu);
	F.state[2] = ENG_CS_DEPLOYED; /* it landed, but the reply was lost */
	pthread_mutex_unlock(&F.mu);
	answer(3, ZE_UNKNOWN, "timeout");
	idle(f);
	assert_int_equal(submitted(), 4);
	assert_true(F.reads >= 1);
	assert_outcome(f, "deployed:2", 1, "ok (already deployed)");
}

/* Outcomes may come in any order and on any thread; each is recorded on its
 * own row. A failure on chain is final. */
static void outcomes_in_any_order(void **st)
{
	struct fx *f = *st;
	f->in_flight = 8;
	start(f);
	enqueue_report(f, "report:A");
	enqueue_report(f, "report:B");
	enqueue_report(f, "report:C");
	wait_submitted(3);
	answer(2, 0, "");
	answer(0, ZE_CHAIN, "failed: SmartContractModule.TooManyReports");
	answer(1, 0, "");
	idle(f);
	assert_outcome(f, "report:A", 1, "failed: failed: SmartContractModule.TooManyReports");
	assert_outcome(f, "report:B", 1, "ok");
	assert_outcome(f, "report:C", 1, "ok");
	assert_int_equal(submitted(), 3);

	/* Inline answers (the callback before submit_async returns) too. */
	pthread_mutex_lock(&F.mu);
	F.auto_answer = 1;
	pthread_mutex_unlock(&F.mu);
	enqueue_report(f, "report:D");
	idle(f);
	assert_outcome(f, "report:D", 1, "ok");
}

/* A stop does not wait for calls in flight: the engine cancels, their rows
 * stay pending with attempts counted, and the next start sends each once
 * (after asking the chain, for calls that have a check). */
static void stop_with_calls_in_flight_then_restart(void **st)
{
	struct fx *f = *st;
	f->in_flight = 8;
	F.present[2] = 1;
	F.state[2] = ENG_CS_CREATED;
	start(f);
	enqueue_report(f, "report:1");
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(eng_outbox_deployed(f->e, 2), 0);
	assert_int_equal(store_commit(f->s), 0);
	eng_kick_outbox(f->e);
	wait_submitted(2);
	int64_t t0 = clk_mono_ms();
	stop(f);
	assert_true(clk_mono_ms() - t0 < 2000);
	assert_int_equal(F.cancelled, 1);
	/* Answers after the stop reach nobody (the fake drops them, as the
	 * chain adapter does). */
	answer(0, 0, "");
	answer(1, 0, "");
	assert_outcome(f, "report:1", 0, NULL);
	assert_outcome(f, "deployed:2", 0, NULL);
	assert_int_equal(attempts_of(f, "report:1"), 1);
	assert_int_equal(attempts_of(f, "deployed:2"), 1);

	/* The deployed call landed meanwhile; the report did not. */
	pthread_mutex_lock(&F.mu);
	F.state[2] = ENG_CS_DEPLOYED;
	F.auto_answer = 1;
	pthread_mutex_unlock(&F.mu);
	start(f);
	idle(f);
	assert_int_equal(submitted(), 3); /* only the report again */
	assert_string_equal(F.p[2].key, "report:1");
	assert_int_equal(F.p[2].attempt, 2);
	assert_outcome(f, "report:1", 1, "ok");
	assert_outcome(f, "deployed:2", 1, "ok (already deployed)");

	/* Nothing is sent twice by a further restart. */
	stop(f);
	start(f);
	idle(f);
	assert_int_equal(submitted(), 3);
}

/* Rows written while no engine ran (more than the dispatcher keeps in
 * memory at once, and one in the older payload form) are all sent, each
 * once, by the next start. */
static void restart_sends_stored_rows_once(void **st)
{
	struct fx *f = *st;
	enum { N = 5000 };
	char key[32];
	assert_int_equal(store_begin(f->s), 0);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof key, "report:%d", i);
		assert_int_equal(store_outbox_add(f->s, "reports", 1, key,
		                                  "{\"pallet\":\"SmartContractModule\",\"call\":"
		                                  "\"add_reports\",\"args\":[]}",
		                                  NULL),
		                 0);
	}
	assert_int_equal(store_outbox_add(f->s, "deployed", 2, "deployed:2", "{}", NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	F.present[2] = 1;
	F.state[2] = ENG_CS_CREATED;
	F.auto_answer = 1;
	f->in_flight = 256;
	start(f);
	assert_int_equal(eng_wait_idle(f->e, 1, 30000), 0);
	assert_int_equal(submitted(), N + 1);
	int seen_deployed = 0;
	for (size_t i = 0; i < N + 1; i++) {
		assert_int_equal(F.p[i].attempt, 1);
		seen_deployed += !strcmp(F.p[i].call, "set_contract_deployed");
	}
	assert_int_equal(seen_deployed, 1);
	assert_outcome(f, "deployed:2", 1, "ok");
	uint64_t pending;
	assert_int_equal(store_outbox_pending(f->s, &pending), 0);
	assert_int_equal(pending, 0);
}

/* Queues set_contract_deployed for cid as the engine does (in a transaction). */
static void queue_deployed(struct fx *f, uint64_t cid)
{
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(eng_outbox_deployed(f->e, cid), 0);
	assert_int_equal(store_commit(f->s), 0);
	eng_kick_outbox(f->e);
}

/* The index of the call submitted for key, or -1. */
static int call_of(const char *key)
{
	int at = -1;
	pthread_mutex_lock(&F.mu);
	for (size_t i = 0; i < F.np; i++)
		if (!strcmp(F.p[i].key, key))
			at = (int)i;
	pthread_mutex_unlock(&F.mu);
	return at;
}

/* The child of killed_between_send_and_outcome: its own store and engine,
 * three deployed calls queued, and the process killed by SIGKILL inside the
 * first submit_async (after the sending mark, before any outcome). premark:
 * the rows are queued as an engine worker queues them, already counted as
 * sending (store_outbox_add_sending), and the pass writes no mark; 2: also,
 * but killed right after their commit, before any pass. Exits 1 when it
 * gets anywhere else. */
static void crash_child(const char *dir, int premark)
{
	struct store *s;
	if (store_open(dir, 0, &s) < 0)
		_exit(1);
	struct eng_config cfg = {.node_id = 1,
	                         .lookup = no_lookup,
	                         .workers = 1,
	                         .outbox_in_flight = 8,
	                         .outbox_base_ms = 5,
	                         .outbox_max_ms = 20};
	struct eng *e;
	if (eng_new(&cfg, &fake_chain, s, &e) < 0 || eng_start(e) < 0)
		_exit(1);
	F.die_on_submit = 1;
	eng_kick_defer(premark != 0);
	/* A worker's rows come with deploying -> deployed, lazy. */
	if ((premark ? store_begin_lazy(s) : store_begin(s)) < 0)
		_exit(1);
	for (uint64_t cid = 2; cid <= 4; cid++)
		if (eng_outbox_deployed(e, cid) < 0)
			_exit(1);
	if (store_commit(s) < 0)
		_exit(1);
	if (premark == 2)
		raise(SIGKILL);
	eng_kick_defer(0);
	eng_kick_outbox(e);
	sleep(5);
	_exit(1);
}

/* kill -9 between a send and its outcome, for each thing the chain may
 * have done with the call meanwhile: it landed (2), it never arrived (3),
 * or it still waits in the pool and lands after the resend (4). The next
 * start asks the chain about every pending row: 2 is not sent again, 3 is
 * sent once more, and 4's resend fails on chain as a repeat, which the
 * check records as the success it was. */
static void killed_between_send_and_outcome_as(void **st, int premark)
{
	struct fx *f = *st;
	for (int c = 2; c <= 4; c++) {
		F.present[c] = 1;
		F.state[c] = ENG_CS_CREATED;
	}
	store_close(f->s);
	f->s = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		crash_child(f->dir, premark);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	/* The rows and their (lazy) sending marks survived the kill. */
	for (int c = 2; c <= 4; c++) {
		char key[32];
		snprintf(key, sizeof key, "deployed:%d", c);
		assert_outcome(f, key, 0, NULL);
		assert_int_equal(attempts_of(f, key), 1);
	}

	F.state[2] = ENG_CS_DEPLOYED; /* landed before the kill's restart */
	f->in_flight = 8;
	start(f);
	wait_submitted(2);
	usleep(50000);
	assert_int_equal(submitted(), 2);
	assert_int_equal(call_of("deployed:2"), -1);
	int i3 = call_of("deployed:3"), i4 = call_of("deployed:4");
	assert_true(i3 >= 0 && i4 >= 0);
	assert_int_equal(F.p[i3].attempt, 2);
	/* The first send of 4 comes out of the pool before the resend. */
	pthread_mutex_lock(&F.mu);
	F.state[4] = ENG_CS_DEPLOYED;
	pthread_mutex_unlock(&F.mu);
	answer((size_t)i4, ZE_CHAIN, "SmartContractModule.ContractWrongState");
	answer((size_t)i3, 0, "");
	idle(f);
	assert_outcome(f, "deployed:2", 1, "ok (already deployed)");
	assert_outcome(f, "deployed:3", 1, "ok");
	assert_outcome(f, "deployed:4", 1, "ok (already deployed)");
	assert_int_equal(submitted(), 2);

	/* A further restart sends nothing. */
	stop(f);
	start(f);
	idle(f);
	assert_int_equal(submitted(), 2);
}

static void killed_between_send_and_outcome(void **st)
{
	killed_between_send_and_outcome_as(st, 0);
}

/* The same with rows an engine worker queued already counted as sending:
 * the store holds exactly what the separate mark left, and the next start
 * does exactly the same. */
static void killed_after_send_of_premarked_rows(void **st)
{
	killed_between_send_and_outcome_as(st, 1);
}

/* Rows counted as sending but killed before any send: the start checks them
 * like any pending row (none had landed: each is sent once, attempt 2), and
 * a row that landed meanwhile by another way is not sent. */
static void killed_before_send_of_premarked_rows(void **st)
{
	struct fx *f = *st;
	for (int c = 2; c <= 4; c++) {
		F.present[c] = 1;
		F.state[c] = ENG_CS_CREATED;
	}
	store_close(f->s);
	f->s = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		crash_child(f->dir, 2);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	for (int c = 2; c <= 4; c++) {
		char key[32];
		snprintf(key, sizeof key, "deployed:%d", c);
		assert_outcome(f, key, 0, NULL);
		assert_int_equal(attempts_of(f, key), 1);
	}
	F.state[4] = ENG_CS_DEPLOYED;
	f->in_flight = 8;
	start(f);
	wait_submitted(2);
	usleep(50000);
	assert_int_equal(submitted(), 2);
	pthread_mutex_lock(&F.mu);
	int reads = F.reads;
	pthread_mutex_unlock(&F.mu);
	assert_int_equal(reads, 3); /* each row checked once */
	assert_int_equal(call_of("deployed:4"), -1);
	int i2 = call_of("deployed:2"), i3 = call_of("deployed:3");
	assert_true(i2 >= 0 && i3 >= 0);
	assert_int_equal(F.p[i2].attempt, 2);
	assert_int_equal(F.p[i3].attempt, 2);
	answer((size_t)i2, 0, "");
	answer((size_t)i3, 0, "");
	idle(f);
	assert_outcome(f, "deployed:2", 1, "ok");
	assert_outcome(f, "deployed:3", 1, "ok");
	assert_outcome(f, "deployed:4", 1, "ok (already deployed)");
}

/* What a power cut can leave: the sending mark lost (rows pending with
 * attempts 0 whose call may have landed), or the row itself lost with its
 * state change and queued again after the start. Each pending row is
 * checked before its first send; a row queued again is sent, and its
 * failure as a repeat is recorded as the success it was. A genuine failure
 * stays a failure. */
static void power_cut_lost_the_marks(void **st)
{
	struct fx *f = *st;
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_outbox_add(f->s, "deployed", 2, "deployed:2",
	                                  "{\"pallet\":\"SmartContractModule\",\"call\":"
	                                  "\"set_contract_deployed\",\"args\":{\"contract_id\":"
	                                  "\"2\"}}",
	                                  NULL),
	                 0);
	assert_int_equal(store_outbox_add(f->s, "deployed", 3, "deployed:3", "{}", NULL), 0);
	assert_int_equal(
	    store_outbox_add(f->s, "rejected", 4, "rejected:4", "{\"reason\":\"bad\"}", NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	F.present[2] = 1;
	F.state[2] = ENG_CS_DEPLOYED; /* landed */
	F.present[3] = 1;
	F.state[3] = ENG_CS_CREATED; /* never arrived */
	F.present[4] = 0;            /* the rejection landed */
	F.present[6] = 1;
	F.state[6] = ENG_CS_DEPLOYED; /* its row was lost and is queued again */
	F.present[7] = 1;
	F.state[7] = ENG_CS_CREATED; /* fails on chain for a reason of its own */
	f->in_flight = 8;
	start(f);
	wait_submitted(1);
	usleep(50000);
	assert_int_equal(submitted(), 1);
	assert_string_equal(F.p[0].key, "deployed:3");
	assert_int_equal(F.p[0].attempt, 1);
	assert_int_equal(F.reads, 3);
	answer(0, 0, "");
	idle(f);
	assert_outcome(f, "deployed:2", 1, "ok (already deployed)");
	assert_outcome(f, "deployed:3", 1, "ok");
	assert_outcome(f, "rejected:4", 1, "contract no longer on chain");

	/* Rows queued after the start are sent without a read. */
	queue_deployed(f, 6);
	queue_deployed(f, 7);
	wait_submitted(3);
	assert_int_equal(F.reads, 3);
	answer((size_t)call_of("deployed:6"), ZE_CHAIN, "SmartContractModule.ContractWrongState");
	answer((size_t)call_of("deployed:7"), ZE_CHAIN, "SmartContractModule.NodeNotAuthorized");
	idle(f);
	assert_outcome(f, "deployed:6", 1, "ok (already deployed)");
	assert_outcome(f, "deployed:7", 1, "failed: SmartContractModule.NodeNotAuthorized");
	assert_int_equal(F.reads, 5);
	assert_int_equal(submitted(), 3);
}

/* The files of the store in dir, for the power cut below. */
static const char *const db_files[] = {"agent.db", "agent.db-wal"};

/* Copies from/name to to/name for each store file; 0 or -1. */
static int copy_files(const char *from, const char *to)
{
	for (size_t i = 0; i < sizeof db_files / sizeof db_files[0]; i++) {
		char a[128], b[128], buf[65536];
		snprintf(a, sizeof a, "%s/%s", from, db_files[i]);
		snprintf(b, sizeof b, "%s/%s", to, db_files[i]);
		int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ssize_t n = 0;
		while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n) {
				n = -1;
				break;
			}
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		if (in < 0 || out < 0 || n < 0)
			return -1;
	}
	return 0;
}

/* Group commit's sync, counted, leaving in ud's "disk" what a power cut
 * after it would leave (every commit so far; nothing else writes during
 * the test's durable commits). */
struct disk {
	const char *dir;
	char snap[96];
	int syncs;
};

static int sync_to_disk(void *ud, int fd)
{
	struct disk *d = ud;
	d->syncs++;
	return copy_files(d->dir, d->snap);
}

/* A power cut after the call landed and its outcome was recorded: the send
 * and its outcome cost no sync (the deploy's one durable commit is its
 * acceptance), so the store that comes back is the one of the last sync,
 * the row pending and never counted as sent. The start asks the chain and
 * sends nothing. */
static void power_cut_after_the_call_landed(void **st)
{
	struct fx *f = *st;
	struct disk d = {.dir = f->dir};
	snprintf(d.snap, sizeof d.snap, "%s/snap", f->dir);
	assert_int_equal(mkdir(d.snap, 0700), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->dir, 0, &f->s), 0);
	store_set_sync_fn(f->s, sync_to_disk, &d);
	F.present[2] = 1;
	F.state[2] = ENG_CS_CREATED;
	f->in_flight = 8;
	start(f);
	/* A first call, answered at once: once it is recorded, the start's full
	 * sync (whose pruning commits are durable) is over too. */
	pthread_mutex_lock(&F.mu);
	F.auto_answer = 1;
	pthread_mutex_unlock(&F.mu);
	enqueue_report(f, "report:first");
	idle(f);
	pthread_mutex_lock(&F.mu);
	F.auto_answer = 0;
	pthread_mutex_unlock(&F.mu);
	int before = d.syncs;
	queue_deployed(f, 2); /* durable here: the deployed transition is lazy */
	assert_int_equal(d.syncs, before + 1);
	wait_submitted(2);
	pthread_mutex_lock(&F.mu);
	F.state[2] = ENG_CS_DEPLOYED;
	pthread_mutex_unlock(&F.mu);
	answer(1, 0, "");
	idle(f);
	assert_outcome(f, "deployed:2", 1, "ok");
	assert_int_equal(d.syncs, before + 1); /* no sync for the mark nor the outcome */
	stop(f);
	store_close(f->s);
	f->s = NULL;

	/* The power cut: the files as the last sync left them. */
	char shm[128];
	snprintf(shm, sizeof shm, "%s/agent.db-shm", f->dir);
	unlink(shm);
	assert_int_equal(copy_files(d.snap, f->dir), 0);
	for (size_t i = 0; i < sizeof db_files / sizeof db_files[0]; i++) {
		char p[128];
		snprintf(p, sizeof p, "%s/%s", d.snap, db_files[i]);
		unlink(p);
	}
	rmdir(d.snap);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	assert_outcome(f, "deployed:2", 0, NULL);
	assert_int_equal(attempts_of(f, "deployed:2"), 0);
	F.reads = 0;
	start(f);
	idle(f);
	assert_int_equal(submitted(), 2);
	assert_int_equal(F.reads, 1);
	assert_outcome(f, "deployed:2", 1, "ok (already deployed)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(call_table_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(bounded_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(retry_with_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(outcomes_in_any_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(stop_with_calls_in_flight_then_restart, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(restart_sends_stored_rows_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(killed_between_send_and_outcome, setup, teardown),
	    cmocka_unit_test_setup_teardown(killed_after_send_of_premarked_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(killed_before_send_of_premarked_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(power_cut_lost_the_marks, setup, teardown),
	    cmocka_unit_test_setup_teardown(power_cut_after_the_call_landed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
