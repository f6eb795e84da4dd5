/*
 * v14 metadata of SmartContractModule: tfchain's 2023 types with this
 * design's additions (ContractState::Deployed, Cause::CanceledByCollective
 * and DeploymentFailed, calls add_reports / set_contract_deployed /
 * reject_contract, event ContractRejected, the billing storage items).
 */
#include "devchain/pallet_tfgrid.h"

#include "chainclient/hash.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define F(n, t) {n, t, NULL}

static const char *const sc_errors[SC_NERRORS] = {
	"TwinNotExists", "NodeNotExists", "FarmNotExists", "FarmHasNotEnoughPublicIPs",
	"FarmHasNotEnoughPublicIPsFree", "FailedToReserveIP", "FailedToFreeIPs",
	"ContractNotExists", "TwinNotAuthorizedToUpdateContract",
	"TwinNotAuthorizedToCancelContract", "NodeNotAuthorizedToDeployContract",
	"NodeNotAuthorizedToComputeReport", "PricingPolicyNotExists", "ContractIsNotUnique",
	"NameExists", "NameNotValid", "InvalidContractType", "TFTPriceValueError",
	"NotEnoughResourcesOnNode", "NodeNotAuthorizedToReportResources", "MethodIsDeprecated",
	"NodeHasActiveContracts", "NodeHasRentContract", "NodeIsNotDedicated",
	"NodeNotAvailableToDeploy", "CannotUpdateContractInGraceState", "NumOverflow",
	"OffchainSignedTxCannotSign", "OffchainSignedTxAlreadySent",
	"OffchainSignedTxNoLocalAccountAvailable", "NameContractNameTooShort",
	"NameContractNameTooLong", "InvalidProviderConfiguration", "NoSuchSolutionProvider",
	"SolutionProviderNotApproved", "TwinNotAuthorized", "ServiceContractNotExists",
	"ServiceContractCreationNotAllowed", "ServiceContractModificationNotAllowed",
	"ServiceContractApprovalNotAllowed", "ServiceContractRejectionNotAllowed",
	"ServiceContractBillingNotApprovedByBoth", "ServiceContractBillingVariableAmountTooHigh",
	"ServiceContractBillMetadataTooLong", "ServiceContractMetadataTooLong",
	"ServiceContractNotEnoughFundsToPayBill", "CanOnlyIncreaseFrequency",
	"IsNotAnAuthority", "WrongAuthority", "ContractWrongState", "DeploymentDataTooLong",
	"TooManyReports",
};

const char *dev_sc_error_name(uint8_t index)
{
	return index < N(sc_errors) ? sc_errors[index] : NULL;
}

struct sc_types {
	dev_type u32, u64, bytes, hash, contract, billing_info, consumption, bill, public_ips;
};

static dev_type contract_type(struct dev_types *r, const struct sc_types *t)
{
	struct dev_variant cv[] = {{"CanceledByUser", 0, 0, NULL},
				   {"OutOfFunds", 1, 0, NULL},
				   {"CanceledByCollective", 2, 0, NULL},
				   {"DeploymentFailed", 3, 0, NULL}};
	dev_type cause = dev_type_variant(r, "pallet_smart_contract::types::Cause", N(cv), cv);
	struct dev_field del[] = {{NULL, cause, "Cause"}}, grace[] = {{NULL, t->u64, "u64"}};
	struct dev_variant sv[] = {{"Created", 0, 0, NULL},
				   {"Deleted", 1, 1, del},
				   {"GracePeriod", 2, 1, grace},
				   {"Deployed", 3, 0, NULL}};
	dev_type state =
		dev_type_variant(r, "pallet_smart_contract::types::ContractState", N(sv), sv);

	struct dev_field nf[] = {F("node_id", t->u32),	       F("deployment_hash", t->hash),
				 F("deployment_data", t->bytes), F("public_ips", t->u32),
				 F("public_ips_list", t->public_ips)};
	dev_type node = dev_type_composite(r, "pallet_smart_contract::types::NodeContract",
					   N(nf), nf);
	struct dev_field namef[] = {F("name", t->bytes)};
	dev_type name = dev_type_composite(r, "pallet_smart_contract::types::NameContract",
					   N(namef), namef);
	struct dev_field rentf[] = {F("node_id", t->u32)};
	dev_type rent = dev_type_composite(r, "pallet_smart_contract::types::RentContract",
					   N(rentf), rentf);
	struct dev_field d0[] = {{NULL, node, "NodeContract"}}, d1[] = {{NULL, name, "NameContract"}};
	struct dev_field d2[] = {{NULL, rent, "RentContract"}};
	struct dev_variant dv[] = {{"NodeContract", 0, 1, d0},
				   {"NameContract", 1, 1, d1},
				   {"RentContract", 2, 1, d2}};
	dev_type data =
		dev_type_variant(r, "pallet_smart_contract::types::ContractData", N(dv), dv);

	struct dev_field f[] = {F("version", t->u32),	     F("state", state),
				F("contract_id", t->u64),    F("twin_id", t->u32),
				F("contract_type", data),
				F("solution_provider_id", dev_type_option(r, t->u64))};
	return dev_type_composite(r, "pallet_smart_contract::types::Contract", N(f), f);
}

