/*
 * Who accepts a contract: the owner's deploy command (engine_accept.c over
 * RMB) or the block follower's ContractCreated event (eng_adopt_contract).
 *
 * The user sends the deploy command as soon as it sees the block that
 * created the contract, which is about when the node's follower learns of
 * that block and reads its events. The event carries the contract as the
 * chain stored it, so accepting it from there costs no request, while the
 * command would read it from chain storage. So a command for a contract
 * the store does not know, arriving while the follower knows of a block it
 * has not processed yet, waits for it (bounded by accept_wait_ms and by
 * three block times) and answers what the event path did; it reads the
 * contract only when the wait ends without it (another node's contract, one
 * from an older block, a follower that is stuck or far behind).
 *
 * Each waiting command sleeps on a semaphore of its own, and is woken only
 * when something it waits for happened: its contract's slot changed, or
 * the block it waits for was processed. The follower hands the outcome to
 * the waiter as it wakes it, so the command answers without taking the
 * lock again. A condition variable broadcast after each block woke every
 * waiting command, which then queued on the lock one after the other: that
 * cost more than two extra thread switches per deploy (docs/performance.md).
 *
 * Each contract being accepted has a claim here, so the two paths never
 * both do the work: the second one waits for the first (the command) or
 * leaves it (the event path). The event path keeps its outcome for the
 * owner's first command, which answers exactly that (the reply is the same
 * whichever path won). It also keeps the contract of an event it did not
 * accept (hash-only: the command brings the data; adoption off), so the
 * command reads nothing either. Slots are bounded (ENG_HO_SLOTS); what does
 * not fit, or waits too long, goes the old way: the store's unique insert
 * makes the second of two concurrent accepts answer as a repeat.
 */
#include "agent/engine_int.h"

#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"

/* The default of accept_wait_ms. */
#define HO_WAIT_MS 2000
/* A wait is never shorter than this, whatever the block time looks like
 * (heads announced in a burst after a reconnect look like fast blocks). */
#define HO_WAIT_MIN_MS 100
/* A follower more blocks behind than this is catching up: waiting for it
 * would take longer than a read. */
#define HO_MAX_LAG 4
/* A command waits this long at most for another path's accept of the same
 * contract (a twin read and a registry request are each bounded). */
#define HO_BUSY_MS 30000
/* A command for a contract this much newer than the newest seen is not
 * waited for: no block makes that many (a made-up id). */
#define HO_ID_WINDOW 4096
/* Outcomes and contracts kept for an owner's command this long. */
#define HO_KEEP_MS 60000

/* A command waiting in eng_ho_claim, on its stack, listed under mu. */
struct eng_ho_waiter {
	struct eng_ho_waiter *next;
	uint64_t cid;
	uint32_t caller;
	int on_busy;       /* waits for another path's claim on cid to end */
	uint64_t target;   /* waits for the follower to process this block, */
	uint64_t next_blk; /* for this one while it is subscribed, */
	int newer;         /* for a ContractCreated of cid or above */
	int posted;        /* unlisted and sem posted, under mu */
	int taken;         /* res holds the outcome (the slot was cleared) */
	struct eng_ho_res res;
	sem_t sem;
};

static void slot_clear(struct eng_ho_slot *s)
{
	if (s->has_c)
		eng_contract_clear(&s->c);
	memset(s, 0, sizeof *s);
}

void eng_ho_init(struct eng *e)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_init(&h->mu, NULL);
	h->waiters = NULL;
}

void eng_ho_free(struct eng *e)
{
	struct eng_handoff *h = &e->ho;
	for (size_t i = 0; i < ENG_HO_SLOTS; i++)
		slot_clear(&h->s[i]);
	pthread_mutex_destroy(&h->mu);
}

/* The slot of cid, dropping a kept one that is too old. Under mu. */
static struct eng_ho_slot *find(struct eng_handoff *h, uint64_t cid, int64_t now)
{
	for (size_t i = 0; i < ENG_HO_SLOTS; i++) {
		struct eng_ho_slot *s = &h->s[i];
		if (s->state == ENG_HO_FREE || s->cid != cid)
			continue;
		if (s->state != ENG_HO_BUSY && now - s->at > HO_KEEP_MS) {
			slot_clear(s);
			return NULL;
		}
		return s;
	}
	return NULL;
}

/* A free slot, else the oldest kept one (evicted: its owner's command then
 * answers from the store, or reads). NULL when all are busy. Under mu. */
