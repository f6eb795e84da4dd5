/* Settling a report cycle: the outcomes of its outbox items become
 * failure markers, and the cycle closes. */
#include "agent/reporter_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"

int rep_part_key(int64_t ts, size_t i, enum rep_variant v, int c, char *key, size_t sz)
{
	const char *sfx = v == REP_ADD_REPORTS ? "" : c == 0 ? ":res" : ":nru";
	int n = snprintf(key, sz, "report:%" PRId64 ":%zu%s", ts, i, sfx);
	return n > 0 && (size_t)n < sz ? 0 : -ENAMETOOLONG;
}

int rep_progress_call(enum rep_variant v)
{
	return v == REP_ADD_REPORTS ? 0 : 1;
}

int64_t rep_cursor_or(struct store *s, const char *name, int64_t dflt, int *rc)
{
	int64_t v;
	int e = store_cursor_get(s, name, &v);
	if (e == ZE_ABSENT)
		return dflt;
	if (e < 0)
		*rc = e;
	return e < 0 ? dflt : v;
}

/* Outcome of each part of cycle ts: ok[i] = 1 when its progress call
 * succeeded. 1 when some item is still pending. */
static int part_outcomes(struct store *s, int64_t ts, enum rep_variant v, size_t parts,
			 unsigned char *ok)
{
	char key[STORE_KEY_MAX], outcome[STORE_REASON_MAX];
	int ncalls = v == REP_ADD_REPORTS ? 1 : 2;
	for (size_t i = 0; i < parts; i++) {
		ok[i] = 0;
		for (int c = 0; c < ncalls; c++) {
			int done = 0, rc = rep_part_key(ts, i, v, c, key, sizeof key);
			if (rc == 0)
				rc = store_outbox_state(s, key, &done, outcome, sizeof outcome);
			if (rc == ZE_ABSENT) {
				log_warn("reporter", "%s: not in the outbox; window stays open", key);
				continue;
			}
			if (rc < 0)
				return rc;
			if (!done)
				return 1;
			int good = !strcmp(outcome, "ok");
			if (!good && c == rep_progress_call(v))
				log_warn("reporter", "%s: %s; its contracts report a longer window next",
					 key, outcome);
			else if (!good)
				log_warn("reporter", "%s: %s; resources are sent again next cycle", key,
					 outcome);
			if (c == rep_progress_call(v))
				ok[i] = (unsigned char)good;
		}
	}
	return 0;
}

/* Closes cycle ts in one transaction: a failure marker per failed part
 * (hi[i] bounds part i, cnt[i] its records), then no cycle in flight. */
static int settle_apply(struct rep *r, int64_t ts, size_t parts, const unsigned char *ok,
			const int64_t *hi, const int64_t *cnt)
{
	struct store *s = r->deps.store;
	char name[64];
	int rc = store_begin(s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < parts && rc == 0; i++) {
		if (ok[i]) {
			r->stats.resolved_ok += (size_t)cnt[i];
			continue;
		}
		r->stats.resolved_failed += (size_t)cnt[i];
		snprintf(name, sizeof name, REP_C_FAIL_FMT, ts, i ? hi[i - 1] : (int64_t)-1);
		rc = store_cursor_set(s, name, hi[i]);
	}
	if (rc == 0)
		rc = store_cursor_set(s, REP_C_CYCLE, 0);
	if (rc < 0) {
		store_rollback(s);
		return rc;
	}
	if ((rc = store_commit(s)) < 0)
		return rc;
	log_info("reporter", "cycle %" PRId64 ": %zu records accepted, %zu to report again", ts,
		 r->stats.resolved_ok, r->stats.resolved_failed);
	/* Slots of removed contracts are dropped once a day: the scan costs
	 * more than a cycle, and stale rows are only garbage. */
	int prc = 0;
	int64_t day = ts / 86400;
	if (rep_cursor_or(s, REP_C_PRUNED, -1, &prc) != day && prc == 0) {
		if (rep_db_prune(s) < 0 || store_cursor_set(s, REP_C_PRUNED, day) < 0)
			log_warn("reporter", "could not prune cursors of removed contracts");
	}
	return 0;
}

int rep_settle(struct rep *r)
{
	struct store *s = r->deps.store;
	char name[32];
	int rc = 0;
	int64_t ts = rep_cursor_or(s, REP_C_CYCLE, 0, &rc);
	int64_t v = rep_cursor_or(s, REP_C_VARIANT, 0, &rc);
	int64_t parts = rep_cursor_or(s, REP_C_PARTS, 0, &rc);
	if (rc < 0)
		return rc;
	if (ts <= 0)
		return 0;
	if (parts < 0 || parts > REP_MAX_PARTS || (v != REP_ADD_REPORTS && v != REP_RESOURCES_NRU)) {
		/* Damaged bookkeeping must not stop reporting for good: the cycle
		 * counts as failed for everyone, so the next one covers its span. */
		char mark[64];
		log_err("reporter", "cycle %" PRId64 ": bookkeeping damaged (variant %" PRId64
			", %" PRId64 " parts); reporting its span again", ts, v, parts);
		snprintf(mark, sizeof mark, REP_C_FAIL_FMT, ts, (int64_t)-1);
		if ((rc = store_begin(s)) < 0)
			return rc;
		if ((rc = store_cursor_set(s, mark, INT64_MAX)) < 0 ||
		    (rc = store_cursor_set(s, REP_C_CYCLE, 0)) < 0) {
			store_rollback(s);
			return rc;
		}
		return store_commit(s);
	}
	size_t np = (size_t)parts;
	unsigned char *ok = malloc(np ? np : 1);
	int64_t *hi = malloc((np ? np : 1) * sizeof *hi);
	int64_t *cnt = malloc((np ? np : 1) * sizeof *cnt);
	if (!ok || !hi || !cnt) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < np && rc == 0; i++) {
		/* Both are queued with the cycle; a missing bound would make the
		 * part open-ended, which only widens a failure marker. */
		snprintf(name, sizeof name, REP_C_HI_FMT, i);
		hi[i] = rep_cursor_or(s, name, INT64_MAX, &rc);
		snprintf(name, sizeof name, REP_C_CNT_FMT, i);
		cnt[i] = rep_cursor_or(s, name, 0, &rc);
		if (cnt[i] < 0)
			cnt[i] = 0;
	}
	if (rc == 0)
		rc = part_outcomes(s, ts, (enum rep_variant)v, np, ok);
	if (rc == 0)
		rc = settle_apply(r, ts, np, ok, hi, cnt);
out:
	free(ok);
	free(hi);
	free(cnt);
	return rc;
}
