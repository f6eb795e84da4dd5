/* container: containers run by the OCI runtime in a user namespace, under a
 * supervisor that survives the agent. Needs root, namespaces, cgroups, loop
 * devices, idmapped mounts and a working runtime (skipped with the reason
 * otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

#include "tests/provisioners/prov_test.h"
#include "provisioners/prov_container.h"

static struct fixture F;
static const struct prov_ops *Z;
static int ready;

static int setup(void **st)
{
	Z = prov_lookup("container");
	return Z ? fixture_open_containers(&F, &ready) : -1;
}

static int teardown(void **st)
{
	fixture_close(&F);
	return 0;
}

#define NEED_CONTAINERS() SKIP_UNLESS(ready, "containers need root, namespaces, cgroups and ip(8)")

static void paths(const struct prov_workload_id *id, char *dir, size_t n)
{
	char host[PROV_HOST_MAX];
	prov_host_name(id, host);
	snprintf(dir, n, "%s/containers/%s", F.run, host);
}

static void log_path(const struct prov_workload_id *id, char *out, size_t n)
{
	char dir[400];
	paths(id, dir, sizeof dir);
	snprintf(out, n, "%s/log", dir);
}

static cJSON *machine(const char *entry_json, unsigned mem_mib, const char *extra)
{
	char buf[4096];
	snprintf(
	    buf, sizeof buf,
	    "{\"image\": \"busybox\", \"entrypoint\": %s, \"env\": {\"GREETING\": \"hi there\"},"
	    " \"compute_capacity\": {\"cpu\": 1, \"memory\": %u}%s}",
	    entry_json, mem_mib << 20, extra ? extra : "");
	return json(buf);
}

/* Everything that names the workload on the host is gone. */
static void assert_nothing_left(const struct prov_workload_id *id, const struct prov_cg *cg)
{
	char dir[400], host[PROV_HOST_MAX];
	paths(id, dir, sizeof dir);
	prov_host_name(id, host);
	assert_int_equal(access(dir, F_OK), -1);
	assert_false(prov_netns_exists(host));
	for (int i = 0; i < PROV_CG_N; i++)
		if (cg->path[i][0])
			assert_int_equal(access(cg->path[i], F_OK), -1);
	enum prov_health h;
	char err[256];
	assert_int_equal(Z->inspect(F.ctx, id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
}

static int cg_has(const char *dir, const char *file, const char *want)
{
	char p[700], buf[256];
	snprintf(p, sizeof p, "%s/%s", dir, file);
	if (prov_read_file(p, buf, sizeof buf, NULL) < 0)
		return 0;
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want) != 0)
		print_message("%s: '%s', want '%s'\n", p, buf, want);
	return strcmp(buf, want) == 0;
}

