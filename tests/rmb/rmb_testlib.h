/*
 * Helpers shared by the rmb tests (header-only: each test is one program).
 * Twins 1..RT_TWINS exist; twin n's account key is derived from seed n*32.
 * Twins above RT_TWINS are absent; twin RT_DOWN_TWIN makes the lookup fail
 * as if the chain were unreachable.
 */
#ifndef ZOS_TESTS_RMB_TESTLIB_H
#define ZOS_TESTS_RMB_TESTLIB_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"
#include "rmb/rmb_envelope.h"
#include "rmb/rmb_guard.h"

#define RT_TWINS 50
#define RT_DOWN_TWIN 666

static inline void rt_key(uint32_t twin, struct zkey *k)
{
	uint8_t seed[32];
	memset(seed, (int)(twin & 0xff), sizeof(seed));
	seed[0] = 0x5a;
	if (key_from_seed(seed, k))
		abort();
}

static inline int rt_lookup(void *ctx, uint32_t id, struct rmb_twin *out)
{
	struct zkey k;
	(void)ctx;
	if (id == RT_DOWN_TWIN)
		return ZE_UNKNOWN;
	if (id == 0 || id > RT_TWINS)
		return ZE_ABSENT;
	rt_key(id, &k);
	memcpy(out->account, k.pk, 32);
	key_wipe(&k);
	return 0;
}

/* A signed request from src to dst, encoded; the caller frees the text. */
__attribute__((noinline, unused)) static char *rt_request(uint32_t src, uint32_t dst, const char *uid, const char *cmd,
			       const char *json, uint64_t now, uint32_t exp, size_t *len)
{
	struct rmb_env e;
	struct zkey k;
	char *txt = NULL;
	rmb_env_init(&e);
	e.ver = RMB_VERSION;
	e.kind = RMB_REQUEST;
	if (rmb_env_set_uid(&e, uid) || rmb_env_set_cmd(&e, cmd) ||
	    rmb_env_set_dat(&e, json, json ? strlen(json) : 0))
		abort();
	e.src = src;
	e.dst = dst;
	e.now = now;
	e.exp = exp;
	rt_key(src, &k);
	if (rmb_env_sign(&e, &k) || rmb_env_encode(&e, 64u << 20, &txt, len))
		abort();
	key_wipe(&k);
	rmb_env_clear(&e);
	return txt;
}

#endif
