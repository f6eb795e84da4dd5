/* A usage source for the reporter over the provisioners' usage counters. */
#include "agent/reporter_usage.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/store_int.h"
#include "common/log.h"
#include "common/buf.h"
#include "common/zerr.h"

/* Every deployment's twin, whatever its state (as store_dep_get finds any),
 * from the covering twin index; and the live workloads whose type counts
 * traffic, in table order (both sorted here by contract). */
static const char sql_deps[] = "SELECT contract_id, twin_id FROM deployments";
static const char sql_wls[] = "SELECT contract_id, name, type, ord FROM workloads"
                              " WHERE state IN ('ok','paused')";

/* Bound on what one snapshot holds, so a runaway store cannot exhaust
 * memory (the reporter's own bound is 1,000,000 contracts). */
#define USAGE_MAX_ROWS 4000000u

struct rep_usage_dep {
	uint64_t cid;
	uint32_t twin;
};

struct rep_usage_wl {
	uint64_t cid;
	int64_t ord;
	const struct prov_ops *ops;
	char name[PROV_NAME_MAX + 1];
};

/* seek() reads the id at the start of either. */
_Static_assert(offsetof(struct rep_usage_dep, cid) == 0, "cid first");
_Static_assert(offsetof(struct rep_usage_wl, cid) == 0, "cid first");

static int cmp_dep(const void *a, const void *b)
{
	const struct rep_usage_dep *x = a, *y = b;
	return x->cid < y->cid ? -1 : x->cid > y->cid;
}

/* By contract, then in the deployment's order, as store_dep_get returns
 * them, so that a failing workload stops the sum at the same one. */
static int cmp_wl(const void *a, const void *b)
{
	const struct rep_usage_wl *x = a, *y = b;
	if (x->cid != y->cid)
		return x->cid < y->cid ? -1 : 1;
	if (x->ord != y->ord)
		return x->ord < y->ord ? -1 : 1;
	return strcmp(x->name, y->name);
}

void rep_usage_prov_end(void *ctx)
{
	struct rep_usage_prov *u = ctx;
	free(u->deps);
	free(u->wls);
	u->deps = NULL;
	u->wls = NULL;
	u->ndeps = u->nwls = 0;
}

