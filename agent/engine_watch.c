/* The contract lifecycle watcher: chain states in, deployment states out. */
#include "agent/engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/jnum.h"
#include "common/zerr.h"

/* A transition that did not apply (ZE_STATE, ZE_ABSENT) is no error here:
 * events repeat, and events of contracts this node does not hold arrive. */
static int apply(struct eng *e, uint64_t cid, unsigned from, enum store_dep_state to,
		 const char *reason)
{
	int rc = eng_transition(e, cid, from, to, reason, ENG_T_NONE);
	if (rc == ZE_STATE || rc == ZE_ABSENT)
		return 0;
	if (rc < 0)
		return rc;
	return eng_enqueue(e, cid, 0, 0, 0);
}

int eng_on_contract_state(struct eng *e, uint64_t cid, enum eng_cstate state)
{
	eng_ho_forget(e, cid); /* a contract kept from its event is stale now */
	switch (state) {
	case ENG_CS_GRACE:
		return apply(e, cid, ENG_ST(STORE_DEP_DEPLOYED), STORE_DEP_PAUSED,
			     "contract in grace period");
	case ENG_CS_DEPLOYED:
		return apply(e, cid, ENG_ST(STORE_DEP_PAUSED), STORE_DEP_DEPLOYED,
			     "grace period ended");
	case ENG_CS_DELETED:
		return apply(e, cid, ENG_LIVE, STORE_DEP_DELETED, "contract deleted on chain");
	case ENG_CS_CREATED:
		return 0;
	}
	return -EINVAL;
}

int eng_on_contract_gone(struct eng *e, uint64_t cid)
{
	eng_ho_forget(e, cid);
	return apply(e, cid, ENG_LIVE, STORE_DEP_DELETED, "contract no longer on chain");
}

/* The contract id of an event: a named field, or the first unnamed one. */
static int event_contract_id(const cJSON *data, uint64_t *cid)
{
	if (cJSON_IsObject(data))
		return jnum_u64_dec(cJSON_GetObjectItemCaseSensitive(data, "contract_id"), cid);
	if (cJSON_IsArray(data))
		return event_contract_id(cJSON_GetArrayItem(data, 0), cid) == 0
			       ? 0
			       : jnum_u64_dec(cJSON_GetArrayItem(data, 0), cid);
	return jnum_u64_dec(data, cid);
}

/* ContractState as decoded: "Created" / "Deployed", or {"GracePeriod": n},
 * {"Deleted": cause}. */
static int json_cstate(const cJSON *st, enum eng_cstate *out)
{
	const char *name = cJSON_IsString(st) ? st->valuestring
			   : cJSON_IsObject(st) && st->child ? st->child->string : NULL;
	static const struct {
		const char *name;
		enum eng_cstate st;
	} map[] = {{"Created", ENG_CS_CREATED}, {"Deleted", ENG_CS_DELETED},
		   {"GracePeriod", ENG_CS_GRACE}, {"Deployed", ENG_CS_DEPLOYED}};
	for (size_t i = 0; name && i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(map[i].name, name)) {
			*out = map[i].st;
			return 0;
		}
	return ZE_MALFORMED;
}

