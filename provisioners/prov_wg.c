/*
 * WireGuard access to a deployment's network.
 *
 * A network whose data holds a wireguard_private_key gets one WireGuard
 * interface (zw + hash of the network's host name). The interface is created
 * in the host's namespace, configured there, then moved into the network's
 * namespace: WireGuard keeps its UDP socket in the namespace where the
 * interface was created, so the node listens on its public side while the
 * decrypted packets appear inside the network namespace, where the only
 * other link is the bridge of the deployment's containers. A peer therefore
 * reaches its own deployment's subnet and nothing else: the host and other
 * twins' networks have no route from there.
 *
 * Two implementations: the kernel's ("ip link add type wireguard") and
 * wireguard-go over /dev/net/tun, which the agent starts detached so that it
 * outlives an agent restart like a container does; it exits by itself when
 * its interface is deleted (with the namespace). Both are configured with
 * wg(8) run with argv; the private key reaches wg through a 0600 file that
 * is removed at once, never through argv or the log.
 */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/psched.h"

#define WG_TIMEOUT_MS 10000
#define WG_CONF_MAX 8192
#define UAPI_DIR "/var/run/wireguard"

static uint32_t mask_of(unsigned prefix)
{
	return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

static void ip_str(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static int key_parse(const char *b64, uint8_t out[32])
{
	size_t n = 0;
	if (strlen(b64) != 44 ||
	    sodium_base642bin(out, 32, b64, 44, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) !=
	        0 ||
	    n != 32)
		return -EINVAL;
	return 0;
}

static int cidr_field(const cJSON *v, uint32_t *a, unsigned *p)
{
	if (!cJSON_IsString(v) || strlen(v->valuestring) > 18 ||
	    prov_cidr_parse(v->valuestring, a, p) < 0 || (*a & ~mask_of(*p)))
		return -EINVAL;
	return 0;
}

static int overlaps(uint32_t a, unsigned ap, uint32_t b, unsigned bp)
{
	unsigned p = ap < bp ? ap : bp;
	return (a & mask_of(p)) == (b & mask_of(p));
}

static int endpoint_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PROV_WG_ENDPOINT_MAX || !strchr(s, ':'))
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || strchr(".:-[]", *p)))
			return 0;
	return 1;
}

static int peer_parse(const cJSON *o, size_t i, uint32_t subnet, unsigned sp,
                      struct prov_wg_peer *pe, char *err, size_t errsz)
{
	static const char *const keys[] = {"subnet", "wireguard_public_key", "allowed_ips",
	                                   "endpoint", NULL};
	int rc = prov_json_keys(o, keys, err, errsz);
	if (rc < 0)
		return rc;
	if (cidr_field(cJSON_GetObjectItemCaseSensitive(o, "subnet"), &pe->subnet,
	               &pe->subnet_prefix) < 0)
		return prov_err(err, errsz, -EINVAL, "peers[%zu].subnet must be a.b.c.d/n", i);
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "wireguard_public_key");
	uint8_t raw[32];
	if (!cJSON_IsString(k) || key_parse(k->valuestring, raw) < 0)
		return prov_err(err, errsz, -EINVAL,
		                "peers[%zu].wireguard_public_key must be a base64 key (wg pubkey)",
		                i);
	memcpy(pe->public_key, k->valuestring, 45);
	const cJSON *al = cJSON_GetObjectItemCaseSensitive(o, "allowed_ips");
	if (!cJSON_IsArray(al) || cJSON_GetArraySize(al) < 1 ||
	    cJSON_GetArraySize(al) > PROV_WG_ALLOWED_MAX)
		return prov_err(err, errsz, -EINVAL,
		                "peers[%zu].allowed_ips must list 1..%d networks a.b.c.d/n", i,
		                PROV_WG_ALLOWED_MAX);
	pe->n_allowed = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, al)
	{
		size_t j = pe->n_allowed;
		if (cidr_field(it, &pe->allowed[j], &pe->allowed_prefix[j]) < 0)
			return prov_err(err, errsz, -EINVAL,
			                "peers[%zu].allowed_ips[%zu] must be a.b.c.d/n", i, j);
		/* A route for the network's own subnet through the tunnel would
		 * take the containers' traffic away from the bridge. */
		if (overlaps(pe->allowed[j], pe->allowed_prefix[j], subnet, sp))
			return prov_err(
			    err, errsz, -EINVAL,
			    "peers[%zu].allowed_ips[%zu] overlaps this network's subnet", i, j);
		pe->n_allowed++;
	}
	pe->endpoint[0] = '\0';
	const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "endpoint");
	if (ep && !cJSON_IsNull(ep) && !(cJSON_IsString(ep) && !ep->valuestring[0])) {
		if (!cJSON_IsString(ep) || !endpoint_ok(ep->valuestring))
			return prov_err(err, errsz, -EINVAL,
			                "peers[%zu].endpoint must be HOST:PORT or empty", i);
		memcpy(pe->endpoint, ep->valuestring, strlen(ep->valuestring) + 1);
	}
	return 0;
}

