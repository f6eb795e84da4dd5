/*
 * v14 metadata of TfgridModule: the types, calls, storage, events and
 * errors of tfchain's 2023 runtime that the devchain implements, with the
 * same names, paths and field order (BoundedVec<u8> is described as the
 * Vec<u8> it encodes as).
 */
#include "devchain/pallet_tfgrid.h"

#include "chainclient/hash.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define F(n, t) {n, t, NULL}

static const char *const tfgrid_errors[TFG_NERRORS] = {
	"NoneValue", "StorageOverflow", "CannotCreateNode", "NodeNotExists",
	"NodeWithTwinIdExists", "CannotDeleteNode", "NodeDeleteNotAuthorized",
	"NodeUpdateNotAuthorized", "FarmExists", "FarmNotExists", "CannotCreateFarmWrongTwin",
	"CannotUpdateFarmWrongTwin", "CannotDeleteFarm", "CannotDeleteFarmWithPublicIPs",
	"CannotDeleteFarmWithNodesAssigned", "CannotDeleteFarmWrongTwin", "IpExists",
	"IpNotExists", "EntityWithNameExists", "EntityWithPubkeyExists", "EntityNotExists",
	"EntitySignatureDoesNotMatch", "EntityWithSignatureAlreadyExists", "CannotUpdateEntity",
	"CannotDeleteEntity", "SignatureLengthIsIncorrect", "TwinExists", "TwinNotExists",
	"TwinWithPubkeyExists", "CannotCreateTwin", "UnauthorizedToUpdateTwin",
	"PricingPolicyExists", "PricingPolicyNotExists", "PricingPolicyWithDifferentIdExists",
	"CertificationCodeExists", "FarmingPolicyAlreadyExists",
	"FarmPayoutAdressAlreadyRegistered", "FarmerDoesNotHaveEnoughFunds",
	"UserDidNotSignTermsAndConditions", "FarmerDidNotSignTermsAndConditions",
	"FarmerNotAuthorized", "InvalidFarmName", "AlreadyCertifier", "NotCertifier",
	"NotAllowedToCertifyNode", "FarmingPolicyNotExists", "RelayTooShort", "RelayTooLong",
	"InvalidRelay", "FarmNameTooShort", "FarmNameTooLong", "InvalidPublicIP",
	"PublicIPTooShort", "PublicIPTooLong", "GatewayIPTooShort", "GatewayIPTooLong",
	"IP4TooShort", "IP4TooLong", "InvalidIP4", "GW4TooShort", "GW4TooLong", "InvalidGW4",
	"IP6TooShort", "IP6TooLong", "InvalidIP6", "GW6TooShort", "GW6TooLong", "InvalidGW6",
	"DomainTooShort", "DomainTooLong", "InvalidDomain", "MethodIsDeprecated",
	"InterfaceNameTooShort", "InterfaceNameTooLong", "InvalidInterfaceName",
	"InterfaceMacTooShort", "InterfaceMacTooLong", "InvalidMacAddress",
	"InterfaceIpTooShort", "InterfaceIpTooLong", "InvalidInterfaceIP", "InvalidZosVersion",
	"FarmingPolicyExpired", "InvalidHRUInput", "InvalidSRUInput", "InvalidCRUInput",
	"InvalidMRUInput", "LatitudeInputTooShort", "LatitudeInputTooLong",
	"InvalidLatitudeInput", "LongitudeInputTooShort", "LongitudeInputTooLong",
	"InvalidLongitudeInput", "CountryNameTooShort", "CountryNameTooLong",
	"InvalidCountryName", "CityNameTooShort", "CityNameTooLong", "InvalidCityName",
	"InvalidCountryCityPair", "SerialNumberTooShort", "SerialNumberTooLong",
	"InvalidSerialNumber", "DocumentLinkInputTooShort", "DocumentLinkInputTooLong",
	"InvalidDocumentLinkInput", "DocumentHashInputTooShort", "DocumentHashInputTooLong",
	"InvalidDocumentHashInput", "InvalidPublicConfig", "UnauthorizedToChangePowerTarget",
	"InvalidRelayAddress", "InvalidPublicKey",
};

const char *dev_tfgrid_error_name(uint8_t index)
{
	return index < N(tfgrid_errors) ? tfgrid_errors[index] : NULL;
}

