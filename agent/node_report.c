/*
 * The reporter subsystem: runs the capacity reporter's cycle (reporter.h)
 * once a second on its own thread, since a cycle reads the chain and the
 * main loop must not wait on RPCs. It begins once the deploy engine runs
 * (reports go through the engine's outbox) and follows
 * node.report_interval across reloads by making a new reporter: its
 * durable state lives in the store, not in the struct.
 */
#include "agent/node_int.h"

#include <inttypes.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

#define REPORT_TICK_MS 1000L

static int make_rep(struct agent_node *n, struct eng *e, unsigned interval, struct rep **out)
{
	struct rep_config rc = {.interval_s = interval};
	struct rep_deps d = {
		.store = n->store,
		.chain = eng_chain_iface(e),
		.usage = rep_usage_prov,
		.usage_begin = rep_usage_prov_begin,
		.usage_end = rep_usage_prov_end,
		.usage_ctx = &n->usage,
		.enqueue = rep_enqueue_engine,
		.enqueue_ctx = e,
	};
	return rep_new(&rc, &d, out);
}

/* Remembers when a report cycle was last settled with every record
 * accepted, for the metrics endpoint. */
static void note_settled(struct agent_node *n, const struct rep *rep)
{
	struct rep_stats st;
	rep_stats(rep, &st);
	if (st.resolved_ok > 0 && st.resolved_failed == 0 && !st.waiting)
		atomic_store(&n->report_ok_at, (int64_t)(clk_wall_ms() / 1000));
}

static void *report_main(void *arg)
{
	struct agent_node *n = arg;
	struct rep *rep = NULL;
	unsigned interval = 0;
	int last_err = 0;
	while (!node_worker_sleep(&n->report, REPORT_TICK_MS)) {
		struct eng *e = atomic_load(&n->eng);
		if (!e)
			continue;
		node_uptime_tick(n, e);
		unsigned want = atomic_load(&n->report_interval);
		if (rep && want != interval) {
			rep_free(rep);
			rep = NULL;
		}
		if (!rep) {
			int rc = make_rep(n, e, want, &rep);
			if (rc < 0) {
				if (rc != last_err)
					log_err("node", "reporter: %s", zerr_str(rc));
				last_err = rc;
				continue;
			}
			interval = want;
			log_info("node", "reporting capacity every %u s", interval);
		}
		int rc = rep_cycle(rep, clk_wall_ms());
		note_settled(n, rep);
		if (rc < 0 && rc != last_err)
			log_warn("node", "report cycle: %s; retried later", zerr_str(rc));
		last_err = rc < 0 ? rc : 0;
	}
	rep_free(rep);
	return NULL;
}

static int report_start(struct agent *a, void **state)
{
	struct agent_node *n = *state;
	int rc = node_worker_start(&n->report, "reporter", report_main, n);
	if (rc < 0)
		log_err("node", "reporter thread: %s", zerr_str(rc));
	return rc;
}

static void report_stop(struct agent *a, void *state)
{
	struct agent_node *n = state;
	node_worker_stop(&n->report);
}

static int report_reload(struct agent *a, void *state, const struct cfg *next)
{
	struct agent_node *n = state;
	atomic_store(&n->report_interval, next->report_interval);
	return 0;
}

const struct agent_subsys node_report_subsys = {
	.name = "reporter",
	.start = report_start,
	.stop = report_stop,
	.reload = report_reload,
};
