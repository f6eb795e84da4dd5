/*
 * A minimal QMP client: connect to qemu's monitor socket, leave capability
 * negotiation, run one command and read its reply. qemu answers with one
 * JSON object per line; the reply is the first line starting with
 * {"return" or {"error"; the greeting and asynchronous events are skipped.
 * Lines are read into a fixed buffer and longer ones dropped, so a hostile
 * or broken qemu can neither make this allocate nor block it past the
 * timeout. Only system calls and stack buffers, so the forked supervisor
 * uses it too.
 */
#include "provisioners/prov_vm.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_QMP 2048

struct qmp_conn {
	int fd;
	long deadline;
	char buf[LINE_MAX_QMP];
	size_t len;
	int dropping; /* inside a line longer than buf */
};

static int qmp_connect(struct qmp_conn *c, const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(sock) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(c->fd);
		return -e;
	}
	return 0;
}

static int qmp_send(struct qmp_conn *c, const char *text)
{
	size_t n = strlen(text), off = 0;
	while (off < n) {
		long left = c->deadline - clk_mono_ms();
		struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			return ZE_TIMEOUT;
		ssize_t w = send(c->fd, text + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		off += (size_t)w;
	}
	return 0;
}

/* The next complete line (without its end) in c->buf, NUL-terminated. */
static int qmp_line(struct qmp_conn *c)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			*nl = '\0';
			if (nl > c->buf && nl[-1] == '\r')
				nl[-1] = '\0';
			if (!c->dropping)
				return (int)(nl - c->buf) + 1;
			/* The tail of an overlong line: skip it. */
			c->dropping = 0;
			size_t used = (size_t)(nl - c->buf) + 1;
			memmove(c->buf, nl + 1, c->len - used);
			c->len -= used;
			continue;
		}
		if (c->len == sizeof c->buf - 1) {
			c->dropping = 1;
			c->len = 0;
		}
		long left = c->deadline - clk_mono_ms();
		struct pollfd pf = {.fd = c->fd, .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			return ZE_TIMEOUT;
		ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		c->len += (size_t)r;
	}
}

static void consume(struct qmp_conn *c, int used)
{
	memmove(c->buf, c->buf + used, c->len - (size_t)used);
	c->len -= (size_t)used;
}

/* Reads until the reply; copies what follows "return": or the error's
 * "desc" into out. */
static int qmp_reply(struct qmp_conn *c, char *out, size_t outsz)
{
	for (;;) {
		int used = qmp_line(c);
		if (used < 0)
			return used;
		int rc = 1;
		const char *v = NULL;
		if (strncmp(c->buf, "{\"return\":", 10) == 0) {
			rc = 0;
			v = c->buf + 10;
		} else if (strncmp(c->buf, "{\"error\":", 9) == 0) {
			rc = -EIO;
			v = strstr(c->buf, "\"desc\":");
			v = v ? v + 7 : c->buf + 9;
		}
		if (rc != 1 && out && outsz) {
			while (*v == ' ')
				v++;
			snprintf(out, outsz, "%s", v);
		}
		consume(c, used);
		if (rc != 1)
			return rc;
	}
}

int prov_qmp(const char *sock, const char *cmd, char *out, size_t outsz, int timeout_ms)
{
	struct qmp_conn c = {.deadline = clk_mono_ms() + timeout_ms};
	char req[128];
	if (out && outsz)
		out[0] = '\0';
	/* Commands are constants of this file's callers; never user text. */
	if (strspn(cmd, "abcdefghijklmnopqrstuvwxyz_-") != strlen(cmd) ||
	    snprintf(req, sizeof req, "{\"execute\": \"%s\"}\r\n", cmd) >= (int)sizeof req)
		return -EINVAL;
	int rc = qmp_connect(&c, sock);
	if (rc < 0)
		return rc;
	if ((rc = qmp_send(&c, "{\"execute\": \"qmp_capabilities\"}\r\n")) == 0 &&
	    (rc = qmp_reply(&c, NULL, 0)) == 0 && (rc = qmp_send(&c, req)) == 0)
		rc = qmp_reply(&c, out, outsz);
	close(c.fd);
	return rc;
}

int prov_qmp_status(const char *sock, char *out, size_t outsz, int timeout_ms)
{
	char r[LINE_MAX_QMP];
	int rc = prov_qmp(sock, "query-status", r, sizeof r, timeout_ms);
	if (rc < 0)
		return rc;
	const char *s = strstr(r, "\"status\":");
	if (!s)
		return ZE_MALFORMED;
	s += 9;
	while (*s == ' ')
		s++;
	if (*s++ != '"')
		return ZE_MALFORMED;
	size_t n = strcspn(s, "\"");
	if (s[n] != '"' || n >= outsz)
		return ZE_MALFORMED;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}