dev_type dev_tfgrid_type_public_ip(struct dev_types *r)
{
	dev_type bytes = dev_type_bytes(r);
	struct dev_field f[] = {F("ip", bytes), F("gateway", bytes),
				F("contract_id", dev_type_u64(r))};
	return dev_type_composite(r, "tfchain_support::types::PublicIP", N(f), f);
}

dev_type dev_tfgrid_type_resources(struct dev_types *r)
{
	dev_type u64 = dev_type_u64(r);
	struct dev_field f[] = {F("hru", u64), F("sru", u64), F("cru", u64), F("mru", u64)};
	return dev_type_composite(r, "tfchain_support::resources::Resources", N(f), f);
}

/* Named fields of four Vec<u8>: Location and LocationInput. */
static dev_type location(struct dev_types *r, const char *path)
{
	dev_type bytes = dev_type_bytes(r);
	struct dev_field f[] = {F("city", bytes), F("country", bytes), F("latitude", bytes),
				F("longitude", bytes)};
	return dev_type_composite(r, path, N(f), f);
}

static dev_type ip_pair(struct dev_types *r, const char *path)
{
	dev_type bytes = dev_type_bytes(r);
	struct dev_field f[] = {F("ip", bytes), F("gw", bytes)};
	return dev_type_composite(r, path, N(f), f);
}

static dev_type interface(struct dev_types *r)
{
	dev_type bytes = dev_type_bytes(r);
	struct dev_field f[] = {F("name", bytes), F("mac", bytes),
				F("ips", dev_type_vec(r, bytes))};
	return dev_type_composite(r, "tfchain_support::types::Interface", N(f), f);
}

static dev_type two_variants(struct dev_types *r, const char *path, const char *a,
			     const char *b)
{
	struct dev_variant v[] = {{a, 0, 0, NULL}, {b, 1, 0, NULL}};
	return dev_type_variant(r, path, N(v), v);
}

static dev_type farm_type(struct dev_types *r)
{
	dev_type u32 = dev_type_u32(r), bytes = dev_type_bytes(r);
	dev_type ou64 = dev_type_option(r, dev_type_u64(r));
	struct dev_field lf[] = {F("farming_policy_id", u32), F("cu", ou64), F("su", ou64),
				 F("end", ou64), F("node_count", dev_type_option(r, u32)),
				 F("node_certification", dev_type_bool(r))};
	dev_type limit =
		dev_type_composite(r, "tfchain_support::types::FarmingPolicyLimit", N(lf), lf);
	struct dev_field f[] = {
		F("version", u32),
		F("id", u32),
		F("name", bytes),
		F("twin_id", u32),
		F("pricing_policy_id", u32),
		F("certification", two_variants(r, "tfchain_support::types::FarmCertification",
						"NotCertified", "Gold")),
		F("public_ips", dev_type_vec(r, dev_tfgrid_type_public_ip(r))),
		F("dedicated_farm", dev_type_bool(r)),
		F("farming_policy_limits", dev_type_option(r, limit)),
	};
	return dev_type_composite(r, "tfchain_support::types::Farm", N(f), f);
}

static dev_type node_type(struct dev_types *r)
{
	dev_type u32 = dev_type_u32(r), bytes = dev_type_bytes(r), obytes;
	obytes = dev_type_option(r, bytes);
	struct dev_field pf[] = {
		F("ip4", ip_pair(r, "tfchain_support::types::IP4")),
		F("ip6", dev_type_option(r, ip_pair(r, "tfchain_support::types::IP6"))),
		F("domain", obytes),
	};
	dev_type pc = dev_type_composite(r, "tfchain_support::types::PublicConfig", N(pf), pf);
	struct dev_field f[] = {
		F("version", u32),
		F("id", u32),
		F("farm_id", u32),
		F("twin_id", u32),
		F("resources", dev_tfgrid_type_resources(r)),
		F("location", location(r, "pallet_tfgrid::node::Location")),
		F("public_config", dev_type_option(r, pc)),
		F("created", dev_type_u64(r)),
		F("farming_policy_id", u32),
		F("interfaces", dev_type_vec(r, interface(r))),
		F("certification", two_variants(r, "tfchain_support::types::NodeCertification",
						"Diy", "Certified")),
		F("secure_boot", dev_type_bool(r)),
		F("virtualized", dev_type_bool(r)),
		F("serial_number", obytes),
		F("connection_price", u32),
	};
	return dev_type_composite(r, "tfchain_support::types::Node", N(f), f);
}

