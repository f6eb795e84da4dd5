/*
 * The container's init, between clone() and execve(): runs as pid 1 of a new
 * pid namespace, in new mount, uts and ipc namespaces. It joins the
 * container's network namespace, builds the root (overlay of the image plus
 * volumes and disks), pivots into it, mounts a fresh /proc and a minimal
 * /dev, masks the parts of /proc that reach the host, drops capabilities and
 * executes the entrypoint. Any failure is written as "<errno> <reason>" to
 * err_fd and the process exits; system calls and stack buffers only.
 */
#include "provisioners/prov_container.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

void prov_ct_child(const struct prov_ct_plan *p, int sync_fd, int err_fd, int out_fd)
    __attribute__((noreturn));

static void fail(int err_fd, int e, const char *what, const char *arg) __attribute__((noreturn));
static void fail(int err_fd, int e, const char *what, const char *arg)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "%d %s%s%s: %s", e, what, arg ? " " : "", arg ? arg : "",
	                 prov_strerror(e));
	if (n > 0)
		(void)!write(err_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	_exit(127);
}

/* Opens dst (absolute, validated) below root, creating missing
 * directories, and refuses to follow any symlink on the way: the rootfs is
 * writable by the container, which could otherwise point a mount at the
 * host. Returns an O_PATH fd or -errno. */
static int open_in_root(const char *root, const char *dst, int create_file)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	char comp[256];
	const char *s = dst;
	while (*s) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		size_t n = strcspn(s, "/");
		if (n >= sizeof comp) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, s, n);
		comp[n] = '\0';
		s += n;
		while (*s == '/')
			s++;
		int last = *s == '\0';
		if (last && create_file) {
			int f = openat(fd, comp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (f >= 0)
				close(f);
		} else if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
			int e = -errno;
			close(fd);
			return e;
		}
		int next = openat(fd, comp,
		                  O_PATH | O_NOFOLLOW | O_CLOEXEC |
		                      (last && create_file ? 0 : O_DIRECTORY));
		int e = -errno;
		close(fd);
		if (next < 0)
			return e;
		fd = next;
	}
	return fd;
}

static void mount_at(int err_fd, const char *root, const struct prov_ct_mount *m)
{
	int fd = open_in_root(root, m->dst, 0);
	if (fd < 0)
		fail(err_fd, -fd, "mountpoint", m->dst);
	char target[64];
	snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
	if (m->kind == PROV_MNT_BIND) {
		if (mount(m->src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
			fail(err_fd, errno, "bind mount of", m->dst);
	} else {
		char dev[64];
		int lfd;
		int rc = prov_loop_attach(m->src, dev, sizeof dev, &lfd);
		if (rc < 0)
			fail(err_fd, rc > -4096 ? -rc : ENOSPC, "no loop device for", m->dst);
		/* With autoclear the device goes when this namespace's mount does. */
		if (mount(dev, target, "ext4", MS_NOSUID | MS_NODEV, "") < 0) {
			int e = errno;
			close(lfd);
			fail(err_fd, e, "mount of disk at", m->dst);
		}
		close(lfd);
	}
	close(fd);
}

static void make_dev(int err_fd)
{
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536") < 0)
		fail(err_fd, errno, "mount", "/dev");
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
	             {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
	char path[32];
	for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		snprintf(path, sizeof path, "/dev/%s", nodes[i].name);
		if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0)
			fail(err_fd, errno, "mknod", path);
		chmod(path, 0666);
	}
	static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"},
	                                       {"/proc/self/fd/0", "/dev/stdin"},
	                                       {"/proc/self/fd/1", "/dev/stdout"},
	                                       {"/proc/self/fd/2", "/dev/stderr"}};
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (symlink(links[i][0], links[i][1]) < 0)
			fail(err_fd, errno, "symlink", links[i][1]);
	if (mkdir("/dev/shm", 01777) < 0 ||
	    mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	          "mode=1777,size=65536k") < 0)
		fail(err_fd, errno, "mount", "/dev/shm");
}

/* Parts of /proc that show or change the host even from a new pid ns. */
static void mask_proc(int err_fd)
{
	static const char *const hide[] = {
	    "/proc/kcore",         "/proc/keys",          "/proc/timer_list", "/proc/sched_debug",
	    "/proc/sysrq-trigger", "/proc/latency_stats", "/proc/kallsyms",   NULL};
	static const char *const hide_dirs[] = {"/proc/acpi", "/proc/scsi", NULL};
	static const char *const ro[] = {"/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs", NULL};
	struct stat st;
	for (const char *const *h = hide; *h; h++)
		if (lstat(*h, &st) == 0 && mount("/dev/null", *h, NULL, MS_BIND, NULL) < 0)
			fail(err_fd, errno, "mask", *h);
	for (const char *const *h = hide_dirs; *h; h++)
		if (lstat(*h, &st) == 0 && mount("tmpfs", *h, "tmpfs", MS_RDONLY, "size=0") < 0)
			fail(err_fd, errno, "mask", *h);
	for (const char *const *r = ro; *r; r++) {
		if (lstat(*r, &st) < 0)
			continue;
		if (mount(*r, *r, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, *r, NULL,
		          MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		          NULL) < 0)
			fail(err_fd, errno, "read-only", *r);
	}
}

