/*
 * The capacity reporter: both report encodings checked byte by byte through
 * the metadata's generic decoder (tfchain's calls against the real fixture,
 * add_reports against a minimal runtime shaped like the devchain's), the
 * minimum number of calls for a size limit, a gap reported as one capped
 * window, a failed cycle retried without a duplicate, and a restart that
 * resends the pending batch but never queues a second copy.
 *
 * The engine's dispatcher is played by drain(): it takes the due outbox
 * items, keeps their payloads for inspection and records an outcome.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/reporter.h"
#include "agent/reporter_int.h"
#include "agent/store_int.h"
#include "agent/reporter_usage.h"
#include "agent/store.h"
#include "chainclient/client.h"
#include "chainclient/meta.h"
#include "chainclient/scale.h"
#include "common/zerr.h"

#define FIXTURE "tests/fixtures/tfchain-metadata-v14-2023-04.scale"

/* --- a minimal runtime with add_reports (the devchain's shape) --- */

static void put_str(struct zbuf *b, const char *s)
{
	assert_int_equal(scale_put_vec_u8(b, (const uint8_t *)s, strlen(s)), 0);
}

/* A named field of type ty, no type name, no docs. */
static void put_field(struct zbuf *b, const char *name, uint32_t ty)
{
	scale_put_u8(b, 1);
	put_str(b, name);
	scale_put_compact(b, ty);
	scale_put_u8(b, 0);
	scale_put_compact(b, 0);
}

/* Type header: id, path, no params. */
static void put_type(struct zbuf *b, uint32_t id, const char *const *path, size_t npath)
{
	scale_put_compact(b, id);
	scale_put_compact(b, npath);
	for (size_t i = 0; i < npath; i++)
		put_str(b, path[i]);
	scale_put_compact(b, 0);
}

/* Types: 0 u64, 1 Consumption, 2 Vec<Consumption>, 3 Call{add_reports = 3};
 * one pallet SmartContractModule (index 12) with those calls; no System,
 * so no BlockLength: the default extrinsic bound applies. */
static struct meta *mini_meta(void)
{
	static const char *const fields[] = {"contract_id", "timestamp", "cru", "sru",
					     "hru",         "mru",       "nru"};
	static const char *const cpath[] = {"pallet_smart_contract", "types", "Consumption"};
	static const char *const callpath[] = {"pallet_smart_contract", "pallet", "Call"};
	struct zbuf b;
	struct meta *m = NULL;

	zbuf_init(&b, 0);
	zbuf_put(&b, "meta", 4);
	scale_put_u8(&b, 14);
	scale_put_compact(&b, 4);
	put_type(&b, 0, NULL, 0);
	scale_put_u8(&b, 5); /* primitive */
	scale_put_u8(&b, META_U64);
	scale_put_compact(&b, 0);
	put_type(&b, 1, cpath, 3);
	scale_put_u8(&b, 0); /* composite */
	scale_put_compact(&b, 7);
	for (int i = 0; i < 7; i++)
		put_field(&b, fields[i], 0);
	scale_put_compact(&b, 0);
	put_type(&b, 2, NULL, 0);
	scale_put_u8(&b, 2); /* sequence */
	scale_put_compact(&b, 1);
	scale_put_compact(&b, 0);
	put_type(&b, 3, callpath, 3);
	scale_put_u8(&b, 1); /* variant */
	scale_put_compact(&b, 1);
	put_str(&b, "add_reports");
	scale_put_compact(&b, 1);
	put_field(&b, "reports", 2);
	scale_put_u8(&b, 3);
	scale_put_compact(&b, 0);
	scale_put_compact(&b, 0);
	/* pallets */
	scale_put_compact(&b, 1);
	put_str(&b, "SmartContractModule");
	scale_put_u8(&b, 0);    /* no storage */
	scale_put_u8(&b, 1);    /* calls */
	scale_put_compact(&b, 3);
	scale_put_u8(&b, 0);    /* no events */
	scale_put_compact(&b, 0); /* no constants */
	scale_put_u8(&b, 0);    /* no errors */
	scale_put_u8(&b, 12);
	/* extrinsic: type, version 4, no signed extensions; runtime type */
	scale_put_compact(&b, 0);
	scale_put_u8(&b, 4);
	scale_put_compact(&b, 0);
	scale_put_compact(&b, 0);
	assert_int_equal(meta_decode(b.data, b.len, &m), 0);
	zbuf_free(&b);
	return m;
}

static struct meta *fixture_meta(void)
{
	struct meta *m = NULL;
	assert_int_equal(meta_load_file(FIXTURE, &m), 0);
	return m;
}

static uint64_t jnum(const cJSON *o, const char *k)
{
	uint64_t v = 0;
	assert_int_equal(meta_json_u64(cJSON_GetObjectItemCaseSensitive(o, k), &v), 0);
	return v;
}

/* Decodes a call's bytes with the metadata's generic decoder. */
static cJSON *decode_call(const struct meta *m, const struct zbuf *bytes)
{
	struct scale_rd r;
	cJSON *out = NULL;
	scale_rd_init(&r, bytes->data, bytes->len);
	assert_int_equal(meta_decode_call(m, &r, &out), 0);
	assert_int_equal(scale_rd_left(&r), 0);
	return out;
}

static const struct grid_report recs[3] = {
	{.contract_id = 7, .timestamp = 1700000000, .window = 3600, .cru = 2, .sru = 100ull << 30,
	 .hru = 0, .mru = 4ull << 30, .nru = 12345},
	{.contract_id = 9, .timestamp = 1700000000, .window = 1800, .cru = 1, .sru = 1,
	 .hru = 5, .mru = 1ull << 30, .nru = 0},
	{.contract_id = 1ull << 40, .timestamp = 1700000000, .window = 60, .cru = 64,
	 .sru = 3, .hru = 4, .mru = 5, .nru = UINT64_MAX},
};

