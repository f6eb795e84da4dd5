/* Connection limits of the RPC server (rpc_conns.h). The table is small (a
 * few hundred entries): linear scans on connect, close and once per sweep. */
#include "devchain/rpc_conns.h"
#include "common/clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define SWEEP_MS 250

struct conn {
	int fd;
	uint32_t ip;       /* IPv4 in network order; 0 when not IPv4 */
	uint64_t since_ms; /* start, or end of the last request */
	int shut;
};

struct dev_rpc_conns {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conn **c;
	unsigned n, max, per_client;
	uint64_t deadline_ms;
	unsigned long displaced, timed_out;
	int stopping;
	pthread_t th;
};

static void shut(struct conn *c)
{
	if (!c->shut) {
		shutdown(c->fd, SHUT_RDWR);
		c->shut = 1;
	}
}

static void *sweeper(void *arg)
{
	struct dev_rpc_conns *t = arg;
	pthread_mutex_lock(&t->mu);
	while (!t->stopping) {
		struct timespec ts = clk_after(CLOCK_MONOTONIC, SWEEP_MS);
		pthread_cond_timedwait(&t->cv, &t->mu, &ts);
		uint64_t now = clk_mono_ms();
		for (unsigned i = 0; i < t->n; i++)
			if (!t->c[i]->shut && t->c[i]->since_ms + t->deadline_ms <= now) {
				shut(t->c[i]);
				t->timed_out++;
			}
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int dev_rpc_conns_new(unsigned max, unsigned per_client, unsigned deadline_ms,
                      struct dev_rpc_conns **out)
{
	if (!max || !per_client || !deadline_ms)
		return -EINVAL;
	struct dev_rpc_conns *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->c = calloc(2 * (size_t)max, sizeof(*t->c));
	if (!t->c || pthread_mutex_init(&t->mu, NULL) || clk_cond_init(&t->cv) < 0) {
		free(t->c);
		free(t);
		return -ENOMEM;
	}
	t->max = max;
	t->per_client = per_client;
	t->deadline_ms = deadline_ms;
	if (pthread_create(&t->th, NULL, sweeper, t)) {
		free(t->c);
		free(t);
		return -EAGAIN;
	}
	*out = t;
	return 0;
}

void dev_rpc_conns_free(struct dev_rpc_conns *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stopping = 1;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	for (unsigned i = 0; i < t->n; i++)
		free(t->c[i]);
	free(t->c);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}

/* The open connection (of ip, unless ip is 0) that waited longest, or NULL. */
static struct conn *oldest(struct dev_rpc_conns *t, uint32_t ip, unsigned *count)
{
	struct conn *o = NULL;
	*count = 0;
	for (unsigned i = 0; i < t->n; i++) {
		struct conn *c = t->c[i];
		if (c->shut || (ip && c->ip != ip))
			continue;
		(*count)++;
		if (!o || c->since_ms < o->since_ms)
			o = c;
	}
	return o;
}

static void opened(struct dev_rpc_conns *t, struct MHD_Connection *conn, void **ctx)
{
	const union MHD_ConnectionInfo *fi =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ai =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct conn *c = calloc(1, sizeof(*c));
	if (!c || !fi)
		goto fail;
	c->fd = fi->connect_fd;
	if (ai && ai->client_addr && ai->client_addr->sa_family == AF_INET)
		c->ip =
		    ((const struct sockaddr_in *)(const void *)ai->client_addr)->sin_addr.s_addr;
	c->since_ms = clk_mono_ms();
	pthread_mutex_lock(&t->mu);
	unsigned count;
	struct conn *victim = c->ip ? oldest(t, c->ip, &count) : NULL;
	if (!victim || count < t->per_client) {
		victim = oldest(t, 0, &count);
		if (count < t->max)
			victim = NULL;
	}
	if (victim) {
		shut(victim);
		t->displaced++;
	}
	/* Displaced connections stay in the table until libmicrohttpd closed
	 * them, which takes a moment: room for as many again. */
	if (t->n < 2 * t->max) {
		t->c[t->n++] = c;
		*ctx = c;
		c = NULL;
	}
	pthread_mutex_unlock(&t->mu);
	if (!c)
		return;
fail:
	/* Untracked: refuse it rather than let it escape the limits. */
	if (fi)
		shutdown(fi->connect_fd, SHUT_RDWR);
	free(c);
}

void dev_rpc_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct dev_rpc_conns *t = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = NULL;
		opened(t, conn, socket_context);
		return;
	}
	struct conn *c = *socket_context;
	if (!c)
		return;
	pthread_mutex_lock(&t->mu);
	for (unsigned i = 0; i < t->n; i++)
		if (t->c[i] == c) {
			t->c[i] = t->c[--t->n];
			break;
		}
	pthread_mutex_unlock(&t->mu);
	free(c);
	*socket_context = NULL;
}

void dev_rpc_conns_done(struct dev_rpc_conns *t, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (!ci || !ci->socket_context)
		return;
	struct conn *c = ci->socket_context;
	pthread_mutex_lock(&t->mu);
	c->since_ms = clk_mono_ms();
	pthread_mutex_unlock(&t->mu);
}

void dev_rpc_conns_stats(struct dev_rpc_conns *t, unsigned *open, unsigned long *displaced,
                         unsigned long *timed_out)
{
	pthread_mutex_lock(&t->mu);
	*open = t->n;
	*displaced = t->displaced;
	*timed_out = t->timed_out;
	pthread_mutex_unlock(&t->mu);
}
