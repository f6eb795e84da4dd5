/*
 * tfchain-dev's WebSocket JSON-RPC (see rpc_ws.h): the handshake through
 * libmicrohttpd's upgrade API, then one thread per connection that reads
 * frames, answers requests with dev_rpc_handle and pushes head
 * notifications. Heads are pushed by polling the chain's head every
 * DEV_WS_TICK_MS: a dev chain makes a block at most every few tens of
 * milliseconds, and polling keeps the chain free of listener plumbing.
 * Finality is instant here, so finalized and new heads are the same blocks;
 * every block is announced, in order, none skipped.
 */
#include "devchain/rpc_ws.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "chainclient/ws.h"
#include "common/buf.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/zerr.h"
#include "devchain/rpc.h"

#define DEV_WS_TICK_MS 50
#define DEV_WS_MSG_MAX DEV_RPC_BODY_MAX
/* Heads announced per tick at most, so a long-stalled reader cannot make
 * the connection thread build an unbounded backlog. */
#define DEV_WS_HEADS_PER_TICK 256
#define DEV_WS_SEND_TIMEOUT_MS 10000

struct dev_ws {
	struct dev_chain *chain;
	atomic_int stop;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int nconn;
	atomic_uint next_sub;
};

enum { SUB_NEW, SUB_FINAL, SUB_ALL, SUB_RUNTIME, SUB_STORAGE };
/* Storage keys one state_subscribeStorage may watch. */
#define DEV_WS_STORAGE_KEYS 256

static const struct sub_method {
	const char *sub, *unsub, *notify;
	int kind;
} sub_methods[] = {
    {"chain_subscribeNewHeads", "chain_unsubscribeNewHeads", "chain_newHead", SUB_NEW},
    {"chain_subscribeNewHead", "chain_unsubscribeNewHead", "chain_newHead", SUB_NEW},
    {"chain_subscribeFinalizedHeads", "chain_unsubscribeFinalizedHeads", "chain_finalizedHead",
     SUB_FINAL},
    {"chain_subscribeFinalisedHeads", "chain_unsubscribeFinalisedHeads", "chain_finalizedHead",
     SUB_FINAL},
    {"chain_subscribeAllHeads", "chain_unsubscribeAllHeads", "chain_allHead", SUB_ALL},
    {"state_subscribeRuntimeVersion", "state_unsubscribeRuntimeVersion", "state_runtimeVersion",
     SUB_RUNTIME},
    {"state_subscribeStorage", "state_unsubscribeStorage", "state_storage", SUB_STORAGE},
};

#define DEV_WS_SUBS 16

struct ws_conn {
	struct dev_ws *w;
	int fd;
	struct MHD_UpgradeResponseHandle *urh;
	struct zbuf in;  /* bytes received, not yet parsed */
	struct zbuf msg; /* a fragmented message being assembled */
	int msg_op;
	struct {
		char id[24];
		const char *notify;
		int kind;
		cJSON *keys; /* SUB_STORAGE: the keys watched and their last values */
		cJSON *last;
	} subs[DEV_WS_SUBS];
	int nsubs;
	uint32_t sent_head; /* last head announced to head subscribers */
	int dead;
};

int dev_ws_new(struct dev_chain *c, struct dev_ws **out)
{
	struct dev_ws *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->chain = c;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->idle, NULL);
	atomic_init(&w->next_sub, 1);
	*out = w;
	return 0;
}

void dev_ws_free(struct dev_ws *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, 1);
	pthread_mutex_lock(&w->lock);
	while (w->nconn > 0)
		pthread_cond_wait(&w->idle, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* Header names are case-insensitive, and Connection may be a list
 * ("keep-alive, Upgrade" from browsers). */
static int has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	for (const char *p = v; p && *p;) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncasecmp(p, tok, n) == 0 && (p[n] == 0 || p[n] == ',' || p[n] == ' '))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

int dev_ws_is_upgrade(struct MHD_Connection *conn)
{
	const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *cn = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");

	return up && cn && has_token(up, "websocket") && has_token(cn, "upgrade");
}

/* Sends all of p or fails; the socket may be non-blocking. more: the
 * frame's payload follows at once (a header and its payload in one TCP
 * segment; otherwise Nagle holds the payload for the peer's delayed ACK). */
static int send_all(struct ws_conn *k, const uint8_t *p, size_t n, int more)
{
	while (n > 0 && !k->dead) {
		ssize_t r = send(k->fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = {.fd = k->fd, .events = POLLOUT};
			if (poll(&pf, 1, DEV_WS_SEND_TIMEOUT_MS) > 0)
				continue;
		}
		k->dead = 1;
	}
	return k->dead ? -EIO : 0;
}

