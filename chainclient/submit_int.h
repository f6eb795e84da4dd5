/* Internals of the submitter, shared by submit*.c only. */
#ifndef ZOS_CHAINCLIENT_SUBMIT_INT_H
#define ZOS_CHAINCLIENT_SUBMIT_INT_H

#include <pthread.h>
#include <stdint.h>

#include "chainclient/submit.h"

struct chain_job {
	struct chain_job *next;
	char *pallet, *call;
	cJSON *args;
	chain_outcome_cb cb;
	void *ud;
	int resends;
	/* Set once sent (or possibly sent). */
	uint8_t hash[32];
	uint64_t nonce;
	uint64_t death; /* first block number at which the era no longer admits it */
};

struct chain_submitter {
	struct chain_client *c;
	struct zkey key;
	struct chain_submit_opts opts;
	pthread_t thr;
	pthread_mutex_t lock; /* guards stop, the queue and nonce_pub */
	pthread_cond_t cond;
	int stop;
	struct chain_job *qhead, *qtail;
	size_t qlen;
	int64_t nonce_pub; /* what chain_submitter_nonce reports */
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
};

/* Runs cb with o, then frees the job (and o's events unless taken). */
void chain_job_finish(struct chain_job *j, struct chain_outcome *o);
/* Finishes a job with a status and a message. */
void chain_job_fail(struct chain_job *j, enum chain_outcome_status st, int err, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
void chain_submitter_set_nonce(struct chain_submitter *s, int valid, uint64_t nonce);

/* Encodes, signs and submits j. Returns 1 when j went in flight, 0 when it
 * was finished (its callback has run), 2 when it should be sent again. */
int chain_send(struct chain_submitter *s, struct chain_job *j);
/* Scans new blocks for in-flight extrinsics and finishes those resolved. */
void chain_follow(struct chain_submitter *s);
/* Finishes every in-flight job as UNKNOWN (stopping). */
void chain_inflight_abandon(struct chain_submitter *s, int err, const char *why);

#endif
