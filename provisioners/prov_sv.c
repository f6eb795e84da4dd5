/*
 * The supervisor loop shared by containers (prov_supervisor.c) and VMs
 * (prov_vm_super.c): the double fork, pid files that survive a recycled
 * pid, the size-rotated output log, restart with backoff, the first
 * start's verdict to the agent, and stopping on a signal. What is
 * specific to a workload type comes in through struct prov_sv_ops.
 */
#include "provisioners/prov_sv.h"
#include "common/backoff.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

void prov_sv_nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void close_from(int lo, int keep)
{
	if (keep >= lo) {
		if (keep > lo && syscall(SYS_close_range, lo, keep - 1, 0) < 0)
			for (int fd = lo; fd < keep; fd++)
				close(fd);
		lo = keep + 1;
	}
	if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
		for (int fd = lo; fd < 4096; fd++)
			close(fd);
}

/* Start time of pid in clock ticks since boot (field 22 of /proc/pid/stat),
 * 0 when the process is gone or a zombie. */
static unsigned long long proc_start(pid_t pid)
{
	char p[64], buf[1024];
	snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
	if (prov_read_file(p, buf, sizeof buf, NULL) < 0)
		return 0;
	char *s = strrchr(buf, ')');
	if (!s || s[1] != ' ' || s[2] == 'Z' || s[2] == 'X')
		return 0;
	s += 2;
	for (int field = 3; field < 22; field++) {
		s = strchr(s, ' ');
		if (!s)
			return 0;
		s++;
	}
	return strtoull(s, NULL, 10);
}

int prov_sv_write_pid(const char *dir, const char *file, pid_t pid)
{
	char p[PROV_PATH_MAX], v[64];
	if (prov_fmt(p, sizeof p, "%s/%s", dir, file) < 0)
		return -ENAMETOOLONG;
	int n = snprintf(v, sizeof v, "%d %llu\n", (int)pid, proc_start(pid));
	/* Atomic (temporary file, rename) so a reader never sees half a line,
	 * but not fsynced: a pid means nothing after the machine restarts,
	 * and a start should not wait for the disk. */
	char tmp[PROV_PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int rc = write(fd, v, (size_t)n) == n ? 0 : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, p) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

void prov_sv_drop_pid(const char *dir, const char *file)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "%s/%s", dir, file) == 0)
		unlink(p);
}

int prov_sv_alive(const char *dir, const char *file, pid_t *pid)
{
	char p[PROV_PATH_MAX], buf[64];
	if (prov_fmt(p, sizeof p, "%s/%s", dir, file) < 0)
		return -ENAMETOOLONG;
	int rc = prov_read_file(p, buf, sizeof buf, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	char *end;
	long v = strtol(buf, &end, 10);
	if (v <= 1 || v > 4194304 || *end != ' ')
		return 0;
	unsigned long long start = strtoull(end + 1, NULL, 10);
	if (start == 0 || proc_start((pid_t)v) != start)
		return 0;
	*pid = (pid_t)v;
	return 1;
}

static void log_open(struct prov_sv_log *l)
{
	char path[PROV_PATH_MAX];
	l->fd = -1;
	l->size = 0;
	if (prov_fmt(path, sizeof path, "%s/%s", l->dir, l->name) < 0)
		return;
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (l->fd >= 0 && fstat(l->fd, &st) == 0)
		l->size = (uint64_t)st.st_size;
}

/* <name> -> <name>.1 -> ... -> <name>.<keep>. */
static void log_rotate(struct prov_sv_log *l)
{
	char a[PROV_PATH_MAX], b[PROV_PATH_MAX];
	if (l->fd >= 0)
		close(l->fd);
	for (unsigned k = l->keep; k >= 1; k--) {
		int r = k == 1 ? prov_fmt(a, sizeof a, "%s/%s", l->dir, l->name)
		               : prov_fmt(a, sizeof a, "%s/%s.%u", l->dir, l->name, k - 1);
		if (r < 0 || prov_fmt(b, sizeof b, "%s/%s.%u", l->dir, l->name, k) < 0)
			break;
		rename(a, b);
	}
	log_open(l);
}

void prov_sv_log_write(struct prov_sv_log *l, const char *buf, size_t n)
{
	if (l->size + n > l->max)
		log_rotate(l);
	if (l->fd < 0)
		return;
	ssize_t w = write(l->fd, buf, n);
	if (w > 0)
		l->size += (uint64_t)w;
}

void prov_sv_log_note(struct prov_sv_log *l, const char *fmt, ...)
{
	static const char tag[] = "[zos-supervisor] ";
	char buf[512];
	memcpy(buf, tag, sizeof tag - 1);
	size_t room = sizeof buf - (sizeof tag - 1) - 1; /* keep one byte for '\n' */
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + sizeof tag - 1, room + 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = sizeof tag - 1 + ((size_t)m < room ? (size_t)m : room);
	buf[len++] = '\n';
	prov_sv_log_write(l, buf, len);
}

void prov_sv_drain(struct prov_sv_log *l, int fd, char *tail, size_t tailsz)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		prov_sv_log_write(l, buf, (size_t)n);
		if (tail && tailsz > 1) {
			size_t k = (size_t)n < tailsz - 1 ? (size_t)n : tailsz - 1;
			memcpy(tail, buf + (size_t)n - k, k);
			tail[k] = '\0';
		}
	}
}

