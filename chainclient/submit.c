/*
 * The submitter's public API, queue and worker loop. Sending is in
 * submit_send.c, following blocks in submit_follow.c.
 */
#include "chainclient/submit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>

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
	case CHAIN_OUTCOME_SUCCESS: return "success";
	case CHAIN_OUTCOME_FAILED: return "failed";
	case CHAIN_OUTCOME_REJECTED: return "rejected";
	case CHAIN_OUTCOME_EXPIRED: return "expired";
	case CHAIN_OUTCOME_INVALID: return "invalid";
	case CHAIN_OUTCOME_UNKNOWN: return "unknown";
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
}

static void chain_job_free(struct chain_job *j)
{
	free(j->pallet);
	free(j->call);
	cJSON_Delete(j->args);
	free(j);
}

void chain_job_finish(struct chain_job *j, struct chain_outcome *o)
{
	j->cb(j->ud, o);
	chain_outcome_clear(o);
	chain_job_free(j);
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

static void chain_wait_locked(struct chain_submitter *s, long ms)
{
	struct timespec ts = clk_after(CLOCK_MONOTONIC, ms);

	pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

static void *chain_worker(void *arg)
{
	struct chain_submitter *s = arg;
	struct chain_job *j;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		j = s->qhead;
		if (j) {
			s->qhead = j->next;
			if (!s->qhead)
				s->qtail = NULL;
			s->qlen--;
			j->next = NULL;
			pthread_mutex_unlock(&s->lock);
			int r;
			while ((r = chain_send(s, j)) == 2)
				;
			if (r == 1) {
				j->next = s->inflight;
				s->inflight = j;
			}
			pthread_mutex_lock(&s->lock);
			continue;
		}
		if (!s->inflight) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		chain_follow(s);
		pthread_mutex_lock(&s->lock);
		if (!s->stop && !s->qhead && s->inflight)
			chain_wait_locked(s, s->opts.poll_ms);
	}
	/* Stopping: nothing queued was sent; what is in flight is undecided. */
	while ((j = s->qhead)) {
		s->qhead = j->next;
		pthread_mutex_unlock(&s->lock);
		chain_job_fail(j, CHAIN_OUTCOME_REJECTED, ZE_STATE, "submitter stopped before sending");
		pthread_mutex_lock(&s->lock);
	}
	s->qtail = NULL;
	s->qlen = 0;
	pthread_mutex_unlock(&s->lock);
	chain_inflight_abandon(s, ZE_STATE, "submitter stopped before the outcome was known");
	return NULL;
}

int chain_submitter_new(struct chain_client *c, const struct zkey *key,
			const struct chain_submit_opts *opts, struct chain_submitter **out)
{
	struct chain_submitter *s;
	pthread_condattr_t ca;
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
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	ret = -pthread_create(&s->thr, NULL, chain_worker, s);
	if (ret) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		sodium_memzero(&s->key, sizeof(s->key));
		free(s);
		return ret;
	}
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
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (ret)
		chain_job_free(j);
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
