/*
 * The chain calls the engine sends, in one table, and queueing them.
 *
 * Every outbox row holds its call in one shape, {"pallet", "call", "args"},
 * with the contract it is about and a unique key. The table below has one
 * entry per call: the row kind, whether a runtime may lack it, and how to
 * tell from the chain's state that an earlier send already landed (the
 * dispatcher asks that before resending a call whose outcome it never
 * learned). docs/adding-a-chain-call.md says how to add one.
 */
#include "agent/engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "common/log.h"
#include "common/zerr.h"

#define SCM "SmartContractModule"

/* The contract's state on chain: 1 with *outcome when it is gone, else 0
 * with *st, or negative when the chain cannot tell now. */
static int contract_state(struct eng *e, uint64_t cid, enum eng_cstate *st, const char **outcome)
{
	struct eng_contract c;
	int rc = e->chain.get_contract(e->chain.ctx, cid, &c);
	if (rc == ZE_ABSENT) {
		*outcome = "contract no longer on chain";
		return 1;
	}
	if (rc < 0)
		return rc;
	*st = c.state;
	eng_contract_clear(&c);
	if (*st == ENG_CS_DELETED) {
		*outcome = "contract deleted on chain";
		return 1;
	}
	return 0;
}

/* set_contract_deployed: applied when the contract is Deployed (or in its
 * grace period, which only a deployed contract enters); moot when gone. */
static int applied_deployed(struct eng *e, uint64_t cid, const cJSON *args, const char **outcome)
{
	enum eng_cstate st;
	int rc = contract_state(e, cid, &st, outcome);
	if (rc != 0)
		return rc;
	if (st == ENG_CS_DEPLOYED || st == ENG_CS_GRACE) {
		*outcome = "ok (already deployed)";
		return 1;
	}
	return 0;
}

/* reject_contract: applied when the contract is gone. */
static int applied_rejected(struct eng *e, uint64_t cid, const cJSON *args, const char **outcome)
{
	enum eng_cstate st;
	return contract_state(e, cid, &st, outcome);
}

/* Reports: a resend carries the same timestamp, and the chain skips a
 * report whose timestamp is not after the contract's last_updated (tfchain-dev
 * does, docs/reports.md), so a report that landed bills nothing when sent again;
 * the reporter settles its cycle by the row's outcome. Always sent. */
static int applied_never(struct eng *e, uint64_t cid, const cJSON *args, const char **outcome)
{
	return 0;
}

const struct eng_call_def eng_call_table[] = {
    {"deployed", SCM, "set_contract_deployed", 1, applied_deployed},
    {"rejected", SCM, "reject_contract", 1, applied_rejected},
    {"reports", SCM, "add_reports", 0, applied_never},
    {"reports", SCM, "report_contract_resources", 0, applied_never},
    {"reports", SCM, "add_nru_reports", 0, applied_never},
    /* The chain keeps the node's latest uptime: a second one is harmless. */
    {"uptime", "TfgridModule", "report_uptime_v2", 0, applied_never},
    {"uptime", "TfgridModule", "report_uptime", 0, applied_never},
};
const size_t eng_call_table_len = sizeof eng_call_table / sizeof eng_call_table[0];

const struct eng_call_def *eng_call_find(const char *pallet, const char *call)
{
	for (size_t i = 0; i < eng_call_table_len; i++)
		if (!strcmp(eng_call_table[i].pallet, pallet) &&
		    !strcmp(eng_call_table[i].call, call))
			return &eng_call_table[i];
	return NULL;
}

/* The payload of a row: {"pallet": P, "call": C, "args": args}. */
static char *payload_of(const char *pallet, const char *call, const cJSON *args)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *a = cJSON_Duplicate(args, 1);
	char *s = NULL;
	if (o && a && cJSON_AddStringToObject(o, "pallet", pallet) &&
	    cJSON_AddStringToObject(o, "call", call) && cJSON_AddItemToObject(o, "args", a)) {
		a = NULL;
		s = cJSON_PrintUnformatted(o);
	}
	cJSON_Delete(a);
	cJSON_Delete(o);
	return s;
}

/* Per thread: an engine worker defers its kicks and passes the outbox
 * itself after its job (engine.c), so a call due now goes to the submitter
 * without waking the dispatcher. */
static __thread int kick_defer, kick_pending;

static int add_row(struct eng *e, const struct eng_call_def *def, uint64_t cid, const char *key,
                   const char *payload, int *added)
{
	char dflt[STORE_KEY_MAX];
	if (!key) {
		int n = snprintf(dflt, sizeof dflt, "%s:%" PRIu64, def->kind, cid);
		if (n < 0 || (size_t)n >= sizeof dflt)
			return -ENAMETOOLONG;
		key = dflt;
	}
	int a = 0;
	/* An engine worker passes the outbox itself right after its job
	 * (engine.c), so its row is counted as sending in the transaction that
	 * queues it: one write transaction fewer per call. The pass knows such
	 * a row (engine_outbox.c, load_new) and neither checks nor marks it
	 * again; the start checks it like any pending row. */
	int rc = kick_defer
	                 ? store_outbox_add_sending(e->store, def->kind, cid, key, payload, &a)
	                 : store_outbox_add(e->store, def->kind, cid, key, payload, &a);
	if (rc == 0 && !a)
		log_info("engine", "outbox: %s already queued once, not again", key);
	if (added)
		*added = a;
	return rc;
}

int eng_outbox_add(struct eng *e, const char *pallet, const char *call, uint64_t cid,
                   const cJSON *args, const char *key, int *added)
{
	const struct eng_call_def *def = eng_call_find(pallet, call);
	if (!def) {
		log_err("engine", "outbox: %s.%s is not in the call table (engine_calls.c)", pallet,
		        call);
		return -EINVAL;
	}
	char *payload = payload_of(pallet, call, args);
	if (!payload)
		return -ENOMEM;
	int rc = add_row(e, def, cid, key, payload, added);
	free(payload);
	return rc;
}

