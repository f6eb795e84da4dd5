/*
 * The VM supervisor: a double-forked process that outlives the agent, runs
 * qemu unprivileged in the VM's cgroups, keeps the console log and restarts
 * qemu with backoff. After the fork it only uses system calls and stack
 * buffers, never locks another agent thread might have held at fork time.
 */
#include "provisioners/prov_vm.h"
#include "common/backoff.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 15000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
/* A guest that ran this long counts as healthy: backoff starts over. */
#define HEALTHY_RUN_MS 30000
/* qemu exits at once on SIGTERM; this bounds a qemu that is stuck. */
#define KILL_WAIT_MS 3000

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
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
		if (!(s = strchr(s, ' ')))
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

int prov_vm_alive(const char *dir, const char *file, pid_t *pid)
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

/* The console log with size rotation: console.log -> console.log.1 -> ... */
struct vm_log {
	const struct prov_vm_plan *p;
	int fd;
	uint64_t size;
};

static void log_open(struct vm_log *l)
{
	char path[PROV_PATH_MAX];
	l->fd = -1;
	l->size = 0;
	if (prov_fmt(path, sizeof path, "%s/console.log", l->p->dir) < 0)
		return;
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (l->fd >= 0 && fstat(l->fd, &st) == 0)
		l->size = (uint64_t)st.st_size;
}

static void log_rotate(struct vm_log *l)
{
	char a[PROV_PATH_MAX], b[PROV_PATH_MAX];
	if (l->fd >= 0)
		close(l->fd);
	for (unsigned k = l->p->log_keep; k >= 1; k--) {
		int r = k == 1 ? prov_fmt(a, sizeof a, "%s/console.log", l->p->dir)
		               : prov_fmt(a, sizeof a, "%s/console.log.%u", l->p->dir, k - 1);
		if (r < 0 || prov_fmt(b, sizeof b, "%s/console.log.%u", l->p->dir, k) < 0)
			break;
		rename(a, b);
	}
	log_open(l);
}

static void log_write(struct vm_log *l, const char *buf, size_t n)
{
	if (l->size + n > l->p->log_max)
		log_rotate(l);
	if (l->fd < 0)
		return;
	ssize_t w = write(l->fd, buf, n);
	if (w > 0)
		l->size += (uint64_t)w;
}

static void log_note(struct vm_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_note(struct vm_log *l, const char *fmt, ...)
{
	char buf[384];
	int k = snprintf(buf, sizeof buf, "[zos-supervisor] ");
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + k, sizeof buf - (size_t)k - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len =
	    (size_t)k +
	    ((size_t)m < sizeof buf - (size_t)k - 2 ? (size_t)m : sizeof buf - (size_t)k - 2);
	buf[len++] = '\n';
	log_write(l, buf, len);
}

/* Opens tap i inside its network's namespace. The descriptor stays bound
 * to that tap after returning to our namespace. */
static int open_tap(const struct prov_vm_nic *n, int self_ns)
{
	char path[PROV_PATH_MAX];
	if (prov_fmt(path, sizeof path, "/run/netns/%s", n->netns) < 0)
		return -ENAMETOOLONG;
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return -errno;
	int rc = setns(ns, CLONE_NEWNET) < 0 ? -errno : 0;
	close(ns);
	if (rc < 0)
		return rc;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		rc = -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, n->tap, strnlen(n->tap, IFNAMSIZ - 1));
	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		close(fd);
		fd = -1;
	}
	if (setns(self_ns, CLONE_NEWNET) < 0 && fd >= 0) {
		rc = -errno;
		close(fd);
		fd = -1;
	}
	return fd >= 0 ? fd : rc;
}

static void child_fail(int ep, int e, const char *what) __attribute__((noreturn));
static void child_fail(int ep, int e, const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof msg, "%d %s: %s", e, what, prov_strerror(e));
	(void)!write(ep, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
	_exit(127);
}

/* The listening QMP socket at path, replacing a stale one. */
static int qmp_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 8) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

#define FD_PARK 200

