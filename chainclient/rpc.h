/*
 * JSON-RPC 2.0, the transport of the chain client: over HTTP POST (libcurl)
 * for http:// and https:// URLs, over WebSocket (rpc_ws.c) for ws:// and
 * wss:// URLs, to one endpoint or to several given as a comma-separated
 * list ("wss://a/ws,wss://b/ws"). With several, calls go to the first
 * healthy one in list order; a transport failure moves them to the next at
 * once, and a health check every health_ms leaves an endpoint that does not
 * answer or whose finalized head is more than max_lag blocks behind the
 * best of the others, and comes back to it when it has caught up.
 *
 * Over WebSocket the client also subscribes to finalized and new heads and
 * re-subscribes after every reconnect; rpc_heads_wait lets a follower wake
 * on a new head instead of polling. Blocks themselves are always read by
 * number, so a follower that keeps its own cursor misses none across a
 * reconnect or a failover.
 *
 * For HTTP an rpc_client keeps a small pool of curl easy handles: a call borrows one,
 * so each concurrent caller reuses its own keep-alive connection and no
 * handle is ever shared between threads. Every call is bounded: connect and
 * total timeouts, a cap on the response size, and a bounded number of
 * retries with exponential backoff on transport failures (connection
 * refused, timeouts, HTTP 5xx).
 *
 * Results are three-way, as the agent must never read "we could not ask" as
 * "it is not there":
 *   0          a value (which may be JSON null for rpc_call)
 *   ZE_ABSENT  the server answered null where a value was asked for
 *              (only from the typed helpers, e.g. rpc_get_storage)
 *   ZE_CHAIN   the server answered with a JSON-RPC error object (filled into
 *              struct rpc_error)
 *   anything else (ZE_UNKNOWN, ZE_TOOBIG, -ENOMEM): no trustworthy answer.
 *
 * Thread-safe: any number of threads may call into one rpc_client.
 */
#ifndef ZOS_CHAINCLIENT_RPC_H
#define ZOS_CHAINCLIENT_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Substrate's author_submitExtrinsic error codes. */
#define RPC_ERR_INVALID_TX 1010 /* invalid transaction (stale/future nonce, bad proof...) */
#define RPC_ERR_UNKNOWN_TX 1011 /* validity could not be determined */
#define RPC_ERR_TEMPORARILY_BANNED 1012
#define RPC_ERR_ALREADY_IMPORTED 1013
#define RPC_ERR_PRIORITY_TOO_LOW 1014 /* same nonce already in the pool */

struct rpc_opts {
	long connect_timeout_ms; /* 0 = 3000 */
	long timeout_ms;         /* whole request; 0 = 15000 */
	int retries;             /* extra attempts on transport failure (0 = none; default 3) */
	long backoff_ms;         /* first retry delay, doubled each time; 0 = 200 */
	long backoff_max_ms;     /* 0 = 5000 */
	size_t max_response;     /* bytes; 0 = 32 MiB (metadata is ~300 KiB hex) */
	int pool_size;           /* handles kept for reuse; 0 = 4 */
	const char *ca_file;     /* wss:// and https://: PEM CA file instead of the
				  * system's CAs (copied); NULL = $ZOS_CHAIN_CA_FILE
				  * when set, else the system's */
	long health_ms;          /* several endpoints: check interval; 0 = 5000 */
	uint64_t max_lag;        /* blocks behind the best before leaving; 0 = 20 */
	/* Coalesced reads: rpc_get_storage at the best block (at NULL) made
	 * by several threads at about the same time goes out as one batch;
	 * the first of them waits coalesce_ms (0 = not at all) for others,
	 * and reads arriving while a batch is in flight go in the next one. */
	int coalesce_reads;
	long coalesce_ms;
};

/* Fills o with the defaults named above. */
void rpc_opts_default(struct rpc_opts *o);

/* A JSON-RPC error object as the server sent it. */
struct rpc_error {
	long code;
	char message[256]; /* truncated, NUL-terminated */
	char data[256];    /* "data" member as text (string or JSON), may be empty */
};

struct rpc_client;

/* url (one URL or a comma-separated list) is copied. opts may be NULL for
 * the defaults. ZE_CONFIG names a bad URL in the log. */
int rpc_client_new(const char *url, const struct rpc_opts *opts, struct rpc_client **out);
/* No call may be in flight. NULL is accepted. */
void rpc_client_free(struct rpc_client *c);
/*
 * Ends every exchange in progress now and fails every later one at once
 * with ZE_UNKNOWN, from any thread; for a process that is stopping and must
 * not wait out a node that does not answer. There is no undo.
 */
