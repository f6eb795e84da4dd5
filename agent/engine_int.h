/*
 * Internals shared by the engine's files; not for other modules.
 *
 * The files are layered: each calls functions of the files in the layers
 * below it only, never above nor (apart from the static helpers it owns)
 * beside it, so no two files call each other in a circle
 * (scripts/callgraph.py agent/engine*.c lists who calls whom and fails on a
 * cycle):
 *
 *   5  engine.c         the threads: start, stop, the workers and the
 *                       dispatcher loop (outbox passes and the full sync)
 *   4  engine_watch.c   lifecycle events and the full sync
 *   3  engine_job.c     one job: bring a deployment to its state
 *      engine_accept.c  the deploy command's checks
 *   2  engine_state.c   state transitions with their chain call; job queue
 *      engine_outbox.c  the outbox in memory and its async dispatch steps
 *   1  engine_calls.c   the call table (one entry per chain call the engine
 *                       sends, with its already-applied check); queueing
 *      engine_image.c   images by reference
 *      engine_handoff.c who accepts a contract: the deploy command and the
 *                       block follower's events hand it over, never both
 *      engine_pace.c    whether a queued job gets a worker woken
 *   0  engine_util.c    deadlines, the capacity counter, small accessors
 *
 * engine_chain.c is the chain interface's implementation over chainclient
 * and calls none of them.
 */
#ifndef ZOS_AGENT_ENGINE_INT_H
#define ZOS_AGENT_ENGINE_INT_H

#include <pthread.h>
#include <time.h>

#include "agent/engine.h"

/* A deployment as its acceptance just stored it, handed to the job that
 * installs it, so the job does not read back what was written (owned by
 * the job; eng_pre_free). doc is not kept: the job does not use it. */
struct eng_pre {
	struct store_dep d;
	struct store_wl *w;
	size_t n;
};
void eng_pre_free(struct eng_pre *p); /* NULL accepted */

struct eng_job {
	uint64_t cid;
	int restore;          /* inspect what the store says runs */
	unsigned attempt;     /* failed runs so far */
	int64_t not_before;   /* monotonic ms */
	struct eng_pre *pre;  /* the store's record, or NULL: the job reads it */
	int kind;             /* its workloads' one type in eng.pace, or -1 */
	unsigned nwl;         /* and how many workloads (engine_pace.c) */
	struct eng_job *next;
};

/* Install times of one workload type, measured (engine_pace.c). */
#define ENG_PACE_TYPES 16
/* What a running worker may still have ahead of a job left to it, and how
 * long a job queued under eng_hold_wakes waits for its wake at most while
 * jobs keep coming (microseconds). */
#define ENG_PACE_US 2000
struct eng_pace {
	char type[33]; /* "" = free */
	int64_t avg_us;
	unsigned samples;
};

/* The job a worker slot runs, for engine_pace.c. */
struct eng_run {
	int64_t start_us, est_us; /* est_us -1: unknown */
	int kind;
	unsigned nwl;
};

/* The call table: every chain call the engine sends (engine_calls.c). */
struct eng_call_def {
	const char *kind;   /* the outbox row's kind and the default key's prefix */
	const char *pallet;
	const char *call;
	/* 1: a runtime without this call gets nothing sent (the node's store
	 * is the record, e.g. tfchain has no set_contract_deployed). */
	int optional;
	/*
	 * Before a resend after an unknown outcome: did the earlier send land?
	 * Asked of the chain's state, so a fact is not applied twice. 1 when
	 * it is applied (*outcome says how, static), 0 to send, negative when
	 * the chain cannot tell now (retried later).
	 */
	int (*applied)(struct eng *e, uint64_t cid, const cJSON *args, const char **outcome);
};
extern const struct eng_call_def eng_call_table[];
extern const size_t eng_call_table_len;
/* The entry of pallet.call, or NULL. */
const struct eng_call_def *eng_call_find(const char *pallet, const char *call);

