/* Unit tests of the metadata v14 decoder and the generic codec, on a real
 * tfchain runtime's metadata (tests/fixtures, or $ZOS_FIXTURES_DIR). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/meta.h"
#include "chainclient/xt.h"
#include "common/hex.h"
#include "common/zerr.h"

#define FIXTURE "tfchain-metadata-v14-2023-04.scale"

static char fixture_path[4096];
static uint8_t *fixture;
static size_t fixture_len;

static int load_fixture(void)
{
	const char *dir = getenv("ZOS_FIXTURES_DIR");
	snprintf(fixture_path, sizeof fixture_path, "%s/%s", dir ? dir : "tests/fixtures",
		 FIXTURE);
	FILE *f = fopen(fixture_path, "rb");
	if (!f)
		return -1;
	fixture = malloc(1 << 20);
	fixture_len = fixture ? fread(fixture, 1, 1 << 20, f) : 0;
	fclose(f);
	return fixture_len > 0 ? 0 : -1;
}

static int setup(void **st)
{
	struct meta *m;
	if (meta_decode(fixture, fixture_len, &m) != 0)
		return -1;
	*st = m;
	return 0;
}

static int teardown(void **st)
{
	meta_free(*st);
	return 0;
}

static void registry_and_pallets(void **st)
{
	const struct meta *m = *st;
	assert_int_equal(m->ntypes, 310);
	assert_int_equal(m->extrinsic_version, 4);
	assert_int_equal(meta_pallet(m, "System")->index, 0);
	assert_int_equal(meta_pallet(m, "TfgridModule")->index, 11);
	assert_int_equal(meta_pallet(m, "SmartContractModule")->index, 12);
	assert_ptr_equal(meta_pallet_by_index(m, 12), meta_pallet(m, "SmartContractModule"));
	assert_null(meta_pallet(m, "NoSuchPallet"));
	assert_string_equal(meta_type_name(meta_type(m, 0)), "AccountId32");
	assert_null(meta_type(m, 310));
}

static void call_and_event_indices(void **st)
{
	const struct meta *m = *st;
	const struct meta_pallet *sc = meta_pallet(m, "SmartContractModule");
	const struct meta_pallet *tf = meta_pallet(m, "TfgridModule");
	const struct meta_variant *v = meta_call(m, sc, "create_node_contract");
	assert_non_null(v);
	assert_int_equal(v->index, 0);
	assert_int_equal(v->nfields, 5);
	assert_string_equal(v->fields[1].name, "deployment_hash");
	assert_int_equal(meta_call(m, sc, "cancel_contract")->index, 2);
	assert_int_equal(meta_call(m, sc, "add_nru_reports")->index, 5);
	assert_int_equal(meta_call(m, sc, "report_contract_resources")->index, 6);
	assert_null(meta_call(m, sc, "add_reports"));
	assert_int_equal(meta_call(m, tf, "create_twin")->index, 17);
	assert_int_equal(meta_call(m, tf, "update_twin")->index, 18);
	assert_int_equal(meta_event(m, sc, "ContractCreated")->index, 0);
	assert_int_equal(meta_event(m, sc, "NodeContractCanceled")->index, 2);
	assert_int_equal(meta_event(m, meta_pallet(m, "System"), "ExtrinsicFailed")->index, 1);
	assert_non_null(meta_error(m, sc, "ContractNotExists"));
	assert_non_null(meta_constant(sc, "MaxDeploymentDataLength"));
}

static void storage_entries(void **st)
{
	const struct meta *m = *st;
	const struct meta_pallet *sc = meta_pallet(m, "SmartContractModule");
	const struct meta_storage *s = meta_storage(sc, "Contracts");
	assert_non_null(s);
	assert_true(s->is_map);
	assert_int_equal(s->modifier, META_MOD_OPTIONAL);
	assert_int_equal(s->nhashers, 1);
	assert_int_equal(s->hashers[0], CHAIN_HASHER_BLAKE2_128_CONCAT);
	assert_string_equal(meta_type_name(meta_type(m, s->value_type)), "Contract");
	uint32_t kt;
	assert_int_equal(meta_storage_key_type(m, s, 0, &kt), 0);
	assert_int_equal(meta_type(m, kt)->prim, META_U64);

	s = meta_storage(sc, "ContractIDByNodeIDAndHash");
	assert_int_equal(s->nhashers, 2);
	assert_int_equal(s->hashers[1], CHAIN_HASHER_BLAKE2_128_CONCAT);
	assert_int_equal(meta_storage_key_type(m, s, 0, &kt), 0);
	assert_int_equal(meta_type(m, kt)->prim, META_U32);
	assert_int_equal(meta_storage_key_type(m, s, 1, &kt), 0);
	assert_int_equal(meta_type(m, kt)->kind, META_ARRAY);
	assert_int_equal(meta_storage_key_type(m, s, 2, &kt), -EINVAL);

	s = meta_storage(sc, "ContractID");
	assert_false(s->is_map);
	assert_int_equal(s->modifier, META_MOD_DEFAULT);
	assert_int_equal(s->def_len, 8);
}

static void assert_json(const cJSON *j, const char *want)
{
	char *s = cJSON_PrintUnformatted(j);
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void storage_keys_from_metadata(void **st)
{
	const struct meta *m = *st;
	uint8_t alice[32];
	hex_decode_fixed("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", alice, 32);
	const uint8_t *keys[] = {alice};
	size_t lens[] = {32};
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(meta_storage_key(m, "System", "Account", 1, keys, lens, &b), 0);
	char *hex = hex_encode_alloc(b.data, b.len, 0);
	assert_string_equal(hex, "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9"
				 "de1e86a9a8c739864cf3cc5ec2bea59f"
				 "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d");
	free(hex);
	cJSON *jk;
	const struct meta_storage *acct = meta_storage(meta_pallet(m, "System"), "Account");
	assert_int_equal(meta_storage_key_decode(m, acct, b.data, b.len, &jk), 0);
	assert_json(jk, "[\"0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d\"]");
	cJSON_Delete(jk);
	assert_int_equal(meta_storage_key_decode(m, acct, b.data, b.len - 1, &jk), ZE_MALFORMED);
	assert_int_equal(meta_storage_key_decode(m, acct, b.data, 20, &jk), ZE_MALFORMED);

	/* A double map: ContractIDByNodeIDAndHash(7, hash). */
	uint8_t node[4] = {7, 0, 0, 0}, hash[32];
	memset(hash, 0xab, sizeof hash);
	const uint8_t *dk[] = {node, hash};
	size_t dl[] = {4, 32};
	zbuf_reset(&b);
	assert_int_equal(meta_storage_key(m, "SmartContractModule", "ContractIDByNodeIDAndHash", 2,
					  dk, dl, &b), 0);
	assert_int_equal(b.len, 32 + 16 + 4 + 16 + 32);
	const struct meta_storage *dm =
		meta_storage(meta_pallet(m, "SmartContractModule"), "ContractIDByNodeIDAndHash");
	assert_int_equal(meta_storage_key_decode(m, dm, b.data, b.len, &jk), 0);
	assert_json(jk, "[7,\"0xabababababababababababababababababababababababababababababababab\"]");
	cJSON_Delete(jk);
	/* Only the first key: an iteration prefix, not a full key. */
	zbuf_reset(&b);
	assert_int_equal(meta_storage_key(m, "SmartContractModule", "ContractIDByNodeIDAndHash", 1,
					  dk, dl, &b), 0);
	assert_int_equal(b.len, 32 + 16 + 4);
	assert_int_equal(meta_storage_key_decode(m, dm, b.data, b.len, &jk), ZE_MALFORMED);

	zbuf_reset(&b);
	assert_int_equal(meta_storage_key(m, "System", "Nope", 0, NULL, NULL, &b), ZE_ABSENT);
	assert_int_equal(meta_storage_key(m, "System", "Account", 2, keys, lens, &b), -EINVAL);
	zbuf_free(&b);
}

