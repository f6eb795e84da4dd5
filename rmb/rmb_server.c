/*
 * RMB server: nng plumbing, worker pools, connection timeouts and
 * lifecycle. What a request goes through is rmb_verify; how a reply is
 * built is rmb_reply.c.
 *
 * Each nng context cycles RECV -> (queued, worker) -> SEND -> RECV, the
 * worker verifying the request and running its handler. The pool has
 * workers + slow_workers threads: at most `workers` of them verify requests
 * and run other handlers at once, at most slow_workers run RMB_H_SLOW
 * handlers (which wait on the chain), as with two separate pools, but a
 * verified slow request runs on the thread that verified it instead of
 * being handed to another. A slow request
 * beyond the limit waits in the slow queue, and the thread whose slow
 * handler ends next runs it. The aio callback only moves messages: it
 * never verifies or runs a handler, so the nng threads stay free to
 * receive. A sweeper thread closes connections stuck in a frame.
 *
 * Thread hand-offs cost more CPU than the work of a request (a context
 * switch is 15-20 us in a VM), so the path avoids them where it safely can:
 * slow handlers as above; a reply is sent on an aio without a callback, so
 * that nng finishes it in the sending thread and the same thread receives
 * again, instead of nng waking one of its threads to run our callback; a
 * worker is woken only when the queue holds more requests than the workers
 * already woken for it.
 */
#include "rmb/rmb_server.h"

#include <errno.h>
#include <malloc.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"
#include "rmb/rmb_conns.h"
#include "rmb/rmb_pipe.h"
#include "rmb/rmb_reply.h"

enum { S_IDLE = 0, S_RECV, S_WORK, S_SEND };

/* A reply not taken by its peer within this time is dropped: a peer that
 * does not read cannot hold a context. */
#define SEND_TIMEOUT_MS 5000
/* Connections ended per sweep of the timeout thread at most. */
#define SWEEP_MAX 256
/* How long a stopping server waits for its connections to end. */
#define RMB_DRAIN_WAIT_MS 2000

struct handler {
	char *cmd;
	rmb_handler_fn fn;
	void *arg;
	unsigned flags;
};

struct slot {
	struct rmb_server *srv;
	nng_ctx ctx;
	nng_aio *aio;  /* receives (its callback is slot_cb) */
	nng_aio *saio; /* sends; no callback (slot_send) */
	int state;
	nng_msg *req;
	uint32_t pipe; /* the connection the request came on */
	/* A verified slow request waiting for (or on) the slow pool. */
	const struct handler *h;
	struct rmb_env env;
	cJSON *payload;
};

/* Slow requests in progress for one twin. */
struct share {
	uint32_t twin;
	unsigned n;
};

struct rmb_server {
	struct rmb_server_cfg cfg;
	char *listen[RMB_LISTEN_MAX];
	struct rmb_replier rp;
	struct rmb_verifier *verifier;

	struct handler *h;
	size_t nh;

	nng_socket sock;
	int sock_open;
	nng_listener lst[RMB_LISTEN_MAX];
	struct slot *slots;
	pthread_t *threads; /* workers + slow_workers */
	size_t nthreads;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot **queue;
	size_t qhead, qcount;
	unsigned active; /* threads verifying or running a request other than
			  * a slow handler: at most `workers` */
	unsigned idle;   /* threads waiting on cv */
	unsigned waking; /* of those, signalled and not yet back on mu */
	int started, stopping;

	/* Slow requests, under mu: at most slow_workers run (on the workers
	 * that verified them), the rest wait in squeue for one to end. */
	struct slot **squeue;
	size_t sqhead, sqcount;
	struct share *shares; /* slow_workers + slow_queue_len entries */
	unsigned slow_pending; /* running or queued */
	unsigned slow_running; /* at most slow_workers */

	/* Replies nng queued behind another reply on the same connection:
	 * the send waiter waits for them (slot_send), under mu. */
	pthread_cond_t wcv;
	struct slot **wqueue; /* contexts entries */
	size_t wqhead, wqcount;
	pthread_t waiter;
	int waiter_started;

	/* The connection timeout thread. */
	pthread_cond_t rcv;
	pthread_t sweeper;
	int sweeper_started;

	atomic_int closing; /* set before the workers stop: callbacks stop sending */
	int abandoned;         /* the socket never closed: keep everything */
	struct rmb_conns *conns;
	struct rmb_fds *fds; /* for ending connections (rmb_pipe.h) */
	atomic_uint_fast64_t received, accepted, refused, busy, replied, send_failed, displaced;
	atomic_uint_fast64_t timed_out, slow_inplace, send_queued;
};

