/*
 * RMB over nng: shared constants, error codes and the error object.
 *
 * The wire contract is docs/rmb.md. The error codes are the ones a caller
 * sees in a reply's "err" object; 100..104 are RMB's own, the rest are
 * this implementation's additions (documented in docs/rmb.md).
 */
#ifndef ZOS_RMB_RMB_H
#define ZOS_RMB_RMB_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#define RMB_VERSION 1
#define RMB_DOMAIN "zos-rmb-v1"

#define RMB_UID_MAX 64      /* printable ASCII, no spaces */
#define RMB_CMD_MAX 128     /* [A-Za-z0-9._-] */
#define RMB_ERRMSG_MAX 512  /* bytes of an error message */
#define RMB_RELAY_MAX 512   /* bytes of a twin's relay field (GRID_MAX_RELAY) */
#define RMB_MAX_MSG_DEFAULT (1u << 20)

enum rmb_code {
	RMB_E_MALFORMED = 100, /* not an envelope: JSON, field missing or mistyped */
	RMB_E_PAYLOAD = 101,   /* dat is not base64 or not JSON */
	RMB_E_EXPIRED = 102,   /* expired, too far in the future, or ttl too long */
	RMB_E_UNKNOWN_TWIN = 103, /* the chain says the source twin does not exist */
	RMB_E_SIGNATURE = 104, /* signature does not verify with the twin's key */
	RMB_E_DESTINATION = 105, /* addressed to another twin */
	RMB_E_REPLAYED = 106,  /* this (src, uid) was already accepted */
	RMB_E_UNKNOWN_CMD = 107, /* no handler for cmd */
	RMB_E_BUSY = 108,      /* not processed: the node or the caller's share of it
				* is busy (retry) */
	RMB_E_BAD_REQUEST = 400, /* a handler refused the arguments */
	RMB_E_RATE_LIMITED = 429, /* too many requests from this twin (retry) */
	RMB_E_INTERNAL = 500,  /* server-side failure; "retry" says if transient */
};

/* An error as carried in a reply: the wire's {code, message} (docs/rmb.md,
 * "Error codes"), kept as a struct because it crosses the bus. Inside a
 * program a human reason travels as `char *err, size_t errsz` beside the
 * negative return code (docs/conventions.md). */
struct rmb_error {
	uint32_t code;
	int retry; /* 1 when the same request may succeed later */
	char message[RMB_ERRMSG_MAX + 1];
};

/* Sets e (message truncated to RMB_ERRMSG_MAX bytes). */
void rmb_error_set(struct rmb_error *e, uint32_t code, int retry, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Static name of a code ("malformed", "rate limited", ...); never NULL. */
const char *rmb_code_name(uint32_t code);

/* nng_close(sock), waiting for it at most wait_ms: libnng 1.5.2 (Debian 12)
 * can leave nng_close waiting forever for a connection that ended between
 * two reads or writes of one frame (rmb_pipe.h, docs/rmb.md). -ETIMEDOUT
 * when it did not return in time (it goes on in its own thread; whatever
 * the socket's callbacks use must then stay alive). */
int rmb_close_bounded(nng_socket sock, unsigned wait_ms);

#endif
