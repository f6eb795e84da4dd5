/*
 * The WebSocket side of tfchain-dev's RPC server (private to rpc_http.c and
 * rpc_ws.c): a GET with "Upgrade: websocket" on the RPC port is switched to
 * WebSocket through libmicrohttpd's upgrade API, and each such connection
 * gets a thread that answers the same JSON-RPC methods as HTTP plus the
 * head subscriptions (chain_subscribeNewHeads, chain_subscribeFinalizedHeads,
 * chain_subscribeAllHeads) and state_subscribeRuntimeVersion.
 */
#ifndef ZOS_DEVCHAIN_RPC_WS_H
#define ZOS_DEVCHAIN_RPC_WS_H

#include <microhttpd.h>

#include "devchain/chain.h"

#define DEV_WS_CONNECTIONS 32

struct dev_ws;

int dev_ws_new(struct dev_chain *c, struct dev_ws **out);
/* Ends every WebSocket connection and waits for their threads; call before
 * MHD_stop_daemon. NULL is accepted. */
void dev_ws_free(struct dev_ws *w);
/* Non-zero when conn asks for a WebSocket upgrade. */
int dev_ws_is_upgrade(struct MHD_Connection *conn);
/* Answers the upgrade request (101 or an HTTP error). */
enum MHD_Result dev_ws_upgrade(struct dev_ws *w, struct MHD_Connection *conn);

#endif
