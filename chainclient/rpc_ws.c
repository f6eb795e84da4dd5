/*
 * JSON-RPC over WebSocket (ws:// and wss://), one endpoint's transport.
 *
 * One I/O thread owns the socket (and its TLS session): it connects, does
 * the HTTP upgrade, subscribes to finalized and new heads, writes queued
 * requests and reads responses and notifications. Callers hand it a
 * request and wait for the response carrying their id, so any number of
 * threads share one connection with many requests in flight. When the
 * connection drops, every request in flight fails at once (ZE_UNKNOWN;
 * rpc.c retries what may be retried) and the thread reconnects with
 * exponential backoff, then subscribes again.
 *
 * Built on OpenSSL and our own RFC 6455 framing (chainclient/ws.h) rather
 * than libwebsockets: the framing JSON-RPC needs is small, the server side
 * (tfchain-dev) shares it, and the blocking request/response model of the
 * RPC layer fits a private I/O thread better than libwebsockets' single
 * event loop, which would need its own service thread and cross-thread
 * wake-ups anyway. TLS checks the certificate chain against the system's
 * CAs or a configured CA file, sends SNI and verifies the host name.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chainclient/rpc_priv.h"
#include "chainclient/ws.h"
#include "common/log.h"
#include "common/zerr.h"

/* Ids of the thread's own subscription requests, far above the callers'. */
#define WS_SUB_ID_FINAL 4000000000000001ULL
#define WS_SUB_ID_NEW 4000000000000002ULL
#define WS_PING_IDLE_MS 15000
#define WS_DEAD_IDLE_MS 45000

struct ws_pending {
	struct ws_pending *next;
	uint64_t id;
	struct zbuf *out;
	int done; /* 1 answered, -1 connection lost */
	int sent; /* the request left this process */
	pthread_cond_t cond;
};

struct ws_out {
	struct ws_out *next;
	uint64_t id;
	size_t len, off;
	uint8_t data[];
};

struct rpc_ws {
	char *url;
	char host[256], port[8], path[512];
	int tls;
	SSL_CTX *ctx;
	struct rpc_opts opts;
	struct rpc_heads *heads;
	pthread_t thread;
	int evfd;
	atomic_int stop;
	atomic_int refused; /* the last connect() was refused */

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t up_cond;
	int up;
	int failing; /* the last connection attempt failed: callers do not wait */
	struct ws_pending *pending;
	struct ws_out *out_head, *out_tail;

	/* I/O thread only. */
	int fd;
	SSL *ssl;
	struct zbuf in, msg;
	char sub_final[64], sub_new[64];
	int counted; /* this connection's finalized subscription is in heads->subscribed */
	int64_t last_rx_ms, last_tx_ms;
};

int64_t rpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ws_parse_url(struct rpc_ws *w, const char *url)
{
	const char *p;

	if (strncmp(url, "ws://", 5) == 0) {
		p = url + 5;
	} else if (strncmp(url, "wss://", 6) == 0) {
		p = url + 6;
		w->tls = 1;
	} else {
		return ZE_CONFIG;
	}
	const char *slash = strchr(p, '/');
	size_t hl = slash ? (size_t)(slash - p) : strlen(p);
	const char *colon = memchr(p, ':', hl);
	size_t nl = colon ? (size_t)(colon - p) : hl;
	if (nl == 0 || nl >= sizeof(w->host))
		return ZE_CONFIG;
	memcpy(w->host, p, nl);
	w->host[nl] = 0;
	if (colon) {
		size_t pl = hl - nl - 1;
		if (pl == 0 || pl >= sizeof(w->port) || strspn(colon + 1, "0123456789") < pl)
			return ZE_CONFIG;
		memcpy(w->port, colon + 1, pl);
		w->port[pl] = 0;
	} else {
		snprintf(w->port, sizeof(w->port), "%s", w->tls ? "443" : "80");
	}
	if (snprintf(w->path, sizeof(w->path), "%s", slash ? slash : "/") >= (int)sizeof(w->path))
		return ZE_CONFIG;
	return 0;
}

