/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
#ifndef ZOS_COMMON_UTF8_H
#define ZOS_COMMON_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at p (p < end), 0 if invalid. */
size_t utf8_seq(const unsigned char *p, const unsigned char *end);
/* 1 when the n bytes at s are valid UTF-8 (NUL bytes included), else 0. */
int utf8_valid(const void *s, size_t n);

#endif
