/*
 * network {ip_range, subnet, ...}: a private network of one deployment.
 *
 * The network is its own network namespace (/run/netns/<host>) holding a
 * bridge br0 with the subnet's first address. A zmachine attached to it
 * gets a veth pair: one end (eth<i>) in the container's namespace with its
 * address and a default route via br0, the other end enslaved to br0.
 * Networks of different deployments (so of different twins) share no
 * namespace, link or route, which is what isolates them.
 *
 * A network with a wireguard_private_key also gets a WireGuard interface in
 * its namespace (prov_wg.c), listening on wireguard_listen_port of the host,
 * with a route for each peer's allowed_ips: users' machines and other nodes
 * reach the containers through it. Pause takes that interface down, which
 * makes the containers unreachable from outside; resume brings it back.
 *
 * The spec file (run_dir/networks/<host>.spec) records what was made: the
 * ranges on the first line, then "wg <port> <sha256 of the WireGuard
 * configuration> <route>..." when WireGuard is on. It holds no key; resume
 * reads the routes from it.
 */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BRIDGE "br0"
#define SPEC_MAX 4096
#define ROUTES_MAX (PROV_WG_PEERS_MAX * PROV_WG_ALLOWED_MAX)

static const char *const network_keys[] = {
    "ip_range", "subnet", "wireguard_private_key", "wireguard_listen_port", "peers",
    "mycelium", NULL};

struct net_spec {
	uint32_t range, subnet;
	unsigned range_prefix, subnet_prefix;
};

/* The non-secret part of the WireGuard setup, as recorded in the spec file. */
struct wg_rec {
	int on;
	unsigned port;
	char digest[65];
};

static uint32_t mask_of(unsigned prefix)
{
	return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

static void ip_str(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static int network_parse(const cJSON *data, struct net_spec *s, struct prov_wg_spec *wg, char *err,
                         size_t errsz)
{
	int rc = prov_json_keys(data, network_keys, err, errsz);
	if (rc < 0)
		return rc;
	const char *range, *subnet;
	if ((rc = prov_json_str(data, "ip_range", 18, &range, err, errsz)) < 0 ||
	    (rc = prov_json_str(data, "subnet", 18, &subnet, err, errsz)) < 0)
		return rc;
	if (prov_cidr_parse(range, &s->range, &s->range_prefix) < 0 || s->range_prefix < 8 ||
	    s->range_prefix > 30 || (s->range & ~mask_of(s->range_prefix)))
		return prov_err(err, errsz, -EINVAL,
		                "ip_range must be an IPv4 network a.b.c.d/8..30");
	if (prov_cidr_parse(subnet, &s->subnet, &s->subnet_prefix) < 0 || s->subnet_prefix < 16 ||
	    s->subnet_prefix > 29 || (s->subnet & ~mask_of(s->subnet_prefix)))
		return prov_err(err, errsz, -EINVAL,
		                "subnet must be an IPv4 network a.b.c.d/16..29");
	if (s->subnet_prefix < s->range_prefix ||
	    (s->subnet & mask_of(s->range_prefix)) != s->range)
		return prov_err(err, errsz, -EINVAL, "subnet %s is not inside ip_range %s", subnet,
		                range);
	const cJSON *v;
	v = cJSON_GetObjectItemCaseSensitive(data, "mycelium");
	if (v && !cJSON_IsNull(v))
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "mycelium is not supported on this node");
	return prov_wg_parse(data, s->subnet, s->subnet_prefix, wg, err, errsz);
}

static int network_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	struct net_spec s;
	struct prov_wg_spec *wg = malloc(sizeof *wg);
	if (!wg)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	int rc = network_parse(data, &s, wg, err, errsz);
	prov_wg_spec_wipe(wg);
	free(wg);
	if (rc == 0)
		memset(cap, 0, sizeof *cap);
	return rc;
}

