/*
 * The tfchain structs of TfgridModule and SmartContractModule and their
 * SCALE codecs. Field order and enum variant indices follow tfchain's
 * 2023 runtime (pallet_tfgrid::types, tfchain_support::types,
 * pallet_smart_contract::types) plus this design's additions (ContractState
 * Deployed, Cause CanceledByCollective/DeploymentFailed).
 *
 * Every variable-length field has a fixed bound here, so a decoded struct
 * never allocates except for a node contract's deployment_data (owned by
 * the struct, freed with dev_contract_clear). Decoders return ZE_MALFORMED
 * on short or invalid input and ZE_TOOBIG when a field exceeds its bound.
 */
#ifndef ZOS_DEVCHAIN_TFGRID_TYPES_H
#define ZOS_DEVCHAIN_TFGRID_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "chainclient/scale.h"
#include "common/buf.h"
#include "devchain/billing.h"

/* Bounds of the byte-string fields (names, IPs, location parts, keys). */
#define DEV_STR_MAX 64
#define DEV_RELAY_MAX 256
#define DEV_TWIN_ENTITIES_MAX 4
#define DEV_FARM_IPS_MAX 32
#define DEV_NODE_IFACES_MAX 8
#define DEV_IFACE_IPS_MAX 8
/* Hard cap of deployment_data the codec accepts; genesis may set a lower
 * limit for new contracts (default DEV_DEPLOYMENT_DATA_DEFAULT). */
#define DEV_DEPLOYMENT_DATA_HARD_MAX (256u << 10)
#define DEV_DEPLOYMENT_DATA_DEFAULT (16u << 10)

struct dev_str {
	uint8_t len;
	uint8_t b[DEV_STR_MAX];
};

/* ZE_TOOBIG when n > DEV_STR_MAX. */
int dev_str_set(struct dev_str *s, const void *p, size_t n);
int dev_str_eq(const struct dev_str *a, const struct dev_str *b);

/* ---- TfgridModule --------------------------------------------------------- */

struct dev_entity_proof {
	uint32_t entity_id;
	struct dev_str signature;
};

struct dev_twin {
	uint32_t id;
	uint8_t account_id[32];
	int has_relay;
	uint16_t relay_len;
	uint8_t relay[DEV_RELAY_MAX];
	size_t nentities;
	struct dev_entity_proof entities[DEV_TWIN_ENTITIES_MAX];
	int has_pk;
	struct dev_str pk;
};

struct dev_public_ip {
	struct dev_str ip, gateway;
	uint64_t contract_id; /* 0 = free */
};

enum { DEV_FARM_NOT_CERTIFIED = 0, DEV_FARM_GOLD = 1 };

struct dev_opt_u64 {
	int has;
	uint64_t v;
};

struct dev_farming_policy_limit {
	uint32_t farming_policy_id;
	struct dev_opt_u64 cu, su, end;
	int has_node_count;
	uint32_t node_count;
	int node_certification;
};

struct dev_farm {
	uint32_t version, id;
	struct dev_str name;
	uint32_t twin_id, pricing_policy_id;
	uint8_t certification;
	size_t npublic_ips;
	struct dev_public_ip public_ips[DEV_FARM_IPS_MAX];
	int dedicated_farm;
	int has_limits;
	struct dev_farming_policy_limit limits;
};

struct dev_resources {
	uint64_t hru, sru, cru, mru;
};

struct dev_location {
	struct dev_str city, country, latitude, longitude;
};

struct dev_public_config {
	struct dev_str ip4_ip, ip4_gw;
	int has_ip6;
	struct dev_str ip6_ip, ip6_gw;
	int has_domain;
	struct dev_str domain;
};

struct dev_interface {
	struct dev_str name, mac;
	size_t nips;
	struct dev_str ips[DEV_IFACE_IPS_MAX];
};

enum { DEV_NODE_DIY = 0, DEV_NODE_CERTIFIED = 1 };

struct dev_node {
	uint32_t version, id, farm_id, twin_id;
	struct dev_resources resources;
	struct dev_location location;
	int has_public_config;
	struct dev_public_config public_config;
	uint64_t created;
	uint32_t farming_policy_id;
	size_t ninterfaces;
	struct dev_interface interfaces[DEV_NODE_IFACES_MAX];
	uint8_t certification;
	int secure_boot, virtualized;
	int has_serial_number;
	struct dev_str serial_number;
	uint32_t connection_price;
};

struct dev_pricing_policy {
	uint32_t version, id;
	struct dev_str name;
	struct dev_policy su, cu, nu, ipu, unique_name, domain_name;
	uint8_t foundation_account[32];
	uint8_t certified_sales_account[32];
	uint8_t discount_for_dedication_nodes;
};