static void encodes_add_reports(void **st)
{
	struct meta *m = mini_meta();
	struct rep_limits lim;
	struct rep_call c[2];
	size_t n;

	assert_int_equal(rep_limits(m, NULL, &lim), 0);
	assert_int_equal(lim.variant, REP_ADD_REPORTS);
	assert_int_equal(lim.record_bytes, 56);
	assert_int_equal(lim.max_xt_bytes, REP_DEFAULT_MAX_XT_BYTES);
	assert_int_equal(lim.max_records, REP_ADD_REPORTS_MAX);
	assert_int_equal(rep_encode_reports(m, &lim, recs, 3, c, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].name, "add_reports");
	/* pallet 12, call 3, compact(3), then 7 little-endian u64 per record */
	assert_int_equal(c[0].bytes.len, 2 + 1 + 3 * 56);
	assert_int_equal(c[0].bytes.data[0], 12);
	assert_int_equal(c[0].bytes.data[1], 3);
	assert_int_equal(c[0].bytes.data[2], 3 << 2);
	cJSON *d = decode_call(m, &c[0].bytes);
	assert_string_equal(cJSON_GetObjectItem(d, "call")->valuestring, "add_reports");
	const cJSON *a = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "args"), "reports");
	assert_int_equal(cJSON_GetArraySize(a), 3);
	for (int i = 0; i < 3; i++) {
		const cJSON *o = cJSON_GetArrayItem(a, i);
		assert_true(jnum(o, "contract_id") == recs[i].contract_id);
		assert_true(jnum(o, "timestamp") == recs[i].timestamp);
		assert_true(jnum(o, "cru") == recs[i].cru);
		assert_true(jnum(o, "sru") == recs[i].sru);
		assert_true(jnum(o, "hru") == recs[i].hru);
		assert_true(jnum(o, "mru") == recs[i].mru);
		assert_true(jnum(o, "nru") == recs[i].nru);
	}
	cJSON_Delete(d);
	/* The payload is what the engine's chain adapter sends. */
	cJSON *p = cJSON_Parse(c[0].payload);
	assert_string_equal(cJSON_GetObjectItem(p, "pallet")->valuestring, "SmartContractModule");
	assert_string_equal(cJSON_GetObjectItem(p, "call")->valuestring, "add_reports");
	assert_int_equal(
		cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "args"), "reports")), 3);
	cJSON_Delete(p);
	rep_call_clear(&c[0]);
	meta_free(m);
}

static void encodes_tfchain_calls(void **st)
{
	struct meta *m = fixture_meta();
	struct rep_limits lim;
	struct rep_call c[2];
	size_t n;

	assert_int_equal(rep_limits(m, NULL, &lim), 0);
	assert_int_equal(lim.variant, REP_RESOURCES_NRU);
	assert_int_equal(lim.record_bytes, 40); /* ContractResources; NruConsumption is 32 */
	assert_int_equal(lim.max_xt_bytes, 3932160); /* System.BlockLength.max.normal */
	assert_int_equal(lim.max_records, (3932160 - REP_XT_OVERHEAD - 7) / 40);
	assert_int_equal(rep_encode_reports(m, &lim, recs, 3, c, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].name, "report_contract_resources");
	assert_string_equal(c[1].name, "add_nru_reports");
	assert_int_equal(c[0].bytes.data[0], 12);
	assert_int_equal(c[0].bytes.data[1], 6);
	assert_int_equal(c[0].bytes.len, 3 + 3 * 40);
	assert_int_equal(c[1].bytes.data[1], 5);
	assert_int_equal(c[1].bytes.len, 3 + 3 * 32);

	cJSON *d = decode_call(m, &c[0].bytes);
	const cJSON *a =
		cJSON_GetObjectItem(cJSON_GetObjectItem(d, "args"), "contract_resources");
	assert_int_equal(cJSON_GetArraySize(a), 3);
	for (int i = 0; i < 3; i++) {
		const cJSON *o = cJSON_GetArrayItem(a, i), *u = cJSON_GetObjectItem(o, "used");
		assert_true(jnum(o, "contract_id") == recs[i].contract_id);
		assert_true(jnum(u, "cru") == recs[i].cru && jnum(u, "mru") == recs[i].mru);
		assert_true(jnum(u, "sru") == recs[i].sru && jnum(u, "hru") == recs[i].hru);
	}
	cJSON_Delete(d);
	d = decode_call(m, &c[1].bytes);
	a = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "args"), "reports");
	for (int i = 0; i < 3; i++) {
		const cJSON *o = cJSON_GetArrayItem(a, i);
		assert_true(jnum(o, "contract_id") == recs[i].contract_id);
		assert_true(jnum(o, "timestamp") == recs[i].timestamp);
		assert_true(jnum(o, "window") == recs[i].window);
		assert_true(jnum(o, "nru") == recs[i].nru);
	}
	cJSON_Delete(d);
	rep_call_clear(&c[0]);
	rep_call_clear(&c[1]);
	meta_free(m);
}

