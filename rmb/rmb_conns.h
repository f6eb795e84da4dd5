/*
 * The server's table of open connections (nng pipe ids), bounded. When it
 * is full, a new connection displaces the oldest one: an attacker holding
 * many idle or half-sent connections cannot lock callers out, since a real
 * request completes long before as many new connections have arrived.
 * Each connection also records when it last completed a request and how
 * many of its requests are in progress, so that connections stuck in the
 * middle of a frame (or idle) can be closed after a timeout.
 * Internal to rmb/. Thread-safe.
 */
#ifndef ZOS_RMB_CONNS_H
#define ZOS_RMB_CONNS_H

#include <stdint.h>

struct rmb_conns;

int rmb_conns_new(unsigned max, struct rmb_conns **out);
void rmb_conns_free(struct rmb_conns *c);
/* Records id. When the table was full, *victim is the id of the oldest
 * connection, which the caller must close (0 when none). */
void rmb_conns_add(struct rmb_conns *c, uint32_t id, uint32_t *victim);
/* Forgets id (no-op when absent, e.g. already displaced). */
void rmb_conns_remove(struct rmb_conns *c, uint32_t id);
unsigned rmb_conns_count(struct rmb_conns *c);

/* A complete request arrived on id (it now has one more in progress). */
void rmb_conns_begin(struct rmb_conns *c, uint32_t id);
/* A request of id was answered (or dropped) at now_ms (monotonic). */
void rmb_conns_end(struct rmb_conns *c, uint32_t id, uint64_t now_ms);
/* Up to max ids of connections with no request in progress whose last
 * complete request (or connect) is older than timeout_ms: idle ones, and
 * ones stuck in the middle of a frame. The caller ends them. A connection
 * is handed out once: it stays in the table until it is removed, but is
 * not returned again. Returns how many were written to ids. */
unsigned rmb_conns_stale(struct rmb_conns *c, uint64_t now_ms, uint64_t timeout_ms, uint32_t *ids,
                         unsigned max);
/* As rmb_conns_stale, for every connection not yet handed out (the server
 * stops). */
unsigned rmb_conns_take_all(struct rmb_conns *c, uint32_t *ids, unsigned max);

#endif
