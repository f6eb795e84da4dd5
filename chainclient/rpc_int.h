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

/* Coalesced storage reads (rpc_batch.c): the queue of waiting readers and
 * whether one of them is sending a batch. */
struct rpc_coal_req;
struct rpc_coal {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rpc_coal_req *head, *tail;
	int busy;
	uint64_t batches, reads; /* for rpc_client_stats */
};
int rpc_coal_init(struct rpc_coal *q);
void rpc_coal_destroy(struct rpc_coal *q);
/* rpc_get_storage at the best block through the queue. */
int rpc_get_storage_coalesced(struct rpc_client *c, const uint8_t *key, size_t keylen,
			      size_t max, uint8_t **out, size_t *outlen);

/* url is ws:// or wss://; ca_file NULL = the system's CAs. heads outlives
 * the transport. */
int rpc_ws_new(const char *url, const struct rpc_opts *o, struct rpc_heads *heads,
               struct rpc_ws **out);
void rpc_ws_free(struct rpc_ws *w);
void rpc_ws_abort(struct rpc_ws *w);
/*
 * Sends body (a request with the given id, or a batch of nids requests with
 * the ids id .. id + nids - 1) and waits for the response carrying one of
 * those ids into out. ZE_UNKNOWN with *retry set when it may be retried: the
 * request was not sent (no connection), or it was sent and once is 0.
 */
int rpc_ws_exchange(struct rpc_ws *w, const char *body, size_t len, uint64_t id,
                    uint64_t nids, int once, struct zbuf *out, int *retry);
/* 1 while connected. */
int rpc_ws_up(struct rpc_ws *w);
/* CPU time the endpoint's I/O thread has used, in ns (0 if unknown). */
uint64_t rpc_ws_cpu_ns(struct rpc_ws *w);
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
	struct rpc_coal coal;
	atomic_int no_batch; /* the server refused a batch: calls go one by one */
	/* Health check thread (several endpoints only). */
	pthread_t health;
	int health_running;
	pthread_mutex_t health_lock;
	pthread_cond_t health_cond;
	int health_stop;
};

uint64_t rpc_next_id(struct rpc_client *c);
/* Reserves n consecutive ids and returns the first. */
uint64_t rpc_next_ids(struct rpc_client *c, uint64_t n);
/*
 * Sends body (requests with ids id .. id + nids - 1) with the client's
 * retries and failover, as rpc_call does; on 0, out holds the response
 * text and *ep the endpoint that answered. Does not parse it.
 */
int rpc_send(struct rpc_client *c, const char *body, uint64_t id, uint64_t nids, int once,
             const char *what, struct zbuf *out, int *ep);
/* A block's extrinsics at most, and the bytes of one. */
#define RPC_MAX_BLOCK_XTS 100000
#define RPC_MAX_XT_BYTES (8u << 20)
/*
 * rpc_call_batch for a caller that reads the answers from the response's
 * text itself (common/jscan.h), without the cJSON tree of every value: on
 * 0, text (the caller's) holds the response as the server sent it, calls[i]
 * answers with id base + i, and ep is the endpoint that answered. When
 * there is no such text (one call, a server without batches, a transport
 * error, an answer too large) the calls are answered as by rpc_call_batch
 * and text is empty. A caller that cannot read the text hands it to
 * rpc_batch_answers, which answers the calls from it as rpc_call_batch
 * does. Either way the caller frees text (zbuf_free) and the results
 * (rpc_batch_free).
 */
struct rpc_batch_text {
	struct zbuf text;
	uint64_t base;
	int ep;
};
int rpc_call_batch_text(struct rpc_client *c, struct rpc_batch_call *calls, size_t n,
			struct rpc_batch_text *t);
void rpc_batch_answers(struct rpc_client *c, struct rpc_batch_call *calls, size_t n,
		       struct rpc_batch_text *t);
/* Result shapes shared by the single calls (rpc_methods.c) and batches
 * (rpc_batch.c): a hex value (ZE_ABSENT for null; *out heap, at most max
 * bytes), a 32-byte hash, a chain_getBlock answer (free with
 * rpc_keys_free). rpc_add_hex appends "0x.." of p (JSON null for NULL). */
int rpc_hex_result(const cJSON *res, size_t max, uint8_t **out, size_t *outlen);
/* The "0x.." number of 1 to 16 digits in the len characters at s, as
 * rpc_json_u64 reads a string; ZE_MALFORMED otherwise. */
int rpc_hex_u64(const char *s, size_t len, uint64_t *out);
int rpc_hash_result(const cJSON *res, uint8_t hash[32]);
int rpc_block_result(const cJSON *res, uint64_t *number, uint8_t ***xts, size_t **lens,
		     size_t *n);
int rpc_add_hex(cJSON *arr, const uint8_t *p, size_t n);
/* Fills err from a JSON-RPC error object. */
void rpc_fill_error(const cJSON *e, struct rpc_error *err);
/* One attempt of method on endpoint i, no retry or failover. */
int rpc_call_ep(struct rpc_client *c, int i, const char *method, const cJSON *params,
                cJSON **result);
int rpc_health_start(struct rpc_client *c);
void rpc_health_stop(struct rpc_client *c);

/* Counts one request for rpc_requests_total(). */
void rpc_count_request(void);

#endif
