/* Request verification: each rejection path with its code, in the order of docs/rmb.md. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <unistd.h>

#include "rmb/rmb_verify.h"
#include "tests/rmb/rmb_testlib.h"
#include "common/clock.h"

#define SELF 2
#define T0 1700000000ull

struct fx {
	struct rmb_verifier *v;
	uint64_t mono;
};

static int setup(void **st)
{
	struct rmb_verify_cfg cfg;
	struct fx *f = calloc(1, sizeof(*f));
	rmb_verify_cfg_init(&cfg);
	cfg.self_twin = SELF;
	cfg.max_msg = 4096;
	cfg.max_ttl_s = 120;
	cfg.skew_s = 10;
	cfg.rate = 1;
	cfg.burst = 5;
	if (rmb_verifier_new(&cfg, rt_lookup, NULL, &f->v))
		return -1;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;
	rmb_verifier_free(f->v);
	free(f);
	return 0;
}

/* Verifies a raw frame at wall time `wall`; returns the error code (0 = accepted). */
static uint32_t check_raw(struct fx *f, const void *buf, size_t len, uint64_t wall)
{
	struct rmb_env env;
	struct rmb_error err;
	cJSON *p = NULL;
	memset(&err, 0, sizeof(err));
	rmb_env_init(&env);
	int rc = rmb_verify_request(f->v, buf, len, wall, f->mono, &env, &p, &err);
	cJSON_Delete(p);
	rmb_env_clear(&env);
	if (rc)
		assert_true(err.code != 0 && err.message[0]);
	return rc ? err.code : 0;
}

static uint32_t check(struct fx *f, uint32_t src, uint32_t dst, const char *uid,
		      const char *json, uint64_t now, uint32_t exp, uint64_t wall)
{
	size_t len;
	char *txt = rt_request(src, dst, uid, "zos.system.version", json, now, exp, &len);
	uint32_t code = check_raw(f, txt, len, wall);
	free(txt);
	return code;
}

static void accepts_valid(void **st)
{
	struct fx *f = *st;
	struct rmb_env env;
	struct rmb_error err;
	cJSON *p = NULL;
	size_t len;
	char *txt = rt_request(7, SELF, "ok-1", "zos.x", "{\"k\":[1,2]}", T0, 60, &len);
	rmb_env_init(&env);
	assert_int_equal(rmb_verify_request(f->v, txt, len, T0, 0, &env, &p, &err), 0);
	assert_int_equal(env.src, 7);
	assert_non_null(p);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "k")), 2);
	cJSON_Delete(p);
	rmb_env_clear(&env);
	free(txt);
	assert_int_equal(check(f, 7, SELF, "ok-2", NULL, T0, 60, T0), 0);
}

static void malformed_100(void **st)
{
	struct fx *f = *st;
	assert_int_equal(check_raw(f, "garbage", 7, T0), RMB_E_MALFORMED);
	assert_int_equal(check_raw(f, "", 0, T0), RMB_E_MALFORMED);
	/* Oversized: refused before parsing. */
	char big[5000];
	memset(big, ' ', sizeof(big));
	assert_int_equal(check_raw(f, big, sizeof(big), T0), RMB_E_MALFORMED);
	/* Truncated valid envelope. */
	size_t len;
	char *txt = rt_request(7, SELF, "t-1", "zos.x", NULL, T0, 60, &len);
	assert_int_equal(check_raw(f, txt, len / 2, T0), RMB_E_MALFORMED);
	free(txt);
}

static void payload_101(void **st)
{
	struct fx *f = *st;
	assert_int_equal(check(f, 7, SELF, "p-1", "{not json", T0, 60, T0), RMB_E_PAYLOAD);
	/* Payload errors outrank time errors (the order of docs/rmb.md). */
	assert_int_equal(check(f, 7, SELF, "p-2", "{not json", T0 - 1000, 60, T0), RMB_E_PAYLOAD);
}

