/*
 * Unit tests of the deploy engine against a fake chain and fake
 * provisioners: accept checks, install order, rollback, transient errors,
 * lifecycle, restart, and the outbox never sending a fact twice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <microhttpd.h>

#include "agent/engine.h"
#include "agent/reporter.h"
#include "agent/handlers.h"
#include "image/img_int.h"
#include "common/hex.h"
#include "common/seal.h"
#include "common/zerr.h"

#define NODE_ID 1
#define USER_TWIN 7
#define OTHER_TWIN 8
#define MAXC 32
#define MAXW 64

/* The fake chain's record of calls applied, by call. */
enum { FC_DEPLOYED = 0, FC_REJECT, FC_REPORTS, FC__COUNT };

/* Test-side changes of the fakes' knobs, under the fakes' own locks. */
#define LOCKED(mu, stmt)                   \
	do {                               \
		pthread_mutex_lock(mu);    \
		stmt;                      \
		pthread_mutex_unlock(mu);  \
	} while (0)

/* ---------------- fake chain ---------------- */

struct fcontract {
	int present;
	struct eng_contract c;
	int reads; /* get_contract calls for it from fc.reader (the test's thread) */
	int all_reads; /* get_contract calls for it from any thread */
};

struct fchain {
	pthread_mutex_t mu;
	struct fcontract c[MAXC];
	uint8_t user_ed_pk[32], user_ed_sk[64], user_x_sk[32];
	uint8_t node_ed_pk[32], node_ed_sk[64], node_x_pk[32];
	int read_fail;      /* get_contract / get_twin answer ZE_UNKNOWN this many times */
	int submit_fail;    /* submit answers ZE_UNKNOWN without applying */
	int submit_lost;    /* submit applies, then answers ZE_UNKNOWN (reply lost) */
	int sync_fail;      /* node_contracts answers ZE_UNKNOWN */
	int submit_hang;    /* submit waits until cancelled (a chain that never answers) */
	int hold;           /* the fake submitter takes no call while set */
	int hanging;        /* submits waiting so */
	int cancelled;      /* the engine called cancel */
	pthread_cond_t cv;  /* cancelled, the queue or hold changed */
	/* The fake submitter: calls queued by submit_async, answered in order by
	 * one thread; cancel drops the queued ones and every later answer to
	 * the engine that queued them (gen). */
	struct fcall *q_head, **q_tail;
	unsigned gen;
	int q_stop;
	pthread_t q_thread;
	int answered;       /* callbacks made */
	int applied[MAXC][FC__COUNT];
	int submits;
	int twin_reads;     /* get_twin calls */
	int contract_reads; /* get_contract calls */
	int event_decodes;  /* contract_of_event calls that gave a contract */
	pthread_t reader;   /* whose get_contract calls count in fcontract.reads */
	int count_reads;
	char last_reason[MAXC][256];
	pthread_t deployed_thread[MAXC]; /* who called submit_async with set_contract_deployed */
	int syncs;                       /* node_contracts calls (full syncs) */
};

static struct fchain fc;

static struct fcontract *fc_get(uint64_t id)
{
	return id < MAXC ? &fc.c[id] : NULL;
}

static int f_get_contract(void *ctx, uint64_t id, struct eng_contract *out)
{
	pthread_mutex_lock(&fc.mu);
	int rc = 0;
	struct fcontract *c = fc_get(id);
	fc.contract_reads++;
	if (c && fc.count_reads && pthread_equal(pthread_self(), fc.reader))
		c->reads++;
	if (c)
		c->all_reads++;
	if (fc.read_fail > 0) {
		fc.read_fail--;
		rc = ZE_UNKNOWN;
	} else if (!c || !c->present) {
		rc = ZE_ABSENT;
	} else {
		*out = c->c;
		out->data = malloc(c->c.data_len ? c->c.data_len : 1);
		if (!out->data)
			rc = -ENOMEM;
		else if (c->c.data_len) /* a hash-only contract has no data */
			memcpy(out->data, c->c.data, c->c.data_len);
	}
	pthread_mutex_unlock(&fc.mu);
	return rc;
}

/* A ContractCreated event's contract: the fake chain's contract of that
 * id, as the event would carry it; {"undecodable": true} is not one. */
static int f_contract_of_event(void *ctx, const cJSON *j, struct eng_contract *out)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "contract_id");
	if (!cJSON_IsNumber(id) || cJSON_GetObjectItemCaseSensitive(j, "undecodable"))
		return ZE_MALFORMED;
	pthread_mutex_lock(&fc.mu);
	struct fcontract *c = fc_get((uint64_t)id->valuedouble);
	int rc = 0;
	if (!c || !c->present) {
		rc = ZE_MALFORMED;
	} else {
		*out = c->c;
		out->data = malloc(c->c.data_len ? c->c.data_len : 1);
		if (!out->data)
			rc = -ENOMEM;
		else if (c->c.data_len)
			memcpy(out->data, c->c.data, c->c.data_len);
		fc.event_decodes += rc == 0;
	}
	pthread_mutex_unlock(&fc.mu);
	return rc;
}

static int f_get_twin(void *ctx, uint32_t twin, struct eng_twin *out)
{
	pthread_mutex_lock(&fc.mu);
	int rc = 0;
	fc.twin_reads++;
	if (fc.read_fail > 0) {
		fc.read_fail--;
		rc = ZE_UNKNOWN;
	} else if (twin == USER_TWIN) {
		memset(out, 0, sizeof *out);
		memcpy(out->account, fc.user_ed_pk, 32);
	} else {
		rc = ZE_ABSENT;
	}
	pthread_mutex_unlock(&fc.mu);
	return rc;
}

static int f_node_contracts(void *ctx, uint32_t node, uint64_t **ids, size_t *n)
{
	pthread_mutex_lock(&fc.mu);
	int rc = 0;
	*ids = NULL;
	*n = 0;
	fc.syncs++;
	if (fc.sync_fail) {
		rc = ZE_UNKNOWN;
	} else if ((*ids = calloc(MAXC, sizeof **ids))) {
		for (uint64_t i = 0; i < MAXC; i++)
			if (fc.c[i].present && fc.c[i].c.node_id == node)
				(*ids)[(*n)++] = i;
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&fc.mu);
	return rc;
}

struct fcall {
	int kind;             /* FC_* */
	uint64_t contract_id;
	char reason[256];
	eng_submit_cb cb;
	void *ud;
	unsigned gen;
	struct fcall *next;
};

/* Applies one call as the chain would; fc.mu held. */
static int f_apply(struct fcall *call, char *err, size_t errsz)
{
	int rc = 0;
	fc.submits++;
	struct fcontract *c = fc_get(call->contract_id);
	if (fc.submit_hang) {
		fc.hanging++;
		while (fc.gen == call->gen)
			pthread_cond_wait(&fc.cv, &fc.mu);
		fc.hanging--;
		snprintf(err, errsz, "stopping before its outcome");
		return ZE_UNKNOWN;
	}
	if (fc.submit_fail > 0) {
		fc.submit_fail--;
		snprintf(err, errsz, "connection refused");
		return ZE_UNKNOWN;
	}
	if (!c || !c->present) {
		snprintf(err, errsz, "ContractNotExists");
		return ZE_CHAIN;
	}
	fc.applied[call->contract_id][call->kind]++;
	if (call->kind == FC_DEPLOYED) {
		if (c->c.state != ENG_CS_CREATED) {
			snprintf(err, errsz, "ContractAlreadyDeployed");
			return ZE_CHAIN;
		}
		c->c.state = ENG_CS_DEPLOYED;
	} else if (call->kind == FC_REJECT) {
		snprintf(fc.last_reason[call->contract_id], 256, "%s", call->reason);
		c->present = 0;
	}
	if (fc.submit_lost > 0) {
		fc.submit_lost--;
		snprintf(err, errsz, "timeout waiting for the block");
		rc = ZE_UNKNOWN;
	}
	return rc;
}

/* The fake submitter's thread: one call at a time, in queue order. The
 * answer is given with fc.mu held, so cancel (which takes it) returns only
 * when no callback runs, and none of its generation comes later. */
static void *f_submitter(void *arg)
{
	pthread_mutex_lock(&fc.mu);
	while (!fc.q_stop) {
		struct fcall *call = fc.q_head;
		if (!call || fc.hold) {
			pthread_cond_wait(&fc.cv, &fc.mu);
			continue;
		}
		if (!(fc.q_head = call->next))
			fc.q_tail = &fc.q_head;
		char why[256] = "";
		int rc = f_apply(call, why, sizeof why);
		if (call->gen == fc.gen) {
			fc.answered++;
			call->cb(call->ud, rc, why);
		}
		free(call);
	}
	pthread_mutex_unlock(&fc.mu);
	return NULL;
}

static int f_submit_async(void *ctx, const struct eng_call *call, eng_submit_cb cb, void *ud)
{
	struct fcall *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->contract_id = call->contract_id;
	c->cb = cb;
	c->ud = ud;
	if (!strcmp(call->call, "set_contract_deployed")) {
		c->kind = FC_DEPLOYED;
		if (call->contract_id < MAXC)
			LOCKED(&fc.mu, fc.deployed_thread[call->contract_id] = pthread_self());
	} else if (!strcmp(call->call, "reject_contract")) {
		/* The reason travels hex-encoded, as the runtime takes bytes. */
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(call->args, "reason");
		const char *h = cJSON_IsString(r) ? r->valuestring : "";
		uint8_t *b = NULL;
		size_t n = 0;
		c->kind = FC_REJECT;
		if (hex_decode_alloc(h, sizeof c->reason - 1, &b, &n) < 0)
			n = 0;
		if (n)
			memcpy(c->reason, b, n);
		c->reason[n] = 0;
		free(b);
	} else {
		c->kind = FC_REPORTS;
	}
	pthread_mutex_lock(&fc.mu);
	c->gen = fc.gen;
	*fc.q_tail = c;
	fc.q_tail = &c->next;
	pthread_cond_broadcast(&fc.cv);
	pthread_mutex_unlock(&fc.mu);
	return 0;
}

