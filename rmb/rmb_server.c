/*
 * RMB server: nng plumbing, worker pool and lifecycle. What a request goes
 * through is rmb_verify; how a reply is built is rmb_reply.c.
 *
 * Each nng context cycles RECV -> (queued, worker) -> SEND -> RECV. The aio
 * callback only moves messages: it never verifies or runs a handler, so the
 * nng threads stay free to receive.
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

#include "common/log.h"
#include "common/zerr.h"
#include "rmb/rmb_conns.h"
#include "rmb/rmb_reply.h"

enum { S_IDLE = 0, S_RECV, S_WORK, S_SEND };

struct slot {
	struct rmb_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	nng_msg *req;
};

struct handler {
	char *cmd;
	rmb_handler_fn fn;
	void *arg;
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
	pthread_t *threads;
	size_t nthreads;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot **queue;
	size_t qhead, qcount;
	int started, stopping;

	atomic_int closing; /* set before the workers stop: callbacks stop sending */
	struct rmb_conns *conns;
	atomic_uint_fast64_t received, accepted, refused, busy, replied, send_failed, displaced;
};

void rmb_server_cfg_init(struct rmb_server_cfg *c)
{
	memset(c, 0, sizeof(*c));
	rmb_verify_cfg_init(&c->verify);
	c->contexts = 0;
	c->workers = 4;
	c->queue_len = 32;
	c->max_conns = 1024;
	c->reply_ttl_s = 60;
}

int rmb_server_new(const struct rmb_server_cfg *cfg, const struct zkey *node_key,
		   uint32_t twin_id, rmb_twin_lookup_fn lookup, void *lookup_ctx,
		   struct rmb_server **out)
{
	if (sodium_init() < 0)
		return -EIO;
	if (!cfg->nlisten || cfg->nlisten > RMB_LISTEN_MAX || !cfg->workers ||
	    cfg->workers > 1024 || !cfg->queue_len || cfg->queue_len > 65536 ||
	    (cfg->contexts && cfg->contexts <= cfg->workers + cfg->queue_len) ||
	    !cfg->max_conns || !cfg->reply_ttl_s || !lookup)
		return ZE_CONFIG;
	struct rmb_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	/* Contexts beyond those a request can hold (workers + queue) are the
	 * ones that keep receiving, and answer "busy", under any load. */
	if (!s->cfg.contexts)
		s->cfg.contexts = cfg->workers + cfg->queue_len + 32;
	s->cfg.verify.self_twin = twin_id;
	int rc = 0;
	for (size_t i = 0; i < cfg->nlisten && !rc; i++) {
		s->listen[i] = cfg->listen[i] ? strdup(cfg->listen[i]) : NULL;
		s->cfg.listen[i] = s->listen[i];
		if (!s->listen[i])
			rc = cfg->listen[i] ? -ENOMEM : ZE_CONFIG;
	}
	if (!rc && (pthread_mutex_init(&s->mu, NULL) || pthread_cond_init(&s->cv, NULL)))
		rc = -ENOMEM;
	if (!rc) {
		s->queue = calloc(cfg->queue_len, sizeof(*s->queue));
		s->slots = calloc(s->cfg.contexts, sizeof(*s->slots));
		s->threads = calloc(cfg->workers, sizeof(*s->threads));
		if (!s->queue || !s->slots || !s->threads)
			rc = -ENOMEM;
	}
	if (!rc)
		rc = rmb_verifier_new(&s->cfg.verify, lookup, lookup_ctx, &s->verifier);
	if (!rc)
		rc = rmb_conns_new(cfg->max_conns, &s->conns);
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
	s->h[s->nh++] = (struct handler){c, fn, arg};
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
	nng_ctx_recv(sl->ctx, sl->aio);
}

/* Sends rep (or, when no reply could be built, drops the request by
 * receiving again: the caller times out, which is all we can offer). */
static void slot_send(struct slot *sl, nng_msg *rep)
{
	if (!rep) {
		slot_recv(sl);
		return;
	}
	sl->state = S_SEND;
	nng_aio_set_msg(sl->aio, rep);
	nng_ctx_send(sl->ctx, sl->aio);
}

