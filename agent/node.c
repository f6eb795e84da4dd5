/* The node's shared pieces: life cycle, status line, worker threads. */
#include "agent/node_int.h"

#include "agent/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "rmb/rmb_chain.h"
#include "common/zerr.h"

int node_worker_init(struct node_worker *w)
{
	memset(w, 0, sizeof *w);
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return -ENOMEM;
	int rc = clk_cond_init(&w->cv);
	if (rc < 0) {
		pthread_mutex_destroy(&w->mu);
		return rc;
	}
	return 0;
}

void node_worker_destroy(struct node_worker *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

int node_worker_start(struct node_worker *w, const char *name, void *(*fn)(void *), void *arg)
{
	pthread_mutex_lock(&w->mu);
	w->stop = 0;
	pthread_mutex_unlock(&w->mu);
	int rc = pthread_create(&w->thread, NULL, fn, arg);
	if (rc != 0)
		return -rc;
	pthread_setname_np(w->thread, name);
	w->running = 1;
	return 0;
}

void node_worker_stop(struct node_worker *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->running = 0;
}

int node_worker_stopping(struct node_worker *w)
{
	pthread_mutex_lock(&w->mu);
	int stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

int node_worker_sleep(struct node_worker *w, long ms)
{
	struct timespec until = clk_after(CLOCK_MONOTONIC, ms);
	pthread_mutex_lock(&w->mu);
	while (!w->stop && !w->kick && pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
		;
	w->kick = 0;
	int stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

void node_worker_kick(struct node_worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->kick = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void on_outcome(void *ud, struct chain_outcome *o)
{
	struct node_worker *w = ud;
	pthread_mutex_lock(&w->mu);
	w->call_done = 1;
	w->call_status = o->status;
	snprintf(w->call_error, sizeof w->call_error, "%s", o->error);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int node_submit(struct agent_node *n, struct node_worker *w, const char *pallet,
		const char *call, cJSON *args, enum chain_outcome_status *st, char *error,
		size_t errsz)
{
	pthread_mutex_lock(&w->mu);
	w->call_done = 0;
	w->call_error[0] = '\0';
	pthread_mutex_unlock(&w->mu);
	int rc = chain_submit_async(n->submitter, pallet, call, args, on_outcome, w);
	if (rc < 0) {
		snprintf(error, errsz, "not queued: %s", zerr_str(rc));
		return rc;
	}
	/* The submitter gives every call a final outcome within its give-up
	 * window; only a stop request ends the wait earlier. */
	pthread_mutex_lock(&w->mu);
	while (!w->call_done && !w->stop)
		pthread_cond_wait(&w->cv, &w->mu);
	rc = w->call_done ? 0 : ZE_STATE;
	*st = w->call_status;
	snprintf(error, errsz, "%s", rc ? "stopping" : w->call_error);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void node_status(struct agent_node *n, int warn, const char *fmt, ...)
{
	char line[NODE_STATUS_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&n->status_mu);
	int changed = strcmp(line, n->status) != 0;
	if (changed) {
		memcpy(n->status, line, sizeof line);
		n->status_gen++;
	}
	pthread_mutex_unlock(&n->status_mu);
	if (!changed)
		return;
	if (warn)
		log_warn("node", "%s", line);
	else
		log_info("node", "%s", line);
}

void node_status_flush(struct agent_node *n)
{
	char line[NODE_STATUS_MAX], note[sizeof n->vm_note];
	/* A reload makes the daemon send its own STATUS: send ours again. */
	int again = n->a->reloads + n->a->rejected_reloads != n->reloads_seen;
	pthread_mutex_lock(&n->status_mu);
	if (n->status_gen == n->status_sent && !again) {
		pthread_mutex_unlock(&n->status_mu);
		return;
	}
	n->status_sent = n->status_gen;
	memcpy(line, n->status, sizeof line);
	memcpy(note, n->vm_note, sizeof note);
	pthread_mutex_unlock(&n->status_mu);
	n->reloads_seen = n->a->reloads + n->a->rejected_reloads;
	sd_notifyf(0, "STATUS=%s%s%s", line, note[0] ? ", " : "", note);
}

void node_relay_of(const struct cfg *c, char *out, size_t outsz)
{
	out[0] = '\0';
	/* Published in the form tfchain's runtime accepts in relay (a host,
	 * or IPv4.PORT); rmb_relay_first turns it back into the URL. */
	if (c->rmb_public_address[0]) {
		if (rmb_relay_compact(c->rmb_public_address, out, outsz) < 0)
			out[0] = '\0';
		return;
	}
	/* A wildcard address says where to listen, not where to dial. */
	for (unsigned i = 0; i < c->rmb_listen.n; i++) {
		const char *u = c->rmb_listen.v[i];
		if (strncmp(u, "tcp://", 6) != 0 || strncmp(u + 6, "0.0.0.0:", 8) == 0 ||
		    strncmp(u + 6, "[::]:", 5) == 0 || strncmp(u + 6, "*:", 2) == 0 ||
		    u[6] == ':')
			continue;
		if (rmb_relay_compact(u, out, outsz) < 0)
			out[0] = '\0';
		return;
	}
}

int agent_node_new(struct agent_node **out)
{
	struct agent_node *n = calloc(1, sizeof *n);
	if (!n)
		return -ENOMEM;
	int rc = node_worker_init(&n->reg);
	if (rc == 0 && (rc = node_worker_init(&n->follow)) != 0)
		node_worker_destroy(&n->reg);
	if (rc == 0 && (rc = node_worker_init(&n->report)) != 0) {
		node_worker_destroy(&n->follow);
		node_worker_destroy(&n->reg);
	}
	if (rc == 0 && pthread_mutex_init(&n->status_mu, NULL) != 0) {
		node_worker_destroy(&n->report);
		node_worker_destroy(&n->follow);
		node_worker_destroy(&n->reg);
		rc = -ENOMEM;
	}
	/* The registry lives as long as the node: RMB handlers record into it
	 * until the RMB subsystem stops, after the endpoint did. */
	if (rc == 0 && (rc = metrics_new(&n->metrics)) < 0) {
		pthread_mutex_destroy(&n->status_mu);
		node_worker_destroy(&n->report);
		node_worker_destroy(&n->follow);
		node_worker_destroy(&n->reg);
	}
	if (rc) {
		free(n);
		return rc;
	}
	snprintf(n->status, sizeof n->status, "starting");
	atomic_store(&n->follow_head, -1);
	atomic_store(&n->follow_at, -1);
	*out = n;
	return 0;
}

int agent_node_register(struct agent_node *n, struct agent *a)
{
	const struct agent_subsys *subs[] = {
		&node_chain_subsys, &node_engine_subsys, &node_register_subsys,
		&node_rmb_subsys,   &node_report_subsys,   &node_metrics_subsys,
	};
	n->a = a;
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		int rc = agent_register(a, subs[i], n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void agent_node_free(struct agent_node *n)
{
	if (!n)
		return;
	metrics_free(n->metrics);
	pthread_mutex_destroy(&n->status_mu);
	node_worker_destroy(&n->report);
	node_worker_destroy(&n->follow);
	node_worker_destroy(&n->reg);
	free(n);
}
