/* struct eng_chain over chainclient's grid accessors and submitter. */
#include "agent/engine_chain.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "common/log.h"
#include "common/zerr.h"

/*
 * One submit's wait. The outcome callback may come after the engine stopped
 * and freed the adapter (the submitter outlives it), so a wait is its own
 * allocation, shared by the sender and the callback and freed by the last.
 */
struct g_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;      /* the sender and, once queued, the callback */
	int done;      /* the outcome is in o */
	int abandoned; /* g_cancel: the sender stops waiting */
	struct chain_outcome o;
	struct g_wait *next; /* in the adapter's list, under its mu */
};

struct eng_chain_grid {
	struct chain_client *client;
	struct chain_submitter *submitter;
	pthread_mutex_t mu; /* guards waits and cancelled */
	struct g_wait *waits;
	int cancelled;
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

static void wait_put(struct g_wait *w)
{
	pthread_mutex_lock(&w->mu);
	int last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (!last)
		return;
	chain_outcome_clear(&w->o);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static void on_outcome(void *ud, struct chain_outcome *o)
{
	struct g_wait *w = ud;
	pthread_mutex_lock(&w->mu);
	w->o = *o;
	o->events = NULL; /* taken */
	w->done = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	wait_put(w);
}

/*
 * Queues the call and waits for its outcome or g_cancel. 0 with *o filled
 * (clear it), ZE_STATE when the wait was abandoned or refused for a stop,
 * else why it could not be queued.
 */
static int submit_and_wait(struct eng_chain_grid *g, const char *pallet, const char *name,
			   const cJSON *args, struct chain_outcome *o)
{
	struct g_wait *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return -ENOMEM;
	}
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		return -ENOMEM;
	}
	w->refs = 2;
	pthread_mutex_lock(&g->mu);
	int rc = g->cancelled ? ZE_STATE : 0;
	if (rc == 0) {
		w->next = g->waits;
		g->waits = w;
	}
	pthread_mutex_unlock(&g->mu);
	if (rc == 0 && (rc = chain_submit_async(g->submitter, pallet, name, args, on_outcome, w)) < 0)
		w->refs = 1; /* no callback will come */
	if (rc == 0) {
		pthread_mutex_lock(&w->mu);
		while (!w->done && !w->abandoned)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->done) {
			*o = w->o;
			w->o.events = NULL;
		} else {
			rc = ZE_STATE;
		}
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_lock(&g->mu);
	for (struct g_wait **pp = &g->waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&g->mu);
	wait_put(w);
	return rc;
}

/* Ends every wait now; the calls stay queued in the submitter and their
 * outbox items pending, so a restart resolves them by their key. */
static void g_cancel(void *ctx)
{
	struct eng_chain_grid *g = ctx;
	pthread_mutex_lock(&g->mu);
	g->cancelled = 1;
	for (struct g_wait *w = g->waits; w; w = w->next) {
		pthread_mutex_lock(&w->mu);
		w->abandoned = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_unlock(&g->mu);
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
	/* tfchain's runtime has no on-chain Deployed state and no rejection:
	 * there the node's own state (answered by zos.deployment.get) is the
	 * record, and the call is not sent at all. */
	if ((call->kind == ENG_CALL_DEPLOYED || call->kind == ENG_CALL_REJECT) &&
	    grid_has_call(g->client, pallet, name) == 0) {
		log_info("engine",
		         "contract %" PRIu64 ": this runtime has no %s.%s; the node's state "
		         "is the record",
		         call->contract_id, pallet, name);
		cJSON_Delete(holder ? holder : args);
		return 0;
	}
	struct chain_outcome o;
	memset(&o, 0, sizeof o);
	rc = submit_and_wait(g, pallet, name, args, &o);
	if (rc == ZE_STATE) {
		/* Stopping: the item stays in the outbox; after a restart its
		 * resend first asks the chain whether this one landed. */
		snprintf(why, whysz, "%s.%s: stopping before its outcome", pallet, name);
		rc = ZE_UNKNOWN;
	} else if (rc < 0) {
		snprintf(why, whysz, "not queued: %s", zerr_str(rc));
		rc = ZE_UNKNOWN;
	} else {
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
	}
	/* pallet and name may point into holder: it goes last. */
	if (holder)
		cJSON_Delete(holder);
	else
		cJSON_Delete(args);
	return rc;
}

int eng_chain_grid_new(struct chain_client *client, struct chain_submitter *submitter,
		       struct eng_chain *iface, struct eng_chain_grid **out)
{
	struct eng_chain_grid *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	if (pthread_mutex_init(&g->mu, NULL) != 0) {
		free(g);
		return -ENOMEM;
	}
	g->client = client;
	g->submitter = submitter;
	*iface = (struct eng_chain){
		.ctx = g,
		.get_contract = g_get_contract,
		.get_twin = g_get_twin,
		.node_contracts = g_node_contracts,
		.submit = g_submit,
		.cancel = g_cancel,
	};
	*out = g;
	return 0;
}

void eng_chain_grid_free(struct eng_chain_grid *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g);
}
