/* Unit tests of agent/daemon.c: the subsystem life cycle driven by signals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/daemon.h"
#include "common/zerr.h"

static char dir[64], conf[128], seed[128];
static char trace[1024];
static struct agent ag;

static void note(const char *what, const char *name)
{
	size_t used = strlen(trace);
	snprintf(trace + used, sizeof trace - used, "%s:%s ", what, name);
}

static void write_conf(unsigned farm, const char *level)
{
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "[node]\nstate_dir = %s/state\nfarm_id = %u\n[log]\nlevel = %s\ntarget = stderr\n", dir,
		farm, level);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **st)
{
	snprintf(dir, sizeof dir, "/tmp/test_daemon.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof conf, "%s/agent.conf", dir);
	snprintf(seed, sizeof seed, "%s/state/identity.seed", dir);
	return 0;
}

static int teardown(void **st)
{
	char p[160];
	unlink(seed);
	snprintf(p, sizeof p, "%s/state/agent.lock", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/state", dir);
	rmdir(p);
	unlink(conf);
	return rmdir(dir);
}

static int ok_start(struct agent *a, void **state)
{
	note("start", *state);
	return 0;
}

static int bad_start(struct agent *a, void **state)
{
	note("start", *state);
	return -EIO;
}

static long stop_left;

static void rec_stop(struct agent *a, void *state)
{
	note("stop", state);
	stop_left = agent_stop_remaining(a);
}

static int ticks;

/* Drives the daemon from inside: reload, summary, then stop. */
static void driver_tick(struct agent *a, void *state)
{
	switch (++ticks) {
	case 1:
		write_conf(2, "debug");
		raise(SIGHUP);
		break;
	case 2:
		assert_int_equal(a->cfg.log_level, LOG_LVL_DEBUG);
		assert_int_equal(a->cfg.farm_id, 1); /* needs a restart */
		write_conf(1, "bogus");
		raise(SIGHUP);
		break;
	case 3:
		assert_int_equal(a->reloads, 1);
		assert_int_equal(a->rejected_reloads, 1);
		raise(SIGUSR1);
		break;
	default:
		raise(SIGTERM);
	}
}

static int rec_reload(struct agent *a, void *state, const struct cfg *next)
{
	note("reload", state);
	assert_int_equal(next->log_level, LOG_LVL_DEBUG);
	assert_int_equal(next->farm_id, 1);
	return 0;
}

static void rec_summary(struct agent *a, void *state)
{
	note("summary", state);
}

static const struct agent_subsys sub_ok = {
	.name = "ok", .start = ok_start, .stop = rec_stop, .reload = rec_reload, .summary = rec_summary};
static const struct agent_subsys sub_driver = {.name = "driver",
					       .start = ok_start,
					       .stop = rec_stop,
					       .tick = driver_tick,
					       .reload = rec_reload,
					       .summary = rec_summary};
static const struct agent_subsys sub_bad = {.name = "bad", .start = bad_start, .stop = rec_stop};

static struct cfg_source src;

static void init_agent(void)
{
	src = (struct cfg_source){.file = conf};
	assert_int_equal(agent_init(&ag, &src), 0);
}

static void lifecycle_through_signals(void **st)
{
	write_conf(1, "warn");
	init_agent();
	struct stat sb;
	assert_int_equal(stat(seed, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(agent_register(&ag, &sub_ok, "A"), 0);
	assert_int_equal(agent_register(&ag, &sub_driver, "B"), 0);
	trace[0] = 0;
	ticks = 0;
	assert_int_equal(agent_run(&ag), 0);
	assert_string_equal(trace, "start:A start:B reload:A reload:B summary:A summary:B stop:B stop:A ");
	assert_true(stop_left > 0 && stop_left <= AGENT_STOP_DEADLINE * 1000);
	agent_fini(&ag);
}

static void failed_start_unwinds(void **st)
{
	write_conf(1, "warn");
	init_agent();
	assert_int_equal(agent_register(&ag, &sub_ok, "A"), 0);
	assert_int_equal(agent_register(&ag, &sub_bad, "B"), 0);
	assert_int_equal(agent_register(&ag, &sub_ok, "C"), 0);
	trace[0] = 0;
	assert_int_equal(agent_run(&ag), -EIO);
	assert_string_equal(trace, "start:A start:B stop:A ");
	agent_fini(&ag);
}

static void registry_is_bounded(void **st)
{
	write_conf(1, "warn");
	init_agent();
	for (int i = 0; i < AGENT_MAX_SUBSYS; i++)
		assert_int_equal(agent_register(&ag, &sub_ok, "X"), 0);
	assert_int_equal(agent_register(&ag, &sub_ok, "X"), -ENOSPC);
	agent_fini(&ag);
}

static void refuses_readable_seed_and_second_agent(void **st)
{
	write_conf(1, "warn");
	init_agent();
	struct agent second;
	assert_int_equal(agent_init(&second, &src), -EBUSY);
	agent_fini(&ag);

	assert_int_equal(chmod(seed, 0644), 0);
	assert_int_equal(agent_init(&ag, &src), -EPERM);
	assert_int_equal(chmod(seed, 0600), 0);
	write_conf(1, "nonsense");
	assert_int_equal(agent_init(&ag, &src), ZE_CONFIG);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lifecycle_through_signals),
		cmocka_unit_test(failed_start_unwinds),
		cmocka_unit_test(registry_is_bounded),
		cmocka_unit_test(refuses_readable_seed_and_second_agent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
