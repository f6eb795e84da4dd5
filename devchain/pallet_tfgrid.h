/*
 * Internals shared by the TfgridModule and SmartContractModule sources:
 * error and event indices (tfchain's, plus this design's additions at the
 * end), the metadata type builders both pallets use, and the billing entry
 * points of SmartContractModule.
 */
#ifndef ZOS_DEVCHAIN_PALLET_TFGRID_H
#define ZOS_DEVCHAIN_PALLET_TFGRID_H

#include <stdint.h>

#include "devchain/runtime.h"
#include "devchain/tfgrid_types.h"

/* TfgridModule errors used by the devchain, at tfchain's indices. */
enum {
	TFG_ERR_STORAGE_OVERFLOW = 1,
	TFG_ERR_NODE_NOT_EXISTS = 3,
	TFG_ERR_NODE_WITH_TWIN_ID_EXISTS = 4,
	TFG_ERR_NODE_UPDATE_NOT_AUTHORIZED = 7,
	TFG_ERR_FARM_EXISTS = 8,
	TFG_ERR_FARM_NOT_EXISTS = 9,
	TFG_ERR_IP_EXISTS = 16,
	TFG_ERR_TWIN_EXISTS = 26,
	TFG_ERR_TWIN_NOT_EXISTS = 27,
	TFG_ERR_PRICING_POLICY_EXISTS = 31,
	TFG_ERR_INVALID_FARM_NAME = 41,
	TFG_ERR_RELAY_TOO_SHORT = 46,
	TFG_ERR_RELAY_TOO_LONG = 47,
	TFG_ERR_INVALID_RELAY = 48,
	TFG_ERR_FARM_NAME_TOO_SHORT = 49,
	TFG_ERR_FARM_NAME_TOO_LONG = 50,
	TFG_ERR_PUBLIC_IP_TOO_SHORT = 52,
	TFG_ERR_GATEWAY_IP_TOO_SHORT = 54,
	TFG_ERR_INVALID_CRU_INPUT = 85,
	TFG_ERR_INVALID_MRU_INPUT = 86,
	TFG_ERR_DOCUMENT_LINK_TOO_SHORT = 103,
	TFG_ERR_DOCUMENT_HASH_TOO_SHORT = 106,
	TFG_ERR_INVALID_PUBLIC_KEY = 112, /* NEW: pk is not 32 bytes */
	TFG_NERRORS = 113,
};

/* TfgridModule events at tfchain's indices. */
enum {
	TFG_EV_FARM_STORED = 0,
	TFG_EV_NODE_STORED = 3,
	TFG_EV_NODE_UPDATED = 4,
	TFG_EV_NODE_UPTIME_REPORTED = 6,
	TFG_EV_TWIN_STORED = 11,
	TFG_EV_TWIN_UPDATED = 12,
	TFG_EV_PRICING_POLICY_STORED = 16,
};

/* SmartContractModule errors at tfchain's indices; NEW ones follow. */
enum {
	SC_ERR_TWIN_NOT_EXISTS = 0,
	SC_ERR_NODE_NOT_EXISTS = 1,
	SC_ERR_FARM_NOT_EXISTS = 2,
	SC_ERR_FARM_HAS_NOT_ENOUGH_PUBLIC_IPS = 3,
	SC_ERR_FARM_HAS_NOT_ENOUGH_PUBLIC_IPS_FREE = 4,
	SC_ERR_CONTRACT_NOT_EXISTS = 7,
	SC_ERR_TWIN_NOT_AUTHORIZED_TO_CANCEL_CONTRACT = 9,
	SC_ERR_NODE_NOT_AUTHORIZED_TO_DEPLOY_CONTRACT = 10,
	SC_ERR_NODE_NOT_AUTHORIZED_TO_COMPUTE_REPORT = 11,
	SC_ERR_PRICING_POLICY_NOT_EXISTS = 12,
	SC_ERR_CONTRACT_IS_NOT_UNIQUE = 13,
	SC_ERR_INVALID_CONTRACT_TYPE = 16,
	SC_ERR_TFT_PRICE_VALUE_ERROR = 17,
	SC_ERR_NUM_OVERFLOW = 26,
	SC_ERR_NO_SUCH_SOLUTION_PROVIDER = 33,
	SC_ERR_CONTRACT_WRONG_STATE = 49,           /* NEW */
	SC_ERR_DEPLOYMENT_DATA_TOO_LONG = 50,       /* NEW */
	SC_ERR_TOO_MANY_REPORTS = 51,               /* NEW */
	SC_NERRORS = 52,
};

