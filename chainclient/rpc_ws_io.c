/*
 * The I/O thread of a WebSocket endpoint (see rpc_ws.c): connects with
 * backoff, subscribes to finalized and new heads, writes queued frames,
 * reads frames into messages, hands responses to their waiting callers by
 * id and head notifications to rpc_heads, and fails every request in
 * flight when the connection drops.
 */
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chainclient/rpc_ws_int.h"
#include "chainclient/ws.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/jscan.h"
#include "common/log.h"
#include "common/zerr.h"

/* Queues a masked text frame; the caller holds w->lock. */
int ws_queue(struct rpc_ws *w, uint64_t id, int op, const void *p, size_t n)
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
	int64_t deadline = clk_mono_ms() + w->opts.connect_timeout_ms;
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
	w->last_rx_ms = w->last_tx_ms = clk_mono_ms();
	return rc;
}

static void ws_head(struct rpc_ws *w, const cJSON *params, int final)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(params, "result");
	uint8_t hash[32], parent[32];
	uint64_t num;
	int hashed = 0;

	if (final)
		hashed = rpc_header_hash(res, &num, hash, parent) == 0;
	if (!hashed && rpc_json_u64(cJSON_GetObjectItemCaseSensitive(res, "number"), &num) < 0)
		return;
	struct rpc_heads *h = w->heads;
	pthread_mutex_lock(&h->lock);
	if (final) {
		/* A header whose hash could not be computed leaves the follower
		 * asking for the head, as without a subscription. */
		w->fin_ok = hashed;
		w->fin_num = num;
		memcpy(w->fin_hash, hash, 32);
		memcpy(w->fin_parent, parent, 32);
		w->fin_ms = clk_mono_ms();
	}
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

/* Hands a response to the caller waiting for id v. */
static void deliver(struct rpc_ws *w, uint64_t v, const uint8_t *p, size_t n)
{
	pthread_mutex_lock(&w->lock);
	for (struct ws_pending *q = w->pending; q; q = q->next) {
		if (v < q->id || v - q->id >= q->nids || q->done)
			continue;
		zbuf_reset(q->out);
		q->done = zbuf_put(q->out, p, n) < 0 ? -2 : 1;
		pthread_cond_signal(&q->cond);
		break;
	}
	pthread_mutex_unlock(&w->lock);
}

/*
 * The id of a response, found without parsing it: a response's "id", or
 * the first entry's of a batch's answer, written as a plain integer. The
 * caller parses the message itself, so parsing it here too (a block's
 * events and body, tens of KB) would double the work; anything else
 * (notifications, the subscriptions' answers, an id written otherwise)
 * gets ZE_ABSENT or ZE_MALFORMED and is parsed as before.
 */
static int scan_id(const uint8_t *m, size_t n, uint64_t *v)
{
	const char *p = (const char *)m;
	size_t pos = 0, vs, ve;
	int c = jscan_peek(p, n, &pos), rc;
	if (c == '[') {
		pos++;
		c = jscan_peek(p, n, &pos);
	}
	if (c != '{')
		return ZE_MALFORMED;
	if ((rc = jscan_member(p, n, pos, "id", &vs, &ve)) < 0 ||
	    (rc = jscan_u64(p, vs, ve, v)) < 0)
		return rc;
	return *v == WS_SUB_ID_FINAL || *v == WS_SUB_ID_NEW ? ZE_ABSENT : 0;
}

/* One whole message from the server. */
static void ws_message(struct rpc_ws *w, const uint8_t *p, size_t n)
{
	uint64_t rid;
	if (scan_id(p, n, &rid) == 0) {
		deliver(w, rid, p, n);
		return;
	}
	cJSON *m = cJSON_ParseWithLength((const char *)p, n);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");

	/* A batch's answer: an array whose entries carry the batch's ids (in
	 * any order); the first numbered one names the waiting caller. */
	if (cJSON_IsArray(m)) {
		const cJSON *e;
		id = NULL;
		cJSON_ArrayForEach(e, m)
		{
			const cJSON *eid = cJSON_GetObjectItemCaseSensitive(e, "id");
			if (cJSON_IsNumber(eid)) {
				id = eid;
				break;
			}
		}
		if (!id) {
			log_debug("chain", "%s: a batch answer without ids", w->url);
			goto out;
		}
	} else if (!cJSON_IsObject(m)) {
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
		deliver(w, v, p, n);
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
		w->last_tx_ms = clk_mono_ms();
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
	pthread_mutex_lock(&w->heads->lock);
	w->fin_ok = 0;
	if (w->counted)
		w->heads->subscribed--;
	pthread_mutex_unlock(&w->heads->lock);
	w->counted = 0;
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
				w->last_rx_ms = clk_mono_ms();
				if (zbuf_put(&w->in, tmp, (size_t)got) < 0 || ws_drain(w) < 0)
					return;
			}
		}
		int64_t now = clk_mono_ms();
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
	int64_t until = clk_mono_ms() + ms;

	while (!atomic_load(&w->stop)) {
		int64_t left = until - clk_mono_ms();
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

void *ws_main(void *arg)
{
	struct rpc_ws *w = arg;
	struct backoff backoff;
	backoff_init(&backoff, w->opts.backoff_ms, w->opts.backoff_max_ms, 0);
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
			ws_pause(w, (long)backoff_next(&backoff));
			continue;
		}
		if (failing)
			log_info("chain", "%s: connected again", w->url);
		failing = 0;
		backoff_reset(&backoff);
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
