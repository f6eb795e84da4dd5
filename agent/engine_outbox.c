/* The chain-call outbox: queueing, and the one dispatcher that sends. */
#include "agent/engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

#define OUTBOX_BATCH 64

static int call_key(enum eng_call_kind kind, uint64_t cid, char *key, size_t keysz)
{
	int n = snprintf(key, keysz, "%s:%" PRIu64, eng_call_kind_name(kind), cid);
	return n > 0 && (size_t)n < keysz ? 0 : -ENAMETOOLONG;
}

int eng_outbox_add_call(struct eng *e, enum eng_call_kind kind, uint64_t cid, const char *reason)
{
	char key[STORE_KEY_MAX];
	int rc = call_key(kind, cid, key, sizeof key);
	if (rc < 0)
		return rc;
	char *payload = NULL;
	if (kind == ENG_CALL_REJECT) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddStringToObject(o, "reason", reason ? reason : "") ||
		    !(payload = cJSON_PrintUnformatted(o))) {
			cJSON_Delete(o);
			return -ENOMEM;
		}
		cJSON_Delete(o);
	}
	int added;
	rc = store_outbox_add(e->store, eng_call_kind_name(kind), cid, key,
			      payload ? payload : "{}", &added);
	free(payload);
	if (rc == 0 && !added)
		log_info("engine", "outbox: %s already queued once, not again", key);
	return rc;
}

void eng_kick_outbox(struct eng *e)
{
	pthread_mutex_lock(&e->mu);
	e->ob_kick = 1;
	pthread_cond_signal(&e->ob_cv);
	pthread_mutex_unlock(&e->mu);
}

int eng_outbox_enqueue(struct eng *e, enum eng_call_kind kind, uint64_t contract_id,
		       const char *key, const char *payload, int *added)
{
	if ((unsigned)kind >= ENG_CALL__COUNT || !key || !key[0])
		return -EINVAL;
	int rc = store_outbox_add(e->store, eng_call_kind_name(kind), contract_id, key, payload,
				  added);
	if (rc == 0 && *added)
		eng_kick_outbox(e);
	return rc;
}

static int kind_parse(const char *s, enum eng_call_kind *k)
{
	for (int i = 0; i < ENG_CALL__COUNT; i++)
		if (!strcmp(s, eng_call_kind_name((enum eng_call_kind)i))) {
			*k = (enum eng_call_kind)i;
			return 0;
		}
	return ZE_MALFORMED;
}

/*
 * Before a resend: did the earlier attempt land? The answer comes from the
 * chain's state, so a fact is not applied twice. 1 = already applied (with
 * outcome), 0 = send it, <0 = cannot tell now.
 */
static int already_applied(struct eng *e, enum eng_call_kind kind, uint64_t cid,
			   const char **outcome)
{
	if (kind == ENG_CALL_REPORTS)
		return 0; /* the chain keys reports by (contract, window) itself */
	struct eng_contract c;
	int rc = e->chain.get_contract(e->chain.ctx, cid, &c);
	if (rc == ZE_ABSENT) {
		*outcome = "contract no longer on chain";
		return 1;
	}
	if (rc < 0)
		return rc;
	enum eng_cstate st = c.state;
	eng_contract_clear(&c);
	if (st == ENG_CS_DELETED) {
		*outcome = "contract deleted on chain";
		return 1;
	}
	if (kind == ENG_CALL_DEPLOYED && (st == ENG_CS_DEPLOYED || st == ENG_CS_GRACE)) {
		*outcome = "ok (already deployed)";
		return 1;
	}
	return 0;
}

/* A known outcome ends the item. Lazy: lost to a power cut, the item is
 * pending again with attempts > 0, and its resend asks the chain first. */
static void ob_done(struct eng *e, int64_t id, const char *outcome)
{
	if (store_begin_lazy(e->store) < 0) {
		store_outbox_done(e->store, id, outcome);
		return;
	}
	if (store_outbox_done(e->store, id, outcome) < 0)
		store_rollback(e->store);
	else
		store_commit(e->store);
}

