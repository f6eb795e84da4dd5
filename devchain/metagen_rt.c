/* Runtime-level metadata types: events, the extrinsic and its extensions. */
#include <stdio.h>

#include "devchain/metagen.h"
#include "devchain/system.h"

static dev_type empty_composite(struct dev_types *r, const char *path)
{
	return dev_type_composite(r, path, 0, NULL);
}

/* sp_runtime's Era as scale-info describes it: Immortal, then Mortal1 ..
 * Mortal255 carrying the second byte, so a generic decoder reads it right. */
static dev_type era_type(struct dev_types *r)
{
	static char names[256][16];
	struct dev_variant vs[256];
	const struct dev_field f = {NULL, dev_type_u8(r), NULL};
	vs[0] = (struct dev_variant){"Immortal", 0, 0, NULL};
	for (int i = 1; i < 256; i++) {
		snprintf(names[i], sizeof(names[i]), "Mortal%u", (unsigned)i & 0xffu);
		vs[i] = (struct dev_variant){names[i], (uint8_t)i, 1, &f};
	}
	return dev_type_variant(r, "sp_runtime::generic::era::Era", 256, vs);
}

dev_type dev_type_multi_address(struct dev_types *r)
{
	dev_type u8 = dev_type_u8(r);
	const struct dev_field f_id = {NULL, dev_type_account_id(r), "AccountId"};
	const struct dev_field f_index = {NULL, dev_type_compact(r, dev_type_u32(r)), "AccountIndex"};
	const struct dev_field f_raw = {NULL, dev_type_bytes(r), "Vec<u8>"};
	const struct dev_field f_a32 = {NULL, dev_type_array(r, 32, u8), "[u8; 32]"};
	const struct dev_field f_a20 = {NULL, dev_type_array(r, 20, u8), "[u8; 20]"};
	const struct dev_variant vs[] = {{"Id", 0, 1, &f_id}, {"Index", 1, 1, &f_index},
					 {"Raw", 2, 1, &f_raw}, {"Address32", 3, 1, &f_a32},
					 {"Address20", 4, 1, &f_a20}};
	dev_type t = dev_type_variant(r, "sp_runtime::multiaddress::MultiAddress", 5, vs);
	/* Tools (polkadot.js) find the AccountId type through these params. */
	if (t != DEV_TYPE_NONE && !r->v[t].nparams) {
		const char *const names[] = {"AccountId", "AccountIndex"};
		const dev_type params[] = {f_id.type, dev_type_u32(r)};
		dev_types_set_params(r, t, 2, names, params);
	}
	return t;
}

static dev_type events_entry(struct dev_meta *m)
{
	struct dev_types *r = dev_meta_types(m);
	const struct dev_field apply = {NULL, dev_type_u32(r), "u32"};
	const struct dev_variant phases[] = {
		{"ApplyExtrinsic", 0, 1, &apply}, {"Finalization", 1, 0, NULL},
		{"Initialization", 2, 0, NULL}};
	dev_type phase = dev_type_variant(r, "frame_system::Phase", 3, phases);
	const struct dev_field rec[] = {
		{"phase", phase, "Phase"},
		{"event", dev_meta_runtime_event(m), "E"},
		{"topics", dev_type_vec(r, dev_type_h256(r)), "Vec<T>"}};
	dev_type record = dev_type_composite(r, "frame_system::EventRecord", 3, rec);
	const char *const names[] = {"E", "T"};
	const dev_type params[] = {dev_meta_runtime_event(m), dev_type_h256(r)};
	dev_types_set_params(r, record, 2, names, params);
	return dev_type_vec(r, record);
}