static void expired_102(void **st)
{
	struct fx *f = *st;
	/* now + exp + skew before wall: expired. */
	assert_int_equal(check(f, 7, SELF, "e-1", NULL, T0 - 71, 60, T0), RMB_E_EXPIRED);
	assert_int_equal(check(f, 7, SELF, "e-2", NULL, T0 - 70, 60, T0), 0);
	/* Future-dated beyond the skew. */
	assert_int_equal(check(f, 7, SELF, "e-3", NULL, T0 + 11, 60, T0), RMB_E_EXPIRED);
	assert_int_equal(check(f, 7, SELF, "e-4", NULL, T0 + 10, 60, T0), 0);
	/* A ttl beyond the maximum would outlive the replay window. */
	assert_int_equal(check(f, 7, SELF, "e-5", NULL, T0, 121, T0), RMB_E_EXPIRED);
	/* Time outranks twin and signature checks. */
	assert_int_equal(check(f, 999, SELF, "e-6", NULL, T0 - 1000, 60, T0), RMB_E_EXPIRED);
}

static void unknown_twin_103_vs_chain_down(void **st)
{
	struct fx *f = *st;
	/* rt_request signs with a key for any id; the chain says 999 is absent. */
	assert_int_equal(check(f, 999, SELF, "u-1", NULL, T0, 60, T0), RMB_E_UNKNOWN_TWIN);
	/* The chain could not answer: a retryable 500, never "unknown twin". */
	struct rmb_env env;
	struct rmb_error err;
	cJSON *p;
	size_t len;
	char *txt = rt_request(RT_DOWN_TWIN, SELF, "u-2", "zos.x", NULL, T0, 60, &len);
	rmb_env_init(&env);
	assert_int_equal(rmb_verify_request(f->v, txt, len, T0, 0, &env, &p, &err), -EPERM);
	assert_int_equal(err.code, RMB_E_INTERNAL);
	assert_int_equal(err.retry, 1);
	rmb_env_clear(&env);
	free(txt);
}

/* Re-signs nothing: flips one byte of the encoded frame at the given field. */
static char *tamper(const char *txt, const char *field, size_t *len)
{
	char *c = strdup(txt);
	char *p = strstr(c, field);
	assert_non_null(p);
	p += strlen(field);
	*p = *p == '1' ? '2' : '1';
	*len = strlen(c);
	return c;
}

static void bad_signature_104(void **st)
{
	struct fx *f = *st;
	size_t len, tl;
	char *txt = rt_request(7, SELF, "s-1", "zos.x", "{\"a\":1}", T0, 60, &len);
	/* Flipped payload bits that still leave valid JSON: {"a":1} -> {"a":3}. */
	char *t = strdup(txt);
	char *d = strstr(t, "\"dat\":\"eyJhIjoxfQ==\"");
	assert_non_null(d);
	d[7 + 7] = 'z';
	assert_int_equal(check_raw(f, t, strlen(t), T0), RMB_E_SIGNATURE);
	free(t);
	/* Wrong source twin: signed by 7, claims 8. */
	t = tamper(txt, "\"src\":", &tl);
	assert_int_equal(check_raw(f, t, tl, T0), RMB_E_SIGNATURE);
	free(t);
	/* Corrupt signature. */
	t = tamper(txt, "\"sig\":\"", &tl);
	assert_int_equal(check_raw(f, t, tl, T0), RMB_E_SIGNATURE);
	free(t);
	free(txt);
}

static void destination_105(void **st)
{
	struct fx *f = *st;
	assert_int_equal(check(f, 7, SELF + 1, "d-1", NULL, T0, 60, T0), RMB_E_DESTINATION);
}

