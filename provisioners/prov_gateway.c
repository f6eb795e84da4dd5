/*
 * gateway-name-proxy {name, backends[], tls_passthrough?}: NAME.<gateway
 * domain> served by haproxy on the node's public address, forwarding HTTP to
 * the backends (round robin).
 *
 * haproxy, among Debian's proxies: it validates a configuration without
 * using it (haproxy -c), reloads by starting a new process that takes the
 * listening sockets over from the old one (-sf), so a reload drops no
 * connection, routes by Host header in a few lines, and runs as one small
 * daemon; caddy would first need its automatic certificates turned off, and
 * nginx reloads through signals to a master whose configuration it re-reads
 * in place.
 *
 * Each workload is one entry file in <run_dir>/gateway/entries (name and
 * backends; ".paused" beside it while paused). Every change renders the
 * whole configuration from the entries into a new file, checks it with
 * haproxy -c, renames it over the old one and reloads; haproxy is started
 * with the first entry and stopped with the last. It runs detached (-D), so
 * it outlives an agent restart. TLS terminates with the configured
 * (wildcard) certificate; plain HTTP is served when a port is configured.
 * Backends are addresses on one of the deployment's networks when "network"
 * names it (a container's IP:port), else addresses the host reaches (a
 * public_port's address: local connections to it are forwarded like
 * outside ones).
 * tls_passthrough is refused: TLS always ends at the node.
 */
#include "provisioners/prov_int.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GW_BACKENDS_MAX 8
#define GW_NAME_MAX 63
#define HAPROXY_TIMEOUT_MS 15000

/* One rendering and reload at a time. */
static pthread_mutex_t gw_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const keys[] = {"name", "backends", "tls_passthrough", "network", NULL};

struct gw_spec {
	char name[GW_NAME_MAX + 1];
	char network[PROV_NAME_MAX + 1]; /* "": backends the host reaches */
	size_t n;
	char backend[GW_BACKENDS_MAX][24]; /* "a.b.c.d:port" */
};

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > GW_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	return 1;
}

/* "http://a.b.c.d:port[/]" or "a.b.c.d:port" into "a.b.c.d:port". */
static int backend_parse(const char *s, char out[24])
{
	if (!strncmp(s, "http://", 7))
		s += 7;
	char ip[16];
	const char *colon = strchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof ip)
		return -EINVAL;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	uint32_t a;
	char *end = NULL;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (prov_ipv4_parse(ip, &a) < 0 || end == colon + 1 || port < 1 || port > 65535 ||
	    (*end && strcmp(end, "/")))
		return -EINVAL;
	snprintf(out, 24, "%s:%lu", ip, port);
	return 0;
}

static int gw_parse(const cJSON *data, struct gw_spec *s, char *err, size_t errsz)
{
	int rc = prov_json_keys(data, keys, err, errsz);
	if (rc < 0)
		return rc;
	const char *name;
	if ((rc = prov_json_str(data, "name", GW_NAME_MAX, &name, err, errsz)) < 0)
		return rc;
	if (!name_ok(name))
		return prov_err(err, errsz, -EINVAL,
		                "name must be 1..63 of a-z, 0-9 and '-' (a DNS label)");
	snprintf(s->name, sizeof s->name, "%s", name);
	const cJSON *tp = cJSON_GetObjectItemCaseSensitive(data, "tls_passthrough");
	if (tp && !cJSON_IsBool(tp))
		return prov_err(err, errsz, -EINVAL, "tls_passthrough must be true or false");
	if (cJSON_IsTrue(tp))
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "tls_passthrough is not supported on this node: TLS ends at the "
		                "gateway (set it to false)");
	s->network[0] = '\0';
	const cJSON *net = cJSON_GetObjectItemCaseSensitive(data, "network");
	if (net && !cJSON_IsNull(net) && !(cJSON_IsString(net) && !net->valuestring[0])) {
		if (!cJSON_IsString(net) || prov_name_valid(net->valuestring) < 0)
			return prov_err(err, errsz, -EINVAL,
			                "network must name a network workload of the deployment");
		snprintf(s->network, sizeof s->network, "%s", net->valuestring);
	}
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(data, "backends");
	if (!cJSON_IsArray(b) || cJSON_GetArraySize(b) < 1 ||
	    cJSON_GetArraySize(b) > GW_BACKENDS_MAX)
		return prov_err(err, errsz, -EINVAL,
		                "backends must list 1..%d addresses http://a.b.c.d:port",
		                GW_BACKENDS_MAX);
	s->n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, b)
	{
		if (!cJSON_IsString(it) || strlen(it->valuestring) > 40 ||
		    backend_parse(it->valuestring, s->backend[s->n]) < 0)
			return prov_err(err, errsz, -EINVAL,
			                "backends[%zu] must be http://a.b.c.d:port", s->n);
		s->n++;
	}
	return 0;
}

