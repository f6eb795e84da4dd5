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
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "chainclient/rpc_ws_int.h"
#include "chainclient/ws.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

void ws_wake(struct rpc_ws *w)
{
	uint64_t one = 1;

	if (write(w->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("chain", "%s: wake-up: %s", w->url, strerror(errno));
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
	if ((rc = clk_cond_init(&w->up_cond)) < 0) {
		pthread_mutex_destroy(&w->lock);
		goto fail;
	}
	if ((rc = -pthread_create(&w->thread, NULL, ws_main, w)) < 0) {
		pthread_cond_destroy(&w->up_cond);
		pthread_mutex_destroy(&w->lock);
		goto fail;
	}
	pthread_setname_np(w->thread, "chain-ws");
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

uint64_t rpc_ws_cpu_ns(struct rpc_ws *w)
{
	clockid_t cid;
	struct timespec ts;
	if (pthread_getcpuclockid(w->thread, &cid) != 0 || clock_gettime(cid, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
	*ts = clk_after(CLOCK_MONOTONIC, ms);
}

int rpc_ws_exchange(struct rpc_ws *w, const char *body, size_t len, uint64_t id,
                    uint64_t nids, int once, struct zbuf *out, int *retry)
{
	struct ws_pending q = {.id = id, .nids = nids ? nids : 1, .out = out};
	struct timespec until;
	int rc = 0;
	rpc_count_request();

	*retry = 0;
	if (clk_cond_init(&q.cond) < 0)
		return -ENOMEM;
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