int dev_twin_encode(const struct dev_twin *t, struct zbuf *b);
int dev_twin_decode(struct scale_rd *r, struct dev_twin *t);
int dev_public_ip_encode(const struct dev_public_ip *ip, struct zbuf *b);
int dev_public_ip_decode(struct scale_rd *r, struct dev_public_ip *ip);
int dev_farm_encode(const struct dev_farm *f, struct zbuf *b);
int dev_farm_decode(struct scale_rd *r, struct dev_farm *f);
int dev_resources_encode(const struct dev_resources *res, struct zbuf *b);
int dev_resources_decode(struct scale_rd *r, struct dev_resources *res);
int dev_location_encode(const struct dev_location *l, struct zbuf *b);
int dev_location_decode(struct scale_rd *r, struct dev_location *l);
int dev_interface_encode(const struct dev_interface *i, struct zbuf *b);
int dev_interface_decode(struct scale_rd *r, struct dev_interface *i);
int dev_node_encode(const struct dev_node *n, struct zbuf *b);
int dev_node_decode(struct scale_rd *r, struct dev_node *n);
int dev_policy_encode(const struct dev_policy *p, struct zbuf *b);
int dev_policy_decode(struct scale_rd *r, struct dev_policy *p);
int dev_pricing_policy_encode(const struct dev_pricing_policy *p, struct zbuf *b);
int dev_pricing_policy_decode(struct scale_rd *r, struct dev_pricing_policy *p);

/* Shared by the codecs of both pallets. */
int dev_str_encode(const struct dev_str *s, struct zbuf *b);
int dev_str_decode(struct scale_rd *r, struct dev_str *s);
int dev_opt_str_encode(int has, const struct dev_str *s, struct zbuf *b);
int dev_opt_str_decode(struct scale_rd *r, int *has, struct dev_str *s);

/* ---- SmartContractModule -------------------------------------------------- */

enum dev_contract_state {
	DEV_CONTRACT_CREATED = 0,
	DEV_CONTRACT_DELETED = 1,
	DEV_CONTRACT_GRACE_PERIOD = 2,
	DEV_CONTRACT_DEPLOYED = 3,
};

enum dev_cause {
	DEV_CAUSE_CANCELED_BY_USER = 0,
	DEV_CAUSE_OUT_OF_FUNDS = 1,
	DEV_CAUSE_CANCELED_BY_COLLECTIVE = 2,
	DEV_CAUSE_DEPLOYMENT_FAILED = 3,
};

enum dev_contract_type {
	DEV_CONTRACT_NODE = 0,
	DEV_CONTRACT_NAME = 1,
	DEV_CONTRACT_RENT = 2,
};

struct dev_contract {
	uint32_t version;
	uint8_t state;       /* enum dev_contract_state */
	uint8_t cause;       /* for DEV_CONTRACT_DELETED */
	uint64_t grace_block; /* for DEV_CONTRACT_GRACE_PERIOD */
	uint64_t contract_id;
	uint32_t twin_id;
	uint8_t type; /* enum dev_contract_type */
	/* NodeContract (node_id also for RentContract) */
	uint32_t node_id;
	uint8_t deployment_hash[32];
	uint8_t *deployment_data; /* owned; NULL when empty */
	size_t deployment_data_len;
	uint32_t public_ips;
	size_t npublic_ips_list;
	struct dev_public_ip public_ips_list[DEV_FARM_IPS_MAX];
	/* NameContract */
	struct dev_str name;
	int has_solution_provider;
	uint64_t solution_provider_id;
};

struct dev_billing_info {
	uint64_t previous_nu_reported;
	uint64_t last_updated; /* seconds */
	uint64_t amount_unbilled; /* units USD */
};

struct dev_consumption {
	uint64_t contract_id, timestamp, cru, sru, hru, mru, nru;
};

struct dev_contract_bill {
	uint64_t contract_id;
	uint64_t timestamp;
	uint8_t discount_level; /* DiscountLevel; the devchain always bills None = 0 */
	scale_u128 amount_billed;
};

/* Frees deployment_data and zeroes the struct. */
void dev_contract_clear(struct dev_contract *c);
int dev_contract_encode(const struct dev_contract *c, struct zbuf *b);
/* c must be zeroed or cleared; on failure nothing stays allocated. */
int dev_contract_decode(struct scale_rd *r, struct dev_contract *c);
int dev_contract_state_encode(const struct dev_contract *c, struct zbuf *b);
int dev_billing_info_encode(const struct dev_billing_info *i, struct zbuf *b);
int dev_billing_info_decode(struct scale_rd *r, struct dev_billing_info *i);
int dev_consumption_encode(const struct dev_consumption *c, struct zbuf *b);
int dev_consumption_decode(struct scale_rd *r, struct dev_consumption *c);
int dev_contract_bill_encode(const struct dev_contract_bill *cb, struct zbuf *b);
int dev_contract_bill_decode(struct scale_rd *r, struct dev_contract_bill *cb);

#endif