static int gw_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	struct gw_spec s;
	int rc = gw_parse(data, &s, err, errsz);
	if (rc == 0)
		memset(cap, 0, sizeof *cap);
	return rc;
}

static int gw_claims(const cJSON *data, struct prov_claim *out, size_t max, size_t *n)
{
	struct gw_spec s;
	*n = 0;
	int rc = gw_parse(data, &s, NULL, 0);
	if (rc < 0)
		return rc;
	if (max < 1)
		return ZE_TOOBIG;
	snprintf(out[0].key, sizeof out[0].key, "name/%s", s.name);
	out[0].public_range = 0;
	*n = 1;
	return 0;
}

static int gw_dir(struct prov_ctx *ctx, const char *leaf, char *out, size_t outsz)
{
	return prov_fmt(out, outsz, "%s/gateway%s%s", ctx->run_dir, leaf ? "/" : "",
	                leaf ? leaf : "");
}

static int entry_path(struct prov_ctx *ctx, const char *host, const char *suffix, char *out,
                      size_t outsz)
{
	return prov_fmt(out, outsz, "%s/gateway/entries/%s%s", ctx->run_dir, host, suffix);
}

/* The pid of our haproxy (from its pid file, checked against /proc), or 0. */
static pid_t haproxy_pid(struct prov_ctx *ctx)
{
	char pf[PROV_PATH_MAX], buf[32], cmd[PROV_PATH_MAX], comm[64];
	if (gw_dir(ctx, "haproxy.pid", pf, sizeof pf) < 0 ||
	    prov_read_file(pf, buf, sizeof buf, NULL) < 0)
		return 0;
	long pid = strtol(buf, NULL, 10);
	if (pid <= 1)
		return 0;
	snprintf(cmd, sizeof cmd, "/proc/%ld/comm", pid);
	if (prov_read_file(cmd, comm, sizeof comm, NULL) < 0 || strncmp(comm, "haproxy", 7))
		return 0;
	return (pid_t)pid;
}

