/*
 * The daemon: start-up, the main loop, reload, summary and graceful stop.
 *
 * Signal handlers only set flags and write one byte to a self-pipe; the main
 * loop polls that pipe with a one-second timeout and does the work. A
 * self-pipe (rather than blocking signals for signalfd) keeps the signal mask
 * of threads and spawned children untouched.
 */
#include "agent/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"

extern char **environ;

static volatile sig_atomic_t sig_stop, sig_hup, sig_usr1;
static volatile sig_atomic_t wake_fd = -1;

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGTERM || sig == SIGINT)
		sig_stop = 1;
	else if (sig == SIGHUP)
		sig_hup = 1;
	else if (sig == SIGUSR1)
		sig_usr1 = 1;
	if (wake_fd >= 0) {
		char c = 0;
		/* A full pipe already wakes the loop; nothing to do on failure. */
		if (write(wake_fd, &c, 1) < 0)
			(void)0;
	}
	errno = saved;
}

static void on_stop_deadline(int sig)
{
	static const char msg[] = "zos-agent: graceful stop deadline passed, exiting\n";
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
		(void)0;
	_exit(EXIT_FAILURE);
}

/* Creates path and its missing parents with mode; existing ones are kept. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[CFG_STR_MAX];
	struct stat st;
	int n = snprintf(buf, sizeof buf, "%s", path);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -errno;
	if (stat(buf, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int agent_identity_load(const struct cfg *c, struct zkey *k, int *created)
{
	char dir[CFG_STR_MAX];
	struct stat st;
	snprintf(dir, sizeof dir, "%s", c->seed_file);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		int rc = mkdir_p(dir, 0700);
		if (rc) {
			log_err("identity", "cannot create %s: %s", dir, zerr_str(rc));
			return rc;
		}
	}
	int rc = key_load_or_create(c->seed_file, k, created);
	if (rc == -EPERM && stat(c->seed_file, &st) == 0)
		log_err("identity",
			"seed file %s has mode %04o: readable by group or others, refusing to use it "
			"(fix with: chmod 600 %s)",
			c->seed_file, (unsigned)(st.st_mode & 07777), c->seed_file);
	else if (rc == ZE_MALFORMED)
		log_err("identity", "seed file %s does not hold 64 hex digits", c->seed_file);
	else if (rc)
		log_err("identity", "cannot load seed file %s: %s", c->seed_file, zerr_str(rc));
	return rc;
}

/* One agent per state directory: two would collide on nonces and state. */
static int lock_state_dir(struct agent *a)
{
	char path[CFG_STR_MAX + 16];
	snprintf(path, sizeof path, "%s/agent.lock", a->cfg.state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int rc = -errno;
		log_err("agent", "cannot open %s: %s", path, zerr_str(rc));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int rc = -errno;
		if (rc == -EWOULDBLOCK)
			log_err("agent", "another zos-agent is running with state directory %s",
				a->cfg.state_dir);
		else
			log_err("agent", "cannot lock %s: %s", path, zerr_str(rc));
		close(fd);
		return rc == -EWOULDBLOCK ? -EBUSY : rc;
	}
	a->lock_fd = fd;
	return 0;
}

int agent_init(struct agent *a, const struct cfg_source *src)
{
	char err[512];
	int created = 0, rc;

	memset(a, 0, sizeof *a);
	a->lock_fd = -1;
	a->wake[0] = a->wake[1] = -1;
	a->src = *src;
	rc = cfg_load(&a->cfg, src, err, sizeof err, a->cfg_file, sizeof a->cfg_file);
	if (rc) {
		log_err("config", "%s", err);
		return rc;
	}
	log_setup(a->cfg.log_level, a->cfg.log_target, "zos-agent");
	if (!a->cfg_file[0])
		log_info("config", "no configuration file at %s; using defaults and environment",
			 CFG_DEFAULT_FILE);
	if ((rc = mkdir_p(a->cfg.state_dir, 0700)) != 0) {
		log_err("agent", "cannot create state directory %s: %s", a->cfg.state_dir, zerr_str(rc));
		return rc;
	}
	if ((rc = lock_state_dir(a)) != 0)
		return rc;
	if ((rc = agent_identity_load(&a->cfg, &a->key, &created)) != 0 ||
	    (rc = ss58_encode(a->key.pk, 42, a->ss58, sizeof a->ss58)) != 0 ||
	    (rc = key_x25519_pk(a->key.pk, a->x25519_pk)) != 0) {
		agent_fini(a);
		return rc;
	}
	if (created)
		log_info("identity", "created a new identity in %s", a->cfg.seed_file);
	log_info("identity", "node account %s", a->ss58);
	return 0;
}

