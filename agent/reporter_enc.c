/* The reporter's encoding: which call the runtime offers, how many records
 * fit in one extrinsic, and the outbox payloads. No state, no I/O. */
#include "agent/reporter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/reporter_int.h"
#include "common/zerr.h"

#define SC_PALLET "SmartContractModule"
/* Call indices and the Vec's compact length, at most. */
#define CALL_HEAD 2
#define VEC_HEAD 5

void rep_call_clear(struct rep_call *c)
{
	free(c->payload);
	c->payload = NULL;
	zbuf_free(&c->bytes);
	c->name[0] = 0;
}

/* SCALE size of a type whose encoding has one size whatever the value;
 * 0 when it has none (compacts, vectors, enums). */
static size_t fixed_size(const struct meta *m, uint32_t id, int depth)
{
	static const size_t prim[] = {[META_BOOL] = 1, [META_U8] = 1,  [META_U16] = 2,
				      [META_U32] = 4,  [META_U64] = 8, [META_U128] = 16,
				      [META_I8] = 1,   [META_I16] = 2, [META_I32] = 4,
				      [META_I64] = 8,  [META_I128] = 16};
	const struct meta_type *t = meta_type(m, id);
	size_t sum = 0;

	if (!t || depth > 8)
		return 0;
	switch (t->kind) {
	case META_PRIMITIVE:
		return (size_t)t->prim < sizeof prim / sizeof prim[0] ? prim[t->prim] : 0;
	case META_COMPOSITE:
		for (size_t i = 0; i < t->nfields; i++) {
			size_t f = fixed_size(m, t->fields[i].type, depth + 1);
			if (!f)
				return 0;
			sum += f;
		}
		return sum;
	case META_ARRAY: {
		size_t e = fixed_size(m, t->elem, depth + 1);
		return e && t->len <= 4096 ? e * t->len : 0;
	}
	default:
		return 0;
	}
}

/* Record size of a call whose one argument is a Vec of fixed-size records. */
static int record_size(const struct meta *m, const struct meta_pallet *p, const char *call,
		       size_t *out)
{
	const struct meta_variant *v = meta_call(m, p, call);
	const struct meta_type *t;

	if (!v || v->nfields != 1)
		return ZE_UNSUPPORTED;
	t = meta_type(m, v->fields[0].type);
	if (!t || t->kind != META_SEQUENCE || !(*out = fixed_size(m, t->elem, 0)))
		return ZE_UNSUPPORTED;
	return 0;
}

/* System.BlockLength's bound for normal extrinsics, when the runtime says. */
static size_t block_length_normal(const struct meta *m)
{
	const struct meta_pallet *sys = meta_pallet(m, "System");
	const struct meta_constant *c = sys ? meta_constant(sys, "BlockLength") : NULL;
	cJSON *v = NULL;
	uint64_t normal = 0;

	if (!c || meta_to_json_buf(m, c->type, c->value, c->len, &v) != 0)
		return 0;
	const cJSON *mx = cJSON_GetObjectItemCaseSensitive(v, "max");
	if (meta_json_u64(cJSON_GetObjectItemCaseSensitive(mx, "normal"), &normal) != 0)
		normal = 0;
	cJSON_Delete(v);
	return normal > SIZE_MAX ? SIZE_MAX : (size_t)normal;
}

int rep_limits(const struct meta *m, const struct rep_config *cfg, struct rep_limits *out)
{
	const struct meta_pallet *p = meta_pallet(m, SC_PALLET);
	size_t a = 0, b = 0, cap;
	int rc;

	memset(out, 0, sizeof *out);
	if (!p)
		return ZE_UNSUPPORTED;
	if (meta_call(m, p, "add_reports")) {
		out->variant = REP_ADD_REPORTS;
		if ((rc = record_size(m, p, "add_reports", &a)) < 0)
			return rc;
		cap = REP_ADD_REPORTS_MAX;
	} else {
		out->variant = REP_RESOURCES_NRU;
		if ((rc = record_size(m, p, "report_contract_resources", &a)) < 0 ||
		    (rc = record_size(m, p, "add_nru_reports", &b)) < 0)
			return rc;
		cap = SIZE_MAX;
	}
	out->record_bytes = a > b ? a : b;
	out->max_xt_bytes = cfg && cfg->max_xt_bytes ? cfg->max_xt_bytes : block_length_normal(m);
	if (!out->max_xt_bytes)
		out->max_xt_bytes = REP_DEFAULT_MAX_XT_BYTES;
	if (cfg && cfg->max_records)
		cap = cfg->max_records;
	size_t head = REP_XT_OVERHEAD + CALL_HEAD + VEC_HEAD;
	if (out->max_xt_bytes <= head + out->record_bytes)
		return ZE_TOOBIG;
	size_t fit = (out->max_xt_bytes - head) / out->record_bytes;
	out->max_records = fit < cap ? fit : cap;
	return 0;
}