void rmb_server_cfg_init(struct rmb_server_cfg *c)
{
	memset(c, 0, sizeof(*c));
	rmb_verify_cfg_init(&c->verify);
	c->contexts = 0;
	c->workers = 4;
	c->queue_len = 32;
	c->max_conns = 1024;
	c->mem_budget = 128u << 20;
	c->frame_timeout_ms = 15000;
	c->slow_workers = 8;
	c->slow_queue_len = 32;
	c->twin_slow_max = 2;
	c->reply_ttl_s = 60;
}

/* Requests the server can hold at once besides those being received. */
static unsigned held_max(const struct rmb_server_cfg *c)
{
	return c->workers + c->queue_len + c->slow_workers + c->slow_queue_len;
}

int rmb_server_new(const struct rmb_server_cfg *cfg, const struct zkey *node_key,
		   uint32_t twin_id, rmb_twin_lookup_fn lookup, void *lookup_ctx,
		   struct rmb_server **out)
{
	if (sodium_init() < 0)
		return -EIO;
	if (!cfg->nlisten || cfg->nlisten > RMB_LISTEN_MAX || !cfg->workers ||
	    cfg->workers > 1024 || !cfg->queue_len || cfg->queue_len > 65536 ||
	    !cfg->slow_workers || cfg->slow_workers > 1024 || !cfg->slow_queue_len ||
	    cfg->slow_queue_len > 65536 || !cfg->twin_slow_max ||
	    (cfg->contexts && cfg->contexts <= held_max(cfg)) || !cfg->max_conns ||
	    !cfg->reply_ttl_s || !cfg->frame_timeout_ms || !lookup ||
	    cfg->mem_budget < (cfg->verify.max_msg ? cfg->verify.max_msg : RMB_MAX_MSG_DEFAULT))
		return ZE_CONFIG;
	struct rmb_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	/* Contexts beyond those a request can hold (workers + queue) are the
	 * ones that keep receiving, and answer "busy", under any load. */
	if (!s->cfg.contexts)
		s->cfg.contexts = held_max(cfg) + 32;
	s->cfg.verify.self_twin = twin_id;
	int rc = 0;
	for (size_t i = 0; i < cfg->nlisten && !rc; i++) {
		s->listen[i] = cfg->listen[i] ? strdup(cfg->listen[i]) : NULL;
		s->cfg.listen[i] = s->listen[i];
		if (!s->listen[i])
			rc = cfg->listen[i] ? -ENOMEM : ZE_CONFIG;
	}
	/* The sweeper's timed waits run on the monotonic clock: a wall clock
	 * stepped back (NTP, a restored VM) would otherwise stop it for as long
	 * as the step, and half-sent frames would pin their memory meanwhile. */
	if (!rc && (pthread_mutex_init(&s->mu, NULL) || pthread_cond_init(&s->cv, NULL) ||
		    pthread_cond_init(&s->wcv, NULL) || clk_cond_init(&s->rcv) < 0))
		rc = -ENOMEM;
	if (!rc) {
		s->queue = calloc(cfg->queue_len, sizeof(*s->queue));
		s->slots = calloc(s->cfg.contexts, sizeof(*s->slots));
		s->threads = calloc(cfg->workers + cfg->slow_workers, sizeof(*s->threads));
		s->squeue = calloc(cfg->slow_queue_len, sizeof(*s->squeue));
		s->shares = calloc(cfg->slow_workers + cfg->slow_queue_len, sizeof(*s->shares));
		s->wqueue = calloc(s->cfg.contexts, sizeof(*s->wqueue));
		if (!s->queue || !s->slots || !s->threads || !s->squeue || !s->shares ||
		    !s->wqueue)
			rc = -ENOMEM;
	}
	if (!rc)
		rc = rmb_verifier_new(&s->cfg.verify, lookup, lookup_ctx, &s->verifier);
	/* Every connection may hold one frame in reception: the budget caps
	 * how many are open (docs/security.md has the resulting figure). */
	size_t max_msg = s->cfg.verify.max_msg ? s->cfg.verify.max_msg : RMB_MAX_MSG_DEFAULT;
	size_t cap = cfg->mem_budget / max_msg;
	if (cap < cfg->max_conns)
		s->cfg.max_conns = (unsigned)cap;
	if (!rc)
		rc = rmb_conns_new(s->cfg.max_conns, &s->conns);
	if (!rc)
		rc = rmb_fds_new(&s->fds);
	if (rc) {
		rmb_server_free(s);
		return rc;
	}
	s->rp.key = *node_key;
	s->rp.twin = twin_id;
	s->rp.ttl_s = cfg->reply_ttl_s;
	s->rp.max_msg = cfg->verify.max_msg;
	*out = s;
	return 0;
}

