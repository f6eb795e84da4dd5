/*
 * Connecting a WebSocket endpoint (see rpc_ws.c): the URL, the TCP
 * connection, TLS (the system's CAs or a CA file, SNI, the host name
 * checked against the certificate) and the HTTP upgrade, all bounded by a
 * deadline; and the raw non-blocking reads and writes the I/O thread uses.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chainclient/rpc_ws_int.h"
#include "chainclient/ws.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

int ws_parse_url(struct rpc_ws *w, const char *url)
{
	const char *p;

	if (strncmp(url, "ws://", 5) == 0) {
		p = url + 5;
	} else if (strncmp(url, "wss://", 6) == 0) {
		p = url + 6;
		w->tls = 1;
	} else {
		return ZE_CONFIG;
	}
	const char *slash = strchr(p, '/');
	size_t hl = slash ? (size_t)(slash - p) : strlen(p);
	const char *colon = memchr(p, ':', hl);
	size_t nl = colon ? (size_t)(colon - p) : hl;
	if (nl == 0 || nl >= sizeof(w->host))
		return ZE_CONFIG;
	memcpy(w->host, p, nl);
	w->host[nl] = 0;
	if (colon) {
		size_t pl = hl - nl - 1;
		if (pl == 0 || pl >= sizeof(w->port) || strspn(colon + 1, "0123456789") < pl)
			return ZE_CONFIG;
		memcpy(w->port, colon + 1, pl);
		w->port[pl] = 0;
	} else {
		snprintf(w->port, sizeof(w->port), "%s", w->tls ? "443" : "80");
	}
	if (snprintf(w->path, sizeof(w->path), "%s", slash ? slash : "/") >= (int)sizeof(w->path))
		return ZE_CONFIG;
	return 0;
}

/* ---- raw I/O (plain or TLS), non-blocking ---- */

