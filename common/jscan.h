/*
 * Scanning JSON text without building a tree: for a decision that needs one
 * member of a large message (which caller a chain response goes to), where
 * parsing the whole text into cJSON nodes would cost more than the decision.
 * The text is not copied and need not be NUL-terminated; positions are byte
 * offsets into it. The scanner checks the structure it walks (strings and
 * their escapes, numbers, literals, nesting up to JSCAN_DEPTH) but is no
 * validator (it lets raw control characters through strings, as cJSON
 * does): a
 * caller that needs the values parses the text properly afterwards. Where it
 * is unsure (an escaped key, a number that is not a plain integer) it
 * answers ZE_ABSENT or ZE_MALFORMED, and the caller falls back to cJSON.
 */
#ifndef ZOS_COMMON_JSCAN_H
#define ZOS_COMMON_JSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Arrays and objects nested deeper than this are refused. */
#define JSCAN_DEPTH 64

/* Skips the value at *pos (leading whitespace included): 0 with *pos just
 * past it, or ZE_MALFORMED (a bad token, the text ends, too deep). */
int jscan_skip(const char *p, size_t n, size_t *pos);

/* The first member named key (compared byte for byte with the key as
 * written, so an escaped key is not found) of the object at pos: 0 and its
 * value's span [*vs, *ve); ZE_ABSENT when the object has none;
 * ZE_MALFORMED when the text at pos is not an object. */
int jscan_member(const char *p, size_t n, size_t pos, const char *key, size_t *vs, size_t *ve);

/* One pass over the object at pos: spans[k] gets the value span of the
 * first member named keys[k] ({0, 0} when it has none), *end the position
 * just past the object. 0, or ZE_MALFORMED when the text at pos is not an
 * object. */
int jscan_object(const char *p, size_t n, size_t pos, const char *const *keys, size_t nkeys,
                 size_t (*spans)[2], size_t *end);

/* The span [vs, ve) as an integer written with digits only (no sign,
 * fraction or exponent), at most 2^53: 0 and *out, else ZE_MALFORMED. */
int jscan_u64(const char *p, size_t vs, size_t ve, uint64_t *out);

/* *pos past whitespace; the byte there, or -1 at the end of the text. */
int jscan_peek(const char *p, size_t n, size_t *pos);

#endif