/* The forked child: cgroups, descriptors, stdio, identity, then qemu. */
static void qemu_child(const struct prov_vm_plan *p, int ep, int out_wr) __attribute__((noreturn));
static void qemu_child(const struct prov_vm_plan *p, int ep, int out_wr)
{
	int rc = prov_cg_attach(&p->cg, getpid());
	if (rc < 0)
		child_fail(ep, -rc, "cannot join the VM's cgroups");
	/* Park the pipes above everything qemu receives. */
	int ep_hi = fcntl(ep, F_DUPFD_CLOEXEC, FD_PARK + 40);
	int out_hi = fcntl(out_wr, F_DUPFD_CLOEXEC, FD_PARK + 40);
	if (ep_hi < 0 || out_hi < 0)
		child_fail(ep, errno, "fcntl");
	close(ep);
	ep = ep_hi;
	int self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_ns < 0)
		child_fail(ep, errno, "cannot open our network namespace");
	/* In the order of prov_vm_argv: taps, disks (read-only and read-write
	 * each), kernel, initrd, QMP. */
	int fds[PROV_VM_NICS_MAX + 2 * PROV_VM_DISKS_MAX + 3 + PROV_VM_VOLS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < p->nnics; i++) {
		int fd = open_tap(&p->nics[i], self_ns);
		if (fd < 0)
			child_fail(ep, -fd, "cannot open the VM's tap");
		fds[n++] = fd;
	}
	for (size_t i = 0; i < p->ndisks; i++) {
		int ro = open(p->disks[i].file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		int rw = p->disks[i].readonly
		             ? open(p->disks[i].file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
		             : open(p->disks[i].file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (ro < 0 || rw < 0)
			child_fail(ep, errno, "cannot open a disk of the VM");
		fds[n++] = ro;
		fds[n++] = rw;
	}
	if ((fds[n++] = open(p->kernel, O_RDONLY | O_CLOEXEC)) < 0)
		child_fail(ep, errno, "cannot open the VM kernel");
	if ((fds[n++] = open(p->initrd, O_RDONLY | O_CLOEXEC)) < 0)
		child_fail(ep, errno, "cannot open the VM initramfs");
	if ((fds[n] = qmp_listen(p->qmp)) < 0)
		child_fail(ep, -fds[n], "cannot create the QMP socket");
	n++;
	/* Each volume's virtiofsd listens already (the supervisor made the
	 * socket before starting it), so connecting cannot race with it. */
	for (size_t i = 0; i < p->nvols; i++) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		memcpy(sa.sun_path, p->vols[i].sock,
		       strnlen(p->vols[i].sock, sizeof sa.sun_path - 1));
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			child_fail(ep, errno, "cannot connect to the volume's virtiofsd");
		fds[n++] = fd;
	}
	for (size_t i = 0; i < n; i++) {
		int hi = fcntl(fds[i], F_DUPFD_CLOEXEC, FD_PARK);
		if (hi < 0)
			child_fail(ep, errno, "fcntl");
		close(fds[i]);
		fds[i] = hi;
	}
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_hi, 1) < 0 || dup2(out_hi, 2) < 0)
		child_fail(ep, errno, "cannot set up qemu's stdio");
	/* dup2 clears close-on-exec: exactly these reach qemu. */
	for (size_t i = 0; i < n; i++)
		if (dup2(fds[i], (int)(3 + i)) < 0)
			child_fail(ep, errno, "dup2");
	for (int fd = 3 + (int)n; fd < 1024; fd++)
		if (fd != ep)
			close(fd);
	gid_t groups[1] = {p->kvm_gid};
	if (setgroups(p->kvm_gid == (gid_t)-1 ? 0 : 1, groups) < 0)
		child_fail(ep, errno, "setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0 || setresuid(p->uid, p->uid, p->uid) < 0)
		child_fail(ep, errno, "cannot drop to the VM's uid");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(ep, errno, "no_new_privs");
	static char *const envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
	execve(p->argv[0], p->argv, envp);
	child_fail(ep, errno, "cannot execute qemu");
}

/* Starts the virtiofsd of volume i on a fresh listening socket, in the
 * VM's cgroups, its output into the console log: its pid or -errno. It
 * exits by itself when qemu goes away. */
static pid_t start_virtiofsd(const struct prov_vm_plan *p, size_t i, int out_wr)
{
	int l = qmp_listen(p->vols[i].sock);
	if (l < 0)
		return l;
	pid_t pid = fork();
	if (pid == 0) {
		prov_cg_attach(&p->cg, getpid());
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_wr, 1) < 0 || dup2(out_wr, 2) < 0 ||
		    dup2(l, 3) < 0)
			_exit(127);
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
		char src[PROV_PATH_MAX + 16];
		snprintf(src, sizeof src, "source=%s", p->vols[i].dir);
		char *const argv[] = {(char *)p->virtiofsd, "--fd=3", "-o", src, "-o",
		                      "cache=none", "-o", "log_level=err", NULL};
		static char *const envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
		execve(p->virtiofsd, argv, envp);
		_exit(127);
	}
	int e = errno;
	close(l);
	return pid < 0 ? -e : pid;
}

static void stop_virtiofsd(pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
				;
			pids[i] = 0;
		}
}

