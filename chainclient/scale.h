/*
 * SCALE codec primitives (parity-scale-codec).
 *
 * Decoding reads through a bounded cursor: every getter checks the remaining
 * length first and returns ZE_MALFORMED (never over-reads) on short input.
 * Encoding appends to a struct zbuf, whose cap bounds the output.
 * Compact integers reject non-minimal encodings.
 */
#ifndef ZOS_CHAINCLIENT_SCALE_H
#define ZOS_CHAINCLIENT_SCALE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef unsigned __int128 scale_u128;

struct scale_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

void scale_rd_init(struct scale_rd *r, const uint8_t *p, size_t len);
static inline size_t scale_rd_left(const struct scale_rd *r) { return r->len - r->off; }

int scale_get_u8(struct scale_rd *r, uint8_t *v);
int scale_get_u16(struct scale_rd *r, uint16_t *v);
int scale_get_u32(struct scale_rd *r, uint32_t *v);
int scale_get_u64(struct scale_rd *r, uint64_t *v);
int scale_get_u128(struct scale_rd *r, scale_u128 *v);
int scale_get_bool(struct scale_rd *r, int *v);         /* only 0 or 1 */
int scale_get_compact(struct scale_rd *r, uint64_t *v); /* ZE_TOOBIG above u64 */
int scale_get_compact128(struct scale_rd *r, scale_u128 *v);
int scale_get_bytes(struct scale_rd *r, uint8_t *out, size_t n); /* fixed [u8; n] */
/* A view (no copy) of n bytes inside the input. */
int scale_get_view(struct scale_rd *r, size_t n, const uint8_t **p);
/* Compact length prefix of a Vec; fails if above max or if the remaining
 * input cannot hold len * min_item_size bytes (so callers may allocate). */
int scale_get_len(struct scale_rd *r, size_t max, size_t min_item_size, size_t *len);
/* Vec<u8>: compact length then bytes, as a view; ZE_TOOBIG above max. */
int scale_get_vec_u8(struct scale_rd *r, size_t max, const uint8_t **p, size_t *n);
int scale_skip(struct scale_rd *r, size_t n);

int scale_put_u8(struct zbuf *b, uint8_t v);
int scale_put_u16(struct zbuf *b, uint16_t v);
int scale_put_u32(struct zbuf *b, uint32_t v);
int scale_put_u64(struct zbuf *b, uint64_t v);
int scale_put_u128(struct zbuf *b, scale_u128 v);
int scale_put_bool(struct zbuf *b, int v);
int scale_put_compact(struct zbuf *b, uint64_t v);
int scale_put_compact128(struct zbuf *b, scale_u128 v);
int scale_put_bytes(struct zbuf *b, const uint8_t *p, size_t n); /* raw, no length */
int scale_put_vec_u8(struct zbuf *b, const uint8_t *p, size_t n); /* compact len + bytes */

/* Decimal text of a u128 (for JSON); out must hold 40 bytes. */
void scale_u128_str(scale_u128 v, char out[40]);
/* Parses a decimal u128; ZE_MALFORMED on junk or overflow. */
int scale_u128_parse(const char *s, scale_u128 *v);

#endif