static void replay_106(void **st)
{
	struct fx *f = *st;
	size_t len;
	char *txt = rt_request(9, SELF, "r-1", "zos.x", NULL, T0, 60, &len);
	assert_int_equal(check_raw(f, txt, len, T0), 0);
	assert_int_equal(check_raw(f, txt, len, T0 + 1), RMB_E_REPLAYED);
	/* Still a replay near the end of its validity... */
	f->mono = 79 * 1000;
	assert_int_equal(check_raw(f, txt, len, T0 + 70), RMB_E_REPLAYED);
	/* ...and expired afterwards, so forgetting it then is safe. */
	assert_int_equal(check_raw(f, txt, len, T0 + 71), RMB_E_EXPIRED);
	free(txt);
	/* Forgotten uids (retryable refusal) may be sent again. */
	struct rmb_env env;
	struct rmb_error err;
	cJSON *p;
	txt = rt_request(9, SELF, "r-2", "zos.x", NULL, T0, 60, &len);
	rmb_env_init(&env);
	assert_int_equal(rmb_verify_request(f->v, txt, len, T0, f->mono, &env, &p, &err), 0);
	rmb_verify_forget(f->v, &env);
	rmb_env_clear(&env);
	assert_int_equal(check_raw(f, txt, len, T0), 0);
	free(txt);
}

static void rate_limited_429(void **st)
{
	struct fx *f = *st;
	char uid[16];
	for (int i = 0; i < 5; i++) {
		snprintf(uid, sizeof(uid), "rl-%d", i);
		assert_int_equal(check(f, 11, SELF, uid, NULL, T0, 60, T0), 0);
	}
	size_t len;
	char *txt = rt_request(11, SELF, "rl-x", "zos.x", NULL, T0, 60, &len);
	assert_int_equal(check_raw(f, txt, len, T0), RMB_E_RATE_LIMITED);
	/* Another twin is not affected. */
	assert_int_equal(check(f, 12, SELF, "rl-y", NULL, T0, 60, T0), 0);
	/* The refused uid was not consumed: the same envelope passes later. */
	f->mono += 1000;
	assert_int_equal(check_raw(f, txt, len, T0), 0);
	free(txt);
}

static void request_kind_required(void **st)
{
	struct fx *f = *st;
	struct rmb_env e;
	struct zkey k;
	char *txt;
	size_t len;
	rmb_env_init(&e);
	e.ver = 1;
	e.kind = RMB_REPLY;
	rmb_env_set_uid(&e, "k-1");
	rmb_env_set_cmd(&e, "zos.x");
	e.src = 7;
	e.dst = SELF;
	e.now = T0;
	e.exp = 60;
	rt_key(7, &k);
	rmb_env_sign(&e, &k);
	assert_int_equal(rmb_env_encode(&e, 0, &txt, &len), 0);
	/* A reply fed back as a request is refused. */
	assert_int_equal(check_raw(f, txt, len, T0), RMB_E_MALFORMED);
	free(txt);
	rmb_env_clear(&e);
}

static atomic_int lookups;

static int counting_lookup(void *ctx, uint32_t id, struct rmb_twin *out)
{
	atomic_fetch_add(&lookups, 1);
	return rt_lookup(ctx, id, out);
}

/* A request naming a random twin, with a made-up signature. */
static uint32_t check_forged(struct fx *f, uint32_t src, unsigned i)
{
	char txt[512];
	int n = snprintf(txt, sizeof txt,
			 "{\"ver\":1,\"typ\":\"req\",\"uid\":\"f%u\",\"cmd\":\"zos.system.version\","
			 "\"src\":%u,\"dst\":%u,\"now\":%llu,\"exp\":60,\"dat\":\"\",\"sig\":\"%0128u\"}",
			 i, src, SELF, (unsigned long long)T0, i);
	return check_raw(f, txt, (size_t)n, T0);
}

/* Unsigned traffic naming random twins: chain lookups stay bounded in
 * rate, absent answers do not evict real twins, and real twins keep being
 * served, also once their entries expired while the flood ate the lookup
 * budget. */
