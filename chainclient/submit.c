/*
 * The submitter's public API, queue, worker loop and the feed from an
 * external follower. Sending is in submit_send.c, following blocks in
 * submit_follow.c.
 */
#include "chainclient/submit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>

#include "chainclient/client_int.h"
#include "chainclient/submit_int.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

void chain_outcome_clear(struct chain_outcome *o)
{
	cJSON_Delete(o->events);
	o->events = NULL;
}

const char *chain_outcome_status_name(enum chain_outcome_status s)
{
	switch (s) {
	case CHAIN_OUTCOME_SUCCESS:
		return "success";
	case CHAIN_OUTCOME_FAILED:
		return "failed";
	case CHAIN_OUTCOME_REJECTED:
		return "rejected";
	case CHAIN_OUTCOME_EXPIRED:
		return "expired";
	case CHAIN_OUTCOME_INVALID:
		return "invalid";
	case CHAIN_OUTCOME_UNKNOWN:
		return "unknown";
	}
	return "?";
}

void chain_submit_opts_default(struct chain_submit_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->give_up_blocks = 32;
	o->poll_ms = 1000;
	o->max_resends = 3;
	o->max_queue = 1024;
	o->stall_ms = 600000;
	o->batch_max = CHAIN_BATCH_MAX;
}

/*
 * Calls tfchain does not charge for (Pays::No: the node's reports and
 * uptime). Inside a batch_all the batch pays for them, which a node's
 * account may not afford, so they always go on their own.
 */
static int chain_free_call(const char *pallet, const char *call)
{
	static const char *const free_calls[] = {
	    "SmartContractModule.add_nru_reports", "SmartContractModule.add_reports",
	    "SmartContractModule.report_contract_resources", "TfgridModule.report_uptime",
	    "TfgridModule.report_uptime_v2"};
	size_t pl = strlen(pallet);
	for (size_t i = 0; i < sizeof(free_calls) / sizeof(free_calls[0]); i++)
		if (strncmp(free_calls[i], pallet, pl) == 0 && free_calls[i][pl] == '.' &&
		    strcmp(free_calls[i] + pl + 1, call) == 0)
			return 1;
	return 0;
}

static void chain_job_free(struct chain_job *j)
{
	free(j->pallet);
	free(j->call);
	cJSON_Delete(j->args);
	free(j);
}

int chain_watch_add(struct chain_submitter *s, const uint8_t h[32])
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->nwatch == s->capwatch) {
		size_t cap = s->capwatch ? s->capwatch * 2 : 16;
		void *p = realloc(s->watch, cap * sizeof(*s->watch));
		if (!p)
			ret = -ENOMEM;
		else {
			s->watch = p;
			s->capwatch = cap;
		}
	}
	if (!ret)
		memcpy(s->watch[s->nwatch++], h, 32);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void chain_watch_del(struct chain_submitter *s, const uint8_t h[32])
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nwatch; i++) {
		if (memcmp(s->watch[i], h, 32) == 0) {
			memmove(s->watch[i], s->watch[i + 1], (s->nwatch - i - 1) * 32);
			s->nwatch--;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

void chain_job_finish(struct chain_job *j, struct chain_outcome *o)
{
	struct chain_submitter *s = j->s;

	if (j->watched)
		chain_watch_del(s, j->hash);
	j->cb(j->ud, o);
	chain_outcome_clear(o);
	chain_job_free(j);
	pthread_mutex_lock(&s->lock);
	s->busy--;
	pthread_mutex_unlock(&s->lock);
}

void chain_requeue_solo(struct chain_submitter *s, struct chain_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->watched)
			chain_watch_del(s, jobs[i]->hash);
		jobs[i]->watched = 0;
		jobs[i]->solo = 1;
		jobs[i]->batch_n = jobs[i]->batch_pos = 0;
	}
	pthread_mutex_lock(&s->lock);
	/* Back to the head in their order, before anything queued later. */
	for (size_t i = n; i-- > 0;) {
		jobs[i]->next = s->qhead;
		s->qhead = jobs[i];
		if (!s->qtail)
			s->qtail = jobs[i];
		s->qlen++;
	}
	pthread_mutex_unlock(&s->lock);
}