static void f_cancel(void *ctx)
{
	pthread_mutex_lock(&fc.mu);
	fc.cancelled = 1;
	fc.gen++;
	/* Calls not taken yet are never sent (the submitter stopped first). */
	while (fc.q_head) {
		struct fcall *c = fc.q_head;
		fc.q_head = c->next;
		free(c);
	}
	fc.q_tail = &fc.q_head;
	pthread_cond_broadcast(&fc.cv);
	pthread_mutex_unlock(&fc.mu);
}

static void fq_start(void)
{
	fc.q_tail = &fc.q_head;
	assert_int_equal(pthread_create(&fc.q_thread, NULL, f_submitter, NULL), 0);
}

static void fq_stop(void)
{
	LOCKED(&fc.mu, fc.q_stop = 1; pthread_cond_broadcast(&fc.cv));
	pthread_join(fc.q_thread, NULL);
	while (fc.q_head) {
		struct fcall *c = fc.q_head;
		fc.q_head = c->next;
		free(c);
	}
}

static const struct eng_chain fake_chain = {
	.get_contract = f_get_contract,
	.get_twin = f_get_twin,
	.node_contracts = f_node_contracts,
	.submit_async = f_submit_async,
	.cancel = f_cancel,
	.contract_of_event = f_contract_of_event,
};

#include "fake_prov.h"

/* ---------------- harness ---------------- */

struct fx {
	char dir[64];
	struct store *s;
	struct eng *e;
};

static const char good_doc[] =
	"{\"version\":0,\"twin_id\":7,\"workloads\":["
	"{\"version\":0,\"name\":\"vm\",\"type\":\"container\",\"data\":{}},"
	"{\"version\":0,\"name\":\"net\",\"type\":\"network\",\"data\":{}},"
	"{\"version\":0,\"name\":\"disk\",\"type\":\"zmount\",\"data\":{\"size\":100}}]}";

enum { MK_FLIP = 1, MK_BADHASH = 2, MK_HASHONLY = 4 };
/* The sealed deployment of the last MK_HASHONLY contract, which the chain
 * does not hold (base64, for the deploy command's "deployment"). */
static char hashonly_b64[4096];
/* start_engine's eng_config.adopt and accept_wait_ms. */
static int fx_adopt;
static unsigned fx_wait_ms;

/* Puts contract id on the fake chain with doc sealed by the user for the node. */
static void mk_contract(uint64_t id, uint32_t twin, uint32_t node, const char *doc, int flags)
{
	struct fcontract *c = fc_get(id);
	assert_non_null(c);
	uint8_t *ct;
	size_t ctlen;
	assert_int_equal(seal_box((const uint8_t *)doc, strlen(doc), fc.node_x_pk, fc.user_x_sk, 0,
				  &ct, &ctlen), 0);
	if (flags & MK_FLIP)
		ct[ctlen / 2] ^= 1;
	if (flags & MK_HASHONLY) {
		sodium_bin2base64(hashonly_b64, sizeof hashonly_b64, ct, ctlen,
				  sodium_base64_VARIANT_ORIGINAL);
		free(ct);
		ct = NULL;
		ctlen = 0;
	}
	pthread_mutex_lock(&fc.mu);
	free(c->c.data);
	c->present = 1;
	c->c = (struct eng_contract){.id = id, .twin_id = twin, .node_contract = 1,
				     .node_id = node, .state = ENG_CS_CREATED, .data = ct,
				     .data_len = ctlen};
	seal_hash(doc, strlen(doc), c->c.deployment_hash);
	if (flags & MK_BADHASH)
		c->c.deployment_hash[0] ^= 1;
	pthread_mutex_unlock(&fc.mu);
}

static void set_state(uint64_t id, enum eng_cstate st)
{
	pthread_mutex_lock(&fc.mu);
	fc.c[id].c.state = st;
	pthread_mutex_unlock(&fc.mu);
}

/* The image store the next started engine gets (NULL: none). */
static struct img_store *test_images;

static void start_engine(struct fx *f)
{
	struct eng_config cfg = {
		.images = test_images,
		.node_id = NODE_ID,
		.total = {.cru = 16, .mru = 1 << 30, .sru = 1000, .hru = 0},
		.lookup = f_lookup,
		.workers = 2,
		.retry_base_ms = 5,
		.retry_max_ms = 20,
		.retry_attempts = 4,
		.outbox_base_ms = 5,
		.outbox_max_ms = 20,
		.adopt = fx_adopt,
		.accept_wait_ms = fx_wait_ms,
	};
	assert_int_equal(seal_x25519_sk(fc.node_ed_sk, cfg.node_x25519_sk), 0);
	assert_int_equal(eng_new(&cfg, &fake_chain, f->s, &f->e), 0);
	assert_int_equal(eng_start(f->e), 0);
}

static void restart(struct fx *f)
{
	eng_free(f->e);
	store_close(f->s);
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	start_engine(f);
}

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	for (int i = 0; i < MAXC; i++)
		free(fc.c[i].c.data);
	memset(&fc, 0, sizeof fc);
	memset(&fh, 0, sizeof fh);
	pthread_mutex_init(&fc.mu, NULL);
	pthread_cond_init(&fc.cv, NULL);
	pthread_mutex_init(&fh.mu, NULL);
	crypto_sign_keypair(fc.user_ed_pk, fc.user_ed_sk);
	crypto_sign_keypair(fc.node_ed_pk, fc.node_ed_sk);
	if (seal_x25519_sk(fc.user_ed_sk, fc.user_x_sk) < 0 ||
	    seal_twin_x25519(NULL, 0, fc.node_ed_pk, fc.node_x_pk) < 0)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/test_engine.XXXXXX");
	if (!mkdtemp(f->dir) || store_open(f->dir, STORE_OPEN_FAST, &f->s) < 0)
		return -1;
	fq_start();
	start_engine(f);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;
	eng_free(f->e);
	fq_stop();
	store_close(f->s);
	char p[128];
	const char *names[] = {"agent.db", "agent.db-wal", "agent.db-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
		unlink(p);
	}
	rmdir(f->dir);
	for (int i = 0; i < MAXC; i++)
		free(fc.c[i].c.data);
	memset(&fc, 0, sizeof fc);
	free(f);
	return 0;
}

static void idle(struct fx *f)
{
	assert_int_equal(eng_wait_idle(f->e, 1, 5000), 0);
}

/* Runs the deploy command; returns its error code (0 on success). */
static int deploy(struct fx *f, uint32_t caller, uint64_t cid, char *err, size_t errsz,
		  char *status, size_t statussz)
{
	cJSON *p = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddNumberToObject(p, "contract_id", (double)cid);
	int code = 0;
	err[0] = '\0';
	int rc = eng_rmb_deploy(f->e, caller, p, &reply, &code, err, errsz);
	cJSON_Delete(p);
	if (rc == 0) {
		assert_int_equal(code, 0);
		const cJSON *s = cJSON_GetObjectItem(reply, "status");
		assert_true(cJSON_IsString(s));
		if (status)
			snprintf(status, statussz, "%s", s->valuestring);
		cJSON_Delete(reply);
		return 0;
	}
	assert_null(reply);
	assert_int_not_equal(code, 0);
	return code;
}

/* The deploy command with the sealed deployment of a hash-only contract. */
static int deploy_with_data(struct fx *f, uint64_t cid, const char *b64, char *err, size_t errsz)
{
	cJSON *p = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddNumberToObject(p, "contract_id", (double)cid);
	cJSON_AddStringToObject(p, "deployment", b64);
	int code = 0;
	err[0] = '\0';
	int rc = eng_rmb_deploy(f->e, USER_TWIN, p, &reply, &code, err, errsz);
	cJSON_Delete(p);
	cJSON_Delete(reply);
	return rc == 0 ? 0 : code;
}

static enum store_dep_state dep_state(struct fx *f, uint64_t cid)
{
	struct store_dep d;
	assert_int_equal(store_dep_get(f->s, cid, &d, NULL, NULL), 0);
	enum store_dep_state st = d.state;
	store_dep_clear(&d);
	return st;
}

static uint64_t pending(struct fx *f)
{
	uint64_t n;
	assert_int_equal(store_outbox_pending(f->s, &n), 0);
	return n;
}

/* ---------------- tests ---------------- */

/* The owner twin is read once for a run of deploys; a key changed on chain
 * since it was cached is read again before anything is rejected. */
static void twin_cache_follows_a_key_change(void **st)
{
	struct fx *f = *st;
	char msg[256], status[32];
	mk_contract(1, USER_TWIN, NODE_ID, good_doc, 0);
	mk_contract(2, USER_TWIN, NODE_ID, good_doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 1, msg, sizeof msg, status, sizeof status), 0);
	assert_int_equal(deploy(f, USER_TWIN, 2, msg, sizeof msg, status, sizeof status), 0);
	assert_string_equal(status, "accepted");
	assert_int_equal(fc.twin_reads, 1);

	/* The user twin's account key changes; contract 4 is sealed with it. */
	pthread_mutex_lock(&fc.mu);
	crypto_sign_keypair(fc.user_ed_pk, fc.user_ed_sk);
	assert_int_equal(seal_x25519_sk(fc.user_ed_sk, fc.user_x_sk), 0);
	pthread_mutex_unlock(&fc.mu);
	mk_contract(4, USER_TWIN, NODE_ID, good_doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 4, msg, sizeof msg, status, sizeof status), 0);
	assert_string_equal(status, "accepted");
	assert_int_equal(fc.twin_reads, 2);
	/* Data that does not open with the current key is still rejected. */
	mk_contract(5, USER_TWIN, NODE_ID, good_doc, MK_FLIP);
	assert_int_equal(deploy(f, USER_TWIN, 5, msg, sizeof msg, NULL, 0), ENG_E_INVALID);
	idle(f);
	assert_int_equal(dep_state(f, 4), STORE_DEP_DEPLOYED);
	assert_int_equal(dep_state(f, 5), STORE_DEP_FAILED);
}

