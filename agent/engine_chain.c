/* struct eng_chain over chainclient's grid accessors and submitter. */
#include "agent/engine_chain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "common/log.h"
#include "common/zerr.h"

struct eng_chain_grid {
	struct chain_client *client;
	struct chain_submitter *submitter;
};

static int g_get_contract(void *ctx, uint64_t id, struct eng_contract *out)
{
	struct eng_chain_grid *g = ctx;
	struct grid_contract c;
	int rc = grid_contract(g->client, id, &c);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof *out);
	out->id = c.contract_id;
	out->twin_id = c.twin_id;
	out->node_contract = c.type == GRID_NODE_CONTRACT;
	out->node_id = c.node_id;
	switch (c.state) {
	case GRID_CONTRACT_CREATED: out->state = ENG_CS_CREATED; break;
	case GRID_CONTRACT_DELETED: out->state = ENG_CS_DELETED; break;
	case GRID_CONTRACT_GRACE_PERIOD: out->state = ENG_CS_GRACE; break;
	case GRID_CONTRACT_DEPLOYED: out->state = ENG_CS_DEPLOYED; break;
	}
	memcpy(out->deployment_hash, c.deployment_hash, 32);
	/* The data moves over instead of being copied. */
	out->data = c.deployment_data;
	out->data_len = c.deployment_data_len;
	c.deployment_data = NULL;
	grid_contract_clear(&c);
	return 0;
}

static int g_get_twin(void *ctx, uint32_t twin_id, struct eng_twin *out)
{
	struct eng_chain_grid *g = ctx;
	struct grid_twin t;
	int rc = grid_twin(g->client, twin_id, &t);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof *out);
	memcpy(out->account, t.account, 32);
	if (t.pk_len) {
		_Static_assert(sizeof out->pk >= GRID_MAX_PK, "twin pk size");
		out->has_pk = 1;
		out->pk_len = t.pk_len;
		memcpy(out->pk, t.pk, t.pk_len);
	}
	return 0;
}

static int g_node_contracts(void *ctx, uint32_t node_id, uint64_t **ids, size_t *n)
{
	struct eng_chain_grid *g = ctx;
	return grid_active_contracts(g->client, node_id, ids, n);
}

/* The pallet, call and arguments of one outbox item; *args freed by caller. */
static int build(const struct eng_call *call, const char **pallet, const char **name,
		 cJSON **args, cJSON **holder)
{
	*holder = NULL;
	*pallet = "SmartContractModule";
	switch (call->kind) {
	case ENG_CALL_DEPLOYED:
		*name = "set_contract_deployed";
		*args = grid_args_contract_id(call->contract_id);
		return *args ? 0 : -ENOMEM;
	case ENG_CALL_REJECT:
		*name = "reject_contract";
		*args = grid_args_reject_contract(call->contract_id, call->reason ? call->reason : "");
		return *args ? 0 : -ENOMEM;
	case ENG_CALL_REPORTS: {
		cJSON *p = cJSON_Parse(call->payload ? call->payload : "");
		const cJSON *pa = cJSON_GetObjectItemCaseSensitive(p, "pallet");
		const cJSON *ca = cJSON_GetObjectItemCaseSensitive(p, "call");
		cJSON *ar = cJSON_GetObjectItemCaseSensitive(p, "args");
		if (!cJSON_IsString(pa) || !cJSON_IsString(ca) ||
		    !(cJSON_IsObject(ar) || cJSON_IsArray(ar))) {
			cJSON_Delete(p);
			return ZE_MALFORMED;
		}
		*pallet = pa->valuestring;
		*name = ca->valuestring;
		*args = ar;
		*holder = p; /* owns the strings and args */
		return 0;
	}
	default:
		return -EINVAL;
	}
}

static int g_submit(void *ctx, const struct eng_call *call, char *why, size_t whysz)
{
	struct eng_chain_grid *g = ctx;
	const char *pallet, *name;
	cJSON *args = NULL, *holder = NULL;
	int rc = build(call, &pallet, &name, &args, &holder);
	if (rc == ZE_MALFORMED) {
		snprintf(why, whysz, "report payload is not {pallet, call, args}");
		return ZE_CHAIN; /* sending it again cannot help */
	}
	if (rc < 0) {
		snprintf(why, whysz, "%s", zerr_str(rc));
		return rc;
	}
	struct chain_outcome o;
	memset(&o, 0, sizeof o);
	rc = chain_submit_wait(g->submitter, pallet, name, args, &o);
	if (holder)
		cJSON_Delete(holder);
	else
		cJSON_Delete(args);
	if (rc < 0) {
		snprintf(why, whysz, "not queued: %s", zerr_str(rc));
		return ZE_UNKNOWN;
	}
	switch (o.status) {
	case CHAIN_OUTCOME_SUCCESS:
		rc = 0;
		break;
	case CHAIN_OUTCOME_FAILED:
	case CHAIN_OUTCOME_INVALID:
		snprintf(why, whysz, "%s.%s %s: %s", pallet, name,
			 chain_outcome_status_name(o.status), o.error);
		rc = ZE_CHAIN;
		break;
	default:
		snprintf(why, whysz, "%s.%s %s: %s", pallet, name,
			 chain_outcome_status_name(o.status), o.error);
		rc = ZE_UNKNOWN;
		break;
	}
	chain_outcome_clear(&o);
	return rc;
}

int eng_chain_grid_new(struct chain_client *client, struct chain_submitter *submitter,
		       struct eng_chain *iface, struct eng_chain_grid **out)
{
	struct eng_chain_grid *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->client = client;
	g->submitter = submitter;
	*iface = (struct eng_chain){
		.ctx = g,
		.get_contract = g_get_contract,
		.get_twin = g_get_twin,
		.node_contracts = g_node_contracts,
		.submit = g_submit,
	};
	*out = g;
	return 0;
}

void eng_chain_grid_free(struct eng_chain_grid *g)
{
	free(g);
}
