/* Unit tests of rmb's bounded state: replay cache, twin cache, rate limiter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/zerr.h"
#include "rmb/rmb_chain.h"
#include "rmb/rmb_conns.h"
#include "rmb/rmb_guard.h"

static void replay_detects_and_expires(void **st)
{
	struct rmb_replay *r;
	assert_int_equal(rmb_replay_new(8, 1000, &r), 0);
	assert_int_equal(rmb_replay_add(r, 1, "a", 0), 0);
	assert_int_equal(rmb_replay_add(r, 1, "a", 10), -EEXIST);
	/* Same uid from another twin is another request. */
	assert_int_equal(rmb_replay_add(r, 2, "a", 10), 0);
	assert_int_equal(rmb_replay_add(r, 1, "a", 999), -EEXIST);
	/* After the window the entry is gone (the envelope is expired by then). */
	assert_int_equal(rmb_replay_add(r, 1, "a", 1000), 0);
	rmb_replay_free(r);
}

static void replay_is_bounded(void **st)
{
	struct rmb_replay *r;
	char uid[16];
	assert_int_equal(rmb_replay_new(4, 1000, &r), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(uid, sizeof(uid), "u%d", i);
		assert_int_equal(rmb_replay_add(r, 1, uid, (uint64_t)i), 0);
	}
	/* Full of live entries: refuse rather than forget one. */
	assert_int_equal(rmb_replay_add(r, 1, "new", 10), ZE_CAPACITY);
	assert_int_equal(rmb_replay_count(r), 4);
	/* Entries remain replays while full. */
	assert_int_equal(rmb_replay_add(r, 1, "u3", 10), -EEXIST);
	/* Once the oldest expire, room comes back. */
	assert_int_equal(rmb_replay_add(r, 1, "new", 1001), 0);
	assert_int_equal(rmb_replay_add(r, 1, "u0", 1001), 0);
	assert_int_equal(rmb_replay_add(r, 1, "u2", 1001), -EEXIST);
	rmb_replay_free(r);
}

static void replay_forget(void **st)
{
	struct rmb_replay *r;
	assert_int_equal(rmb_replay_new(4, 1000, &r), 0);
	assert_int_equal(rmb_replay_add(r, 1, "a", 0), 0);
	rmb_replay_forget(r, 1, "a");
	assert_int_equal(rmb_replay_add(r, 1, "a", 1), 0);
	rmb_replay_forget(r, 1, "missing");
	assert_int_equal(rmb_replay_add(r, 1, "a", 2), -EEXIST);
	rmb_replay_free(r);
}

static void replay_many(void **st)
{
	struct rmb_replay *r;
	char uid[32];
	assert_int_equal(rmb_replay_new(1000, 100, &r), 0);
	/* Many windows' worth of traffic through a small table. */
	for (uint64_t t = 0; t < 20000; t++) {
		snprintf(uid, sizeof(uid), "u%llu", (unsigned long long)t);
		assert_int_equal(rmb_replay_add(r, (uint32_t)(t % 7), uid, t / 10), 0);
		if (t > 0) {
			snprintf(uid, sizeof(uid), "u%llu", (unsigned long long)(t - 1));
			assert_int_equal(rmb_replay_add(r, (uint32_t)((t - 1) % 7), uid, t / 10),
					 -EEXIST);
		}
	}
	assert_true(rmb_replay_count(r) <= 1000);
	rmb_replay_free(r);
}

/* The cache survives a restart: a uid accepted within the window is still
 * refused, a forgotten one is not, an expired one is forgotten; the file
 * stays bounded. */
