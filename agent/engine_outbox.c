/*
 * The outbox in the dispatcher's memory, and its asynchronous dispatch.
 *
 * Rows are written by whoever queues a call (engine_calls.c), in the
 * transaction of the state change that needs it, and read into memory once:
 * at start (everything pending) and after a kick (only rows newer than the
 * last read). Due items go to the chain interface's submit_async, at most
 * outbox_in_flight at a time, after one lazy "sending" mark for all of them
 * (nothing durable stands between a deploy's acceptance and its chain
 * call); a row an engine worker queued came marked in its own transaction
 * (premarked) and is not marked again. Whether an earlier send landed is
 * asked of the chain (the call table's check) before any send that may
 * repeat one: every row that was pending when the engine started (a crash
 * may have hidden a send, the mark too when the power went), every resend
 * after an unknown outcome, and after a failure on chain (a repeat of a
 * call that landed fails, and is recorded as the success it was). A pass runs on whoever holds ob_mu:
 * the dispatcher (retries, timers, checks, outcomes, restore), or the
 * engine worker that just queued a row, which hands a call due now to the
 * submitter itself (engine.c) and leaves any check to the dispatcher; the
 * same steps in the same order either way, so rows go out in the order
 * they were queued. Outcomes come back through a
 * callback that only queues them and wakes the dispatcher, which records
 * them in the store (done, or a retry time with backoff) in one lazy
 * transaction per pass. No thread waits for a block. docs/deploy-engine.md
 * ("Crash points") says what each crash leaves. Layer 2 (engine_int.h):
 * calls engine_calls.c and engine_util.c.
 */
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

/* Items kept in memory at most; rows past them wait in the store. */
#define OB_MEM_MAX 4096

int eng_outbox_boot(struct eng *e)
{
	int64_t last = 0;
	int rc = store_outbox_last_pending(e->store, &last);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&e->mu);
	e->ob_boot_max = last;
	pthread_mutex_unlock(&e->mu);
	return 0;
}

size_t eng_outbox_busy(const struct eng *e)
{
	return e->ob_in_flight + (e->ob_done != NULL);
}

/* Submit callback, on any thread: queue the outcome, wake the dispatcher.
 * The outcomes of one block come in a row: only the first finds the list
 * empty and wakes a waiting dispatcher, which takes all that came by then
 * (a dispatcher in a pass looks at the list before it waits again). */
static void on_outcome(void *ud, int rc, const char *why)
{
	struct eng_ob_item *it = ud;
	struct eng *e = it->e;
	pthread_mutex_lock(&e->mu);
	it->rc = rc;
	snprintf(it->why, sizeof it->why, "%s", why ? why : "");
	int first = e->ob_done == NULL;
	it->done_next = e->ob_done;
	e->ob_done = it;
	if (first && e->ob_waiting)
		pthread_cond_signal(&e->ob_cv);
	pthread_mutex_unlock(&e->mu);
}

static void item_free(struct eng_ob_item *it)
{
	free(it->payload);
	free(it);
}

/* Unlinks and frees the dead items. */
static void sweep(struct eng *e)
{
	size_t n = 0;
	for (struct eng_ob_item **pp = &e->ob_head; *pp;) {
		struct eng_ob_item *it = *pp;
		if (it->dead) {
			*pp = it->next;
			item_free(it);
		} else {
			pp = &it->next;
			n++;
		}
	}
	pthread_mutex_lock(&e->mu);
	e->ob_count = n;
	pthread_mutex_unlock(&e->mu);
}

static void mark_done(struct eng *e, struct eng_ob_item *it, const char *outcome)
{
	if (store_outbox_done(e->store, it->id, outcome) < 0)
		log_err("engine",
		        "outbox %s: outcome \"%s\" not recorded; it is resent after a "
		        "check of the chain",
		        it->key, outcome);
	it->dead = 1;
}