static void build_types(struct dev_types *r, struct sc_types *t)
{
	t->u32 = dev_type_u32(r);
	t->u64 = dev_type_u64(r);
	t->bytes = dev_type_bytes(r);
	t->hash = dev_type_array(r, 32, dev_type_u8(r));
	t->public_ips = dev_type_vec(r, dev_tfgrid_type_public_ip(r));
	t->contract = contract_type(r, t);

	struct dev_field bf[] = {F("previous_nu_reported", t->u64), F("last_updated", t->u64),
				 F("amount_unbilled", t->u64)};
	t->billing_info = dev_type_composite(
		r, "pallet_smart_contract::types::ContractBillingInformation", N(bf), bf);
	struct dev_field cf[] = {F("contract_id", t->u64), F("timestamp", t->u64),
				 F("cru", t->u64),	   F("sru", t->u64),
				 F("hru", t->u64),	   F("mru", t->u64),
				 F("nru", t->u64)};
	t->consumption =
		dev_type_composite(r, "pallet_smart_contract::types::Consumption", N(cf), cf);
	struct dev_variant lv[] = {{"None", 0, 0, NULL},
				   {"Default", 1, 0, NULL},
				   {"Bronze", 2, 0, NULL},
				   {"Silver", 3, 0, NULL},
				   {"Gold", 4, 0, NULL}};
	dev_type level =
		dev_type_variant(r, "pallet_smart_contract::types::DiscountLevel", N(lv), lv);
	struct dev_field bill[] = {F("contract_id", t->u64), F("timestamp", t->u64),
				   F("discount_level", level),
				   F("amount_billed", dev_type_u128(r))};
	t->bill = dev_type_composite(r, "pallet_smart_contract::types::ContractBill", N(bill),
				     bill);
}

static void describe_calls(struct dev_meta *m, struct dev_types *r, const struct sc_types *t)
{
	struct dev_field create[] = {F("node_id", t->u32),	     F("deployment_hash", t->hash),
				     F("deployment_data", t->bytes), F("public_ips", t->u32),
				     F("solution_provider_id", dev_type_option(r, t->u64))};
	struct dev_field id[] = {F("contract_id", t->u64)};
	struct dev_field reports[] = {F("reports", dev_type_vec(r, t->consumption))};
	struct dev_field reject[] = {F("contract_id", t->u64), F("reason", t->bytes)};

	dev_meta_call_args(m, "create_node_contract", N(create), create);
	dev_meta_call_args(m, "cancel_contract", N(id), id);
	dev_meta_call_args(m, "add_reports", N(reports), reports);
	dev_meta_call_args(m, "set_contract_deployed", N(id), id);
	dev_meta_call_args(m, "reject_contract", N(reject), reject);
}

static const uint8_t zeros[24], empty_vec[1];