static void lifecycle(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "", logf[512], dir[400];
	struct prov_workload_id id = test_id(7, 1, "vm1");
	cJSON *d = machine("[\"/bin/sh\", \"-c\", \"echo hello $GREETING; hostname; "
	                   "echo procs $(ls /proc | grep -c '^[0-9]'); ls /dev; exec sleep 1000\"]",
	                   256, NULL);
	struct prov_capacity cap;
	assert_int_equal(Z->validate(d, &cap, err, sizeof err), 0);
	assert_int_equal(cap.cru, 1);
	assert_int_equal(cap.mru, 256u << 20);
	cJSON *res = NULL;
	track(Z, &id);
	int rc = Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err);
	if (rc)
		print_message("provision: %s\n", err);
	assert_int_equal(rc, 0);
	log_path(&id, logf, sizeof logf);
	paths(&id, dir, sizeof dir);
	assert_true(wait_for_text(logf, "hello hi there", 5000));
	char host[PROV_HOST_MAX];
	prov_host_name(&id, host);
	assert_true(wait_for_text(logf, host, 5000));
	/* Its own pid namespace: sh, the $(...) subshell, ls and grep at most. */
	assert_true(wait_for_text(logf, "procs ", 5000));
	static char text[16384];
	assert_int_equal(prov_read_file(logf, text, sizeof text, NULL), 0);
	const char *pc = strstr(text, "procs ");
	assert_non_null(pc);
	long nprocs = strtol(pc + 6, NULL, 10);
	if (nprocs < 1 || nprocs > 5)
		dump_file(logf);
	assert_in_range(nprocs, 1, 5);
	/* Only the device nodes the init made, nothing of the host's /dev. */
	assert_null(strstr(text, "loop"));
	assert_null(strstr(text, "vda"));
	assert_null(strstr(text, "kmsg"));
	enum prov_health h;
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	struct prov_usage u;
	assert_int_equal(Z->usage(F.ctx, &id, &u, err, sizeof err), 0);
	assert_true(u.cpu_ns > 0);
	assert_true(u.mem_bytes > 0);

	assert_int_equal(Z->pause(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_PAUSED);
	assert_int_equal(Z->resume(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);

	/* Same spec: no change (same container pid); other spec: refused. */
	pid_t before, after;
	assert_int_equal(prov_ct_alive(dir, "container.pid", &before), 1);
	cJSON *res2 = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res2, err, sizeof err), 0);
	cJSON_Delete(res2);
	assert_int_equal(prov_ct_alive(dir, "container.pid", &after), 1);
	assert_int_equal(before, after);
	cJSON *d2 = machine("[\"sleep\", \"5\"]", 256, NULL);
	res2 = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d2, NULL, &res2, err, sizeof err), ZE_STATE);
	assert_null(res2);
	cJSON_Delete(d2);

	struct prov_cg cg;
	char cgf[512];
	snprintf(cgf, sizeof cgf, "%s/cgroups", dir);
	assert_int_equal(prov_cg_load(&cg, cgf), 0);
	/* The kernel holds the limits: 1 cpu of quota, 256 MiB, 1024 tasks. */
	if (cg.v2) {
		assert_true(cg_has(cg.path[0], "cpu.max", "100000 100000"));
		assert_true(cg_has(cg.path[0], "memory.max", "268435456"));
		assert_true(cg_has(cg.path[0], "pids.max", "1024"));
	} else {
		assert_true(cg_has(cg.path[PROV_CG_CPU], "cpu.cfs_quota_us", "100000"));
		assert_true(cg_has(cg.path[PROV_CG_MEMORY], "memory.limit_in_bytes", "268435456"));
		assert_true(cg_has(cg.path[PROV_CG_PIDS], "pids.max", "1024"));
	}
	/* The container's processes are in them. */
	char procs[600], buf[256];
	snprintf(procs, sizeof procs, "%s/cgroup.procs",
	         cg.v2 ? cg.path[0] : cg.path[PROV_CG_MEMORY]);
	assert_int_equal(prov_read_file(procs, buf, sizeof buf, NULL), 0);
	assert_int_equal(strtol(buf, NULL, 10), after);
	/* Pause, then deprovision: a frozen container still goes away. */
	assert_int_equal(Z->pause(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(kill(after, 0), -1);
	assert_nothing_left(&id, &cg);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
	cJSON_Delete(res);
	cJSON_Delete(d);
}

/* Writes a script's output and waits for a marker line. */
static int run_and_wait(const struct prov_workload_id *id, const char *script, unsigned mem_mib,
                        const char *extra, const struct prov_deployment_view *deps,
                        const char *marker, long timeout_ms, char *err, size_t errsz)
{
	char entry[2048], logf[512];
	cJSON *arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, cJSON_CreateString("/bin/sh"));
	cJSON_AddItemToArray(arr, cJSON_CreateString("-c"));
	cJSON_AddItemToArray(arr, cJSON_CreateString(script));
	char *a = cJSON_PrintUnformatted(arr);
	snprintf(entry, sizeof entry, "%s", a);
	free(a);
	cJSON_Delete(arr);
	cJSON *d = machine(entry, mem_mib, extra);
	cJSON *res = NULL;
	track(Z, id);
	int rc = Z->provision(F.ctx, id, d, deps, &res, err, errsz);
	cJSON_Delete(d);
	cJSON_Delete(res);
	if (rc < 0)
		return rc;
	log_path(id, logf, sizeof logf);
	if (!wait_for_text(logf, marker, timeout_ms)) {
		dump_file(logf);
		return -ETIMEDOUT;
	}
	return 0;
}

/* 1 cpu / 64 MiB: allocating 200 MiB is killed by the OOM killer inside the
 * container's cgroup; the test process (the "host") is untouched. */
