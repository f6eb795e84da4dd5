/*
 * public_port {protocol, public_port, network, ip, port}: a TCP or UDP port
 * of the node's public address (network.public_ip) forwarded to ip:port on
 * one of the deployment's networks, usually a container's address.
 *
 * Its own workload type that names a network and an address, rather than a
 * field of the container: it needs nothing from the container provisioner,
 * and a user can forward to anything on the network.
 *
 * The path: a veth pair per workload links the host (zp<hash>, address H)
 * to the network's namespace (zq<hash>, address T), both in a /30 of
 * 100.127.0.0/16 chosen per workload. The host's nftables table zos_access
 * maps (public_ip . public_port) to (T . public_port) and masquerades what
 * it sends into the veth (local connections to the public address, such as
 * the name gateway's, are forwarded too), so replies come back the same way without a
 * default route in the namespace; the namespace's own zos_access table maps
 * (T . public_port) to (ip . port). Traffic the namespace starts towards the
 * host (H) is dropped: only replies pass. The containers see the host's H as
 * the client address.
 *
 * nft runs as a program with argv (and -f for the base table), not through
 * libnftables: a child cannot take the agent down, and `ip netns exec` puts
 * it in the network's namespace without moving an agent thread there.
 * Rules are map elements keyed by the public address and port, and the base
 * chains are flushed and refilled in one transaction, so any number of
 * provisions (after a restart or kill -9) leave exactly one entry each.
 * Pause deletes the host's entry; resume adds it back.
 */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE "zos_access"
#define XFER_BASE 0x647f0000u /* 100.127.0.0 */
#define XFER_BLOCKS 16384u    /* /30 blocks in 100.127.0.0/16 */
#define NFT_TIMEOUT_MS 10000

static const char *const keys[] = {"protocol", "public_port", "network", "ip", "port", NULL};

struct pp_spec {
	int udp;
	unsigned public_port, port;
	char network[PROV_NAME_MAX + 1];
	uint32_t ip;
};

static void ip_str(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static int pp_parse(const cJSON *data, struct pp_spec *s, char *err, size_t errsz)
{
	int rc = prov_json_keys(data, keys, err, errsz);
	if (rc < 0)
		return rc;
	const char *proto, *net, *ip;
	uint64_t pub, port;
	if ((rc = prov_json_str(data, "protocol", 3, &proto, err, errsz)) < 0 ||
	    (rc = prov_json_str(data, "network", PROV_NAME_MAX, &net, err, errsz)) < 0 ||
	    (rc = prov_json_str(data, "ip", 15, &ip, err, errsz)) < 0 ||
	    (rc = prov_json_u64(data, "public_port", 1, 65535, &pub, err, errsz)) < 0 ||
	    (rc = prov_json_u64(data, "port", 1, 65535, &port, err, errsz)) < 0)
		return rc;
	if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return prov_err(err, errsz, -EINVAL, "protocol must be \"tcp\" or \"udp\"");
	if (prov_name_valid(net) < 0)
		return prov_err(err, errsz, -EINVAL, "network must name a network workload");
	if (prov_ipv4_parse(ip, &s->ip) < 0)
		return prov_err(err, errsz, -EINVAL, "ip must be an IPv4 address a.b.c.d");
	s->udp = !strcmp(proto, "udp");
	s->public_port = (unsigned)pub;
	s->port = (unsigned)port;
	memcpy(s->network, net, strlen(net) + 1);
	return 0;
}

static int pp_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	struct pp_spec s;
	int rc = pp_parse(data, &s, err, errsz);
	if (rc == 0)
		memset(cap, 0, sizeof *cap);
	return rc;
}

static int pp_claims(const cJSON *data, struct prov_claim *out, size_t max, size_t *n)
{
	struct pp_spec s;
	*n = 0;
	int rc = pp_parse(data, &s, NULL, 0);
	if (rc < 0)
		return rc;
	if (max < 1)
		return ZE_TOOBIG;
	snprintf(out[0].key, sizeof out[0].key, "%s/%u", s.udp ? "udp" : "tcp", s.public_port);
	out[0].public_range = 1;
	*n = 1;
	return 0;
}

