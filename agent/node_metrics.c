/*
 * The metrics subsystem: an HTTP endpoint on metrics.listen (libmicrohttpd)
 * serving /metrics in the Prometheus text format and /healthz, which answers
 * 200 when the node is healthy and 503 with what is wrong otherwise.
 *
 * A listen address that cannot be bound is not fatal: the node's job is its
 * workloads, so the endpoint is retried with backoff and the failure logged.
 * Scrapes run on libmicrohttpd's own thread and only read: the store (its
 * own lock), the RMB server's counters and the node's atomics.
 */
#include "agent/node_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "agent/metrics.h"
#include "agent/store.h"
#include "chainclient/rpc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/version.h"
#include "common/zerr.h"
#include "rmb/rmb_server.h"

#define METRICS_BACKOFF_MS 30000
/* A scrape's text stays far below this; the cap bounds a bug, not load. */
#define METRICS_MAX (4u << 20)
/* Health thresholds: an outbox item older than this, or a follower this
 * many blocks behind the finalized head, is a problem an operator must see. */
#define HEALTH_OUTBOX_AGE_S 900
#define HEALTH_LAG_BLOCKS 50
#define HEALTH_CONNS 16

static int put_gauge(struct zbuf *b, const char *name, const char *help, double v)
{
	int rc = metrics_head(b, name, "gauge", help);
	return rc < 0 ? rc : metrics_put(b, name, NULL, v);
}

static int write_capacity(struct zbuf *b, const char *name, const char *help,
                          const struct prov_capacity *c)
{
	int rc = metrics_head(b, name, "gauge", help);
	if (rc >= 0)
		rc = metrics_put(b, name, "resource=\"cru\"", (double)c->cru);
	if (rc >= 0)
		rc = metrics_put(b, name, "resource=\"mru\"", (double)c->mru);
	if (rc >= 0)
		rc = metrics_put(b, name, "resource=\"sru\"", (double)c->sru);
	if (rc >= 0)
		rc = metrics_put(b, name, "resource=\"hru\"", (double)c->hru);
	return rc;
}

static int write_store(struct agent_node *n, struct zbuf *b)
{
	struct eng *e = atomic_load(&n->eng);
	struct store *s = e ? eng_store(e) : n->store;
	if (!s)
		return 0;
	struct store_metrics sm;
	struct store_stats st;
	int rc = store_metrics(s, &sm);
	if (rc < 0 || (rc = store_stats(s, 0, &st)) < 0)
		return rc;
	char lab[64];
	rc = metrics_head(b, "zos_deployments", "gauge", "Deployments on this node by state.");
	for (int i = 0; i < STORE_DEP__COUNT && rc >= 0; i++) {
		snprintf(lab, sizeof lab, "state=\"%s\"", store_dep_state_name(i));
		rc = metrics_put(b, "zos_deployments", lab, (double)sm.deployments[i]);
	}
	if (rc >= 0)
		rc = metrics_head(b, "zos_workloads", "gauge", "Workloads on this node by state.");
	for (int i = 0; i < STORE_WL__COUNT && rc >= 0; i++) {
		snprintf(lab, sizeof lab, "state=\"%s\"", store_wl_state_name(i));
		rc = metrics_put(b, "zos_workloads", lab, (double)sm.workloads[i]);
	}
	if (rc >= 0)
		rc = put_gauge(b, "zos_workload_errors", "Workloads in state error.",
		               (double)sm.workloads[STORE_WL_ERROR]);
	if (rc >= 0)
		rc = put_gauge(b, "zos_outbox_pending", "Chain calls waiting in the outbox.",
		               (double)sm.outbox_pending);
	if (rc >= 0) {
		double age = sm.outbox_oldest ? (double)(time(NULL) - sm.outbox_oldest) : 0;
		rc = put_gauge(b, "zos_outbox_oldest_age_seconds",
		               "Age of the oldest pending outbox item (0 when none).",
		               age < 0 ? 0 : age);
	}
	if (rc >= 0) {
		rc = metrics_head(b, "zos_store_syncs_total", "counter",
		                  "Syncs of the state store's log (one per group of durable commits).");
		if (rc >= 0)
			rc = metrics_put(b, "zos_store_syncs_total", NULL, (double)store_sync_count(s));
	}
	if (rc >= 0) {
		rc = metrics_head(b, "zos_chain_requests_total", "counter",
		                  "Requests sent to the chain (every client of the agent).");
		if (rc >= 0)
			rc = metrics_put(b, "zos_chain_requests_total", NULL,
			                 (double)rpc_requests_total());
	}
	struct rpc_stats rs;
	memset(&rs, 0, sizeof rs);
	if (n->chain)
		rpc_client_stats(chain_client_rpc(n->chain), &rs);
	if (rc >= 0) {
		rc = metrics_head(b, "zos_chain_coalesced_reads_total", "counter",
		                  "Storage reads sent in shared requests (contracts, twins).");
		if (rc >= 0)
			rc = metrics_put(b, "zos_chain_coalesced_reads_total", NULL,
			                 (double)rs.batched_reads);
	}
	if (rc >= 0) {
		rc = metrics_head(b, "zos_chain_coalesced_requests_total", "counter",
		                  "Requests that carried those reads.");
		if (rc >= 0)
			rc = metrics_put(b, "zos_chain_coalesced_requests_total", NULL,
			                 (double)rs.read_batches);
	}
	if (rc >= 0)
		rc = write_capacity(b, "zos_capacity_total",
		                    "Capacity offered to workloads "
		                    "(cru in cores, the rest in bytes).",
		                    &n->total);
	if (rc >= 0)
		rc = write_capacity(b, "zos_capacity_reserved",
		                    "Capacity reserved by active deployments.", &st.reserved);
	if (rc >= 0)
		rc = write_capacity(b, "zos_capacity_used",
		                    "Capacity of workloads that run or are paused.", &st.used);
	return rc;
}

