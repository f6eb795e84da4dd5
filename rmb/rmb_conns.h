/*
 * The server's table of open connections (nng pipe ids), bounded. When it
 * is full, a new connection displaces the oldest one: an attacker holding
 * many idle or half-sent connections cannot lock callers out, since a real
 * request completes long before as many new connections have arrived.
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

#endif
