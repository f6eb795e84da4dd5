/*
 * The deploy engine: from an accepted contract to running workloads and a
 * Deployed (or rejected) contract on chain, and through the contract's
 * lifecycle after that.
 *
 * The engine drives each deployment in the store toward its lifecycle state
 * (store.h): deploying installs the workloads in dependency order, deployed
 * keeps them running, paused keeps them paused, failed and deleted remove
 * them in reverse order. Work is done by a bounded pool of worker threads;
 * one job per contract runs at a time and different contracts run in
 * parallel. Transient errors (chain unreachable, resource busy) retry with
 * capped exponential backoff a bounded number of times; they never reject a
 * contract. What is left after the retries is picked up again by the next
 * full sync or restart.
 *
 * Chain calls go through a durable outbox (store.h): persisted in the same
 * transaction as the state change that needs them, kept in memory by one
 * dispatcher thread that hands due calls to the submitter without waiting
 * (struct eng_chain's submit_async, a bounded number in flight; the one
 * submitter owns the nonce and may batch calls queued together), and marked
 * done only when the including block's events are known. Every call has the
 * same shape, {pallet, call, args}, and an entry in the engine's call table
 * (engine_calls.c) saying how to tell, before a resend after an unknown
 * outcome, that the chain already applied it, so a fact is never applied
 * twice.
 *
 * The engine knows the chain only through struct eng_chain and workloads
 * only through prov_ops tables, so that it runs against fakes in tests.
 */
#ifndef ZOS_AGENT_ENGINE_H
#define ZOS_AGENT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/deployment.h"
#include "image/image.h"
#include "agent/store.h"
#include "provisioners/prov.h"

/* ContractState, with tfchain's variant indices. */
enum eng_cstate {
	ENG_CS_CREATED = 0,
	ENG_CS_DELETED = 1,
	ENG_CS_GRACE = 2,
	ENG_CS_DEPLOYED = 3,
};

struct eng_contract {
	uint64_t id;
	uint32_t twin_id;
	int node_contract;        /* 1 for ContractData::NodeContract */
	uint32_t node_id;
	enum eng_cstate state;
	uint8_t deployment_hash[32];
	uint8_t *data;            /* heap deployment_data; eng_contract_clear frees */
	size_t data_len;
};
void eng_contract_clear(struct eng_contract *c);

struct eng_twin {
	uint8_t account[32];      /* ed25519 public key */
	int has_pk;               /* the twin's optional x25519 pk */
	uint8_t pk[64];
	size_t pk_len;
};

struct meta; /* chainclient/meta.h: the runtime metadata */

/* One outbox call as the chain interface gets it. Everything is borrowed for
 * the duration of submit_async (which copies what it keeps). */
struct eng_call {
	const char *pallet;       /* e.g. "SmartContractModule" */
	const char *call;         /* e.g. "set_contract_deployed" */
	const cJSON *args;        /* an object of the call's arguments by name (or an array) */
	uint64_t contract_id;     /* the contract the call is about */
	const char *key;          /* the outbox key, unique per fact */
	int attempt;              /* > 1: an earlier send may have reached the chain */
};

/* The outcome of one submit_async: 0 on ExtrinsicSuccess, ZE_CHAIN when
 * included and failed or impossible to build (why says how; final),
 * anything else when the outcome is unknown (retried later). why is
 * borrowed for the call. */
typedef void (*eng_submit_cb)(void *ud, int rc, const char *why);

/*
 * The chain as the engine needs it; the agent plugs in the chain client.
 * Every function may be called from several threads.
 * Reads return 0, ZE_ABSENT when the chain confirmed absence, or any other
 * negative error when there is no trustworthy answer.
 */
