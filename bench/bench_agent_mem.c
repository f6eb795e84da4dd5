/*
 * The agent's memory and start-up with an empty store and with N
 * deployments, beside a bare program linked with the same
 * libraries (bench_bare) measured in the same run.
 *
 *   bench_agent_mem [DEPLOYMENTS (10000)] [RUNS (3)] [AGENT [BARE]]
 *
 * AGENT and BARE default to ../zos-agent and ./bench_bare next to this
 * program. Needs root (the provisioners make the zmount files as the agent
 * does). Everything happens in a temporary directory, removed at the end.
 *
 * Two state directories are prepared with agent/store.h and the zmount
 * provisioner directly: one empty, one with N one-zmount deployments in
 * state deployed (workload ok with its provision result, a sparse 16 MiB
 * disk file, the deployed outbox item done), as the engine leaves them.
 * Both remember a registration (node twin 1, node 1) for the agent's
 * identity, so the deploy engine starts and restores at once although the
 * configured chain URL is a loopback port nobody listens on: that is what
 * an agent restarted during a chain outage does.
 *
 * Each run starts the real `zos-agent -d` with NOTIFY_SOCKET pointing at a
 * datagram socket of this program and measures: exec to READY=1; exec to
 * the engine's start (its "restoring N deployments" line in the log: the
 * engine starts from the daemon's first tick after READY); exec to the end
 * of the restore (the agent's CPU time, in ticks, stops growing for 1.5 s);
 * then
 * VmRSS, RssAnon, RssFile from /proc/PID/status. The floor is bench_bare
 * measured the same way (exec to READY, memory) in the same round; and the
 * store alone: store_open + store_stats + store_dep_ids on the N store, in
 * this process (what the engine reads before queueing the restore).
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "agent/store.h"
#include "bench/deploy_floor.h"
#include "common/key.h"
#include "common/log.h"
#include "common/seal.h"
#include "common/zerr.h"
#include "provisioners/prov.h"

extern char **environ;

#define MAX_RUNS 20
#define READY_TIMEOUT_MS 60000
#define SETTLE_MS 1500
#define RESTORE_TIMEOUT_MS 300000
#define ENGINE_TIMEOUT_MS 30000
#define IDLE_WAIT_MS 3000
#define ZMOUNT_SIZE 16777216ull

static char tmp_root[PATH_MAX];

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int path_fmt(char *out, size_t outsz, const char *a, const char *b)
{
	int n = snprintf(out, outsz, "%s/%s", a, b);
	return n > 0 && (size_t)n < outsz ? 0 : -ENAMETOOLONG;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	remove(p); /* best effort: a leftover is reported by nothing */
	return 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t al = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* The registration tag node_register.c keeps for an identity. */
static int64_t account_tag(const uint8_t account[32])
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | account[i];
	return (int64_t)(v >> 1);
}

/* ---- preparing a state directory ---- */

static int write_conf(const char *dir, const char *state, char *conf, size_t confsz)
{
	int cport = free_port(), rport = free_port();
	if (cport < 0 || rport < 0 || path_fmt(conf, confsz, dir, "agent.conf") < 0)
		return -1;
	FILE *f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"[chain]\nurl = http://127.0.0.1:%d\nrpc_timeout = 2\n"
		"[rmb]\nlisten = tcp://127.0.0.1:%d\nlisten = ipc://%s/rmb.sock\n"
		"public_address = tcp://127.0.0.1:%d\n"
		"[node]\nstate_dir = %s\nfarm_id = 1\nreport_interval = 3600\nsync_interval = 3600\n"
		"[storage]\nallow_unenforced_volumes = true\n"
		"[reserved]\ncru = 0\nmru = 0\nsru = 0\nhru = 0\n",
		cport, rport, dir, rport, state);
	return fclose(f) == 0 ? 0 : -1;
}