int eng_on_chain_event(struct eng *e, const cJSON *ev)
{
	const cJSON *pallet = cJSON_GetObjectItemCaseSensitive(ev, "pallet");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(ev, "event");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
	if (!cJSON_IsString(pallet) || !cJSON_IsString(name) ||
	    strcmp(pallet->valuestring, "SmartContractModule"))
		return 0;
	const char *n = name->valuestring;
	enum eng_cstate st;
	uint64_t cid;
	if (!strcmp(n, "ContractCreated")) {
		/* A contract for this node, deployed even when its owner cannot
		 * reach the node over RMB (eng_adopt). */
		const cJSON *c = cJSON_IsArray(data) ? cJSON_GetArrayItem(data, 0) : data;
		if (event_contract_id(c, &cid) < 0)
			return ZE_MALFORMED;
		eng_ho_seen(e, cid);
		/* The event carries the contract as the chain stored it in
		 * this finalized block: another node's costs nothing, and this
		 * node's is not read again. One that does not decode is read. */
		struct eng_contract ec;
		if (e->chain.contract_of_event &&
		    e->chain.contract_of_event(e->chain.ctx, c, &ec) == 0) {
			if (ec.id != cid) {
				eng_contract_clear(&ec);
				return eng_adopt(e, cid);
			}
			return eng_adopt_contract(e, cid, &ec);
		}
		return eng_adopt(e, cid);
	}
	if (!strcmp(n, "NodeContractCanceled") || !strcmp(n, "ContractRejected"))
		st = ENG_CS_DELETED;
	else if (!strcmp(n, "ContractGracePeriodStarted"))
		st = ENG_CS_GRACE;
	else if (!strcmp(n, "ContractGracePeriodEnded"))
		st = ENG_CS_DEPLOYED;
	else if (!strcmp(n, "ContractUpdated"))
		st = ENG_CS_CREATED; /* read from the contract below */
	else
		return 0;
	if (st == ENG_CS_CREATED) {
		const cJSON *c = cJSON_IsArray(data) ? cJSON_GetArrayItem(data, 0) : data;
		if (event_contract_id(c, &cid) < 0 ||
		    json_cstate(cJSON_GetObjectItemCaseSensitive(c, "state"), &st) < 0)
			return ZE_MALFORMED;
	} else if (event_contract_id(data, &cid) < 0) {
		return ZE_MALFORMED;
	}
	return eng_on_contract_state(e, cid, st);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* True when some workload of a finished deployment is not removed yet. */
static int has_leftovers(struct eng *e, uint64_t cid)
{
	struct store_dep d;
	struct store_wl *w;
	size_t n;
	if (store_dep_get(e->store, cid, &d, &w, &n) < 0)
		return 0;
	int left = 0;
	for (size_t i = 0; i < n; i++)
		left |= w[i].state != STORE_WL_DELETED;
	store_dep_clear(&d);
	store_wls_free(w, n);
	return left;
}

int eng_full_sync(struct eng *e)
{
	uint64_t *active = NULL, *ids = NULL;
	size_t nactive = 0, n = 0, unknown = 0, gone = 0;
	int rc = 0;
	if (e->chain.node_contracts &&
	    (rc = e->chain.node_contracts(e->chain.ctx, e->cfg.node_id, &active, &nactive)) < 0) {
		log_warn("engine", "sync: ActiveNodeContracts unknown (%s); nothing changed",
			 zerr_str(rc));
		return rc;
	}
	if ((rc = store_dep_ids(e->store, &ids, &n)) < 0) {
		free(active);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_dep d;
		if (store_dep_get(e->store, ids[i], &d, NULL, NULL) < 0)
			continue;
		enum store_dep_state st = d.state;
		store_dep_clear(&d);
		if (!(ENG_LIVE & ENG_ST(st))) {
			if (has_leftovers(e, ids[i]))
				eng_enqueue(e, ids[i], 0, 0, 0);
			continue;
		}
		struct eng_contract c;
		rc = e->chain.get_contract(e->chain.ctx, ids[i], &c);
		if (rc == ZE_ABSENT) {
			/* Only a confirmed absence removes a deployment. */
			gone++;
			eng_on_contract_gone(e, ids[i]);
			continue;
		}
		if (rc < 0) {
			unknown++;
			continue;
		}
		enum eng_cstate cs = c.state;
		eng_contract_clear(&c);
		eng_on_contract_state(e, ids[i], cs);
		/* Jobs that gave up (and workloads in error) get another go. */
		eng_enqueue(e, ids[i], 0, 0, 0);
	}
	/* Contracts the chain has for this node that this store does not. */
	size_t strangers = 0;
	for (size_t i = 0; i < nactive; i++)
		if (!n || !bsearch(&active[i], ids, n, sizeof *ids, cmp_u64)) {
			strangers++;
			/* Deployed now when its data is on chain (a missed event,
			 * a node its owner cannot reach). */
			eng_adopt(e, active[i]);
		}
	if (strangers)
		log_info("engine",
		         "sync: %zu active contracts of this node were not deployed "
		         "here",
		         strangers);
	/* Finished deployments leave the store after a while, so it (and the
	 * restore at start) stays the size of what runs. */
	uint64_t pruned = 0;
	if (store_dep_prune(e->store, (int64_t)time(NULL) - (int64_t)e->cfg.retain_s, &pruned) < 0)
		log_warn("engine", "sync: pruning finished deployments failed");
	log_info("engine", "sync: %zu deployments checked, %zu gone, %zu unknown, %llu pruned", n,
		 gone, unknown, (unsigned long long)pruned);
	free(active);
	free(ids);
	return 0;
}