static void signed_extensions(void **st)
{
	const struct meta *m = *st;
	static const char *want[] = {"CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion",
				     "CheckGenesis", "CheckMortality", "CheckNonce",
				     "CheckWeight", "ChargeTransactionPayment"};
	assert_int_equal(m->nexts, 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(m->exts[i].identifier, want[i]);
	struct xt_exts got, def;
	assert_int_equal(xt_exts_from_meta(m, &got, NULL), 0);
	xt_exts_default(&def);
	assert_int_equal(got.n, def.n);
	assert_memory_equal(got.ids, def.ids, def.n * sizeof def.ids[0]);
}

/* A runtime needing an extension we cannot fill is refused by name. */
static void unknown_extension_is_refused(void **st)
{
	struct meta *m;
	assert_int_equal(meta_decode(fixture, fixture_len, &m), 0);
	/* ChargeTransactionPayment's extra (a compact tip) is not zero-sized. */
	m->exts[7].identifier = "ChargeAssetTxPayment";
	struct xt_exts got;
	const char *unknown = NULL;
	assert_int_equal(xt_exts_from_meta(m, &got, &unknown), ZE_UNSUPPORTED);
	assert_string_equal(unknown, "ChargeAssetTxPayment");
	/* CheckWeight carries nothing, so an unknown name there is harmless. */
	m->exts[7].identifier = "ChargeTransactionPayment";
	m->exts[6].identifier = "CheckSomethingEmpty";
	assert_int_equal(xt_exts_from_meta(m, &got, &unknown), 0);
	assert_int_equal(got.ids[6], XT_EXT_EMPTY);
	meta_free(m);
}

static void generic_decode_account(void **st)
{
	const struct meta *m = *st;
	const struct meta_storage *s = meta_storage(meta_pallet(m, "System"), "Account");
	cJSON *j;
	assert_int_equal(meta_to_json_buf(m, s->value_type, s->def, s->def_len, &j), 0);
	assert_json(j, "{\"nonce\":0,\"consumers\":0,\"providers\":0,\"sufficients\":0,"
		       "\"data\":{\"free\":0,\"reserved\":0,\"misc_frozen\":0,\"fee_frozen\":0}}");
	cJSON_Delete(j);

	/* nonce 5, free 2^100: u128 beyond 2^53 prints as a decimal string. */
	uint8_t v[80] = {5};
	v[16 + 12] = 0x10;
	assert_int_equal(meta_to_json_buf(m, s->value_type, v, sizeof v, &j), 0);
	assert_json(j, "{\"nonce\":5,\"consumers\":0,\"providers\":0,\"sufficients\":0,"
		       "\"data\":{\"free\":\"1267650600228229401496703205376\",\"reserved\":0,"
		       "\"misc_frozen\":0,\"fee_frozen\":0}}");
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(meta_from_json(m, s->value_type, j, &b), 0);
	assert_int_equal(b.len, sizeof v);
	assert_memory_equal(b.data, v, sizeof v);
	uint64_t nonce;
	scale_u128 free_;
	assert_int_equal(meta_json_u64(cJSON_GetObjectItem(j, "nonce"), &nonce), 0);
	assert_int_equal(nonce, 5);
	assert_int_equal(meta_json_u128(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "free"),
					&free_), 0);
	assert_true(free_ == (scale_u128)1 << 100);
	cJSON_Delete(j);
	zbuf_free(&b);

	/* Short and long inputs are errors. */
	assert_int_equal(meta_to_json_buf(m, s->value_type, v, sizeof v - 1, &j), ZE_MALFORMED);
	uint8_t longer[81] = {0};
	assert_int_equal(meta_to_json_buf(m, s->value_type, longer, sizeof longer, &j),
			 ZE_MALFORMED);
}

