/* Unit tests of the RMB envelope codec and its signed challenge. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "common/zerr.h"
#include "rmb/rmb_envelope.h"

static void test_key(uint8_t fill, struct zkey *k)
{
	uint8_t seed[32];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(key_from_seed(seed, k), 0);
}

static void make_request(struct rmb_env *e, const struct zkey *k)
{
	rmb_env_init(e);
	e->ver = RMB_VERSION;
	e->kind = RMB_REQUEST;
	assert_int_equal(rmb_env_set_uid(e, "uid-1"), 0);
	assert_int_equal(rmb_env_set_cmd(e, "zos.system.version"), 0);
	e->src = 7;
	e->dst = 9;
	e->now = 1700000000;
	e->exp = 60;
	assert_int_equal(rmb_env_set_dat(e, "{\"a\":1}", 7), 0);
	assert_int_equal(rmb_env_sign(e, k), 0);
}

static void round_trip(void **st)
{
	struct zkey k;
	struct rmb_env e, d;
	char *txt;
	size_t len;
	uint32_t code;
	test_key(1, &k);
	make_request(&e, &k);
	assert_int_equal(rmb_env_encode(&e, 0, &txt, &len), 0);
	rmb_env_init(&d);
	assert_int_equal(rmb_env_decode(txt, len, 0, &d, &code), 0);
	assert_int_equal(d.ver, 1);
	assert_int_equal(d.kind, RMB_REQUEST);
	assert_string_equal(d.uid, "uid-1");
	assert_string_equal(d.cmd, "zos.system.version");
	assert_int_equal(d.src, 7);
	assert_int_equal(d.dst, 9);
	assert_int_equal(d.now, 1700000000);
	assert_int_equal(d.exp, 60);
	assert_int_equal(d.dat_len, 7);
	assert_memory_equal(d.dat, "{\"a\":1}", 7);
	assert_int_equal(d.has_err, 0);
	assert_int_equal(rmb_env_verify_sig(&d, k.pk), 0);
	free(txt);
	rmb_env_clear(&d);
	rmb_env_clear(&e);
	key_wipe(&k);
}

/* An sr25519 sender declares its scheme ("sch"), which the challenge binds;
 * the envelope verifies only under that scheme. */
static void sr25519_round_trip(void **st)
{
	struct zkey k, ed;
	struct rmb_env e, d;
	char *txt, *p;
	size_t len;
	uint32_t code;
	uint8_t h_sr[32], h_ed[32];
	assert_int_equal(key_from_suri("//Alice", KEY_SR25519, NULL, &k), 0);
	test_key(1, &ed);
	make_request(&e, &k);
	assert_int_equal(e.scheme, KEY_SR25519);
	assert_int_equal(rmb_env_encode(&e, 0, &txt, &len), 0);
	assert_non_null(strstr(txt, "\"sch\":\"sr25519\""));
	rmb_env_init(&d);
	assert_int_equal(rmb_env_decode(txt, len, 0, &d, &code), 0);
	assert_int_equal(d.scheme, KEY_SR25519);
	assert_int_equal(rmb_env_verify_sig(&d, k.pk), 0);
	assert_int_equal(rmb_env_verify_sig(&d, ed.pk), ZE_CRYPTO);
	/* The scheme is part of the challenge. */
	rmb_env_challenge(&d, h_sr);
	d.scheme = KEY_ED25519;
	rmb_env_challenge(&d, h_ed);
	assert_memory_not_equal(h_sr, h_ed, 32);
	assert_int_equal(rmb_env_verify_sig(&d, k.pk), ZE_CRYPTO);
	rmb_env_clear(&d);
	/* Without "sch" the same signature is read as ed25519 and refused. */
	p = strstr(txt, ",\"sch\":\"sr25519\"");
	memmove(p, p + 16, strlen(p + 16) + 1);
	rmb_env_init(&d);
	assert_int_equal(rmb_env_decode(txt, strlen(txt), 0, &d, &code), 0);
	assert_int_equal(d.scheme, KEY_ED25519);
	assert_int_equal(rmb_env_verify_sig(&d, k.pk), ZE_CRYPTO);
	free(txt);
	rmb_env_clear(&d);
	rmb_env_clear(&e);
	/* An ed25519 sender writes no "sch" member. */
	make_request(&e, &ed);
	assert_int_equal(rmb_env_encode(&e, 0, &txt, &len), 0);
	assert_null(strstr(txt, "\"sch\""));
	free(txt);
	rmb_env_clear(&e);
	key_wipe(&k);
	key_wipe(&ed);
}