int rmb_server_register(struct rmb_server *s, const char *cmd, rmb_handler_fn fn, void *arg)
{
	return rmb_server_register_flags(s, cmd, fn, arg, 0);
}

int rmb_server_register_flags(struct rmb_server *s, const char *cmd, rmb_handler_fn fn,
			      void *arg, unsigned flags)
{
	struct rmb_env probe;
	if (s->started)
		return -EBUSY;
	rmb_env_init(&probe);
	if (!fn || !cmd[0] || rmb_env_set_cmd(&probe, cmd))
		return -EINVAL;
	for (size_t i = 0; i < s->nh; i++)
		if (!strcmp(s->h[i].cmd, cmd))
			return -EEXIST;
	struct handler *nh = realloc(s->h, (s->nh + 1) * sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	s->h = nh;
	char *c = strdup(cmd);
	if (!c)
		return -ENOMEM;
	s->h[s->nh++] = (struct handler){c, fn, arg, flags};
	return 0;
}

static const struct handler *find_handler(const struct rmb_server *s, const char *cmd)
{
	for (size_t i = 0; i < s->nh; i++)
		if (!strcmp(s->h[i].cmd, cmd))
			return &s->h[i];
	return NULL;
}

/* ---- the context state machine ---- */

static void slot_recv(struct slot *sl)
{
	sl->state = S_RECV;
	nng_aio_set_timeout(sl->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(sl->ctx, sl->aio);
}

/* The end of a send (sl->saio completed): bookkeeping, then receive
 * again unless the server is closing. */
static void send_done(struct slot *sl)
{
	struct rmb_server *s = sl->srv;
	int rv = nng_aio_result(sl->saio);
	rmb_conns_end(s->conns, sl->pipe, clk_mono_ms());
	if (rv) {
		/* A reply nng did not take stays ours. */
		nng_msg *m = nng_aio_get_msg(sl->saio);
		nng_aio_set_msg(sl->saio, NULL);
		if (m)
			nng_msg_free(m);
		atomic_fetch_add(&s->send_failed, 1);
	} else {
		atomic_fetch_add(&s->replied, 1);
	}
	if (rv != NNG_ECLOSED && !atomic_load(&s->closing))
		slot_recv(sl);
}

/* Sends rep (or, when no reply could be built, drops the request by
 * receiving again: the caller times out, which is all we can offer).
 *
 * saio has no callback: when the connection is not busy sending another
 * reply, nng hands the message to it and completes saio within
 * nng_ctx_send (rep0 takes the message out of the aio), or refuses it at
 * once with an error; either way this thread finishes the cycle and
 * receives again, and no nng thread is woken for a callback. A reply queued
 * behind another one on the same connection (a peer with several requests
 * in flight on it) completes later, on another thread: the send waiter
 * waits for it, so a peer that does not read its replies holds no worker. */
static void slot_send(struct slot *sl, nng_msg *rep)
{
	struct rmb_server *s = sl->srv;
	if (!rep) {
		rmb_conns_end(s->conns, sl->pipe, clk_mono_ms());
		slot_recv(sl);
		return;
	}
	sl->state = S_SEND;
	nng_aio_set_msg(sl->saio, rep);
	nng_aio_set_timeout(sl->saio, SEND_TIMEOUT_MS);
	nng_ctx_send(sl->ctx, sl->saio);
	/* Both read what nng wrote within the call, unless it queued the
	 * reply: then the connection's thread may be completing it right now,
	 * and we may see it done early, never the other way round. */
	if (!nng_aio_get_msg(sl->saio) || nng_aio_result(sl->saio)) {
		/* Completed: the wait returns at once (or as soon as the
		 * connection's thread is through) and orders what send_done
		 * reads after nng's writes. */
		nng_aio_wait(sl->saio);
		send_done(sl);
		return;
	}
	atomic_fetch_add(&s->send_queued, 1);
	pthread_mutex_lock(&s->mu);
	/* wqueue holds every context: it cannot be full. */
	s->wqueue[(s->wqhead + s->wqcount) % s->cfg.contexts] = sl;
	s->wqcount++;
	pthread_mutex_unlock(&s->mu);
	pthread_cond_signal(&s->wcv);
}

/* Waits for replies nng queued behind another on their connection
 * (slot_send), in order: each completes within SEND_TIMEOUT_MS of its send,
 * or when the socket closes. */
static void *send_waiter(void *arg)
{
	struct rmb_server *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->wqcount && !s->stopping)
			pthread_cond_wait(&s->wcv, &s->mu);
		if (!s->wqcount)
			break;
		struct slot *sl = s->wqueue[s->wqhead];
		s->wqhead = (s->wqhead + 1) % s->cfg.contexts;
		s->wqcount--;
		pthread_mutex_unlock(&s->mu);
		nng_aio_wait(sl->saio);
		send_done(sl);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Under mu: whether to wake a thread for the queue, counting it as on its
 * way. A worker that is running takes the next request when it is done,
 * and one already signalled takes one as it wakes: wake another only when
 * the queue holds more requests than the threads on their way to it, and
 * fewer than `workers` would then be active. Waking more would only add
 * context switches. */
static int want_worker(struct rmb_server *s)
{
	if (s->idle > s->waking && s->qcount > s->waking &&
	    s->active + s->waking < s->cfg.workers) {
		s->waking++;
		return 1;
	}
	return 0;
}

/* Queues sl for a worker; 0 when the queue is full or the server stops. */
static int enqueue(struct rmb_server *s, struct slot *sl)
{
	int ok = 0, wake = 0;
	pthread_mutex_lock(&s->mu);
	if (!s->stopping && s->qcount < s->cfg.queue_len) {
		s->queue[(s->qhead + s->qcount) % s->cfg.queue_len] = sl;
		s->qcount++;
		sl->state = S_WORK;
		ok = 1;
		wake = want_worker(s);
	}
	pthread_mutex_unlock(&s->mu);
	/* Signalled after the unlock: a worker woken under the lock would
	 * only block again on it. */
	if (wake)
		pthread_cond_signal(&s->cv);
	return ok;
}

static void slot_cb(void *arg)
{
	struct slot *sl = arg;
	struct rmb_server *s = sl->srv;
	int rv = nng_aio_result(sl->aio);

	if (sl->state != S_RECV)
		return;
	if (rv) {
		/* Closed or cancelled means the server stops; anything else is
		 * one connection's trouble and must not stop this context. */
		if (rv != NNG_ECLOSED && rv != NNG_ECANCELED)
			slot_recv(sl);
		return;
	}
	atomic_fetch_add(&s->received, 1);
	sl->req = nng_aio_get_msg(sl->aio);
	sl->pipe = nng_pipe_id(nng_msg_get_pipe(sl->req));
	rmb_conns_begin(s->conns, sl->pipe);
	if (enqueue(s, sl))
		return;
	if (atomic_load(&s->closing)) {
		nng_msg_free(sl->req);
		sl->req = NULL;
		return;
	}
	/* No worker can take it soon: answer at once rather than hold a context. */
	atomic_fetch_add(&s->busy, 1);
	nng_msg *rep = rmb_reply_busy(&s->rp, nng_msg_body(sl->req), nng_msg_len(sl->req));
	nng_msg_free(sl->req);
	sl->req = NULL;
	slot_send(sl, rep);
}

/* ---- workers ---- */

/* Runs h for a verified request and builds its reply. */
static nng_msg *run_handler(struct rmb_server *s, const struct handler *h, struct rmb_env *env,
			    const cJSON *payload)
{
	struct rmb_error err;
	cJSON *out = NULL;
	int failed = 0;
	memset(&err, 0, sizeof(err));
	struct rmb_call call = {env->src, env->cmd, env->uid, payload};
	int rc = h->fn(h->arg, &call, &out, &err);
	if (rc < 0) {
		cJSON_Delete(out);
		out = NULL;
		if (!err.code)
			rmb_error_set(&err, RMB_E_INTERNAL, zerr_transient(rc), "%s", zerr_str(rc));
		if (err.retry)
			rmb_verify_forget(s->verifier, env);
		failed = 1;
	}
	nng_msg *rep = rmb_reply_build(&s->rp, env, failed ? &err : NULL, out);
	cJSON_Delete(out);
	return rep;
}

static struct share *share_of(struct rmb_server *s, uint32_t twin)
{
	unsigned n = s->cfg.slow_workers + s->cfg.slow_queue_len;
	struct share *free_one = NULL;
	for (unsigned i = 0; i < n; i++) {
		if (s->shares[i].n && s->shares[i].twin == twin)
			return &s->shares[i];
		if (!s->shares[i].n && !free_one)
			free_one = &s->shares[i];
	}
	if (free_one)
		free_one->twin = twin;
	return free_one;
}

enum { SLOW_BUSY = 0, SLOW_HERE, SLOW_QUEUED };

/* Admits a verified slow request within its twin's share: SLOW_HERE (the
 * thread that verified it runs it, as one of at most slow_workers, and
 * leaves its place among the `workers` active ones to another thread),
 * SLOW_QUEUED (it waits for a running one to end: run_queued_slow), or
 * SLOW_BUSY when the twin has its share in progress or the slow queue is
 * full; *twin_n is the twin's count for the busy message. */
static int slow_admit(struct rmb_server *s, struct slot *sl, unsigned *twin_n)
{
	int how = SLOW_BUSY, wake = 0;
	pthread_mutex_lock(&s->mu);
	struct share *sh = share_of(s, sl->env.src);
	*twin_n = sh ? sh->n : 0;
	if (!s->stopping && sh && sh->n < s->cfg.twin_slow_max) {
		/* Requests queued came first: they go before this one. */
		if (!s->sqcount && s->slow_running < s->cfg.slow_workers) {
			/* This thread leaves the `workers` active ones: another
			 * may take the queue meanwhile. */
			s->slow_running++;
			s->active--;
			wake = want_worker(s);
			how = SLOW_HERE;
		} else if (s->sqcount < s->cfg.slow_queue_len) {
			s->squeue[(s->sqhead + s->sqcount) % s->cfg.slow_queue_len] = sl;
			s->sqcount++;
			how = SLOW_QUEUED;
		}
		if (how != SLOW_BUSY) {
			sh->n++;
			s->slow_pending++;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (wake)
		pthread_cond_signal(&s->cv);
	return how;
}

/* A slow handler of twin ended. Returns the next queued slow request,
 * which takes over its place among the running ones (the caller runs it),
 * or NULL when none waits (the place is free). */
static struct slot *slow_done(struct rmb_server *s, uint32_t twin)
{
	struct slot *next = NULL;
	pthread_mutex_lock(&s->mu);
	struct share *sh = share_of(s, twin);
	if (sh && sh->n)
		sh->n--;
	s->slow_pending--;
	if (s->sqcount && !s->stopping) {
		next = s->squeue[s->sqhead];
		s->sqhead = (s->sqhead + 1) % s->cfg.slow_queue_len;
		s->sqcount--;
	} else {
		s->slow_running--;
	}
	pthread_mutex_unlock(&s->mu);
	return next;
}

/* Runs the queued slow requests that the one just ended hands over, each
 * on this thread: no other thread is woken for them. */
static void run_queued_slow(struct rmb_server *s, struct slot *sl)
{
	while (sl) {
		nng_msg *rep = run_handler(s, sl->h, &sl->env, sl->payload);
		struct slot *next = slow_done(s, sl->env.src);
		cJSON_Delete(sl->payload);
		sl->payload = NULL;
		sl->h = NULL;
		rmb_env_clear(&sl->env);
		slot_send(sl, rep);
		sl = next;
	}
}

/* Verifies req and runs its handler here; a slow one admitted but not
 * runnable yet waits in the slow queue (returns NULL with *handed set).
 * *next is a queued slow request for the caller to run after replying;
 * *counted is cleared when this thread ran a slow handler and so no longer
 * counts among the active ones. */
static nng_msg *process(struct rmb_server *s, struct slot *sl, nng_msg *req, int *handed,
			struct slot **next, int *counted)
{
	struct rmb_env env;
	struct rmb_error err;
	cJSON *payload = NULL;
	nng_msg *rep;

	*handed = 0;
	*next = NULL;
	*counted = 1;
	rmb_env_init(&env);
	memset(&err, 0, sizeof(err));
	int rc = rmb_verify_request(s->verifier, nng_msg_body(req), nng_msg_len(req),
				    clk_wall_s(), clk_mono_ms(), &env, &payload, &err);
	if (rc) {
		atomic_fetch_add(&s->refused, 1);
		log_debug("rmb", "refused request from twin %u: %u %s", env.src, err.code,
			  err.message);
		rep = rmb_reply_build(&s->rp, &env, &err, NULL);
		rmb_env_clear(&env);
		return rep;
	}
	atomic_fetch_add(&s->accepted, 1);
	const struct handler *h = find_handler(s, env.cmd);
	if (!h) {
		rmb_error_set(&err, RMB_E_UNKNOWN_CMD, 0, "unknown command '%s'", env.cmd);
		rep = rmb_reply_build(&s->rp, &env, &err, NULL);
	} else if (h->flags & RMB_H_SLOW) {
		unsigned n = 0;
		sl->h = h;
		sl->env = env;
		sl->payload = payload;
		int how = slow_admit(s, sl, &n);
		if (how == SLOW_QUEUED) {
			*handed = 1;
			return NULL;
		}
		/* The request stays env's and payload's, run here or refused. */
		sl->payload = NULL;
		sl->h = NULL;
		rmb_env_init(&sl->env);
		if (how == SLOW_HERE) {
			*counted = 0; /* slow_admit took it off the active ones */
			atomic_fetch_add(&s->slow_inplace, 1);
			rep = run_handler(s, h, &env, payload);
			*next = slow_done(s, env.src);
		} else {
			atomic_fetch_add(&s->busy, 1);
			/* Nothing was done: the same envelope may be retried. */
			rmb_verify_forget(s->verifier, &env);
			if (n >= s->cfg.twin_slow_max)
				rmb_error_set(&err, RMB_E_BUSY, 1,
					      "busy: twin %u already has %u requests in progress; "
					      "retry later",
					      env.src, n);
			else
				rmb_error_set(&err, RMB_E_BUSY, 1,
					      "busy: too many requests in progress, retry later");
			rep = rmb_reply_build(&s->rp, &env, &err, NULL);
		}
	} else {
		rep = run_handler(s, h, &env, payload);
	}
	cJSON_Delete(payload);
	rmb_env_clear(&env);
	return rep;
}

static void *worker(void *arg)
{
	struct rmb_server *s = arg;
	int counted = 0; /* this thread is among the active ones */
	for (;;) {
		pthread_mutex_lock(&s->mu);
		if (counted)
			s->active--;
		while ((!s->qcount || s->active >= s->cfg.workers) && !s->stopping) {
			s->idle++;
			pthread_cond_wait(&s->cv, &s->mu);
			s->idle--;
			/* Back on mu: this worker is no longer on its way, whether
			 * it was the one signalled or not. */
			if (s->waking)
				s->waking--;
		}
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		struct slot *sl = s->queue[s->qhead];
		s->qhead = (s->qhead + 1) % s->cfg.queue_len;
		s->qcount--;
		s->active++;
		pthread_mutex_unlock(&s->mu);

		nng_msg *req = sl->req;
		struct slot *next;
		int handed;
		sl->req = NULL;
		nng_msg *rep = process(s, sl, req, &handed, &next, &counted);
		nng_msg_free(req);
		if (!handed)
			slot_send(sl, rep);
		run_queued_slow(s, next);
	}
}

/* Ends connections by id (rmb_pipe.h says why not with nng_pipe_close). */
static void end_conns(struct rmb_server *s, const uint32_t *ids, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		nng_pipe p = NNG_PIPE_INITIALIZER;
		p.id = ids[i];
		rmb_pipe_end(s->fds, p);
	}
}

/* Ends connections that completed no frame within frame_timeout_ms and
 * have nothing in progress: half-sent frames do not pin memory forever. */
static void *sweeper(void *arg)
{
	struct rmb_server *s = arg;
	uint32_t ids[SWEEP_MAX];
	uint64_t period = s->cfg.frame_timeout_ms / 4;
	if (period < 20)
		period = 20;
	if (period > 1000)
		period = 1000;
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		struct timespec ts = clk_after(CLOCK_MONOTONIC, period);
		pthread_cond_timedwait(&s->rcv, &s->mu, &ts);
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->mu);
		unsigned n = rmb_conns_stale(s->conns, clk_mono_ms(), s->cfg.frame_timeout_ms, ids,
					     SWEEP_MAX);
		end_conns(s, ids, n);
		atomic_fetch_add(&s->timed_out, n);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- connections ---- */

/* When the table is full the oldest connection makes room for the new one
 * (rmb_conns.h). It is ended outside any lock of ours: a pipe closed by
 * nng runs its REM_POST callback, which takes the table's lock. */
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct rmb_server *s = arg;
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		uint32_t victim;
		rmb_conns_add(s->conns, nng_pipe_id(p), &victim);
		if (victim) {
			atomic_fetch_add(&s->displaced, 1);
			end_conns(s, &victim, 1);
		}
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		rmb_conns_remove(s->conns, nng_pipe_id(p));
	}
}

/* ---- lifecycle ---- */

static int open_socket(struct rmb_server *s)
{
	int rv = nng_rep0_open(&s->sock);
	if (rv)
		return -ENOMEM;
	s->sock_open = 1;
	rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->cfg.verify.max_msg);
	if (!rv)
		rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, s);
	if (!rv)
		rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_cb, s);
	for (size_t i = 0; !rv && i < s->cfg.nlisten; i++) {
		rv = nng_listener_create(&s->lst[i], s->sock, s->listen[i]);
		if (!rv)
			rv = nng_listener_set_size(s->lst[i], NNG_OPT_RECVMAXSZ,
						   s->cfg.verify.max_msg);
		/* ipc is for local tools of the node's own user. It is also
		 * where nng 1.5 mishandles an oversized frame (other ipc
		 * requests stall for seconds), so strangers stay out. */
		if (!rv && !strncmp(s->listen[i], "ipc://", 6))
			rv = nng_listener_set_int(s->lst[i], NNG_OPT_IPC_PERMISSIONS, 0600);
		if (!rv)
			rv = nng_listener_start(s->lst[i], 0);
		if (rv)
			log_err("rmb", "cannot listen on %s: %s", s->listen[i], nng_strerror(rv));
	}
	if (rv)
		return rv == NNG_EADDRINUSE ? -EADDRINUSE : rv == NNG_EADDRINVAL ? ZE_CONFIG : -EIO;
	return 0;
}