/* One outbox row in the dispatcher's memory (engine_outbox.c). */
struct eng_ob_item {
	struct eng *e;
	int64_t id;                 /* the store row */
	uint64_t cid;
	char key[STORE_KEY_MAX];
	char kind[16];              /* the row's kind (older rows' payloads need it) */
	char *payload;              /* {pallet, call, args}; owned */
	int attempts;               /* sends started (on disk lazily) */
	int boot;                   /* pending when the engine started: its first
	                             * send asks the chain first */
	int premarked;              /* queued already counted as sending by an
	                             * engine worker (store_outbox_add_sending)
	                             * and not sent yet: attempts excludes that
	                             * mark, and the send writes no mark */
	int failed;                 /* failed on chain; why says how: a check
	                             * tells "already applied" from a failure */
	int64_t next_try;           /* wall ms */
	int in_flight;              /* handed to submit_async, no outcome yet */
	int dead;                   /* done: unlinked at the end of the pass */
	int rc;                     /* the outcome, once on the done list */
	char why[256];
	struct eng_ob_item *next;   /* the queue (dispatcher only) */
	struct eng_ob_item *done_next; /* the done list (under mu) */
};

/*
 * Twins read for recent deploys. A twin's account never changes and its pk
 * rarely does; a key that no longer opens the data is read again before
 * anything is rejected (engine_accept.c), so a stale entry costs a read,
 * never a wrong answer.
 */
#define ENG_TWIN_CACHE 64
#define ENG_TWIN_TTL_MS 60000

struct eng_twin_entry {
	uint32_t id;         /* 0 = empty */
	int64_t at;          /* monotonic ms of the read */
	struct eng_twin t;
	int has_x;           /* x holds t's x25519 key (the conversion costs a
			      * scalar multiplication per deploy otherwise) */
	uint8_t x[32];
};

/*
 * The hand-off between the deploy command and the block follower
 * (engine_handoff.c). A slot per contract being accepted (busy: one path
 * does the work, the other waits for it or leaves it), accepted by the
 * follower's event and not yet asked for by its owner (done: the owner's
 * command answers what the event path answered), or created for this node
 * without being accepted from its event (parked: a hash-only contract, or
 * adoption off), so that the owner's command needs no storage read.
 */
enum eng_ho_state { ENG_HO_FREE = 0, ENG_HO_BUSY, ENG_HO_DONE, ENG_HO_PARKED };
#define ENG_HO_SLOTS 64
#define ENG_HO_ERR 256

struct eng_ho_slot {
	uint64_t cid;
	enum eng_ho_state state;
	int64_t at;               /* monotonic ms it got this state */
	int by_chain;             /* busy: held by the event path (or the full sync) */
	uint32_t twin;            /* done: whose command may take the outcome */
	int rc, code;             /* done: the outcome as the event path answered it */
	const char *status;       /* static string */
	char err[ENG_HO_ERR];
	uint64_t ticket;          /* done: the acceptance's commit, durable once
				   * store_wait_durable(ticket) returned */
	int has_c;                /* c holds the contract its event carried, no data */
	struct eng_contract c;
};

struct eng_ho_waiter;
struct eng_handoff {
	pthread_mutex_t mu;
	struct eng_ho_waiter *waiters; /* commands waiting, each woken alone */
	uint64_t wakes;                /* waiters posted, ever */
	struct eng_ho_slot s[ENG_HO_SLOTS];
	uint64_t head;            /* finalized head the follower is reading up to */
	uint64_t done;            /* highest block whose events it handed over */
	uint64_t top;             /* highest head ever seen, for the block time */
	uint64_t max_cid;         /* highest contract id of a ContractCreated seen */
	uint64_t ticket;          /* the event path's latest acceptance, not yet
				   * waited for: eng_follow_done makes it durable */
	int subscribed;           /* the follower's heads come from a subscription */
	int64_t top_at;           /* monotonic ms top last grew */
	int64_t block_ms;         /* the block time as seen (moving average), 0 unknown */
};

/* One image pull in progress, for zos.deployment.get/changes. */
#define ENG_PULLS_MAX 64
struct eng_pull {
	int used;
	uint64_t cid;
	char name[PROV_NAME_MAX + 1];
	char image[IMG_REF_MAX];
	uint64_t done, total;
	int64_t since; /* unix seconds */
};

struct eng {
	struct eng_config cfg;
	struct eng_chain chain;
	struct store *store;

