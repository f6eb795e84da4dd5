/*
 * Execution contexts: the struct dev_ctx behind runtime.h.
 *
 * A context reads committed state at one block (its base) through two
 * layers of changes: the block's and the running call's. dev_ctx_call_*
 * open, keep or drop the call layer (with the events it emitted); the block
 * layer is what dev_store_commit writes.
 */
#ifndef ZOS_DEVCHAIN_EXEC_H
#define ZOS_DEVCHAIN_EXEC_H

#include <stdint.h>

#include "common/buf.h"
#include "devchain/changes.h"
#include "devchain/runtime.h"
#include "devchain/store.h"

enum dev_phase { DEV_PHASE_APPLY = 0, DEV_PHASE_FINALIZATION = 1, DEV_PHASE_INITIALIZATION = 2 };

/* tfchain's values: 0.00005 TFT; fees 0.01 TFT + 0.00001 TFT a byte. */
#define DEV_EXISTENTIAL_DEPOSIT 500u
#define DEV_FEE_BASE 100000u
#define DEV_FEE_PER_BYTE 100u

/* Chain parameters the runtime needs (from genesis and defaults). */
struct dev_params {
	dev_balance existential_deposit;
	dev_balance fee_base;    /* per signed, fee-paying extrinsic */
	dev_balance fee_per_byte;
};

struct dev_ctx {
	struct dev_store *store;
	int has_base;
	uint32_t base;
	struct dev_changes block, call;
	int in_call;
	const uint8_t *origin;
	uint32_t number;
	uint64_t now_ms;
	uint8_t parent_hash[32];
	const struct dev_params *params;
	enum dev_phase phase;
	uint32_t xt_index;
	struct zbuf events; /* EventRecords, SCALE, without the Vec length */
	uint32_t nevents;
	size_t call_events_len;
	uint32_t call_nevents;
	/* For nested dispatch (dev_dispatch_call); NULL outside blocks. */
	struct dev_meta *meta;
	int err_pallet; /* pallet of a nested call's module error, or -1 */
	int depth;      /* nested dispatch depth */
};

/* Reads at block base when has_base, else from an empty state (genesis). */
void dev_ctx_init(struct dev_ctx *ctx, struct dev_store *store, int has_base, uint32_t base,
		  const struct dev_params *params);
void dev_ctx_free(struct dev_ctx *ctx);

void dev_ctx_call_begin(struct dev_ctx *ctx);
int dev_ctx_call_commit(struct dev_ctx *ctx);
void dev_ctx_call_rollback(struct dev_ctx *ctx);

/* The events as the System.Events value (Vec<EventRecord>), appended. */
int dev_ctx_events_value(const struct dev_ctx *ctx, struct zbuf *out);

/* 1 for errors that mean "we could not run the block" rather than "the
 * call failed". */
int dev_err_is_resource(int rc);

#endif
