/*
 * JSON-RPC transport: the endpoint list, the HTTP handle pool, one bounded
 * exchange (HTTP here, WebSocket in rpc_ws.c), retries and failover. The
 * health check lives in rpc_health.c, the typed method helpers in
 * rpc_methods.c.
 */
#include "chainclient/rpc.h"
#include "chainclient/rpc_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

static atomic_uint_fast64_t requests_total;

void rpc_count_request(void)
{
	atomic_fetch_add_explicit(&requests_total, 1, memory_order_relaxed);
}

uint64_t rpc_requests_total(void)
{
	return (uint64_t)atomic_load_explicit(&requests_total, memory_order_relaxed);
}

struct rpc_sink {
	struct zbuf buf;
	int toobig;
};

static pthread_once_t rpc_curl_once = PTHREAD_ONCE_INIT;
static int rpc_curl_rc;

static void rpc_curl_init(void)
{
	rpc_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

void rpc_opts_default(struct rpc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 3000;
	o->timeout_ms = 15000;
	o->retries = 3;
	o->backoff_ms = 200;
	o->backoff_max_ms = 5000;
	o->max_response = 32u << 20;
	o->pool_size = 4;
	o->health_ms = 5000;
	o->max_lag = 20;
}

/* Zero fields take defaults, so callers may set only what they care about. */
static void rpc_opts_fill(struct rpc_opts *o, const struct rpc_opts *in)
{
	struct rpc_opts d;

	rpc_opts_default(&d);
	if (!in) {
		*o = d;
		return;
	}
	*o = *in;
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = d.connect_timeout_ms;
	if (o->timeout_ms <= 0)
		o->timeout_ms = d.timeout_ms;
	if (o->retries < 0)
		o->retries = 0;
	if (o->backoff_ms <= 0)
		o->backoff_ms = d.backoff_ms;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = d.backoff_max_ms;
	if (o->max_response == 0)
		o->max_response = d.max_response;
	if (o->pool_size <= 0)
		o->pool_size = d.pool_size;
	if (o->pool_size > RPC_POOL_MAX)
		o->pool_size = RPC_POOL_MAX;
	if (o->health_ms <= 0)
		o->health_ms = 5000;
	if (o->max_lag == 0)
		o->max_lag = 20;
}

static void rpc_free_eps(struct rpc_client *c)
{
	for (int i = 0; i < c->nep; i++) {
		rpc_ws_free(c->ep[i].ws);
		free(c->ep[i].url);
	}
	c->nep = 0;
}

/* Splits the comma-separated list into endpoints; no URL is rewritten, as
 * ws:// and http:// are different transports. */
static int rpc_parse_eps(struct rpc_client *c, const char *list)
{
	const char *p = list;

	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, ", ");
		if (c->nep == RPC_MAX_EP) {
			log_err("chain", "more than %d chain endpoints in '%s'", RPC_MAX_EP, list);
			return ZE_CONFIG;
		}
		struct rpc_ep *e = &c->ep[c->nep];
		if (!(e->url = strndup(p, n)))
			return -ENOMEM;
		c->nep++;
		if (strncmp(e->url, "ws://", 5) == 0 || strncmp(e->url, "wss://", 6) == 0) {
			int rc = rpc_ws_new(e->url, &c->opts, &c->heads, &e->ws);
			if (rc < 0)
				return rc;
		} else if (!((strncmp(e->url, "http://", 7) == 0 && e->url[7]) ||
			     (strncmp(e->url, "https://", 8) == 0 && e->url[8]))) {
			log_err("chain", "'%s' is not an http://, https://, ws:// or wss:// URL",
				e->url);
			return ZE_CONFIG;
		}
		e->alive = 1;
		p += n;
	}
	if (c->nep == 0) {
		log_err("chain", "no chain endpoint in '%s'", list);
		return ZE_CONFIG;
	}
	return 0;
}