static void describe_storage(struct dev_meta *m, struct dev_types *r, const struct sc_types *t)
{
	static const uint8_t h1[1] = {CHAIN_HASHER_BLAKE2_128_CONCAT};
	static const uint8_t h2[2] = {CHAIN_HASHER_BLAKE2_128_CONCAT,
				      CHAIN_HASHER_BLAKE2_128_CONCAT};
	const enum dev_storage_modifier OPT = DEV_STORAGE_OPTIONAL, DEF = DEV_STORAGE_DEFAULT;
	dev_type k64[1] = {t->u64}, k32[1] = {t->u32}, kh[2] = {t->u32, t->hash};
	dev_type v64 = dev_type_vec(r, t->u64);
	const struct dev_storage_desc d[] = {
		{"Contracts", OPT, 1, h1, k64, t->contract, NULL, 0},
		{"ContractBillingInformationByID", DEF, 1, h1, k64, t->billing_info, zeros, 24},
		{"ContractIDByNodeIDAndHash", DEF, 2, h2, kh, t->u64, zeros, 8},
		{"ActiveNodeContracts", DEF, 1, h1, k32, v64, empty_vec, 1},
		{"ContractID", DEF, 0, NULL, NULL, t->u64, zeros, 8},
		{"ContractBillHistory", DEF, 1, h1, k64, dev_type_vec(r, t->bill), empty_vec, 1},
		{"ContractsInGracePeriod", DEF, 0, NULL, NULL, v64, empty_vec, 1},
		{"TftPrice", DEF, 0, NULL, NULL, t->u32, zeros, 4},
		{"GracePeriodBlocks", DEF, 0, NULL, NULL, t->u64, zeros, 8},
		{"MaxDeploymentDataLength", DEF, 0, NULL, NULL, t->u32, zeros, 4},
	};
	for (size_t i = 0; i < N(d); i++)
		dev_meta_storage(m, &d[i]);
}

static void describe_events(struct dev_meta *m, struct dev_types *r, const struct sc_types *t)
{
	struct dev_field contract[] = {{NULL, t->contract, "Contract"}};
	struct dev_field canceled[] = {F("contract_id", t->u64), F("node_id", t->u32),
				       F("twin_id", t->u32)};
	struct dev_field ips[] = {F("contract_id", t->u64), F("public_ips", t->public_ips)};
	struct dev_field deployed[] = {{NULL, t->u64, "u64"},
				       {NULL, dev_type_account_id(r), "AccountId"}};
	struct dev_field report[] = {{NULL, t->consumption, "Consumption"}};
	struct dev_field billed[] = {{NULL, t->bill, "ContractBill"}};
	struct dev_field grace[] = {F("contract_id", t->u64), F("node_id", t->u32),
				    F("twin_id", t->u32), F("block_number", t->u64)};
	struct dev_field rejected[] = {F("contract_id", t->u64), F("node_id", t->u32),
				       F("twin_id", t->u32), F("reason", t->bytes)};
	struct dev_variant ev[] = {
		{"ContractCreated", SC_EV_CONTRACT_CREATED, 1, contract},
		{"ContractUpdated", SC_EV_CONTRACT_UPDATED, 1, contract},
		{"NodeContractCanceled", SC_EV_NODE_CONTRACT_CANCELED, N(canceled), canceled},
		{"IPsReserved", SC_EV_IPS_RESERVED, N(ips), ips},
		{"IPsFreed", SC_EV_IPS_FREED, N(ips), ips},
		{"ContractDeployed", SC_EV_CONTRACT_DEPLOYED, N(deployed), deployed},
		{"ConsumptionReportReceived", SC_EV_CONSUMPTION_REPORT_RECEIVED, 1, report},
		{"ContractBilled", SC_EV_CONTRACT_BILLED, 1, billed},
		{"ContractGracePeriodStarted", SC_EV_CONTRACT_GRACE_PERIOD_STARTED, N(grace), grace},
		{"ContractGracePeriodEnded", SC_EV_CONTRACT_GRACE_PERIOD_ENDED, 3, grace},
		{"ContractRejected", SC_EV_CONTRACT_REJECTED, N(rejected), rejected},
	};
	dev_meta_events(m, dev_type_variant(r, "pallet_smart_contract::pallet::Event", N(ev), ev));
}

int dev_sc_describe(struct dev_meta *m)
{
	struct dev_types *r = dev_meta_types(m);
	struct sc_types t;

	build_types(r, &t);
	describe_calls(m, r, &t);
	describe_storage(m, r, &t);
	describe_events(m, r, &t);
	dev_meta_errors(m, N(sc_errors), sc_errors);
	return 0;
}
