/*
 * Metrics: the figures an operator alerts on, in the Prometheus text format
 * (version 0.0.4), and the node's health.
 *
 * Most figures are read when scraped, from the state the agent keeps anyway
 * (the store, the RMB server's counters, the follower's cursor): nothing to
 * keep in step. What exists only as it happens, RMB requests with their
 * outcome and latency, is recorded here by metrics_rmb_observe().
 *
 * Thread safety: metrics_rmb_observe() and metrics_rmb_write() may be called
 * from any thread at once.
 */
#ifndef ZOS_AGENT_METRICS_H
#define ZOS_AGENT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Distinct (command, code) series kept; later ones are counted under the
 * command "other" so that a caller inventing commands cannot grow memory. */
#define METRICS_RMB_SERIES_MAX 64
/* Upper bounds of the latency histogram's buckets, in seconds (+Inf added). */
#define METRICS_RMB_BUCKETS 12

struct metrics;

/* *out is freed with metrics_free (NULL accepted). */
int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);

/* One RMB request that reached a handler: its command, the error code it
 * answered with (0 for success) and how long the handler took. cmd is
 * copied. */
void metrics_rmb_observe(struct metrics *m, const char *cmd, uint32_t code, uint64_t usec);

/* Appends zos_rmb_requests_total and zos_rmb_request_duration_seconds. */
int metrics_rmb_write(struct metrics *m, struct zbuf *out);

/* Appends one sample "name{labels} value\n"; labels may be NULL or "".
 * Label values must already be escaped (metrics_label_escape). */
int metrics_put(struct zbuf *out, const char *name, const char *labels, double value);
/* Appends "# HELP name help\n# TYPE name type\n". */
int metrics_head(struct zbuf *out, const char *name, const char *type, const char *help);
/* Copies s into out (NUL-terminated, truncated to fit) with \, " and
 * newlines escaped as the text format wants inside label values. */
void metrics_label_escape(const char *s, char *out, size_t outsz);

#endif