int agent_register(struct agent *a, const struct agent_subsys *ops, void *state)
{
	if (a->nsubs == AGENT_MAX_SUBSYS)
		return -ENOSPC;
	a->subs[a->nsubs++] = (struct agent_slot){.ops = ops, .state = state};
	return 0;
}

long agent_stop_remaining(const struct agent *a)
{
	struct timespec now;
	if (!a->stop_by.tv_sec)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (long)(a->stop_by.tv_sec - now.tv_sec) * 1000 +
		  (a->stop_by.tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

static int install_signals(struct agent *a)
{
	struct sigaction sa;
	if (pipe2(a->wake, O_NONBLOCK | O_CLOEXEC) != 0)
		return -errno;
	wake_fd = a->wake[1];
	sig_stop = sig_hup = sig_usr1 = 0;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_signal;
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			return -errno;
	sa.sa_handler = on_stop_deadline;
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		return -errno;
	/* Peers that hang up must surface as EPIPE, not kill the daemon. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -errno;
	return 0;
}

static void notify_status(struct agent *a, const char *extra)
{
	sd_notifyf(0, "%sSTATUS=running: account %s, %u subsystem%s, %u reload%s", extra, a->ss58,
		   a->nsubs, a->nsubs == 1 ? "" : "s", a->reloads, a->reloads == 1 ? "" : "s");
}

static void stop_subsystems(struct agent *a)
{
	for (unsigned i = a->nsubs; i-- > 0;)
		if (a->subs[i].started && a->subs[i].ops->stopping)
			a->subs[i].ops->stopping(a, a->subs[i].state);
	for (unsigned i = a->nsubs; i-- > 0;) {
		struct agent_slot *s = &a->subs[i];
		if (!s->started)
			continue;
		log_debug("agent", "stopping %s", s->ops->name);
		if (s->ops->stop)
			s->ops->stop(a, s->state);
		s->started = 0;
	}
}

static int start_subsystems(struct agent *a)
{
	for (unsigned i = 0; i < a->nsubs; i++) {
		struct agent_slot *s = &a->subs[i];
		int rc = s->ops->start ? s->ops->start(a, &s->state) : 0;
		if (rc) {
			log_err("agent", "subsystem %s failed to start: %s", s->ops->name, zerr_str(rc));
			stop_subsystems(a);
			return rc;
		}
		s->started = 1;
		log_debug("agent", "started %s", s->ops->name);
	}
	return 0;
}

static void log_change(const char *key, int restart, void *arg)
{
	if (restart)
		log_warn("config", "%s changed: takes effect after a restart", key);
	else
		log_info("config", "%s changed: applied", key);
}

static void reload(struct agent *a)
{
	struct cfg next;
	char err[512], file[sizeof a->cfg_file];

	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading configuration\nMONOTONIC_USEC=%" PRIu64,
		   clk_mono_us());
	log_info("config", "SIGHUP: reloading configuration");
	/* setenv() may have moved the environment since start-up: read the
	 * current one when the daemon was started with one. */
	struct cfg_source src = a->src;
	if (src.envp)
		src.envp = environ;
	if (cfg_load(&next, &src, err, sizeof err, file, sizeof file) != 0) {
		a->rejected_reloads++;
		log_err("config", "reload rejected, keeping the running configuration: %s", err);
		notify_status(a, "READY=1\n");
		return;
	}
	if (cfg_diff(&a->cfg, &next, log_change, NULL) == 0)
		log_info("config", "reloaded %s: no changes", file[0] ? file : "(no file)");
	cfg_keep_restart_keys(&next, &a->cfg);
	for (unsigned i = 0; i < a->nsubs; i++) {
		struct agent_slot *s = &a->subs[i];
		int rc = s->started && s->ops->reload ? s->ops->reload(a, s->state, &next) : 0;
		if (rc)
			log_err("config", "subsystem %s could not apply the new configuration: %s",
				s->ops->name, zerr_str(rc));
	}
	a->cfg = next;
	memcpy(a->cfg_file, file, sizeof a->cfg_file);
	log_setup(a->cfg.log_level, a->cfg.log_target, "zos-agent");
	a->reloads++;
	log_info("config", "configuration reloaded");
	notify_status(a, "READY=1\n");
}

static void summary(struct agent *a)
{
	log_info("agent",
		 "state: up %llds, account %s, farm %" PRIu32 ", chain %s, config %s, "
		 "reloads %u accepted %u rejected, log level %s, %u subsystem%s",
		 (long long)(time(NULL) - a->started_at), a->ss58, a->cfg.farm_id, a->cfg.chain_url,
		 a->cfg_file[0] ? a->cfg_file : "(none)", a->reloads, a->rejected_reloads,
		 log_level_name(a->cfg.log_level), a->nsubs, a->nsubs == 1 ? "" : "s");
	for (unsigned i = 0; i < a->nsubs; i++) {
		struct agent_slot *s = &a->subs[i];
		if (s->ops->summary)
			s->ops->summary(a, s->state);
		else
			log_info("agent", "subsystem %s: %s", s->ops->name,
				 s->started ? "running" : "stopped");
	}
}

static void drain(int fd)
{
	char buf[64];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static void loop(struct agent *a)
{
	uint64_t last_tick = clk_mono_us(), last_ping = last_tick;
	while (!sig_stop) {
		struct pollfd pfd = {.fd = a->wake[0], .events = POLLIN};
		if (poll(&pfd, 1, AGENT_TICK_MS) < 0 && errno != EINTR)
			log_warn("agent", "poll: %s", strerror(errno));
		drain(a->wake[0]);
		if (sig_stop)
			break;
		if (sig_hup) {
			sig_hup = 0;
			reload(a);
		}
		if (sig_usr1) {
			sig_usr1 = 0;
			summary(a);
		}
		uint64_t now = clk_mono_us();
		if (now - last_tick >= AGENT_TICK_MS * 1000u) {
			last_tick = now;
			for (unsigned i = 0; i < a->nsubs; i++)
				if (a->subs[i].started && a->subs[i].ops->tick)
					a->subs[i].ops->tick(a, a->subs[i].state);
		}
		if (a->watchdog_usec && now - last_ping >= a->watchdog_usec / 2) {
			last_ping = now;
			sd_notify(0, "WATCHDOG=1");
		}
	}
}

int agent_run(struct agent *a)
{
	int rc = install_signals(a);
	if (rc) {
		log_err("agent", "cannot install signal handlers: %s", zerr_str(rc));
		return rc;
	}
	a->started_at = time(NULL);
	if ((rc = start_subsystems(a)) != 0) {
		sd_notifyf(0, "STATUS=start-up failed: %s", zerr_str(rc));
		return rc;
	}
	if (sd_watchdog_enabled(0, &a->watchdog_usec) <= 0)
		a->watchdog_usec = 0;
	notify_status(a, "READY=1\n");
	log_info("agent", "running (pid %ld, config %s)", (long)getpid(),
		 a->cfg_file[0] ? a->cfg_file : "(none)");

	loop(a);

	log_info("agent", "stopping (deadline %ds)", AGENT_STOP_DEADLINE);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	clock_gettime(CLOCK_MONOTONIC, &a->stop_by);
	a->stop_by.tv_sec += AGENT_STOP_DEADLINE;
	alarm(AGENT_STOP_DEADLINE);
	stop_subsystems(a);
	alarm(0);
	log_info("agent", "stopped");
	return 0;
}

void agent_fini(struct agent *a)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	if (a->wake[1] >= 0) {
		const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGALRM};
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			sigaction(sigs[i], &sa, NULL);
		wake_fd = -1;
		close(a->wake[0]);
		close(a->wake[1]);
		a->wake[0] = a->wake[1] = -1;
	}
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	a->lock_fd = -1;
	key_wipe(&a->key);
}
