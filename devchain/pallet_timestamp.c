/* pallet_timestamp: Now is set by the block producer, not by an inherent. */
#include "common/zerr.h"
#include "devchain/system.h"

#define MINIMUM_PERIOD_MS 50u

/* The inherent exists in metadata so tools find it; a signed extrinsic may
 * not call it (Substrate requires the None origin). */
static int call_set(struct dev_ctx *ctx, struct scale_rd *args)
{
	return DEV_ERR_BAD_ORIGIN;
}

static const struct dev_call timestamp_calls[] = {
	{"set", 0, 0, call_set},
};

static int timestamp_describe(struct dev_meta *m)
{
	struct dev_types *r = dev_meta_types(m);
	dev_type u64 = dev_type_u64(r);
	const struct dev_field now = {"now", dev_type_compact(r, u64), "T::Moment"};
	static const uint8_t zero[8];
	const uint8_t period[8] = {MINIMUM_PERIOD_MS};
	dev_meta_call_args(m, "set", 1, &now);
	dev_meta_storage(m, &(struct dev_storage_desc){"Now", DEV_STORAGE_DEFAULT, 0, NULL, NULL,
						       u64, zero, 8});
	dev_meta_constant(m, "MinimumPeriod", u64, period, 8);
	return 0;
}

const struct dev_pallet dev_pallet_timestamp = {
	.name = "Timestamp",
	.index = 1,
	.calls = timestamp_calls,
	.ncalls = 1,
	.describe = timestamp_describe,
};
