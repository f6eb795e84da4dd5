/*
 * The engine subsystem. At start: the state store in node.state_dir and the
 * provisioners over the [storage] and [reserved] keys (registration needs
 * the measured capacity). Once registration knows the node id: the deploy
 * engine over the real chain (engine_chain.h) and the block follower.
 * Starting the engine is retried from the tick with backoff.
 */
#include "agent/node_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

#define ENG_BACKOFF_MIN_MS 1000L
#define ENG_BACKOFF_MAX_MS 60000L
/* The engine's own periodic sync only backs up the follower's, which
 * follows node.sync_interval across reloads. */
#define ENG_BACKSTOP_SYNC_S (7u * 86400u)

static void prov_config_of(const struct cfg *c, struct prov_config *p)
{
	memset(p, 0, sizeof *p);
	p->storage_dir = c->volumes_dir;
	p->image_dir = c->images_dir;
	p->run_dir = c->containers_dir;
	p->cgroup_parent = "zos";
	p->allow_unenforced_volumes = c->allow_unenforced_volumes;
	p->reserved.cru = c->reserved_cru;
	p->reserved.mru = c->reserved_mru;
	p->reserved.sru = c->reserved_sru;
	p->reserved.hru = c->reserved_hru;
	p->log_max_bytes = c->container_log_max;
	p->log_keep = c->container_log_keep;
	p->vm_kernel = c->vm_kernel;
	p->vm_initrd = c->vm_initrd;
	p->vm_accel = c->vm_accel;
	p->vm_uid_base = c->vm_uid_base;
	p->vm_stop_timeout_ms = c->vm_stop_timeout * 1000u;
	p->runtime = c->container_runtime;
	p->uid_base = c->container_uid_base;
	p->rootfs_size = c->container_rootfs_size;
	p->wireguard = c->wireguard_mode; /* cfg_wg_mode and prov_wg_mode agree */
	p->public_ip = c->public_ip;
	p->public_port_min = c->public_port_min;
	p->public_port_max = c->public_port_max;
	p->gateway_domain = c->gateway_domain;
	p->gateway_cert = c->gateway_cert;
	p->gateway_http_port = c->gateway_http_port;
	p->gateway_https_port = c->gateway_https_port;
}

static void img_config_of(const struct cfg *c, struct img_config *i)
{
	memset(i, 0, sizeof *i);
	i->dir = c->image_store_dir;
	i->max_bytes = c->image_max_size;
	i->allow = c->image_allow;
	i->deny = c->image_deny;
	i->insecure = c->image_insecure;
	i->credentials_file = c->image_credentials_file[0] ? c->image_credentials_file : NULL;
}

static int engine_start(struct agent *a, void **state)
{
	struct agent_node *n = *state;
	struct prov_config pc;
	struct img_config ic;
	prov_config_of(&n->cfg, &pc);
	img_config_of(&n->cfg, &ic);
	/* The image store first: the provisioners borrow it. Opening it also
	 * removes what an interrupted pull left half-written. */
	int rc = img_store_open(&ic, &n->images);
	if (rc < 0) {
		log_err("node", "image store in %s ([images]): %s", ic.dir, zerr_str(rc));
		return rc;
	}
	/* Whatever no workload held when the agent stopped can go now. */
	uint64_t freed = 0;
	if (img_gc(n->images, &freed) == 0 && freed)
		log_info("node", "image store: %" PRIu64 " bytes of unused images collected", freed);
	pc.images = n->images;
	rc = prov_ctx_new(&pc, &n->prov);
	if (rc < 0) {
		log_err("node", "provisioners (storage %s): %s", pc.storage_dir, zerr_str(rc));
		img_store_close(n->images);
		n->images = NULL;
		return rc;
	}
	/* Which OCI runtime runs containers was probed at start-up. */
	if (strcmp(prov_runtime_name(n->prov), "none") != 0)
		log_info("node", "containers: OCI runtime %s ([containers] runtime = %s)",
			 prov_runtime_name(n->prov), pc.runtime);
	else
		node_status(n, 1, "containers: no OCI runtime works (%s); container workloads are refused",
			    prov_runtime_why(n->prov));
	if ((rc = prov_node_capacity(n->prov, &n->total)) < 0) {
		log_err("node", "measuring the node's capacity: %s", zerr_str(rc));
		goto fail;
	}
	log_info("node", "capacity offered: cru %" PRIu64 ", mru %" PRIu64 ", sru %" PRIu64
		 ", hru %" PRIu64 " (after the [reserved] keys)",
		 n->total.cru, n->total.mru, n->total.sru, n->total.hru);
	if ((rc = store_open(n->cfg.state_dir, 0, &n->store)) < 0) {
		log_err("node", "state store in %s: %s", n->cfg.state_dir, zerr_str(rc));
		goto fail;
	}
	backoff_init(&n->eng_backoff, ENG_BACKOFF_MIN_MS, ENG_BACKOFF_MAX_MS, 0);
	node_ids_load(n);
	return 0;
fail:
	prov_ctx_free(n->prov);
	n->prov = NULL;
	img_store_close(n->images);
	n->images = NULL;
	return rc;
}

