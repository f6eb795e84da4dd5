/* The engine's life cycle, job queue and worker pool. */
#include "agent/engine_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/zerr.h"

static const char *const call_names[ENG_CALL__COUNT] = {"deployed", "rejected", "reports"};

const char *eng_call_kind_name(enum eng_call_kind k)
{
	return (unsigned)k < ENG_CALL__COUNT ? call_names[k] : "invalid";
}

void eng_contract_clear(struct eng_contract *c)
{
	free(c->data);
	memset(c, 0, sizeof *c);
}

int eng_transient(int err)
{
	return zerr_transient(err) || err == -ENOMEM;
}

/* Absolute monotonic deadline for pthread_cond_timedwait (CLOCK_MONOTONIC). */
static struct timespec deadline(int64_t at_ms)
{
	struct timespec ts = {.tv_sec = at_ms / 1000, .tv_nsec = (at_ms % 1000) * 1000000};
	return ts;
}

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

int eng_new(const struct eng_config *cfg, const struct eng_chain *chain, struct store *store,
	    struct eng **out)
{
	if (!cfg->lookup || !chain->get_contract || !chain->get_twin || !chain->submit)
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
	if (!c->outbox_senders)
		c->outbox_senders = 4;
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
	e->workers = calloc(c->workers, sizeof *e->workers);
	/* Twice the senders: each has one item queued behind the one it sends. */
	e->nslots = 2 * c->outbox_senders;
	e->slots = calloc(e->nslots, sizeof *e->slots);
	e->senders = calloc(c->outbox_senders, sizeof *e->senders);
	if (!e->running || !e->busy || !e->workers || !e->slots || !e->senders) {
		free(e->running);
		free(e->busy);
		free(e->workers);
		free(e->slots);
		free(e->senders);
		sodium_memzero(e, sizeof *e);
		free(e);
		return -ENOMEM;
	}
	e->tail = &e->head;
	pthread_mutex_init(&e->mu, NULL);
	cond_init_mono(&e->work_cv);
	cond_init_mono(&e->idle_cv);
	cond_init_mono(&e->ob_cv);
	cond_init_mono(&e->send_cv);
	*out = e;
	return 0;
}

static int contract_running(const struct eng *e, uint64_t cid)
{
	for (unsigned i = 0; i < e->cfg.workers; i++)
		if (e->busy[i] && e->running[i] == cid)
			return 1;
	return 0;
}

/* Appends a job; the caller holds mu and knows cid is not queued. */
static int append_job(struct eng *e, uint64_t cid, int restore, unsigned attempt, int64_t at)
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
	/* At the tail, so contracts are served in the order they came. */
	*e->tail = j;
	e->tail = &j->next;
	e->queued++;
	return 0;
}

