/*
 * WebSocket framing: header sizes at the length boundaries, masking round
 * trips, the RFC 6455 handshake example, and every malformed header the
 * parser must refuse before it reads a payload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainclient/ws.h"
#include "common/zerr.h"

static void accept_key_matches_rfc(void **st)
{
	char out[29];

	/* RFC 6455 section 1.3. */
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	char k1[25], k2[25];
	assert_int_equal(ws_client_key(k1), 0);
	assert_int_equal(ws_client_key(k2), 0);
	assert_int_equal(strlen(k1), 24);
	assert_string_not_equal(k1, k2);
}

/* A masked frame of each length class parses back to the same payload. */
static void frames_round_trip(void **st)
{
	static const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 200000};
	const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};

	for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
		size_t n = lens[t];
		uint8_t *buf = malloc(WS_HEADER_MAX + n + 1), *want = malloc(n + 1);
		assert_non_null(buf);
		assert_non_null(want);
		for (size_t i = 0; i < n; i++)
			want[i] = (uint8_t)(i * 7);
		size_t h = ws_frame_header(buf, WS_OP_TEXT, n, mask);
		assert_int_equal(h, (n < 126 ? 2 : n <= 65535 ? 4 : 10) + 4);
		memcpy(buf + h, want, n);
		ws_mask(buf + h, n, mask, 0);
		/* Any prefix is "need more". */
		struct ws_frame f;
		if (h + n > 0)
			assert_int_equal(ws_frame_parse(buf, h + n - 1, 1, 1u << 20, &f), 0);
		assert_int_equal(ws_frame_parse(buf, h + n, 1, 1u << 20, &f), (long)(h + n));
		assert_int_equal(f.fin, 1);
		assert_int_equal(f.opcode, WS_OP_TEXT);
		assert_int_equal(f.len, n);
		assert_memory_equal(f.payload, want, n);
		free(buf);
		free(want);
	}
}

static void bad_frames_are_refused(void **st)
{
	struct ws_frame f;
	uint8_t b[16];

	/* RSV bit set. */
	memcpy(b, "\xc1\x00", 2);
	assert_int_equal(ws_frame_parse(b, 2, 0, 100, &f), ZE_MALFORMED);
	/* Unmasked where masking is required, and the reverse. */
	memcpy(b, "\x81\x00", 2);
	assert_int_equal(ws_frame_parse(b, 2, 1, 100, &f), ZE_MALFORMED);
	memcpy(b, "\x81\x80\0\0\0\0", 6);
	assert_int_equal(ws_frame_parse(b, 6, 0, 100, &f), ZE_MALFORMED);
	/* Unknown opcode. */
	memcpy(b, "\x83\x00", 2);
	assert_int_equal(ws_frame_parse(b, 2, 0, 100, &f), ZE_MALFORMED);
	/* Fragmented or long control frame. */
	memcpy(b, "\x09\x00", 2);
	assert_int_equal(ws_frame_parse(b, 2, 0, 100, &f), ZE_MALFORMED);
	memcpy(b, "\x89\x7e\x00\x80", 4);
	assert_int_equal(ws_frame_parse(b, 4, 0, 1000, &f), ZE_MALFORMED);
	/* 64-bit length with the top bit set, and one over the cap. */
	memcpy(b, "\x82\x7f\x80\0\0\0\0\0\0\0", 10);
	assert_int_equal(ws_frame_parse(b, 10, 0, 100, &f), ZE_MALFORMED);
	memcpy(b, "\x82\x7e\x01\x00", 4);
	assert_int_equal(ws_frame_parse(b, 4, 0, 255, &f), ZE_TOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(accept_key_matches_rfc),
	    cmocka_unit_test(frames_round_trip),
	    cmocka_unit_test(bad_frames_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