int prov_wg_parse(const cJSON *data, uint32_t subnet, unsigned subnet_prefix,
                  struct prov_wg_spec *s, char *err, size_t errsz)
{
	memset(s, 0, sizeof *s);
	uint64_t port;
	int rc;
	if (cJSON_GetObjectItemCaseSensitive(data, "wireguard_listen_port") &&
	    (rc = prov_json_u64(data, "wireguard_listen_port", 0, 65535, &port, err, errsz)) < 0)
		return rc;
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(data, "wireguard_private_key");
	const cJSON *peers = cJSON_GetObjectItemCaseSensitive(data, "peers");
	int has_peers = cJSON_IsArray(peers) && cJSON_GetArraySize(peers) > 0;
	if (peers && !cJSON_IsNull(peers) && !cJSON_IsArray(peers))
		return prov_err(err, errsz, -EINVAL, "peers must be an array");
	if (!k || cJSON_IsNull(k) || (cJSON_IsString(k) && !k->valuestring[0])) {
		if (has_peers)
			return prov_err(err, errsz, -EINVAL,
			                "peers need a wireguard_private_key for this network");
		return 0; /* no WireGuard: a network only its containers use */
	}
	if (!cJSON_IsString(k) || key_parse(k->valuestring, s->private_key) < 0) {
		sodium_memzero(s->private_key, sizeof s->private_key);
		return prov_err(err, errsz, -EINVAL,
		                "wireguard_private_key must be a base64 x25519 key (wg genkey)");
	}
	rc = prov_json_u64(data, "wireguard_listen_port", 1, 65535, &port, err, errsz);
	if (rc < 0) {
		sodium_memzero(s->private_key, sizeof s->private_key);
		return rc;
	}
	s->enabled = 1;
	s->listen_port = (uint16_t)port;
	if (has_peers && cJSON_GetArraySize(peers) > PROV_WG_PEERS_MAX) {
		sodium_memzero(s->private_key, sizeof s->private_key);
		return prov_err(err, errsz, -EINVAL, "at most %d peers", PROV_WG_PEERS_MAX);
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, peers)
	{
		if ((rc = peer_parse(it, s->n_peers, subnet, subnet_prefix, &s->peers[s->n_peers],
		                     err, errsz)) < 0) {
			sodium_memzero(s->private_key, sizeof s->private_key);
			return rc;
		}
		s->n_peers++;
	}
	return 0;
}

void prov_wg_spec_wipe(struct prov_wg_spec *s)
{
	sodium_memzero(s->private_key, sizeof s->private_key);
}

void prov_wg_if_name(const char *host, char out[16])
{
	prov_if_name("zw", host, 0, out);
}

void prov_wg_address(uint32_t subnet, char out[16])
{
	/* As zos does: 100.64.<subnet's 2nd>.<3rd octet>, unique per node
	 * subnet within a network's ip_range. */
	snprintf(out, 16, "100.64.%u.%u", (subnet >> 16) & 255, (subnet >> 8) & 255);
}

