/*
 * The RMB subsystem: the server on rmb.listen, started from the tick once
 * registration knows the node twin (requests are addressed to it), signing
 * with the node key and looking callers up on chain (rmb_chain.h).
 *
 * Commands: zos.system.version, and the engine's zos.deployment.* and
 * zos.statistics.get (handlers.h), which answer a retryable 503 until the
 * deploy engine runs (the node is not registered yet).
 */
#include "agent/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/handlers.h"
#include "agent/metrics.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/jnum.h"
#include "common/log.h"
#include "common/version.h"
#include "common/zerr.h"
#include "rmb/rmb_chain.h"
#include "rmb/rmb_server.h"

#define RMB_BACKOFF_MIN_MS 1000L
#define RMB_BACKOFF_MAX_MS 60000L
/* Requests waiting for a worker; contexts exceed every request the server
 * can hold (workers, queue, slow pool and its queue). */
#define RMB_QUEUE_LEN 32u
#define RMB_SPARE_CONTEXTS 16u

static int h_version(void *arg, const struct rmb_call *call, cJSON **reply,
		     struct rmb_error *err)
{
	struct agent_node *n = arg;
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "version", ZOS_VERSION) ||
	    !cJSON_AddStringToObject(o, "program", "zos-agent") ||
	    !cJSON_AddNumberToObject(o, "twin_id", atomic_load(&n->twin_id)) ||
	    !cJSON_AddNumberToObject(o, "node_id", atomic_load(&n->node_id)) ||
	    !cJSON_AddNumberToObject(o, "farm_id", n->cfg.farm_id)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*reply = o;
	return 0;
}

/* The engine's handlers, behind a check that the engine runs. */
static int engine_call(struct agent_node *n, eng_rmb_fn fn, const struct rmb_call *call,
		       cJSON **reply, struct rmb_error *err)
{
	struct eng *e = atomic_load(&n->eng);
	if (!e) {
		rmb_error_set(err, ENG_E_UNAVAILABLE, 1,
			      "the node is not registered on chain yet; retry later");
		return ZE_STATE;
	}
	int code = 0;
	char msg[RMB_ERRMSG_MAX + 1] = "";
	int rc = fn(e, call->src, call->payload, reply, &code, msg, sizeof msg);
	if (rc < 0)
		rmb_error_set(err, code ? (uint32_t)code : ENG_E_INTERNAL,
			      code == ENG_E_UNAVAILABLE, "%s", msg);
	return rc;
}

