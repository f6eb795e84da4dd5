/* The QMP client against a scripted fake monitor on a unix socket: replies
 * after events and overlong lines, error replies, a silent monitor (bounded
 * by the timeout) and a monitor that hangs up. Needs nothing special. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "tests/provisioners/prov_test.h"
#include "provisioners/prov_vm.h"

static char sock[108];

/* Serves one connection: greeting, then for each request line the next
 * scripted answer (NULL: say nothing; "" : hang up). */
static pid_t fake_monitor(const char *const *answers)
{
	snprintf(sock, sizeof sock, "/tmp/zos-qmp-test-%d.sock", (int)getpid());
	unlink(sock);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 1) < 0)
		return -1;
	pid_t pid = fork();
	if (pid != 0) {
		close(l);
		return pid;
	}
	int c = accept(l, NULL, NULL);
	const char *greet = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n";
	(void)!write(c, greet, strlen(greet));
	char buf[4096];
	size_t k = 0;
	for (const char *const *a = answers;; a++) {
		/* Wait for one request line. */
		for (;;) {
			ssize_t n = read(c, buf + k, 1);
			if (n <= 0)
				_exit(0);
			if (buf[k] == '\n')
				break;
			if (k < sizeof buf - 2)
				k++;
		}
		k = 0;
		if (!*a) {
			sleep(30);
			_exit(0);
		}
		if (!**a)
			_exit(0);
		(void)!write(c, *a, strlen(*a));
	}
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(sock);
}

static void status_after_events_and_long_lines(void **st)
{
	static char longline[6000];
	memset(longline, 'x', sizeof longline - 3);
	memcpy(longline, "{\"event\": \"", 11);
	longline[sizeof longline - 3] = '\r';
	longline[sizeof longline - 2] = '\n';
	longline[sizeof longline - 1] = '\0';
	char reply[8000];
	snprintf(reply, sizeof reply,
	         "{\"timestamp\": {\"seconds\": 1}, \"event\": \"STOP\"}\r\n%s"
	         "{\"return\": {\"status\": \"paused\", \"singlestep\": false, \"running\": "
	         "false}}\r\n",
	         longline);
	const char *const answers[] = {"{\"return\": {}}\r\n", reply, NULL};
	pid_t pid = fake_monitor(answers);
	assert_true(pid > 0);
	char s[32];
	assert_int_equal(prov_qmp_status(sock, s, sizeof s, 3000), 0);
	assert_string_equal(s, "paused");
	stop(pid);
}

static void error_reply(void **st)
{
	const char *const answers[] = {
	    "{\"return\": {}}\r\n",
	    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such thing\"}}\r\n", NULL};
	pid_t pid = fake_monitor(answers);
	assert_true(pid > 0);
	char out[128];
	assert_int_equal(prov_qmp(sock, "stop", out, sizeof out, 3000), -EIO);
	assert_non_null(strstr(out, "no such thing"));
	stop(pid);
}

static void silent_monitor_times_out(void **st)
{
	const char *const answers[] = {"{\"return\": {}}\r\n", NULL};
	pid_t pid = fake_monitor(answers);
	assert_true(pid > 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(prov_qmp(sock, "cont", NULL, 0, 500), ZE_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 400 && ms < 3000);
	stop(pid);
}

static void hangup_and_bad_input(void **st)
{
	const char *const answers[] = {"{\"return\": {}}\r\n", "", NULL};
	pid_t pid = fake_monitor(answers);
	assert_true(pid > 0);
	assert_true(prov_qmp(sock, "stop", NULL, 0, 2000) < 0);
	stop(pid);
	/* Commands are constants: anything else is refused before connecting. */
	assert_int_equal(prov_qmp(sock, "stop\"}, {\"execute\": \"quit", NULL, 0, 100), -EINVAL);
	assert_true(prov_qmp("/nonexistent/qmp.sock", "stop", NULL, 0, 100) < 0);
	char s[4];
	const char *const a2[] = {"{\"return\": {}}\r\n",
	                          "{\"return\": {\"status\": \"running\"}}\r\n", NULL};
	pid = fake_monitor(a2);
	assert_true(pid > 0);
	/* "running" does not fit 4 bytes: refused, not truncated. */
	assert_int_equal(prov_qmp_status(sock, s, sizeof s, 2000), ZE_MALFORMED);
	stop(pid);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(status_after_events_and_long_lines),
	    cmocka_unit_test(error_reply),
	    cmocka_unit_test(silent_monitor_times_out),
	    cmocka_unit_test(hangup_and_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
