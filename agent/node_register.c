/*
 * Registration, the agent side: the node twin exists with the node's
 * RMB address in relay and its x25519 key in pk, and the node exists under
 * the configured farm with the capacity the provisioners measure. Whatever
 * differs is created or updated on chain. A thread does it, so that an
 * unreachable chain, an unfunded account or a missing farm is reported and
 * retried with backoff without holding the daemon up; once everything
 * matches it checks again every sync interval.
 */
#include "agent/node_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "common/backoff.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/zerr.h"

#define REG_BACKOFF_MIN_MS 2000L
#define REG_BACKOFF_MAX_MS 300000L
/* A refusal only the operator can fix (terms not accepted, a relay or a
 * location the runtime refuses, no such farm) costs a fee at every try:
 * retry it this seldom, the fix named in the status line. */
#define REG_SLOW_MS 600000L

static int64_t account_tag(const uint8_t account[32]);

/* Outcome of one registration pass. */
enum reg_result {
	REG_DONE = 0, /* everything on chain matches */
	REG_PARTIAL,  /* the twin matches; the node waits for a configuration change */
	REG_AGAIN,    /* an update was sent: check again at once */
	REG_RETRY,    /* something failed; try again after a backoff */
	REG_SLOW,     /* the chain refused what the operator must fix; retry seldom */
	REG_STOP,     /* asked to stop */
};

/* REG_RETRY with the status set when the account cannot pay fees. */
static int check_funds(struct agent_node *n, const char *what)
{
	struct grid_account acc;
	int rc = grid_account(n->chain, n->account, &acc);
	if (rc < 0) {
		node_status(n, 1, "chain unreachable at %s (%s); retrying", n->cfg.chain_url,
			    zerr_str(rc));
		return REG_RETRY;
	}
	if (acc.free == 0) {
		node_status(n, 1,
			    "account %s has no funds: transfer TFT to it so it can %s; retrying",
			    n->ss58, what);
		return REG_RETRY;
	}
	return REG_DONE;
}

/* The fix for a dispatch error only the operator can fix, or NULL. The
 * names are tfchain's (pallet_tfgrid's Error enum). */
static const char *operator_fix(const char *error)
{
	static const struct {
		const char *name, *fix;
	} fixes[] = {
	    {"TermsAndConditions", "set node.terms_link and node.terms_hash to the network's "
	                           "terms and conditions and restart the agent"},
	    {"InvalidRelay", "set rmb.public_address to tcp://HOST:8800 or tcp://IPv4:PORT "
	                     "(the runtime accepts only a host name or IPv4.PORT in relay, "
	                     "docs/rmb.md) and restart the agent"},
	    {"CityName", "set node.city (and node.country) and restart the agent"},
	    {"CountryName", "set node.country (and node.city) and restart the agent"},
	    {"Latitude", "set node.latitude to a decimal number in -90..90 and restart the agent"},
	    {"Longitude",
	     "set node.longitude to a decimal number in -180..180 and restart the agent"},
	    {"InvalidLocation", "set node.country, node.city, node.latitude and node.longitude "
	                        "and restart the agent"},
	    {"SerialNumber",
	     "set node.serial_number to the machine's serial and restart the agent"},
	    {"FarmNotExists", "set node.farm_id to a farm that exists and restart the agent"},
	    {"FarmingPolicy", "ask the farm's owner to attach a farming policy to the farm"},
	};
	for (size_t i = 0; i < sizeof fixes / sizeof fixes[0]; i++)
		if (strstr(error, fixes[i].name))
			return fixes[i].fix;
	return NULL;
}

