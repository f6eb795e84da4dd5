/* The log: levels, per-thread context, and output to stderr or the journal (log.h). */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "common/zerr.h"

static _Atomic int cur_level = LOG_LVL_INFO;
static _Atomic int use_journal = 0;
static const char *cur_ident = "zos";

/* The log context of each thread (log.h). */
static _Thread_local struct {
	uint64_t contract;
	uint32_t twin;
	char workload[64];
} ctx;

void log_ctx_contract(uint64_t contract_id)
{
	ctx.contract = contract_id;
}

void log_ctx_twin(uint32_t twin_id)
{
	ctx.twin = twin_id;
}

void log_ctx_workload(const char *name)
{
	snprintf(ctx.workload, sizeof ctx.workload, "%s", name ? name : "");
}

void log_ctx_clear(void)
{
	memset(&ctx, 0, sizeof ctx);
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int level_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
static const char *const target_names[] = {"auto", "stderr", "journal"};

/*
 * systemd sets JOURNAL_STREAM=DEV:INODE when it connects stderr to journald.
 * Children inherit the variable even when their stderr goes elsewhere, so
 * the stream must also be the one stderr is still connected to.
 */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;
	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_level level, enum log_target target, const char *ident)
{
	cur_level = level;
	if (ident)
		cur_ident = ident;
	if (target == LOG_TARGET_AUTO)
		use_journal = stderr_is_journal();
	else
		use_journal = target == LOG_TARGET_JOURNAL;
}

void log_set_level(enum log_level level)
{
	cur_level = level;
}
enum log_level log_get_level(void)
{
	return (enum log_level)cur_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < 4 ? level_names[level] : "?";
}

int log_target_parse(const char *s, enum log_target *out)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, target_names[i]) == 0) {
			*out = (enum log_target)i;
			return 0;
		}
	return -EINVAL;
}

const char *log_target_name(enum log_target target)
{
	return (unsigned)target < 3 ? target_names[target] : "?";
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	if ((int)level > cur_level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!module)
		module = "-";
	if (use_journal) {
		/* The context's fields come as one iovec each; unset ones are left out. */
		char f[7][2200];
		struct iovec iov[7];
		int n = 0;
		snprintf(f[n++], sizeof f[0], "MESSAGE=%s: %s", module, msg);
		snprintf(f[n++], sizeof f[0], "PRIORITY=%d", level_prio[level]);
		snprintf(f[n++], sizeof f[0], "ZOS_MODULE=%s", module);
		snprintf(f[n++], sizeof f[0], "SYSLOG_IDENTIFIER=%s", cur_ident);
		if (ctx.contract)
			snprintf(f[n++], sizeof f[0], "ZOS_CONTRACT=%llu",
			         (unsigned long long)ctx.contract);
		if (ctx.workload[0])
			snprintf(f[n++], sizeof f[0], "ZOS_WORKLOAD=%s", ctx.workload);
		if (ctx.twin)
			snprintf(f[n++], sizeof f[0], "ZOS_TWIN=%u", (unsigned)ctx.twin);
		for (int i = 0; i < n; i++)
			iov[i] = (struct iovec){f[i], strlen(f[i])};
		sd_journal_sendv(iov, n);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line keeps concurrent lines whole. */
	fprintf(stderr, "%s.%03ldZ %s[%s] %s: %s\n", when, ts.tv_nsec / 1000000, cur_ident,
	        level_names[level], module, msg);
}
