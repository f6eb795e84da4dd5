/*
 * JSON-RPC batches: several calls in one request (one HTTP POST or one
 * WebSocket frame, a JSON array of request objects), each call getting its
 * own result or error; and coalesced storage reads, which put the
 * state_getStorage calls that several threads make at about the same time
 * into one such batch. Substrate (jsonrpsee), Chopsticks and tfchain-dev
 * answer batches over both transports; a server that refuses them gets the
 * calls one by one instead, and the client stops trying batches with it.
 */
#include "chainclient/rpc.h"
#include "chainclient/rpc_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/zerr.h"

/* The calls one coalesced batch takes at most; later ones wait for the
 * next. Far below any server's batch limit (jsonrpsee's default is 1000,
 * tfchain-dev's DEV_RPC_BATCH_MAX). */
#define RPC_COALESCE_MAX 32

static void batch_clear(struct rpc_batch_call *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		calls[i].rc = ZE_UNKNOWN;
		calls[i].result = NULL;
		memset(&calls[i].err, 0, sizeof calls[i].err);
	}
}

/* The calls one by one: for a server without batches. */
static void batch_one_by_one(struct rpc_client *c, struct rpc_batch_call *calls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		calls[i].rc =
		    rpc_call(c, calls[i].method, calls[i].params, &calls[i].result, &calls[i].err);
}

static char *batch_body(const struct rpc_batch_call *calls, size_t n, uint64_t base)
{
	cJSON *arr = cJSON_CreateArray();
	char *s = NULL;

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		cJSON *req = cJSON_CreateObject();
		cJSON *p =
		    calls[i].params ? cJSON_Duplicate(calls[i].params, 1) : cJSON_CreateArray();
		if (!req || !p || !cJSON_AddItemToArray(arr, req) ||
		    !cJSON_AddStringToObject(req, "jsonrpc", "2.0") ||
		    !cJSON_AddNumberToObject(req, "id", (double)(base + i)) ||
		    !cJSON_AddStringToObject(req, "method", calls[i].method)) {
			cJSON_Delete(p);
			goto out;
		}
		cJSON_AddItemToObject(req, "params", p);
	}
	s = cJSON_PrintUnformatted(arr);
out:
	cJSON_Delete(arr);
	return s;
}

/*
 * Takes each call's answer out of the response array (entries in any
 * order). 1 when the server answered with something other than an array
 * (it does not take batches), 0 otherwise; an entry that is missing leaves
 * its call ZE_UNKNOWN.
 */
static int batch_parse(const char *url, const struct zbuf *body, struct rpc_batch_call *calls,
                       size_t n, uint64_t base)
{
	cJSON *root = cJSON_ParseWithLength((const char *)body->data, body->len);
	cJSON *e;

	if (!cJSON_IsArray(root)) {
		int refused = cJSON_IsObject(root);
		if (!refused)
			log_warn("chain", "%s: a batch's response is not JSON", url);
		cJSON_Delete(root);
		return refused;
	}
	cJSON_ArrayForEach(e, root)
	{
		const cJSON *ver = cJSON_GetObjectItemCaseSensitive(e, "jsonrpc");
		const cJSON *rid = cJSON_GetObjectItemCaseSensitive(e, "id");
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
		if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0 ||
		    !cJSON_IsNumber(rid) || rid->valuedouble < (double)base ||
		    rid->valuedouble >= (double)(base + n))
			continue;
		size_t i = (size_t)(rid->valuedouble - (double)base);
		if ((double)(base + i) != rid->valuedouble || calls[i].rc != ZE_UNKNOWN ||
		    calls[i].result)
			continue; /* not an integer id, or a second answer */
		if (err) {
			if (cJSON_IsObject(err)) {
				rpc_fill_error(err, &calls[i].err);
				calls[i].rc = ZE_CHAIN;
			}
			continue;
		}
		cJSON *res = cJSON_DetachItemFromObjectCaseSensitive(e, "result");
		if (res) {
			calls[i].result = res;
			calls[i].rc = 0;
		}
	}
	cJSON_Delete(root);
	return 0;
}

int rpc_call_batch_text(struct rpc_client *c, struct rpc_batch_call *calls, size_t n,
			struct rpc_batch_text *t)
{
	t->base = 0;
	t->ep = 0;
	zbuf_init(&t->text, c->opts.max_response);
	batch_clear(calls, n);
	for (size_t i = 0; i < n; i++)
		if (!calls[i].method || (calls[i].params && !cJSON_IsArray(calls[i].params)))
			return -EINVAL;
	if (n == 0)
		return 0;
	if (n == 1 || atomic_load(&c->no_batch)) {
		batch_one_by_one(c, calls, n);
		return 0;
	}
	t->base = rpc_next_ids(c, n);
	char *body = batch_body(calls, n, t->base);
	if (!body)
		return -ENOMEM;
	int rc = rpc_send(c, body, t->base, n, 0, "batch", &t->text, &t->ep);
	free(body);
	if (rc == ZE_TOOBIG) {
		/* Answers too large together may each fit alone: one large
		 * value must not fail the others' calls. */
		batch_one_by_one(c, calls, n);
	} else if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			calls[i].rc = rc;
	}
	if (rc < 0)
		zbuf_reset(&t->text);
	return 0;
}