static void replay_survives_restart(void **st)
{
	char dir[] = "/tmp/rmb-replay-XXXXXX", path[64];
	struct rmb_replay *r;
	struct stat sb;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/replay", dir);
	const uint64_t W = 1700000000000ull;
	assert_int_equal(rmb_replay_new(8, 1000, &r), 0);
	assert_int_equal(rmb_replay_persist(r, path, 50000, W), 0);
	assert_int_equal(rmb_replay_add(r, 1, "a", 50000), 0);
	assert_int_equal(rmb_replay_add(r, 1, "b", 50010), 0);
	assert_int_equal(rmb_replay_add(r, 2, "c", 50500), 0);
	rmb_replay_forget(r, 1, "b");
	rmb_replay_free(r);
	/* Restarted 400 ms later (a new boot: the monotonic clock is small). */
	assert_int_equal(rmb_replay_new(8, 1000, &r), 0);
	assert_int_equal(rmb_replay_persist(r, path, 10000, W + 400), 0);
	assert_int_equal(rmb_replay_add(r, 1, "a", 10000), -EEXIST);
	assert_int_equal(rmb_replay_add(r, 2, "c", 10000), -EEXIST);
	assert_int_equal(rmb_replay_add(r, 1, "b", 10000), 0);
	rmb_replay_free(r);
	/* Past a's window (accepted at W): a is forgotten, c (W + 500) is not. */
	assert_int_equal(rmb_replay_new(8, 1000, &r), 0);
	assert_int_equal(rmb_replay_persist(r, path, 100, W + 1200), 0);
	assert_int_equal(rmb_replay_add(r, 1, "a", 100), 0);
	assert_int_equal(rmb_replay_add(r, 2, "c", 100), -EEXIST);
	rmb_replay_free(r);
	/* Many adds over time: the file is rewritten, bounded by the table. */
	assert_int_equal(rmb_replay_new(4, 1000, &r), 0);
	assert_int_equal(rmb_replay_persist(r, path, 0, W + 5000), 0);
	char uid[16];
	for (int i = 0; i < 1000; i++) {
		snprintf(uid, sizeof uid, "m%d", i);
		assert_int_equal(rmb_replay_add(r, 3, uid, 300u * (unsigned)i), 0);
	}
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size <= 48 + 2 * 4 * 24);
	rmb_replay_free(r);
	/* A file that is not a replay cache is replaced, not trusted. */
	FILE *fp = fopen(path, "w");
	fputs("garbage", fp);
	fclose(fp);
	assert_int_equal(rmb_replay_new(4, 1000, &r), 0);
	assert_int_equal(rmb_replay_persist(r, path, 0, W), 0);
	assert_int_equal(rmb_replay_add(r, 3, "m999", 0), 0);
	rmb_replay_free(r);
	unlink(path);
	rmdir(dir);
}

struct table {
	int calls;
	int down;
	uint32_t absent_from;
	uint8_t fill;
};

static int table_lookup(void *ctx, uint32_t id, struct rmb_twin *out)
{
	struct table *t = ctx;
	t->calls++;
	if (t->down)
		return -ECONNREFUSED;
	if (id >= t->absent_from)
		return ZE_ABSENT;
	memset(out->account, t->fill + (int)id, 32);
	snprintf(out->relay, sizeof(out->relay), "tcp://127.0.0.1:%u", 1000 + id);
	return 0;
}