void rpc_abort(struct rpc_client *c);
/* The URL list as given. */
const char *rpc_client_url(const struct rpc_client *c);
/* The endpoint calls go to now. */
const char *rpc_client_endpoint(struct rpc_client *c);

/* Cumulative counters, for tests and diagnostics. */
struct rpc_stats {
	uint64_t requests; /* HTTP attempts, retries included */
	uint64_t retries;
	uint64_t handles_created;
	uint64_t read_batches;  /* coalesced reads: batches sent */
	uint64_t batched_reads; /* and the reads they carried */
	/* CPU time used by the client's own I/O threads (one per WebSocket
	 * endpoint), in ns; 0 over HTTP, where the calling thread does the
	 * I/O. A caller's thread CPU plus this is what its calls cost. */
	uint64_t io_cpu_ns;
};
void rpc_client_stats(struct rpc_client *c, struct rpc_stats *out);

/*
 * Waits until a WebSocket endpoint announces a finalized head above seen,
 * at most timeout_ms; 0 with *number the highest finalized head announced.
 * ZE_TIMEOUT when none came, ZE_UNSUPPORTED at once when no endpoint has a
 * live head subscription (HTTP only, or disconnected): poll instead.
 */
int rpc_heads_wait(struct rpc_client *c, uint64_t seen, long timeout_ms, uint64_t *number);

/*
 * The finalized head that the endpoint calls go to announced last on its
 * live subscription: number, hash (computed from the announced header) and
 * parent hash, and *age_ms since it came; no request is made. ZE_UNSUPPORTED
 * when that endpoint has none (HTTP, disconnected, nothing announced yet,
 * or a header that could not be hashed): ask with rpc_finalized_head.
 */
int rpc_heads_final(struct rpc_client *c, uint64_t *number, uint8_t hash[32],
		    uint8_t parent[32], int64_t *age_ms);

/*
 * A Substrate header as JSON (parentHash, number, stateRoot,
 * extrinsicsRoot, digest.logs): its number, parent hash and block hash
 * (blake2b-256 of the SCALE header). ZE_MALFORMED when a field is missing
 * or not of its shape.
 */
int rpc_header_hash(const cJSON *hdr, uint64_t *number, uint8_t hash[32], uint8_t parent[32]);

/*
 * The endpoint the health check would choose: the first (in list order)
 * that is alive and whose finalized head fin[i] is at most max_lag behind
 * the highest among the alive ones; -1 when none is alive.
 */
int rpc_pick_endpoint(const int *alive, const uint64_t *fin, int n, uint64_t max_lag);

/* Requests this process sent to chains (HTTP posts and WebSocket frames,
 * every rpc_client together, retries included): for metrics and benchmarks. */
uint64_t rpc_requests_total(void);

/*
 * Calls method with params (a JSON array, borrowed; NULL = []).
 * On 0, *result is the "result" member (caller frees with cJSON_Delete; it
 * may be a JSON null). On ZE_CHAIN, err (if not NULL) holds the error object.
 */
int rpc_call(struct rpc_client *c, const char *method, const cJSON *params,
	     cJSON **result, struct rpc_error *err);

/*
 * rpc_call for a request that must not run twice (author_submitExtrinsic):
 * retried only when the connection could not be made, i.e. when the node
 * cannot have seen it. A timeout or a dropped connection is ZE_UNKNOWN at
 * once, since the node may have acted on the request.
 */
int rpc_call_once(struct rpc_client *c, const char *method, const cJSON *params,
		  cJSON **result, struct rpc_error *err);

/*
 * The same call with params given as a JSON array text, e.g. "[\"0x..\"]"
 * (NULL = []). Convenient for fixed-shape requests.
 */
int rpc_call_text(struct rpc_client *c, const char *method, const char *params_json,
		  cJSON **result, struct rpc_error *err);

/*
 * Several calls in one request (a JSON-RPC batch), for calls that may be
 * repeated (reads): retried and failed over as rpc_call. Each call gets its
 * own outcome in rc (0, ZE_CHAIN with err filled, or the request's
 * transport error, or ZE_UNKNOWN when the answer left it out) and, on 0,
 * result (caller frees with rpc_batch_free). A server that refuses batches
 * gets the calls one by one, then and for the rest of the client's life.
 * Returns -EINVAL (a call without method, params not an array) or -ENOMEM
 * before anything is sent, else 0.
 */