static int outbox_done_all(struct store *s)
{
	struct store_outbox *items;
	size_t n;
	int rc = store_outbox_due(s, INT64_MAX, 1000, &items, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		if ((rc = store_outbox_sending(s, items[i].id)) == 0)
			rc = store_outbox_done(s, items[i].id, "ok");
	store_outbox_free(items, n);
	return rc;
}

/* One deployment as the engine leaves it once Deployed. */
static int fill_one(struct store *s, struct prov_ctx *prov, const struct prov_ops *zm,
		    uint64_t cid)
{
	char doc[512], spec[64], err[256];
	uint32_t twin = 100 + (uint32_t)(cid % 64);
	int dl = floor_doc(twin, (unsigned)cid, doc, sizeof doc);
	snprintf(spec, sizeof spec, "{\"size\":%llu}", (unsigned long long)ZMOUNT_SIZE);
	cJSON *data = cJSON_Parse(spec);
	if (dl < 0 || !data)
		return -ENOMEM;
	struct store_dep d;
	struct store_wl w;
	memset(&d, 0, sizeof d);
	memset(&w, 0, sizeof w);
	d.contract_id = cid;
	d.twin_id = twin;
	d.state = STORE_DEP_DEPLOYING;
	seal_hash(doc, (size_t)dl, d.hash);
	d.doc = doc;
	d.created = d.updated = time(NULL);
	snprintf(w.name, sizeof w.name, "disk1");
	snprintf(w.type, sizeof w.type, "zmount");
	w.state = STORE_WL_INIT;
	w.spec = spec;
	int rc = zm->validate(data, &w.cap, err, sizeof err);
	d.cap = w.cap;
	cJSON *result = NULL;
	struct prov_workload_id id = {.twin_id = twin, .contract_id = cid};
	snprintf(id.name, sizeof id.name, "disk1");
	if (rc == 0)
		rc = store_dep_insert(s, &d, &w, 1);
	if (rc == 0 && (rc = zm->provision(prov, &id, data, NULL, &result, err, sizeof err)) < 0)
		fprintf(stderr, "zmount %" PRIu64 ": %s\n", cid, err);
	char *res = result ? cJSON_PrintUnformatted(result) : NULL;
	if (rc == 0)
		rc = res ? store_wl_set(s, cid, "disk1", STORE_WL_OK, res, "provisioned") : -ENOMEM;
	if (rc == 0)
		rc = store_dep_set_state(s, cid, STORE_DEP_DEPLOYED, NULL);
	char key[STORE_KEY_MAX];
	snprintf(key, sizeof key, "deployed:%" PRIu64, cid);
	int added;
	if (rc == 0)
		rc = store_outbox_add(s, "deployed", cid, key, "{}", &added);
	free(res);
	cJSON_Delete(result);
	cJSON_Delete(data);
	return rc;
}

/* dir/state with n deployments and a remembered registration. */
static int prepare(const char *dir, unsigned n, char *conf, size_t confsz, double *fill_s)
{
	char state[PATH_MAX], seed[PATH_MAX], vol[PATH_MAX], img[PATH_MAX], run[PATH_MAX];
	if (mkdir(dir, 0700) < 0 || path_fmt(state, sizeof state, dir, "state") < 0 ||
	    mkdir(state, 0700) < 0 || path_fmt(seed, sizeof seed, state, "identity.seed") < 0 ||
	    path_fmt(vol, sizeof vol, state, "volumes") < 0 ||
	    path_fmt(img, sizeof img, state, "images") < 0 ||
	    path_fmt(run, sizeof run, state, "containers") < 0)
		return -1;
	if (write_conf(dir, state, conf, confsz) < 0)
		return -1;
	struct zkey k;
	int created;
	int rc = key_load_or_create(seed, &k, &created);
	if (rc < 0)
		return rc;
	int64_t tag = account_tag(k.pk);
	key_wipe(&k);

	struct prov_config pc = {.storage_dir = vol, .image_dir = img, .run_dir = run,
				 .cgroup_parent = "zos", .allow_unenforced_volumes = 1};
	struct prov_ctx *prov = NULL;
	struct store *s = NULL;
	const struct prov_ops *zm = prov_lookup("zmount");
	double t0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
	if (!zm || (rc = prov_ctx_new(&pc, &prov)) < 0 ||
	    (rc = store_open(state, STORE_OPEN_FAST, &s)) < 0)
		goto out;
	for (unsigned i = 0; i < n && rc == 0; i += 500) {
		if ((rc = store_begin(s)) < 0)
			break;
		for (unsigned j = i; j < n && j < i + 500 && rc == 0; j++)
			rc = fill_one(s, prov, zm, 1000 + (uint64_t)j);
		if (rc == 0)
			rc = outbox_done_all(s);
		if (rc == 0)
			rc = store_commit(s);
		else
			store_rollback(s);
	}
	if (rc == 0 && (rc = store_begin(s)) == 0) {
		if ((rc = store_cursor_set(s, "node:account", tag)) == 0 &&
		    (rc = store_cursor_set(s, "node:twin", 1)) == 0 &&
		    (rc = store_cursor_set(s, "node:id", 1)) == 0)
			rc = store_commit(s);
		else
			store_rollback(s);
	}
	*fill_s = ((clk_seconds(CLOCK_MONOTONIC) * 1e3) - t0) / 1000.0;
out:
	store_close(s);
	prov_ctx_free(prov);
	if (rc < 0)
		fprintf(stderr, "preparing %s: %s\n", dir, zerr_str(rc));
	return rc;
}

/* ---- running a program and watching it ---- */

struct mem {
	long rss_kb, anon_kb, file_kb;
};

static int read_mem(pid_t pid, struct mem *m)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	memset(m, 0, sizeof *m);
	while (fgets(line, sizeof line, f)) {
		long *dst = !strncmp(line, "VmRSS:", 6)      ? &m->rss_kb
			    : !strncmp(line, "RssAnon:", 8) ? &m->anon_kb
			    : !strncmp(line, "RssFile:", 8) ? &m->file_kb
							    : NULL;
		if (dst)
			*dst = strtol(strchr(line, ':') + 1, NULL, 10);
	}
	fclose(f);
	return 0;
}