static int network_claims(const cJSON *data, struct prov_claim *out, size_t max, size_t *n)
{
	struct net_spec s;
	struct prov_wg_spec *wg = malloc(sizeof *wg);
	if (!wg)
		return -ENOMEM;
	int rc = network_parse(data, &s, wg, NULL, 0);
	*n = 0;
	if (rc == 0 && wg->enabled) {
		if (max < 1)
			rc = ZE_TOOBIG;
		else
			snprintf(out[(*n)++].key, sizeof out[0].key, "udp/%u", wg->listen_port);
	}
	prov_wg_spec_wipe(wg);
	free(wg);
	return rc;
}

static int spec_path(struct prov_ctx *ctx, const char *host, char *out, size_t outsz)
{
	return prov_fmt(out, outsz, "%s/networks/%s.spec", ctx->run_dir, host);
}

static int spec_text(const struct net_spec *s, const struct prov_wg_spec *wg, char *out,
                     size_t outsz)
{
	char a[16], b[16], digest[65];
	ip_str(s->range, a);
	ip_str(s->subnet, b);
	int rc = prov_fmt(out, outsz, "%s/%u %s/%u\n", a, s->range_prefix, b, s->subnet_prefix);
	if (rc < 0 || !wg->enabled)
		return rc;
	if ((rc = prov_wg_digest(wg, digest)) < 0)
		return rc;
	size_t off = strlen(out);
	if ((rc = prov_fmt(out + off, outsz - off, "wg %u %s", wg->listen_port, digest)) < 0)
		return rc;
	for (size_t i = 0; i < wg->n_peers; i++)
		for (size_t j = 0; j < wg->peers[i].n_allowed; j++) {
			ip_str(wg->peers[i].allowed[j], a);
			off = strlen(out);
			if ((rc = prov_fmt(out + off, outsz - off, " %s/%u", a,
			                   wg->peers[i].allowed_prefix[j])) < 0)
				return rc;
		}
	off = strlen(out);
	return prov_fmt(out + off, outsz - off, "\n");
}

/* The "wg" line of a spec file's text: port, digest and the routes (as a
 * NULL-ended list of pointers into text, which it modifies). */
static int wg_line(char *text, struct wg_rec *w, char **routes, size_t max)
{
	memset(w, 0, sizeof *w);
	if (routes)
		routes[0] = NULL;
	char *line = strstr(text, "\nwg ");
	if (!line)
		return 0;
	line += 4;
	char *nl = strchr(line, '\n');
	if (!nl)
		return ZE_MALFORMED;
	*nl = '\0';
	char *save = NULL, *tok = strtok_r(line, " ", &save);
	char *end = NULL;
	unsigned long port = tok ? strtoul(tok, &end, 10) : 0;
	if (!tok || *end || port < 1 || port > 65535)
		return ZE_MALFORMED;
	w->port = (unsigned)port;
	if (!(tok = strtok_r(NULL, " ", &save)) || strlen(tok) != 64)
		return ZE_MALFORMED;
	memcpy(w->digest, tok, 65);
	w->on = 1;
	size_t n = 0;
	while ((tok = strtok_r(NULL, " ", &save)) && routes) {
		if (n + 1 >= max)
			return ZE_MALFORMED;
		routes[n++] = tok;
	}
	if (routes)
		routes[n] = NULL;
	return 0;
}

/* Reads the spec file; buf (SPEC_MAX bytes) keeps its text for wg_line. */
static int spec_read(struct prov_ctx *ctx, const char *host, struct net_spec *s, char *buf)
{
	char p[PROV_PATH_MAX];
	int rc = spec_path(ctx, host, p, sizeof p);
	if (rc < 0 || (rc = prov_read_file(p, buf, SPEC_MAX, NULL)) < 0)
		return rc;
	char first[128];
	size_t len = strcspn(buf, "\n");
	if (len >= sizeof first || buf[len] != '\n')
		return ZE_MALFORMED;
	memcpy(first, buf, len + 1);
	first[len + 1] = '\0';
	char *sp = strchr(first, ' '), *nl = strchr(first, '\n');
	if (!sp || !nl || nl < sp)
		return ZE_MALFORMED;
	*sp = *nl = '\0';
	if (prov_cidr_parse(first, &s->range, &s->range_prefix) < 0 ||
	    prov_cidr_parse(sp + 1, &s->subnet, &s->subnet_prefix) < 0)
		return ZE_MALFORMED;
	return 0;
}

