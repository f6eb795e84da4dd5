/* Building signed replies and busy answers, the server side of rmb's envelopes (rmb_reply.h). */
#include "rmb/rmb_reply.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/zerr.h"

#define BUSY_PARSE_MAX (16u << 10)

static nng_msg *encode_msg(const struct rmb_replier *rp, struct rmb_env *r)
{
	char *txt = NULL;
	size_t len = 0;
	nng_msg *m = NULL;
	if (rmb_env_sign(r, &rp->key) || rmb_env_encode(r, rp->max_msg, &txt, &len))
		return NULL;
	if (nng_msg_alloc(&m, len) == 0)
		memcpy(nng_msg_body(m), txt, len);
	free(txt);
	return m;
}

nng_msg *rmb_reply_build(const struct rmb_replier *rp, const struct rmb_env *req,
			 const struct rmb_error *err, const cJSON *out)
{
	struct rmb_env r;
	rmb_env_init(&r);
	r.ver = RMB_VERSION;
	r.kind = RMB_REPLY;
	/* uid and cmd come from a decoded envelope: already within charset and size. */
	memcpy(r.uid, req->uid, sizeof(r.uid));
	memcpy(r.cmd, req->cmd, sizeof(r.cmd));
	r.src = rp->twin;
	r.dst = req->src;
	r.now = clk_wall_s();
	r.exp = rp->ttl_s;
	if (err) {
		r.has_err = 1;
		r.err = *err;
	} else if (out) {
		char *txt = cJSON_PrintUnformatted(out);
		if (!txt)
			return NULL;
		/* cJSON allocates with malloc (default hooks): dat can own it. */
		r.dat = (uint8_t *)txt;
		r.dat_len = strlen(txt);
	}
	nng_msg *m = encode_msg(rp, &r);
	if (!m && !err) {
		/* Most likely too large: tell the caller instead of going silent. */
		rmb_env_set_dat(&r, NULL, 0);
		r.has_err = 1;
		rmb_error_set(&r.err, RMB_E_INTERNAL, 0, "reply does not fit in %zu bytes",
			      rp->max_msg);
		m = encode_msg(rp, &r);
	}
	rmb_env_clear(&r);
	return m;
}

nng_msg *rmb_reply_busy(const struct rmb_replier *rp, const void *buf, size_t len)
{
	struct rmb_env req;
	struct rmb_error err;
	uint32_t code;
	rmb_env_init(&req);
	/* Best effort, only to address the reply; nothing of it is trusted.
	 * This runs on nng's thread, so large frames are not parsed: their
	 * callers get the busy error without their uid. */
	if (len <= BUSY_PARSE_MAX)
		(void)rmb_env_decode(buf, len, rp->max_msg, &req, &code);
	rmb_error_set(&err, RMB_E_BUSY, 1, "busy: too many requests in progress, retry later");
	nng_msg *m = rmb_reply_build(rp, &req, &err, NULL);
	rmb_env_clear(&req);
	return m;
}