struct eng_chain {
	void *ctx;
	/* *out released with eng_contract_clear(). */
	int (*get_contract)(void *ctx, uint64_t id, struct eng_contract *out);
	int (*get_twin)(void *ctx, uint32_t twin_id, struct eng_twin *out);
	/* ActiveNodeContracts(node_id); *ids heap, caller frees (may be NULL, n 0). */
	int (*node_contracts)(void *ctx, uint32_t node_id, uint64_t **ids, size_t *n);
	/* Queues the call without waiting: 0 and cb(ud, ...) runs exactly once
	 * later (on any thread, possibly before this returns), unless cancel
	 * came first; negative when it could not be queued (no callback). Called
	 * by the dispatcher only, never with the engine's lock held. */
	int (*submit_async)(void *ctx, const struct eng_call *call, eng_submit_cb cb, void *ud);
	/* After it returns no callback of an earlier submit_async runs, and
	 * later ones fail: the engine is stopping and its outbox keeps the calls
	 * (a restart resends them, checking the chain first). */
	void (*cancel)(void *ctx);
	/* Optional: 1 when the runtime has pallet.call, 0 when it has not,
	 * negative when it cannot tell now. NULL: every call exists. */
	int (*has_call)(void *ctx, const char *pallet, const char *call);
	/* Optional: runs fn(arg, m) with the runtime's current metadata (kept
	 * alive for the call) and returns what fn returns; ZE_UNKNOWN when there
	 * is none now. For the reporter, which sizes its calls by it. */
	int (*with_meta)(void *ctx, int (*fn)(void *arg, const struct meta *m), void *arg);
	/* Optional: the contract a ContractCreated event carries (as decoded
	 * from a finalized block's events: what the chain stored then), with
	 * no request; *out released with eng_contract_clear(). ZE_MALFORMED
	 * when it does not decode as a contract. NULL: adoption reads it. */
	int (*contract_of_event)(void *ctx, const cJSON *contract, struct eng_contract *out);
};

struct eng_config {
	uint32_t node_id;
	uint8_t node_x25519_sk[32]; /* copied; wiped by eng_free */
	struct prov_capacity total; /* what deployments may reserve */
	dep_lookup_fn lookup;       /* prov_lookup in the agent */
	/* prov_claim_check in the agent (called with prov): may the host
	 * give this claim (port range, port free)? NULL: only other
	 * deployments' claims are checked. */
	int (*claim_check)(struct prov_ctx *prov, const struct prov_claim *c, char *err,
			   size_t errsz);
	struct prov_ctx *prov;      /* passed to every operation */
	unsigned workers;           /* 0 = 4 */
	size_t max_queue;           /* queued contracts; 0 = 2^20 */
	size_t max_data;            /* deployment_data bound; 0 = SEAL_DEFAULT_MAX */
	unsigned retry_base_ms;     /* first job retry; 0 = 1000 */
	unsigned retry_max_ms;      /* 0 = 60000 */
	unsigned retry_attempts;    /* per job before giving up until the next sync; 0 = 8 */
	unsigned outbox_in_flight;  /* calls handed to the submitter, not yet known; 0 = 64 */
	unsigned outbox_base_ms;    /* first outbox retry; 0 = 2000 */
	unsigned outbox_max_ms;     /* 0 = 300000 */
	unsigned sync_period_s;     /* full sync period; 0 = 3600 */
	unsigned retain_s;          /* finished deployments kept for get; 0 = 7 days */
	/* Image store (borrowed, may be NULL): container workloads whose image
	 * is a registry reference are checked against its policy at accept and
	 * pulled (with progress) before they are provisioned. */
	struct img_store *images;
	/* 1: contracts for this node seen on chain (ContractCreated, the full
	 * sync) are deployed without their owner's deploy command (eng_adopt). */
	int adopt;
	/* The longest a deploy command for a contract not yet known waits for
	 * the block follower to process a block it knows of but has not read
	 * (it may carry the contract's ContractCreated), instead of reading the
	 * contract from the chain; also at most three block times as the
	 * follower sees them. 0 = 2000. */
	unsigned accept_wait_ms;
};

struct eng;