int chain_submitter_wants_bodies(struct chain_submitter *s)
{
	pthread_mutex_lock(&s->lock);
	int r = s->busy > 0;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int64_t chain_fed_now(void)
{
	int64_t now = clk_mono_ms();
	return now ? now : 1;
}

void chain_submitter_feed_alive(struct chain_submitter *s)
{
	pthread_mutex_lock(&s->lock);
	s->fed_ms = chain_fed_now();
	pthread_mutex_unlock(&s->lock);
}

/* Indices of b's extrinsics that are ours (under lock); at most max. */
static size_t chain_fed_matches(struct chain_submitter *s, const struct chain_fed_block *b,
                                uint32_t *idx, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < b->xt_count && n < max; i++) {
		for (size_t w = 0; w < s->nwatch; w++) {
			if (memcmp(b->xt_hashes[i], s->watch[w], 32) == 0) {
				idx[n++] = (uint32_t)i;
				break;
			}
		}
	}
	return n;
}

void chain_submitter_feed(struct chain_submitter *s, const struct chain_fed_block *b)
{
	uint32_t idx[CHAIN_BATCH_MAX];
	struct chain_fed *f = NULL;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	s->fed_ms = chain_fed_now();
	if (s->nwatch) {
		/* A block past the last one fed, or one whose body was not read
		 * though it may hold ours: the worker reads those itself. */
		if (s->fed_valid && b->number > s->fed_top + 1)
			s->fed_gap = 1;
		if (!b->xt_hashes && b->number > s->sent_best)
			s->fed_gap = 1;
		if (b->xt_hashes)
			n = chain_fed_matches(s, b, idx, CHAIN_BATCH_MAX);
	}
	if (n) {
		f = calloc(1, sizeof(*f) + n * sizeof(f->m[0]));
		if (f) {
			f->number = b->number;
			memcpy(f->hash, b->hash, 32);
			f->n = n;
			for (size_t i = 0; i < n; i++) {
				memcpy(f->m[i].hash, b->xt_hashes[idx[i]], 32);
				f->m[i].idx = idx[i];
				/* NULL (no memory) resolves as UNKNOWN. */
				f->m[i].events = chain_events_of(b->events, idx[i]);
			}
			if (s->ftail)
				s->ftail->next = f;
			else
				s->fhead = f;
			s->ftail = f;
		} else {
			s->fed_gap = 1; /* read it directly instead */
		}
	}
	if (!s->fed_valid || b->number > s->fed_top) {
		s->fed_top = b->number;
		memcpy(s->fed_hash, b->hash, 32);
		s->fed_top_ms = s->fed_ms;
		s->fed_valid = 1;
	}
	/* Only a worker waiting for outcomes needs the block now; one in its
	 * batch window sends first and then finds the block queued. */
	if (s->waiting == CHAIN_W_POLL)
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void chain_fed_free_list(struct chain_fed *f)
{
	while (f) {
		struct chain_fed *next = f->next;
		for (size_t i = 0; i < f->n; i++)
			cJSON_Delete(f->m[i].events);
		free(f);
		f = next;
	}
}

void chain_job_fail(struct chain_job *j, enum chain_outcome_status st, int err, const char *fmt,
                    ...)
{
	struct chain_outcome o;
	va_list ap;

	memset(&o, 0, sizeof(o));
	o.status = st;
	o.err = err;
	o.nonce = j->nonce;
	o.resends = j->resends;
	memcpy(o.xt_hash, j->hash, 32);
	va_start(ap, fmt);
	vsnprintf(o.error, sizeof(o.error), fmt, ap);
	va_end(ap);
	/* A call refused because the chain could not be asked was never sent:
	 * "rejected" would say the chain refused it. */
	int unsent = st == CHAIN_OUTCOME_REJECTED && (err == ZE_UNKNOWN || err == ZE_TIMEOUT);
	log_warn("chain", "%s.%s: %s: %s", j->pallet, j->call,
	         unsent ? "not sent" : chain_outcome_status_name(st), o.error);
	chain_job_finish(j, &o);
}

void chain_submitter_set_nonce(struct chain_submitter *s, int valid, uint64_t nonce)
{
	s->nonce_valid = valid;
	s->nonce = nonce;
	pthread_mutex_lock(&s->lock);
	s->nonce_pub = valid ? (int64_t)nonce : -1;
	pthread_mutex_unlock(&s->lock);
}

int64_t chain_submitter_nonce(struct chain_submitter *s)
{
	pthread_mutex_lock(&s->lock);
	int64_t n = s->nonce_pub;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Waits (under lock) for at most ms, or without a bound when ms < 0,
 * saying what for so that producers know whether to signal. */
static void chain_wait_locked(struct chain_submitter *s, int why, long ms)
{
	s->waiting = why;
	if (ms < 0) {
		pthread_cond_wait(&s->cond, &s->lock);
	} else {
		struct timespec ts = clk_after(CLOCK_MONOTONIC, ms);
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	s->waiting = CHAIN_W_RUN;
	s->wakeups++;
}

uint64_t chain_submitter_wakeups(struct chain_submitter *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t n = s->wakeups;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Takes the next job, or a batch of them, off the queue (under lock).
 * Returns 0 with *n set, or 1 when the batch window is still open (the
 * worker should wait until *wait_ms). */
static int chain_take(struct chain_submitter *s, struct chain_job **jobs, size_t *n, long *wait_ms)
{
	struct chain_job *j = s->qhead;
	size_t max = 1, k = 0;

	if (s->opts.batch_ms > 0 && !j->solo) {
		max = s->opts.batch_max;
		size_t ready = 0;
		for (struct chain_job *q = j; q && !q->solo && ready < max; q = q->next)
			ready++;
		int64_t now = clk_mono_ms();
		int64_t left = j->queued_ms + s->opts.batch_ms - now;
		/* With batch_idle_ms, a window also closes once the callers went
		 * quiet: a burst that is over gains nothing from waiting, and
		 * every ms waited is a chance to miss the next block. */
		if (left > 0 && s->opts.batch_idle_ms > 0) {
			int64_t idle = s->last_queued_ms + s->opts.batch_idle_ms - now;
			left = idle < left ? idle : left;
		}
		if (ready < max && left > 0) {
			*wait_ms = left;
			return 1;
		}
	}
	while ((j = s->qhead) && k < max && (k == 0 || !j->solo)) {
		s->qhead = j->next;
		if (!s->qhead)
			s->qtail = NULL;
		s->qlen--;
		j->next = NULL;
		jobs[k++] = j;
		if (j->solo)
			break;
	}
	*n = k;
	return 0;
}

/* Extrinsics in flight: the worker's own list (no lock needed), a batch
 * counted once. */
static size_t chain_xts_in_flight(const struct chain_submitter *s)
{
	size_t n = 0;
	for (const struct chain_job *j = s->inflight; j; j = j->next)
		n += j->batch_n <= 1 || j->batch_pos == 0;
	return n;
}

static void *chain_worker(void *arg)
{
	struct chain_submitter *s = arg;
	struct chain_job *jobs[CHAIN_BATCH_MAX], *j;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		if (s->qhead && chain_xts_in_flight(s) < CHAIN_XT_WINDOW) {
			size_t n = 0;
			long wait_ms = 0;
			if (chain_take(s, jobs, &n, &wait_ms)) {
				chain_wait_locked(s, CHAIN_W_WINDOW, wait_ms);
				continue;
			}
			pthread_mutex_unlock(&s->lock);
			int r;
			while ((r = chain_send(s, jobs, &n)) == 2)
				;
			if (r == 1) {
				for (size_t i = 0; i < n; i++) {
					jobs[i]->next = s->inflight;
					s->inflight = jobs[i];
				}
			}
			pthread_mutex_lock(&s->lock);
			continue;
		}
		if (!s->inflight) {
			if (s->fhead) {
				/* Left over from calls resolved meanwhile. */
				struct chain_fed *f = s->fhead;
				s->fhead = s->ftail = NULL;
				pthread_mutex_unlock(&s->lock);
				chain_fed_free_list(f);
				pthread_mutex_lock(&s->lock);
				continue;
			}
			chain_wait_locked(s, CHAIN_W_IDLE, -1);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		/* Fed by a follower: no request of its own. */
		if (!chain_fed_run(s))
			chain_follow(s);
		pthread_mutex_lock(&s->lock);
		s->window_full = s->qhead && chain_xts_in_flight(s) >= CHAIN_XT_WINDOW;
		if (!s->stop && (!s->qhead || s->window_full) && s->inflight && !s->fhead &&
		    !s->fed_gap)
			chain_wait_locked(s, CHAIN_W_POLL, s->opts.poll_ms);
		s->window_full = 0;
	}
	/* Stopping: nothing queued was sent; what is in flight is undecided. */
	while ((j = s->qhead)) {
		s->qhead = j->next;
		pthread_mutex_unlock(&s->lock);
		chain_job_fail(j, CHAIN_OUTCOME_REJECTED, ZE_STATE,
		               "submitter stopped before sending");
		pthread_mutex_lock(&s->lock);
	}
	s->qtail = NULL;
	s->qlen = 0;
	struct chain_fed *f = s->fhead;
	s->fhead = s->ftail = NULL;
	pthread_mutex_unlock(&s->lock);
	chain_fed_free_list(f);
	chain_inflight_abandon(s, ZE_STATE, "submitter stopped before the outcome was known");
	return NULL;
}

int chain_submitter_new(struct chain_client *c, const struct zkey *key,
                        const struct chain_submit_opts *opts, struct chain_submitter **out)
{
	struct chain_submitter *s;
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	chain_submit_opts_default(&s->opts);
	if (opts) {
		struct chain_submit_opts d = s->opts;
		s->opts = *opts;
		if (!s->opts.give_up_blocks)
			s->opts.give_up_blocks = d.give_up_blocks;
		if (s->opts.poll_ms <= 0)
			s->opts.poll_ms = d.poll_ms;
		if (s->opts.max_resends <= 0)
			s->opts.max_resends = d.max_resends;
		if (!s->opts.max_queue)
			s->opts.max_queue = d.max_queue;
		if (s->opts.stall_ms <= 0)
			s->opts.stall_ms = d.stall_ms;
		if (!s->opts.batch_max || s->opts.batch_max > CHAIN_BATCH_MAX)
			s->opts.batch_max = CHAIN_BATCH_MAX;
	}
	s->c = c;
	memcpy(&s->key, key, sizeof(s->key));
	s->nonce_pub = -1;
	if (s->opts.has_first_nonce) {
		s->nonce_valid = 1;
		s->nonce = s->opts.first_nonce;
		s->nonce_pub = (int64_t)s->nonce;
	}
	pthread_mutex_init(&s->lock, NULL);
	if ((ret = clk_cond_init(&s->cond)) < 0) {
		pthread_mutex_destroy(&s->lock);
		sodium_memzero(&s->key, sizeof(s->key));
		free(s);
		return ret;
	}
	ret = -pthread_create(&s->thr, NULL, chain_worker, s);
	if (ret) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		sodium_memzero(&s->key, sizeof(s->key));
		free(s);
		return ret;
	}
	pthread_setname_np(s->thr, "chain-submit");
	*out = s;
	return 0;
}

void chain_submitter_free(struct chain_submitter *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thr, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	sodium_memzero(&s->key, sizeof(s->key));
	free(s->watch);
	free(s);
}

int chain_submit_async(struct chain_submitter *s, const char *pallet, const char *call,
                       const cJSON *args, chain_outcome_cb cb, void *ud)
{
	struct chain_job *j;
	int ret = 0;

	if (!pallet || !call || !cb || (args && !cJSON_IsArray(args) && !cJSON_IsObject(args)))
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->pallet = strdup(pallet);
	j->call = strdup(call);
	j->args = args ? cJSON_Duplicate(args, 1) : cJSON_CreateArray();
	j->cb = cb;
	j->ud = ud;
	j->s = s;
	j->queued_ms = clk_mono_ms();
	j->solo = chain_free_call(pallet, call);
	if (!j->pallet || !j->call || !j->args) {
		chain_job_free(j);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if (s->stop)
		ret = ZE_STATE;
	else if (s->qlen >= s->opts.max_queue)
		ret = -EAGAIN;
	if (!ret) {
		if (s->qtail)
			s->qtail->next = j;
		else
			s->qhead = j;
		s->qtail = j;
		s->qlen++;
		s->busy++;
		s->last_queued_ms = j->queued_ms;
		/* One wakeup per batch, not per call: while the window is open
		 * the worker wakes at its end (or at the idle close, which it
		 * computes again from last_queued_ms), so a call only ends that
		 * wait by filling the batch. Idle or waiting for outcomes, the
		 * call is news. Running, the worker looks at the queue before
		 * it waits again. One thread waits on cond: signal, not
		 * broadcast. */
		if (s->waiting == CHAIN_W_IDLE || (s->waiting == CHAIN_W_POLL && !s->window_full) ||
		    (s->waiting == CHAIN_W_WINDOW && s->qlen >= s->opts.batch_max))
			pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (ret)
		chain_job_free(j);
	else if (s->opts.queued)
		s->opts.queued(s->opts.queued_ud);
	return ret;
}

struct chain_waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	struct chain_outcome o;
};

static void chain_wait_cb(void *ud, struct chain_outcome *o)
{
	struct chain_waiter *w = ud;

	pthread_mutex_lock(&w->lock);
	w->o = *o;
	o->events = NULL; /* moved to the waiter */
	w->done = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int chain_submit_wait(struct chain_submitter *s, const char *pallet, const char *call,
                      const cJSON *args, struct chain_outcome *o)
{
	struct chain_waiter w;
	int ret;

	memset(&w, 0, sizeof(w));
	memset(o, 0, sizeof(*o));
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	ret = chain_submit_async(s, pallet, call, args, chain_wait_cb, &w);
	if (!ret) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		*o = w.o;
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return ret;
}
