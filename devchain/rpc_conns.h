/*
 * Connection limits of tfchain-dev's RPC server, kept apart from the HTTP
 * handling (rpc_http.c) so that it only adds a few hooks:
 *   - at most `max` connections, at most `per_client` from one IPv4
 *     address: a new connection beyond either displaces the connection
 *     (of that client, or of all) that has waited longest without
 *     completing a request, so idle or half-sent connections cannot lock
 *     callers out;
 *   - a connection must complete a request (headers, body and answer)
 *     within `deadline_ms` of its start or of its previous request, or it
 *     is closed: a slow sender (slowloris) holds a connection that long.
 * Connections are closed with shutdown(2) on their socket, under the
 * table's lock; libmicrohttpd then sees the end of the stream and cleans
 * up (it reports the close to dev_rpc_conns_notify, which takes the same
 * lock, before it closes the descriptor).
 */
#ifndef ZOS_DEVCHAIN_RPC_CONNS_H
#define ZOS_DEVCHAIN_RPC_CONNS_H

#include <microhttpd.h>

struct dev_rpc_conns;

/* Starts the deadline thread. Free with dev_rpc_conns_free after the
 * daemon stopped. */
int dev_rpc_conns_new(unsigned max, unsigned per_client, unsigned deadline_ms,
                      struct dev_rpc_conns **out);
void dev_rpc_conns_free(struct dev_rpc_conns *t);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the table. */
void dev_rpc_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe);
/* A request on conn was answered: its deadline starts again. */
void dev_rpc_conns_done(struct dev_rpc_conns *t, struct MHD_Connection *conn);

/* Connections closed so far for displacement and for their deadline. */
void dev_rpc_conns_stats(struct dev_rpc_conns *t, unsigned *open, unsigned long *displaced,
                         unsigned long *timed_out);

#endif
