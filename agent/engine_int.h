/* Internals shared by the engine's files; not for other modules. */
#ifndef ZOS_AGENT_ENGINE_INT_H
#define ZOS_AGENT_ENGINE_INT_H

#include <pthread.h>

#include "agent/engine.h"

struct eng_job {
	uint64_t cid;
	int restore;          /* inspect what the store says runs */
	unsigned attempt;     /* failed runs so far */
	int64_t not_before;   /* monotonic ms */
	struct eng_job *next;
};

/* An outbox item handed from the dispatcher to a sender thread. */
struct eng_send_slot {
	enum { ENG_SLOT_FREE = 0, ENG_SLOT_QUEUED, ENG_SLOT_SENDING } state;
	struct store_outbox item; /* owns item.payload while not free */
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
	pthread_cond_t ob_cv;     /* the dispatcher: new outbox items, stop */
	struct eng_job *head;     /* queued jobs, one per contract */
	struct eng_job **tail;    /* where the next job is linked */
	size_t queued;
	uint64_t *running;        /* contract of each busy worker slot */
	unsigned char *busy;
	size_t active;
	int stopping;
	int started;
	pthread_t *workers;
	unsigned nworkers;        /* threads started */
	pthread_t dispatcher;
	int dispatcher_up;
	pthread_cond_t send_cv;   /* senders: a slot was filled, or stop */
	struct eng_send_slot *slots;
	unsigned nslots;
	pthread_t *senders;
	unsigned nsenders;        /* threads started */
	int ob_kick;              /* items were queued since the last pass */
	int ob_busy;              /* the dispatcher is in a pass */
	unsigned long ob_gen;     /* senders' finished items, counted */
	struct prov_capacity reserved;
	int64_t next_sync;        /* monotonic ms */
	struct eng_twin_entry twins[ENG_TWIN_CACHE]; /* under mu */
	struct eng_pull pulls[ENG_PULLS_MAX];        /* under mu: images being pulled */
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
int eng_image_admit(struct eng *e, const struct dep_doc *doc, int *code, char *why,
		    size_t whysz);
/* Pulls (or finds) the image of workload w of contract cid and holds it for
 * "<cid>/<name>". 0 when w names no reference. */
int eng_image_pull(struct eng *e, uint64_t cid, const char *name, const char *type,
		   const char *spec, char *err, size_t errsz);
/* Drops the hold of "<cid>/<name>" and collects unused images. */
void eng_image_release(struct eng *e, uint64_t cid, const char *name);

int eng_transient(int err);

/* Queues a job for cid (merged with a queued one). Wakes a worker. */
int eng_enqueue(struct eng *e, uint64_t cid, int restore, unsigned attempt, int64_t delay_ms);

/*
 * Moves a deployment to state `to` if it is now in one of from_mask, in one
 * transaction with the chain call it needs (call >= 0; reason is the
 * reject reason), and releases its capacity when it leaves the live states.
 * ZE_STATE when it was not in from_mask, ZE_ABSENT when unknown.
 */
int eng_transition(struct eng *e, uint64_t cid, unsigned from_mask, enum store_dep_state to,
		   const char *reason, int call);
/* The same, also running also(arg) inside its transaction (not run when the
 * state did not match); its failure rolls everything back. */
int eng_transition_with(struct eng *e, uint64_t cid, unsigned from_mask,
			enum store_dep_state to, const char *reason, int call,
			int (*also)(void *arg), void *arg);
/* Queues the outbox key of a call inside the caller's transaction. */
int eng_outbox_add_call(struct eng *e, enum eng_call_kind kind, uint64_t cid,
			const char *reason);
void eng_kick_outbox(struct eng *e);
void eng_release(struct eng *e, const struct prov_capacity *c);

/* Brings one deployment to its state; 0 when it got there, else an error
 * and the job is retried. */
int eng_reconcile(struct eng *e, uint64_t cid, int restore);

void *eng_dispatcher_main(void *arg);
void *eng_sender_main(void *arg);
/* Slots in use (queued or being sent); the caller holds mu. */
unsigned eng_slots_busy(const struct eng *e);

#endif
