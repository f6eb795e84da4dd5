/*
 * A tiny in-process JSON-RPC server for the chain client's tests.
 *
 * libmicrohttpd on 127.0.0.1, port chosen by the kernel, one thread per
 * connection (so a handler may sleep to simulate a slow node). The test
 * supplies a handler that sees each request's method, params and id and
 * fills a reply: an HTTP status, a body, an optional delay.
 *
 * Header-only on purpose: each test program includes it once.
 */
#ifndef ZOS_TESTS_FAKE_RPC_H
#define ZOS_TESTS_FAKE_RPC_H

#include <arpa/inet.h>
#include <stdarg.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fake_reply {
	int status;   /* HTTP status; 200 unless set */
	char *body;   /* malloc'd; NULL = empty */
	int delay_ms; /* sleep before answering */
};

typedef void (*fake_handler)(void *ud, const char *method, const cJSON *params, double id,
			     struct fake_reply *r);

struct fake_rpc {
	struct MHD_Daemon *d;
	unsigned short port;
	char url[64];
	fake_handler handler;
	void *ud;
	pthread_mutex_t lock; /* guards hits; handlers lock their own state */
	int hits;
};

struct fake_conn {
	char *buf;
	size_t len;
	int toobig;
};

#define FAKE_MAX_BODY (4u << 20)

static inline char *fake_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *fake_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* A success envelope with result_json (JSON text) as the result. */
static inline void fake_result(struct fake_reply *r, double id, const char *result_json)
{
	r->body = fake_printf("{\"jsonrpc\":\"2.0\",\"id\":%.0f,\"result\":%s}", id, result_json);
}

static inline void fake_error(struct fake_reply *r, double id, int code, const char *msg,
		       const char *data)
{
	if (data)
		r->body = fake_printf("{\"jsonrpc\":\"2.0\",\"id\":%.0f,\"error\":{\"code\":%d,"
				      "\"message\":\"%s\",\"data\":\"%s\"}}",
				      id, code, msg, data);
	else
		r->body = fake_printf("{\"jsonrpc\":\"2.0\",\"id\":%.0f,\"error\":{\"code\":%d,"
				      "\"message\":\"%s\"}}",
				      id, code, msg);
}

static inline int fake_hits(struct fake_rpc *f)
{
	pthread_mutex_lock(&f->lock);
	int n = f->hits;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static inline enum MHD_Result fake_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload,
				   size_t *upload_size, void **con_cls)
{
	struct fake_rpc *f = cls;
	struct fake_conn *c = *con_cls;
	struct fake_reply r = {.status = 200};
	struct MHD_Response *resp;
	cJSON *req;
	enum MHD_Result ret;

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_size) {
		if (c->len + *upload_size > FAKE_MAX_BODY) {
			c->toobig = 1;
		} else {
			char *n = realloc(c->buf, c->len + *upload_size + 1);
			if (!n)
				return MHD_NO;
			c->buf = n;
			memcpy(c->buf + c->len, upload, *upload_size);
			c->len += *upload_size;
			c->buf[c->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&f->lock);
	f->hits++;
	pthread_mutex_unlock(&f->lock);
	req = c->buf && !c->toobig ? cJSON_Parse(c->buf) : NULL;
	if (!req) {
		r.status = 400;
	} else {
		const cJSON *m = cJSON_GetObjectItem(req, "method");
		const cJSON *id = cJSON_GetObjectItem(req, "id");
		const cJSON *p = cJSON_GetObjectItem(req, "params");
		f->handler(f->ud, cJSON_IsString(m) ? m->valuestring : "",
			   p, cJSON_IsNumber(id) ? id->valuedouble : -1, &r);
		cJSON_Delete(req);
	}
	if (r.delay_ms > 0) {
		struct timespec ts = {r.delay_ms / 1000, (r.delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	resp = MHD_create_response_from_buffer(r.body ? strlen(r.body) : 0, r.body ? r.body : "",
					       r.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r.body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, (unsigned)r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static inline void fake_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct fake_conn *c = *con_cls;

	if (c) {
		free(c->buf);
		free(c);
		*con_cls = NULL;
	}
}

/* Starts the server; 0 on success. */
static inline int fake_start(struct fake_rpc *f, fake_handler h, void *ud)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->handler = h;
	f->ud = ud;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
					MHD_USE_ERROR_LOG,
				0, NULL, NULL, fake_access, f, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_NOTIFY_COMPLETED, fake_completed, f,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!f->d)
		return -1;
	info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !info->port) {
		MHD_stop_daemon(f->d);
		return -1;
	}
	f->port = info->port;
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u/", (unsigned)f->port);
	return 0;
}

static inline void fake_stop(struct fake_rpc *f)
{
	if (f->d)
		MHD_stop_daemon(f->d);
	f->d = NULL;
	pthread_mutex_destroy(&f->lock);
}

#endif
