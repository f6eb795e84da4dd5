/*
 * End to end against tfchain-dev: zos-cli deploy creates a sealed node
 * contract and asks the node over RMB; the engine (with the real chain
 * adapter and RMB server, fake provisioners) provisions it and marks it
 * Deployed on chain; an invalid document is refused with its reason and
 * rejected on chain; a cancelled contract is removed. Then the agent runs
 * as a child process and is killed with SIGKILL in the middle of three
 * deploys: the next agent over the same store finishes them, nothing is
 * made twice and every contract ends Deployed. Last, the chain itself is
 * killed with SIGKILL while a deploy needs it: the call waits in the outbox
 * and lands once the chain is back, never as a rejection. Needs
 * $BUILD/tfchain-dev and $BUILD/zos-cli (skipped otherwise).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
static char dev_port[16], dev_log[160], dev_base[160];

/* tfchain-dev on dev_port, keeping its chain in dev_base across restarts. */
static int start_chain(void)
{
	char *dev[] = {dev_bin, "--base-path", dev_base, "--rpc-port", dev_port, "--block-time",
		       "200", "--log-level", "warn", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, dev_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int rc = posix_spawn(&dev_pid, dev_bin, &fa, NULL, dev, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		dev_pid = -1;
	return rc == 0 ? 0 : -rc;
}
static int fh_fd = -1;

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

/* The grid: alice, dave and eve deploy (twins 1, 4, 5), bob farms (2),
 * charlie runs node 1 (twin 3, RMB at rmb_url). */
static int grid_setup(void **st)
{
	struct chain_client *c;
	if (chain_client_new(chain_url, NULL, &c) < 0)
		return -1;
	uint64_t n = 0;
	for (int i = 0; i < 100 && chain_block_number(c, &n) < 0; i++)
		usleep(100000);
	struct zkey k[5];
	const char *who[5] = {"alice", "bob", "charlie", "dave", "eve"};
	struct chain_submitter *s[5];
	for (int i = 0; i < 5; i++)
		s[i] = submitter(c, who[i], &k[i]);
	char relay[160], args[1024];
	assert_int_equal(hex_encode((const uint8_t *)rmb_url, strlen(rmb_url), 1, relay,
				    sizeof relay), 0);
	call_ok(s[0], "TfgridModule", "create_twin", "[null, null]");
	call_ok(s[1], "TfgridModule", "create_twin", "[null, null]");
	snprintf(args, sizeof args, "[\"%s\", null]", relay);
	call_ok(s[2], "TfgridModule", "create_twin", args);
	call_ok(s[3], "TfgridModule", "create_twin", "[null, null]");
	call_ok(s[4], "TfgridModule", "create_twin", "[null, null]");
	call_ok(s[1], "TfgridModule", "create_farm", "[\"0x6661726d\", []]");
	call_ok(s[2], "TfgridModule", "create_node",
		"[1, {\"hru\": 0, \"sru\": 1000000, \"cru\": 8, \"mru\": 1000000},"
		" {\"city\": \"0x47\", \"country\": \"0x42\", \"latitude\": \"0x31\","
		" \"longitude\": \"0x32\"}, [], false, false, null]");
	for (int i = 0; i < 5; i++) {
		chain_submitter_free(s[i]);
		key_wipe(&k[i]);
	}
	chain_client_free(c);
	return 0;
}

static void deploy_through_cli_and_rmb(void **st)
{
	struct chain_client *c;
	assert_int_equal(chain_client_new(chain_url, NULL, &c), 0);
	struct zkey alice, charlie;
	struct chain_submitter *sa = submitter(c, "alice", &alice);
	struct chain_submitter *sc = submitter(c, "charlie", &charlie);

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
		      "{\"version\":0,\"name\":\"vm\",\"type\":\"container\",\"data\":{}},"
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
	if (status != 1 || !strstr(text, "refused: ") || !strstr(text, "422") ||
	    !strstr(text, "name must match"))
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
	key_wipe(&charlie);
}

/* A node agent as its own process, until killed. Exits 3 if it cannot start. */
static void agent_process(const char *dir)
{
	struct chain_client *c;
	struct zkey charlie;
	struct chain_submitter *sc;
	struct store *store;
	struct eng_chain iface;
	struct eng_chain_grid *g;
	struct eng *e;
	struct rmb_server *srv;
	struct chain_submit_opts so;
	chain_submit_opts_default(&so);
	so.poll_ms = 100;
	struct eng_config cfg = {
		.node_id = 1,
		.total = {.cru = 8, .mru = 1 << 30, .sru = 1000, .hru = 0},
		.lookup = f_lookup,
		.workers = 2,
		.retry_base_ms = 50,
		.outbox_base_ms = 200,
	};
	struct rmb_server_cfg rc;
	rmb_server_cfg_init(&rc);
	rc.listen[0] = rmb_url;
	rc.nlisten = 1;
	/* Shared: the test process watches this store while the agent runs. */
	if (chain_client_new(chain_url, NULL, &c) < 0 || key_dev("charlie", &charlie) < 0 ||
	    chain_submitter_new(c, &charlie, &so, &sc) < 0 ||
	    store_open(dir, STORE_OPEN_FAST | STORE_OPEN_SHARED, &store) < 0 ||
	    eng_chain_grid_new(c, sc, &iface, &g) < 0 ||
	    key_x25519_sk(&charlie, cfg.node_x25519_sk) < 0 ||
	    eng_new(&cfg, &iface, store, &e) < 0 || eng_start(e) < 0 ||
	    rmb_server_new(&rc, &charlie, 3, rmb_chain_twin_lookup, c, &srv) < 0 ||
	    eng_rmb_register(e, srv) < 0)
		_exit(3);
	/* The port may still be held by the agent just killed. */
	for (int i = 0; rmb_server_start(srv) < 0; i++) {
		if (i == 100)
			_exit(3);
		usleep(50000);
	}
	for (;;)
		pause();
}

/* A fresh process (nng does not survive fork): this program, re-executed
 * with --agent, sharing the fake host through the inherited mapping's fd. */
static pid_t start_agent(const char *dir)
{
	char fd[16];
	snprintf(fd, sizeof fd, "%d", fh_fd);
	char *argv[] = {"/proc/self/exe", "--agent", (char *)dir, chain_url, rmb_url, fd, NULL};
	pid_t pid;
	return posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) == 0 ? pid : -1;
}

/* zos-cli deploy checks the node over RMB before it pays: wait (bounded)
 * until the agent process listens on rmb_url (tcp://127.0.0.1:PORT). */
static void wait_rmb_listening(void)
{
	const char *colon = strrchr(rmb_url, ':');
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	for (int i = 0; i < 400; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return;
		usleep(25000);
	}
	fail_msg("the agent does not listen on %s", rmb_url);
}

static void kill9_during_deploys(void **st)
{
	char dir[128], doc[160], out[3][160];
	snprintf(dir, sizeof dir, "%s/kill", tmp);
	snprintf(doc, sizeof doc, "%s/two.json", tmp);
	put_file(doc, "{\"version\":0,\"workloads\":["
		      "{\"version\":0,\"name\":\"vm\",\"type\":\"container\",\"data\":{}},"
		      "{\"version\":0,\"name\":\"disk\",\"type\":\"zmount\",\"data\":{\"size\":10}}]}");
	assert_int_equal(fh_share_fd(&fh_fd), 0);
	fh.delay_ms = 300; /* slow provisioning leaves room for the kill */
	pid_t agent = start_agent(dir);
	assert_true(agent > 0);
	wait_rmb_listening();

	/* Three users deploy at once (separate accounts: separate nonces). */
	const char *users[3] = {"alice", "dave", "eve"};
	pid_t cli[3];
	for (int i = 0; i < 3; i++) {
		snprintf(out[i], sizeof out[i], "%s/cli%d.txt", tmp, i);
		char *argv[] = {cli_bin, "deploy", "--node", "1", doc, "--dev", (char *)users[i],
				"--chain", chain_url, "--timeout", "90", NULL};
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, out[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
		assert_int_equal(posix_spawn(&cli[i], cli_bin, &fa, NULL, argv, environ), 0);
		posix_spawn_file_actions_destroy(&fa);
	}

	/* Kill -9 once all three are accepted and provisioning is under way. */
	struct store *s = NULL;
	int killed = 0;
	for (int i = 0; i < 1200 && !killed; i++) {
		struct store_stats stats = {0};
		if (!s && access(dir, F_OK) == 0)
			store_open(dir, STORE_OPEN_FAST | STORE_OPEN_SHARED, &s);
		if (s && store_stats(s, 0, &stats) == 0 && stats.deployments == 3 &&
		    fh.creates >= 1 && fh.creates < 6) {
			kill(agent, SIGKILL);
			waitpid(agent, NULL, 0);
			killed = 1;
		} else {
			usleep(25000);
		}
	}
	if (!killed)
		fail_msg("no moment to kill: creates %d", fh.creates);
	int creates_at_kill = fh.creates;
	agent = start_agent(dir);
	assert_true(agent > 0);

	for (int i = 0; i < 3; i++) {
		int status;
		assert_int_equal(waitpid(cli[i], &status, 0), cli[i]);
		const char *text = slurp(out[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !strstr(text, "deployed: contract"))
			fail_msg("%s's deploy (killed at %d creates):\n%s", users[i], creates_at_kill, text);
	}
	/* Every workload exists once; what ran before the kill was adopted. */
	assert_int_equal(fh.creates, 6);
	uint64_t ids[3], n;
	assert_int_equal(store_outbox_pending(s, &n), 0);
	uint64_t *all;
	size_t nall;
	assert_int_equal(store_dep_ids(s, &all, &nall), 0);
	assert_int_equal(nall, 3);
	memcpy(ids, all, sizeof ids);
	free(all);
	for (int i = 0; i < 3; i++) {
		char key[64], outcome[64];
		int done;
		assert_int_equal(fh_count(ids[i]), 2);
		snprintf(key, sizeof key, "deployed:%llu", (unsigned long long)ids[i]);
		/* The caller sees Deployed on chain as soon as the block is made;
		 * the agent records the outcome once its submitter sees the
		 * inclusion, a poll later: wait for it (bounded). */
		for (int t = 0; t < 400; t++) {
			assert_int_equal(store_outbox_state(s, key, &done, outcome, sizeof outcome), 0);
			if (done)
				break;
			usleep(25000);
		}
		assert_int_equal(done, 1);
		assert_int_equal(strncmp(outcome, "ok", 2), 0);
	}
	store_close(s);
	kill(agent, SIGKILL);
	waitpid(agent, NULL, 0);
}

/* Empties and removes a directory of plain files (the chain's, the store's). */
static void remove_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *ent;
	char p[512];
	while (d && (ent = readdir(d))) {
		if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", path, ent->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

static void kill9_chain_during_calls(void **st)
{
	char dir[128], doc[160], out[160];
	snprintf(dir, sizeof dir, "%s/chainkill", tmp);
	snprintf(doc, sizeof doc, "%s/three.json", tmp);
	snprintf(out, sizeof out, "%s/cli0.txt", tmp);
	/* Another document: the chain keeps one contract per (node, hash). */
	put_file(doc, "{\"version\":0,\"description\":\"across a chain restart\",\"workloads\":["
		      "{\"version\":0,\"name\":\"vm\",\"type\":\"container\",\"data\":{}},"
		      "{\"version\":0,\"name\":\"disk\",\"type\":\"zmount\",\"data\":{\"size\":10}}]}");
	fh.delay_ms = 300;
	pid_t agent = start_agent(dir);
	assert_true(agent > 0);
	wait_rmb_listening();
	char *argv[] = {cli_bin, "deploy", "--node", "1", doc, "--dev", "dave", "--chain", chain_url,
			"--timeout", "90", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	pid_t cli;
	assert_int_equal(posix_spawn(&cli, cli_bin, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);

	/* Once accepted, the chain dies: set_contract_deployed cannot go out. */
	struct store *s = NULL;
	int killed = 0;
	for (int i = 0; i < 1200 && !killed; i++) {
		struct store_stats stats = {0};
		if (!s && access(dir, F_OK) == 0)
			store_open(dir, STORE_OPEN_FAST | STORE_OPEN_SHARED, &s);
		if (s && store_stats(s, 0, &stats) == 0 && stats.deployments == 1) {
			kill(dev_pid, SIGKILL);
			waitpid(dev_pid, NULL, 0);
			killed = 1;
		} else {
			usleep(25000);
		}
	}
	if (!killed)
		fail_msg("the deploy was never accepted:\n%s", slurp(out));
	sleep(2);
	assert_int_equal(start_chain(), 0);

	int status;
	assert_int_equal(waitpid(cli, &status, 0), cli);
	const char *text = slurp(out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !strstr(text, "deployed: contract"))
		fail_msg("deploy across a chain restart:\n%s", text);
	uint64_t *ids, n;
	size_t nids;
	assert_int_equal(store_dep_ids(s, &ids, &nids), 0);
	assert_int_equal(nids, 1);
	char key[64], outcome[64];
	int done;
	snprintf(key, sizeof key, "deployed:%llu", (unsigned long long)ids[0]);
	free(ids);
	assert_int_equal(store_outbox_pending(s, &n), 0);
	assert_int_equal(store_outbox_state(s, key, &done, outcome, sizeof outcome), 0);
	assert_int_equal(done, 1);
	assert_int_equal(strncmp(outcome, "ok", 2), 0);
	store_close(s);
	kill(agent, SIGKILL);
	waitpid(agent, NULL, 0);
}

static void cleanup(void)
{
	if (dev_pid > 0) {
		kill(dev_pid, SIGTERM);
		waitpid(dev_pid, NULL, 0);
		dev_pid = -1;
	}
	const char *dirs[] = {"kill", "chainkill", "chain"};
	char p[160];
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", tmp, dirs[i]);
		remove_dir(p);
	}
	remove_dir(tmp);
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "--agent")) {
		/* The agent dies with the test, whatever ends the test. */
		char *end;
		errno = 0;
		long fd = strtol(argv[5], &end, 10);
		/* The fd comes from our own parent; anything else is a broken call. */
		if (errno || end == argv[5] || *end || fd < 0 || fd > INT_MAX)
			return 3;
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || sodium_init() < 0 || fh_attach_fd((int)fd) < 0)
			return 3;
		log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "agent");
		snprintf(chain_url, sizeof chain_url, "%s", argv[3]);
		snprintf(rmb_url, sizeof rmb_url, "%s", argv[4]);
		agent_process(argv[2]);
	}
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
	snprintf(dev_port, sizeof dev_port, "%d", cport);
	snprintf(dev_log, sizeof dev_log, "%s/dev.log", tmp);
	snprintf(dev_base, sizeof dev_base, "%s/chain", tmp);
	int rc = start_chain();
	if (rc != 0) {
		cleanup();
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deploy_through_cli_and_rmb),
		cmocka_unit_test(kill9_during_deploys),
		cmocka_unit_test(kill9_chain_during_calls),
	};
	rc = cmocka_run_group_tests(tests, grid_setup, NULL);
	if (rc)
		fprintf(stderr, "devchain log:\n%s\n", slurp(dev_log));
	cleanup();
	return rc;
}