/* Exactly k records fit the configured size: k encode, k + 1 do not. */
static void size_limit_is_exact(void **st)
{
	struct meta *m = fixture_meta();
	struct rep_config cfg = {.max_xt_bytes = REP_XT_OVERHEAD + 2 + 5 + 2 * 40};
	struct rep_limits lim;
	struct rep_call c[2];
	size_t n;

	assert_int_equal(rep_limits(m, &cfg, &lim), 0);
	assert_int_equal(lim.max_records, 2);
	assert_int_equal(rep_encode_reports(m, &lim, recs, 2, c, &n), 0);
	assert_true(c[0].bytes.len + REP_XT_OVERHEAD <= cfg.max_xt_bytes);
	rep_call_clear(&c[0]);
	rep_call_clear(&c[1]);
	assert_int_equal(rep_encode_reports(m, &lim, recs, 3, c, &n), ZE_TOOBIG);
	lim.max_records = 3; /* a wrong bound is caught by the encoded size */
	assert_int_equal(rep_encode_reports(m, &lim, recs, 3, c, &n), ZE_TOOBIG);
	meta_free(m);
}

/* --- the cycle against a real store --- */

#define NC 10

struct fx {
	char dir[64];
	struct store *s;
	struct meta *m;
	struct rep *r;
	struct rep_config cfg;
	uint64_t bytes[NC + 1]; /* cumulative counter per contract id 1..NC */
	int usage_fail;
	int64_t t0;             /* unix seconds, a little after the deployments */
	cJSON *seen;            /* payloads drained, in order */
};

static int fake_usage(void *ctx, uint64_t cid, uint64_t *bytes)
{
	struct fx *f = ctx;
	if (cid == 0 || cid > NC)
		return ZE_ABSENT;
	if (f->usage_fail)
		return ZE_UNKNOWN;
	*bytes = f->bytes[cid];
	return 0;
}

static void add_dep(struct store *s, uint64_t cid)
{
	struct store_dep d = {.contract_id = cid, .twin_id = 1, .doc = "{}"};
	memset(d.hash, (int)cid, 32);
	struct store_wl w[3] = {
		{.name = "disk", .type = "zmount", .spec = "{}", .cap = {.sru = 10 * cid}},
		{.name = "vm", .type = "container", .spec = "{}", .cap = {.cru = 2, .mru = 1000}},
		{.name = "bad", .type = "container", .spec = "{}", .cap = {.cru = 50}},
	};
	assert_int_equal(store_dep_insert(s, &d, w, 3), 0);
	assert_int_equal(store_wl_set(s, cid, "disk", STORE_WL_OK, "{}", "ok"), 0);
	assert_int_equal(store_wl_set(s, cid, "vm", STORE_WL_PAUSED, "{}", "paused"), 0);
	assert_int_equal(store_wl_set(s, cid, "bad", STORE_WL_ERROR, "{}", "failed"), 0);
	assert_int_equal(store_dep_set_state(s, cid, STORE_DEP_DEPLOYED, NULL), 0);
}

static void open_rep(struct fx *f)
{
	struct rep_deps deps = {.store = f->s, .meta = f->m, .usage = fake_usage, .usage_ctx = f};
	assert_int_equal(rep_new(&f->cfg, &deps, &f->r), 0);
}

static int setup_with(void **st, struct meta *m, size_t ndeps)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_reporter.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	f->m = m;
	/* No jitter: the tests step the clock to exact due times. */
	f->cfg = (struct rep_config){.interval_s = 3600, .max_window_s = 7200,
				     .jitter_s = REP_JITTER_NONE};
	for (size_t i = 1; i <= ndeps; i++)
		add_dep(f->s, i);
	/* A contract still deploying is not reported. */
	struct store_dep d = {.contract_id = 99, .twin_id = 1, .doc = "{}"};
	assert_int_equal(store_dep_insert(f->s, &d, NULL, 0), 0);
	f->t0 = (int64_t)time(NULL) + 10;
	f->seen = cJSON_CreateArray();
	open_rep(f);
	*st = f;
	return 0;
}

static int setup_tf(void **st)
{
	return setup_with(st, fixture_meta(), NC);
}

static int setup_dev(void **st)
{
	return setup_with(st, mini_meta(), NC);
}