static dev_type twin_type(struct dev_types *r)
{
	dev_type bytes = dev_type_bytes(r), obytes = dev_type_option(r, bytes);
	struct dev_field ef[] = {F("entity_id", dev_type_u32(r)), F("signature", bytes)};
	dev_type proof = dev_type_composite(r, "pallet_tfgrid::types::EntityProof", N(ef), ef);
	struct dev_field f[] = {F("id", dev_type_u32(r)), F("account_id", dev_type_account_id(r)),
				F("relay", obytes), F("entities", dev_type_vec(r, proof)),
				F("pk", obytes)};
	return dev_type_composite(r, "pallet_tfgrid::types::Twin", N(f), f);
}

static dev_type policy_type(struct dev_types *r)
{
	struct dev_variant uv[] = {{"Bytes", 0, 0, NULL},     {"Kilobytes", 1, 0, NULL},
				   {"Megabytes", 2, 0, NULL}, {"Gigabytes", 3, 0, NULL},
				   {"Terrabytes", 4, 0, NULL}};
	dev_type unit = dev_type_variant(r, "pallet_tfgrid::types::Unit", N(uv), uv);
	struct dev_field f[] = {F("value", dev_type_u32(r)), F("unit", unit)};
	return dev_type_composite(r, "pallet_tfgrid::types::Policy", N(f), f);
}

static dev_type pricing_policy_type(struct dev_types *r)
{
	dev_type u32 = dev_type_u32(r), pol = policy_type(r), acc = dev_type_account_id(r);
	struct dev_field f[] = {
		F("version", u32),	   F("id", u32),
		F("name", dev_type_bytes(r)), F("su", pol),
		F("cu", pol),		   F("nu", pol),
		F("ipu", pol),		   F("unique_name", pol),
		F("domain_name", pol),	   F("foundation_account", acc),
		F("certified_sales_account", acc),
		F("discount_for_dedication_nodes", dev_type_u8(r)),
	};
	return dev_type_composite(r, "pallet_tfgrid::types::PricingPolicy", N(f), f);
}

static void describe_calls(struct dev_meta *m, struct dev_types *r)
{
	dev_type u32 = dev_type_u32(r), bytes = dev_type_bytes(r), obytes;
	dev_type b = dev_type_bool(r), pol = policy_type(r), acc = dev_type_account_id(r);
	obytes = dev_type_option(r, bytes);
	dev_type ifaces = dev_type_vec(r, interface(r));
	dev_type loc = location(r, "pallet_tfgrid::types::LocationInput");
	dev_type res = dev_tfgrid_type_resources(r);

	struct dev_field farm[] = {
		F("name", bytes),
		F("public_ips", dev_type_vec(r, ip_pair(r, "tfchain_support::types::IP4"))),
	};
	dev_meta_call_args(m, "create_farm", N(farm), farm);
	struct dev_field cnode[] = {F("farm_id", u32),	   F("resources", res),
				    F("location", loc),	   F("interfaces", ifaces),
				    F("secure_boot", b),   F("virtualized", b),
				    F("serial_number", obytes)};
	dev_meta_call_args(m, "create_node", N(cnode), cnode);
	struct dev_field unode[] = {F("node_id", u32),	   F("farm_id", u32),
				    F("resources", res),   F("location", loc),
				    F("interfaces", ifaces), F("secure_boot", b),
				    F("virtualized", b),   F("serial_number", obytes)};
	dev_meta_call_args(m, "update_node", N(unode), unode);
	struct dev_field twin[] = {F("relay", obytes), F("pk", obytes)};
	dev_meta_call_args(m, "create_twin", N(twin), twin);
	dev_meta_call_args(m, "update_twin", N(twin), twin);
	struct dev_field pp[] = {
		F("name", bytes),	 F("su", pol),	       F("cu", pol),
		F("nu", pol),		 F("ipu", pol),	       F("unique_name", pol),
		F("domain_name", pol),	 F("foundation_account", acc),
		F("certified_sales_account", acc),
		F("discount_for_dedication_nodes", dev_type_u8(r)),
	};
	dev_meta_call_args(m, "create_pricing_policy", N(pp), pp);
	struct dev_field tc[] = {F("document_link", bytes), F("document_hash", bytes)};
	dev_meta_call_args(m, "user_accept_tc", N(tc), tc);
	dev_type u64 = dev_type_u64(r);
	struct dev_field up[] = {F("uptime", u64), F("timestamp_hint", u64)};
	dev_meta_call_args(m, "report_uptime_v2", N(up), up);
}

