/* Internals of the submitter, shared by submit*.c only. */
#ifndef ZOS_CHAINCLIENT_SUBMIT_INT_H
#define ZOS_CHAINCLIENT_SUBMIT_INT_H

#include <pthread.h>
#include <stdint.h>

#include "chainclient/submit.h"

struct chain_submitter;

struct chain_job {
	struct chain_job *next;
	struct chain_submitter *s;
	char *pallet, *call;
	cJSON *args;
	chain_outcome_cb cb;
	void *ud;
	int resends;
	/* Set once sent (or possibly sent). */
	uint8_t hash[32];
	uint64_t nonce;
	uint64_t death; /* first block number at which the era no longer admits it */
	int64_t queued_ms;
	int solo;    /* send on its own (a batch of it failed or was refused) */
	int watched; /* hash is in s->watch */
	/* Part batch_pos of a Utility.batch_all of batch_n calls (batch_n > 1),
	 * all sharing hash, nonce and death. */
	unsigned batch_n, batch_pos;
};

/* The events of one of our extrinsics, copied out of a fed block. */
struct chain_fed_match {
	uint8_t hash[32];
	uint32_t idx;
	cJSON *events;
};

/* A fed block that included some of our extrinsics. */
struct chain_fed {
	struct chain_fed *next;
	uint64_t number;
	uint8_t hash[32];
	size_t n;
	struct chain_fed_match m[];
};

struct chain_submitter {
	struct chain_client *c;
	struct zkey key;
	struct chain_submit_opts opts;
	pthread_t thr;
	pthread_mutex_t lock; /* guards stop, the queue and nonce_pub */
	pthread_cond_t cond;
	int stop;
	/* What the worker waits for (under lock), so that producers signal
	 * only when their news ends that wait: a call queued while the batch
	 * window is open does not wake the worker (it wakes when the window
	 * closes, or when the batch is full), a fed block wakes it only while
	 * it waits for outcomes. */
	enum { CHAIN_W_RUN = 0, CHAIN_W_IDLE, CHAIN_W_WINDOW, CHAIN_W_POLL } waiting;
	/* Waiting for outcomes with calls queued: CHAIN_XT_WINDOW extrinsics
	 * are in flight, so a new call is no news until one ends. */
	int window_full;
	uint64_t wakeups; /* waits the worker came back from (tests, tuning) */
	struct chain_job *qhead, *qtail;
	size_t qlen;
	int64_t last_queued_ms; /* when the newest call was queued */
	int64_t nonce_pub; /* what chain_submitter_nonce reports */
	/* Fed mode, under lock: hashes of what may be on chain, blocks that
	 * included some, and how far the feeder got. */
	uint8_t (*watch)[32];
	size_t nwatch, capwatch;
	size_t busy; /* jobs queued, being sent or in flight */
	struct chain_fed *fhead, *ftail;
	int64_t fed_ms; /* last feed or alive; 0 = never */
	int fed_valid;
	uint64_t fed_top;     /* highest block number fed */
	uint8_t fed_hash[32]; /* its hash */
	int64_t fed_top_ms;   /* when fed_top last moved */
	int fed_gap;          /* a feed skipped blocks: read them directly */
	uint64_t sent_best;   /* best block number at the latest send */
	/* Worker-thread state, not locked. */
	struct chain_job *inflight;
	int nonce_valid;
	uint64_t nonce;
	int scanned_valid;
	uint64_t scanned;    /* last block number searched for in-flight hashes */
	uint64_t head_seen;  /* highest watched head seen */
	int64_t progress_ms; /* when head_seen last advanced */
	int fin_valid;       /* fin_hash/fin_num hold the last finalized head read */
	uint8_t fin_hash[32];
	uint64_t fin_num;
	int fed_live;      /* fed mode at the last round */
	uint64_t fed_prog; /* highest fed block the stall check saw */
	int catchup;       /* read blocks directly until scanned >= catchup_to */
	uint64_t catchup_to;
	int nobatch_logged;
	uint64_t best_seen; /* best block number at the last header read */
};

/* Watch set (lock taken inside). */
int chain_watch_add(struct chain_submitter *s, const uint8_t h[32]);
void chain_watch_del(struct chain_submitter *s, const uint8_t h[32]);
/* Puts jobs back at the queue's head, each to be sent on its own. */
void chain_requeue_solo(struct chain_submitter *s, struct chain_job **jobs, size_t n);
/* Worker: handles fed blocks; 1 when fed mode is live (no polling). */
int chain_fed_run(struct chain_submitter *s);
/* Expires in-flight jobs whose era ended by s->scanned. */
void chain_expire(struct chain_submitter *s);
/* Resolves every in-flight job with hash h from the events of its
 * extrinsic (idx in block bnum); evs is this extrinsic's events only. */
void chain_resolve_hash(struct chain_submitter *s, const uint8_t h[32], const struct meta *m,
                        const cJSON *evs, uint32_t idx, const uint8_t bhash[32], uint64_t bnum);
void chain_fed_free_list(struct chain_fed *f);
/* The events of extrinsic idx, copied out of a block's list. */
cJSON *chain_events_of(const cJSON *events, uint32_t idx);

/* Runs cb with o, then frees the job (and o's events unless taken). */
void chain_job_finish(struct chain_job *j, struct chain_outcome *o);
/* Finishes a job with a status and a message. */
void chain_job_fail(struct chain_job *j, enum chain_outcome_status st, int err, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
void chain_submitter_set_nonce(struct chain_submitter *s, int valid, uint64_t nonce);

/* Encodes, signs and submits jobs[0..n) as one extrinsic (a
 * Utility.batch_all when n > 1). Returns 1 when they went in flight, 0 when
 * they were finished or requeued, 2 when they should be sent again. */
int chain_send(struct chain_submitter *s, struct chain_job **jobs, size_t *n);
/* Scans new blocks for in-flight extrinsics and finishes those resolved. */
void chain_follow(struct chain_submitter *s);
/* Finishes every in-flight job as UNKNOWN (stopping). */
void chain_inflight_abandon(struct chain_submitter *s, int err, const char *why);

#endif