/* Sends one call; REG_DONE on success, else the status says why. */
static int reg_send(struct agent_node *n, const char *call, cJSON *args)
{
	enum chain_outcome_status st = CHAIN_OUTCOME_UNKNOWN;
	char error[160];
	if (!args) {
		node_status(n, 1, "%s: out of memory; retrying", call);
		return REG_RETRY;
	}
	int rc = node_submit(n, &n->reg, "TfgridModule", call, args, &st, error, sizeof error);
	cJSON_Delete(args);
	atomic_fetch_add(&n->reg_sent, 1);
	if (rc == ZE_STATE && node_worker_stopping(&n->reg))
		return REG_STOP;
	if (rc < 0) {
		node_status(n, 1, "TfgridModule.%s: %s; retrying", call, error);
		return REG_RETRY;
	}
	if (st == CHAIN_OUTCOME_SUCCESS) {
		log_info("node", "TfgridModule.%s succeeded", call);
		return REG_DONE;
	}
	const char *fix = operator_fix(error);
	if (fix) {
		node_status(n, 1, "TfgridModule.%s refused: %s: %s; retrying in %ld min", call,
		            error, fix, REG_SLOW_MS / 60000);
		return REG_SLOW;
	}
	/* The pool refuses an extrinsic whose fees the account cannot pay;
	 * say so in the operator's terms. */
	if (st == CHAIN_OUTCOME_REJECTED && (strstr(error, "fees") || strstr(error, "balance") ||
					     strstr(error, "ayment") || strstr(error, "funds")))
		node_status(n, 1, "account %s cannot pay for TfgridModule.%s (%s): fund it; retrying",
			    n->ss58, call, error);
	else
		node_status(n, 1, "TfgridModule.%s %s: %s; retrying", call,
			    chain_outcome_status_name(st), error[0] ? error : "no detail");
	return REG_RETRY;
}

static int twin_matches(const struct agent_node *n, const struct grid_twin *t)
{
	int relay_ok = n->relay[0] ? t->has_relay && strcmp(t->relay, n->relay) == 0
				   : !t->has_relay;
	return relay_ok && t->pk_len == 32 && memcmp(t->pk, n->x25519_pk, 32) == 0;
}

#define CUR_TERMS "node:terms"

/* Accepts the configured terms and conditions once (user_accept_tc), before
 * the twin: tfchain's runtime refuses create_twin from an account that has
 * not. The store remembers it so a restart does not pay for it again. A
 * runtime without the call (tfchain-dev) needs none. */
static int ensure_terms(struct agent_node *n)
{
	int64_t done;
	if (!n->cfg.terms_link[0] ||
	    (store_cursor_get(n->store, CUR_TERMS, &done) == 0 && done == account_tag(n->account)))
		return REG_DONE;
	cJSON *args = cJSON_CreateArray();
	char *hl =
	    hex_encode_alloc((const uint8_t *)n->cfg.terms_link, strlen(n->cfg.terms_link), 1);
	char *hh =
	    hex_encode_alloc((const uint8_t *)n->cfg.terms_hash, strlen(n->cfg.terms_hash), 1);
	if (args && hl && hh) {
		cJSON_AddItemToArray(args, cJSON_CreateString(hl));
		cJSON_AddItemToArray(args, cJSON_CreateString(hh));
	} else {
		cJSON_Delete(args);
		args = NULL;
	}
	free(hl);
	free(hh);
	node_status(n, 0, "accepting the terms and conditions (%s)", n->cfg.terms_link);
	enum chain_outcome_status st = CHAIN_OUTCOME_UNKNOWN;
	char error[160] = "";
	int rc = args ? node_submit(n, &n->reg, "TfgridModule", "user_accept_tc", args, &st, error,
	                            sizeof error)
	              : -ENOMEM;
	cJSON_Delete(args);
	atomic_fetch_add(&n->reg_sent, 1);
	if (rc == ZE_STATE && node_worker_stopping(&n->reg))
		return REG_STOP;
	if (rc < 0 && strstr(error, "does not exist")) {
		log_info("node",
		         "this runtime has no TfgridModule.user_accept_tc: no terms to accept");
	} else if (rc < 0 || st != CHAIN_OUTCOME_SUCCESS) {
		node_status(n, 1, "TfgridModule.user_accept_tc: %s; retrying",
		            error[0] ? error : zerr_str(rc < 0 ? rc : ZE_CHAIN));
		return REG_RETRY;
	} else {
		log_info("node", "accepted the terms and conditions %s", n->cfg.terms_link);
	}
	if (store_begin(n->store) == 0) {
		if (store_cursor_set(n->store, CUR_TERMS, account_tag(n->account)) == 0)
			store_commit(n->store);
		else
			store_rollback(n->store);
	}
	return REG_DONE;
}

