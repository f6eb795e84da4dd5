/* Small helpers of rmb/: error objects, code names, clocks. */
#include "rmb/rmb.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rmb/rmb_envelope.h"

void rmb_error_set(struct rmb_error *e, uint32_t code, int retry, const char *fmt, ...)
{
	va_list ap;
	e->code = code;
	e->retry = retry ? 1 : 0;
	va_start(ap, fmt);
	/* vsnprintf truncates safely; a cut message is still a message. */
	if (vsnprintf(e->message, sizeof(e->message), fmt, ap) < 0)
		e->message[0] = 0;
	va_end(ap);
	/* Envelopes carry only valid UTF-8 (docs/rmb.md): a sequence cut by
	 * the truncation, or invalid bytes from a formatted argument, become '?'. */
	unsigned char *p = (unsigned char *)e->message, *end = p + strlen(e->message);
	while (p < end) {
		size_t n = rmb_utf8_seq(p, end);
		if (!n)
			*p = '?';
		p += n ? n : 1;
	}
}

const char *rmb_code_name(uint32_t code)
{
	switch (code) {
	case RMB_E_MALFORMED: return "malformed";
	case RMB_E_PAYLOAD: return "bad payload";
	case RMB_E_EXPIRED: return "expired";
	case RMB_E_UNKNOWN_TWIN: return "unknown twin";
	case RMB_E_SIGNATURE: return "bad signature";
	case RMB_E_DESTINATION: return "wrong destination";
	case RMB_E_REPLAYED: return "replayed";
	case RMB_E_UNKNOWN_CMD: return "unknown command";
	case RMB_E_BUSY: return "busy";
	case RMB_E_BAD_REQUEST: return "bad request";
	case RMB_E_RATE_LIMITED: return "rate limited";
	case RMB_E_INTERNAL: return "internal error";
	default: return "error";
	}
}

/* One close in flight: the job is the closing thread's, freed by whoever
 * sees it last (the waiter when the close finished in time). */
struct close_job {
	nng_socket sock;
	atomic_int done;
};

static void *close_main(void *arg)
{
	struct close_job *j = arg;
	nng_close(j->sock);
	atomic_store(&j->done, 1);
	return NULL;
}

int rmb_close_bounded(nng_socket sock, unsigned wait_ms)
{
	struct close_job *j = calloc(1, sizeof *j);
	pthread_t t;
	if (j)
		j->sock = sock;
	if (!j || pthread_create(&t, NULL, close_main, j) != 0) {
		free(j);
		nng_close(sock);
		return 0;
	}
	struct timespec ts = {0, 10 * 1000000L};
	for (unsigned i = 0; i < wait_ms / 10 && !atomic_load(&j->done); i++)
		nanosleep(&ts, NULL);
	if (!atomic_load(&j->done)) {
		/* The thread keeps the job; both end with the process. */
		pthread_detach(t);
		return -ETIMEDOUT;
	}
	pthread_join(t, NULL);
	free(j);
	return 0;
}