int rpc_client_new(const char *url, const struct rpc_opts *opts, struct rpc_client **out)
{
	struct rpc_client *c;
	int rc;

	*out = NULL;
	if (!url)
		return -EINVAL;
	pthread_once(&rpc_curl_once, rpc_curl_init);
	if (rpc_curl_rc)
		return rpc_curl_rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rpc_opts_fill(&c->opts, opts);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->heads.lock, NULL);
	if (clk_cond_init(&c->heads.cond) < 0) {
		pthread_mutex_destroy(&c->heads.lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return -ENOMEM;
	}
	c->next_id = 1;
	if (rpc_coal_init(&c->coal) < 0) {
		pthread_cond_destroy(&c->heads.cond);
		pthread_mutex_destroy(&c->heads.lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return -ENOMEM;
	}
	rc = -ENOMEM;
	if (!(c->url = strdup(url)))
		goto fail;
	/* zos-cli and other tools name a private CA through the environment;
	 * the agent through chain.ca_file. */
	const char *cafile = c->opts.ca_file;
	if (!cafile || !*cafile)
		cafile = getenv("ZOS_CHAIN_CA_FILE");
	if (cafile && *cafile && !(c->ca_file = strdup(cafile)))
		goto fail;
	c->opts.ca_file = c->ca_file;
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!c->headers)
		goto fail;
	/* Without this header curl waits up to a second for a 100-continue. */
	struct curl_slist *h = curl_slist_append(c->headers, "Expect:");
	if (!h)
		goto fail;
	c->headers = h;
	if ((rc = rpc_parse_eps(c, url)) < 0)
		goto fail;
	if ((rc = rpc_health_start(c)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	rpc_free_eps(c);
	rpc_coal_destroy(&c->coal);
	curl_slist_free_all(c->headers);
	pthread_cond_destroy(&c->heads.cond);
	pthread_mutex_destroy(&c->heads.lock);
	pthread_mutex_destroy(&c->lock);
	free(c->ca_file);
	free(c->url);
	free(c);
	return rc;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	rpc_health_stop(c);
	rpc_free_eps(c);
	for (int i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	curl_slist_free_all(c->headers);
	rpc_coal_destroy(&c->coal);
	pthread_cond_destroy(&c->heads.cond);
	pthread_mutex_destroy(&c->heads.lock);
	pthread_mutex_destroy(&c->lock);
	free(c->ca_file);
	free(c->url);
	free(c);
}

const char *rpc_client_url(const struct rpc_client *c) { return c->url; }

const char *rpc_client_endpoint(struct rpc_client *c)
{
	return c->ep[atomic_load(&c->active)].url;
}

void rpc_client_stats(struct rpc_client *c, struct rpc_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&c->coal.mu);
	out->read_batches = c->coal.batches;
	out->batched_reads = c->coal.reads;
	pthread_mutex_unlock(&c->coal.mu);
	/* The endpoints are fixed when the client is made. */
	for (int i = 0; i < c->nep; i++)
		if (c->ep[i].ws)
			out->io_cpu_ns += rpc_ws_cpu_ns(c->ep[i].ws);
}

static size_t rpc_write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct rpc_sink *s = ud;
	size_t n = size * nmemb;

	if (zbuf_put(&s->buf, p, n) < 0) {
		s->toobig = 1;
		return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

/* curl calls this during a transfer; non-zero ends it (rpc_abort). */
static int rpc_progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			   curl_off_t ultotal, curl_off_t ulnow)
{
	struct rpc_client *c = clientp;

	return atomic_load(&c->aborted);
}

static CURL *rpc_handle_new(struct rpc_client *c)
{
	CURL *h = curl_easy_init();
	int bad = 0;

	if (!h)
		return NULL;
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK;
	/* Signals are not usable for timeouts in a threaded daemon. */
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->opts.timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
				(curl_off_t)c->opts.max_response) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rpc_write_cb) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, rpc_progress_cb) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_XFERINFODATA, c) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
	if (c->ca_file)
		bad |= curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) != CURLE_OK;
	if (bad) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

static CURL *rpc_handle_get(struct rpc_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->npool > 0)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->lock);
	if (h)
		return h;
	h = rpc_handle_new(c);
	if (h) {
		pthread_mutex_lock(&c->lock);
		c->stats.handles_created++;
		pthread_mutex_unlock(&c->lock);
	}
	return h;
}

static void rpc_handle_put(struct rpc_client *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	if (c->npool < c->opts.pool_size) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
}

static void rpc_sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The process's last transport failure (rpc_last_failure): one record for
 * every client and thread, as a submitter's worker makes its calls for the
 * thread that waits on it. Only messages read it. */