/* SmartContractModule events at tfchain's indices; NEW ones follow. */
enum {
	SC_EV_CONTRACT_CREATED = 0,
	SC_EV_CONTRACT_UPDATED = 1,
	SC_EV_NODE_CONTRACT_CANCELED = 2,
	SC_EV_IPS_RESERVED = 4,
	SC_EV_IPS_FREED = 5,
	SC_EV_CONTRACT_DEPLOYED = 6,
	SC_EV_CONSUMPTION_REPORT_RECEIVED = 7,
	SC_EV_CONTRACT_BILLED = 8,
	SC_EV_CONTRACT_GRACE_PERIOD_STARTED = 13,
	SC_EV_CONTRACT_GRACE_PERIOD_ENDED = 14,
	SC_EV_CONTRACT_REJECTED = 24, /* NEW */
};

#define TFG_ERR(e) DEV_MODULE_ERR(e)
#define SC_ERR(e) DEV_MODULE_ERR(e)

/* Genesis defaults (tfchain's mainnet genesis for the pricing policy). */
#define DEV_DEFAULT_TFT_PRICE_MUSD 50u
#define DEV_DEFAULT_GRACE_PERIOD_BLOCKS 100u
#define DEV_DEFAULT_CONNECTION_PRICE 80u
/* Reports in one add_reports call. */
#define DEV_REPORTS_MAX 1024u
/* Bills kept per contract in ContractBillHistory (oldest dropped). */
#define DEV_BILL_HISTORY_MAX 128u

/* Metadata types shared by both pallets (registered once by path). */
dev_type dev_tfgrid_type_public_ip(struct dev_types *r);
dev_type dev_tfgrid_type_resources(struct dev_types *r);
int dev_tfgrid_describe(struct dev_meta *m);
int dev_sc_describe(struct dev_meta *m);
/* The metadata name of a pallet error index; NULL past the last one. */
const char *dev_tfgrid_error_name(uint8_t index);
const char *dev_sc_error_name(uint8_t index);

/* Stores policy p under the next PricingPolicyID (p->id and p->version are
 * set) and emits PricingPolicyStored; PricingPolicyExists for a taken name. */
int dev_tfgrid_store_pricing_policy(struct dev_ctx *ctx, struct dev_pricing_policy *p);
int dev_tfgrid_genesis(struct dev_ctx *ctx, const cJSON *section);

/* The twin of the extrinsic's signer: DEV_ERR_BAD_ORIGIN without a signer,
 * `absent_err` when the signer has no twin. */
int dev_origin_twin(struct dev_ctx *ctx, int absent_err, struct dev_twin *t);

/* pallet_tfgrid_uptime.c */
int dev_tfgrid_call_user_accept_tc(struct dev_ctx *ctx, struct scale_rd *a);
int dev_tfgrid_call_report_uptime_v2(struct dev_ctx *ctx, struct scale_rd *a);

/* SmartContractModule billing (pallet_smartcontract_billing.c). */
int dev_sc_add_reports(struct dev_ctx *ctx, struct scale_rd *args);
/* Per block: contracts in grace are paid when their twin was topped up,
 * and deleted when their grace period ran out. */
int dev_sc_grace_on_initialize(struct dev_ctx *ctx);
/* Deletes a contract for cause: state Deleted(cause) (ContractUpdated),
 * public IPs freed, indices and billing info removed, then
 * NodeContractCanceled (or ContractRejected with reason for
 * DEV_CAUSE_DEPLOYMENT_FAILED). */
int dev_sc_remove_contract(struct dev_ctx *ctx, struct dev_contract *c, uint8_t cause,
			   const uint8_t *reason, size_t reason_len);

#endif
