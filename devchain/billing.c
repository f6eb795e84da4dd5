/*
 * Billing arithmetic of the devchain's SmartContractModule: pure integer functions implementing
 * docs/billing.md (billing.h).
 */
#include "devchain/billing.h"

#include <errno.h>

#include "common/zerr.h"

#define U128_MAX (~(scale_u128)0)

uint64_t dev_unit_factor_1024(uint8_t unit)
{
	if (unit >= DEV_UNIT_COUNT)
		return 0;
	return (uint64_t)1 << (10 * unit);
}

uint64_t dev_unit_factor_1000(uint8_t unit)
{
	uint64_t f = 1;
	if (unit >= DEV_UNIT_COUNT)
		return 0;
	for (uint8_t i = 0; i < unit; i++)
		f *= 1000;
	return f;
}

static int mul(scale_u128 a, scale_u128 b, scale_u128 *out)
{
	if (a != 0 && b > U128_MAX / a)
		return -EOVERFLOW;
	*out = a * b;
	return 0;
}

static int add(scale_u128 a, scale_u128 b, scale_u128 *out)
{
	if (b > U128_MAX - a)
		return -EOVERFLOW;
	*out = a + b;
	return 0;
}

static scale_u128 max128(scale_u128 a, scale_u128 b)
{
	return a > b ? a : b;
}

static scale_u128 min128(scale_u128 a, scale_u128 b)
{
	return a < b ? a : b;
}

/*
 * cu = min(max(m/4, c/2), max(m/8, c), max(m/2, c/4)) with m = mru / F.
 * Multiplying every term by 8F keeps it exact: min(max(2mru, 4cF),
 * max(mru, 8cF), max(4mru, 2cF)). cru * F stays below 2^104, so none of
 * these products can overflow 128 bits.
 */
scale_u128 dev_bill_cu_scaled(uint64_t cru, uint64_t mru, uint8_t cu_unit)
{
	scale_u128 f = dev_unit_factor_1024(cu_unit);
	scale_u128 m = mru, cf = (scale_u128)cru * f;
	scale_u128 cu1 = max128(2 * m, 4 * cf);
	scale_u128 cu2 = max128(m, 8 * cf);
	scale_u128 cu3 = max128(4 * m, 2 * cf);
	return min128(min128(cu1, cu2), cu3);
}

static scale_u128 ceil_div(scale_u128 n, scale_u128 d)
{
	return n / d + (n % d != 0);
}

/*
 * The su, cu and ipu terms share one exact denominator 3600 * L, where L is
 * the least common multiple of the su denominator 1200 * 1024^su_unit
 * (= 75 * 2^(4 + 10 su_unit)) and the cu denominator 8 * 1024^cu_unit
 * (= 2^(3 + 10 cu_unit)); it is 75 * 2^max(both exponents). Their sum is
 * rounded up once, like tfchain's calculate_resources_cost.
 */
static int resource_units(const struct dev_bill_prices *p, const struct dev_bill_usage *u,
			  scale_u128 *out)
{
	unsigned ea = 4 + 10u * p->su.unit, eb = 3 + 10u * p->cu.unit;
	unsigned em = ea > eb ? ea : eb;
	scale_u128 l = (scale_u128)75 << em;
	scale_u128 su_num = ((scale_u128)u->hru + 6 * (scale_u128)u->sru) << (em - ea);
	scale_u128 cu8 = dev_bill_cu_scaled(u->cru, u->mru, p->cu.unit);
	scale_u128 t_su, t_cu, t_ip, sum, n;
	int rc;

	if ((rc = mul(su_num, p->su.value, &t_su)))
		return rc;
	if ((rc = mul(cu8, (scale_u128)75 << (em - eb), &t_cu)) ||
	    (rc = mul(t_cu, p->cu.value, &t_cu)))
		return rc;
	if ((rc = mul((scale_u128)u->public_ips * p->ipu.value, l, &t_ip)))
		return rc;
	if ((rc = add(t_su, t_cu, &sum)) || (rc = add(sum, t_ip, &sum)))
		return rc;
	if ((rc = mul(sum, u->window, &n)))
		return rc;
	*out = ceil_div(n, (scale_u128)DEV_SECS_PER_HOUR * l);
	return 0;
}

int dev_bill_cost_units(const struct dev_bill_prices *p, const struct dev_bill_usage *u,
			uint64_t *units)
{
	scale_u128 res, nu, total;
	int rc;

	if (p->su.unit >= DEV_UNIT_COUNT || p->cu.unit >= DEV_UNIT_COUNT ||
	    p->nu.unit >= DEV_UNIT_COUNT)
		return -EINVAL;
	if ((rc = resource_units(p, u, &res)))
		return rc;
	/* Traffic is priced per nu.unit (decimal, like tfchain's nu), not per
	 * hour: nru already is an amount for the window. */
	nu = ceil_div((scale_u128)u->nru * p->nu.value, dev_unit_factor_1000(p->nu.unit));
	if ((rc = add(res, nu, &total)))
		return rc;
	if (total > UINT64_MAX)
		return -EOVERFLOW;
	*units = (uint64_t)total;
	return 0;
}

int dev_bill_units_to_planck(uint64_t units, uint32_t tft_price_musd, scale_u128 *planck)
{
	/* 1 TFT = price * 10^4 units and 10^7 planck, so planck =
	 * units * 10^7 / (price * 10^4) = units * 1000 / price. */
	if (tft_price_musd == 0)
		return -EINVAL;
	*planck = (scale_u128)units * 1000 / tft_price_musd;
	return 0;
}

int dev_bill_report_window(uint64_t last, uint64_t ts, uint64_t now, uint64_t *window)
{
	if (ts <= last)
		return ZE_STATE;
	if (ts > now)
		return ZE_TOOBIG;
	*window = ts - last;
	return 0;
}
