/* The RMB client: signed requests to one twin over nng REQ, verified replies. */
#include "rmb/rmb_client.h"

#include <errno.h>
#include <netdb.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/zerr.h"
#include "rmb/rmb_envelope.h"
#include "rmb/rmb_verify.h"

struct rmb_client {
	struct rmb_client_cfg cfg;
	struct zkey key;
	char *url;
	nng_socket sock;
};

void rmb_client_cfg_init(struct rmb_client_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 5000;
	c->attempts = 3;
	c->ttl_s = 60;
	c->skew_s = 30;
	c->max_msg = RMB_MAX_MSG_DEFAULT;
}

/*
 * 1 when a connect() to a tcp:// or ipc:// url is refused (nothing listens
 * there), within at most timeout_ms; 0 for anything else, including a
 * connection that is accepted or a scheme this probe does not know.
 */
static int probe_refused(const char *url, unsigned timeout_ms)
{
	int fd = -1, refused = 0;

	/* For ipc:// only a missing socket file is checked: connecting and
	 * closing before nng's handshake leaves nng's IPC listener no longer
	 * accepting (seen with this system's nng), so the probe must not
	 * connect there. */
	if (strncmp(url, "ipc://", 6) == 0) {
		struct stat st;
		return stat(url + 6, &st) < 0 && errno == ENOENT;
	}
	if (strncmp(url, "tcp://", 6) != 0)
		return 0;
	const char *h = url + 6, *colon = strrchr(h, ':');
	char host[256];
	if (!colon || (size_t)(colon - h) >= sizeof host)
		return 0;
	/* [v6]:port */
	size_t hl = (size_t)(colon - h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		return 0;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
			if (errno == ECONNREFUSED) {
				refused = 1;
			} else if (errno == EINPROGRESS) {
				struct pollfd pf = {.fd = fd, .events = POLLOUT};
				int err = 0;
				socklen_t l = sizeof err;
				int wait = timeout_ms > 3000 ? 3000 : (int)timeout_ms;
				if (poll(&pf, 1, wait) == 1 &&
				    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0)
					refused = err == ECONNREFUSED;
			}
		}
		close(fd);
	}
	freeaddrinfo(res);
	return refused;
}

int rmb_client_new(const struct rmb_client_cfg *cfg, struct rmb_client **out)
{
	if (sodium_init() < 0)
		return -EIO;
	if (!cfg->url || !cfg->key || !cfg->attempts || !cfg->timeout_ms || !cfg->max_msg)
		return -EINVAL;
	struct rmb_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->key = *cfg->key;
	c->cfg.key = &c->key;
	c->url = strdup(cfg->url);
	c->cfg.url = c->url;
	if (!c->url) {
		rmb_client_free(c);
		return -ENOMEM;
	}
	if (nng_req0_open(&c->sock)) {
		rmb_client_free(c);
		return -ENOMEM;
	}
	/* Retries are ours (same envelope), not nng's silent resends. */
	int rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if (!rv)
		rv = nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, (nng_duration)cfg->timeout_ms);
	if (!rv)
		rv = nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, (nng_duration)cfg->timeout_ms);
	if (!rv)
		rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, cfg->max_msg);
	/* Non-blocking dial: the connection is (re)made in the background, so
	 * a destination that starts late is reached within the timeout. With
	 * fail_fast a plain connect() first tells "nothing listens there" at
	 * once instead of after every attempt's timeout; anything else (a slow
	 * network, a peer that hangs) is left to the calls' timeouts. */
	if (!rv && cfg->fail_fast && probe_refused(c->url, cfg->timeout_ms)) {
		rmb_client_free(c);
		return -ECONNREFUSED;
	}
	if (!rv)
		rv = nng_dial(c->sock, c->url, NULL, NNG_FLAG_NONBLOCK);
	if (rv) {
		rmb_client_free(c);
		return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? -EINVAL : -EIO;
	}
	*out = c;
	return 0;
}

void rmb_client_free(struct rmb_client *c)
{
	if (!c)
		return;
	if (nng_socket_id(c->sock) > 0)
		rmb_close_bounded(c->sock, 5000);
	free(c->url);
	sodium_memzero(&c->key, sizeof(c->key));
	free(c);
}

void rmb_result_clear(struct rmb_result *r)
{
	free(r->json);
	memset(r, 0, sizeof(*r));
}

