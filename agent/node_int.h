/* The node's shared state, for agent/node*.c only. */
#ifndef ZOS_AGENT_NODE_INT_H
#define ZOS_AGENT_NODE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agent/daemon.h"
#include "agent/engine.h"
#include "image/image.h"
#include "agent/engine_chain.h"
#include "agent/node.h"
#include "agent/reporter.h"
#include "agent/reporter_usage.h"
#include "chainclient/client.h"
#include "chainclient/submit.h"
#include "config/config.h"
#include "provisioners/prov.h"
#include "common/backoff.h"

struct rmb_server;
struct metrics;
struct MHD_Daemon;

/* A thread that sleeps on a condition variable so stop wakes it at once. */
struct node_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	int running;
	int stop;
	int kick; /* ends the current node_worker_sleep early (node_worker_kick) */
	/* The one chain call in flight (node_submit), written by the
	 * submitter's callback under mu. */
	int call_done;
	enum chain_outcome_status call_status;
	char call_error[160];
};

int node_worker_init(struct node_worker *w);
void node_worker_destroy(struct node_worker *w);
/* Starts fn(arg) on w's thread. */
int node_worker_start(struct node_worker *w, const char *name, void *(*fn)(void *), void *arg);
/* Asks the thread to stop and joins it; no-op when not running. */
void node_worker_stop(struct node_worker *w);
/* Sleeps up to ms; returns 1 when the worker is asked to stop. */
int node_worker_sleep(struct node_worker *w, long ms);
/* Ends the worker's current (or next) node_worker_sleep early. */
void node_worker_kick(struct node_worker *w);
int node_worker_stopping(struct node_worker *w);

/* Node states shown in STATUS and the summary. */
#define NODE_STATUS_MAX 256

struct agent_node {
	struct agent *a;
	/* Copied at start: only keys that need a restart are read from it by
	 * threads; reloadable values they use are the atomics below. */
	struct cfg cfg;
	/* Extrinsics the registration thread sent (its backoff reads it). */
	atomic_uint reg_sent;
	/* Uptime reports (node_uptime.c), on the reporter thread only. */
	int64_t uptime_next_ms;
	int uptime_unsupported;
	uint8_t account[32];
	uint8_t x25519_pk[32];
	char ss58[64];
	char relay[CFG_STR_MAX]; /* the twin's relay; "" = none */

	/* chain */
	struct chain_client *chain;
	struct chain_submitter *submitter;

	/* engine */
	struct store *store;
	struct prov_ctx *prov;
	struct img_store *images; /* [images]: the container image store */
	struct prov_capacity total;
	struct eng_chain_grid *ecg;
	struct eng *_Atomic eng; /* set once running; read by rmb workers */
	int64_t eng_retry_at;    /* monotonic ms of the next start attempt */
	struct backoff eng_backoff;
	struct node_worker follow;
	_Atomic uint32_t sync_interval;
	/* Only the follower thread touches these: the last block handed to
	 * the engine (-1 = not read yet), the value last stored, and when. */
	int64_t follow_cursor;
	int64_t follow_saved;
	int64_t follow_saved_ms;
	/* The finalized head last read (-1 = none), its hash and parent's. */
	int64_t follow_fin_num;
	uint8_t follow_fin_hash[32], follow_fin_parent[32];
	int follow_fin_parent_ok; /* follow_fin_parent is known */
	/* A hash computed from an announced header did not match the chain's:
	 * the follower asks for heads instead (node_follow.c). */
	int follow_hash_bad;

	/* registration results, 0 until known */
	_Atomic uint32_t twin_id;
	_Atomic uint32_t node_id;
	struct node_worker reg;

	/* rmb */
	struct rmb_server *rmb;
	int64_t rmb_retry_at;
	struct backoff rmb_backoff;

	/* reporter */
	struct node_worker report;
	_Atomic uint32_t report_interval;
	struct rep_usage_prov usage;

	/* metrics (node_metrics.c); the atomics are written by the threads
	 * that know them and read when the endpoint is scraped */
	struct metrics *metrics;
	struct MHD_Daemon *mhd;
	int64_t metrics_retry_at;
	_Atomic int64_t follow_head;     /* finalized head last read; -1 = none */
	_Atomic int64_t follow_at;       /* the follower's cursor, for the lag */
	_Atomic int chain_ok;            /* 1: the last chain read succeeded */
	_Atomic int64_t report_ok_at;    /* unix s of the last settled report cycle; 0 = none */

	/* status */
	pthread_mutex_t status_mu;
	char status[NODE_STATUS_MAX];
	char vm_note[80]; /* appended to STATUS: the VM acceleration in use */
	unsigned status_gen, status_sent, reloads_seen;
};

/* Sets the node's status line (logged at level when it changed). */
void node_status(struct agent_node *n, int warn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sends STATUS to systemd when it changed (main thread). */
void node_status_flush(struct agent_node *n);

/*
 * Sends pallet.call(args) through the submitter and waits on w for its
 * final outcome, or until w is asked to stop (ZE_STATE then; the outcome
 * still arrives later and is dropped). 0 with *st set otherwise; error
 * holds the dispatch or RPC error text.
 */
int node_submit(struct agent_node *n, struct node_worker *w, const char *pallet,
		const char *call, cJSON *args, enum chain_outcome_status *st, char *error,
		size_t errsz);

/* Queues an uptime report when one is due (node_uptime.c); called by the
 * reporter thread once the engine runs. */
void node_uptime_tick(struct agent_node *n, struct eng *e);

/* The subsystems (node_chain.c, node_engine.c, node_register.c,
 * node_rmb.c, node_report.c). */
extern const struct agent_subsys node_chain_subsys;
extern const struct agent_subsys node_engine_subsys;
extern const struct agent_subsys node_register_subsys;
extern const struct agent_subsys node_rmb_subsys;
extern const struct agent_subsys node_report_subsys;
extern const struct agent_subsys node_metrics_subsys;

/* The block follower (node_follow.c), started by the engine subsystem. */
void *node_follow_main(void *arg);

/* Takes the registration remembered in the store, if it is this
 * identity's (node_register.c). */
void node_ids_load(struct agent_node *n);

/* The relay written into the twin: rmb.public_address, else the first tcp
 * listen address with a concrete host; "" when there is none. */
void node_relay_of(const struct cfg *c, char *out, size_t outsz);

#endif
