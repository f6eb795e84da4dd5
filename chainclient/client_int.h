/* Internals shared by the chain client's files; not for other modules. */
#ifndef ZOS_CHAINCLIENT_CLIENT_INT_H
#define ZOS_CHAINCLIENT_CLIENT_INT_H

#include <pthread.h>
#include <stdint.h>

#include "chainclient/client.h"

struct chain_client {
	struct rpc_client *rpc;
	struct chain_client_opts opts;
	pthread_mutex_t lock;      /* guards rt and checked_ms */
	pthread_mutex_t load_lock; /* serializes version checks and reloads */
	struct chain_runtime *rt;  /* the client's reference, or NULL */
	int64_t checked_ms;
};

#endif