static void call_round_trip(void **st)
{
	const struct meta *m = *st;
	cJSON *args = cJSON_Parse("[1, \"0x0102030405060708091011121314151617181920212223242526272829303132\","
				  " \"0xabcd\", 0, null]");
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(meta_encode_call(m, "SmartContractModule", "create_node_contract", args, &b), 0);
	char *hex = hex_encode_alloc(b.data, b.len, 0);
	assert_string_equal(hex, "0c00" "01000000"
				 "0102030405060708091011121314151617181920212223242526272829303132"
				 "08abcd" "00000000" "00");
	free(hex);
	struct scale_rd r;
	cJSON *o;
	scale_rd_init(&r, b.data, b.len);
	assert_int_equal(meta_decode_call(m, &r, &o), 0);
	assert_int_equal(scale_rd_left(&r), 0);
	assert_json(o, "{\"pallet\":\"SmartContractModule\",\"call\":\"create_node_contract\","
		       "\"args\":{\"node_id\":1,\"deployment_hash\":"
		       "\"0x0102030405060708091011121314151617181920212223242526272829303132\","
		       "\"deployment_data\":\"0xabcd\",\"public_ips\":0,\"solution_provider_id\":null}}");
	cJSON_Delete(o);

	/* Option given, u64 as a decimal string. */
	cJSON_Delete(args);
	args = cJSON_Parse("[\"18446744073709551615\"]");
	zbuf_reset(&b);
	assert_int_equal(meta_encode_call(m, "SmartContractModule", "cancel_contract", args, &b), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(b.data[9], 0xff);

	/* Values that do not fit leave the buffer unchanged. */
	static const char *bad[] = {
		"[\"18446744073709551616\"]", "[-1]", "[1.5]", "[\"0x01\"]", "[]", "[1, 2]", "[true]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON_Delete(args);
		args = cJSON_Parse(bad[i]);
		assert_non_null(args);
		assert_int_equal(meta_encode_call(m, "SmartContractModule", "cancel_contract", args, &b),
				 -EINVAL);
		assert_int_equal(b.len, 10);
	}
	assert_int_equal(meta_encode_call(m, "SmartContractModule", "nope", args, &b), ZE_ABSENT);

	/* An AccountId32 argument as SS58 or hex gives the same bytes. */
	struct zbuf h;
	zbuf_init(&h, 0);
	cJSON_Delete(args);
	args = cJSON_Parse("[\"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\", "
			   "\"0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d\"]");
	zbuf_reset(&b);
	assert_int_equal(meta_encode_call(m, "SmartContractModule", "service_contract_create", args, &b), 0);
	assert_int_equal(b.len, 2 + 64);
	assert_memory_equal(b.data + 2, b.data + 34, 32);
	cJSON_Delete(args);
	args = cJSON_Parse("[\"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ\", \"0x00\"]");
	assert_int_equal(meta_encode_call(m, "SmartContractModule", "service_contract_create", args, &h),
			 -EINVAL);
	zbuf_free(&h);
	cJSON_Delete(args);
	zbuf_free(&b);
}

/* System.Events as the agent reads them: records with phase, the runtime's
 * outer event enum, and topics. The bytes are laid out by hand: 2 records;
 * ApplyExtrinsic(1); System (0) ExtrinsicSuccess (0) with weight
 * {ref_time: Compact(1000) = a10f, proof_size: Compact(0)}, Normal, Yes; no
 * topics; then ExtrinsicFailed (1) with Module {index 12, error [1,0,0,0]}. */
static void system_events(void **st)
{
	const struct meta *m = *st;
	const struct meta_storage *s = meta_storage(meta_pallet(m, "System"), "Events");
	static const char hex[] = "08"
				  "00" "01000000" "0000" "a10f00" "00" "00" "00"
				  "00" "02000000" "0001" "03" "0c" "01000000" "a10f00" "00" "00" "00";
	uint8_t bin[sizeof hex / 2];
	assert_int_equal(hex_decode_fixed(hex, bin, sizeof bin), 0);
	cJSON *j;
	assert_int_equal(meta_to_json_buf(m, s->value_type, bin, sizeof bin, &j), 0);
	assert_json(j, "[{\"phase\":{\"ApplyExtrinsic\":1},\"event\":{\"System\":{\"ExtrinsicSuccess\":"
		       "{\"dispatch_info\":{\"weight\":{\"ref_time\":1000,\"proof_size\":0},"
		       "\"class\":\"Normal\",\"pays_fee\":\"Yes\"}}}},\"topics\":[]},"
		       "{\"phase\":{\"ApplyExtrinsic\":2},\"event\":{\"System\":{\"ExtrinsicFailed\":"
		       "{\"dispatch_error\":{\"Module\":{\"index\":12,\"error\":\"0x01000000\"}},"
		       "\"dispatch_info\":{\"weight\":{\"ref_time\":1000,\"proof_size\":0},"
		       "\"class\":\"Normal\",\"pays_fee\":\"Yes\"}}}},\"topics\":[]}]");
	/* The error names SmartContractModule's error 1. */
	const struct meta_type *errs = meta_type(m, meta_pallet_by_index(m, 12)->errors_type);
	assert_non_null(meta_variant_by_index(errs, 1));
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(meta_from_json(m, s->value_type, j, &b), 0);
	assert_int_equal(b.len, sizeof bin);
	assert_memory_equal(b.data, bin, sizeof bin);
	zbuf_free(&b);
	cJSON_Delete(j);
	/* A record count far beyond the input is refused without allocating. */
	bin[0] = 0xfe, bin[1] = 0xff, bin[2] = 0xff, bin[3] = 0xff;
	assert_int_not_equal(meta_to_json_buf(m, s->value_type, bin, sizeof bin, &j), 0);
}

static void oversized_inputs(void **st)
{
	struct meta *m;
	uint8_t *big = calloc(1, META_MAX_INPUT + 1);
	assert_non_null(big);
	memcpy(big, "meta\x0e", 5);
	assert_int_equal(meta_decode(big, META_MAX_INPUT + 1, &m), ZE_TOOBIG);
	free(big);
}

/* Enums, nested structs and options: a Contract value through JSON. */
static void contract_value_round_trip(void **st)
{
	const struct meta *m = *st;
	const struct meta_storage *s = meta_storage(meta_pallet(m, "SmartContractModule"), "Contracts");
	const char *json =
		"{\"version\":4,\"state\":{\"Deleted\":\"CanceledByUser\"},\"contract_id\":9,"
		"\"twin_id\":3,\"contract_type\":{\"NodeContract\":{\"node_id\":7,"
		"\"deployment_hash\":\"0x0000000000000000000000000000000000000000000000000000000000000001\","
		"\"deployment_data\":\"0xbeef\",\"public_ips\":0,\"public_ips_list\":[]}},"
		"\"solution_provider_id\":12}";
	cJSON *in = cJSON_Parse(json), *out;
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(meta_from_json(m, s->value_type, in, &b), 0);
	assert_int_equal(meta_to_json_buf(m, s->value_type, b.data, b.len, &out), 0);
	assert_json(out, json);
	/* State "Deleted" sits at variant index 1 and CanceledByUser at 0. */
	assert_int_equal(b.data[4], 1);
	assert_int_equal(b.data[5], 0);
	cJSON_Delete(in);
	cJSON_Delete(out);
	in = cJSON_Parse("{\"version\":4}");
	zbuf_reset(&b);
	assert_int_equal(meta_from_json(m, s->value_type, in, &b), -EINVAL);
	assert_int_equal(b.len, 0);
	cJSON_Delete(in);
	zbuf_free(&b);
}

/* Every constant and storage default decodes, and re-encodes to the same
 * bytes: the encoder mirrors the decoder on all the runtime's shapes. */
static void every_constant_and_default_round_trips(void **st)
{
	const struct meta *m = *st;
	size_t count = 0;
	for (size_t i = 0; i < m->npallets; i++) {
		const struct meta_pallet *p = &m->pallets[i];
		for (size_t k = 0; k < p->nconstants + p->nstorage; k++) {
			uint32_t type;
			const uint8_t *v;
			size_t n;
			if (k < p->nconstants) {
				type = p->constants[k].type, v = p->constants[k].value;
				n = p->constants[k].len;
			} else {
				const struct meta_storage *s = &p->storage[k - p->nconstants];
				if (s->modifier != META_MOD_DEFAULT)
					continue;
				type = s->value_type, v = s->def, n = s->def_len;
			}
			cJSON *j;
			struct zbuf b;
			assert_int_equal(meta_to_json_buf(m, type, v, n, &j), 0);
			zbuf_init(&b, 0);
			assert_int_equal(meta_from_json(m, type, j, &b), 0);
			assert_int_equal(b.len, n);
			if (n)
				assert_memory_equal(b.data, v, n);
			zbuf_free(&b);
			cJSON_Delete(j);
			count++;
		}
	}
	assert_true(count > 100);
}

/* Every truncation of the metadata is an error, never a crash. */
static void truncated_metadata(void **st)
{
	struct meta *m;
	for (size_t n = 0; n < fixture_len; n += (n < 2048 ? 1 : 257)) {
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, fixture, n);
		assert_int_not_equal(meta_decode(p, n, &m), 0);
		free(p);
	}
}