static pthread_mutex_t rpc_fail_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rpc_failure_info rpc_fail;

static void rpc_note_failure(enum rpc_failure kind, const char *url, long status,
			     const char *detail)
{
	pthread_mutex_lock(&rpc_fail_lock);
	rpc_fail.kind = kind;
	rpc_fail.http_status = status;
	snprintf(rpc_fail.url, sizeof rpc_fail.url, "%s", url ? url : "");
	snprintf(rpc_fail.detail, sizeof rpc_fail.detail, "%s", detail ? detail : "");
	pthread_mutex_unlock(&rpc_fail_lock);
}

void rpc_last_failure(struct rpc_failure_info *out)
{
	pthread_mutex_lock(&rpc_fail_lock);
	*out = rpc_fail;
	pthread_mutex_unlock(&rpc_fail_lock);
}

static void rpc_note_curl(CURL *h, const char *url, CURLcode rc)
{
	long oserr = 0;
	enum rpc_failure kind = RPC_FAIL_OTHER;

	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		kind = RPC_FAIL_TIMEOUT;
	else if (rc == CURLE_COULDNT_RESOLVE_HOST)
		kind = RPC_FAIL_RESOLVE;
	else if (rc == CURLE_COULDNT_CONNECT)
		kind = oserr == ETIMEDOUT ? RPC_FAIL_TIMEOUT
		       : oserr == ECONNREFUSED || oserr == 0 ? RPC_FAIL_REFUSED
							     : RPC_FAIL_OTHER;
	rpc_note_failure(kind, url, 0, curl_easy_strerror(rc));
}

/*
 * One HTTP exchange. Returns 0 with the body in s, ZE_UNKNOWN for a failure
 * worth retrying (*retry set), or a final error.
 */
static int rpc_attempt(struct rpc_client *c, CURL *h, const char *url, const char *body,
		       size_t blen, struct rpc_sink *s, int once, int *retry)
{
	CURLcode rc;
	long status = 0;

	*retry = 0;
	zbuf_reset(&s->buf);
	s->toobig = 0;
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, s) != CURLE_OK)
		return -ENOMEM;
	rpc_count_request();
	rc = curl_easy_perform(h);
	if (s->toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		log_warn("chain", "%s: response over %zu bytes", url, c->opts.max_response);
		return ZE_TOOBIG;
	}
	if (rc != CURLE_OK) {
		log_debug("chain", "%s: %s", url, curl_easy_strerror(rc));
		rpc_note_curl(h, url, rc);
		/* Without a connection the request cannot have been seen. */
		if (once)
			*retry = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
		else
			*retry = rc != CURLE_OUT_OF_MEMORY;
		return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : ZE_UNKNOWN;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 500 || status == 429) {
		log_debug("chain", "%s: HTTP %ld", url, status);
		rpc_note_failure(RPC_FAIL_HTTP, url, status, NULL);
		/* 429 and 503 say the request was not processed; another 5xx
		 * may come after the node acted on it. */
		*retry = !once || status == 429 || status == 503;
		return ZE_UNKNOWN;
	}
	if (status != 200) {
		log_warn("chain", "%s: HTTP %ld", url, status);
		rpc_note_failure(RPC_FAIL_HTTP, url, status, NULL);
		return ZE_UNKNOWN;
	}
	return 0;
}