void rpc_batch_answers(struct rpc_client *c, struct rpc_batch_call *calls, size_t n,
		       struct rpc_batch_text *t)
{
	if (!t->text.len)
		return;
	if (batch_parse(c->ep[t->ep].url, &t->text, calls, n, t->base) == 1) {
		/* An error object for the whole request: no batches here. */
		if (!atomic_exchange(&c->no_batch, 1))
			log_info("chain",
			         "%s does not take JSON-RPC batches; sending calls one by one",
			         c->ep[t->ep].url);
		batch_one_by_one(c, calls, n);
	}
	zbuf_reset(&t->text);
}

int rpc_call_batch(struct rpc_client *c, struct rpc_batch_call *calls, size_t n)
{
	struct rpc_batch_text t;
	int rc = rpc_call_batch_text(c, calls, n, &t);
	if (rc == 0)
		rpc_batch_answers(c, calls, n, &t);
	zbuf_free(&t.text);
	return rc;
}

void rpc_batch_free(struct rpc_batch_call *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cJSON_Delete(calls[i].result);
		calls[i].result = NULL;
	}
}

/* ---- coalesced storage reads ---- */

/* One thread's read waiting in the queue. */
struct rpc_coal_req {
	struct rpc_coal_req *next;
	const uint8_t *key;
	size_t keylen, max;
	uint8_t *out;
	size_t outlen;
	int rc;
	int done;
};

int rpc_coal_init(struct rpc_coal *q)
{
	memset(q, 0, sizeof *q);
	if (pthread_mutex_init(&q->mu, NULL))
		return -ENOMEM;
	if (pthread_cond_init(&q->cv, NULL)) {
		pthread_mutex_destroy(&q->mu);
		return -ENOMEM;
	}
	return 0;
}

void rpc_coal_destroy(struct rpc_coal *q)
{
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
}

static void coal_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Sends the taken requests as one batch and fills in their answers. */
static void coal_send(struct rpc_client *c, struct rpc_coal_req **taken, size_t n)
{
	struct rpc_batch_call calls[RPC_COALESCE_MAX];
	cJSON *params[RPC_COALESCE_MAX];
	int rc = 0;

	memset(calls, 0, sizeof calls);
	for (size_t i = 0; i < n; i++) {
		params[i] = cJSON_CreateArray();
		if (!params[i] || rpc_add_hex(params[i], taken[i]->key, taken[i]->keylen) < 0)
			rc = -ENOMEM;
		calls[i].method = "state_getStorage";
		calls[i].params = params[i];
	}
	if (rc == 0)
		rc = rpc_call_batch(c, calls, n);
	for (size_t i = 0; i < n; i++) {
		struct rpc_coal_req *r = taken[i];
		r->rc = rc < 0 ? rc : calls[i].rc;
		if (r->rc == 0)
			r->rc = rpc_hex_result(calls[i].result, r->max, &r->out, &r->outlen);
		cJSON_Delete(params[i]);
	}
	rpc_batch_free(calls, n);
}

int rpc_get_storage_coalesced(struct rpc_client *c, const uint8_t *key, size_t keylen, size_t max,
                              uint8_t **out, size_t *outlen)
{
	struct rpc_coal *q = &c->coal;
	struct rpc_coal_req me = {.key = key, .keylen = keylen, .max = max, .rc = ZE_UNKNOWN};

	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = &me;
	else
		q->head = &me;
	q->tail = &me;
	while (!me.done) {
		if (q->busy) {
			pthread_cond_wait(&q->cv, &q->mu);
			continue;
		}
		/* Leader: the reads that arrive while this one waits its window
		 * or while a batch is in flight go in one request together. */
		q->busy = 1;
		if (c->opts.coalesce_ms > 0) {
			pthread_mutex_unlock(&q->mu);
			coal_sleep_ms(c->opts.coalesce_ms);
			pthread_mutex_lock(&q->mu);
		}
		struct rpc_coal_req *taken[RPC_COALESCE_MAX];
		size_t n = 0;
		while (q->head && n < RPC_COALESCE_MAX) {
			taken[n++] = q->head;
			q->head = q->head->next;
		}
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->mu);
		coal_send(c, taken, n);
		pthread_mutex_lock(&q->mu);
		for (size_t i = 0; i < n; i++)
			taken[i]->done = 1;
		q->busy = 0;
		q->batches++;
		q->reads += n;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	*out = me.out;
	*outlen = me.outlen;
	return me.rc;
}
