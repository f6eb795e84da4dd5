/*
 * Internals shared by the metadata codec files (meta_num.c, meta_json.c,
 * meta_enc.c); not part of the module's interface.
 */
#ifndef ZOS_CHAINCLIENT_META_INT_H
#define ZOS_CHAINCLIENT_META_INT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "chainclient/meta.h"

#define META_INT_MAX_WIDTH 32 /* u256 */

/* Width in bytes and signedness of an integer primitive; -EINVAL otherwise. */
int meta_int_width(enum meta_prim p, size_t *width, int *is_signed);
/* JSON of a little-endian integer of `width` bytes (number when it fits
 * exactly in a double, else a decimal string). -ENOMEM on allocation. */
int meta_int_to_json(const uint8_t *le, size_t width, int is_signed, cJSON **out);
/* Parses a JSON number or decimal string into `width` little-endian bytes
 * (two's complement when signed); -EINVAL when it is not an integer or does
 * not fit. */
int meta_int_from_json(const cJSON *v, size_t width, int is_signed, uint8_t *le);

/* 1 when type is the u8 primitive. */
int meta_is_u8(const struct meta *m, uint32_t type);
/* 1 for Option<T>: a variant named Option with None(0) and Some(1, one field). */
int meta_is_option(const struct meta_type *t);
/* Width of the unsigned integer a Compact<T> carries, looking through
 * single-field composites (Compact<Perbill>...). -EINVAL when unsupported. */
int meta_compact_width(const struct meta *m, uint32_t type, size_t *width);
/* Store size in bytes and bit order (1 = Msb0) of a bit sequence type. */
int meta_bit_layout(const struct meta *m, const struct meta_type *t, size_t *store,
		    int *msb);

#endif