static struct eng_ho_slot *alloc(struct eng_handoff *h)
{
	struct eng_ho_slot *old = NULL;
	for (size_t i = 0; i < ENG_HO_SLOTS; i++) {
		struct eng_ho_slot *s = &h->s[i];
		if (s->state == ENG_HO_FREE)
			return s;
		if (s->state != ENG_HO_BUSY && (!old || s->at < old->at))
			old = s;
	}
	if (old)
		slot_clear(old);
	return old;
}

/* The block a command waits for: the head the follower knows of and has not
 * processed, when it is near; else 0. Under mu. */
static uint64_t pending(const struct eng_handoff *h)
{
	return h->head > h->done && h->head - h->done <= HO_MAX_LAG ? h->head : 0;
}

static int64_t wait_bound(struct eng *e)
{
	int64_t ms = e->cfg.accept_wait_ms ? e->cfg.accept_wait_ms : HO_WAIT_MS;
	if (e->ho.block_ms > 0 && 3 * e->ho.block_ms < ms)
		ms = 3 * e->ho.block_ms;
	return ms < HO_WAIT_MIN_MS ? HO_WAIT_MIN_MS : ms;
}

/* Whether w still waits for the follower. Under mu. */
static int blocked(const struct eng_handoff *h, const struct eng_ho_waiter *w)
{
	int more = w->target && h->done < w->target && h->head > h->done;
	more |= w->next_blk && h->done < w->next_blk && h->subscribed;
	more |= w->newer && w->cid > h->max_cid && h->subscribed;
	return more;
}

