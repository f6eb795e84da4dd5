/* The set of storage changes behind the state overlay (see changes.h). */
#include "devchain/changes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Below this many entries a clear keeps the index; above, it is freed so a
 * one-off huge call does not make every later clear wipe a big table. */
#define DEV_CHANGES_KEEP_IDX 4096

void dev_changes_init(struct dev_changes *c)
{
	memset(c, 0, sizeof(*c));
	c->sorted = 1;
}

void dev_changes_clear(struct dev_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].val);
	}
	if (c->icap > DEV_CHANGES_KEEP_IDX) {
		free(c->idx);
		c->idx = NULL;
		c->icap = 0;
	} else if (c->icap) {
		memset(c->idx, 0, c->icap * sizeof(*c->idx));
	}
	c->n = 0;
	c->bytes = 0;
	c->sorted = 1;
}

void dev_changes_free(struct dev_changes *c)
{
	dev_changes_clear(c);
	free(c->v);
	free(c->idx);
	c->v = NULL;
	c->idx = NULL;
	c->cap = 0;
	c->icap = 0;
}

int dev_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int r = n ? memcmp(a, b, n) : 0;
	if (r)
		return r;
	return alen < blen ? -1 : alen > blen;
}

static size_t slot_of(const uint8_t *key, size_t klen, size_t icap)
{
	return (size_t)XXH3_64bits(key, klen) & (icap - 1);
}

/* The slot holding key, or the empty slot where it would go (*found = 0). */
static size_t probe(const struct dev_changes *c, const uint8_t *key, size_t klen, int *found)
{
	size_t s = slot_of(key, klen, c->icap);

	for (;; s = (s + 1) & (c->icap - 1)) {
		uint32_t i = c->idx[s];
		if (!i) {
			*found = 0;
			return s;
		}
		const struct dev_change *e = &c->v[i - 1];
		if (e->klen == klen && memcmp(e->key, key, klen) == 0) {
			*found = 1;
			return s;
		}
	}
}

/* (Re)builds the index for at least `want` entries at load <= 1/2. */
static int reindex(struct dev_changes *c, size_t want)
{
	size_t icap = c->icap > 64 ? c->icap : 64;

	while (icap < want * 2)
		icap *= 2;
	if (icap > UINT32_MAX)
		return -ENOMEM;
	uint32_t *idx = calloc(icap, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	free(c->idx);
	c->idx = idx;
	c->icap = icap;
	for (size_t i = 0; i < c->n; i++) {
		int found;
		size_t s = probe(c, c->v[i].key, c->v[i].klen, &found);
		c->idx[s] = (uint32_t)(i + 1);
	}
	return 0;
}

const struct dev_change *dev_changes_find(const struct dev_changes *c, const uint8_t *key,
                                          size_t klen)
{
	int found;

	if (!c->icap)
		return NULL;
	size_t s = probe(c, key, klen, &found);
	return found ? &c->v[c->idx[s] - 1] : NULL;
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
	int found, rc;

	if ((c->n + 1) * 2 > c->icap && (rc = reindex(c, c->n + 1)) < 0)
		return rc;
	size_t s = probe(c, key, klen, &found);
	if (found) {
		struct dev_change *e = &c->v[c->idx[s] - 1];
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
	if (c->sorted && c->n &&
	    dev_key_cmp(c->v[c->n - 1].key, c->v[c->n - 1].klen, key, klen) > 0)
		c->sorted = 0;
	c->v[c->n] = (struct dev_change){key, klen, val, val ? vlen : 0, val == NULL};
	c->idx[s] = (uint32_t)(c->n + 1);
	c->n++;
	c->bytes += klen + (val ? vlen : 0);
	return 0;
}

static int change_cmp(const void *a, const void *b)
{
	const struct dev_change *x = a, *y = b;

	return dev_key_cmp(x->key, x->klen, y->key, y->klen);
}

void dev_changes_sort(struct dev_changes *c)
{
	if (c->sorted)
		return;
	qsort(c->v, c->n, sizeof(*c->v), change_cmp);
	/* Same size, so the index fits: rebuilding cannot fail. */
	memset(c->idx, 0, c->icap * sizeof(*c->idx));
	for (size_t i = 0; i < c->n; i++) {
		int found;
		size_t s = probe(c, c->v[i].key, c->v[i].klen, &found);
		c->idx[s] = (uint32_t)(i + 1);
	}
	c->sorted = 1;
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

int dev_changes_set_owned_val(struct dev_changes *c, const uint8_t *key, size_t klen, uint8_t *val,
                              size_t vlen)
{
	uint8_t *k;
	if (dup(key, klen, &k)) {
		free(val);
		return -ENOMEM;
	}
	int rc = set_owned(c, k, klen, val, vlen);
	if (rc) {
		free(k);
		free(val);
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