	pthread_mutex_t mu;
	pthread_cond_t work_cv;   /* jobs: new, ready, or a contract freed */
	pthread_cond_t idle_cv;   /* a job or an outbox pass finished */
	pthread_cond_t ob_cv;     /* the dispatcher: new outbox items, outcomes, stop */
	struct eng_job *head;     /* queued jobs, one per contract */
	struct eng_job **tail;    /* where the next job is linked */
	size_t queued;
	uint64_t *running;        /* contract of each busy worker slot */
	unsigned char *busy;
	struct eng_run *run;      /* and its job's timing (engine_pace.c) */
	struct eng_pace pace[ENG_PACE_TYPES];
	size_t active;
	int stopping;
	int started;
	pthread_t *workers;
	unsigned nworkers;        /* threads started */
	pthread_t dispatcher;
	int dispatcher_up;
	int ob_kick;              /* the dispatcher should run a pass */
	int ob_fresh;             /* rows were queued since the last pass began */
	int ob_busy;              /* a pass runs (the dispatcher's or a worker's) */
	int ob_waiting;           /* the dispatcher waits on ob_cv: signal it */
	int64_t ob_at;            /* the dispatcher's next pass (monotonic ms,
	                           * -1: none planned); planned at the end of
	                           * its pass with ob_mu held, only brought
	                           * forward otherwise */
	/* Held for an outbox pass: by the dispatcher, or by an engine worker
	 * that queued a call and sends it itself (engine.c). Taken before mu,
	 * never while holding it. */
	pthread_mutex_t ob_mu;
	/* The outbox in memory. The queue belongs to whoever holds ob_mu; the
	 * rest under mu. Rows with id <= ob_loaded are all in memory (or done);
	 * newer ones are read when a kick says there are some. */
	struct eng_ob_item *ob_head;
	size_t ob_count;          /* items in the queue, in flight included */
	int64_t ob_loaded;
	int ob_more;              /* the store may hold rows past ob_loaded */
	int64_t ob_boot_max;      /* rows up to this id were pending at start */
	unsigned ob_in_flight;    /* handed to the submitter, no outcome yet */
	struct eng_ob_item *ob_done; /* outcomes for the dispatcher to record */
	int ob_cancelled;         /* chain.cancel ran: no callback comes any more */
	struct prov_capacity reserved;
	int64_t next_sync;        /* monotonic ms */
	struct eng_twin_entry twins[ENG_TWIN_CACHE]; /* under mu */
	struct eng_pull pulls[ENG_PULLS_MAX];        /* under mu: images being pulled */
	struct eng_handoff ho;    /* its own lock */
};

/* Bits of store_dep_state for eng_transition's from_mask. */
#define ENG_ST(s) (1u << (s))
#define ENG_LIVE (ENG_ST(STORE_DEP_DEPLOYING) | ENG_ST(STORE_DEP_DEPLOYED) | ENG_ST(STORE_DEP_PAUSED))

/* engine_image.c: images by reference for container workloads. */
/* The reference a workload's spec names (type container or zmachine, "image" with a '/'),
 * or NULL (a local image name, or another type). Borrowed from data. */
const char *eng_image_ref(const char *type, const cJSON *data);
/* Admission: registry policy, and the image's size from its manifest
 * against the store's free space. 0, or negative with *code (ENG_E_INVALID,
 * ENG_E_CAPACITY, ENG_E_UNAVAILABLE) and why. */
int eng_image_admit(struct eng *e, const struct dep_doc *doc, int *code, char *err, size_t errsz);
/* Pulls (or finds) the image of workload w of contract cid and holds it for
 * "<cid>/<name>". 0 when w names no reference. */
int eng_image_pull(struct eng *e, uint64_t cid, const char *name, const char *type,
		   const char *spec, char *err, size_t errsz);
/* Drops the hold of "<cid>/<name>" and collects unused images. */
void eng_image_release(struct eng *e, uint64_t cid, const char *name);

/* --- engine_util.c --- */
int eng_transient(int err);
void eng_release(struct eng *e, const struct prov_capacity *c);
/* Absolute monotonic deadline for pthread_cond_timedwait. */
struct timespec eng_deadline(int64_t at_ms);

/* --- engine_handoff.c --- */
void eng_ho_init(struct eng *e);
void eng_ho_free(struct eng *e); /* the parked contracts */