/* utime + stime in clock ticks, -1 when gone. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* Fields after ")": state(3) ... utime(14) stime(15). */
	p += 2;
	for (int field = 3; field < 14 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	char *end;
	long long u = strtoll(p, &end, 10);
	long long s = strtoll(end, NULL, 10);
	return u + s;
}

static int notify_socket(const char *dir, char *path, size_t pathsz)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (path_fmt(path, pathsz, dir, "notify.sock") < 0 || strlen(path) >= sizeof a.sun_path)
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits for READY=1 on fd; 0 or -1 on timeout or when the child died. */
static int wait_ready(int fd, pid_t pid, int timeout_ms)
{
	int64_t end = clk_mono_ms() + timeout_ms;
	char buf[4096];
	while (clk_mono_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, 100);
		if (r > 0) {
			ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
			if (n > 0) {
				buf[n] = '\0';
				if (strstr(buf, "READY=1"))
					return 0;
			}
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
	}
	return -1;
}

static pid_t spawn(char *const argv[], const char *notify, const char *logpath)
{
	size_t ne = 0;
	while (environ[ne])
		ne++;
	char **envp = calloc(ne + 2, sizeof *envp);
	char nv[PATH_MAX + 32];
	if (!envp)
		return -1;
	size_t j = 0;
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
			envp[j++] = environ[i];
	snprintf(nv, sizeof nv, "NOTIFY_SOCKET=%s", notify);
	envp[j++] = nv;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	return rc == 0 ? pid : -1;
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		sleep_ms(100);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int log_has(const char *logpath, const char *needle)
{
	FILE *f = fopen(logpath, "r");
	char line[1024];
	int found = 0;
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

struct result {
	double ready_ms;   /* exec to READY */
	double restore_ms; /* exec to CPU quiet after "restoring"; -1 unknown */
	double engine_ms;  /* exec to the "restoring" line seen in the log */
	struct mem m;
};

/* Starts prog, measures, stops it. restore: wait for the restore to end. */
static int measure(char *const argv[], const char *dir, int restore, struct result *r)
{
	char notify[PATH_MAX], logpath[PATH_MAX];
	int fd = notify_socket(dir, notify, sizeof notify);
	if (fd < 0 || path_fmt(logpath, sizeof logpath, dir, "run.log") < 0)
		return -1;
	truncate(logpath, 0);
	double t0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
	pid_t pid = spawn(argv, notify, logpath);
	if (pid < 0) {
		close(fd);
		return -1;
	}
	int rc = wait_ready(fd, pid, READY_TIMEOUT_MS);
	r->ready_ms = (clk_seconds(CLOCK_MONOTONIC) * 1e3) - t0;
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "%s: no READY within %d ms (log %s)\n", argv[0], READY_TIMEOUT_MS,
			logpath);
		stop(pid);
		return -1;
	}
	r->restore_ms = r->engine_ms = -1;
	if (restore) {
		/* The engine starts from the first tick after READY. */
		int64_t end = clk_mono_ms() + ENGINE_TIMEOUT_MS;
		while (!log_has(logpath, "restoring ") && clk_mono_ms() < end)
			sleep_ms(50);
		if (clk_mono_ms() >= end) {
			/* The registration cursors this bench writes mirror
			 * node_register.c's; if they change the engine waits
			 * for the chain. */
			fprintf(stderr, "the engine did not start within %d ms (log %s)\n",
				ENGINE_TIMEOUT_MS, logpath);
			stop(pid);
			return -1;
		}
		r->engine_ms = (clk_seconds(CLOCK_MONOTONIC) * 1e3) - t0;
		end = clk_mono_ms() + RESTORE_TIMEOUT_MS;
		long long last = cpu_ticks(pid);
		double changed = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
		while (clk_mono_ms() < end && (clk_seconds(CLOCK_MONOTONIC) * 1e3) - changed < SETTLE_MS) {
			sleep_ms(50);
			long long c = cpu_ticks(pid);
			if (c < 0)
				break;
			if (c != last) {
				last = c;
				changed = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
			}
		}
		r->restore_ms = changed - t0;
	} else {
		sleep_ms(IDLE_WAIT_MS);
	}
	rc = read_mem(pid, &r->m);
	stop(pid);
	return rc;
}