/* Bytes of a SCALE compact holding n. */
static size_t compact_len(size_t n)
{
	return n < 64 ? 1 : n < (1u << 14) ? 2 : n < (1u << 30) ? 4 : 9;
}

/* The call bytes of name(args): the submitter's own path from named
 * arguments. */
static int encode_bytes(const struct meta *m, const char *name, const cJSON *args,
			struct zbuf *out)
{
	cJSON *ordered = NULL;
	const char *which = NULL;
	int rc = chain_call_args(m, SC_PALLET, name, args, &ordered, &which);
	if (rc == 0)
		rc = meta_encode_call(m, SC_PALLET, name, ordered, out);
	cJSON_Delete(ordered);
	return rc;
}

/* One call: its payload and its bytes. Takes args. */
static int encode_one(const struct meta *m, const struct rep_limits *lim, const char *name,
                      cJSON *args, struct rep_call *c)
{
	cJSON *pl = NULL;
	int rc = 0;

	memset(c, 0, sizeof *c);
	zbuf_init(&c->bytes, lim->max_xt_bytes);
	if (strlen(name) >= sizeof c->name) {
		cJSON_Delete(args);
		return -EINVAL;
	}
	memcpy(c->name, name, strlen(name) + 1);
	rc = encode_bytes(m, name, args, &c->bytes);
	if (rc == 0 && c->bytes.len + REP_XT_OVERHEAD > lim->max_xt_bytes)
		rc = ZE_TOOBIG;
	if (rc == 0) {
		pl = cJSON_CreateObject();
		if (!pl || !cJSON_AddStringToObject(pl, "pallet", SC_PALLET) ||
		    !cJSON_AddStringToObject(pl, "call", name)) {
			rc = -ENOMEM;
		} else {
			cJSON_AddItemToObject(pl, "args", args);
			args = NULL;
			if (!(c->payload = cJSON_PrintUnformatted(pl)))
				rc = -ENOMEM;
		}
	}
	cJSON_Delete(args);
	cJSON_Delete(pl);
	if (rc < 0)
		rep_call_clear(c);
	/* A zbuf at its cap fails with ZE_TOOBIG already; both mean "too big". */
	return rc;
}

/* Checks that one record encodes with the runtime's own types, to the size
 * the limits assume, so a batch built without encoding is one the
 * submitter can encode. */
static int check_shape(const struct meta *m, const struct rep_limits *lim,
                       const struct grid_report *r, const char *const want[], size_t nwant)
{
	const char *names[2] = {NULL, NULL};
	cJSON *args[2] = {NULL, NULL};
	struct zbuf b;
	size_t k = 0;
	int rc = grid_report_calls(m, r, 1, names, args, &k);
	zbuf_init(&b, 0);
	if (rc == 0 && k != nwant)
		rc = ZE_UNSUPPORTED;
	for (size_t i = 0; i < k && rc == 0; i++) {
		if (strcmp(names[i], want[i]))
			rc = ZE_UNSUPPORTED;
		zbuf_reset(&b);
		rc = encode_bytes(m, names[i], args[i], &b);
		if (rc == 0 && b.len > CALL_HEAD + 1 + lim->record_bytes)
			rc = ZE_UNSUPPORTED;
	}
	for (size_t i = 0; i < k; i++)
		cJSON_Delete(args[i]);
	zbuf_free(&b);
	return rc;
}

/* Decimal digits of v, as a JSON string, appended to b (reserved); two
 * digits per division, from a table. */
