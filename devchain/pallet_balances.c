/* pallet_balances: transfers with an existential deposit, fees, issuance. */
#include <string.h>

#include "chainclient/hash.h"
#include "common/zerr.h"
#include "devchain/system.h"

enum { EV_ENDOWED = 0, EV_DUST_LOST = 1, EV_TRANSFER = 2, EV_DEPOSIT = 7, EV_WITHDRAW = 8 };
enum {
	ERR_INSUFFICIENT_BALANCE = 2,
	ERR_EXISTENTIAL_DEPOSIT = 3,
	ERR_EXPENDABILITY = 4,
	ERR_DEAD_ACCOUNT = 6,
};

static int event_who_amount(struct dev_ctx *ctx, uint8_t variant, const uint8_t who[32],
			    dev_balance amount)
{
	uint8_t buf[48];
	memcpy(buf, who, 32);
	for (int i = 0; i < 16; i++)
		buf[32 + i] = (uint8_t)(amount >> (8 * i));
	return dev_event_emit(ctx, dev_pallet_balances.index, variant, buf, sizeof(buf));
}

static int event_transfer(struct dev_ctx *ctx, const uint8_t from[32], const uint8_t to[32],
			  dev_balance amount)
{
	uint8_t buf[80];
	memcpy(buf, from, 32);
	memcpy(buf + 32, to, 32);
	for (int i = 0; i < 16; i++)
		buf[64 + i] = (uint8_t)(amount >> (8 * i));
	return dev_event_emit(ctx, dev_pallet_balances.index, EV_TRANSFER, buf, sizeof(buf));
}

int dev_issuance_adjust(struct dev_ctx *ctx, dev_balance delta, int add)
{
	uint8_t key[32];
	struct zbuf v;
	dev_balance total = 0;
	struct scale_rd r;
	chain_storage_prefix("Balances", "TotalIssuance", key);
	zbuf_init(&v, 64);
	int rc = dev_storage_get(ctx, key, sizeof(key), &v);
	if (rc == ZE_ABSENT) {
		rc = 0;
	} else if (!rc) {
		scale_rd_init(&r, v.data, v.len);
		rc = scale_get_u128(&r, &total);
	}
	if (!rc) {
		/* Saturating, as Substrate's issuance arithmetic. */
		if (add)
			total = total + delta < total ? ~(dev_balance)0 : total + delta;
		else
			total = total < delta ? 0 : total - delta;
		zbuf_reset(&v);
		rc = scale_put_u128(&v, total);
	}
	if (!rc)
		rc = dev_storage_put(ctx, key, sizeof(key), v.data, v.len);
	zbuf_free(&v);
	return rc;
}

int dev_balance_free(struct dev_ctx *ctx, const uint8_t who[32], dev_balance *free)
{
	struct dev_account a;
	int exists;
	int rc = dev_account_get(ctx, who, &a, &exists);
	if (!rc)
		*free = a.free;
	return rc;
}

int dev_balance_endow(struct dev_ctx *ctx, const uint8_t who[32], dev_balance amount)
{
	struct dev_account a;
	int exists, rc;
	if ((rc = dev_account_get(ctx, who, &a, &exists)))
		return rc;
	if (amount < ctx->params->existential_deposit && !exists)
		return DEV_MODULE_ERR(ERR_EXISTENTIAL_DEPOSIT);
	a.free += amount;
	a.providers = a.providers ? a.providers : 1;
	if ((rc = dev_account_put(ctx, who, &a)))
		return rc;
	return dev_issuance_adjust(ctx, amount, 1);
}

