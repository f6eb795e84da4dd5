/*
 * WireGuard access to a network, with real packets: a "laptop" namespace
 * with its own WireGuard peer (wireguard-go and wg run inside it) joins the
 * node over a veth pair (the "internet") and fetches a page from busybox
 * httpd in a "container" namespace attached to the deployment's bridge.
 * Then: another twin's network and the host stay unreachable through the
 * tunnel, pause cuts the access and resume restores it, a second provision
 * (an agent restart) and a killed wireguard-go neither double nor lose the
 * tunnel, and deprovision leaves no interface, process, socket or port.
 *
 * Every host object has the test's pid in its name, so concurrent runs do
 * not collide. Needs root, namespaces, ip(8), wg, busybox and a WireGuard
 * (kernel or wireguard-go); otherwise it says why and skips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tests/provisioners/prov_test.h"

static struct fixture F;
static const struct prov_ops *N;
static int ready;
static char why_not[160];

/* Host objects of this run. */
static char lap[32], srv[32], oth[32]; /* namespaces */
static char veth_h[16], veth_l[16], sveth[16], overh[16], lwg[16];
static char host_ip[16], lap_ip[16], hidden_ip[16];
static char webroot[256], page[64];
static pid_t httpd_pid = -1, httpd2_pid = -1, host_httpd_pid = -1, web_pid = -1, hweb_pid = -1;
static char ppns[32], gcns[32];
static pid_t gweb_pid = -1;
static unsigned port;
static int octet; /* the deployment's 10.<octet>.0.0/16 */

#define WAIT_MS 8000

/* Runs a system program (found in the system directories) with argv. */
static int run_out(char *out, size_t outsz, const char *prog, ...)
{
	char path[PROV_PATH_MAX];
	if (prov_which(prog, path, sizeof path) < 0)
		return -ENOENT;
	const char *argv[32];
	size_t n = 0;
	argv[n++] = path;
	va_list ap;
	va_start(ap, prog);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	char tmp[512];
	return prov_run(argv, out ? out : tmp, out ? outsz : sizeof tmp, 15000);
}
#define run(...) run_out(NULL, 0, __VA_ARGS__, (const char *)NULL)

/* Runs argv[0] with stdio on /dev/null: a leftover server must not hold a
 * pipe of whoever runs the test. Its pid, or -1. */
static pid_t spawn_quiet(const char *const argv[], char *const envp[])
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	return rc ? -1 : pid;
}

/* Starts busybox httpd in namespace ns on addr:8080, serving webroot. */
static pid_t start_httpd(const char *ns, const char *addr)
{
	char ip[PROV_PATH_MAX], bind[40];
	if (prov_which("ip", ip, sizeof ip) < 0)
		return -1;
	snprintf(bind, sizeof bind, "%s:8080", addr);
	const char *argv[] = {ip,   "netns", "exec", ns,   "busybox", "httpd",
	                      "-f", "-p",    bind,   "-h", webroot,   NULL};
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	return spawn_quiet(argv, envp);
}

static pid_t start_host_httpd(const char *addr)
{
	char bb[PROV_PATH_MAX], bind[40];
	if (prov_which("busybox", bb, sizeof bb) < 0)
		return -1;
	snprintf(bind, sizeof bind, "%s:8080", addr);
	const char *argv[] = {bb, "httpd", "-f", "-p", bind, "-h", webroot, NULL};
	return spawn_quiet(argv, NULL);
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = -1;
}

/* Fetches http://ip:8080/page from the laptop; 1 when the page came back. */
static int laptop_fetch(const char *ip, int timeout_s)
{
	char url[96], t[8], out[512] = "";
	snprintf(url, sizeof url, "http://%s:8080/%s", ip, page);
	snprintf(t, sizeof t, "%d", timeout_s);
	/* curl, not busybox wget: Debian's busybox 1.35 wget crashes with -T. */
	int rc = run_out(out, sizeof out, "ip", "netns", "exec", lap, "curl", "-sS", "-m", t, url,
	                 (const char *)NULL);
	return rc == 0 && strstr(out, "zos-wireguard-page") != NULL;
}

static char node_if[16], node_ns[PROV_HOST_MAX];

/* What both ends of the tunnel say, when a fetch that should work failed. */
static void diag(void)
{
	char out[2048];
	out[0] = '\0';
	run_out(out, sizeof out, "ip", "netns", "exec", lap, "wg", "show", (const char *)NULL);
	fprintf(stderr, "laptop wg: %s\n", out);
	out[0] = '\0';
	run_out(out, sizeof out, "wg", "show", node_if, (const char *)NULL);
	fprintf(stderr, "node wg: %s\n", out);
	out[0] = '\0';
	run_out(out, sizeof out, "ip", "-n", node_ns, "-o", "addr", (const char *)NULL);
	fprintf(stderr, "node addrs: %s\n", out);
	out[0] = '\0';
	run_out(out, sizeof out, "ip", "-n", node_ns, "route", (const char *)NULL);
	fprintf(stderr, "node routes: %s\n", out);
}

/* Retries for up to ms: the first packets wait for the handshake. */
static int laptop_fetch_within(const char *ip, long ms)
{
	for (long t = 0; t < ms; t += 500) {
		if (laptop_fetch(ip, 2))
			return 1;
		sleep_ms(500);
	}
	diag();
	if (getenv("ZOS_TEST_HOLD")) /* debugging: look at the namespaces */
		sleep_ms(atol(getenv("ZOS_TEST_HOLD")) * 1000);
	return 0;
}