static void error_reply_round_trip(void **st)
{
	struct zkey k;
	struct rmb_env e, d;
	char *txt;
	size_t len;
	uint32_t code;
	test_key(2, &k);
	make_request(&e, &k);
	e.kind = RMB_REPLY;
	rmb_env_set_dat(&e, NULL, 0);
	e.has_err = 1;
	rmb_error_set(&e.err, RMB_E_RATE_LIMITED, 1, "slow down %d", 3);
	rmb_env_sign(&e, &k);
	assert_int_equal(rmb_env_encode(&e, 0, &txt, &len), 0);
	rmb_env_init(&d);
	assert_int_equal(rmb_env_decode(txt, len, 0, &d, &code), 0);
	assert_int_equal(d.has_err, 1);
	assert_int_equal(d.err.code, 429);
	assert_int_equal(d.err.retry, 1);
	assert_string_equal(d.err.message, "slow down 3");
	assert_int_equal(rmb_env_verify_sig(&d, k.pk), 0);
	/* The error is signed: changing the retry hint breaks the signature. */
	d.err.retry = 0;
	assert_int_equal(rmb_env_verify_sig(&d, k.pk), ZE_CRYPTO);
	free(txt);
	rmb_env_clear(&d);
	rmb_env_clear(&e);
}

/* Every field but sig changes the challenge. */
static void challenge_covers_every_field(void **st)
{
	struct zkey k;
	struct rmb_env e;
	uint8_t h0[32], h[32];
	test_key(3, &k);
	make_request(&e, &k);
	rmb_env_challenge(&e, h0);
#define CHANGED(stmt, undo)                                \
	do {                                               \
		stmt;                                      \
		rmb_env_challenge(&e, h);                  \
		assert_memory_not_equal(h0, h, 32);        \
		undo;                                      \
	} while (0)
	CHANGED(e.ver = 2, e.ver = 1);
	CHANGED(e.kind = RMB_REPLY, e.kind = RMB_REQUEST);
	CHANGED(rmb_env_set_uid(&e, "uid-2"), rmb_env_set_uid(&e, "uid-1"));
	CHANGED(rmb_env_set_cmd(&e, "zos.system.versio"), rmb_env_set_cmd(&e, "zos.system.version"));
	CHANGED(e.src = 8, e.src = 7);
	CHANGED(e.dst = 8, e.dst = 9);
	CHANGED(e.now++, e.now--);
	CHANGED(e.exp++, e.exp--);
	CHANGED(e.dat[0] ^= 1, e.dat[0] ^= 1);
	CHANGED(e.has_err = 1, e.has_err = 0);
	rmb_env_challenge(&e, h);
	assert_memory_equal(h0, h, 32);
	/* Length prefixes: moving a byte from uid to cmd is a different message. */
	rmb_env_set_uid(&e, "ab");
	rmb_env_set_cmd(&e, "c");
	rmb_env_challenge(&e, h0);
	rmb_env_set_uid(&e, "a");
	rmb_env_set_cmd(&e, "bc");
	rmb_env_challenge(&e, h);
	assert_memory_not_equal(h0, h, 32);
	rmb_env_clear(&e);
}

/* The documented example in docs/rmb.md: fixed fields give a fixed challenge. */
static void challenge_vector(void **st)
{
	struct rmb_env e;
	uint8_t h[32];
	char hex[65];
	rmb_env_init(&e);
	e.ver = 1;
	e.kind = RMB_REQUEST;
	rmb_env_set_uid(&e, "0123456789abcdef");
	rmb_env_set_cmd(&e, "zos.system.version");
	e.src = 1;
	e.dst = 2;
	e.now = 1700000000;
	e.exp = 60;
	rmb_env_challenge(&e, h);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	/* Computed independently (Python hashlib) from the layout in docs/rmb.md. */
	assert_string_equal(hex, "eb8ff0bc82bd34f25b5c6b604196ca820e7a7541a5c8e19224959c3f0ea81bdd");
	rmb_env_clear(&e);
}

