/* One job: bring a deployment's workloads to what its state asks for. */
#include "agent/engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"

/* What a job works on: the stored deployment and its workloads' views. */
struct job_ctx {
	struct eng *e;
	struct store_dep d;
	struct store_wl *w;
	size_t n;
	struct prov_dep_workload *view;
	struct prov_deployment_view deps;
	int restore;
	/* While installing, what provision made is recorded with the
	 * transition that follows (one commit per deploy instead of one per
	 * workload as well); pend[i] is w[i]'s result text, pending[i] set. */
	int defer;
	unsigned char *pending;
	char **pend;
};

static void wl_id(const struct job_ctx *j, const struct store_wl *w, struct prov_workload_id *id)
{
	memset(id, 0, sizeof *id);
	/* Every provisioner operation starts from here: what it logs names the
	 * deployment's twin and the workload (journald fields, log.h). */
	log_ctx_twin(j->d.twin_id);
	log_ctx_workload(w->name);
	id->twin_id = j->d.twin_id;
	id->contract_id = j->d.contract_id;
	memcpy(id->name, w->name, sizeof id->name);
}

static const struct prov_ops *ops_of(const struct job_ctx *j, const struct store_wl *w,
				     char *err, size_t errsz)
{
	const struct prov_ops *ops = j->e->cfg.lookup(w->type);
	if (!ops)
		snprintf(err, errsz, "unknown workload type \"%s\"", w->type);
	return ops;
}

/* Records a workload's new state; a store failure is returned so the job is
 * retried rather than acting on state it could not write. */
static int set_wl(struct job_ctx *j, struct store_wl *w, enum store_wl_state st,
		  const char *result, const char *msg)
{
	/* Lazy: the row mirrors the host, which a restore inspects again, and
	 * provision and deprovision are idempotent; whatever is promised next
	 * (deployed, a reject) commits durably after it. */
	int rc = store_begin_lazy(j->e->store);
	if (rc == 0) {
		if ((rc = store_wl_set(j->e->store, j->d.contract_id, w->name, st, result, msg)) < 0)
			store_rollback(j->e->store);
		else
			rc = store_commit(j->e->store);
	}
	if (rc < 0) {
		log_err("engine", "contract %llu: cannot record %s as %s: %s",
			(unsigned long long)j->d.contract_id, w->name, store_wl_state_name(st),
			zerr_str(rc));
		return rc;
	}
	w->state = st;
	return 0;
}

/* Records the deferred results, inside the caller's transaction when there
 * is one. Kept until the caller's commit succeeded (pend_done). */
static int pend_flush(void *arg)
{
	struct job_ctx *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		if (!j->pending[i])
			continue;
		int rc = set_wl(j, &j->w[i], STORE_WL_OK, j->pend[i], "provisioned");
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void pend_done(struct job_ctx *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->pend[i]);
		j->pend[i] = NULL;
		j->pending[i] = 0;
	}
}

/* The deferred results in their own (lazy) transaction. */
static int pend_commit(struct job_ctx *j)
{
	int rc = store_begin_lazy(j->e->store);
	if (rc < 0)
		return rc;
	if ((rc = pend_flush(j)) < 0) {
		store_rollback(j->e->store);
		return rc;
	}
	if ((rc = store_commit(j->e->store)) == 0)
		pend_done(j);
	return rc;
}

/* Provisions one workload (idempotent per prov.h) and records the result. */
static int provision(struct job_ctx *j, struct store_wl *w, char *err, size_t errsz)
{
	const struct prov_ops *ops = ops_of(j, w, err, errsz);
	if (!ops)
		return ZE_UNSUPPORTED;
	cJSON *data = cJSON_Parse(w->spec);
	if (!data) {
		snprintf(err, errsz, "stored spec of %s does not parse", w->name);
		return ZE_MALFORMED;
	}
	struct prov_workload_id id;
	wl_id(j, w, &id);
	cJSON *result = NULL;
	err[0] = '\0';
	/* A container's image comes first: pulled (progress visible in
	 * zos.deployment.get/changes) and held, so the provisioner finds it
	 * complete in the image store. */
	int rc = eng_image_pull(j->e, j->d.contract_id, w->name, w->type, w->spec, err, errsz);
	if (rc == 0)
		rc = ops->provision(j->e->cfg.prov, &id, data, &j->deps, &result, err, errsz);
	dep_json_wipe(data);
	cJSON_Delete(data);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errsz, "%s", zerr_str(rc));
		/* History in the order things happened: what was made first. */
		int src = j->defer ? pend_commit(j) : 0;
		if (src == 0)
			src = set_wl(j, w, STORE_WL_ERROR, NULL, err);
		return src < 0 ? src : rc;
	}
	char *text = result ? cJSON_PrintUnformatted(result) : strdup("{}");
	cJSON_Delete(result);
	if (j->defer && text) {
		size_t i = (size_t)(w - j->w);
		free(j->pend[i]);
		j->pend[i] = text;
		j->pending[i] = 1;
		w->state = STORE_WL_OK;
		return 0;
	}
	rc = set_wl(j, w, STORE_WL_OK, text ? text : "{}", "provisioned");
	free(text);
	return rc;
}

