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
 * zos's wireguard fields (wireguard_private_key, wireguard_listen_port) are
 * accepted and not used; peers must be empty: this node has no overlay.
 */
#include "provisioners/prov_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BRIDGE "br0"
#define SPEC_MAX 512

static const char *const network_keys[] = {
    "ip_range", "subnet", "wireguard_private_key", "wireguard_listen_port", "peers",
    "mycelium", NULL};

struct net_spec {
	uint32_t range, subnet;
	unsigned range_prefix, subnet_prefix;
};

static uint32_t mask_of(unsigned prefix)
{
	return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

static void ip_str(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static int network_parse(const cJSON *data, struct net_spec *s, char *err, size_t errsz)
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
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "wireguard_private_key");
	if (v && (!cJSON_IsString(v) || strlen(v->valuestring) > 64))
		return prov_err(err, errsz, -EINVAL,
		                "wireguard_private_key must be a short string");
	uint64_t port;
	if (cJSON_GetObjectItemCaseSensitive(data, "wireguard_listen_port") &&
	    (rc = prov_json_u64(data, "wireguard_listen_port", 0, 65535, &port, err, errsz)) < 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(data, "peers");
	if (v && !cJSON_IsNull(v) && !(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0))
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "wireguard peers are not supported on this node");
	v = cJSON_GetObjectItemCaseSensitive(data, "mycelium");
	if (v && !cJSON_IsNull(v))
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "mycelium is not supported on this node");
	return 0;
}

static int network_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	struct net_spec s;
	int rc = network_parse(data, &s, err, errsz);
	if (rc == 0)
		memset(cap, 0, sizeof *cap);
	return rc;
}

static int spec_path(struct prov_ctx *ctx, const char *host, char *out, size_t outsz)
{
	return prov_fmt(out, outsz, "%s/networks/%s.spec", ctx->run_dir, host);
}

static int spec_text(const struct net_spec *s, char *out, size_t outsz)
{
	char a[16], b[16];
	ip_str(s->range, a);
	ip_str(s->subnet, b);
	return prov_fmt(out, outsz, "%s/%u %s/%u\n", a, s->range_prefix, b, s->subnet_prefix);
}

static int spec_load(struct prov_ctx *ctx, const char *host, struct net_spec *s)
{
	char p[PROV_PATH_MAX], buf[SPEC_MAX];
	int rc = spec_path(ctx, host, p, sizeof p);
	if (rc < 0 || (rc = prov_read_file(p, buf, sizeof buf, NULL)) < 0)
		return rc;
	char *sp = strchr(buf, ' '), *nl = strchr(buf, '\n');
	if (!sp || !nl || nl < sp)
		return ZE_MALFORMED;
	*sp = *nl = '\0';
	if (prov_cidr_parse(buf, &s->range, &s->range_prefix) < 0 ||
	    prov_cidr_parse(sp + 1, &s->subnet, &s->subnet_prefix) < 0)
		return ZE_MALFORMED;
	return 0;
}

static int bridge_ok(const char *ns)
{
	return prov_ip(NULL, 0, (const char *const[]){"-n", ns, "link", "show", BRIDGE, NULL}) == 0;
}

static cJSON *network_result(const char *host, const struct net_spec *s)
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
	return r;
}

static int feature_check(struct prov_ctx *ctx, char *err, size_t errsz)
{
	if (!ctx->feat.netns_tools || !ctx->feat.namespaces)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "networks need root, network namespaces and ip(8)");
	return 0;
}

