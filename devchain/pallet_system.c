/* frame_system as far as the devchain needs it. */
#include <errno.h>
#include <string.h>

#include "chainclient/hash.h"
#include "common/zerr.h"
#include "devchain/system.h"

enum { EV_SUCCESS = 0, EV_FAILED = 1, EV_NEW_ACCOUNT = 3, EV_KILLED_ACCOUNT = 4, EV_REMARKED = 5 };

/* Fixed weight reported in DispatchInfo; the devchain does not meter. */
#define CALL_WEIGHT 100000000u

void dev_account_key(const uint8_t who[32], uint8_t key[DEV_ACCOUNT_KEY_LEN])
{
	chain_storage_prefix("System", "Account", key);
	chain_blake2_128(who, 32, key + 32);
	memcpy(key + 48, who, 32);
}

int dev_account_encode(const struct dev_account *a, struct zbuf *out)
{
	int rc = 0;
	rc = rc ? rc : scale_put_u32(out, a->nonce);
	rc = rc ? rc : scale_put_u32(out, a->consumers);
	rc = rc ? rc : scale_put_u32(out, a->providers);
	rc = rc ? rc : scale_put_u32(out, a->sufficients);
	rc = rc ? rc : scale_put_u128(out, a->free);
	rc = rc ? rc : scale_put_u128(out, a->reserved);
	rc = rc ? rc : scale_put_u128(out, a->frozen);
	rc = rc ? rc : scale_put_u128(out, a->flags);
	return rc;
}

int dev_account_decode(const uint8_t *p, size_t n, struct dev_account *a)
{
	struct scale_rd r;
	int rc = 0;
	if (n != DEV_ACCOUNT_ENC_LEN)
		return ZE_MALFORMED;
	scale_rd_init(&r, p, n);
	rc = rc ? rc : scale_get_u32(&r, &a->nonce);
	rc = rc ? rc : scale_get_u32(&r, &a->consumers);
	rc = rc ? rc : scale_get_u32(&r, &a->providers);
	rc = rc ? rc : scale_get_u32(&r, &a->sufficients);
	rc = rc ? rc : scale_get_u128(&r, &a->free);
	rc = rc ? rc : scale_get_u128(&r, &a->reserved);
	rc = rc ? rc : scale_get_u128(&r, &a->frozen);
	rc = rc ? rc : scale_get_u128(&r, &a->flags);
	return rc;
}

int dev_account_get(struct dev_ctx *ctx, const uint8_t who[32], struct dev_account *a,
		    int *exists)
{
	uint8_t key[DEV_ACCOUNT_KEY_LEN];
	struct zbuf v;
	dev_account_key(who, key);
	memset(a, 0, sizeof(*a));
	zbuf_init(&v, 256);
	int rc = dev_storage_get(ctx, key, sizeof(key), &v);
	*exists = rc == 0;
	if (rc == ZE_ABSENT)
		rc = 0;
	else if (!rc)
		rc = dev_account_decode(v.data, v.len, a);
	zbuf_free(&v);
	return rc;
}

int dev_account_put(struct dev_ctx *ctx, const uint8_t who[32], const struct dev_account *a)
{
	uint8_t key[DEV_ACCOUNT_KEY_LEN];
	uint8_t buf[DEV_ACCOUNT_ENC_LEN + 1];
	struct zbuf v = {buf, 0, sizeof(buf), sizeof(buf)};
	dev_account_key(who, key);
	int rc = dev_account_encode(a, &v);
	return rc ? rc : dev_storage_put(ctx, key, sizeof(key), v.data, v.len);
}

int dev_system_account_event(struct dev_ctx *ctx, const uint8_t who[32], int killed)
{
	return dev_event_emit(ctx, dev_pallet_system.index,
			      killed ? EV_KILLED_ACCOUNT : EV_NEW_ACCOUNT, who, 32);
}