int dev_balance_transfer(struct dev_ctx *ctx, const uint8_t from[32], const uint8_t to[32],
			 dev_balance amount, int keep_alive)
{
	struct dev_account fa, ta;
	int fex, tex, rc;
	dev_balance ed = ctx->params->existential_deposit;
	if (amount == 0 || memcmp(from, to, 32) == 0)
		return 0;
	if ((rc = dev_account_get(ctx, from, &fa, &fex)) || (rc = dev_account_get(ctx, to, &ta, &tex)))
		return rc;
	if (!fex || fa.free < amount)
		return DEV_MODULE_ERR(ERR_INSUFFICIENT_BALANCE);
	if (!tex && amount < ed)
		return DEV_MODULE_ERR(ERR_EXISTENTIAL_DEPOSIT);
	if (ta.free + amount < ta.free)
		return DEV_MODULE_ERR(ERR_INSUFFICIENT_BALANCE); /* overflow: nothing moves */
	dev_balance left = fa.free - amount;
	int reap = left < ed;
	if (reap && (keep_alive || fa.consumers > 0 || fa.reserved > 0))
		return DEV_MODULE_ERR(ERR_EXPENDABILITY);
	/* Nothing has changed yet; from here on only writes and events. */
	ta.free += amount;
	if (!tex) {
		ta.providers = 1;
		if ((rc = dev_system_account_event(ctx, to, 0)) ||
		    (rc = event_who_amount(ctx, EV_ENDOWED, to, amount)))
			return rc;
	}
	if ((rc = dev_account_put(ctx, to, &ta)))
		return rc;
	if ((rc = event_transfer(ctx, from, to, amount)))
		return rc;
	if (!reap) {
		fa.free = left;
		return dev_account_put(ctx, from, &fa);
	}
	uint8_t key[DEV_ACCOUNT_KEY_LEN];
	dev_account_key(from, key);
	if ((rc = dev_storage_delete(ctx, key, sizeof(key))))
		return rc;
	if (left && ((rc = event_who_amount(ctx, EV_DUST_LOST, from, left)) ||
		     (rc = dev_issuance_adjust(ctx, left, 0))))
		return rc;
	return dev_system_account_event(ctx, from, 1);
}

int dev_balance_withdraw(struct dev_ctx *ctx, const uint8_t who[32], dev_balance amount)
{
	struct dev_account a;
	int exists, rc;
	if ((rc = dev_account_get(ctx, who, &a, &exists)))
		return rc;
	if (!exists)
		return DEV_MODULE_ERR(ERR_DEAD_ACCOUNT);
	if (a.free < amount || a.free - amount < ctx->params->existential_deposit)
		return DEV_MODULE_ERR(ERR_INSUFFICIENT_BALANCE);
	if (!amount)
		return 0;
	a.free -= amount;
	if ((rc = dev_account_put(ctx, who, &a)) || (rc = dev_issuance_adjust(ctx, amount, 0)))
		return rc;
	return event_who_amount(ctx, EV_WITHDRAW, who, amount);
}

int dev_balance_deposit(struct dev_ctx *ctx, const uint8_t who[32], dev_balance amount)
{
	struct dev_account a;
	int exists, rc;
	if (!amount)
		return 0;
	if ((rc = dev_account_get(ctx, who, &a, &exists)))
		return rc;
	if (!exists && amount < ctx->params->existential_deposit)
		return DEV_MODULE_ERR(ERR_EXISTENTIAL_DEPOSIT);
	if ((rc = dev_balance_endow(ctx, who, amount)))
		return rc;
	if (!exists && ((rc = dev_system_account_event(ctx, who, 0)) ||
			(rc = event_who_amount(ctx, EV_ENDOWED, who, amount))))
		return rc;
	return event_who_amount(ctx, EV_DEPOSIT, who, amount);
}

/* ---- Calls ---- */

/* MultiAddress: only Id (0) names an account here. */
static int get_dest(struct scale_rd *args, uint8_t to[32])
{
	uint8_t kind;
	int rc = scale_get_u8(args, &kind);
	if (rc)
		return rc;
	if (kind != 0)
		return ZE_UNSUPPORTED; /* DispatchError::Other */
	return scale_get_bytes(args, to, 32);
}

static int transfer_common(struct dev_ctx *ctx, struct scale_rd *args, int keep_alive)
{
	uint8_t to[32];
	dev_balance amount;
	int rc;
	if (!ctx->origin)
		return DEV_ERR_BAD_ORIGIN;
	if ((rc = get_dest(args, to)) || (rc = scale_get_compact128(args, &amount)))
		return rc;
	return dev_balance_transfer(ctx, ctx->origin, to, amount, keep_alive);
}

static int call_transfer_allow_death(struct dev_ctx *ctx, struct scale_rd *args)
{
	return transfer_common(ctx, args, 0);
}

