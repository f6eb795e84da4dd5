/*
 * The container supervisor: a double-forked process that outlives the agent
 * and runs `<runtime> run` of the container's bundle, with the container's
 * stdout and stderr to <dir>/log (size rotation), restarts it with backoff
 * when it dies (not while <dir>/paused exists), and on SIGTERM kills and
 * deletes it from the runtime. After the fork it only uses system calls and
 * stack buffers, never locks another agent thread might have held at fork
 * time.
 */
#include "provisioners/prov_container.h"
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

#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
/* A container that ran this long counts as healthy: backoff starts over. */
#define HEALTHY_RUN_MS 10000

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

static int write_pid(const char *dir, const char *file, pid_t pid)
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

static void drop_pid(const char *dir, const char *file)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "%s/%s", dir, file) == 0)
		unlink(p);
}

int prov_ct_alive(const char *dir, const char *file, pid_t *pid)
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

/* Log with size rotation: log -> log.1 -> ... -> log.<keep>. */
struct ct_log {
	const struct prov_ct_plan *p;
	int fd;
	uint64_t size;
};

static void log_open(struct ct_log *l)
{
	char path[PROV_PATH_MAX];
	l->fd = -1;
	l->size = 0;
	if (prov_fmt(path, sizeof path, "%s/log", l->p->dir) < 0)
		return;
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (l->fd >= 0 && fstat(l->fd, &st) == 0)
		l->size = (uint64_t)st.st_size;
}

static void log_rotate(struct ct_log *l)
{
	char a[PROV_PATH_MAX], b[PROV_PATH_MAX];
	if (l->fd >= 0)
		close(l->fd);
	for (unsigned k = l->p->log_keep; k >= 1; k--) {
		if (k == 1) {
			if (prov_fmt(a, sizeof a, "%s/log", l->p->dir) < 0)
				break;
		} else if (prov_fmt(a, sizeof a, "%s/log.%u", l->p->dir, k - 1) < 0) {
			break;
		}
		if (prov_fmt(b, sizeof b, "%s/log.%u", l->p->dir, k) < 0)
			break;
		rename(a, b);
	}
	log_open(l);
}

static void log_write(struct ct_log *l, const char *buf, size_t n)
{
	if (l->size + n > l->p->log_max)
		log_rotate(l);
	if (l->fd < 0)
		return;
	ssize_t w = write(l->fd, buf, n);
	if (w > 0)
		l->size += (uint64_t)w;
}

static void log_note(struct ct_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_note(struct ct_log *l, const char *fmt, ...)
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
	log_write(l, buf, len);
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *const rt_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};

/* Forks and executes the runtime with args, output to out_fd. */
static pid_t rt_spawn(const struct prov_ct_plan *p, int out_fd, const char *const args[])
{
	const char *argv[16] = {p->runtime, "--root", p->runtime_root};
	size_t n = 3;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
			_exit(126);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(p->runtime, (char *const *)argv, (char *const *)rt_env);
		_exit(127);
	}
	return pid;
}

/* Runs a runtime command to completion (bounded), output to out_fd. */
static int rt_sync(const struct prov_ct_plan *p, int out_fd, const char *const args[])
{
	pid_t pid = rt_spawn(p, out_fd, args);
	if (pid < 0)
		return -errno;
	long deadline = clk_mono_ms() + STOP_TIMEOUT_MS;
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (clk_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return ZE_TIMEOUT;
		}
		nap_ms(10);
	}
}

static void drain(struct ct_log *l, int fd, char *tail, size_t tailsz)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		log_write(l, buf, (size_t)n);
		if (tail && tailsz > 1) {
			/* Keep the last line of output: the runtime's reason. */
			size_t k = (size_t)n < tailsz - 1 ? (size_t)n : tailsz - 1;
			memcpy(tail, buf + (size_t)n - k, k);
			tail[k] = '\0';
		}
	}
}

static int paused(const struct prov_ct_plan *p)
{
	char f[PROV_PATH_MAX];
	return prov_fmt(f, sizeof f, "%s/paused", p->dir) == 0 && access(f, F_OK) == 0;
}