/* Writes the configuration of every entry not paused; *count says how many. */
static int render(struct prov_ctx *ctx, const char *path, size_t *count, char *err, size_t errsz)
{
	char dir[PROV_PATH_MAX];
	int rc;
	if ((rc = gw_dir(ctx, "entries", dir, sizeof dir)) < 0)
		return prov_err(err, errsz, rc, "run_dir is too long");
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return prov_err(err, errsz, -errno, "cannot list %s: %s", dir, strerror(errno));
	size_t cap = 4096 + (size_t)n * 1024, off = 0;
	char *text = malloc(cap);
	if (!text) {
		rc = prov_err(err, errsz, -ENOMEM, "out of memory");
		goto out;
	}
#define PUT(...)                                                                                   \
	do {                                                                                       \
		int k_ = snprintf(text + off, cap - off, __VA_ARGS__);                             \
		if (k_ < 0 || (size_t)k_ >= cap - off) {                                           \
			rc = prov_err(err, errsz, ZE_TOOBIG, "gateway configuration too large");   \
			goto out;                                                                  \
		}                                                                                  \
		off += (size_t)k_;                                                                 \
	} while (0)
	PUT("# Rendered by zos-agent from %s; changes here are overwritten.\n"
	    "global\n\tmaxconn 4096\n\tlog stderr format short local0 err\n"
	    "defaults\n\tmode http\n\ttimeout connect 5s\n\ttimeout client 60s\n"
	    "\ttimeout server 60s\n\toption forwardfor\n",
	    dir);
	/* Entries: "name b1 b2 ..." each. */
	char(*ename)[GW_NAME_MAX + 1] = calloc((size_t)n + 1, sizeof *ename);
	char(*eback)[GW_BACKENDS_MAX * 25] = calloc((size_t)n + 1, sizeof *eback);
	size_t m = 0;
	if (!ename || !eback) {
		free(ename);
		free(eback);
		rc = prov_err(err, errsz, -ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		size_t len = strlen(f);
		if (len < 7 || strcmp(f + len - 6, ".entry"))
			continue;
		char p[PROV_PATH_MAX], buf[512], paused[PROV_PATH_MAX];
		if (prov_fmt(p, sizeof p, "%s/%s", dir, f) < 0 ||
		    prov_fmt(paused, sizeof paused, "%s/%.*s.paused", dir, (int)(len - 6), f) < 0 ||
		    access(paused, F_OK) == 0 || prov_read_file(p, buf, sizeof buf, NULL) < 0)
			continue;
		char *sp = strchr(buf, ' '), *nl = strchr(buf, '\n');
		if (!sp || !nl || (size_t)(sp - buf) > GW_NAME_MAX)
			continue;
		*nl = '\0';
		memcpy(ename[m], buf, (size_t)(sp - buf));
		ename[m][sp - buf] = '\0';
		snprintf(eback[m], sizeof eback[m], "%s", sp + 1);
		m++;
	}
	for (int fe = 0; fe < 2; fe++) {
		unsigned port = fe ? ctx->gw_https_port : ctx->gw_http_port;
		if (!port || !m)
			continue;
		PUT("frontend %s\n\tbind %s:%u%s%s\n", fe ? "https" : "http", ctx->public_ip, port,
		    fe ? " ssl crt " : "", fe ? ctx->gw_cert : "");
		for (size_t i = 0; i < m; i++)
			PUT("\tuse_backend b_%s if { hdr(host),field(1,:) -i %s.%s }\n", ename[i],
			    ename[i], ctx->gw_domain);
	}
	for (size_t i = 0; i < m; i++) {
		PUT("backend b_%s\n\tbalance roundrobin\n", ename[i]);
		char *save = NULL, *b = strtok_r(eback[i], " ", &save);
		for (unsigned k = 0; b; k++, b = strtok_r(NULL, " ", &save))
			PUT("\tserver s%u %s\n", k, b);
	}
#undef PUT
	free(ename);
	free(eback);
	*count = m;
	rc = prov_write_file(path, text, off, 0600);
	if (rc < 0)
		prov_err(err, errsz, rc, "cannot write %s: %s", path, zerr_str(rc));
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(text);
	return rc;
}

/* Renders, checks and (re)starts haproxy, or stops it when no entry is
 * left. Called with gw_mu. */
static int apply(struct prov_ctx *ctx, char *err, size_t errsz)
{
	char prog[PROV_PATH_MAX], cfg[PROV_PATH_MAX], next[PROV_PATH_MAX], pf[PROV_PATH_MAX];
	int rc;
	if (prov_which("haproxy", prog, sizeof prog) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "haproxy is not installed (apt-get install haproxy)");
	if ((rc = gw_dir(ctx, "haproxy.cfg", cfg, sizeof cfg)) < 0 ||
	    (rc = gw_dir(ctx, "haproxy.cfg.next", next, sizeof next)) < 0 ||
	    (rc = gw_dir(ctx, "haproxy.pid", pf, sizeof pf)) < 0)
		return prov_err(err, errsz, rc, "run_dir is too long");
	size_t count = 0;
	if ((rc = render(ctx, next, &count, err, errsz)) < 0)
		return rc;
	pid_t old = haproxy_pid(ctx);
	if (count == 0) {
		unlink(next);
		if (old > 0) {
			kill(old, SIGTERM);
			for (int i = 0; i < 50 && kill(old, 0) == 0; i++)
				usleep(100000);
		}
		unlink(pf);
		unlink(cfg);
		return 0;
	}
	char out[512];
	const char *check[] = {prog, "-c", "-q", "-f", next, NULL};
	if ((rc = prov_run(check, out, sizeof out, HAPROXY_TIMEOUT_MS)) < 0) {
		unlink(next);
		return prov_err(err, errsz, rc, "haproxy refuses the configuration: %s", out);
	}
	if (rename(next, cfg) < 0)
		return prov_err(err, errsz, -errno, "cannot rename %s: %s", next, strerror(errno));
	char oldpid[16];
	snprintf(oldpid, sizeof oldpid, "%d", (int)old);
	const char *start[] = {prog,   "-D", "-f", cfg, "-p", pf, old > 0 ? "-sf" : NULL,
	                       oldpid, NULL};
	if ((rc = prov_run(start, out, sizeof out, HAPROXY_TIMEOUT_MS)) < 0)
		return prov_err(err, errsz, rc, "haproxy did not start: %s", out);
	return 0;
}

static int check_ready(struct prov_ctx *ctx, char *err, size_t errsz)
{
	if (!ctx->gw_domain || !ctx->public_ip)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "this node has no gateway (network.gateway_domain and "
		                "network.public_ip)");
	if (!ctx->gw_http_port && !(ctx->gw_https_port && ctx->gw_cert))
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "this node's gateway has no port (network.gateway_http_port, or "
		                "network.gateway_https_port with network.gateway_cert)");
	return 0;
}