static void memory_limit(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "", logf[512], dir[400];
	struct prov_workload_id id = test_id(7, 2, "oom");
	int rc = run_and_wait(&id,
	                      "echo start; head -c 209715200 /dev/zero | tail > /dev/null; "
	                      "echo status $?; exec sleep 1000",
	                      64, NULL, NULL, "status ", 30000, err, sizeof err);
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	log_path(&id, logf, sizeof logf);
	/* tail was killed by SIGKILL: the shell reports 128 + 9. */
	assert_true(wait_for_text(logf, "status 137", 100));
	paths(&id, dir, sizeof dir);
	char cgf[512], buf[1024], p[600];
	snprintf(cgf, sizeof cgf, "%s/cgroups", dir);
	struct prov_cg cg;
	assert_int_equal(prov_cg_load(&cg, cgf), 0);
	if (cg.v2) {
		snprintf(p, sizeof p, "%s/memory.events", cg.path[0]);
		assert_int_equal(prov_read_file(p, buf, sizeof buf, NULL), 0);
		const char *k = strstr(buf, "oom_kill ");
		assert_non_null(k);
		assert_true(strtol(k + 9, NULL, 10) >= 1);
	} else {
		snprintf(p, sizeof p, "%s/memory.oom_control", cg.path[PROV_CG_MEMORY]);
		assert_int_equal(prov_read_file(p, buf, sizeof buf, NULL), 0);
		const char *k = strstr(buf, "oom_kill ");
		assert_non_null(k);
		assert_true(strtol(k + 9, NULL, 10) >= 1);
	}
	/* The container itself keeps running: only the hog died. */
	enum prov_health h;
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
}

/* The container's root is the image: host paths, host devices and the
 * capabilities to get at them are out of reach. */
static void no_way_out(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "", logf[512], marker[512], script[2048];
	snprintf(marker, sizeof marker, "%s/host-secret", F.root);
	FILE *m = fopen(marker, "w");
	assert_non_null(m);
	fputs("secret\n", m);
	fclose(m);
	struct prov_workload_id id = test_id(7, 3, "jail");
	snprintf(script, sizeof script,
	         "test -e %s && echo SEE_HOST_FILE; "
	         "ls / | grep -q '^work$' && echo SEE_HOST_ROOT; "
	         "busybox mknod /tmp/disk b 254 0 2>/dev/null && echo MKNOD_ALLOWED; "
	         "busybox mount -t tmpfs x /mnt 2>/dev/null && echo MOUNT_ALLOWED; "
	         "echo 1 > /proc/sys/kernel/panic 2>/dev/null && echo PROC_SYS_WRITABLE; "
	         "echo c > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ; "
	         "ip link add v0 type veth peer name v1 2>/dev/null && echo NET_ADMIN; "
	         "busybox unshare -U -r true 2>/dev/null && echo USERNS_ALLOWED; "
	         "busybox unshare -m true 2>/dev/null && echo UNSHARE_ALLOWED; "
	         "busybox sh -c 'echo threads-ok' | grep -q threads-ok && echo FORK_WORKS; "
	         "cd /..; cd ..; test -e %s && echo ESCAPED_BY_DOTDOT; "
	         "echo checks done; exec sleep 1000",
	         marker, marker);
	int rc = run_and_wait(&id, script, 64, NULL, NULL, "checks done", 15000, err, sizeof err);
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	log_path(&id, logf, sizeof logf);
	static char text[16384];
	assert_int_equal(prov_read_file(logf, text, sizeof text, NULL), 0);
	static const char *const bad[] = {"SEE_HOST_FILE",  "SEE_HOST_ROOT",     "MKNOD_ALLOWED",
	                                  "MOUNT_ALLOWED",  "PROC_SYS_WRITABLE", "SYSRQ",
	                                  "NET_ADMIN",      "ESCAPED_BY_DOTDOT", "USERNS_ALLOWED",
	                                  "UNSHARE_ALLOWED"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (strstr(text, bad[i]))
			dump_file(logf);
		assert_null(strstr(text, bad[i]));
	}
	/* The filter leaves ordinary process creation alone. */
	assert_non_null(strstr(text, "FORK_WORKS"));
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
}

