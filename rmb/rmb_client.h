/*
 * RMB client: one nng REQ socket to one destination twin. A call signs a
 * request with the caller's key, sends it, and accepts only a reply signed
 * by the destination twin's key that answers this uid. On a timeout or a
 * retryable error reply it resends the very same envelope (same uid), so
 * the server can tell a retry from a new request.
 *
 * A client is used by one thread at a time; open one per thread.
 */
#ifndef ZOS_RMB_CLIENT_H
#define ZOS_RMB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/key.h"
#include "rmb/rmb.h"

struct rmb_client_cfg {
	const char *url;        /* nng URL of the destination (copied) */
	const struct zkey *key; /* the caller's account key (copied, wiped at free) */
	uint32_t src;           /* the caller's twin */
	uint32_t dst;           /* the destination twin */
	uint8_t dst_pk[32];     /* its account key: replies must verify with it */
	unsigned timeout_ms;    /* per attempt */
	unsigned attempts;      /* sends of the same envelope at most */
	uint32_t ttl_s;         /* the request's exp */
	uint32_t skew_s;        /* clock skew tolerated on replies */
	size_t max_msg;         /* largest reply accepted */
	int fail_fast;          /* 1: rmb_client_new tries a plain connect() first
				 * and fails with -ECONNREFUSED when nothing
				 * listens at a tcp:// url, or an ipc:// socket
				 * file does not exist (a person
				 * waiting); 0: the dial goes on in the background
				 * until a call's timeout */
};

/* Defaults: 5000 ms, 3 attempts, ttl 60 s, skew 30 s, 1 MiB. */
void rmb_client_cfg_init(struct rmb_client_cfg *c);

struct rmb_result {
	int ok;               /* 1: json holds the payload; 0: err holds the error */
	struct rmb_error err;
	char *json;           /* NUL-terminated payload ("" when empty), owned */
	size_t json_len;
	char uid[RMB_UID_MAX + 1]; /* the request's uid */
};

struct rmb_client;

int rmb_client_new(const struct rmb_client_cfg *cfg, struct rmb_client **out);
void rmb_client_free(struct rmb_client *c);

/* Calls cmd with payload json (NULL or "" for none; must be one JSON
 * document). Returns 0 when a verified reply arrived (res->ok says which
 * kind; the caller clears res with rmb_result_clear), ZE_TIMEOUT when no
 * attempt got an answer, ZE_CRYPTO / ZE_MALFORMED for a reply that does
 * not verify or decode, -EINVAL for a bad cmd or payload, -EIO for a
 * transport failure. */
int rmb_client_call(struct rmb_client *c, const char *cmd, const char *json,
		    struct rmb_result *res);

void rmb_result_clear(struct rmb_result *r);

#endif