/* The first start's verdict to prov_sv_start ("OK" or "ERR <errno> why"),
 * once: the pipe is closed after it. */
static void report(int *status_fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int *status_fd, const char *fmt, ...)
{
	if (*status_fd < 0)
		return;
	char buf[320];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(*status_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	close(*status_fd);
	*status_fd = -1;
}

static void supervise(const struct prov_sv *sv, int status_fd) __attribute__((noreturn));
static void supervise(const struct prov_sv *sv, int status_fd)
{
	const struct prov_sv_ops *ops = sv->ops;
	sigset_t all, want;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	close_from(3, status_fd);
	int nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	if (chdir("/") < 0)
		_exit(1);
	umask(022);

	struct prov_sv_run r = {
	    .log = {.dir = sv->dir, .name = sv->log_name, .max = sv->log_max, .keep = sv->log_keep},
	    .out_rd = -1,
	    .out_wr = -1,
	};
	log_open(&r.log);
	int rc = prov_sv_write_pid(sv->dir, "supervisor.pid", getpid());
	sigemptyset(&want);
	sigaddset(&want, SIGCHLD);
	sigaddset(&want, SIGTERM);
	sigaddset(&want, SIGINT);
	sigaddset(&want, SIGHUP);
	int sfd = signalfd(-1, &want, SFD_CLOEXEC | SFD_NONBLOCK);
	int out[2] = {-1, -1};
	if (rc < 0 || sfd < 0 || pipe2(out, O_CLOEXEC) < 0) {
		report(&status_fd, "ERR %d supervisor setup failed\n", rc < 0 ? -rc : errno);
		prov_sv_drop_pid(sv->dir, "supervisor.pid");
		_exit(1);
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	r.out_rd = out[0];
	r.out_wr = out[1];

	pid_t child = 0;
	int64_t next_start = 0, started_at = 0;
	struct backoff backoff;
	backoff_init(&backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 0);
	for (;;) {
		/* While paused (grace period) the workload stays down. */
		if (child <= 0 && clk_mono_ms() >= next_start && status_fd < 0 && ops->paused &&
		    ops->paused(sv->arg))
			next_start = clk_mono_ms() + BACKOFF_MIN_MS;
		if (child <= 0 && clk_mono_ms() >= next_start) {
			char why[256];
			pid_t pid = ops->start(sv->arg, &r, why, sizeof why);
			if (pid < 0) {
				prov_sv_log_note(&r.log, "start failed: %s", why);
				if (status_fd >= 0) {
					/* The first start decides provisioning: fail it. */
					report(&status_fd, "ERR %d %s\n", -pid, why);
					prov_sv_drop_pid(sv->dir, "supervisor.pid");
					_exit(1);
				}
				next_start = clk_mono_ms() + backoff_next(&backoff);
			} else {
				child = pid;
				started_at = clk_mono_ms();
				report(&status_fd, "OK\n");
			}
		}
		int64_t wait = -1;
		if (child <= 0) {
			wait = next_start - clk_mono_ms();
			if (wait < 0)
				wait = 0;
		}
		struct pollfd pf[2] = {{.fd = out[0], .events = POLLIN},
		                       {.fd = sfd, .events = POLLIN}};
		if (poll(pf, 2, (int)wait) < 0 && errno != EINTR)
			_exit(1);
		if (pf[0].revents & POLLIN)
			prov_sv_drain(&r.log, out[0], NULL, 0);
		if (!(pf[1].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof si) == sizeof si) {
			if (si.ssi_signo != SIGCHLD) {
				prov_sv_log_note(&r.log, "stopping on signal %u", si.ssi_signo);
				ops->stop(sv->arg, &r, child);
				prov_sv_drop_pid(sv->dir, "supervisor.pid");
				_exit(0);
			}
		}
		int st;
		pid_t w;
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w != child) {
				if (ops->reaped)
					ops->reaped(sv->arg, w);
				continue;
			}
			prov_sv_drain(&r.log, out[0], NULL, 0);
			ops->exited(sv->arg, &r, st);
			if (clk_mono_ms() - started_at >= ops->healthy_ms)
				backoff_reset(&backoff);
			long delay = (long)backoff_next(&backoff);
			next_start = clk_mono_ms() + delay;
			prov_sv_log_note(&r.log, "restarting in %ld ms", delay);
			child = 0;
		}
	}
}

