/*
 * Shared fixture of the provisioner tests: a private storage/run/image tree
 * under /tmp, a context on it, and workload ids whose contract numbers are
 * unique to this process so that host objects (netns, cgroups) never clash
 * with another test run on the same machine.
 */
#ifndef ZOS_TESTS_PROV_TEST_H
#define ZOS_TESTS_PROV_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "provisioners/prov.h"
#include "provisioners/prov_int.h"

struct fixture {
	char root[128];
	char storage[192];
	char run[192];
	char images[192];
	char cgparent[32];
	struct prov_ctx *ctx;
	struct prov_features feat;
};

static inline uint64_t test_contract(unsigned k)
{
	return 900000000ull + (uint64_t)getpid() * 100 + k;
}

static inline struct prov_workload_id test_id(uint32_t twin, unsigned k, const char *name)
{
	struct prov_workload_id id = {.twin_id = twin, .contract_id = test_contract(k)};
	snprintf(id.name, sizeof id.name, "%s", name);
	return id;
}

static inline int fixture_open(struct fixture *f, int allow_unenforced)
{
	memset(f, 0, sizeof *f);
	snprintf(f->root, sizeof f->root, "/tmp/zos-prov-test-XXXXXX");
	if (!mkdtemp(f->root))
		return -errno;
	/* Container root (an unprivileged host id) must reach the bundles. */
	chmod(f->root, 0711);
	snprintf(f->storage, sizeof f->storage, "%s/storage", f->root);
	snprintf(f->run, sizeof f->run, "%s/run", f->root);
	snprintf(f->images, sizeof f->images, "%s/images", f->root);
	snprintf(f->cgparent, sizeof f->cgparent, "zostest%d", (int)getpid());
	mkdir(f->images, 0755);
	struct prov_config cfg = {
	    .storage_dir = f->storage,
	    .image_dir = f->images,
	    .run_dir = f->run,
	    .cgroup_parent = f->cgparent,
	    .allow_unenforced_volumes = allow_unenforced,
	    .log_max_bytes = 4096,
	    .log_keep = 2,
	    .rootfs_size = 64ull << 20,
	};
	int rc = prov_ctx_new(&cfg, &f->ctx);
	if (rc == 0)
		prov_ctx_features(f->ctx, &f->feat);
	return rc;
}

/* Workloads a test made, deprovisioned by fixture_close even when an
 * assertion failed half way, so no process, netns or cgroup outlives it. */
struct tracked {
	const struct prov_ops *ops;
	struct prov_workload_id id;
};
static struct tracked tracked_wl[64];
static size_t n_tracked;

static inline void track(const struct prov_ops *ops, const struct prov_workload_id *id)
{
	if (n_tracked < sizeof tracked_wl / sizeof tracked_wl[0])
		tracked_wl[n_tracked++] = (struct tracked){ops, *id};
}

static inline void deprovision_tracked(struct prov_ctx *ctx)
{
	char err[256];
	/* Reverse order: containers before the volumes and networks they use. */
	while (n_tracked > 0) {
		struct tracked *t = &tracked_wl[--n_tracked];
		if (t->ops->deprovision(ctx, &t->id, err, sizeof err) < 0)
			fprintf(stderr, "cleanup of %s failed: %s\n", t->id.name, err);
	}
}

/* Detaches whatever a failed test left mounted under root, deepest first. */
static inline void unmount_below(const char *root)
{
	for (int round = 0; round < 64; round++) {
		FILE *m = fopen("/proc/self/mountinfo", "re");
		if (!m)
			return;
		char line[1024], mnt[512], deepest[512] = "";
		size_t n = strlen(root);
		while (fgets(line, sizeof line, m))
			if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 &&
			    strncmp(mnt, root, n) == 0 && strlen(mnt) > strlen(deepest))
				snprintf(deepest, sizeof deepest, "%s", mnt);
		fclose(m);
		if (!deepest[0] || umount2(deepest, MNT_DETACH) < 0)
			return;
	}
}

/* Removes the tree and the per-run cgroup parents (empty by then). */
static inline void fixture_close(struct fixture *f)
{
	if (f->ctx)
		deprovision_tracked(f->ctx);
	if (f->root[0])
		unmount_below(f->root);
	if (f->ctx) {
		for (int i = 0; i < PROV_CG_N; i++)
			if (f->ctx->cg.base[i][0])
				rmdir(f->ctx->cg.base[i]);
		prov_cg_parent_cleanup(f->ctx);
		prov_ctx_free(f->ctx);
	}
	prov_rm_tree(f->root);
	f->ctx = NULL;
}

static inline int build_busybox_image(const struct fixture *f, const char *name)
{
	char dir[256];
	snprintf(dir, sizeof dir, "%s/%s", f->images, name);
	const char *argv[] = {"/bin/sh", "scripts/make-busybox-image.sh", dir, NULL};
	char out[256];
	return prov_run(argv, out, sizeof out, 60000);
}

/* fixture_open for tests that run containers: *ready says whether this
 * host can (what is missing is printed when not), and when it can the
 * local image "busybox" is built. -1 when the fixture cannot be made. */
static inline int fixture_open_containers(struct fixture *f, int *ready)
{
	if (fixture_open(f, 0) < 0)
		return -1;
	*ready = f->feat.root && f->feat.namespaces && f->feat.cgroups && f->feat.netns_tools &&
	         f->feat.loop && f->feat.userns && f->feat.oci_runtime;
	if (!*ready)
		printf("containers unavailable: %s\n", prov_runtime_why(f->ctx));
	if (*ready && build_busybox_image(f, "busybox") < 0)
		return -1;
	return 0;
}

/* Skips the cmocka test (with why) unless ready. */
#define SKIP_UNLESS(ready, why)                                                                    \
	do {                                                                                       \
		if (!(ready)) {                                                                    \
			printf("skipped: %s\n", why);                                              \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Prints a file, to see what a container said when a check failed. */
static inline void dump_file(const char *file)
{
	static char buf[16384];
	if (prov_read_file(file, buf, sizeof buf, NULL) == 0)
		fprintf(stderr, "--- %s:\n%s\n---\n", file, buf);
}

/* Polls file for needle up to timeout_ms; 1 when found. */
static inline int wait_for_text(const char *file, const char *needle, long timeout_ms)
{
	static char buf[65536];
	for (long t = 0; t <= timeout_ms; t += 100) {
		if (prov_read_file(file, buf, sizeof buf, NULL) == 0 && strstr(buf, needle))
			return 1;
		sleep_ms(100);
	}
	return 0;
}

static inline cJSON *json(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	if (!j)
		abort(); /* a typo in a test */
	return j;
}

#endif
