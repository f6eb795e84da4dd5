/* volume: ext4 image on a loop device; the kernel enforces the size. Needs
 * root and loop devices (skipped with the reason otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "tests/provisioners/prov_test.h"

static struct fixture F;
static const struct prov_ops *V;

static int setup(void **st)
{
	V = prov_lookup("volume");
	return V && fixture_open(&F, 0) == 0 ? 0 : -1;
}

static int teardown(void **st)
{
	fixture_close(&F);
	return 0;
}

#define NEED_LOOP()                                                                                \
	do {                                                                                       \
		if (!F.feat.loop) {                                                                \
			printf("skipped: needs root and /dev/loop-control\n");                     \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* Writes 1 MiB chunks until the filesystem refuses; returns bytes written. */
static uint64_t fill(const char *dir, int *last_errno)
{
	char p[600];
	snprintf(p, sizeof p, "%s/fill", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	static char chunk[1 << 20];
	memset(chunk, 'z', sizeof chunk);
	uint64_t total = 0;
	*last_errno = 0;
	for (int i = 0; i < 1024; i++) {
		ssize_t n = write(fd, chunk, sizeof chunk);
		if (n < 0) {
			*last_errno = errno;
			break;
		}
		total += (uint64_t)n;
		if (n < (ssize_t)sizeof chunk) {
			n = write(fd, chunk, sizeof chunk);
			*last_errno = n < 0 ? errno : 0;
			break;
		}
	}
	if (fsync(fd) < 0 && !*last_errno)
		*last_errno = errno;
	close(fd);
	return total;
}

static int loop_backs(const char *img)
{
	char dev[64];
	return prov_loop_find(img, dev, sizeof dev) == 0;
}

static void lifecycle_and_limit(void **st)
{
	NEED_LOOP();
	char err[256] = "";
	struct prov_workload_id id = test_id(7, 1, "vol1");
	cJSON *d = json("{\"size\": 33554432}");
	struct prov_capacity cap;
	assert_int_equal(V->validate(d, &cap, err, sizeof err), 0);
	assert_int_equal(cap.sru, 33554432);
	cJSON *res = NULL;
	assert_int_equal(V->provision(F.ctx, &id, d, NULL, &res, err, sizeof err), 0);
	char path[400], img[512];
	snprintf(path, sizeof path, "%s", cJSON_GetObjectItem(res, "path")->valuestring);
	snprintf(img, sizeof img, "%s.img", path);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(res, "enforced")));
	assert_int_equal(prov_is_mountpoint(path), 1);
	assert_true(loop_backs(img));

	enum prov_health h;
	assert_int_equal(V->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);

	/* The kernel refuses writes past the size: ENOSPC, and never more
	 * than the volume's size lands in it. */
	int e;
	uint64_t wrote = fill(path, &e);
	assert_int_equal(e, ENOSPC);
	assert_true(wrote > 16ull << 20);
	assert_true(wrote <= 33554432);
	struct prov_usage u;
	assert_int_equal(V->usage(F.ctx, &id, &u, err, sizeof err), 0);
	assert_true(u.disk_bytes >= wrote);
	assert_int_equal(V->pause(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(V->resume(F.ctx, &id, err, sizeof err), 0);

	/* Idempotent; a different size is refused without touching it. */
	cJSON *res2 = NULL;
	assert_int_equal(V->provision(F.ctx, &id, d, NULL, &res2, err, sizeof err), 0);
	cJSON_Delete(res2);
	cJSON *d2 = json("{\"size\": 67108864}");
	res2 = NULL;
	assert_int_equal(V->provision(F.ctx, &id, d2, NULL, &res2, err, sizeof err), ZE_STATE);
	assert_null(res2);
	cJSON_Delete(d2);

	/* After an unmount (a reboot), provisioning mounts the same data again. */
	assert_int_equal(umount2(path, 0), 0);
	assert_int_equal(V->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_DEGRADED);
	assert_int_equal(V->provision(F.ctx, &id, d, NULL, &res2, err, sizeof err), 0);
	cJSON_Delete(res2);
	char fillp[600];
	snprintf(fillp, sizeof fillp, "%s/fill", path);
	struct stat sb;
	assert_int_equal(stat(fillp, &sb), 0);
	assert_int_equal((uint64_t)sb.st_size, wrote);

	assert_int_equal(V->deprovision(F.ctx, &id, err, sizeof err), 0);
	assert_int_equal(V->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(img, F_OK), -1);
	assert_int_equal(V->deprovision(F.ctx, &id, err, sizeof err), 0);
	cJSON_Delete(res);
	cJSON_Delete(d);
}

/* A full disk: storage on a 2 MiB tmpfs cannot hold the filesystem's
 * metadata; provisioning fails clearly and leaves nothing behind. */
static void full_disk_leaves_nothing(void **st)
{
	NEED_LOOP();
	char small[256];
	snprintf(small, sizeof small, "%s/small", F.root);
	assert_int_equal(mkdir(small, 0700), 0);
	assert_int_equal(mount("tmpfs", small, "tmpfs", 0, "size=2m"), 0);
	struct prov_config cfg = {.storage_dir = small,
	                          .image_dir = F.images,
	                          .run_dir = F.run,
	                          .cgroup_parent = F.cgparent};
	struct prov_ctx *ctx;
	assert_int_equal(prov_ctx_new(&cfg, &ctx), 0);
	struct prov_workload_id id = test_id(7, 2, "volfull");
	cJSON *d = json("{\"size\": 1073741824}");
	cJSON *res = NULL;
	char err[256] = "";
	int rc = V->provision(ctx, &id, d, NULL, &res, err, sizeof err);
	assert_true(rc < 0);
	assert_null(res);
	assert_true(err[0] != '\0');
	char vdir[300];
	snprintf(vdir, sizeof vdir, "%s/volumes", small);
	char ls[1024];
	const char *argv[] = {"/bin/ls", "-A", vdir, NULL};
	assert_int_equal(prov_run(argv, ls, sizeof ls, 5000), 0);
	assert_string_equal(ls, "");
	enum prov_health h;
	assert_int_equal(V->inspect(ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	cJSON_Delete(d);
	prov_ctx_free(ctx);
	assert_int_equal(umount2(small, 0), 0);
}

/* Without loop devices (here: an unprivileged process, which cannot use
 * them) a volume is refused, unless unenforced volumes are allowed. */
static int unenforced_child(const char *root)
{
	char storage[320], run[320];
	snprintf(storage, sizeof storage, "%s/storage", root);
	snprintf(run, sizeof run, "%s/run", root);
	struct prov_config cfg = {.storage_dir = storage, .image_dir = root, .run_dir = run};
	struct prov_ctx *ctx;
	if (prov_ctx_new(&cfg, &ctx) < 0)
		return 10;
	struct prov_features f;
	prov_ctx_features(ctx, &f);
	if (f.loop)
		return 11;
	struct prov_workload_id id = {.twin_id = 1, .contract_id = 5, .name = "v"};
	cJSON *d = cJSON_Parse("{\"size\": 33554432}"), *res = NULL;
	char err[256] = "";
	if (V->provision(ctx, &id, d, NULL, &res, err, sizeof err) != ZE_UNSUPPORTED ||
	    !strstr(err, "enforce"))
		return 12;
	prov_ctx_free(ctx);
	cfg.allow_unenforced_volumes = 1;
	if (prov_ctx_new(&cfg, &ctx) < 0)
		return 13;
	if (V->provision(ctx, &id, d, NULL, &res, err, sizeof err) != 0)
		return 14;
	if (cJSON_IsTrue(cJSON_GetObjectItem(res, "enforced")))
		return 15;
	enum prov_health h;
	if (V->inspect(ctx, &id, &h, err, sizeof err) != 0 || h != PROV_OK)
		return 16;
	if (V->deprovision(ctx, &id, err, sizeof err) != 0)
		return 17;
	if (V->inspect(ctx, &id, &h, err, sizeof err) != 0 || h != PROV_ABSENT)
		return 18;
	cJSON_Delete(res);
	cJSON_Delete(d);
	prov_ctx_free(ctx);
	return 0;
}

static void unenforced_needs_consent(void **st)
{
	if (geteuid() != 0) {
		printf("skipped: needs root to drop to an unprivileged user\n");
		skip();
	}
	char root[200];
	snprintf(root, sizeof root, "%s/unpriv", F.root);
	assert_int_equal(mkdir(root, 0777), 0);
	assert_int_equal(chmod(root, 0777), 0);
	assert_int_equal(chmod(F.root, 0755), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(9);
		_exit(unenforced_child(root));
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void hostile_data(void **st)
{
	static const char *const bad[] = {"{}",
	                                  "{\"size\": 1048576}",
	                                  "{\"size\": -5}",
	                                  "{\"size\": \"1g\"}",
	                                  "{\"size\": 3.3}",
	                                  "{\"size\": 33554432, \"fs\": \"xfs\"}",
	                                  "null"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[256] = "";
		struct prov_capacity cap;
		cJSON *d = json(bad[i]);
		assert_int_equal(V->validate(d, &cap, err, sizeof err), -EINVAL);
		assert_true(err[0]);
		cJSON_Delete(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lifecycle_and_limit),
	    cmocka_unit_test(full_disk_leaves_nothing),
	    cmocka_unit_test(unenforced_needs_consent),
	    cmocka_unit_test(hostile_data),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