static void ws_wake(struct rpc_ws *w)
{
	uint64_t one = 1;

	if (write(w->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("chain", "%s: wake-up: %s", w->url, strerror(errno));
}

/* ---- raw I/O (plain or TLS), non-blocking ---- */

/* >0 bytes, 0 would block, <0 connection gone. */
static ssize_t ws_raw_read(struct rpc_ws *w, void *p, size_t n)
{
	if (w->ssl) {
		int r = SSL_read(w->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
		if (r > 0)
			return r;
		int e = SSL_get_error(w->ssl, r);
		return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
	}
	ssize_t r = recv(w->fd, p, n, 0);
	if (r > 0)
		return r;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return -1;
}

static ssize_t ws_raw_write(struct rpc_ws *w, const void *p, size_t n)
{
	if (w->ssl) {
		int r = SSL_write(w->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
		if (r > 0)
			return r;
		int e = SSL_get_error(w->ssl, r);
		return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
	}
	ssize_t r = send(w->fd, p, n, MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

static int ws_wait_fd(struct rpc_ws *w, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - rpc_now_ms();
		if (left <= 0 || atomic_load(&w->stop))
			return ZE_TIMEOUT;
		struct pollfd pf = {.fd = w->fd, .events = ev};
		int r = poll(&pf, 1, left > 200 ? 200 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Writes all of p before deadline (handshake only). */
static int ws_write_all(struct rpc_ws *w, const void *p, size_t n, int64_t deadline)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t r = ws_raw_write(w, b, n);
		if (r < 0)
			return ZE_UNKNOWN;
		if (r == 0) {
			if (ws_wait_fd(w, POLLOUT | POLLIN, deadline) < 0)
				return ZE_TIMEOUT;
			continue;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void ws_close(struct rpc_ws *w)
{
	if (w->ssl) {
		SSL_free(w->ssl);
		w->ssl = NULL;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	zbuf_reset(&w->in);
	zbuf_reset(&w->msg);
	w->sub_final[0] = w->sub_new[0] = 0;
}

static int ws_tcp_connect(struct rpc_ws *w, int64_t deadline)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc = getaddrinfo(w->host, w->port, &hints, &res);

	if (rc)
		return ZE_UNKNOWN;
	rc = ZE_UNKNOWN;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                ai->ai_protocol);
		if (fd < 0)
			continue;
		w->fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && ws_wait_fd(w, POLLOUT, deadline) == 0)) {
			int err = 0;
			socklen_t l = sizeof(err);
			int got = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0;
			atomic_store(&w->refused, got && err == ECONNREFUSED);
			if (got && err == 0) {
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
				rc = 0;
				break;
			}
		}
		close(fd);
		w->fd = -1;
	}
	freeaddrinfo(res);
	return rc;
}

static int ws_tls_connect(struct rpc_ws *w, int64_t deadline)
{
	if (!(w->ssl = SSL_new(w->ctx)))
		return -ENOMEM;
	SSL_set_fd(w->ssl, w->fd);
	/* SNI for name-based virtual hosts, and the name the certificate must
	 * carry (an IP address is matched as one). */
	int is_ip = strspn(w->host, "0123456789.") == strlen(w->host) || strchr(w->host, ':');
	if (!is_ip)
		SSL_set_tlsext_host_name(w->ssl, w->host);
	X509_VERIFY_PARAM *vp = SSL_get0_param(w->ssl);
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, w->host) != 1
	          : X509_VERIFY_PARAM_set1_host(vp, w->host, 0) != 1)
		return -ENOMEM;
	for (;;) {
		int r = SSL_connect(w->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(w->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (ws_wait_fd(w, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) <
			    0)
				return ZE_TIMEOUT;
			continue;
		}
		long v = SSL_get_verify_result(w->ssl);
		log_warn("chain", "%s: TLS handshake failed: %s", w->url,
		         v != X509_V_OK ? X509_verify_cert_error_string(v)
		         : ERR_reason_error_string(ERR_peek_last_error())
		             ? ERR_reason_error_string(ERR_peek_last_error())
		             : "connection closed");
		ERR_clear_error();
		return ZE_CRYPTO;
	}
}

static int ws_handshake(struct rpc_ws *w, int64_t deadline)
{
	char key[25], accept[29], req[1024];
	int n;

	if (ws_client_key(key) < 0 || ws_accept_key(key, accept) < 0)
		return -EINVAL;
	n = snprintf(req, sizeof(req),
	             "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
	             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	             "Sec-WebSocket-Version: 13\r\nUser-Agent: zos-agent\r\n\r\n",
	             w->path, w->host, w->port, key);
	if (n < 0 || n >= (int)sizeof(req))
		return ZE_CONFIG;
	int rc = ws_write_all(w, req, (size_t)n, deadline);
	if (rc)
		return rc;
	/* Read the response headers; bytes after them are frames. */
	char hdr[8192];
	size_t got = 0;
	char *end = NULL;
	while (!end) {
		if (got == sizeof(hdr) - 1)
			return ZE_TOOBIG;
		ssize_t r = ws_raw_read(w, hdr + got, sizeof(hdr) - 1 - got);
		if (r < 0)
			return ZE_UNKNOWN;
		if (r == 0) {
			if (ws_wait_fd(w, POLLIN, deadline) < 0)
				return ZE_TIMEOUT;
			continue;
		}
		got += (size_t)r;
		hdr[got] = 0;
		end = strstr(hdr, "\r\n\r\n");
	}
	size_t hlen = (size_t)(end - hdr) + 4;
	if (strncmp(hdr, "HTTP/1.1 101", 12) != 0) {
		char *eol = strchr(hdr, '\r');
		if (eol)
			*eol = 0;
		log_warn("chain", "%s: WebSocket upgrade refused: %s", w->url, hdr);
		return ZE_UNKNOWN;
	}
	int ok = 0;
	for (char *l = strstr(hdr, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
		const char *name = "\r\nSec-WebSocket-Accept:";
		if (strncasecmp(l, name, strlen(name)) != 0)
			continue;
		const char *v = l + strlen(name);
		while (*v == ' ')
			v++;
		ok = strncmp(v, accept, 28) == 0;
	}
	if (!ok) {
		log_warn("chain", "%s: WebSocket upgrade without the right accept key", w->url);
		return ZE_UNKNOWN;
	}
	if (got > hlen && zbuf_put(&w->in, hdr + hlen, got - hlen) < 0)
		return ZE_TOOBIG;
	return 0;
}

/* Queues a masked text frame; the caller holds w->lock. */
static int ws_queue(struct rpc_ws *w, uint64_t id, int op, const void *p, size_t n)
{
	uint8_t mask[4], h[WS_HEADER_MAX];

	randombytes_buf(mask, sizeof(mask));
	size_t hl = ws_frame_header(h, op, n, mask);
	struct ws_out *o = malloc(sizeof(*o) + hl + n);
	if (!o)
		return -ENOMEM;
	memcpy(o->data, h, hl);
	memcpy(o->data + hl, p, n);
	ws_mask(o->data + hl, n, mask, 0);
	o->len = hl + n;
	o->off = 0;
	o->id = id;
	o->next = NULL;
	if (w->out_tail)
		w->out_tail->next = o;
	else
		w->out_head = o;
	w->out_tail = o;
	return 0;
}

static int ws_subscribe(struct rpc_ws *w)
{
	char req[160];
	int rc;

	pthread_mutex_lock(&w->lock);
	snprintf(req, sizeof(req),
	         "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"chain_subscribeFinalizedHeads\","
	         "\"params\":[]}",
	         WS_SUB_ID_FINAL);
	rc = ws_queue(w, 0, WS_OP_TEXT, req, strlen(req));
	snprintf(req, sizeof(req),
	         "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"chain_subscribeNewHeads\","
	         "\"params\":[]}",
	         WS_SUB_ID_NEW);
	if (!rc)
		rc = ws_queue(w, 0, WS_OP_TEXT, req, strlen(req));
	pthread_mutex_unlock(&w->lock);
	return rc;
}

static int ws_connect(struct rpc_ws *w)
{
	int64_t deadline = rpc_now_ms() + w->opts.connect_timeout_ms;
	int rc = ws_tcp_connect(w, deadline);

	if (!rc && w->tls)
		rc = ws_tls_connect(w, deadline);
	/* The upgrade may take a moment on a loaded node. */
	if (!rc)
		rc = ws_handshake(w, deadline + w->opts.connect_timeout_ms);
	if (!rc)
		rc = ws_subscribe(w);
	if (rc)
		ws_close(w);
	w->last_rx_ms = w->last_tx_ms = rpc_now_ms();
	return rc;
}

static void ws_head(struct rpc_ws *w, const cJSON *params, int final)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(params, "result");
	uint64_t num;

	if (rpc_json_u64(cJSON_GetObjectItemCaseSensitive(res, "number"), &num) < 0)
		return;
	struct rpc_heads *h = w->heads;
	pthread_mutex_lock(&h->lock);
	if (final && num > h->finalized)
		h->finalized = num;
	if (!final && num > h->best)
		h->best = num;
	h->events++;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void ws_set_sub(struct rpc_ws *w, char *dst, size_t dsz, const cJSON *res)
{
	if (cJSON_IsString(res))
		snprintf(dst, dsz, "%s", res->valuestring);
	else if (cJSON_IsNumber(res))
		snprintf(dst, dsz, "%.0f", res->valuedouble);
	else
		log_warn("chain", "%s: head subscription refused; following by polling", w->url);
}

/* One whole message from the server. */
static void ws_message(struct rpc_ws *w, const uint8_t *p, size_t n)
{
	cJSON *m = cJSON_ParseWithLength((const char *)p, n);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");

	if (!cJSON_IsObject(m)) {
		log_debug("chain", "%s: a message that is not a JSON object", w->url);
		goto out;
	}
	if (cJSON_IsNumber(id)) {
		uint64_t v = (uint64_t)id->valuedouble;
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(m, "result");
		if (v == WS_SUB_ID_FINAL) {
			ws_set_sub(w, w->sub_final, sizeof(w->sub_final), res);
			/* Only a live subscription lets the follower stop polling. */
			if (w->sub_final[0] && !w->counted) {
				pthread_mutex_lock(&w->heads->lock);
				w->heads->subscribed++;
				pthread_cond_broadcast(&w->heads->cond);
				pthread_mutex_unlock(&w->heads->lock);
				w->counted = 1;
			}
			goto out;
		}
		if (v == WS_SUB_ID_NEW) {
			ws_set_sub(w, w->sub_new, sizeof(w->sub_new), res);
			goto out;
		}
		pthread_mutex_lock(&w->lock);
		for (struct ws_pending *q = w->pending; q; q = q->next) {
			if (q->id != v || q->done)
				continue;
			zbuf_reset(q->out);
			q->done = zbuf_put(q->out, p, n) < 0 ? -2 : 1;
			pthread_cond_signal(&q->cond);
			break;
		}
		pthread_mutex_unlock(&w->lock);
		goto out;
	}
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
	const cJSON *sub = cJSON_GetObjectItemCaseSensitive(params, "subscription");
	char sid[64] = "";
	if (cJSON_IsString(sub))
		snprintf(sid, sizeof(sid), "%s", sub->valuestring);
	else if (cJSON_IsNumber(sub))
		snprintf(sid, sizeof(sid), "%.0f", sub->valuedouble);
	if (sid[0] && strcmp(sid, w->sub_final) == 0)
		ws_head(w, params, 1);
	else if (sid[0] && strcmp(sid, w->sub_new) == 0)
		ws_head(w, params, 0);
out:
	cJSON_Delete(m);
}

/* Parses every whole frame in w->in; <0 when the connection must end. */
static int ws_drain(struct rpc_ws *w)
{
	size_t off = 0;
	int rc = 0;

	while (off < w->in.len) {
		struct ws_frame f;
		long used =
		    ws_frame_parse(w->in.data + off, w->in.len - off, 0, w->opts.max_response, &f);
		if (used == 0)
			break;
		if (used < 0) {
			log_warn("chain", "%s: bad WebSocket frame: %s", w->url,
			         zerr_str((int)used));
			rc = (int)used;
			break;
		}
		off += (size_t)used;
		if (f.opcode == WS_OP_PING) {
			pthread_mutex_lock(&w->lock);
			ws_queue(w, 0, WS_OP_PONG, f.payload, f.len);
			pthread_mutex_unlock(&w->lock);
			continue;
		}
		if (f.opcode == WS_OP_PONG)
			continue;
		if (f.opcode == WS_OP_CLOSE) {
			rc = ZE_UNKNOWN;
			break;
		}
		if (f.fin && w->msg.len == 0 && f.opcode != WS_OP_CONT) {
			ws_message(w, f.payload, f.len);
			continue;
		}
		if (zbuf_put(&w->msg, f.payload, f.len) < 0) {
			rc = ZE_TOOBIG;
			break;
		}
		if (f.fin) {
			ws_message(w, w->msg.data, w->msg.len);
			zbuf_reset(&w->msg);
		}
	}
	if (off > 0) {
		memmove(w->in.data, w->in.data + off, w->in.len - off);
		w->in.len -= off;
	}
	return rc;
}

/* Writes what is queued until it would block; <0 when the connection broke. */
static int ws_flush(struct rpc_ws *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->out_head) {
		struct ws_out *o = w->out_head;
		if (o->off == 0 && o->id)
			for (struct ws_pending *q = w->pending; q; q = q->next)
				if (q->id == o->id)
					q->sent = 1;
		ssize_t r = ws_raw_write(w, o->data + o->off, o->len - o->off);
		if (r < 0) {
			pthread_mutex_unlock(&w->lock);
			return ZE_UNKNOWN;
		}
		if (r == 0)
			break;
		w->last_tx_ms = rpc_now_ms();
		o->off += (size_t)r;
		if (o->off < o->len)
			continue;
		w->out_head = o->next;
		if (!w->out_head)
			w->out_tail = NULL;
		free(o);
	}
	pthread_mutex_unlock(&w->lock);
	return 0;
}

/* The connection ended: every waiter learns it, queued frames are dropped
 * (their callers retry on the next connection when they may). */
static void ws_down(struct rpc_ws *w)
{
	pthread_mutex_lock(&w->lock);
	w->up = 0;
	for (struct ws_pending *q = w->pending; q; q = q->next)
		if (!q->done) {
			q->done = -1;
			pthread_cond_signal(&q->cond);
		}
	while (w->out_head) {
		struct ws_out *o = w->out_head;
		w->out_head = o->next;
		free(o);
	}
	w->out_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	if (w->counted) {
		pthread_mutex_lock(&w->heads->lock);
		w->heads->subscribed--;
		pthread_mutex_unlock(&w->heads->lock);
		w->counted = 0;
	}
	ws_close(w);
}

/* Serves one connection until it breaks or the transport stops. */
static void ws_serve(struct rpc_ws *w)
{
	uint8_t tmp[65536];

	while (!atomic_load(&w->stop)) {
		if (ws_flush(w) < 0)
			return;
		pthread_mutex_lock(&w->lock);
		int want_out = w->out_head != NULL;
		pthread_mutex_unlock(&w->lock);
		struct pollfd pf[2] = {{.fd = w->fd, .events = POLLIN | (want_out ? POLLOUT : 0)},
		                       {.fd = w->evfd, .events = POLLIN}};
		/* TLS may hold decrypted bytes the socket no longer shows. */
		int pending = w->ssl && SSL_pending(w->ssl) > 0;
		int r = pending ? 1 : poll(pf, 2, 1000);
		if (r < 0 && errno != EINTR)
			return;
		if (pf[1].revents & POLLIN) {
			uint64_t v;
			if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return;
		}
		if (pending || (pf[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			for (;;) {
				ssize_t got = ws_raw_read(w, tmp, sizeof(tmp));
				if (got < 0)
					return;
				if (got == 0)
					break;
				w->last_rx_ms = rpc_now_ms();
				if (zbuf_put(&w->in, tmp, (size_t)got) < 0 || ws_drain(w) < 0)
					return;
			}
		}
		int64_t now = rpc_now_ms();
		if (now - w->last_rx_ms > WS_DEAD_IDLE_MS) {
			log_warn("chain", "%s: nothing heard for %d s; reconnecting", w->url,
			         WS_DEAD_IDLE_MS / 1000);
			return;
		}
		if (now - w->last_rx_ms > WS_PING_IDLE_MS &&
		    now - w->last_tx_ms > WS_PING_IDLE_MS) {
			pthread_mutex_lock(&w->lock);
			ws_queue(w, 0, WS_OP_PING, "zos", 3);
			pthread_mutex_unlock(&w->lock);
		}
	}
}

/* Sleeps ms unless the transport stops first. */
static void ws_pause(struct rpc_ws *w, long ms)
{
	int64_t until = rpc_now_ms() + ms;

	while (!atomic_load(&w->stop)) {
		int64_t left = until - rpc_now_ms();
		if (left <= 0)
			return;
		struct pollfd pf = {.fd = w->evfd, .events = POLLIN};
		if (poll(&pf, 1, (int)(left > 1000 ? 1000 : left)) > 0) {
			uint64_t v;
			if (read(w->evfd, &v, sizeof(v)) < 0)
				(void)0;
		}
	}
}

static void *ws_main(void *arg)
{
	struct rpc_ws *w = arg;
	long backoff = w->opts.backoff_ms;
	int failing = 0;

	while (!atomic_load(&w->stop)) {
		int rc = ws_connect(w);
		pthread_mutex_lock(&w->lock);
		w->failing = rc != 0;
		pthread_cond_broadcast(&w->up_cond);
		pthread_mutex_unlock(&w->lock);
		if (rc) {
			if (!failing)
				log_warn("chain", "%s: cannot connect (%s); retrying with backoff",
				         w->url, zerr_str(rc));
			failing = 1;
			ws_pause(w, backoff);
			backoff = backoff * 2 > w->opts.backoff_max_ms ? w->opts.backoff_max_ms
			                                               : backoff * 2;
			continue;
		}
		if (failing)
			log_info("chain", "%s: connected again", w->url);
		failing = 0;
		backoff = w->opts.backoff_ms;
		pthread_mutex_lock(&w->lock);
		w->up = 1;
		pthread_cond_broadcast(&w->up_cond);
		pthread_mutex_unlock(&w->lock);
		ws_serve(w);
		ws_down(w);
		if (!atomic_load(&w->stop))
			log_warn("chain", "%s: connection lost; reconnecting", w->url);
	}
	return NULL;
}

static pthread_once_t ws_ssl_once = PTHREAD_ONCE_INIT;

static void ws_ssl_init(void)
{
	OPENSSL_init_ssl(0, NULL);
}

int rpc_ws_new(const char *url, const struct rpc_opts *o, struct rpc_heads *heads,
               struct rpc_ws **out)
{
	struct rpc_ws *w = calloc(1, sizeof(*w));
	int rc = ZE_CONFIG;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->evfd = -1;
	w->opts = *o;
	w->heads = heads;
	zbuf_init(&w->in, o->max_response + 64);
	zbuf_init(&w->msg, o->max_response);
	if (!(w->url = strdup(url))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (ws_parse_url(w, url) < 0) {
		log_err("chain", "'%s' is not a ws://HOST[:PORT][/PATH] or wss:// URL", url);
		goto fail;
	}
	if (w->tls) {
		pthread_once(&ws_ssl_once, ws_ssl_init);
		rc = -ENOMEM;
		if (!(w->ctx = SSL_CTX_new(TLS_client_method())))
			goto fail;
		SSL_CTX_set_min_proto_version(w->ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(w->ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_mode(w->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		if (o->ca_file && *o->ca_file) {
			if (SSL_CTX_load_verify_locations(w->ctx, o->ca_file, NULL) != 1) {
				log_err("chain",
				        "cannot load the CA file %s (want PEM certificates)",
				        o->ca_file);
				rc = ZE_CONFIG;
				goto fail;
			}
		} else if (SSL_CTX_set_default_verify_paths(w->ctx) != 1) {
			log_err("chain", "cannot load the system's CA certificates");
			rc = ZE_CONFIG;
			goto fail;
		}
	}
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->evfd < 0) {
		rc = -errno;
		goto fail;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->up_cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = -pthread_create(&w->thread, NULL, ws_main, w)) < 0) {
		pthread_cond_destroy(&w->up_cond);
		pthread_mutex_destroy(&w->lock);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w->evfd >= 0)
		close(w->evfd);
	SSL_CTX_free(w->ctx);
	zbuf_free(&w->in);
	zbuf_free(&w->msg);
	free(w->url);
	free(w);
	return rc;
}

void rpc_ws_abort(struct rpc_ws *w)
{
	atomic_store(&w->stop, 1);
	ws_wake(w);
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->up_cond);
	for (struct ws_pending *q = w->pending; q; q = q->next)
		if (!q->done) {
			q->done = -1;
			pthread_cond_signal(&q->cond);
		}
	pthread_mutex_unlock(&w->lock);
}

void rpc_ws_free(struct rpc_ws *w)
{
	if (!w)
		return;
	rpc_ws_abort(w);
	pthread_join(w->thread, NULL);
	ws_close(w);
	while (w->out_head) {
		struct ws_out *o = w->out_head;
		w->out_head = o->next;
		free(o);
	}
	close(w->evfd);
	SSL_CTX_free(w->ctx);
	pthread_cond_destroy(&w->up_cond);
	pthread_mutex_destroy(&w->lock);
	zbuf_free(&w->in);
	zbuf_free(&w->msg);
	free(w->url);
	free(w);
}

int rpc_ws_refused(struct rpc_ws *w)
{
	return atomic_load(&w->refused);
}

int rpc_ws_up(struct rpc_ws *w)
{
	pthread_mutex_lock(&w->lock);
	int up = w->up;
	pthread_mutex_unlock(&w->lock);
	return up;
}

static void ws_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int rpc_ws_exchange(struct rpc_ws *w, const char *body, size_t len, uint64_t id, int once,
                    struct zbuf *out, int *retry)
{
	struct ws_pending q = {.id = id, .out = out};
	struct timespec until;
	pthread_condattr_t ca;
	int rc = 0;

	*retry = 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q.cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&w->lock);
	/* Not connected: wait up to the connect timeout for the I/O thread,
	 * unless its last attempt failed (then fail at once, so that another
	 * endpoint can answer). */
	ws_deadline(&until, w->opts.connect_timeout_ms);
	while (!w->up && !w->failing && !atomic_load(&w->stop) &&
	       pthread_cond_timedwait(&w->up_cond, &w->lock, &until) != ETIMEDOUT)
		;
	if (!w->up || atomic_load(&w->stop)) {
		pthread_mutex_unlock(&w->lock);
		*retry = 1; /* nothing was sent */
		rc = ZE_UNKNOWN;
		goto out;
	}
	if ((rc = ws_queue(w, id, WS_OP_TEXT, body, len)) < 0) {
		pthread_mutex_unlock(&w->lock);
		goto out;
	}
	q.next = w->pending;
	w->pending = &q;
	pthread_mutex_unlock(&w->lock);
	ws_wake(w);
	pthread_mutex_lock(&w->lock);
	ws_deadline(&until, w->opts.timeout_ms);
	while (!q.done && pthread_cond_timedwait(&q.cond, &w->lock, &until) != ETIMEDOUT)
		;
	for (struct ws_pending **pp = &w->pending; *pp; pp = &(*pp)->next)
		if (*pp == &q) {
			*pp = q.next;
			break;
		}
	/* A request still queued when its caller gives up must not go out. */
	if (!q.sent) {
		struct ws_out *prev = NULL;
		for (struct ws_out *o = w->out_head; o; prev = o, o = o->next) {
			if (o->id != id || o->off != 0)
				continue;
			if (prev)
				prev->next = o->next;
			else
				w->out_head = o->next;
			if (w->out_tail == o)
				w->out_tail = prev;
			free(o);
			break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (q.done == 1) {
		rc = 0;
	} else if (q.done == -2) {
		log_warn("chain", "%s: response over %zu bytes", w->url, w->opts.max_response);
		rc = ZE_TOOBIG;
	} else {
		rc = ZE_UNKNOWN;
		*retry = !q.sent || !once;
		log_debug("chain", "%s: %s", w->url, q.done ? "connection lost" : "timed out");
	}
out:
	pthread_cond_destroy(&q.cond);
	return rc;
}