static void valid_deploy_reaches_deployed(void **st)
{
	struct fx *f = *st;
	char msg[256], status[32];
	mk_contract(3, USER_TWIN, NODE_ID, good_doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 3, msg, sizeof msg, status, sizeof status), 0);
	assert_string_equal(status, "accepted");
	idle(f);
	assert_int_equal(fc.c[3].c.state, ENG_CS_DEPLOYED);
	assert_int_equal(fc.applied[3][FC_DEPLOYED], 1);
	assert_int_equal(pending(f), 0);
	assert_int_equal(dep_state(f, 3), STORE_DEP_DEPLOYED);
	/* Dependency order: disks, networks, containers. */
	assert_string_equal(fh.order, "disk,net,vm,");
	assert_int_equal(fh_count(3), 3);
	int done;
	assert_int_equal(store_outbox_state(f->s, "deployed:3", &done, NULL, 0), 0);
	assert_int_equal(done, 1);

	/* Idempotent repeat. */
	assert_int_equal(deploy(f, USER_TWIN, 3, msg, sizeof msg, status, sizeof status), 0);
	assert_string_equal(status, "deployed");
	assert_int_equal(deploy(f, OTHER_TWIN, 3, msg, sizeof msg, NULL, 0), ENG_E_FORBIDDEN);

	/* get, list, changes, statistics of the caller. */
	cJSON *p = cJSON_Parse("{\"contract_id\":\"3\"}"), *r = NULL;
	int code;
	assert_int_equal(eng_rmb_get(f->e, USER_TWIN, p, &r, &code, msg, sizeof msg), 0);
	assert_string_equal(cJSON_GetObjectItem(r, "state")->valuestring, "deployed");
	cJSON *w = cJSON_GetObjectItem(r, "workloads");
	assert_int_equal(cJSON_GetArraySize(w), 3);
	cJSON *w2 = cJSON_GetArrayItem(w, 2);
	assert_string_equal(cJSON_GetObjectItem(w2, "name")->valuestring, "vm");
	assert_string_equal(cJSON_GetObjectItem(w2, "state")->valuestring, "ok");
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetObjectItem(w2, "result"), "path")->valuestring, "vm");
	cJSON_Delete(r);
	r = NULL;
	assert_true(eng_rmb_get(f->e, OTHER_TWIN, p, &r, &code, msg, sizeof msg) < 0);
	assert_int_equal(code, ENG_E_NOT_FOUND);
	assert_int_equal(eng_rmb_changes(f->e, USER_TWIN, p, &r, &code, msg, sizeof msg), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "changes")), 6);
	cJSON_Delete(r);
	assert_int_equal(eng_rmb_list(f->e, USER_TWIN, NULL, &r, &code, msg, sizeof msg), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "deployments")), 1);
	cJSON_Delete(r);
	assert_int_equal(eng_rmb_list(f->e, OTHER_TWIN, NULL, &r, &code, msg, sizeof msg), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "deployments")), 0);
	cJSON_Delete(r);
	assert_int_equal(eng_rmb_statistics(f->e, USER_TWIN, NULL, &r, &code, msg, sizeof msg), 0);
	assert_int_equal(cJSON_GetObjectItem(r, "deployments")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(r, "workloads")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "used"), "sru")->valueint, 100);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "free"), "sru")->valueint, 900);
	cJSON_Delete(r);
	cJSON_Delete(p);
}

struct refusal {
	uint64_t cid;
	uint32_t caller;
	int code;
	const char *msg;
	int rejected; /* reject_contract sent */
};

static void refusals_name_the_reason(void **st)
{
	struct fx *f = *st;
	char msg[256];
	char big[512];
	snprintf(big, sizeof big, "{\"version\":0,\"twin_id\":7,\"workloads\":[{\"version\":0,"
		 "\"name\":\"d\",\"type\":\"zmount\",\"data\":{\"size\":5000}}]}");
	mk_contract(2, USER_TWIN, 2, good_doc, 0);           /* another node */
	mk_contract(3, USER_TWIN, NODE_ID, good_doc, 0);     /* asked by another twin */
	mk_contract(4, USER_TWIN, NODE_ID, good_doc, MK_BADHASH);
	mk_contract(5, USER_TWIN, NODE_ID, good_doc, MK_FLIP);
	mk_contract(6, USER_TWIN, NODE_ID,
		    "{\"version\":0,\"twin_id\":7,\"workloads\":[{\"version\":0,\"name\":\"a-b\","
		    "\"type\":\"zmount\",\"data\":{}}]}", 0);
	mk_contract(7, USER_TWIN, NODE_ID, big, 0);
	mk_contract(8, USER_TWIN, NODE_ID, good_doc, 0);
	set_state(8, ENG_CS_DELETED);
	mk_contract(9, USER_TWIN, NODE_ID,
		    "{\"version\":0,\"twin_id\":8,\"workloads\":[{\"version\":0,\"name\":\"a\","
		    "\"type\":\"zmount\",\"data\":{}}]}", 0);
	mk_contract(10, USER_TWIN, NODE_ID,
		    "{\"version\":0,\"twin_id\":7,\"workloads\":[{\"version\":0,\"name\":\"a\","
		    "\"type\":\"zmount\",\"data\":{\"size\":\"x\"}}]}", 0);
	const struct refusal cases[] = {
		{1, USER_TWIN, ENG_E_NOT_FOUND, "does not exist on chain", 0},
		{2, USER_TWIN, ENG_E_FORBIDDEN, "is for node 2, this is node 1", 0},
		{3, OTHER_TWIN, ENG_E_FORBIDDEN, "belongs to twin 7, not to twin 8", 0},
		{4, USER_TWIN, ENG_E_INVALID, "deployment_hash does not match", 1},
		{5, USER_TWIN, ENG_E_INVALID, "does not decrypt", 1},
		{6, USER_TWIN, ENG_E_INVALID, "invalid deployment: workloads[0].name must match", 1},
		{7, USER_TWIN, ENG_E_CAPACITY, "needs sru 5000, more than the node's total 1000", 1},
		{8, USER_TWIN, ENG_E_STATE, "is deleted", 0},
		{9, USER_TWIN, ENG_E_INVALID, "twin_id 8 does not match the contract's twin 7", 1},
		{10, USER_TWIN, ENG_E_INVALID, "workload \"a\": invalid zmount data: size must be", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct refusal *c = &cases[i];
		int code = deploy(f, c->caller, c->cid, msg, sizeof msg, NULL, 0);
		if (code != c->code || !strstr(msg, c->msg))
			fail_msg("contract %llu: code %d msg \"%s\"", (unsigned long long)c->cid, code,
				 msg);
	}
	idle(f);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct refusal *c = &cases[i];
		assert_int_equal(fc.applied[c->cid][FC_REJECT], c->rejected);
		assert_int_equal(fc.applied[c->cid][FC_DEPLOYED], 0);
		if (c->rejected)
			assert_non_null(strstr(fc.last_reason[c->cid], c->msg));
		else if (c->cid != 1)
			assert_int_equal(fc.c[c->cid].present, 1);
	}
	assert_int_equal(fh.provisions, 0);
	assert_int_equal(pending(f), 0);
	/* A repeat of a rejected contract gives the same reason without the chain. */
	int code = deploy(f, USER_TWIN, 4, msg, sizeof msg, NULL, 0);
	assert_int_equal(code, ENG_E_INVALID);
	assert_non_null(strstr(msg, "deployment_hash does not match"));

	/* Malformed payloads. */
	const char *bad[] = {"{}", "{\"contract_id\":-1}", "{\"contract_id\":1.5}",
			     "{\"contract_id\":\"12x\"}", "{\"contract_id\":\"99999999999999999999\"}",
			     "[]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *p = cJSON_Parse(bad[i]), *r = NULL;
		assert_true(eng_rmb_deploy(f->e, USER_TWIN, p, &r, &code, msg, sizeof msg) < 0);
		assert_int_equal(code, ENG_E_BAD_REQUEST);
		cJSON_Delete(p);
	}

	/* A chain that cannot be asked is not a rejection. */
	mk_contract(11, USER_TWIN, NODE_ID, good_doc, 0);
	LOCKED(&fc.mu, fc.read_fail = 1);
	assert_int_equal(deploy(f, USER_TWIN, 11, msg, sizeof msg, NULL, 0), ENG_E_UNAVAILABLE);
	assert_non_null(strstr(msg, "retry later"));
	LOCKED(&fc.mu, fc.read_fail = 0);
	assert_int_equal(deploy(f, USER_TWIN, 11, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fc.c[11].c.state, ENG_CS_DEPLOYED);
	assert_int_equal(fc.applied[11][FC_REJECT], 0);
}

/* A TCP port on 127.0.0.1 nothing listens on (bound, then closed). */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void image_policy_checked_at_accept(void **st)
{
	struct fx *f = *st;
	char dir[160], insecure[64], doc[512], msg[256];
	int port = closed_port();
	snprintf(dir, sizeof dir, "%s/images", f->dir);
	snprintf(insecure, sizeof insecure, "127.0.0.1:%d", port);
	struct img_config ic = {.dir = dir, .deny = "bad.example.com", .insecure = insecure,
				.retries = 1};
	assert_int_equal(img_store_open(&ic, &test_images), 0);
	restart(f);
#define ZM_DOC "{\"version\":0,\"twin_id\":7,\"workloads\":[{\"version\":0," \
	       "\"name\":\"vm\",\"type\":\"container\",\"data\":{\"image\":\"%s\"}}]}"
	snprintf(doc, sizeof doc, ZM_DOC, "bad.example.com/team/app:1");
	mk_contract(20, USER_TWIN, NODE_ID, doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 20, msg, sizeof msg, NULL, 0), ENG_E_INVALID);
	assert_non_null(strstr(msg, "denied"));
	char ref[96];
	snprintf(ref, sizeof ref, "127.0.0.1:%d/team/app:1", port);
	snprintf(doc, sizeof doc, ZM_DOC, ref);
	mk_contract(21, USER_TWIN, NODE_ID, doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 21, msg, sizeof msg, NULL, 0), ENG_E_UNAVAILABLE);
	assert_non_null(strstr(msg, "unreachable"));
	/* A local image name (no registry) is the provisioner's business. */
	snprintf(doc, sizeof doc, ZM_DOC, "busybox");
	mk_contract(22, USER_TWIN, NODE_ID, doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 22, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fc.applied[20][FC_REJECT], 1);
	assert_int_equal(fc.applied[21][FC_REJECT], 0);
	assert_int_equal(fc.c[22].c.state, ENG_CS_DEPLOYED);
	eng_free(f->e);
	f->e = NULL;
	img_store_close(test_images);
	test_images = NULL;
	restart(f);
	img_rmtree(dir, NULL);
}

