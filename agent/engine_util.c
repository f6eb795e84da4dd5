/*
 * The engine's bottom layer: the condition-variable deadline, the capacity
 * counter and small accessors (clocks and backoff are common/clock.h and
 * common/backoff.h). It calls no other engine file (see engine_int.h).
 */
#include "agent/engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

void eng_contract_clear(struct eng_contract *c)
{
	free(c->data);
	memset(c, 0, sizeof *c);
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