/* A missing image or program: a clear error and nothing left behind. */
static void failed_start_cleans_up(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "";
	struct prov_workload_id id = test_id(7, 4, "noimg");
	struct prov_cg cg;
	char host[PROV_HOST_MAX];
	prov_host_name(&id, host);
	prov_cg_paths(F.ctx, host, &cg);
	cJSON *d = json("{\"image\": \"nosuchimage\", \"entrypoint\": \"sleep 1\","
	                " \"compute_capacity\": {\"cpu\": 1, \"memory\": 67108864}}");
	cJSON *res = NULL;
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "nosuchimage"));
	assert_null(res);
	assert_nothing_left(&id, &cg);
	cJSON_Delete(d);

	d = json("{\"image\": \"busybox\", \"entrypoint\": [\"/bin/nonexistent\", \"x\"],"
	         " \"compute_capacity\": {\"cpu\": 1, \"memory\": 67108864}}");
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "nonexistent"));
	assert_null(res);
	assert_nothing_left(&id, &cg);

	/* A mount that is not in the deployment. */
	cJSON_Delete(d);
	d = json("{\"image\": \"busybox\", \"entrypoint\": \"sleep 100\","
	         " \"compute_capacity\": {\"cpu\": 1, \"memory\": 67108864},"
	         " \"mounts\": [{\"name\": \"ghost\", \"mountpoint\": \"/data\"}]}");
	assert_int_equal(Z->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "ghost"));
	assert_nothing_left(&id, &cg);
	cJSON_Delete(d);
}

static pid_t container_pid(const struct prov_workload_id *id)
{
	char dir[400];
	paths(id, dir, sizeof dir);
	pid_t pid = 0;
	if (prov_ct_alive(dir, "container.pid", &pid) != 1)
		return 0;
	return pid;
}

/* A killed container is restarted by its supervisor. */
static void restarted_after_kill(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "";
	struct prov_workload_id id = test_id(7, 5, "phoenix");
	assert_int_equal(run_and_wait(&id, "echo up; exec sleep 1000", 64, NULL, NULL, "up", 10000,
	                              err, sizeof err),
	                 0);
	pid_t first = container_pid(&id);
	assert_true(first > 0);
	assert_int_equal(kill(first, SIGKILL), 0);
	pid_t next = 0;
	for (int i = 0; i < 100 && (next == 0 || next == first); i++) {
		sleep_ms(100);
		next = container_pid(&id);
	}
	assert_true(next > 0 && next != first);
	char logf[512];
	log_path(&id, logf, sizeof logf);
	assert_true(wait_for_text(logf, "killed by signal 9", 1000));
	enum prov_health h;
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
}

/* kill -9 of the agent: a child process plays the agent, provisions and is
 * killed; the workload keeps running and a new context adopts it. */
