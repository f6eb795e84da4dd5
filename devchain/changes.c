/* The set of storage changes behind the state overlay (see changes.h). */
#include "devchain/changes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/zerr.h"

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

struct dev_change *dev_changes_find_mut(struct dev_changes *c, const uint8_t *key, size_t klen)
{
	return (struct dev_change *)dev_changes_find(c, key, klen);
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
		e->vcap = 0;
		e->append = 0;
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
	c->v[c->n] = (struct dev_change){key, klen, val, val ? vlen : 0, val == NULL, 0, 0};
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

/* ---- Vec values grown in place ---------------------------------------- */

/* Compact counts this code writes: below 2^30 (one, two or four bytes). */
#define VEC_COUNT_MAX ((1u << 30) - 1)

static size_t compact_len(size_t n)
{
	return n < 64 ? 1 : n < (1u << 14) ? 2 : 4;
}

static void put_compact(uint8_t *p, size_t n)
{
	size_t len = compact_len(n);
	uint32_t v = (uint32_t)(n << 2) | (len == 1 ? 0 : len == 2 ? 1 : 2);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int dev_vec_count(const uint8_t *val, size_t vlen, size_t esz, size_t *count)
{
	if (!val || vlen == 0 || esz == 0)
		return ZE_MALFORMED;
	uint32_t v = 0;
	size_t len = (val[0] & 3) == 0 ? 1 : (val[0] & 3) == 1 ? 2 : (val[0] & 3) == 2 ? 4 : 0;
	if (!len || vlen < len)
		return ZE_MALFORMED;
	for (size_t i = len; i-- > 0;)
		v = v << 8 | val[i];
	size_t n = v >> 2;
	/* Canonical only: SCALE decoders refuse a longer form than needed. */
	if (compact_len(n) != len || (vlen - len) / esz != n || (vlen - len) % esz)
		return ZE_MALFORMED;
	*count = n;
	return 0;
}

int dev_changes_vec_append(struct dev_changes *c, struct dev_change *e, const uint8_t *elems,
                           size_t n, size_t esz, size_t max)
{
	size_t count;
	int rc;
	if (e->deleted || e->append)
		return -EINVAL;
	if ((rc = dev_vec_count(e->val, e->vlen, esz, &count)) < 0)
		return rc;
	if (n > max || count > max - n || count + n > VEC_COUNT_MAX)
		return ZE_TOOBIG;
	size_t oldp = compact_len(count), newp = compact_len(count + n);
	size_t need = newp + (count + n) * esz, cap = e->vcap ? e->vcap : e->vlen;
	if (need > cap) {
		size_t ncap = cap * 2 > need ? cap * 2 : need;
		uint8_t *nv = realloc(e->val, ncap);
		if (!nv)
			return -ENOMEM;
		e->val = nv;
		e->vcap = ncap;
	}
	if (newp != oldp) /* the count grew a byte class: once or twice in a list's life */
		memmove(e->val + newp, e->val + oldp, count * esz);
	put_compact(e->val, count + n);
	memcpy(e->val + newp + count * esz, elems, n * esz);
	c->bytes += need - e->vlen;
	e->vlen = need;
	return 0;
}

int dev_changes_append_run(struct dev_changes *c, const uint8_t *key, size_t klen,
                           const uint8_t *elem, size_t esz)
{
	struct dev_change *e = dev_changes_find_mut(c, key, klen);
	if (e && (!e->append || e->append != esz))
		return -EINVAL; /* the caller appends to a plain value itself */
	if (!e) {
		uint8_t *v;
		if (esz == 0 || esz > UINT32_MAX || dup(elem, esz, &v))
			return -ENOMEM;
		int rc = dev_changes_set_owned_val(c, key, klen, v, esz);
		if (rc)
			return rc;
		e = dev_changes_find_mut(c, key, klen);
		e->append = (uint32_t)esz;
		return 0;
	}
	size_t cap = e->vcap ? e->vcap : e->vlen;
	if (e->vlen + esz > cap) {
		uint8_t *nv = realloc(e->val, cap * 2 > e->vlen + esz ? cap * 2 : e->vlen + esz);
		if (!nv)
			return -ENOMEM;
		e->val = nv;
		e->vcap = cap * 2 > e->vlen + esz ? cap * 2 : e->vlen + esz;
	}
	memcpy(e->val + e->vlen, elem, esz);
	e->vlen += esz;
	c->bytes += esz;
	return 0;
}

int dev_changes_resolve_run(struct dev_changes *c, struct dev_change *e,
                            const struct dev_change *below)
{
	size_t count, esz = e->append;
	int rc;
	if (!below || below->deleted || below->append)
		return -EINVAL;
	if ((rc = dev_vec_count(below->val, below->vlen, esz, &count)) < 0)
		return rc;
	size_t n = e->vlen / esz;
	if (count + n > VEC_COUNT_MAX)
		return ZE_TOOBIG;
	size_t p = compact_len(count + n), len = p + (count + n) * esz;
	uint8_t *v = malloc(len);
	if (!v)
		return -ENOMEM;
	put_compact(v, count + n);
	memcpy(v + p, below->val + compact_len(count), count * esz);
	memcpy(v + p + count * esz, e->val, e->vlen);
	c->bytes += len - e->vlen;
	free(e->val);
	e->val = v;
	e->vlen = len;
	e->vcap = 0;
	e->append = 0;
	return 0;
}

int dev_changes_merge(struct dev_changes *dst, struct dev_changes *src)
{
	int rc = 0;
	size_t i;
	for (i = 0; i < src->n; i++) {
		struct dev_change *e = &src->v[i];
		if (e->append) {
			/* A run: onto dst's value in place; the run itself is freed
			 * with src. */
			struct dev_change *d = dev_changes_find_mut(dst, e->key, e->klen);
			rc = d ? dev_changes_vec_append(dst, d, e->val, e->vlen / e->append,
			                                e->append, VEC_COUNT_MAX)
			       : -EINVAL;
			if (rc)
				break;
			continue;
		}
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
