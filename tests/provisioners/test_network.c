/* network: a namespace with a bridge per deployment; containers attach with
 * veth pairs. Checks that a container reaches its own network and not
 * another twin's. Needs root, namespaces, cgroups and ip(8). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/provisioners/prov_test.h"

/* A valid x25519 key in base64 (wg genkey's format) for validation cases. */
#define WGK "YBFhJXjsbsSJtbu9+9ZNNIqcFLP1/Eh1BLO7GHfbO3I="

static struct fixture F;

/* A TCP answer on port 7777 in the background, and a probe of it. */
#define LISTEN "(while :; do echo pong | nc -l -p 7777 >/dev/null 2>&1; done) & "
#define REACH(ip) "echo | nc -w 2 " ip " 7777 2>/dev/null | grep -q pong"
static const struct prov_ops *N, *Z;
static int ready;

static int setup(void **st)
{
	N = prov_lookup("network");
	Z = prov_lookup("container");
	return N && Z ? fixture_open_containers(&F, &ready) : -1;
}

static int teardown(void **st)
{
	fixture_close(&F);
	return 0;
}

#define NEED_NETWORKS() SKIP_UNLESS(ready, "networks need root, namespaces, cgroups and ip(8)")

static void lifecycle(void **st)
{
	NEED_NETWORKS();
	char err[256] = "", host[PROV_HOST_MAX];
	struct prov_workload_id id = test_id(7, 1, "net1");
	prov_host_name(&id, host);
	cJSON *d = json("{\"ip_range\": \"10.20.0.0/16\", \"subnet\": \"10.20.1.0/24\","
	                " \"wireguard_listen_port\": 3000, \"peers\": []}");
	struct prov_capacity cap;
	assert_int_equal(N->validate(d, &cap, err, sizeof err), 0);
	cJSON *res = NULL;
	track(N, &id);
	assert_int_equal(N->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	assert_string_equal(cJSON_GetObjectItem(res, "gateway")->valuestring, "10.20.1.1");
	assert_true(prov_netns_exists(host));
	enum prov_health h;
	assert_int_equal(N->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	struct prov_usage u;
	assert_int_equal(N->usage(F.ctx, &id, &u, err, sizeof err), 0);
	assert_int_equal(N->pause(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(N->resume(F.ctx, &id, err, sizeof err), 0);
	cJSON *res2 = NULL;
	assert_int_equal(N->provision(F.ctx, &id, d, NULL, &res2, err, sizeof err), 0);
	cJSON_Delete(res2);
	cJSON *other = json("{\"ip_range\": \"10.21.0.0/16\", \"subnet\": \"10.21.1.0/24\"}");
	assert_int_equal(N->provision(F.ctx, &id, other, NULL, &res2, err, sizeof err), ZE_STATE);
	cJSON_Delete(other);
	assert_int_equal(N->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_false(prov_netns_exists(host));
	assert_int_equal(N->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	assert_int_equal(N->deprovision(F.ctx, &id, err, sizeof err), 0);
	cJSON_Delete(res);
	cJSON_Delete(d);
}

static int start(const struct prov_workload_id *id, const char *net, const char *ip,
                 const char *script, const struct prov_deployment_view *deps, char *err,
                 size_t errsz)
{
	cJSON *d = json(
	    "{\"image\": \"busybox\", \"compute_capacity\": {\"cpu\": 1, \"memory\": 67108864}}");
	cJSON *e = cJSON_AddArrayToObject(d, "entrypoint");
	cJSON_AddItemToArray(e, cJSON_CreateString("/bin/sh"));
	cJSON_AddItemToArray(e, cJSON_CreateString("-c"));
	cJSON_AddItemToArray(e, cJSON_CreateString(script));
	cJSON *ifs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(d, "network"), "interfaces");
	cJSON *i = cJSON_CreateObject();
	cJSON_AddStringToObject(i, "network", net);
	cJSON_AddStringToObject(i, "ip", ip);
	cJSON_AddItemToArray(ifs, i);
	cJSON *res = NULL;
	track(Z, id);
	int rc = Z->provision(F.ctx, id, d, deps, &res, err, errsz);
	cJSON_Delete(d);
	cJSON_Delete(res);
	return rc;
}

static void logfile(const struct prov_workload_id *id, char *out, size_t n)
{
	char host[PROV_HOST_MAX];
	prov_host_name(id, host);
	snprintf(out, n, "%s/containers/%s/log", F.run, host);
}

/* Twin 7 has a1 and a2 on its network, twin 8 has b1 on its own network.
 * a1 reaches a2 (same network): works. a1 to b1 and b1 to a1: fail. Each
 * container answers TCP on port 7777 (busybox nc); a container has no raw
 * sockets, so no ping. */
static void isolation_between_twins(void **st)
{
	NEED_NETWORKS();
	char err[256] = "";
	struct prov_workload_id na = test_id(7, 2, "neta"), nb = test_id(8, 3, "netb");
	struct prov_workload_id a1 = test_id(7, 2, "a1"), a2 = test_id(7, 2, "a2"),
	                        b1 = test_id(8, 3, "b1");
	cJSON *da = json("{\"ip_range\": \"10.40.0.0/16\", \"subnet\": \"10.40.1.0/24\"}");
	cJSON *db = json("{\"ip_range\": \"10.50.0.0/16\", \"subnet\": \"10.50.1.0/24\"}");
	cJSON *res = NULL;
	track(N, &na);
	track(N, &nb);
	assert_int_equal(N->provision(F.ctx, &na, da, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	assert_int_equal(N->provision(F.ctx, &nb, db, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	const struct prov_dep_workload wa[] = {
	    {"neta", "network"}, {"a1", "container"}, {"a2", "container"}};
	const struct prov_dep_workload wb[] = {{"netb", "network"}, {"b1", "container"}};
	struct prov_deployment_view va = {7, test_contract(2), 3, wa},
	                            vb = {8, test_contract(3), 2, wb};

	int rc = start(&a2, "neta", "10.40.1.3", LISTEN "echo a2 up; exec sleep 1000", &va, err,
	               sizeof err);
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(
	    start(&b1, "netb", "10.50.1.2",
	          LISTEN "echo b1 up; "
	                 "sleep 1; " REACH("10.40.1.2") " && echo B_REACHES_A || echo B_ISOLATED; "
	                                                "exec sleep 1000",
	          &vb, err, sizeof err),
	    0);
	assert_int_equal(
	    start(&a1, "neta", "10.40.1.2",
	          LISTEN REACH(
	              "10.40.1.3") " && echo A_REACHES_A2 || echo "
	                           "A_CANNOT_REACH_A2; " REACH(
	                               "10.50.1.2") " && echo A_REACHES_B || echo A_ISOLATED; "
	                                            "ip addr show eth0 | grep -q 10.40.1.2 && echo "
	                                            "HAS_ADDR; "
	                                            "echo net done; exec sleep 1000",
	          &va, err, sizeof err),
	    0);
	char la[512], lb[512];
	logfile(&a1, la, sizeof la);
	logfile(&b1, lb, sizeof lb);
	assert_true(wait_for_text(la, "net done", 20000));
	assert_true(wait_for_text(lb, "B_", 20000));
	if (!wait_for_text(la, "A_REACHES_A2", 10) || !wait_for_text(la, "A_ISOLATED", 10))
		dump_file(la);
	assert_true(wait_for_text(la, "A_REACHES_A2", 10));
	assert_true(wait_for_text(la, "A_ISOLATED", 10));
	assert_true(wait_for_text(la, "HAS_ADDR", 10));
	assert_true(wait_for_text(lb, "B_ISOLATED", 10));

	/* Traffic accounting: a1 connected, the bridge carried it. */
	struct prov_usage u;
	assert_int_equal(Z->usage(F.ctx, &a1, &u, err, sizeof err), 0);
	assert_true(u.net_tx_bytes > 0);
	assert_true(u.net_rx_bytes > 0);
	assert_int_equal(N->usage(F.ctx, &na, &u, err, sizeof err), 0);
	assert_true(u.net_rx_bytes + u.net_tx_bytes > 0);

	/* Deprovision everything: no namespace of any of them is left. */
	const struct prov_workload_id *all[] = {&a1, &a2, &b1};
	for (int i = 0; i < 3; i++)
		assert_int_equal(Z->deprovision(F.ctx, all[i], err, sizeof err), 0);
	assert_int_equal(N->deprovision(F.ctx, &na, err, sizeof err), 0);
	assert_int_equal(N->deprovision(F.ctx, &nb, err, sizeof err), 0);
	const struct prov_workload_id *ids[] = {&a1, &a2, &b1, &na, &nb};
	for (int i = 0; i < 5; i++) {
		char host[PROV_HOST_MAX];
		prov_host_name(ids[i], host);
		assert_false(prov_netns_exists(host));
	}
	cJSON_Delete(da);
	cJSON_Delete(db);
}

/* Attaching to a network of another deployment, or with a bad address. */
static void attach_refusals(void **st)
{
	NEED_NETWORKS();
	char err[256] = "";
	struct prov_workload_id n = test_id(7, 4, "netc"), c = test_id(7, 4, "c1");
	cJSON *d = json("{\"ip_range\": \"10.60.0.0/16\", \"subnet\": \"10.60.1.0/24\"}");
	cJSON *res = NULL;
	track(N, &n);
	assert_int_equal(N->provision(F.ctx, &n, d, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	const struct prov_dep_workload w[] = {{"netc", "network"}};
	struct prov_deployment_view v = {7, test_contract(4), 1, w};
	/* Gateway, network and broadcast addresses, and one outside the subnet. */
	static const char *const bad_ips[] = {"10.60.1.1", "10.60.1.0", "10.60.1.255", "10.60.2.5"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(start(&c, "netc", bad_ips[i], "sleep 100", &v, err, sizeof err),
		                 -EINVAL);
		char host[PROV_HOST_MAX];
		prov_host_name(&c, host);
		assert_false(prov_netns_exists(host));
	}
	/* Not in this deployment's view: refused even though it exists. */
	struct prov_deployment_view empty = {7, test_contract(4), 0, NULL};
	assert_int_equal(start(&c, "netc", "10.60.1.9", "sleep 100", &empty, err, sizeof err),
	                 -ENOENT);
	/* Another contract's network of the same name does not exist for it. */
	struct prov_workload_id c2 = test_id(9, 5, "c2");
	struct prov_deployment_view v2 = {9, test_contract(5), 1, w};
	assert_int_equal(start(&c2, "netc", "10.60.1.9", "sleep 100", &v2, err, sizeof err),
	                 -ENOENT);
	assert_int_equal(N->deprovision(F.ctx, &n, err, sizeof err), 0);
	cJSON_Delete(d);
}

static void hostile_data(void **st)
{
	static const char *const bad[] = {
	    "{}",
	    "{\"ip_range\": \"10.0.0.0/16\"}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.1.1.0/24\"}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.5/24\"}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/31\"}",
	    "{\"ip_range\": \"10.0.0.0/33\", \"subnet\": \"10.0.1.0/24\"}",
	    "{\"ip_range\": \"10.0.0.0\", \"subnet\": \"10.0.1.0/24\"}",
	    "{\"ip_range\": \"10.0.0.0/16; rm -rf /\", \"subnet\": \"10.0.1.0/24\"}",
	    "{\"ip_range\": \"999.0.0.0/16\", \"subnet\": \"10.0.1.0/24\"}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", "
	    "\"wireguard_listen_port\": 70000}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", \"bridge\": \"eth0\"}",
	    "{\"ip_range\": 10, \"subnet\": \"10.0.1.0/24\"}",
	    /* WireGuard: keys must be real base64 keys, a port is needed,
	     * peers need a key of the network and may not route its subnet. */
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", "
	    "\"wireguard_private_key\": \"abc\", \"wireguard_listen_port\": 3000}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", "
	    "\"wireguard_private_key\": \"" WGK "\"}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", "
	    "\"wireguard_private_key\": \"" WGK "\", \"wireguard_listen_port\": 0}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", \"peers\": [{}]}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", "
	    "\"wireguard_private_key\": \"" WGK "\", \"wireguard_listen_port\": 3000, "
	    "\"peers\": [{\"subnet\": \"10.0.2.0/24\", \"wireguard_public_key\": \"x\", "
	    "\"allowed_ips\": [\"10.0.2.0/24\"]}]}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", "
	    "\"wireguard_private_key\": \"" WGK "\", \"wireguard_listen_port\": 3000, "
	    "\"peers\": [{\"subnet\": \"10.0.2.0/24\", \"wireguard_public_key\": \"" WGK "\", "
	    "\"allowed_ips\": [\"10.0.0.0/16\"]}]}",
	    "{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", "
	    "\"wireguard_private_key\": \"" WGK "\", \"wireguard_listen_port\": 3000, "
	    "\"peers\": [{\"subnet\": \"10.0.2.0/24\", \"wireguard_public_key\": \"" WGK "\", "
	    "\"allowed_ips\": [\"10.0.2.0/24\"], \"endpoint\": \"1.2.3.4:5 ; x\"}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[256] = "";
		struct prov_capacity cap;
		cJSON *d = json(bad[i]);
		int rc = N->validate(d, &cap, err, sizeof err);
		if (rc != -EINVAL)
			print_message("accepted: %s\n", bad[i]);
		assert_int_equal(rc, -EINVAL);
		cJSON_Delete(d);
	}
	char err[256];
	struct prov_capacity cap;
	cJSON *d = json("{\"ip_range\": \"10.0.0.0/16\", \"subnet\": \"10.0.1.0/24\", "
	                "\"mycelium\": {}}");
	assert_int_equal(N->validate(d, &cap, err, sizeof err), ZE_UNSUPPORTED);
	cJSON_Delete(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lifecycle),
	    cmocka_unit_test(isolation_between_twins),
	    cmocka_unit_test(attach_refusals),
	    cmocka_unit_test(hostile_data),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