/* One container start: `<runtime> run`, which stays in the foreground as
 * the container's parent. Returns the runtime's pid once its --pid-file
 * names the container's process (the entrypoint was executed), or a
 * negative error with the runtime's last words in why. */
static pid_t start_container(const struct prov_ct_plan *p, struct ct_log *log, int out_rd,
                             int out_wr, char *why, size_t whysz)
{
	char pidf[PROV_PATH_MAX], buf[64];
	if (prov_fmt(pidf, sizeof pidf, "%s/runtime.pid", p->dir) < 0)
		return -ENAMETOOLONG;
	/* A container of the same id left stopped (a crash) blocks `run`; its
	 * state directory says whether there is one (runc and crun keep
	 * <root>/<id>), which saves a runtime call on every start. */
	const char *del[] = {"delete", "--force", p->host, NULL};
	char st[PROV_PATH_MAX];
	if (prov_fmt(st, sizeof st, "%s/%s", p->runtime_root, p->host) < 0 ||
	    access(st, F_OK) == 0) {
		rt_sync(p, out_wr, del);
		drain(log, out_rd, NULL, 0);
	}
	unlink(pidf);
	const char *run[] = {"run", "--bundle", p->dir, "--pid-file", pidf, p->host, NULL};
	pid_t pid = rt_spawn(p, out_wr, run);
	if (pid < 0) {
		snprintf(why, whysz, "fork: %s", prov_strerror(errno));
		return -errno;
	}
	long deadline = clk_mono_ms() + START_TIMEOUT_MS;
	char tail[256] = "";
	for (;;) {
		drain(log, out_rd, tail, sizeof tail);
		if (prov_read_file(pidf, buf, sizeof buf, NULL) == 0) {
			long cpid = strtol(buf, NULL, 10);
			if (cpid > 1) {
				write_pid(p->dir, "container.pid", (pid_t)cpid);
				return pid;
			}
		}
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			drain(log, out_rd, tail, sizeof tail);
			tail[strcspn(tail, "\n")] = '\0';
			/* The last complete line: where runc says why. */
			char *nl = NULL, *s = tail;
			while ((s = strstr(s, "error")))
				nl = s++;
			snprintf(why, whysz, "%s", nl ? nl : tail[0] ? tail : "runtime failed");
			return strstr(tail, "no such file") ? -ENOENT : -EIO;
		}
		if (clk_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			rt_sync(p, out_wr, del);
			snprintf(why, whysz, "the container did not start in %d s",
			         START_TIMEOUT_MS / 1000);
			return ZE_TIMEOUT;
		}
		nap_ms(2);
	}
}

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

static void stop_child(const struct prov_ct_plan *p, struct ct_log *log, int out_rd, int out_wr,
                       pid_t child)
{
	/* delete --force kills every process of the container (thawing a
	 * paused one first) and removes its cgroups. */
	const char *del[] = {"delete", "--force", p->host, NULL};
	rt_sync(p, out_wr, del);
	/* The runtime may have lost its state (its root removed): the init of
	 * the container's pid namespace takes everything with it. */
	pid_t cpid;
	if (prov_ct_alive(p->dir, "container.pid", &cpid) == 1)
		kill(cpid, SIGKILL);
	if (child > 0) {
		long deadline = clk_mono_ms() + STOP_TIMEOUT_MS;
		while (waitpid(child, NULL, WNOHANG) == 0 && clk_mono_ms() < deadline) {
			drain(log, out_rd, NULL, 0);
			nap_ms(10);
		}
		kill(child, SIGKILL);
		waitpid(child, NULL, WNOHANG);
		rt_sync(p, out_wr, del);
	}
	drain(log, out_rd, NULL, 0);
	drop_pid(p->dir, "container.pid");
}