static int teardown(void **st)
{
	struct fx *f = *st;
	char p[128];
	rep_free(f->r);
	store_close(f->s);
	const char *suffix[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/agent.db%s", f->dir, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	meta_free(f->m);
	cJSON_Delete(f->seen);
	free(f);
	return 0;
}

/* Plays the dispatcher: every due item is "sent" and item i ends with
 * outcomes[i] (the last one for the rest; NULL: left pending, as when the
 * chain does not answer). Returns how many. */
static size_t drain_each(struct fx *f, const char *const *outcomes, size_t nout)
{
	struct store_outbox *it;
	size_t n;
	assert_int_equal(store_outbox_due(f->s, INT64_MAX, 1000, &it, &n), 0);
	for (size_t i = 0; i < n; i++) {
		const char *outcome = outcomes[i < nout ? i : nout - 1];
		assert_string_equal(it[i].kind, REP_OUTBOX_KIND);
		cJSON *p = cJSON_Parse(it[i].payload);
		assert_non_null(p);
		cJSON_AddStringToObject(p, "key", it[i].key);
		cJSON_AddItemToArray(f->seen, p);
		assert_int_equal(store_outbox_sending(f->s, it[i].id), 0);
		if (outcome)
			assert_int_equal(store_outbox_done(f->s, it[i].id, outcome), 0);
		else
			assert_int_equal(store_outbox_retry(f->s, it[i].id, 0, "lost"), 0);
	}
	store_outbox_free(it, n);
	return n;
}

static size_t drain(struct fx *f, const char *outcome)
{
	return drain_each(f, &outcome, 1);
}

/* The record of contract cid in the last drained payload of call `call`. */
static const cJSON *last_record(struct fx *f, const char *call, uint64_t cid)
{
	for (int i = cJSON_GetArraySize(f->seen) - 1; i >= 0; i--) {
		const cJSON *p = cJSON_GetArrayItem(f->seen, i);
		if (strcmp(cJSON_GetObjectItem(p, "call")->valuestring, call))
			continue;
		const cJSON *args = cJSON_GetObjectItem(p, "args"), *arr = args->child;
		const cJSON *o;
		cJSON_ArrayForEach(o, arr)
		if (jnum(o, "contract_id") == cid)
			return o;
	}
	fail_msg("no %s record of %llu", call, (unsigned long long)cid);
	return NULL;
}

static void cycle(struct fx *f, int64_t ts, struct rep_stats *stats)
{
	assert_int_equal(rep_cycle(f->r, ts * 1000), 0);
	rep_stats(f->r, stats);
}

/* Ten contracts, three records per call: the minimum is four calls. */
static void batches_into_minimum_calls(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	rep_free(f->r);
	f->cfg.max_xt_bytes = REP_XT_OVERHEAD + 2 + 5 + 3 * 56;
	open_rep(f);
	cycle(f, f->t0, &s);
	assert_true(s.queued);
	assert_int_equal(s.records, NC);
	assert_int_equal(s.calls, 4);
	assert_int_equal(drain(f, "ok"), 4);
	size_t total = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, f->seen)
	{
		int k = cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "args"),
							       "reports"));
		assert_true(k >= 1 && k <= 3);
		total += (size_t)k;
		/* The payload encodes, as the submitter encodes it, within the limit. */
		cJSON *ordered = NULL;
		const char *which = NULL;
		struct zbuf b;
		zbuf_init(&b, 0);
		assert_int_equal(chain_call_args(f->m, "SmartContractModule", "add_reports",
						 cJSON_GetObjectItem(p, "args"), &ordered, &which),
				 0);
		assert_int_equal(meta_encode_call(f->m, "SmartContractModule", "add_reports",
						  ordered, &b),
				 0);
		assert_int_equal(b.len, 2 + 1 + 56 * (size_t)k);
		assert_true(b.len + REP_XT_OVERHEAD <= f->cfg.max_xt_bytes);
		cJSON_Delete(ordered);
		zbuf_free(&b);
	}
	assert_int_equal(total, NC);
	/* Reserved capacity: ok and paused workloads only, not the one in error. */
	const cJSON *o = last_record(f, "add_reports", 4);
	assert_true(jnum(o, "sru") == 40 && jnum(o, "cru") == 2 && jnum(o, "mru") == 1000);
	assert_true(jnum(o, "timestamp") == (uint64_t)f->t0);
	cycle(f, f->t0 + 1, &s); /* settles the cycle; not due yet */
	assert_int_equal(s.resolved_ok, NC);
	assert_false(s.queued);
}

/* Agent down for five hours: one record per contract, window capped. */
static void gap_is_one_capped_window(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	f->bytes[3] = 1000;
	cycle(f, f->t0, &s);
	assert_int_equal(s.calls, 2);
	drain(f, "ok");
	const cJSON *o = last_record(f, "add_nru_reports", 3);
	assert_true(jnum(o, "nru") == 1000);
	f->bytes[3] = 1500;
	int64_t t1 = f->t0 + 5 * 3600;
	cycle(f, t1, &s); /* settles, then due: queues at once */
	assert_int_equal(s.resolved_ok, NC);
	assert_true(s.queued);
	assert_int_equal(s.records, NC);
	drain(f, "ok");
	o = last_record(f, "add_nru_reports", 3);
	assert_true(jnum(o, "timestamp") == (uint64_t)t1);
	assert_true(jnum(o, "window") == 7200); /* 5 h, capped at max_window_s */
	assert_true(jnum(o, "nru") == 500);
	/* A counter that restarted (workloads recreated) counts from zero. */
	f->bytes[3] = 20;
	cycle(f, t1 + 3600 + 1, &s);
	assert_true(s.queued);
	drain(f, "ok");
	o = last_record(f, "add_nru_reports", 3);
	assert_true(jnum(o, "nru") == 20);
	assert_true(jnum(o, "window") == 3601);
}

/* A failed cycle: nothing moves, the next one reports both windows in one
 * record under a new key; no cycle starts while one is in flight. */
static void failed_cycle_is_retried_once(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	uint64_t pending;
	f->bytes[5] = 100;
	cycle(f, f->t0, &s);
	drain(f, "ok");
	cycle(f, f->t0 + 1, &s);
	assert_int_equal(s.resolved_ok, NC);

	f->bytes[5] = 300;
	int64_t t1 = f->t0 + 3600;
	cycle(f, t1, &s);
	assert_true(s.queued);
	assert_int_equal(drain(f, NULL), 1); /* sent, no answer yet */
	f->bytes[5] = 350;
	cycle(f, t1 + 3600, &s);             /* due, but the last cycle is in flight */
	assert_true(s.waiting);
	assert_false(s.queued);
	assert_int_equal(store_outbox_pending(f->s, &pending), 0);
	assert_int_equal(pending, 1);
	/* The resend is included and fails on chain. */
	assert_int_equal(drain(f, "failed: SmartContractModule.NumOverflow"), 1);
	int64_t t2 = t1 + 3600 + 5;
	cycle(f, t2, &s);
	assert_int_equal(s.resolved_failed, NC);
	assert_int_equal(s.resolved_ok, 0);
	assert_true(s.queued);
	drain(f, "ok");
	const cJSON *o = last_record(f, "add_reports", 5);
	assert_true(jnum(o, "timestamp") == (uint64_t)t2);
	assert_true(jnum(o, "nru") == 250); /* 350 - 100: both windows, once */
	/* The resend carried the same key; the retry of its window a new one. */
	assert_int_equal(cJSON_GetArraySize(f->seen), 4);
	const char *keys[4];
	for (int i = 0; i < 4; i++)
		keys[i] = cJSON_GetObjectItem(cJSON_GetArrayItem(f->seen, i), "key")->valuestring;
	assert_string_equal(keys[1], keys[2]);
	assert_true(cJSON_Compare(cJSON_GetObjectItem(cJSON_GetArrayItem(f->seen, 1), "args"),
				  cJSON_GetObjectItem(cJSON_GetArrayItem(f->seen, 2), "args"), 1));
	assert_string_not_equal(keys[0], keys[1]);
	assert_string_not_equal(keys[2], keys[3]);
	cycle(f, t2 + 1, &s);
	assert_int_equal(s.resolved_ok, NC);
}

