/*
 * Typed accessors for the tfchain storage the agent reads, and builders for
 * the arguments of the calls it makes.
 *
 * Every accessor reads through chain_get_json, i.e. decodes the stored bytes
 * with the connected runtime's own types, then picks fields BY NAME. A
 * runtime whose layout differs therefore either fails to decode
 * (ZE_MALFORMED) or lacks a field this code needs (ZE_UNSUPPORTED, logged
 * with the struct and field name); it is never silently misread. Fields the
 * agent does not use are not required.
 *
 * Results: 0 = value, ZE_ABSENT = the chain has none, anything else =
 * unknown (see rpc.h). grid_*_from_json are the decoding halves, usable on
 * any JSON from meta_to_json.
 */
#ifndef ZOS_CHAINCLIENT_GRID_H
#define ZOS_CHAINCLIENT_GRID_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "chainclient/client.h"
#include "chainclient/scale.h"

#define GRID_MAX_RELAY 512
#define GRID_MAX_PK 64
#define GRID_MAX_NAME 128
#define GRID_MAX_DEPLOYMENT_DATA (1u << 20)
#define GRID_MAX_ACTIVE_CONTRACTS 100000

/* System.Account. Older runtimes name the frozen balance misc_frozen. */
struct grid_account {
	uint32_t nonce, consumers, providers, sufficients;
	scale_u128 free, reserved, frozen;
};

struct grid_twin {
	uint32_t id;
	uint8_t account[32];
	int has_relay;
	char relay[GRID_MAX_RELAY + 1]; /* NUL-terminated; bytes as stored */
	size_t pk_len;                  /* 0 = no pk on chain */
	uint8_t pk[GRID_MAX_PK];
};

struct grid_node {
	uint32_t id, farm_id, twin_id;
	uint64_t hru, sru, cru, mru;
	/* The location and serial as registered; "" when the runtime's Node has
	 * none or they do not fit (they are informative, never fatal). */
	char city[GRID_MAX_NAME + 1], country[GRID_MAX_NAME + 1];
	char latitude[GRID_MAX_NAME + 1], longitude[GRID_MAX_NAME + 1];
	char serial_number[GRID_MAX_NAME + 1];
};

struct grid_farm {
	uint32_t id;
	char name[GRID_MAX_NAME + 1];
	uint32_t twin_id;
	uint32_t pricing_policy_id;
};

struct grid_policy {
	uint32_t value;
	char unit[16]; /* "Bytes", "Kilobytes", ..., "Terrabytes" (sic, tfchain) */
};

struct grid_pricing_policy {
	uint32_t id;
	char name[GRID_MAX_NAME + 1];
	struct grid_policy su, cu, nu, ipu, unique_name, domain_name;
	uint8_t foundation_account[32];
	uint8_t certified_sales_account[32];
	uint8_t discount_for_dedication_nodes;
};

enum grid_contract_state {
	GRID_CONTRACT_CREATED = 0,
	GRID_CONTRACT_DELETED,
	GRID_CONTRACT_GRACE_PERIOD,
	GRID_CONTRACT_DEPLOYED,
};

enum grid_cause {
	GRID_CAUSE_NONE = 0, /* not deleted */
	GRID_CAUSE_CANCELED_BY_USER,
	GRID_CAUSE_OUT_OF_FUNDS,
	GRID_CAUSE_CANCELED_BY_COLLECTIVE,
	GRID_CAUSE_DEPLOYMENT_FAILED,
	GRID_CAUSE_OTHER, /* a cause this code does not know */
};

enum grid_contract_type { GRID_NODE_CONTRACT = 0, GRID_NAME_CONTRACT, GRID_RENT_CONTRACT };

struct grid_contract {
	uint32_t version;
	enum grid_contract_state state;
	enum grid_cause cause;     /* when DELETED */
	uint64_t grace_block;      /* when GRACE_PERIOD: the block it started */
	uint64_t contract_id;
	uint32_t twin_id;
	enum grid_contract_type type;
	uint32_t node_id;          /* node and rent contracts */
	uint8_t deployment_hash[32];
	uint8_t *deployment_data;  /* heap, node contracts; grid_contract_clear frees */
	size_t deployment_data_len;
	uint32_t public_ips;
	int has_solution_provider;
	uint64_t solution_provider_id;
};

void grid_contract_clear(struct grid_contract *c);
const char *grid_contract_state_name(enum grid_contract_state s);