static void twins_cache_ttl(void **st)
{
	struct table t = {0, 0, 100, 1};
	struct rmb_twins *c;
	struct rmb_twin tw;
	assert_int_equal(rmb_twins_new(8, 1000, 100, 4, table_lookup, &t, &c), 0);
	assert_int_equal(rmb_twins_get(c, 5, 0, &tw), 0);
	assert_int_equal(tw.id, 5);
	assert_int_equal(tw.account[0], 6);
	assert_string_equal(tw.relay, "tcp://127.0.0.1:1005");
	assert_int_equal(rmb_twins_get(c, 5, 999, &tw), 0);
	assert_int_equal(t.calls, 1);
	/* Once the TTL passed, the last key serves at once while the twin is
	 * read again in the background; the key change is seen after that. */
	t.fill = 50;
	assert_int_equal(rmb_twins_get(c, 5, 1000, &tw), 0);
	assert_int_equal(tw.account[0], 6);
	struct timespec ts = {0, 5 * 1000000L};
	for (int i = 0; i < 2000 && rmb_twins_refreshed(c) < 1; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(rmb_twins_refreshed(c), 1);
	assert_int_equal(t.calls, 2);
	assert_int_equal(rmb_twins_get(c, 5, 1001, &tw), 0);
	assert_int_equal(tw.account[0], 55);
	assert_int_equal(t.calls, 2);
	rmb_twins_free(c);
}

static void twins_absent_vs_unknown(void **st)
{
	struct table t = {0, 0, 100, 1};
	struct rmb_twins *c;
	struct rmb_twin tw;
	assert_int_equal(rmb_twins_new(8, 1000, 100, 4, table_lookup, &t, &c), 0);
	assert_int_equal(rmb_twins_get(c, 200, 0, &tw), ZE_ABSENT);
	assert_int_equal(rmb_twins_get(c, 200, 50, &tw), ZE_ABSENT);
	assert_int_equal(t.calls, 1); /* negative answers are cached (briefly) */
	/* The chain is down: never "absent", never cached. */
	t.down = 1;
	assert_int_equal(rmb_twins_get(c, 7, 0, &tw), ZE_UNKNOWN);
	assert_int_equal(rmb_twins_get(c, 7, 0, &tw), ZE_UNKNOWN);
	assert_int_equal(t.calls, 3);
	t.down = 0;
	assert_int_equal(rmb_twins_get(c, 7, 1, &tw), 0);
	rmb_twins_free(c);
}

static void twins_bounded(void **st)
{
	struct table t = {0, 0, 100000, 1};
	struct rmb_twins *c;
	struct rmb_twin tw;
	assert_int_equal(rmb_twins_new(8, 1000000, 100, 4, table_lookup, &t, &c), 0);
	for (uint32_t id = 0; id < 10000; id++)
		assert_int_equal(rmb_twins_get(c, id, id, &tw), 0);
	assert_int_equal(t.calls, 10000);
	/* The most recent one is still cached; the table did not grow. */
	assert_int_equal(rmb_twins_get(c, 9999, 10000, &tw), 0);
	assert_int_equal(t.calls, 10000);
	rmb_twins_free(c);
}

struct slow_chain {
	atomic_int entered, release, calls;
};

static int slow_lookup(void *ctx, uint32_t id, struct rmb_twin *out)
{
	struct slow_chain *sc = ctx;
	struct timespec ts = {0, 5 * 1000000L};
	atomic_fetch_add(&sc->calls, 1);
	atomic_store(&sc->entered, 1);
	for (int i = 0; i < 2000 && !atomic_load(&sc->release); i++)
		nanosleep(&ts, NULL);
	memset(out->account, 1, 32);
	return 0;
}

struct getter {
	struct rmb_twins *c;
	int rc;
};

static void *get_twin_1(void *p)
{
	struct getter *g = p;
	struct rmb_twin tw;
	g->rc = rmb_twins_get(g->c, 1, 0, &tw);
	return NULL;
}

/* A slow chain ties up at most `inflight` callers; other misses are
 * answered "unknown" at once, hits are served as usual. */
static void twins_lookups_bounded(void **st)
{
	struct slow_chain sc = {0, 0, 0};
	struct rmb_twins *c;
	struct rmb_twin tw;
	struct timespec ts = {0, 5 * 1000000L};
	pthread_t th;
	assert_int_equal(rmb_twins_new(8, 100000, 100, 1, slow_lookup, &sc, &c), 0);
	atomic_store(&sc.release, 1);
	assert_int_equal(rmb_twins_get(c, 3, 0, &tw), 0); /* cached from now on */
	atomic_store(&sc.release, 0);
	atomic_store(&sc.entered, 0);
	struct getter g = {c, -1};
	assert_int_equal(pthread_create(&th, NULL, get_twin_1, &g), 0);
	for (int i = 0; i < 2000 && !atomic_load(&sc.entered); i++)
		nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&sc.entered), 1);
	assert_int_equal(rmb_twins_get(c, 2, 0, &tw), ZE_UNKNOWN);
	assert_int_equal(rmb_twins_get(c, 3, 0, &tw), 0);
	assert_int_equal(atomic_load(&sc.calls), 2);
	atomic_store(&sc.release, 1);
	pthread_join(th, NULL);
	assert_int_equal(g.rc, 0);
	assert_int_equal(rmb_twins_get(c, 2, 0, &tw), 0);
	rmb_twins_free(c);
}

/* A known twin whose entry expired never waits on a stalled chain: its
 * last key serves while one background lookup hangs. */