static void put_u64_str(struct zbuf *b, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
	                            "25262728293031323334353637383940414243444546474849"
	                            "50515253545556575859606162636465666768697071727374"
	                            "75767778798081828384858687888990919293949596979899";
	char tmp[20];
	size_t k = sizeof tmp;
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		tmp[--k] = pairs[d + 1];
		tmp[--k] = pairs[d];
	}
	if (v >= 10) {
		tmp[--k] = pairs[v * 2 + 1];
		tmp[--k] = pairs[v * 2];
	} else {
		tmp[--k] = (char)('0' + v);
	}
	uint8_t *p = b->data + b->len;
	*p++ = '"';
	memcpy(p, tmp + k, sizeof tmp - k);
	p += sizeof tmp - k;
	*p++ = '"';
	b->len = (size_t)(p - b->data);
}

static void put_lit(struct zbuf *b, const char *s, size_t n)
{
	memcpy(b->data + b->len, s, n);
	b->len += n;
}
#define PUT_LIT(b, s) put_lit((b), (s), sizeof(s) - 1)

/* The longest record text: the names and punctuation of the largest
 * shape, seven numbers of 20 digits and their quotes. */
#define REC_TEXT_MAX 256
enum shape { SHAPE_CONSUMPTION, SHAPE_RESOURCES, SHAPE_NRU };

/* The calls of each variant and the record shape of each. */
static const char *const call_names[2][2] = {
    [REP_ADD_REPORTS] = {"add_reports", NULL},
    [REP_RESOURCES_NRU] = {"report_contract_resources", "add_nru_reports"},
};
static const enum shape call_shapes[2][2] = {
    [REP_ADD_REPORTS] = {SHAPE_CONSUMPTION, SHAPE_CONSUMPTION},
    [REP_RESOURCES_NRU] = {SHAPE_RESOURCES, SHAPE_NRU},
};

size_t rep_ncalls(const struct rep_limits *lim)
{
	return lim->variant == REP_ADD_REPORTS ? 1 : 2;
}

int rep_check_shape(const struct meta *m, const struct rep_limits *lim,
		    const struct grid_report *rec)
{
	return check_shape(m, lim, rec, call_names[lim->variant], rep_ncalls(lim));
}

int rep_fits(const struct rep_limits *lim, size_t n)
{
	if (n == 0)
		return -EINVAL;
	if (n > lim->max_records ||
	    CALL_HEAD + compact_len(n) + n * lim->record_bytes + REP_XT_OVERHEAD > lim->max_xt_bytes)
		return ZE_TOOBIG;
	return 0;
}

/*
 * The payload of one call, written as text: byte for byte what
 * cJSON_PrintUnformatted makes of grid_report_calls' arguments wrapped in
 * {"pallet","call","args"} (test_reporter checks that), without building a
 * cJSON tree of 10,000 objects first. The cycle's hot path: b is reset and
 * reused, so a steady cycle writes into memory it already has.
 */