/* An account that never existed reads as all zeros (the chain's default). */
int grid_account(struct chain_client *c, const uint8_t account[32], struct grid_account *out);
int grid_twin(struct chain_client *c, uint32_t id, struct grid_twin *out);
int grid_twin_id_by_account(struct chain_client *c, const uint8_t account[32], uint32_t *id);
int grid_twin_by_account(struct chain_client *c, const uint8_t account[32], struct grid_twin *out);
int grid_node(struct chain_client *c, uint32_t id, struct grid_node *out);
/* ZE_ABSENT when the twin has no node (tfchain stores 0 for that). */
int grid_node_id_by_twin(struct chain_client *c, uint32_t twin_id, uint32_t *node_id);
int grid_node_by_twin(struct chain_client *c, uint32_t twin_id, struct grid_node *out);
/* The runtime's bound on a node contract's deployment_data in bytes
 * (SmartContractModule.MaxDeploymentDataLength, a constant on tfchain, a
 * storage value on tfchain-dev); ZE_ABSENT when the runtime declares none. */
int grid_max_deployment_data(struct chain_client *c, uint32_t *out);
/* 1 when the runtime has PALLET.CALL, 0 when not, negative when the chain
 * cannot be asked. */
int grid_has_call(struct chain_client *c, const char *pallet, const char *call);
int grid_farm(struct chain_client *c, uint32_t id, struct grid_farm *out);
int grid_pricing_policy(struct chain_client *c, uint32_t id, struct grid_pricing_policy *out);
/* out is cleared first; on success the caller grid_contract_clear()s it. */
int grid_contract(struct chain_client *c, uint64_t id, struct grid_contract *out);
/* SmartContractModule.ActiveNodeContracts; *ids heap (caller frees), an
 * empty list when the node has none. */
int grid_active_contracts(struct chain_client *c, uint32_t node_id, uint64_t **ids, size_t *n);

int grid_account_from_json(const cJSON *v, struct grid_account *out);
int grid_twin_from_json(const cJSON *v, struct grid_twin *out);
int grid_node_from_json(const cJSON *v, struct grid_node *out);
int grid_farm_from_json(const cJSON *v, struct grid_farm *out);
int grid_pricing_policy_from_json(const cJSON *v, struct grid_pricing_policy *out);
int grid_contract_from_json(const cJSON *v, struct grid_contract *out);

/*
 * Call arguments, built by NAME as JSON objects: chain_submit_async maps
 * them onto the connected runtime's argument order at sending time, so a
 * runtime that reorders or renames arguments fails with the name of the
 * missing one instead of a mis-encoded call. Each returns a new object
 * (caller cJSON_Delete()s) or NULL on allocation failure.
 */
cJSON *grid_args_create_twin(const char *relay, const uint8_t *pk, size_t pk_len);
cJSON *grid_args_update_twin(const char *relay, const uint8_t *pk, size_t pk_len);
cJSON *grid_args_create_farm(const char *name); /* no public IPs */

/* What a node registers about itself (create_node / update_node). Strings
 * are stored as bytes; serial_number NULL = none. No interfaces. */
struct grid_node_info {
	uint32_t farm_id;
	uint64_t hru, sru, cru, mru;
	const char *city, *country, *latitude, *longitude;
	int secure_boot, virtualized;
	const char *serial_number;
};
cJSON *grid_args_create_node(const struct grid_node_info *n);
cJSON *grid_args_update_node(uint32_t node_id, const struct grid_node_info *n);
cJSON *grid_args_create_node_contract(uint32_t node_id, const uint8_t hash[32],
				      const uint8_t *data, size_t len, uint32_t public_ips);
cJSON *grid_args_contract_id(uint64_t contract_id); /* cancel_contract, set_contract_deployed */
cJSON *grid_args_reject_contract(uint64_t contract_id, const char *reason);
cJSON *grid_args_transfer(const uint8_t dest[32], scale_u128 amount);

/* One consumption report of a contract's window. */
struct grid_report {
	uint64_t contract_id;
	uint64_t timestamp; /* seconds */
	uint64_t window;    /* seconds covered */
	uint64_t cru, sru, hru, mru, nru;
};

/*
 * Which report calls the runtime offers: add_reports (docs/billing.md), or
 * tfchain's report_contract_resources + add_nru_reports. Fills up to two
 * {call, args} pairs into calls/args (args are new objects; caller
 * frees), *n set to how many. ZE_UNSUPPORTED when neither exists.
 */
int grid_report_calls(const struct meta *m, const struct grid_report *r, size_t nr,
		      const char *calls[2], cJSON *args[2], size_t *n);

#endif