static int engine_up(struct agent_node *n, uint32_t node_id)
{
	struct eng_config ec;
	struct eng_chain ifc;
	struct eng *e = NULL;
	memset(&ec, 0, sizeof ec);
	ec.node_id = node_id;
	ec.total = n->total;
	ec.lookup = prov_lookup;
	ec.claim_check = prov_claim_check;
	ec.prov = n->prov;
	ec.images = n->images;
	ec.workers = n->cfg.deploy_workers;
	ec.sync_period_s = ENG_BACKSTOP_SYNC_S;
	ec.adopt = 1; /* users who cannot reach the node are served too */
	int rc = key_x25519_sk(&n->a->key, ec.node_x25519_sk);
	if (rc < 0)
		return rc;
	if ((rc = eng_chain_grid_new(n->chain, n->submitter, &ifc, &n->ecg)) < 0)
		goto out;
	if ((rc = eng_new(&ec, &ifc, n->store, &e)) < 0)
		goto out;
	if ((rc = eng_start(e)) < 0)
		goto out;
	/* Set before the engine is published: the reporter thread reads it
	 * once it sees the engine. */
	n->usage = (struct rep_usage_prov){.store = n->store, .lookup = prov_lookup, .prov = n->prov};
	atomic_store(&n->eng, e);
	if ((rc = node_worker_start(&n->follow, "follower", node_follow_main, n)) < 0) {
		atomic_store(&n->eng, NULL);
		goto out;
	}
	e = NULL;
out:
	sodium_memzero(&ec, sizeof ec);
	eng_free(e);
	if (rc < 0 && n->ecg) {
		eng_chain_grid_free(n->ecg);
		n->ecg = NULL;
	}
	return rc;
}

static void engine_tick(struct agent *a, void *state)
{
	struct agent_node *n = state;
	if (n->prov) {
		/* The acceleration is decided by the first VM: the STATUS line
		 * shows it (node_status_flush sends it when it changed). */
		char accel[64], note[sizeof n->vm_note];
		prov_vm_accel(n->prov, accel, sizeof accel);
		snprintf(note, sizeof note, "vm accel %s", accel);
		pthread_mutex_lock(&n->status_mu);
		if (strcmp(note, n->vm_note) != 0) {
			memcpy(n->vm_note, note, sizeof note);
			n->status_gen++;
		}
		pthread_mutex_unlock(&n->status_mu);
	}
	uint32_t node_id = atomic_load(&n->node_id);
	if (atomic_load(&n->eng) || !node_id || clk_mono_ms() < n->eng_retry_at)
		return;
	int rc = engine_up(n, node_id);
	if (rc < 0) {
		int64_t delay = backoff_next(&n->eng_backoff);
		log_err("node",
			"deploy engine for node %" PRIu32 " did not start: %s; retrying in %lld ms",
			node_id, zerr_str(rc), (long long)delay);
		n->eng_retry_at = clk_mono_ms() + delay;
		return;
	}
	log_info("node", "deploy engine running for node %" PRIu32, node_id);
}

static void engine_stop(struct agent *a, void *state)
{
	struct agent_node *n = state;
	node_worker_stop(&n->follow);
	struct eng *e = atomic_exchange(&n->eng, NULL);
	eng_free(e);
	eng_chain_grid_free(n->ecg);
	n->ecg = NULL;
	store_close(n->store);
	n->store = NULL;
	prov_ctx_free(n->prov);
	n->prov = NULL;
	img_store_close(n->images);
	n->images = NULL;
}

static int engine_reload(struct agent *a, void *state, const struct cfg *next)
{
	struct agent_node *n = state;
	atomic_store(&n->sync_interval, next->sync_interval);
	if (next->reserved_cru != a->cfg.reserved_cru || next->reserved_mru != a->cfg.reserved_mru ||
	    next->reserved_sru != a->cfg.reserved_sru || next->reserved_hru != a->cfg.reserved_hru)
		log_warn("node", "[reserved]: the offered capacity is measured at start; it changes "
			 "when the agent restarts");
	return 0;
}

static void engine_summary(struct agent *a, void *state)
{
	struct agent_node *n = state;
	struct eng *e = atomic_load(&n->eng);
	uint64_t pending = 0, quarantined = 0;
	if (n->store) {
		store_outbox_pending(n->store, &pending);
		store_quarantine_count(n->store, &quarantined);
	}
	if (!e) {
		log_info("node", "engine: waiting for the node's registration");
		return;
	}
	struct prov_capacity r;
	eng_reserved(e, &r);
	int64_t block = -1;
	eng_cursor_get(e, &block);
	log_info("node", "engine: reserved cru %" PRIu64 " mru %" PRIu64 " sru %" PRIu64
		 ", outbox %" PRIu64 ", quarantined %" PRIu64 ", followed to block %" PRId64,
		 r.cru, r.mru, r.sru, pending, quarantined, block);
}

const struct agent_subsys node_engine_subsys = {
	.name = "engine",
	.start = engine_start,
	.stop = engine_stop,
	.tick = engine_tick,
	.reload = engine_reload,
	.summary = engine_summary,
};