static int put_dispatch_info(struct zbuf *b, int pays_fee)
{
	int rc = scale_put_compact(b, CALL_WEIGHT); /* ref_time */
	rc = rc ? rc : scale_put_compact(b, 0);     /* proof_size */
	rc = rc ? rc : scale_put_u8(b, 0);          /* DispatchClass::Normal */
	return rc ? rc : scale_put_u8(b, pays_fee ? 0 : 1); /* Pays::Yes / No */
}

int dev_system_outcome(struct dev_ctx *ctx, int rc, uint8_t pallet_index, int pays_fee)
{
	uint8_t buf[64];
	struct zbuf b = {buf, 0, sizeof(buf), sizeof(buf)};
	int r = 0;
	if (rc) {
		if (DEV_IS_MODULE_ERR(rc)) {
			r = scale_put_u8(&b, 3);
			r = r ? r : scale_put_u8(&b, pallet_index);
			r = r ? r : scale_put_u8(&b, DEV_MODULE_ERR_INDEX(rc));
			r = r ? r : scale_put_bytes(&b, (const uint8_t[3]){0, 0, 0}, 3);
		} else if (rc == DEV_ERR_BAD_ORIGIN) {
			r = scale_put_u8(&b, 2);
		} else {
			r = scale_put_u8(&b, 0); /* Other */
		}
	}
	r = r ? r : put_dispatch_info(&b, pays_fee);
	if (r)
		return r;
	return dev_event_emit(ctx, dev_pallet_system.index, rc ? EV_FAILED : EV_SUCCESS, b.data,
			      b.len);
}

void dev_system_number_key(uint8_t key[32])
{
	chain_storage_prefix("System", "Number", key);
}

