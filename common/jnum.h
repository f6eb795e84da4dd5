/*
 * Integers out of cJSON numbers. cJSON keeps every number as a double, so
 * 1.5, -0.5 or 1e300 all look like numbers: these converters accept only
 * values that are exact integers within range (and within 2^53, where a
 * double is still exact), and refuse everything else with ZE_MALFORMED.
 */
#ifndef ZOS_COMMON_JNUM_H
#define ZOS_COMMON_JNUM_H

#include <cjson/cJSON.h>
#include <stdint.h>

#define JNUM_EXACT_MAX 9007199254740992.0 /* 2^53 */

/* 0 and *out when v is a number holding an integer in [0, max] (max is
 * capped at 2^53); ZE_MALFORMED otherwise (not a number, fraction, sign,
 * out of range). *out is untouched on failure. */
int jnum_u64(const cJSON *v, uint64_t max, uint64_t *out);
int jnum_u32(const cJSON *v, uint32_t *out);

#endif
