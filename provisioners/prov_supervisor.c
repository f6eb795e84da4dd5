/*
 * The container supervisor: a double-forked process that outlives the agent,
 * (re)starts the container and keeps its log. After the fork it only uses
 * system calls and stack buffers, never locks another agent thread might
 * have held at fork time.
 */
#include "provisioners/prov_container.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
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
#define STOP_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
/* A container that ran this long counts as healthy: backoff starts over. */
#define HEALTHY_RUN_MS 10000

/* Entry of the container's init, in prov_ctinit.c. */
void prov_ct_child(const struct prov_ct_plan *p, int sync_fd, int err_fd, int out_fd)
    __attribute__((noreturn));

void prov_ct_plan_clear(struct prov_ct_plan *p)
{
	for (size_t i = 0; i < PROV_CT_ARGS_MAX + 1 && p->argv[i]; i++) {
		free(p->argv[i]);
		p->argv[i] = NULL;
	}
	for (size_t i = 0; i < PROV_CT_ENV_MAX + 2 && p->envp[i]; i++) {
		free(p->envp[i]);
		p->envp[i] = NULL;
	}
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
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

static int write_pid(const char *dir, const char *file, pid_t pid)
{
	char p[PROV_PATH_MAX], v[64];
	if (prov_fmt(p, sizeof p, "%s/%s", dir, file) < 0)
		return -ENAMETOOLONG;
	int n = snprintf(v, sizeof v, "%d %llu\n", (int)pid, proc_start(pid));
	return prov_write_file(p, v, (size_t)n, 0600);
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

/* One container start. Returns the host pid of its init, or a negative
 * error with the reason in why. */
static pid_t start_container(const struct prov_ct_plan *p, int out_wr, char *why, size_t whysz)
{
	int sync[2], ep[2];
	if (pipe2(sync, O_CLOEXEC) < 0) {
		snprintf(why, whysz, "pipe: %s", prov_strerror(errno));
		return -errno;
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		int e = errno;
		close(sync[0]);
		close(sync[1]);
		snprintf(why, whysz, "pipe: %s", prov_strerror(e));
		return -e;
	}
	long pid =
	    syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD,
	            NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(sync[1]);
		close(ep[0]);
		prov_ct_child(p, sync[0], ep[1], out_wr);
	}
	int e = errno;
	close(sync[0]);
	close(ep[1]);
	if (pid < 0) {
		close(sync[1]);
		close(ep[0]);
		snprintf(why, whysz, "clone: %s", prov_strerror(e));
		return -e;
	}
	/* The child waits for this byte, so every page it touches is charged
	 * to its own cgroup from the start. */
	int rc = prov_cg_attach(&p->cg, (pid_t)pid);
	if (rc < 0) {
		snprintf(why, whysz, "cannot join cgroups: %s", zerr_str(rc));
		kill((pid_t)pid, SIGKILL);
	} else if (write(sync[1], "g", 1) != 1) {
		rc = -EPIPE;
		snprintf(why, whysz, "container init vanished");
	}
	close(sync[1]);
	/* EOF without a message: execve succeeded (the pipe is close-on-exec). */
	char msg[256];
	size_t got = 0;
	long deadline = now_ms() + START_TIMEOUT_MS;
	for (;;) {
		long left = deadline - now_ms();
		struct pollfd pf = {.fd = ep[0], .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			if (rc == 0) {
				rc = ZE_TIMEOUT;
				snprintf(why, whysz, "container init did not start in time");
			}
			break;
		}
		ssize_t n = read(ep[0], msg + got, sizeof msg - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got >= sizeof msg - 1)
			break;
	}
	close(ep[0]);
	if (got > 0 && rc == 0) {
		msg[got] = '\0';
		/* "<errno> <text>" from prov_ct_child. */
		char *sp = strchr(msg, ' ');
		int code = (int)strtol(msg, NULL, 10);
		rc = code > 0 ? -code : -EIO;
		snprintf(why, whysz, "%s", sp ? sp + 1 : msg);
	}
	if (rc < 0) {
		/* A child in a frozen cgroup dies only once thawed; it is then
		 * reaped by the main loop's waitpid(-1) instead of blocking here. */
		kill((pid_t)pid, SIGKILL);
		for (int i = 0; i < 50; i++) {
			pid_t w = waitpid((pid_t)pid, NULL, WNOHANG);
			if (w == (pid_t)pid || (w < 0 && errno != EINTR))
				break;
			struct timespec ts = {0, 10 * 1000000L};
			nanosleep(&ts, NULL);
		}
		return rc;
	}
	return (pid_t)pid;
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

static void stop_child(const struct prov_ct_plan *p, pid_t child)
{
	if (child <= 0)
		return;
	/* Killing the init of a pid namespace kills everything in it; frozen
	 * tasks die only once thawed. */
	kill(child, SIGKILL);
	prov_cg_freeze(&p->cg, 0);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
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
	long next_start = 0, started_at = 0, backoff = BACKOFF_MIN_MS;
	for (;;) {
		/* While paused (grace period) a restart would freeze half way. */
		if (child <= 0 && now_ms() >= next_start && status_fd < 0 &&
		    prov_cg_frozen(&p->cg) == 1)
			next_start = now_ms() + BACKOFF_MIN_MS;
		if (child <= 0 && now_ms() >= next_start) {
			char why[256];
			pid_t pid = start_container(p, out[1], why, sizeof why);
			if (pid < 0) {
				log_note(&log, "start failed: %s", why);
				if (status_fd >= 0) {
					/* The first start decides provisioning: fail it. */
					report(&status_fd, "ERR %d %s\n", -pid, why);
					drop_pid(p->dir, "supervisor.pid");
					_exit(1);
				}
				next_start = now_ms() + backoff;
				backoff =
				    backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			} else {
				child = pid;
				started_at = now_ms();
				write_pid(p->dir, "container.pid", child);
				log_note(&log, "container started, pid %d", (int)child);
				report(&status_fd, "OK\n");
			}
		}
		long wait = -1;
		if (child <= 0) {
			wait = next_start - now_ms();
			if (wait < 0)
				wait = 0;
		}
		struct pollfd pf[2] = {{.fd = out[0], .events = POLLIN},
		                       {.fd = sfd, .events = POLLIN}};
		if (poll(pf, 2, (int)wait) < 0 && errno != EINTR)
			_exit(1);
		if (pf[0].revents & POLLIN) {
			char buf[4096];
			ssize_t n;
			while ((n = read(out[0], buf, sizeof buf)) > 0)
				log_write(&log, buf, (size_t)n);
		}
		if (!(pf[1].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof si) == sizeof si) {
			if (si.ssi_signo != SIGCHLD) {
				log_note(&log, "stopping on signal %u", si.ssi_signo);
				stop_child(p, child);
				drop_pid(p->dir, "supervisor.pid");
				_exit(0);
			}
		}
		int st;
		pid_t w;
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w != child)
				continue;
			drop_pid(p->dir, "container.pid");
			if (WIFSIGNALED(st))
				log_note(&log, "container killed by signal %d", WTERMSIG(st));
			else
				log_note(&log, "container exited with status %d", WEXITSTATUS(st));
			if (now_ms() - started_at >= HEALTHY_RUN_MS)
				backoff = BACKOFF_MIN_MS;
			next_start = now_ms() + backoff;
			log_note(&log, "restarting in %ld ms", backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
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
	long deadline = now_ms() + START_TIMEOUT_MS + 5000;
	int timed_out = 0;
	while (got < sizeof buf - 1) {
		long left = deadline - now_ms();
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
	long deadline = now_ms() + STOP_TIMEOUT_MS;
	while (now_ms() < deadline) {
		if (prov_ct_alive(dir, "supervisor.pid", &pid) <= 0)
			return 0;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	drop_pid(dir, "supervisor.pid");
	return 0;
}
