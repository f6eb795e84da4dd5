/*
 * Numbers from text: the one parser for numeric options and decimal
 * strings. Only plain decimal digits are accepted (no sign, spaces, "0x" or
 * empty string), so "-1", " 5" and "5 " are refused rather than wrapped or
 * trimmed.
 */
#ifndef ZOS_COMMON_NUM_H
#define ZOS_COMMON_NUM_H

#include <stddef.h>
#include <stdint.h>

/* 0 and *out when s is decimal digits for a value in [0, max]; -EINVAL
 * otherwise (*out untouched). Callers print their own message. */
int num_u64(const char *s, uint64_t max, uint64_t *out);
/* num_u64 of the len characters at s (not NUL-terminated). */
int num_u64_n(const char *s, size_t len, uint64_t max, uint64_t *out);

#endif
