/*
 * Ending one connection of the RMB server. Internal to rmb/.
 *
 * libnng 1.5.2 (Debian 12) can lose a receive for good when a pipe is
 * closed locally (nng_pipe_close, or nng_close of its socket) while the TCP
 * transport is between two reads of one message: the transport re-submits
 * its read after the close has marked that read stopped, the read is
 * dropped without completing, and the thread that reaps closed pipes waits
 * for it forever. That thread is shared by every socket of the process, so
 * from then on no pipe or socket is ever freed. A large frame arriving in
 * many segments makes the window wide (docs/rmb.md, "Closing
 * connections").
 *
 * A connection that the peer closes takes another path: the read fails
 * and nng closes the pipe itself, after its last read. So a TCP connection
 * is ended by shutting down its socket (shutdown(2), which leaves the file
 * descriptor to nng), and nng sees a peer that went away. Other transports
 * (ipc, whose peers are local) are closed with nng_pipe_close.
 */
#ifndef ZOS_RMB_PIPE_H
#define ZOS_RMB_PIPE_H

#include <nng/nng.h>

/* The process's TCP sockets by address pair, as of the last scan of its
 * descriptors: a connection is ended without a scan when it was open at
 * the last one. Displaced connections are the oldest, so under a flood of
 * new connections there is about one scan per table's worth of them.
 * Thread-safe. */
struct rmb_fds;

int rmb_fds_new(struct rmb_fds **out);
void rmb_fds_free(struct rmb_fds *m);

/* Ends the connection of pipe p as above: its TCP socket is shut down, or
 * p is closed with nng_pipe_close when it is not TCP or its socket is gone
 * (nng is closing it already). Nothing to do when p is gone. */
void rmb_pipe_end(struct rmb_fds *m, nng_pipe p);

#endif
