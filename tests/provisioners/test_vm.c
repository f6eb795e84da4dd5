/* zmachine (virtual machine): qemu under TCG with the Debian cloud kernel
 * and the busybox initramfs of scripts/vm-initramfs.sh. One guest boots and
 * is checked from its console: entrypoint, env, SSH key, memory, zmount
 * disk, virtiofs volume, private network (it fetches a page from a sibling
 * container). Then
 * pause, adoption after the provisioning process is killed with SIGKILL,
 * restart when qemu dies, and deletion leaving nothing behind. Needs root,
 * cgroups, ip(8), qemu and a kernel from the package archive (skipped with
 * 77 otherwise; scripts/vm-test-assets.sh caches it under $BUILD/vm-cache). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "tests/provisioners/prov_test.h"
#include "image/image.h"
#include "provisioners/prov_vm.h"
#include "tests/provisioners/vm_test.h"

static struct fixture F;
static struct prov_config CFG;
static const struct prov_ops *V, *C, *N, *M;
static char kernel[512], initrd[512];
static int ready;
static const char *why = "";

static int setup(void **st)
{
	V = prov_lookup("zmachine");
	C = prov_lookup("container");
	N = prov_lookup("network");
	M = prov_lookup("zmount");
	if (!V || !C || !N || !M || fixture_open(&F, 0) < 0)
		return -1;
	why = vm_test_unready(&F, kernel, initrd, NULL, 0);
	if (!why)
		ready = 1;
	if (!ready)
		return 0;
	/* The fixture's context, again with the VM keys and a log large
	 * enough for a boot. */
	prov_ctx_free(F.ctx);
	CFG = vm_test_config(&F, kernel, initrd);
	if (prov_ctx_new(&CFG, &F.ctx) < 0 || build_busybox_image(&F, "busybox") < 0)
		return -1;
	return 0;
}

static int teardown(void **st)
{
	fixture_close(&F);
	return 0;
}

static void validate_fields(void **st)
{
	char err[256];
	struct prov_capacity cap;
	cJSON *d =
	    json("{\"image\": \"busybox\", \"size\": 268435456, \"entrypoint\": \"/bin/sh\","
	         " \"compute_capacity\": {\"cpu\": 2, \"memory\": 134217728},"
	         " \"env\": {\"SSH_KEY\": \"ssh-ed25519 AAAA\"},"
	         " \"network\": {\"interfaces\": [{\"network\": \"n\", \"ip\": \"10.1.1.2\"}],"
	         " \"planetary\": false}}");
	assert_int_equal(V->validate(d, &cap, err, sizeof err), 0);
	assert_int_equal(cap.cru, 2);
	assert_int_equal(cap.mru, 134217728);
	assert_int_equal(cap.sru, 268435456);
	cJSON_Delete(d);
	/* An image by reference may leave the command to the image config. */
	d = json("{\"image\": \"127.0.0.1:5000/team/app:v1\","
	         " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}");
	assert_int_equal(V->validate(d, &cap, err, sizeof err), 0);
	cJSON_Delete(d);
	static const char *const bad[] = {
	    /* A local image needs an entrypoint; references must parse. */
	    "{\"image\": \"busybox\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 134217728}}",
	    "{\"image\": \"busybox/\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 134217728}}",
	    "{\"image\": \"library/busybox\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 134217728}}",
	    "{\"image\": \"../x:1\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 134217728}}",
	    "{\"image\": \"../x\", \"entrypoint\": \"a\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 134217728}}",
	    "{\"image\": \"b\", \"entrypoint\": \"\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 134217728}}",
	    "{\"image\": \"b\", \"entrypoint\": \"a\", \"compute_capacity\": {\"cpu\": 0, "
	    "\"memory\": 134217728}}",
	    "{\"image\": \"b\", \"entrypoint\": \"a\", \"compute_capacity\": {\"cpu\": 1, "
	    "\"memory\": 1024}}",
	    "{\"image\": \"b\", \"entrypoint\": \"a\", \"size\": 1, \"compute_capacity\": "
	    "{\"cpu\": "
	    "1, \"memory\": 134217728}}",
	    "{\"image\": \"b\", \"entrypoint\": \"a\", \"env\": {\"A B\": \"x\"}, "
	    "\"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}",
	    "{\"image\": \"b\", \"entrypoint\": \"a\", \"mounts\": [{\"name\": \"d\", "
	    "\"mountpoint\": \"/proc/x\"}], \"compute_capacity\": {\"cpu\": 1, \"memory\": "
	    "134217728}}",
	    "{\"image\": \"b\", \"entrypoint\": \"a\", \"bogus\": 1, \"compute_capacity\": "
	    "{\"cpu\": "
	    "1, \"memory\": 134217728}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		d = json(bad[i]);
		err[0] = '\0';
		assert_true(V->validate(d, &cap, err, sizeof err) < 0);
		assert_true(err[0] != '\0');
		cJSON_Delete(d);
	}
}