/* Takes w off the waiters' list. Under mu. */
static void unlist(struct eng_handoff *h, struct eng_ho_waiter *w)
{
	for (struct eng_ho_waiter **p = &h->waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
}

/* Unlists w and wakes it; an outcome the event path kept for its command
 * goes with it. Under mu: the waiter cannot leave before the post. */
static void post(struct eng_handoff *h, struct eng_ho_waiter *w, int64_t now)
{
	unlist(h, w);
	struct eng_ho_slot *s = find(h, w->cid, now);
	if (s && s->state == ENG_HO_DONE && s->twin == w->caller) {
		w->res = (struct eng_ho_res){
		    .rc = s->rc, .code = s->code, .status = s->status, .ticket = s->ticket};
		memcpy(w->res.err, s->err, sizeof w->res.err);
		slot_clear(s);
		w->taken = 1;
	}
	w->posted = 1;
	h->wakes++;
	sem_post(&w->sem);
}

/* Wakes the waiters of cid (any when cid is 0) for which pred, if given,
 * says the wait is over. Under mu. */
static void wake(struct eng_handoff *h, uint64_t cid,
		 int (*pred)(const struct eng_handoff *, const struct eng_ho_waiter *))
{
	int64_t now = clk_mono_ms();
	struct eng_ho_waiter *w = h->waiters;
	while (w) {
		struct eng_ho_waiter *nx = w->next;
		if ((!cid || w->cid == cid) && (!pred || !pred(h, w)))
			post(h, w, now);
		w = nx;
	}
}

/* After a block: waiters whose contract has an outcome now, or whose
 * block is processed. One waiting for another path's claim waits on. */
static int still_waits(const struct eng_handoff *h, const struct eng_ho_waiter *w)
{
	const struct eng_ho_slot *s = NULL;
	for (size_t i = 0; i < ENG_HO_SLOTS && !s; i++)
		if (h->s[i].state != ENG_HO_FREE && h->s[i].cid == w->cid)
			s = &h->s[i];
	if (s && s->state != ENG_HO_BUSY)
		return 0;
	return w->on_busy ? s != NULL : blocked(h, w);
}

/* Sleeps on w (listed for the wakers) until posted or until at. Called
 * under mu; returns 1 without it when w->res holds the outcome (the waker
 * is done with w: nothing is left to do under the lock), else 0 under
 * it. */
static int wait_on(struct eng_handoff *h, struct eng_ho_waiter *w, int64_t at)
{
	w->posted = w->taken = 0;
	(void)sem_init(&w->sem, 0, 0); /* fails only for a value above SEM_VALUE_MAX */
	w->next = h->waiters;
	h->waiters = w;
	pthread_mutex_unlock(&h->mu);
	struct timespec ts = eng_deadline(at);
	int rc;
	while ((rc = sem_clockwait(&w->sem, CLOCK_MONOTONIC, &ts)) < 0 && errno == EINTR)
		;
	if (rc == 0 && w->taken) {
		/* Posted (the post is what ended the wait): sem_post's
		 * ordering makes the waker's writes to w visible here. */
		sem_destroy(&w->sem);
		return 1;
	}
	pthread_mutex_lock(&h->mu);
	if (!w->posted) /* timed out */
		unlist(h, w);
	sem_destroy(&w->sem);
	if (w->taken) /* posted just after the wait timed out */
		pthread_mutex_unlock(&h->mu);
	return w->taken;
}

enum eng_ho_claim eng_ho_claim(struct eng *e, uint64_t cid, uint32_t caller, int by_chain,
                               enum eng_ho_mode mode, struct eng_contract *parked, int *has_parked,
                               struct eng_ho_res *res)
{
	struct eng_handoff *h = &e->ho;
	enum eng_ho_claim out;
	if (has_parked)
		*has_parked = 0;
	pthread_mutex_lock(&h->mu);
	int64_t now = clk_mono_ms(), busy_until = now + HO_BUSY_MS, until = 0;
	struct eng_ho_waiter w = {.cid = cid, .caller = caller};
	for (;;) {
		struct eng_ho_slot *s = find(h, cid, now);
		if (s && s->state == ENG_HO_BUSY) {
			if (by_chain) {
				out = ENG_HO_OTHER;
				break;
			}
			if (now >= busy_until) {
				out = ENG_HO_NONE;
				break;
			}
			w.on_busy = 1;
			if (wait_on(h, &w, busy_until)) {
				*res = w.res;
				return ENG_HO_TAKEN; /* not under mu */
			}
			w.on_busy = 0;
			now = clk_mono_ms();
			continue;
		}
		if (s && s->state == ENG_HO_DONE) {
			if (by_chain) {
				out = ENG_HO_OTHER;
			} else if (s->twin != caller) {
				out = ENG_HO_NONE; /* the store answers: another twin's */
			} else {
				*res = (struct eng_ho_res){.rc = s->rc,
				                           .code = s->code,
				                           .status = s->status,
				                           .ticket = s->ticket};
				memcpy(res->err, s->err, sizeof res->err);
				slot_clear(s);
				out = ENG_HO_TAKEN;
			}
			break;
		}
		if (s && s->state == ENG_HO_PARKED) {
			s->state = ENG_HO_BUSY;
			s->by_chain = by_chain;
			s->at = now;
			if (!by_chain && parked && has_parked) {
				*parked = s->c;
				parked->data = NULL;
				parked->data_len = 0;
				*has_parked = 1;
			}
			out = ENG_HO_MINE;
			break;
		}
		if (!by_chain && mode != ENG_HO_NOW) {
			if (!until) {
				until = now + wait_bound(e);
				w.target = pending(h);
				/* Contract ids only grow: one above every
				 * ContractCreated seen is in a block the follower
				 * has not processed, maybe not even heard of (the
				 * user may hear of a block first). Before any was
				 * seen, the next block is waited for, no more. */
				if (h->subscribed && cid > h->max_cid) {
					if (!h->max_cid)
						w.next_blk = h->done + 1;
					else
						w.newer = cid - h->max_cid <= HO_ID_WINDOW;
				}
			}
			if (blocked(h, &w) && now < until) {
				if (mode == ENG_HO_ASK) {
					out = ENG_HO_WAIT;
					break;
				}
				if (wait_on(h, &w, until)) {
					*res = w.res;
					return ENG_HO_TAKEN; /* not under mu */
				}
				now = clk_mono_ms();
				continue;
			}
		}
		if (!(s = alloc(h))) {
			out = ENG_HO_NONE;
			break;
		}
		*s = (struct eng_ho_slot){
		    .cid = cid, .state = ENG_HO_BUSY, .by_chain = by_chain, .at = now};
		out = ENG_HO_MINE;
		break;
	}
	pthread_mutex_unlock(&h->mu);
	return out;
}

void eng_ho_release(struct eng *e, uint64_t cid, int by_chain, int stored, uint32_t twin, int rc,
                    int code, const char *status, const char *err, uint64_t ticket)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	struct eng_ho_slot *s = NULL;
	for (size_t i = 0; i < ENG_HO_SLOTS && !s; i++)
		if (h->s[i].state == ENG_HO_BUSY && h->s[i].cid == cid)
			s = &h->s[i];
	if (s && by_chain && stored) {
		/* For the owner's command: what it would have answered. */
		if (s->has_c)
			eng_contract_clear(&s->c);
		s->has_c = 0;
		s->state = ENG_HO_DONE;
		s->at = clk_mono_ms();
		s->twin = twin;
		s->rc = rc;
		s->code = code;
		s->status = status;
		s->ticket = ticket;
		snprintf(s->err, sizeof s->err, "%s", err ? err : "");
		if (ticket) {
			/* The block's end makes its acceptances durable with
			 * one sync and wakes their commands then
			 * (eng_follow_done); one that comes earlier takes the
			 * outcome and waits for the sync itself. */
			if (ticket > h->ticket)
				h->ticket = ticket;
			pthread_mutex_unlock(&h->mu);
			return;
		}
	} else if (s && s->has_c && !stored) {
		s->state = ENG_HO_PARKED; /* e.g. a hash-only one sent without its data */
		s->at = clk_mono_ms();
	} else if (s) {
		slot_clear(s);
	}
	wake(h, cid, NULL);
	pthread_mutex_unlock(&h->mu);
}