static int send_frame(struct ws_conn *k, int op, const void *p, size_t n)
{
	uint8_t h[WS_HEADER_MAX];
	size_t hl = ws_frame_header(h, op, n, NULL);

	if (send_all(k, h, hl, n > 0) < 0)
		return -EIO;
	return send_all(k, p, n, 0);
}

static int send_json(struct ws_conn *k, cJSON *v)
{
	char *s = v ? cJSON_PrintUnformatted(v) : NULL;
	int rc = s ? send_frame(k, WS_OP_TEXT, s, strlen(s)) : -ENOMEM;

	free(s);
	return rc;
}

static int notify(struct ws_conn *k, int i, cJSON *result)
{
	cJSON *n = cJSON_CreateObject(), *p;
	int rc = -ENOMEM;

	if (!result || !n)
		goto out;
	cJSON_AddStringToObject(n, "jsonrpc", "2.0");
	cJSON_AddStringToObject(n, "method", k->subs[i].notify);
	if (!(p = cJSON_AddObjectToObject(n, "params")))
		goto out;
	cJSON_AddStringToObject(p, "subscription", k->subs[i].id);
	cJSON_AddItemToObject(p, "result", result);
	result = NULL;
	rc = send_json(k, n);
out:
	cJSON_Delete(result);
	cJSON_Delete(n);
	return rc;
}

static cJSON *header_of(struct dev_chain *c, uint32_t num)
{
	uint8_t hash[32];
	char hex[67];

	if (dev_chain_block(c, num, hash, NULL, NULL) < 0)
		return NULL;
	hex_encode(hash, 32, 1, hex, sizeof(hex));
	cJSON *params = cJSON_CreateArray();
	if (!params || !cJSON_AddItemToArray(params, cJSON_CreateString(hex))) {
		cJSON_Delete(params);
		return NULL;
	}
	cJSON *h = dev_rpc_result(c, "chain_getHeader", params);
	cJSON_Delete(params);
	return h;
}

static void sub_drop(struct ws_conn *k, int i)
{
	cJSON_Delete(k->subs[i].keys);
	cJSON_Delete(k->subs[i].last);
	k->subs[i] = k->subs[--k->nsubs];
}

/*
 * Sends the watched keys whose values changed at block num (all of them
 * when all is set), as {"block": hash, "changes": [[key, value|null]..]}.
 */
static void storage_changes(struct ws_conn *k, int i, uint32_t num, int all)
{
	uint8_t hash[32];
	char hex[67];
	cJSON *res = NULL, *changes, *params = NULL, *values = cJSON_CreateArray();
	const cJSON *key;
	int n = 0;

	if (!values || dev_chain_block(k->w->chain, num, hash, NULL, NULL) < 0)
		goto out;
	hex_encode(hash, 32, 1, hex, sizeof(hex));
	if (!(res = cJSON_CreateObject()) || !cJSON_AddStringToObject(res, "block", hex) ||
	    !(changes = cJSON_AddArrayToObject(res, "changes")))
		goto out;
	cJSON_ArrayForEach(key, k->subs[i].keys)
	{
		params = cJSON_CreateArray();
		if (!params || !cJSON_AddItemToArray(params, cJSON_Duplicate(key, 1)) ||
		    !cJSON_AddItemToArray(params, cJSON_CreateString(hex)))
			goto out;
		cJSON *v = dev_rpc_result(k->w->chain, "state_getStorage", params);
		cJSON_Delete(params);
		params = NULL;
		if (!v)
			goto out;
		const cJSON *old = cJSON_GetArrayItem(k->subs[i].last, n++);
		if (all || !old || !cJSON_Compare(old, v, 1)) {
			cJSON *pair = cJSON_CreateArray();
			if (!pair || !cJSON_AddItemToArray(changes, pair) ||
			    !cJSON_AddItemToArray(pair, cJSON_Duplicate(key, 1)) ||
			    !cJSON_AddItemToArray(pair, cJSON_Duplicate(v, 1))) {
				cJSON_Delete(v);
				goto out;
			}
		}
		cJSON_AddItemToArray(values, v);
	}
	cJSON_Delete(k->subs[i].last);
	k->subs[i].last = values;
	values = NULL;
	if (cJSON_GetArraySize(changes) > 0) {
		notify(k, i, res);
		res = NULL;
	}
out:
	cJSON_Delete(params);
	cJSON_Delete(values);
	cJSON_Delete(res);
}

