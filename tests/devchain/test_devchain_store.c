/* Versioned state, block commits, restart and refusal of damaged stores. */
#include "devchain_testlib.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "devchain/changes.h"
#include "devchain/exec.h"
#include "devchain/store.h"

static char dir[64];
static char path[128];

static int setup(void **st)
{
	snprintf(dir, sizeof(dir), "/tmp/devchain-store-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/chain.sqlite", dir);
	return 0;
}

static void rm_store(void)
{
	char p[160];
	static const char *const sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
}

static int teardown(void **st)
{
	rm_store();
	rmdir(dir);
	return 0;
}

static void set(struct dev_changes *c, const char *k, const char *v)
{
	assert_int_equal(dev_changes_set(c, (const uint8_t *)k, strlen(k), (const uint8_t *)v,
					 v ? strlen(v) : 0),
			 0);
}

static void changes_layer_and_merge(void **st)
{
	struct dev_changes a, b;
	dev_changes_init(&a);
	dev_changes_init(&b);
	set(&a, "b", "1");
	set(&a, "a", "2");
	set(&a, "ab", "3");
	set(&b, "a", NULL);
	set(&b, "c", "4");
	assert_int_equal(dev_changes_merge(&a, &b), 0);
	dev_changes_sort(&a);
	assert_int_equal(b.n, 0);
	assert_int_equal(a.n, 4);
	/* Sorted as SQLite sorts blobs: a < ab < b < c. */
	assert_memory_equal(a.v[0].key, "a", 1);
	assert_true(a.v[0].deleted);
	assert_memory_equal(a.v[1].key, "ab", 2);
	const struct dev_change *c = dev_changes_find(&a, (const uint8_t *)"c", 1);
	assert_non_null(c);
	assert_memory_equal(c->val, "4", 1);
	assert_null(dev_changes_find(&a, (const uint8_t *)"d", 1));
	dev_changes_free(&a);
	dev_changes_free(&b);
}

/* Many keys in scattered order: each found, replaced in place, deleted,
 * and the sorted walk in key order. */
static void changes_many_keys(void **st)
{
	struct dev_changes a;
	enum { N = 20000 };
	dev_changes_init(&a);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t k = (i * 7919u) % N; /* a permutation of 0..N-1 */
		uint8_t key[4] = {(uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8),
				  (uint8_t)k};
		assert_int_equal(dev_changes_set(&a, key, 4, key, 4), 0);
	}
	for (uint32_t k = 0; k < N; k += 2) {
		uint8_t key[4] = {(uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8),
				  (uint8_t)k};
		assert_int_equal(dev_changes_set(&a, key, 4, NULL, 0), 0);
	}
	assert_int_equal(a.n, N);
	dev_changes_sort(&a);
	for (uint32_t k = 0; k < N; k++) {
		uint8_t key[4] = {(uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8),
				  (uint8_t)k};
		assert_memory_equal(a.v[k].key, key, 4);
		const struct dev_change *c = dev_changes_find(&a, key, 4);
		assert_ptr_equal(c, &a.v[k]);
		assert_int_equal(c->deleted, k % 2 == 0);
	}
	dev_changes_free(&a);
}

struct seen {
	char keys[8][8];
	int n;
};

static int collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct seen *s = arg;
	if (s->n >= 8 || kl >= 8)
		return -1;
	memcpy(s->keys[s->n], k, kl);
	s->keys[s->n][kl] = 0;
	s->n++;
	return 0;
}

static void commit(struct dev_store *stp, uint32_t num, struct dev_changes *ch)
{
	uint8_t hash[32] = {(uint8_t)num, 1};
	assert_int_equal(dev_store_commit(stp, num, hash, (const uint8_t *)"h", 1, NULL, 0, ch,
					  NULL, 0),
			 0);
	dev_changes_clear(ch);
}