int eng_enqueue(struct eng *e, uint64_t cid, int restore, unsigned attempt, int64_t delay_ms)
{
	int64_t at = clk_mono_ms() + delay_ms;
	pthread_mutex_lock(&e->mu);
	for (struct eng_job *j = e->head; j; j = j->next) {
		if (j->cid != cid)
			continue;
		/* One queued job per contract: the job reads the current state
		 * from the store when it runs, so merging loses nothing. */
		j->restore |= restore;
		if (at < j->not_before) {
			j->not_before = at;
			j->attempt = attempt;
		}
		pthread_cond_signal(&e->work_cv);
		pthread_mutex_unlock(&e->mu);
		return 0;
	}
	int rc = append_job(e, cid, restore, attempt, at);
	if (rc == 0)
		pthread_cond_signal(&e->work_cv);
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* The first job that may run now; else when the next one may (or -1). */
static struct eng_job *take_job(struct eng *e, int64_t now, int64_t *wake)
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

struct worker_arg {
	struct eng *e;
	unsigned slot;
};

static void *worker_main(void *arg)
{
	struct eng *e = ((struct worker_arg *)arg)->e;
	unsigned slot = ((struct worker_arg *)arg)->slot;
	free(arg);
	pthread_mutex_lock(&e->mu);
	while (!e->stopping) {
		int64_t wake;
		struct eng_job *j = take_job(e, clk_mono_ms(), &wake);
		if (!j) {
			if (wake < 0) {
				pthread_cond_wait(&e->work_cv, &e->mu);
			} else {
				struct timespec ts = deadline(wake);
				pthread_cond_timedwait(&e->work_cv, &e->mu, &ts);
			}
			continue;
		}
		e->busy[slot] = 1;
		e->running[slot] = j->cid;
		e->active++;
		pthread_mutex_unlock(&e->mu);

		log_ctx_contract(j->cid);
		int rc = eng_reconcile(e, j->cid, j->restore);
		log_ctx_clear();
		int retry = rc < 0 && j->attempt + 1 < e->cfg.retry_attempts;
		if (rc < 0 && !retry)
			log_warn("engine", "contract %llu: giving up after %u attempts (%s) until "
					   "the next sync", (unsigned long long)j->cid,
				 j->attempt + 1, zerr_str(rc));
		/* Queued while this job still counts as running, so the contract
		 * never looks idle between the two. */
		if (retry &&
		    eng_enqueue(e, j->cid, j->restore, j->attempt + 1,
				backoff_delay(e->cfg.retry_base_ms, e->cfg.retry_max_ms, j->attempt,
					      1)) < 0)
			log_warn("engine", "contract %llu: retry not queued",
				 (unsigned long long)j->cid);
		free(j);
		pthread_mutex_lock(&e->mu);
		e->busy[slot] = 0;
		e->active--;
		/* Another worker may be waiting for this contract to be free. */
		pthread_cond_broadcast(&e->work_cv);
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
	uint64_t *ids;
	size_t n;
	if ((rc = store_dep_ids(e->store, &ids, &n)) < 0)
		return rc;
	pthread_mutex_lock(&e->mu);
	e->reserved = st.reserved;
	/* The first sync runs at once: the chain may have moved while the agent
	 * was down. */
	e->next_sync = clk_mono_ms();
	pthread_mutex_unlock(&e->mu);
	/* Every deployment gets a restore job: healthy workloads are only
	 * inspected, missing ones made again, interrupted deploys resumed.
	 * No worker runs yet and the ids are unique, so they append directly. */
	size_t dropped = 0;
	int64_t now = clk_mono_ms();
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < n; i++)
		dropped += append_job(e, ids[i], 1, 0, now) < 0;
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
		e->nworkers++;
	}
	for (unsigned i = 0; rc == 0 && i < e->cfg.outbox_senders; i++) {
		if ((rc = -pthread_create(&e->senders[i], NULL, eng_sender_main, e)) == 0)
			e->nsenders++;
	}
	if (rc == 0) {
		if ((rc = -pthread_create(&e->dispatcher, NULL, eng_dispatcher_main, e)) == 0)
			e->dispatcher_up = 1;
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
	pthread_cond_broadcast(&e->send_cv);
	pthread_mutex_unlock(&e->mu);
	/* A sender may wait out a call's whole give-up window; the outbox keeps
	 * the call, so the stop does not wait for its outcome. */
	if (e->chain.cancel)
		e->chain.cancel(e->chain.ctx);
	for (unsigned i = 0; i < e->nworkers; i++)
		pthread_join(e->workers[i], NULL);
	for (unsigned i = 0; i < e->nsenders; i++)
		pthread_join(e->senders[i], NULL);
	e->nsenders = 0;
	if (e->dispatcher_up)
		pthread_join(e->dispatcher, NULL);
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
		free(j);
	}
	e->tail = &e->head;
	/* Items handed out but not sent stay pending in the store. */
	for (unsigned i = 0; i < e->nslots; i++)
		if (e->slots[i].state != ENG_SLOT_FREE)
			free(e->slots[i].item.payload);
	free(e->slots);
	free(e->senders);
	pthread_cond_destroy(&e->send_cv);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->work_cv);
	pthread_cond_destroy(&e->idle_cv);
	pthread_cond_destroy(&e->ob_cv);
	free(e->running);
	free(e->busy);
	free(e->workers);
	sodium_memzero(e, sizeof *e);
	free(e);
}