/* Queues sl for a worker; 0 when the queue is full or the server stops. */
static int enqueue(struct rmb_server *s, struct slot *sl)
{
	int ok = 0;
	pthread_mutex_lock(&s->mu);
	if (!s->stopping && s->qcount < s->cfg.queue_len) {
		s->queue[(s->qhead + s->qcount) % s->cfg.queue_len] = sl;
		s->qcount++;
		sl->state = S_WORK;
		ok = 1;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static void slot_cb(void *arg)
{
	struct slot *sl = arg;
	struct rmb_server *s = sl->srv;
	int rv = nng_aio_result(sl->aio);

	if (sl->state == S_SEND) {
		if (rv) {
			nng_msg_free(nng_aio_get_msg(sl->aio));
			atomic_fetch_add(&s->send_failed, 1);
		} else {
			atomic_fetch_add(&s->replied, 1);
		}
		if (rv != NNG_ECLOSED && !atomic_load(&s->closing))
			slot_recv(sl);
		return;
	}
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

static nng_msg *process(struct rmb_server *s, nng_msg *req)
{
	struct rmb_env env;
	struct rmb_error err;
	cJSON *payload = NULL, *out = NULL;
	int failed = 0;

	rmb_env_init(&env);
	memset(&err, 0, sizeof(err));
	int rc = rmb_verify_request(s->verifier, nng_msg_body(req), nng_msg_len(req),
				    rmb_wall_s(), rmb_mono_ms(), &env, &payload, &err);
	if (rc) {
		atomic_fetch_add(&s->refused, 1);
		log_debug("rmb", "refused request from twin %u: %u %s", env.src, err.code,
			  err.message);
		failed = 1;
	} else {
		atomic_fetch_add(&s->accepted, 1);
		const struct handler *h = find_handler(s, env.cmd);
		if (!h) {
			rmb_error_set(&err, RMB_E_UNKNOWN_CMD, 0, "unknown command '%s'", env.cmd);
			failed = 1;
		} else {
			struct rmb_call call = {env.src, env.cmd, env.uid, payload};
			rc = h->fn(h->arg, &call, &out, &err);
			if (rc < 0) {
				cJSON_Delete(out);
				out = NULL;
				if (!err.code)
					rmb_error_set(&err, RMB_E_INTERNAL, zerr_transient(rc), "%s",
						      zerr_str(rc));
				if (err.retry)
					rmb_verify_forget(s->verifier, &env);
				failed = 1;
			}
		}
	}
	nng_msg *rep = rmb_reply_build(&s->rp, &env, failed ? &err : NULL, out);
	cJSON_Delete(out);
	cJSON_Delete(payload);
	rmb_env_clear(&env);
	return rep;
}

static void *worker(void *arg)
{
	struct rmb_server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->qcount && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		struct slot *sl = s->queue[s->qhead];
		s->qhead = (s->qhead + 1) % s->cfg.queue_len;
		s->qcount--;
		pthread_mutex_unlock(&s->mu);

		nng_msg *req = sl->req;
		sl->req = NULL;
		nng_msg *rep = process(s, req);
		nng_msg_free(req);
		slot_send(sl, rep);
	}
}

/* ---- connections ---- */

/* When the table is full the oldest connection makes room for the new one
 * (rmb_conns.h). It is closed outside any lock of ours: closing a pipe
 * runs its REM_POST callback, which takes the table's lock. */
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct rmb_server *s = arg;
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		uint32_t victim;
		rmb_conns_add(s->conns, nng_pipe_id(p), &victim);
		if (victim) {
			nng_pipe old = NNG_PIPE_INITIALIZER;
			old.id = victim;
			atomic_fetch_add(&s->displaced, 1);
			nng_pipe_close(old);
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
		if (nng_aio_alloc(&sl->aio, slot_cb, sl))
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
	for (unsigned i = 0; !rc && i < s->cfg.workers; i++) {
		if (pthread_create(&s->threads[i], NULL, worker, s))
			rc = -EAGAIN;
		else
			s->nthreads++;
	}
	if (!rc)
		rc = start_slots(s);
	if (rc) {
		rmb_server_stop(s);
		return rc;
	}
	log_info("rmb", "serving twin %u on %zu address(es), %u contexts, %u workers",
		 s->rp.twin, s->cfg.nlisten, s->cfg.contexts, s->cfg.workers);
	return 0;
}

int rmb_server_tcp_port(struct rmb_server *s, size_t idx, int *port)
{
	if (!s->sock_open || idx >= s->cfg.nlisten)
		return -EINVAL;
	return nng_listener_get_int(s->lst[idx], NNG_OPT_TCP_BOUND_PORT, port) ? -EINVAL : 0;
}

void rmb_server_stop(struct rmb_server *s)
{
	if (!s->started || s->stopping)
		return;
	atomic_store(&s->closing, 1);
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* Workers finish their current handler and send its reply while the
	 * socket is still open: sending on a context racing with nng_close is
	 * not safe in nng 1.5. */
	for (size_t i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	s->nthreads = 0;
	/* Closing the socket fails every pending receive and send; callbacks
	 * see NNG_ECLOSED and do not re-arm. */
	if (s->sock_open)
		nng_close(s->sock);
	for (unsigned i = 0; i < s->cfg.contexts; i++)
		if (s->slots[i].aio)
			nng_aio_stop(s->slots[i].aio);
	/* Requests still queued were never answered; their callers time out. */
	for (; s->qcount; s->qcount--) {
		struct slot *sl = s->queue[s->qhead];
		s->qhead = (s->qhead + 1) % s->cfg.queue_len;
		nng_msg_free(sl->req);
		sl->req = NULL;
	}
}

void rmb_server_free(struct rmb_server *s)
{
	if (!s)
		return;
	rmb_server_stop(s);
	for (unsigned i = 0; s->slots && i < s->cfg.contexts; i++)
		if (s->slots[i].aio)
			nng_aio_free(s->slots[i].aio);
	for (size_t i = 0; i < s->nh; i++)
		free(s->h[i].cmd);
	free(s->h);
	for (size_t i = 0; i < RMB_LISTEN_MAX; i++)
		free(s->listen[i]);
	rmb_verifier_free(s->verifier);
	rmb_conns_free(s->conns);
	free(s->queue);
	free(s->slots);
	free(s->threads);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
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
}