/* The wg(8) configuration; contains the private key. */
static int conf_text(const struct prov_wg_spec *s, char *out, size_t outsz)
{
	char b64[45];
	sodium_bin2base64(b64, sizeof b64, s->private_key, 32, sodium_base64_VARIANT_ORIGINAL);
	size_t off = 0;
	int n = snprintf(out, outsz, "[Interface]\nPrivateKey = %s\nListenPort = %u\n", b64,
	                 s->listen_port);
	sodium_memzero(b64, sizeof b64);
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	off = (size_t)n;
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct prov_wg_peer *p = &s->peers[i];
		n = snprintf(out + off, outsz - off,
		             "\n[Peer]\nPublicKey = %s\nAllowedIPs = ", p->public_key);
		if (n < 0 || (size_t)n >= outsz - off)
			return -ENAMETOOLONG;
		off += (size_t)n;
		for (size_t j = 0; j < p->n_allowed; j++) {
			char a[16];
			ip_str(p->allowed[j], a);
			n = snprintf(out + off, outsz - off, "%s%s/%u", j ? ", " : "", a,
			             p->allowed_prefix[j]);
			if (n < 0 || (size_t)n >= outsz - off)
				return -ENAMETOOLONG;
			off += (size_t)n;
		}
		n = snprintf(out + off, outsz - off, "\n%s%s%s",
		             p->endpoint[0] ? "Endpoint = " : "", p->endpoint,
		             p->endpoint[0] ? "\n" : "");
		if (n < 0 || (size_t)n >= outsz - off)
			return -ENAMETOOLONG;
		off += (size_t)n;
	}
	return 0;
}

int prov_wg_digest(const struct prov_wg_spec *s, char hex[65])
{
	char *text = malloc(WG_CONF_MAX);
	if (!text)
		return -ENOMEM;
	int rc = conf_text(s, text, WG_CONF_MAX);
	if (rc == 0) {
		uint8_t h[crypto_hash_sha256_BYTES];
		crypto_hash_sha256(h, (const uint8_t *)text, strlen(text));
		sodium_bin2hex(hex, 65, h, sizeof h);
	}
	sodium_memzero(text, WG_CONF_MAX);
	free(text);
	return rc;
}

/* Starts wireguard-go for ifname and waits for it to detach: its first
 * process exits once the daemon it forked has made the interface. Output
 * goes to logpath, so no pipe of ours outlives this call. */
