/*
 * Growable byte buffer with a hard cap.
 *
 * A zbuf owns its data (heap). Appends beyond `max` fail with ZE_TOOBIG and
 * leave the buffer unchanged, so a decoder or network reader can never be
 * made to allocate more than its caller allowed.
 */
#ifndef ZOS_COMMON_BUF_H
#define ZOS_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

struct zbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 = the default cap, ZBUF_DEFAULT_MAX */
};

#define ZBUF_DEFAULT_MAX (64u << 20)

void zbuf_init(struct zbuf *b, size_t max);
int zbuf_reserve(struct zbuf *b, size_t extra);
int zbuf_put(struct zbuf *b, const void *p, size_t n);
int zbuf_putc(struct zbuf *b, uint8_t c);
/* Appends a NUL that is not counted in len, so data can be used as a string. */
int zbuf_cstr(struct zbuf *b);
/* Takes ownership of the data away from the buffer; caller frees it. */
uint8_t *zbuf_steal(struct zbuf *b, size_t *len);
void zbuf_reset(struct zbuf *b);
void zbuf_free(struct zbuf *b);
/* For buffers that held secrets: wipes before freeing. */
void zbuf_wipe_free(struct zbuf *b);

/* Makes room in the heap array *v (elements of size sz, *cap of them
 * allocated) for element n, doubling from 256; ZE_TOOBIG once n reaches
 * max, -ENOMEM when out of memory (the array is then unchanged). The
 * caller owns *v and frees it. */
int zbuf_grow_array(void **v, size_t *cap, size_t n, size_t sz, size_t max);

#endif