static int ensure_twin(struct agent_node *n, uint32_t *twin_id)
{
	const char *relay = n->relay[0] ? n->relay : NULL;
	int rc = grid_twin_id_by_account(n->chain, n->account, twin_id);
	if (rc == ZE_ABSENT) {
		int r = check_funds(n, "create its twin");
		if (r != REG_DONE)
			return r;
		if ((r = ensure_terms(n)) != REG_DONE)
			return r;
		node_status(n, 0, "creating the node twin (relay %s)", relay ? relay : "none");
		r = reg_send(n, "create_twin", grid_args_create_twin(relay, n->x25519_pk, 32));
		if (r != REG_DONE)
			return r;
		rc = grid_twin_id_by_account(n->chain, n->account, twin_id);
	}
	if (rc < 0) {
		node_status(n, 1, "chain unreachable at %s (%s); retrying", n->cfg.chain_url,
			    zerr_str(rc));
		return REG_RETRY;
	}
	struct grid_twin t;
	if ((rc = grid_twin(n->chain, *twin_id, &t)) < 0) {
		node_status(n, 1, "reading twin %" PRIu32 ": %s; retrying", *twin_id,
			    zerr_str(rc));
		return REG_RETRY;
	}
	if (twin_matches(n, &t))
		return REG_DONE;
	int r = check_funds(n, "update its twin");
	if (r != REG_DONE)
		return r;
	node_status(n, 0, "updating twin %" PRIu32 " (relay %s, x25519 pk)", *twin_id,
		    relay ? relay : "none");
	int s = reg_send(n, "update_twin", grid_args_update_twin(relay, n->x25519_pk, 32));
	return s == REG_DONE ? REG_AGAIN : s;
}

/* The configured value, or the chain's when the configuration sets none:
 * update_node rewrites every field, so an unset key must resend what the
 * chain has instead of erasing it. */
static const char *cfg_or_chain(const char *cfg, const char *chain)
{
	return cfg[0] ? cfg : chain;
}

static int same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static int node_matches(const struct grid_node *g, const struct grid_node_info *want)
{
	return g->farm_id == want->farm_id && g->cru == want->cru && g->mru == want->mru &&
	       g->sru == want->sru && g->hru == want->hru && same_text(g->city, want->city) &&
	       same_text(g->country, want->country) && same_text(g->latitude, want->latitude) &&
	       same_text(g->longitude, want->longitude) &&
	       same_text(g->serial_number, want->serial_number);
}