static int start_slots(struct rmb_server *s)
{
	for (unsigned i = 0; i < s->cfg.contexts; i++) {
		struct slot *sl = &s->slots[i];
		sl->srv = s;
		if (nng_aio_alloc(&sl->aio, slot_cb, sl) || nng_aio_alloc(&sl->saio, NULL, NULL))
			return -ENOMEM;
		if (nng_ctx_open(&sl->ctx, s->sock))
			return -ENOMEM;
	}
	for (unsigned i = 0; i < s->cfg.contexts; i++)
		slot_recv(&s->slots[i]);
	return 0;
}

int rmb_server_start(struct rmb_server *s)
{
	if (s->started)
		return -EBUSY;
	s->started = 1;
	/* nng allocates a whole frame (up to max_msg) as soon as its length
	 * header arrives. A fixed mmap threshold keeps such buffers out of the
	 * heap: pages a peer never sent are never resident, and a dropped
	 * connection's buffer goes back to the OS instead of staying in the
	 * heap after a flood. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	int rc = open_socket(s);
	/* One pool: at most `workers` of its threads verify and run other
	 * handlers, at most slow_workers run slow ones, so there is always a
	 * thread for each place. Named, so that a profile tells them from
	 * nng's threads. */
	for (unsigned i = 0; !rc && i < s->cfg.workers + s->cfg.slow_workers; i++) {
		if (pthread_create(&s->threads[i], NULL, worker, s))
			rc = -EAGAIN;
		else
			pthread_setname_np(s->threads[s->nthreads++], "rmb-worker");
	}
	if (!rc) {
		if (pthread_create(&s->sweeper, NULL, sweeper, s))
			rc = -EAGAIN;
		else {
			s->sweeper_started = 1;
			pthread_setname_np(s->sweeper, "rmb-sweeper");
		}
	}
	if (!rc) {
		if (pthread_create(&s->waiter, NULL, send_waiter, s))
			rc = -EAGAIN;
		else {
			s->waiter_started = 1;
			pthread_setname_np(s->waiter, "rmb-send");
		}
	}
	if (!rc)
		rc = start_slots(s);
	if (rc) {
		rmb_server_stop(s);
		return rc;
	}
	log_info("rmb",
		 "serving twin %u on %zu address(es), %u contexts, %u workers, %u slow workers, "
		 "%u connections",
		 s->rp.twin, s->cfg.nlisten, s->cfg.contexts, s->cfg.workers, s->cfg.slow_workers,
		 s->cfg.max_conns);
	return 0;
}