static void send_one(struct eng *e, const struct store_outbox *o)
{
	enum eng_call_kind kind;
	char why[256] = "";
	const char *outcome = NULL;
	cJSON *pl = NULL;
	int rc;
	if (kind_parse(o->kind, &kind) < 0) {
		log_err("engine", "outbox %s: unknown kind \"%s\", dropped", o->key, o->kind);
		store_outbox_done(e->store, o->id, "dropped: unknown kind");
		return;
	}
	/* An earlier send was started: it may have landed without us
	 * learning it (crash, lost reply). Ask the chain before sending. */
	if (o->attempts > 0) {
		rc = already_applied(e, kind, o->contract_id, &outcome);
		if (rc < 0) {
			snprintf(why, sizeof why, "checking the chain: %s", zerr_str(rc));
			goto retry;
		}
		if (rc == 1)
			goto done;
	}
	if ((rc = store_outbox_sending(e->store, o->id)) < 0) {
		/* Never send what could not be counted: a crash now would hide it. */
		log_err("engine", "outbox %s: %s; not sent", o->key, zerr_str(rc));
		return;
	}
	struct eng_call call = {.kind = kind, .contract_id = o->contract_id, .payload = o->payload,
				.key = o->key, .attempt = o->attempts};
	if (kind == ENG_CALL_REJECT) {
		pl = cJSON_Parse(o->payload);
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(pl, "reason");
		call.reason = cJSON_IsString(r) ? r->valuestring : "rejected";
	}
	rc = e->chain.submit(e->chain.ctx, &call, why, sizeof why);
	cJSON_Delete(pl);
	if (rc == 0) {
		outcome = "ok";
		goto done;
	}
	if (rc == ZE_CHAIN) {
		/* Included and failed: final. Sending again would fail the same. */
		log_warn("engine", "outbox %s: failed on chain: %s", o->key, why);
		char out[300];
		snprintf(out, sizeof out, "failed: %s", why);
		ob_done(e, o->id, out);
		return;
	}
	if (!why[0])
		snprintf(why, sizeof why, "%s", zerr_str(rc));
retry:;
	int64_t delay = backoff_delay(e->cfg.outbox_base_ms, e->cfg.outbox_max_ms,
				      (unsigned)o->attempts, 1);
	log_warn("engine", "outbox %s: %s; retry in %lld ms", o->key, why, (long long)delay);
	store_outbox_retry(e->store, o->id, clk_wall_ms() + delay, why);
	return;
done:
	log_info("engine", "outbox %s: %s", o->key, outcome);
	ob_done(e, o->id, outcome);
}

unsigned eng_slots_busy(const struct eng *e)
{
	unsigned n = 0;
	for (unsigned i = 0; i < e->nslots; i++)
		n += e->slots[i].state != ENG_SLOT_FREE;
	return n;
}

static int slot_holds(const struct eng *e, int64_t id)
{
	for (unsigned i = 0; i < e->nslots; i++)
		if (e->slots[i].state != ENG_SLOT_FREE && e->slots[i].item.id == id)
			return 1;
	return 0;
}

static struct eng_send_slot *free_slot(struct eng *e)
{
	for (unsigned i = 0; i < e->nslots; i++)
		if (e->slots[i].state == ENG_SLOT_FREE)
			return &e->slots[i];
	return NULL;
}

#define OUTBOX_WAIT_SENDER (-2)

/*
 * Hands what is due to the senders. Returns when the next item is due
 * (wall ms), -1 when nothing is pending, or OUTBOX_WAIT_SENDER when due
 * items wait for a sender to finish (which kicks the dispatcher).
 */