static int write_rmb(struct agent_node *n, struct zbuf *b)
{
	int rc = 0;
	if (n->rmb) {
		struct rmb_server_stats st;
		rmb_server_get_stats(n->rmb, &st);
		rc = metrics_head(b, "zos_rmb_envelopes_total", "counter",
		                  "RMB envelopes by what became of them before a handler.");
		if (rc >= 0)
			rc = metrics_put(b, "zos_rmb_envelopes_total", "result=\"received\"",
			                 (double)st.received);
		if (rc >= 0)
			rc = metrics_put(b, "zos_rmb_envelopes_total", "result=\"refused\"",
			                 (double)st.refused);
		if (rc >= 0)
			rc = metrics_put(b, "zos_rmb_envelopes_total", "result=\"busy\"",
			                 (double)st.busy);
		if (rc >= 0)
			rc = put_gauge(b, "zos_rmb_connections", "Open RMB connections.",
			               (double)st.conns);
	}
	return rc < 0 ? rc : metrics_rmb_write(n->metrics, b);
}

static int write_all(struct agent_node *n, struct zbuf *b)
{
	int64_t head = atomic_load(&n->follow_head), at = atomic_load(&n->follow_at);
	int64_t rep = atomic_load(&n->report_ok_at);
	int rc = metrics_head(b, "zos_build_info", "gauge", "The agent's version.");
	if (rc >= 0)
		rc = metrics_put(b, "zos_build_info", "version=\"" ZOS_VERSION "\"", 1);
	if (rc >= 0)
		rc = put_gauge(b, "zos_node_id", "The node's id on chain (0 until registered).",
		               atomic_load(&n->node_id));
	if (rc >= 0)
		rc = put_gauge(b, "zos_twin_id", "The node twin's id (0 until registered).",
		               atomic_load(&n->twin_id));
	if (rc >= 0)
		rc = put_gauge(b, "zos_chain_up", "1 when the last chain read succeeded.",
		               atomic_load(&n->chain_ok));
	if (rc >= 0)
		rc = put_gauge(b, "zos_chain_finalized_block", "The finalized head last read.",
		               head < 0 ? 0 : (double)head);
	if (rc >= 0)
		rc = put_gauge(b, "zos_chain_head_lag_blocks",
		               "Finalized blocks the contract follower has not read yet.",
		               head < 0 || at < 0 || at > head ? 0 : (double)(head - at));
	if (rc >= 0)
		rc = put_gauge(b, "zos_last_report_timestamp_seconds",
		               "When a capacity report cycle last settled with every record "
		               "accepted (unix time; 0 = not yet).",
		               (double)rep);
	if (rc >= 0)
		rc = put_gauge(b, "zos_engine_running", "1 when the deploy engine runs.",
		               atomic_load(&n->eng) != NULL);
	if (rc >= 0)
		rc = write_store(n, b);
	if (rc >= 0)
		rc = write_rmb(n, b);
	return rc;
}

