/*
 * pallet_utility as tfchain has it (index 23), reduced to batch_all: the
 * calls of the batch run in order with the signer's origin, each followed
 * by ItemCompleted and the whole by BatchCompleted; the first failure fails
 * the extrinsic with that call's error and reverts every call of the batch
 * (Substrate's batch_all is atomic the same way). BatchInterrupted is
 * declared with Substrate's shape so clients decoding the metadata find it,
 * but only the non-atomic batch emits it, and the devchain does not offer
 * that call.
 */
#include "common/zerr.h"
#include "devchain/runtime.h"

#define UTILITY_INDEX 23
#define EV_BATCH_INTERRUPTED 0
#define EV_BATCH_COMPLETED 1
#define EV_ITEM_COMPLETED 3
#define ERR_TOO_MANY_CALLS 0
/* Substrate's batched_calls_limit for tfchain's RuntimeCall size. */
#define BATCHED_CALLS_LIMIT 10922

static int call_batch_all(struct dev_ctx *ctx, struct scale_rd *args)
{
	size_t n;
	int rc;

	if (!dev_origin(ctx))
		return DEV_ERR_BAD_ORIGIN;
	if ((rc = scale_get_len(args, SIZE_MAX, 2, &n)))
		return rc;
	if (n > BATCHED_CALLS_LIMIT)
		return DEV_MODULE_ERR(ERR_TOO_MANY_CALLS);
	for (size_t i = 0; i < n; i++) {
		if ((rc = dev_dispatch_call(ctx, args)))
			return rc;
		if ((rc = dev_event_emit(ctx, UTILITY_INDEX, EV_ITEM_COMPLETED, NULL, 0)))
			return rc;
	}
	return dev_event_emit(ctx, UTILITY_INDEX, EV_BATCH_COMPLETED, NULL, 0);
}

static const struct dev_call utility_calls[] = {
    {"batch_all", 2, 0, call_batch_all},
};

static int utility_describe(struct dev_meta *m)
{
	struct dev_types *r = dev_meta_types(m);
	const struct dev_field calls = {"calls", dev_meta_call_vec(m),
	                                "Vec<<T as Config>::RuntimeCall>"};
	const struct dev_field interrupted[] = {
	    {"index", dev_type_u32(r), "u32"},
	    {"error", dev_type_dispatch_error(r), "DispatchError"}};
	const struct dev_variant evs[] = {
	    {"BatchInterrupted", EV_BATCH_INTERRUPTED, 2, interrupted},
	    {"BatchCompleted", EV_BATCH_COMPLETED, 0, NULL},
	    {"ItemCompleted", EV_ITEM_COMPLETED, 0, NULL}};
	static const char *const errors[] = {"TooManyCalls"};
	dev_meta_call(m, "batch_all", 2, 1, &calls);
	dev_meta_events(m, dev_type_variant(r, "pallet_utility::pallet::Event", 3, evs));
	dev_meta_errors(m, 1, errors);
	return 0;
}

const struct dev_pallet dev_pallet_utility = {
    .name = "Utility",
    .index = UTILITY_INDEX,
    .calls = utility_calls,
    .ncalls = 1,
    .describe = utility_describe,
};