static cJSON *gw_result(struct prov_ctx *ctx, const struct gw_spec *s)
{
	char fqdn[GW_NAME_MAX + 256], url[GW_NAME_MAX + 256 + 32];
	snprintf(fqdn, sizeof fqdn, "%s.%s", s->name, ctx->gw_domain);
	cJSON *r = cJSON_CreateObject(), *urls = r ? cJSON_AddArrayToObject(r, "urls") : NULL;
	if (!urls || !cJSON_AddStringToObject(r, "fqdn", fqdn) ||
	    (s->network[0] && !cJSON_AddStringToObject(r, "network", s->network))) {
		cJSON_Delete(r);
		return NULL;
	}
	if (ctx->gw_https_port && ctx->gw_cert) {
		if (ctx->gw_https_port == 443)
			snprintf(url, sizeof url, "https://%s/", fqdn);
		else
			snprintf(url, sizeof url, "https://%s:%u/", fqdn, ctx->gw_https_port);
		cJSON_AddItemToArray(urls, cJSON_CreateString(url));
	}
	if (ctx->gw_http_port) {
		if (ctx->gw_http_port == 80)
			snprintf(url, sizeof url, "http://%s/", fqdn);
		else
			snprintf(url, sizeof url, "http://%s:%u/", fqdn, ctx->gw_http_port);
		cJSON_AddItemToArray(urls, cJSON_CreateString(url));
	}
	return r;
}

/* Backends on a deployment's network: haproxy, in the host, reaches them
 * through an uplink into the network's namespace (a veth pair as a public
 * port has, "zp" so that the host's filter keeps the namespace from opening
 * connections to the host), where the namespace's zos_access table maps
 * (uplink address . 1000+i) to backend i. The record <host>.uplink holds
 * "<block> <namespace>". */
#define UPLINK_PORT0 1000

static int uplink_path(struct prov_ctx *ctx, const char *host, char *out, size_t outsz)
{
	return prov_fmt(out, outsz, "%s/gateway/entries/%s.uplink", ctx->run_dir, host);
}

static void uplink_links(const char *host, char hveth[16], char nveth[16])
{
	prov_if_name("zp", host, 1, hveth);
	prov_if_name("zq", host, 1, nveth);
}

static int uplink_load(struct prov_ctx *ctx, const char *host, unsigned *block,
                       char ns[PROV_HOST_MAX])
{
	char p[PROV_PATH_MAX], buf[128];
	int rc = uplink_path(ctx, host, p, sizeof p);
	if (rc < 0 || (rc = prov_read_file(p, buf, sizeof buf, NULL)) < 0)
		return rc;
	return sscanf(buf, "%u %63s", block, ns) == 2 && *block < 16384 ? 0 : ZE_MALFORMED;
}

static void uplink_remove(struct prov_ctx *ctx, const char *host)
{
	char p[PROV_PATH_MAX], ns[PROV_HOST_MAX], hveth[16], nveth[16], key[40], t[16];
	unsigned block;
	if (uplink_load(ctx, host, &block, ns) == 0 && prov_netns_exists(ns)) {
		uint32_t a = prov_uplink_addr(block, 1);
		snprintf(t, sizeof t, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
		         a & 255);
		for (unsigned i = 0; i < GW_BACKENDS_MAX; i++) {
			snprintf(key, sizeof key, "%s . %u", t, UPLINK_PORT0 + i);
			prov_nft_map_del(ns, "port_tcp", key);
		}
	}
	uplink_links(host, hveth, nveth);
	prov_ip(NULL, 0, (const char *const[]){"link", "del", hveth, NULL});
	if (uplink_path(ctx, host, p, sizeof p) == 0)
		unlink(p);
}

/* Makes the uplink and rewrites s's backends to the addresses haproxy
 * uses for them. */