int rmb_server_tcp_port(struct rmb_server *s, size_t idx, int *port)
{
	if (!s->sock_open || idx >= s->cfg.nlisten)
		return -EINVAL;
	return nng_listener_get_int(s->lst[idx], NNG_OPT_TCP_BOUND_PORT, port) ? -EINVAL : 0;
}

/* Stops accepting, ends every connection and waits, at most
 * RMB_DRAIN_WAIT_MS, for nng to remove them. */
static void drain_conns(struct rmb_server *s)
{
	uint32_t ids[SWEEP_MAX];
	unsigned n;
	for (size_t i = 0; i < s->cfg.nlisten; i++)
		nng_listener_close(s->lst[i]);
	while ((n = rmb_conns_take_all(s->conns, ids, SWEEP_MAX)) > 0)
		end_conns(s, ids, n);
	struct timespec ts = {0, 10 * 1000000L};
	for (unsigned i = 0; i < RMB_DRAIN_WAIT_MS / 10 && rmb_conns_count(s->conns); i++)
		nanosleep(&ts, NULL);
}

/* A server whose socket did not close within RMB_CLOSE_WAIT_MS
 * (rmb_close_bounded) is never freed: the socket may still call into it. */
#define RMB_CLOSE_WAIT_MS 5000
#define ABANDONED_MAX 16
static struct rmb_server *abandoned[ABANDONED_MAX];
static atomic_uint abandoned_n;