/* One line per problem into b; the count in *problems. */
static int write_health(struct agent_node *n, struct zbuf *b, int *problems)
{
	char line[256];
	int k = 0, rc = 0;
#define PROBLEM(...)                                                                               \
	do {                                                                                       \
		int w = snprintf(line, sizeof line, __VA_ARGS__);                                  \
		if (w > 0 && rc >= 0)                                                              \
			rc = zbuf_put(b, line,                                                     \
			              (size_t)w < sizeof line ? (size_t)w : sizeof line - 1);      \
		k++;                                                                               \
	} while (0)
	if (!atomic_load(&n->chain_ok))
		PROBLEM("chain: no answer from %s (start the chain node or fix chain.url)\n",
		        n->cfg.chain_url);
	if (!atomic_load(&n->twin_id) || !atomic_load(&n->node_id))
		PROBLEM("registration: the node is not registered yet (see STATUS: "
		        "systemctl status zos-agent)\n");
	if (!atomic_load(&n->eng))
		PROBLEM("engine: the deploy engine does not run yet\n");
	if (!n->rmb)
		PROBLEM("rmb: the message bus does not listen yet\n");
	int64_t head = atomic_load(&n->follow_head), at = atomic_load(&n->follow_at);
	if (head >= 0 && at >= 0 && head - at > HEALTH_LAG_BLOCKS)
		PROBLEM("follower: %" PRId64 " blocks behind the finalized head\n", head - at);
	struct eng *e = atomic_load(&n->eng);
	struct store_metrics sm;
	if (e && store_metrics(eng_store(e), &sm) == 0 && sm.outbox_oldest &&
	    time(NULL) - sm.outbox_oldest > HEALTH_OUTBOX_AGE_S)
		PROBLEM("outbox: a chain call has waited %" PRId64 " s (%" PRIu64 " pending)\n",
		        (int64_t)(time(NULL) - sm.outbox_oldest), sm.outbox_pending);
#undef PROBLEM
	if (k == 0 && rc >= 0)
		rc = zbuf_put(b, "ok\n", 3);
	*problems = k;
	return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             struct zbuf *b)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_COPY);
	zbuf_free(b);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct agent_node *n = cls;
	struct zbuf b;
	zbuf_init(&b, METRICS_MAX);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		zbuf_put(&b, "only GET\n", 9);
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &b);
	}
	if (strcmp(url, "/metrics") == 0) {
		if (write_all(n, &b) < 0) {
			zbuf_reset(&b);
			zbuf_put(&b, "metrics unavailable\n", 20);
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", &b);
		}
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
	}
	if (strcmp(url, "/healthz") == 0) {
		int problems = 0;
		write_health(n, &b, &problems);
		return reply(c, problems ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
		             "text/plain; charset=utf-8", &b);
	}
	zbuf_put(&b, "not found: /metrics or /healthz\n", 32);
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", &b);
}

/* HOST:PORT (IPv4 literal, or [IPv6]) into a socket address. */
static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof *ss);
	size_t hl = strlen(host);
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static int metrics_up(struct agent_node *n)
{
	struct sockaddr_storage ss;
	if (parse_addr(n->cfg.metrics_listen, &ss) < 0) {
		log_err("node",
		        "metrics.listen '%s' is not an IP address and port; the endpoint "
		        "stays off (set metrics.listen = 127.0.0.1:9464)",
		        n->cfg.metrics_listen);
		return ZE_CONFIG;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	n->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, n, MHD_OPTION_SOCK_ADDR,
	                          (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
	                          (unsigned)HEALTH_CONNS, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
	                          MHD_OPTION_END);
	return n->mhd ? 0 : -EADDRINUSE;
}

static void metrics_tick(struct agent *a, void *state)
{
	struct agent_node *n = state;
	if (n->mhd || !n->cfg.metrics_listen[0] || clk_mono_ms() < n->metrics_retry_at)
		return;
	int rc = metrics_up(n);
	if (rc == ZE_CONFIG) {
		n->metrics_retry_at = INT64_MAX;
		return;
	}
	if (rc < 0) {
		log_err(
		    "node",
		    "metrics endpoint on %s did not start (address in use?); "
		    "retrying in %d s; set metrics.listen to a free port, or empty to turn it off",
		    n->cfg.metrics_listen, METRICS_BACKOFF_MS / 1000);
		n->metrics_retry_at = clk_mono_ms() + METRICS_BACKOFF_MS;
		return;
	}
	log_info("node", "metrics on http://%s/metrics, health on /healthz", n->cfg.metrics_listen);
}

static void metrics_stop(struct agent *a, void *state)
{
	struct agent_node *n = state;
	if (n->mhd)
		MHD_stop_daemon(n->mhd);
	n->mhd = NULL;
}

const struct agent_subsys node_metrics_subsys = {
    .name = "metrics",
    .stop = metrics_stop,
    .tick = metrics_tick,
};
