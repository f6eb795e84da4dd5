/*
 * When a queued job gets a worker of its own, and when it waits for a busy
 * one to finish.
 *
 * Waking an idle worker costs two thread switches and, with several
 * workers in the store at once, waits on its lock. For a job that takes a
 * fraction of a millisecond (a zmount disk is one file) that is more than
 * the job itself, and a burst of them (the jobs of one block's contracts)
 * spread over every worker costs a wake each. A running worker takes the
 * next job as soon as its own ends; so a job is left for it when what is
 * queued ahead, and what the running jobs have left, adds up to less than
 * ENG_PACE_US per running worker. Measured on this node, per workload type
 * (an average over its recent installs), never guessed. A job of a type
 * not measured yet, one without its record (a restore, a job merged with a
 * newer change), one that waits for a retry time, and any job while a
 * running one overran its estimate, get a worker woken as before.
 * docs/deploy-engine.md, "Workers".
 */
#include "agent/engine_int.h"

#include <string.h>

/* Installs of a type measured before its average is trusted. */
#define PACE_MIN_SAMPLES 3

/* The type's entry, added when there is room; -1 when not. Under mu. */
static int type_index(struct eng *e, const char *type)
{
	for (int i = 0; i < ENG_PACE_TYPES; i++) {
		if (!e->pace[i].type[0]) {
			if (strlen(type) >= sizeof e->pace[i].type)
				return -1;
			memcpy(e->pace[i].type, type, strlen(type) + 1);
			return i;
		}
		if (!strcmp(e->pace[i].type, type))
			return i;
	}
	return -1;
}

void eng_pace_job(struct eng *e, struct eng_job *j)
{
	j->kind = -1;
	j->nwl = 0;
	if (!j->pre || !j->pre->n)
		return;
	/* One type for the whole job: its duration then says that type's. */
	for (size_t i = 1; i < j->pre->n; i++)
		if (strcmp(j->pre->w[i].type, j->pre->w[0].type) != 0)
			return;
	j->kind = type_index(e, j->pre->w[0].type);
	j->nwl = (unsigned)j->pre->n;
}

/* The job's expected run time in microseconds, -1 when unknown. */
static int64_t estimate(const struct eng *e, const struct eng_job *j)
{
	if (j->kind < 0 || e->pace[j->kind].samples < PACE_MIN_SAMPLES)
		return -1;
	return e->pace[j->kind].avg_us * (int64_t)j->nwl;
}

void eng_pace_begin(struct eng *e, unsigned slot, const struct eng_job *j, int64_t now_us)
{
	e->run[slot].start_us = now_us;
	e->run[slot].est_us = estimate(e, j);
	e->run[slot].kind = j->kind;
	e->run[slot].nwl = j->nwl;
}

void eng_pace_end(struct eng *e, unsigned slot, int64_t now_us)
{
	struct eng_run *r = &e->run[slot];
	if (r->kind < 0 || !r->nwl)
		return;
	struct eng_pace *p = &e->pace[r->kind];
	int64_t per = (now_us - r->start_us) / (int64_t)r->nwl;
	if (per < 0)
		per = 0;
	/* Weighted to the recent installs, so a disk that slows down or a
	 * type whose installs grew shows within a few jobs. */
	p->avg_us = p->samples ? (3 * p->avg_us + per) / 4 : per;
	if (p->samples < PACE_MIN_SAMPLES)
		p->samples++;
	r->kind = -1;
}

int eng_pace_wake(struct eng *e, int64_t now_us)
{
	if (!e->active)
		return 1;
	int64_t ahead = 0;
	for (unsigned i = 0; i < e->cfg.workers; i++) {
		if (!e->busy[i])
			continue;
		const struct eng_run *r = &e->run[i];
		if (r->est_us < 0)
			return 1;
		int64_t left = r->start_us + r->est_us - now_us;
		if (left < -ENG_PACE_US)
			return 1; /* slower than measured: it may run long */
		if (left > 0)
			ahead += left;
	}
	int64_t now_ms = now_us / 1000, bound = (int64_t)e->active * ENG_PACE_US;
	/* Stops at the first job that decides it: a long queue of quick jobs
	 * is not walked whole on every enqueue. */
	for (const struct eng_job *j = e->head; j && ahead <= bound; j = j->next) {
		int64_t est = estimate(e, j);
		if (est < 0 || j->not_before > now_ms)
			return 1;
		ahead += est;
	}
	return ahead > bound;
}
