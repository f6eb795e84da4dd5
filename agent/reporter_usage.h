/*
 * The reporter's usage source on a real node: a contract's network bytes
 * are the sum of rx + tx of its ok and paused workloads, as their
 * provisioners' usage() counts them (cumulative since each workload's
 * objects were made). Any workload that cannot be measured fails the whole
 * contract, so the reporter keeps its counter and claims nothing.
 *
 * A cycle asks for every contract in turn. Between rep_usage_prov_begin
 * and rep_usage_prov_end the source answers from one read of every
 * deployment's twin and every live workload's name and type (two scans,
 * about 50 bytes per workload held for the cycle), instead of reading each
 * deployment with its document and workloads with their specs; without
 * begin (or after a begin that failed) it reads each contract on its own.
 */
#ifndef ZOS_AGENT_REPORTER_USAGE_H
#define ZOS_AGENT_REPORTER_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/deployment.h"
#include "agent/store.h"
#include "provisioners/prov.h"

struct rep_usage_dep; /* reporter_usage.c */
struct rep_usage_wl;

struct rep_usage_prov {
	struct store *store;   /* borrowed */
	dep_lookup_fn lookup;  /* prov_lookup in the agent */
	struct prov_ctx *prov; /* borrowed */
	/* The cycle's snapshot, owned, between begin and end (zero before). */
	struct rep_usage_dep *deps;
	size_t ndeps;
	struct rep_usage_wl *wls;
	size_t nwls;
};

/* A rep_usage_fn; ctx is a struct rep_usage_prov. */
int rep_usage_prov(void *ctx, uint64_t contract_id, uint64_t *bytes);
/* A rep_usage_begin_fn and rep_usage_end_fn over the same ctx. */
int rep_usage_prov_begin(void *ctx);
void rep_usage_prov_end(void *ctx);

#endif
