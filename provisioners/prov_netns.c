/* Named network namespaces and links through ip(8), run with argv. */
#include "provisioners/prov_int.h"
#include "common/jnum.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IP_TIMEOUT_MS 10000
#define IP_ARGS_MAX 24

int prov_ip(char *err, size_t errsz, const char *const args[])
{
	char ip[PROV_PATH_MAX];
	if (prov_which("ip", ip, sizeof ip) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED, "ip(8) not installed");
	const char *argv[IP_ARGS_MAX + 2];
	size_t n = 0;
	argv[n++] = ip;
	for (size_t i = 0; args[i]; i++) {
		if (n >= IP_ARGS_MAX)
			abort(); /* a programming bug: callers pass fixed lists */
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	char out[256];
	int rc = prov_run(argv, out, sizeof out, IP_TIMEOUT_MS);
	if (rc < 0)
		return prov_err(err, errsz, rc, "ip %s %s: %s", args[0], args[1] ? args[1] : "",
		                out[0] ? out : zerr_str(rc));
	return 0;
}

int prov_netns_exists(const char *ns)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "/run/netns/%s", ns) < 0)
		return 0;
	return access(p, F_OK) == 0;
}

int prov_netns_add(const char *ns, char *err, size_t errsz)
{
	if (prov_netns_exists(ns))
		return 0;
	int rc = prov_ip(err, errsz, (const char *const[]){"netns", "add", ns, NULL});
	if (rc < 0)
		return rc;
	return prov_ip(err, errsz,
	               (const char *const[]){"-n", ns, "link", "set", "lo", "up", NULL});
}

int prov_netns_sysctl(const char *ns, const char *key, const char *value)
{
	char nsp[PROV_PATH_MAX], path[PROV_PATH_MAX];
	if (prov_fmt(nsp, sizeof nsp, "/run/netns/%s", ns) < 0 ||
	    prov_fmt(path, sizeof path, "/proc/sys/%s", key) < 0 || strstr(key, ".."))
		return -EINVAL;
	/* /proc/sys/net shows the namespace of whoever opens it: a child
	 * enters ns and writes. System calls only after the fork. */
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(nsp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(1);
		int f = open(path, O_WRONLY | O_CLOEXEC);
		size_t n = strlen(value);
		_exit(f >= 0 && write(f, value, n) == (ssize_t)n ? 0 : 2);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int prov_netns_del(const char *ns)
{
	if (!prov_netns_exists(ns))
		return 0;
	return prov_ip(NULL, 0, (const char *const[]){"netns", "del", ns, NULL});
}

static int json_u64(const cJSON *o, const char *k, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return jnum_u64(v, UINT64_MAX, out) < 0 ? -EINVAL : 0;
}

int prov_netns_counters(const char *ns, const char *ifname, uint64_t *rx, uint64_t *tx)
{
	char ip[PROV_PATH_MAX];
	if (prov_which("ip", ip, sizeof ip) < 0)
		return ZE_UNSUPPORTED;
	const char *argv[] = {ip, "-j", "-s", "-n", ns, "link", "show", ifname, NULL};
	if (!ifname)
		argv[6] = NULL;
	/* A namespace holds a handful of links; 64 KiB bounds the JSON. */
	size_t cap = 64 * 1024;
	char *out = malloc(cap);
	if (!out)
		return -ENOMEM;
	int rc = prov_run(argv, out, cap, IP_TIMEOUT_MS);
	if (rc < 0) {
		free(out);
		return rc;
	}
	cJSON *j = cJSON_Parse(out);
	free(out);
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return ZE_MALFORMED;
	}
	*rx = *tx = 0;
	const cJSON *link;
	cJSON_ArrayForEach(link, j)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(link, "ifname");
		if (cJSON_IsString(name) && strcmp(name->valuestring, "lo") == 0)
			continue;
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(link, "stats64");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(st, "rx");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(st, "tx");
		uint64_t a = 0, b = 0;
		if (json_u64(r, "bytes", &a) == 0 && json_u64(t, "bytes", &b) == 0) {
			*rx += a;
			*tx += b;
		}
	}
	cJSON_Delete(j);
	return 0;
}

int prov_ipv4_parse(const char *s, uint32_t *addr)
{
	uint32_t a = 0;
	int parts = 0;
	const char *p = s;
	while (parts < 4) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned v = 0, digits = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (unsigned)(*p++ - '0');
			if (++digits > 3 || v > 255)
				return -EINVAL;
		}
		a = (a << 8) | v;
		parts++;
		if (parts < 4) {
			if (*p != '.')
				return -EINVAL;
			p++;
		}
	}
	if (*p)
		return -EINVAL;
	*addr = a;
	return 0;
}

int prov_cidr_parse(const char *s, uint32_t *addr, unsigned *prefix)
{
	char buf[20];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof buf)
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (prov_ipv4_parse(buf, addr) < 0)
		return -EINVAL;
	const char *p = slash + 1;
	if (!*p || strlen(p) > 2)
		return -EINVAL;
	unsigned v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v > 32)
		return -EINVAL;
	*prefix = v;
	return 0;
}