static int build_request(struct rmb_client *c, const char *cmd, const char *json,
			 char uid[RMB_UID_MAX + 1], char **txt, size_t *len)
{
	struct rmb_env e;
	size_t n = json ? strlen(json) : 0;
	rmb_env_init(&e);
	if (n) {
		cJSON *probe = NULL;
		if (rmb_json_parse(json, n, &probe))
			return -EINVAL;
		cJSON_Delete(probe);
	}
	e.ver = RMB_VERSION;
	e.kind = RMB_REQUEST;
	rmb_uid_new(e.uid);
	e.src = c->cfg.src;
	e.dst = c->cfg.dst;
	e.now = clk_wall_s();
	e.exp = c->cfg.ttl_s;
	int rc = rmb_env_set_cmd(&e, cmd);
	if (!rc && !cmd[0])
		rc = -EINVAL;
	if (!rc)
		rc = rmb_env_set_dat(&e, json, n);
	if (!rc)
		rc = rmb_env_sign(&e, &c->key);
	if (!rc)
		rc = rmb_env_encode(&e, c->cfg.max_msg, txt, len);
	memcpy(uid, e.uid, RMB_UID_MAX + 1);
	rmb_env_clear(&e);
	return rc;
}

/* Checks a reply frame against the request; fills res on success. */
static int check_reply(struct rmb_client *c, const void *buf, size_t len, const char *uid,
		       struct rmb_result *res)
{
	struct rmb_env r;
	struct rmb_error terr;
	uint32_t code;
	rmb_env_init(&r);
	int rc = rmb_env_decode(buf, len, c->cfg.max_msg, &r, &code);
	/* A server that could not decode our request cannot echo its uid or
	 * address the reply to us: such an error reply has uid "" and dst 0. */
	int blind = !rc && r.has_err && !r.uid[0] && !r.dst;
	if (!rc && (r.kind != RMB_REPLY || r.src != c->cfg.dst))
		rc = ZE_MALFORMED;
	if (!rc && !blind && (r.dst != c->cfg.src || strcmp(r.uid, uid)))
		rc = ZE_MALFORMED;
	if (!rc && rmb_env_verify_sig(&r, c->cfg.dst_pk))
		rc = ZE_CRYPTO;
	if (!rc && rmb_verify_time(&r, clk_wall_s(), UINT32_MAX, c->cfg.skew_s, &terr))
		rc = ZE_CRYPTO;
	if (!rc) {
		res->ok = !r.has_err;
		res->err = r.err;
		res->json = malloc(r.dat_len + 1);
		if (!res->json) {
			rc = -ENOMEM;
		} else {
			if (r.dat_len)
				memcpy(res->json, r.dat, r.dat_len);
			res->json[r.dat_len] = 0;
			res->json_len = r.dat_len;
		}
	}
	rmb_env_clear(&r);
	return rc == -ENOMEM ? rc : rc ? (rc == ZE_CRYPTO ? ZE_CRYPTO : ZE_MALFORMED) : 0;
}

/* 100 ms, doubling to at most 3.2 s. */
static void retry_pause(unsigned attempt)
{
	int64_t ms = backoff_delay(100, 3200, attempt, 0);
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int rmb_client_call(struct rmb_client *c, const char *cmd, const char *json,
		    struct rmb_result *res)
{
	char uid[RMB_UID_MAX + 1];
	char *txt = NULL;
	size_t len = 0;
	memset(res, 0, sizeof(*res));
	int rc = build_request(c, cmd, json, uid, &txt, &len);
	if (rc)
		return rc == ZE_TOOBIG ? -EINVAL : rc;
	rc = ZE_TIMEOUT;
	for (unsigned a = 0; a < c->cfg.attempts; a++) {
		char *buf = NULL;
		size_t n = 0;
		int rv = nng_send(c->sock, txt, len, 0);
		if (!rv)
			rv = nng_recv(c->sock, &buf, &n, NNG_FLAG_ALLOC);
		if (rv == NNG_ETIMEDOUT) {
			rc = ZE_TIMEOUT;
			continue;
		}
		if (rv) {
			rc = -EIO;
			break;
		}
		rmb_result_clear(res);
		rc = check_reply(c, buf, n, uid, res);
		nng_free(buf, n);
		if (rc || res->ok || !res->err.retry || a + 1 == c->cfg.attempts)
			break;
		/* Busy or rate limited: the server forgot the uid; same envelope again. */
		retry_pause(a);
	}
	free(txt);
	if (rc)
		rmb_result_clear(res);
	memcpy(res->uid, uid, sizeof(uid));
	return rc;
}