/* What the engine reads from the store before it queues the restore. */
static int store_start_ms(const char *state, double *ms)
{
	struct store *s;
	struct store_stats st;
	uint64_t *ids = NULL;
	size_t n = 0;
	double t0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
	int rc = store_open(state, 0, &s);
	if (rc < 0)
		return rc;
	if ((rc = store_stats(s, 0, &st)) == 0)
		rc = store_dep_ids(s, &ids, &n);
	free(ids);
	store_close(s);
	*ms = (clk_seconds(CLOCK_MONOTONIC) * 1e3) - t0;
	return rc;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_d);
	return n ? v[n / 2] : 0;
}

int main(int argc, char **argv)
{
	unsigned ndep = 10000, runs = 3;
	char agent[PATH_MAX], bare[PATH_MAX], self[PATH_MAX];
	if ((argc > 1 && parse_uint(argv[1], 1000000, &ndep) < 0) ||
	    (argc > 2 && (parse_uint(argv[2], MAX_RUNS, &runs) < 0 || runs == 0)) || argc > 5) {
		fprintf(stderr, "usage: bench_agent_mem [DEPLOYMENTS (10000)] [RUNS (3)] [AGENT [BARE]]\n");
		return 2;
	}
	if (geteuid() != 0) {
		printf("skipped: needs root (the zmount provisioner and the agent's provisioners)\n");
		return 77;
	}
	snprintf(self, sizeof self, "%s", argv[0]);
	char *slash = strrchr(self, '/');
	const char *bdir = slash ? (*slash = '\0', self) : ".";
	if (path_fmt(agent, sizeof agent, bdir, "../zos-agent") < 0 ||
	    path_fmt(bare, sizeof bare, bdir, "bench_bare") < 0)
		return 2;
	if (argc > 3)
		snprintf(agent, sizeof agent, "%s", argv[3]);
	if (argc > 4)
		snprintf(bare, sizeof bare, "%s", argv[4]);
	if (access(agent, X_OK) != 0 || access(bare, X_OK) != 0) {
		fprintf(stderr, "missing %s or %s (make bench)\n", agent, bare);
		return 1;
	}
	if (sodium_init() < 0)
		return 1;
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "bench_agent_mem");

	snprintf(tmp_root, sizeof tmp_root, "/tmp/bench-agent-mem.XXXXXX");
	if (!mkdtemp(tmp_root))
		return 1;
	char d_idle[PATH_MAX], d_full[PATH_MAX], d_bare[PATH_MAX], c_idle[PATH_MAX],
		c_full[PATH_MAX], st_full[PATH_MAX];
	double fill_idle, fill_full;
	int ret = 1;
	if (path_fmt(d_idle, sizeof d_idle, tmp_root, "idle") < 0 ||
	    path_fmt(d_full, sizeof d_full, tmp_root, "full") < 0 ||
	    path_fmt(d_bare, sizeof d_bare, tmp_root, "bare") < 0 ||
	    path_fmt(st_full, sizeof st_full, d_full, "state") < 0 || mkdir(d_bare, 0700) < 0)
		goto out;
	printf("preparing: an empty store and one with %u one-zmount deployments in %s\n", ndep,
	       tmp_root);
	fflush(stdout);
	if (prepare(d_idle, 0, c_idle, sizeof c_idle, &fill_idle) < 0 ||
	    prepare(d_full, ndep, c_full, sizeof c_full, &fill_full) < 0)
		goto out;
	printf("filled %u deployments in %.1f s\n\n", ndep, fill_full);
	printf("%-4s | %-22s | %-40s | %-20s | %s\n", "run", "agent idle: READY RSS",
	       "agent with N: READY engine restored RSS", "bare: READY RSS", "store open+ids");
	printf("%-4s | %-22s | %-40s | %-20s | %s\n", "", "ms  MiB (RssAnon)", "ms ms ms  MiB (RssAnon)",
	       "ms  MiB (RssAnon)", "ms");

	double v[8][MAX_RUNS];
	for (unsigned i = 0; i < runs; i++) {
		struct result ri, rf, rb;
		double sms = 0;
		char *aidle[] = {agent, "-d", "-f", c_idle, NULL};
		char *afull[] = {agent, "-d", "-f", c_full, NULL};
		char *abare[] = {bare, "30", NULL};
		if (measure(abare, d_bare, 0, &rb) < 0 || measure(aidle, d_idle, 0, &ri) < 0 ||
		    measure(afull, d_full, 1, &rf) < 0 || store_start_ms(st_full, &sms) < 0)
			goto out;
		printf("%-4u | %4.0f %5.1f (%4.2f)     | %4.0f %5.0f %5.0f %5.1f (%5.2f)      | %4.0f %5.1f (%4.2f) | %.0f\n",
		       i + 1, ri.ready_ms, ri.m.rss_kb / 1024.0, ri.m.anon_kb / 1024.0, rf.ready_ms,
		       rf.engine_ms, rf.restore_ms, rf.m.rss_kb / 1024.0, rf.m.anon_kb / 1024.0, rb.ready_ms,
		       rb.m.rss_kb / 1024.0, rb.m.anon_kb / 1024.0, sms);
		fflush(stdout);
		v[0][i] = ri.ready_ms;
		v[1][i] = ri.m.anon_kb / 1024.0;
		v[2][i] = ri.m.rss_kb / 1024.0;
		v[3][i] = rf.ready_ms;
		v[4][i] = rf.restore_ms;
		v[5][i] = rf.m.anon_kb / 1024.0;
		v[6][i] = rf.m.rss_kb / 1024.0;
		v[7][i] = rb.m.rss_kb / 1024.0;
	}
	printf("\nmedians: idle READY %.0f ms, RssAnon %.2f MiB (RSS %.1f); with %u: READY %.0f ms, "
	       "restored %.0f ms, RssAnon %.2f MiB (RSS %.1f); bare RSS %.1f MiB\n",
	       median(v[0], runs), median(v[1], runs), median(v[2], runs), ndep, median(v[3], runs),
	       median(v[4], runs), median(v[5], runs), median(v[6], runs), median(v[7], runs));
	ret = 0;
out:
	/* BENCH_KEEP=1 keeps the directory (and the agents' logs) for reading. */
	if (getenv("BENCH_KEEP"))
		printf("kept %s\n", tmp_root);
	else
		nftw(tmp_root, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	return ret;
}