static void rpc_copy_str(char *dst, size_t dsz, const char *src)
{
	size_t n = strnlen(src, dsz - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void rpc_fill_error(const cJSON *e, struct rpc_error *err)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");

	memset(err, 0, sizeof(*err));
	if (cJSON_IsNumber(code))
		err->code = (long)code->valuedouble;
	if (cJSON_IsString(msg))
		rpc_copy_str(err->message, sizeof(err->message), msg->valuestring);
	if (cJSON_IsString(data)) {
		rpc_copy_str(err->data, sizeof(err->data), data->valuestring);
	} else if (data) {
		char *t = cJSON_PrintUnformatted(data);
		if (t) {
			rpc_copy_str(err->data, sizeof(err->data), t);
			free(t);
		}
	}
}

/* Checks the envelope and takes out result or error. */
static int rpc_parse(const char *url, const struct zbuf *body, uint64_t id, cJSON **result,
		     struct rpc_error *err)
{
	cJSON *root = cJSON_ParseWithLength((const char *)body->data, body->len);
	const cJSON *ver, *rid, *e;
	cJSON *res;
	int ret = ZE_UNKNOWN;

	if (!root || !cJSON_IsObject(root)) {
		log_warn("chain", "%s: response is not a JSON object", url);
		goto out;
	}
	ver = cJSON_GetObjectItemCaseSensitive(root, "jsonrpc");
	rid = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0 || !cJSON_IsNumber(rid) ||
	    rid->valuedouble != (double)id) {
		log_warn("chain", "%s: response envelope or id does not match", url);
		goto out;
	}
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (e) {
		struct rpc_error tmp;
		if (!cJSON_IsObject(e))
			goto out;
		rpc_fill_error(e, err ? err : &tmp);
		ret = ZE_CHAIN;
		goto out;
	}
	res = cJSON_DetachItemFromObjectCaseSensitive(root, "result");
	if (!res) {
		log_warn("chain", "%s: response has neither result nor error", url);
		goto out;
	}
	*result = res;
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}

static char *rpc_request_body(const char *method, const cJSON *params, uint64_t id)
{
	cJSON *req = cJSON_CreateObject(), *p;
	char *s = NULL;

	if (!req)
		return NULL;
	p = params ? cJSON_Duplicate(params, 1) : cJSON_CreateArray();
	if (!p || !cJSON_AddStringToObject(req, "jsonrpc", "2.0") ||
	    !cJSON_AddNumberToObject(req, "id", (double)id) ||
	    !cJSON_AddStringToObject(req, "method", method)) {
		cJSON_Delete(p);
		goto out;
	}
	cJSON_AddItemToObject(req, "params", p);
	s = cJSON_PrintUnformatted(req);
out:
	cJSON_Delete(req);
	return s;
}

/* One exchange with endpoint i: HTTP or WebSocket. */
static int rpc_exchange(struct rpc_client *c, int i, const char *body, uint64_t id, uint64_t nids,
			int once, struct rpc_sink *sink, int *retry)
{
	struct rpc_ep *e = &c->ep[i];

	pthread_mutex_lock(&c->lock);
	c->stats.requests++;
	pthread_mutex_unlock(&c->lock);
	if (e->ws) {
		zbuf_reset(&sink->buf);
		int rc = rpc_ws_exchange(e->ws, body, strlen(body), id, nids, once, &sink->buf, retry);
		if (rc < 0)
			rpc_note_failure(rc == ZE_TIMEOUT ? RPC_FAIL_TIMEOUT
				         : rpc_ws_refused(e->ws) ? RPC_FAIL_REFUSED
							           : RPC_FAIL_OTHER,
				         e->url, 0, zerr_str(rc));
		return rc;
	}
	CURL *h = rpc_handle_get(c);
	if (!h)
		return -ENOMEM;
	int ret = rpc_attempt(c, h, e->url, body, strlen(body), sink, once, retry);
	rpc_handle_put(c, h);
	return ret;
}

uint64_t rpc_next_id(struct rpc_client *c)
{
	return rpc_next_ids(c, 1);
}

uint64_t rpc_next_ids(struct rpc_client *c, uint64_t n)
{
	pthread_mutex_lock(&c->lock);
	uint64_t id = c->next_id;
	c->next_id += n;
	pthread_mutex_unlock(&c->lock);
	return id;
}

int rpc_call_ep(struct rpc_client *c, int i, const char *method, const cJSON *params,
		cJSON **result)
{
	struct rpc_sink sink;
	uint64_t id = rpc_next_id(c);
	char *body = rpc_request_body(method, params, id);
	int retry, ret;

	*result = NULL;
	if (!body)
		return -ENOMEM;
	zbuf_init(&sink.buf, c->opts.max_response);
	ret = rpc_exchange(c, i, body, id, 1, 0, &sink, &retry);
	if (ret == 0)
		ret = rpc_parse(c->ep[i].url, &sink.buf, id, result, NULL);
	zbuf_free(&sink.buf);
	free(body);
	return ret;
}

/* A transport failure on endpoint i: with others configured, the next
 * healthy one takes over at once; the health check may bring i back. */