static int start_userspace(const char *ifname, const char *logpath, char *err, size_t errsz)
{
	char prog[PROV_PATH_MAX];
	if (prov_which("wireguard-go", prog, sizeof prog) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "wireguard-go is not installed (apt-get install wireguard-go)");
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return prov_err(err, errsz, -errno, "cannot open %s: %s", logpath, strerror(errno));
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
	                             "LOG_LEVEL=error", NULL};
	const char *argv[] = {prog, ifname, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	/* Its own session: a signal to the agent's process group (a terminal's
	 * ^C, systemd's stop) must not take the tunnels down. */
	short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID;
	/* A tunnel is a data plane, not the agent's work: its own policy. */
	(void)psched_spawnattr(&at, &flags);
	posix_spawnattr_setflags(&at, flags);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	pid_t pid;
	int rc = posix_spawn(&pid, prog, &fa, &at, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(fd);
	if (rc)
		return prov_err(err, errsz, -rc, "cannot start wireguard-go: %s", strerror(rc));
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return prov_err(err, errsz, -errno, "wireguard-go: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return prov_err(err, errsz, -EIO, "wireguard-go %s failed; see %s", ifname,
		                logpath);
	return 0;
}

static int run_wg(char *err, size_t errsz, const char *const args[])
{
	char wg[PROV_PATH_MAX];
	if (prov_which("wg", wg, sizeof wg) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "wg is not installed (apt-get install wireguard-tools)");
	const char *argv[8];
	size_t n = 0;
	argv[n++] = wg;
	for (size_t i = 0; args[i]; i++) {
		if (n >= 7)
			abort(); /* a programming bug: callers pass fixed lists */
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	char out[256];
	int rc = prov_run(argv, out, sizeof out, WG_TIMEOUT_MS);
	if (rc < 0)
		return prov_err(err, errsz, rc, "wg %s: %s", args[0], out[0] ? out : zerr_str(rc));
	return 0;
}

int prov_wg_probe(struct prov_ctx *ctx)
{
	char tmp[PROV_PATH_MAX], name[16];
	ctx->wg_impl = PROV_WG_NONE;
	if (!ctx->feat.netns_tools || prov_which("wg", tmp, sizeof tmp) < 0)
		return 0;
	if (ctx->wg_mode != PROV_WG_USERSPACE) {
		snprintf(name, sizeof name, "zwgprobe%u", (unsigned)getpid() % 1000000u);
		if (prov_ip(NULL, 0,
		            (const char *const[]){"link", "add", name, "type", "wireguard",
		                                  NULL}) == 0) {
			prov_ip(NULL, 0, (const char *const[]){"link", "del", name, NULL});
			ctx->wg_impl = PROV_WG_KERNEL;
			return 0;
		}
		if (ctx->wg_mode == PROV_WG_KERNEL)
			return 0;
	}
	if (prov_which("wireguard-go", tmp, sizeof tmp) == 0 &&
	    access("/dev/net/tun", R_OK | W_OK) == 0)
		ctx->wg_impl = PROV_WG_USERSPACE;
	return 0;
}

const char *prov_wg_impl_name(const struct prov_ctx *ctx)
{
	return ctx->wg_impl == PROV_WG_KERNEL      ? "kernel"
	       : ctx->wg_impl == PROV_WG_USERSPACE ? "userspace"
	                                           : "none";
}

int prov_wg_exists(const char *ns, const char *ifname)
{
	return prov_ip(NULL, 0, (const char *const[]){"-n", ns, "link", "show", ifname, NULL}) == 0;
}

int prov_wg_is_up(const char *ns, const char *ifname)
{
	char ip[PROV_PATH_MAX], out[512];
	if (prov_which("ip", ip, sizeof ip) < 0)
		return ZE_UNSUPPORTED;
	const char *argv[] = {ip, "-o", "-n", ns, "link", "show", ifname, NULL};
	int rc = prov_run(argv, out, sizeof out, WG_TIMEOUT_MS);
	if (rc < 0)
		return -ENOENT;
	/* "7: zw...: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu ...": the flags. */
	char *lt = strchr(out, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (!gt)
		return ZE_MALFORMED;
	*gt = '\0';
	return strstr(lt, "<UP") || strstr(lt, ",UP") ? 1 : 0;
}

int prov_wg_set_up(const char *ns, const char *ifname, const char *const *routes, int up, char *err,
                   size_t errsz)
{
	int rc = prov_ip(
	    err, errsz,
	    (const char *const[]){"-n", ns, "link", "set", ifname, up ? "up" : "down", NULL});
	if (rc < 0 || !up)
		return rc;
	/* The kernel drops a link's routes when it goes down: add them again. */
	for (size_t i = 0; routes[i]; i++)
		if ((rc = prov_ip(err, errsz,
		                  (const char *const[]){"-n", ns, "route", "replace", routes[i],
		                                        "dev", ifname, NULL})) < 0)
			return rc;
	return 0;
}

void prov_wg_remove(const char *ns, const char *ifname)
{
	/* Deleting the link ends wireguard-go too. The interface is in the
	 * network's namespace once set up, in the host's if a provision broke
	 * off half way. */
	if (prov_netns_exists(ns))
		prov_ip(NULL, 0, (const char *const[]){"-n", ns, "link", "del", ifname, NULL});
	prov_ip(NULL, 0, (const char *const[]){"link", "del", ifname, NULL});
	char sock[PROV_PATH_MAX];
	if (prov_fmt(sock, sizeof sock, "%s/%s.sock", UAPI_DIR, ifname) == 0)
		unlink(sock); /* left behind when wireguard-go was killed */
}

static int up_with_routes(const char *ns, const char *ifname, const struct prov_wg_spec *s,
                          char *err, size_t errsz)
{
	char(*txt)[24] = calloc(PROV_WG_PEERS_MAX * PROV_WG_ALLOWED_MAX, 24);
	const char **routes = calloc(PROV_WG_PEERS_MAX * PROV_WG_ALLOWED_MAX + 1, sizeof *routes);
	int rc = -ENOMEM;
	if (txt && routes) {
		size_t n = 0;
		for (size_t i = 0; i < s->n_peers; i++)
			for (size_t j = 0; j < s->peers[i].n_allowed; j++) {
				char a[16];
				ip_str(s->peers[i].allowed[j], a);
				snprintf(txt[n], 24, "%s/%u", a, s->peers[i].allowed_prefix[j]);
				routes[n] = txt[n];
				n++;
			}
		routes[n] = NULL;
		rc = prov_wg_set_up(ns, ifname, routes, 1, err, errsz);
	} else {
		prov_err(err, errsz, rc, "out of memory");
	}
	free(txt);
	free(routes);
	return rc;
}

int prov_wg_up(struct prov_ctx *ctx, const char *ns, uint32_t subnet, const struct prov_wg_spec *s,
               char *err, size_t errsz)
{
	if (ctx->wg_impl == PROV_WG_NONE)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "this node has no usable WireGuard (network.wireguard = %s; needs "
		                "the kernel module or wireguard-go, and wg)",
		                ctx->wg_mode == PROV_WG_KERNEL      ? "kernel"
		                : ctx->wg_mode == PROV_WG_USERSPACE ? "userspace"
		                                                    : "auto");
	char ifname[16], conf[PROV_PATH_MAX], logp[PROV_PATH_MAX], addr[24], a[16];
	prov_wg_if_name(ns, ifname);
	if (prov_fmt(conf, sizeof conf, "%s/networks/%s.wgconf", ctx->run_dir, ns) < 0 ||
	    prov_fmt(logp, sizeof logp, "%s/networks/%s.wg.log", ctx->run_dir, ns) < 0)
		return prov_err(err, errsz, -ENAMETOOLONG, "run_dir is too long");
	prov_wg_address(subnet, a);
	snprintf(addr, sizeof addr, "%s/16", a);
	prov_wg_remove(ns, ifname);

	int rc;
	if (ctx->wg_impl == PROV_WG_KERNEL)
		rc = prov_ip(
		    err, errsz,
		    (const char *const[]){"link", "add", ifname, "type", "wireguard", NULL});
	else
		rc = start_userspace(ifname, logp, err, errsz);
	if (rc < 0)
		return rc;

	char *text = malloc(WG_CONF_MAX);
	if (!text) {
		rc = prov_err(err, errsz, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = conf_text(s, text, WG_CONF_MAX);
	if (rc == 0)
		rc = prov_write_file(conf, text, strlen(text), 0600);
	sodium_memzero(text, WG_CONF_MAX);
	free(text);
	if (rc < 0) {
		prov_err(err, errsz, rc, "cannot write %s: %s", conf, zerr_str(rc));
		goto fail;
	}
	rc = run_wg(err, errsz, (const char *const[]){"setconf", ifname, conf, NULL});
	unlink(conf);
	if (rc < 0)
		goto fail;
	if ((rc = prov_ip(err, errsz,
	                  (const char *const[]){"link", "set", ifname, "netns", ns, NULL})) < 0 ||
	    (rc = prov_ip(
	         err, errsz,
	         (const char *const[]){"-n", ns, "addr", "add", addr, "dev", ifname, NULL})) < 0 ||
	    (rc = prov_ip(err, errsz,
	                  (const char *const[]){"netns", "exec", ns, "sysctl", "-q", "-w",
	                                        "net.ipv4.ip_forward=1", NULL})) < 0 ||
	    (rc = up_with_routes(ns, ifname, s, err, errsz)) < 0)
		goto fail;
	return 0;
fail:
	prov_wg_remove(ns, ifname);
	return rc;
}

cJSON *prov_wg_result(const struct prov_ctx *ctx, const char *ns, uint32_t subnet,
                      const struct prov_wg_spec *s)
{
	uint8_t pub[32];
	char b64[45], ifname[16], a[16], ep[64];
	crypto_scalarmult_base(pub, s->private_key);
	sodium_bin2base64(b64, sizeof b64, pub, 32, sodium_base64_VARIANT_ORIGINAL);
	prov_wg_if_name(ns, ifname);
	prov_wg_address(subnet, a);
	cJSON *w = cJSON_CreateObject();
	if (!w || !cJSON_AddStringToObject(w, "interface", ifname) ||
	    !cJSON_AddStringToObject(w, "public_key", b64) ||
	    !cJSON_AddNumberToObject(w, "listen_port", s->listen_port) ||
	    !cJSON_AddStringToObject(w, "ip", a) ||
	    !cJSON_AddStringToObject(w, "implementation", prov_wg_impl_name(ctx))) {
		cJSON_Delete(w);
		return NULL;
	}
	if (ctx->public_ip && *ctx->public_ip) {
		snprintf(ep, sizeof ep, "%s:%u", ctx->public_ip, s->listen_port);
		if (!cJSON_AddStringToObject(w, "endpoint", ep)) {
			cJSON_Delete(w);
			return NULL;
		}
	}
	return w;
}
