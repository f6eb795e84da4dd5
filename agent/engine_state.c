/*
 * The engine's state changes: deployment transitions committed together
 * with the chain call they need, and the job queue (one queued job per
 * contract). Layer 2 (engine_int.h): calls engine_calls.c and
 * engine_util.c only.
 */
#include "agent/engine_int.h"

#include <errno.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

/* eng_hold_wakes on this thread: held, and a wake owed at the release
 * since owed_us. */
static __thread int hold_wakes, wake_owed;
static __thread int64_t owed_us;

static int contract_running(const struct eng *e, uint64_t cid)
{
	for (unsigned i = 0; i < e->cfg.workers; i++)
		if (e->busy[i] && e->running[i] == cid)
			return 1;
	return 0;
}

int eng_append_job(struct eng *e, uint64_t cid, int restore, unsigned attempt, int64_t at,
		   struct eng_pre *pre)
{
	if (e->queued >= e->cfg.max_queue)
		return -EAGAIN;
	struct eng_job *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	j->cid = cid;
	j->restore = restore;
	j->attempt = attempt;
	j->not_before = at;
	j->pre = pre;
	eng_pace_job(e, j);
	/* At the tail, so contracts are served in the order they came. */
	*e->tail = j;
	e->tail = &j->next;
	e->queued++;
	return 0;
}

void eng_pre_free(struct eng_pre *p)
{
	if (!p)
		return;
	store_dep_clear(&p->d);
	store_wls_free(p->w, p->n);
	free(p);
}

static int enqueue(struct eng *e, uint64_t cid, int restore, unsigned attempt, int64_t delay_ms,
		   struct eng_pre *pre)
{
	int64_t at = clk_mono_ms() + delay_ms;
	struct eng_pre *drop = NULL;
	pthread_mutex_lock(&e->mu);
	for (struct eng_job *j = e->head; j; j = j->next) {
		if (j->cid != cid)
			continue;
		/* One queued job per contract: the job reads the current state
		 * from the store when it runs, so merging loses nothing. A
		 * record handed over is no longer the current state then. */
		j->restore |= restore;
		if (at < j->not_before) {
			j->not_before = at;
			j->attempt = attempt;
		}
		drop = j->pre;
		j->pre = NULL;
		j->kind = -1; /* no record: no estimate either */
		pthread_mutex_unlock(&e->mu);
		eng_pre_free(drop);
		eng_pre_free(pre);
		pthread_cond_signal(&e->work_cv);
		return 0;
	}
	if (pre && contract_running(e, cid)) {
		drop = pre; /* the running job may change the record */
		pre = NULL;
	}
	int rc = eng_append_job(e, cid, restore, attempt, at, pre);
	int wake = 0;
	if (rc == 0) {
		pre = NULL; /* the job's */
		int64_t now_us = clk_mono_us();
		if (!hold_wakes || (wake_owed && now_us - owed_us >= ENG_PACE_US)) {
			/* Not held, or held long enough: the block's events are
			 * slow to handle (contracts read from the chain). */
			wake = eng_pace_wake(e, now_us);
			wake_owed = 0;
		} else if (!wake_owed) {
			wake_owed = 1;
			owed_us = now_us;
		}
	}
	pthread_mutex_unlock(&e->mu);
	eng_pre_free(drop);
	eng_pre_free(pre);
	/* After the unlock: a worker woken under the lock would only block
	 * again on it. */
	if (wake)
		pthread_cond_signal(&e->work_cv);
	return rc;
}

void eng_hold_wakes(struct eng *e, int on)
{
	hold_wakes = on;
	if (!on)
		eng_flush_wakes(e);
}

void eng_flush_wakes(struct eng *e)
{
	if (!wake_owed)
		return;
	wake_owed = 0;
	pthread_mutex_lock(&e->mu);
	int wake = eng_pace_wake(e, clk_mono_us());
	pthread_mutex_unlock(&e->mu);
	if (wake)
		pthread_cond_signal(&e->work_cv);
}

int eng_enqueue(struct eng *e, uint64_t cid, int restore, unsigned attempt, int64_t delay_ms)
{
	return enqueue(e, cid, restore, attempt, delay_ms, NULL);
}

int eng_enqueue_pre(struct eng *e, uint64_t cid, struct eng_pre *pre)
{
	return enqueue(e, cid, 0, 0, 0, pre);
}

struct eng_job *eng_take_job(struct eng *e, int64_t now, int64_t *wake)
{
	*wake = -1;
	for (struct eng_job **pp = &e->head; *pp; pp = &(*pp)->next) {
		struct eng_job *j = *pp;
		if (contract_running(e, j->cid))
			continue;
		if (j->not_before <= now) {
			*pp = j->next;
			if (e->tail == &j->next)
				e->tail = pp;
			e->queued--;
			return j;
		}
		if (*wake < 0 || j->not_before < *wake)
			*wake = j->not_before;
	}
	return NULL;
}

int eng_transition(struct eng *e, uint64_t cid, unsigned from_mask, enum store_dep_state to,
                   const char *reason, enum eng_tcall call)
{
	return eng_transition_with(e, cid, from_mask, to, reason, call, NULL, NULL);
}

int eng_transition_with(struct eng *e, uint64_t cid, unsigned from_mask, enum store_dep_state to,
                        const char *reason, enum eng_tcall call, int (*also)(void *arg), void *arg)
{
	/* Deploying -> deployed promises nothing: lost to a power cut (with
	 * its outbox row), the restore provisions again and comes back here,
	 * and a repeat of a call that had landed is recognised by its check
	 * (docs/deploy-engine.md, "Crash points"). Every other transition is
	 * durable. */
	int lazy = to == STORE_DEP_DEPLOYED && from_mask == ENG_ST(STORE_DEP_DEPLOYING) &&
	           call == ENG_T_DEPLOYED;
	int rc = lazy ? store_begin_lazy(e->store) : store_begin(e->store);
	if (rc < 0)
		return rc;
	/* The state and capacity only: the document is not needed here. */
	enum store_dep_state from;
	struct prov_capacity cap;
	if ((rc = store_dep_state(e->store, cid, &from, &cap)) < 0) {
		store_rollback(e->store);
		return rc;
	}
	if (!(from_mask & ENG_ST(from))) {
		store_rollback(e->store);
		return ZE_STATE;
	}
	if ((rc = store_dep_set_state(e->store, cid, to, reason)) < 0 ||
	    (call == ENG_T_DEPLOYED && (rc = eng_outbox_deployed(e, cid)) < 0) ||
	    (call == ENG_T_REJECT && (rc = eng_outbox_reject(e, cid, reason)) < 0) ||
	    (also && (rc = also(arg)) < 0)) {
		store_rollback(e->store);
		return rc;
	}
	if ((rc = store_commit(e->store)) < 0)
		return rc;
	if ((ENG_LIVE & ENG_ST(from)) && !(ENG_LIVE & ENG_ST(to)))
		eng_release(e, &cap);
	if (call != ENG_T_NONE)
		eng_kick_outbox(e);
	log_info("engine", "contract %llu: %s -> %s%s%s", (unsigned long long)cid,
	         store_dep_state_name(from), store_dep_state_name(to), reason ? ": " : "",
	         reason ? reason : "");
	return 0;
}
