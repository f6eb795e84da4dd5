/* RMB envelope codec and challenge; the byte layout is docs/rmb.md. */
#include "rmb/rmb_envelope.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hex.h"
#include "common/jnum.h"
#include "common/zerr.h"

/* JSON numbers are doubles: integers from 2^53 on would lose precision. */
#define JSON_INT_MAX (JNUM_MAX - 1)

void rmb_env_init(struct rmb_env *e)
{
	memset(e, 0, sizeof(*e));
}

void rmb_env_clear(struct rmb_env *e)
{
	free(e->dat);
	memset(e, 0, sizeof(*e));
}

static int uid_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static int cmd_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int copy_checked(char *dst, size_t max, const char *s, int (*ok)(unsigned char))
{
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

int rmb_env_set_uid(struct rmb_env *e, const char *uid)
{
	return copy_checked(e->uid, RMB_UID_MAX, uid, uid_char_ok);
}

int rmb_env_set_cmd(struct rmb_env *e, const char *cmd)
{
	return copy_checked(e->cmd, RMB_CMD_MAX, cmd, cmd_char_ok);
}

int rmb_env_set_dat(struct rmb_env *e, const void *p, size_t n)
{
	uint8_t *d = NULL;
	if (n) {
		d = malloc(n);
		if (!d)
			return -ENOMEM;
		memcpy(d, p, n);
	}
	free(e->dat);
	e->dat = d;
	e->dat_len = n;
	return 0;
}

void rmb_uid_new(char out[RMB_UID_MAX + 1])
{
	uint8_t r[16];
	randombytes_buf(r, sizeof(r));
	hex_encode(r, sizeof(r), 0, out, RMB_UID_MAX + 1);
}

/* Challenge encoding: see docs/rmb.md, "Signed challenge". */
static void h_u8(crypto_generichash_state *st, uint8_t v)
{
	crypto_generichash_update(st, &v, 1);
}

static void h_u32(crypto_generichash_state *st, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	crypto_generichash_update(st, b, 4);
}

static void h_u64(crypto_generichash_state *st, uint64_t v)
{
	h_u32(st, (uint32_t)(v >> 32));
	h_u32(st, (uint32_t)v);
}

static void h_bytes(crypto_generichash_state *st, const void *p, size_t n)
{
	/* Lengths above u32 cannot occur: envelopes are capped far below. */
	h_u32(st, (uint32_t)n);
	if (n)
		crypto_generichash_update(st, p, n);
}

void rmb_env_challenge(const struct rmb_env *e, uint8_t out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	h_bytes(&st, RMB_DOMAIN, strlen(RMB_DOMAIN));
	h_u32(&st, e->ver);
	h_u8(&st, (uint8_t)e->kind);
	h_bytes(&st, e->uid, strlen(e->uid));
	h_bytes(&st, e->cmd, strlen(e->cmd));
	h_u32(&st, e->src);
	h_u32(&st, e->dst);
	h_u64(&st, e->now);
	h_u32(&st, e->exp);
	h_bytes(&st, e->dat, e->dat_len);
	h_u8(&st, e->has_err ? 1 : 0);
	h_u32(&st, e->has_err ? e->err.code : 0);
	h_u8(&st, e->has_err && e->err.retry ? 1 : 0);
	if (e->has_err)
		h_bytes(&st, e->err.message, strlen(e->err.message));
	else
		h_bytes(&st, NULL, 0);
	/* The scheme is bound only when it is not ed25519, so that ed25519
	 * envelopes keep the challenge they always had. */
	if (e->scheme == KEY_SR25519)
		h_bytes(&st, "sr25519", 7);
	crypto_generichash_final(&st, out, 32);
}

int rmb_env_sign(struct rmb_env *e, const struct zkey *k)
{
	uint8_t h[32];
	e->scheme = k->scheme;
	rmb_env_challenge(e, h);
	return key_sign(k, h, sizeof(h), e->sig);
}

int rmb_env_verify_sig(const struct rmb_env *e, const uint8_t pk[32])
{
	uint8_t h[32];
	rmb_env_challenge(e, h);
	return key_verify_scheme(e->scheme, pk, h, sizeof(h), e->sig) ? ZE_CRYPTO : 0;
}

/* ---- encoding ----
 *
 * Written directly rather than through a cJSON tree: the layout is fixed,
 * and this is on the path of every request and reply. The output is plain
 * JSON (control bytes as \u00XX); fuzz/fuzz_envelope.c checks that every
 * decodable envelope encodes to text that decodes to the same challenge. */

static int put(struct zbuf *b, const char *s)
{
	return zbuf_put(b, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control bytes escaped, other
 * bytes (UTF-8 included) as they are. */
static int put_jstr(struct zbuf *b, const char *s)
{
	int rc = zbuf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			rc = zbuf_put(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			rc = zbuf_put(b, esc, 6);
		} else {
			rc = zbuf_putc(b, *p);
		}
	}
	return rc ? rc : zbuf_putc(b, '"');
}

/* ,"name":value */
static int put_num(struct zbuf *b, const char *name, uint64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), ",\"%s\":%llu", name, (unsigned long long)v);
	if (n < 0 || (size_t)n >= sizeof(num))
		return -EINVAL;
	return zbuf_put(b, num, (size_t)n);
}