void rmb_server_stop(struct rmb_server *s)
{
	if (!s->started || s->stopping)
		return;
	atomic_store(&s->closing, 1);
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_cond_broadcast(&s->rcv);
	pthread_cond_broadcast(&s->wcv);
	pthread_mutex_unlock(&s->mu);
	/* Workers finish their current handler and send its reply while the
	 * socket is still open: sending on a context racing with nng_close is
	 * not safe in nng 1.5. */
	for (size_t i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	s->nthreads = 0;
	if (s->sweeper_started)
		pthread_join(s->sweeper, NULL);
	s->sweeper_started = 0;
	/* The connections are ended first, the way the sweeper ends them
	 * (rmb_pipe.h): nng_close would close them with nng_pipe_close. */
	if (s->sock_open)
		drain_conns(s);
	/* Closing the socket fails every pending receive and send; callbacks
	 * see NNG_ECLOSED and do not re-arm. */
	if (s->sock_open && rmb_close_bounded(s->sock, RMB_CLOSE_WAIT_MS) < 0) {
		/* The socket may still call into the slots: nothing of the
		 * server is released (rmb_server_free keeps it). */
		log_warn("rmb", "the socket did not close within %d s (libnng); leaving it "
			 "to the process's exit", RMB_CLOSE_WAIT_MS / 1000);
		s->abandoned = 1;
		return;
	}
	s->sock_open = 0;
	/* The close failed the replies still queued in nng: the send waiter
	 * sees them end, and ends. */
	if (s->waiter_started)
		pthread_join(s->waiter, NULL);
	s->waiter_started = 0;
	for (unsigned i = 0; i < s->cfg.contexts; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->aio)
			nng_aio_stop(sl->aio);
		if (sl->saio) {
			/* A reply queued after the waiter ended. */
			nng_aio_stop(sl->saio);
			nng_msg *m = nng_aio_get_msg(sl->saio);
			nng_aio_set_msg(sl->saio, NULL);
			if (m)
				nng_msg_free(m);
		}
	}
	/* Requests still queued were never answered; their callers time out. */
	for (; s->qcount; s->qcount--) {
		struct slot *sl = s->queue[s->qhead];
		s->qhead = (s->qhead + 1) % s->cfg.queue_len;
		nng_msg_free(sl->req);
		sl->req = NULL;
	}
	for (; s->sqcount; s->sqcount--) {
		struct slot *sl = s->squeue[s->sqhead];
		s->sqhead = (s->sqhead + 1) % s->cfg.slow_queue_len;
		cJSON_Delete(sl->payload);
		sl->payload = NULL;
		rmb_env_clear(&sl->env);
	}
}

