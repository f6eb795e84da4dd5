/*
 * The devchain's SQLite store: versioned state, blocks, and chain facts.
 *
 * State is kept as (key, block number, value-or-NULL) rows, so a read "at"
 * any past block is one indexed lookup and a block's state changes, its
 * header and body commit in one SQLite transaction: after a crash the store
 * holds whole blocks only.
 *
 * Not thread-safe: the chain serializes access under its own lock.
 */
#ifndef ZOS_DEVCHAIN_STORE_H
#define ZOS_DEVCHAIN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "devchain/changes.h"

struct dev_store;

/* Opens (creating) path; ":memory:" for a throwaway store. A store that
 * fails SQLite's integrity check or has a foreign schema is refused with
 * ZE_MALFORMED and a logged reason; the file is left untouched for
 * inspection. *out is freed with dev_store_close. */
int dev_store_open(const char *path, struct dev_store **out);
void dev_store_close(struct dev_store *st);
/* Stops syncing to disk (SQLite's synchronous=OFF): for a store that is
 * thrown away at exit. Its commits, and the WAL checkpoints that would
 * otherwise fsync under the chain's lock, then cost no disk wait. */
int dev_store_volatile(struct dev_store *st);

/* Number of the last committed block; ZE_ABSENT for an empty store. */
int dev_store_head(struct dev_store *st, uint32_t *num);

/* The value of key as of block num (appended to val); ZE_ABSENT if none. */
int dev_store_get(struct dev_store *st, uint32_t num, const uint8_t *key, size_t klen,
		  struct zbuf *val);

/* Keys under prefix as of block num, strictly after `after` (NULL = from
 * the start), in key order, at most limit of them. fn returns 0 to go on,
 * 1 to stop, or a negative error that is returned. */
typedef int (*dev_store_fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
			    size_t vlen);
int dev_store_scan(struct dev_store *st, uint32_t num, const uint8_t *prefix, size_t plen,
		   const uint8_t *after, size_t alen, size_t limit, dev_store_fn fn, void *arg);

/* Block by number: hash, and header/body appended to the buffers (either
 * may be NULL). ZE_ABSENT when there is no such block. */
int dev_store_block(struct dev_store *st, uint32_t num, uint8_t hash[32], struct zbuf *header,
		    struct zbuf *body);
int dev_store_block_num(struct dev_store *st, const uint8_t hash[32], uint32_t *num);

/* Chain facts (genesis hash, state root...) by name. */
int dev_store_meta_get(struct dev_store *st, const char *name, struct zbuf *val);

/* Commits block num: its state changes, header and body, plus the facts
 * named in metas (NULL-terminated name/value pairs, may be NULL), in one
 * transaction. Nothing is written when it fails. */
struct dev_store_meta {
	const char *name;
	const uint8_t *val;
	size_t len;
};
int dev_store_commit(struct dev_store *st, uint32_t num, const uint8_t hash[32],
		     const uint8_t *header, size_t hlen, const uint8_t *body, size_t blen,
		     const struct dev_changes *changes, const struct dev_store_meta *metas,
		     size_t nmetas);

#endif