/* Three parts of four records (tfchain's two calls each). The middle part
 * fails, then everything fails: each contract's next window starts at its
 * own last accepted record, and its bytes are counted from there, once. */
static void partial_and_repeated_failures(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	const char *fail = "failed: SmartContractModule.NodeNotAuthorizedToComputeReport";
	rep_free(f->r);
	f->cfg.max_xt_bytes = REP_XT_OVERHEAD + 2 + 5 + 4 * 40;
	f->cfg.max_window_s = 86400;
	open_rep(f);
	int64_t t[5];
	for (int i = 0; i < 5; i++)
		t[i] = f->t0 + 3600 * i;
	for (int c = 1; c <= NC; c++)
		f->bytes[c] = 1;
	cycle(f, t[0], &s);
	assert_int_equal(s.calls, 6);
	assert_int_equal(drain(f, "ok"), 6);
	for (int c = 1; c <= NC; c++)
		f->bytes[c] = 100;
	cycle(f, t[1], &s);
	assert_int_equal(s.resolved_ok, NC);
	/* Items in order: part 0 res, nru; part 1 res, nru; part 2 res, nru. */
	const char *o1[] = {"ok", "ok", "ok", fail, "ok", "ok"};
	assert_int_equal(drain_each(f, o1, 6), 6);
	for (int c = 1; c <= NC; c++)
		f->bytes[c] = 1000;
	cycle(f, t[2], &s);
	assert_int_equal(s.resolved_ok, NC - 4);
	assert_int_equal(s.resolved_failed, 4);
	drain(f, fail);
	for (int c = 1; c <= NC; c++)
		f->bytes[c] = 5000;
	cycle(f, t[3], &s);
	assert_int_equal(s.resolved_failed, NC);
	drain(f, "ok");
	const cJSON *o = last_record(f, "add_nru_reports", 1); /* accepted at t1 */
	assert_true(jnum(o, "window") == (uint64_t)(t[3] - t[1]));
	assert_true(jnum(o, "nru") == 4900);
	o = last_record(f, "add_nru_reports", 4); /* the last of part 0: accepted at t1 */
	assert_true(jnum(o, "window") == (uint64_t)(t[3] - t[1]));
	o = last_record(f, "add_nru_reports", 8); /* the last of part 1: accepted at t0 */
	assert_true(jnum(o, "window") == (uint64_t)(t[3] - t[0]));
	o = last_record(f, "add_nru_reports", 5); /* accepted at t0 */
	assert_true(jnum(o, "window") == (uint64_t)(t[3] - t[0]));
	assert_true(jnum(o, "nru") == 4999);
	o = last_record(f, "add_nru_reports", 9);
	assert_true(jnum(o, "window") == (uint64_t)(t[3] - t[1]));
	for (int c = 1; c <= NC; c++)
		f->bytes[c] = 5007;
	cycle(f, t[4], &s);
	assert_int_equal(s.resolved_ok, NC);
	drain(f, "ok");
	for (int c = 1; c <= NC; c++) {
		o = last_record(f, "add_nru_reports", (uint64_t)c);
		assert_true(jnum(o, "window") == 3600);
		assert_true(jnum(o, "nru") == 7);
	}
}

/* Unmeasurable usage claims nothing and loses nothing. */
static void usage_failure_defers_bytes(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	f->bytes[2] = 70;
	f->usage_fail = 1;
	cycle(f, f->t0, &s);
	assert_int_equal(s.unmeasured, NC);
	drain(f, "ok");
	assert_true(jnum(last_record(f, "add_reports", 2), "nru") == 0);
	f->usage_fail = 0;
	cycle(f, f->t0 + 3600, &s);
	drain(f, "ok");
	assert_true(jnum(last_record(f, "add_reports", 2), "nru") == 70);
}

/* Crash after queueing: the reopened store resends the same item and the
 * reporter queues nothing new until it has an outcome. */