static void twins_expired_served_while_chain_stalls(void **st)
{
	struct slow_chain sc = {0, 0, 0};
	struct rmb_twins *c;
	struct rmb_twin tw;
	struct timespec ts = {0, 5 * 1000000L};
	assert_int_equal(rmb_twins_new(8, 1000, 100, 2, slow_lookup, &sc, &c), 0);
	atomic_store(&sc.release, 1);
	assert_int_equal(rmb_twins_get(c, 3, 0, &tw), 0);
	atomic_store(&sc.release, 0);
	atomic_store(&sc.entered, 0);
	/* Expired: answered at once, 100 times, while the refresh hangs. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(rmb_twins_get(c, 3, 5000, &tw), 0);
	for (int i = 0; i < 2000 && !atomic_load(&sc.entered); i++)
		nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&sc.entered), 1);
	assert_int_equal(rmb_twins_get(c, 3, 5001, &tw), 0);
	assert_int_equal(atomic_load(&sc.calls), 2); /* one refresh, not 101 */
	atomic_store(&sc.release, 1);
	rmb_twins_free(c); /* waits for the refresh */
}

/* Misses for one twin being looked up do not ask the chain again. */
static void twins_lookups_coalesced(void **st)
{
	struct slow_chain sc = {0, 0, 0};
	struct rmb_twins *c;
	struct rmb_twin tw;
	struct timespec ts = {0, 5 * 1000000L};
	pthread_t th;
	assert_int_equal(rmb_twins_new(8, 100000, 100, 4, slow_lookup, &sc, &c), 0);
	struct getter g = {c, -1};
	assert_int_equal(pthread_create(&th, NULL, get_twin_1, &g), 0);
	for (int i = 0; i < 2000 && !atomic_load(&sc.entered); i++)
		nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&sc.entered), 1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(rmb_twins_get(c, 1, 0, &tw), ZE_UNKNOWN);
	assert_int_equal(atomic_load(&sc.calls), 1);
	atomic_store(&sc.release, 1);
	pthread_join(th, NULL);
	assert_int_equal(g.rc, 0);
	assert_int_equal(rmb_twins_get(c, 1, 0, &tw), 0);
	assert_int_equal(atomic_load(&sc.calls), 1);
	rmb_twins_free(c);
}

/* Absent twins have their own table: a flood of them keeps found twins. */
static void twins_absent_do_not_evict(void **st)
{
	struct table t = {0, 0, 100, 1};
	struct rmb_twins *c;
	struct rmb_twin tw;
	assert_int_equal(rmb_twins_new(64, 1000000, 100000, 4, table_lookup, &t, &c), 0);
	assert_int_equal(rmb_twins_limit(c, 16, 0, 0), 0);
	for (uint32_t id = 1; id <= 4; id++)
		assert_int_equal(rmb_twins_get(c, id, 0, &tw), 0);
	t.calls = 0;
	for (uint32_t id = 1; id <= 4; id++)
		assert_int_equal(rmb_twins_get(c, id, 1, &tw), 0);
	assert_int_equal(t.calls, 0);
	for (uint32_t id = 1000; id < 11000; id++)
		assert_int_equal(rmb_twins_get(c, id, 1, &tw), ZE_ABSENT);
	assert_int_equal(t.calls, 10000);
	for (uint32_t id = 1; id <= 4; id++)
		assert_int_equal(rmb_twins_get(c, id, 2, &tw), 0);
	assert_int_equal(t.calls, 10000);
	rmb_twins_free(c);
}

