/* The deploy command's checks, all made before the reply. */
#include "agent/engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/zerr.h"

static int refuse(int *code, char *err, size_t errsz, int c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int refuse(int *code, char *err, size_t errsz, int c, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	*code = c;
	return rc;
}

/* The answer for a contract the store already knows: the command is
 * idempotent, and repeats it cheaply without asking the chain. */
static int known(const struct store_dep *d, uint32_t caller, const char **status, int *code,
		 char *err, size_t errsz)
{
	if (d->twin_id != caller)
		return refuse(code, err, errsz, ENG_E_FORBIDDEN, ZE_STATE,
			      "contract %" PRIu64 " belongs to twin %u, not to twin %u",
			      d->contract_id, d->twin_id, caller);
	switch (d->state) {
	case STORE_DEP_DEPLOYING:
		*status = "deploying";
		return 0;
	case STORE_DEP_DEPLOYED:
	case STORE_DEP_PAUSED:
		*status = "deployed";
		return 0;
	case STORE_DEP_FAILED:
		return refuse(code, err, errsz, ENG_E_INVALID, ZE_STATE, "rejected: %s", d->reason);
	default:
		return refuse(code, err, errsz, ENG_E_STATE, ZE_STATE, "contract %" PRIu64
			      " was deleted: %s", d->contract_id, d->reason);
	}
}

/*
 * The contract itself is bad: remember it as failed and queue
 * reject_contract(reason), in one transaction, so a repeated command gets
 * the same answer and the chain removes the contract.
 */
static int reject(struct eng *e, const struct eng_contract *c, int code_val, int *code,
		  char *err, size_t errsz, int *stored, uint64_t *defer, const char *reason)
{
	struct store_dep d = {.contract_id = c->id, .twin_id = c->twin_id,
			      .state = STORE_DEP_FAILED, .doc = ""};
	memcpy(d.hash, c->deployment_hash, 32);
	snprintf(d.reason, sizeof d.reason, "%s", reason);
	int rc = store_begin(e->store);
	if (rc == 0) {
		if ((rc = store_dep_insert(e->store, &d, NULL, 0)) < 0 ||
		    (rc = eng_outbox_reject(e, c->id, d.reason)) < 0)
			store_rollback(e->store);
		else if (defer)
			rc = store_commit_async(e->store, defer); /* the block's sync */
		else
			rc = store_commit(e->store);
	}
	if (rc == 0) {
		*stored = 1;
		eng_kick_outbox(e);
	} else if (rc != ZE_STATE)
		log_err("engine", "contract %" PRIu64 ": cannot record the rejection: %s", c->id,
			zerr_str(rc));
	log_info("engine", "contract %" PRIu64 " rejected: %s", c->id, reason);
	return refuse(code, err, errsz, code_val, ZE_STATE, "%s", reason);
}

/* Reserves cap if it fits; the admission counter is the engine's. */
static int admit(struct eng *e, const struct prov_capacity *want, char *err, size_t errsz)
{
	const struct prov_capacity *t = &e->cfg.total;
	const char *names[4] = {"cru", "mru", "sru", "hru"};
	uint64_t w[4] = {want->cru, want->mru, want->sru, want->hru};
	uint64_t tot[4] = {t->cru, t->mru, t->sru, t->hru};
	pthread_mutex_lock(&e->mu);
	uint64_t r[4] = {e->reserved.cru, e->reserved.mru, e->reserved.sru, e->reserved.hru};
	for (int i = 0; i < 4; i++) {
		if (w[i] > tot[i]) {
			pthread_mutex_unlock(&e->mu);
			snprintf(err, errsz, "deployment needs %s %" PRIu64 ", more than the node's "
				 "total %" PRIu64, names[i], w[i], tot[i]);
			return ZE_CAPACITY;
		}
		if (r[i] > tot[i] || w[i] > tot[i] - r[i]) {
			pthread_mutex_unlock(&e->mu);
			snprintf(err, errsz, "deployment needs %s %" PRIu64 ", only %" PRIu64
				 " of %" PRIu64 " is free", names[i], w[i],
				 r[i] > tot[i] ? 0 : tot[i] - r[i], tot[i]);
			return ZE_CAPACITY;
		}
	}
	e->reserved.cru += want->cru;
	e->reserved.mru += want->mru;
	e->reserved.sru += want->sru;
	e->reserved.hru += want->hru;
	pthread_mutex_unlock(&e->mu);
	return 0;
}

/* The twin from the cache when read within ENG_TWIN_TTL_MS (*cached = 1),
 * else from the chain (and remembered); fresh skips the cache. *has_x says
 * whether x got the twin's x25519 key from the cache. */
static int twin_get(struct eng *e, uint32_t id, int fresh, struct eng_twin *t, int *cached,
		    uint8_t x[32], int *has_x)
{
	struct eng_twin_entry *slot = &e->twins[id % ENG_TWIN_CACHE];
	int64_t now = clk_mono_ms();
	*cached = *has_x = 0;
	if (!fresh) {
		pthread_mutex_lock(&e->mu);
		if (slot->id == id && now - slot->at < ENG_TWIN_TTL_MS) {
			*t = slot->t;
			*cached = 1;
			if ((*has_x = slot->has_x))
				memcpy(x, slot->x, 32);
		}
		pthread_mutex_unlock(&e->mu);
		if (*cached)
			return 0;
	}
	memset(t, 0, sizeof *t);
	eng_flush_wakes(e); /* a chain read: held jobs do not wait for it */
	int rc = e->chain.get_twin(e->chain.ctx, id, t);
	pthread_mutex_lock(&e->mu);
	if (rc == 0) {
		slot->id = id;
		slot->at = now;
		slot->t = *t;
		slot->has_x = 0;
	} else if (slot->id == id) {
		slot->id = 0; /* absent or unreadable now: ask again next time */
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* Remembers twin t's x25519 key, if the cache still holds that twin. */
static void twin_put_x(struct eng *e, uint32_t id, const struct eng_twin *t, const uint8_t x[32])
{
	struct eng_twin_entry *slot = &e->twins[id % ENG_TWIN_CACHE];
	pthread_mutex_lock(&e->mu);
	/* Fields, not the struct: its padding is not part of the value. */
	if (slot->id == id && !memcmp(slot->t.account, t->account, 32) &&
	    slot->t.has_pk == t->has_pk && slot->t.pk_len == t->pk_len &&
	    t->pk_len <= sizeof t->pk && !memcmp(slot->t.pk, t->pk, t->pk_len)) {
		memcpy(slot->x, x, 32);
		slot->has_x = 1;
	}
	pthread_mutex_unlock(&e->mu);
}

/* Opens the contract's data with the owner's key (sender: its x25519 form
 * when known, else converted here into sender); *pt freed by seal_free. */
static int open_data(struct eng *e, const struct eng_contract *c, const struct eng_twin *t,
		     uint8_t sender[32], int has_x, uint8_t **pt, size_t *ptlen, char *err,
		     size_t errsz)
{
	int rc = 0;
	if (!has_x) {
		rc = seal_twin_x25519(t->has_pk ? t->pk : NULL, t->pk_len, t->account, sender);
		if (rc < 0) {
			snprintf(err, errsz, "the key of twin %u is not a usable x25519 key",
				 c->twin_id);
			return rc;
		}
		twin_put_x(e, c->twin_id, t, sender);
	}
	rc = seal_open(c->data, c->data_len, sender, e->cfg.node_x25519_sk, e->cfg.max_data, pt,
		       ptlen);
	if (rc == ZE_TOOBIG)
		snprintf(err, errsz, "deployment_data is larger than %zu bytes", e->cfg.max_data);
	else if (rc == ZE_MALFORMED)
		snprintf(err, errsz, "deployment_data is not a sealed deployment (version %d)",
			 c->data_len ? c->data[0] : -1);
	else if (rc < 0)
		snprintf(err, errsz, "deployment_data does not decrypt with the keys of twin %u "
			 "and this node", c->twin_id);
	return rc;
}

/* Claims (ports, names) are checked and recorded under one lock, so two
 * deployments accepted at once cannot both take the same port. */
static pthread_mutex_t claim_mu = PTHREAD_MUTEX_INITIALIZER;

struct claims {
	size_t n;
	struct prov_claim c[PROV_CLAIMS_MAX];
};

/* Appends the claims of one workload; ZE_TOOBIG past PROV_CLAIMS_MAX. */
static int claims_add(struct eng *e, const char *type, const cJSON *data, struct claims *cl)
{
	const struct prov_ops *ops = e->cfg.lookup(type);
	if (!ops || !ops->claims)
		return 0;
	size_t n = 0;
	int rc = ops->claims(data, cl->c + cl->n, PROV_CLAIMS_MAX - cl->n, &n);
	if (rc == 0)
		cl->n += n;
	return rc;
}

static int claims_find(const struct claims *cl, const char *key)
{
	for (size_t i = 0; i < cl->n; i++)
		if (strcmp(cl->c[i].key, key) == 0)
			return 1;
	return 0;
}

/* Refuses (err) when a claim of doc is taken by itself twice, by another
 * live deployment, or by something else on the host. Called with claim_mu. */
static int claims_check(struct eng *e, uint64_t cid, const struct dep_doc *doc, char *err,
			size_t errsz)
{
	struct claims *mine = calloc(1, sizeof *mine), *other = calloc(1, sizeof *other);
	uint64_t *ids = NULL;
	size_t nids = 0;
	int rc = mine && other ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < doc->count; i++) {
		size_t before = mine->n;
		if ((rc = claims_add(e, doc->w[i].type, doc->w[i].data, mine)) < 0) {
			snprintf(err, errsz, "too many ports or names in one deployment");
			break;
		}
		for (size_t k = before; k < mine->n && rc == 0; k++)
			for (size_t m = 0; m < before; m++)
				if (strcmp(mine->c[k].key, mine->c[m].key) == 0) {
					snprintf(err, errsz, "%s is asked for twice in the deployment",
						 mine->c[k].key);
					rc = ZE_STATE;
					break;
				}
	}
	if (rc == 0 && mine->n && (rc = store_dep_ids(e->store, &ids, &nids)) < 0)
		snprintf(err, errsz, "state store: %s", zerr_str(rc));
	for (size_t i = 0; rc == 0 && i < nids; i++) {
		struct store_dep d;
		struct store_wl *w = NULL;
		size_t n = 0;
		if (ids[i] == cid || store_dep_get(e->store, ids[i], &d, &w, &n) < 0)
			continue;
		int live = d.state != STORE_DEP_FAILED && d.state != STORE_DEP_DELETED;
		store_dep_clear(&d);
		other->n = 0;
		for (size_t k = 0; live && k < n; k++) {
			if (w[k].state == STORE_WL_DELETED || !w[k].spec)
				continue;
			cJSON *data = cJSON_Parse(w[k].spec);
			/* Past the bound the claims that fitted are still compared. */
			if (data)
				(void)claims_add(e, w[k].type, data, other);
			if (data)
				dep_json_wipe(data);
			cJSON_Delete(data);
		}
		store_wls_free(w, n);
		for (size_t k = 0; k < mine->n; k++)
			if (claims_find(other, mine->c[k].key)) {
				snprintf(err, errsz, "%s is taken by another deployment on this node; "
					 "choose another", mine->c[k].key);
				rc = ZE_STATE;
				break;
			}
	}
	for (size_t k = 0; rc == 0 && e->cfg.claim_check && k < mine->n; k++)
		rc = e->cfg.claim_check(e->cfg.prov, &mine->c[k], err, errsz);
	free(ids);
	free(mine);
	free(other);
	return rc;
}

/* Stores the validated deployment (state deploying) with its workloads;
 * durable once store_wait_durable(*ticket) returned, which the caller does
 * after releasing claim_mu so that concurrent accepts share one sync. */
static int record(struct eng *e, const struct eng_contract *c, const struct dep_doc *doc,
		  const char *text, uint64_t *ticket, struct eng_pre **pre)
{
	*pre = NULL;
	struct store_wl *w = calloc(doc->count, sizeof *w);
	if (!w)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < doc->count; i++) {
		memcpy(w[i].name, doc->w[i].name, sizeof w[i].name);
		snprintf(w[i].type, sizeof w[i].type, "%s", doc->w[i].type);
		w[i].state = STORE_WL_INIT;
		w[i].ord = (int)i;
		w[i].cap = doc->w[i].cap;
		if (!(w[i].spec = cJSON_PrintUnformatted(doc->w[i].data))) {
			rc = -ENOMEM;
			break;
		}
	}
	if (rc == 0) {
		struct store_dep d = {.contract_id = c->id, .twin_id = c->twin_id,
				      .state = STORE_DEP_DEPLOYING, .doc = (char *)text,
				      .cap = doc->total};
		memcpy(d.hash, c->deployment_hash, 32);
		if ((rc = store_begin(e->store)) == 0) {
			if ((rc = store_dep_insert(e->store, &d, w, doc->count)) < 0)
				store_rollback(e->store);
			else
				rc = store_commit_async(e->store, ticket);
		}
		/* The record goes to the job that installs it (eng_enqueue_pre):
		 * it need not read back what was just written. Without memory
		 * for it, the job reads. */
		if (rc == 0 && (*pre = calloc(1, sizeof **pre))) {
			d.doc = NULL;
			(*pre)->d = d;
			(*pre)->w = w;
			(*pre)->n = doc->count;
			return 0;
		}
	}
	store_wls_free(w, doc->count);
	return rc;
}

/* Everything after the contract was read: keys, hash, document, capacity.
 * *stored = 1 when the store changed (accepted or rejected). With defer the
 * acceptance or rejection is not waited for: *defer gets its commit's
 * ticket. */
static int check_and_record(struct eng *e, const struct eng_contract *c, int *code, char *err,
			    size_t errsz, int *stored, uint64_t *defer, struct eng_pre **pre)
{
	*pre = NULL;
	char detail[STORE_REASON_MAX - 32]; /* room for a prefix in the reason */
	struct eng_twin t;
	uint8_t sender[32];
	int cached = 0, has_x = 0;
	int rc = twin_get(e, c->twin_id, 0, &t, &cached, sender, &has_x);
	if (rc == ZE_ABSENT)
		return refuse(code, err, errsz, ENG_E_NOT_FOUND, rc,
			      "twin %u of contract %" PRIu64 " does not exist", c->twin_id, c->id);
	if (rc < 0)
		return refuse(code, err, errsz, ENG_E_UNAVAILABLE, rc,
			      "cannot read twin %u from the chain (%s); retry later", c->twin_id,
			      zerr_str(rc));

	uint8_t *pt = NULL;
	size_t ptlen = 0;
	rc = open_data(e, c, &t, sender, has_x, &pt, &ptlen, detail, sizeof detail);
	if (rc < 0 && cached && rc != ZE_TOOBIG && rc != ZE_MALFORMED) {
		/* The twin may have changed its key since it was cached: a
		 * rejection must rest on what the chain says now. */
		if ((rc = twin_get(e, c->twin_id, 1, &t, &cached, sender, &has_x)) < 0)
			return refuse(code, err, errsz, rc == ZE_ABSENT ? ENG_E_NOT_FOUND
								 : ENG_E_UNAVAILABLE, rc,
				      "cannot read twin %u from the chain (%s); retry later",
				      c->twin_id, zerr_str(rc));
		rc = open_data(e, c, &t, sender, has_x, &pt, &ptlen, detail, sizeof detail);
	}
	if (rc < 0)
		return reject(e, c, ENG_E_INVALID, code, err, errsz, stored, defer, detail);
	if (seal_hash_check(pt, ptlen, c->deployment_hash) < 0) {
		seal_free(pt, ptlen);
		return reject(e, c, ENG_E_INVALID, code, err, errsz, stored, defer,
			      "deployment_hash does not match the decrypted deployment");
	}
	struct dep_doc doc;
	rc = dep_parse((const char *)pt, ptlen, c->twin_id, e->cfg.lookup, &doc, detail, sizeof detail);
	if (rc == -ENOMEM) {
		seal_free(pt, ptlen);
		return refuse(code, err, errsz, ENG_E_INTERNAL, rc, "out of memory");
	}
	if (rc < 0) {
		seal_free(pt, ptlen);
		char r[STORE_REASON_MAX];
		snprintf(r, sizeof r, "invalid deployment: %s", detail);
		return reject(e, c, ENG_E_INVALID, code, err, errsz, stored, defer, r);
	}
	int icode = 0;
	if ((rc = eng_image_admit(e, &doc, &icode, detail, sizeof detail)) < 0) {
		dep_free(&doc);
		seal_free(pt, ptlen);
		if (icode == ENG_E_INVALID || icode == ENG_E_CAPACITY)
			return reject(e, c, icode, code, err, errsz, stored, defer, detail);
		/* The registry could not be asked: nothing is wrong with the
		 * contract yet, so it is not rejected; the user retries. */
		return refuse(code, err, errsz, icode ? icode : ENG_E_INTERNAL, rc, "%s; retry later",
			      detail);
	}
	pthread_mutex_lock(&claim_mu);
	if ((rc = claims_check(e, c->id, &doc, detail, sizeof detail)) < 0) {
		pthread_mutex_unlock(&claim_mu);
		dep_free(&doc);
		seal_free(pt, ptlen);
		if (rc == -ENOMEM)
			return refuse(code, err, errsz, ENG_E_INTERNAL, rc, "out of memory");
		return reject(e, c, ENG_E_STATE, code, err, errsz, stored, defer, detail);
	}
	if ((rc = admit(e, &doc.total, detail, sizeof detail)) < 0) {
		pthread_mutex_unlock(&claim_mu);
		dep_free(&doc);
		seal_free(pt, ptlen);
		return reject(e, c, ENG_E_CAPACITY, code, err, errsz, stored, defer, detail);
	}
	uint64_t ticket = 0;
	struct eng_pre *rec = NULL;
	rc = record(e, c, &doc, (const char *)pt, &ticket, &rec);
	pthread_mutex_unlock(&claim_mu);
	struct prov_capacity total = doc.total;
	dep_free(&doc);
	seal_free(pt, ptlen);
	if (rc == 0)
		*stored = 1;
	if (rc == 0 && defer) {
		*defer = ticket; /* no reply rests on it here */
		*pre = rec;
		return 0;
	}
	/* The reply waits until the acceptance is on disk. It is stored either
	 * way (its reservation stays); a repeated command answers from it. */
	if (rc == 0 && (rc = store_wait_durable(e->store, ticket)) < 0) {
		eng_pre_free(rec);
		return refuse(code, err, errsz, ENG_E_INTERNAL, rc,
			      "cannot make the deployment durable: %s; retry later", zerr_str(rc));
	}
	if (rc == 0)
		*pre = rec;
	if (rc < 0) {
		eng_release(e, &total);
		if (rc == ZE_STATE)
			return 1; /* a concurrent command stored it first */
		return refuse(code, err, errsz, ENG_E_INTERNAL, rc, "cannot store the deployment: %s",
			      zerr_str(rc));
	}
	return 0;
}

int eng_accept(struct eng *e, uint32_t caller, uint64_t cid, const char **status, int *code,
               char *err, size_t errsz)
{
	return eng_accept_data(e, caller, cid, NULL, 0, status, code, err, errsz);
}

/* eng_accept_data, with the contract already read when pre is set (taken
 * over: cleared on return); by_chain for the event path and the full sync. */
static int accept_contract(struct eng *e, uint32_t caller, uint64_t cid, struct eng_contract *pre,
			   int by_chain, const uint8_t *data, size_t data_len, const char **status,
			   int *code, char *err, size_t errsz);

int eng_accept_data(struct eng *e, uint32_t caller, uint64_t cid, const uint8_t *data,
                    size_t data_len, const char **status, int *code, char *err, size_t errsz)
{
	return accept_contract(e, caller, cid, NULL, 0, data, data_len, status, code, err, errsz);
}

/* The state of a deployment the store holds: a row's state without its
 * document, for the paths that only ask whether a contract is known (its
 * whole record is read only when the answer needs it). 0, ZE_ABSENT, or
 * another negative error as store_dep_state. */
static int dep_state(struct eng *e, uint64_t cid, enum store_dep_state *st)
{
	struct prov_capacity cap;
	return store_dep_state(e->store, cid, st, &cap);
}

/* The answer for a contract the store holds (d, cleared here). */
static int answer_known(struct eng *e, struct store_dep *d, uint32_t caller, int by_chain,
			const char **status, int *code, char *err, size_t errsz)
{
	if (by_chain) {
		/* A block read again, or the command was first: nothing to do. */
		store_dep_clear(d);
		*status = "already known";
		return 0;
	}
	int rc = known(d, caller, status, code, err, errsz);
	/* A repeated command nudges a deployment whose job gave up on
	 * retries. */
	if (rc == 0 && d->state == STORE_DEP_DEPLOYING)
		eng_enqueue(e, d->contract_id, 0, 0, 0);
	store_dep_clear(d);
	return rc;
}

/* The outcome the event path had for the owner's command: the same answer
 * it would have had itself, sent once the acceptance is durable. */
static int answer_taken(struct eng *e, uint32_t caller, uint64_t cid, const struct eng_ho_res *r,
			const char **status, int *code, char *err, size_t errsz)
{
	int rc;
	if (r->ticket && (rc = store_wait_durable(e->store, r->ticket)) < 0)
		return refuse(code, err, errsz, ENG_E_INTERNAL, rc,
			      "cannot make the deployment durable: %s; retry later", zerr_str(rc));
	if (r->rc == 0) {
		/* A command that comes after the deployment moved on (its job
		 * finished, or it failed since) gets the store's answer, as a
		 * repeat would: "accepted" is only for one that raced the
		 * acceptance, when the store still says deploying. */
		enum store_dep_state st;
		struct store_dep d;
		int got = dep_state(e, cid, &st) == 0;
		if (got && (st == STORE_DEP_DEPLOYED || st == STORE_DEP_PAUSED)) {
			/* The usual case: provisioned before the answer went out.
			 * The outcome was kept for this twin, so it owns the
			 * contract; only a failure needs the record's reason. */
			*status = "deployed";
			return 0;
		}
		if (got && st != STORE_DEP_DEPLOYING &&
		    store_dep_get(e->store, cid, &d, NULL, NULL) == 0)
			return answer_known(e, &d, caller, 0, status, code, err, errsz);
		log_info("engine",
			 "contract %" PRIu64 ": twin %u's deploy command answered by its "
			 "block's acceptance",
			 cid, caller);
	}
	*status = r->status;
	*code = r->code;
	snprintf(err, errsz, "%s", r->err);
	return r->rc;
}

/* The checks and the store for a claimed contract; c holds it when have_c
 * (taken over: cleared on return). */
static int accept_work(struct eng *e, uint32_t caller, uint64_t cid, struct eng_contract *cp,
		       int have_c, int by_chain, const uint8_t *data, size_t data_len,
		       int *stored, uint64_t *defer, const char **status, int *code, char *err,
		       size_t errsz)
{
	struct store_dep d;
	struct eng_pre *pre = NULL; /* the record, for the job */
	enum store_dep_state st;
	struct eng_contract c = *cp;
	memset(cp, 0, sizeof *cp);
	/* The event path needs no more than "known"; a command reads the
	 * record for its answer. A new contract (above every id stored) needs
	 * no read: the claim keeps the other path out meanwhile, and an
	 * unclaimed race ends at the store's unique insert. */
	int rc = !store_dep_may_exist(e->store, cid) ? ZE_ABSENT
		 : by_chain ? dep_state(e, cid, &st)
			    : store_dep_get(e->store, cid, &d, NULL, NULL);
	if (rc == 0) {
		eng_contract_clear(&c);
		if (by_chain) {
			/* A block read again, or the command was first: nothing to do. */
			*status = "already known";
			return 0;
		}
		return answer_known(e, &d, caller, by_chain, status, code, err, errsz);
	}
	if (rc != ZE_ABSENT && rc != ZE_MALFORMED) {
		eng_contract_clear(&c);
		return refuse(code, err, errsz, ENG_E_INTERNAL, rc, "state store: %s",
			      zerr_str(rc));
	}

	if (!have_c)
		eng_flush_wakes(e); /* a chain read: held jobs do not wait for it */
	rc = have_c ? 0 : e->chain.get_contract(e->chain.ctx, cid, &c);
	if (rc == ZE_ABSENT)
		return refuse(code, err, errsz, ENG_E_NOT_FOUND, rc,
			      "contract %" PRIu64 " does not exist on chain", cid);
	if (rc < 0)
		return refuse(code, err, errsz, ENG_E_UNAVAILABLE, rc,
			      "cannot read contract %" PRIu64 " from the chain (%s); retry later",
			      cid, zerr_str(rc));
	c.id = cid;
	/* A contract that holds only the hash gets its sealed deployment from
	 * the caller; it is checked exactly like on-chain data (opened with the
	 * contract twin's key, hashed against deployment_hash). */
	if (c.node_contract && !c.data_len && data && data_len) {
		if (data_len > (e->cfg.max_data ? e->cfg.max_data : SEAL_DEFAULT_MAX)) {
			eng_contract_clear(&c);
			return refuse(code, err, errsz, ENG_E_BAD_REQUEST, ZE_TOOBIG,
			              "the sealed deployment is larger than %zu bytes",
			              e->cfg.max_data ? e->cfg.max_data : (size_t)SEAL_DEFAULT_MAX);
		}
		free(c.data); /* an empty allocation */
		if (!(c.data = malloc(data_len))) {
			eng_contract_clear(&c);
			return refuse(code, err, errsz, ENG_E_INTERNAL, -ENOMEM, "out of memory");
		}
		memcpy(c.data, data, data_len);
		c.data_len = data_len;
	}
	if (!c.node_contract)
		rc = refuse(code, err, errsz, ENG_E_FORBIDDEN, ZE_STATE,
			    "contract %" PRIu64 " is not a node contract", cid);
	else if (c.node_id != e->cfg.node_id)
		rc = refuse(code, err, errsz, ENG_E_FORBIDDEN, ZE_STATE,
			    "contract %" PRIu64 " is for node %u, this is node %u", cid, c.node_id,
			    e->cfg.node_id);
	else if (c.twin_id != caller)
		rc = refuse(code, err, errsz, ENG_E_FORBIDDEN, ZE_STATE,
			    "contract %" PRIu64 " belongs to twin %u, not to twin %u", cid,
			    c.twin_id, caller);
	else if (c.state == ENG_CS_DEPLOYED || c.state == ENG_CS_GRACE)
		rc = refuse(code, err, errsz, ENG_E_STATE, ZE_STATE,
			    "contract %" PRIu64 " is already deployed but unknown to this node",
			    cid);
	else if (c.state != ENG_CS_CREATED)
		rc = refuse(code, err, errsz, ENG_E_STATE, ZE_STATE,
		            "contract %" PRIu64 " is deleted", cid);
	else if (!c.data_len)
		rc = refuse(code, err, errsz, ENG_E_BAD_REQUEST, ZE_ABSENT,
		            "contract %" PRIu64 " holds only the deployment's hash: send the "
		            "sealed deployment in the deploy command's \"deployment\" (base64)",
		            cid);
	else
		rc = check_and_record(e, &c, code, err, errsz, stored, defer, &pre);
	eng_contract_clear(&c);
	if (rc == 1) {
		/* Lost a race with the same command: answer as for a repeat. */
		if (store_dep_get(e->store, cid, &d, NULL, NULL) < 0)
			return refuse(code, err, errsz, ENG_E_INTERNAL, ZE_STATE,
				      "contract %" PRIu64 " changed while checked", cid);
		return answer_known(e, &d, caller, by_chain, status, code, err, errsz);
	}
	if (rc < 0)
		return rc;
	if ((rc = eng_enqueue_pre(e, cid, pre)) < 0)
		/* It is stored: the next sync or restart runs it. */
		log_warn("engine", "contract %" PRIu64 ": queue full, runs at the next sync", cid);
	*status = "accepted";
	/* One line per acceptance, whichever path: each costs a write. */
	log_info("engine", "contract %" PRIu64 " accepted from twin %u%s", cid, caller,
		 by_chain ? ", seen on chain" : "");
	return 0;
}

static int accept_contract(struct eng *e, uint32_t caller, uint64_t cid, struct eng_contract *pre,
			   int by_chain, const uint8_t *data, size_t data_len, const char **status,
			   int *code, char *err, size_t errsz)
{
	struct eng_contract c;
	struct eng_ho_res res;
	int have_c = pre != NULL, parked = 0, stored = 0;
	uint64_t ticket = 0;
	*status = NULL;
	*code = 0;
	err[0] = '\0';
	memset(&c, 0, sizeof c);
	if (pre) {
		c = *pre;
		memset(pre, 0, sizeof *pre);
	}
	/* One path at a time does the work for a contract (engine_handoff.c). */
	enum eng_ho_claim how = eng_ho_claim(e, cid, caller, by_chain, ENG_HO_ASK,
					     have_c ? NULL : &c, &parked, &res);
	if (how == ENG_HO_WAIT) {
		/* A repeated command is answered from the store at once; a new
		 * contract waits for the follower's block. */
		enum store_dep_state st;
		int known_now = store_dep_may_exist(e->store, cid) && dep_state(e, cid, &st) == 0;
		/* Known: the event path may have just stored it, so its
		 * outcome is still taken before the store answers. */
		how = eng_ho_claim(e, cid, caller, by_chain, known_now ? ENG_HO_NOW : ENG_HO_AWAIT,
				   &c, &parked, &res);
	}
	if (how == ENG_HO_TAKEN)
		return answer_taken(e, caller, cid, &res, status, code, err, errsz);
	if (how == ENG_HO_OTHER) {
		/* The event path, while another path accepts it or did. */
		eng_contract_clear(&c);
		*status = "accepted by its deploy command";
		return 0;
	}
	int rc = accept_work(e, caller, cid, &c, have_c || parked, by_chain, data, data_len,
			     &stored, by_chain ? &ticket : NULL, status, code, err, errsz);
	if (how == ENG_HO_MINE)
		eng_ho_release(e, cid, by_chain, stored, caller, rc, *code, *status, err, ticket);
	return rc;
}

int eng_adopt(struct eng *e, uint64_t cid)
{
	return eng_adopt_contract(e, cid, NULL);
}

int eng_adopt_contract(struct eng *e, uint64_t cid, struct eng_contract *pre)
{
	struct store_dep d;
	struct eng_contract c;
	memset(&c, 0, sizeof c);
	int rc = 0;
	if (pre) {
		/* From its event: the store is asked once the contract is claimed
		 * (accept_work), and another node's costs nothing. */
		c = *pre;
		memset(pre, 0, sizeof *pre);
	} else {
		if (!e->cfg.adopt || store_dep_get(e->store, cid, &d, NULL, NULL) == 0) {
			/* Off, or the bus (or an earlier event) was first. */
			if (e->cfg.adopt)
				store_dep_clear(&d);
			return 0;
		}
		eng_flush_wakes(e); /* a chain read: held jobs do not wait for it */
		if ((rc = e->chain.get_contract(e->chain.ctx, cid, &c)) < 0)
			return rc == ZE_ABSENT ? 0 : rc;
	}
	c.id = cid;
	int mine = c.node_contract && c.node_id == e->cfg.node_id && c.state == ENG_CS_CREATED;
	int has_data = c.data_len > 0;
	uint32_t twin = c.twin_id;
	if (mine && !has_data && pre)
		/* The owner's command brings the data: it needs no read. */
		eng_ho_park(e, &c);
	if (!mine || !has_data || !e->cfg.adopt) {
		eng_contract_clear(&c);
		if (mine && !has_data && e->cfg.adopt)
			log_info("engine",
			         "contract %" PRIu64 " holds only its hash: waiting for twin %u "
			         "to send the deployment over RMB",
			         cid, twin);
		return 0;
	}
	const char *status;
	int code;
	char err[256];
	/* The same checks and the same store as the deploy command, one at a
	 * time (engine_handoff.c): whichever path comes second finds the
	 * deployment stored, or the first one's outcome. The contract just read
	 * (or carried by the event) is not read again. */
	rc = accept_contract(e, twin, cid, &c, 1, NULL, 0, &status, &code, err, sizeof err);
	if (rc < 0)
		log_warn("engine", "contract %" PRIu64 " seen on chain: %d %s", cid, code, err);
	else if (!status || strcmp(status, "accepted") != 0) /* accept_work said that one */
		log_info("engine", "contract %" PRIu64 " seen on chain: %s", cid, status);
	return rc < 0 && code == ENG_E_UNAVAILABLE ? rc : 0;
}
