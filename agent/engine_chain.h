/*
 * The engine's chain interface (struct eng_chain) over the real chain
 * client: typed reads from chainclient/grid.h, the runtime's metadata (for
 * the reporter), and calls through the account's one extrinsic submitter
 * (chainclient/submit.h) without waiting: each outcome comes back through
 * the engine's callback. This is the one way agent code reaches the chain
 * for the deploy engine and the reporter.
 *
 * Outcomes: SUCCESS -> 0; FAILED (included, dispatch error) and INVALID
 * (cannot be built, e.g. the runtime has no such call) -> ZE_CHAIN, final;
 * REJECTED, EXPIRED and UNKNOWN -> ZE_UNKNOWN, retried by the outbox (an
 * expired or rejected extrinsic was never included, and a resend of an
 * unknown one is checked against the chain first).
 */
#ifndef ZOS_AGENT_ENGINE_CHAIN_H
#define ZOS_AGENT_ENGINE_CHAIN_H

#include "agent/engine.h"
#include "chainclient/client.h"
#include "chainclient/submit.h"

struct eng_chain_grid;

/* client and submitter are borrowed and must outlive the adapter (the
 * submitter may outlive it: outcomes of calls still queued there are then
 * dropped). Fills *iface (its ctx is the adapter). Free with
 * eng_chain_grid_free; after iface->cancel it sends nothing more. */
int eng_chain_grid_new(struct chain_client *client, struct chain_submitter *submitter,
		       struct eng_chain *iface, struct eng_chain_grid **out);
void eng_chain_grid_free(struct eng_chain_grid *g);

#endif