static void restart_resends_never_duplicates(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	uint64_t pending;
	f->bytes[1] = 10;
	cycle(f, f->t0, &s);
	assert_true(s.queued);
	rep_free(f->r);
	f->r = NULL;
	store_close(f->s);

	assert_int_equal(store_open(f->dir, STORE_OPEN_FAST, &f->s), 0);
	open_rep(f);
	int64_t t1 = f->t0 + 2 * 3600;
	cycle(f, t1, &s);
	assert_true(s.waiting);
	assert_false(s.queued);
	assert_int_equal(store_outbox_pending(f->s, &pending), 0);
	assert_int_equal(pending, 1);
	assert_int_equal(drain(f, "ok"), 1); /* the resend: the original item */
	char key[64];
	snprintf(key, sizeof key, "report:%lld:0", (long long)f->t0);
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetArrayItem(f->seen, 0), "key")->valuestring, key);
	cycle(f, t1, &s); /* settles, then queues the next cycle */
	assert_int_equal(s.resolved_ok, NC);
	assert_true(s.queued);
	drain(f, "ok");
	const cJSON *o = last_record(f, "add_reports", 1);
	assert_true(jnum(o, "timestamp") == (uint64_t)t1);
	assert_true(jnum(o, "nru") == 0); /* 10 bytes were in the first record */
	/* After a second restart the schedule comes from the store. */
	rep_free(f->r);
	open_rep(f);
	cycle(f, t1 + 60, &s);
	assert_int_equal(s.resolved_ok, NC);
	assert_false(s.queued);
	assert_true(rep_next_ms(f->r) >= (t1 + 3600) * 1000);
}

/* The slots of contract cid as the next cycle reads them. */
static struct rep_row row_of(struct fx *f, uint64_t cid)
{
	struct rep_row *rows = NULL, out;
	size_t n = 0;
	assert_int_equal(rep_db_rows(f->s, &rows, &n), 0);
	memset(&out, 0, sizeof out);
	for (size_t i = 0; i < n; i++)
		if (rows[i].cid == cid)
			out = rows[i];
	free(rows);
	assert_true(out.cid == cid);
	return out;
}

/* A contract that is gone is no longer reported, and its progress is
 * dropped: brought back, it has none. */
static void removed_contract_is_dropped(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	cycle(f, f->t0, &s);
	drain(f, "ok");
	cycle(f, f->t0 + 1, &s);
	struct rep_row r3 = row_of(f, 3);
	assert_true(r3.a.used && r3.a.t == f->t0 && !r3.b.used);
	assert_int_equal(store_dep_set_state(f->s, 3, STORE_DEP_DELETED, "cancelled"), 0);
	int64_t t1 = f->t0 + 86400;
	cycle(f, t1, &s);
	assert_int_equal(s.records, NC - 1);
	drain(f, "ok");
	cycle(f, t1 + 1, &s);
	assert_int_equal(s.resolved_ok, NC - 1);
	assert_int_equal(store_dep_set_state(f->s, 3, STORE_DEP_DEPLOYED, NULL), 0);
	r3 = row_of(f, 3);
	assert_false(r3.a.used || r3.b.used);
	/* The live one keeps both records: its progress and the newest. */
	struct rep_row r4 = row_of(f, 4);
	assert_true(r4.a.used && r4.a.t == f->t0);
	assert_true(r4.b.used && r4.b.t == t1);
}

/* Damaged cycle bookkeeping does not stop reporting: the cycle counts as
 * failed and the next one covers its span. */
static void damaged_bookkeeping_recovers(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	cycle(f, f->t0, &s);
	drain(f, "ok");
	int64_t t1 = f->t0 + 3600, t2 = t1 + 3600;
	cycle(f, t1, &s);
	assert_true(s.queued);
	assert_int_equal(store_cursor_set(f->s, "rep:variant", 7), 0);
	drain(f, "ok");
	cycle(f, t2, &s);
	assert_true(s.queued);
	drain(f, "ok");
	const cJSON *o = last_record(f, "add_nru_reports", 1);
	assert_true(jnum(o, "timestamp") == (uint64_t)t2);
	assert_true(jnum(o, "window") == (uint64_t)(t2 - f->t0));
}

/* rep_usage_prov: rx + tx of the ok and paused workloads whose type
 * measures traffic; one that cannot be measured fails the contract. */
static int usage_calls, usage_fail;

static int fake_wl_usage(struct prov_ctx *ctx, const struct prov_workload_id *id,
			 struct prov_usage *u, char *err, size_t errsz)
{
	usage_calls++;
	if (usage_fail) {
		snprintf(err, errsz, "cgroup gone");
		return -ENOENT;
	}
	u->net_rx_bytes = 1000 * id->contract_id;
	u->net_tx_bytes = 7;
	return 0;
}

static const struct prov_ops fake_vm = {.type = "container", .usage = fake_wl_usage};

static const struct prov_ops *fake_lookup(const char *type)
{
	return strcmp(type, "container") ? NULL : &fake_vm;
}

static void usage_from_provisioners(void **st)
{
	struct fx *f = *st;
	struct rep_usage_prov up = {.store = f->s, .lookup = fake_lookup};
	uint64_t bytes = 0;
	assert_int_equal(rep_usage_prov(&up, 3, &bytes), 0);
	assert_true(bytes == 3007);    /* the paused vm; "bad" is in error */
	assert_int_equal(usage_calls, 1);
	usage_fail = 1;
	assert_int_equal(rep_usage_prov(&up, 3, &bytes), -ENOENT);
	usage_fail = 0;
	assert_int_equal(rep_usage_prov(&up, 12345, &bytes), ZE_ABSENT);
}

/* The reporter keeps its arrays between cycles: a cycle with many more
 * contracts than the last grows them, one with fewer reuses them, and
 * every record is the contract's own either way. */
