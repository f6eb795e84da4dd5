/*
 * JSON-RPC transport: handle pool, one bounded HTTP exchange, retries.
 * The typed method helpers live in rpc_methods.c.
 */
#include "chainclient/rpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/zerr.h"

#define RPC_POOL_MAX 64

struct rpc_client {
	char *url;
	struct rpc_opts opts;
	struct curl_slist *headers; /* read-only once built, shared by all handles */
	pthread_mutex_t lock;       /* guards pool, npool, next_id and stats */
	CURL *pool[RPC_POOL_MAX];
	int npool;
	uint64_t next_id;
	struct rpc_stats stats;
	atomic_int aborted; /* rpc_abort: every exchange ends now */
};

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
}

/* A real node serves HTTP and WebSocket on one port, so a ws:// URL from a
 * user's config is served over http:// here. */
static char *rpc_url_normalize(const char *url)
{
	const char *rest = NULL, *scheme = NULL;

	if (strncmp(url, "ws://", 5) == 0) {
		scheme = "http://";
		rest = url + 5;
	} else if (strncmp(url, "wss://", 6) == 0) {
		scheme = "https://";
		rest = url + 6;
	} else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
		return strdup(url);
	} else {
		return NULL;
	}
	size_t n = strlen(scheme) + strlen(rest) + 1;
	char *s = malloc(n);
	if (!s)
		return NULL;
	memcpy(s, scheme, strlen(scheme));
	memcpy(s + strlen(scheme), rest, strlen(rest) + 1);
	return s;
}

int rpc_client_new(const char *url, const struct rpc_opts *opts, struct rpc_client **out)
{
	struct rpc_client *c;

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
	c->url = rpc_url_normalize(url);
	if (!c->url) {
		free(c);
		return ZE_CONFIG;
	}
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!c->headers) {
		free(c->url);
		free(c);
		return -ENOMEM;
	}
	/* Without this header curl waits up to a second for a 100-continue. */
	struct curl_slist *h = curl_slist_append(c->headers, "Expect:");
	if (!h) {
		curl_slist_free_all(c->headers);
		free(c->url);
		free(c);
		return -ENOMEM;
	}
	c->headers = h;
	pthread_mutex_init(&c->lock, NULL);
	c->next_id = 1;
	*out = c;
	return 0;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	curl_slist_free_all(c->headers);
	pthread_mutex_destroy(&c->lock);
	free(c->url);
	free(c);
}

const char *rpc_client_url(const struct rpc_client *c) { return c->url; }

void rpc_client_stats(struct rpc_client *c, struct rpc_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
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
	bad |= curl_easy_setopt(h, CURLOPT_URL, c->url) != CURLE_OK;
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

/*
 * One HTTP exchange. Returns 0 with the body in s, ZE_UNKNOWN for a failure
 * worth retrying (*retry set), or a final error.
 */
static int rpc_attempt(struct rpc_client *c, CURL *h, const char *body, size_t blen,
		       struct rpc_sink *s, int once, int *retry)
{
	CURLcode rc;
	long status = 0;

	*retry = 0;
	zbuf_reset(&s->buf);
	s->toobig = 0;
	if (curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, s) != CURLE_OK)
		return -ENOMEM;
	rc = curl_easy_perform(h);
	if (s->toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		log_warn("chain", "%s: response over %zu bytes", c->url, c->opts.max_response);
		return ZE_TOOBIG;
	}
	if (rc != CURLE_OK) {
		log_debug("chain", "%s: %s", c->url, curl_easy_strerror(rc));
		/* Without a connection the request cannot have been seen. */
		if (once)
			*retry = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
		else
			*retry = rc != CURLE_OUT_OF_MEMORY;
		return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : ZE_UNKNOWN;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 500 || status == 429) {
		log_debug("chain", "%s: HTTP %ld", c->url, status);
		/* 429 and 503 say the request was not processed; another 5xx
		 * may come after the node acted on it. */
		*retry = !once || status == 429 || status == 503;
		return ZE_UNKNOWN;
	}
	if (status != 200) {
		log_warn("chain", "%s: HTTP %ld", c->url, status);
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

static void rpc_fill_error(const cJSON *e, struct rpc_error *err)
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
static int rpc_parse(struct rpc_client *c, const struct zbuf *body, uint64_t id,
		     cJSON **result, struct rpc_error *err)
{
	cJSON *root = cJSON_ParseWithLength((const char *)body->data, body->len);
	const cJSON *ver, *rid, *e;
	cJSON *res;
	int ret = ZE_UNKNOWN;

	if (!root || !cJSON_IsObject(root)) {
		log_warn("chain", "%s: response is not a JSON object", c->url);
		goto out;
	}
	ver = cJSON_GetObjectItemCaseSensitive(root, "jsonrpc");
	rid = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0 || !cJSON_IsNumber(rid) ||
	    rid->valuedouble != (double)id) {
		log_warn("chain", "%s: response envelope or id does not match", c->url);
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
		log_warn("chain", "%s: response has neither result nor error", c->url);
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

static int rpc_call_mode(struct rpc_client *c, const char *method, const cJSON *params,
			 int once, cJSON **result, struct rpc_error *err)
{
	struct rpc_sink sink;
	uint64_t id;
	char *body;
	CURL *h;
	int ret = ZE_UNKNOWN, retry;
	long delay = c->opts.backoff_ms;

	*result = NULL;
	if (params && !cJSON_IsArray(params))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	id = c->next_id++;
	pthread_mutex_unlock(&c->lock);
	body = rpc_request_body(method, params, id);
	if (!body)
		return -ENOMEM;
	h = rpc_handle_get(c);
	if (!h) {
		free(body);
		return -ENOMEM;
	}
	zbuf_init(&sink.buf, c->opts.max_response);
	for (int attempt = 0; attempt <= c->opts.retries && !atomic_load(&c->aborted); attempt++) {
		if (attempt > 0) {
			rpc_sleep_ms(delay);
			delay = delay * 2 > c->opts.backoff_max_ms ? c->opts.backoff_max_ms : delay * 2;
		}
		pthread_mutex_lock(&c->lock);
		c->stats.requests++;
		c->stats.retries += attempt > 0;
		pthread_mutex_unlock(&c->lock);
		ret = rpc_attempt(c, h, body, strlen(body), &sink, once, &retry);
		if (ret == 0 || !retry)
			break;
	}
	if (ret == 0)
		ret = rpc_parse(c, &sink.buf, id, result, err);
	else if (ret == ZE_UNKNOWN && !atomic_load(&c->aborted))
		log_warn("chain", "%s %s: no answer after %d attempt(s)", c->url, method,
			 c->opts.retries + 1);
	zbuf_free(&sink.buf);
	free(body);
	rpc_handle_put(c, h);
	return ret;
}

void rpc_abort(struct rpc_client *c)
{
	atomic_store(&c->aborted, 1);
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