static void map(struct dev_meta *m, const char *name, enum dev_storage_modifier mod, dev_type key,
		dev_type value, const uint8_t *def, size_t deflen)
{
	static const uint8_t h[1] = {CHAIN_HASHER_BLAKE2_128_CONCAT};
	struct dev_storage_desc d = {name, mod, 1, h, &key, value, def, deflen};
	dev_meta_storage(m, &d);
}

static void plain(struct dev_meta *m, const char *name, enum dev_storage_modifier mod,
		  dev_type value, const uint8_t *def, size_t deflen)
{
	struct dev_storage_desc d = {name, mod, 0, NULL, NULL, value, def, deflen};
	dev_meta_storage(m, &d);
}

static const uint8_t zero32[4], empty_vec[1];

static void describe_storage(struct dev_meta *m, struct dev_types *r, dev_type farm,
			     dev_type node, dev_type twin, dev_type pp)
{
	dev_type u32 = dev_type_u32(r), bytes = dev_type_bytes(r), acc = dev_type_account_id(r);
	const enum dev_storage_modifier OPT = DEV_STORAGE_OPTIONAL, DEF = DEV_STORAGE_DEFAULT;

	map(m, "Farms", OPT, u32, farm, NULL, 0);
	map(m, "NodesByFarmID", DEF, u32, dev_type_vec(r, u32), empty_vec, 1);
	map(m, "FarmIdByName", DEF, bytes, u32, zero32, 4);
	map(m, "Nodes", OPT, u32, node, NULL, 0);
	map(m, "NodeIdByTwinID", DEF, u32, u32, zero32, 4);
	map(m, "Twins", OPT, u32, twin, NULL, 0);
	map(m, "TwinIdByAccountID", OPT, acc, u32, NULL, 0);
	map(m, "PricingPolicies", OPT, u32, pp, NULL, 0);
	map(m, "PricingPolicyIdByName", DEF, bytes, u32, zero32, 4);
	plain(m, "ConnectionPrice", DEF, u32, zero32, 4);
	plain(m, "FarmID", DEF, u32, zero32, 4);
	plain(m, "NodeID", DEF, u32, zero32, 4);
	plain(m, "TwinID", DEF, u32, zero32, 4);
	plain(m, "PricingPolicyID", DEF, u32, zero32, 4);
	plain(m, "PricingPolicyAdmin", OPT, acc, NULL, 0);
}

int dev_tfgrid_describe(struct dev_meta *m)
{
	struct dev_types *r = dev_meta_types(m);
	dev_type farm = farm_type(r), node = node_type(r), twin = twin_type(r);
	dev_type pp = pricing_policy_type(r);
	struct dev_field ff[] = {{NULL, farm, "Farm"}}, nf[] = {{NULL, node, "Node"}};
	struct dev_field tf[] = {{NULL, twin, "Twin"}}, pf[] = {{NULL, pp, "PricingPolicy"}};
	struct dev_field upf[] = {{NULL, dev_type_u32(r), "u32"},
				  {NULL, dev_type_u64(r), "u64"},
				  {NULL, dev_type_u64(r), "u64"}};
	struct dev_variant ev[] = {
		{"FarmStored", TFG_EV_FARM_STORED, 1, ff},
		{"NodeStored", TFG_EV_NODE_STORED, 1, nf},
		{"NodeUpdated", TFG_EV_NODE_UPDATED, 1, nf},
		{"NodeUptimeReported", TFG_EV_NODE_UPTIME_REPORTED, 3, upf},
		{"TwinStored", TFG_EV_TWIN_STORED, 1, tf},
		{"TwinUpdated", TFG_EV_TWIN_UPDATED, 1, tf},
		{"PricingPolicyStored", TFG_EV_PRICING_POLICY_STORED, 1, pf},
	};

	describe_calls(m, r);
	describe_storage(m, r, farm, node, twin, pp);
	dev_meta_events(m, dev_type_variant(r, "pallet_tfgrid::pallet::Event", N(ev), ev));
	dev_meta_errors(m, N(tfgrid_errors), tfgrid_errors);
	return 0;
}