/* >0 bytes, 0 would block, <0 connection gone. */
ssize_t ws_raw_read(struct rpc_ws *w, void *p, size_t n)
{
	if (w->ssl) {
		int r = SSL_read(w->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
		if (r > 0)
			return r;
		int e = SSL_get_error(w->ssl, r);
		return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
	}
	ssize_t r = recv(w->fd, p, n, 0);
	if (r > 0)
		return r;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return -1;
}

ssize_t ws_raw_write(struct rpc_ws *w, const void *p, size_t n)
{
	if (w->ssl) {
		int r = SSL_write(w->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
		if (r > 0)
			return r;
		int e = SSL_get_error(w->ssl, r);
		return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
	}
	ssize_t r = send(w->fd, p, n, MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

static int ws_wait_fd(struct rpc_ws *w, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clk_mono_ms();
		if (left <= 0 || atomic_load(&w->stop))
			return ZE_TIMEOUT;
		struct pollfd pf = {.fd = w->fd, .events = ev};
		int r = poll(&pf, 1, left > 200 ? 200 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Writes all of p before deadline (handshake only). */
static int ws_write_all(struct rpc_ws *w, const void *p, size_t n, int64_t deadline)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t r = ws_raw_write(w, b, n);
		if (r < 0)
			return ZE_UNKNOWN;
		if (r == 0) {
			if (ws_wait_fd(w, POLLOUT | POLLIN, deadline) < 0)
				return ZE_TIMEOUT;
			continue;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

void ws_close(struct rpc_ws *w)
{
	if (w->ssl) {
		SSL_free(w->ssl);
		w->ssl = NULL;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	zbuf_reset(&w->in);
	zbuf_reset(&w->msg);
	w->sub_final[0] = w->sub_new[0] = 0;
}

int ws_tcp_connect(struct rpc_ws *w, int64_t deadline)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc = getaddrinfo(w->host, w->port, &hints, &res);

	if (rc)
		return ZE_UNKNOWN;
	rc = ZE_UNKNOWN;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                ai->ai_protocol);
		if (fd < 0)
			continue;
		w->fd = fd;
		int crc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		atomic_store(&w->refused, crc < 0 && errno == ECONNREFUSED);
		if (crc == 0 || (errno == EINPROGRESS && ws_wait_fd(w, POLLOUT, deadline) == 0)) {
			int err = 0;
			socklen_t l = sizeof(err);
			int got = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0;
			atomic_store(&w->refused, got && err == ECONNREFUSED);
			if (got && err == 0) {
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
				rc = 0;
				break;
			}
		}
		close(fd);
		w->fd = -1;
	}
	freeaddrinfo(res);
	return rc;
}

int ws_tls_connect(struct rpc_ws *w, int64_t deadline)
{
	if (!(w->ssl = SSL_new(w->ctx)))
		return -ENOMEM;
	SSL_set_fd(w->ssl, w->fd);
	/* SNI for name-based virtual hosts, and the name the certificate must
	 * carry (an IP address is matched as one). */
	int is_ip = strspn(w->host, "0123456789.") == strlen(w->host) || strchr(w->host, ':');
	if (!is_ip)
		SSL_set_tlsext_host_name(w->ssl, w->host);
	X509_VERIFY_PARAM *vp = SSL_get0_param(w->ssl);
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, w->host) != 1
	          : X509_VERIFY_PARAM_set1_host(vp, w->host, 0) != 1)
		return -ENOMEM;
	for (;;) {
		int r = SSL_connect(w->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(w->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (ws_wait_fd(w, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) <
			    0)
				return ZE_TIMEOUT;
			continue;
		}
		long v = SSL_get_verify_result(w->ssl);
		log_warn("chain", "%s: TLS handshake failed: %s", w->url,
		         v != X509_V_OK ? X509_verify_cert_error_string(v)
		         : ERR_reason_error_string(ERR_peek_last_error())
		             ? ERR_reason_error_string(ERR_peek_last_error())
		             : "connection closed");
		ERR_clear_error();
		return ZE_CRYPTO;
	}
}

int ws_handshake(struct rpc_ws *w, int64_t deadline)
{
	char key[25], accept[29], req[1024];
	int n;

	if (ws_client_key(key) < 0 || ws_accept_key(key, accept) < 0)
		return -EINVAL;
	n = snprintf(req, sizeof(req),
	             "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
	             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	             "Sec-WebSocket-Version: 13\r\nUser-Agent: zos-agent\r\n\r\n",
	             w->path, w->host, w->port, key);
	if (n < 0 || n >= (int)sizeof(req))
		return ZE_CONFIG;
	int rc = ws_write_all(w, req, (size_t)n, deadline);
	if (rc)
		return rc;
	/* Read the response headers; bytes after them are frames. */
	char hdr[8192];
	size_t got = 0;
	char *end = NULL;
	while (!end) {
		if (got == sizeof(hdr) - 1)
			return ZE_TOOBIG;
		ssize_t r = ws_raw_read(w, hdr + got, sizeof(hdr) - 1 - got);
		if (r < 0)
			return ZE_UNKNOWN;
		if (r == 0) {
			if (ws_wait_fd(w, POLLIN, deadline) < 0)
				return ZE_TIMEOUT;
			continue;
		}
		got += (size_t)r;
		hdr[got] = 0;
		end = strstr(hdr, "\r\n\r\n");
	}
	size_t hlen = (size_t)(end - hdr) + 4;
	if (strncmp(hdr, "HTTP/1.1 101", 12) != 0) {
		char *eol = strchr(hdr, '\r');
		if (eol)
			*eol = 0;
		log_warn("chain", "%s: WebSocket upgrade refused: %s", w->url, hdr);
		return ZE_UNKNOWN;
	}
	int ok = 0;
	for (char *l = strstr(hdr, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
		const char *name = "\r\nSec-WebSocket-Accept:";
		if (strncasecmp(l, name, strlen(name)) != 0)
			continue;
		const char *v = l + strlen(name);
		while (*v == ' ')
			v++;
		ok = strncmp(v, accept, 28) == 0;
	}
	if (!ok) {
		log_warn("chain", "%s: WebSocket upgrade without the right accept key", w->url);
		return ZE_UNKNOWN;
	}
	if (got > hlen && zbuf_put(&w->in, hdr + hlen, got - hlen) < 0)
		return ZE_TOOBIG;
	return 0;
}