/* Both scans under the store's lock, so they see one state. */
static int scan(struct rep_usage_prov *u)
{
	struct store *s = u->store;
	sqlite3_stmt *d = NULL, *w = NULL;
	size_t dcap = 0, wcap = 0;
	int rc;

	store_lock(s);
	rc = sqlite3_prepare_v2(s->db, sql_deps, -1, &d, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, sql_wls, -1, &w, NULL);
	if (rc != SQLITE_OK) {
		rc = store_err(s, rc, "usage prepare");
		goto out;
	}
	while ((rc = sqlite3_step(d)) == SQLITE_ROW) {
		if ((rc = zbuf_grow_array((void **)&u->deps, &dcap, u->ndeps, sizeof *u->deps,
		                          USAGE_MAX_ROWS)) < 0)
			goto out;
		u->deps[u->ndeps++] =
		    (struct rep_usage_dep){.cid = (uint64_t)sqlite3_column_int64(d, 0),
		                           .twin = (uint32_t)sqlite3_column_int64(d, 1)};
	}
	if (rc != SQLITE_DONE) {
		rc = store_err(s, rc, "usage deployments");
		goto out;
	}
	while ((rc = sqlite3_step(w)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(w, 2);
		const char *name = (const char *)sqlite3_column_text(w, 1);
		const struct prov_ops *ops = type ? u->lookup(type) : NULL;
		if (!ops || !ops->usage || !name)
			continue; /* a type that moves no traffic of its own */
		if ((rc = zbuf_grow_array((void **)&u->wls, &wcap, u->nwls, sizeof *u->wls,
		                          USAGE_MAX_ROWS)) < 0)
			goto out;
		struct rep_usage_wl *e = &u->wls[u->nwls++];
		e->cid = (uint64_t)sqlite3_column_int64(w, 0);
		e->ord = sqlite3_column_int64(w, 3);
		e->ops = ops;
		snprintf(e->name, sizeof e->name, "%s", name);
	}
	rc = rc == SQLITE_DONE ? 0 : store_err(s, rc, "usage workloads");
out:
	sqlite3_finalize(d);
	sqlite3_finalize(w);
	store_unlock(s);
	return rc;
}

int rep_usage_prov_begin(void *ctx)
{
	struct rep_usage_prov *u = ctx;
	rep_usage_prov_end(u);
	int rc = scan(u);
	if (rc < 0) {
		rep_usage_prov_end(u);
		return rc;
	}
	/* Already in order in practice (rowid order and insertion order);
	 * sorting a sorted array is cheap. */
	if (u->ndeps > 1)
		qsort(u->deps, u->ndeps, sizeof *u->deps, cmp_dep);
	if (u->nwls > 1)
		qsort(u->wls, u->nwls, sizeof *u->wls, cmp_wl);
	/* An empty store still has a snapshot: every answer is then ZE_ABSENT. */
	if (!u->deps && !(u->deps = malloc(sizeof *u->deps)))
		return -ENOMEM;
	return 0;
}

/* The first index of arr (n elements of size sz, each starting with its
 * contract id, ascending) whose id is not below cid. */
static size_t seek(const void *arr, size_t n, size_t sz, uint64_t cid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v;
		memcpy(&v, (const char *)arr + mid * sz, sizeof v);
		if (v < cid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The sum over the snapshot. */
static int from_snapshot(struct rep_usage_prov *u, uint64_t cid, uint64_t *sum)
{
	char err[160];
	size_t d = seek(u->deps, u->ndeps, sizeof *u->deps, cid);
	if (d >= u->ndeps || u->deps[d].cid != cid)
		return ZE_ABSENT;
	uint32_t twin = u->deps[d].twin;
	for (size_t i = seek(u->wls, u->nwls, sizeof *u->wls, cid);
	     i < u->nwls && u->wls[i].cid == cid; i++) {
		struct prov_workload_id id = {.twin_id = twin, .contract_id = cid};
		memcpy(id.name, u->wls[i].name, sizeof id.name);
		struct prov_usage pu;
		memset(&pu, 0, sizeof pu);
		err[0] = 0;
		int rc = u->wls[i].ops->usage(u->prov, &id, &pu, err, sizeof err);
		if (rc < 0) {
			log_debug("reporter", "usage of %llu/%s: %s", (unsigned long long)cid,
			          id.name, err);
			return rc;
		}
		/* Saturate rather than wrap: a wrapped sum would read as a restart. */
		uint64_t add = pu.net_rx_bytes + pu.net_tx_bytes;
		if (add < pu.net_rx_bytes || *sum + add < *sum)
			*sum = UINT64_MAX;
		else
			*sum += add;
	}
	return 0;
}

/* The sum from the contract's own rows. */
static int from_store(struct rep_usage_prov *u, uint64_t contract_id, uint64_t *sum)
{
	struct store_dep d;
	struct store_wl *w = NULL;
	size_t n = 0;
	char err[160];
	int rc = store_dep_get(u->store, contract_id, &d, &w, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (w[i].state != STORE_WL_OK && w[i].state != STORE_WL_PAUSED)
			continue;
		const struct prov_ops *ops = u->lookup(w[i].type);
		if (!ops || !ops->usage)
			continue; /* a type that moves no traffic of its own */
		struct prov_workload_id id = {.twin_id = d.twin_id, .contract_id = contract_id};
		memcpy(id.name, w[i].name, sizeof id.name);
		struct prov_usage pu;
		memset(&pu, 0, sizeof pu);
		err[0] = 0;
		rc = ops->usage(u->prov, &id, &pu, err, sizeof err);
		if (rc < 0) {
			log_debug("reporter", "usage of %llu/%s: %s",
			          (unsigned long long)contract_id, w[i].name, err);
			break;
		}
		uint64_t add = pu.net_rx_bytes + pu.net_tx_bytes;
		if (add < pu.net_rx_bytes || *sum + add < *sum)
			*sum = UINT64_MAX;
		else
			*sum += add;
	}
	store_dep_clear(&d);
	store_wls_free(w, n);
	return rc;
}

int rep_usage_prov(void *ctx, uint64_t contract_id, uint64_t *bytes)
{
	struct rep_usage_prov *u = ctx;
	uint64_t sum = 0;
	int rc = u->deps ? from_snapshot(u, contract_id, &sum) : from_store(u, contract_id, &sum);
	if (rc == 0)
		*bytes = sum;
	return rc;
}
