#include "devchain/changes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void dev_changes_init(struct dev_changes *c)
{
	memset(c, 0, sizeof(*c));
}

void dev_changes_clear(struct dev_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].val);
	}
	c->n = 0;
	c->bytes = 0;
}

void dev_changes_free(struct dev_changes *c)
{
	dev_changes_clear(c);
	free(c->v);
	c->v = NULL;
	c->cap = 0;
}

int dev_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int r = n ? memcmp(a, b, n) : 0;
	if (r)
		return r;
	return alen < blen ? -1 : alen > blen;
}

/* Index of key, or of where it would be inserted (with *found = 0). */
static size_t lookup(const struct dev_changes *c, const uint8_t *key, size_t klen, int *found)
{
	size_t lo = 0, hi = c->n;
	/* Appends in key order are the common case (store scans, sorted
	 * genesis), so check the end first. */
	if (c->n && dev_key_cmp(c->v[c->n - 1].key, c->v[c->n - 1].klen, key, klen) < 0) {
		*found = 0;
		return c->n;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = dev_key_cmp(c->v[mid].key, c->v[mid].klen, key, klen);
		if (r == 0) {
			*found = 1;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

const struct dev_change *dev_changes_find(const struct dev_changes *c, const uint8_t *key,
					  size_t klen)
{
	int found;
	size_t i = lookup(c, key, klen, &found);
	return found ? &c->v[i] : NULL;
}

static int dup(const uint8_t *p, size_t n, uint8_t **out)
{
	/* malloc(0) may return NULL; keep a real pointer for empty values. */
	*out = malloc(n ? n : 1);
	if (!*out)
		return -ENOMEM;
	if (n)
		memcpy(*out, p, n);
	return 0;
}

/* Takes ownership of key and val (val NULL = deletion). */
static int set_owned(struct dev_changes *c, uint8_t *key, size_t klen, uint8_t *val, size_t vlen)
{
	int found;
	size_t i = lookup(c, key, klen, &found);
	if (found) {
		struct dev_change *e = &c->v[i];
		c->bytes -= e->vlen;
		free(e->val);
		free(key);
		e->val = val;
		e->vlen = val ? vlen : 0;
		e->deleted = val == NULL;
		c->bytes += e->vlen;
		return 0;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 32;
		struct dev_change *nv = realloc(c->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof(*c->v));
	c->v[i] = (struct dev_change){key, klen, val, val ? vlen : 0, val == NULL};
	c->n++;
	c->bytes += klen + (val ? vlen : 0);
	return 0;
}

int dev_changes_set(struct dev_changes *c, const uint8_t *key, size_t klen, const uint8_t *val,
		    size_t vlen)
{
	uint8_t *k, *v = NULL;
	if (dup(key, klen, &k))
		return -ENOMEM;
	if (val && dup(val, vlen, &v)) {
		free(k);
		return -ENOMEM;
	}
	int rc = set_owned(c, k, klen, v, vlen);
	if (rc) {
		free(k);
		free(v);
	}
	return rc;
}

int dev_changes_merge(struct dev_changes *dst, struct dev_changes *src)
{
	int rc = 0;
	size_t i;
	for (i = 0; i < src->n; i++) {
		struct dev_change *e = &src->v[i];
		rc = set_owned(dst, e->key, e->klen, e->val, e->vlen);
		if (rc)
			break;
		e->key = NULL;
		e->val = NULL;
	}
	/* Entries already moved have NULL pointers; clear frees the rest. */
	dev_changes_clear(src);
	return rc;
}
