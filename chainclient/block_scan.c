/*
 * A block's reads (chain_block_reads) answered straight from the batch's
 * text: the follower reads every block's events and often its body, tens of
 * KB of hex, and parsing that into cJSON strings only to decode them again
 * cost more than the rest of the block's handling (docs/performance.md).
 * Only the plain success is read here: every answer present once, no error,
 * each value of the expected shape. Anything else (an error, a null body,
 * an escaped string, another shape) is left to the cJSON path, which gives
 * the answer it always gave.
 */
#include "chainclient/client_int.h"
#include "chainclient/rpc_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hex.h"
#include "common/jscan.h"
#include "common/zerr.h"

/* The text inside the string value at [vs, ve) (a string's span ends with
 * its closing quote). Hex has no escapes: one in there is not a digit, and
 * the decoding refuses it. */
static int inner(const char *p, size_t vs, size_t ve, const char **in, size_t *len)
{
	if (ve - vs < 2 || p[vs] != '"')
		return ZE_UNKNOWN;
	*in = p + vs + 1;
	*len = ve - vs - 2;
	return 0;
}

/* The "0x.." hex string at [vs, ve), decoded. */
static int hex_value(const char *p, size_t vs, size_t ve, size_t max, uint8_t **out, size_t *len)
{
	const char *in;
	size_t n;
	if (inner(p, vs, ve, &in, &n) < 0)
		return ZE_UNKNOWN;
	int rc = hex_decode_span(in, n, max, out, len);
	return rc == -ENOMEM ? rc : rc < 0 ? ZE_UNKNOWN : 0;
}

/* The member key of the object at [vs, ve), a span within it. */
static int member(const char *p, size_t ve, size_t vs, const char *key, size_t *ms, size_t *me)
{
	return jscan_member(p, ve, vs, key, ms, me) == 0 ? 0 : ZE_UNKNOWN;
}

/* chain_getBlock's answer: the number and the extrinsics. */
static int body_value(const char *p, size_t vs, size_t ve, uint64_t *num, uint8_t ***xts,
                      size_t **lens, size_t *nxt)
{
	size_t bs, be, hs, he, ns, ne, es, ee, len;
	const char *in;
	if (member(p, ve, vs, "block", &bs, &be) || member(p, be, bs, "header", &hs, &he) ||
	    member(p, he, hs, "number", &ns, &ne) || inner(p, ns, ne, &in, &len) ||
	    rpc_hex_u64(in, len, num) < 0 || member(p, be, bs, "extrinsics", &es, &ee))
		return ZE_UNKNOWN;
	size_t pos = es, vcap = 0, lcap = 0, n = 0;
	uint8_t **v = NULL;
	size_t *l = NULL;
	int rc = ZE_UNKNOWN;
	if (jscan_peek(p, ee, &pos) != '[')
		return ZE_UNKNOWN;
	pos++;
	if (jscan_peek(p, ee, &pos) == ']') {
		*xts = NULL;
		*lens = NULL;
		*nxt = 0;
		return 0;
	}
	for (;;) {
		/* Each a hex string: its end is the next quote (an escape
		 * inside fails the decoding). */
		size_t s = pos;
		const char *q;
		if (jscan_peek(p, ee, &s) != '"' || !(q = memchr(p + s + 1, '"', ee - s - 1)))
			goto fail;
		size_t e = (size_t)(q - p) + 1;
		if ((rc = zbuf_grow_array((void **)&v, &vcap, n, sizeof *v, RPC_MAX_BLOCK_XTS)) <
		        0 ||
		    (rc = zbuf_grow_array((void **)&l, &lcap, n, sizeof *l, RPC_MAX_BLOCK_XTS)) <
		        0) {
			if (rc != -ENOMEM)
				rc = ZE_UNKNOWN; /* too many: the cJSON path refuses them */
			goto fail;
		}
		if ((rc = hex_value(p, s, e, RPC_MAX_XT_BYTES, &v[n], &l[n])) < 0)
			goto fail;
		n++;
		rc = ZE_UNKNOWN;
		pos = e;
		int c = jscan_peek(p, ee, &pos);
		if (c == ']')
			break;
		if (c != ',')
			goto fail;
		pos++;
	}
	*xts = v;
	*lens = l;
	*nxt = n;
	return 0;
fail:
	rpc_keys_free(v, l, n);
	return rc;
}

int chain_scan_block_reads(const struct zbuf *text, uint64_t base, size_t first, size_t last,
                           size_t max_events, uint8_t got_hash[32], uint8_t **events,
                           size_t *nevents, uint64_t *num, uint8_t ***xts, size_t **lens,
                           size_t *nxt)
{
	const char *p = (const char *)text->data;
	size_t n = text->len, pos = 0, spans[BR_N][2];
	int seen[BR_N] = {0}, rc = ZE_UNKNOWN;
	*events = NULL;
	*nevents = 0;
	*xts = NULL;
	*lens = NULL;
	*nxt = 0;
	/* Every entry: {"jsonrpc":"2.0","id":base+k,"result":...}, no error. */
	if (jscan_peek(p, n, &pos) != '[')
		return ZE_UNKNOWN;
	pos++;
	static const char *const keys[] = {"jsonrpc", "id", "result", "error"};
	enum { K_VER, K_ID, K_RESULT, K_ERROR, K_N };
	for (;;) {
		/* One pass over the entry: each value is skipped once. */
		size_t m[K_N][2], e;
		uint64_t id;
		if (jscan_object(p, n, pos, keys, K_N, m, &e) < 0 ||
		    m[K_VER][1] - m[K_VER][0] != 5 || memcmp(p + m[K_VER][0], "\"2.0\"", 5) != 0 ||
		    m[K_ERROR][1] || !m[K_RESULT][1] ||
		    jscan_u64(p, m[K_ID][0], m[K_ID][1], &id) < 0 || id < base ||
		    id - base > last - first || seen[first + (id - base)])
			return ZE_UNKNOWN;
		size_t k = first + (size_t)(id - base);
		seen[k] = 1;
		spans[k][0] = m[K_RESULT][0];
		spans[k][1] = m[K_RESULT][1];
		pos = e;
		int c = jscan_peek(p, n, &pos);
		if (c == ']')
			break;
		if (c != ',')
			return ZE_UNKNOWN;
		pos++;
	}
	if (jscan_peek(p, n, &pos) != ']' || (pos++, jscan_peek(p, n, &pos) != -1))
		return ZE_UNKNOWN;
	for (size_t k = first; k <= last; k++)
		if (!seen[k])
			return ZE_UNKNOWN;
	const char *in;
	size_t len;
	if (first == BR_HASH && (inner(p, spans[BR_HASH][0], spans[BR_HASH][1], &in, &len) ||
	                         hex_decode_fixed_span(in, len, got_hash, 32) < 0))
		return ZE_UNKNOWN;
	size_t vs = spans[BR_EVENTS][0], ve = spans[BR_EVENTS][1];
	/* A block without events stores nothing: null. */
	if (!(ve - vs == 4 && memcmp(p + vs, "null", 4) == 0) &&
	    (rc = hex_value(p, vs, ve, max_events, events, nevents)) < 0)
		return rc;
	if (last == BR_BODY &&
	    (rc = body_value(p, spans[BR_BODY][0], spans[BR_BODY][1], num, xts, lens, nxt)) < 0) {
		free(*events);
		*events = NULL;
		*nevents = 0;
		return rc;
	}
	return 0;
}