/* ---- a registry for the image tests: libmicrohttpd serving one image ---- */

static struct {
	struct MHD_Daemon *d;
	int port;
	char manifest[1024], config[256];
	char cfg_digest[IMG_DIGEST_MAX], layer_digest[IMG_DIGEST_MAX];
	uint8_t layer[8192];
	size_t layer_len;
	int tamper;
	int blob_gets;
} freg;

static enum MHD_Result freg_answer(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_len, void **state)
{
	const void *body = "{}";
	size_t len = 2;
	unsigned status = 200;
	const char *ctype = "application/json";
	uint8_t copy[sizeof freg.layer];
	char want[128];
	if (!strcmp(url, "/v2/t/app/manifests/1")) {
		body = freg.manifest;
		len = strlen(freg.manifest);
		ctype = "application/vnd.oci.image.manifest.v1+json";
	} else if (snprintf(want, sizeof want, "/v2/t/app/blobs/%s", freg.cfg_digest) > 0 &&
	           !strcmp(url, want)) {
		body = freg.config;
		len = strlen(freg.config);
	} else if (snprintf(want, sizeof want, "/v2/t/app/blobs/%s", freg.layer_digest) > 0 &&
	           !strcmp(url, want)) {
		__atomic_add_fetch(&freg.blob_gets, 1, __ATOMIC_SEQ_CST);
		memcpy(copy, freg.layer, freg.layer_len);
		if (__atomic_load_n(&freg.tamper, __ATOMIC_SEQ_CST))
			copy[freg.layer_len / 2] ^= 0xff;
		body = copy;
		len = freg.layer_len;
		ctype = "application/octet-stream";
	} else if (strcmp(url, "/v2/")) {
		status = 404;
	}
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* One gzip layer with etc/hello, its config and manifest, served on a free port. */
static void freg_start(void)
{
	memset(&freg, 0, sizeof freg);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	assert_int_equal(
	    archive_write_open_memory(a, freg.layer, sizeof freg.layer, &freg.layer_len),
	    ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "etc/hello");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 6);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_write_data(a, "hello\n", 6);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	snprintf(freg.config, sizeof freg.config,
	         "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":"
	         "{\"Entrypoint\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\"}}");
	img_sha256_digest(freg.config, strlen(freg.config), freg.cfg_digest);
	img_sha256_digest(freg.layer, freg.layer_len, freg.layer_digest);
	snprintf(
	    freg.manifest, sizeof freg.manifest,
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
	    freg.cfg_digest, strlen(freg.config), freg.layer_digest, freg.layer_len);
	freg.d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	                     freg_answer, NULL, MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
	assert_non_null(freg.d);
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(freg.d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(i);
	freg.port = i->port;
}

/* The image of a zmachine is pulled before provision and held while the
 * deployment lives; cancelling releases it and GC removes it; a tampered
 * layer is a digest error that rejects the contract. */
static void image_pulled_held_and_collected(void **st)
{
	struct fx *f = *st;
	char dir[160], insecure[64], doc[512], msg[256], ref[96], err[256];
	freg_start();
	snprintf(dir, sizeof dir, "%s/images", f->dir);
	snprintf(insecure, sizeof insecure, "127.0.0.1:%d", freg.port);
	struct img_config ic = {.dir = dir, .insecure = insecure, .retries = 1};
	assert_int_equal(img_store_open(&ic, &test_images), 0);
	restart(f);
	snprintf(ref, sizeof ref, "127.0.0.1:%d/t/app:1", freg.port);
	snprintf(doc, sizeof doc, ZM_DOC, ref);
	mk_contract(30, USER_TWIN, NODE_ID, doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 30, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fc.c[30].c.state, ENG_CS_DEPLOYED);
	assert_int_equal(freg.blob_gets, 1);
	struct img_image *img;
	assert_int_equal(img_get(test_images, ref, &img, err, sizeof err), 0);
	assert_int_equal(img->n_layers, 1);
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/etc/hello", img->layers[0]);
	assert_int_equal(access(p, F_OK), 0);
	assert_string_equal(img->entrypoint[0], "/bin/sh");
	img_image_free(img);
	char holds[256];
	snprintf(p, sizeof p, "%s/holds", dir);
	FILE *h = fopen(p, "r");
	assert_non_null(h);
	size_t hn = fread(holds, 1, sizeof holds - 1, h);
	holds[hn] = 0;
	fclose(h);
	assert_non_null(strstr(holds, "30/vm sha256:"));

	/* Cancelled: the hold goes and GC takes the image. */
	set_state(30, ENG_CS_DELETED);
	cJSON *ev =
	    cJSON_Parse("{\"pallet\":\"SmartContractModule\",\"event\":"
	                "\"NodeContractCanceled\",\"data\":{\"contract_id\":30,\"node_id\":1,"
	                "\"twin_id\":7}}");
	assert_int_equal(eng_on_chain_event(f->e, ev), 0);
	cJSON_Delete(ev);
	idle(f);
	assert_int_equal(img_get(test_images, ref, &img, err, sizeof err), -ENOENT);

	/* A tampered layer: digest error, the contract is rejected. */
	__atomic_store_n(&freg.tamper, 1, __ATOMIC_SEQ_CST);
	mk_contract(31, USER_TWIN, NODE_ID, doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 31, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fc.applied[31][FC_REJECT], 1);
	assert_non_null(strstr(fc.last_reason[31], "digest mismatch"));
	assert_int_equal(img_get(test_images, ref, &img, err, sizeof err), -ENOENT);

	/* An image larger than the store may still take is refused at accept. */
	eng_free(f->e);
	f->e = NULL;
	img_store_close(test_images);
	ic.max_bytes = 200;
	assert_int_equal(img_store_open(&ic, &test_images), 0);
	restart(f);
	__atomic_store_n(&freg.tamper, 0, __ATOMIC_SEQ_CST);
	mk_contract(29, USER_TWIN, NODE_ID, doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 29, msg, sizeof msg, NULL, 0), ENG_E_CAPACITY);
	assert_non_null(strstr(msg, "bytes of image storage"));

	eng_free(f->e);
	f->e = NULL;
	img_store_close(test_images);
	test_images = NULL;
	MHD_stop_daemon(freg.d);
	restart(f);
	img_rmtree(dir, NULL);
}

/* A port claimed by a live deployment (or twice in one) is refused before
 * accept; once that deployment is deleted the port is free again. */