static int spec_load(struct prov_ctx *ctx, const char *host, struct net_spec *s)
{
	char buf[SPEC_MAX];
	return spec_read(ctx, host, s, buf);
}

static int bridge_ok(const char *ns)
{
	return prov_ip(NULL, 0, (const char *const[]){"-n", ns, "link", "show", BRIDGE, NULL}) == 0;
}

static cJSON *network_result(struct prov_ctx *ctx, const char *host, const struct net_spec *s,
                             const struct prov_wg_spec *wg)
{
	char sub[24], gw[16], a[16];
	ip_str(s->subnet, a);
	snprintf(sub, sizeof sub, "%s/%u", a, s->subnet_prefix);
	ip_str(s->subnet + 1, gw);
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddStringToObject(r, "network_id", host) ||
	    !cJSON_AddStringToObject(r, "subnet", sub) ||
	    !cJSON_AddStringToObject(r, "gateway", gw)) {
		cJSON_Delete(r);
		return NULL;
	}
	if (wg->enabled) {
		cJSON *w = prov_wg_result(ctx, host, s->subnet, wg);
		if (!w) {
			cJSON_Delete(r);
			return NULL;
		}
		cJSON_AddItemToObject(r, "wireguard", w);
	}
	return r;
}

static int feature_check(struct prov_ctx *ctx, char *err, size_t errsz)
{
	if (!ctx->feat.netns_tools || !ctx->feat.namespaces)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "networks need root, network namespaces and ip(8)");
	return 0;
}

