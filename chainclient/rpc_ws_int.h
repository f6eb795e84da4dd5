/*
 * Internals of the WebSocket transport, shared by rpc_ws.c (the API),
 * rpc_ws_io.c (the I/O thread) and rpc_ws_conn.c (connecting: TCP, TLS,
 * the HTTP upgrade); not for other files.
 */
#ifndef ZOS_CHAINCLIENT_RPC_WS_INT_H
#define ZOS_CHAINCLIENT_RPC_WS_INT_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "chainclient/rpc_int.h"
#include "common/buf.h"

#define WS_SUB_ID_FINAL 4000000000000001ULL
#define WS_SUB_ID_NEW 4000000000000002ULL
#define WS_PING_IDLE_MS 15000
#define WS_DEAD_IDLE_MS 45000

struct ws_pending {
	struct ws_pending *next;
	uint64_t id;
	uint64_t nids; /* a batch answers ids id .. id + nids - 1 in one message */
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
	/* This connection's last finalized head announcement, guarded by
	 * heads->lock: the follower takes its head from it instead of asking
	 * (rpc_heads_final). fin_ok is 0 until one came on the connection. */
	int fin_ok;
	uint64_t fin_num;
	uint8_t fin_hash[32], fin_parent[32];
	int64_t fin_ms;
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

/* rpc_ws_conn.c: the URL, raw I/O (plain or TLS, non-blocking: >0 bytes,
 * 0 would block, <0 gone), connecting and the upgrade. */
int ws_parse_url(struct rpc_ws *w, const char *url);
ssize_t ws_raw_read(struct rpc_ws *w, void *p, size_t n);
ssize_t ws_raw_write(struct rpc_ws *w, const void *p, size_t n);
void ws_close(struct rpc_ws *w);
int ws_tcp_connect(struct rpc_ws *w, int64_t deadline);
int ws_tls_connect(struct rpc_ws *w, int64_t deadline);
int ws_handshake(struct rpc_ws *w, int64_t deadline);
/* rpc_ws_io.c: queues a masked frame (caller holds w->lock); the thread. */
int ws_queue(struct rpc_ws *w, uint64_t id, int op, const void *p, size_t n);
void *ws_main(void *arg);
/* rpc_ws.c: wakes the I/O thread. */
void ws_wake(struct rpc_ws *w);

#endif