/* Announces blocks sent_head+1 .. head to the head subscribers. */
static void push_heads(struct ws_conn *k)
{
	uint32_t head;
	int any = 0;

	/* Storage subscribers hear of changes block by block too. */
	for (int i = 0; i < k->nsubs; i++)
		any |= k->subs[i].kind != SUB_RUNTIME;
	dev_chain_head(k->w->chain, &head, NULL);
	if (!any) {
		k->sent_head = head;
		return;
	}
	if (head < k->sent_head) /* a chain reset under us */
		k->sent_head = head > 0 ? head - 1 : 0;
	for (int b = 0; b < DEV_WS_HEADS_PER_TICK && k->sent_head < head && !k->dead; b++) {
		uint32_t num = k->sent_head + 1;
		for (int i = 0; i < k->nsubs && !k->dead; i++) {
			if (k->subs[i].kind == SUB_STORAGE)
				storage_changes(k, i, num, 0);
			else if (k->subs[i].kind != SUB_RUNTIME)
				notify(k, i, header_of(k->w->chain, num));
		}
		k->sent_head = num;
	}
}

static cJSON *reply_base(const cJSON *id)
{
	cJSON *r = cJSON_CreateObject();

	if (r) {
		cJSON_AddStringToObject(r, "jsonrpc", "2.0");
		cJSON_AddItemToObject(r, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
	}
	return r;
}

static int reply_error(struct ws_conn *k, const cJSON *id, int code, const char *msg)
{
	cJSON *r = reply_base(id), *e;
	int rc = -ENOMEM;

	if (r && (e = cJSON_AddObjectToObject(r, "error"))) {
		cJSON_AddNumberToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", msg);
		rc = send_json(k, r);
	}
	cJSON_Delete(r);
	return rc;
}

/* A (un)subscription request; returns 1 when req was one and was answered. */
static int handle_sub(struct ws_conn *k, const cJSON *req)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "method");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
	size_t n = sizeof(sub_methods) / sizeof(sub_methods[0]);

	if (!cJSON_IsString(m))
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct sub_method *sm = &sub_methods[i];
		if (strcmp(m->valuestring, sm->unsub) == 0) {
			const cJSON *sid = cJSON_GetArrayItem(params, 0);
			int found = 0;
			for (int j = 0; cJSON_IsString(sid) && j < k->nsubs; j++) {
				if (strcmp(k->subs[j].id, sid->valuestring) != 0)
					continue;
				sub_drop(k, j);
				found = 1;
				break;
			}
			cJSON *r = reply_base(id);
			if (r)
				cJSON_AddBoolToObject(r, "result", found);
			send_json(k, r);
			cJSON_Delete(r);
			return 1;
		}
		if (strcmp(m->valuestring, sm->sub) != 0)
			continue;
		if (k->nsubs == DEV_WS_SUBS) {
			reply_error(k, id, -32603, "too many subscriptions on this connection");
			return 1;
		}
		const cJSON *keys = cJSON_GetArrayItem(params, 0), *key;
		if (sm->kind == SUB_STORAGE) {
			int bad =
			    !cJSON_IsArray(keys) || cJSON_GetArraySize(keys) > DEV_WS_STORAGE_KEYS;
			if (!bad)
				cJSON_ArrayForEach(key, keys) bad |= !cJSON_IsString(key);
			if (bad) {
				reply_error(k, id, -32602, "Invalid params");
				return 1;
			}
		}
		int s = k->nsubs++;
		k->subs[s].keys = sm->kind == SUB_STORAGE ? cJSON_Duplicate(keys, 1) : NULL;
		k->subs[s].last = NULL;
		snprintf(k->subs[s].id, sizeof(k->subs[s].id), "%u",
		         atomic_fetch_add(&k->w->next_sub, 1));
		k->subs[s].notify = sm->notify;
		k->subs[s].kind = sm->kind;
		cJSON *r = reply_base(id);
		if (r)
			cJSON_AddStringToObject(r, "result", k->subs[s].id);
		send_json(k, r);
		cJSON_Delete(r);
		/* Like a Substrate node, the current value comes at once. */
		if (sm->kind == SUB_RUNTIME) {
			notify(k, s, dev_rpc_result(k->w->chain, "state_getRuntimeVersion", NULL));
		} else if (sm->kind == SUB_STORAGE) {
			storage_changes(k, s, k->sent_head, 1);
		} else {
			uint32_t head;
			dev_chain_head(k->w->chain, &head, NULL);
			notify(k, s, header_of(k->w->chain, head));
		}
		return 1;
	}
	return 0;
}

static void handle_message(struct ws_conn *k, const uint8_t *p, size_t n)
{
	cJSON *req = cJSON_ParseWithLength((const char *)p, n);

	if (cJSON_IsObject(req) && handle_sub(k, req)) {
		cJSON_Delete(req);
		return;
	}
	cJSON_Delete(req);
	char *out = dev_rpc_handle(k->w->chain, (const char *)p, n);
	if (out) {
		send_frame(k, WS_OP_TEXT, out, strlen(out));
		free(out);
	}
}

