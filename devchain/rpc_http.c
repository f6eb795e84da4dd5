/* HTTP side of the RPC server: bounded POST bodies, keep-alive, JSON out;
 * WebSocket upgrades on the same port are handed to rpc_ws.c. */
#include "devchain/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"
#include "devchain/rpc_ws.h"

struct dev_rpc {
	struct MHD_Daemon *d;
	struct dev_chain *chain;
	struct dev_ws *ws;
	uint16_t port;
};

struct request {
	struct zbuf body;
	int too_big;
};

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
	const char *colon = strrchr(addr, ':');
	char host[64];
	char *end;
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return ZE_CONFIG;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return ZE_CONFIG;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &sa->sin_addr) != 1)
		return ZE_CONFIG;
	return 0;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, char *json)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(json);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_static(struct MHD_Connection *conn, unsigned status,
				      const char *json)
{
	char *copy = strdup(json);
	return copy ? respond(conn, status, copy) : MHD_NO;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct dev_rpc *s = cls;
	struct request *req = *con_cls;
	if (!req) {
		if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 && dev_ws_is_upgrade(conn))
			return dev_ws_upgrade(s->ws, conn);
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return respond_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
					      "{\"error\":\"use POST with a JSON-RPC body\"}");
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		zbuf_init(&req->body, DEV_RPC_BODY_MAX);
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Past the cap, keep reading (and dropping) so the client gets
		 * a clean 413 instead of a reset connection. */
		if (!req->too_big && zbuf_put(&req->body, upload, *upload_size))
			req->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->too_big)
		return respond_static(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				      "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,"
				      "\"message\":\"Request too large\"},\"id\":null}");
	char *out = dev_rpc_handle(s->chain, (const char *)req->body.data, req->body.len);
	if (!out)
		return respond_static(conn, MHD_HTTP_OK, "");
	return respond(conn, MHD_HTTP_OK, out);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;
	if (!req)
		return;
	zbuf_free(&req->body);
	free(req);
	*con_cls = NULL;
}

/* libmicrohttpd's own messages, at debug level: its bind error names the
 * port it was given separately (0 here, the address carries the port), so
 * the start-up error below is the one users see. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("devchain", "http: %s", msg);
}

int dev_rpc_start(struct dev_chain *c, const char *addr, struct dev_rpc **out)
{
	struct sockaddr_in sa;
	struct dev_rpc *s;
	if (parse_addr(addr, &sa)) {
		log_err("devchain", "bad RPC address %s (want IPv4:port)", addr);
		return ZE_CONFIG;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->chain = c;
	if (dev_ws_new(c, &s->ws) < 0) {
		free(s);
		return -ENOMEM;
	}
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY |
					MHD_USE_TURBO | MHD_ALLOW_UPGRADE |
					MHD_USE_ERROR_LOG,
				0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)DEV_RPC_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				MHD_OPTION_NOTIFY_COMPLETED, completed, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!s->d) {
		log_err("devchain", "cannot listen on %s: the address is in use or not local "
			"(another tfchain-dev? pick a free --rpc-port, or 0 for any)", addr);
		dev_ws_free(s->ws);
		free(s);
		return -EADDRINUSE;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : ntohs(sa.sin_port);
	*out = s;
	return 0;
}

uint16_t dev_rpc_port(const struct dev_rpc *s)
{
	return s->port;
}

void dev_rpc_stop(struct dev_rpc *s)
{
	if (!s)
		return;
	dev_ws_free(s->ws);
	MHD_stop_daemon(s->d);
	free(s);
}