/* How a path may go on with contract cid (eng_ho_claim). */
enum eng_ho_claim {
	ENG_HO_MINE,  /* this path holds the claim: it does the accept work,
		       * then eng_ho_release */
	ENG_HO_NONE,  /* no claim could be had (table full of busy ones, a
		       * holder that takes too long): the work is done unclaimed
		       * and the store's unique insert decides, as before */
	ENG_HO_OTHER, /* the event path only: another path accepts it now */
	ENG_HO_TAKEN, /* the deploy command only: *res is the outcome the
		       * event path had for it, the answer to send */
	ENG_HO_WAIT,  /* the deploy command's first ask: the follower has an
		       * unprocessed block that may carry the contract; the
		       * caller checks the store, then asks again with wait */
};
struct eng_ho_res {
	int rc, code;
	const char *status;
	char err[ENG_HO_ERR];
	uint64_t ticket; /* an acceptance: reply only once durable */
};
/* How the deploy command asks: first (ENG_HO_WAIT where it would wait for
 * the follower), then, the store not knowing the contract, waiting for it;
 * or, the store knowing it, without waiting. */
enum eng_ho_mode { ENG_HO_ASK, ENG_HO_AWAIT, ENG_HO_NOW };
/*
 * Claims contract cid for the accept work. by_chain: the event path (or
 * the full sync): never waits, ENG_HO_OTHER when someone holds it.
 * Otherwise the deploy command of caller: it waits for a busy holder,
 * takes an outcome the event path kept for it (ENG_HO_TAKEN), and by mode
 * gets ENG_HO_WAIT where it would wait for the follower, or waits (bounded;
 * woken by the follower when its contract's outcome is there or its wait
 * is over) for the follower to process its pending blocks and then takes
 * what the event path accepted, or claims. With ENG_HO_MINE, *parked (when
 * not NULL) may get the contract the event carried (has_parked = 1; owned
 * by the caller, without data).
 */
enum eng_ho_claim eng_ho_claim(struct eng *e, uint64_t cid, uint32_t caller, int by_chain,
			       enum eng_ho_mode mode, struct eng_contract *parked,
			       int *has_parked, struct eng_ho_res *res);
/* Ends an ENG_HO_MINE claim. stored: the work changed the store (accepted
 * or rejected); the event path's outcome (with the acceptance's commit
 * ticket, which it did not wait for) is then kept for the owner's command
 * (twin). A command's parked contract that stored nothing is parked again. */
void eng_ho_release(struct eng *e, uint64_t cid, int by_chain, int stored, uint32_t twin,
		    int rc, int code, const char *status, const char *err, uint64_t ticket);
/* Keeps the contract an event carried (created for this node, not accepted
 * from the event) for its owner's command; its data is not kept. */
void eng_ho_park(struct eng *e, const struct eng_contract *c);
/* The contract changed on chain: a parked copy is stale. */
void eng_ho_forget(struct eng *e, uint64_t cid);
/* A ContractCreated of contract cid was handed over (ids only grow: a
 * command for a higher one came before its block). */
void eng_ho_seen(struct eng *e, uint64_t cid);

/* --- engine_calls.c --- */
/* Queues pallet.call(args) about contract cid inside the caller's
 * transaction under key (NULL: "<kind>:<cid>"); pallet.call must be in the
 * call table. args borrowed. *added (may be NULL) = 0 when the key was
 * queued before. The caller kicks the dispatcher after its commit. */
int eng_outbox_add(struct eng *e, const char *pallet, const char *call, uint64_t cid,
		   const cJSON *args, const char *key, int *added);
/* The engine's own calls. */
int eng_outbox_deployed(struct eng *e, uint64_t cid);
int eng_outbox_reject(struct eng *e, uint64_t cid, const char *reason);
/* Says new rows are in the store. From the dispatcher's point of view a
 * kick; on a thread that called eng_kick_defer(1), only noted, for the
 * thread to send them itself (eng_kick_deferred says whether it must). */
