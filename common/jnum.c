/* Exact integers out of cJSON numbers (jnum.h). */
#include "common/jnum.h"

#include <string.h>

#include "common/num.h"
#include "common/zerr.h"

int jnum_u64(const cJSON *v, uint64_t max, uint64_t *out)
{
	if (!cJSON_IsNumber(v))
		return ZE_MALFORMED;
	double d = v->valuedouble, lim = (double)max;
	if (lim > JNUM_EXACT_MAX)
		lim = JNUM_EXACT_MAX;
	/* The comparison also refuses NaN; the cast round trip refuses fractions. */
	if (!(d >= 0 && d <= lim) || (double)(uint64_t)d != d)
		return ZE_MALFORMED;
	*out = (uint64_t)d;
	return 0;
}

int jnum_u32(const cJSON *v, uint32_t *out)
{
	uint64_t x;
	int rc = jnum_u64(v, UINT32_MAX, &x);
	if (!rc)
		*out = (uint32_t)x;
	return rc;
}

int jnum_i64(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v))
		return ZE_MALFORMED;
	double d = v->valuedouble;
	if (!(d >= -JNUM_EXACT_MAX && d <= JNUM_EXACT_MAX) || (double)(int64_t)d != d)
		return ZE_MALFORMED;
	*out = (int64_t)d;
	return 0;
}

int jnum_u64_dec(const cJSON *v, uint64_t *out)
{
	if (cJSON_IsNumber(v))
		return jnum_u64(v, UINT64_MAX, out);
	if (!cJSON_IsString(v) || strlen(v->valuestring) > 20 ||
	    num_u64(v->valuestring, UINT64_MAX, out) < 0)
		return ZE_MALFORMED;
	return 0;
}