static int provision_with(struct prov_ctx *ctx, const struct prov_workload_id *id,
                          const struct net_spec *s, const struct prov_wg_spec *wg, cJSON **result,
                          char *err, size_t errsz)
{
	struct net_spec old;
	char host[PROV_HOST_MAX], sp[PROV_PATH_MAX], dir[PROV_PATH_MAX], text[SPEC_MAX],
	    oldtext[SPEC_MAX], ifname[16];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 || (rc = spec_path(ctx, host, sp, sizeof sp)) < 0 ||
	    (rc = prov_fmt(dir, sizeof dir, "%s/networks", ctx->run_dir)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if ((rc = spec_text(s, wg, text, sizeof text)) < 0)
		return prov_err(err, errsz, rc, "cannot describe network %s: %s", id->name,
		                zerr_str(rc));
	prov_wg_if_name(host, ifname);

	int exists = prov_netns_exists(host);
	if (exists && spec_read(ctx, host, &old, oldtext) == 0 && bridge_ok(host)) {
		if (memcmp(&old, s, sizeof *s) != 0)
			return prov_err(err, errsz, ZE_STATE,
			                "network %s exists with another ip_range/subnet", id->name);
		if (strcmp(oldtext, text) != 0)
			return prov_err(err, errsz, ZE_STATE,
			                "network %s exists with another WireGuard configuration",
			                id->name);
		/* The tunnel alone went away (wireguard-go was killed): make it
		 * again without touching the bridge the containers use. */
		if (wg->enabled && !prov_wg_exists(host, ifname) &&
		    (rc = prov_wg_up(ctx, host, s->subnet, wg, err, errsz)) < 0)
			return rc;
		goto done;
	}
	/* Half made (crash during an earlier provision): start over. */
	if (exists)
		prov_netns_del(host);
	prov_wg_remove(host, ifname);

	if ((rc = prov_mkdirs(dir, 0700)) < 0 ||
	    (rc = prov_write_file(sp, text, strlen(text), 0600)) < 0) {
		prov_err(err, errsz, rc, "cannot record network spec: %s", zerr_str(rc));
		goto fail;
	}
	char gw[24], a[16];
	ip_str(s->subnet + 1, a);
	snprintf(gw, sizeof gw, "%s/%u", a, s->subnet_prefix);
	if ((rc = prov_netns_add(host, err, errsz)) < 0 ||
	    (rc = prov_ip(err, errsz,
	                  (const char *const[]){"-n", host, "link", "add", BRIDGE, "type", "bridge",
	                                        NULL})) < 0 ||
	    (rc = prov_ip(
	         err, errsz,
	         (const char *const[]){"-n", host, "addr", "add", gw, "dev", BRIDGE, NULL})) < 0 ||
	    (rc = prov_ip(err, errsz,
	                  (const char *const[]){"-n", host, "link", "set", BRIDGE, "up", NULL})) <
	        0)
		goto fail;
	if (wg->enabled && (rc = prov_wg_up(ctx, host, s->subnet, wg, err, errsz)) < 0)
		goto fail;
	exists = 0;
done:
	if (!(*result = network_result(ctx, host, s, wg))) {
		rc = prov_err(err, errsz, -ENOMEM, "out of memory");
		if (!exists)
			goto fail;
		return rc;
	}
	return 0;
fail:
	prov_wg_remove(host, ifname);
	prov_netns_del(host);
	unlink(sp);
	return rc;
}

static int network_provision(struct prov_ctx *ctx, const struct prov_workload_id *id,
                             const cJSON *data, const struct prov_deployment_view *deps,
                             cJSON **result, char *err, size_t errsz)
{
	struct net_spec s;
	struct prov_wg_spec *wg = malloc(sizeof *wg);
	if (!wg)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	int rc = network_parse(data, &s, wg, err, errsz);
	if (rc == 0 && (rc = feature_check(ctx, err, errsz)) == 0)
		rc = provision_with(ctx, id, &s, wg, result, err, errsz);
	prov_wg_spec_wipe(wg);
	free(wg);
	return rc;
}

static int network_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                               size_t errsz)
{
	char host[PROV_HOST_MAX], sp[PROV_PATH_MAX], ifname[16];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 || (rc = spec_path(ctx, host, sp, sizeof sp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	/* The tunnel first, so that wireguard-go has exited and its socket is
	 * gone when this returns. */
	prov_wg_if_name(host, ifname);
	prov_wg_remove(host, ifname);
	/* Deleting the namespace deletes the bridge and every veth end in it,
	 * which takes the peers in attached containers with it. */
	if ((rc = prov_netns_del(host)) < 0)
		return prov_err(err, errsz, rc, "cannot delete netns %s", host);
	if (unlink(sp) < 0 && errno != ENOENT)
		return prov_err(err, errsz, -errno, "cannot remove %s: %s", sp, strerror(errno));
	/* wireguard-go's log (and a configuration an interrupted provision
	 * left): nothing of the network stays in the run dir. */
	char extra[PROV_PATH_MAX];
	if (prov_fmt(extra, sizeof extra, "%s/networks/%s.wg.log", ctx->run_dir, host) == 0)
		unlink(extra);
	if (prov_fmt(extra, sizeof extra, "%s/networks/%s.wgconf", ctx->run_dir, host) == 0)
		unlink(extra);
	return 0;
}

static int network_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id,
                           enum prov_health *h, char *err, size_t errsz)
{
	char host[PROV_HOST_MAX], sp[PROV_PATH_MAX], buf[SPEC_MAX], ifname[16];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 || (rc = spec_path(ctx, host, sp, sizeof sp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	struct net_spec s;
	struct wg_rec w = {0};
	int ns = prov_netns_exists(host), spec = spec_read(ctx, host, &s, buf) == 0;
	if (spec && wg_line(buf, &w, NULL, 0) < 0)
		spec = 0;
	prov_wg_if_name(host, ifname);
	if (!ns && !spec && access(sp, F_OK) != 0)
		*h = PROV_ABSENT;
	else if (!ns || !spec || !bridge_ok(host))
		*h = PROV_DEGRADED;
	else if (!w.on)
		*h = PROV_OK;
	else if ((rc = prov_wg_is_up(host, ifname)) < 0)
		*h = PROV_DEGRADED;
	else
		*h = rc ? PROV_OK : PROV_PAUSED;
	return 0;
}

/* Pause takes the tunnel down, resume brings it up with the peers' routes;
 * the bridge stays, as the containers are paused on their own. */
static int network_freeze(struct prov_ctx *ctx, const struct prov_workload_id *id, int up,
                          char *err, size_t errsz)
{
	char host[PROV_HOST_MAX], buf[SPEC_MAX], ifname[16];
	char *routes[ROUTES_MAX + 1];
	struct net_spec s;
	struct wg_rec w;
	int rc = prov_host_name(id, host);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (!prov_netns_exists(host) || spec_read(ctx, host, &s, buf) < 0)
		return prov_err(err, errsz, -ENOENT, "network %s is not provisioned", id->name);
	if (wg_line(buf, &w, routes, ROUTES_MAX + 1) < 0)
		return prov_err(err, errsz, ZE_MALFORMED, "the spec file of network %s is damaged",
		                id->name);
	if (!w.on)
		return 0;
	prov_wg_if_name(host, ifname);
	if (!prov_wg_exists(host, ifname))
		return prov_err(err, errsz, -ENOENT,
		                "the WireGuard interface of network %s is gone", id->name);
	return prov_wg_set_up(host, ifname, (const char *const *)routes, up, err, errsz);
}

static int network_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                         size_t errsz)
{
	return network_freeze(ctx, id, 0, err, errsz);
}

static int network_resume(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                          size_t errsz)
{
	return network_freeze(ctx, id, 1, err, errsz);
}

static int network_usage(struct prov_ctx *ctx, const struct prov_workload_id *id,
                         struct prov_usage *u, char *err, size_t errsz)
{
	char host[PROV_HOST_MAX];
	int rc = prov_host_name(id, host);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (!prov_netns_exists(host))
		return prov_err(err, errsz, -ENOENT, "network %s is not provisioned", id->name);
	memset(u, 0, sizeof *u);
	if ((rc = prov_netns_counters(host, BRIDGE, &u->net_rx_bytes, &u->net_tx_bytes)) < 0)
		return prov_err(err, errsz, rc, "cannot read counters of %s: %s", host,
		                zerr_str(rc));
	return 0;
}

int prov_network_subnet(struct prov_ctx *ctx, uint64_t contract, const char *net_name,
                        char ns[PROV_HOST_MAX], uint32_t *subnet, unsigned *prefix)
{
	struct prov_workload_id nid = {.contract_id = contract};
	struct net_spec s;
	if (prov_fmt(nid.name, sizeof nid.name, "%s", net_name) < 0 || prov_host_name(&nid, ns) < 0)
		return -EINVAL;
	if (!prov_netns_exists(ns) || spec_load(ctx, ns, &s) < 0)
		return -ENOENT;
	*subnet = s.subnet;
	*prefix = s.subnet_prefix;
	return 0;
}

/* Network net_name of a contract, provisioned, and ip a usable address of
 * its subnet (not the network, gateway .1 or broadcast address): its
 * namespace in ns and its spec in s. */
static int member_of(struct prov_ctx *ctx, uint64_t contract, const char *net_name, const char *ip,
                     char ns[PROV_HOST_MAX], struct net_spec *s, char *err, size_t errsz)
{
	struct prov_workload_id nid = {.contract_id = contract};
	if (prov_fmt(nid.name, sizeof nid.name, "%s", net_name) < 0 || prov_host_name(&nid, ns) < 0)
		return prov_err(err, errsz, -EINVAL, "bad network name");
	if (!prov_netns_exists(ns) || spec_load(ctx, ns, s) < 0)
		return prov_err(err, errsz, -ENOENT, "network %s is not provisioned", net_name);
	uint32_t a;
	if (prov_ipv4_parse(ip, &a) < 0)
		return prov_err(err, errsz, -EINVAL, "interface ip '%.20s' is not an IPv4 address",
		                ip);
	uint32_t m = mask_of(s->subnet_prefix);
	if ((a & m) != s->subnet || a == s->subnet || a == s->subnet + 1 || a == (s->subnet | ~m))
		return prov_err(err, errsz, -EINVAL,
		                "ip %s is not a usable address of network %s (gateway is .1)", ip,
		                net_name);
	return 0;
}

int prov_network_attach(struct prov_ctx *ctx, uint64_t contract, const char *net_name,
                        const char *ct_ns, const char *host, unsigned idx, const char *ip,
                        char *err, size_t errsz)
{
	char net[PROV_HOST_MAX];
	struct net_spec s;
	int rc = member_of(ctx, contract, net_name, ip, net, &s, err, errsz);
	if (rc < 0)
		return rc;
	char vhost[16], ceth[16], addr[24], gw[16];
	prov_if_name("zv", host, idx, vhost);
	snprintf(ceth, sizeof ceth, "eth%u", idx);
	snprintf(addr, sizeof addr, "%s/%u", ip, s.subnet_prefix);
	ip_str(s.subnet + 1, gw);
	/* A leftover from an interrupted attempt would make "link add" fail. */
	prov_ip(NULL, 0, (const char *const[]){"-n", net, "link", "del", vhost, NULL});
	if ((rc = prov_ip(err, errsz,
	                  (const char *const[]){"-n", net, "link", "add", vhost, "type", "veth",
	                                        "peer", "name", ceth, "netns", ct_ns, NULL})) < 0)
		return rc;
	if ((rc = prov_ip(err, errsz,
	                  (const char *const[]){"-n", net, "link", "set", vhost, "master", BRIDGE,
	                                        "up", NULL})) < 0 ||
	    (rc = prov_ip(
	         err, errsz,
	         (const char *const[]){"-n", ct_ns, "addr", "add", addr, "dev", ceth, NULL})) < 0 ||
	    (rc = prov_ip(err, errsz,
	                  (const char *const[]){"-n", ct_ns, "link", "set", ceth, "up", NULL})) < 0)
		goto fail;
	if (idx == 0 && (rc = prov_ip(err, errsz,
	                              (const char *const[]){"-n", ct_ns, "route", "add", "default",
	                                                    "via", gw, NULL})) < 0)
		goto fail;
	return 0;
fail:
	prov_ip(NULL, 0, (const char *const[]){"-n", net, "link", "del", vhost, NULL});
	return rc;
}

int prov_network_tap(struct prov_ctx *ctx, uint64_t contract, const char *net_name,
                     const char *host, unsigned idx, const char *ip, uid_t uid, char tap[16],
                     char netns[PROV_HOST_MAX], char addr[24], char gw[16], char *err, size_t errsz)
{
	struct net_spec s;
	int rc = member_of(ctx, contract, net_name, ip, netns, &s, err, errsz);
	if (rc < 0)
		return rc;
	prov_if_name("zt", host, idx, tap);
	snprintf(addr, 24, "%s/%u", ip, s.subnet_prefix);
	ip_str(s.subnet + 1, gw);
	char user[16];
	snprintf(user, sizeof user, "%u", (unsigned)uid);
	/* A leftover from an interrupted attempt would make "tuntap add" fail. */
	prov_ip(NULL, 0, (const char *const[]){"-n", netns, "link", "del", tap, NULL});
	if ((rc = prov_ip(err, errsz,
	                  (const char *const[]){"-n", netns, "tuntap", "add", "dev", tap, "mode",
	                                        "tap", "user", user, NULL})) < 0)
		return rc;
	if ((rc = prov_ip(err, errsz,
	                  (const char *const[]){"-n", netns, "link", "set", tap, "master", BRIDGE,
	                                        "up", NULL})) < 0) {
		prov_ip(NULL, 0, (const char *const[]){"-n", netns, "link", "del", tap, NULL});
		return rc;
	}
	return 0;
}

const struct prov_ops prov_network_ops = {
    .type = "network",
    .validate = network_validate,
    .provision = network_provision,
    .deprovision = network_deprovision,
    .pause = network_pause,
    .resume = network_resume,
    .inspect = network_inspect,
    .usage = network_usage,
    .claims = network_claims,
};