static void store_keeps_history(void **st)
{
	struct dev_store *s;
	struct dev_changes ch;
	struct zbuf v;
	struct seen seen = {0};
	uint32_t head;
	rm_store();
	assert_int_equal(dev_store_open(path, &s), 0);
	assert_int_equal(dev_store_head(s, &head), ZE_ABSENT);
	dev_changes_init(&ch);
	set(&ch, "pa", "1");
	set(&ch, "pb", "2");
	set(&ch, "q", "3");
	commit(s, 0, &ch);
	set(&ch, "pa", NULL);
	set(&ch, "pc", "4");
	set(&ch, "pb", "5");
	commit(s, 1, &ch);
	assert_int_equal(dev_store_head(s, &head), 0);
	assert_int_equal(head, 1);

	zbuf_init(&v, 64);
	assert_int_equal(dev_store_get(s, 0, (const uint8_t *)"pa", 2, &v), 0);
	assert_memory_equal(v.data, "1", 1);
	assert_int_equal(dev_store_get(s, 1, (const uint8_t *)"pa", 2, &v), ZE_ABSENT);
	zbuf_reset(&v);
	assert_int_equal(dev_store_get(s, 1, (const uint8_t *)"pb", 2, &v), 0);
	assert_memory_equal(v.data, "5", 1);
	zbuf_free(&v);

	assert_int_equal(dev_store_scan(s, 1, (const uint8_t *)"p", 1, NULL, 0, 10, collect, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.keys[0], "pb");
	assert_string_equal(seen.keys[1], "pc");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(dev_store_scan(s, 0, (const uint8_t *)"p", 1, (const uint8_t *)"pa", 2, 1,
					collect, &seen),
			 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.keys[0], "pb");
	dev_changes_free(&ch);
	dev_store_close(s);
}

/* A volatile store (a temporary chain's) commits and reads as any other,
 * and what it committed is there after a clean close and reopen. */
static void volatile_store_commits(void **st)
{
	struct dev_store *s;
	struct dev_changes ch;
	struct zbuf v;
	uint32_t head;
	rm_store();
	assert_int_equal(dev_store_open(path, &s), 0);
	assert_int_equal(dev_store_volatile(s), 0);
	dev_changes_init(&ch);
	set(&ch, "k", "1");
	commit(s, 0, &ch);
	set(&ch, "k", "2");
	commit(s, 1, &ch);
	dev_changes_free(&ch);
	dev_store_close(s);
	assert_int_equal(dev_store_open(path, &s), 0);
	assert_int_equal(dev_store_head(s, &head), 0);
	assert_int_equal(head, 1);
	zbuf_init(&v, 16);
	assert_int_equal(dev_store_get(s, 1, (const uint8_t *)"k", 1, &v), 0);
	assert_memory_equal(v.data, "2", 1);
	zbuf_free(&v);
	dev_store_close(s);
}

struct iter_seen {
	struct dev_ctx *ctx;
	struct seen s;
};

static int iter_collect(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct iter_seen *is = arg;
	/* Writing while iterating is allowed: the iteration is a snapshot. */
	assert_int_equal(dev_storage_put(is->ctx, (const uint8_t *)"pz", 2, v, vl), 0);
	return collect(&is->s, k, kl, v, vl);
}

static void context_layers_and_iteration(void **st)
{
	struct dev_store *s;
	struct dev_changes ch;
	struct dev_ctx ctx;
	struct dev_params params = {500, 0, 0};
	struct zbuf v;
	rm_store();
	assert_int_equal(dev_store_open(path, &s), 0);
	dev_changes_init(&ch);
	set(&ch, "pa", "1");
	set(&ch, "pb", "2");
	commit(s, 0, &ch);
	dev_changes_free(&ch);

	dev_ctx_init(&ctx, s, 1, 0, &params);
	assert_int_equal(dev_storage_delete(&ctx, (const uint8_t *)"pa", 2), 0); /* block layer */
	dev_ctx_call_begin(&ctx);
	assert_int_equal(dev_storage_put(&ctx, (const uint8_t *)"pc", 2, (const uint8_t *)"3", 1), 0);
	assert_int_equal(dev_event_emit(&ctx, 0, 5, NULL, 0), 0);
	struct iter_seen is;
	memset(&is, 0, sizeof(is));
	is.ctx = &ctx;
	assert_int_equal(dev_storage_iter(&ctx, (const uint8_t *)"p", 1, iter_collect, &is), 0);
	assert_int_equal(is.s.n, 2);
	assert_string_equal(is.s.keys[0], "pb");
	assert_string_equal(is.s.keys[1], "pc");
	/* A failed call leaves nothing: its writes and events are dropped. */
	dev_ctx_call_rollback(&ctx);
	assert_int_equal(ctx.nevents, 0);
	assert_int_equal(dev_storage_exists(&ctx, (const uint8_t *)"pc", 2), 0);
	assert_int_equal(dev_storage_exists(&ctx, (const uint8_t *)"pz", 2), 0);
	assert_int_equal(dev_storage_exists(&ctx, (const uint8_t *)"pa", 2), 0);
	zbuf_init(&v, 16);
	assert_int_equal(dev_storage_get(&ctx, (const uint8_t *)"pb", 2, &v), 0);
	assert_memory_equal(v.data, "2", 1);
	zbuf_free(&v);
	/* Bounds: empty and oversized keys, oversized values. */
	assert_int_equal(dev_storage_put(&ctx, (const uint8_t *)"", 0, NULL, 0), -EINVAL);
	static uint8_t bigkey[DEV_KEY_MAX + 1];
	assert_int_equal(dev_storage_put(&ctx, bigkey, sizeof(bigkey), NULL, 0), -EINVAL);
	assert_int_equal(dev_storage_put(&ctx, (const uint8_t *)"k", 1, bigkey, DEV_VALUE_MAX + 1),
			 -EINVAL);
	dev_ctx_free(&ctx);
	dev_store_close(s);
}

static void chain_resumes_after_restart(void **st)
{
	struct zkey alice;
	struct zbuf call, xt;
	struct dev_reject why;
	uint8_t hash[32], head_hash[32], genesis[32], to[32];
	uint32_t head, head2;
	struct dev_account a;
	rm_store();
	tl_key("alice", &alice);
	memset(to, 7, 32);
	struct dev_chain *c = tl_open(path);
	dev_chain_genesis_hash(c, genesis);
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	tl_transfer_call(3, to, 10000000, &call);
	tl_sign(c, &alice, &call, 0, &xt);
	assert_int_equal(dev_chain_submit(c, xt.data, xt.len, hash, &why), 0);
	tl_produce(c, 1);
	tl_produce(c, 0);
	dev_chain_head(c, &head, head_hash);
	dev_chain_close(c);

	c = tl_open(path);
	dev_chain_head(c, &head2, hash);
	assert_int_equal(head2, head);
	assert_memory_equal(hash, head_hash, 32);
	dev_chain_genesis_hash(c, hash);
	assert_memory_equal(hash, genesis, 32);
	assert_int_equal(tl_account(c, head, to, &a), 0);
	assert_true(a.free == 10000000);
	/* The same signed extrinsic is now stale. */
	assert_int_equal(dev_chain_submit(c, xt.data, xt.len, hash, &why), ZE_CHAIN);
	assert_non_null(strstr(why.reason, "outdated"));
	assert_int_equal(tl_produce(c, 0), head + 1);
	struct zbuf header;
	zbuf_init(&header, 1024);
	assert_int_equal(dev_chain_block(c, head + 1, NULL, &header, NULL), 0);
	assert_memory_equal(header.data, head_hash, 32); /* parent hash */
	zbuf_free(&header);
	dev_chain_close(c);
	zbuf_free(&call);
	zbuf_free(&xt);
	key_wipe(&alice);
}

static void damaged_store_is_refused(void **st)
{
	struct dev_store *s;
	cJSON *g;
	struct dev_chain *c = NULL;
	rm_store();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	char junk[4096];
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(dev_store_open(path, &s), ZE_MALFORMED);
	assert_int_equal(dev_genesis_load(NULL, &g), 0);
	assert_int_equal(dev_chain_open(path, g, &c), ZE_MALFORMED);
	cJSON_Delete(g);
	/* The file is left as it was, for inspection. */
	char back[16];
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, back, sizeof(back)), (ssize_t)sizeof(back));
	close(fd);
	assert_memory_equal(back, junk, sizeof(back));

	/* Another program's SQLite file with a table of ours shaped otherwise. */
	rm_store();
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE blocks(x);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(dev_store_open(path, &s), ZE_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(changes_layer_and_merge),
		cmocka_unit_test(changes_many_keys),
		cmocka_unit_test(store_keeps_history),
		cmocka_unit_test(volatile_store_commits),
		cmocka_unit_test(context_layers_and_iteration),
		cmocka_unit_test(chain_resumes_after_restart),
		cmocka_unit_test(damaged_store_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