static int exists(const char *root, const char *rel)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

/* Layers as the image store leaves them (overlayfs whiteouts) merge into
 * what overlayfs would show: deleted names gone, opaque directories hold
 * only the upper layer's entries, upper files replace lower ones. */
static void merge_layers_whiteouts(void **st)
{
	if (geteuid() != 0) {
		printf("skipped: whiteouts (0/0 devices, trusted.* xattrs) need root\n");
		skip();
	}
	char l1[256], l2[256], l3[256], tree[256], p[512], buf[64];
	snprintf(l1, sizeof l1, "%s/merge/l1", F.root);
	snprintf(l2, sizeof l2, "%s/merge/l2", F.root);
	snprintf(l3, sizeof l3, "%s/merge/l3", F.root);
	snprintf(tree, sizeof tree, "%s/merge/tree", F.root);
	for (const char *const *d = (const char *const[]){"l1/etc", "l1/opt/old", "l1/var",
	                                                  "l2/opt", "l2/var", "l3", NULL};
	     *d; d++) {
		snprintf(p, sizeof p, "%s/merge/%s", F.root, *d);
		assert_int_equal(prov_mkdirs(p, 0755), 0);
	}
	vm_test_put(l1, "etc/gone", "1");
	vm_test_put(l1, "etc/keep", "old");
	vm_test_put(l1, "opt/old/x", "1");
	vm_test_put(l1, "var/dir-then-file", "1");
	snprintf(p, sizeof p, "%s/bin", l1);
	assert_int_equal(symlink("/etc/keep", p), 0);
	/* l2: whiteout of etc/gone, opaque /opt, a file replacing etc/keep. */
	snprintf(p, sizeof p, "%s/etc", l2);
	assert_int_equal(prov_mkdirs(p, 0755), 0);
	snprintf(p, sizeof p, "%s/etc/gone", l2);
	assert_int_equal(mknod(p, S_IFCHR | 0, makedev(0, 0)), 0);
	vm_test_put(l2, "etc/keep", "new");
	snprintf(p, sizeof p, "%s/opt", l2);
	assert_int_equal(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	vm_test_put(l2, "opt/fresh", "1");
	/* l3: a whiteout of a whole directory. */
	snprintf(p, sizeof p, "%s/var", l3);
	assert_int_equal(prov_mkdirs(p, 0755), 0);
	snprintf(p, sizeof p, "%s/var/dir-then-file", l3);
	assert_int_equal(mknod(p, S_IFCHR | 0, makedev(0, 0)), 0);
	char *layers[] = {l1, l2, l3, NULL};
	char err[256] = "";
	assert_int_equal(prov_vm_merge_layers(layers, tree, err, sizeof err), 0);
	assert_false(exists(tree, "etc/gone"));
	assert_false(exists(tree, "opt/old"));
	assert_false(exists(tree, "var/dir-then-file"));
	assert_true(exists(tree, "opt/fresh"));
	assert_true(exists(tree, "var"));
	snprintf(p, sizeof p, "%s/etc/keep", tree);
	size_t n = 0;
	assert_int_equal(prov_read_file(p, buf, sizeof buf, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "new", 3);
	snprintf(p, sizeof p, "%s/bin", tree);
	ssize_t k = readlink(p, buf, sizeof buf - 1);
	assert_int_equal(k, 9);
	assert_memory_equal(buf, "/etc/keep", 9);
	/* The store's layers are untouched. */
	assert_true(exists(l1, "etc/gone"));
	assert_true(exists(l1, "opt/old/x"));
	/* A second merge starts from an empty tree. */
	char *one[] = {l1, NULL};
	assert_int_equal(prov_vm_merge_layers(one, tree, err, sizeof err), 0);
	assert_true(exists(tree, "etc/gone"));
	assert_false(exists(tree, "opt/fresh"));
	snprintf(p, sizeof p, "%s/merge", F.root);
	prov_rm_tree(p);
}

/* The probe boots the guest and sees /init's marker on the console. */
static void probe_tcg(void **st)
{
	NEED_VMS();
	assert_int_equal(prov_vm_probe(kernel, initrd, PROV_ACCEL_TCG, 60000), 0);
	char a[64];
	prov_vm_accel(F.ctx, a, sizeof a);
	assert_true(strncmp(a, "tcg", 3) == 0 || strncmp(a, "auto", 4) == 0);
}

static void vm_dir(const struct prov_workload_id *id, const char *leaf, char *out, size_t n)
{
	char host[PROV_HOST_MAX];
	prov_host_name(id, host);
	snprintf(out, n, "%s/vms/%s/%s", F.run, host, leaf);
}

static int file_is(const char *dir, const char *rel, const char *want)
{
	char p[512], buf[256];
	size_t n = 0;
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	if (prov_read_file(p, buf, sizeof buf, &n) < 0)
		return 0;
	return n == strlen(want) && memcmp(buf, want, n) == 0;
}

/* The image config fills in what the workload leaves out, never more. */
static void image_config_defaults(void **st)
{
	char dir[256], err[256] = "";
	snprintf(dir, sizeof dir, "%s/cfgtest", F.root);
	char *entry[] = {"/bin/app", NULL}, *cmd[] = {"--port", "80", NULL},
	     *env[] = {"PATH=/opt/bin", "MODE=image", "bad key=x", "NOVALUE", NULL};
	struct img_image img = {.entrypoint = entry, .cmd = cmd, .env = env, .workdir = "/srv"};
	cJSON *d = json("{\"image\": \"r.io/a/b:1\", \"env\": {\"MODE\": \"workload\"},"
	                " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}");
	prov_rm_tree(dir);
	assert_int_equal(prov_vm_cfg_tree(d, dir, "h", err, sizeof err), 0);
	assert_int_equal(prov_vm_image_cfg(&img, d, dir, err, sizeof err), 0);
	assert_true(file_is(dir, "args/0", "/bin/app"));
	assert_true(file_is(dir, "args/1", "--port"));
	assert_true(file_is(dir, "args/2", "80"));
	assert_true(file_is(dir, "env/PATH", "/opt/bin"));
	assert_true(file_is(dir, "env/MODE", "workload"));
	assert_true(file_is(dir, "workdir", "/srv"));
	assert_false(exists(dir, "env/NOVALUE"));
	cJSON_Delete(d);
	/* The workload's entrypoint replaces Entrypoint and Cmd. */
	d = json("{\"image\": \"r.io/a/b:1\", \"entrypoint\": [\"/bin/mine\"],"
	         " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}");
	prov_rm_tree(dir);
	assert_int_equal(prov_vm_cfg_tree(d, dir, "h", err, sizeof err), 0);
	assert_int_equal(prov_vm_image_cfg(&img, d, dir, err, sizeof err), 0);
	assert_true(file_is(dir, "args/0", "/bin/mine"));
	assert_false(exists(dir, "args/1"));
	cJSON_Delete(d);
	/* Neither the workload nor the image has a command. */
	struct img_image none = {0};
	d = json("{\"image\": \"r.io/a/b:1\","
	         " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}");
	prov_rm_tree(dir);
	assert_int_equal(prov_vm_cfg_tree(d, dir, "h", err, sizeof err), 0);
	assert_int_equal(prov_vm_image_cfg(&none, d, dir, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "Entrypoint or Cmd"));
	cJSON_Delete(d);
	prov_rm_tree(dir);
}

/* A disk image file that is no bootable disk is refused with a reason,
 * and so is a reference with no image store; nothing is left behind
 * (test_vm_disk.c boots real disk images). */
static void unsupported_images(void **st)
{
	NEED_VMS();
	char p[512], err[256] = "";
	snprintf(p, sizeof p, "%s/disk.img", F.images);
	assert_int_equal(prov_write_file(p, "x", 1, 0600), 0);
	struct prov_workload_id id = test_id(42, 1, "disk");
	cJSON *d = json("{\"image\": \"disk.img\", \"entrypoint\": \"/sbin/init\","
	                " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}");
	cJSON *res = NULL;
	assert_int_equal(V->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "shorter than one sector"));
	cJSON_Delete(d);
	/* This context has no image store (prov_config.images is NULL). */
	d = json("{\"image\": \"127.0.0.1:5000/a/b:1\","
	         " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}");
	err[0] = '\0';
	assert_int_equal(V->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), ZE_UNSUPPORTED);
	assert_non_null(strstr(err, "no image store"));
	cJSON_Delete(d);
	/* What an agent killed while making the root disk would leave. */
	char host[PROV_HOST_MAX], tree[512], tmp[512];
	prov_host_name(&id, host);
	snprintf(tree, sizeof tree, "%s/vms/%s.img.tree/bin", F.storage, host);
	assert_int_equal(prov_mkdirs(tree, 0700), 0);
	snprintf(tmp, sizeof tmp, "%s/vms/%s.img.tmp", F.storage, host);
	assert_int_equal(prov_write_file(tmp, "x", 1, 0600), 0);
	assert_int_equal(V->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	snprintf(tree, sizeof tree, "%s/vms/%s.img.tree", F.storage, host);
	assert_int_equal(access(tree, F_OK), -1);
	unlink(p);
	vm_dir(&id, "", p, sizeof p);
	assert_int_equal(access(p, F_OK), -1);
}

static int count(const char *file, const char *needle)
{
	static char buf[1 << 20];
	int n = 0;
	if (prov_read_file(file, buf, sizeof buf, NULL) < 0)
		return -1;
	for (const char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The value after "key" on the console, or 0. */
static unsigned long long console_num(const char *file, const char *key)
{
	static char buf[1 << 20];
	if (prov_read_file(file, buf, sizeof buf, NULL) < 0)
		return 0;
	const char *p = strstr(buf, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static uid_t proc_uid(pid_t pid)
{
	char p[64], buf[4096];
	snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
	if (prov_read_file(p, buf, sizeof buf, NULL) < 0)
		return 0;
	const char *u = strstr(buf, "\nUid:");
	return u ? (uid_t)strtoul(u + 5, NULL, 10) : 0;
}

/* Gone, or a zombie that init has not reaped yet. */
static int gone(pid_t pid)
{
	char p[64], buf[512];
	snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
	if (prov_read_file(p, buf, sizeof buf, NULL) < 0)
		return 1;
	const char *e = strrchr(buf, ')');
	return e && (e[2] == 'Z' || e[2] == 'X');
}

static const char *const GUEST =
    "echo hello-$FOO; cat /root/.ssh/authorized_keys; grep MemTotal /proc/meminfo;"
    " d=$(awk '$2==\"/data\"{print $1}' /proc/mounts); d=${d#/dev/};"
    " echo disk-bytes=$(( $(cat /sys/class/block/$d/size) * 512 ));"
    " ip -4 addr show eth0 | grep inet; cat /vol/from-host.txt; echo guest-says-hi > /vol/g.txt;"
    /* busybox-static's wget crashes (in Debian 12); nc speaks HTTP well enough. */
    " for i in $(seq 1 40); do printf 'GET /hosts HTTP/1.0\\r\\n\\r\\n' | nc 10.77.1.3 8080"
    " | grep -q localhost && echo fetched-from-container && break; sleep 1; done;"
    " echo net-done; i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.3; done";

static void boot_network_pause_adopt_restart_delete(void **st)
{
	NEED_VMS();
	char err[256] = "", console[512], host[PROV_HOST_MAX];
	struct prov_workload_id nid = test_id(41, 1, "vmnet"), cid = test_id(41, 1, "web"),
	                        mid = test_id(41, 1, "data"), vid = test_id(41, 1, "vm"),
	                        sid = test_id(41, 1, "shared");
	const struct prov_dep_workload w[] = {{"vmnet", "network"},
	                                      {"web", "container"},
	                                      {"data", "zmount"},
	                                      {"shared", "volume"},
	                                      {"vm", "zmachine"}};
	const struct prov_deployment_view deps = {41, test_contract(1), 5, w};
	const struct prov_ops *VOL = prov_lookup("volume");
	prov_host_name(&vid, host);
	vm_dir(&vid, "console.log", console, sizeof console);

	cJSON *res = NULL;
	cJSON *nd = json("{\"ip_range\": \"10.77.0.0/16\", \"subnet\": \"10.77.1.0/24\"}");
	track(N, &nid);
	assert_int_equal(N->provision(F.ctx, &nid, nd, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	cJSON *md = json("{\"size\": 50331648}");
	track(M, &mid);
	assert_int_equal(M->provision(F.ctx, &mid, md, NULL, &res, err, sizeof err), 0);
	cJSON_Delete(res);
	/* A volume the host writes into and the guest answers in. */
	cJSON *sd = json("{\"size\": 16777216}");
	track(VOL, &sid);
	assert_int_equal(VOL->provision(F.ctx, &sid, sd, NULL, &res, err, sizeof err), 0);
	char vhost[PROV_HOST_MAX], vfile[700];
	prov_host_name(&sid, vhost);
	snprintf(vfile, sizeof vfile, "%s/volumes/%s/from-host.txt", F.storage, vhost);
	assert_int_equal(prov_write_file(vfile, "host-says-hi\n", 13, 0644), 0);
	cJSON_Delete(res);
	/* The sibling container serves its /etc on the private network. */
	cJSON *cd = json("{\"image\": \"busybox\", \"entrypoint\": [\"/bin/busybox\", \"httpd\","
	                 " \"-f\", \"-p\", \"8080\", \"-h\", \"/etc\"],"
	                 " \"compute_capacity\": {\"cpu\": 1, \"memory\": 67108864},"
	                 " \"network\": {\"interfaces\": [{\"network\": \"vmnet\", \"ip\": "
	                 "\"10.77.1.3\"}]}}");
	track(C, &cid);
	assert_int_equal(C->provision(F.ctx, &cid, cd, &deps, &res, err, sizeof err), 0);
	cJSON_Delete(res);

	cJSON *vd = json("{\"image\": \"busybox\", \"size\": 134217728,"
	                 " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728},"
	                 " \"env\": {\"FOO\": \"bar baz\", \"SSH_KEY\": \"ssh-ed25519 AAAAtestkey "
	                 "me@host\"},"
	                 " \"mounts\": [{\"name\": \"data\", \"mountpoint\": \"/data\"},"
	                 " {\"name\": \"shared\", \"mountpoint\": \"/vol\"}],"
	                 " \"network\": {\"interfaces\": [{\"network\": \"vmnet\", \"ip\": "
	                 "\"10.77.1.2\"}]}}");
	cJSON *e = cJSON_AddArrayToObject(vd, "entrypoint");
	cJSON_AddItemToArray(e, cJSON_CreateString("/bin/sh"));
	cJSON_AddItemToArray(e, cJSON_CreateString("-c"));
	cJSON_AddItemToArray(e, cJSON_CreateString(GUEST));
	track(V, &vid);

	/* Another VM holds the uid this one hashes to: it gets the next. */
	uint32_t hash = 2166136261u;
	for (const char *c = host; *c; c++)
		hash = (hash ^ (uint8_t)*c) * 16777619u;
	uid_t want = (uid_t)(3000000u + (hash + 1) % 65536u);
	char other[600], ubuf[32];
	snprintf(other, sizeof other, "%s/vms/zos-1-other", F.run);
	assert_int_equal(prov_mkdirs(other, 0700), 0);
	snprintf(other, sizeof other, "%s/vms/zos-1-other/uid", F.run);
	int un = snprintf(ubuf, sizeof ubuf, "%u\n", 3000000u + hash % 65536u);
	assert_int_equal(prov_write_file(other, ubuf, (size_t)un, 0600), 0);

	/* Provisioned by a process that is then killed with SIGKILL, as an
	 * agent would be: the VM stays and this process adopts it. */
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(pfd[0]);
		cJSON *r = NULL;
		char e2[256] = "";
		int rc = V->provision(F.ctx, &vid, vd, &deps, &r, e2, sizeof e2);
		char msg[300];
		int n = snprintf(msg, sizeof msg, "%d %s", rc, e2);
		(void)!write(pfd[1], msg, (size_t)n);
		close(pfd[1]);
		raise(SIGKILL);
		_exit(3);
	}
	close(pfd[1]);
	char msg[300] = "";
	ssize_t got = read(pfd[0], msg, sizeof msg - 1);
	close(pfd[0]);
	msg[got > 0 ? got : 0] = '\0';
	int wst;
	waitpid(child, &wst, 0);
	assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
	if (strtol(msg, NULL, 10) != 0) {
		dump_file(console);
		fail_msg("provision: %s", msg);
	}

	/* A fresh context, as after an agent restart. */
	struct prov_ctx *ctx2;
	assert_int_equal(prov_ctx_new(&CFG, &ctx2), 0);
	enum prov_health h;
	assert_int_equal(V->inspect(ctx2, &vid, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);

	if (!wait_for_text(console, "tick-3", 90000)) {
		dump_file(console);
		fail_msg("the guest did not run its entrypoint");
	}
	char *log = malloc(1 << 20);
	assert_int_equal(prov_read_file(console, log, 1 << 20, NULL), 0);
	assert_non_null(strstr(log, "hello-bar baz"));
	assert_non_null(strstr(log, "ssh-ed25519 AAAAtestkey me@host"));
	assert_non_null(strstr(log, "inet 10.77.1.2/24"));
	/* The volume, both ways. */
	assert_non_null(strstr(log, "host-says-hi"));
	snprintf(vfile, sizeof vfile, "%s/volumes/%s/g.txt", F.storage, vhost);
	char gbuf[64];
	assert_int_equal(prov_read_file(vfile, gbuf, sizeof gbuf, NULL), 0);
	assert_string_equal(gbuf, "guest-says-hi\n");
	/* The container's /etc/hosts, fetched over the private network. */
	if (!strstr(log, "fetched-from-container"))
		dump_file(console);
	assert_non_null(strstr(log, "fetched-from-container"));
	free(log);
	unsigned long long mem_kib = console_num(console, "MemTotal:");
	assert_true(mem_kib > 64 * 1024 && mem_kib <= 128 * 1024);
	assert_int_equal(console_num(console, "disk-bytes="), 50331648);

	/* qemu runs unprivileged, in the VM's cgroup. */
	pid_t qp;
	char dir[512];
	vm_dir(&vid, "", dir, sizeof dir);
	assert_int_equal(prov_vm_alive(dir, "qemu.pid", &qp), 1);
	assert_int_equal(proc_uid(qp), want);
	struct prov_usage u;
	assert_int_equal(V->usage(ctx2, &vid, &u, err, sizeof err), 0);
	assert_true(u.cpu_ns > 0);
	assert_int_equal(u.mem_bytes, 134217728);
	assert_true(u.disk_bytes > 0);

	/* Paused: no tick while stopped; resumed: ticks again. */
	assert_int_equal(V->pause(ctx2, &vid, err, sizeof err), 0);
	assert_int_equal(V->inspect(ctx2, &vid, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_PAUSED);
	int before = count(console, "tick-");
	sleep_ms(2000);
	assert_int_equal(count(console, "tick-"), before);
	assert_int_equal(V->resume(ctx2, &vid, err, sizeof err), 0);
	assert_int_equal(V->inspect(ctx2, &vid, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	for (int i = 0; i < 100 && count(console, "tick-") <= before; i++)
		sleep_ms(100);
	assert_true(count(console, "tick-") > before);

	/* qemu dies: the supervisor starts it again. */
	int boots = count(console, "[zos-init] starting");
	kill(qp, SIGKILL);
	for (int i = 0; i < 900 && count(console, "[zos-init] starting") <= boots; i++)
		sleep_ms(100);
	if (count(console, "[zos-init] starting") <= boots)
		dump_file(console);
	assert_true(count(console, "[zos-init] starting") > boots);
	pid_t qp2;
	assert_int_equal(prov_vm_alive(dir, "qemu.pid", &qp2), 1);
	assert_true(qp2 != qp);

	/* Deleted: no process, tap, socket, cgroup or file remains. */
	pid_t sp;
	assert_int_equal(prov_vm_alive(dir, "supervisor.pid", &sp), 1);
	char nics[256], netns[PROV_HOST_MAX], tap[16];
	vm_dir(&vid, "nics", console, sizeof console);
	assert_int_equal(prov_read_file(console, nics, sizeof nics, NULL), 0);
	assert_int_equal(sscanf(nics, "%63s %15s", netns, tap), 2);
	struct prov_cg cg;
	assert_int_equal(prov_cg_paths(ctx2, host, &cg), 0);
	assert_int_equal(V->deprovision(ctx2, &vid, err, sizeof err), 0);
	assert_true(gone(qp2) && gone(sp));
	assert_int_not_equal(
	    prov_ip(NULL, 0, (const char *const[]){"-n", netns, "link", "show", tap, NULL}), 0);
	assert_int_not_equal(access(dir, F_OK), 0);
	char root[512];
	snprintf(root, sizeof root, "%s/vms/%s.img", F.storage, host);
	assert_int_not_equal(access(root, F_OK), 0);
	assert_false(prov_cg_exists(&cg));
	assert_int_equal(V->inspect(ctx2, &vid, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	prov_ctx_free(ctx2);
	cJSON_Delete(vd);
	cJSON_Delete(cd);
	cJSON_Delete(md);
	cJSON_Delete(sd);
	cJSON_Delete(nd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(validate_fields),
	    cmocka_unit_test(merge_layers_whiteouts),
	    cmocka_unit_test(image_config_defaults),
	    cmocka_unit_test(probe_tcg),
	    cmocka_unit_test(unsupported_images),
	    cmocka_unit_test(boot_network_pause_adopt_restart_delete),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	if (rc == 0 && !ready)
		return 77;
	return rc;
}
