/*
 * A sorted set of storage changes: key -> new value, or key -> deleted.
 *
 * Used for the call layer and the block layer of the state overlay. A hash
 * index makes finding, setting and merging one change O(1) whatever the
 * set's size (a block of 50,000 reports must not pay per report for the
 * ones before it); the entries stay in insertion order until
 * dev_changes_sort puts them in key order, as SQLite sorts blobs (memcmp,
 * then the shorter first), for whoever walks v in order. Appends already in
 * key order (store scans, sorted genesis) keep the set sorted for free. A
 * change set owns copies of every key and value it holds.
 */
#ifndef ZOS_DEVCHAIN_CHANGES_H
#define ZOS_DEVCHAIN_CHANGES_H

#include <stddef.h>
#include <stdint.h>

struct dev_change {
	uint8_t *key;
	size_t klen;
	uint8_t *val; /* NULL when deleted */
	size_t vlen;
	int deleted;
	size_t vcap;     /* bytes allocated at val once appends grew it; 0 = vlen */
	uint32_t append; /* nonzero: val holds elements of this size to append to
	                  * the SCALE Vec of the layer below (an append run) */
};

struct dev_changes {
	struct dev_change *v; /* in key order only when sorted is set */
	size_t n, cap;
	size_t bytes; /* keys + values held, to bound a block's memory */
	int sorted;
	uint32_t *idx; /* open addressing: index into v plus one, 0 = empty */
	size_t icap;   /* a power of two, at least twice n; 0 = no index yet */
};

void dev_changes_init(struct dev_changes *c);
void dev_changes_free(struct dev_changes *c);
void dev_changes_clear(struct dev_changes *c);

int dev_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* The change for key, or NULL when the set says nothing about it. */
const struct dev_change *dev_changes_find(const struct dev_changes *c, const uint8_t *key,
                                          size_t klen);
/* Records val for key (val NULL = deletion), replacing an earlier change. */
int dev_changes_set(struct dev_changes *c, const uint8_t *key, size_t klen, const uint8_t *val,
                    size_t vlen);
/* dev_changes_set taking ownership of val (malloc'd, not NULL): no copy of
 * a big value. val is freed on failure too. */
int dev_changes_set_owned_val(struct dev_changes *c, const uint8_t *key, size_t klen, uint8_t *val,
                              size_t vlen);
/* dev_changes_find for a change the caller updates in place. */
struct dev_change *dev_changes_find_mut(struct dev_changes *c, const uint8_t *key, size_t klen);

/*
 * SCALE Vec values grown one element at a time (a node's list of
 * contracts) without copying the list per element. A Vec value is a
 * compact count then the elements, esz bytes each.
 *
 * dev_changes_vec_append appends n elements to the Vec value of change e
 * of c (not deleted, not an append run), in place with amortised growth;
 * ZE_MALFORMED when its value is not a Vec of esz-byte elements, ZE_TOOBIG
 * beyond max elements.
 *
 * dev_changes_append_run records, in a call layer c, elements to append
 * to the Vec value the layer below holds for key, or adds to the run c
 * already holds; dev_changes_merge applies the run to the layer below's
 * value in place, so a failed call (cleared, not merged) leaves that value
 * untouched. The caller checks that the layer below holds a Vec value for
 * key, and resolves a run into a plain value (dev_changes_resolve_run)
 * before anyone reads the key through c.
 */
int dev_changes_vec_append(struct dev_changes *c, struct dev_change *e, const uint8_t *elems,
                           size_t n, size_t esz, size_t max);
int dev_changes_append_run(struct dev_changes *c, const uint8_t *key, size_t klen,
                           const uint8_t *elem, size_t esz);
/* Replaces run e of c by the plain value below's Vec plus the run. */
int dev_changes_resolve_run(struct dev_changes *c, struct dev_change *e,
                            const struct dev_change *below);
/* The element count of a Vec value of esz-byte elements, checking that
 * the value is exactly that many elements; ZE_MALFORMED otherwise. */
int dev_vec_count(const uint8_t *val, size_t vlen, size_t esz, size_t *count);

/* Puts v in key order (a no-op when it is). */
void dev_changes_sort(struct dev_changes *c);
/* Moves every change of src into dst (newer wins) and empties src. On
 * -ENOMEM dst may hold part of src; callers then drop the whole block. */
int dev_changes_merge(struct dev_changes *dst, struct dev_changes *src);

#endif
