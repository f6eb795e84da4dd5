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
 * transaction as the state change that needs them, handed by one dispatcher
 * thread to a few sender threads that wait for their blocks in parallel
 * (all through the one submitter of struct eng_chain, which owns the nonce),
 * and marked done only when the including block's events are known. An item
 * resent after a crash is first checked against the chain, so a fact is
 * never applied twice.
 *
 * The engine knows the chain only through struct eng_chain and workloads
 * only through prov_ops tables, so that it runs against fakes in tests.
 */
#ifndef ZOS_AGENT_ENGINE_H
#define ZOS_AGENT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/deployment.h"
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

enum eng_call_kind {
	ENG_CALL_DEPLOYED = 0,    /* set_contract_deployed(contract_id) */
	ENG_CALL_REJECT,          /* reject_contract(contract_id, reason) */
	ENG_CALL_REPORTS,         /* add_reports(payload) */
	ENG_CALL__COUNT,
};
const char *eng_call_kind_name(enum eng_call_kind k);

struct eng_call {
	enum eng_call_kind kind;
	uint64_t contract_id;
	const char *reason;       /* ENG_CALL_REJECT */
	const char *payload;      /* ENG_CALL_REPORTS: the JSON queued by the reporter */
	const char *key;          /* the outbox key, unique per fact */
	int attempt;              /* > 0: an earlier send may have reached the chain */
};

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
	/* Sends the call and waits for its block: 0 on ExtrinsicSuccess, ZE_CHAIN
	 * when included and failed (why says how; final), anything else when the
	 * outcome is unknown (retried later). Called from outbox_senders threads
	 * at once, never twice at the same time for one outbox item. */
	int (*submit)(void *ctx, const struct eng_call *call, char *why, size_t whysz);
	/* Makes every submit in progress, and every later one, return at once
	 * (as unknown): the engine is stopping and its outbox keeps the calls.
	 * From any thread. Optional. */
	void (*cancel)(void *ctx);
};

struct eng_config {
	uint32_t node_id;
	uint8_t node_x25519_sk[32]; /* copied; wiped by eng_free */
	struct prov_capacity total; /* what deployments may reserve */
	dep_lookup_fn lookup;       /* prov_lookup in the agent */
	struct prov_ctx *prov;      /* passed to every operation */
	unsigned workers;           /* 0 = 4 */
	size_t max_queue;           /* queued contracts; 0 = 2^20 */
	size_t max_data;            /* deployment_data bound; 0 = SEAL_DEFAULT_MAX */
	unsigned retry_base_ms;     /* first job retry; 0 = 1000 */
	unsigned retry_max_ms;      /* 0 = 60000 */
	unsigned retry_attempts;    /* per job before giving up until the next sync; 0 = 8 */
	unsigned outbox_senders;    /* calls in flight at once; 0 = 4 */
	unsigned outbox_base_ms;    /* first outbox retry; 0 = 2000 */
	unsigned outbox_max_ms;     /* 0 = 300000 */
	unsigned sync_period_s;     /* full sync period; 0 = 3600 */
	unsigned retain_s;          /* finished deployments kept for get; 0 = 7 days */
	/* 1: contracts for this node seen on chain (ContractCreated, the full
	 * sync) are deployed without their owner's deploy command (eng_adopt). */
	int adopt;
};

struct eng;

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
	       int *code, char *msg, size_t msgsz);
/* eng_accept for a contract that may hold only deployment_hash: data (the
 * sealed deployment, data_len bytes, borrowed; NULL for none) stands in for
 * an empty deployment_data and is checked the same way (sealed by the
 * contract twin's key, blake2b-256 of the plaintext = deployment_hash). */
int eng_accept_data(struct eng *e, uint32_t caller_twin, uint64_t contract_id,
		    const uint8_t *data, size_t data_len, const char **status, int *code,
		    char *msg, size_t msgsz);
/* Deploys a contract created for this node that it learned of from the
 * chain (an event or the full sync) rather than from its owner: accepted as
 * if the owner had sent the deploy command, when its data is on chain.
 * Already known contracts and hash-only ones are left alone; 0 then. */
int eng_adopt(struct eng *e, uint64_t contract_id);

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

/* --- outbox for other producers (the reporter) --- */

/* Queues a chain call under a unique key (e.g. "report:<contract>:<window>");
 * *added = 0 when the key was queued before, ever. Wakes the dispatcher. */
int eng_outbox_enqueue(struct eng *e, enum eng_call_kind kind, uint64_t contract_id,
		       const char *key, const char *payload, int *added);

/* --- introspection --- */
struct store *eng_store(struct eng *e);
const struct eng_config *eng_config(const struct eng *e);
/* Capacity reserved by live deployments (the admission counter). */
void eng_reserved(struct eng *e, struct prov_capacity *out);

#endif