static void rate_limit(void **st)
{
	struct rmb_ratelimit *rl;
	assert_int_equal(rmb_ratelimit_new(16, 10, 3, &rl), 0);
	assert_int_equal(rmb_ratelimit_take(rl, 1, 0), 0);
	assert_int_equal(rmb_ratelimit_take(rl, 1, 0), 0);
	assert_int_equal(rmb_ratelimit_take(rl, 1, 0), 0);
	assert_int_equal(rmb_ratelimit_take(rl, 1, 0), -EAGAIN);
	/* Other twins have their own bucket. */
	assert_int_equal(rmb_ratelimit_take(rl, 2, 0), 0);
	/* 10/s: one token per 100 ms. */
	assert_int_equal(rmb_ratelimit_take(rl, 1, 99), -EAGAIN);
	assert_int_equal(rmb_ratelimit_take(rl, 1, 100), 0);
	assert_int_equal(rmb_ratelimit_take(rl, 1, 100), -EAGAIN);
	/* The bucket never holds more than burst. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(rmb_ratelimit_take(rl, 1, 100000), 0);
	assert_int_equal(rmb_ratelimit_take(rl, 1, 100000), -EAGAIN);
	assert_int_equal(rmb_ratelimit_new(16, 0, 3, &rl), -EINVAL);
	rmb_ratelimit_free(rl);
}

static void conns_displace_oldest(void **st)
{
	struct rmb_conns *c;
	uint32_t victim;
	assert_int_equal(rmb_conns_new(3, &c), 0);
	for (uint32_t id = 1; id <= 3; id++) {
		rmb_conns_add(c, id, &victim);
		assert_int_equal(victim, 0);
	}
	rmb_conns_add(c, 4, &victim);
	assert_int_equal(victim, 1);
	rmb_conns_remove(c, 2);
	rmb_conns_remove(c, 1); /* already displaced: no-op */
	assert_int_equal(rmb_conns_count(c), 2);
	rmb_conns_add(c, 5, &victim);
	assert_int_equal(victim, 0);
	rmb_conns_add(c, 6, &victim);
	assert_int_equal(victim, 3);
	rmb_conns_add(c, 7, &victim);
	assert_int_equal(victim, 4);
	assert_int_equal(rmb_conns_count(c), 3);
	rmb_conns_free(c);
}

/* A connection is handed out to be ended once: ending takes a while (nng
 * removes it later), and the sweeper must not end or count it again. */
static void conns_handed_out_once(void **st)
{
	struct rmb_conns *c;
	uint32_t victim, ids[8];
	assert_int_equal(rmb_conns_new(4, &c), 0);
	for (uint32_t id = 1; id <= 3; id++)
		rmb_conns_add(c, id, &victim);
	rmb_conns_begin(c, 2); /* a request in progress: not stale */
	uint64_t later = (uint64_t)clk_mono_ms() + 60000;
	assert_int_equal(rmb_conns_stale(c, later, 1000, ids, 8), 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 3);
	assert_int_equal(rmb_conns_stale(c, later, 1000, ids, 8), 0);
	/* Still in the table until removed. */
	assert_int_equal(rmb_conns_count(c), 3);
	/* Stopping: the rest, whatever they are doing, once. */
	assert_int_equal(rmb_conns_take_all(c, ids, 8), 1);
	assert_int_equal(ids[0], 2);
	assert_int_equal(rmb_conns_take_all(c, ids, 8), 0);
	/* A new connection in a displaced one's place is not handed out yet. */
	rmb_conns_remove(c, 1);
	rmb_conns_add(c, 9, &victim);
	assert_int_equal(rmb_conns_take_all(c, ids, 8), 1);
	assert_int_equal(ids[0], 9);
	rmb_conns_free(c);
}

static void relay_first_address(void **st)
{
	char out[32];
	assert_int_equal(rmb_relay_first("  tcp://1.2.3.4:80, ipc:///x", out, sizeof(out)), 0);
	assert_string_equal(out, "tcp://1.2.3.4:80");
	assert_int_equal(rmb_relay_first("ipc:///a b", out, sizeof(out)), 0);
	assert_string_equal(out, "ipc:///a");
	assert_int_equal(rmb_relay_first(" ,, ", out, sizeof(out)), -ENOENT);
	assert_int_equal(rmb_relay_first("tcp://a-very-long-host-name.example:1", out, 8), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replay_detects_and_expires),
		cmocka_unit_test(replay_is_bounded),
		cmocka_unit_test(replay_forget),
		cmocka_unit_test(replay_many),
		cmocka_unit_test(replay_survives_restart),
		cmocka_unit_test(twins_cache_ttl),
		cmocka_unit_test(twins_absent_vs_unknown),
		cmocka_unit_test(twins_bounded),
		cmocka_unit_test(twins_lookups_bounded),
		cmocka_unit_test(twins_lookups_coalesced),
		cmocka_unit_test(twins_expired_served_while_chain_stalls),
		cmocka_unit_test(twins_absent_do_not_evict),
		cmocka_unit_test(rate_limit),
		cmocka_unit_test(conns_displace_oldest),
		cmocka_unit_test(conns_handed_out_once),
		cmocka_unit_test(relay_first_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
