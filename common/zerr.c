/* Names of error codes and which of them are worth retrying (zerr.h). */
#include "common/zerr.h"

#include <errno.h>
#include <string.h>

const char *zerr_str(int err)
{
	switch (err) {
	case 0: return "success";
	case ZE_ABSENT: return "absent on chain";
	case ZE_UNKNOWN: return "chain answer unknown";
	case ZE_MALFORMED: return "malformed input";
	case ZE_TOOBIG: return "input too large";
	case ZE_CHAIN: return "chain call failed";
	case ZE_TIMEOUT: return "timed out";
	case ZE_CRYPTO: return "cryptographic check failed";
	case ZE_CONFIG: return "invalid configuration";
	case ZE_UNSUPPORTED: return "unsupported";
	case ZE_CAPACITY: return "not enough capacity";
	case ZE_STATE: return "wrong state";
	default: break;
	}
	if (err < 0 && err > -ZE_BASE)
		return strerror(-err);
	return "unknown error";
}

int zerr_transient(int err)
{
	return err == ZE_UNKNOWN || err == ZE_TIMEOUT || err == -EAGAIN ||
	       err == -EBUSY || err == -EINTR || err == -ETIMEDOUT ||
	       err == -ECONNREFUSED || err == -ECONNRESET;
}
