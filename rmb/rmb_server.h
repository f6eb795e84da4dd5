/*
 * The RMB server the agent runs: nng REP on every configured address,
 * `contexts` concurrent nng contexts, handlers on a worker pool behind a
 * bounded queue. Every request goes through rmb_verify; every reply
 * (including errors) is signed by the node key and carries the request uid.
 *
 * A receive never waits for a handler: when all workers are busy and the
 * queue is full, the request is answered at once with 108 "busy" (retry).
 * Handlers registered RMB_H_SLOW run on the thread that verified them, at
 * most slow_workers at once besides the `workers` threads that serve the
 * other requests.
 * For receiving to always go on, contexts must exceed workers + queue_len +
 * slow_workers + slow_queue_len, the requests that can be held at once
 * (rmb_server_new enforces it; 0 picks that sum + 32).
 *
 * Lifecycle: new, register handlers, start, ..., stop, free. Handlers may
 * run concurrently with each other (on different workers).
 */
#ifndef ZOS_RMB_SERVER_H
#define ZOS_RMB_SERVER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "common/key.h"
#include "rmb/rmb.h"
#include "rmb/rmb_guard.h"
#include "rmb/rmb_verify.h"

#define RMB_LISTEN_MAX 8

struct rmb_server_cfg {
	const char *listen[RMB_LISTEN_MAX]; /* nng URLs (tcp://, ipc://); copied */
	size_t nlisten;
	struct rmb_verify_cfg verify; /* self_twin is set from rmb_server_new's twin_id */
	unsigned contexts;   /* nng contexts receiving at once; 0 = automatic */
	unsigned workers;    /* requests other than slow ones verified and run
			      * at once (the pool has workers + slow_workers
			      * threads) */
	unsigned queue_len;  /* received requests waiting for a worker (which
			      * verifies them, then runs the handler) */
	unsigned max_conns;  /* connections open at once; a new one beyond
			      * displaces the oldest (rmb_conns.h) */
	size_t mem_budget;   /* bytes of frames in flight across connections:
			      * connections are capped to mem_budget / max_msg */
	uint32_t frame_timeout_ms; /* a connection with no request in progress
				    * that completes no frame for this long is
				    * closed (half-sent frames, idle peers) */
	unsigned slow_workers;   /* RMB_H_SLOW handlers running at once */
	unsigned slow_queue_len; /* slow requests waiting for one to end */
	unsigned twin_slow_max;  /* slow requests per twin, running or waiting */
	uint32_t reply_ttl_s;
};

/* Defaults: no address, rmb_verify_cfg_init, automatic contexts (108), 4
 * workers, queue of 32, 1024 connections within a 128 MiB budget (128 at
 * the default 1 MiB max_msg), frames complete within 15 s, 8 slow workers
 * behind a queue of 32 with at most 2 slow requests per twin, replies
 * valid 60 s. */
void rmb_server_cfg_init(struct rmb_server_cfg *c);

/* A verified call, as a handler sees it. Pointers live during the call. */
struct rmb_call {
	uint32_t src;          /* the caller's twin, signature verified */
	const char *cmd;
	const char *uid;
	const cJSON *payload;  /* the request's dat as JSON, NULL when empty */
};

/* Returns 0 with *reply set to the reply payload (the server deletes it;
 * NULL for an empty payload), or a negative error with err filled (when
 * err->code is left 0 the server answers 500 naming the error). An error
 * with err->retry set promises that nothing was done, so the caller may
 * retry with the same uid. */
typedef int (*rmb_handler_fn)(void *arg, const struct rmb_call *call, cJSON **reply,
			      struct rmb_error *err);

struct rmb_server;

/* Copies cfg and node_key (wiped at free). lookup/lookup_ctx answer twin
 * keys (see rmb_guard.h) and must outlive the server. */
int rmb_server_new(const struct rmb_server_cfg *cfg, const struct zkey *node_key,
		   uint32_t twin_id, rmb_twin_lookup_fn lookup, void *lookup_ctx,
		   struct rmb_server **out);
/* Before start only; cmd is copied. -EEXIST for a duplicate, -EBUSY once started. */
int rmb_server_register(struct rmb_server *s, const char *cmd, rmb_handler_fn fn, void *arg);

/* The handler may wait on something slow (the chain): at most
 * slow_workers such handlers run at once (on the threads that verified
 * them), the others wait in the slow queue, so they never take the
 * `workers` threads other callers' requests need. Each twin has at most twin_slow_max slow
 * requests at once; beyond that, or when the slow queue is full, the
 * request is answered 108 busy (retry) without running. */
#define RMB_H_SLOW 1u
/* rmb_server_register with flags (RMB_H_*). */
int rmb_server_register_flags(struct rmb_server *s, const char *cmd, rmb_handler_fn fn,
			      void *arg, unsigned flags);
/* Listens on every address and starts serving. On failure nothing runs
 * and the server can only be freed. Sets glibc's M_MMAP_THRESHOLD to
 * 128 KiB for the process (see the .c). */
int rmb_server_start(struct rmb_server *s);
/* The port a tcp listener (index into cfg.listen) is bound to, for ":0". */
int rmb_server_tcp_port(struct rmb_server *s, size_t idx, int *port);
/* Stops receiving, waits for running handlers, drops queued requests. */
void rmb_server_stop(struct rmb_server *s);
/* Stops if needed and frees everything. NULL is fine. */
void rmb_server_free(struct rmb_server *s);

/* Counters for logs and tests. */
struct rmb_server_stats {
	uint64_t received, accepted, refused, busy, replied, send_failed;
	uint64_t displaced; /* connections closed to make room for newer ones */
	uint64_t timed_out; /* connections closed for not completing a frame */
	uint64_t slow_inplace; /* slow requests run by the worker that verified them */
	uint64_t send_queued;  /* replies queued behind another on their connection */
	unsigned slow_pending; /* slow requests running or waiting */
	size_t replay_entries;
	unsigned conns;
};
void rmb_server_get_stats(struct rmb_server *s, struct rmb_server_stats *st);

#endif