static void rpc_failover(struct rpc_client *c, int i)
{
	if (c->nep < 2)
		return;
	pthread_mutex_lock(&c->lock);
	c->ep[i].alive = 0;
	if (atomic_load(&c->active) == i) {
		for (int k = 1; k <= c->nep; k++) {
			int j = (i + k) % c->nep;
			if (c->ep[j].alive && !c->ep[j].lagging) {
				atomic_store(&c->active, j);
				break;
			}
		}
		/* None looks healthy: try the next one anyway. */
		if (atomic_load(&c->active) == i)
			atomic_store(&c->active, (i + 1) % c->nep);
	}
	int now = atomic_load(&c->active);
	pthread_mutex_unlock(&c->lock);
	if (now != i)
		log_warn("chain", "%s does not answer; using %s", c->ep[i].url, c->ep[now].url);
}

int rpc_send(struct rpc_client *c, const char *body, uint64_t id, uint64_t nids, int once,
             const char *what, struct zbuf *out, int *ep)
{
	struct rpc_sink sink = {.buf = *out};
	int ret = ZE_UNKNOWN, retry, i = 0;
	/* Each endpoint gets the configured number of attempts. */
	int attempts = (c->opts.retries + 1) * c->nep;

	rpc_note_failure(RPC_FAIL_NONE, NULL, 0, NULL);
	for (int attempt = 0; attempt < attempts && !atomic_load(&c->aborted); attempt++) {
		/* Back off only after every endpoint failed once more. */
		if (attempt > 0 && attempt % c->nep == 0) {
			rpc_sleep_ms((long)backoff_delay(c->opts.backoff_ms, c->opts.backoff_max_ms,
			                                 (unsigned)(attempt / c->nep - 1), 0));
		}
		if (attempt > 0) {
			pthread_mutex_lock(&c->lock);
			c->stats.retries++;
			pthread_mutex_unlock(&c->lock);
		}
		i = atomic_load(&c->active);
		ret = rpc_exchange(c, i, body, id, nids, once, &sink, &retry);
		if (ret == 0 || !retry)
			break;
		rpc_failover(c, i);
	}
	if (ret == ZE_UNKNOWN && !atomic_load(&c->aborted))
		log_warn("chain", "%s %s: no answer after %d attempt(s)", c->url, what, attempts);
	*out = sink.buf;
	*ep = i;
	return ret;
}

static int rpc_call_mode(struct rpc_client *c, const char *method, const cJSON *params,
			 int once, cJSON **result, struct rpc_error *err)
{
	struct zbuf buf;
	uint64_t id;
	char *body;
	int ret, i = 0;

	*result = NULL;
	if (params && !cJSON_IsArray(params))
		return -EINVAL;
	id = rpc_next_id(c);
	body = rpc_request_body(method, params, id);
	if (!body)
		return -ENOMEM;
	zbuf_init(&buf, c->opts.max_response);
	ret = rpc_send(c, body, id, 1, once, method, &buf, &i);
	if (ret == 0)
		ret = rpc_parse(c->ep[i].url, &buf, id, result, err);
	zbuf_free(&buf);
	free(body);
	return ret;
}

void rpc_abort(struct rpc_client *c)
{
	atomic_store(&c->aborted, 1);
	for (int i = 0; i < c->nep; i++)
		if (c->ep[i].ws)
			rpc_ws_abort(c->ep[i].ws);
}

int rpc_call(struct rpc_client *c, const char *method, const cJSON *params,
	     cJSON **result, struct rpc_error *err)
{
	return rpc_call_mode(c, method, params, 0, result, err);
}

int rpc_call_once(struct rpc_client *c, const char *method, const cJSON *params,
		  cJSON **result, struct rpc_error *err)
{
	return rpc_call_mode(c, method, params, 1, result, err);
}

int rpc_call_text(struct rpc_client *c, const char *method, const char *params_json,
		  cJSON **result, struct rpc_error *err)
{
	cJSON *p = NULL;
	int ret;

	*result = NULL;
	if (params_json) {
		p = cJSON_Parse(params_json);
		if (!p)
			return -EINVAL;
	}
	ret = rpc_call(c, method, p, result, err);
	cJSON_Delete(p);
	return ret;
}
