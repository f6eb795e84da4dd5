/* Internals shared by the RPC transport files (rpc.c, rpc_ws.c,
 * rpc_health.c); not for other modules. */
#ifndef ZOS_CHAINCLIENT_RPC_INT_H
#define ZOS_CHAINCLIENT_RPC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "chainclient/rpc.h"
#include "common/buf.h"

/* Heads pushed by the subscriptions of every WebSocket endpoint of one
 * client; the follower waits on them (rpc_heads_wait). */
struct rpc_heads {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t finalized; /* highest finalized number announced */
	uint64_t best;      /* highest new head announced */
	uint64_t events;    /* count of announcements, for waiters */
	int subscribed;     /* endpoints with live subscriptions */
};

struct rpc_ws;

/* url is ws:// or wss://; ca_file NULL = the system's CAs. heads outlives
 * the transport. */
int rpc_ws_new(const char *url, const struct rpc_opts *o, struct rpc_heads *heads,
               struct rpc_ws **out);
void rpc_ws_free(struct rpc_ws *w);
void rpc_ws_abort(struct rpc_ws *w);
/*
 * Sends body (a request with the given id) and waits for the response with
 * that id into out. ZE_UNKNOWN with *retry set when it may be retried: the
 * request was not sent (no connection), or it was sent and once is 0.
 */
int rpc_ws_exchange(struct rpc_ws *w, const char *body, size_t len, uint64_t id, int once,
                    struct zbuf *out, int *retry);
/* 1 while connected. */
int rpc_ws_up(struct rpc_ws *w);
/* 1 when the last connection attempt was refused (nothing listens). */
int rpc_ws_refused(struct rpc_ws *w);

#define RPC_POOL_MAX 64
#define RPC_MAX_EP 8

struct rpc_ep {
	char *url;
	struct rpc_ws *ws; /* NULL for HTTP */
	/* Health, guarded by the client's lock. */
	int alive;
	int lagging;
	uint64_t finalized;
};

struct curl_slist;
typedef void CURL;

struct rpc_client {
	char *url; /* the list as given */
	char *ca_file;
	struct rpc_opts opts;
	struct curl_slist *headers; /* read-only once built, shared by all handles */
	pthread_mutex_t lock;       /* guards pool, npool, next_id, stats, ep health */
	CURL *pool[RPC_POOL_MAX];
	int npool;
	uint64_t next_id;
	struct rpc_stats stats;
	atomic_int aborted; /* rpc_abort: every exchange ends now */
	struct rpc_ep ep[RPC_MAX_EP];
	int nep;
	atomic_int active; /* index of the endpoint calls go to */
	struct rpc_heads heads;
	/* Health check thread (several endpoints only). */
	pthread_t health;
	int health_running;
	pthread_mutex_t health_lock;
	pthread_cond_t health_cond;
	int health_stop;
};

uint64_t rpc_next_id(struct rpc_client *c);
/* One attempt of method on endpoint i, no retry or failover. */
int rpc_call_ep(struct rpc_client *c, int i, const char *method, const cJSON *params,
                cJSON **result);
int rpc_health_start(struct rpc_client *c);
void rpc_health_stop(struct rpc_client *c);

/* Counts one request for rpc_requests_total(). */
void rpc_count_request(void);

#endif