/* A container image being pulled for a workload (bytes done of total). */
struct eng_pull_info {
	char name[PROV_NAME_MAX + 1];
	char image[IMG_REF_MAX];
	uint64_t done, total;
	int64_t since; /* unix seconds */
};
/* The pulls in progress for contract cid: at most max into out; the count. */
size_t eng_image_pulls(struct eng *e, uint64_t cid, struct eng_pull_info *out, size_t max);

/* store is borrowed and must outlive the engine. cfg and chain are copied. */
int eng_new(const struct eng_config *cfg, const struct eng_chain *chain, struct store *store,
	    struct eng **out);
/* Restores (a restore job for every deployment in the store) and starts the
 * workers and the dispatcher, which resends the outbox and runs a first full
 * sync at once. Returns once the jobs are queued. */
int eng_start(struct eng *e);
/* Stops taking jobs, lets running jobs finish, joins the threads. Queued
 * jobs are not lost: the store says what to do at the next start. */
void eng_stop(struct eng *e);
void eng_free(struct eng *e); /* stops first; NULL accepted */

/* Waits until no job is queued or running and (when outbox) the outbox is
 * empty, up to timeout_ms. 0 or ZE_TIMEOUT. For tests and shutdown. */
int eng_wait_idle(struct eng *e, int outbox, int timeout_ms);

/* --- accepting a deployment (the zos.deployment.deploy checks) --- */

/* Error codes of refusals (RMB error codes of the deploy command). */
enum {
	ENG_E_BAD_REQUEST = 400, /* the request itself is malformed */
	ENG_E_FORBIDDEN = 403,   /* another twin's contract, or another node's */
	ENG_E_NOT_FOUND = 404,   /* the chain confirms the contract does not exist */
	ENG_E_STATE = 409,       /* the contract is not in a state that can be deployed */
	ENG_E_INVALID = 422,     /* the contract is bad: rejected on chain */
	ENG_E_UNAVAILABLE = 503, /* the chain could not be asked; retry later */
	ENG_E_CAPACITY = 507,    /* does not fit the node: rejected on chain */
	ENG_E_INTERNAL = 500,
};

/*
 * Runs every check of the deploy command for contract_id on behalf of
 * caller_twin and, when they pass, stores the deployment and queues it.
 * 0: accepted (or already accepted/deployed: *status says which, e.g.
 * "accepted", "deploying", "deployed"). Negative: refused, *code and msg
 * say why; a bad contract is also rejected on chain through the outbox.
 */
int eng_accept(struct eng *e, uint32_t caller_twin, uint64_t contract_id, const char **status,
	       int *code, char *err, size_t errsz);
/* eng_accept for a contract that may hold only deployment_hash: data (the
 * sealed deployment, data_len bytes, borrowed; NULL for none) stands in for
 * an empty deployment_data and is checked the same way (sealed by the
 * contract twin's key, blake2b-256 of the plaintext = deployment_hash). */
int eng_accept_data(struct eng *e, uint32_t caller_twin, uint64_t contract_id,
		    const uint8_t *data, size_t data_len, const char **status, int *code,
		    char *err, size_t errsz);
/* Deploys a contract created for this node that it learned of from the
 * chain (an event or the full sync) rather than from its owner: accepted as
 * if the owner had sent the deploy command, when its data is on chain.
 * Already known contracts and hash-only ones are left alone; 0 then. */
int eng_adopt(struct eng *e, uint64_t contract_id);
/* The same with the contract already known (from its ContractCreated
 * event; taken over and cleared): no request unless it is accepted. */
int eng_adopt_contract(struct eng *e, uint64_t contract_id, struct eng_contract *c);

/* --- contract lifecycle (the lead's chain follower calls these) --- */

/* A contract's new chain state, from a block's events or a read. */
int eng_on_contract_state(struct eng *e, uint64_t contract_id, enum eng_cstate state);
/*
 * One SmartContractModule event in chainclient's flattened form
 * {pallet, event, data}: NodeContractCanceled and ContractRejected delete,
 * ContractGracePeriodStarted pauses, ContractGracePeriodEnded resumes,
 * ContractUpdated applies the contract's state. Other events (other
 * pallets, contracts this node does not hold) are ignored with 0;
 * ZE_MALFORMED when a relevant event carries no contract id.
 */
