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
/* Puts v in key order (a no-op when it is). */
void dev_changes_sort(struct dev_changes *c);
/* Moves every change of src into dst (newer wins) and empties src. On
 * -ENOMEM dst may hold part of src; callers then drop the whole block. */
int dev_changes_merge(struct dev_changes *dst, struct dev_changes *src);

#endif
