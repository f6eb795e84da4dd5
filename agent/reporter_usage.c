/* A usage source for the reporter over the provisioners' usage counters. */
#include "agent/reporter_usage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"

int rep_usage_prov(void *ctx, uint64_t contract_id, uint64_t *bytes)
{
	const struct rep_usage_prov *u = ctx;
	struct store_dep d;
	struct store_wl *w = NULL;
	size_t n = 0;
	uint64_t sum = 0;
	char err[160];
	int rc = store_dep_get(u->store, contract_id, &d, &w, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (w[i].state != STORE_WL_OK && w[i].state != STORE_WL_PAUSED)
			continue;
		const struct prov_ops *ops = u->lookup(w[i].type);
		if (!ops || !ops->usage)
			continue; /* a type that moves no traffic of its own */
		struct prov_workload_id id = {.twin_id = d.twin_id, .contract_id = contract_id};
		memcpy(id.name, w[i].name, sizeof id.name);
		struct prov_usage pu;
		memset(&pu, 0, sizeof pu);
		err[0] = 0;
		rc = ops->usage(u->prov, &id, &pu, err, sizeof err);
		if (rc < 0) {
			log_debug("reporter", "usage of %llu/%s: %s", (unsigned long long)contract_id,
				  w[i].name, err);
			break;
		}
		/* Saturate rather than wrap: a wrapped sum would read as a restart. */
		uint64_t add = pu.net_rx_bytes + pu.net_tx_bytes;
		if (add < pu.net_rx_bytes || sum + add < sum)
			sum = UINT64_MAX;
		else
			sum += add;
	}
	store_dep_clear(&d);
	store_wls_free(w, n);
	if (rc == 0)
		*bytes = sum;
	return rc;
}