static int put_dat(struct zbuf *b, const struct rmb_env *e)
{
	size_t n = sodium_base64_encoded_len(e->dat_len, sodium_base64_VARIANT_ORIGINAL);
	int rc = put(b, ",\"dat\":\"");
	if (!rc)
		rc = zbuf_reserve(b, n);
	if (rc)
		return rc;
	sodium_bin2base64((char *)b->data + b->len, n,
			  e->dat_len ? e->dat : (const uint8_t *)"", e->dat_len,
			  sodium_base64_VARIANT_ORIGINAL);
	b->len += n - 1; /* without the NUL */
	return zbuf_putc(b, '"');
}

static int put_err(struct zbuf *b, const struct rmb_env *e)
{
	int rc = put(b, ",\"err\":{\"code\":");
	char num[16];
	snprintf(num, sizeof(num), "%u", e->err.code);
	if (!rc)
		rc = put(b, num);
	if (!rc)
		rc = put(b, ",\"message\":");
	if (!rc)
		rc = put_jstr(b, e->err.message);
	if (!rc)
		rc = put(b, e->err.retry ? ",\"retry\":true}" : ",\"retry\":false}");
	return rc;
}

int rmb_env_encode(const struct rmb_env *e, size_t max, char **out, size_t *len)
{
	struct zbuf b;
	char sig[129];
	if (!max)
		max = RMB_MAX_MSG_DEFAULT;
	/* Refuse early what cannot fit: base64 grows dat by 4/3. */
	if (e->dat_len > max / 4 * 3)
		return ZE_TOOBIG;
	zbuf_init(&b, max);
	hex_encode(e->sig, sizeof(e->sig), 0, sig, sizeof(sig));
	int rc = put_num(&b, "ver", e->ver);
	if (!rc)
		b.data[0] = '{'; /* put_num wrote a leading comma */
	if (!rc)
		rc = put(&b, e->kind == RMB_REPLY ? ",\"typ\":\"rep\",\"uid\":"
						  : ",\"typ\":\"req\",\"uid\":");
	if (!rc)
		rc = put_jstr(&b, e->uid);
	if (!rc)
		rc = put(&b, ",\"cmd\":");
	if (!rc)
		rc = put_jstr(&b, e->cmd);
	if (!rc)
		rc = put_num(&b, "src", e->src);
	if (!rc)
		rc = put_num(&b, "dst", e->dst);
	if (!rc)
		rc = put_num(&b, "now", e->now);
	if (!rc)
		rc = put_num(&b, "exp", e->exp);
	if (!rc)
		rc = put_dat(&b, e);
	if (!rc && e->has_err)
		rc = put_err(&b, e);
	if (!rc && e->scheme == KEY_SR25519)
		rc = put(&b, ",\"sch\":\"sr25519\"");
	if (!rc)
		rc = put(&b, ",\"sig\":\"");
	if (!rc)
		rc = put(&b, sig);
	if (!rc)
		rc = put(&b, "\"}");
	if (!rc)
		rc = zbuf_cstr(&b);
	if (rc) {
		zbuf_free(&b);
		return rc;
	}
	*out = (char *)zbuf_steal(&b, len);
	return 0;
}

/* ---- decoding ---- */

static int get_uint(const cJSON *o, const char *name, uint64_t max, uint64_t *v)
{
	return jnum_u64(cJSON_GetObjectItemCaseSensitive(o, name), max, v);
}

static int get_u32(const cJSON *o, const char *name, uint32_t *v)
{
	uint64_t x;
	int rc = get_uint(o, name, UINT32_MAX, &x);
	if (!rc)
		*v = (uint32_t)x;
	return rc;
}

