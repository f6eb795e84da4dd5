/*
 * The reporter's usage source on a real node: a contract's network bytes
 * are the sum of rx + tx of its ok and paused workloads, as their
 * provisioners' usage() counts them (cumulative since each workload's
 * objects were made). Any workload that cannot be measured fails the whole
 * contract, so the reporter keeps its counter and claims nothing.
 */
#ifndef ZOS_AGENT_REPORTER_USAGE_H
#define ZOS_AGENT_REPORTER_USAGE_H

#include <stdint.h>

#include "agent/deployment.h"
#include "agent/store.h"
#include "provisioners/prov.h"

struct rep_usage_prov {
	struct store *store;   /* borrowed */
	dep_lookup_fn lookup;  /* prov_lookup in the agent */
	struct prov_ctx *prov; /* borrowed */
};

/* A rep_usage_fn; ctx is a struct rep_usage_prov. */
int rep_usage_prov(void *ctx, uint64_t contract_id, uint64_t *bytes);

#endif
