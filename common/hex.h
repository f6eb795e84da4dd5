/* Hex encoding and decoding (with or without a 0x prefix). */
#ifndef ZOS_COMMON_HEX_H
#define ZOS_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2n lowercase digits (+"0x" when prefix) and a NUL into out.
 * Returns -ENOSPC when outsz is too small. */
int hex_encode(const uint8_t *p, size_t n, int prefix, char *out, size_t outsz);

/* Heap string of the encoding; caller frees. NULL on allocation failure. */
char *hex_encode_alloc(const uint8_t *p, size_t n, int prefix);

/* Decodes exactly n bytes from s (optional 0x); ZE_MALFORMED otherwise. */
int hex_decode_fixed(const char *s, uint8_t *out, size_t n);

/* Decodes any length up to max bytes into a new heap buffer (caller frees).
 * ZE_MALFORMED on odd length or bad digits, ZE_TOOBIG over max. */
int hex_decode_alloc(const char *s, size_t max, uint8_t **out, size_t *outlen);
/* hex_decode_fixed and hex_decode_alloc of the len characters at s (not
 * NUL-terminated). */
int hex_decode_fixed_span(const char *s, size_t len, uint8_t *out, size_t n);
int hex_decode_span(const char *s, size_t len, size_t max, uint8_t **out, size_t *outlen);

/* The value of one hex digit (either case), or -1 for a character that is none. */
int hex_digit(char c);

#endif
