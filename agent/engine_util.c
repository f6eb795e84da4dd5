/*
 * The engine's bottom layer: clocks, backoff, the capacity counter and small
 * accessors. It calls no other engine file (see engine_int.h).
 */
#include "agent/engine_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

void eng_contract_clear(struct eng_contract *c)
{
	free(c->data);
	memset(c, 0, sizeof *c);
}

int64_t eng_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t eng_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec eng_deadline(int64_t at_ms)
{
	struct timespec ts = {.tv_sec = at_ms / 1000, .tv_nsec = (at_ms % 1000) * 1000000};
	return ts;
}

int eng_transient(int err)
{
	return zerr_transient(err) || err == -ENOMEM;
}

int64_t eng_backoff(unsigned base_ms, unsigned max_ms, unsigned attempt)
{
	int64_t d = base_ms;
	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* Up to a quarter of jitter keeps retries of many contracts apart. */
	return d + (d >= 4 ? (int64_t)randombytes_uniform((uint32_t)(d / 4)) : 0);
}

void eng_release(struct eng *e, const struct prov_capacity *c)
{
	pthread_mutex_lock(&e->mu);
	e->reserved.cru -= c->cru <= e->reserved.cru ? c->cru : e->reserved.cru;
	e->reserved.mru -= c->mru <= e->reserved.mru ? c->mru : e->reserved.mru;
	e->reserved.sru -= c->sru <= e->reserved.sru ? c->sru : e->reserved.sru;
	e->reserved.hru -= c->hru <= e->reserved.hru ? c->hru : e->reserved.hru;
	pthread_mutex_unlock(&e->mu);
}

void eng_reserved(struct eng *e, struct prov_capacity *out)
{
	pthread_mutex_lock(&e->mu);
	*out = e->reserved;
	pthread_mutex_unlock(&e->mu);
}

int eng_cursor_get(struct eng *e, int64_t *block)
{
	return store_cursor_get(e->store, "block", block);
}

int eng_cursor_set(struct eng *e, int64_t block)
{
	return store_cursor_set(e->store, "block", block);
}

struct store *eng_store(struct eng *e)
{
	return e->store;
}

const struct eng_config *eng_config(const struct eng *e)
{
	return &e->cfg;
}

const struct eng_chain *eng_chain_iface(const struct eng *e)
{
	return &e->chain;
}