static void random_src_flood(void **st)
{
	struct rmb_verify_cfg cfg;
	struct fx f = {NULL, 0};
	char uid[32];
	rmb_verify_cfg_init(&cfg);
	cfg.self_twin = SELF;
	cfg.twin_entries = 64;
	assert_int_equal(rmb_verifier_new(&cfg, counting_lookup, NULL, &f.v), 0);
	for (uint32_t t = 1; t <= 40; t++, f.mono += 100) {
		snprintf(uid, sizeof uid, "a%u", t);
		assert_int_equal(check(&f, t, SELF, uid, NULL, T0, 60, T0), 0);
	}
	int before = atomic_load(&lookups);
	/* 5000 forged requests within one second. */
	for (unsigned i = 0; i < 5000; i++) {
		if (i % 500 == 0)
			f.mono += 100;
		uint32_t code = check_forged(&f, 1000 + i * 7919u, i);
		assert_true(code == RMB_E_UNKNOWN_TWIN || code == RMB_E_INTERNAL);
	}
	int flood = atomic_load(&lookups) - before;
	assert_true(flood > 0);
	assert_true(flood <= 100);
	/* Real twins: still cached, no chain lookup, accepted. */
	before = atomic_load(&lookups);
	for (uint32_t t = 1; t <= 40; t++) {
		snprintf(uid, sizeof uid, "b%u", t);
		assert_int_equal(check(&f, t, SELF, uid, NULL, T0, 60, T0), 0);
	}
	assert_int_equal(atomic_load(&lookups), before);
	/* Entries expired (60 s) and the flood spends every lookup token:
	 * the last known key still serves. */
	f.mono += 61000;
	for (unsigned i = 0; i < 200; i++)
		check_forged(&f, 5000000 + i, 10000 + i);
	for (uint32_t t = 1; t <= 40; t++) {
		snprintf(uid, sizeof uid, "c%u", t);
		assert_int_equal(check(&f, t, SELF, uid, NULL, T0 + 61, 60, T0 + 61), 0);
	}
	rmb_verifier_free(f.v);
}

/* A request accepted before a restart is refused after it (106), within
 * its envelope's lifetime, when the verifier keeps its replay file. */
static void replay_after_restart_106(void **st)
{
	struct rmb_verify_cfg cfg;
	struct fx f = {NULL, 0};
	char dir[] = "/tmp/rmb-verify-XXXXXX", path[64];
	size_t len;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/replay", dir);
	rmb_verify_cfg_init(&cfg);
	cfg.self_twin = SELF;
	cfg.replay_path = path;
	uint64_t wall = clk_wall_s();
	char *txt = rt_request(7, SELF, "persisted-1", "zos.system.version", NULL, wall, 60, &len);
	assert_int_equal(rmb_verifier_new(&cfg, rt_lookup, NULL, &f.v), 0);
	f.mono = clk_mono_ms();
	assert_int_equal(check_raw(&f, txt, len, wall), 0);
	assert_int_equal(check_raw(&f, txt, len, wall), RMB_E_REPLAYED);
	rmb_verifier_free(f.v);
	assert_int_equal(rmb_verifier_new(&cfg, rt_lookup, NULL, &f.v), 0);
	f.mono = clk_mono_ms();
	assert_int_equal(check_raw(&f, txt, len, wall), RMB_E_REPLAYED);
	rmb_verifier_free(f.v);
	/* Without the file, the same restart would accept it again. */
	cfg.replay_path = NULL;
	assert_int_equal(rmb_verifier_new(&cfg, rt_lookup, NULL, &f.v), 0);
	assert_int_equal(check_raw(&f, txt, len, wall), 0);
	rmb_verifier_free(f.v);
	free(txt);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(accepts_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_100, setup, teardown),
		cmocka_unit_test_setup_teardown(payload_101, setup, teardown),
		cmocka_unit_test_setup_teardown(expired_102, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_twin_103_vs_chain_down, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_signature_104, setup, teardown),
		cmocka_unit_test_setup_teardown(destination_105, setup, teardown),
		cmocka_unit_test_setup_teardown(replay_106, setup, teardown),
		cmocka_unit_test_setup_teardown(rate_limited_429, setup, teardown),
		cmocka_unit_test_setup_teardown(request_kind_required, setup, teardown),
		cmocka_unit_test(random_src_flood),
		cmocka_unit_test(replay_after_restart_106),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
