/* Growable byte buffers with a hard cap (buf.h). */
#include "common/buf.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

void zbuf_init(struct zbuf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max ? max : ZBUF_DEFAULT_MAX;
}

int zbuf_reserve(struct zbuf *b, size_t extra)
{
	size_t max = b->max ? b->max : ZBUF_DEFAULT_MAX;
	if (extra > max || b->len > max - extra)
		return ZE_TOOBIG;
	size_t need = b->len + extra + 1; /* room for zbuf_cstr's NUL */
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	uint8_t *p = realloc(b->data, ncap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int zbuf_put(struct zbuf *b, const void *p, size_t n)
{
	int rc = zbuf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int zbuf_putc(struct zbuf *b, uint8_t c)
{
	return zbuf_put(b, &c, 1);
}

int zbuf_cstr(struct zbuf *b)
{
	int rc = zbuf_reserve(b, 0);
	if (rc)
		return rc;
	b->data[b->len] = 0;
	return 0;
}

uint8_t *zbuf_steal(struct zbuf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void zbuf_reset(struct zbuf *b)
{
	b->len = 0;
}

void zbuf_free(struct zbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void zbuf_wipe_free(struct zbuf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->cap);
	zbuf_free(b);
}

int zbuf_grow_array(void **v, size_t *cap, size_t n, size_t sz, size_t max)
{
	if (n < *cap)
		return 0;
	if (n >= max)
		return ZE_TOOBIG;
	size_t nc = *cap ? *cap * 2 : 256;
	if (nc > SIZE_MAX / sz)
		return -ENOMEM;
	void *nv = realloc(*v, nc * sz);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}
