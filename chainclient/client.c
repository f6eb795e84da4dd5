/*
 * Chain client: the runtime snapshot (load, re-check, reload on upgrade).
 * Storage reads are in client_storage.c, events in client_events.c.
 */
#include "chainclient/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainclient/client_int.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

void chain_client_opts_default(struct chain_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	rpc_opts_default(&o->rpc);
	o->recheck_ms = 30000;
	o->max_value = 16u << 20;
}

int chain_client_new(const char *url, const struct chain_client_opts *opts,
		     struct chain_client **out)
{
	struct chain_client *c;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (opts)
		c->opts = *opts;
	else
		chain_client_opts_default(&c->opts);
	if (c->opts.recheck_ms == 0)
		c->opts.recheck_ms = 30000;
	if (c->opts.max_value == 0)
		c->opts.max_value = 16u << 20;
	ret = rpc_client_new(url, opts ? &opts->rpc : NULL, &c->rpc);
	if (ret) {
		free(c);
		return ret;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->load_lock, NULL);
	*out = c;
	return 0;
}

static void chain_runtime_free(struct chain_runtime *rt)
{
	meta_free(rt->meta);
	free(rt);
}

void chain_runtime_put(struct chain_runtime *rt)
{
	if (rt && __atomic_sub_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL) == 0)
		chain_runtime_free(rt);
}

void chain_client_free(struct chain_client *c)
{
	if (!c)
		return;
	chain_runtime_put(c->rt);
	rpc_client_free(c->rpc);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->load_lock);
	free(c);
}

struct rpc_client *chain_client_rpc(struct chain_client *c) { return c->rpc; }

/*
 * Builds a snapshot. The version is read before and after the metadata so
 * that an upgrade landing in between is noticed and the pair re-read: the
 * metadata must belong to the spec version it is stored with.
 */
static int chain_runtime_load(struct chain_client *c, struct chain_runtime **out)
{
	struct chain_runtime *rt;
	uint32_t spec2, tx2;
	uint8_t *raw = NULL;
	size_t rawlen;
	const char *unknown = NULL;
	int ret;

	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	ret = rpc_block_hash(c->rpc, 0, rt->genesis);
	if (ret)
		goto fail;
	for (int tries = 0;; tries++) {
		ret = rpc_runtime_version(c->rpc, &rt->spec_version, &rt->tx_version);
		if (ret)
			goto fail;
		ret = rpc_metadata(c->rpc, &raw, &rawlen);
		if (ret)
			goto fail;
		ret = rpc_runtime_version(c->rpc, &spec2, &tx2);
		if (ret)
			goto fail;
		if (spec2 == rt->spec_version && tx2 == rt->tx_version)
			break;
		free(raw);
		raw = NULL;
		if (tries == 2) {
			ret = ZE_UNKNOWN;
			goto fail;
		}
	}
	ret = meta_decode(raw, rawlen, &rt->meta);
	if (ret) {
		log_err("chain", "runtime %u: metadata does not decode: %s", rt->spec_version,
			zerr_str(ret));
		goto fail;
	}
	ret = xt_exts_from_meta(rt->meta, &rt->exts, &unknown);
	if (ret) {
		log_err("chain", "runtime %u: cannot fill signed extension %s", rt->spec_version,
			unknown ? unknown : "?");
		goto fail;
	}
	free(raw);
	rt->refs = 1;
	*out = rt;
	return 0;
fail:
	free(raw);
	meta_free(rt->meta);
	free(rt);
	return ret;
}

/* Replaces the current snapshot; the client's own reference moves to rt. */
static void chain_runtime_install(struct chain_client *c, struct chain_runtime *rt)
{
	struct chain_runtime *old;

	pthread_mutex_lock(&c->lock);
	old = c->rt;
	c->rt = rt;
	c->checked_ms = clk_mono_ms();
	pthread_mutex_unlock(&c->lock);
	if (old && old->spec_version != rt->spec_version)
		log_info("chain", "runtime upgraded: spec %u -> %u (tx %u)", old->spec_version,
			 rt->spec_version, rt->tx_version);
	else if (!old)
		log_info("chain", "runtime spec %u tx %u", rt->spec_version, rt->tx_version);
	chain_runtime_put(old);
}

/* Called with load_lock held, so only one thread talks to the node about
 * the runtime at a time. */
static int chain_recheck_locked(struct chain_client *c, int force, int *changed)
{
	struct chain_runtime *cur, *rt;
	uint32_t spec, tx;
	int64_t now = clk_mono_ms();
	int ret;

	*changed = 0;
	pthread_mutex_lock(&c->lock);
	cur = c->rt;
	int due = !cur || force || c->opts.recheck_ms < 0 || now - c->checked_ms >= c->opts.recheck_ms;
	pthread_mutex_unlock(&c->lock);
	if (!due)
		return 0;
	if (cur) {
		ret = rpc_runtime_version(c->rpc, &spec, &tx);
		if (ret)
			return ret;
		if (spec == cur->spec_version && tx == cur->tx_version) {
			pthread_mutex_lock(&c->lock);
			c->checked_ms = now;
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
	}
	ret = chain_runtime_load(c, &rt);
	if (ret)
		return ret;
	chain_runtime_install(c, rt);
	*changed = 1;
	return 0;
}

int chain_client_refresh(struct chain_client *c, int *changed)
{
	int ch = 0, ret;

	pthread_mutex_lock(&c->load_lock);
	ret = chain_recheck_locked(c, 1, &ch);
	pthread_mutex_unlock(&c->load_lock);
	if (changed)
		*changed = ch;
	return ret;
}

int chain_client_runtime(struct chain_client *c, struct chain_runtime **out)
{
	int changed, ret;

	*out = NULL;
	pthread_mutex_lock(&c->load_lock);
	ret = chain_recheck_locked(c, 0, &changed);
	pthread_mutex_unlock(&c->load_lock);
	pthread_mutex_lock(&c->lock);
	/* A failed re-check keeps serving the snapshot we have: the version
	 * check is advisory, and reads against a stale layout fail loudly in
	 * the decoders anyway. Only "never loaded" is an error. */
	if (c->rt) {
		__atomic_add_fetch(&c->rt->refs, 1, __ATOMIC_ACQ_REL);
		*out = c->rt;
		ret = 0;
	} else if (!ret) {
		ret = ZE_UNKNOWN;
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}
