/* Unit tests of common/psched.c: the caller and the threads it starts run
 * under SCHED_BATCH, and what it forks or spawns runs under SCHED_OTHER. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/psched.h"

static void *policy_of_thread(void *arg)
{
	*(int *)arg = sched_getscheduler(0);
	return NULL;
}

/* The policy of a forked child, as its exit status (policies are small). */
static int policy_of_fork(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(sched_getscheduler(0) & 0x7f);
	int st = 0;
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The policy of a program spawned with psched_spawnattr, read from the
 * 41st field of its /proc/PID/stat by the program itself (sh and awk). */
static int policy_of_spawn(void)
{
	posix_spawnattr_t at;
	short flags = 0;
	assert_int_equal(posix_spawnattr_init(&at), 0);
	assert_int_equal(psched_spawnattr(&at, &flags), 0);
	assert_int_equal(posix_spawnattr_setflags(&at, flags), 0);
	char *const argv[] = {"/bin/sh", "-c", "exit $(awk '{print $41}' /proc/self/stat)", NULL};
	char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
	pid_t pid;
	assert_int_equal(posix_spawn(&pid, argv[0], NULL, &at, argv, envp), 0);
	posix_spawnattr_destroy(&at);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void batch_for_the_agent_other_for_its_children(void **st)
{
	(void)st;
	/* Before: the default everywhere, and spawning changes nothing. */
	assert_false(psched_is_batch());
	assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
	assert_int_equal(policy_of_spawn(), SCHED_OTHER);

	int rc = psched_batch();
	if (rc == -EPERM)
		skip(); /* a sandbox that forbids sched_setscheduler */
	assert_int_equal(rc, 0);
	assert_true(psched_is_batch());
	assert_int_equal(sched_getscheduler(0), SCHED_BATCH);

	/* A thread started afterwards inherits it. */
	pthread_t t;
	int tp = -1;
	assert_int_equal(pthread_create(&t, NULL, policy_of_thread, &tp), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(tp, SCHED_BATCH);

	/* What is forked or spawned does not. */
	assert_int_equal(policy_of_fork(), SCHED_OTHER);
	assert_int_equal(policy_of_spawn(), SCHED_OTHER);
	/* And the caller keeps it. */
	assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
	/* Twice is harmless (one fork handler). */
	assert_int_equal(psched_batch(), 0);
	assert_int_equal(policy_of_fork(), SCHED_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(batch_for_the_agent_other_for_its_children),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