static int decode_str(const char *s, struct rmb_env *d, uint32_t *code)
{
	rmb_env_init(d);
	int rc = rmb_env_decode(s, strlen(s), 0, d, code);
	rmb_env_clear(d);
	return rc;
}

#define SIG "\"sig\":\"" \
	"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\""
#define BASE "\"ver\":1,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":1,\"dst\":2,\"now\":5,\"exp\":6"

static void decode_rejections(void **st)
{
	struct rmb_env d;
	uint32_t code;
	/* Baseline is accepted; unknown fields are ignored. */
	assert_int_equal(decode_str("{" BASE ",\"dat\":\"\",\"x\":[1,2]," SIG "}", &d, &code), 0);
	assert_int_equal(decode_str("{" BASE ",\"dat\":\"\"," SIG "}  \n", &d, &code), 0);
	assert_int_equal(decode_str("{" BASE ",\"dat\":\"\",\"sch\":\"ed25519\"," SIG "}", &d, &code),
			 0);
	const char *malformed[] = {
		"",
		"null",
		"[]",
		"{" BASE ",\"dat\":\"\"," SIG "}x",
		"{" BASE ",\"dat\":\"\"}",                        /* no sig */
		"{" BASE "," SIG "}",                             /* no dat */
		"{" BASE ",\"dat\":5," SIG "}",                   /* mistyped dat */
		"{\"ver\":2,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":1,\"dst\":2,\"now\":5,"
		"\"exp\":6,\"dat\":\"\"," SIG "}",                /* version */
		"{\"ver\":1,\"typ\":\"xx\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":1,\"dst\":2,\"now\":5,"
		"\"exp\":6,\"dat\":\"\"," SIG "}",                /* typ */
		"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":-1,\"dst\":2,\"now\":5,"
		"\"exp\":6,\"dat\":\"\"," SIG "}",                /* negative */
		"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":1.5,\"dst\":2,\"now\":5,"
		"\"exp\":6,\"dat\":\"\"," SIG "}",                /* fraction */
		"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":4294967296,\"dst\":2,"
		"\"now\":5,\"exp\":6,\"dat\":\"\"," SIG "}",      /* above u32 */
		"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u u\",\"cmd\":\"c\",\"src\":1,\"dst\":2,\"now\":5,"
		"\"exp\":6,\"dat\":\"\"," SIG "}",                /* uid charset */
		"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c/d\",\"src\":1,\"dst\":2,\"now\":5,"
		"\"exp\":6,\"dat\":\"\"," SIG "}",                /* cmd charset */
		"{" BASE ",\"dat\":\"\",\"sig\":\"abcd\"}",       /* short sig */
		"{" BASE ",\"dat\":\"\",\"sch\":\"ecdsa\"," SIG "}",  /* unknown scheme */
		"{" BASE ",\"dat\":\"\",\"sch\":1," SIG "}",          /* mistyped scheme */
		"{" BASE ",\"dat\":\"\",\"err\":{\"code\":1,\"message\":\"m\",\"retry\":false}," SIG "}",
	};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(*malformed); i++) {
		assert_int_equal(decode_str(malformed[i], &d, &code), ZE_MALFORMED);
		assert_int_equal(code, RMB_E_MALFORMED);
	}
	/* Bad base64 is a payload error, reported as 101. */
	assert_int_equal(decode_str("{" BASE ",\"dat\":\"!!!\"," SIG "}", &d, &code), ZE_MALFORMED);
	assert_int_equal(code, RMB_E_PAYLOAD);
}

/* One signature must stand for one envelope: every spelling that another
 * parser could read differently is refused (docs/rmb.md, "Envelope"). */
