/*
 * tfchain-dev's runtime at scale: the cost of one capacity report and of
 * one contract creation while a block already holds thousands of changes,
 * at 1,000 and at 50,000 of them. The devchain runtime runs in-process in
 * one block context (as bench_report applies reports), so the block's
 * change set grows with every call: a per-call cost that grows with it is
 * what this measures. The floor for each figure is the same operation at
 * the 1,000 mark, measured in the same run; the aim is the 50,000 figure
 * within 1.5 times of it. Times are the thread's CPU time (other processes
 * on a shared machine do not count), each figure the median of ten
 * batches of a tenth of the window.
 *
 *   bench_devchain_scale [contracts (50000)] [window (1000)]
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "bench/devchain_env.h"
#include "common/log.h"
#include "devchain/tfgrid_store.h"

#define T0_S 1700000000ull
#define GIB BENCH_GIB

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_devchain_scale: %s: %s\n", what, zerr_str(rc));
	exit(1);
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median10(double *v)
{
	qsort(v, 10, sizeof(*v), dbl_cmp);
	return (v[4] + v[5]) / 2;
}

/* Creates contracts first..first+w-1 in ten batches; the median per contract. */
static double contracts_timed(struct bench_chain *e, size_t first, size_t w)
{
	double t[10];
	size_t b = w / 10;

	for (int k = 0; k < 10; k++) {
		double t0 = clk_seconds(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = 0; i < b; i++)
			bc_contract(e, first + (size_t)k * b + i);
		t[k] = (clk_seconds(CLOCK_THREAD_CPUTIME_ID) - t0) / (double)b;
	}
	return median10(t);
}

/* add_reports for contracts first..first+n-1, applied as the node. */
static double reports(struct bench_chain *e, size_t first, size_t n)
{
	struct zbuf b;
	int rc;

	zbuf_init(&b, 0);
	rc = scale_put_u8(&b, DEV_SC_INDEX);
	if (!rc)
		rc = scale_put_u8(&b, 3); /* add_reports */
	if (!rc)
		rc = scale_put_compact(&b, n);
	for (size_t i = 0; i < n && !rc; i++) {
		uint64_t f[7] = {first + i, T0_S + 3600, 1, 10 * GIB, 0, 2 * GIB, 1000};
		for (int k = 0; k < 7 && !rc; k++)
			rc = scale_put_u64(&b, f[k]);
	}
	if (rc)
		die("encoding", rc);
	double t = clk_seconds(CLOCK_THREAD_CPUTIME_ID);
	rc = bc_apply(e, &e->charlie, b.data, b.len);
	t = clk_seconds(CLOCK_THREAD_CPUTIME_ID) - t;
	if (rc)
		die("add_reports", rc);
	zbuf_free(&b);
	return t;
}

/* Reports for first..first+w-1 in ten calls; the median per report. */
static double reports_timed(struct bench_chain *e, size_t first, size_t w)
{
	double t[10];
	size_t b = w / 10;

	for (int k = 0; k < 10; k++)
		t[k] = reports(e, first + (size_t)k * b, b) / (double)b;
	return median10(t);
}

/*
 * One chain with n contracts on node 1 and n reports, all in one block:
 * the median cost of the last w creations and of the last w reports.
 */
static void run(size_t n, size_t w, double *create, double *report, size_t *changes)
{
	struct bench_chain e;

	bc_setup(&e, "bench_devchain_scale", T0_S);
	for (size_t i = 1; i <= n - w; i++)
		bc_contract(&e, i);
	*create = contracts_timed(&e, n - w + 1, w);
	/* Reports of an hour, included a little later. */
	e.ctx.now_ms = (T0_S + 3600) * 1000 + 6000;
	for (size_t i = 1; i + w - 1 <= n - w; i += w)
		reports(&e, i, w);
	*report = reports_timed(&e, n - w + 1, w);
	*changes = e.ctx.block.n;
	bc_free(&e);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 50000;
	size_t w = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	double c_small, r_small, c_big, r_big;
	size_t ch_small, ch_big;

	if (n < 2 * w || w < 10 || w % 10 || w > 10240) {
		fprintf(stderr, "usage: bench_devchain_scale [contracts >= 2*window] "
		                "[window, a multiple of 10 up to 10240]\n");
		return 2;
	}
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "bench_devchain_scale");
	if (sodium_init() < 0)
		die("sodium", -ENOMEM);
	/* The floor: a chain of w contracts and w reports. */
	run(w, w / 2 - w / 2 % 10, &c_small, &r_small, &ch_small);
	run(n, w, &c_big, &r_big, &ch_big);
	printf("tfchain-dev at scale (one block; thread CPU time, median of 10 batches)\n");
	printf("  create+deploy a contract: %7.1f us with %zu on the node (floor), %7.1f us "
	       "with %zu: %.2fx (aim: linear, <= 1.5x)\n",
	       c_small * 1e6, w, c_big * 1e6, n, c_big / c_small);
	printf("  apply one report:         %7.1f us at %zu reports (floor), %7.1f us at %zu: "
	       "%.2fx (aim <= 1.5x)\n",
	       r_small * 1e6, w, r_big * 1e6, n, r_big / r_small);
	printf("  block changes at the end: %zu and %zu\n", ch_small, ch_big);
	return 0;
}