/* Flipped bytes decode or fail cleanly (ASan watches the rest). */
static void corrupted_metadata(void **st)
{
	uint8_t *p = malloc(fixture_len);
	uint32_t s = 99;
	for (int iter = 0; iter < 300; iter++) {
		memcpy(p, fixture, fixture_len);
		for (int k = 0; k < 4; k++) {
			s = s * 1103515245u + 12345u;
			p[5 + (s >> 8) % (fixture_len - 5)] ^= (uint8_t)(1u << (s & 7));
		}
		struct meta *m;
		if (meta_decode(p, fixture_len, &m) == 0) {
			/* A decoded-but-odd registry must still be safe to use. */
			const struct meta_pallet *sys = meta_pallet(m, "System");
			const struct meta_storage *acc = sys ? meta_storage(sys, "Account") : NULL;
			cJSON *j;
			if (acc && meta_to_json_buf(m, acc->value_type, acc->def, acc->def_len, &j) == 0)
				cJSON_Delete(j);
			meta_free(m);
		}
	}
	free(p);
}

static void bad_headers(void **st)
{
	struct meta *m;
	uint8_t v13[] = {'m', 'e', 't', 'a', 13, 0};
	assert_int_equal(meta_decode(v13, sizeof v13, &m), ZE_UNSUPPORTED);
	uint8_t junk[] = {'a', 't', 'e', 'm', 14, 0};
	assert_int_equal(meta_decode(junk, sizeof junk, &m), ZE_MALFORMED);
	assert_int_equal(meta_decode(NULL, 0, &m), ZE_MALFORMED);
	/* A registry claiming 2^30 types in a few bytes is refused up front. */
	uint8_t huge[] = {'m', 'e', 't', 'a', 14, 0x03, 0x00, 0x00, 0x00, 0x40};
	assert_int_not_equal(meta_decode(huge, sizeof huge, &m), 0);
	/* The fixture wrapped as a SCALE Vec<u8> decodes too. */
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(scale_put_vec_u8(&b, fixture, fixture_len), 0);
	assert_int_equal(meta_decode(b.data, b.len, &m), 0);
	meta_free(m);
	/* Trailing bytes are malformed. */
	assert_int_equal(zbuf_putc(&b, 0), 0);
	assert_int_equal(meta_decode(b.data + 3, b.len - 3, &m), ZE_MALFORMED);
	zbuf_free(&b);
	assert_int_equal(meta_load_file(fixture_path, &m), 0);
	meta_free(m);
	assert_int_equal(meta_load_file("/nonexistent/metadata", &m), -ENOENT);
}

