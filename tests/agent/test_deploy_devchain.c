/*
 * End to end against tfchain-dev: zos-cli deploy creates a sealed node
 * contract and asks the node over RMB; the engine (with the real chain
 * adapter and RMB server, fake provisioners) provisions it and marks it
 * Deployed on chain; an invalid document is refused with its reason and
 * rejected on chain. Needs $BUILD/tfchain-dev and $BUILD/zos-cli (skipped
 * otherwise).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/engine_chain.h"
#include "agent/handlers.h"
#include "chainclient/grid.h"
#include "chainclient/submit.h"
#include "common/hex.h"
#include "common/key.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/zerr.h"
#include "rmb/rmb_chain.h"
#include "rmb/rmb_server.h"

#include "fake_prov.h"

extern char **environ;

static char dev_bin[256], cli_bin[256], tmp[64], chain_url[64], rmb_url[64];
static pid_t dev_pid = -1;

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* Runs argv with stdout and stderr into path; returns the exit status. */
static int run(char *const argv[], const char *path)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void call_ok(struct chain_submitter *s, const char *pallet, const char *call,
		    const char *args_json)
{
	cJSON *args = cJSON_Parse(args_json);
	assert_non_null(args);
	struct chain_outcome o;
	memset(&o, 0, sizeof o);
	assert_int_equal(chain_submit_wait(s, pallet, call, args, &o), 0);
	if (o.status != CHAIN_OUTCOME_SUCCESS)
		fail_msg("%s.%s: %s %s", pallet, call, chain_outcome_status_name(o.status), o.error);
	chain_outcome_clear(&o);
	cJSON_Delete(args);
}

static struct chain_submitter *submitter(struct chain_client *c, const char *who,
					 struct zkey *k)
{
	struct chain_submitter *s;
	struct chain_submit_opts o;
	chain_submit_opts_default(&o);
	o.poll_ms = 100;
	assert_int_equal(key_dev(who, k), 0);
	assert_int_equal(chain_submitter_new(c, k, &o, &s), 0);
	return s;
}

