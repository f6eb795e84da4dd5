/*
 * The metrics registry (metrics.h): RMB request counters and latency
 * histograms, and the helpers that write the Prometheus text format.
 */
#include "agent/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Handlers range from microseconds (version) to a chain round trip or a
 * provisioning step (seconds). */
static const double bucket_le[METRICS_RMB_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   10};

#define CMD_MAX 64

struct series {
	char cmd[CMD_MAX];
	uint32_t code;
	uint64_t count;
	uint64_t sum_usec;
	uint64_t buckets[METRICS_RMB_BUCKETS]; /* not cumulative; summed when written */
};

struct metrics {
	pthread_mutex_t mu;
	size_t n;
	struct series s[METRICS_RMB_SERIES_MAX];
};

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static struct series *find(struct metrics *m, const char *cmd, uint32_t code)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->s[i].code == code && strcmp(m->s[i].cmd, cmd) == 0)
			return &m->s[i];
	if (m->n == METRICS_RMB_SERIES_MAX)
		return NULL;
	struct series *s = &m->s[m->n++];
	snprintf(s->cmd, sizeof s->cmd, "%s", cmd);
	s->code = code;
	return s;
}

void metrics_rmb_observe(struct metrics *m, const char *cmd, uint32_t code, uint64_t usec)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	struct series *s = find(m, cmd, code);
	/* The last slot is kept for the overflow series, so a full table still
	 * counts every request. */
	if (!s) {
		s = &m->s[METRICS_RMB_SERIES_MAX - 1];
		if (strcmp(s->cmd, "other") != 0 || s->code != 0) {
			memset(s, 0, sizeof *s);
			snprintf(s->cmd, sizeof s->cmd, "other");
		}
	}
	s->count++;
	s->sum_usec += usec;
	double sec = (double)usec / 1e6;
	for (size_t b = 0; b < METRICS_RMB_BUCKETS; b++)
		if (sec <= bucket_le[b]) {
			s->buckets[b]++;
			break;
		}
	pthread_mutex_unlock(&m->mu);
}

void metrics_label_escape(const char *s, char *out, size_t outsz)
{
	size_t o = 0;
	if (!outsz)
		return;
	for (; *s && o + 2 < outsz; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

static int putf(struct zbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(struct zbuf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return -ENAMETOOLONG;
	return zbuf_put(out, line, (size_t)n);
}

int metrics_head(struct zbuf *out, const char *name, const char *type, const char *help)
{
	return putf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int metrics_put(struct zbuf *out, const char *name, const char *labels, double value)
{
	char num[64];
	if (isnan(value))
		snprintf(num, sizeof num, "NaN");
	else if (value == floor(value) && fabs(value) < 1e15)
		snprintf(num, sizeof num, "%.0f", value);
	else
		snprintf(num, sizeof num, "%.6g", value);
	if (labels && *labels)
		return putf(out, "%s{%s} %s\n", name, labels, num);
	return putf(out, "%s %s\n", name, num);
}

int metrics_rmb_write(struct metrics *m, struct zbuf *out)
{
	int rc = metrics_head(out, "zos_rmb_requests_total", "counter",
	                      "RMB requests handled, by command and answer code (0 = success).");
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&m->mu);
	char cmd[CMD_MAX * 2], lab[CMD_MAX * 2 + 64];
	for (size_t i = 0; i < m->n && rc >= 0; i++) {
		metrics_label_escape(m->s[i].cmd, cmd, sizeof cmd);
		snprintf(lab, sizeof lab, "cmd=\"%s\",code=\"%" PRIu32 "\"", cmd, m->s[i].code);
		rc = metrics_put(out, "zos_rmb_requests_total", lab, (double)m->s[i].count);
	}
	if (rc >= 0)
		rc = metrics_head(out, "zos_rmb_request_duration_seconds", "histogram",
		                  "Time the node took to handle an RMB request, by command.");
	/* The histogram is per command: series of one command with different
	 * codes are merged here. */
	for (size_t i = 0; i < m->n && rc >= 0; i++) {
		int first = 1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->s[j].cmd, m->s[i].cmd) == 0)
				first = 0;
		if (!first)
			continue;
		uint64_t b[METRICS_RMB_BUCKETS] = {0}, count = 0, sum = 0;
		for (size_t j = i; j < m->n; j++) {
			if (strcmp(m->s[j].cmd, m->s[i].cmd) != 0)
				continue;
			for (size_t k = 0; k < METRICS_RMB_BUCKETS; k++)
				b[k] += m->s[j].buckets[k];
			count += m->s[j].count;
			sum += m->s[j].sum_usec;
		}
		metrics_label_escape(m->s[i].cmd, cmd, sizeof cmd);
		uint64_t cum = 0;
		for (size_t k = 0; k < METRICS_RMB_BUCKETS && rc >= 0; k++) {
			cum += b[k];
			snprintf(lab, sizeof lab, "cmd=\"%s\",le=\"%g\"", cmd, bucket_le[k]);
			rc = metrics_put(out, "zos_rmb_request_duration_seconds_bucket", lab,
			                 (double)cum);
		}
		if (rc >= 0) {
			snprintf(lab, sizeof lab, "cmd=\"%s\",le=\"+Inf\"", cmd);
			rc = metrics_put(out, "zos_rmb_request_duration_seconds_bucket", lab,
			                 (double)count);
		}
		snprintf(lab, sizeof lab, "cmd=\"%s\"", cmd);
		if (rc >= 0)
			rc = metrics_put(out, "zos_rmb_request_duration_seconds_sum", lab,
			                 (double)sum / 1e6);
		if (rc >= 0)
			rc = metrics_put(out, "zos_rmb_request_duration_seconds_count", lab,
			                 (double)count);
	}
	pthread_mutex_unlock(&m->mu);
	return rc < 0 ? rc : 0;
}