static int ensure_node(struct agent_node *n, uint32_t twin_id, uint32_t *node_id)
{
	uint32_t farm_id = n->cfg.farm_id;
	if (!farm_id) {
		node_status(n, 1,
			    "twin %" PRIu32 " registered; node.farm_id is not set, so the node is "
			    "not registered",
			    twin_id);
		return REG_PARTIAL;
	}
	struct grid_farm farm;
	int rc = grid_farm(n->chain, farm_id, &farm);
	if (rc == ZE_ABSENT) {
		node_status(n, 1, "farm %" PRIu32 " does not exist on chain; retrying", farm_id);
		return REG_RETRY;
	}
	if (rc < 0) {
		node_status(n, 1, "reading farm %" PRIu32 ": %s; retrying", farm_id, zerr_str(rc));
		return REG_RETRY;
	}
	struct prov_capacity cap;
	if ((rc = prov_node_capacity(n->prov, &cap)) < 0) {
		node_status(n, 1, "measuring the node's capacity: %s; retrying", zerr_str(rc));
		return REG_RETRY;
	}
	const struct cfg *c = &n->cfg;
	struct grid_node_info want = {
	    .farm_id = farm_id,
	    .cru = cap.cru,
	    .mru = cap.mru,
	    .sru = cap.sru,
	    .hru = cap.hru,
	    .city = c->node_city,
	    .country = c->node_country,
	    .latitude = c->node_latitude,
	    .longitude = c->node_longitude,
	    .serial_number = c->node_serial[0] ? c->node_serial : NULL,
	};
	rc = grid_node_id_by_twin(n->chain, twin_id, node_id);
	if (rc == ZE_ABSENT) {
		int r = check_funds(n, "register its node");
		if (r != REG_DONE)
			return r;
		node_status(n, 0, "registering the node in farm %" PRIu32, farm_id);
		r = reg_send(n, "create_node", grid_args_create_node(&want));
		if (r != REG_DONE)
			return r;
		rc = grid_node_id_by_twin(n->chain, twin_id, node_id);
	}
	if (rc < 0) {
		node_status(n, 1, "reading the node of twin %" PRIu32 ": %s; retrying", twin_id,
			    zerr_str(rc));
		return REG_RETRY;
	}
	struct grid_node g;
	if ((rc = grid_node(n->chain, *node_id, &g)) < 0) {
		node_status(n, 1, "reading node %" PRIu32 ": %s; retrying", *node_id, zerr_str(rc));
		return REG_RETRY;
	}
	want.city = cfg_or_chain(c->node_city, g.city);
	want.country = cfg_or_chain(c->node_country, g.country);
	want.latitude = cfg_or_chain(c->node_latitude, g.latitude);
	want.longitude = cfg_or_chain(c->node_longitude, g.longitude);
	want.serial_number = cfg_or_chain(c->node_serial, g.serial_number);
	if (!want.serial_number[0])
		want.serial_number = NULL;
	if (node_matches(&g, &want))
		return REG_DONE;
	int r = check_funds(n, "update its node");
	if (r != REG_DONE)
		return r;
	node_status(n, 0,
		    "updating node %" PRIu32 ": farm %" PRIu32 ", cru %" PRIu64 ", mru %" PRIu64
		    ", sru %" PRIu64 ", hru %" PRIu64,
		    *node_id, farm_id, want.cru, want.mru, want.sru, want.hru);
	int s = reg_send(n, "update_node", grid_args_update_node(*node_id, &want));
	return s == REG_DONE ? REG_AGAIN : s;
}

/* The registration is remembered in the store so that, after a restart
 * with the chain unreachable, the engine restores the deployments and RMB
 * serves at once; registration still checks it against the chain. The
 * account's first bytes tell a remembered registration from the one of
 * another identity that used this state directory before. */
#define CUR_ACCOUNT "node:account"
#define CUR_TWIN "node:twin"
#define CUR_NODE "node:id"

static int64_t account_tag(const uint8_t account[32])
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | account[i];
	return (int64_t)(v >> 1);
}

void node_ids_load(struct agent_node *n)
{
	int64_t acc, twin, node;
	if (store_cursor_get(n->store, CUR_ACCOUNT, &acc) < 0 ||
	    store_cursor_get(n->store, CUR_TWIN, &twin) < 0 ||
	    store_cursor_get(n->store, CUR_NODE, &node) < 0)
		return;
	if (acc != account_tag(n->account)) {
		log_warn("node", "the state directory remembers another identity's registration; "
			 "ignoring it");
		return;
	}
	if (twin <= 0 || twin > UINT32_MAX || node <= 0 || node > UINT32_MAX)
		return;
	atomic_store(&n->twin_id, (uint32_t)twin);
	atomic_store(&n->node_id, (uint32_t)node);
	log_info("node", "remembered registration: twin %" PRId64 ", node %" PRId64
		 " (checked against the chain)", twin, node);
}

static void ids_save(struct agent_node *n, uint32_t twin_id, uint32_t node_id)
{
	int rc = store_begin(n->store);
	if (rc == 0 && (rc = store_cursor_set(n->store, CUR_ACCOUNT, account_tag(n->account))) == 0 &&
	    (rc = store_cursor_set(n->store, CUR_TWIN, twin_id)) == 0 &&
	    (rc = store_cursor_set(n->store, CUR_NODE, node_id)) == 0)
		rc = store_commit(n->store);
	else if (rc == 0)
		store_rollback(n->store);
	if (rc < 0)
		log_warn("node", "cannot remember the registration: %s", zerr_str(rc));
}

