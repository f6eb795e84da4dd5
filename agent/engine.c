/*
 * The engine's threads: creating and starting it, the worker pool that runs
 * jobs, the dispatcher that runs outbox passes and the full sync, stopping.
 * The top layer (engine_int.h): it calls the layers below, none calls it.
 */
#include "agent/engine_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/zerr.h"

int eng_new(const struct eng_config *cfg, const struct eng_chain *chain, struct store *store,
            struct eng **out)
{
	if (!cfg->lookup || !chain->get_contract || !chain->get_twin || !chain->submit_async ||
	    !chain->cancel)
		return -EINVAL;
	struct eng *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	e->chain = *chain;
	e->store = store;
	struct eng_config *c = &e->cfg;
	if (!c->workers)
		c->workers = 4;
	if (!c->max_queue)
		c->max_queue = 1u << 20;
	if (!c->max_data)
		c->max_data = SEAL_DEFAULT_MAX;
	if (!c->retry_base_ms)
		c->retry_base_ms = 1000;
	if (!c->retry_max_ms)
		c->retry_max_ms = 60000;
	if (!c->retry_attempts)
		c->retry_attempts = 8;
	if (!c->outbox_in_flight)
		c->outbox_in_flight = 64;
	if (!c->outbox_base_ms)
		c->outbox_base_ms = 2000;
	if (!c->outbox_max_ms)
		c->outbox_max_ms = 300000;
	if (!c->sync_period_s)
		c->sync_period_s = 3600;
	if (!c->retain_s)
		c->retain_s = 7 * 24 * 3600;
	e->running = calloc(c->workers, sizeof *e->running);
	e->busy = calloc(c->workers, 1);
	e->run = calloc(c->workers, sizeof *e->run);
	e->workers = calloc(c->workers, sizeof *e->workers);
	if (!e->running || !e->busy || !e->run || !e->workers || clk_cond_init(&e->work_cv) < 0 ||
	    clk_cond_init(&e->idle_cv) < 0 || clk_cond_init(&e->ob_cv) < 0) {
		/* Glibc's condition variables hold no resources: nothing to
		 * destroy for those that were made. */
		free(e->running);
		free(e->busy);
		free(e->run);
		free(e->workers);
		sodium_memzero(e, sizeof *e);
		free(e);
		return -ENOMEM;
	}
	e->tail = &e->head;
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->ob_mu, NULL);
	eng_ho_init(e);
	*out = e;
	return 0;
}

struct worker_arg {
	struct eng *e;
	unsigned slot;
};

/*
 * After a job that queued outbox rows, on the worker: passes the outbox
 * itself, so that a call due now goes from here to the submitter, without
 * waking the dispatcher (a thread switch there and one back). Only when no
 * pass runs: the one that does (the dispatcher, or another worker) reads
 * the rows when it is done, since a pass begins by clearing ob_fresh and
 * its holder looks at ob_fresh again after releasing ob_mu, and a row is
 * committed and ob_fresh set before anyone tries ob_mu. What this pass
 * cannot do without waiting (a check of the chain before a resend, a
 * retry's timer, rows past the memory bound) goes to the dispatcher, which
 * is woken only when it did not plan to pass by then anyway (ob_at).
 */
static void outbox_direct(struct eng *e)
{
	for (;;) {
		if (pthread_mutex_trylock(&e->ob_mu) != 0)
			return;
		pthread_mutex_lock(&e->mu);
		e->ob_fresh = 0;
		e->ob_busy++;
		pthread_mutex_unlock(&e->mu);
		int64_t next = eng_outbox_pass(e, 1);
		pthread_mutex_lock(&e->mu);
		e->ob_busy--;
		int wake = 0;
		if (next >= 0) {
			/* Something waits that this pass left (a check, a retry's
			 * time): the dispatcher is woken only when it would
			 * otherwise wake later than that. */
			int64_t in = next - clk_wall_ms();
			int64_t at = clk_mono_ms() + (in > 0 ? in : 0);
			if (e->ob_at < 0 || at < e->ob_at) {
				e->ob_at = at;
				wake = e->ob_waiting;
			}
		}
		pthread_mutex_unlock(&e->mu);
		pthread_mutex_unlock(&e->ob_mu);
		if (wake)
			pthread_cond_signal(&e->ob_cv);
		pthread_mutex_lock(&e->mu);
		int again = e->ob_fresh;
		pthread_mutex_unlock(&e->mu);
		if (!again)
			return;
	}
}

