/*
 * The container supervisor: what is container-specific in the supervisor
 * loop of prov_sv.c. It runs `<runtime> run` of the container's bundle, with
 * the container's stdout and stderr to <dir>/log (size rotation), restarted
 * with backoff when it dies (not while <dir>/paused exists), and on SIGTERM
 * kills and deletes it from the runtime. After the fork it only uses system
 * calls and stack buffers, never locks another agent thread might have held
 * at fork time.
 */
#include "provisioners/prov_container.h"
#include "provisioners/prov_sv.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 10000
/* A container that ran this long counts as healthy: backoff starts over. */
#define HEALTHY_RUN_MS 10000

int prov_ct_alive(const char *dir, const char *file, pid_t *pid)
{
	return prov_sv_alive(dir, file, pid);
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
		prov_sv_nap_ms(10);
	}
}

static int ct_paused(void *arg)
{
	const struct prov_ct_plan *p = arg;
	char f[PROV_PATH_MAX];
	return prov_fmt(f, sizeof f, "%s/paused", p->dir) == 0 && access(f, F_OK) == 0;
}

/* One container start: `<runtime> run`, which stays in the foreground as
 * the container's parent. Returns the runtime's pid once its --pid-file
 * names the container's process (the entrypoint was executed), or a
 * negative error with the runtime's last words in why. */
static pid_t ct_start(void *arg, struct prov_sv_run *r, char *why, size_t whysz)
{
	const struct prov_ct_plan *p = arg;
	struct prov_sv_log *log = &r->log;
	int out_rd = r->out_rd, out_wr = r->out_wr;
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
		prov_sv_drain(log, out_rd, NULL, 0);
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
		prov_sv_drain(log, out_rd, tail, sizeof tail);
		if (prov_read_file(pidf, buf, sizeof buf, NULL) == 0) {
			long cpid = strtol(buf, NULL, 10);
			if (cpid > 1) {
				prov_sv_write_pid(p->dir, "container.pid", (pid_t)cpid);
				prov_sv_log_note(log, "container started, pid %ld", cpid);
				return pid;
			}
		}
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			prov_sv_drain(log, out_rd, tail, sizeof tail);
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
		prov_sv_nap_ms(2);
	}
}

static void ct_stop(void *arg, struct prov_sv_run *r, pid_t child)
{
	const struct prov_ct_plan *p = arg;
	struct prov_sv_log *log = &r->log;
	int out_rd = r->out_rd, out_wr = r->out_wr;
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
			prov_sv_drain(log, out_rd, NULL, 0);
			prov_sv_nap_ms(10);
		}
		kill(child, SIGKILL);
		waitpid(child, NULL, WNOHANG);
		rt_sync(p, out_wr, del);
	}
	prov_sv_drain(log, out_rd, NULL, 0);
	prov_sv_drop_pid(p->dir, "container.pid");
}

static void ct_exited(void *arg, struct prov_sv_run *r, int st)
{
	const struct prov_ct_plan *p = arg;
	prov_sv_drop_pid(p->dir, "container.pid");
	/* The runtime exits with the container's status, 128 + n when a
	 * signal n killed it. */
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (code > 128 && code < 128 + 65)
		prov_sv_log_note(&r->log, "container killed by signal %d", code - 128);
	else
		prov_sv_log_note(&r->log, "container exited with status %d", code);
}

static const struct prov_sv_ops ct_ops = {
    .what = "container",
    .healthy_ms = HEALTHY_RUN_MS,
    .report_ms = START_TIMEOUT_MS + 5000,
    .stop_ms = STOP_TIMEOUT_MS,
    .paused = ct_paused,
    .start = ct_start,
    .exited = ct_exited,
    .stop = ct_stop,
};

int prov_ct_start(const struct prov_ct_plan *p, char *err, size_t errsz)
{
	const struct prov_sv sv = {
	    .ops = &ct_ops,
	    .arg = (void *)p,
	    .dir = p->dir,
	    .log_name = "log",
	    .log_max = p->log_max,
	    .log_keep = p->log_keep,
	};
	return prov_sv_start(&sv, err, errsz);
}

int prov_ct_stop(const char *dir)
{
	return prov_sv_stop(dir, STOP_TIMEOUT_MS);
}