static void survives_agent_kill(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "";
	struct prov_workload_id id = test_id(7, 6, "orphan");
	track(Z, &id);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t agent = fork();
	assert_true(agent >= 0);
	if (agent == 0) {
		close(p[0]);
		cJSON *d = machine("\"sleep 1000\"", 64, NULL);
		cJSON *res = NULL;
		char e[256];
		int rc = Z->provision(F.ctx, &id, d, NULL, &res, e, sizeof e);
		(void)!write(p[1], rc == 0 ? "k" : "f", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(c, 'k');
	pid_t before = container_pid(&id);
	assert_true(before > 0);
	assert_int_equal(kill(agent, SIGKILL), 0);
	assert_int_equal(waitpid(agent, NULL, 0), agent);
	sleep_ms(300);

	/* A new "agent": fresh context, inspect adopts without touching. */
	struct prov_config cfg = {.storage_dir = F.storage,
	                          .image_dir = F.images,
	                          .run_dir = F.run,
	                          .cgroup_parent = F.cgparent};
	struct prov_ctx *ctx;
	assert_int_equal(prov_ctx_new(&cfg, &ctx), 0);
	enum prov_health h;
	assert_int_equal(Z->inspect(ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	assert_int_equal(container_pid(&id), before);
	assert_int_equal(kill(before, 0), 0);
	assert_int_equal(Z->deprovision(ctx, &id, err, sizeof err), 0);
	assert_int_equal(Z->inspect(ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	prov_ctx_free(ctx);
}

/* A volume and a zmount of the same deployment, mounted into the container. */
static void mounts(void **st)
{
	NEED_CONTAINERS();
	if (!F.feat.loop) {
		printf("skipped: mounts need loop devices\n");
		skip();
	}
	char err[256] = "";
	const struct prov_ops *V = prov_lookup("volume"), *ZM = prov_lookup("zmount");
	struct prov_workload_id vid = test_id(7, 7, "data"), did = test_id(7, 7, "disk"),
	                        cid = test_id(7, 7, "app");
	cJSON *vd = json("{\"size\": 33554432}"), *dd = json("{\"size\": 33554432}"), *res = NULL;
	track(V, &vid);
	track(ZM, &did);
	assert_int_equal(V->provision(F.ctx, &vid, vd, NULL, &res, err, sizeof err), 0);
	char vpath[400];
	snprintf(vpath, sizeof vpath, "%s", cJSON_GetObjectItem(res, "path")->valuestring);
	cJSON_Delete(res);
	assert_int_equal(ZM->provision(F.ctx, &did, dd, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	const struct prov_dep_workload wl[] = {
	    {"data", "volume"}, {"disk", "zmount"}, {"app", "container"}};
	struct prov_deployment_view deps = {7, test_contract(7), 3, wl};
	int rc =
	    run_and_wait(&cid,
	                 "echo from-container > /data/hello && echo wrote-volume; "
	                 "dd if=/dev/zero of=/data/big bs=1M count=64 2>/dev/null; echo dd $?; "
	                 "echo x > /disk/f && echo wrote-disk; df /disk | tail -n 1; "
	                 "echo mounts done; exec sleep 1000",
	                 64,
	                 ", \"mounts\": [{\"name\": \"data\", \"mountpoint\": \"/data\"},"
	                 " {\"name\": \"disk\", \"mountpoint\": \"/disk\"}]",
	                 &deps, "mounts done", 20000, err, sizeof err);
	if (rc)
		print_message("%s\n", err);
	assert_int_equal(rc, 0);
	char logf[512], hello[512], buf[64];
	log_path(&cid, logf, sizeof logf);
	assert_true(wait_for_text(logf, "wrote-volume", 100));
	assert_true(wait_for_text(logf, "wrote-disk", 100));
	/* The volume refuses writes past its size from inside too. */
	assert_true(wait_for_text(logf, "dd 1", 100));
	snprintf(hello, sizeof hello, "%s/hello", vpath);
	assert_int_equal(prov_read_file(hello, buf, sizeof buf, NULL), 0);
	assert_string_equal(buf, "from-container\n");
	assert_int_equal(Z->deprovision(F.ctx, &cid, err, sizeof err), 0);
	/* The disk's loop device went with the container's mount namespace. */
	char img[512], dev[64];
	snprintf(img, sizeof img, "%s/zmounts/zos-%llu-disk.img", F.storage,
	         (unsigned long long)test_contract(7));
	for (int i = 0; i < 50 && prov_loop_find(img, dev, sizeof dev) == 0; i++)
		sleep_ms(100);
	assert_int_equal(prov_loop_find(img, dev, sizeof dev), -ENOENT);
	assert_int_equal(ZM->deprovision(F.ctx, &did, err, sizeof err), 0);
	assert_int_equal(V->deprovision(F.ctx, &vid, err, sizeof err), 0);
	cJSON_Delete(vd);
	cJSON_Delete(dd);
}

/* Output goes to <dir>/log, rotated at log_max_bytes (4 KiB here) keeping
 * log_keep (2) old files. */
static void log_rotation(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "", dir[400], p[512];
	struct prov_workload_id id = test_id(7, 8, "chatty");
	int rc = run_and_wait(&id,
	                      "i=0; while [ $i -lt 300 ]; do "
	                      "echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
	                      "i=$((i+1)); sleep 0.001; done; echo rotated-done; exec sleep 1000",
	                      64, NULL, NULL, "rotated-done", 20000, err, sizeof err);
	assert_int_equal(rc, 0);
	paths(&id, dir, sizeof dir);
	struct stat sb;
	snprintf(p, sizeof p, "%s/log", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(sb.st_size <= 2 * 4096);
	snprintf(p, sizeof p, "%s/log.1", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(sb.st_size > 0 && sb.st_size <= 2 * 4096);
	snprintf(p, sizeof p, "%s/log.2", dir);
	assert_int_equal(stat(p, &sb), 0);
	snprintf(p, sizeof p, "%s/log.3", dir);
	assert_int_equal(stat(p, &sb), -1);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
}

/* A crashing container paused during its backoff: the supervisor neither
 * restarts it into the frozen cgroup nor hangs, and it comes back on resume. */
static void pause_while_restarting(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "", logf[512], dir[400];
	struct prov_workload_id id = test_id(7, 9, "crashy");
	assert_int_equal(run_and_wait(&id,
	                              "if [ -e /tmp/ran ]; then echo again; exec sleep 1000; fi; "
	                              "touch /tmp/ran; echo run; sleep 0.2; exit 3",
	                              64, NULL, NULL, "run", 10000, err, sizeof err),
	                 0);
	log_path(&id, logf, sizeof logf);
	assert_true(wait_for_text(logf, "exited with status 3", 5000));
	assert_int_equal(Z->pause(F.ctx, &id, err, sizeof err), 0);
	sleep_ms(2500);
	paths(&id, dir, sizeof dir);
	pid_t pid;
	/* Frozen: no container process may have been started meanwhile. */
	assert_int_equal(prov_ct_alive(dir, "container.pid", &pid), 0);
	assert_int_equal(prov_ct_alive(dir, "supervisor.pid", &pid), 1);
	enum prov_health h;
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_DEGRADED);
	assert_int_equal(Z->resume(F.ctx, &id, err, sizeof err), 0);
	/* The second run finds its first run's file (the writable layer
	 * survives restarts) and stays up. */
	assert_true(wait_for_text(logf, "again", 10000));
	assert_int_equal(prov_ct_alive(dir, "container.pid", &pid), 1);
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(Z->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
}

/* The host uid of a process, from /proc/PID/status ("Uid: real ..."). */
static long host_uid(pid_t pid)
{
	char p[64], buf[4096];
	snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
	if (prov_read_file(p, buf, sizeof buf, NULL) < 0)
		return -1;
	const char *u = strstr(buf, "\nUid:");
	return u ? strtol(u + 5, NULL, 10) : -1;
}

static cJSON *image_machine(const char *image, const char *entry_json, const char *extra)
{
	char buf[2048];
	snprintf(buf, sizeof buf,
	         "{\"image\": \"%s\", \"entrypoint\": %s,"
	         " \"compute_capacity\": {\"cpu\": 1, \"memory\": 67108864}%s}",
	         image, entry_json, extra ? extra : "");
	return json(buf);
}

static int provision_wait(const struct prov_workload_id *id, cJSON *d, const char *marker,
                          char *err, size_t errsz)
{
	char logf[512];
	cJSON *res = NULL;
	track(Z, id);
	int rc = Z->provision(F.ctx, id, d, NULL, &res, err, errsz);
	cJSON_Delete(res);
	cJSON_Delete(d);
	if (rc < 0)
		return rc;
	log_path(id, logf, sizeof logf);
	if (!wait_for_text(logf, marker, 15000)) {
		dump_file(logf);
		return -ETIMEDOUT;
	}
	return 0;
}

/* Container root is root inside and an unprivileged id of the twin's range
 * outside; two twins get disjoint ranges, and a twin keeps its range in a
 * new context (agent restart). */
static void user_namespace(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "", logf[512];
	struct prov_workload_id a = test_id(7, 10, "usera"), b = test_id(8, 10, "userb");
	assert_int_equal(provision_wait(&a,
	                                image_machine("busybox",
	                                              "[\"/bin/sh\", \"-c\", \"echo uid=$(id -u); "
	                                              "exec sleep 1000\"]",
	                                              NULL),
	                                "uid=", err, sizeof err),
	                 0);
	log_path(&a, logf, sizeof logf);
	assert_true(wait_for_text(logf, "uid=0", 100));
	assert_int_equal(provision_wait(&b, image_machine("busybox", "\"sleep 1000\"", NULL),
	                                "container started", err, sizeof err),
	                 0);
	long ua = host_uid(container_pid(&a)), ub = host_uid(container_pid(&b));
	print_message("host uids: twin 7 %ld, twin 8 %ld\n", ua, ub);
	assert_true(ua > 0 && ub > 0);
	assert_true(labs(ua - ub) >= (long)PROV_CT_IDS);
	/* The files the container writes belong to its range on the host. */
	uint32_t base7 = 0, base7b = 0;
	assert_int_equal(prov_ct_twin_range(F.ctx, 7, &base7, err, sizeof err), 0);
	assert_int_equal((long)base7, ua);
	struct prov_config cfg = {.storage_dir = F.storage,
	                          .image_dir = F.images,
	                          .run_dir = F.run,
	                          .cgroup_parent = F.cgparent};
	struct prov_ctx *ctx;
	assert_int_equal(prov_ctx_new(&cfg, &ctx), 0);
	assert_int_equal(prov_ct_twin_range(ctx, 7, &base7b, err, sizeof err), 0);
	assert_int_equal(base7, base7b);
	prov_ctx_free(ctx);
	assert_int_equal(Z->deprovision(F.ctx, &a, err, sizeof err), 0);
	assert_int_equal(Z->deprovision(F.ctx, &b, err, sizeof err), 0);
}

/* A static probe inside the container tries what seccomp, capabilities and
 * the user namespace must refuse. */
static void probe_denied(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "", img[512], bin[600], cc[256], out[512];
	if (prov_which("cc", cc, sizeof cc) < 0) {
		printf("skipped: no C compiler for the probe\n");
		skip();
	}
	snprintf(img, sizeof img, "%s/probe", F.images);
	assert_int_equal(build_busybox_image(&F, "probe"), 0);
	snprintf(bin, sizeof bin, "%s/bin/ctprobe", img);
	const char *argv[] = {cc,  "-static", "-O1", "-o", bin, "tests/provisioners/ctprobe.c",
	                      NULL};
	if (prov_run(argv, out, sizeof out, 120000) < 0) {
		printf("skipped: cannot build a static probe: %s\n", out);
		skip();
	}
	struct prov_workload_id id = test_id(7, 11, "probe");
	assert_int_equal(provision_wait(&id, image_machine("probe", "\"/bin/ctprobe\"", NULL),
	                                "probe done", err, sizeof err),
	                 0);
	char logf[512];
	log_path(&id, logf, sizeof logf);
	static char text[16384];
	assert_int_equal(prov_read_file(logf, text, sizeof text, NULL), 0);
	static const char *const denied[] = {
	    "io_uring denied",     "raw_socket denied",    "packet_socket denied",
	    "unshare_user denied", "unshare_mount denied", "unshare_net denied",
	    "mount denied",        "keyctl denied",        "bpf denied",
	    "clone_newuts denied", "proc_sys_write denied"};
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		if (!strstr(text, denied[i]))
			dump_file(logf);
		assert_non_null(strstr(text, denied[i]));
	}
	assert_non_null(strstr(text, "fork ok"));
	assert_non_null(strstr(text, "uid 0"));
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
}

/* The writable layer holds "size" bytes and no more. */
static void writable_layer_limit(void **st)
{
	NEED_CONTAINERS();
	char err[256] = "", logf[512];
	struct prov_workload_id id = test_id(7, 12, "filler");
	assert_int_equal(
	    provision_wait(&id,
	                   image_machine("busybox",
	                                 "[\"/bin/sh\", \"-c\", \"dd if=/dev/zero of=/big bs=1M "
	                                 "count=64 2>/dev/null; echo dd=$?; echo x > /small && "
	                                 "echo small-ok; exec sleep 1000\"]",
	                                 ", \"size\": 33554432"),
	                   "dd=", err, sizeof err),
	    0);
	log_path(&id, logf, sizeof logf);
	assert_true(wait_for_text(logf, "dd=1", 100));
	struct prov_usage u;
	assert_int_equal(Z->usage(F.ctx, &id, &u, err, sizeof err), 0);
	assert_true(u.disk_bytes > (16u << 20) && u.disk_bytes <= (32u << 20));
	assert_int_equal(Z->deprovision(F.ctx, &id, err, sizeof err), 0);
}

static void hostile_data(void **st)
{
	static const char *const bad[] = {
	    "{}",
	    "{\"image\": \"../etc\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}}",
	    "{\"image\": \".hidden\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}}",
	    "{\"image\": \"a/b\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}}",
	    "{\"image\": \"busybox\", \"entrypoint\": [], \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}}",
	    "{\"image\": \"busybox\", \"entrypoint\": [1], \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 0, "
	    "\"memory\": 67108864}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 1024}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": "
	    "1000, \"memory\": 67108864}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"env\": {\"A=B\": \"x\"}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"env\": {\"A\": 5}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"env\": [\"A=B\"]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"mounts\": [{\"name\": \"v\", \"mountpoint\": \"data\"}]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"mounts\": [{\"name\": \"v\", \"mountpoint\": "
	    "\"/data/../../etc\"}]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"mounts\": [{\"name\": \"v\", \"mountpoint\": \"/\"}]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"mounts\": [{\"name\": \"v\", \"mountpoint\": "
	    "\"/proc/sys\"}]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"mounts\": [{\"name\": \"v\", \"mountpoint\": \"/dev\"}]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"mounts\": [{\"name\": \"v\", \"mountpoint\": \"/a//b\"}]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"mounts\": [{\"name\": \"../v\", \"mountpoint\": \"/a\"}]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"mounts\": [{\"name\": \"v\", \"mountpoint\": \"/a\"}, "
	    "{\"name\": \"w\", \"mountpoint\": \"/a\"}]}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"network\": {\"interfaces\": [{\"network\": \"n\", \"ip\": "
	    "\"10.0.0.300\"}]}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"network\": {\"interfaces\": [{\"network\": \"n;rm\", \"ip\": "
	    "\"10.0.0.3\"}]}}",
	    "{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 67108864}, \"privileged\": true}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[256] = "";
		struct prov_capacity cap;
		cJSON *d = json(bad[i]);
		int rc = Z->validate(d, &cap, err, sizeof err);
		if (rc != -EINVAL)
			print_message("accepted: %s\n", bad[i]);
		assert_int_equal(rc, -EINVAL);
		assert_true(err[0]);
		cJSON_Delete(d);
	}
	/* zos's switched-off extras are accepted; switched on they are refused. */
	char e2[256];
	struct prov_capacity c2;
	cJSON *zos = json("{\"image\": \"busybox\", \"entrypoint\": \"sh\", \"compute_capacity\": "
	                  "{\"cpu\": 1, \"memory\": 67108864},"
	                  " \"network\": {\"public_ip\": \"\", \"planetary\": false, \"mycelium\": "
	                  "null, \"interfaces\": []}}");
	assert_int_equal(Z->validate(zos, &c2, e2, sizeof e2), 0);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(zos, "network"), "planetary",
	                          cJSON_CreateTrue());
	assert_int_equal(Z->validate(zos, &c2, e2, sizeof e2), ZE_UNSUPPORTED);
	cJSON_Delete(zos);
	/* Too many arguments and an oversized env value. */
	cJSON *d = json(
	    "{\"image\": \"busybox\", \"compute_capacity\": {\"cpu\": 1, \"memory\": 67108864}}");
	cJSON *args = cJSON_AddArrayToObject(d, "entrypoint");
	for (int i = 0; i < PROV_CT_ARGS_MAX + 1; i++)
		cJSON_AddItemToArray(args, cJSON_CreateString("x"));
	char err[256];
	struct prov_capacity cap;
	assert_int_equal(Z->validate(d, &cap, err, sizeof err), -EINVAL);
	cJSON_DeleteItemFromObject(d, "entrypoint");
	cJSON_AddStringToObject(d, "entrypoint", "sh");
	char *big = malloc(8192);
	memset(big, 'a', 8191);
	big[8191] = '\0';
	cJSON *env = cJSON_AddObjectToObject(d, "env");
	cJSON_AddStringToObject(env, "BIG", big);
	assert_int_equal(Z->validate(d, &cap, err, sizeof err), -EINVAL);
	free(big);
	cJSON_Delete(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lifecycle),
	    cmocka_unit_test(memory_limit),
	    cmocka_unit_test(no_way_out),
	    cmocka_unit_test(failed_start_cleans_up),
	    cmocka_unit_test(restarted_after_kill),
	    cmocka_unit_test(survives_agent_kill),
	    cmocka_unit_test(mounts),
	    cmocka_unit_test(log_rotation),
	    cmocka_unit_test(pause_while_restarting),
	    cmocka_unit_test(user_namespace),
	    cmocka_unit_test(probe_denied),
	    cmocka_unit_test(writable_layer_limit),
	    cmocka_unit_test(hostile_data),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