static void supervise(const struct prov_ct_plan *p, int status_fd) __attribute__((noreturn));
static void supervise(const struct prov_ct_plan *p, int status_fd)
{
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

	struct ct_log log = {.p = p};
	log_open(&log);
	int rc = write_pid(p->dir, "supervisor.pid", getpid());
	sigemptyset(&want);
	sigaddset(&want, SIGCHLD);
	sigaddset(&want, SIGTERM);
	sigaddset(&want, SIGINT);
	sigaddset(&want, SIGHUP);
	int sfd = signalfd(-1, &want, SFD_CLOEXEC | SFD_NONBLOCK);
	int out[2] = {-1, -1};
	if (rc < 0 || sfd < 0 || pipe2(out, O_CLOEXEC) < 0) {
		report(&status_fd, "ERR %d supervisor setup failed\n", rc < 0 ? -rc : errno);
		drop_pid(p->dir, "supervisor.pid");
		_exit(1);
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);

	pid_t child = 0;
	long next_start = 0, started_at = 0;
	struct backoff backoff;
	backoff_init(&backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 0);
	for (;;) {
		/* While paused (grace period) the container stays down. */
		if (child <= 0 && clk_mono_ms() >= next_start && status_fd < 0 && paused(p))
			next_start = clk_mono_ms() + BACKOFF_MIN_MS;
		if (child <= 0 && clk_mono_ms() >= next_start) {
			char why[256];
			pid_t pid = start_container(p, &log, out[0], out[1], why, sizeof why);
			if (pid < 0) {
				log_note(&log, "start failed: %s", why);
				if (status_fd >= 0) {
					/* The first start decides provisioning: fail it. */
					report(&status_fd, "ERR %d %s\n", -pid, why);
					drop_pid(p->dir, "supervisor.pid");
					_exit(1);
				}
				next_start = clk_mono_ms() + backoff_next(&backoff);
			} else {
				child = pid;
				started_at = clk_mono_ms();
				pid_t cpid = 0;
				prov_ct_alive(p->dir, "container.pid", &cpid);
				log_note(&log, "container started, pid %d", (int)cpid);
				report(&status_fd, "OK\n");
			}
		}
		long wait = -1;
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
			drain(&log, out[0], NULL, 0);
		if (!(pf[1].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof si) == sizeof si) {
			if (si.ssi_signo != SIGCHLD) {
				log_note(&log, "stopping on signal %u", si.ssi_signo);
				stop_child(p, &log, out[0], out[1], child);
				drop_pid(p->dir, "supervisor.pid");
				_exit(0);
			}
		}
		int st;
		pid_t w;
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w != child)
				continue;
			drain(&log, out[0], NULL, 0);
			drop_pid(p->dir, "container.pid");
			/* The runtime exits with the container's status, 128 + n
			 * when a signal n killed it. */
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			if (code > 128 && code < 128 + 65)
				log_note(&log, "container killed by signal %d", code - 128);
			else
				log_note(&log, "container exited with status %d", code);
			if (clk_mono_ms() - started_at >= HEALTHY_RUN_MS)
				backoff_reset(&backoff);
			long delay = (long)backoff_next(&backoff);
			next_start = clk_mono_ms() + delay;
			log_note(&log, "restarting in %ld ms", delay);
			child = 0;
		}
	}
}

int prov_ct_start(const struct prov_ct_plan *p, char *err, size_t errsz)
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
		supervise(p, st[1]);
	}
	close(st[1]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char buf[320];
	size_t got = 0;
	long deadline = clk_mono_ms() + START_TIMEOUT_MS + 5000;
	int timed_out = 0;
	while (got < sizeof buf - 1) {
		long left = deadline - clk_mono_ms();
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
	if (strncmp(buf, "ERR ", 4) == 0) {
		char *sp = strchr(buf + 4, ' ');
		int code = (int)strtol(buf + 4, NULL, 10);
		return prov_err(err, errsz, code > 0 ? -code : -EIO, "container start failed: %s",
		                sp ? sp + 1 : "unknown reason");
	}
	prov_ct_stop(p->dir);
	return prov_err(err, errsz, timed_out ? ZE_TIMEOUT : -EIO,
	                timed_out ? "container supervisor did not report in time"
	                          : "container supervisor died during start");
}

int prov_ct_stop(const char *dir)
{
	pid_t pid;
	int rc = prov_ct_alive(dir, "supervisor.pid", &pid);
	if (rc <= 0)
		return rc;
	kill(pid, SIGTERM);
	long deadline = clk_mono_ms() + STOP_TIMEOUT_MS;
	while (clk_mono_ms() < deadline) {
		if (prov_ct_alive(dir, "supervisor.pid", &pid) <= 0)
			return 0;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	drop_pid(dir, "supervisor.pid");
	return 0;
}