int rep_payload(const struct rep_limits *lim, size_t c, const struct grid_report *r, size_t n,
		struct zbuf *b)
{
	static const char *const arg[] = {"reports", "contract_resources", "reports"};
	if (c >= rep_ncalls(lim))
		return -EINVAL;
	const char *call = call_names[lim->variant][c];
	enum shape sh = call_shapes[lim->variant][c];
	zbuf_reset(b);
	if (n > SIZE_MAX / REC_TEXT_MAX - 1 || zbuf_reserve(b, (n + 1) * REC_TEXT_MAX) < 0)
		return -ENOMEM;
	int len = snprintf((char *)b->data, REC_TEXT_MAX,
	                   "{\"pallet\":\"" SC_PALLET "\",\"call\":\"%s\",\"args\":{\"%s\":[",
	                   call, arg[sh]);
	if (len < 0 || len >= REC_TEXT_MAX)
		return -EINVAL;
	b->len = (size_t)len;
	for (size_t i = 0; i < n; i++) {
		if (i)
			PUT_LIT(b, ",");
		PUT_LIT(b, "{\"contract_id\":");
		put_u64_str(b, r[i].contract_id);
		switch (sh) {
		case SHAPE_CONSUMPTION:
			PUT_LIT(b, ",\"timestamp\":");
			put_u64_str(b, r[i].timestamp);
			PUT_LIT(b, ",\"cru\":");
			put_u64_str(b, r[i].cru);
			PUT_LIT(b, ",\"sru\":");
			put_u64_str(b, r[i].sru);
			PUT_LIT(b, ",\"hru\":");
			put_u64_str(b, r[i].hru);
			PUT_LIT(b, ",\"mru\":");
			put_u64_str(b, r[i].mru);
			PUT_LIT(b, ",\"nru\":");
			put_u64_str(b, r[i].nru);
			break;
		case SHAPE_RESOURCES:
			PUT_LIT(b, ",\"used\":{\"hru\":");
			put_u64_str(b, r[i].hru);
			PUT_LIT(b, ",\"sru\":");
			put_u64_str(b, r[i].sru);
			PUT_LIT(b, ",\"cru\":");
			put_u64_str(b, r[i].cru);
			PUT_LIT(b, ",\"mru\":");
			put_u64_str(b, r[i].mru);
			PUT_LIT(b, "}");
			break;
		case SHAPE_NRU:
			PUT_LIT(b, ",\"timestamp\":");
			put_u64_str(b, r[i].timestamp);
			PUT_LIT(b, ",\"window\":");
			put_u64_str(b, r[i].window);
			PUT_LIT(b, ",\"nru\":");
			put_u64_str(b, r[i].nru);
			break;
		}
		PUT_LIT(b, "}");
	}
	PUT_LIT(b, "]}}");
	b->data[b->len] = 0;
	return 0;
}

/* The cycle's form of rep_encode_calls for one batch alone: payload text
 * in fresh buffers the calls own, and computed sizes. */
static int encode_fast(const struct meta *m, const struct rep_limits *lim,
                       const struct grid_report *r, size_t n, struct rep_call calls[2],
                       size_t *ncalls)
{
	size_t k = rep_ncalls(lim);
	int rc = rep_check_shape(m, lim, r);
	if (rc < 0 || (rc = rep_fits(lim, n)) < 0)
		return rc;
	for (size_t i = 0; i < k; i++) {
		struct zbuf b;
		memset(&calls[i], 0, sizeof calls[i]);
		zbuf_init(&calls[i].bytes, lim->max_xt_bytes);
		memcpy(calls[i].name, call_names[lim->variant][i],
		       strlen(call_names[lim->variant][i]) + 1);
		zbuf_init(&b, 0);
		if ((rc = rep_payload(lim, i, r, n, &b)) < 0) {
			zbuf_free(&b);
			for (size_t j = 0; j <= i; j++)
				rep_call_clear(&calls[j]);
			return rc;
		}
		calls[i].payload = (char *)b.data; /* handed to the call */
	}
	*ncalls = k;
	return 0;
}

int rep_encode_calls(const struct meta *m, const struct rep_limits *lim,
		     const struct grid_report *r, size_t n, int full, struct rep_call calls[2],
		     size_t *ncalls)
{
	const char *names[2] = {NULL, NULL};
	cJSON *args[2] = {NULL, NULL};
	size_t k = 0;
	int rc;

	*ncalls = 0;
	if (n == 0)
		return -EINVAL;
	if (n > lim->max_records)
		return ZE_TOOBIG;
	if (!full)
		return encode_fast(m, lim, r, n, calls, ncalls);
	if ((rc = grid_report_calls(m, r, n, names, args, &k)) < 0)
		return rc;
	for (size_t i = 0; i < k; i++) {
		cJSON *a = args[i];
		args[i] = NULL;
		if ((rc = encode_one(m, lim, names[i], a, &calls[i])) < 0) {
			for (size_t j = 0; j < i; j++)
				rep_call_clear(&calls[j]);
			for (size_t j = i + 1; j < k; j++)
				cJSON_Delete(args[j]);
			return rc;
		}
	}
	*ncalls = k;
	return 0;
}

int rep_encode_reports(const struct meta *m, const struct rep_limits *lim,
		       const struct grid_report *r, size_t n, struct rep_call calls[2],
		       size_t *ncalls)
{
	return rep_encode_calls(m, lim, r, n, 1, calls, ncalls);
}
