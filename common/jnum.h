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

/* 2^53: the largest integer up to which every integer is a double. This is
 * the project's one statement of that limit: whatever writes or reads
 * integers as JSON numbers uses it. */
#define JNUM_MAX ((uint64_t)1 << 53)
#define JNUM_EXACT_MAX 9007199254740992.0 /* JNUM_MAX as a double */

/* 0 and *out when v is a number holding an integer in [0, max] (max is
 * capped at 2^53); ZE_MALFORMED otherwise (not a number, fraction, sign,
 * out of range). *out is untouched on failure. */
int jnum_u64(const cJSON *v, uint64_t max, uint64_t *out);
int jnum_u32(const cJSON *v, uint32_t *out);
/* 0 and *out when v is a number holding an integer in [-2^53, 2^53];
 * ZE_MALFORMED otherwise. */
int jnum_i64(const cJSON *v, int64_t *out);
/* A u64 that may exceed 2^53: a number as for jnum_u64 (up to 2^53), or a
 * string of 1 to 20 decimal digits up to UINT64_MAX. ZE_MALFORMED
 * otherwise (sign, spaces, hex, empty, overflow); *out untouched then. */
int jnum_u64_dec(const cJSON *v, uint64_t *out);

#endif