static void decode_not_canonical(void **st)
{
	struct rmb_env d;
	uint32_t code;
	static const struct {
		const char *txt;
		size_t len; /* 0: strlen */
	} bad[] = {
		{"{" BASE ",\"uid\":\"v\",\"dat\":\"\"," SIG "}", 0},        /* duplicate uid */
		{"{" BASE ",\"dat\":\"\",\"dat\":\"eA==\"," SIG "}", 0},    /* duplicate dat */
		{"{" BASE ",\"\\u0064at\":\"\",\"dat\":\"\"," SIG "}", 0}, /* duplicate, escaped */
		{"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u\\u0000x\",\"cmd\":\"c\",\"src\":1,"
		 "\"dst\":2,\"now\":5,\"exp\":6,\"dat\":\"\"," SIG "}", 0}, /* NUL in uid */
		{"{" BASE ",\"dat\":\"\",\"x\":\"a\\u0000\"," SIG "}", 0}, /* NUL anywhere */
		{"{\"ver\":1.0,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":1,\"dst\":2,"
		 "\"now\":5,\"exp\":6,\"dat\":\"\"," SIG "}", 0},             /* 1.0 */
		{"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":1e0,\"dst\":2,"
		 "\"now\":5,\"exp\":6,\"dat\":\"\"," SIG "}", 0},             /* exponent */
		{"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":01,\"dst\":2,"
		 "\"now\":5,\"exp\":6,\"dat\":\"\"," SIG "}", 0},             /* leading zero */
		{"{\"ver\":1,\"typ\":\"req\",\"uid\":\"u\",\"cmd\":\"c\",\"src\":-0,\"dst\":2,"
		 "\"now\":5,\"exp\":6,\"dat\":\"\"," SIG "}", 0},             /* sign */
		{"{" BASE ",\"dat\":\"\"," SIG "}\0", sizeof("{" BASE ",\"dat\":\"\"," SIG "}")},
		{"{" BASE ",\"dat\":\"\"," SIG "}\n\0\n", sizeof("{" BASE ",\"dat\":\"\"," SIG "}\n\0")},
		{"{" BASE ",\"dat\":\"\"," SIG "}{}", 0},                     /* a second value */
		{"{" BASE ",\"dat\":\"\",\"x\":\"\xff\"," SIG "}", 0},        /* invalid UTF-8 */
		{"{" BASE ",\"dat\":\"\",\"x\":\"\xc0\xaf\"," SIG "}", 0},    /* overlong */
		{"{" BASE ",\"dat\":\"\",\"x\":\"\xed\xa0\x80\"," SIG "}", 0}, /* surrogate */
		{"{" BASE ",\"dat\":\"\",\"x\":\"\\ud800\"," SIG "}", 0},   /* lone escape */
		{"{" BASE ",\"dat\":\"\",\"x\xff\":1," SIG "}", 0},           /* bad name */
		{"\xef\xbb\xbf{" BASE ",\"dat\":\"\"," SIG "}", 0},           /* BOM */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].txt);
		rmb_env_init(&d);
		assert_int_equal(rmb_env_decode(bad[i].txt, len, 0, &d, &code), ZE_MALFORMED);
		assert_int_equal(code, RMB_E_MALFORMED);
		rmb_env_clear(&d);
	}
	/* Valid UTF-8, escapes of other characters and paired surrogates stay fine. */
	assert_int_equal(decode_str("{" BASE ",\"dat\":\"\",\"x\":\"\xc3\xa9\xf0\x9f\x98\x80"
				    "\\ud83d\\ude00\\u0001\"," SIG "}",
				    &d, &code),
			 0);
	/* A cut multi-byte sequence in an error message is repaired, not sent. */
	struct rmb_error e;
	char msg[RMB_ERRMSG_MAX + 8];
	memset(msg, 'a', RMB_ERRMSG_MAX - 1);
	memcpy(msg + RMB_ERRMSG_MAX - 1, "\xe2\x82\xac", 4);
	rmb_error_set(&e, 500, 0, "%s", msg);
	assert_int_equal(strlen(e.message), RMB_ERRMSG_MAX);
	assert_int_equal(e.message[RMB_ERRMSG_MAX - 1], '?');
}