/* True when the outbox holds nothing (only for wait_idle). */
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
			idle = !e->ob_busy && !e->ob_kick && eng_slots_busy(e) == 0;
			if (idle) {
				pthread_mutex_unlock(&e->mu);
				idle = outbox_quiet(e);
				pthread_mutex_lock(&e->mu);
				idle = idle && e->queued == 0 && e->active == 0 && !e->ob_busy;
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
		struct timespec ts = deadline(at < end ? at : end);
		pthread_cond_timedwait(&e->idle_cv, &e->mu, &ts);
	}
}

void eng_release(struct eng *e, const struct prov_capacity *c)
{
	pthread_mutex_lock(&e->mu);
	e->reserved.cru -= c->cru <= e->reserved.cru ? c->cru : e->reserved.cru;
	e->reserved.mru -= c->mru <= e->reserved.mru ? c->mru : e->reserved.mru;
	e->reserved.sru -= c->sru <= e->reserved.sru ? c->sru : e->reserved.sru;
	e->reserved.hru -= c->hru <= e->reserved.hru ? c->hru : e->reserved.hru;
	pthread_mutex_unlock(&e->mu);
}

void eng_reserved(struct eng *e, struct prov_capacity *out)
{
	pthread_mutex_lock(&e->mu);
	*out = e->reserved;
	pthread_mutex_unlock(&e->mu);
}

int eng_transition(struct eng *e, uint64_t cid, unsigned from_mask, enum store_dep_state to,
		   const char *reason, int call)
{
	return eng_transition_with(e, cid, from_mask, to, reason, call, NULL, NULL);
}

int eng_transition_with(struct eng *e, uint64_t cid, unsigned from_mask,
			enum store_dep_state to, const char *reason, int call,
			int (*also)(void *arg), void *arg)
{
	struct store_dep d;
	/* Deploying -> deployed promises nothing yet: the chain hears of it
	 * only after the sender's durable attempts commit, whose sync covers
	 * this one; lost to a power cut, the restore provisions again and
	 * comes back here. Every other transition is durable. */
	int lazy = to == STORE_DEP_DEPLOYED && from_mask == ENG_ST(STORE_DEP_DEPLOYING) &&
		   call == ENG_CALL_DEPLOYED;
	int rc = lazy ? store_begin_lazy(e->store) : store_begin(e->store);
	if (rc < 0)
		return rc;
	if ((rc = store_dep_get(e->store, cid, &d, NULL, NULL)) < 0) {
		store_rollback(e->store);
		return rc;
	}
	enum store_dep_state from = d.state;
	struct prov_capacity cap = d.cap;
	store_dep_clear(&d);
	if (!(from_mask & ENG_ST(from))) {
		store_rollback(e->store);
		return ZE_STATE;
	}
	if ((rc = store_dep_set_state(e->store, cid, to, reason)) < 0 ||
	    (call >= 0 && (rc = eng_outbox_add_call(e, (enum eng_call_kind)call, cid, reason)) < 0) ||
	    (also && (rc = also(arg)) < 0)) {
		store_rollback(e->store);
		return rc;
	}
	if ((rc = store_commit(e->store)) < 0)
		return rc;
	if ((ENG_LIVE & ENG_ST(from)) && !(ENG_LIVE & ENG_ST(to)))
		eng_release(e, &cap);
	if (call >= 0)
		eng_kick_outbox(e);
	log_info("engine", "contract %llu: %s -> %s%s%s", (unsigned long long)cid,
		 store_dep_state_name(from), store_dep_state_name(to), reason ? ": " : "",
		 reason ? reason : "");
	return 0;
}

int eng_cursor_get(struct eng *e, int64_t *block)
{
	return store_cursor_get(e->store, "block", block);
}

int eng_cursor_set(struct eng *e, int64_t block)
{
	return store_cursor_set(e->store, "block", block);
}

struct store *eng_store(struct eng *e)
{
	return e->store;
}

const struct eng_config *eng_config(const struct eng *e)
{
	return &e->cfg;
}