static int uplink_up(struct prov_ctx *ctx, const struct prov_workload_id *id, const char *host,
                     struct gw_spec *s, char *err, size_t errsz)
{
	char ns[PROV_HOST_MAX], old_ns[PROV_HOST_MAX], hveth[16], nveth[16], p[PROV_PATH_MAX];
	uint32_t subnet;
	unsigned prefix, block;
	int rc;
	if (prov_network_subnet(ctx, id->contract_id, s->network, ns, &subnet, &prefix) < 0)
		return prov_err(err, errsz, -ENOENT, "network %s is not provisioned", s->network);
	uint32_t m = prefix ? 0xffffffffu << (32 - prefix) : 0;
	for (size_t i = 0; i < s->n; i++) {
		char ip[16];
		uint32_t a;
		sscanf(s->backend[i], "%15[0-9.]", ip);
		if (prov_ipv4_parse(ip, &a) < 0 || (a & m) != subnet)
			return prov_err(err, errsz, -EINVAL,
			                "backends[%zu] is not an address of network %s", i,
			                s->network);
	}
	uplink_links(host, hveth, nveth);
	if (uplink_load(ctx, host, &block, old_ns) == 0 && !strcmp(old_ns, ns) &&
	    prov_ip(NULL, 0, (const char *const[]){"link", "show", hveth, NULL}) == 0) {
		/* Again (restart): keep the addresses. */
	} else if ((rc = prov_uplink_block(ctx, host, &block)) < 0) {
		return prov_err(err, errsz, rc, "no free transfer network in 100.127.0.0/16");
	}
	char text[96];
	snprintf(text, sizeof text, "%u %s\n", block, ns);
	char dir[PROV_PATH_MAX];
	if ((rc = gw_dir(ctx, "entries", dir, sizeof dir)) < 0 ||
	    (rc = prov_mkdirs(dir, 0700)) < 0 || (rc = uplink_path(ctx, host, p, sizeof p)) < 0 ||
	    (rc = prov_write_file(p, text, strlen(text), 0600)) < 0)
		return prov_err(err, errsz, rc, "cannot record the gateway's uplink: %s",
		                zerr_str(rc));
	if ((rc = prov_uplink_make(ns, hveth, nveth, block, err, errsz)) < 0 ||
	    (rc = prov_nft_table(ctx, NULL, err, errsz)) < 0 ||
	    (rc = prov_nft_table(ctx, ns, err, errsz)) < 0 ||
	    (rc = prov_ip(err, errsz,
	                  (const char *const[]){"netns", "exec", ns, "sysctl", "-q", "-w",
	                                        "net.ipv4.ip_forward=1", NULL})) < 0)
		goto fail;
	uint32_t a = prov_uplink_addr(block, 1);
	char t[16];
	snprintf(t, sizeof t, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	for (size_t i = 0; i < s->n; i++) {
		char key[40], value[40], ip[16];
		unsigned port = 0;
		sscanf(s->backend[i], "%15[0-9.]:%u", ip, &port);
		snprintf(key, sizeof key, "%s . %u", t, UPLINK_PORT0 + (unsigned)i);
		snprintf(value, sizeof value, "%s . %u", ip, port);
		if ((rc = prov_nft_map_set(ns, "port_tcp", key, value, err, errsz)) < 0)
			goto fail;
		snprintf(s->backend[i], sizeof s->backend[i], "%s:%u", t,
		         UPLINK_PORT0 + (unsigned)i);
	}
	return 0;
fail:
	uplink_remove(ctx, host);
	return rc;
}

static int gw_provision(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
                        const struct prov_deployment_view *deps, cJSON **result, char *err,
                        size_t errsz)
{
	struct gw_spec s;
	int rc = gw_parse(data, &s, err, errsz);
	if (rc < 0 || (rc = check_ready(ctx, err, errsz)) < 0)
		return rc;
	char host[PROV_HOST_MAX], dir[PROV_PATH_MAX], ep[PROV_PATH_MAX], text[512];
	if ((rc = prov_host_name(id, host)) < 0 ||
	    (rc = gw_dir(ctx, "entries", dir, sizeof dir)) < 0 ||
	    (rc = entry_path(ctx, host, ".entry", ep, sizeof ep)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (s.network[0] && (rc = uplink_up(ctx, id, host, &s, err, errsz)) < 0)
		return rc;
	size_t off = (size_t)snprintf(text, sizeof text, "%s", s.name);
	for (size_t i = 0; i < s.n; i++)
		off += (size_t)snprintf(text + off, sizeof text - off, " %s", s.backend[i]);
	snprintf(text + off, sizeof text - off, "\n");
	pthread_mutex_lock(&gw_mu);
	if ((rc = prov_mkdirs(dir, 0700)) < 0 ||
	    (rc = prov_write_file(ep, text, strlen(text), 0600)) < 0) {
		pthread_mutex_unlock(&gw_mu);
		return prov_err(err, errsz, rc, "cannot record gateway entry: %s", zerr_str(rc));
	}
	rc = apply(ctx, err, errsz);
	if (rc < 0) {
		unlink(ep);
		char e2[64];
		apply(ctx, e2, sizeof e2); /* back to the configuration without it */
	}
	pthread_mutex_unlock(&gw_mu);
	if (rc < 0) {
		if (s.network[0])
			uplink_remove(ctx, host);
		return rc;
	}
	if (!(*result = gw_result(ctx, &s)))
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	return 0;
}

static int gw_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                          size_t errsz)
{
	char host[PROV_HOST_MAX], ep[PROV_PATH_MAX], pp[PROV_PATH_MAX];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 ||
	    (rc = entry_path(ctx, host, ".entry", ep, sizeof ep)) < 0 ||
	    (rc = entry_path(ctx, host, ".paused", pp, sizeof pp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	uplink_remove(ctx, host);
	if (access(ep, F_OK) != 0 && access(pp, F_OK) != 0)
		return 0;
	pthread_mutex_lock(&gw_mu);
	unlink(ep);
	unlink(pp);
	rc = apply(ctx, err, errsz);
	pthread_mutex_unlock(&gw_mu);
	return rc;
}

static int gw_freeze(struct prov_ctx *ctx, const struct prov_workload_id *id, int pause, char *err,
                     size_t errsz)
{
	char host[PROV_HOST_MAX], ep[PROV_PATH_MAX], pp[PROV_PATH_MAX];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 ||
	    (rc = entry_path(ctx, host, ".entry", ep, sizeof ep)) < 0 ||
	    (rc = entry_path(ctx, host, ".paused", pp, sizeof pp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (access(ep, F_OK) != 0)
		return prov_err(err, errsz, -ENOENT, "gateway %s is not provisioned", id->name);
	pthread_mutex_lock(&gw_mu);
	if (pause)
		rc = prov_write_file(pp, "", 0, 0600);
	else
		rc = unlink(pp) < 0 && errno != ENOENT ? -errno : 0;
	if (rc == 0)
		rc = apply(ctx, err, errsz);
	else
		prov_err(err, errsz, rc, "cannot mark gateway %s: %s", id->name, zerr_str(rc));
	pthread_mutex_unlock(&gw_mu);
	return rc;
}

static int gw_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                    size_t errsz)
{
	return gw_freeze(ctx, id, 1, err, errsz);
}

static int gw_resume(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                     size_t errsz)
{
	return gw_freeze(ctx, id, 0, err, errsz);
}

static int gw_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id, enum prov_health *h,
                      char *err, size_t errsz)
{
	char host[PROV_HOST_MAX], ep[PROV_PATH_MAX], pp[PROV_PATH_MAX];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 ||
	    (rc = entry_path(ctx, host, ".entry", ep, sizeof ep)) < 0 ||
	    (rc = entry_path(ctx, host, ".paused", pp, sizeof pp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	char ns[PROV_HOST_MAX], hveth[16], nveth[16];
	unsigned block;
	uplink_links(host, hveth, nveth);
	if (access(ep, F_OK) != 0)
		*h = PROV_ABSENT;
	else if (uplink_load(ctx, host, &block, ns) == 0 &&
	         prov_ip(NULL, 0, (const char *const[]){"link", "show", hveth, NULL}) < 0)
		*h = PROV_DEGRADED; /* the network was made again: the uplink is gone */
	else if (access(pp, F_OK) == 0)
		*h = PROV_PAUSED;
	else
		*h = haproxy_pid(ctx) > 0 ? PROV_OK : PROV_DEGRADED;
	return 0;
}

static int gw_usage(struct prov_ctx *ctx, const struct prov_workload_id *id, struct prov_usage *u,
                    char *err, size_t errsz)
{
	enum prov_health h;
	int rc = gw_inspect(ctx, id, &h, err, errsz);
	if (rc < 0)
		return rc;
	if (h == PROV_ABSENT)
		return prov_err(err, errsz, -ENOENT, "gateway %s is not provisioned", id->name);
	memset(u, 0, sizeof *u);
	return 0;
}

const struct prov_ops prov_gateway_ops = {
    .type = "gateway-name-proxy",
    .validate = gw_validate,
    .provision = gw_provision,
    .deprovision = gw_deprovision,
    .pause = gw_pause,
    .resume = gw_resume,
    .inspect = gw_inspect,
    .usage = gw_usage,
    .claims = gw_claims,
};
