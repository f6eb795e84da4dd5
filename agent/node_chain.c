/*
 * The chain subsystem: the chain client on chain.url and the node
 * account's extrinsic submitter, the only one of this account (everything
 * the agent sends goes through it, so nonces never collide). Neither
 * contacts the chain when made: an unreachable chain is the registration
 * thread's to report and retry.
 */
#include "agent/node_int.h"

#include <inttypes.h>
#include <string.h>

#include "chainclient/rpc.h"
#include "common/log.h"
#include "common/zerr.h"

/* The submitter's batching window: short beside a block (100 ms on a
 * benchmark chain, 6 s on tfchain), long enough for calls made together. */
#define NODE_BATCH_MS 20
/* ... and a window closes early once no call came for this long: the
 * outbox hands its due calls together, so a pause means the burst is over
 * and waiting longer only risks missing the next block. */
#define NODE_BATCH_IDLE_MS 3
/* How long the first of several concurrent storage reads waits for others
 * to join its request: small beside a deploy's two blocks. */
#define NODE_COALESCE_MS 3

/* A call was queued: the follower, which feeds the submitter, stops
 * sleeping and polls at its busy pace (over HTTP; a head subscription wakes
 * it anyway). */
static void chain_queued(void *ud)
{
	struct agent_node *n = ud;
	node_worker_kick(&n->follow);
}

static int chain_start(struct agent *a, void **state)
{
	struct agent_node *n = *state;
	n->cfg = a->cfg;
	memcpy(n->account, a->key.pk, sizeof n->account);
	memcpy(n->x25519_pk, a->x25519_pk, sizeof n->x25519_pk);
	memcpy(n->ss58, a->ss58, sizeof n->ss58);
	atomic_store(&n->sync_interval, a->cfg.sync_interval);
	atomic_store(&n->report_interval, a->cfg.report_interval);

	struct chain_client_opts co;
	chain_client_opts_default(&co);
	co.rpc.timeout_ms = (long)a->cfg.chain_rpc_timeout * 1000;
	/* Every user of the client retries on its own schedule; one quick
	 * transport retry keeps a stop during an outage within the daemon's
	 * stop deadline. */
	co.rpc.retries = 1;
	co.rpc.ca_file = a->cfg.chain_ca_file[0] ? a->cfg.chain_ca_file : NULL;
	/* Deploy commands that arrive together (users whose contracts landed
	 * in the same block) read their contracts in one request. */
	co.rpc.coalesce_reads = 1;
	co.rpc.coalesce_ms = NODE_COALESCE_MS;
	int rc = chain_client_new(a->cfg.chain_url, &co, &n->chain);
	if (rc < 0) {
		log_err("node", "chain client for %s: %s", a->cfg.chain_url, zerr_str(rc));
		return rc;
	}
	/* The block follower (node_follow.c) feeds the submitter every
	 * finalized block, so it does not poll while the follower runs; before
	 * the follower starts (registration) or when it stalls, the submitter
	 * polls on its own, and a short interval keeps the time from inclusion
	 * to outcome near one block (the engine's senders wait on it).
	 * Calls queued within NODE_BATCH_MS of each other (several deploys
	 * marked at once) go in one Utility.batch_all where the runtime has
	 * it: one nonce, one submission and one inclusion for all. */
	struct chain_submit_opts so;
	chain_submit_opts_default(&so);
	so.poll_ms = 200;
	so.batch_ms = NODE_BATCH_MS;
	so.batch_idle_ms = NODE_BATCH_IDLE_MS;
	so.queued = chain_queued;
	so.queued_ud = n;
	rc = chain_submitter_new(n->chain, &a->key, &so, &n->submitter);
	if (rc < 0) {
		log_err("node", "extrinsic submitter: %s", zerr_str(rc));
		chain_client_free(n->chain);
		n->chain = NULL;
		return rc;
	}
	node_status(n, 0, "connecting to the chain at %s", a->cfg.chain_url);
	return 0;
}

/* Ends every chain exchange in progress: the engine's, the reporter's and
 * the submitter's threads then stop within the deadline even when the chain
 * accepts connections but never answers (each exchange could otherwise take
 * chain.rpc_timeout per attempt). What they were sending stays durable. */
static void chain_stopping(struct agent *a, void *state)
{
	struct agent_node *n = state;
	if (n->chain)
		rpc_abort(chain_client_rpc(n->chain));
}

static void chain_stop(struct agent *a, void *state)
{
	struct agent_node *n = state;
	/* Calls still in flight end as unknown; their owners stopped already. */
	chain_submitter_free(n->submitter);
	n->submitter = NULL;
	chain_client_free(n->chain);
	n->chain = NULL;
}

static void chain_tick(struct agent *a, void *state)
{
	node_status_flush(state);
}

static int chain_reload(struct agent *a, void *state, const struct cfg *next)
{
	if (next->chain_rpc_timeout != a->cfg.chain_rpc_timeout)
		log_warn("node", "chain.rpc_timeout: the chain client keeps %" PRIu32
			 " s until the agent restarts", a->cfg.chain_rpc_timeout);
	return 0;
}

static void chain_summary(struct agent *a, void *state)
{
	struct agent_node *n = state;
	char line[NODE_STATUS_MAX];
	pthread_mutex_lock(&n->status_mu);
	memcpy(line, n->status, sizeof line);
	pthread_mutex_unlock(&n->status_mu);
	log_info("node", "status: %s; twin %" PRIu32 ", node %" PRIu32 ", next nonce %" PRId64, line,
		 atomic_load(&n->twin_id), atomic_load(&n->node_id),
		 n->submitter ? chain_submitter_nonce(n->submitter) : -1);
}

const struct agent_subsys node_chain_subsys = {
	.name = "chain",
	.start = chain_start,
	.stopping = chain_stopping,
	.stop = chain_stop,
	.tick = chain_tick,
	.reload = chain_reload,
	.summary = chain_summary,
};
