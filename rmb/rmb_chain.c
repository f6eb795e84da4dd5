#include "rmb/rmb_chain.h"

#include <errno.h>
#include <string.h>

#include "chainclient/grid.h"
#include "common/zerr.h"

_Static_assert(RMB_RELAY_MAX >= GRID_MAX_RELAY, "a chain relay must fit an rmb_twin");

static int relay_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int rmb_chain_twin_lookup(void *ctx, uint32_t twin_id, struct rmb_twin *out)
{
	struct grid_twin t;
	int rc = grid_twin(ctx, twin_id, &t);
	if (rc == ZE_ABSENT)
		return ZE_ABSENT;
	/* A relay we cannot use as an address is ignored, not fatal: the
	 * twin's key still verifies its requests. */
	if (rc)
		return ZE_UNKNOWN;
	memset(out, 0, sizeof(*out));
	out->id = twin_id;
	memcpy(out->account, t.account, 32);
	if (t.has_relay && relay_ok(t.relay))
		memcpy(out->relay, t.relay, strlen(t.relay) + 1);
	/* A pk of another length is not an x25519 key: treat it as unset. */
	out->has_pk = t.pk_len == 32;
	if (out->has_pk)
		memcpy(out->pk, t.pk, 32);
	return 0;
}

int rmb_relay_first(const char *relay, char *out, size_t outsz)
{
	const char *sep = " \t,";
	relay += strspn(relay, sep);
	size_t n = strcspn(relay, sep);
	if (!n)
		return -ENOENT;
	if (n >= outsz)
		return -ENOSPC;
	memcpy(out, relay, n);
	out[n] = 0;
	return 0;
}