/* One qemu start: its pid, or a negative error with the reason in why. */
static pid_t start_qemu(const struct prov_vm_plan *p, int out_wr, char *why, size_t whysz)
{
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(why, whysz, "pipe: %s", prov_strerror(errno));
		return -errno;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(ep[0]);
		qemu_child(p, ep[1], out_wr);
	}
	int e = errno;
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		snprintf(why, whysz, "fork: %s", prov_strerror(e));
		return -e;
	}
	/* EOF without a message: execve succeeded (the pipe is close-on-exec). */
	char msg[256];
	size_t got = 0;
	for (;;) {
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
	if (got == 0)
		return pid;
	msg[got] = '\0';
	char *sp = strchr(msg, ' ');
	int code = (int)strtol(msg, NULL, 10);
	snprintf(why, whysz, "%s", sp ? sp + 1 : msg);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return code > 0 ? -code : -EIO;
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

static int reaped(pid_t child, long wait_ms)
{
	long deadline = clk_mono_ms() + wait_ms;
	for (;;) {
		pid_t w = waitpid(child, NULL, WNOHANG);
		if (w == child || (w < 0 && errno == ECHILD))
			return 1;
		if (clk_mono_ms() >= deadline)
			return 0;
		sleep_ms(50);
	}
}

/* Graceful first: ACPI power button through QMP (a paused guest is
 * resumed so it can react), then SIGTERM, then SIGKILL. */
static void stop_qemu(const struct prov_vm_plan *p, struct vm_log *log, pid_t child)
{
	if (child <= 0)
		return;
	if (p->stop_ms > 0) {
		prov_qmp(p->qmp, "cont", NULL, 0, 1000);
		if (prov_qmp(p->qmp, "system_powerdown", NULL, 0, 1000) == 0 &&
		    reaped(child, p->stop_ms)) {
			log_note(log, "guest powered off");
			goto done;
		}
	}
	kill(child, SIGTERM);
	if (!reaped(child, KILL_WAIT_MS)) {
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	log_note(log, "qemu stopped");
done:
	drop_pid(p->dir, "qemu.pid");
}

static void supervise(const struct prov_vm_plan *p, int status_fd) __attribute__((noreturn));
static void supervise(const struct prov_vm_plan *p, int status_fd)
{
	sigset_t all, want;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != status_fd)
			close(fd);
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

	struct vm_log log = {.p = p};
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

	pid_t child = 0, vfs[PROV_VM_VOLS_MAX] = {0};
	long next_start = 0, started_at = 0;
	struct backoff backoff;
	backoff_init(&backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 0);
	for (;;) {
		if (child <= 0 && clk_mono_ms() >= next_start) {
			char why[256];
			pid_t pid = 0;
			for (size_t i = 0; i < p->nvols && pid >= 0; i++)
				if ((vfs[i] = start_virtiofsd(p, i, out[1])) < 0) {
					pid = vfs[i];
					vfs[i] = 0;
					snprintf(why, sizeof why, "cannot start virtiofsd: %s",
					         prov_strerror(-pid));
				}
			if (pid >= 0)
				pid = start_qemu(p, out[1], why, sizeof why);
			if (pid < 0)
				stop_virtiofsd(vfs, p->nvols);
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
				write_pid(p->dir, "qemu.pid", child);
				log_note(&log, "qemu started, pid %d", (int)child);
				report(&status_fd, "OK\n");
			}
		}
		long wait = -1;
		if (child <= 0)
			wait = next_start - clk_mono_ms() > 0 ? next_start - clk_mono_ms() : 0;
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
				stop_qemu(p, &log, child);
				stop_virtiofsd(vfs, p->nvols);
				drop_pid(p->dir, "supervisor.pid");
				_exit(0);
			}
		}
		int st;
		pid_t w;
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w != child) {
				/* A virtiofsd that ended: never signal its pid again. */
				for (size_t i = 0; i < p->nvols; i++)
					if (vfs[i] == w)
						vfs[i] = 0;
				continue;
			}
			drop_pid(p->dir, "qemu.pid");
			stop_virtiofsd(vfs, p->nvols);
			char buf[4096];
			ssize_t n;
			while ((n = read(out[0], buf, sizeof buf)) > 0)
				log_write(&log, buf, (size_t)n);
			if (WIFSIGNALED(st))
				log_note(&log, "qemu killed by signal %d", WTERMSIG(st));
			else
				log_note(&log, "qemu exited with status %d (guest powered off)",
				         WEXITSTATUS(st));
			if (clk_mono_ms() - started_at >= HEALTHY_RUN_MS)
				backoff_reset(&backoff);
			long delay = (long)backoff_next(&backoff);
			next_start = clk_mono_ms() + delay;
			log_note(&log, "restarting in %ld ms", delay);
			child = 0;
		}
	}
}

int prov_vm_start(const struct prov_vm_plan *p, char *err, size_t errsz)
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
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	char buf[320];
	size_t got = 0;
	long deadline = clk_mono_ms() + START_TIMEOUT_MS;
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
		return prov_err(err, errsz, code > 0 ? -code : -EIO, "VM start failed: %s",
		                sp ? sp + 1 : "unknown reason");
	}
	prov_vm_stop(p->dir, 0);
	return prov_err(err, errsz, timed_out ? ZE_TIMEOUT : -EIO,
	                timed_out ? "VM supervisor did not report in time"
	                          : "VM supervisor died during start");
}

int prov_vm_stop(const char *dir, unsigned stop_ms)
{
	pid_t pid;
	int rc = prov_vm_alive(dir, "supervisor.pid", &pid);
	if (rc <= 0)
		return rc;
	kill(pid, SIGTERM);
	long deadline = clk_mono_ms() + (long)stop_ms + 2 * KILL_WAIT_MS + 3000;
	while (clk_mono_ms() < deadline) {
		if (prov_vm_alive(dir, "supervisor.pid", &pid) <= 0)
			return 0;
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	drop_pid(dir, "supervisor.pid");
	return 0;
}