static void workspace_follows_the_contracts(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	const uint64_t many = 250; /* add_dep's hashes are one byte repeated */
	cycle(f, f->t0, &s);
	assert_int_equal(s.records, NC);
	drain(f, "ok");
	for (uint64_t cid = NC + 1; cid <= many; cid++)
		if (cid != 99) /* the fixture's contract still deploying */
			add_dep(f->s, cid);
	cycle(f, f->t0 + 3600, &s);
	assert_int_equal(s.records, many - 1);
	drain(f, "ok");
	for (uint64_t cid = 1; cid <= many; cid += 29)
		assert_true(jnum(last_record(f, "add_reports", cid), "sru") == 10 * cid);
	for (uint64_t cid = 2; cid <= many; cid += 2)
		assert_int_equal(store_dep_set_state(f->s, cid, STORE_DEP_DELETED, "cancelled"), 0);
	cycle(f, f->t0 + 7200, &s);
	assert_int_equal(s.records, many / 2 - 1);
	drain(f, "ok");
	const cJSON *o = last_record(f, "add_reports", 249);
	assert_true(jnum(o, "sru") == 2490 && jnum(o, "cru") == 2 && jnum(o, "mru") == 1000);
	assert_true(jnum(o, "timestamp") == (uint64_t)(f->t0 + 7200));
}

/* The same answers from the cycle's snapshot (rep_usage_prov_begin), for
 * every contract, and the same for one gone meanwhile or never there. */
static void usage_snapshot_matches_store(void **st)
{
	struct fx *f = *st;
	struct rep_usage_prov alone = {.store = f->s, .lookup = fake_lookup};
	struct rep_usage_prov snap = {.store = f->s, .lookup = fake_lookup};
	uint64_t a = 0, b = 0;
	assert_int_equal(rep_usage_prov_begin(&snap), 0);
	for (uint64_t cid = 1; cid <= NC + 1; cid++) {
		int ra = rep_usage_prov(&alone, cid, &a), rb = rep_usage_prov(&snap, cid, &b);
		assert_int_equal(ra, rb);
		if (ra == 0)
			assert_true(a == b);
	}
	usage_calls = 0;
	assert_int_equal(rep_usage_prov(&snap, 3, &b), 0);
	assert_true(b == 3007); /* the paused vm; "bad" is in error */
	assert_int_equal(usage_calls, 1);
	usage_fail = 1;
	assert_int_equal(rep_usage_prov(&snap, 3, &b), -ENOENT);
	usage_fail = 0;
	assert_int_equal(rep_usage_prov(&snap, 12345, &b), ZE_ABSENT);
	/* Out of order too: the reporter asks in ascending order, but
	 * nothing depends on it. */
	assert_int_equal(rep_usage_prov(&snap, 3, &b), 0);
	assert_true(b == 3007);
	rep_usage_prov_end(&snap);
	assert_null(snap.deps);
	/* After end, one contract at a time again. */
	assert_int_equal(rep_usage_prov(&snap, 3, &b), 0);
	assert_true(b == 3007);
}

/* A store without live workloads (only a contract still deploying) still
 * gives a snapshot, and it answers as the one-at-a-time path does. */
static void usage_snapshot_of_no_workloads(void **st)
{
	struct fx *f = *st;
	struct rep_usage_prov alone = {.store = f->s, .lookup = fake_lookup};
	struct rep_usage_prov snap = {.store = f->s, .lookup = fake_lookup};
	uint64_t a = 0, b = 0;
	assert_int_equal(rep_usage_prov_begin(&snap), 0);
	for (uint64_t cid = 1; cid <= 100; cid++)
		assert_int_equal(rep_usage_prov(&snap, cid, &b), rep_usage_prov(&alone, cid, &a));
	assert_int_equal(rep_usage_prov(&snap, 1, &b), ZE_ABSENT);
	rep_usage_prov_end(&snap);
}

static int setup_empty(void **st)
{
	return setup_with(st, mini_meta(), 0);
}

/* The next cycle is due one interval after the last plus a jitter below
 * jitter_s (by default at most 300 s, a tenth of the interval). */
static void schedule_has_jitter(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	unsigned jit[2] = {0, 600}, lim[2] = {300, 600};
	for (int k = 0; k < 2; k++) {
		rep_free(f->r);
		f->cfg.jitter_s = jit[k];
		open_rep(f);
		int64_t t = f->t0 + 7200 * k;
		cycle(f, t, &s);
		assert_true(s.queued);
		int64_t next = rep_next_ms(f->r);
		assert_true(next >= (t + 3600) * 1000 && next < (t + 3600 + lim[k]) * 1000);
		cycle(f, t + 3599, &s); /* settles; not due */
		assert_false(s.queued);
		drain(f, "ok");
	}
}

/* The cycle writes its payloads as text; they are the bytes cJSON prints
 * from grid_report_calls' arguments, for both runtimes and any values. */