/* Garbage through the generic decoder, for every type of the registry. */
static void generic_decoder_garbage(void **st)
{
	const struct meta *m = *st;
	uint32_t s = 7;
	for (uint32_t t = 0; t < m->ntypes; t++) {
		for (int iter = 0; iter < 20; iter++) {
			size_t n = (size_t)(iter * 7 % 96);
			uint8_t *p = malloc(n ? n : 1);
			for (size_t i = 0; i < n; i++) {
				s = s * 1103515245u + 12345u;
				p[i] = (uint8_t)(s >> 16);
			}
			struct scale_rd r;
			cJSON *j;
			scale_rd_init(&r, p, n);
			if (meta_to_json(m, t, &r, &j) == 0) {
				assert_true(r.off <= n);
				cJSON_Delete(j);
			}
			free(p);
		}
	}
}

int main(void)
{
	if (load_fixture() != 0) {
		printf("fixture %s not found (set ZOS_FIXTURES_DIR)\n", fixture_path);
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(registry_and_pallets, setup, teardown),
		cmocka_unit_test_setup_teardown(call_and_event_indices, setup, teardown),
		cmocka_unit_test_setup_teardown(storage_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(storage_keys_from_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(signed_extensions, setup, teardown),
		cmocka_unit_test(unknown_extension_is_refused),
		cmocka_unit_test_setup_teardown(generic_decode_account, setup, teardown),
		cmocka_unit_test_setup_teardown(call_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(contract_value_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(every_constant_and_default_round_trips, setup, teardown),
		cmocka_unit_test(truncated_metadata),
		cmocka_unit_test(corrupted_metadata),
		cmocka_unit_test(bad_headers),
		cmocka_unit_test_setup_teardown(system_events, setup, teardown),
		cmocka_unit_test(oversized_inputs),
		cmocka_unit_test_setup_teardown(generic_decoder_garbage, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(fixture);
	return rc;
}