void rmb_server_free(struct rmb_server *s)
{
	if (!s)
		return;
	rmb_server_stop(s);
	if (s->abandoned) {
		/* Kept, and reachable, for the socket that never closed. */
		sodium_memzero(&s->rp.key, sizeof(s->rp.key));
		unsigned i = atomic_fetch_add(&abandoned_n, 1);
		if (i < ABANDONED_MAX)
			abandoned[i] = s;
		return;
	}
	for (unsigned i = 0; s->slots && i < s->cfg.contexts; i++) {
		if (s->slots[i].aio)
			nng_aio_free(s->slots[i].aio);
		if (s->slots[i].saio)
			nng_aio_free(s->slots[i].saio);
	}
	for (size_t i = 0; i < s->nh; i++)
		free(s->h[i].cmd);
	free(s->h);
	for (size_t i = 0; i < RMB_LISTEN_MAX; i++)
		free(s->listen[i]);
	rmb_verifier_free(s->verifier);
	rmb_conns_free(s->conns);
	rmb_fds_free(s->fds);
	free(s->queue);
	free(s->slots);
	free(s->threads);
	free(s->squeue);
	free(s->shares);
	free(s->wqueue);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->wcv);
	pthread_cond_destroy(&s->rcv);
	sodium_memzero(&s->rp.key, sizeof(s->rp.key));
	free(s);
}

void rmb_server_get_stats(struct rmb_server *s, struct rmb_server_stats *st)
{
	st->received = atomic_load(&s->received);
	st->accepted = atomic_load(&s->accepted);
	st->refused = atomic_load(&s->refused);
	st->busy = atomic_load(&s->busy);
	st->replied = atomic_load(&s->replied);
	st->send_failed = atomic_load(&s->send_failed);
	st->replay_entries = s->verifier ? rmb_verify_replay_count(s->verifier) : 0;
	st->displaced = atomic_load(&s->displaced);
	st->conns = s->conns ? rmb_conns_count(s->conns) : 0;
	st->timed_out = atomic_load(&s->timed_out);
	st->slow_inplace = atomic_load(&s->slow_inplace);
	st->send_queued = atomic_load(&s->send_queued);
	pthread_mutex_lock(&s->mu);
	st->slow_pending = s->slow_pending;
	pthread_mutex_unlock(&s->mu);
}
