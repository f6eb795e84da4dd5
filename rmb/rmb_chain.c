/* Twin lookups on chain for rmb: reads TfgridModule.Twins through chainclient/ (rmb_chain.h). */
#include "rmb/rmb_chain.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chainclient/grid.h"
#include "common/zerr.h"

_Static_assert(RMB_RELAY_MAX >= GRID_MAX_RELAY, "a chain relay must fit an rmb_twin");

/* The decimal port at s (the whole rest of the string), or -1. */
static int atoi_port(const char *s)
{
	long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 65535)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

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

/* Counts the dot-separated labels of s[0..n) that are all digits (1..5 of
 * them); returns the number of labels, or 0 when one is not numeric. */
static int numeric_labels(const char *s, size_t n)
{
	int labels = 0;
	size_t len = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (len == 0 || len > 5)
				return 0;
			labels++;
			len = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			len++;
		} else {
			return 0;
		}
	}
	return labels;
}

int rmb_relay_first(const char *relay, char *out, size_t outsz)
{
	const char *sep = " \t,";
	relay += strspn(relay, sep);
	size_t n = strcspn(relay, sep);
	int w;
	if (!n)
		return -ENOENT;
	if (memmem(relay, n, "://", 3))
		w = snprintf(out, outsz, "%.*s", (int)n, relay);
	else if (numeric_labels(relay, n) == 5) {
		/* A.B.C.D.PORT: the last label is the port. */
		const char *dot = memrchr(relay, '.', n);
		w = snprintf(out, outsz, "tcp://%.*s:%.*s", (int)(dot - relay), relay,
		             (int)(n - (size_t)(dot - relay) - 1), dot + 1);
	} else
		w = snprintf(out, outsz, "tcp://%.*s:%d", (int)n, relay, RMB_DEFAULT_PORT);
	if (w < 0 || (size_t)w >= outsz)
		return -ENOSPC;
	return 0;
}

int rmb_relay_compact(const char *url, char *out, size_t outsz)
{
	const char *hp = strncmp(url, "tcp://", 6) == 0 ? url + 6 : NULL;
	const char *colon = hp ? strrchr(hp, ':') : NULL;
	int w;
	if (colon && hp[0] != '[' && colon > hp && atoi_port(colon + 1) == RMB_DEFAULT_PORT)
		w = snprintf(out, outsz, "%.*s", (int)(colon - hp), hp);
	else if (colon && colon > hp && numeric_labels(hp, (size_t)(colon - hp)) == 4 &&
	         atoi_port(colon + 1) > 0)
		w = snprintf(out, outsz, "%.*s.%s", (int)(colon - hp), hp, colon + 1);
	else
		w = snprintf(out, outsz, "%s", url);
	if (w < 0 || (size_t)w >= outsz)
		return -ENOSPC;
	return 0;
}
