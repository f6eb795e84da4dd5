/*
 * libFuzzer target for the RMB envelope decoder (network input).
 *
 * Invariants checked beyond "no crash, no leak, no overread": a decoded
 * envelope re-encodes, the re-encoding decodes to the same challenge (so
 * what was signed is what is seen), and request verification never
 * accepts an unsigned input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"
#include "rmb/rmb_envelope.h"
#include "rmb/rmb_verify.h"

#define MAX_MSG 65536

static int lookup(void *ctx, uint32_t id, struct rmb_twin *out)
{
	(void)ctx;
	if (id % 3 == 0)
		return ZE_ABSENT;
	if (id % 3 == 1)
		return ZE_UNKNOWN;
	memset(out->account, (int)id, sizeof(out->account));
	return 0;
}

static struct rmb_verifier *verifier(void)
{
	static struct rmb_verifier *v;
	if (!v) {
		struct rmb_verify_cfg cfg;
		rmb_verify_cfg_init(&cfg);
		cfg.max_msg = MAX_MSG;
		cfg.replay_entries = 1024;
		cfg.twin_entries = 64;
		cfg.rate_entries = 64;
		if (rmb_verifier_new(&cfg, lookup, NULL, &v))
			abort();
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rmb_env e, d;
	uint32_t code;
	rmb_env_init(&e);
	if (rmb_env_decode(data, size, MAX_MSG, &e, &code) == 0) {
		char *txt = NULL;
		size_t len = 0;
		/* Base64 can grow dat past the limit; only then may encoding fail. */
		if (rmb_env_encode(&e, 4 * MAX_MSG, &txt, &len) != 0)
			abort();
		rmb_env_init(&d);
		if (rmb_env_decode(txt, len, 4 * MAX_MSG, &d, &code) != 0)
			abort();
		uint8_t h1[32], h2[32];
		rmb_env_challenge(&e, h1);
		rmb_env_challenge(&d, h2);
		if (memcmp(h1, h2, 32))
			abort();
		rmb_env_clear(&d);
		free(txt);
	}
	rmb_env_clear(&e);

	/* The fuzzer cannot forge ed25519: nothing it makes may be accepted. */
	struct rmb_error err;
	cJSON *p = NULL;
	rmb_env_init(&e);
	if (rmb_verify_request(verifier(), data, size, 1700000000, 0, &e, &p, &err) == 0)
		abort();
	if (p)
		abort();
	rmb_env_clear(&e);
	return 0;
}