static void mark_retry(struct eng *e, struct eng_ob_item *it, const char *why)
{
	int64_t delay = backoff_delay(e->cfg.outbox_base_ms, e->cfg.outbox_max_ms,
	                              it->attempts > 0 ? (unsigned)it->attempts - 1 : 0, 1);
	log_warn("engine", "outbox %s: %s; retry in %lld ms", it->key, why, (long long)delay);
	it->next_try = clk_wall_ms() + delay;
	store_outbox_retry(e->store, it->id, it->next_try, why);
}

/* Records the outcomes that came since the last pass. A known outcome ends
 * the item; lazy, since lost to a power cut the item is pending again with
 * attempts > 0 and its resend asks the chain first. */
static void record_outcomes(struct eng *e)
{
	pthread_mutex_lock(&e->mu);
	struct eng_ob_item *d = e->ob_done, *rev = NULL;
	e->ob_done = NULL;
	pthread_mutex_unlock(&e->mu);
	if (!d)
		return;
	/* In the order they came. */
	while (d) {
		struct eng_ob_item *n = d->done_next;
		d->done_next = rev;
		rev = d;
		d = n;
	}
	int txn = store_begin_lazy(e->store) == 0;
	unsigned n = 0;
	for (struct eng_ob_item *it = rev; it; it = it->done_next, n++) {
		it->in_flight = 0;
		if (it->rc == 0) {
			log_info("engine", "outbox %s: ok", it->key);
			mark_done(e, it, "ok");
		} else if (it->rc == ZE_CHAIN) {
			/* Included and failed: final, sending again would fail the
			 * same. But a call that landed earlier (a send before a
			 * crash, a duplicate still in the pool) fails when repeated:
			 * the next pass asks the chain which it was. */
			it->failed = 1;
			it->next_try = clk_wall_ms();
		} else {
			mark_retry(e, it, it->why[0] ? it->why : zerr_str(it->rc));
		}
	}
	if (txn)
		store_commit(e->store);
	pthread_mutex_lock(&e->mu);
	e->ob_in_flight -= n;
	pthread_cond_broadcast(&e->idle_cv);
	pthread_mutex_unlock(&e->mu);
}

/* Reads the rows queued since the last read into memory. */
static void load_new(struct eng *e)
{
	pthread_mutex_lock(&e->mu);
	int more = e->ob_more;
	e->ob_more = 0;
	size_t room = e->ob_count < OB_MEM_MAX ? OB_MEM_MAX - e->ob_count : 0;
	pthread_mutex_unlock(&e->mu);
	if (!more)
		return;
	if (!room) {
		pthread_mutex_lock(&e->mu);
		e->ob_more = 1; /* read when items leave */
		pthread_mutex_unlock(&e->mu);
		return;
	}
	struct store_outbox *rows;
	size_t n;
	if (store_outbox_after(e->store, e->ob_loaded, room, &rows, &n) < 0) {
		pthread_mutex_lock(&e->mu);
		e->ob_more = 1; /* the next pass tries again */
		pthread_mutex_unlock(&e->mu);
		return;
	}
	struct eng_ob_item **tail = &e->ob_head;
	while (*tail)
		tail = &(*tail)->next;
	size_t added = 0;
	for (size_t i = 0; i < n; i++) {
		struct eng_ob_item *it = calloc(1, sizeof *it);
		if (!it)
			break;
		it->e = e;
		it->id = rows[i].id;
		it->cid = rows[i].contract_id;
		snprintf(it->key, sizeof it->key, "%s", rows[i].key);
		snprintf(it->kind, sizeof it->kind, "%s", rows[i].kind);
		it->payload = rows[i].payload;
		rows[i].payload = NULL;
		it->attempts = rows[i].attempts;
		it->next_try = rows[i].next_try;
		it->boot = it->id <= e->ob_boot_max;
		/* A row queued since the start is read here once, before any
		 * pass could mark it (only send_due marks, on items in memory):
		 * attempts already > 0 means an engine worker queued it counted
		 * as sending. It was never sent: no check, and no second mark. */
		if (!it->boot && it->attempts > 0) {
			it->premarked = 1;
			it->attempts--;
		}
		*tail = it;
		tail = &it->next;
		e->ob_loaded = it->id;
		added++;
	}
	store_outbox_free(rows, n);
	pthread_mutex_lock(&e->mu);
	e->ob_count += added;
	if (n == room || added < n)
		e->ob_more = 1;
	pthread_mutex_unlock(&e->mu);
}

