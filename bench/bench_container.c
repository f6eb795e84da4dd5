/*
 * Container start under the agent against the OCI runtime by hand, on the
 * same bundle, in the same run.
 *
 *   sudo build/bench/bench_container [ROUNDS (10)]
 *
 * Run from the repository root (it builds a busybox image with
 * scripts/make-busybox-image.sh). A temporary tree under /tmp holds the
 * image, the provisioners' storage and run directories; everything is
 * removed at the end.
 *
 * The container workload is provisioned once (network namespace, the
 * idmapped image and writable layer, config.json), so its bundle is ready;
 * then, alternating, each round measures:
 *   agent   prov_ct_start: the double-forked supervisor runs `<runtime> run`
 *           and reports once the runtime's --pid-file names the container's
 *           process (what a provision and every restart cost beyond the
 *           bundle), then prov_ct_stop;
 *   run     `<runtime> run --pid-file F` of the same bundle in the
 *           foreground, executed directly, until F names the process (what
 *           the supervisor waits for), then `<runtime> delete --force`;
 *   run -d  `<runtime> run -d --pid-file F`, until it returns (the process
 *           runs), then `<runtime> delete --force`.
 * Each prints the median and the extremes; the ratios are agent / floor.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "provisioners/prov_container.h"

#define ROUNDS_MAX 200

extern char **environ;

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Starts argv in the background with stdio on /dev/null (a detached
 * container keeps whatever it inherits); -1 when it cannot. */
static pid_t spawn_fg(const char *const argv[])
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		errno = rc;
		return -1;
	}
	return pid;
}

/* Runs argv as spawn_fg does and returns its exit status. */
static int run(const char *const argv[])
{
	pid_t pid = spawn_fg(argv);
	if (pid < 0)
		return -errno;
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void report(const char *what, double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp);
	printf("%-7s median %7.1f ms  min %7.1f  max %7.1f  (%zu runs)\n", what, v[n / 2], v[0],
	       v[n - 1], n);
}

int main(int argc, char **argv)
{
	size_t rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 10;
	if (rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: %s [ROUNDS 1..%d]\n", argv[0], ROUNDS_MAX);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_container: needs root\n");
		return 77;
	}
	char root[] = "/tmp/zos-bench-ct-XXXXXX";
	if (!mkdtemp(root) || chmod(root, 0711) < 0)
		return 1;
	char storage[128], rundir[128], images[128], busybox[160];
	snprintf(storage, sizeof storage, "%s/storage", root);
	snprintf(rundir, sizeof rundir, "%s/run", root);
	snprintf(images, sizeof images, "%s/images", root);
	snprintf(busybox, sizeof busybox, "%s/busybox", images);
	mkdir(images, 0755);
	const char *mk[] = {"/bin/sh", "scripts/make-busybox-image.sh", busybox, NULL};
	if (run(mk) != 0) {
		fprintf(stderr,
		        "bench_container: cannot build the image (run from the repository)\n");
		return 1;
	}
	struct prov_config cfg = {.storage_dir = storage,
	                          .image_dir = images,
	                          .run_dir = rundir,
	                          .cgroup_parent = "zosbench",
	                          .rootfs_size = 64ull << 20};
	struct prov_ctx *ctx;
	if (prov_ctx_new(&cfg, &ctx) < 0)
		return 1;
	printf("runtime: %s %s\n", prov_runtime_name(ctx), prov_runtime_why(ctx));
	const struct prov_ops *ops = prov_lookup("container");
	struct prov_workload_id id = {.twin_id = 1,
	                              .contract_id = 990000000ull + (uint64_t)getpid()};
	snprintf(id.name, sizeof id.name, "bench");
	cJSON *data = cJSON_Parse("{\"image\": \"busybox\", \"entrypoint\": \"sleep 1000\", "
	                          "\"compute_capacity\": {\"cpu\": 1, \"memory\": 67108864}}");
	cJSON *res = NULL;
	char err[256] = "";
	int rc = ops->provision(ctx, &id, data, NULL, &res, err, sizeof err);
	cJSON_Delete(res);
	if (rc < 0) {
		fprintf(stderr, "bench_container: provision: %s\n", err);
		goto out;
	}
	struct prov_ct_plan *p = calloc(1, sizeof *p);
	prov_host_name(&id, p->host);
	snprintf(p->dir, sizeof p->dir, "%s/containers/%s", rundir, p->host);
	snprintf(p->runtime, sizeof p->runtime, "%s", ctx->runtime);
	snprintf(p->runtime_root, sizeof p->runtime_root, "%s", ctx->runtime_root);
	p->log_max = 1 << 20;
	p->log_keep = 1;
	/* The bundle stays; only the process goes between rounds. */
	prov_ct_stop(p->dir);
	char pidf[PROV_PATH_MAX + 16];
	snprintf(pidf, sizeof pidf, "%s/bench.pid", p->dir);
	const char *byhand[] = {ctx->runtime, "--root", ctx->runtime_root, "run",  "-d",
	                        "--pid-file", pidf,     "--bundle",        p->dir, p->host,
	                        NULL};
	const char *del[] = {ctx->runtime, "--root", ctx->runtime_root, "delete", "--force",
	                     p->host,      NULL};
	const char *fg[] = {ctx->runtime, "--root", ctx->runtime_root, "run", "--pid-file", pidf,
	                    "--bundle",   p->dir,   p->host,           NULL};
	double agent[ROUNDS_MAX], floor[ROUNDS_MAX], floor_fg[ROUNDS_MAX];
	for (size_t r = 0; r < rounds; r++) {
		double t0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
		if ((rc = prov_ct_start(p, err, sizeof err)) < 0) {
			fprintf(stderr, "bench_container: start: %s\n", err);
			break;
		}
		agent[r] = (clk_seconds(CLOCK_MONOTONIC) * 1e3) - t0;
		prov_ct_stop(p->dir);
		t0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
		if ((rc = run(byhand)) != 0) {
			fprintf(stderr, "bench_container: %s run exited %d\n", ctx->runtime, rc);
			rc = -EIO;
			break;
		}
		floor[r] = (clk_seconds(CLOCK_MONOTONIC) * 1e3) - t0;
		run(del);
		unlink(pidf);
		t0 = (clk_seconds(CLOCK_MONOTONIC) * 1e3);
		pid_t fpid = spawn_fg(fg);
		char buf[32];
		while (fpid > 0 && prov_read_file(pidf, buf, sizeof buf, NULL) < 0 &&
		       waitpid(fpid, NULL, WNOHANG) == 0) {
			struct timespec ts = {0, 500000};
			nanosleep(&ts, NULL);
		}
		floor_fg[r] = (clk_seconds(CLOCK_MONOTONIC) * 1e3) - t0;
		run(del);
		if (fpid > 0)
			waitpid(fpid, NULL, 0);
		unlink(pidf);
	}
	if (rc >= 0) {
		report("agent", agent, rounds);
		report("run", floor_fg, rounds);
		report("run -d", floor, rounds);
		printf("ratio  %.2f against run, %.2f against run -d (medians)\n",
		       agent[rounds / 2] / floor_fg[rounds / 2],
		       agent[rounds / 2] / floor[rounds / 2]);
	}
	free(p);
out:
	ops->deprovision(ctx, &id, err, sizeof err);
	prov_cg_parent_cleanup(ctx);
	cJSON_Delete(data);
	prov_ctx_free(ctx);
	const char *rm[] = {"/bin/rm", "-rf", root, NULL};
	run(rm);
	return rc < 0 ? 1 : 0;
}
