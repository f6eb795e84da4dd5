/*
 * Building signed replies (server side). Internal to rmb/: the server and
 * the tests use it; the agent goes through rmb_server.h.
 */
#ifndef ZOS_RMB_REPLY_H
#define ZOS_RMB_REPLY_H

#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "common/key.h"
#include "rmb/rmb_envelope.h"

struct rmb_replier {
	struct zkey key; /* the node's account key */
	uint32_t twin;   /* the node's twin: every reply's src */
	uint32_t ttl_s;
	size_t max_msg;
};

/* The signed reply to req (whatever of it decoded): err when set, else the
 * payload out (may be NULL). A reply too large for max_msg becomes a 500.
 * Returns a new nng message (the caller sends or frees it), NULL when out
 * of memory. */
nng_msg *rmb_reply_build(const struct rmb_replier *rp, const struct rmb_env *req,
			 const struct rmb_error *err, const cJSON *out);

/* The retryable "busy" reply to a raw request that was not processed. */
nng_msg *rmb_reply_busy(const struct rmb_replier *rp, const void *buf, size_t len);

#endif
