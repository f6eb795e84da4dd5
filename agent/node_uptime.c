/*
 * Uptime reports: tfchain shows a node online, and pays its farmer, only
 * while the node reports its uptime (TfgridModule.report_uptime_v2, or
 * report_uptime on runtimes without it) about every 40 minutes. The
 * reporter thread calls node_uptime_tick every second; once the deploy
 * engine runs, it queues a report at start and then every
 * node.uptime_interval through the engine's durable outbox, like the
 * capacity reports. A runtime with neither call (an old tfchain-dev) gets
 * none, said once in the log.
 */
#include "agent/node_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "chainclient/grid.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

#define UPTIME_RETRY_MS 10000L

/* Seconds since the host booted, as zos nodes report it. */
static uint64_t host_uptime_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Queues one report; 0, or negative to retry soon. */
static int uptime_enqueue(struct agent_node *n, struct eng *e)
{
	const char *call;
	int v2 = grid_has_call(n->chain, "TfgridModule", "report_uptime_v2");
	int v1 = v2 == 1 ? 0 : grid_has_call(n->chain, "TfgridModule", "report_uptime");
	if (v2 < 0 || v1 < 0)
		return v2 < 0 ? v2 : v1;
	if (v2 == 1)
		call = "report_uptime_v2";
	else if (v1 == 1)
		call = "report_uptime";
	else {
		if (!n->uptime_unsupported)
			log_warn("node", "the runtime has no TfgridModule.report_uptime(_v2): no "
			                 "uptime reports");
		n->uptime_unsupported = 1;
		return 0;
	}
	/* The runtime checks the hint against its own clock (within a minute),
	 * so it comes from the chain, not from this host. */
	uint64_t ms;
	int rc = chain_timestamp_ms(n->chain, NULL, &ms);
	if (rc < 0)
		return rc;
	uint64_t up = host_uptime_s(), hint = ms / 1000;
	char key[64], payload[256];
	snprintf(key, sizeof key, "uptime:%" PRIu64, hint);
	if (v2 == 1)
		snprintf(
		    payload, sizeof payload,
		    "{\"pallet\":\"TfgridModule\",\"call\":\"%s\",\"args\":{\"uptime\":%" PRIu64
		    ",\"timestamp_hint\":%" PRIu64 "}}",
		    call, up, hint);
	else
		snprintf(
		    payload, sizeof payload,
		    "{\"pallet\":\"TfgridModule\",\"call\":\"%s\",\"args\":{\"uptime\":%" PRIu64
		    "}}",
		    call, up);
	int added = 0;
	rc = eng_outbox_enqueue(e, ENG_CALL_REPORTS, 0, key, payload, &added);
	if (rc < 0)
		return rc;
	log_info("node", "uptime report queued: TfgridModule.%s, uptime %" PRIu64 " s", call, up);
	return 0;
}

void node_uptime_tick(struct agent_node *n, struct eng *e)
{
	int64_t now = clk_mono_ms();
	if (n->uptime_next_ms && now < n->uptime_next_ms)
		return;
	int rc = uptime_enqueue(n, e);
	if (rc < 0) {
		log_warn("node", "uptime report: %s; retrying in %ld s", zerr_str(rc),
		         UPTIME_RETRY_MS / 1000);
		n->uptime_next_ms = now + UPTIME_RETRY_MS;
		return;
	}
	n->uptime_next_ms = now + (int64_t)n->cfg.uptime_interval * 1000;
}
