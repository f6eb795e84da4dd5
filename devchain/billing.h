/*
 * Billing arithmetic of the devchain's SmartContractModule: pure functions,
 * no storage, exact integer arithmetic. docs/billing.md states the formulas
 * and rounding rules these functions implement, so that any bill can be
 * recomputed independently.
 *
 * Amounts: pricing policy values are "units USD" (1 USD = 10^7 units) per
 * hour (su, cu, ipu) or per nu.unit of traffic (nu); TFT amounts are planck
 * (1 TFT = 10^7 planck); the TFT price is in mUSD (50 = 0.05 USD).
 */
#ifndef ZOS_DEVCHAIN_BILLING_H
#define ZOS_DEVCHAIN_BILLING_H

#include <stdint.h>

#include "chainclient/scale.h"

/* tfchain's pallet_tfgrid::types::Unit, in variant order. */
enum dev_unit {
	DEV_UNIT_BYTES = 0,
	DEV_UNIT_KILOBYTES = 1,
	DEV_UNIT_MEGABYTES = 2,
	DEV_UNIT_GIGABYTES = 3,
	DEV_UNIT_TERRABYTES = 4,
	DEV_UNIT_COUNT
};

/* tfchain's Policy{value u32, unit Unit}. */
struct dev_policy {
	uint32_t value;
	uint8_t unit; /* enum dev_unit */
};

/* The parts of a pricing policy that price a node contract. */
struct dev_bill_prices {
	struct dev_policy su, cu, nu, ipu;
};

/* What one report bills: capacity held during `window` seconds, public
 * IPs held during the window, and nru bytes of traffic in the window. */
struct dev_bill_usage {
	uint64_t cru, sru, hru, mru, nru;
	uint32_t public_ips;
	uint64_t window;
};

#define DEV_SECS_PER_HOUR 3600u

/* 1024^unit (tfchain's factor_base_1024); 0 for an unknown unit. */
uint64_t dev_unit_factor_1024(uint8_t unit);
/* 1000^unit (tfchain's factor_base_1000); 0 for an unknown unit. */
uint64_t dev_unit_factor_1000(uint8_t unit);

/* 8 * cu * 1024^cu_unit as an exact integer: the cu formula scaled so that
 * no division is needed. mru is in bytes, cru in cores. */
scale_u128 dev_bill_cu_scaled(uint64_t cru, uint64_t mru, uint8_t cu_unit);

/* Cost of one report in units USD, rounded as docs/billing.md says.
 * -EINVAL on an unknown unit, -EOVERFLOW when an intermediate product or the
 * result does not fit (absurd inputs). */
int dev_bill_cost_units(const struct dev_bill_prices *p, const struct dev_bill_usage *u,
			uint64_t *units);

/* units USD -> planck TFT at tft_price_musd, rounded down. -EINVAL when the
 * price is 0. */
int dev_bill_units_to_planck(uint64_t units, uint32_t tft_price_musd, scale_u128 *planck);

/* The window a report at `ts` bills, given the last billed time `last` and
 * the chain's time `now` (all in seconds). ZE_STATE when the report does not
 * move forward in time (ts <= last), ZE_TOOBIG when it claims time that has
 * not elapsed yet (ts > now). */
int dev_bill_report_window(uint64_t last, uint64_t ts, uint64_t now, uint64_t *window);

#endif