int dev_meta_build_runtime(struct dev_meta *m)
{
	struct dev_types *r = dev_meta_types(m);
	static const uint8_t empty_vec = 0;
	const struct dev_storage_desc events = {
		.name = "Events", .modifier = DEV_STORAGE_DEFAULT, .value = events_entry(m),
		.def = &empty_vec, .deflen = 1};
	int rc = dev_meta_add_storage(m, "System", &events);
	if (rc)
		return rc;

	dev_type u8 = dev_type_u8(r), u32 = dev_type_u32(r), unit = dev_type_tuple(r, 0, NULL);
	dev_type h256 = dev_type_h256(r);
	dev_type address = dev_type_multi_address(r);

	const struct dev_field f64 = {NULL, dev_type_array(r, 64, u8), "[u8; 64]"};
	const struct dev_field f65 = {NULL, dev_type_array(r, 65, u8), "[u8; 65]"};
	const struct dev_field sig_ed = {NULL, dev_type_composite(r, "sp_core::ed25519::Signature", 1, &f64), "ed25519::Signature"};
	const struct dev_field sig_sr = {NULL, dev_type_composite(r, "sp_core::sr25519::Signature", 1, &f64), "sr25519::Signature"};
	const struct dev_field sig_ec = {NULL, dev_type_composite(r, "sp_core::ecdsa::Signature", 1, &f65), "ecdsa::Signature"};
	const struct dev_variant sig_vs[] = {{"Ed25519", 0, 1, &sig_ed}, {"Sr25519", 1, 1, &sig_sr},
					     {"Ecdsa", 2, 1, &sig_ec}};
	dev_type signature = dev_type_variant(r, "sp_runtime::MultiSignature", 3, sig_vs);

	const struct dev_field f_era = {NULL, era_type(r), "Era"};
	const struct dev_field f_nonce = {NULL, dev_type_compact(r, u32), "T::Index"};
	const struct dev_field f_tip = {NULL, dev_type_compact(r, dev_type_u128(r)), "BalanceOf<T>"};
	const struct dev_ext_desc exts[] = {
		{"CheckNonZeroSender", empty_composite(r, "frame_system::extensions::check_non_zero_sender::CheckNonZeroSender"), unit},
		{"CheckSpecVersion", empty_composite(r, "frame_system::extensions::check_spec_version::CheckSpecVersion"), u32},
		{"CheckTxVersion", empty_composite(r, "frame_system::extensions::check_tx_version::CheckTxVersion"), u32},
		{"CheckGenesis", empty_composite(r, "frame_system::extensions::check_genesis::CheckGenesis"), h256},
		{"CheckMortality", dev_type_composite(r, "frame_system::extensions::check_mortality::CheckMortality", 1, &f_era), h256},
		{"CheckNonce", dev_type_composite(r, "frame_system::extensions::check_nonce::CheckNonce", 1, &f_nonce), unit},
		{"CheckWeight", empty_composite(r, "frame_system::extensions::check_weight::CheckWeight"), unit},
		{"ChargeTransactionPayment", dev_type_composite(r, "pallet_transaction_payment::ChargeTransactionPayment", 1, &f_tip), unit},
	};
	enum { NEXTS = sizeof(exts) / sizeof(exts[0]) };
	dev_type ext_types[NEXTS];
	for (size_t i = 0; i < NEXTS; i++)
		ext_types[i] = exts[i].type;
	dev_type extra = dev_type_tuple(r, NEXTS, ext_types);

	const struct dev_field body = {NULL, dev_type_bytes(r), NULL};
	dev_type xt = dev_type_composite(r, "sp_runtime::generic::unchecked_extrinsic::UncheckedExtrinsic", 1, &body);
	const char *const pnames[] = {"Address", "Call", "Signature", "Extra"};
	const dev_type ptypes[] = {address, dev_meta_runtime_call(m), signature, extra};
	dev_types_set_params(r, xt, 4, pnames, ptypes);
	dev_type runtime = empty_composite(r, "tfchain_runtime::Runtime");
	if (r->err)
		return r->err;
	return dev_meta_encode_all(m, xt, exts, NEXTS, runtime);
}
