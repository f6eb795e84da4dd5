/*
 * libFuzzer target for the SCALE primitives, eras and extrinsic decoding,
 * and (when the tfchain metadata fixture is found) the generic decoder.
 *
 * Invariants beyond "no crash, no leak, no over-read":
 * - a compact that decodes re-encodes to the same bytes (minimality);
 * - a decoded extrinsic re-assembles to the same bytes;
 * - a value the generic decoder accepts re-encodes, through the generic
 *   encoder, to exactly the bytes it consumed.
 *
 * Input: byte 0 selects the decoder; for the generic decoder bytes 1-2 are
 * a type id (little-endian) and the rest is the value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/meta.h"
#include "chainclient/scale.h"
#include "chainclient/xt.h"
#include "common/zerr.h"

static struct meta *fixture;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *dir = getenv("ZOS_FIXTURES_DIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/tfchain-metadata-v14-2023-04.scale",
		 dir ? dir : "tests/fixtures");
	if (meta_load_file(path, &fixture) != 0) {
		fprintf(stderr, "fuzz_scale: no fixture at %s, generic decoder not fuzzed\n", path);
		fixture = NULL;
	}
	return 0;
}

static void check_compacts(const uint8_t *p, size_t n)
{
	struct scale_rd r;
	scale_u128 v;
	scale_rd_init(&r, p, n);
	while (scale_get_compact128(&r, &v) == 0) {
		struct zbuf b;
		size_t used = 0;
		zbuf_init(&b, 64);
		if (scale_put_compact128(&b, v) != 0)
			abort();
		used = b.len;
		if (used > r.off || memcmp(b.data, p + r.off - used, used) != 0)
			abort();
		zbuf_free(&b);
	}
	uint64_t u;
	size_t len;
	const uint8_t *view;
	int bv;
	scale_rd_init(&r, p, n);
	(void)scale_get_compact(&r, &u);
	(void)scale_get_len(&r, 1 << 20, 4, &len);
	(void)scale_get_vec_u8(&r, 1 << 20, &view, &len);
	(void)scale_get_bool(&r, &bv);
}

/* The signature's scheme travels with the decoded extrinsic: an sr25519
 * extrinsic must assemble back with its own MultiSignature variant, which the
 * seed xt_sr25519_signed in the corpus keeps covered. */
static void check_extrinsic(const uint8_t *p, size_t n)
{
	struct xt_exts ex;
	struct xt_decoded d;
	xt_exts_default(&ex);
	if (xt_decode(&ex, p, n, &d) != 0 || !d.is_signed)
		return;
	struct xt_params prm = {.call = d.call, .call_len = d.call_len, .era = d.era,
				.nonce = d.nonce, .tip = d.tip};
	struct zbuf b;
	zbuf_init(&b, 0);
	if (xt_assemble_scheme(&ex, &prm, d.sig_scheme, d.signer, d.sig, &b) != 0 || b.len != n ||
	    memcmp(b.data, p, n) != 0)
		abort();
	zbuf_free(&b);
	uint8_t g[32] = {0};
	(void)xt_verify(&ex, &d, 1, 1, g, NULL);
}

static void check_generic(const uint8_t *p, size_t n)
{
	if (!fixture || n < 2)
		return;
	uint32_t type = (uint32_t)(p[0] | p[1] << 8) % (uint32_t)fixture->ntypes;
	struct scale_rd r;
	cJSON *j;
	scale_rd_init(&r, p + 2, n - 2);
	if (meta_to_json(fixture, type, &r, &j) != 0)
		return;
	struct zbuf b;
	zbuf_init(&b, 0);
	if (meta_from_json(fixture, type, j, &b) != 0 || b.len != r.off ||
	    (b.len && memcmp(b.data, p + 2, b.len) != 0))
		abort();
	zbuf_free(&b);
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: check_compacts(data + 1, size - 1); break;
	case 1: check_extrinsic(data + 1, size - 1); break;
	default: check_generic(data + 1, size - 1); break;
	}
	return 0;
}