/* Runs nft with args, in namespace ns when not NULL. */
static int nft(const char *ns, char *err, size_t errsz, const char *const args[])
{
	char ip[PROV_PATH_MAX], nftp[PROV_PATH_MAX];
	if (prov_which("nft", nftp, sizeof nftp) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "nft is not installed (apt-get install nftables)");
	if (ns && prov_which("ip", ip, sizeof ip) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED, "ip(8) not installed");
	const char *argv[16];
	size_t n = 0;
	if (ns) {
		argv[n++] = ip;
		argv[n++] = "netns";
		argv[n++] = "exec";
		argv[n++] = ns;
		argv[n++] = "nft";
	} else {
		argv[n++] = nftp;
	}
	for (size_t i = 0; args[i]; i++) {
		if (n >= 15)
			abort(); /* a programming bug: callers pass fixed lists */
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	char out[256];
	int rc = prov_run(argv, out, sizeof out, NFT_TIMEOUT_MS);
	if (rc < 0)
		return prov_err(err, errsz, rc, "nft %s: %s", args[0], out[0] ? out : zerr_str(rc));
	return 0;
}

/* The table with its maps and base chains; the chains are flushed and
 * refilled in the same transaction, so running it again changes nothing. */
int prov_nft_table(struct prov_ctx *ctx, const char *ns, char *err, size_t errsz)
{
	static const char host_rules[] =
	    "add table ip " TABLE "\n"
	    "add map ip " TABLE
	    " port_tcp { type ipv4_addr . inet_service : ipv4_addr . inet_service ; }\n"
	    "add map ip " TABLE
	    " port_udp { type ipv4_addr . inet_service : ipv4_addr . inet_service ; }\n"
	    "add chain ip " TABLE " prerouting { type nat hook prerouting priority dstnat ; }\n"
	    "flush chain ip " TABLE " prerouting\n"
	    "add rule ip " TABLE " prerouting dnat ip to ip daddr . tcp dport map @port_tcp\n"
	    "add rule ip " TABLE " prerouting dnat ip to ip daddr . udp dport map @port_udp\n"
	    "add chain ip " TABLE " output { type nat hook output priority -100 ; }\n"
	    "flush chain ip " TABLE " output\n"
	    "add rule ip " TABLE " output dnat ip to ip daddr . tcp dport map @port_tcp\n"
	    "add rule ip " TABLE " output dnat ip to ip daddr . udp dport map @port_udp\n"
	    "add chain ip " TABLE " postrouting { type nat hook postrouting priority srcnat ; }\n"
	    "flush chain ip " TABLE " postrouting\n";
	static const char host_tail[] =
	    "add rule ip " TABLE " postrouting oifname \"zp*\" masquerade\n"
	    "add chain ip " TABLE " input_zp { type filter hook input priority filter ; }\n"
	    "flush chain ip " TABLE " input_zp\n"
	    "add rule ip " TABLE " input_zp iifname \"zp*\" ct state established,related accept\n"
	    "add rule ip " TABLE " input_zp iifname \"zp*\" drop\n"
	    "add chain ip " TABLE " forward_zp { type filter hook forward priority filter ; }\n"
	    "flush chain ip " TABLE " forward_zp\n"
	    "add rule ip " TABLE " forward_zp iifname \"zp*\" ct state established,related accept\n"
	    "add rule ip " TABLE " forward_zp iifname \"zp*\" drop\n";
	/* In a network's namespace: only the DNAT to the target. */
	static const char ns_rules[] =
	    "add table ip " TABLE "\n"
	    "add map ip " TABLE
	    " port_tcp { type ipv4_addr . inet_service : ipv4_addr . inet_service ; }\n"
	    "add map ip " TABLE
	    " port_udp { type ipv4_addr . inet_service : ipv4_addr . inet_service ; }\n"
	    "add chain ip " TABLE " prerouting { type nat hook prerouting priority dstnat ; }\n"
	    "flush chain ip " TABLE " prerouting\n"
	    "add rule ip " TABLE " prerouting dnat ip to ip daddr . tcp dport map @port_tcp\n"
	    "add rule ip " TABLE " prerouting dnat ip to ip daddr . udp dport map @port_udp\n";
	char path[PROV_PATH_MAX], text[2048];
	int rc;
	if ((rc = prov_fmt(path, sizeof path, "%s/pubports/%s.nft", ctx->run_dir,
	                   ns ? ns : "host")) < 0 ||
	    (rc = prov_fmt(text, sizeof text, "%s%s", ns ? ns_rules : host_rules,
	                   ns ? "" : host_tail)) < 0)
		return prov_err(err, errsz, rc, "run_dir is too long");
	if ((rc = prov_write_file(path, text, strlen(text), 0600)) < 0)
		return prov_err(err, errsz, rc, "cannot write %s: %s", path, zerr_str(rc));
	rc = nft(ns, err, errsz, (const char *const[]){"-f", path, NULL});
	unlink(path);
	return rc;
}

/* Sets key -> value in map (tcp|udp) of the table in ns (NULL: host):
 * replaces an entry with another value, leaves an equal one. */
int prov_nft_map_set(const char *ns, const char *map, const char *key, const char *value, char *err,
                     size_t errsz)
{
	char elem[96];
	snprintf(elem, sizeof elem, "{ %s : %s }", key, value);
	if (nft(ns, NULL, 0,
	        (const char *const[]){"add", "element", "ip", TABLE, map, elem, NULL}) == 0)
		return 0;
	char del[64];
	snprintf(del, sizeof del, "{ %s }", key);
	nft(ns, NULL, 0, (const char *const[]){"delete", "element", "ip", TABLE, map, del, NULL});
	return nft(ns, err, errsz,
	           (const char *const[]){"add", "element", "ip", TABLE, map, elem, NULL});
}

void prov_nft_map_del(const char *ns, const char *map, const char *key)
{
	char del[64];
	snprintf(del, sizeof del, "{ %s }", key);
	nft(ns, NULL, 0, (const char *const[]){"delete", "element", "ip", TABLE, map, del, NULL});
}

/* 1 when map holds key. */
int prov_nft_map_has(const char *ns, const char *map, const char *key)
{
	char elem[64];
	snprintf(elem, sizeof elem, "{ %s }", key);
	return nft(ns, NULL, 0,
	           (const char *const[]){"get", "element", "ip", TABLE, map, elem, NULL}) == 0;
}

/* The host's table goes when no public port is left in it, so a node
 * without public ports carries no rule of ours. */
static void drop_table_if_empty(void)
{
	char nftp[PROV_PATH_MAX], out[512];
	if (prov_which("nft", nftp, sizeof nftp) < 0)
		return;
	const char *maps[2] = {"port_tcp", "port_udp"};
	for (int i = 0; i < 2; i++) {
		const char *argv[] = {nftp, "list", "map", "ip", TABLE, maps[i], NULL};
		if (prov_run(argv, out, sizeof out, NFT_TIMEOUT_MS) < 0)
			return; /* no table, or cannot tell: leave it */
		if (strstr(out, "elements"))
			return;
	}
	nft(NULL, NULL, 0, (const char *const[]){"delete", "table", "ip", TABLE, NULL});
}

static int state_path(struct prov_ctx *ctx, const char *host, char *out, size_t outsz)
{
	return prov_fmt(out, outsz, "%s/pubports/%s.state", ctx->run_dir, host);
}

/* The workload's record: "<block> <network namespace> <map> <public key>
 * <target key>", what deprovision and pause need without the data. */
struct pp_state {
	unsigned block;
	char ns[PROV_HOST_MAX];
	char map[12];
	char pub_key[40];
	char ns_key[40];
};

static int state_load(struct prov_ctx *ctx, const char *host, struct pp_state *st)
{
	char p[PROV_PATH_MAX], buf[256];
	int rc = state_path(ctx, host, p, sizeof p);
	if (rc < 0 || (rc = prov_read_file(p, buf, sizeof buf, NULL)) < 0)
		return rc;
	char ns[PROV_HOST_MAX], map[12], a[40], b[40], c[40], d[40];
	unsigned block;
	/* Keys are "addr . port": three tokens each. */
	if (sscanf(buf, "%u %63s %11s %39s . %39s %39s . %39s", &block, ns, map, a, b, c, d) != 7 ||
	    block >= XFER_BLOCKS || (strcmp(map, "port_tcp") && strcmp(map, "port_udp")))
		return ZE_MALFORMED;
	st->block = block;
	memcpy(st->ns, ns, sizeof st->ns);
	memcpy(st->map, map, sizeof st->map);
	snprintf(st->pub_key, sizeof st->pub_key, "%.18s . %.6s", a, b);
	snprintf(st->ns_key, sizeof st->ns_key, "%.18s . %.6s", c, d);
	return 0;
}

/* A /30 block no other public_port workload on this node has: the hash of
 * the workload's host name, then the next free ones. */
int prov_uplink_block(struct prov_ctx *ctx, const char *host, unsigned *out)
{
	uint32_t h = 2166136261u;
	for (const char *p = host; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (unsigned i = 0; i < XFER_BLOCKS; i++) {
		unsigned b = (h + i) % XFER_BLOCKS;
		if (b == 0)
			continue; /* 100.127.0.0/30: keep the network address unused */
		/* Taken when an interface on the host has that address. */
		struct ifaddrs *ifa = NULL, *it;
		int used = 0;
		if (getifaddrs(&ifa) == 0) {
			for (it = ifa; it && !used; it = it->ifa_next)
				if (it->ifa_addr && it->ifa_addr->sa_family == AF_INET &&
				    ntohl(((struct sockaddr_in *)it->ifa_addr)->sin_addr.s_addr) ==
				        XFER_BASE + b * 4 + 1)
					used = 1;
			freeifaddrs(ifa);
		}
		if (!used) {
			*out = b;
			return 0;
		}
	}
	return ZE_CAPACITY;
}

/* Turns on forwarding for one interface of the host (IPv4 forwards what
 * arrives on an interface whose forwarding is on), rather than for all. */
static int forward_on(const char *ifname, char *err, size_t errsz)
{
	char p[128];
	snprintf(p, sizeof p, "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return prov_err(err, errsz, -errno, "cannot open %s: %s", p, strerror(errno));
	int rc = write(fd, "1", 1) == 1 ? 0 : -errno;
	close(fd);
	return rc < 0 ? prov_err(err, errsz, rc, "cannot enable forwarding on %s", ifname) : 0;
}

/* The host interface holding addr. */
static int if_of(uint32_t addr, char out[IF_NAMESIZE])
{
	struct ifaddrs *ifa = NULL, *it;
	int rc = -ENOENT;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (it = ifa; it; it = it->ifa_next)
		if (it->ifa_addr && it->ifa_addr->sa_family == AF_INET &&
		    ntohl(((struct sockaddr_in *)it->ifa_addr)->sin_addr.s_addr) == addr) {
			snprintf(out, IF_NAMESIZE, "%s", it->ifa_name);
			rc = 0;
			break;
		}
	freeifaddrs(ifa);
	return rc;
}

static cJSON *pp_result(struct prov_ctx *ctx, const struct pp_spec *s)
{
	char target[32], ip[16], addr[40];
	ip_str(s->ip, ip);
	snprintf(target, sizeof target, "%s:%u", ip, s->port);
	snprintf(addr, sizeof addr, "%s:%u", ctx->public_ip, s->public_port);
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddStringToObject(r, "protocol", s->udp ? "udp" : "tcp") ||
	    !cJSON_AddStringToObject(r, "public_ip", ctx->public_ip) ||
	    !cJSON_AddNumberToObject(r, "public_port", s->public_port) ||
	    !cJSON_AddStringToObject(r, "address", addr) ||
	    !cJSON_AddStringToObject(r, "target", target)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static void links_of(const char *host, char hveth[16], char nveth[16])
{
	prov_if_name("zp", host, 0, hveth);
	prov_if_name("zq", host, 0, nveth);
}

int prov_uplink_make(const char *ns, const char *hveth, const char *nveth, unsigned block,
                     char *err, size_t errsz)
{
	char h[16], n[16], haddr[24], naddr[24];
	ip_str(XFER_BASE + block * 4 + 1, h);
	ip_str(XFER_BASE + block * 4 + 2, n);
	snprintf(haddr, sizeof haddr, "%s/30", h);
	snprintf(naddr, sizeof naddr, "%s/30", n);
	if (prov_ip(NULL, 0, (const char *const[]){"link", "show", hveth, NULL}) == 0 &&
	    prov_ip(NULL, 0, (const char *const[]){"-n", ns, "link", "show", nveth, NULL}) == 0)
		return 0;
	prov_ip(NULL, 0, (const char *const[]){"link", "del", hveth, NULL});
	int rc;
	if ((rc = prov_ip(err, errsz,
	                  (const char *const[]){"link", "add", hveth, "type", "veth", "peer",
	                                        "name", nveth, "netns", ns, NULL})) < 0 ||
	    (rc = prov_ip(err, errsz,
	                  (const char *const[]){"addr", "add", haddr, "dev", hveth, NULL})) < 0 ||
	    (rc = prov_ip(err, errsz, (const char *const[]){"link", "set", hveth, "up", NULL})) <
	        0 ||
	    (rc = prov_ip(
	         err, errsz,
	         (const char *const[]){"-n", ns, "addr", "add", naddr, "dev", nveth, NULL})) < 0 ||
	    (rc = prov_ip(err, errsz,
	                  (const char *const[]){"-n", ns, "link", "set", nveth, "up", NULL})) < 0) {
		prov_ip(NULL, 0, (const char *const[]){"link", "del", hveth, NULL});
		return rc;
	}
	return 0;
}

uint32_t prov_uplink_addr(unsigned block, int ns_end)
{
	return XFER_BASE + block * 4 + (ns_end ? 2 : 1);
}

static int pp_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                          size_t errsz)
{
	char host[PROV_HOST_MAX], sp[PROV_PATH_MAX], hveth[16], nveth[16];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 || (rc = state_path(ctx, host, sp, sizeof sp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	struct pp_state st;
	if (state_load(ctx, host, &st) == 0) {
		prov_nft_map_del(NULL, st.map, st.pub_key);
		if (prov_netns_exists(st.ns))
			prov_nft_map_del(st.ns, st.map, st.ns_key);
	}
	links_of(host, hveth, nveth);
	/* Deleting one end of a veth deletes the other. */
	prov_ip(NULL, 0, (const char *const[]){"link", "del", hveth, NULL});
	if (unlink(sp) < 0 && errno != ENOENT)
		return prov_err(err, errsz, -errno, "cannot remove %s: %s", sp, strerror(errno));
	drop_table_if_empty();
	return 0;
}

static int pp_provision(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
                        const struct prov_deployment_view *deps, cJSON **result, char *err,
                        size_t errsz)
{
	struct pp_spec s;
	int rc = pp_parse(data, &s, err, errsz);
	if (rc < 0)
		return rc;
	if (!ctx->public_ip)
		return prov_err(
		    err, errsz, ZE_UNSUPPORTED,
		    "this node has no public address (network.public_ip) for public ports");
	if (!ctx->feat.netns_tools)
		return prov_err(err, errsz, ZE_UNSUPPORTED, "public ports need root and ip(8)");
	if (s.public_port < ctx->port_min || s.public_port > ctx->port_max)
		return prov_err(err, errsz, -EINVAL,
		                "public_port %u is outside this node's range %u..%u", s.public_port,
		                ctx->port_min, ctx->port_max);
	char host[PROV_HOST_MAX], ns[PROV_HOST_MAX], sp[PROV_PATH_MAX], dir[PROV_PATH_MAX];
	uint32_t subnet, pub;
	unsigned prefix;
	if ((rc = prov_host_name(id, host)) < 0 ||
	    (rc = state_path(ctx, host, sp, sizeof sp)) < 0 ||
	    (rc = prov_fmt(dir, sizeof dir, "%s/pubports", ctx->run_dir)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (prov_network_subnet(ctx, id->contract_id, s.network, ns, &subnet, &prefix) < 0)
		return prov_err(err, errsz, -ENOENT, "network %s is not provisioned", s.network);
	uint32_t m = prefix ? 0xffffffffu << (32 - prefix) : 0;
	if ((s.ip & m) != subnet)
		return prov_err(err, errsz, -EINVAL, "ip is not an address of network %s",
		                s.network);
	if (prov_ipv4_parse(ctx->public_ip, &pub) < 0)
		return prov_err(err, errsz, ZE_CONFIG, "network.public_ip is not an IPv4 address");
	char pubif[IF_NAMESIZE];
	if (if_of(pub, pubif) < 0)
		return prov_err(err, errsz, ZE_CONFIG,
		                "no interface of this host has network.public_ip %s",
		                ctx->public_ip);

	char hveth[16], nveth[16], t[16], pubs[16], ips[16];
	char pub_key[40], ns_key[40], target[40], text[256];
	const char *map = s.udp ? "port_udp" : "port_tcp";
	links_of(host, hveth, nveth);
	struct pp_state old;
	unsigned block;
	/* Again (restart) with the link in place: keep its addresses. */
	if (state_load(ctx, host, &old) == 0 &&
	    prov_ip(NULL, 0, (const char *const[]){"link", "show", hveth, NULL}) == 0)
		block = old.block;
	else if ((rc = prov_uplink_block(ctx, host, &block)) < 0)
		return prov_err(err, errsz, rc, "no free transfer network in 100.127.0.0/16");
	ip_str(prov_uplink_addr(block, 1), t);
	ip_str(pub, pubs);
	ip_str(s.ip, ips);
	snprintf(pub_key, sizeof pub_key, "%s . %u", pubs, s.public_port);
	snprintf(ns_key, sizeof ns_key, "%s . %u", t, s.public_port);
	snprintf(target, sizeof target, "%s . %u", ips, s.port);
	snprintf(text, sizeof text, "%u %s %s %s %s\n", block, ns, map, pub_key, ns_key);
	if ((rc = prov_mkdirs(dir, 0700)) < 0 ||
	    (rc = prov_write_file(sp, text, strlen(text), 0600)) < 0)
		return prov_err(err, errsz, rc, "cannot record public port: %s", zerr_str(rc));

	if ((rc = prov_uplink_make(ns, hveth, nveth, block, err, errsz)) < 0)
		goto fail;
	if ((rc = forward_on(hveth, err, errsz)) < 0 || (rc = forward_on(pubif, err, errsz)) < 0 ||
	    (rc = prov_ip(err, errsz,
	                  (const char *const[]){"netns", "exec", ns, "sysctl", "-q", "-w",
	                                        "net.ipv4.ip_forward=1", NULL})) < 0 ||
	    (rc = prov_nft_table(ctx, NULL, err, errsz)) < 0 ||
	    (rc = prov_nft_table(ctx, ns, err, errsz)) < 0 ||
	    (rc = prov_nft_map_set(ns, map, ns_key, target, err, errsz)) < 0)
		goto fail;
	if ((rc = prov_nft_map_set(NULL, map, pub_key, ns_key, err, errsz)) < 0)
		goto fail;
	if (!(*result = pp_result(ctx, &s))) {
		rc = prov_err(err, errsz, -ENOMEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
	pp_deprovision(ctx, id, NULL, 0);
	return rc;
}

static int pp_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id, enum prov_health *h,
                      char *err, size_t errsz)
{
	char host[PROV_HOST_MAX], sp[PROV_PATH_MAX], hveth[16], nveth[16];
	int rc;
	if ((rc = prov_host_name(id, host)) < 0 || (rc = state_path(ctx, host, sp, sizeof sp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	links_of(host, hveth, nveth);
	struct pp_state st;
	int have_state = state_load(ctx, host, &st) == 0;
	int link = prov_ip(NULL, 0, (const char *const[]){"link", "show", hveth, NULL}) == 0;
	if (!have_state && !link && access(sp, F_OK) != 0)
		*h = PROV_ABSENT;
	else if (!have_state || !link || !prov_netns_exists(st.ns) ||
	         !prov_nft_map_has(st.ns, st.map, st.ns_key))
		*h = PROV_DEGRADED;
	else
		*h = prov_nft_map_has(NULL, st.map, st.pub_key) ? PROV_OK : PROV_PAUSED;
	return 0;
}

static int pp_freeze(struct prov_ctx *ctx, const struct prov_workload_id *id, int on, char *err,
                     size_t errsz)
{
	char host[PROV_HOST_MAX];
	int rc = prov_host_name(id, host);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	struct pp_state st;
	if (state_load(ctx, host, &st) < 0)
		return prov_err(err, errsz, -ENOENT, "public port %s is not provisioned", id->name);
	if (!on) {
		prov_nft_map_del(NULL, st.map, st.pub_key);
		return 0;
	}
	if ((rc = prov_nft_table(ctx, NULL, err, errsz)) < 0)
		return rc;
	return prov_nft_map_set(NULL, st.map, st.pub_key, st.ns_key, err, errsz);
}

static int pp_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                    size_t errsz)
{
	return pp_freeze(ctx, id, 0, err, errsz);
}

static int pp_resume(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                     size_t errsz)
{
	return pp_freeze(ctx, id, 1, err, errsz);
}

static int pp_usage(struct prov_ctx *ctx, const struct prov_workload_id *id, struct prov_usage *u,
                    char *err, size_t errsz)
{
	char host[PROV_HOST_MAX], hveth[16], nveth[16];
	int rc = prov_host_name(id, host);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	links_of(host, hveth, nveth);
	memset(u, 0, sizeof *u);
	/* The host end: what it sends goes into the deployment. */
	char p[PROV_PATH_MAX], buf[32];
	uint64_t v[2];
	const char *which[2] = {"tx_bytes", "rx_bytes"};
	for (int i = 0; i < 2; i++) {
		if ((rc = prov_fmt(p, sizeof p, "/sys/class/net/%s/statistics/%s", hveth,
		                   which[i])) < 0 ||
		    (rc = prov_read_file(p, buf, sizeof buf, NULL)) < 0)
			return prov_err(err, errsz, rc == -ENOENT ? -ENOENT : rc,
			                "public port %s is not provisioned", id->name);
		v[i] = strtoull(buf, NULL, 10);
	}
	u->net_rx_bytes = v[0];
	u->net_tx_bytes = v[1];
	return 0;
}

const struct prov_ops prov_pubport_ops = {
    .type = "public_port",
    .validate = pp_validate,
    .provision = pp_provision,
    .deprovision = pp_deprovision,
    .pause = pp_pause,
    .resume = pp_resume,
    .inspect = pp_inspect,
    .usage = pp_usage,
    .claims = pp_claims,
};