static int64_t outbox_fill(struct eng *e)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		struct store_outbox *items;
		size_t n, held = 0;
		pthread_mutex_lock(&e->mu);
		unsigned long gen = e->ob_gen;
		pthread_mutex_unlock(&e->mu);
		if (store_outbox_due(e->store, clk_wall_ms(), OUTBOX_BATCH, &items, &n) < 0)
			return clk_wall_ms() + e->cfg.outbox_base_ms;
		pthread_mutex_lock(&e->mu);
		if (e->ob_gen != gen) {
			/* A sender finished an item after this read and freed its
			 * slot: the read may still list it as due. Read again
			 * rather than send it twice. */
			pthread_mutex_unlock(&e->mu);
			store_outbox_free(items, n);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			struct eng_send_slot *sl;
			/* Still due because its sender is at work on it, or no
			 * sender free: it waits. */
			if (slot_holds(e, items[i].id) || !(sl = free_slot(e))) {
				held++;
				continue;
			}
			sl->item = items[i];
			items[i].payload = NULL;
			sl->state = ENG_SLOT_QUEUED;
			pthread_cond_signal(&e->send_cv);
		}
		pthread_mutex_unlock(&e->mu);
		store_outbox_free(items, n);
		if (held)
			return OUTBOX_WAIT_SENDER;
		if (n < OUTBOX_BATCH)
			break;
	}
	int64_t next;
	int rc = store_outbox_next(e->store, &next);
	if (rc == ZE_ABSENT)
		return -1;
	return rc < 0 ? clk_wall_ms() + e->cfg.outbox_base_ms : next;
}

void *eng_sender_main(void *arg)
{
	struct eng *e = arg;
	pthread_mutex_lock(&e->mu);
	while (!e->stopping) {
		/* The oldest queued item first: the dispatcher refills freed
		 * slots, so taking the lowest slot could leave an item in a high
		 * one waiting behind newer ones for seconds. */
		struct eng_send_slot *sl = NULL;
		for (unsigned i = 0; i < e->nslots; i++)
			if (e->slots[i].state == ENG_SLOT_QUEUED &&
			    (!sl || e->slots[i].item.id < sl->item.id))
				sl = &e->slots[i];
		if (!sl) {
			pthread_cond_wait(&e->send_cv, &e->mu);
			continue;
		}
		sl->state = ENG_SLOT_SENDING;
		pthread_mutex_unlock(&e->mu);
		send_one(e, &sl->item);
		pthread_mutex_lock(&e->mu);
		free(sl->item.payload);
		memset(sl, 0, sizeof *sl);
		e->ob_gen++;
		/* The dispatcher may have due items waiting for this sender. */
		e->ob_kick = 1;
		pthread_cond_signal(&e->ob_cv);
		pthread_cond_broadcast(&e->idle_cv);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static struct timespec mono_ts(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	return ts;
}

void *eng_dispatcher_main(void *arg)
{
	struct eng *e = arg;
	int64_t ob_at = clk_mono_ms(); /* resend at once what a previous run left */
	pthread_mutex_lock(&e->mu);
	while (!e->stopping) {
		int64_t now = clk_mono_ms();
		if (e->ob_kick) {
			ob_at = now;
			e->ob_kick = 0;
		}
		int sync_due = now >= e->next_sync;
		if (!sync_due && (ob_at < 0 || ob_at > now)) {
			int64_t wake = e->next_sync;
			if (ob_at >= 0 && ob_at < wake)
				wake = ob_at;
			struct timespec ts = mono_ts(wake);
			pthread_cond_timedwait(&e->ob_cv, &e->mu, &ts);
			continue;
		}
		e->ob_busy = 1;
		pthread_mutex_unlock(&e->mu);
		int64_t next = outbox_fill(e);
		if (sync_due) {
			eng_full_sync(e);
			next = outbox_fill(e); /* what the sync queued */
		}
		/* Due times are wall clock (they survive restarts); waits are
		 * monotonic. */
		int64_t in = next < 0 ? -1 : next - clk_wall_ms();
		pthread_mutex_lock(&e->mu);
		e->ob_busy = 0;
		if (sync_due)
			e->next_sync = clk_mono_ms() + (int64_t)e->cfg.sync_period_s * 1000;
		ob_at = next < 0 ? -1 : clk_mono_ms() + (in > 0 ? in : 0);
		pthread_cond_broadcast(&e->idle_cv);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}
