/*
 * A real tfchain-dev process for the chain client's tests
 * ($BUILD/tfchain-dev): started on a kernel-chosen port that is read back
 * from its log, and stopped by pid. Used by test_devchain and
 * test_submit_fed.
 *
 * Header-only: include once per test program. It keeps the process in
 * file-level state (dev_pid, dev_url, dev_log) that the test reads.
 */
#ifndef ZOS_TESTS_DEVCHAIN_PROC_H
#define ZOS_TESTS_DEVCHAIN_PROC_H

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pid_t dev_pid;
static char dev_url[64];
static char dev_log[64];

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Starts the devchain on a kernel-chosen port, read back from its log
 * (a file made from log_template, a mkstemp template). */
static int dev_start(const char *bin, const char *log_template)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {(char *)bin,    "--dev", "--rpc-addr", "127.0.0.1:0",
	                "--block-time", "100",   NULL};
	snprintf(dev_log, sizeof(dev_log), "%s", log_template);
	int fd = mkstemp(dev_log);

	if (fd < 0)
		return -1;
	close(fd);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, dev_log, O_WRONLY | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawn(&dev_pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	for (int i = 0; i < 200; i++) {
		char line[512];
		FILE *f = fopen(dev_log, "r");
		while (f && fgets(line, sizeof(line), f)) {
			const char *p = strstr(line, "rpc listening on 127.0.0.1:");
			if (p) {
				snprintf(
				    dev_url, sizeof(dev_url), "http://127.0.0.1:%ld",
				    strtol(p + strlen("rpc listening on 127.0.0.1:"), NULL, 10));
				fclose(f);
				return 0;
			}
		}
		if (f)
			fclose(f);
		sleep_ms(50);
	}
	return -1;
}

static void dev_stop(void)
{
	if (dev_pid > 0) {
		kill(dev_pid, SIGTERM);
		waitpid(dev_pid, NULL, 0);
		dev_pid = 0;
	}
	if (dev_log[0])
		unlink(dev_log);
}

/* The start of a test's main: finds $BUILD/tfchain-dev (its path into bin)
 * and starts it. Returns 0 when it runs, 77 (skip) when it is not built, 1
 * when it does not start. */
static int dev_open(char *bin, size_t bin_len, const char *log_template)
{
	const char *build = getenv("BUILD");

	snprintf(bin, bin_len, "%s/tfchain-dev", build && *build ? build : "build");
	if (access(bin, X_OK) != 0) {
		printf("skipped: %s not built\n", bin);
		return 77;
	}
	if (dev_start(bin, log_template) != 0) {
		dev_stop();
		printf("could not start %s\n", bin);
		return 1;
	}
	return 0;
}

#endif