static void claimed_ports_are_admitted_once(void **st)
{
	struct fx *f = *st;
	char msg[256];
#define NET_DOC(port, port2)                                                                   \
	"{\"version\":0,\"twin_id\":7,\"workloads\":[{\"version\":0,\"name\":\"n\","       \
	"\"type\":\"network\",\"data\":{\"port\":" #port "}},{\"version\":0,\"name\":\"m\","  \
	"\"type\":\"network\",\"data\":{\"port\":" #port2 "}}]}"
	mk_contract(20, USER_TWIN, NODE_ID, NET_DOC(51820, 51821), 0);
	mk_contract(21, USER_TWIN, NODE_ID, NET_DOC(51822, 51820), 0);
	mk_contract(22, USER_TWIN, NODE_ID, NET_DOC(51823, 51823), 0);
	mk_contract(23, USER_TWIN, NODE_ID, NET_DOC(51822, 51820), 0);
	assert_int_equal(deploy(f, USER_TWIN, 20, msg, sizeof msg, NULL, 0), 0);
	assert_int_equal(deploy(f, USER_TWIN, 21, msg, sizeof msg, NULL, 0), ENG_E_STATE);
	assert_non_null(strstr(msg, "udp/51820 is taken by another deployment"));
	assert_int_equal(deploy(f, USER_TWIN, 22, msg, sizeof msg, NULL, 0), ENG_E_STATE);
	assert_non_null(strstr(msg, "udp/51823 is asked for twice"));
	idle(f);
	assert_int_equal(fc.applied[21][FC_REJECT], 1);
	assert_int_equal(fc.c[20].c.state, ENG_CS_DEPLOYED);
	/* Deleted: its port can be taken. */
	set_state(20, ENG_CS_DELETED);
	assert_int_equal(eng_on_contract_state(f->e, 20, ENG_CS_DELETED), 0);
	idle(f);
	assert_int_equal(deploy(f, USER_TWIN, 23, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fc.c[23].c.state, ENG_CS_DEPLOYED);
#undef NET_DOC
}

/* A deployment deleted on chain while its job waits for a worker is not
 * installed: the job then reads the store, not the record its acceptance
 * handed over (which still says deploying). */
static void deleted_before_its_job_is_not_installed(void **st)
{
	struct fx *f = *st;
	char msg[256];
	for (uint64_t cid = 27; cid <= 29; cid++)
		mk_contract(cid, USER_TWIN, NODE_ID, good_doc, 0);
	/* Both workers busy with 27 and 28 (three slow workloads each). */
	fh_lock();
	fh.delay_ms = 100;
	fh_unlock();
	assert_int_equal(deploy(f, USER_TWIN, 27, msg, sizeof msg, NULL, 0), 0);
	assert_int_equal(deploy(f, USER_TWIN, 28, msg, sizeof msg, NULL, 0), 0);
	usleep(50 * 1000);
	assert_int_equal(deploy(f, USER_TWIN, 29, msg, sizeof msg, NULL, 0), 0);
	set_state(29, ENG_CS_DELETED);
	assert_int_equal(eng_on_contract_state(f->e, 29, ENG_CS_DELETED), 0);
	fh_lock();
	fh.delay_ms = 0;
	fh_unlock();
	idle(f);
	assert_int_equal(fh_count(27), 3);
	assert_int_equal(fh_count(28), 3);
	assert_int_equal(fh_count(29), 0);
	assert_int_equal(dep_state(f, 29), STORE_DEP_DELETED);
}

static void provision_failure_rolls_back_and_rejects(void **st)
{
	struct fx *f = *st;
	char msg[256];
	snprintf(fh.fail_name, sizeof fh.fail_name, "vm");
	mk_contract(3, USER_TWIN, NODE_ID, good_doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 3, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fh_count(3), 0);
	assert_int_equal(fh.deprovisions, 3);
	assert_int_equal(dep_state(f, 3), STORE_DEP_FAILED);
	assert_int_equal(fc.applied[3][FC_REJECT], 1);
	assert_int_equal(fc.applied[3][FC_DEPLOYED], 0);
	assert_non_null(strstr(fc.last_reason[3], "workload vm: image not found"));
	assert_int_equal(fc.c[3].present, 0);
	/* The capacity is free again. */
	struct prov_capacity r;
	eng_reserved(f->e, &r);
	assert_int_equal(r.sru, 0);
	assert_int_equal(r.cru, 0);
}

static void transient_errors_retry_never_reject(void **st)
{
	struct fx *f = *st;
	char msg[256];
	LOCKED(&fh.mu, fh.busy = 2);           /* provisioning busy twice */
	LOCKED(&fc.mu, fc.submit_fail = 3);    /* chain unreachable three times */
	mk_contract(3, USER_TWIN, NODE_ID, good_doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 3, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(dep_state(f, 3), STORE_DEP_DEPLOYED);
	assert_int_equal(fc.c[3].c.state, ENG_CS_DEPLOYED);
	assert_int_equal(fc.applied[3][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[3][FC_REJECT], 0);
	assert_int_equal(fh_count(3), 3);

	/* The reply to an applied call is lost: the resend sees it applied. */
	mk_contract(4, USER_TWIN, NODE_ID, good_doc, 0);
	LOCKED(&fc.mu, fc.submit_lost = 1);
	int before = fc.submits;
	assert_int_equal(deploy(f, USER_TWIN, 4, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fc.applied[4][FC_DEPLOYED], 1);
	assert_int_equal(fc.submits - before, 1);
	assert_int_equal(pending(f), 0);
	int done;
	char outcome[64];
	assert_int_equal(store_outbox_state(f->s, "deployed:4", &done, outcome, sizeof outcome), 0);
	assert_int_equal(done, 1);
	assert_string_equal(outcome, "ok (already deployed)");
}

static void lifecycle_pause_resume_delete(void **st)
{
	struct fx *f = *st;
	char msg[256];
	mk_contract(3, USER_TWIN, NODE_ID, good_doc, 0);
	mk_contract(4, USER_TWIN, NODE_ID, good_doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 3, msg, sizeof msg, NULL, 0), 0);
	assert_int_equal(deploy(f, USER_TWIN, 4, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fh_count(3), 3);
	assert_int_equal(fh_count(4), 3);

	set_state(3, ENG_CS_GRACE);
	assert_int_equal(eng_on_contract_state(f->e, 3, ENG_CS_GRACE), 0);
	idle(f);
	assert_int_equal(dep_state(f, 3), STORE_DEP_PAUSED);
	assert_int_equal(fh_paused(3), 3);
	assert_int_equal(fh_paused(4), 0);

	set_state(3, ENG_CS_DEPLOYED);
	assert_int_equal(eng_on_contract_state(f->e, 3, ENG_CS_DEPLOYED), 0);
	idle(f);
	assert_int_equal(dep_state(f, 3), STORE_DEP_DEPLOYED);
	assert_int_equal(fh_paused(3), 0);
	assert_int_equal(fh_count(3), 3);

	/* The same through the follower's events. */
	cJSON *ev = cJSON_Parse("{\"pallet\":\"SmartContractModule\",\"event\":"
				"\"ContractGracePeriodStarted\",\"data\":{\"contract_id\":3,"
				"\"node_id\":1,\"twin_id\":7,\"block_number\":9}}");
	assert_int_equal(eng_on_chain_event(f->e, ev), 0);
	cJSON_Delete(ev);
	idle(f);
	assert_int_equal(fh_paused(3), 3);
	ev = cJSON_Parse("{\"pallet\":\"SmartContractModule\",\"event\":\"ContractUpdated\","
			 "\"data\":{\"contract_id\":\"3\",\"state\":\"Deployed\"}}");
	assert_int_equal(eng_on_chain_event(f->e, ev), 0);
	cJSON_Delete(ev);
	idle(f);
	assert_int_equal(fh_paused(3), 0);
	ev = cJSON_Parse("{\"pallet\":\"SmartContractModule\",\"event\":"
			 "\"NodeContractCanceled\",\"data\":{\"node_id\":1}}");
	assert_int_equal(eng_on_chain_event(f->e, ev), ZE_MALFORMED);
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"pallet\":\"Balances\",\"event\":\"Transfer\",\"data\":{}}");
	assert_int_equal(eng_on_chain_event(f->e, ev), 0);
	cJSON_Delete(ev);
	assert_int_equal(fh_count(3), 3);

	set_state(3, ENG_CS_DELETED);
	ev = cJSON_Parse("{\"pallet\":\"SmartContractModule\",\"event\":"
			 "\"NodeContractCanceled\",\"data\":{\"contract_id\":3,\"node_id\":1,"
			 "\"twin_id\":7}}");
	assert_int_equal(eng_on_chain_event(f->e, ev), 0);
	cJSON_Delete(ev);
	idle(f);
	assert_int_equal(dep_state(f, 3), STORE_DEP_DELETED);
	assert_int_equal(fh_count(3), 0);
	struct store_dep d;
	assert_int_equal(store_dep_get(f->s, 3, &d, NULL, NULL), 0);
	assert_string_equal(d.reason, "contract deleted on chain");
	store_dep_clear(&d);

	/* An unreachable chain removes nothing... */
	LOCKED(&fc.mu, fc.sync_fail = 1);
	assert_true(eng_full_sync(f->e) < 0);
	LOCKED(&fc.mu, fc.sync_fail = 0);
	LOCKED(&fc.mu, fc.c[4].present = 0);
	LOCKED(&fc.mu, fc.read_fail = 1);
	assert_int_equal(eng_full_sync(f->e), 0);
	idle(f);
	assert_int_equal(fh_count(4), 3);
	assert_int_equal(dep_state(f, 4), STORE_DEP_DEPLOYED);
	/* ...a confirmed absence does. */
	assert_int_equal(eng_full_sync(f->e), 0);
	idle(f);
	assert_int_equal(fh_count(4), 0);
	assert_int_equal(dep_state(f, 4), STORE_DEP_DELETED);

	struct prov_capacity r;
	eng_reserved(f->e, &r);
	assert_int_equal(r.sru, 0);
	int64_t b;
	assert_int_equal(eng_cursor_get(f->e, &b), ZE_ABSENT);
	assert_int_equal(eng_cursor_set(f->e, 1234), 0);
	assert_int_equal(eng_cursor_get(f->e, &b), 0);
	assert_int_equal(b, 1234);
}

static void restart_adopts_retries_and_resends(void **st)
{
	struct fx *f = *st;
	char msg[256];
	mk_contract(3, USER_TWIN, NODE_ID, good_doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 3, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	assert_int_equal(fh.provisions, 3);

	/* Agent restart: healthy workloads are inspected, not touched. */
	restart(f);
	idle(f);
	assert_int_equal(fh.provisions, 3);
	assert_true(fh.inspects >= 3);
	assert_int_equal(fh_count(3), 3);

	/* Node reboot: the workloads are gone and are made again. */
	eng_free(f->e);
	f->e = NULL;
	memset(fh.w, 0, sizeof fh.w);
	restart(f);
	idle(f);
	assert_int_equal(fh.provisions, 6);
	assert_int_equal(fh_count(3), 3);
	assert_int_equal(fc.applied[3][FC_DEPLOYED], 1);

	/* A deploy interrupted mid-way (its job gave up while busy) and a
	 * chain call not yet sent are both finished by the next start. */
	mk_contract(4, USER_TWIN, NODE_ID, good_doc, 0);
	LOCKED(&fh.mu, fh.busy = 1000);
	assert_int_equal(deploy(f, USER_TWIN, 4, msg, sizeof msg, NULL, 0), 0);
	assert_int_equal(eng_wait_idle(f->e, 0, 5000), 0);
	assert_int_equal(dep_state(f, 4), STORE_DEP_DEPLOYING);
	assert_int_equal(fc.applied[4][FC_REJECT], 0);
	LOCKED(&fh.mu, fh.busy = 0);
	LOCKED(&fc.mu, fc.submit_fail = 1000);
	restart(f);
	assert_int_equal(eng_wait_idle(f->e, 0, 5000), 0);
	assert_int_equal(dep_state(f, 4), STORE_DEP_DEPLOYED);
	assert_int_equal(fh_count(4), 3);
	assert_int_equal(pending(f), 1);
	assert_int_equal(fc.applied[4][FC_DEPLOYED], 0);
	LOCKED(&fc.mu, fc.submit_fail = 0);
	restart(f);
	idle(f);
	assert_int_equal(pending(f), 0);
	assert_int_equal(fc.applied[4][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[3][FC_DEPLOYED], 1);
	assert_int_equal(fc.c[4].c.state, ENG_CS_DEPLOYED);

	/* A record damaged on disk is quarantined; start-up and the rest go on. */
	eng_free(f->e);
	f->e = NULL;
	store_close(f->s);
	f->s = NULL;
	char path[128];
	sqlite3 *db;
	snprintf(path, sizeof path, "%s/agent.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE workloads SET state='melted' WHERE contract_id=3",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	memset(fh.w, 0, sizeof fh.w);
	int before = fh.provisions;
	restart(f);
	idle(f);
	uint64_t q;
	assert_int_equal(store_quarantine_count(f->s, &q), 0);
	assert_int_equal(q, 4);
	struct store_dep d;
	assert_int_equal(store_dep_get(f->s, 3, &d, NULL, NULL), ZE_ABSENT);
	assert_int_equal(fh_count(4), 3);
	assert_int_equal(fh.provisions - before, 3);
}

/* A stop does not wait for a call's outcome: the engine cancels the wait
 * (eng_free returning at all is the check), the item stays in the outbox,
 * and the next start sends it once. */
static void stop_abandons_a_hanging_submit(void **st)
{
	struct fx *f = *st;
	char msg[256];
	LOCKED(&fc.mu, fc.submit_hang = 1);
	mk_contract(3, USER_TWIN, NODE_ID, good_doc, 0);
	assert_int_equal(deploy(f, USER_TWIN, 3, msg, sizeof msg, NULL, 0), 0);
	int hanging = 0;
	for (int i = 0; i < 500 && !hanging; i++) {
		LOCKED(&fc.mu, hanging = fc.hanging);
		if (!hanging)
			usleep(10000);
	}
	assert_int_equal(hanging, 1);
	eng_free(f->e);
	f->e = NULL;
	assert_int_equal(fc.cancelled, 1);
	assert_int_equal(fc.applied[3][FC_DEPLOYED], 0);
	assert_int_equal(pending(f), 1);
	LOCKED(&fc.mu, fc.submit_hang = 0);
	restart(f);
	idle(f);
	assert_int_equal(pending(f), 0);
	assert_int_equal(fc.applied[3][FC_DEPLOYED], 1);
	assert_int_equal(fc.c[3].c.state, ENG_CS_DEPLOYED);
}

#define DEPLOYED_1                                                                    \
	"{\"pallet\":\"SmartContractModule\",\"call\":\"set_contract_deployed\",\"args\":" \
	"{\"contract_id\":\"1\"}}"
#define REPORT_1                                                                      \
	"{\"pallet\":\"SmartContractModule\",\"call\":\"add_reports\",\"args\":[]}"

static void many_contracts_in_parallel(void **st)
{
	struct fx *f = *st;
	char msg[256];
	for (uint64_t id = 1; id < 16; id++) {
		mk_contract(id, USER_TWIN, NODE_ID,
			    "{\"version\":0,\"twin_id\":7,\"workloads\":[{\"version\":0,\"name\":\"d\","
			    "\"type\":\"zmount\",\"data\":{\"size\":10}}]}", 0);
		assert_int_equal(deploy(f, USER_TWIN, id, msg, sizeof msg, NULL, 0), 0);
	}
	/* Repeated and concurrent-looking commands change nothing. */
	for (uint64_t id = 1; id < 16; id++)
		assert_int_equal(deploy(f, USER_TWIN, id, msg, sizeof msg, NULL, 0), 0);
	idle(f);
	for (uint64_t id = 1; id < 16; id++) {
		assert_int_equal(fc.applied[id][FC_DEPLOYED], 1);
		assert_int_equal(fh_count(id), 1);
	}
	/* The outbox key of a fact is spent for good. */
	int added;
	assert_int_equal(eng_outbox_enqueue(f->e, 1, "deployed:1", DEPLOYED_1, &added),
			 0);
	assert_int_equal(added, 0);
	assert_int_equal(eng_outbox_enqueue(f->e, 1, "report:1:0", REPORT_1, &added), 0);
	assert_int_equal(added, 1);
	idle(f);
	assert_int_equal(fc.applied[1][FC_REPORTS], 1);
	assert_int_equal(fc.applied[1][FC_DEPLOYED], 1);
	/* A producer that names its call (the reporter, which reads the names
	 * from its own payload's opening): queued unparsed, once per key. */
	assert_int_equal(eng_outbox_enqueue_call(f->e, "SmartContractModule", "no_such_call", 1,
						 "report:1:1", REPORT_1, &added),
			 -EINVAL);
	assert_int_equal(rep_enqueue_engine(f->e, 1, "report:1:1", REPORT_1, &added), 0);
	assert_int_equal(added, 1);
	assert_int_equal(eng_outbox_enqueue_call(f->e, "SmartContractModule", "add_reports", 1,
						 "report:1:1", REPORT_1, &added),
			 0);
	assert_int_equal(added, 0);
	idle(f);
	assert_int_equal(fc.applied[1][FC_REPORTS], 2);
}

/* The worker that provisioned a deployment hands its set_contract_deployed,
 * due at once, to the submitter itself: no dispatcher wakeup between the
 * job and the chain call. */
static void worker_sends_its_call(void **st)
{
	struct fx *f = *st;
	char msg[256];
	/* The start's full sync is over (it holds the dispatcher, which then
	 * takes the rows queued meanwhile: the fallback, not what is tested). */
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&fc.mu);
		int n = fc.syncs;
		pthread_mutex_unlock(&fc.mu);
		if (n)
			break;
		usleep(2000);
	}
	idle(f);
	for (uint64_t id = 1; id < 4; id++) {
		mk_contract(id, USER_TWIN, NODE_ID,
			    "{\"version\":0,\"twin_id\":7,\"workloads\":[{\"version\":0,\"name\":\"d\","
			    "\"type\":\"zmount\",\"data\":{\"size\":10}}]}", 0);
		uint64_t w0 = store_write_count(f->s);
		pthread_mutex_lock(&fc.mu);
		int sub0 = fc.submits;
		pthread_mutex_unlock(&fc.mu);
		assert_int_equal(deploy(f, USER_TWIN, id, msg, sizeof msg, NULL, 0), 0);
		idle(f);
		/* Three write transactions per deploy: the acceptance, the
		 * provision result with deploying -> deployed and its row
		 * (already counted as sending), and the outcome. The row's send
		 * writes no mark of its own. */
		assert_int_equal(store_write_count(f->s) - w0, 3);
		assert_int_equal(fc.applied[id][FC_DEPLOYED], 1);
		fh_lock();
		pthread_t prov = fh.prov_thread;
		fh_unlock();
		pthread_mutex_lock(&fc.mu);
		int same = pthread_equal(fc.deployed_thread[id], prov);
		pthread_mutex_unlock(&fc.mu);
		assert_true(same);
		int done;
		char key[32];
		snprintf(key, sizeof key, "deployed:%llu", (unsigned long long)id);
		assert_int_equal(store_outbox_state(f->s, key, &done, NULL, 0), 0);
		assert_int_equal(done, 1);
		/* Sent once. */
		pthread_mutex_lock(&fc.mu);
		int sent = fc.submits - sub0;
		pthread_mutex_unlock(&fc.mu);
		assert_int_equal(sent, 1);
	}
	assert_int_equal(pending(f), 0);
}

/* Hash-only contracts get their sealed deployment with the command, checked
 * like on-chain data; contracts seen on chain are deployed without the
 * command, and a contract both paths see is deployed once. */
static void hash_only_and_adoption(void **st)
{
	struct fx *f = *st;
	char msg[256], b64[4096];
	fx_adopt = 1;
	restart(f);
	fx_adopt = 0;
	mk_contract(20, USER_TWIN, NODE_ID, good_doc, MK_HASHONLY);
	snprintf(b64, sizeof b64, "%s", hashonly_b64);
	/* Without the data: refused, not rejected (the owner may still send it),
	 * and the chain's event does not deploy it. */
	assert_int_equal(eng_adopt(f->e, 20), 0);
	assert_int_equal(deploy(f, USER_TWIN, 20, msg, sizeof msg, NULL, 0), ENG_E_BAD_REQUEST);
	assert_non_null(strstr(msg, "holds only the deployment's hash"));
	assert_int_equal(deploy_with_data(f, 20, "not base64!", msg, sizeof msg), ENG_E_BAD_REQUEST);
	assert_int_equal(deploy_with_data(f, 20, b64, msg, sizeof msg), 0);
	/* The same bytes under another hash: the hash check rejects it. */
	mk_contract(21, USER_TWIN, NODE_ID, good_doc, MK_HASHONLY | MK_BADHASH);
	assert_int_equal(deploy_with_data(f, 21, hashonly_b64, msg, sizeof msg), ENG_E_INVALID);
	assert_non_null(strstr(msg, "deployment_hash does not match"));
	/* Another twin's contract: its data is not the caller's to give. */
	mk_contract(22, OTHER_TWIN, NODE_ID, good_doc, MK_HASHONLY);
	assert_int_equal(deploy_with_data(f, 22, b64, msg, sizeof msg), ENG_E_FORBIDDEN);

	/* Seen on chain first (ContractCreated), then the deploy command. */
	mk_contract(23, USER_TWIN, NODE_ID, good_doc, 0);
	cJSON *ev = cJSON_Parse("{\"pallet\":\"SmartContractModule\",\"event\":"
				"\"ContractCreated\",\"data\":[{\"contract_id\":23}]}");
	assert_int_equal(eng_on_chain_event(f->e, ev), 0);
	cJSON_Delete(ev);
	assert_int_equal(eng_adopt(f->e, 23), 0);
	char status[32];
	/* The owner's command gets the answer the event path had (the same
	 * whichever path came first) while the deployment is still deploying,
	 * or the store's once its job finished; a repeat is answered from the
	 * store. */
	assert_int_equal(deploy(f, USER_TWIN, 23, msg, sizeof msg, status, sizeof status), 0);
	assert_true(!strcmp(status, "accepted") || !strcmp(status, "deployed"));
	assert_int_equal(deploy(f, USER_TWIN, 23, msg, sizeof msg, status, sizeof status), 0);
	assert_string_not_equal(status, "accepted");
	idle(f);
	assert_int_equal(fc.applied[20][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[21][FC_REJECT], 1);
	assert_int_equal(fc.applied[23][FC_DEPLOYED], 1);
	assert_int_equal(dep_state(f, 23), STORE_DEP_DEPLOYED);
}

static void created_event(struct fx *f, const char *contract_json)
{
	char text[256];
	snprintf(text, sizeof text,
		 "{\"pallet\":\"SmartContractModule\",\"event\":\"ContractCreated\",\"data\":[%s]}",
		 contract_json);
	cJSON *ev = cJSON_Parse(text);
	assert_non_null(ev);
	assert_int_equal(eng_on_chain_event(f->e, ev), 0);
	cJSON_Delete(ev);
}

/* The contract a ContractCreated event carries is adopted without reading
 * it again; another node's costs nothing; one that does not decode is read
 * from storage as before. */
static void adoption_from_the_event_reads_nothing(void **st)
{
	struct fx *f = *st;
	char msg[256], status[32];
	fx_adopt = 1;
	restart(f);
	fx_adopt = 0;
	/* Only the events adopt here: syncs (which adopt too) see nothing. */
	pthread_mutex_lock(&fc.mu);
	fc.sync_fail = 1;
	pthread_mutex_unlock(&fc.mu);
	idle(f);
	mk_contract(25, USER_TWIN, NODE_ID, good_doc, 0);
	mk_contract(26, USER_TWIN, NODE_ID + 1, good_doc, 0);
	mk_contract(27, USER_TWIN, NODE_ID, good_doc, 0);
	int decodes = fc.event_decodes;
	/* Reads on this thread: the follower's, which hands the events over
	 * (the deploy jobs may read contracts on their own threads). */
	pthread_mutex_lock(&fc.mu);
	fc.reader = pthread_self();
	fc.count_reads = 1;
	pthread_mutex_unlock(&fc.mu);
	created_event(f, "{\"contract_id\":25}");
	created_event(f, "{\"contract_id\":26}");
	created_event(f, "{\"contract_id\":27,\"undecodable\":true}");
	pthread_mutex_lock(&fc.mu);
	fc.count_reads = 0;
	int r25 = fc.c[25].reads, r26 = fc.c[26].reads, r27 = fc.c[27].reads;
	pthread_mutex_unlock(&fc.mu);
	assert_int_equal(r25, 0);
	assert_int_equal(r26, 0);
	assert_int_equal(r27, 1);
	assert_int_equal(fc.event_decodes, decodes + 2);
	/* The deploy command comes second, after the job finished (a user
	 * who deployed with `contract create` and asks later): it answers
	 * what the store says, "deployed", not the event path's "accepted",
	 * and reads nothing; so does its repeat. */
	int reads = fc.contract_reads;
	idle(f);
	assert_int_equal(deploy(f, USER_TWIN, 25, msg, sizeof msg, status, sizeof status), 0);
	assert_string_equal(status, "deployed");
	assert_int_equal(deploy(f, USER_TWIN, 25, msg, sizeof msg, status, sizeof status), 0);
	assert_string_equal(status, "deployed");
	assert_int_equal(fc.contract_reads, reads);
	idle(f);
	assert_int_equal(fc.applied[25][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[27][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[26][FC_DEPLOYED], 0);
	assert_int_equal(dep_state(f, 25), STORE_DEP_DEPLOYED);
	pthread_mutex_lock(&fc.mu);
	fc.sync_fail = 0;
	pthread_mutex_unlock(&fc.mu);
}

/* ---------------- the deploy command and the follower's events ---------------- */

/* A deploy command on its own thread (the RMB worker's), timed. */
/* A deploy command's success: "accepted" while the deployment is still
 * deploying, or the store's answer once its job moved on (the fake
 * provisioner is instant, so a command woken by the follower often finds
 * the job done). */
static int accepted_or_on(const char *status)
{
	return !strcmp(status, "accepted") || !strcmp(status, "deploying") ||
	       !strcmp(status, "deployed");
}

struct cmd {
	struct fx *f;
	uint64_t cid;
	const char *b64; /* "deployment", or NULL */
	pthread_t t;
	int code;
	char status[32], msg[256];
	int64_t start_ms, end_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *cmd_main(void *arg)
{
	struct cmd *c = arg;
	cJSON *p = cJSON_CreateObject(), *reply = NULL;
	cJSON_AddNumberToObject(p, "contract_id", (double)c->cid);
	if (c->b64)
		cJSON_AddStringToObject(p, "deployment", c->b64);
	c->start_ms = now_ms();
	int code = 0;
	int rc = eng_rmb_deploy(c->f->e, USER_TWIN, p, &reply, &code, c->msg, sizeof c->msg);
	c->end_ms = now_ms();
	c->code = rc == 0 ? 0 : code;
	const cJSON *st = cJSON_GetObjectItem(reply, "status");
	snprintf(c->status, sizeof c->status, "%s", cJSON_IsString(st) ? st->valuestring : "");
	cJSON_Delete(reply);
	cJSON_Delete(p);
	return NULL;
}

static void cmd_start(struct cmd *c, struct fx *f, uint64_t cid, const char *b64)
{
	memset(c, 0, sizeof *c);
	c->f = f;
	c->cid = cid;
	c->b64 = b64;
	assert_int_equal(pthread_create(&c->t, NULL, cmd_main, c), 0);
}

static void cmd_join(struct cmd *c)
{
	assert_int_equal(pthread_join(c->t, NULL), 0);
}

static int all_reads(uint64_t cid)
{
	pthread_mutex_lock(&fc.mu);
	int n = fc.c[cid].all_reads;
	pthread_mutex_unlock(&fc.mu);
	return n;
}

/* An engine adopting from events only (syncs see nothing), with wait_ms. */
static void events_only(struct fx *f, unsigned wait_ms)
{
	fx_adopt = 1;
	fx_wait_ms = wait_ms;
	restart(f);
	fx_adopt = 0;
	fx_wait_ms = 0;
	LOCKED(&fc.mu, fc.sync_fail = 1);
	idle(f);
}

/* A deploy command that arrives while the follower has the contract's
 * block announced and not processed waits for the block and answers what
 * its ContractCreated event accepted: no storage read, one acceptance. */
static void deploy_waits_for_the_pending_block(void **st)
{
	struct fx *f = *st;
	events_only(f, 2000);
	mk_contract(2, USER_TWIN, NODE_ID, good_doc, 0);
	eng_follow_done(f->e, 10);
	eng_follow_head(f->e, 11, 1);
	struct cmd c;
	cmd_start(&c, f, 2, NULL);
	usleep(150 * 1000);
	/* Still waiting for block 11 (it would have read and answered by now). */
	assert_int_equal(c.end_ms, 0);
	created_event(f, "{\"contract_id\":2}");
	eng_follow_done(f->e, 11);
	cmd_join(&c);
	assert_int_equal(c.code, 0);
	assert_true(accepted_or_on(c.status));
	assert_int_equal(all_reads(2), 0);
	idle(f);
	assert_int_equal(fc.applied[2][FC_DEPLOYED], 1);
	assert_int_equal(dep_state(f, 2), STORE_DEP_DEPLOYED);

	/* A hash-only contract: the event keeps it for the command, which
	 * brings the data and reads nothing either. */
	mk_contract(3, USER_TWIN, NODE_ID, good_doc, MK_HASHONLY);
	eng_follow_head(f->e, 12, 1);
	cmd_start(&c, f, 3, hashonly_b64);
	created_event(f, "{\"contract_id\":3}");
	eng_follow_done(f->e, 12);
	cmd_join(&c);
	assert_int_equal(c.code, 0);
	assert_true(accepted_or_on(c.status));
	assert_int_equal(all_reads(3), 0);
	/* ...unless the contract changed on chain after its event. */
	mk_contract(4, USER_TWIN, NODE_ID, good_doc, MK_HASHONLY);
	created_event(f, "{\"contract_id\":4}");
	cJSON *ev = cJSON_Parse("{\"pallet\":\"SmartContractModule\",\"event\":"
				"\"ContractUpdated\",\"data\":[{\"contract_id\":4,"
				"\"state\":\"Created\"}]}");
	assert_int_equal(eng_on_chain_event(f->e, ev), 0);
	cJSON_Delete(ev);
	char msg[256];
	assert_int_equal(deploy_with_data(f, 4, hashonly_b64, msg, sizeof msg), 0);
	assert_int_equal(all_reads(4), 1);

	/* The user heard of the block before the follower did: a contract
	 * newer than every ContractCreated seen waits for the next block. */
	mk_contract(5, USER_TWIN, NODE_ID, good_doc, 0);
	cmd_start(&c, f, 5, NULL);
	usleep(150 * 1000);
	assert_int_equal(c.end_ms, 0);
	eng_follow_head(f->e, 13, 1);
	created_event(f, "{\"contract_id\":5}");
	eng_follow_done(f->e, 13);
	cmd_join(&c);
	assert_int_equal(c.code, 0);
	assert_true(accepted_or_on(c.status));
	assert_int_equal(all_reads(5), 0);
	/* Not so when the follower polls for heads (HTTP): read at once. */
	mk_contract(6, USER_TWIN, NODE_ID, good_doc, 0);
	eng_follow_head(f->e, 13, 0);
	int64_t t0 = now_ms();
	assert_int_equal(deploy(f, USER_TWIN, 6, msg, sizeof msg, NULL, 0), 0);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(all_reads(6), 1);
	idle(f);
	assert_int_equal(fc.applied[3][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[4][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[5][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[6][FC_DEPLOYED], 1);
}

/* A waiting command is woken once, by what it waits for: a block before
 * the one it waits for does not wake it, nor does another contract's
 * outcome; its own block's acceptance does, and it answers from it. */
static void a_waiting_command_is_woken_once(void **st)
{
	struct fx *f = *st;
	events_only(f, 5000);
	mk_contract(20, USER_TWIN, NODE_ID, good_doc, 0);
	mk_contract(21, USER_TWIN, NODE_ID, good_doc, 0);
	eng_follow_done(f->e, 50);
	eng_follow_head(f->e, 52, 1);
	struct cmd c;
	uint64_t w0 = eng_follow_wakes(f->e);
	cmd_start(&c, f, 20, NULL);
	usleep(100 * 1000);
	assert_int_equal(c.end_ms, 0);
	/* Block 51 carries another contract: 20's command sleeps on. */
	created_event(f, "{\"contract_id\":21}");
	eng_follow_done(f->e, 51);
	usleep(100 * 1000);
	assert_int_equal(c.end_ms, 0);
	assert_int_equal(eng_follow_wakes(f->e), w0);
	created_event(f, "{\"contract_id\":20}");
	eng_follow_done(f->e, 52);
	cmd_join(&c);
	assert_int_equal(c.code, 0);
	assert_true(accepted_or_on(c.status));
	assert_int_equal(all_reads(20), 0);
	assert_int_equal(eng_follow_wakes(f->e), w0 + 1);
	assert_true(c.end_ms - c.start_ms < 2000);
	idle(f);
	assert_int_equal(fc.applied[20][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[21][FC_DEPLOYED], 1);
}

/* A command whose contract's event does not come reads it once: after the
 * wait bound, at once when the follower stalls, or once the pending block
 * is processed without it. Known contracts never wait. */
static void deploy_falls_back_to_one_read(void **st)
{
	struct fx *f = *st;
	events_only(f, 300);
	mk_contract(5, USER_TWIN, NODE_ID, good_doc, 0);
	eng_follow_done(f->e, 20);
	eng_follow_head(f->e, 21, 1);
	struct cmd c;
	cmd_start(&c, f, 5, NULL);
	cmd_join(&c);
	assert_int_equal(c.code, 0);
	assert_true(accepted_or_on(c.status));
	assert_int_equal(all_reads(5), 1);
	assert_true(c.end_ms - c.start_ms >= 280);
	assert_true(c.end_ms - c.start_ms < 2000);

	/* The follower fails its block: the wait ends then. */
	mk_contract(6, USER_TWIN, NODE_ID, good_doc, 0);
	events_only(f, 5000);
	eng_follow_done(f->e, 20);
	eng_follow_head(f->e, 21, 1);
	cmd_start(&c, f, 6, NULL);
	usleep(100 * 1000);
	assert_int_equal(c.end_ms, 0);
	eng_follow_stall(f->e);
	cmd_join(&c);
	assert_int_equal(c.code, 0);
	assert_int_equal(all_reads(6), 1);
	assert_true(c.end_ms - c.start_ms < 2000);

	/* The block is processed without the contract (another node's, an
	 * older one): read at once after it. */
	mk_contract(7, USER_TWIN, NODE_ID + 1, good_doc, 0);
	eng_follow_head(f->e, 22, 1);
	cmd_start(&c, f, 7, NULL);
	usleep(100 * 1000);
	assert_int_equal(c.end_ms, 0);
	eng_follow_done(f->e, 22);
	cmd_join(&c);
	assert_int_equal(c.code, ENG_E_FORBIDDEN);
	assert_int_equal(all_reads(7), 1);
	assert_true(c.end_ms - c.start_ms < 2000);

	/* A repeat is answered from the store without waiting; a follower far
	 * behind (catching up) is not waited for, nor one that polls (HTTP)
	 * for a contract newer than any seen. */
	eng_follow_head(f->e, 23, 1);
	int64_t t0 = now_ms();
	char msg[256], status[32];
	assert_int_equal(deploy(f, USER_TWIN, 5, msg, sizeof msg, status, sizeof status), 0);
	assert_string_not_equal(status, "accepted");
	mk_contract(8, USER_TWIN, NODE_ID, good_doc, 0);
	eng_follow_head(f->e, 100, 0);
	assert_int_equal(deploy(f, USER_TWIN, 8, msg, sizeof msg, status, sizeof status), 0);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(all_reads(8), 1);
	idle(f);
}

/* The command and the event race for the same contracts, in either order:
 * each is accepted once, the command's answer is the same whichever path
 * won (a rejection included), and one reject is queued for a bad one. */
static void racing_paths_accept_once(void **st)
{
	struct fx *f = *st;
	events_only(f, 2000);
	uint64_t block = 30;
	eng_follow_done(f->e, block);
	/* Every combination of event first or command first, a block pending
	 * or not, a good or a bad contract. */
	for (uint64_t cid = 9; cid < 17; cid++) {
		int i = (int)(cid - 9), evfirst = i & 1, pend = i & 2, bad = i & 4;
		mk_contract(cid, USER_TWIN, NODE_ID, good_doc, bad ? MK_BADHASH : 0);
		if (pend)
			eng_follow_head(f->e, ++block, 1);
		struct cmd c;
		char ev[64];
		snprintf(ev, sizeof ev, "{\"contract_id\":%llu}", (unsigned long long)cid);
		if (evfirst)
			created_event(f, ev);
		cmd_start(&c, f, cid, NULL);
		if (!evfirst) {
			usleep(20 * 1000);
			created_event(f, ev);
		}
		if (pend)
			eng_follow_done(f->e, block);
		cmd_join(&c);
		if (bad) {
			assert_int_equal(c.code, ENG_E_INVALID);
			assert_string_equal(c.msg,
					    "deployment_hash does not match the decrypted deployment");
		} else {
			assert_int_equal(c.code, 0);
			assert_true(accepted_or_on(c.status));
		}
		/* Read only when the command came before the event with nothing
		 * pending (it claimed first; the event then found it taken). */
		assert_true(all_reads(cid) <= (pend ? 0 : 1));
	}
	idle(f);
	for (uint64_t cid = 9; cid < 17; cid++) {
		if (cid >= 13) {
			assert_int_equal(fc.applied[cid][FC_REJECT], 1);
			assert_int_equal(dep_state(f, cid), STORE_DEP_FAILED);
		} else {
			assert_int_equal(fc.applied[cid][FC_DEPLOYED], 1);
			assert_int_equal(dep_state(f, cid), STORE_DEP_DEPLOYED);
		}
	}
}

/* On a durable store, the contracts one block's events accepted are made
 * durable by one sync at the block's end, and their waiting commands answer
 * without a sync of their own. */
static void a_block_of_acceptances_costs_one_sync(void **st)
{
	struct fx *f = *st;
	fx_adopt = 1;
	eng_free(f->e);
	store_close(f->s);
	assert_int_equal(store_open(f->dir, 0, &f->s), 0);
	start_engine(f);
	fx_adopt = 0;
	LOCKED(&fc.mu, fc.sync_fail = 1);
	idle(f);
	eng_follow_done(f->e, 40);
	eng_follow_head(f->e, 41, 1);
	struct cmd c[4];
	for (int i = 0; i < 4; i++) {
		mk_contract(2 + i, USER_TWIN, NODE_ID, good_doc, 0);
		cmd_start(&c[i], f, 2 + i, NULL);
	}
	usleep(50 * 1000);
	for (int i = 0; i < 4; i++) {
		char ev[64];
		snprintf(ev, sizeof ev, "{\"contract_id\":%d}", 2 + i);
		created_event(f, ev);
	}
	uint64_t before = store_sync_count(f->s), w0 = eng_follow_wakes(f->e);
	eng_follow_done(f->e, 41);
	uint64_t after = store_sync_count(f->s);
	/* Each waiting command woken once, with its outcome. */
	assert_int_equal(eng_follow_wakes(f->e) - w0, 4);
	for (int i = 0; i < 4; i++) {
		cmd_join(&c[i]);
		assert_int_equal(c[i].code, 0);
		assert_true(accepted_or_on(c[i].status));
		assert_int_equal(all_reads(2 + i), 0);
	}
	assert_int_equal(after - before, 1);
	assert_int_equal(store_sync_count(f->s), after);
	idle(f);
	for (int i = 0; i < 4; i++)
		assert_int_equal(fc.applied[2 + i][FC_DEPLOYED], 1);
}

/* A block's jobs queued under eng_hold_wakes run: the release wakes a worker
 * for them, and so does, before it, a chain read (a contract that does not
 * decode from its event is read) or a job queued long after the first held
 * one, so slow events never keep the block's first jobs waiting. */
static void held_wakes_are_delivered(void **st)
{
	struct fx *f = *st;
	fx_adopt = 1;
	restart(f);
	fx_adopt = 0;
	LOCKED(&fc.mu, fc.sync_fail = 1);
	idle(f);
	static const char disk_doc[] =
	    "{\"version\":0,\"twin_id\":7,\"workloads\":[{\"version\":0,\"name\":\"d\","
	    "\"type\":\"zmount\",\"data\":{\"size\":10}}]}";
	for (uint64_t id = 10; id < 16; id++)
		mk_contract(id, USER_TWIN, NODE_ID, disk_doc, 0);

	/* Released: all of them run. */
	eng_hold_wakes(f->e, 1);
	created_event(f, "{\"contract_id\":10}");
	created_event(f, "{\"contract_id\":11}");
	eng_hold_wakes(f->e, 0);
	idle(f);
	assert_int_equal(fc.applied[10][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[11][FC_DEPLOYED], 1);

	/* Still held, but a chain read came after the first job: that job
	 * runs (the one queued after the read is held: not waited for). */
	eng_hold_wakes(f->e, 1);
	created_event(f, "{\"contract_id\":12}");
	created_event(f, "{\"contract_id\":13,\"undecodable\":true}");
	int done = 0;
	for (int i = 0; i < 500 && !done; i++) {
		LOCKED(&fc.mu, done = fc.applied[12][FC_DEPLOYED]);
		if (!done)
			usleep(10000);
	}
	assert_int_equal(done, 1);
	eng_hold_wakes(f->e, 0);
	idle(f);
	assert_int_equal(fc.applied[13][FC_DEPLOYED], 1);

	/* Held, and the next job came well after the first held one: its
	 * enqueue wakes for both. */
	eng_hold_wakes(f->e, 1);
	created_event(f, "{\"contract_id\":14}");
	usleep(6000); /* three times the pacing bound (engine_pace.c) */
	created_event(f, "{\"contract_id\":15}");
	idle(f);
	assert_int_equal(fc.applied[14][FC_DEPLOYED], 1);
	assert_int_equal(fc.applied[15][FC_DEPLOYED], 1);
	eng_hold_wakes(f->e, 0);
	idle(f);
	for (uint64_t id = 10; id < 16; id++)
		assert_int_equal(fc.applied[id][FC_DEPLOYED], 1);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(valid_deploy_reaches_deployed, setup, teardown),
		cmocka_unit_test_setup_teardown(twin_cache_follows_a_key_change, setup, teardown),
		cmocka_unit_test_setup_teardown(refusals_name_the_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(image_policy_checked_at_accept, setup, teardown),
		cmocka_unit_test_setup_teardown(image_pulled_held_and_collected, setup, teardown),
		cmocka_unit_test_setup_teardown(claimed_ports_are_admitted_once, setup, teardown),
		cmocka_unit_test_setup_teardown(deleted_before_its_job_is_not_installed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(provision_failure_rolls_back_and_rejects, setup,
						teardown),
		cmocka_unit_test_setup_teardown(transient_errors_retry_never_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(lifecycle_pause_resume_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(restart_adopts_retries_and_resends, setup, teardown),
		cmocka_unit_test_setup_teardown(many_contracts_in_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(worker_sends_its_call, setup, teardown),
		cmocka_unit_test_setup_teardown(stop_abandons_a_hanging_submit, setup, teardown),
		cmocka_unit_test_setup_teardown(hash_only_and_adoption, setup, teardown),
		cmocka_unit_test_setup_teardown(adoption_from_the_event_reads_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(deploy_waits_for_the_pending_block, setup, teardown),
		cmocka_unit_test_setup_teardown(a_waiting_command_is_woken_once, setup, teardown),
		cmocka_unit_test_setup_teardown(deploy_falls_back_to_one_read, setup, teardown),
		cmocka_unit_test_setup_teardown(racing_paths_accept_once, setup, teardown),
		cmocka_unit_test_setup_teardown(a_block_of_acceptances_costs_one_sync, setup,
						teardown),
		cmocka_unit_test_setup_teardown(held_wakes_are_delivered, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