int eng_on_chain_event(struct eng *e, const cJSON *event);
/* Around one block's events on the calling thread: with on = 1, the jobs
 * its events queue wake no worker one by one; on = 0 wakes one for all of
 * them, if they need it (engine_pace.c). A block's contracts then start as
 * one burst that a worker runs back to back. Every 1 must be followed by a
 * 0 on the same thread. */
void eng_hold_wakes(struct eng *e, int on);
/* The chain confirmed the contract is gone (ZE_ABSENT, never an RPC error). */
int eng_on_contract_gone(struct eng *e, uint64_t contract_id);
/* Compares every live deployment with the chain: ActiveNodeContracts and
 * each contract's state. Unknown answers change nothing. Also requeues
 * deployments whose jobs gave up, and prunes those finished more than
 * retain_s ago. Run by the dispatcher every sync_period_s; callable
 * directly. */
int eng_full_sync(struct eng *e);
/* The follower's block cursor, persisted in the store. */
int eng_cursor_get(struct eng *e, int64_t *block); /* ZE_ABSENT before the first */
int eng_cursor_set(struct eng *e, int64_t block);

/*
 * The block follower's progress, for deploy commands that wait for it
 * instead of reading their contract (engine_handoff.c). A command waits
 * only while a block the follower knows of is not processed, or (with a
 * head subscription) while its contract is newer than every ContractCreated
 * seen, and at most accept_wait_ms; a follower that never calls these makes
 * nobody wait.
 */
/* The finalized head is head: its blocks are read next. subscribed: it came
 * from a head subscription (pushed as soon as final, so a command for a
 * contract newer than any seen also waits for the next block); 0 when
 * polled (HTTP), which makes only a known unprocessed head worth a wait. */
void eng_follow_head(struct eng *e, uint64_t head, int subscribed);
/* Every event of block number was handed to eng_on_chain_event. */
void eng_follow_done(struct eng *e, uint64_t number);
/* The follower failed a block or stops: nothing is pending any more. */
void eng_follow_stall(struct eng *e);
/* The follower moved to head without reading the blocks before it (first
 * start, a gap too long): contracts kept from earlier events are dropped. */
void eng_follow_reset(struct eng *e, uint64_t head);
/* How many times a waiting deploy command was woken (each wake ends one
 * wait: for its contract's outcome, its block, or the follower's stall). */
uint64_t eng_follow_wakes(struct eng *e);

/* --- outbox for other producers (the reporter) --- */

/* Queues a chain call under a unique key (e.g. "report:<contract>:<window>");
 * payload is the call as JSON {"pallet": P, "call": C, "args": {...}}, and
 * P.C must be in the engine's call table (engine_calls.c), else -EINVAL.
 * *added = 0 when the key was queued before, ever. Wakes the dispatcher.
 * May run inside the caller's store transaction. */
int eng_outbox_enqueue(struct eng *e, uint64_t contract_id, const char *key,
		       const char *payload, int *added);
/* The same for a payload whose pallet and call the caller names (it wrote
 * them itself): the call is looked up by those names and the payload is
 * stored as it is, not parsed (a report cycle queues a megabyte of it). */
int eng_outbox_enqueue_call(struct eng *e, const char *pallet, const char *call,
			    uint64_t contract_id, const char *key, const char *payload,
			    int *added);
/* The engine's chain interface (for the reporter: with_meta). Borrowed. */
const struct eng_chain *eng_chain_iface(const struct eng *e);

/* --- introspection --- */
struct store *eng_store(struct eng *e);
const struct eng_config *eng_config(const struct eng *e);
/* Capacity reserved by live deployments (the admission counter). */
void eng_reserved(struct eng *e, struct prov_capacity *out);

#endif