static const char *get_str(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* 0 when o's member names are unique and at most RMB_MEMBERS_MAX: with a
 * duplicate, which one counts would depend on the parser. */
static int members_unique(const cJSON *o)
{
	int n = 0;
	for (const cJSON *a = o->child; a; a = a->next, n++) {
		if (n >= RMB_MEMBERS_MAX || !a->string)
			return ZE_MALFORMED;
		for (const cJSON *b = o->child; b != a; b = b->next)
			if (!strcmp(a->string, b->string))
				return ZE_MALFORMED;
	}
	return 0;
}

static int decode_err(const cJSON *o, struct rmb_env *e)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "err");
	if (!err)
		return 0;
	if (!cJSON_IsObject(err) || e->kind != RMB_REPLY || members_unique(err))
		return ZE_MALFORMED;
	const char *msg = get_str(err, "message");
	const cJSON *retry = cJSON_GetObjectItemCaseSensitive(err, "retry");
	if (!msg || !cJSON_IsBool(retry) || get_u32(err, "code", &e->err.code))
		return ZE_MALFORMED;
	size_t n = strnlen(msg, RMB_ERRMSG_MAX + 1);
	if (n > RMB_ERRMSG_MAX)
		return ZE_MALFORMED;
	memcpy(e->err.message, msg, n);
	e->err.message[n] = 0;
	e->err.retry = cJSON_IsTrue(retry);
	e->has_err = 1;
	return 0;
}

static int decode_dat(const char *b64, struct rmb_env *e)
{
	size_t n = strlen(b64);
	size_t cap = n / 4 * 3 + 3;
	uint8_t *d = malloc(cap);
	if (!d)
		return -ENOMEM;
	size_t got = 0;
	if (sodium_base642bin(d, cap, b64, n, NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(d);
		return ZE_MALFORMED;
	}
	if (!got) {
		free(d);
		d = NULL;
	}
	e->dat = d;
	e->dat_len = got;
	return 0;
}

static int decode_obj(const cJSON *o, struct rmb_env *e, uint32_t *code)
{
	const char *typ = get_str(o, "typ"), *uid = get_str(o, "uid");
	const char *cmd = get_str(o, "cmd"), *dat = get_str(o, "dat");
	const char *sig = get_str(o, "sig");
	uint64_t now;

	if (!typ || !uid || !cmd || !dat || !sig || members_unique(o))
		return ZE_MALFORMED;
	if (get_u32(o, "ver", &e->ver) || e->ver != RMB_VERSION)
		return ZE_MALFORMED;
	if (!strcmp(typ, "req"))
		e->kind = RMB_REQUEST;
	else if (!strcmp(typ, "rep"))
		e->kind = RMB_REPLY;
	else
		return ZE_MALFORMED;
	if (rmb_env_set_uid(e, uid) || rmb_env_set_cmd(e, cmd))
		return ZE_MALFORMED;
	if (get_u32(o, "src", &e->src) || get_u32(o, "dst", &e->dst) ||
	    get_uint(o, "now", JSON_INT_MAX, &now) || get_u32(o, "exp", &e->exp))
		return ZE_MALFORMED;
	e->now = now;
	if (hex_decode_fixed(sig, e->sig, sizeof(e->sig)))
		return ZE_MALFORMED;
	/* "sch" names the signature scheme; absent means ed25519. */
	if (cJSON_GetObjectItemCaseSensitive(o, "sch")) {
		const char *sch = get_str(o, "sch");
		int scheme;
		if (!sch || key_scheme_parse(sch, &scheme))
			return ZE_MALFORMED;
		e->scheme = scheme;
	}
	int rc = decode_err(o, e);
	if (rc)
		return rc;
	/* Checked last so that every envelope error outranks a payload error. */
	rc = decode_dat(dat, e);
	if (rc == ZE_MALFORMED)
		*code = RMB_E_PAYLOAD;
	if (!rc && e->has_err && e->dat_len)
		return ZE_MALFORMED; /* an error reply carries no payload */
	return rc;
}

int rmb_json_parse(const void *buf, size_t len, cJSON **out)
{
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!o)
		return ZE_MALFORMED;
	/* Trailing bytes other than whitespace mean the frame is not one document. */
	for (const char *p = end, *lim = (const char *)buf + len; p && p < lim; p++)
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t' && *p != 0) {
			cJSON_Delete(o);
			return ZE_MALFORMED;
		}
	*out = o;
	return 0;
}

int rmb_env_decode(const void *buf, size_t len, size_t max, struct rmb_env *e,
		   uint32_t *code)
{
	*code = RMB_E_MALFORMED;
	if (!max)
		max = RMB_MAX_MSG_DEFAULT;
	if (len > max)
		return ZE_TOOBIG;
	cJSON *o = NULL;
	if (rmb_json_canonical(buf, len) || rmb_json_parse(buf, len, &o))
		return ZE_MALFORMED;
	int rc = cJSON_IsObject(o) ? decode_obj(o, e, code) : ZE_MALFORMED;
	cJSON_Delete(o);
	if (rc == -ENOMEM)
		*code = RMB_E_INTERNAL;
	return rc;
}