int eng_outbox_deployed(struct eng *e, uint64_t cid)
{
	cJSON *a = grid_args_contract_id(cid);
	int rc = a ? eng_outbox_add(e, SCM, "set_contract_deployed", cid, a, NULL, NULL) : -ENOMEM;
	cJSON_Delete(a);
	return rc;
}

int eng_outbox_reject(struct eng *e, uint64_t cid, const char *reason)
{
	cJSON *a = grid_args_reject_contract(cid, reason ? reason : "");
	int rc = a ? eng_outbox_add(e, SCM, "reject_contract", cid, a, NULL, NULL) : -ENOMEM;
	cJSON_Delete(a);
	return rc;
}

void eng_kick_defer(int on)
{
	kick_defer = on;
}

int eng_kick_deferred(void)
{
	int p = kick_pending;
	kick_pending = 0;
	return p;
}

void eng_kick_outbox(struct eng *e)
{
	pthread_mutex_lock(&e->mu);
	e->ob_more = 1;  /* new rows to read into memory */
	e->ob_fresh = 1; /* whoever passes next (or passes now) reads them */
	int wake = 0;
	if (kick_defer) {
		kick_pending = 1;
	} else {
		e->ob_kick = 1;
		wake = e->ob_waiting;
	}
	pthread_mutex_unlock(&e->mu);
	/* After the unlock, as eng_enqueue; only when the dispatcher waits (in
	 * a pass it looks at ob_kick before it waits again). */
	if (wake)
		pthread_cond_signal(&e->ob_cv);
}

int eng_outbox_enqueue(struct eng *e, uint64_t contract_id, const char *key, const char *payload,
                       int *added)
{
	if (!key || !key[0] || !payload)
		return -EINVAL;
	cJSON *p = cJSON_Parse(payload);
	const cJSON *pa = cJSON_GetObjectItemCaseSensitive(p, "pallet");
	const cJSON *ca = cJSON_GetObjectItemCaseSensitive(p, "call");
	const struct eng_call_def *def = cJSON_IsString(pa) && cJSON_IsString(ca)
	                                     ? eng_call_find(pa->valuestring, ca->valuestring)
	                                     : NULL;
	if (!def)
		log_err("engine",
		        "outbox %s: payload is not {pallet, call, args} of a call in the "
		        "call table (engine_calls.c)",
		        key);
	cJSON_Delete(p);
	if (!def)
		return -EINVAL;
	int a = 0;
	int rc = add_row(e, def, contract_id, key, payload, &a);
	if (rc == 0 && a)
		eng_kick_outbox(e);
	if (added)
		*added = a;
	return rc;
}

int eng_outbox_enqueue_call(struct eng *e, const char *pallet, const char *call,
                            uint64_t contract_id, const char *key, const char *payload,
                            int *added)
{
	if (!pallet || !call || !key || !key[0] || !payload)
		return -EINVAL;
	const struct eng_call_def *def = eng_call_find(pallet, call);
	if (!def) {
		log_err("engine", "outbox %s: %s.%s is not in the call table (engine_calls.c)", key,
		        pallet, call);
		return -EINVAL;
	}
	int a = 0;
	int rc = add_row(e, def, contract_id, key, payload, &a);
	if (rc == 0 && a)
		eng_kick_outbox(e);
	if (added)
		*added = a;
	return rc;
}

/* Rows queued before every call had one shape: "deployed" with "{}" and
 * "rejected" with {"reason": R}. */
static cJSON *legacy_args(const char *kind, uint64_t cid, const cJSON *p)
{
	if (!strcmp(kind, "deployed"))
		return grid_args_contract_id(cid);
	if (!strcmp(kind, "rejected")) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "reason");
		return grid_args_reject_contract(cid,
		                                 cJSON_IsString(r) ? r->valuestring : "rejected");
	}
	return NULL;
}

int eng_call_parse(const char *kind, uint64_t cid, const char *payload, cJSON **holder,
                   const struct eng_call_def **def, const cJSON **args)
{
	*holder = NULL;
	cJSON *p = cJSON_Parse(payload ? payload : "");
	if (!cJSON_IsObject(p)) {
		cJSON_Delete(p);
		return ZE_MALFORMED;
	}
	const cJSON *pa = cJSON_GetObjectItemCaseSensitive(p, "pallet");
	const cJSON *ca = cJSON_GetObjectItemCaseSensitive(p, "call");
	const cJSON *ar = cJSON_GetObjectItemCaseSensitive(p, "args");
	if (!pa && !ca && !ar) {
		for (size_t i = 0; i < eng_call_table_len; i++)
			if (!strcmp(eng_call_table[i].kind, kind)) {
				cJSON *a = legacy_args(kind, cid, p);
				if (!a)
					break;
				cJSON_Delete(p);
				p = cJSON_CreateObject();
				if (!p || !cJSON_AddItemToObject(p, "args", a)) {
					cJSON_Delete(a);
					cJSON_Delete(p);
					return -ENOMEM;
				}
				*def = &eng_call_table[i];
				*args = a;
				*holder = p;
				return 0;
			}
		cJSON_Delete(p);
		return ZE_MALFORMED;
	}
	if (!cJSON_IsString(pa) || !cJSON_IsString(ca) ||
	    !(cJSON_IsObject(ar) || cJSON_IsArray(ar)) ||
	    !(*def = eng_call_find(pa->valuestring, ca->valuestring))) {
		cJSON_Delete(p);
		return ZE_MALFORMED;
	}
	*args = ar;
	*holder = p;
	return 0;
}
