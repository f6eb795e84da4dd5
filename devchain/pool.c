/*
 * The transaction pool: verified extrinsics waiting for a block, ordered by signer and nonce
 * (pool.h).
 */
#include "devchain/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

void dev_pool_init(struct dev_pool *p)
{
	memset(p, 0, sizeof(*p));
}

void dev_pxt_free(struct dev_pxt *x)
{
	if (!x)
		return;
	free(x->bytes);
	free(x);
}

void dev_pool_free(struct dev_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		dev_pxt_free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int cmp(const struct dev_pxt *x, const uint8_t signer[32], uint64_t nonce)
{
	int r = memcmp(x->d.signer, signer, 32);
	if (r)
		return r;
	return x->d.nonce < nonce ? -1 : x->d.nonce > nonce;
}

static size_t lower_bound(const struct dev_pool *p, const uint8_t signer[32], uint64_t nonce)
{
	size_t lo = 0, hi = p->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp(p->v[mid], signer, nonce) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct dev_pxt *dev_pool_find(const struct dev_pool *p, const uint8_t signer[32], uint64_t nonce)
{
	size_t i = lower_bound(p, signer, nonce);
	return i < p->n && cmp(p->v[i], signer, nonce) == 0 ? p->v[i] : NULL;
}

int dev_pool_add(struct dev_pool *p, struct dev_pxt *x)
{
	if (p->n >= DEV_POOL_MAX || p->bytes + x->len > DEV_POOL_MAX_BYTES)
		return ZE_TOOBIG;
	if (dev_pool_find(p, x->d.signer, x->d.nonce))
		return -EEXIST;
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 256;
		struct dev_pxt **nv = realloc(p->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		p->v = nv;
		p->cap = ncap;
	}
	size_t i = lower_bound(p, x->d.signer, x->d.nonce);
	memmove(&p->v[i + 1], &p->v[i], (p->n - i) * sizeof(*p->v));
	p->v[i] = x;
	p->n++;
	p->bytes += x->len;
	return 0;
}

void dev_pool_sweep(struct dev_pool *p)
{
	size_t j = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i]->done) {
			p->bytes -= p->v[i]->len;
			dev_pxt_free(p->v[i]);
		} else {
			p->v[j++] = p->v[i];
		}
	}
	p->n = j;
}