static int call_transfer_keep_alive(struct dev_ctx *ctx, struct scale_rd *args)
{
	return transfer_common(ctx, args, 1);
}

static int call_transfer_all(struct dev_ctx *ctx, struct scale_rd *args)
{
	uint8_t to[32];
	int keep_alive, rc;
	struct dev_account a;
	int exists;
	if (!ctx->origin)
		return DEV_ERR_BAD_ORIGIN;
	if ((rc = get_dest(args, to)) || (rc = scale_get_bool(args, &keep_alive)))
		return rc;
	if ((rc = dev_account_get(ctx, ctx->origin, &a, &exists)))
		return rc;
	dev_balance amount = a.free;
	if (keep_alive)
		amount = amount > ctx->params->existential_deposit
				 ? amount - ctx->params->existential_deposit
				 : 0;
	return dev_balance_transfer(ctx, ctx->origin, to, amount, keep_alive);
}

static const struct dev_call balances_calls[] = {
	{"transfer_allow_death", 0, 0, call_transfer_allow_death},
	{"transfer_keep_alive", 3, 0, call_transfer_keep_alive},
	{"transfer_all", 4, 0, call_transfer_all},
	{"transfer", 7, 0, call_transfer_allow_death},
};

static int balances_describe(struct dev_meta *m)
{
	struct dev_types *r = dev_meta_types(m);
	dev_type acc = dev_type_account_id(r), bal = dev_type_balance(r);
	dev_type dest = dev_type_multi_address(r), cbal = dev_type_compact(r, bal);
	const struct dev_field tf[] = {{"dest", dest, "AccountIdLookupOf<T>"},
				       {"value", cbal, "T::Balance"}};
	const struct dev_field af[] = {{"dest", dest, "AccountIdLookupOf<T>"},
				       {"keep_alive", dev_type_bool(r), "bool"}};
	dev_meta_call_args(m, "transfer_allow_death", 2, tf);
	dev_meta_call_args(m, "transfer_keep_alive", 2, tf);
	dev_meta_call_args(m, "transfer_all", 2, af);
	dev_meta_call_args(m, "transfer", 2, tf);

	static const uint8_t zero[16];
	dev_meta_storage(m, &(struct dev_storage_desc){"TotalIssuance", DEV_STORAGE_DEFAULT, 0, NULL,
						       NULL, bal, zero, 16});

	const struct dev_field endowed[] = {{"account", acc, "T::AccountId"},
					    {"free_balance", bal, "T::Balance"}};
	const struct dev_field dust[] = {{"account", acc, "T::AccountId"},
					 {"amount", bal, "T::Balance"}};
	const struct dev_field transfer[] = {{"from", acc, "T::AccountId"},
					     {"to", acc, "T::AccountId"},
					     {"amount", bal, "T::Balance"}};
	const struct dev_field who[] = {{"who", acc, "T::AccountId"}, {"amount", bal, "T::Balance"}};
	const struct dev_variant ev[] = {{"Endowed", EV_ENDOWED, 2, endowed},
					 {"DustLost", EV_DUST_LOST, 2, dust},
					 {"Transfer", EV_TRANSFER, 3, transfer},
					 {"Deposit", EV_DEPOSIT, 2, who},
					 {"Withdraw", EV_WITHDRAW, 2, who}};
	dev_meta_events(m, dev_type_variant(r, "pallet_balances::pallet::Event", 5, ev));

	static const char *const errors[] = {"VestingBalance", "LiquidityRestrictions",
					     "InsufficientBalance", "ExistentialDeposit",
					     "Expendability", "ExistingVestingSchedule",
					     "DeadAccount", "TooManyReserves", "TooManyHolds",
					     "TooManyFreezes"};
	dev_meta_errors(m, 10, errors);
	uint8_t ed[16];
	for (int i = 0; i < 16; i++)
		ed[i] = (uint8_t)((dev_balance)DEV_EXISTENTIAL_DEPOSIT >> (8 * i));
	dev_meta_constant(m, "ExistentialDeposit", bal, ed, 16);
	return 0;
}

const struct dev_pallet dev_pallet_balances = {
	.name = "Balances",
	.index = 2,
	.calls = balances_calls,
	.ncalls = sizeof(balances_calls) / sizeof(balances_calls[0]),
	.describe = balances_describe,
};