/* Parses and handles every whole frame in k->in. */
static void drain(struct ws_conn *k)
{
	size_t off = 0;

	while (!k->dead && off < k->in.len) {
		struct ws_frame f;
		long used =
		    ws_frame_parse(k->in.data + off, k->in.len - off, 1, DEV_WS_MSG_MAX, &f);
		if (used == 0)
			break;
		if (used < 0) {
			uint8_t code[2] = {0x03, used == ZE_TOOBIG ? 0xf1 : 0xea}; /* 1009, 1002 */
			send_frame(k, WS_OP_CLOSE, code, 2);
			k->dead = 1;
			break;
		}
		off += (size_t)used;
		switch (f.opcode) {
		case WS_OP_PING:
			send_frame(k, WS_OP_PONG, f.payload, f.len);
			continue;
		case WS_OP_PONG:
			continue;
		case WS_OP_CLOSE:
			send_frame(k, WS_OP_CLOSE, f.payload, f.len >= 2 ? 2 : 0);
			k->dead = 1;
			continue;
		case WS_OP_CONT:
			if (!k->msg_op)
				k->dead = 1;
			break;
		default:
			if (k->msg_op)
				k->dead = 1;
			k->msg_op = f.opcode;
			break;
		}
		if (k->dead)
			break;
		if (f.fin && k->msg.len == 0) {
			handle_message(k, f.payload, f.len);
			k->msg_op = 0;
			continue;
		}
		if (zbuf_put(&k->msg, f.payload, f.len) < 0) {
			k->dead = 1;
			break;
		}
		if (f.fin) {
			handle_message(k, k->msg.data, k->msg.len);
			zbuf_reset(&k->msg);
			k->msg_op = 0;
		}
	}
	if (off > 0) {
		memmove(k->in.data, k->in.data + off, k->in.len - off);
		k->in.len -= off;
	}
}

static void *conn_main(void *arg)
{
	struct ws_conn *k = arg;
	struct dev_ws *w = k->w;
	uint8_t tmp[16384];

	while (!k->dead && !atomic_load(&w->stop)) {
		struct pollfd pf = {.fd = k->fd, .events = POLLIN};
		int r = poll(&pf, 1, DEV_WS_TICK_MS);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			ssize_t got = recv(k->fd, tmp, sizeof(tmp), 0);
			if (got == 0 ||
			    (got < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK))
				break;
			if (got > 0) {
				if (zbuf_put(&k->in, tmp, (size_t)got) < 0)
					break;
				drain(k);
			}
		}
		push_heads(k);
	}
	MHD_upgrade_action(k->urh, MHD_UPGRADE_ACTION_CLOSE);
	while (k->nsubs > 0)
		sub_drop(k, 0);
	zbuf_free(&k->in);
	zbuf_free(&k->msg);
	free(k);
	pthread_mutex_lock(&w->lock);
	if (--w->nconn == 0)
		pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void upgraded(void *cls, struct MHD_Connection *connection, void *con_cls,
                     const char *extra_in, size_t extra_in_size, MHD_socket sock,
                     struct MHD_UpgradeResponseHandle *urh)
{
	struct dev_ws *w = cls;
	struct ws_conn *k = calloc(1, sizeof(*k));
	pthread_t t;
	pthread_attr_t a;

	if (!k)
		goto fail;
	k->w = w;
	k->fd = sock;
	k->urh = urh;
	int one = 1;
	setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Frame header and cap on top of the largest message. */
	zbuf_init(&k->in, DEV_WS_MSG_MAX + 64);
	zbuf_init(&k->msg, DEV_WS_MSG_MAX);
	if (extra_in_size && zbuf_put(&k->in, extra_in, extra_in_size) < 0)
		goto fail;
	dev_chain_head(w->chain, &k->sent_head, NULL);
	pthread_mutex_lock(&w->lock);
	if (w->nconn >= DEV_WS_CONNECTIONS || atomic_load(&w->stop)) {
		pthread_mutex_unlock(&w->lock);
		log_warn("devchain", "WebSocket connection refused: %d open already", w->nconn);
		goto fail;
	}
	w->nconn++;
	pthread_mutex_unlock(&w->lock);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &a, conn_main, k);
	pthread_attr_destroy(&a);
	if (rc == 0)
		return;
	pthread_mutex_lock(&w->lock);
	if (--w->nconn == 0)
		pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->lock);
fail:
	if (k) {
		zbuf_free(&k->in);
		zbuf_free(&k->msg);
		free(k);
	}
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result dev_ws_upgrade(struct dev_ws *w, struct MHD_Connection *conn)
{
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *ver =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	char accept[29];

	if (!key || !ver || strcmp(ver, "13") != 0 || ws_accept_key(key, accept) < 0)
		return refuse(conn, MHD_HTTP_BAD_REQUEST,
		              "WebSocket upgrade needs Sec-WebSocket-Key and version 13\n");
	struct MHD_Response *r = MHD_create_response_for_upgrade(upgraded, w);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}