struct rpc_batch_call {
	const char *method;   /* in */
	const cJSON *params;  /* in, borrowed; NULL = [] */
	int rc;               /* out */
	cJSON *result;        /* out */
	struct rpc_error err; /* out, on ZE_CHAIN */
};
int rpc_call_batch(struct rpc_client *c, struct rpc_batch_call *calls, size_t n);
/* Frees the results of a batch. */
void rpc_batch_free(struct rpc_batch_call *calls, size_t n);

/*
 * state_getStorage(key, at?): at is a 32-byte block hash or NULL (best block).
 * On 0, *out (caller frees) holds *outlen bytes of the SCALE value, at most
 * max bytes. ZE_ABSENT when the chain answers null. With opts.coalesce_reads
 * and at NULL, it may share one request with other threads' reads.
 */
int rpc_get_storage(struct rpc_client *c, const uint8_t *key, size_t keylen,
		    const uint8_t *at, size_t max, uint8_t **out, size_t *outlen);

/*
 * state_getKeysPaged(prefix, count, start?, at?). On 0, *keys is a heap array
 * of *nkeys heap byte strings with lengths in *lens (free with
 * rpc_keys_free). count is capped at 1000.
 */
int rpc_get_keys_paged(struct rpc_client *c, const uint8_t *prefix, size_t plen,
		       unsigned count, const uint8_t *start, size_t slen, const uint8_t *at,
		       uint8_t ***keys, size_t **lens, size_t *nkeys);
void rpc_keys_free(uint8_t **keys, size_t *lens, size_t nkeys);

/* chain_getBlockHash(n); ZE_ABSENT when no block n exists yet. */
int rpc_block_hash(struct rpc_client *c, uint64_t n, uint8_t hash[32]);
/* chain_getHeader(at?) -> number and parent hash. */
int rpc_header(struct rpc_client *c, const uint8_t *at, uint64_t *number, uint8_t parent[32]);
int rpc_finalized_head(struct rpc_client *c, uint8_t hash[32]);
/* The finalized head and chain_getBlockHash(n) in one request: *have set
 * when block n exists (its hash in hash). Fails only as the head does.
 * Against a server without batches, the head alone. */
int rpc_finalized_head_and_hash(struct rpc_client *c, uint64_t n, uint8_t fin[32],
				uint8_t hash[32], int *have);
/* state_getRuntimeVersion: specVersion and transactionVersion. */
int rpc_runtime_version(struct rpc_client *c, uint32_t *spec, uint32_t *tx);
/* state_getMetadata as raw bytes (caller frees). */
int rpc_metadata(struct rpc_client *c, uint8_t **out, size_t *outlen);
/* system_accountNextIndex(ss58 or hex account): the pool-aware next nonce. */
int rpc_account_next_index(struct rpc_client *c, const uint8_t account[32], uint64_t *nonce);
/* author_submitExtrinsic (through rpc_call_once); hash is the returned
 * extrinsic hash. */
int rpc_submit_extrinsic(struct rpc_client *c, const uint8_t *xt, size_t n, uint8_t hash[32],
			 struct rpc_error *err);

/*
 * chain_getBlock(hash): the block's number and its extrinsics as raw bytes
 * (each the full opaque encoding, compact length included). Free with
 * rpc_keys_free(xts, lens, n).
 */
int rpc_block(struct rpc_client *c, const uint8_t hash[32], uint64_t *number, uint8_t ***xts,
	      size_t **lens, size_t *n);

/*
 * Why the process's last call failed in transport (any client, any
 * thread), for messages that name the cause and the fix: the kind, the
 * endpoint tried and (for RPC_FAIL_HTTP) the status. Reset as each call
 * starts; RPC_FAIL_NONE when the last call got an answer or failed before
 * reaching the network.
 */
enum rpc_failure {
	RPC_FAIL_NONE = 0,
	RPC_FAIL_REFUSED, /* nothing listens at the address */
	RPC_FAIL_TIMEOUT, /* no answer in time */
	RPC_FAIL_RESOLVE, /* the host name does not resolve */
	RPC_FAIL_HTTP,    /* an HTTP status other than 200 */
	RPC_FAIL_OTHER,   /* any other transport error (TLS, reset...) */
};
struct rpc_failure_info {
	enum rpc_failure kind;
	long http_status;
	char url[256];    /* the endpoint tried, truncated */
	char detail[128]; /* the transport's own words, may be empty */
};
void rpc_last_failure(struct rpc_failure_info *out);

/* Parses a JSON number or "0x.." hex string into a u64 (headers use hex). */
int rpc_json_u64(const cJSON *v, uint64_t *out);

#endif