static void deploy_through_cli_and_rmb(void **st)
{
	struct chain_client *c;
	assert_int_equal(chain_client_new(chain_url, NULL, &c), 0);
	uint64_t n = 0;
	for (int i = 0; i < 100 && chain_block_number(c, &n) < 0; i++)
		usleep(100000);
	assert_int_equal(chain_block_number(c, &n), 0);

	/* The grid: alice deploys (twin 1), bob farms (2), charlie's node (3). */
	struct zkey alice, bob, charlie;
	struct chain_submitter *sa = submitter(c, "alice", &alice);
	struct chain_submitter *sb = submitter(c, "bob", &bob);
	struct chain_submitter *sc = submitter(c, "charlie", &charlie);
	char relay[160], args[1024];
	assert_int_equal(hex_encode((const uint8_t *)rmb_url, strlen(rmb_url), 1, relay,
				    sizeof relay), 0);
	call_ok(sa, "TfgridModule", "create_twin", "[null, null]");
	call_ok(sb, "TfgridModule", "create_twin", "[null, null]");
	snprintf(args, sizeof args, "[\"%s\", null]", relay);
	call_ok(sc, "TfgridModule", "create_twin", args);
	call_ok(sb, "TfgridModule", "create_farm", "[\"0x6661726d\", []]");
	call_ok(sc, "TfgridModule", "create_node",
		"[1, {\"hru\": 0, \"sru\": 1000000, \"cru\": 8, \"mru\": 1000000},"
		" {\"city\": \"0x47\", \"country\": \"0x42\", \"latitude\": \"0x31\","
		" \"longitude\": \"0x32\"}, [], false, false, null]");
	chain_submitter_free(sb);

	/* The agent: engine over the chain adapter, RMB server as twin 3. */
	struct store *store;
	assert_int_equal(store_open(tmp, STORE_OPEN_FAST, &store), 0);
	struct eng_chain iface;
	struct eng_chain_grid *g;
	assert_int_equal(eng_chain_grid_new(c, sc, &iface, &g), 0);
	struct eng_config cfg = {
		.node_id = 1,
		.total = {.cru = 8, .mru = 1 << 30, .sru = 1000, .hru = 0},
		.lookup = f_lookup,
		.workers = 2,
		.retry_base_ms = 50,
		.outbox_base_ms = 200,
	};
	assert_int_equal(key_x25519_sk(&charlie, cfg.node_x25519_sk), 0);
	struct eng *e;
	assert_int_equal(eng_new(&cfg, &iface, store, &e), 0);
	assert_int_equal(eng_start(e), 0);
	struct rmb_server_cfg rc;
	rmb_server_cfg_init(&rc);
	rc.listen[0] = rmb_url;
	rc.nlisten = 1;
	struct rmb_server *srv;
	assert_int_equal(rmb_server_new(&rc, &charlie, 3, rmb_chain_twin_lookup, c, &srv), 0);
	assert_int_equal(eng_rmb_register(e, srv), 0);
	assert_int_equal(rmb_server_start(srv), 0);

	char doc[256], out[256];
	snprintf(doc, sizeof doc, "%s/good.json", tmp);
	snprintf(out, sizeof out, "%s/out.txt", tmp);
	put_file(doc, "{\"version\":0,\"workloads\":["
		      "{\"version\":0,\"name\":\"vm\",\"type\":\"zmachine\",\"data\":{}},"
		      "{\"version\":0,\"name\":\"disk\",\"type\":\"zmount\",\"data\":{\"size\":10}}]}");
	char *deploy[] = {cli_bin, "deploy", "--node", "1", doc, "--dev", "alice", "--chain",
			  chain_url, "--timeout", "60", NULL};
	int status = run(deploy, out);
	const char *text = slurp(out);
	if (status != 0 || !strstr(text, "deployed: contract 1"))
		fail_msg("zos-cli deploy exited %d:\n%s", status, text);
	assert_non_null(strstr(text, "workload disk: ok"));
	assert_non_null(strstr(text, "workload vm: ok"));
	assert_int_equal(fh_count(1), 2);
	struct grid_contract gc;
	assert_int_equal(grid_contract(c, 1, &gc), 0);
	assert_int_equal(gc.state, GRID_CONTRACT_DEPLOYED);
	grid_contract_clear(&gc);

	/* The same twin reads it back through zos-cli deployment get. */
	char *get[] = {cli_bin, "deployment", "get", "--node", "1", "--contract", "1", "--dev",
		       "alice", "--chain", chain_url, NULL};
	status = run(get, out);
	text = slurp(out);
	if (status != 0 || !strstr(text, "\"deployed\""))
		fail_msg("zos-cli deployment get exited %d:\n%s", status, text);

	/* An invalid workload is refused with its reason and rejected on chain. */
	put_file(doc, "{\"version\":0,\"workloads\":[{\"version\":0,\"name\":\"bad-name\","
		      "\"type\":\"zmount\",\"data\":{}}]}");
	status = run(deploy, out);
	text = slurp(out);
	if (status != 1 || !strstr(text, "refused: 422") || !strstr(text, "name must match"))
		fail_msg("zos-cli deploy of a bad document exited %d:\n%s", status, text);
	int gone = 0;
	for (int i = 0; i < 100 && !gone; i++) {
		int r = grid_contract(c, 2, &gc);
		if (r == 0)
			grid_contract_clear(&gc);
		gone = r == ZE_ABSENT;
		if (!gone)
			usleep(100000);
	}
	assert_true(gone);
	assert_int_equal(eng_wait_idle(e, 1, 10000), 0);

	/* The owner cancels: a sync sees the contract gone and removes it all. */
	call_ok(sa, "SmartContractModule", "cancel_contract", "[1]");
	assert_int_equal(eng_full_sync(e), 0);
	assert_int_equal(eng_wait_idle(e, 1, 10000), 0);
	assert_int_equal(fh_count(1), 0);
	struct store_dep d;
	assert_int_equal(store_dep_get(store, 1, &d, NULL, NULL), 0);
	assert_int_equal(d.state, STORE_DEP_DELETED);
	store_dep_clear(&d);

	chain_submitter_free(sa);
	rmb_server_free(srv);
	eng_free(e);
	eng_chain_grid_free(g);
	chain_submitter_free(sc);
	store_close(store);
	chain_client_free(c);
	key_wipe(&alice);
	key_wipe(&bob);
	key_wipe(&charlie);
}

static void cleanup(void)
{
	if (dev_pid > 0) {
		kill(dev_pid, SIGTERM);
		waitpid(dev_pid, NULL, 0);
		dev_pid = -1;
	}
	const char *files[] = {"agent.db", "agent.db-wal", "agent.db-shm", "good.json", "out.txt",
			       "dev.log"};
	char p[160];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
		unlink(p);
	}
	rmdir(tmp);
}

int main(void)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	snprintf(dev_bin, sizeof dev_bin, "%s/tfchain-dev", build);
	snprintf(cli_bin, sizeof cli_bin, "%s/zos-cli", build);
	if (access(dev_bin, X_OK) || access(cli_bin, X_OK)) {
		printf("skipped: %s or %s not built\n", dev_bin, cli_bin);
		return 77;
	}
	if (sodium_init() < 0)
		return 1;
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "test");
	int cport = free_port(), rport = free_port();
	snprintf(tmp, sizeof tmp, "/tmp/test_deploy.XXXXXX");
	if (cport < 0 || rport < 0 || !mkdtemp(tmp))
		return 1;
	snprintf(chain_url, sizeof chain_url, "http://127.0.0.1:%d", cport);
	snprintf(rmb_url, sizeof rmb_url, "tcp://127.0.0.1:%d", rport);
	char port[16], log[160];
	snprintf(port, sizeof port, "%d", cport);
	snprintf(log, sizeof log, "%s/dev.log", tmp);
	char *dev[] = {dev_bin, "--dev", "--rpc-port", port, "--block-time", "200", "--log-level",
		       "warn", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int rc = posix_spawn(&dev_pid, dev_bin, &fa, NULL, dev, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		dev_pid = -1;
		cleanup();
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deploy_through_cli_and_rmb),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc)
		fprintf(stderr, "devchain log:\n%s\n", slurp(log));
	cleanup();
	return rc;
}