int prov_sv_start(const struct prov_sv *sv, char *err, size_t errsz)
{
	int st[2];
	if (pipe2(st, O_CLOEXEC) < 0)
		return prov_err(err, errsz, -errno, "pipe: %s", prov_strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(st[0]);
		close(st[1]);
		return prov_err(err, errsz, -e, "fork: %s", prov_strerror(e));
	}
	if (pid == 0) {
		close(st[0]);
		/* Own session, then a second fork: the supervisor is no child of
		 * the agent and no session leader that could get a terminal. */
		if (setsid() < 0)
			_exit(1);
		pid_t s = fork();
		if (s != 0)
			_exit(s < 0 ? 1 : 0);
		supervise(sv, st[1]);
	}
	close(st[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	char buf[320];
	size_t got = 0;
	int64_t deadline = clk_mono_ms() + sv->ops->report_ms;
	int timed_out = 0;
	while (got < sizeof buf - 1) {
		int64_t left = deadline - clk_mono_ms();
		struct pollfd pf = {.fd = st[0], .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			timed_out = 1;
			break;
		}
		ssize_t n = read(st[0], buf + got, sizeof buf - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(st[0]);
	buf[got] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(buf, "OK") == 0)
		return 0;
	const char *what = sv->ops->what;
	if (strncmp(buf, "ERR ", 4) == 0) {
		char *sp = strchr(buf + 4, ' ');
		int code = (int)strtol(buf + 4, NULL, 10);
		return prov_err(err, errsz, code > 0 ? -code : -EIO, "%s start failed: %s", what,
		                sp ? sp + 1 : "unknown reason");
	}
	prov_sv_stop(sv->dir, sv->ops->stop_ms);
	return prov_err(err, errsz, timed_out ? ZE_TIMEOUT : -EIO,
	                timed_out ? "%s supervisor did not report in time"
	                          : "%s supervisor died during start",
	                what);
}

int prov_sv_stop(const char *dir, long wait_ms)
{
	pid_t pid;
	int rc = prov_sv_alive(dir, "supervisor.pid", &pid);
	if (rc <= 0)
		return rc;
	kill(pid, SIGTERM);
	int64_t deadline = clk_mono_ms() + wait_ms;
	while (clk_mono_ms() < deadline) {
		if (prov_sv_alive(dir, "supervisor.pid", &pid) <= 0)
			return 0;
		prov_sv_nap_ms(20);
	}
	kill(pid, SIGKILL);
	prov_sv_drop_pid(dir, "supervisor.pid");
	return 0;
}
