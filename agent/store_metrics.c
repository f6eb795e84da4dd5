/*
 * What the metrics endpoint reads from the store: deployments and workloads
 * by state, and the outbox's depth and oldest pending item. These queries
 * run only when the endpoint is scraped, so they are prepared each time
 * rather than cached with the hot-path statements.
 */
#include "agent/store_int.h"

#include <errno.h>
#include <string.h>

/* Adds each row's count to counts[state]; rows with a state this build does
 * not know are left out. */
static int count_by_state(struct store *s, const char *sql, int wl, uint64_t *counts, size_t n)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_err(s, -EIO, "prepare state counts");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int64_t c = sqlite3_column_int64(st, 1);
		if (!name || c < 0)
			continue;
		if (wl) {
			enum store_wl_state w;
			if (store_wl_state_parse(name, &w) == 0 && (size_t)w < n)
				counts[w] += (uint64_t)c;
		} else {
			enum store_dep_state d;
			if (store_dep_state_parse(name, &d) == 0 && (size_t)d < n)
				counts[d] += (uint64_t)c;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_err(s, -EIO, "state counts");
}

int store_metrics(struct store *s, struct store_metrics *out)
{
	memset(out, 0, sizeof *out);
	store_lock(s);
	int rc = count_by_state(s, "SELECT state, count(*) FROM deployments GROUP BY state", 0,
	                        out->deployments, STORE_DEP__COUNT);
	if (rc == 0)
		rc = count_by_state(s, "SELECT state, count(*) FROM workloads GROUP BY state", 1,
		                    out->workloads, STORE_WL__COUNT);
	sqlite3_stmt *st = NULL;
	if (rc == 0 &&
	    sqlite3_prepare_v2(s->db, "SELECT count(*), min(created) FROM outbox WHERE done=0", -1,
	                       &st, NULL) != SQLITE_OK)
		rc = store_err(s, -EIO, "prepare outbox depth");
	if (rc == 0) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			out->outbox_pending = (uint64_t)sqlite3_column_int64(st, 0);
			out->outbox_oldest = sqlite3_column_type(st, 1) == SQLITE_NULL
			                         ? 0
			                         : sqlite3_column_int64(st, 1);
		} else {
			rc = store_err(s, -EIO, "outbox depth");
		}
	}
	sqlite3_finalize(st);
	store_unlock(s);
	return rc;
}
