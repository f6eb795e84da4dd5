/*
 * Id lists grown in place (dev_storage_vec_append, behind
 * ActiveNodeContracts) and shrunk on their raw bytes (dev_u64_list_remove):
 * the bytes stored and read back are exactly those of the plain path (read
 * the Vec, append or filter, write it back), whatever the
 * pattern of appends, removals, rolled-back calls and blocks. Two runtimes
 * on two stores run the same operations, one through each path, and are
 * compared after every call and every block, and across the compact
 * count's byte classes (64 and 16,384 elements).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/scale.h"
#include "common/zerr.h"
#include "devchain/exec.h"
#include "devchain/store.h"
#include "devchain/tfgrid_store.h"

#define NODES 3
#define ITEM "ActiveNodeContracts"

struct side {
	struct dev_store *st;
	struct dev_ctx ctx;
	int fast; /* 1: dev_u64_list_add_fresh; 0: get, append, put */
};

static const struct dev_params params = {0};

static void side_open(struct side *s, int fast)
{
	memset(s, 0, sizeof *s);
	s->fast = fast;
	assert_int_equal(dev_store_open(":memory:", &s->st), 0);
	dev_ctx_init(&s->ctx, s->st, 0, 0, &params);
}

static void side_close(struct side *s)
{
	dev_ctx_free(&s->ctx);
	dev_store_close(s->st);
}

/* Seals the block: its changes into the store, and a new context on it. */
static void side_commit(struct side *s, uint32_t num)
{
	uint8_t hash[32] = {(uint8_t)num, (uint8_t)(num >> 8), 7};
	dev_changes_sort(&s->ctx.block);
	assert_int_equal(dev_store_commit(s->st, num, hash, (const uint8_t *)"h", 1, NULL, 0,
	                                  &s->ctx.block, NULL, 0),
	                 0);
	dev_ctx_free(&s->ctx);
	dev_ctx_init(&s->ctx, s->st, 1, num, &params);
}

static int add(struct side *s, uint32_t node, uint64_t id)
{
	uint8_t k[4];
	dev_le32(k, node);
	if (s->fast)
		return dev_u64_list_add_fresh(&s->ctx, DEV_SC_PALLET, ITEM, k, 4, id);
	uint64_t *ids = NULL;
	size_t n = 0;
	int rc = dev_get_u64_list(&s->ctx, DEV_SC_PALLET, ITEM, k, 4, &ids, &n);
	if (rc == 0) {
		uint64_t *m = realloc(ids, (n + 1) * sizeof *m);
		assert_non_null(m);
		m[n] = id;
		rc = dev_put_u64_list(&s->ctx, DEV_SC_PALLET, ITEM, k, 4, m, n + 1);
		ids = m;
	}
	free(ids);
	return rc;
}

