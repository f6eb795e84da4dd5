/*
 * System, Timestamp and Balances internals the runtime core uses: account
 * records (System.Account), the extrinsic outcome events, and the block's
 * closing writes.
 */
#ifndef ZOS_DEVCHAIN_SYSTEM_H
#define ZOS_DEVCHAIN_SYSTEM_H

#include <stdint.h>

#include "devchain/exec.h"
#include "devchain/runtime.h"

/* frame_system::AccountInfo<u32, pallet_balances::AccountData<u128>>. */
struct dev_account {
	uint32_t nonce, consumers, providers, sufficients;
	dev_balance free, reserved, frozen, flags;
};

#define DEV_ACCOUNT_KEY_LEN 80 /* prefix 32 + blake2_128 16 + id 32 */
#define DEV_ACCOUNT_ENC_LEN 80

void dev_account_key(const uint8_t who[32], uint8_t key[DEV_ACCOUNT_KEY_LEN]);
int dev_account_encode(const struct dev_account *a, struct zbuf *out);
int dev_account_decode(const uint8_t *p, size_t n, struct dev_account *a);
/* A missing account reads as all zeros with *exists = 0. */
int dev_account_get(struct dev_ctx *ctx, const uint8_t who[32], struct dev_account *a,
		    int *exists);
int dev_account_put(struct dev_ctx *ctx, const uint8_t who[32], const struct dev_account *a);

/* Balances.TotalIssuance += delta (add) or -= delta. */
int dev_issuance_adjust(struct dev_ctx *ctx, dev_balance delta, int add);
/* Creates `who` with `amount` (no events), for genesis endowment. */
int dev_balance_endow(struct dev_ctx *ctx, const uint8_t who[32], dev_balance amount);

/* System.ExtrinsicSuccess / ExtrinsicFailed for the current extrinsic;
 * rc is the call's error (module, bad origin or other). */
int dev_system_outcome(struct dev_ctx *ctx, int rc, uint8_t pallet_index, int pays_fee);
/* System.NewAccount / KilledAccount. */
int dev_system_account_event(struct dev_ctx *ctx, const uint8_t who[32], int killed);

/* Block start: Number, ParentHash, BlockHash[n-1] and Timestamp.Now. */
int dev_system_initialize(struct dev_ctx *ctx);
/* Block end: System.Events and EventCount from the context's events. */
int dev_system_finalize(struct dev_ctx *ctx);

/* Storage keys of plain System/Timestamp values the chain reads. */
void dev_system_number_key(uint8_t key[32]);

dev_type dev_type_multi_address(struct dev_types *r);

#endif
