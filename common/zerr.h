/*
 * The project's one error convention.
 *
 * Every function that can fail returns 0 on success or a negative error code;
 * results travel through out-parameters, and a failing function unwinds what
 * it did before returning. Error codes are negative errno values (-EINVAL,
 * -ENOMEM, -EIO, ...) or one of the project codes below, which start past the
 * errno range. zerr_str() names either kind.
 *
 * abort() is reserved for programming bugs; input from the network, the chain
 * or a file never aborts.
 */
#ifndef ZOS_COMMON_ZERR_H
#define ZOS_COMMON_ZERR_H

#define ZE_BASE 4096
enum {
	ZE_ABSENT = -(ZE_BASE + 1),    /* the chain confirmed the value is absent */
	ZE_UNKNOWN = -(ZE_BASE + 2),   /* no trustworthy answer (transport/server) */
	ZE_MALFORMED = -(ZE_BASE + 3), /* input does not decode */
	ZE_TOOBIG = -(ZE_BASE + 4),    /* input exceeds a configured bound */
	ZE_CHAIN = -(ZE_BASE + 5),     /* the chain refused or failed a call */
	ZE_TIMEOUT = -(ZE_BASE + 6),   /* gave up waiting */
	ZE_CRYPTO = -(ZE_BASE + 7),    /* signature, box or hash did not check */
	ZE_CONFIG = -(ZE_BASE + 8),    /* bad configuration */
	ZE_UNSUPPORTED = -(ZE_BASE + 9), /* a runtime/feature we do not know */
	ZE_CAPACITY = -(ZE_BASE + 10), /* not enough free capacity */
	ZE_STATE = -(ZE_BASE + 11),    /* object in the wrong state for this */
	ZE_LAST = -(ZE_BASE + 12),
};

/* Static string naming err (negative errno or ZE_*); never NULL. */
const char *zerr_str(int err);

/* True for errors worth retrying later (transport, timeouts, busy). */
int zerr_transient(int err);

#endif