#define OB_SEND_MAX 256

/* Hands what is due to submit_async, up to the in-flight bound. direct:
 * leaves the items that need a chain check first (see eng_outbox_pass). */
static void send_due(struct eng *e, int direct)
{
	pthread_mutex_lock(&e->mu);
	unsigned room = e->ob_in_flight < e->cfg.outbox_in_flight
	                    ? e->cfg.outbox_in_flight - e->ob_in_flight
	                    : 0;
	pthread_mutex_unlock(&e->mu);
	if (room > OB_SEND_MAX)
		room = OB_SEND_MAX;
	struct eng_ob_item *pick[OB_SEND_MAX];
	cJSON *holder[OB_SEND_MAX];
	const struct eng_call_def *def[OB_SEND_MAX];
	const cJSON *args[OB_SEND_MAX];
	int64_t ids[OB_SEND_MAX];
	int marked[OB_SEND_MAX];
	unsigned n = 0, nmark = 0, checks = 0;
	int64_t now = clk_wall_ms();
	/* Checks read the chain: a bounded number per pass keeps outcomes
	 * recorded in between; what is left is due at once for the next. */
	for (struct eng_ob_item *it = e->ob_head; it && n < room && checks < OB_SEND_MAX;
	     it = it->next) {
		if (it->dead || it->in_flight || it->next_try > now)
			continue;
		if (direct && (it->boot || it->attempts > 0 || it->failed))
			continue; /* due now: the dispatcher asks the chain */
		cJSON *h;
		const struct eng_call_def *d;
		const cJSON *a;
		int rc = eng_call_parse(it->kind, it->cid, it->payload, &h, &d, &a);
		if (rc < 0) {
			log_err("engine", "outbox %s: not a call of the call table (%s), dropped",
			        it->key, zerr_str(rc));
			mark_done(e, it, "dropped: not a known call");
			continue;
		}
		/* A runtime without the call (tfchain has no Deployed state and
		 * no rejection): the node's own state is the record, and nothing
		 * was sent that the chain could be asked about. */
		if (d->optional && e->chain.has_call &&
		    e->chain.has_call(e->chain.ctx, d->pallet, d->call) == 0) {
			log_info("engine",
			         "contract %" PRIu64
			         ": this runtime has no %s.%s; the node's state "
			         "is the record",
			         it->cid, d->pallet, d->call);
			mark_done(e, it, "ok");
			cJSON_Delete(h);
			continue;
		}
		const char *outcome = NULL;
		/* An earlier send may have landed without us learning it (a
		 * crash, with or without its sending mark; a lost reply; a failure
		 * that was a repeat). Ask the chain before sending or failing. */
		if (it->boot || it->attempts > 0 || it->failed) {
			checks++;
			if ((rc = d->applied(e, it->cid, a, &outcome)) > 0) {
				if (it->failed)
					log_info("engine", "outbox %s: %s (the repeat failed: %s)",
					         it->key, outcome, it->why);
				else
					log_info("engine", "outbox %s: %s", it->key, outcome);
				mark_done(e, it, outcome);
			} else if (rc < 0) {
				char why[128];
				snprintf(why, sizeof why, "checking the chain: %s", zerr_str(rc));
				mark_retry(e, it, why);
			} else if (it->failed) {
				char out[300];
				log_warn("engine", "outbox %s: failed on chain: %s", it->key,
				         it->why);
				snprintf(out, sizeof out, "failed: %s", it->why);
				mark_done(e, it, out);
				rc = 1;
			}
			if (rc != 0) {
				cJSON_Delete(h);
				continue;
			}
			it->boot = 0;
		}
		pick[n] = it;
		holder[n] = h;
		def[n] = d;
		args[n] = a;
		if (!it->premarked)
			ids[nmark++] = it->id;
		n++;
	}
	if (!n)
		return;
	/* Counted before the send (lazily: the check at the next start does
	 * not depend on it), and not sent when it cannot be counted. A row an
	 * engine worker queued was counted in its own transaction. */
	int rc = nmark ? store_outbox_sending_many(e->store, ids, nmark, marked) : 0;
	for (unsigned i = 0, m = 0; i < n; i++) {
		struct eng_ob_item *it = pick[i];
		/* A premarked item's mark is in the store already: this send is
		 * the one it counted. */
		int pre = it->premarked;
		it->premarked = 0;
		if (!pre && rc < 0) {
			log_err("engine", "outbox %s: %s; not sent", it->key, zerr_str(rc));
			it->next_try = clk_wall_ms() + e->cfg.outbox_base_ms;
		} else if (!pre && !marked[m++]) {
			it->dead = 1; /* no longer pending: its outcome is recorded */
		} else {
			it->attempts++;
			struct eng_call call = {.pallet = def[i]->pallet,
			                        .call = def[i]->call,
			                        .args = args[i],
			                        .contract_id = it->cid,
			                        .key = it->key,
			                        .attempt = it->attempts};
			pthread_mutex_lock(&e->mu);
			e->ob_in_flight++;
			it->in_flight = 1;
			pthread_mutex_unlock(&e->mu);
			int src = e->chain.submit_async(e->chain.ctx, &call, on_outcome, it);
			if (src < 0) {
				pthread_mutex_lock(&e->mu);
				e->ob_in_flight--;
				it->in_flight = 0;
				pthread_mutex_unlock(&e->mu);
				char why[128];
				snprintf(why, sizeof why, "not queued: %s", zerr_str(src));
				mark_retry(e, it, why);
			}
		}
		cJSON_Delete(holder[i]);
	}
}