void eng_kick_outbox(struct eng *e);
/* For the calling thread only (an engine worker): 1 defers its kicks. */
void eng_kick_defer(int on);
/* 1 when a kick was deferred on this thread since the last call (clears). */
int eng_kick_deferred(void);
/* Splits a payload {pallet, call, args} (older rows: the kind's legacy
 * payload) into its parts: *holder owns them, cJSON_Delete it. */
int eng_call_parse(const char *kind, uint64_t cid, const char *payload, cJSON **holder,
		   const struct eng_call_def **def, const cJSON **args);

/* --- engine_pace.c: whether a queued job gets a worker woken; all
 * under mu --- */
/* Notes j's workload type from its record, for the estimates. */
void eng_pace_job(struct eng *e, struct eng_job *j);
/* Worker slot starts j, or ends its job (which measures its type). */
void eng_pace_begin(struct eng *e, unsigned slot, const struct eng_job *j, int64_t now_us);
void eng_pace_end(struct eng *e, unsigned slot, int64_t now_us);
/* 1 when an idle worker should be woken for the queue, 0 when the running
 * ones will reach it within the pacing bound. */
int eng_pace_wake(struct eng *e, int64_t now_us);

/* --- engine_state.c --- */
/* Wakes now what eng_hold_wakes owes on this thread: before something that
 * may take long (a chain read), so that the held jobs do not wait for it. */
void eng_flush_wakes(struct eng *e);
/* Which call a transition queues. */
enum eng_tcall { ENG_T_NONE = 0, ENG_T_DEPLOYED, ENG_T_REJECT };
/* Queues a job for cid (merged with a queued one). Wakes a worker. */
int eng_enqueue(struct eng *e, uint64_t cid, int restore, unsigned attempt, int64_t delay_ms);
/* eng_enqueue of a new deployment with its record as just committed (pre,
 * taken in every case). The job uses it only if nothing came between: a
 * job of cid already queued or running drops it and reads the store. */
int eng_enqueue_pre(struct eng *e, uint64_t cid, struct eng_pre *pre);
/* Appends a job; the caller holds mu and knows cid is not queued. pre
 * (may be NULL) is the job's once it returns 0. */
int eng_append_job(struct eng *e, uint64_t cid, int restore, unsigned attempt, int64_t at,
		   struct eng_pre *pre);
/* The first job that may run now, else NULL and when the next one may
 * (-1: none); the caller holds mu. */
struct eng_job *eng_take_job(struct eng *e, int64_t now, int64_t *wake);

/*
 * Moves a deployment to state `to` if it is now in one of from_mask, in one
 * transaction with the chain call it needs (reason is the reject reason),
 * and releases its capacity when it leaves the live states.
 * ZE_STATE when it was not in from_mask, ZE_ABSENT when unknown.
 */
int eng_transition(struct eng *e, uint64_t cid, unsigned from_mask, enum store_dep_state to,
		   const char *reason, enum eng_tcall call);
/* The same, also running also(arg) inside its transaction (not run when the
 * state did not match); its failure rolls everything back. */
int eng_transition_with(struct eng *e, uint64_t cid, unsigned from_mask,
			enum store_dep_state to, const char *reason, enum eng_tcall call,
			int (*also)(void *arg), void *arg);

/* --- engine_outbox.c (with ob_mu held, unless said) --- */
/* One pass: records outcomes, reads new rows, sends what is due (at most
 * outbox_in_flight in flight). The wall ms the next item is due, or -1.
 * direct (an engine worker's pass, which must not wait for the chain):
 * items whose send must first ask the chain whether an earlier one landed
 * are left for the dispatcher, and count as due now. */
int64_t eng_outbox_pass(struct eng *e, int direct);
/* At start, before any worker runs (any thread): notes which rows were
 * pending, each of which may have been sent before a crash. */
int eng_outbox_boot(struct eng *e);
/* After chain.cancel, at stop: records the outcomes that came, frees the
 * queue (what was not done stays pending in the store). */
void eng_outbox_drain(struct eng *e);
/* Items in memory or in flight; the caller holds mu. */
size_t eng_outbox_busy(const struct eng *e);

/* --- engine_job.c --- */
/* Brings one deployment to its state; 0 when it got there, else an error
 * and the job is retried. */
int eng_reconcile(struct eng *e, uint64_t cid, int restore, struct eng_pre *pre);

#endif