static void size_limit_before_parsing(void **st)
{
	struct rmb_env d;
	uint32_t code;
	size_t n = 4096;
	char *big = malloc(n);
	memset(big, '{', n); /* deeply nested garbage: would be slow to parse */
	rmb_env_init(&d);
	assert_int_equal(rmb_env_decode(big, n, 1024, &d, &code), ZE_TOOBIG);
	assert_int_equal(code, RMB_E_MALFORMED);
	rmb_env_clear(&d);
	free(big);
}

static void encode_respects_max(void **st)
{
	struct zkey k;
	struct rmb_env e;
	char *txt = NULL;
	size_t len;
	test_key(4, &k);
	make_request(&e, &k);
	uint8_t *blob = calloc(1, 2000);
	rmb_env_set_dat(&e, blob, 2000);
	assert_int_equal(rmb_env_encode(&e, 1024, &txt, &len), ZE_TOOBIG);
	assert_null(txt);
	assert_int_equal(rmb_env_encode(&e, 4096, &txt, &len), 0);
	assert_true(len <= 4096);
	free(txt);
	free(blob);
	rmb_env_clear(&e);
}

/* The encoder escapes what JSON needs and keeps the rest byte for byte. */
static void error_message_escaping(void **st)
{
	struct rmb_env e, d;
	char *txt;
	size_t len;
	uint32_t code;
	const char *msg = "q\" b\\ nl\n tab\t bell\a del\x7f utf8 \xc3\xa9 \xe2\x82\xac /";
	rmb_env_init(&e);
	e.ver = 1;
	e.kind = RMB_REPLY;
	e.has_err = 1;
	rmb_error_set(&e.err, 500, 1, "%s", msg);
	assert_int_equal(rmb_env_encode(&e, 0, &txt, &len), 0);
	assert_int_equal(strlen(txt), len);
	assert_non_null(strstr(txt, "\"message\":\"q\\\" b\\\\ nl\\u000a tab\\u0009"));
	rmb_env_init(&d);
	assert_int_equal(rmb_env_decode(txt, len, 0, &d, &code), 0);
	assert_string_equal(d.err.message, msg);
	assert_int_equal(d.err.retry, 1);
	uint8_t h1[32], h2[32];
	rmb_env_challenge(&e, h1);
	rmb_env_challenge(&d, h2);
	assert_memory_equal(h1, h2, 32);
	free(txt);
	rmb_env_clear(&d);
	rmb_env_clear(&e);
}

static void setters_validate(void **st)
{
	struct rmb_env e;
	char long_uid[RMB_UID_MAX + 2];
	rmb_env_init(&e);
	memset(long_uid, 'a', sizeof(long_uid) - 1);
	long_uid[sizeof(long_uid) - 1] = 0;
	assert_int_equal(rmb_env_set_uid(&e, long_uid), -EINVAL);
	long_uid[RMB_UID_MAX] = 0;
	assert_int_equal(rmb_env_set_uid(&e, long_uid), 0);
	assert_int_equal(rmb_env_set_uid(&e, "a\"b"), -EINVAL);
	assert_int_equal(rmb_env_set_cmd(&e, "zos.x y"), -EINVAL);
	char uid[RMB_UID_MAX + 1], uid2[RMB_UID_MAX + 1];
	rmb_uid_new(uid);
	rmb_uid_new(uid2);
	assert_int_equal(strlen(uid), 32);
	assert_string_not_equal(uid, uid2);
	rmb_env_clear(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(sr25519_round_trip),
		cmocka_unit_test(error_reply_round_trip),
		cmocka_unit_test(challenge_covers_every_field),
		cmocka_unit_test(challenge_vector),
		cmocka_unit_test(decode_rejections),
		cmocka_unit_test(decode_not_canonical),
		cmocka_unit_test(size_limit_before_parsing),
		cmocka_unit_test(encode_respects_max),
		cmocka_unit_test(error_message_escaping),
		cmocka_unit_test(setters_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
