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
 * One call handed to the submitter. Its outcome callback may come after the
 * engine cancelled and freed the adapter (the submitter outlives both), so
 * the adapter is counted: its owner and each pending call hold a reference,
 * and the last one frees it.
 */
struct g_pending {
	struct eng_chain_grid *g;
	eng_submit_cb cb;
	void *ud;
};

struct eng_chain_grid {
	struct chain_client *client;
	struct chain_submitter *submitter;
	pthread_mutex_t mu; /* guards refs and cancelled; held while a callback runs */
	unsigned refs;
	int cancelled;
};

static void grid_put_locked(struct eng_chain_grid *g, int *last)
{
	*last = --g->refs == 0;
}

static void grid_destroy(struct eng_chain_grid *g)
{
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* Moves a decoded contract into the engine's form. */
static void g_contract_move(struct grid_contract *cp, struct eng_contract *out)
{
	struct grid_contract c = *cp;
	memset(cp, 0, sizeof *cp);
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
}

static int g_get_contract(void *ctx, uint64_t id, struct eng_contract *out)
{
	struct eng_chain_grid *g = ctx;
	struct grid_contract c;
	int rc = grid_contract(g->client, id, &c);
	if (rc < 0)
		return rc;
	g_contract_move(&c, out);
	return 0;
}

/* The event's Contract is the storage item's type, decoded by the same
 * metadata: the same JSON as a read. */
static int g_contract_of_event(void *ctx, const cJSON *contract, struct eng_contract *out)
{
	struct grid_contract c;
	int rc = grid_contract_from_json(contract, &c);
	if (rc < 0)
		return rc == -ENOMEM ? rc : ZE_MALFORMED;
	g_contract_move(&c, out);
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

/* The submitter's outcome, on its thread: mapped and passed on, unless the
 * engine cancelled (then the outbox keeps the call for the next start). */
static void on_outcome(void *ud, struct chain_outcome *o)
{
	struct g_pending *p = ud;
	struct eng_chain_grid *g = p->g;
	char why[256] = "";
	int rc;
	switch (o->status) {
	case CHAIN_OUTCOME_SUCCESS:
		rc = 0;
		break;
	case CHAIN_OUTCOME_FAILED:
	case CHAIN_OUTCOME_INVALID:
		snprintf(why, sizeof why, "%s: %s", chain_outcome_status_name(o->status), o->error);
		rc = ZE_CHAIN;
		break;
	default:
		snprintf(why, sizeof why, "%s: %s", chain_outcome_status_name(o->status), o->error);
		rc = ZE_UNKNOWN;
		break;
	}
	int last;
	pthread_mutex_lock(&g->mu);
	if (!g->cancelled)
		p->cb(p->ud, rc, why);
	grid_put_locked(g, &last);
	pthread_mutex_unlock(&g->mu);
	free(p);
	if (last)
		grid_destroy(g);
}

static int g_submit_async(void *ctx, const struct eng_call *call, eng_submit_cb cb, void *ud)
{
	struct eng_chain_grid *g = ctx;
	struct g_pending *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	*p = (struct g_pending){.g = g, .cb = cb, .ud = ud};
	pthread_mutex_lock(&g->mu);
	int rc = g->cancelled ? ZE_STATE : 0;
	if (rc == 0)
		g->refs++;
	pthread_mutex_unlock(&g->mu);
	if (rc == 0 &&
	    (rc = chain_submit_async(g->submitter, call->pallet, call->call, call->args, on_outcome,
				     p)) < 0) {
		int last;
		pthread_mutex_lock(&g->mu);
		grid_put_locked(g, &last); /* never last: the owner holds one */
		pthread_mutex_unlock(&g->mu);
	}
	if (rc < 0)
		free(p);
	return rc;
}

/* No outcome is passed on after this; the calls stay queued in the
 * submitter and their outbox items pending, so a restart resolves them by
 * their key. A callback running now finishes first (it holds mu). */
static void g_cancel(void *ctx)
{
	struct eng_chain_grid *g = ctx;
	pthread_mutex_lock(&g->mu);
	g->cancelled = 1;
	pthread_mutex_unlock(&g->mu);
}

static int g_has_call(void *ctx, const char *pallet, const char *call)
{
	struct eng_chain_grid *g = ctx;
	return grid_has_call(g->client, pallet, call);
}

static int g_with_meta(void *ctx, int (*fn)(void *arg, const struct meta *m), void *arg)
{
	struct eng_chain_grid *g = ctx;
	struct chain_runtime *rt;
	if (chain_client_runtime(g->client, &rt) < 0)
		return ZE_UNKNOWN;
	int rc = fn(arg, rt->meta);
	chain_runtime_put(rt);
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
	g->refs = 1;
	*iface = (struct eng_chain){
		.ctx = g,
		.get_contract = g_get_contract,
		.contract_of_event = g_contract_of_event,
		.get_twin = g_get_twin,
		.node_contracts = g_node_contracts,
		.submit_async = g_submit_async,
		.cancel = g_cancel,
		.has_call = g_has_call,
		.with_meta = g_with_meta,
	};
	*out = g;
	return 0;
}

void eng_chain_grid_free(struct eng_chain_grid *g)
{
	if (!g)
		return;
	int last;
	pthread_mutex_lock(&g->mu);
	g->cancelled = 1;
	grid_put_locked(g, &last);
	pthread_mutex_unlock(&g->mu);
	if (last)
		grid_destroy(g);
}
