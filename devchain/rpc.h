/*
 * The devchain's JSON-RPC 2.0 server (HTTP POST and WebSocket on one port,
 * libmicrohttpd) and the Substrate methods of docs/devchain.md behind it.
 */
#ifndef ZOS_DEVCHAIN_RPC_H
#define ZOS_DEVCHAIN_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "devchain/chain.h"

#define DEV_RPC_BODY_MAX (4u << 20) /* a bigger request gets HTTP 413 */
#define DEV_RPC_BATCH_MAX 256
#define DEV_RPC_RESPONSE_MAX (2u << 20) /* answers to one batch; beyond, errors */
#define DEV_RPC_ID_MAX 256              /* bytes of a string id */
#define DEV_RPC_CONNECTIONS 512           /* open at once; a new one displaces */
#define DEV_RPC_CONNECTIONS_PER_CLIENT 128 /* from one IPv4 address */
#define DEV_RPC_DEADLINE_S 10              /* to complete a request (rpc_conns.h) */

struct dev_rpc;

/* Listens on addr ("127.0.0.1:9944"; port 0 picks a free one, see
 * dev_rpc_port) with a small thread pool. *out is stopped with
 * dev_rpc_stop. */
int dev_rpc_start(struct dev_chain *c, const char *addr, struct dev_rpc **out);
uint16_t dev_rpc_port(const struct dev_rpc *s);
void dev_rpc_stop(struct dev_rpc *s);

/* Answers one JSON-RPC request body (an object or a batch). Returns a heap
 * JSON string the caller frees, or NULL when there is no answer (only
 * notifications) or on allocation failure. */
char *dev_rpc_handle(struct dev_chain *c, const char *body, size_t len);

/* The result of one method called directly (params borrowed, may be NULL),
 * for the WebSocket server's notifications; NULL on any error. Caller
 * frees. */
cJSON *dev_rpc_result(struct dev_chain *c, const char *method, const cJSON *params);

#endif
