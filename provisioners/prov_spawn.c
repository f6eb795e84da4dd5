/* Running system programs (mkfs.ext4, ip) with argv through posix_spawn. */
#include "provisioners/prov_int.h"
#include "common/clock.h"
#include "common/psched.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const sys_dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL};

int prov_which(const char *name, char *out, size_t outsz)
{
	for (const char *const *d = sys_dirs; *d; d++) {
		if (prov_fmt(out, outsz, "%s/%s", *d, name) < 0)
			return -ENAMETOOLONG;
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int prov_run(const char *const argv[], char *out, size_t outsz, int timeout_ms)
{
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc) {
		close(p[0]);
		close(p[1]);
		return -rc;
	}
	posix_spawnattr_init(&at);
	/* The child starts with default signal handling whatever the agent set. */
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
	(void)psched_spawnattr(&at, &flags); /* common/psched.h */
	posix_spawnattr_setflags(&at, flags);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	pid_t pid;
	rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (rc) {
		close(p[0]);
		return -rc;
	}
	size_t used = 0;
	long deadline = clk_mono_ms() + timeout_ms;
	int timed_out = 0;
	for (;;) {
		long left = deadline - clk_mono_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		int n = poll(&pf, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			timed_out = n == 0;
			break;
		}
		char tmp[512];
		ssize_t r = read(p[0], tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		/* Keep the beginning of the output: that is where tools say why. */
		if (out && outsz > 1 && used < outsz - 1) {
			size_t k = (size_t)r < outsz - 1 - used ? (size_t)r : outsz - 1 - used;
			memcpy(out + used, tmp, k);
			used += k;
		}
	}
	close(p[0]);
	if (out && outsz) {
		out[used] = '\0';
		/* One line for error messages. */
		for (char *c = out; *c; c++)
			if (*c == '\n')
				*c = (c[1] ? ' ' : '\0');
	}
	if (timed_out)
		kill(pid, SIGKILL);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (timed_out)
		return ZE_TIMEOUT;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}
