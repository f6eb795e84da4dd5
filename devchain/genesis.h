/*
 * Genesis: a JSON object with one member per pallet that has genesis state.
 *
 *   {"name": "tfchain-dev",
 *    "Balances": {"balances": [["//Alice" | ss58 | 0x-hex, "amount"], ...]},
 *    "TfgridModule": {...}, "SmartContractModule": {...}}
 *
 * Amounts are in units of 10^-7 TFT, as a decimal string or an integer.
 * Each pallet's genesis hook gets its own member (NULL when absent).
 */
#ifndef ZOS_DEVCHAIN_GENESIS_H
#define ZOS_DEVCHAIN_GENESIS_H

#include <cjson/cJSON.h>

#include "devchain/exec.h"

#define DEV_GENESIS_MAX (4u << 20)
/* What each dev account holds in the built-in genesis: 1,000,000 TFT. */
#define DEV_GENESIS_ENDOWMENT "10000000000000"

/* Reads path, or builds the built-in dev genesis when path is NULL. *out is
 * freed with cJSON_Delete. ZE_CONFIG (logged) on a bad file. */
int dev_genesis_load(const char *path, cJSON **out);

/* Writes genesis state into ctx: endowments, then each pallet's hook. */
int dev_genesis_apply(struct dev_ctx *ctx, const cJSON *genesis);

#endif