static void le(uint8_t *out, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

int dev_system_initialize(struct dev_ctx *ctx)
{
	uint8_t key[48], v[8], prev_le[4];
	int rc;
	dev_system_number_key(key);
	le(v, ctx->number, 4);
	if ((rc = dev_storage_put(ctx, key, 32, v, 4)))
		return rc;
	chain_storage_prefix("System", "ParentHash", key);
	if ((rc = dev_storage_put(ctx, key, 32, ctx->parent_hash, 32)))
		return rc;
	if (ctx->number > 0) {
		uint32_t prev = ctx->number - 1;
		chain_storage_prefix("System", "BlockHash", key);
		le(prev_le, prev, 4);
		chain_twox64(prev_le, 4, key + 32);
		memcpy(key + 40, prev_le, 4);
		if ((rc = dev_storage_put(ctx, key, 44, ctx->parent_hash, 32)))
			return rc;
	}
	chain_storage_prefix("Timestamp", "Now", key);
	le(v, ctx->now_ms, 8);
	return dev_storage_put(ctx, key, 32, v, 8);
}

int dev_system_finalize(struct dev_ctx *ctx)
{
	uint8_t key[32];
	uint8_t count[4];
	struct zbuf v;
	int rc;
	chain_storage_prefix("System", "EventCount", key);
	le(count, ctx->nevents, 4);
	if ((rc = dev_storage_put(ctx, key, 32, count, 4)))
		return rc;
	chain_storage_prefix("System", "Events", key);
	/* Substrate clears Events at the start of every block: no events is
	 * no value, which reads as the empty default. */
	if (!ctx->nevents)
		return dev_storage_delete(ctx, key, 32);
	zbuf_init(&v, DEV_VALUE_MAX);
	rc = dev_ctx_events_value(ctx, &v);
	if (!rc)
		rc = dev_storage_put(ctx, key, 32, v.data, v.len);
	zbuf_free(&v);
	return rc;
}

/* ---- Calls ---- */

static int call_remark(struct dev_ctx *ctx, struct scale_rd *args)
{
	const uint8_t *p;
	size_t n;
	return scale_get_vec_u8(args, DEV_VALUE_MAX, &p, &n);
}

static int call_remark_with_event(struct dev_ctx *ctx, struct scale_rd *args)
{
	const uint8_t *p;
	size_t n;
	uint8_t ev[64];
	int rc = scale_get_vec_u8(args, DEV_VALUE_MAX, &p, &n);
	if (rc)
		return rc;
	if (!ctx->origin)
		return DEV_ERR_BAD_ORIGIN;
	memcpy(ev, ctx->origin, 32);
	chain_blake2_256(p, n, ev + 32);
	return dev_event_emit(ctx, dev_pallet_system.index, EV_REMARKED, ev, sizeof(ev));
}

static const struct dev_call system_calls[] = {
	{"remark", 0, 0, call_remark},
	{"remark_with_event", 7, 0, call_remark_with_event},
};

/* ---- Metadata ---- */

static dev_type dispatch_error(struct dev_types *r)
{
	const struct dev_field me[] = {{"index", dev_type_u8(r), "u8"},
				       {"error", dev_type_array(r, 4, dev_type_u8(r)), "[u8; 4]"}};
	const struct dev_field module = {NULL, dev_type_composite(r, "sp_runtime::ModuleError", 2, me),
					 "ModuleError"};
	static const char *const tokens[] = {"FundsUnavailable", "OnlyProvider", "BelowMinimum",
					     "CannotCreate", "UnknownAsset", "Frozen",
					     "Unsupported", "CannotCreateHold", "NotExpendable",
					     "Blocked"};
	struct dev_variant tv[10];
	for (int i = 0; i < 10; i++)
		tv[i] = (struct dev_variant){tokens[i], (uint8_t)i, 0, NULL};
	const struct dev_field token = {NULL, dev_type_variant(r, "sp_runtime::TokenError", 10, tv),
					"TokenError"};
	const struct dev_variant av[] = {{"Underflow", 0, 0, NULL}, {"Overflow", 1, 0, NULL},
					 {"DivisionByZero", 2, 0, NULL}};
	const struct dev_field arith = {NULL, dev_type_variant(r, "sp_arithmetic::ArithmeticError", 3, av),
					"ArithmeticError"};
	const struct dev_variant xv[] = {{"LimitReached", 0, 0, NULL}, {"NoLayer", 1, 0, NULL}};
	const struct dev_field trans = {NULL, dev_type_variant(r, "sp_runtime::TransactionalError", 2, xv),
					"TransactionalError"};
	const struct dev_variant dv[] = {
		{"Other", 0, 0, NULL}, {"CannotLookup", 1, 0, NULL}, {"BadOrigin", 2, 0, NULL},
		{"Module", 3, 1, &module}, {"ConsumerRemaining", 4, 0, NULL},
		{"NoProviders", 5, 0, NULL}, {"TooManyConsumers", 6, 0, NULL},
		{"Token", 7, 1, &token}, {"Arithmetic", 8, 1, &arith},
		{"Transactional", 9, 1, &trans}, {"Exhausted", 10, 0, NULL},
		{"Corruption", 11, 0, NULL}, {"Unavailable", 12, 0, NULL}};
	return dev_type_variant(r, "sp_runtime::DispatchError", 13, dv);
}

static dev_type dispatch_info(struct dev_types *r)
{
	dev_type cu64 = dev_type_compact(r, dev_type_u64(r));
	const struct dev_field wf[] = {{"ref_time", cu64, "u64"}, {"proof_size", cu64, "u64"}};
	dev_type weight = dev_type_composite(r, "sp_weights::weight_v2::Weight", 2, wf);
	const struct dev_variant cv[] = {{"Normal", 0, 0, NULL}, {"Operational", 1, 0, NULL},
					 {"Mandatory", 2, 0, NULL}};
	const struct dev_variant pv[] = {{"Yes", 0, 0, NULL}, {"No", 1, 0, NULL}};
	const struct dev_field f[] = {
		{"weight", weight, "Weight"},
		{"class", dev_type_variant(r, "frame_support::dispatch::DispatchClass", 3, cv), "DispatchClass"},
		{"pays_fee", dev_type_variant(r, "frame_support::dispatch::Pays", 2, pv), "Pays"}};
	return dev_type_composite(r, "frame_support::dispatch::DispatchInfo", 3, f);
}

static dev_type account_info(struct dev_types *r)
{
	dev_type u32 = dev_type_u32(r), bal = dev_type_balance(r);
	const struct dev_field df[] = {{"free", bal, "Balance"}, {"reserved", bal, "Balance"},
				       {"frozen", bal, "Balance"}, {"flags", bal, "ExtraFlags"}};
	dev_type data = dev_type_composite(r, "pallet_balances::types::AccountData", 4, df);
	const struct dev_field f[] = {{"nonce", u32, "Index"}, {"consumers", u32, "RefCount"},
				      {"providers", u32, "RefCount"},
				      {"sufficients", u32, "RefCount"}, {"data", data, "AccountData"}};
	return dev_type_composite(r, "frame_system::AccountInfo", 5, f);
}

static int system_describe(struct dev_meta *m)
{
	struct dev_types *r = dev_meta_types(m);
	dev_type acc = dev_type_account_id(r), u32 = dev_type_u32(r), h256 = dev_type_h256(r);
	dev_type bytes = dev_type_bytes(r);
	static const uint8_t zero[80];
	static const uint8_t b_blake = 2, b_twox64 = 5;

	const struct dev_field remark = {"remark", bytes, "Vec<u8>"};
	dev_meta_call_args(m, "remark", 1, &remark);
	dev_meta_call_args(m, "remark_with_event", 1, &remark);

	dev_type info = account_info(r);
	dev_meta_storage(m, &(struct dev_storage_desc){"Account", DEV_STORAGE_DEFAULT, 1, &b_blake,
						       &acc, info, zero, 80});
	dev_meta_storage(m, &(struct dev_storage_desc){"BlockHash", DEV_STORAGE_DEFAULT, 1,
						       &b_twox64, &u32, h256, zero, 32});
	dev_meta_storage(m, &(struct dev_storage_desc){"Number", DEV_STORAGE_DEFAULT, 0, NULL, NULL,
						       u32, zero, 4});
	dev_meta_storage(m, &(struct dev_storage_desc){"ParentHash", DEV_STORAGE_DEFAULT, 0, NULL,
						       NULL, h256, zero, 32});
	dev_meta_storage(m, &(struct dev_storage_desc){"EventCount", DEV_STORAGE_DEFAULT, 0, NULL,
						       NULL, u32, zero, 4});

	dev_type di = dispatch_info(r);
	const struct dev_field ok_f = {"dispatch_info", di, "DispatchInfo"};
	const struct dev_field fail_f[] = {{"dispatch_error", dispatch_error(r), "DispatchError"},
					   {"dispatch_info", di, "DispatchInfo"}};
	const struct dev_field acc_f = {"account", acc, "T::AccountId"};
	const struct dev_field rem_f[] = {{"sender", acc, "T::AccountId"}, {"hash", h256, "T::Hash"}};
	const struct dev_variant ev[] = {
		{"ExtrinsicSuccess", EV_SUCCESS, 1, &ok_f}, {"ExtrinsicFailed", EV_FAILED, 2, fail_f},
		{"CodeUpdated", 2, 0, NULL}, {"NewAccount", EV_NEW_ACCOUNT, 1, &acc_f},
		{"KilledAccount", EV_KILLED_ACCOUNT, 1, &acc_f}, {"Remarked", EV_REMARKED, 2, rem_f}};
	dev_meta_events(m, dev_type_variant(r, "frame_system::pallet::Event", 6, ev));

	static const char *const errors[] = {"InvalidSpecName", "SpecVersionNeedsToIncrease",
					     "FailedToExtractRuntimeVersion", "NonDefaultComposite",
					     "NonZeroRefCount", "CallFiltered"};
	dev_meta_errors(m, 6, errors);
	const uint8_t bhc[4] = {0x60, 0x09, 0, 0}; /* 2400 */
	const uint8_t ss58[2] = {42, 0};
	dev_meta_constant(m, "BlockHashCount", u32, bhc, 4);
	dev_meta_constant(m, "SS58Prefix", dev_type_u16(r), ss58, 2);
	return 0;
}

const struct dev_pallet dev_pallet_system = {
	.name = "System",
	.index = 0,
	.calls = system_calls,
	.ncalls = sizeof(system_calls) / sizeof(system_calls[0]),
	.describe = system_describe,
};
