/*
 * The VM supervisor: what is VM-specific in the supervisor loop of
 * prov_sv.c (which keeps the console log and restarts with backoff). It
 * runs qemu unprivileged in the VM's cgroups, with a virtiofsd beside it
 * for each volume, and stops the guest through QMP first. After the fork it
 * only uses system calls and stack buffers, never locks another agent
 * thread might have held at fork time.
 */
#include "provisioners/prov_sv.h"
#include "provisioners/prov_vm.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_TIMEOUT_MS 15000
/* A guest that ran this long counts as healthy: backoff starts over. */
#define HEALTHY_RUN_MS 30000
/* qemu exits at once on SIGTERM; this bounds a qemu that is stuck. */
#define KILL_WAIT_MS 3000

int prov_vm_alive(const char *dir, const char *file, pid_t *pid)
{
	return prov_sv_alive(dir, file, pid);
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
	/* A VM booting from its disk has no kernel or initramfs (and one
	 * with its own kernel may have no initramfs): /dev/null keeps the
	 * descriptor numbering of prov_vm_argv. */
	if ((fds[n++] = open(p->kernel[0] ? p->kernel : "/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		child_fail(ep, errno, "cannot open the VM kernel");
	if ((fds[n++] = open(p->initrd[0] ? p->initrd : "/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
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

static int reaped(pid_t child, long wait_ms)
{
	long deadline = clk_mono_ms() + wait_ms;
	for (;;) {
		pid_t w = waitpid(child, NULL, WNOHANG);
		if (w == child || (w < 0 && errno == ECHILD))
			return 1;
		if (clk_mono_ms() >= deadline)
			return 0;
		prov_sv_nap_ms(50);
	}
}

/* Graceful first: ACPI power button through QMP (a paused guest is
 * resumed so it can react), then SIGTERM, then SIGKILL. */
static void stop_qemu(const struct prov_vm_plan *p, struct prov_sv_log *log, pid_t child)
{
	if (child <= 0)
		return;
	if (p->stop_ms > 0) {
		prov_qmp(p->qmp, "cont", NULL, 0, 1000);
		if (prov_qmp(p->qmp, "system_powerdown", NULL, 0, 1000) == 0 &&
		    reaped(child, p->stop_ms)) {
			prov_sv_log_note(log, "guest powered off");
			goto done;
		}
	}
	kill(child, SIGTERM);
	if (!reaped(child, KILL_WAIT_MS)) {
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	prov_sv_log_note(log, "qemu stopped");
done:
	prov_sv_drop_pid(p->dir, "qemu.pid");
}

/* The supervisor's copy of the plan and the virtiofsd it runs beside qemu. */
struct vm_sv {
	const struct prov_vm_plan *p;
	pid_t vfs[PROV_VM_VOLS_MAX];
};

static pid_t vm_start(void *arg, struct prov_sv_run *r, char *why, size_t whysz)
{
	struct vm_sv *v = arg;
	const struct prov_vm_plan *p = v->p;
	pid_t pid = 0;
	for (size_t i = 0; i < p->nvols && pid >= 0; i++)
		if ((v->vfs[i] = start_virtiofsd(p, i, r->out_wr)) < 0) {
			pid = v->vfs[i];
			v->vfs[i] = 0;
			snprintf(why, whysz, "cannot start virtiofsd: %s", prov_strerror(-pid));
		}
	if (pid >= 0)
		pid = start_qemu(p, r->out_wr, why, whysz);
	if (pid < 0) {
		stop_virtiofsd(v->vfs, p->nvols);
		return pid;
	}
	prov_sv_write_pid(p->dir, "qemu.pid", pid);
	prov_sv_log_note(&r->log, "qemu started, pid %d", (int)pid);
	return pid;
}

static void vm_exited(void *arg, struct prov_sv_run *r, int st)
{
	struct vm_sv *v = arg;
	prov_sv_drop_pid(v->p->dir, "qemu.pid");
	stop_virtiofsd(v->vfs, v->p->nvols);
	if (WIFSIGNALED(st))
		prov_sv_log_note(&r->log, "qemu killed by signal %d", WTERMSIG(st));
	else
		prov_sv_log_note(&r->log, "qemu exited with status %d (guest powered off)",
		                 WEXITSTATUS(st));
}

/* A virtiofsd that ended: never signal its pid again. */
static void vm_reaped(void *arg, pid_t w)
{
	struct vm_sv *v = arg;
	for (size_t i = 0; i < v->p->nvols; i++)
		if (v->vfs[i] == w)
			v->vfs[i] = 0;
}

static void vm_stop(void *arg, struct prov_sv_run *r, pid_t child)
{
	struct vm_sv *v = arg;
	stop_qemu(v->p, &r->log, child);
	stop_virtiofsd(v->vfs, v->p->nvols);
}

static const struct prov_sv_ops vm_ops = {
    .what = "VM",
    .healthy_ms = HEALTHY_RUN_MS,
    .report_ms = START_TIMEOUT_MS,
    .stop_ms = 2 * KILL_WAIT_MS + 3000,
    .start = vm_start,
    .exited = vm_exited,
    .reaped = vm_reaped,
    .stop = vm_stop,
};

int prov_vm_start(const struct prov_vm_plan *p, char *err, size_t errsz)
{
	struct vm_sv v = {.p = p};
	const struct prov_sv sv = {
	    .ops = &vm_ops,
	    .arg = &v,
	    .dir = p->dir,
	    .log_name = "console.log",
	    .log_max = p->log_max,
	    .log_keep = p->log_keep,
	};
	return prov_sv_start(&sv, err, errsz);
}

int prov_vm_stop(const char *dir, unsigned stop_ms)
{
	/* The guest's own shutdown, then SIGTERM and SIGKILL of qemu, and
	 * some slack. */
	return prov_sv_stop(dir, (long)stop_ms + 2 * KILL_WAIT_MS + 3000);
}