static void payload_text_matches_cjson(void **st)
{
	struct meta *ms[2] = {mini_meta(), fixture_meta()};
	struct grid_report r[6];
	memcpy(r, recs, 3 * sizeof recs[0]);
	r[3] = (struct grid_report){0};
	r[4] = (struct grid_report){UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
				    UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
	r[5] = (struct grid_report){100, 999, 1000, 12345, 99, 10, 9, 10000000000000000000ull};
	for (int k = 0; k < 2; k++) {
		struct rep_limits lim;
		struct rep_call slow[2], fast[2];
		size_t ns, nf;
		assert_int_equal(rep_limits(ms[k], NULL, &lim), 0);
		assert_int_equal(rep_encode_reports(ms[k], &lim, r, 6, slow, &ns), 0);
		assert_int_equal(rep_encode_calls(ms[k], &lim, r, 6, 0, fast, &nf), 0);
		assert_int_equal(ns, nf);
		for (size_t i = 0; i < ns; i++) {
			assert_string_equal(fast[i].name, slow[i].name);
			assert_string_equal(fast[i].payload, slow[i].payload);
			rep_call_clear(&slow[i]);
			rep_call_clear(&fast[i]);
		}
		meta_free(ms[k]);
	}
}

/* A store written by an older agent holds the slots as four cursors per
 * contract: the first cycle continues from them, then drops them. */
static void legacy_cursors_are_read_once(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	int64_t v, t_old = f->t0 - 1800;
	char name[32];
	for (uint64_t cid = 1; cid <= NC; cid++) {
		snprintf(name, sizeof name, "rep.ta.%llu", (unsigned long long)cid);
		assert_int_equal(store_cursor_set(f->s, name, t_old), 0);
		snprintf(name, sizeof name, "rep.na.%llu", (unsigned long long)cid);
		assert_int_equal(store_cursor_set(f->s, name, 100), 0);
		f->bytes[cid] = 150;
	}
	cycle(f, f->t0, &s);
	assert_true(s.queued);
	drain(f, "ok");
	const cJSON *o = last_record(f, "add_reports", 2);
	assert_true(jnum(o, "nru") == 50); /* 150 now, 100 at the old record */
	assert_int_equal(store_cursor_get(f->s, "rep.ta.2", &v), ZE_ABSENT);
	assert_int_equal(store_cursor_get(f->s, "rep.na.2", &v), ZE_ABSENT);
	cycle(f, f->t0 + 1, &s);
	struct rep_row r2 = row_of(f, 2);
	assert_true(r2.a.used && r2.a.t == t_old && r2.a.n == 100);
	assert_true(r2.b.used && r2.b.t == f->t0 && r2.b.n == 150);
}

/* Failure markers go once no slot holds their cycle any more. */
static void stale_failure_markers_are_pruned(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	int64_t v;
	char name[64];
	cycle(f, f->t0, &s);
	drain(f, "failed: test");
	cycle(f, f->t0 + 1, &s);
	snprintf(name, sizeof name, "rep:fail.%lld.-1", (long long)f->t0);
	assert_int_equal(store_cursor_get(f->s, name, &v), 0);
	/* Two successful cycles later neither slot holds t0. */
	for (int k = 1; k <= 2; k++) {
		cycle(f, f->t0 + k * 86400, &s);
		assert_true(s.queued);
		drain(f, "ok");
		cycle(f, f->t0 + k * 86400 + 1, &s);
	}
	assert_int_equal(store_cursor_get(f->s, name, &v), ZE_ABSENT);
}

/* A contract whose capacity does not read (a negative value in the store)
 * is not reported, but keeps its progress: once readable again, its record
 * claims only the bytes since its last accepted one. */
static void bad_capacity_keeps_progress(void **st)
{
	struct fx *f = *st;
	struct rep_stats s;
	f->bytes[5] = 100;
	cycle(f, f->t0, &s);
	drain(f, "ok");
	assert_int_equal(sqlite3_exec(f->s->db,
				      "UPDATE workloads SET sru=-1 WHERE contract_id=5 AND name='disk'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	f->bytes[5] = 150;
	cycle(f, f->t0 + 3600, &s);
	assert_int_equal(s.records, NC - 1);
	drain(f, "ok");
	assert_true(row_of(f, 5).a.used);
	assert_int_equal(sqlite3_exec(f->s->db,
				      "UPDATE workloads SET sru=50 WHERE contract_id=5 AND name='disk'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	f->bytes[5] = 170;
	cycle(f, f->t0 + 7200, &s);
	assert_int_equal(s.records, NC);
	drain(f, "ok");
	const cJSON *o = last_record(f, "add_reports", 5);
	assert_true(jnum(o, "nru") == 70);
	assert_true(jnum(o, "sru") == 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encodes_add_reports),
		cmocka_unit_test(encodes_tfchain_calls),
		cmocka_unit_test(size_limit_is_exact),
		cmocka_unit_test_setup_teardown(batches_into_minimum_calls, setup_dev, teardown),
		cmocka_unit_test_setup_teardown(gap_is_one_capped_window, setup_tf, teardown),
		cmocka_unit_test_setup_teardown(failed_cycle_is_retried_once, setup_dev, teardown),
		cmocka_unit_test_setup_teardown(partial_and_repeated_failures, setup_tf, teardown),
		cmocka_unit_test_setup_teardown(usage_failure_defers_bytes, setup_dev, teardown),
		cmocka_unit_test_setup_teardown(restart_resends_never_duplicates, setup_dev,
						teardown),
		cmocka_unit_test_setup_teardown(removed_contract_is_dropped, setup_dev, teardown),
		cmocka_unit_test_setup_teardown(schedule_has_jitter, setup_dev, teardown),
		cmocka_unit_test_setup_teardown(damaged_bookkeeping_recovers, setup_tf, teardown),
		cmocka_unit_test_setup_teardown(usage_from_provisioners, setup_dev, teardown),
		cmocka_unit_test_setup_teardown(usage_snapshot_matches_store, setup_dev, teardown),
		cmocka_unit_test_setup_teardown(usage_snapshot_of_no_workloads, setup_empty,
						teardown),
		cmocka_unit_test_setup_teardown(workspace_follows_the_contracts, setup_dev,
						teardown),
		cmocka_unit_test(payload_text_matches_cjson),
		cmocka_unit_test_setup_teardown(legacy_cursors_are_read_once, setup_dev, teardown),
		cmocka_unit_test_setup_teardown(stale_failure_markers_are_pruned, setup_dev,
						teardown),
		cmocka_unit_test_setup_teardown(bad_capacity_keeps_progress, setup_dev, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