/* Docker's default set: enough for ordinary services, nothing that reaches
 * the kernel or the host (no SYS_ADMIN, SYS_MODULE, SYS_RAWIO, MKNOD,
 * NET_ADMIN, SYS_PTRACE, SYS_TIME, SYS_BOOT). */
static const int keep_caps[] = {
    CAP_CHOWN,      CAP_DAC_OVERRIDE, CAP_FOWNER,  CAP_FSETID,           CAP_KILL,
    CAP_SETGID,     CAP_SETUID,       CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_NET_RAW,
    CAP_SYS_CHROOT, CAP_AUDIT_WRITE,  CAP_SETFCAP};

static void drop_caps(int err_fd)
{
	uint64_t keep = 0;
	for (size_t i = 0; i < sizeof keep_caps / sizeof keep_caps[0]; i++)
		keep |= 1ull << keep_caps[i];
	for (int c = 0; c < 64; c++) {
		if (keep & (1ull << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			fail(err_fd, errno, "capability bounding set", NULL);
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof d);
	d[0].effective = d[0].permitted = d[0].inheritable = (uint32_t)keep;
	d[1].effective = d[1].permitted = d[1].inheritable = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d) < 0)
		fail(err_fd, errno, "capset", NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(err_fd, errno, "no_new_privs", NULL);
}

static void exec_entry(const struct prov_ct_plan *p, int err_fd)
{
	const char *prog = p->argv[0];
	if (strchr(prog, '/')) {
		execve(prog, p->argv, p->envp);
		fail(err_fd, errno, "exec", prog);
	}
	static const char *const dirs[] = {
	    "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL};
	int e = ENOENT;
	for (const char *const *d = dirs; *d; d++) {
		char path[512];
		if (snprintf(path, sizeof path, "%s/%s", *d, prog) >= (int)sizeof path)
			continue;
		execve(path, p->argv, p->envp);
		if (errno != ENOENT && errno != ENOTDIR)
			e = errno;
	}
	fail(err_fd, e, "exec", prog);
}

void prov_ct_child(const struct prov_ct_plan *p, int sync_fd, int err_fd, int out_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* The supervisor dying must not leave an unsupervised container. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	char go;
	if (read(sync_fd, &go, 1) != 1)
		_exit(127);
	close(sync_fd);

	int nfd = open(p->netns, O_RDONLY | O_CLOEXEC);
	if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0)
		fail(err_fd, errno, "join netns", p->netns);
	close(nfd);
	/* A fresh anonymous session keyring: the agent's stays out of reach. */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS)
		fail(err_fd, errno, "session keyring", NULL);
	if (sethostname(p->host, strlen(p->host)) < 0)
		fail(err_fd, errno, "sethostname", NULL);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail(err_fd, errno, "make mounts private", NULL);

	char root[PROV_PATH_MAX], opts[3 * PROV_PATH_MAX];
	if (prov_fmt(root, sizeof root, "%s/rootfs", p->dir) < 0 ||
	    prov_fmt(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", p->image,
	             p->dir, p->dir) < 0)
		fail(err_fd, ENAMETOOLONG, "rootfs", NULL);
	if (mount("overlay", root, "overlay", MS_NODEV, opts) < 0)
		fail(err_fd, errno, "overlay mount of image", p->image);
	for (size_t i = 0; i < p->nmounts; i++)
		mount_at(err_fd, root, &p->mounts[i]);

	/* pivot_root(".", ".") stacks the old root on the new one; unmounting
	 * it lazily leaves no path back to the host's tree. */
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		fail(err_fd, errno, "pivot_root", NULL);
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		fail(err_fd, errno, "detach old root", NULL);
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail(err_fd, errno, "mount", "/proc");
	mkdir("/dev", 0755);
	make_dev(err_fd);
	mask_proc(err_fd);
	mkdir("/tmp", 01777);

	int nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		fail(err_fd, errno, "stdio", NULL);
	/* Only stdio and the error pipe (close-on-exec) cross into the workload. */
	for (int fd = 3; fd < 4096; fd++)
		if (fd != err_fd)
			close(fd);
	drop_caps(err_fd);
	int rc = prov_seccomp_install();
	if (rc < 0 && rc != ZE_UNSUPPORTED)
		fail(err_fd, -rc, "seccomp", NULL);
	exec_entry(p, err_fd);
	_exit(127);
}