static void keypair(char priv[45], char pub[45])
{
	uint8_t sk[32], pk[32];
	randombytes_buf(sk, sizeof sk);
	sk[0] &= 248;
	sk[31] = (sk[31] & 127) | 64;
	crypto_scalarmult_base(pk, sk);
	sodium_bin2base64(priv, 45, sk, 32, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(pub, 45, pk, 32, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(sk, sizeof sk);
}

static unsigned free_udp_port(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return 0;
	close(fd);
	return ntohs(a.sin_port);
}

/* How many processes' command lines (NUL-separated, len bytes) match;
 * the last one's pid in *last (-1 when none). */
static int procs(int (*match)(char *cmdline, size_t len, const void *arg), const void *arg,
                 pid_t *last)
{
	DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *e;
	*last = -1;
	while (d && (e = readdir(d))) {
		char p[300], buf[1024];
		size_t len = 0;
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof p, "/proc/%s/cmdline", e->d_name);
		if (prov_read_file(p, buf, sizeof buf, &len) < 0 || len == 0)
			continue;
		if (match(buf, len, arg)) {
			n++;
			*last = (pid_t)strtol(e->d_name, NULL, 10);
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* The argv "wireguard-go IFNAME". */
static int is_wireguard_go(char *buf, size_t len, const void *ifname)
{
	const char *arg1 = buf + strlen(buf) + 1;
	return (size_t)(arg1 - buf) < len && strstr(buf, "wireguard-go") &&
	       strcmp(arg1, ifname) == 0;
}

static int wireguard_go(const char *ifname, pid_t *pid)
{
	return procs(is_wireguard_go, ifname, pid);
}

static int count_wireguard_go(const char *ifname)
{
	pid_t pid;
	return wireguard_go(ifname, &pid);
}

static pid_t wireguard_go_pid(const char *ifname)
{
	pid_t pid;
	wireguard_go(ifname, &pid);
	return pid;
}

static void cleanup_host(void)
{
	stop(&httpd_pid);
	stop(&httpd2_pid);
	stop(&host_httpd_pid);
	stop(&web_pid);
	stop(&hweb_pid);
	if (ppns[0])
		prov_netns_del(ppns);
	stop(&gweb_pid);
	if (gcns[0])
		prov_netns_del(gcns);
	/* The laptop's wireguard-go lives in the laptop's namespace and so
	 * keeps it alive: it has to be stopped by its pid. */
	pid_t wp = lwg[0] ? wireguard_go_pid(lwg) : -1;
	if (wp > 0)
		kill(wp, SIGTERM);
	if (lap[0])
		prov_netns_del(lap);
	if (srv[0])
		prov_netns_del(srv);
	if (oth[0])
		prov_netns_del(oth);
	if (veth_h[0])
		run("ip", "link", "del", veth_h);
}

static int setup(void **st)
{
	N = prov_lookup("network");
	if (!N || fixture_open(&F, 0) < 0 || sodium_init() < 0)
		return -1;
	char tmp[PROV_PATH_MAX];
	ready = 0;
	if (!F.feat.root || !F.feat.namespaces || !F.feat.netns_tools)
		snprintf(why_not, sizeof why_not, "needs root, namespaces and ip(8)");
	else if (F.feat.wireguard != PROV_WG_KERNEL && F.feat.wireguard != PROV_WG_USERSPACE)
		snprintf(why_not, sizeof why_not,
		         "no WireGuard here (kernel module or wireguard-go and wg)");
	else if (prov_which("busybox", tmp, sizeof tmp) < 0 ||
	         prov_which("wireguard-go", tmp, sizeof tmp) < 0 ||
	         prov_which("curl", tmp, sizeof tmp) < 0)
		snprintf(why_not, sizeof why_not,
		         "needs busybox, curl and wireguard-go for the laptop");
	else
		ready = 1;
	int p = (int)getpid();
	octet = 100 + p % 100;
	snprintf(lap, sizeof lap, "zacclap%d", p);
	snprintf(srv, sizeof srv, "zaccsrv%d", p);
	snprintf(oth, sizeof oth, "zaccoth%d", p);
	snprintf(veth_h, sizeof veth_h, "zacch%d", p % 10000000);
	snprintf(veth_l, sizeof veth_l, "zaccl%d", p % 10000000);
	snprintf(sveth, sizeof sveth, "zaccs%d", p % 10000000);
	snprintf(overh, sizeof overh, "zacco%d", p % 10000000);
	snprintf(lwg, sizeof lwg, "zaccw%d", p % 10000000);
	/* 198.18.0.0/15 is for benchmarks (RFC 2544): nothing real uses it. */
	snprintf(host_ip, sizeof host_ip, "198.18.%d.%d", (p >> 6) & 255, (p & 63) * 4 + 1);
	snprintf(lap_ip, sizeof lap_ip, "198.18.%d.%d", (p >> 6) & 255, (p & 63) * 4 + 2);
	snprintf(hidden_ip, sizeof hidden_ip, "198.19.%d.%d", (p >> 6) & 255, (p & 63) * 4 + 1);
	snprintf(webroot, sizeof webroot, "%s/www", F.root);
	snprintf(page, sizeof page, "page%d.txt", p);
	if (!ready)
		return 0;
	mkdir(webroot, 0755);
	char file[400];
	snprintf(file, sizeof file, "%s/%s", webroot, page);
	const char *text = "zos-wireguard-page\n";
	return prov_write_file(file, text, strlen(text), 0644);
}

static int teardown(void **st)
{
	cleanup_host();
	fixture_close(&F);
	return 0;
}

#define NEED_WG()                                                                                  \
	do {                                                                                       \
		if (!ready) {                                                                      \
			printf("skipped: %s\n", why_not);                                          \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* A "container": namespace ns with eth0 = ip on network net's bridge. */
static void attach_container(const char *net, const char *ns, const char *hveth, const char *ip,
                             const char *gw)
{
	char cidr[24];
	snprintf(cidr, sizeof cidr, "%s/24", ip);
	assert_int_equal(run("ip", "netns", "add", ns), 0);
	assert_int_equal(run("ip", "-n", ns, "link", "set", "lo", "up"), 0);
	assert_int_equal(run("ip", "-n", net, "link", "add", hveth, "type", "veth", "peer", "name",
	                     "eth0", "netns", ns),
	                 0);
	assert_int_equal(run("ip", "-n", net, "link", "set", hveth, "master", "br0", "up"), 0);
	assert_int_equal(run("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0"), 0);
	assert_int_equal(run("ip", "-n", ns, "link", "set", "eth0", "up"), 0);
	assert_int_equal(run("ip", "-n", ns, "route", "add", "default", "via", gw), 0);
}

/* The internet: a veth between the host and the laptop, and a host
 * address (hidden_ip) with an httpd that the tunnel must not reach. Made
 * once, for whichever test comes first. */
static void internet_up(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	char hcidr[24], lcidr[24], hid32[24];
	snprintf(hcidr, sizeof hcidr, "%s/30", host_ip);
	snprintf(lcidr, sizeof lcidr, "%s/30", lap_ip);
	snprintf(hid32, sizeof hid32, "%s/32", hidden_ip);
	assert_int_equal(run("ip", "netns", "add", lap), 0);
	assert_int_equal(run("ip", "-n", lap, "link", "set", "lo", "up"), 0);
	assert_int_equal(
	    run("ip", "link", "add", veth_h, "type", "veth", "peer", "name", veth_l, "netns", lap),
	    0);
	assert_int_equal(run("ip", "addr", "add", hcidr, "dev", veth_h), 0);
	assert_int_equal(run("ip", "addr", "add", hid32, "dev", veth_h), 0);
	assert_int_equal(run("ip", "link", "set", veth_h, "up"), 0);
	assert_int_equal(run("ip", "-n", lap, "addr", "add", lcidr, "dev", veth_l), 0);
	assert_int_equal(run("ip", "-n", lap, "link", "set", veth_l, "up"), 0);
	assert_true((host_httpd_pid = start_host_httpd(hidden_ip)) > 0);
}

static void access_end_to_end(void **st)
{
	NEED_WG();
	char err[256] = "", host[PROV_HOST_MAX], nodepriv[45], nodepub[45], lpriv[45], lpub[45];
	char ohost[PROV_HOST_MAX];
	keypair(nodepriv, nodepub);
	keypair(lpriv, lpub);
	port = free_udp_port();
	assert_true(port > 0);

	/* The deployment's network, with the laptop as its one peer. */
	char text[1024], range[24], subnet[24], lsub[24], lwgip[24], ctip[24], gw[24];
	snprintf(range, sizeof range, "10.%d.0.0/16", octet);
	snprintf(subnet, sizeof subnet, "10.%d.1.0/24", octet);
	snprintf(lsub, sizeof lsub, "10.%d.2.0/24", octet);
	snprintf(lwgip, sizeof lwgip, "100.64.%d.2/32", octet);
	snprintf(ctip, sizeof ctip, "10.%d.1.2", octet);
	snprintf(gw, sizeof gw, "10.%d.1.1", octet);
	snprintf(text, sizeof text,
	         "{\"ip_range\": \"%s\", \"subnet\": \"%s\", \"wireguard_private_key\": \"%s\","
	         " \"wireguard_listen_port\": %u, \"peers\": [{\"subnet\": \"%s\","
	         " \"wireguard_public_key\": \"%s\", \"allowed_ips\": [\"%s\", \"%s\"]}]}",
	         range, subnet, nodepriv, port, lsub, lpub, lsub, lwgip);
	cJSON *d = json(text);
	struct prov_workload_id id = test_id(7, 40, "wgnet"), oid = test_id(8, 41, "other");
	prov_host_name(&id, host);
	prov_host_name(&oid, ohost);
	char ifname[16];
	prov_wg_if_name(host, ifname);
	memcpy(node_if, ifname, sizeof node_if);
	memcpy(node_ns, host, sizeof node_ns);

	/* Claims: the listen port, for the engine's admission. */
	struct prov_claim cl[4];
	size_t ncl = 0;
	assert_int_equal(N->claims(d, cl, 4, &ncl), 0);
	assert_int_equal(ncl, 1);
	char want[32];
	snprintf(want, sizeof want, "udp/%u", port);
	assert_string_equal(cl[0].key, want);
	assert_int_equal(prov_claim_host_free(want, err, sizeof err), 0);

	cJSON *res = NULL;
	track(N, &id);
	assert_int_equal(N->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	const cJSON *wg = cJSON_GetObjectItem(res, "wireguard");
	assert_non_null(wg);
	assert_string_equal(cJSON_GetObjectItem(wg, "public_key")->valuestring, nodepub);
	assert_int_equal(cJSON_GetObjectItem(wg, "listen_port")->valueint, (int)port);
	char *printed = cJSON_PrintUnformatted(res);
	assert_null(strstr(printed, nodepriv)); /* the key never comes back out */
	free(printed);
	cJSON_Delete(res);
	/* The port is now the node's: admission must see it taken. */
	assert_int_equal(prov_claim_host_free(want, err, sizeof err), ZE_STATE);
	assert_true(prov_wg_exists(host, ifname));
	if (F.feat.wireguard == PROV_WG_USERSPACE)
		assert_int_equal(count_wireguard_go(ifname), 1);

	/* Another twin's network with a server: must stay out of reach. */
	char orange[24], osub[24], oip[24], ogw[24];
	snprintf(orange, sizeof orange, "10.%d.0.0/16", octet + 1);
	snprintf(osub, sizeof osub, "10.%d.1.0/24", octet + 1);
	snprintf(oip, sizeof oip, "10.%d.1.2", octet + 1);
	snprintf(ogw, sizeof ogw, "10.%d.1.1", octet + 1);
	snprintf(text, sizeof text, "{\"ip_range\": \"%s\", \"subnet\": \"%s\"}", orange, osub);
	cJSON *od = json(text);
	track(N, &oid);
	assert_int_equal(N->provision(F.ctx, &oid, od, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	cJSON_Delete(od);

	/* Containers: an httpd on each network. */
	attach_container(host, srv, sveth, ctip, gw);
	attach_container(ohost, oth, overh, oip, ogw);
	assert_true((httpd_pid = start_httpd(srv, ctip)) > 0);
	assert_true((httpd2_pid = start_httpd(oth, oip)) > 0);

	internet_up();

	/* The laptop's WireGuard, as a user would set it up: its own key, the
	 * node as peer at host_ip:port, routes for the deployment's subnet
	 * (and, to test isolation, for the other network and the host). */
	char conf[PROV_PATH_MAX], ctext[1024], ep[40], laddr[24], oroute[24], hid32[24];
	snprintf(hid32, sizeof hid32, "%s/32", hidden_ip);
	snprintf(conf, sizeof conf, "%s/laptop.conf", F.root);
	snprintf(ep, sizeof ep, "%s:%u", host_ip, port);
	snprintf(oroute, sizeof oroute, "10.%d.0.0/16", octet + 1);
	snprintf(ctext, sizeof ctext,
	         "[Interface]\nPrivateKey = %s\n\n[Peer]\nPublicKey = %s\nEndpoint = %s\n"
	         "AllowedIPs = %s, 100.64.0.0/16, %s, %s\nPersistentKeepalive = 5\n",
	         lpriv, nodepub, ep, subnet, oroute, hid32);
	assert_int_equal(prov_write_file(conf, ctext, strlen(ctext), 0600), 0);
	assert_int_equal(run("ip", "netns", "exec", lap, "wireguard-go", lwg), 0);
	assert_int_equal(run("ip", "netns", "exec", lap, "wg", "setconf", lwg, conf), 0);
	snprintf(laddr, sizeof laddr, "10.%d.2.1/24", octet);
	assert_int_equal(run("ip", "-n", lap, "addr", "add", laddr, "dev", lwg), 0);
	assert_int_equal(run("ip", "-n", lap, "addr", "add", lwgip, "dev", lwg), 0);
	assert_int_equal(run("ip", "-n", lap, "link", "set", lwg, "up"), 0);
	assert_int_equal(run("ip", "-n", lap, "route", "add", subnet, "dev", lwg), 0);
	assert_int_equal(run("ip", "-n", lap, "route", "add", "100.64.0.0/16", "dev", lwg), 0);
	assert_int_equal(run("ip", "-n", lap, "route", "add", oroute, "dev", lwg), 0);
	assert_int_equal(run("ip", "-n", lap, "route", "add", hid32, "dev", lwg), 0);

	/* 1. The laptop reaches its deployment's container. */
	assert_true(laptop_fetch_within(ctip, WAIT_MS));
	/* 2. Not another twin's network, not the host, not the node's tunnel
	 *    address's neighbours beyond the deployment. */
	assert_false(laptop_fetch(oip, 2));
	assert_false(laptop_fetch(hidden_ip, 2));
	/* ... and the container cannot reach the host either. */
	char url[96];
	snprintf(url, sizeof url, "http://%s:8080/%s", host_ip, page);
	assert_int_not_equal(run("ip", "netns", "exec", srv, "curl", "-sS", "-m", "2", url), 0);

	/* 3. Pause cuts the access, resume restores it. */
	enum prov_health h;
	assert_int_equal(N->pause(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(N->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_PAUSED);
	assert_false(laptop_fetch(ctip, 2));
	assert_int_equal(N->resume(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(N->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	assert_true(laptop_fetch_within(ctip, WAIT_MS));

	/* 4. An agent restart: a new context, provision again. Same tunnel,
	 *    one wireguard-go, still working. */
	struct prov_ctx *old = F.ctx;
	struct prov_config cfg = {.storage_dir = F.storage,
	                          .image_dir = F.images,
	                          .run_dir = F.run,
	                          .cgroup_parent = F.cgparent};
	assert_int_equal(prov_ctx_new(&cfg, &F.ctx), 0);
	prov_ctx_free(old);
	assert_int_equal(N->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	assert_int_equal(N->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	if (F.feat.wireguard == PROV_WG_USERSPACE)
		assert_int_equal(count_wireguard_go(ifname), 1);
	assert_true(laptop_fetch_within(ctip, WAIT_MS));

	/* 5. wireguard-go killed: inspect says so, provision makes it again
	 *    without touching the bridge (the container keeps its link). */
	if (F.feat.wireguard == PROV_WG_USERSPACE) {
		pid_t wp = wireguard_go_pid(ifname);
		assert_true(wp > 0);
		kill(wp, SIGKILL);
		for (int i = 0; i < 50 && prov_wg_exists(host, ifname); i++)
			sleep_ms(100);
		assert_int_equal(N->inspect(F.ctx, &id, &h, err, sizeof err), 0);
		assert_int_equal(h, PROV_DEGRADED);
		assert_int_equal(N->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
		cJSON_Delete(res);
		assert_int_equal(count_wireguard_go(ifname), 1);
		assert_true(laptop_fetch_within(ctip, WAIT_MS));
	}

	/* 6. A changed WireGuard configuration is refused, not half applied. */
	cJSON *d2 = cJSON_Duplicate(d, 1);
	cJSON_ReplaceItemInObject(d2, "wireguard_listen_port", cJSON_CreateNumber(port + 1));
	assert_int_equal(N->provision(F.ctx, &id, d2, NULL, &res, err, sizeof err), ZE_STATE);
	cJSON_Delete(d2);

	/* 7. Deprovision: nothing left. */
	stop(&httpd_pid);
	assert_int_equal(N->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_false(prov_netns_exists(host));
	assert_int_not_equal(run("ip", "link", "show", ifname), 0);
	assert_int_equal(count_wireguard_go(ifname), 0);
	char sock[128];
	snprintf(sock, sizeof sock, "/var/run/wireguard/%s.sock", ifname);
	assert_int_not_equal(access(sock, F_OK), 0);
	assert_int_equal(prov_claim_host_free(want, err, sizeof err), 0);
	/* No file of the network is left in the run dir. */
	char ndir[300], entry[600];
	snprintf(ndir, sizeof ndir, "%s/networks", F.run);
	DIR *nd = opendir(ndir);
	struct dirent *de;
	while (nd && (de = readdir(nd))) {
		snprintf(entry, sizeof entry, "%s", de->d_name);
		if (strncmp(entry, host, strlen(host)) == 0)
			fail_msg("%s/%s is left", ndir, entry);
	}
	if (nd)
		closedir(nd);
	assert_int_equal(N->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	assert_false(laptop_fetch(ctip, 1));
	cJSON_Delete(d);
}

/* Fetches http://addr/page from the client (laptop) namespace. */
static int client_fetch(const char *addr, int timeout_s)
{
	char url[96], t[8], out[512] = "";
	snprintf(url, sizeof url, "http://%s/%s", addr, page);
	snprintf(t, sizeof t, "%d", timeout_s);
	int rc = run_out(out, sizeof out, "ip", "netns", "exec", lap, "curl", "-sS", "-m", t, url,
	                 (const char *)NULL);
	return rc == 0 && strstr(out, "zos-wireguard-page") != NULL;
}

/* Entries of the host's zos_access port_tcp map that mention key. */
static int host_entries(const char *key)
{
	char out[8192] = "";
	if (run_out(out, sizeof out, "nft", "list", "map", "ip", "zos_access", "port_tcp",
	            (const char *)NULL) < 0)
		return 0;
	int n = 0;
	for (const char *p = out; (p = strstr(p, key)); p += strlen(key))
		n++;
	return n;
}

static unsigned free_tcp_port_in(unsigned lo, unsigned hi)
{
	for (unsigned p = lo + (unsigned)getpid() % (hi - lo); p <= hi; p++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return p;
	}
	return 0;
}

static struct prov_ctx *ctx_with_public_ip(void)
{
	struct prov_config cfg = {.storage_dir = F.storage,
	                          .image_dir = F.images,
	                          .run_dir = F.run,
	                          .cgroup_parent = F.cgparent,
	                          .public_ip = host_ip,
	                          .public_port_min = 20000,
	                          .public_port_max = 29999};
	struct prov_ctx *c = NULL;
	assert_int_equal(prov_ctx_new(&cfg, &c), 0);
	return c;
}

/* A TCP port of the node's public address forwarded to a container: the
 * client reaches it, pause and resume, restarts leave one entry, nothing
 * is left after deprovision. */
static void public_port_end_to_end(void **st)
{
	NEED_WG();
	const struct prov_ops *P = prov_lookup("public_port");
	assert_non_null(P);
	internet_up();
	struct prov_ctx *old = F.ctx;
	F.ctx = ctx_with_public_ip();
	prov_ctx_free(old);

	char err[256] = "", text[512], net[PROV_HOST_MAX], ctip[24], gw[24], key[48], addr[48];
	int o = octet + 2;
	struct prov_workload_id nid = test_id(7, 50, "ppnet"), pid = test_id(7, 50, "web");
	prov_host_name(&nid, net);
	snprintf(text, sizeof text,
	         "{\"ip_range\": \"10.%d.0.0/16\", \"subnet\": \"10.%d.1.0/24\"}", o, o);
	cJSON *nd = json(text), *res = NULL;
	track(N, &nid);
	assert_int_equal(N->provision(F.ctx, &nid, nd, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	cJSON_Delete(nd);
	snprintf(ctip, sizeof ctip, "10.%d.1.2", o);
	snprintf(gw, sizeof gw, "10.%d.1.1", o);
	char ppveth[16];
	snprintf(ppns, sizeof ppns, "zaccpp%d", (int)getpid());
	snprintf(ppveth, sizeof ppveth, "zaccp%d", (int)getpid() % 10000000);
	attach_container(net, ppns, ppveth, ctip, gw);
	web_pid = start_httpd(ppns, ctip);
	assert_true(web_pid > 0);

	unsigned port = free_tcp_port_in(20000, 29999);
	assert_true(port > 0);
	snprintf(text, sizeof text,
	         "{\"protocol\": \"tcp\", \"public_port\": %u, \"network\": \"ppnet\", "
	         "\"ip\": \"%s\", \"port\": 8080}",
	         port, ctip);
	cJSON *d = json(text);
	struct prov_capacity cap;
	assert_int_equal(P->validate(d, &cap, err, sizeof err), 0);
	struct prov_claim cl[2];
	size_t ncl = 0;
	assert_int_equal(P->claims(d, cl, 2, &ncl), 0);
	assert_int_equal(ncl, 1);
	assert_int_equal(prov_claim_check(F.ctx, &cl[0], err, sizeof err), 0);
	struct prov_claim outside = {.key = "tcp/80", .public_range = 1};
	assert_int_equal(prov_claim_check(F.ctx, &outside, err, sizeof err), ZE_STATE);
	assert_non_null(strstr(err, "outside this node's range 20000..29999"));

	track(P, &pid);
	int rc = P->provision(F.ctx, &pid, d, NULL, &res, err, sizeof err);
	if (rc)
		print_message("provision: %s\n", err);
	assert_int_equal(rc, 0);
	snprintf(addr, sizeof addr, "%s:%u", host_ip, port);
	assert_string_equal(cJSON_GetObjectItem(res, "address")->valuestring, addr);
	cJSON_Delete(res);
	snprintf(key, sizeof key, "%s . %u", host_ip, port);
	assert_int_equal(host_entries(key), 1);
	/* The port is taken now: admission would refuse it. */
	assert_int_equal(prov_claim_check(F.ctx, &cl[0], err, sizeof err), 0 /* DNAT, no socket */);

	/* 1. The client reaches the container through the public port. */
	int ok = 0;
	for (int i = 0; i < 10 && !(ok = client_fetch(addr, 2)); i++)
		sleep_ms(300);
	assert_true(ok);
	/* ... and from the host itself (the name gateway connects so). */
	char lurl[160];
	snprintf(lurl, sizeof lurl, "http://%s/%s", addr, page);
	assert_int_equal(run("curl", "-sS", "-m", "3", "-o", "/dev/null", lurl), 0);
	/* 2. The container cannot open connections to the host's end. */
	char hveth[16], hostname[PROV_HOST_MAX], out[512] = "";
	prov_host_name(&pid, hostname);
	prov_if_name("zp", hostname, 0, hveth);
	assert_int_equal(run_out(out, sizeof out, "ip", "-o", "-4", "addr", "show", "dev", hveth,
	                         (const char *)NULL),
	                 0);
	char *in = strstr(out, "inet "), hip[20] = "";
	assert_non_null(in);
	sscanf(in + 5, "%19[0-9.]", hip);
	hweb_pid = start_host_httpd(hip);
	assert_true(hweb_pid > 0);
	sleep_ms(200);
	char hurl[128];
	snprintf(hurl, sizeof hurl, "http://%s:8080/%s", hip, page);
	assert_int_not_equal(run("ip", "netns", "exec", ppns, "curl", "-sS", "-m", "2", hurl), 0);
	stop(&hweb_pid);

	/* 3. Pause: unreachable; resume: back. */
	enum prov_health h;
	assert_int_equal(P->pause(F.ctx, &pid, err, sizeof err), 0);
	assert_int_equal(P->inspect(F.ctx, &pid, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_PAUSED);
	assert_false(client_fetch(addr, 2));
	assert_int_equal(P->resume(F.ctx, &pid, err, sizeof err), 0);
	assert_int_equal(P->inspect(F.ctx, &pid, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	assert_true(client_fetch(addr, 3));

	/* 4. Restarts (a new context, provision again, twice): one entry. */
	for (int i = 0; i < 2; i++) {
		old = F.ctx;
		F.ctx = ctx_with_public_ip();
		prov_ctx_free(old);
		assert_int_equal(P->provision(F.ctx, &pid, d, NULL, &res, err, sizeof err), 0);
		cJSON_Delete(res);
	}
	assert_int_equal(host_entries(key), 1);
	assert_true(client_fetch(addr, 3));

	/* 5. Deprovision: no entry, no link, no state; the port is free. */
	assert_int_equal(P->deprovision(F.ctx, &pid, err, sizeof err), 0);
	assert_int_equal(host_entries(key), 0);
	assert_int_not_equal(run("ip", "link", "show", hveth), 0);
	assert_int_equal(P->inspect(F.ctx, &pid, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	assert_false(client_fetch(addr, 1));
	assert_int_equal(P->deprovision(F.ctx, &pid, err, sizeof err), 0);
	stop(&web_pid);
	cJSON_Delete(d);
}

struct prog_needle {
	const char *prog, *needle;
};

static int mentions(char *buf, size_t len, const void *arg)
{
	const struct prog_needle *pn = arg;
	for (size_t i = 0; i + 1 < len; i++)
		if (!buf[i])
			buf[i] = ' ';
	return strstr(buf, pn->prog) && strstr(buf, pn->needle);
}

/* Processes whose command line mentions needle (haproxy with our config). */
static int count_procs(const char *prog, const char *needle)
{
	struct prog_needle pn = {prog, needle};
	pid_t last;
	return procs(mentions, &pn, &last);
}

/* Fetches url from the laptop with curl, TLS checked against ca, the name
 * resolved to the node's public address. */
static int gw_fetch(const char *ca, const char *resolve, const char *url)
{
	char out[512] = "";
	int rc = run_out(out, sizeof out, "ip", "netns", "exec", lap, "curl", "-sS", "-f", "-m",
	                 "3", "--cacert", ca, "--resolve", resolve, url, (const char *)NULL);
	return rc == 0 && strstr(out, "zos-wireguard-page") != NULL;
}

/* The name gateway: haproxy serves NAME.<domain> over TLS (verified against
 * the test's own CA) and plain HTTP, pause/resume, a restart keeps one
 * haproxy, deprovision stops it. */
static void gateway_end_to_end(void **st)
{
	NEED_WG();
	char tmp[PROV_PATH_MAX];
	if (prov_which("haproxy", tmp, sizeof tmp) < 0 ||
	    prov_which("openssl", tmp, sizeof tmp) < 0) {
		printf("skipped: needs haproxy and openssl\n");
		skip();
	}
	const struct prov_ops *G = prov_lookup("gateway-name-proxy");
	assert_non_null(G);
	internet_up();

	/* A CA and a wildcard certificate for *.<domain>, made here. */
	char domain[48], ca[300], cakey[300], key[300], csr[300], crt[300], ext[300], bundle[300];
	snprintf(domain, sizeof domain, "gw%d.test", (int)getpid());
	snprintf(ca, sizeof ca, "%s/ca.pem", F.root);
	snprintf(cakey, sizeof cakey, "%s/ca.key", F.root);
	snprintf(key, sizeof key, "%s/w.key", F.root);
	snprintf(csr, sizeof csr, "%s/w.csr", F.root);
	snprintf(crt, sizeof crt, "%s/w.crt", F.root);
	snprintf(ext, sizeof ext, "%s/w.ext", F.root);
	snprintf(bundle, sizeof bundle, "%s/w.pem", F.root);
	char san[96], cn[80];
	snprintf(san, sizeof san, "subjectAltName=DNS:*.%s\n", domain);
	snprintf(cn, sizeof cn, "/CN=*.%s", domain);
	assert_int_equal(prov_write_file(ext, san, strlen(san), 0600), 0);
	assert_int_equal(run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
	                     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", cakey, "-out", ca,
	                     "-days", "1", "-subj", "/CN=zos-access-test-ca"),
	                 0);
	assert_int_equal(run("openssl", "req", "-newkey", "ec", "-pkeyopt",
	                     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
	                     "-subj", cn),
	                 0);
	assert_int_equal(run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
	                     "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext),
	                 0);
	static char pem[16384];
	size_t a = 0, b = 0;
	assert_int_equal(prov_read_file(crt, pem, sizeof pem, &a), 0);
	assert_int_equal(prov_read_file(key, pem + a, sizeof pem - a, &b), 0);
	assert_int_equal(prov_write_file(bundle, pem, a + b, 0600), 0);

	unsigned http = free_tcp_port_in(30000, 39999), https = free_tcp_port_in(40000, 49999);
	assert_true(http && https);
	struct prov_config cfg = {.storage_dir = F.storage,
	                          .image_dir = F.images,
	                          .run_dir = F.run,
	                          .cgroup_parent = F.cgparent,
	                          .public_ip = host_ip,
	                          .gateway_domain = domain,
	                          .gateway_cert = bundle,
	                          .gateway_http_port = http,
	                          .gateway_https_port = https};
	struct prov_ctx *old = F.ctx;
	assert_int_equal(prov_ctx_new(&cfg, &F.ctx), 0);
	prov_ctx_free(old);

	/* The backend: the page on a host address. */
	char text[256], err[256] = "";
	snprintf(text, sizeof text, "{\"name\": \"blog\", \"backends\": [\"http://%s:8080\"]}",
	         hidden_ip);
	cJSON *d = json(text), *res = NULL;
	struct prov_claim cl[2];
	size_t ncl = 0;
	assert_int_equal(G->claims(d, cl, 2, &ncl), 0);
	assert_int_equal(ncl, 1);
	assert_string_equal(cl[0].key, "name/blog");
	struct prov_workload_id id = test_id(7, 60, "gw");
	track(G, &id);
	int rc = G->provision(F.ctx, &id, d, NULL, &res, err, sizeof err);
	if (rc)
		print_message("provision: %s\n", err);
	assert_int_equal(rc, 0);
	char https_url[200], http_url[200], r1[128], r2[128];
	snprintf(https_url, sizeof https_url, "https://blog.%s:%u/%s", domain, https, page);
	snprintf(http_url, sizeof http_url, "http://blog.%s:%u/%s", domain, http, page);
	snprintf(r1, sizeof r1, "blog.%s:%u:%s", domain, https, host_ip);
	snprintf(r2, sizeof r2, "blog.%s:%u:%s", domain, http, host_ip);
	const cJSON *urls = cJSON_GetObjectItem(res, "urls");
	assert_int_equal(cJSON_GetArraySize(urls), 2);
	cJSON_Delete(res);

	/* 1. TLS verified against our CA, and plain HTTP. */
	int ok = 0;
	for (int i = 0; i < 10 && !(ok = gw_fetch(ca, r1, https_url)); i++)
		sleep_ms(300);
	assert_true(ok);
	assert_true(gw_fetch(ca, r2, http_url));
	/* An unknown name gets nothing. */
	char other[200], r3[128];
	snprintf(other, sizeof other, "https://nosuch.%s:%u/%s", domain, https, page);
	snprintf(r3, sizeof r3, "nosuch.%s:%u:%s", domain, https, host_ip);
	assert_false(gw_fetch(ca, r3, other));

	/* 2. Pause and resume. */
	enum prov_health h;
	assert_int_equal(G->pause(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(G->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_PAUSED);
	sleep_ms(300);
	assert_false(gw_fetch(ca, r1, https_url));
	assert_int_equal(G->resume(F.ctx, &id, err, sizeof err), 0);
	ok = 0;
	for (int i = 0; i < 10 && !(ok = gw_fetch(ca, r1, https_url)); i++)
		sleep_ms(300);
	assert_true(ok);

	/* 3. A restart: provision again, one haproxy. */
	old = F.ctx;
	assert_int_equal(prov_ctx_new(&cfg, &F.ctx), 0);
	prov_ctx_free(old);
	assert_int_equal(G->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	assert_int_equal(G->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	sleep_ms(500); /* the old process hands over and exits */
	assert_int_equal(count_procs("haproxy", F.run), 1);
	assert_true(gw_fetch(ca, r1, https_url));

	/* 4. Backends on a deployment's network: a container's address. */
	int o = octet + 3;
	struct prov_workload_id gnid = test_id(7, 61, "gwnet"), gid2 = test_id(7, 61, "gw2");
	char gnet[PROV_HOST_MAX], gip[24], ggw[24], gveth[16];
	prov_host_name(&gnid, gnet);
	snprintf(text, sizeof text,
	         "{\"ip_range\": \"10.%d.0.0/16\", \"subnet\": \"10.%d.1.0/24\"}", o, o);
	cJSON *gnd = json(text);
	track(N, &gnid);
	assert_int_equal(N->provision(F.ctx, &gnid, gnd, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	cJSON_Delete(gnd);
	snprintf(gip, sizeof gip, "10.%d.1.2", o);
	snprintf(ggw, sizeof ggw, "10.%d.1.1", o);
	snprintf(gcns, sizeof gcns, "zaccgc%d", (int)getpid());
	snprintf(gveth, sizeof gveth, "zaccg%d", (int)getpid() % 10000000);
	attach_container(gnet, gcns, gveth, gip, ggw);
	gweb_pid = start_httpd(gcns, gip);
	assert_true(gweb_pid > 0);
	/* An address outside the network is refused. */
	snprintf(text, sizeof text,
	         "{\"name\": \"app\", \"network\": \"gwnet\", \"backends\": "
	         "[\"http://10.%d.9.9:8080\"]}",
	         o);
	cJSON *bad = json(text);
	track(G, &gid2);
	assert_int_equal(G->provision(F.ctx, &gid2, bad, NULL, &res, err, sizeof err), -EINVAL);
	cJSON_Delete(bad);
	snprintf(text, sizeof text,
	         "{\"name\": \"app\", \"network\": \"gwnet\", \"backends\": [\"http://%s:8080\"]}",
	         gip);
	cJSON *d2 = json(text);
	rc = G->provision(F.ctx, &gid2, d2, NULL, &res, err, sizeof err);
	if (rc)
		print_message("provision app: %s\n", err);
	assert_int_equal(rc, 0);
	cJSON_Delete(res);
	char app_url[200], r4[128];
	snprintf(app_url, sizeof app_url, "https://app.%s:%u/%s", domain, https, page);
	snprintf(r4, sizeof r4, "app.%s:%u:%s", domain, https, host_ip);
	ok = 0;
	for (int i = 0; i < 10 && !(ok = gw_fetch(ca, r4, app_url)); i++)
		sleep_ms(300);
	assert_true(ok);
	/* Provisioning again keeps one uplink and still works. */
	assert_int_equal(G->provision(F.ctx, &gid2, d2, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	char ghost[PROV_HOST_MAX], gup[16];
	prov_host_name(&gid2, ghost);
	prov_if_name("zp", ghost, 1, gup);
	assert_int_equal(run("ip", "link", "show", gup), 0);
	ok = 0;
	for (int i = 0; i < 10 && !(ok = gw_fetch(ca, r4, app_url)); i++)
		sleep_ms(300);
	assert_true(ok);
	assert_true(gw_fetch(ca, r1, https_url)); /* the other name still works */
	assert_int_equal(G->deprovision(F.ctx, &gid2, err, sizeof err), 0);
	assert_int_not_equal(run("ip", "link", "show", gup), 0);
	sleep_ms(300);
	assert_false(gw_fetch(ca, r4, app_url));
	cJSON_Delete(d2);

	/* 5. Deprovision: haproxy stopped, the name gone. */
	assert_int_equal(G->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(count_procs("haproxy", F.run), 0);
	assert_false(gw_fetch(ca, r2, http_url));
	assert_int_equal(G->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	cJSON_Delete(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(access_end_to_end),
	    cmocka_unit_test(public_port_end_to_end),
	    cmocka_unit_test(gateway_end_to_end),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
