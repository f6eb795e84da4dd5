/*
 * Unit tests of the engine's worker pacing (agent/engine_pace.c): when a
 * queued job gets an idle worker woken and when it is left to a running
 * one, on an engine built by hand (no threads, times given).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/engine_int.h"

#define WORKERS 4

struct pfx {
	struct eng *e;
	struct eng_job jobs[8];
	struct eng_pre pre[8];
	struct store_wl wl[8][3];
	int njobs;
};

static int setup(void **st)
{
	struct pfx *p = calloc(1, sizeof *p);
	assert_non_null(p);
	p->e = calloc(1, sizeof *p->e);
	assert_non_null(p->e);
	p->e->cfg.workers = WORKERS;
	p->e->busy = calloc(WORKERS, 1);
	p->e->running = calloc(WORKERS, sizeof *p->e->running);
	p->e->run = calloc(WORKERS, sizeof *p->e->run);
	p->e->tail = &p->e->head;
	*st = p;
	return 0;
}

static int teardown(void **st)
{
	struct pfx *p = *st;
	free(p->e->busy);
	free(p->e->running);
	free(p->e->run);
	free(p->e);
	free(p);
	return 0;
}

/* A job of n workloads of type (NULL: no record), ready at not_before_ms,
 * noted and queued as eng_append_job does. */
static struct eng_job *job(struct pfx *p, const char *type, size_t n, int64_t not_before_ms)
{
	int k = p->njobs++;
	struct eng_job *j = &p->jobs[k];
	memset(j, 0, sizeof *j);
	j->cid = 100 + (uint64_t)k;
	j->not_before = not_before_ms;
	if (type) {
		for (size_t i = 0; i < n; i++)
			snprintf(p->wl[k][i].type, sizeof p->wl[k][i].type, "%s", type);
		p->pre[k].w = p->wl[k];
		p->pre[k].n = n;
		j->pre = &p->pre[k];
	}
	eng_pace_job(p->e, j);
	j->pre = NULL; /* on the stack: nothing for anyone to free */
	*p->e->tail = j;
	p->e->tail = &j->next;
	return j;
}

/* Worker slot takes the queue's first job at now_us. */
static void take(struct pfx *p, unsigned slot, int64_t now_us)
{
	struct eng_job *j = p->e->head;
	assert_non_null(j);
	p->e->head = j->next;
	if (!p->e->head)
		p->e->tail = &p->e->head;
	eng_pace_begin(p->e, slot, j, now_us);
	p->e->busy[slot] = 1;
	p->e->running[slot] = j->cid;
	p->e->active++;
}

static void finish(struct pfx *p, unsigned slot, int64_t now_us)
{
	eng_pace_end(p->e, slot, now_us);
	p->e->busy[slot] = 0;
	p->e->active--;
}

/* Runs `times` jobs of type one after another, each lasting us. */
static void measure(struct pfx *p, const char *type, int times, int64_t us, int64_t *now)
{
	for (int i = 0; i < times; i++) {
		job(p, type, 1, 0);
		take(p, 0, *now);
		*now += us;
		finish(p, 0, *now);
		p->njobs--; /* the slot is free again */
	}
}

static void unmeasured_types_get_a_worker_each(void **st)
{
	struct pfx *p = *st;
	int64_t now = 1000000;
	/* Nobody runs: always woken. */
	job(p, "zmount", 1, 0);
	assert_int_equal(eng_pace_wake(p->e, now), 1);
	take(p, 0, now);
	/* A job of a type not measured yet is not left to the running one. */
	job(p, "zmount", 1, 0);
	assert_int_equal(eng_pace_wake(p->e, now + 10), 1);
}

static void quick_jobs_are_left_to_the_running_worker(void **st)
{
	struct pfx *p = *st;
	int64_t now = 1000000;
	measure(p, "zmount", 3, 200, &now); /* 200 us each */
	job(p, "zmount", 1, 0);
	take(p, 0, now);
	/* Three more quick ones: 800 us of work ahead of the last, well
	 * within the bound for one running worker. */
	job(p, "zmount", 1, 0);
	job(p, "zmount", 1, 0);
	job(p, "zmount", 1, 0);
	assert_int_equal(eng_pace_wake(p->e, now + 50), 0);
	/* Enough of them to pass ENG_PACE_US: another worker. */
	for (int i = 0; i < 4; i++)
		job(p, "zmount", 2, 0);
	assert_int_equal(eng_pace_wake(p->e, now + 50), 1);
}

static void anything_unknown_or_late_gets_a_worker(void **st)
{
	struct pfx *p = *st;
	int64_t now = 1000000;
	measure(p, "zmount", 3, 200, &now);
	job(p, "zmount", 1, 0);
	take(p, 0, now);

	/* Without a record (a restore, a merged job): no estimate. */
	job(p, NULL, 0, 0);
	assert_int_equal(eng_pace_wake(p->e, now), 1);
	p->e->head = p->e->head->next;
	p->e->tail = &p->e->head;
	/* Workloads of mixed types: no single type to estimate by. */
	struct eng_job *mixed = job(p, "zmount", 2, 0);
	snprintf(p->wl[p->njobs - 1][1].type, sizeof p->wl[0][0].type, "network");
	p->pre[p->njobs - 1].n = 2;
	mixed->pre = &p->pre[p->njobs - 1];
	eng_pace_job(p->e, mixed);
	mixed->pre = NULL;
	assert_int_equal(mixed->kind, -1);
	assert_int_equal(eng_pace_wake(p->e, now), 1);
	p->e->head = NULL;
	p->e->tail = &p->e->head;
	/* A retry that waits for its time: a worker must sleep with a timer. */
	job(p, "zmount", 1, now / 1000 + 500);
	assert_int_equal(eng_pace_wake(p->e, now), 1);
	p->e->head = NULL;
	p->e->tail = &p->e->head;
	/* A running job far over its estimate may be a slow one after all. */
	job(p, "zmount", 1, 0);
	assert_int_equal(eng_pace_wake(p->e, now + 100), 0);
	assert_int_equal(eng_pace_wake(p->e, now + 200 + ENG_PACE_US + 1), 1);
}

static void slow_installs_are_measured_and_spread(void **st)
{
	struct pfx *p = *st;
	int64_t now = 1000000;
	measure(p, "zmount", 3, 200, &now);
	/* The type slows down (a busy disk): the average follows within a few
	 * installs, and then the next job is not left behind a running one. */
	measure(p, "zmount", 3, 20000, &now);
	job(p, "zmount", 1, 0);
	take(p, 0, now);
	job(p, "zmount", 1, 0);
	assert_int_equal(eng_pace_wake(p->e, now + 10), 1);
	/* Per workload: a job of three measured at 3 ms counts 1 ms each. */
	struct pfx *q = p;
	q->e->head = NULL;
	q->e->tail = &q->e->head;
	finish(q, 0, now + 20000);
	memset(q->e->pace, 0, sizeof q->e->pace);
	now += 100000;
	for (int i = 0; i < 3; i++) {
		job(q, "volume", 3, 0);
		take(q, 0, now);
		now += 3000;
		finish(q, 0, now);
	}
	assert_int_equal(q->e->pace[0].avg_us, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(unmeasured_types_get_a_worker_each, setup, teardown),
	    cmocka_unit_test_setup_teardown(quick_jobs_are_left_to_the_running_worker, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(anything_unknown_or_late_gets_a_worker, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(slow_installs_are_measured_and_spread, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
