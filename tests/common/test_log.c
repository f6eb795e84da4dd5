/* Unit tests of common/log.c: names, stderr format, level filter, target choice,
 * journald fields. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

static void names_round_trip(void **st)
{
	enum log_level l;
	enum log_target t;
	for (int i = LOG_LVL_ERROR; i <= LOG_LVL_DEBUG; i++) {
		assert_int_equal(log_level_parse(log_level_name((enum log_level)i), &l), 0);
		assert_int_equal(l, i);
	}
	for (int i = LOG_TARGET_AUTO; i <= LOG_TARGET_JOURNAL; i++) {
		assert_int_equal(log_target_parse(log_target_name((enum log_target)i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(log_level_parse("verbose", &l), -EINVAL);
	assert_int_equal(log_level_parse(NULL, &l), -EINVAL);
	assert_int_equal(log_target_parse("syslog", &t), -EINVAL);
}

/* Runs fn with stderr sent to a temporary file; returns what was written. */
static char *capture_stderr(void (*fn)(const char *arg), const char *arg)
{
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	off_t n = lseek(fd, 0, SEEK_END);
	char *buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
	close(fd);
	return buf;
}

static void log_two_levels(const char *target)
{
	enum log_target t;
	assert_int_equal(log_target_parse(target, &t), 0);
	log_setup(LOG_LVL_INFO, t, "tst");
	log_info("mod", "hello %d", 5);
	log_debug("mod", "filtered");
}

static void stderr_format_and_filter(void **st)
{
	unsetenv("JOURNAL_STREAM");
	char *out = capture_stderr(log_two_levels, "stderr");
	regex_t re;
	assert_int_equal(
	    regcomp(&re,
	            "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	            "tst\\[info\\] mod: hello 5\n$",
	            REG_EXTENDED),
	    0);
	if (regexec(&re, out, 0, NULL, 0) != 0)
		fail_msg("unexpected log output: '%s'", out);
	regfree(&re);
	free(out);
}

static void set_journal_stream_to_stderr(const char *unused)
{
	struct stat sb;
	char v[64];
	assert_int_equal(fstat(STDERR_FILENO, &sb), 0);
	snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)sb.st_dev,
	         (unsigned long long)sb.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	log_two_levels("auto");
}

static void auto_target_follows_journal_stream(void **st)
{
	/* A JOURNAL_STREAM inherited from elsewhere does not redirect stderr. */
	setenv("JOURNAL_STREAM", "1:2", 1);
	char *out = capture_stderr(log_two_levels, "auto");
	assert_non_null(strstr(out, "mod: hello 5"));
	free(out);
	/* stderr is the stream systemd named: messages go to the journal. */
	out = capture_stderr(set_journal_stream_to_stderr, NULL);
	assert_string_equal(out, "");
	free(out);
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_LVL_INFO, LOG_TARGET_STDERR, "tst");
}

/*
 * journald fields of the log context, as journald receives them: in a
 * private mount namespace the test binds its own datagram socket where
 * libsystemd sends (/run/systemd/journal/socket) and reads the native
 * protocol's KEY=value lines. Needs root for the namespace; skipped without.
 */
static void journal_fields_of_context(void **st)
{
	if (geteuid() != 0) {
		skip();
		return;
	}
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			_exit(2);
		mkdir("/run/systemd", 0755);
		mkdir("/run/systemd/journal", 0755);
		if (mount("tmpfs", "/run/systemd/journal", "tmpfs", 0, "size=1m") != 0)
			_exit(3);
		int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof a.sun_path, "/run/systemd/journal/socket");
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0)
			_exit(4);
		log_setup(LOG_LVL_INFO, LOG_TARGET_JOURNAL, "tst");
		log_ctx_contract(42);
		log_ctx_twin(7);
		log_ctx_workload("web");
		log_info("engine", "with context");
		log_ctx_clear();
		log_info("engine", "without context");
		char buf[2][8192];
		for (int i = 0; i < 2; i++) {
			ssize_t n = recv(s, buf[i], sizeof buf[i] - 1, 0);
			if (n <= 0)
				_exit(5);
			buf[i][n] = '\0';
			/* One record per datagram, separated for the parent. */
			if (write(pfd[1], buf[i], (size_t)n) != n || write(pfd[1], "\x1e", 1) != 1)
				_exit(6);
		}
		_exit(0);
	}
	close(pfd[1]);
	char out[16384];
	size_t len = 0;
	ssize_t r;
	while ((r = read(pfd[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(pfd[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	char *second = strchr(out, '\x1e');
	assert_non_null(second);
	*second++ = '\0';
	assert_non_null(strstr(out, "MESSAGE=engine: with context\n"));
	assert_non_null(strstr(out, "ZOS_CONTRACT=42\n"));
	assert_non_null(strstr(out, "ZOS_TWIN=7\n"));
	assert_non_null(strstr(out, "ZOS_WORKLOAD=web\n"));
	assert_non_null(strstr(out, "ZOS_MODULE=engine\n"));
	assert_non_null(strstr(second, "MESSAGE=engine: without context\n"));
	assert_null(strstr(second, "ZOS_CONTRACT="));
	assert_null(strstr(second, "ZOS_TWIN="));
	assert_null(strstr(second, "ZOS_WORKLOAD="));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names_round_trip),
	    cmocka_unit_test(stderr_format_and_filter),
	    cmocka_unit_test(auto_target_follows_journal_stream),
	    cmocka_unit_test(journal_fields_of_context),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
