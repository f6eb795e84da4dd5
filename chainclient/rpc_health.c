/*
 * Endpoint health for a client with several endpoints: a thread asks each
 * one for its finalized head every health_ms, marks those that do not
 * answer as dead and those more than max_lag blocks behind the best as
 * lagging, and points calls at the first healthy endpoint in list order.
 * It also serves rpc_heads_wait, the follower's wake-up on new heads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainclient/rpc_int.h"
#include "chainclient/rpc_ws_int.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

int rpc_pick_endpoint(const int *alive, const uint64_t *fin, int n, uint64_t max_lag)
{
	uint64_t best = 0;
	int any = 0;

	for (int i = 0; i < n; i++)
		if (alive[i] && (!any || fin[i] > best)) {
			best = fin[i];
			any = 1;
		}
	if (!any)
		return -1;
	for (int i = 0; i < n; i++)
		if (alive[i] && best - fin[i] <= max_lag)
			return i;
	return -1; /* unreachable: the best one is never behind itself */
}

/* Endpoint i's finalized head number, one attempt each. */
static int rpc_probe(struct rpc_client *c, int i, uint64_t *num)
{
	cJSON *hash = NULL, *hdr = NULL, *params = NULL;
	int rc = rpc_call_ep(c, i, "chain_getFinalizedHead", NULL, &hash);

	if (!rc && !cJSON_IsString(hash))
		rc = ZE_UNKNOWN;
	if (!rc) {
		params = cJSON_CreateArray();
		if (!params || !cJSON_AddItemToArray(params, cJSON_Duplicate(hash, 1)))
			rc = -ENOMEM;
	}
	if (!rc)
		rc = rpc_call_ep(c, i, "chain_getHeader", params, &hdr);
	if (!rc && rpc_json_u64(cJSON_GetObjectItemCaseSensitive(hdr, "number"), num) < 0)
		rc = ZE_UNKNOWN;
	cJSON_Delete(hash);
	cJSON_Delete(hdr);
	cJSON_Delete(params);
	return rc;
}

static void rpc_health_round(struct rpc_client *c)
{
	int alive[RPC_MAX_EP];
	uint64_t fin[RPC_MAX_EP];

	for (int i = 0; i < c->nep; i++) {
		fin[i] = 0;
		alive[i] = rpc_probe(c, i, &fin[i]) == 0;
	}
	int pick = rpc_pick_endpoint(alive, fin, c->nep, c->opts.max_lag);
	pthread_mutex_lock(&c->lock);
	int was = atomic_load(&c->active);
	for (int i = 0; i < c->nep; i++) {
		int lag = alive[i] && pick >= 0 && fin[pick] > fin[i] + c->opts.max_lag;
		if (c->ep[i].alive != alive[i] || c->ep[i].lagging != lag)
			log_info("chain", "%s: %s", c->ep[i].url,
			         !alive[i] ? "not answering"
			         : lag     ? "lagging behind"
			                   : "healthy");
		c->ep[i].alive = alive[i];
		c->ep[i].finalized = fin[i];
		c->ep[i].lagging = lag;
	}
	/* With none alive, calls stay where they are and fail over on their own. */
	if (pick >= 0)
		atomic_store(&c->active, pick);
	pthread_mutex_unlock(&c->lock);
	if (pick >= 0 && pick != was)
		log_warn("chain", "switching from %s to %s (finalized block %" PRIu64 ")",
		         c->ep[was].url, c->ep[pick].url, fin[pick]);
}

static void *rpc_health_main(void *arg)
{
	struct rpc_client *c = arg;

	for (;;) {
		struct timespec until = clk_after(CLOCK_MONOTONIC, c->opts.health_ms);
		pthread_mutex_lock(&c->health_lock);
		while (!c->health_stop && pthread_cond_timedwait(&c->health_cond, &c->health_lock,
		                                                 &until) != ETIMEDOUT)
			;
		int stop = c->health_stop;
		pthread_mutex_unlock(&c->health_lock);
		if (stop || atomic_load(&c->aborted))
			return NULL;
		rpc_health_round(c);
	}
}

int rpc_health_start(struct rpc_client *c)
{
	if (c->nep < 2)
		return 0;
	int rc = clk_cond_init(&c->health_cond);
	if (rc < 0)
		return rc;
	pthread_mutex_init(&c->health_lock, NULL);
	rc = pthread_create(&c->health, NULL, rpc_health_main, c);
	if (rc) {
		pthread_cond_destroy(&c->health_cond);
		pthread_mutex_destroy(&c->health_lock);
		return -rc;
	}
	c->health_running = 1;
	pthread_setname_np(c->health, "chain-health");
	return 0;
}

void rpc_health_stop(struct rpc_client *c)
{
	if (!c->health_running)
		return;
	pthread_mutex_lock(&c->health_lock);
	c->health_stop = 1;
	pthread_cond_broadcast(&c->health_cond);
	pthread_mutex_unlock(&c->health_lock);
	pthread_join(c->health, NULL);
	pthread_cond_destroy(&c->health_cond);
	pthread_mutex_destroy(&c->health_lock);
	c->health_running = 0;
}

int rpc_heads_wait(struct rpc_client *c, uint64_t seen, long timeout_ms, uint64_t *number)
{
	struct rpc_heads *h = &c->heads;
	struct timespec until;
	int rc;

	until = clk_after(CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&h->lock);
	while (h->subscribed > 0 && h->finalized <= seen && !atomic_load(&c->aborted) &&
	       pthread_cond_timedwait(&h->cond, &h->lock, &until) != ETIMEDOUT)
		;
	if (h->finalized > seen)
		rc = 0;
	else
		rc = h->subscribed > 0 ? ZE_TIMEOUT : ZE_UNSUPPORTED;
	*number = h->finalized;
	pthread_mutex_unlock(&h->lock);
	return rc;
}

int rpc_heads_final(struct rpc_client *c, uint64_t *number, uint8_t hash[32],
		    uint8_t parent[32], int64_t *age_ms)
{
	struct rpc_ws *w = c->ep[atomic_load(&c->active)].ws;
	int rc = ZE_UNSUPPORTED;

	if (!w)
		return rc;
	pthread_mutex_lock(&c->heads.lock);
	if (w->fin_ok) {
		*number = w->fin_num;
		memcpy(hash, w->fin_hash, 32);
		memcpy(parent, w->fin_parent, 32);
		*age_ms = clk_mono_ms() - w->fin_ms;
		rc = 0;
	}
	pthread_mutex_unlock(&c->heads.lock);
	return rc;
}