static int deprovision(struct job_ctx *j, struct store_wl *w, const char *why, char *err,
		       size_t errsz)
{
	const struct prov_ops *ops = ops_of(j, w, err, errsz);
	if (ops) {
		struct prov_workload_id id;
		wl_id(j, w, &id);
		err[0] = '\0';
		int rc = ops->deprovision(j->e->cfg.prov, &id, err, errsz);
		if (rc < 0) {
			if (!err[0])
				snprintf(err, errsz, "%s", zerr_str(rc));
			log_warn("engine", "contract %llu: deprovision %s: %s",
				 (unsigned long long)j->d.contract_id, w->name, err);
			return rc;
		}
		/* Cancellation: the image may now be unused; GC collects it. */
		if (prov_runs_image(w->type))
			eng_image_release(j->e, j->d.contract_id, w->name);
	}
	/* A type this agent does not know has nothing it could have made. */
	return set_wl(j, w, STORE_WL_DELETED, NULL, why);
}

/* pause or resume one workload. */
static int freeze(struct job_ctx *j, struct store_wl *w, int pause, char *err, size_t errsz)
{
	const struct prov_ops *ops = ops_of(j, w, err, errsz);
	if (!ops)
		return ZE_UNSUPPORTED;
	struct prov_workload_id id;
	wl_id(j, w, &id);
	err[0] = '\0';
	int rc = pause ? ops->pause(j->e->cfg.prov, &id, err, errsz)
		       : ops->resume(j->e->cfg.prov, &id, err, errsz);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errsz, "%s", zerr_str(rc));
		return rc;
	}
	return set_wl(j, w, pause ? STORE_WL_PAUSED : STORE_WL_OK, NULL,
		      pause ? "paused: contract in grace period" : "resumed");
}

static int inspect(struct job_ctx *j, struct store_wl *w, enum prov_health *h, char *err,
		   size_t errsz)
{
	const struct prov_ops *ops = ops_of(j, w, err, errsz);
	if (!ops)
		return ZE_UNSUPPORTED;
	struct prov_workload_id id;
	wl_id(j, w, &id);
	err[0] = '\0';
	return ops->inspect(j->e->cfg.prov, &id, h, err, errsz);
}

/* A broken workload (half made, crashing) is removed on the host and made
 * again; provision alone would keep what exists. */
static int remake(struct job_ctx *j, struct store_wl *w, char *err, size_t errsz)
{
	const struct prov_ops *ops = ops_of(j, w, err, errsz);
	if (!ops)
		return ZE_UNSUPPORTED;
	struct prov_workload_id id;
	wl_id(j, w, &id);
	err[0] = '\0';
	int rc = ops->deprovision(j->e->cfg.prov, &id, err, errsz);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errsz, "%s", zerr_str(rc));
		return rc;
	}
	return provision(j, w, err, errsz);
}

/* Removes every workload, last installed first. */
static int remove_all(struct job_ctx *j, const char *why)
{
	char err[256];
	int first = 0;
	for (size_t i = j->n; i-- > 0;) {
		if (j->w[i].state == STORE_WL_DELETED)
			continue;
		int rc = deprovision(j, &j->w[i], why, err, sizeof err);
		if (rc < 0 && !first)
			first = rc;
	}
	return first;
}

static int install(struct job_ctx *j)
{
	char err[192], reason[STORE_REASON_MAX];
	j->defer = 1;
	for (size_t i = 0; i < j->n; i++) {
		struct store_wl *w = &j->w[i];
		if (w->state == STORE_WL_OK && !j->restore)
			continue;
		enum prov_health h = PROV_ABSENT;
		if (w->state == STORE_WL_OK &&
		    inspect(j, w, &h, err, sizeof err) == 0 && h == PROV_OK)
			continue;
		int rc = h == PROV_DEGRADED ? remake(j, w, err, sizeof err)
					    : provision(j, w, err, sizeof err);
		if (rc == 0)
			continue;
		j->defer = 0;
		if (eng_transient(rc)) {
			log_warn("engine", "contract %llu: %s: %s (will retry)",
				 (unsigned long long)j->d.contract_id, w->name, err);
			int prc = pend_commit(j);
			return prc < 0 ? prc : rc;
		}
		/* A workload that cannot be made: undo the rest and reject. */
		snprintf(reason, sizeof reason, "workload %s: %s", w->name, err);
		log_warn("engine", "contract %llu: %s; rolling back",
			 (unsigned long long)j->d.contract_id, reason);
		int trc = eng_transition_with(j->e, j->d.contract_id, ENG_ST(STORE_DEP_DEPLOYING),
					      STORE_DEP_FAILED, reason, ENG_T_REJECT, pend_flush, j);
		if (trc == 0)
			pend_done(j);
		else if (trc == ZE_STATE && (trc = pend_commit(j)) == 0)
			trc = ZE_STATE;
		if (trc < 0 && trc != ZE_STATE)
			return trc;
		/* Whatever the state is now (failed, or deleted meanwhile),
		 * nothing of this deployment may stay. */
		return remove_all(j, reason);
	}
	j->defer = 0;
	/* What was provisioned commits with the transition. */
	int rc = eng_transition_with(j->e, j->d.contract_id, ENG_ST(STORE_DEP_DEPLOYING),
				     STORE_DEP_DEPLOYED, NULL, ENG_T_DEPLOYED, pend_flush, j);
	if (rc == 0) {
		/* The transition's line ("deploying -> deployed") says it. */
		pend_done(j);
	} else if (rc == ZE_STATE) {
		/* The contract changed meanwhile; its new job handles it, from
		 * what the host has now. */
		return pend_commit(j);
	}
	return rc;
}