void eng_ho_park(struct eng *e, const struct eng_contract *c)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	int64_t now = clk_mono_ms();
	struct eng_ho_slot *s = find(h, c->id, now);
	if (!s && (s = alloc(h))) {
		*s = (struct eng_ho_slot){
		    .cid = c->id, .state = ENG_HO_PARKED, .at = now, .has_c = 1, .c = *c};
		s->c.data = NULL;
		s->c.data_len = 0;
	}
	wake(h, c->id, NULL);
	pthread_mutex_unlock(&h->mu);
}

void eng_ho_forget(struct eng *e, uint64_t cid)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < ENG_HO_SLOTS; i++) {
		struct eng_ho_slot *s = &h->s[i];
		if (s->cid != cid || !s->has_c)
			continue;
		if (s->state == ENG_HO_PARKED)
			slot_clear(s);
		else { /* busy: not parked again when it ends */
			eng_contract_clear(&s->c);
			s->has_c = 0;
		}
	}
	pthread_mutex_unlock(&h->mu);
}

void eng_ho_seen(struct eng *e, uint64_t cid)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	if (cid > h->max_cid)
		h->max_cid = cid;
	pthread_mutex_unlock(&h->mu);
}

void eng_follow_head(struct eng *e, uint64_t head, int subscribed)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	h->subscribed = subscribed;
	if (head > h->top) {
		int64_t now = clk_mono_ms();
		if (h->top && h->top_at) {
			int64_t per = (now - h->top_at) / (int64_t)(head - h->top);
			h->block_ms = h->block_ms ? (3 * h->block_ms + per) / 4 : per;
		}
		h->top = head;
		h->top_at = now;
	}
	if (head > h->head)
		h->head = head;
	pthread_mutex_unlock(&h->mu);
}

void eng_follow_done(struct eng *e, uint64_t number)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	uint64_t ticket = h->ticket;
	h->ticket = 0;
	if (ticket) {
		/* One sync for every contract the block's events accepted: their
		 * commands then answer without a sync of their own. A failure is
		 * each command's to see (it waits for the ticket itself). */
		pthread_mutex_unlock(&h->mu);
		(void)store_wait_durable(e->store, ticket);
		pthread_mutex_lock(&h->mu);
	}
	if (number > h->done)
		h->done = number;
	if (h->done > h->head)
		h->head = h->done;
	wake(h, 0, still_waits);
	pthread_mutex_unlock(&h->mu);
}

void eng_follow_stall(struct eng *e)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	h->head = h->done; /* nothing to wait for until the next head */
	h->subscribed = 0;
	wake(h, 0, NULL);
	pthread_mutex_unlock(&h->mu);
}

void eng_follow_reset(struct eng *e, uint64_t head)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < ENG_HO_SLOTS; i++)
		if (h->s[i].state == ENG_HO_PARKED)
			slot_clear(&h->s[i]);
	h->head = h->done = head;
	if (head > h->top) {
		h->top = head;
		h->top_at = clk_mono_ms();
	}
	wake(h, 0, NULL);
	pthread_mutex_unlock(&h->mu);
}

uint64_t eng_follow_wakes(struct eng *e)
{
	struct eng_handoff *h = &e->ho;
	pthread_mutex_lock(&h->mu);
	uint64_t n = h->wakes;
	pthread_mutex_unlock(&h->mu);
	return n;
}