#define ENGINE_HANDLER(name)                                                               \
	static int h_##name(void *arg, const struct rmb_call *call, cJSON **reply,         \
			    struct rmb_error *err)                                         \
	{                                                                                  \
		return engine_call(arg, eng_rmb_##name, call, reply, err);                 \
	}
ENGINE_HANDLER(deploy)
ENGINE_HANDLER(get)
ENGINE_HANDLER(list)
ENGINE_HANDLER(changes)
ENGINE_HANDLER(statistics)
ENGINE_HANDLER(logs)

/* A deploy reads the contract and twins from the chain: it is a slow
 * handler, counted against the server's slow_workers places rather than
 * its workers, so a slow or stalled chain never delays other callers'
 * commands (docs/rmb.md, "Workers and shares"). */
static const struct {
	const char *cmd;
	rmb_handler_fn fn;
	unsigned flags;
} commands[] = {
	{"zos.system.version", h_version, 0},
	{"zos.deployment.deploy", h_deploy, RMB_H_SLOW},
	{"zos.deployment.get", h_get, 0},
	{"zos.deployment.list", h_list, 0},
	{"zos.deployment.changes", h_changes, 0},
	{"zos.statistics.get", h_statistics, 0},
	{"zos.deployment.logs", h_logs, 0},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Each command goes through observe(), which times the handler and records
 * the answer's code for the metrics endpoint. A process runs one node, so
 * one table serves it; it is written before the server starts. */
static struct observed {
	struct agent_node *n;
	rmb_handler_fn fn;
} observed_cmds[NCOMMANDS];

static int observe(void *arg, const struct rmb_call *call, cJSON **reply, struct rmb_error *err)
{
	const struct observed *o = arg;
	int64_t t0 = clk_mono_us();
	log_ctx_twin(call->src);
	const cJSON *cid = call->payload ? cJSON_GetObjectItemCaseSensitive(call->payload,
									      "contract_id")
					 : NULL;
	uint64_t id;
	if (jnum_u64(cid, UINT64_MAX, &id) == 0 && id >= 1)
		log_ctx_contract(id);
	int rc = o->fn(o->n, call, reply, err);
	log_ctx_clear();
	int64_t dt = clk_mono_us() - t0;
	uint32_t code = rc < 0 ? (err->code ? err->code : RMB_E_INTERNAL) : 0;
	metrics_rmb_observe(o->n->metrics, call->cmd, code, dt < 0 ? 0 : (uint64_t)dt);
	return rc;
}

/* nng does not create the directory of an ipc socket. */
static void ipc_dir(const char *url)
{
	char dir[CFG_STR_MAX];
	if (strncmp(url, "ipc://", 6) != 0)
		return;
	snprintf(dir, sizeof dir, "%s", url + 6);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		log_warn("node", "cannot create %s for %s: %s", dir, url, strerror(errno));
}

static int rmb_up(struct agent_node *n, uint32_t twin_id)
{
	struct rmb_server_cfg sc;
	struct rmb_server *s = NULL;
	rmb_server_cfg_init(&sc);
	for (unsigned i = 0; i < n->cfg.rmb_listen.n && i < RMB_LISTEN_MAX; i++) {
		ipc_dir(n->cfg.rmb_listen.v[i]);
		sc.listen[sc.nlisten++] = n->cfg.rmb_listen.v[i];
	}
	sc.workers = n->cfg.rmb_workers;
	sc.queue_len = RMB_QUEUE_LEN;
	sc.contexts = sc.workers + sc.queue_len + sc.slow_workers + sc.slow_queue_len +
		      RMB_SPARE_CONTEXTS;
	sc.verify.max_msg = (size_t)n->cfg.rmb_max_message;
	sc.mem_budget = (size_t)n->cfg.rmb_memory_budget;
	sc.frame_timeout_ms = n->cfg.rmb_frame_timeout * 1000u;
	sc.verify.twin_ttl_s = n->a->cfg.rmb_twin_cache_ttl;
	/* Accepted uids survive a restart: a request replayed after it is
	 * still refused within its envelope's lifetime (docs/rmb.md). */
	char replay[CFG_STR_MAX + 16];
	snprintf(replay, sizeof replay, "%s/rmb-replay", n->cfg.state_dir);
	sc.verify.replay_path = replay;
	int rc = rmb_server_new(&sc, &n->a->key, twin_id, rmb_chain_twin_lookup, n->chain, &s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < NCOMMANDS && rc == 0; i++) {
		observed_cmds[i] = (struct observed){n, commands[i].fn};
		rc = rmb_server_register_flags(s, commands[i].cmd, observe, &observed_cmds[i],
					       commands[i].flags);
	}
	if (rc == 0)
		rc = rmb_server_start(s);
	if (rc < 0) {
		rmb_server_free(s);
		return rc;
	}
	n->rmb = s;
	return 0;
}

static int rmb_start(struct agent *a, void **state)
{
	struct agent_node *n = *state;
	backoff_init(&n->rmb_backoff, RMB_BACKOFF_MIN_MS, RMB_BACKOFF_MAX_MS, 0);
	return 0;
}

static void rmb_tick(struct agent *a, void *state)
{
	struct agent_node *n = state;
	uint32_t twin_id = atomic_load(&n->twin_id);
	if (n->rmb || !twin_id || clk_mono_ms() < n->rmb_retry_at)
		return;
	int rc = rmb_up(n, twin_id);
	if (rc < 0) {
		int64_t delay = backoff_next(&n->rmb_backoff);
		log_err("node", "rmb server did not start: %s; retrying in %lld ms", zerr_str(rc),
			(long long)delay);
		n->rmb_retry_at = clk_mono_ms() + delay;
		return;
	}
	char addrs[CFG_STR_MAX * 2] = "";
	size_t used = 0;
	for (unsigned i = 0; i < n->cfg.rmb_listen.n && used < sizeof addrs; i++) {
		int w = snprintf(addrs + used, sizeof addrs - used, "%s%s", i ? " " : "",
				 n->cfg.rmb_listen.v[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	log_info("node", "rmb serving twin %" PRIu32 " on %s", twin_id, addrs);
}

static void rmb_stop(struct agent *a, void *state)
{
	struct agent_node *n = state;
	rmb_server_free(n->rmb);
	n->rmb = NULL;
}

static int rmb_reload(struct agent *a, void *state, const struct cfg *next)
{
	if (next->rmb_twin_cache_ttl != a->cfg.rmb_twin_cache_ttl && ((struct agent_node *)state)->rmb)
		log_warn("node", "rmb.twin_cache_ttl: the running server keeps %" PRIu32
			 " s until the agent restarts", a->cfg.rmb_twin_cache_ttl);
	return 0;
}

static void rmb_summary(struct agent *a, void *state)
{
	struct agent_node *n = state;
	if (!n->rmb) {
		log_info("node", "rmb: waiting for the node twin");
		return;
	}
	struct rmb_server_stats st;
	rmb_server_get_stats(n->rmb, &st);
	log_info("node", "rmb: received %" PRIu64 ", accepted %" PRIu64 ", refused %" PRIu64
		 ", busy %" PRIu64 ", replied %" PRIu64 ", connections %u",
		 st.received, st.accepted, st.refused, st.busy, st.replied, st.conns);
}

const struct agent_subsys node_rmb_subsys = {
	.name = "rmb",
	.start = rmb_start,
	.stop = rmb_stop,
	.tick = rmb_tick,
	.reload = rmb_reload,
	.summary = rmb_summary,
};