/* Deployed: everything runs. After a reboot what is gone is made again. */
static int keep_running(struct job_ctx *j)
{
	char err[256];
	int first = 0;
	for (size_t i = 0; i < j->n; i++) {
		struct store_wl *w = &j->w[i];
		int rc = 0;
		enum prov_health h = PROV_ABSENT;
		switch (w->state) {
		case STORE_WL_OK:
			if (!j->restore)
				continue;
			rc = inspect(j, w, &h, err, sizeof err);
			if (rc < 0 || h == PROV_OK)
				break;
			if (h == PROV_PAUSED)
				rc = freeze(j, w, 0, err, sizeof err);
			else if (h == PROV_DEGRADED)
				rc = remake(j, w, err, sizeof err);
			else
				rc = provision(j, w, err, sizeof err);
			break;
		case STORE_WL_PAUSED:
			rc = freeze(j, w, 0, err, sizeof err);
			/* Resuming what a reboot removed means making it again. */
			if (rc < 0 && inspect(j, w, &h, err, sizeof err) == 0 && h == PROV_ABSENT)
				rc = provision(j, w, err, sizeof err);
			break;
		default:
			rc = provision(j, w, err, sizeof err);
			break;
		}
		if (rc < 0) {
			log_warn("engine", "contract %llu: %s: %s (will retry)",
				 (unsigned long long)j->d.contract_id, w->name, err);
			if (!first)
				first = rc;
		}
	}
	return first;
}

/* Paused (grace period): containers first, as they use the rest. */
static int keep_paused(struct job_ctx *j)
{
	char err[256];
	int first = 0;
	for (size_t i = j->n; i-- > 0;) {
		struct store_wl *w = &j->w[i];
		int rc = 0;
		enum prov_health h = PROV_ABSENT;
		if (w->state == STORE_WL_PAUSED && j->restore) {
			rc = inspect(j, w, &h, err, sizeof err);
			if (rc == 0 && h == PROV_ABSENT && (rc = provision(j, w, err, sizeof err)) == 0)
				rc = freeze(j, w, 1, err, sizeof err);
			else if (rc == 0 && h != PROV_PAUSED)
				rc = freeze(j, w, 1, err, sizeof err);
		} else if (w->state == STORE_WL_OK) {
			rc = freeze(j, w, 1, err, sizeof err);
		}
		if (rc < 0) {
			log_warn("engine", "contract %llu: pause %s: %s",
				 (unsigned long long)j->d.contract_id, w->name, err);
			if (!first)
				first = rc;
		}
	}
	return first;
}

int eng_reconcile(struct eng *e, uint64_t cid, int restore, struct eng_pre *pre)
{
	struct job_ctx j = {.e = e, .restore = restore};
	int rc = 0;
	if (pre && !restore && pre->d.contract_id == cid) {
		/* Just accepted: the record is what was committed. */
		j.d = pre->d;
		j.w = pre->w;
		j.n = pre->n;
		free(pre);
	} else {
		eng_pre_free(pre);
		rc = store_dep_get(e->store, cid, &j.d, &j.w, &j.n);
	}
	if (rc == ZE_ABSENT || rc == ZE_MALFORMED)
		return 0; /* nothing to do, or quarantined and reported */
	if (rc < 0)
		return rc;
	j.view = calloc(j.n ? j.n : 1, sizeof *j.view);
	j.pending = calloc(j.n ? j.n : 1, 1);
	j.pend = calloc(j.n ? j.n : 1, sizeof *j.pend);
	if (!j.view || !j.pending || !j.pend) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < j.n; i++) {
		j.view[i].name = j.w[i].name;
		j.view[i].type = j.w[i].type;
	}
	j.deps.twin_id = j.d.twin_id;
	j.deps.contract_id = cid;
	j.deps.count = j.n;
	j.deps.workloads = j.view;

	switch (j.d.state) {
	case STORE_DEP_DEPLOYING:
		rc = install(&j);
		break;
	case STORE_DEP_DEPLOYED:
		rc = keep_running(&j);
		break;
	case STORE_DEP_PAUSED:
		rc = keep_paused(&j);
		break;
	case STORE_DEP_FAILED:
	case STORE_DEP_DELETED:
		rc = remove_all(&j, j.d.reason[0] ? j.d.reason : "removed");
		break;
	default:
		rc = 0;
		break;
	}
out:
	if (j.pend && j.pending)
		pend_done(&j);
	free(j.pend);
	free(j.pending);
	free(j.view);
	store_dep_clear(&j.d);
	store_wls_free(j.w, j.n);
	return rc;
}