static void *worker_main(void *arg)
{
	struct eng *e = ((struct worker_arg *)arg)->e;
	unsigned slot = ((struct worker_arg *)arg)->slot;
	free(arg);
	eng_kick_defer(1);
	pthread_mutex_lock(&e->mu);
	while (!e->stopping) {
		int64_t wake;
		struct eng_job *j = eng_take_job(e, clk_mono_ms(), &wake);
		if (!j) {
			if (wake < 0) {
				pthread_cond_wait(&e->work_cv, &e->mu);
			} else {
				struct timespec ts = eng_deadline(wake);
				pthread_cond_timedwait(&e->work_cv, &e->mu, &ts);
			}
			continue;
		}
		int64_t now_us = clk_mono_us();
		eng_pace_begin(e, slot, j, now_us);
		e->busy[slot] = 1;
		e->running[slot] = j->cid;
		e->active++;
		/* A wake is passed on, not broadcast: a worker that takes a job
		 * and leaves others queued wakes one more, which does the same,
		 * unless this one gets to them soon enough (engine_pace.c). */
		int more = e->head != NULL && eng_pace_wake(e, now_us);
		pthread_mutex_unlock(&e->mu);
		if (more)
			pthread_cond_signal(&e->work_cv);

		log_ctx_contract(j->cid);
		int rc = eng_reconcile(e, j->cid, j->restore, j->pre);
		j->pre = NULL; /* taken */
		log_ctx_clear();
		int retry = rc < 0 && j->attempt + 1 < e->cfg.retry_attempts;
		if (rc < 0 && !retry)
			log_warn("engine",
			         "contract %llu: giving up after %u attempts (%s) until "
			         "the next sync",
			         (unsigned long long)j->cid, j->attempt + 1, zerr_str(rc));
		/* Queued while this job still counts as running, so the contract
		 * never looks idle between the two. */
		if (retry && eng_enqueue(e, j->cid, j->restore, j->attempt + 1,
		                         backoff_delay(e->cfg.retry_base_ms, e->cfg.retry_max_ms,
		                                     j->attempt, 1)) < 0)
			log_warn("engine", "contract %llu: retry not queued",
			         (unsigned long long)j->cid);
		free(j);
		/* Still counted active, so wait_idle does not see a gap. */
		if (eng_kick_deferred())
			outbox_direct(e);
		pthread_mutex_lock(&e->mu);
		eng_pace_end(e, slot, clk_mono_us());
		e->busy[slot] = 0;
		e->active--;
		/* A job that waited for this contract to be free is taken by this
		 * worker itself, at the top of the loop (or, when another job comes
		 * first there, by the one it wakes): the idle workers are not all
		 * woken after every job. */
		pthread_cond_broadcast(&e->idle_cv);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/*
 * The dispatcher: outbox passes when rows were queued by a thread that is
 * not an engine worker (a worker passes its own rows, outbox_direct),
 * outcomes came in, an item is due or needs a check of the chain, and the
 * full sync every sync_period_s. It never waits for a call's outcome:
 * submit_async's callbacks only queue the outcome and wake it
 * (engine_outbox.c). It takes ob_mu for a pass, then mu.
 */
static void *dispatcher_main(void *arg)
{
	struct eng *e = arg;
	pthread_mutex_lock(&e->mu);
	e->ob_at = clk_mono_ms(); /* resend at once what a previous run left */
	while (!e->stopping) {
		int64_t now = clk_mono_ms();
		if (e->ob_kick || e->ob_fresh || e->ob_done) {
			e->ob_at = now;
			e->ob_kick = 0;
		}
		int64_t ob_at = e->ob_at;
		int sync_due = now >= e->next_sync;
		if (!sync_due && (ob_at < 0 || ob_at > now)) {
			int64_t wake = e->next_sync;
			if (ob_at >= 0 && ob_at < wake)
				wake = ob_at;
			struct timespec ts = eng_deadline(wake);
			e->ob_waiting = 1;
			pthread_cond_timedwait(&e->ob_cv, &e->mu, &ts);
			e->ob_waiting = 0;
			continue;
		}
		pthread_mutex_unlock(&e->mu);
		/* A worker's pass may hold ob_mu; it is short (no chain reads). */
		pthread_mutex_lock(&e->ob_mu);
		pthread_mutex_lock(&e->mu);
		e->ob_fresh = 0;
		e->ob_kick = 0;
		e->ob_busy++;
		pthread_mutex_unlock(&e->mu);
		int64_t next = eng_outbox_pass(e, 0);
		if (sync_due) {
			/* Without ob_mu: the sync reads the chain for a while, and
			 * the workers pass the outbox meanwhile. */
			pthread_mutex_unlock(&e->ob_mu);
			eng_full_sync(e);
			pthread_mutex_lock(&e->ob_mu);
			pthread_mutex_lock(&e->mu);
			e->ob_fresh = 0;
			e->ob_kick = 0;
			pthread_mutex_unlock(&e->mu);
			next = eng_outbox_pass(e, 0); /* what the sync queued */
		}
		/* Due times are wall clock (they survive restarts); waits are
		 * monotonic. Set before ob_mu is released: a worker's pass that
		 * follows compares its own next due time with it. */
		int64_t in = next < 0 ? -1 : next - clk_wall_ms();
		pthread_mutex_lock(&e->mu);
		e->ob_busy--;
		if (sync_due)
			e->next_sync = clk_mono_ms() + (int64_t)e->cfg.sync_period_s * 1000;
		e->ob_at = next < 0 ? -1 : clk_mono_ms() + (in > 0 ? in : 0);
		pthread_mutex_unlock(&e->ob_mu);
		pthread_cond_broadcast(&e->idle_cv);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int eng_start(struct eng *e)
{
	struct store_stats st;
	int rc = store_stats(e->store, 0, &st);
	if (rc < 0)
		return rc;
	/* Rows pending now may have been sent before a crash: each is
	 * checked against the chain before its first send. */
	if ((rc = eng_outbox_boot(e)) < 0)
		return rc;
	uint64_t *ids;
	size_t n;
	if ((rc = store_dep_ids(e->store, &ids, &n)) < 0)
		return rc;
	pthread_mutex_lock(&e->mu);
	e->reserved = st.reserved;
	/* The first sync runs at once: the chain may have moved while the agent
	 * was down. */
	e->next_sync = clk_mono_ms();
	/* The dispatcher's first pass reads every pending outbox row. */
	e->ob_more = 1;
	e->ob_cancelled = 0;
	pthread_mutex_unlock(&e->mu);
	/* Every deployment gets a restore job: healthy workloads are only
	 * inspected, missing ones made again, interrupted deploys resumed.
	 * No worker runs yet and the ids are unique, so they append directly. */
	size_t dropped = 0;
	int64_t now = clk_mono_ms();
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < n; i++)
		dropped += eng_append_job(e, ids[i], 1, 0, now, NULL) < 0;
	pthread_mutex_unlock(&e->mu);
	free(ids);
	/* A full queue does not stop start-up; the syncs come back for them. */
	if (dropped)
		log_warn("engine", "%zu deployments not queued for restore (queue full)", dropped);
	log_info("engine", "restoring %zu deployments", n - dropped);

	for (unsigned i = 0; i < e->cfg.workers; i++) {
		struct worker_arg *a = malloc(sizeof *a);
		if (!a) {
			rc = -ENOMEM;
			break;
		}
		a->e = e;
		a->slot = i;
		if ((rc = -pthread_create(&e->workers[i], NULL, worker_main, a)) < 0) {
			free(a);
			break;
		}
		pthread_setname_np(e->workers[i], "eng-worker");
		e->nworkers++;
	}
	if (rc == 0) {
		if ((rc = -pthread_create(&e->dispatcher, NULL, dispatcher_main, e)) == 0) {
			e->dispatcher_up = 1;
			pthread_setname_np(e->dispatcher, "eng-dispatch");
		}
	}
	e->started = 1;
	if (rc < 0)
		eng_stop(e);
	return rc;
}

void eng_stop(struct eng *e)
{
	if (!e->started)
		return;
	pthread_mutex_lock(&e->mu);
	e->stopping = 1;
	pthread_cond_broadcast(&e->work_cv);
	pthread_cond_broadcast(&e->ob_cv);
	pthread_mutex_unlock(&e->mu);
	for (unsigned i = 0; i < e->nworkers; i++)
		pthread_join(e->workers[i], NULL);
	if (e->dispatcher_up)
		pthread_join(e->dispatcher, NULL);
	/* Calls in flight are not waited for: after cancel no outcome comes,
	 * and the outbox keeps each call (pending, so the next start asks the
	 * chain before resending it). */
	e->chain.cancel(e->chain.ctx);
	eng_outbox_drain(e);
	e->nworkers = 0;
	e->dispatcher_up = 0;
	e->started = 0;
}

void eng_free(struct eng *e)
{
	if (!e)
		return;
	eng_stop(e);
	while (e->head) {
		struct eng_job *j = e->head;
		e->head = j->next;
		eng_pre_free(j->pre);
		free(j);
	}
	e->tail = &e->head;
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->ob_mu);
	pthread_cond_destroy(&e->work_cv);
	pthread_cond_destroy(&e->idle_cv);
	pthread_cond_destroy(&e->ob_cv);
	eng_ho_free(e);
	free(e->running);
	free(e->busy);
	free(e->run);
	free(e->workers);
	sodium_memzero(e, sizeof *e);
	free(e);
}

/* True when the store's outbox holds nothing pending (only for wait_idle). */
static int outbox_quiet(struct eng *e)
{
	uint64_t n;
	return store_outbox_pending(e->store, &n) == 0 && n == 0;
}

int eng_wait_idle(struct eng *e, int outbox, int timeout_ms)
{
	int64_t end = clk_mono_ms() + timeout_ms;
	pthread_mutex_lock(&e->mu);
	for (;;) {
		int idle = e->queued == 0 && e->active == 0;
		if (idle && outbox) {
			idle =
			    !e->ob_busy && !e->ob_kick && !e->ob_fresh && eng_outbox_busy(e) == 0;
			if (idle) {
				pthread_mutex_unlock(&e->mu);
				idle = outbox_quiet(e);
				pthread_mutex_lock(&e->mu);
				idle = idle && e->queued == 0 && e->active == 0 && !e->ob_busy &&
				       !e->ob_fresh;
			}
		}
		if (idle) {
			pthread_mutex_unlock(&e->mu);
			return 0;
		}
		if (clk_mono_ms() >= end) {
			pthread_mutex_unlock(&e->mu);
			return ZE_TIMEOUT;
		}
		/* Short waits: the outbox's due times are not signalled. */
		int64_t at = clk_mono_ms() + 20;
		struct timespec ts = eng_deadline(at < end ? at : end);
		pthread_cond_timedwait(&e->idle_cv, &e->mu, &ts);
	}
}