static int reg_pass(struct agent_node *n)
{
	uint32_t twin_id = 0, node_id = 0;
	int r = ensure_twin(n, &twin_id);
	if (r != REG_DONE)
		return r;
	uint32_t had = atomic_load(&n->twin_id);
	if (had && had != twin_id) {
		/* The engine and RMB run under the remembered ids; they cannot
		 * change under running subsystems. */
		node_status(n, 1, "twin %" PRIu32 " on chain, but the agent runs as twin %" PRIu32
			    ": restart the agent", twin_id, had);
		ids_save(n, twin_id, 0); /* a restart registers afresh */
		return REG_RETRY;
	}
	atomic_store(&n->twin_id, twin_id);
	if ((r = ensure_node(n, twin_id, &node_id)) != REG_DONE)
		return r;
	uint32_t cur = 0;
	if (!atomic_compare_exchange_strong(&n->node_id, &cur, node_id) && cur != node_id) {
		node_status(n, 1, "node %" PRIu32 " on chain, but the agent runs as node %" PRIu32
			    ": restart the agent", node_id, cur);
		ids_save(n, twin_id, node_id);
		return REG_RETRY;
	}
	ids_save(n, twin_id, node_id);
	node_status(n, 0, "registered: account %s, twin %" PRIu32 ", node %" PRIu32
		    ", farm %" PRIu32, n->ss58, twin_id, node_id, n->cfg.farm_id);
	return REG_DONE;
}

static void *reg_main(void *arg)
{
	struct agent_node *n = arg;
	struct backoff backoff;
	backoff_init(&backoff, REG_BACKOFF_MIN_MS, REG_BACKOFF_MAX_MS, 0);
	int agains = 0;
	for (;;) {
		pthread_mutex_lock(&n->status_mu);
		unsigned gen = n->status_gen;
		pthread_mutex_unlock(&n->status_mu);
		unsigned sent = atomic_load(&n->reg_sent);
		int r = reg_pass(n);
		/* A new problem (the chain answers now, but the account has no
		 * funds) starts its own backoff from the shortest wait, unless
		 * this pass paid for an extrinsic: a failing call changes the
		 * status line at every try ("creating..." then "failed"), and
		 * resetting then would pay for one every few seconds. */
		pthread_mutex_lock(&n->status_mu);
		if (n->status_gen != gen && atomic_load(&n->reg_sent) == sent)
			backoff_reset(&backoff);
		pthread_mutex_unlock(&n->status_mu);
		if (r == REG_STOP)
			break;
		/* A chain that keeps other values than the ones just written
		 * must not make this a busy loop. */
		if (r == REG_AGAIN && ++agains > 3) {
			node_status(n, 1, "the chain still differs after updating the registration; "
				    "retrying");
			r = REG_RETRY;
		}
		if (r != REG_AGAIN)
			agains = 0;
		/* An update is confirmed by reading the chain again at once;
		 * failures back off; a settled state is checked again every
		 * sync interval (the capacity may have changed). */
		long wait;
		if (r == REG_AGAIN) {
			wait = 0;
		} else if (r == REG_SLOW) {
			wait = REG_SLOW_MS;
		} else if (r == REG_RETRY) {
			wait = (long)backoff_next(&backoff);
		} else {
			backoff_reset(&backoff);
			wait = (long)atomic_load(&n->sync_interval) * 1000;
		}
		if (node_worker_sleep(&n->reg, wait))
			break;
	}
	return NULL;
}

static int reg_start(struct agent *a, void **state)
{
	struct agent_node *n = *state;
	node_relay_of(&n->cfg, n->relay, sizeof n->relay);
	if (!n->relay[0])
		log_warn("node", "no rmb.public_address and no concrete tcp listen address: the "
			 "twin gets no relay, so users cannot reach this node");
	int rc = node_worker_start(&n->reg, "registrar", reg_main, n);
	if (rc < 0)
		log_err("node", "registration thread: %s", zerr_str(rc));
	return rc;
}

static void reg_stop(struct agent *a, void *state)
{
	struct agent_node *n = state;
	node_worker_stop(&n->reg);
}

static int reg_reload(struct agent *a, void *state, const struct cfg *next)
{
	struct agent_node *n = state;
	atomic_store(&n->sync_interval, next->sync_interval);
	return 0;
}

const struct agent_subsys node_register_subsys = {
	.name = "register",
	.start = reg_start,
	.stop = reg_stop,
	.reload = reg_reload,
};