static int del(struct side *s, uint32_t node, uint64_t id)
{
	uint8_t k[4];
	dev_le32(k, node);
	if (s->fast)
		return dev_u64_list_remove(&s->ctx, DEV_SC_PALLET, ITEM, k, 4, id);
	uint64_t *ids = NULL;
	size_t n = 0, j = 0;
	int rc = dev_get_u64_list(&s->ctx, DEV_SC_PALLET, ITEM, k, 4, &ids, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (ids[i] != id)
			ids[j++] = ids[i];
	if (rc == 0 && j != n)
		rc = dev_put_u64_list(&s->ctx, DEV_SC_PALLET, ITEM, k, 4, ids, j);
	free(ids);
	return rc;
}

/* The raw value of node's list (absent: length 0, rc ZE_ABSENT). */
static int value(struct side *s, uint32_t node, struct zbuf *v)
{
	uint8_t k[4];
	struct zbuf key;
	zbuf_init(&key, 0);
	dev_le32(k, node);
	assert_int_equal(dev_key(DEV_SC_PALLET, ITEM, k, 4, NULL, 0, &key), 0);
	zbuf_reset(v);
	int rc = dev_storage_get(&s->ctx, key.data, key.len, v);
	zbuf_free(&key);
	return rc;
}

static void same(struct side *a, struct side *b)
{
	struct zbuf va, vb;
	zbuf_init(&va, 0);
	zbuf_init(&vb, 0);
	for (uint32_t node = 1; node <= NODES; node++) {
		assert_int_equal(value(a, node, &va), value(b, node, &vb));
		assert_int_equal(va.len, vb.len);
		assert_memory_equal(va.data, vb.data, va.len);
	}
	zbuf_free(&va);
	zbuf_free(&vb);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Random calls of a few appends and removals each, some rolled back,
 * over blocks; both sides see the same operations. */
static void same_bytes_as_plain_path(void **st)
{
	struct side s[2];
	uint64_t next_id = 1;
	side_open(&s[0], 1);
	side_open(&s[1], 0);
	for (uint32_t blk = 1; blk <= 12; blk++) {
		for (int call = 0; call < 30; call++) {
			int ops = 1 + (int)(rnd() % 4), rollback = rnd() % 5 == 0;
			uint64_t first = next_id;
			for (int k = 0; k < 2; k++)
				dev_ctx_call_begin(&s[k].ctx);
			for (int o = 0; o < ops; o++) {
				uint32_t node = 1 + (uint32_t)(rnd() % NODES);
				if (rnd() % 4 == 0 && next_id > 1) {
					uint64_t id = 1 + rnd() % (next_id - 1);
					for (int k = 0; k < 2; k++)
						assert_int_equal(del(&s[k], node, id), 0);
				} else {
					for (int k = 0; k < 2; k++)
						assert_int_equal(add(&s[k], node, next_id), 0);
					next_id++;
				}
				if (rnd() % 3 == 0)
					same(&s[0], &s[1]); /* a read in the middle of a call */
			}
			for (int k = 0; k < 2; k++) {
				if (rollback)
					dev_ctx_call_rollback(&s[k].ctx);
				else
					assert_int_equal(dev_ctx_call_commit(&s[k].ctx), 0);
			}
			if (rollback)
				next_id = first;
			same(&s[0], &s[1]);
		}
		for (int k = 0; k < 2; k++)
			side_commit(&s[k], blk);
		same(&s[0], &s[1]);
	}
	assert_true(next_id > 3 * 64); /* some list crossed the one-byte count */
	/* Node 1 emptied (its entry deleted), then grown again, in one block:
	 * ids removed in calls of ten, the last ones and the new id in one. */
	for (uint64_t id = 1; id < next_id; id += 10) {
		for (int k = 0; k < 2; k++) {
			dev_ctx_call_begin(&s[k].ctx);
			for (uint64_t j = id; j < id + 10 && j < next_id; j++)
				assert_int_equal(del(&s[k], 1, j), 0);
			if (id + 10 >= next_id)
				assert_int_equal(add(&s[k], 1, next_id), 0);
			assert_int_equal(dev_ctx_call_commit(&s[k].ctx), 0);
		}
		same(&s[0], &s[1]);
	}
	for (int k = 0; k < 2; k++) {
		dev_ctx_call_begin(&s[k].ctx);
		assert_int_equal(del(&s[k], 1, next_id), 0); /* empty: deleted */
		assert_int_equal(dev_ctx_call_commit(&s[k].ctx), 0);
		dev_ctx_call_begin(&s[k].ctx);
		assert_int_equal(add(&s[k], 1, next_id + 1), 0); /* over the deletion */
		assert_int_equal(dev_ctx_call_commit(&s[k].ctx), 0);
		side_commit(&s[k], 100);
	}
	same(&s[0], &s[1]);
	struct zbuf v;
	zbuf_init(&v, 0);
	assert_int_equal(value(&s[0], 1, &v), 0);
	assert_int_equal(v.len, 1 + 8); /* compact(1), the one id */
	zbuf_free(&v);
	for (int k = 0; k < 2; k++)
		side_close(&s[k]);
}

/* 16,500 appends to one node, one per call, then the bytes are exactly
 * compact(16500) ++ the ids: the count moved from one to two to four
 * bytes in place. A rolled-back call in between changed nothing. */
static void count_byte_classes(void **st)
{
	struct side s;
	const uint64_t n = 16500;
	side_open(&s, 1);
	for (uint64_t id = 1; id <= n; id++) {
		dev_ctx_call_begin(&s.ctx);
		assert_int_equal(add(&s, 1, id), 0);
		assert_int_equal(dev_ctx_call_commit(&s.ctx), 0);
		if (id == 100 || id == 16384) {
			dev_ctx_call_begin(&s.ctx);
			assert_int_equal(add(&s, 1, 999999), 0);
			dev_ctx_call_rollback(&s.ctx);
		}
		if (id == 5000)
			side_commit(&s, 1);
	}
	struct zbuf want, got;
	zbuf_init(&want, 0);
	zbuf_init(&got, 0);
	assert_int_equal(scale_put_compact(&want, n), 0);
	for (uint64_t id = 1; id <= n; id++)
		assert_int_equal(scale_put_u64(&want, id), 0);
	assert_int_equal(value(&s, 1, &got), 0);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	side_commit(&s, 2);
	assert_int_equal(value(&s, 1, &got), 0);
	assert_memory_equal(got.data, want.data, want.len);
	zbuf_free(&want);
	zbuf_free(&got);
	side_close(&s);
}

/* The bound holds on every path: in the block, in a call's run, and on a
 * value read from the store. */
static void bound_is_kept(void **st)
{
	struct side s;
	uint8_t k[4], le[8] = {1};
	struct zbuf key;
	zbuf_init(&key, 0);
	dev_le32(k, 1);
	assert_int_equal(dev_key(DEV_SC_PALLET, ITEM, k, 4, NULL, 0, &key), 0);
	side_open(&s, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(dev_storage_vec_append(&s.ctx, key.data, key.len, le, 8, 4), 0);
	dev_ctx_call_begin(&s.ctx);
	assert_int_equal(dev_storage_vec_append(&s.ctx, key.data, key.len, le, 8, 4), 0);
	assert_int_equal(dev_storage_vec_append(&s.ctx, key.data, key.len, le, 8, 4), ZE_TOOBIG);
	dev_ctx_call_rollback(&s.ctx);
	side_commit(&s, 1);
	assert_int_equal(dev_storage_vec_append(&s.ctx, key.data, key.len, le, 8, 4), 0);
	assert_int_equal(dev_storage_vec_append(&s.ctx, key.data, key.len, le, 8, 4), ZE_TOOBIG);
	/* A value that is not a Vec of u64 is refused, not extended. */
	assert_int_equal(dev_storage_put(&s.ctx, key.data, key.len, (const uint8_t *)"\x08\x01", 2),
	                 0);
	assert_int_equal(dev_storage_vec_append(&s.ctx, key.data, key.len, le, 8, 4), ZE_MALFORMED);
	zbuf_free(&key);
	side_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(same_bytes_as_plain_path),
	    cmocka_unit_test(count_byte_classes),
	    cmocka_unit_test(bound_is_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