static int network_provision(struct prov_ctx *ctx, const struct prov_workload_id *id,
                             const cJSON *data, const struct prov_deployment_view *deps,
                             cJSON **result, char *err, size_t errsz)
{
	struct net_spec s, old;
	int rc = network_parse(data, &s, err, errsz);
	if (rc < 0 || (rc = feature_check(ctx, err, errsz)) < 0)
		return rc;
	char host[PROV_HOST_MAX], sp[PROV_PATH_MAX], dir[PROV_PATH_MAX], text[SPEC_MAX];
	if ((rc = prov_host_name(id, host)) < 0 || (rc = spec_path(ctx, host, sp, sizeof sp)) < 0 ||
	    (rc = prov_fmt(dir, sizeof dir, "%s/networks", ctx->run_dir)) < 0 ||
	    (rc = spec_text(&s, text, sizeof text)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");

	int exists = prov_netns_exists(host);
	if (exists && spec_load(ctx, host, &old) == 0 && bridge_ok(host)) {
		if (memcmp(&old, &s, sizeof s) != 0)
			return prov_err(err, errsz, ZE_STATE,
			                "network %s exists with another ip_range/subnet", id->name);
		goto done;
	}
	/* Half made (crash during an earlier provision): start over. */
	if (exists)
		prov_netns_del(host);

	if ((rc = prov_mkdirs(dir, 0700)) < 0 ||
	    (rc = prov_write_file(sp, text, strlen(text), 0600)) < 0) {
		prov_err(err, errsz, rc, "cannot record network spec: %s", zerr_str(rc));
		goto fail;
	}
	char gw[24], a[16];
	ip_str(s.subnet + 1, a);
	snprintf(gw, sizeof gw, "%s/%u", a, s.subnet_prefix);
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
done:
	if (!(*result = network_result(host, &s))) {
		rc = prov_err(err, errsz, -ENOMEM, "out of memory");
		if (!exists)
			goto fail;
		return rc;
	}
	return 0;
fail:
	prov_netns_del(host);
	unlink(sp);
	return rc;
}

static int network_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                               size_t errsz)
{
	char host[PROV_HOST_MAX], sp[PROV_PATH_MAX];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 || (rc = spec_path(ctx, host, sp, sizeof sp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	/* Deleting the namespace deletes the bridge and every veth end in it,
	 * which takes the peers in attached containers with it. */
	if ((rc = prov_netns_del(host)) < 0)
		return prov_err(err, errsz, rc, "cannot delete netns %s", host);
	if (unlink(sp) < 0 && errno != ENOENT)
		return prov_err(err, errsz, -errno, "cannot remove %s: %s", sp, strerror(errno));
	return 0;
}

static int network_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id,
                           enum prov_health *h, char *err, size_t errsz)
{
	char host[PROV_HOST_MAX], sp[PROV_PATH_MAX];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 || (rc = spec_path(ctx, host, sp, sizeof sp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	struct net_spec s;
	int ns = prov_netns_exists(host), spec = spec_load(ctx, host, &s) == 0;
	if (!ns && !spec && access(sp, F_OK) != 0)
		*h = PROV_ABSENT;
	else if (ns && spec && bridge_ok(host))
		*h = PROV_OK;
	else
		*h = PROV_DEGRADED;
	return 0;
}

static int network_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                         size_t errsz)
{
	enum prov_health h;
	int rc = network_inspect(ctx, id, &h, err, errsz);
	if (rc < 0)
		return rc;
	/* Pausing the containers stops the traffic; the network itself stays. */
	return h == PROV_ABSENT
	           ? prov_err(err, errsz, -ENOENT, "network %s is not provisioned", id->name)
	           : 0;
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

int prov_network_attach(struct prov_ctx *ctx, uint64_t contract, const char *net_name,
                        const char *ct_ns, const char *host, unsigned idx, const char *ip,
                        char *err, size_t errsz)
{
	struct prov_workload_id nid = {.contract_id = contract};
	char net[PROV_HOST_MAX];
	if (prov_fmt(nid.name, sizeof nid.name, "%s", net_name) < 0 ||
	    prov_host_name(&nid, net) < 0)
		return prov_err(err, errsz, -EINVAL, "bad network name");
	struct net_spec s;
	if (!prov_netns_exists(net) || spec_load(ctx, net, &s) < 0)
		return prov_err(err, errsz, -ENOENT, "network %s is not provisioned", net_name);
	uint32_t a;
	if (prov_ipv4_parse(ip, &a) < 0)
		return prov_err(err, errsz, -EINVAL, "interface ip '%.20s' is not an IPv4 address",
		                ip);
	uint32_t m = mask_of(s.subnet_prefix);
	if ((a & m) != s.subnet || a == s.subnet || a == s.subnet + 1 || a == (s.subnet | ~m))
		return prov_err(err, errsz, -EINVAL,
		                "ip %s is not a usable address of network %s (gateway is .1)", ip,
		                net_name);
	char vhost[16], ceth[16], addr[24], gw[16];
	prov_if_name("zv", host, idx, vhost);
	snprintf(ceth, sizeof ceth, "eth%u", idx);
	snprintf(addr, sizeof addr, "%s/%u", ip, s.subnet_prefix);
	ip_str(s.subnet + 1, gw);
	/* A leftover from an interrupted attempt would make "link add" fail. */
	prov_ip(NULL, 0, (const char *const[]){"-n", net, "link", "del", vhost, NULL});
	int rc;
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
	struct prov_workload_id nid = {.contract_id = contract};
	if (prov_fmt(nid.name, sizeof nid.name, "%s", net_name) < 0 ||
	    prov_host_name(&nid, netns) < 0)
		return prov_err(err, errsz, -EINVAL, "bad network name");
	struct net_spec s;
	if (!prov_netns_exists(netns) || spec_load(ctx, netns, &s) < 0)
		return prov_err(err, errsz, -ENOENT, "network %s is not provisioned", net_name);
	uint32_t a;
	if (prov_ipv4_parse(ip, &a) < 0)
		return prov_err(err, errsz, -EINVAL, "interface ip '%.20s' is not an IPv4 address",
		                ip);
	uint32_t m = mask_of(s.subnet_prefix);
	if ((a & m) != s.subnet || a == s.subnet || a == s.subnet + 1 || a == (s.subnet | ~m))
		return prov_err(err, errsz, -EINVAL,
		                "ip %s is not a usable address of network %s (gateway is .1)", ip,
		                net_name);
	prov_if_name("zt", host, idx, tap);
	snprintf(addr, 24, "%s/%u", ip, s.subnet_prefix);
	ip_str(s.subnet + 1, gw);
	char user[16];
	snprintf(user, sizeof user, "%u", (unsigned)uid);
	/* A leftover from an interrupted attempt would make "tuntap add" fail. */
	prov_ip(NULL, 0, (const char *const[]){"-n", netns, "link", "del", tap, NULL});
	int rc;
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
    .resume = network_pause,
    .inspect = network_inspect,
    .usage = network_usage,
};
