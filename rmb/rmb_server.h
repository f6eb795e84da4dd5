/*
 * The RMB server the agent runs: nng REP on every configured address,
 * `contexts` concurrent nng contexts, handlers on a worker pool behind a
 * bounded queue. Every request goes through rmb_verify; every reply
 * (including errors) is signed by the node key and carries the request uid.
 *
 * A receive never waits for a handler: when all workers are busy and the
 * queue is full, the request is answered at once with a retryable 500
 * "busy". For that to always leave contexts free to receive, contexts must
 * exceed workers + queue_len (rmb_server_new enforces it; 0 picks
 * workers + queue_len + 32).
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
	unsigned workers;    /* handler threads */
	unsigned queue_len;  /* received requests waiting for a worker (which
			      * verifies them, then runs the handler) */
	unsigned max_conns;  /* connections open at once; a new one beyond
			      * displaces the oldest (rmb_conns.h) */
	uint32_t reply_ttl_s;
};

/* Defaults: no address, rmb_verify_cfg_init, automatic contexts (68),
 * 4 workers, queue of 32, 1024 connections, replies valid 60 s. */
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
	size_t replay_entries;
	unsigned conns;
};
void rmb_server_get_stats(struct rmb_server *s, struct rmb_server_stats *st);

#endif