/* When the next item is due (wall ms), now when rows wait in the store,
 * -1 when nothing waits (items in flight wake the dispatcher themselves). */
static int64_t next_due(struct eng *e)
{
	int64_t next = -1;
	pthread_mutex_lock(&e->mu);
	int more = e->ob_more;
	unsigned room = e->ob_in_flight < e->cfg.outbox_in_flight;
	pthread_mutex_unlock(&e->mu);
	if (more)
		return clk_wall_ms();
	for (struct eng_ob_item *it = e->ob_head; it; it = it->next)
		if (!it->dead && !it->in_flight && (next < 0 || it->next_try < next))
			next = it->next_try;
	/* Due but no room: the next outcome wakes the dispatcher. */
	if (next >= 0 && !room && next <= clk_wall_ms())
		return -1;
	return next;
}

int64_t eng_outbox_pass(struct eng *e, int direct)
{
	record_outcomes(e);
	load_new(e);
	send_due(e, direct);
	sweep(e);
	return next_due(e);
}

void eng_outbox_drain(struct eng *e)
{
	pthread_mutex_lock(&e->mu);
	e->ob_cancelled = 1;
	pthread_mutex_unlock(&e->mu);
	record_outcomes(e);
	while (e->ob_head) {
		struct eng_ob_item *it = e->ob_head;
		e->ob_head = it->next;
		item_free(it);
	}
	pthread_mutex_lock(&e->mu);
	e->ob_count = 0;
	e->ob_in_flight = 0;
	e->ob_loaded = 0;
	e->ob_more = 0;
	pthread_mutex_unlock(&e->mu);
}
