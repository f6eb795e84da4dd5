/*
 * VM deploy-to-entrypoint time through the zmachine provisioner, against
 * the floor: the same kernel, initramfs and disks booted by a bare
 * qemu-system-x86_64 command line by hand (no supervisor, cgroup,
 * descriptor passing or QMP). Both run under TCG with 128 MiB and one vCPU
 * and stop the clock when the entrypoint's marker reaches the console.
 * Rounds alternate so that load from other processes hits both alike.
 *
 * Also the agent's own CPU per VM deploy (this process's user+system time
 * across provision and deprovision; mkfs.ext4 and ip(8), which it runs,
 * are reported apart; qemu and the supervisor are not the agent's).
 *
 *   bench_vm [ROUNDS (3)]      run from the repository root, as root
 *
 * Then the same for a whole disk image with its own bootloader (the MBR and
 * syslinux disk of scripts/vm-test-disk.sh, a file in images_dir): deploy
 * (the disk checked with qemu-img and copied for the VM) until its marker,
 * against a bare qemu booting a copy of the disk through the firmware.
 *
 * The kernel and initramfs come from scripts/vm-test-assets.sh
 * ($BUILD/vm-cache).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "provisioners/prov_vm.h"

#define MARKER "BENCH-ENTRY-REACHED"
#define DISK_MARKER "ZOS-DISK-BOOT-OK"
#define TIMEOUT_MS 120000

static double cpu_s(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run(const char *const argv[])
{
	char out[512];
	int rc = prov_run(argv, out, sizeof out, TIMEOUT_MS);
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", argv[0], out);
	return rc;
}

static double spawn_until(const char *qemu, char *const argv[], const char *marker);

/* Boots by hand and returns the seconds until the marker, or -1. */
static double bare_boot(const char *kernel, const char *initrd, const char *root, const char *cfg)
{
	char qemu[256], d0[800], d1[800];
	if (prov_vm_qemu_path(qemu, sizeof qemu) < 0)
		return -1;
	snprintf(d0, sizeof d0, "file=%s,if=none,id=d0,format=raw", root);
	snprintf(d1, sizeof d1, "file=%s,if=none,id=d1,format=raw,readonly=on", cfg);
	char *const argv[] = {qemu,
	                      "-machine",
	                      "q35",
	                      "-accel",
	                      "tcg,tb-size=64",
	                      "-cpu",
	                      "max",
	                      "-m",
	                      "128",
	                      "-smp",
	                      "1",
	                      "-nodefaults",
	                      "-no-user-config",
	                      "-display",
	                      "none",
	                      "-no-reboot",
	                      "-kernel",
	                      (char *)kernel,
	                      "-initrd",
	                      (char *)initrd,
	                      "-append",
	                      "console=ttyS0 quiet panic=-1",
	                      "-chardev",
	                      "stdio,id=con,signal=off",
	                      "-serial",
	                      "chardev:con",
	                      "-drive",
	                      d0,
	                      "-device",
	                      "virtio-blk-pci,drive=d0,serial=zos-root",
	                      "-drive",
	                      d1,
	                      "-device",
	                      "virtio-blk-pci,drive=d1,serial=zos-cfg",
	                      NULL};
	return spawn_until(qemu, argv, MARKER);
}

/* Starts argv and returns the seconds until marker is on its output, or -1;
 * kills it then. */
static double spawn_until(const char *qemu, char *const argv[], const char *marker)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	pid_t pid;
	double t0 = clk_seconds(CLOCK_MONOTONIC), t = -1;
	extern char **environ;
	int rc = posix_spawn(&pid, qemu, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return -1;
	}
	char buf[65536];
	size_t used = 0;
	while (clk_seconds(CLOCK_MONOTONIC) - t0 < TIMEOUT_MS / 1000.0) {
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		if (poll(&pf, 1, 1000) <= 0)
			continue;
		ssize_t n = read(p[0], buf + used, sizeof buf - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		if (strstr(buf, marker)) {
			t = clk_seconds(CLOCK_MONOTONIC) - t0;
			break;
		}
		if (used > sizeof buf / 2) { /* keep the tail */
			memmove(buf, buf + used - 256, 256);
			used = 256;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	return t;
}

/* The floor of a disk image VM: the firmware boots the disk by hand. */
static double bare_disk_boot(const char *disk)
{
	char qemu[256], d0[800];
	if (prov_vm_qemu_path(qemu, sizeof qemu) < 0)
		return -1;
	snprintf(d0, sizeof d0, "file=%s,if=none,id=d0,format=raw", disk);
	char *const argv[] = {qemu,
	                      "-machine",
	                      "q35",
	                      "-accel",
	                      "tcg,tb-size=64",
	                      "-cpu",
	                      "max",
	                      "-m",
	                      "128",
	                      "-smp",
	                      "1",
	                      "-nodefaults",
	                      "-no-user-config",
	                      "-display",
	                      "none",
	                      "-no-reboot",
	                      "-chardev",
	                      "stdio,id=con,signal=off",
	                      "-serial",
	                      "chardev:con",
	                      "-drive",
	                      d0,
	                      "-device",
	                      "virtio-blk-pci,drive=d0,serial=zos-root,bootindex=0",
	                      NULL};
	return spawn_until(qemu, argv, DISK_MARKER);
}

static int has_text(const char *file, const char *marker)
{
	static char buf[1 << 20];
	return prov_read_file(file, buf, sizeof buf, NULL) == 0 && strstr(buf, marker);
}

static int has_marker(const char *file)
{
	return has_text(file, MARKER);
}

/* Deploys data as workload k and returns the seconds until marker is on
 * its console, or -1; deletes it again. */
static double deploy_until(struct prov_ctx *ctx, const cJSON *data, uint64_t k, const char *run_dir,
                           const char *marker)
{
	const struct prov_ops *V = prov_lookup("zmachine");
	struct prov_workload_id id = {.twin_id = 1, .contract_id = k};
	snprintf(id.name, sizeof id.name, "benchdisk");
	char host[PROV_HOST_MAX], console[800], err[256];
	prov_host_name(&id, host);
	snprintf(console, sizeof console, "%s/vms/%s/console.log", run_dir, host);
	double t0 = clk_seconds(CLOCK_MONOTONIC), t = -1;
	cJSON *res = NULL;
	if (V->provision(ctx, &id, data, NULL, &res, err, sizeof err) < 0) {
		fprintf(stderr, "provision: %s\n", err);
		return -1;
	}
	cJSON_Delete(res);
	while (clk_seconds(CLOCK_MONOTONIC) - t0 < TIMEOUT_MS / 1000.0) {
		if (has_text(console, marker)) {
			t = clk_seconds(CLOCK_MONOTONIC) - t0;
			break;
		}
		struct timespec d = {0, 10 * 1000000L};
		nanosleep(&d, NULL);
	}
	if (V->deprovision(ctx, &id, err, sizeof err) < 0)
		fprintf(stderr, "deprovision: %s\n", err);
	return t;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 3;
	if (rounds < 1 || rounds > 50 || geteuid() != 0) {
		fprintf(stderr,
		        "usage: bench_vm [ROUNDS (3)] (as root, from the repository root)\n");
		return 2;
	}
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char cache[512], out[1200], kernel[512], initrd[512];
	snprintf(cache, sizeof cache, "%s/vm-cache", build);
	const char *assets[] = {"/bin/sh", "scripts/vm-test-assets.sh", cache, NULL};
	if (prov_run(assets, out, sizeof out, 300000) < 0 || !strchr(out, ' ')) {
		fprintf(stderr, "no guest kernel: %s\n", out);
		return 1;
	}
	*strchr(out, ' ') = '\0';
	if (!realpath(out, kernel) || !realpath(out + strlen(out) + 1, initrd))
		return 1;

	char root[] = "/tmp/zos-bench-vm-XXXXXX";
	if (!mkdtemp(root))
		return 1;
	char storage[600], run_dir[600], images[600], img[700], bare_root[700], bare_cfg[700],
	    cfgdir[700];
	snprintf(storage, sizeof storage, "%s/storage", root);
	snprintf(run_dir, sizeof run_dir, "%s/run", root);
	snprintf(images, sizeof images, "%s/images", root);
	snprintf(img, sizeof img, "%s/busybox", images);
	snprintf(bare_root, sizeof bare_root, "%s/bare-root.img", root);
	snprintf(bare_cfg, sizeof bare_cfg, "%s/bare-cfg.img", root);
	snprintf(cfgdir, sizeof cfgdir, "%s/cfg.d", root);
	mkdir(images, 0755);
	const char *mkimg[] = {"/bin/sh", "scripts/make-busybox-image.sh", img, NULL};
	if (run(mkimg) < 0)
		return 1;

	const char *entry =
	    "{\"image\": \"busybox\", \"size\": 134217728,"
	    " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728},"
	    " \"entrypoint\": [\"/bin/sh\", \"-c\", \"echo " MARKER "; sleep 1000\"]}";
	cJSON *data = cJSON_Parse(entry);
	char err[256];
	/* The floor's disks, made once: by hand they would already exist. */
	int fd = open(bare_root, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || ftruncate(fd, 134217728) < 0)
		return 1;
	close(fd);
	fd = open(bare_cfg, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || ftruncate(fd, 8 << 20) < 0)
		return 1;
	close(fd);
	const char *mk1[] = {"/sbin/mkfs.ext4", "-q", "-F", "-d", img, bare_root, NULL};
	if (prov_vm_cfg_tree(data, cfgdir, "bare", err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	const char *mk2[] = {"/sbin/mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-d", cfgdir,
	                     bare_cfg,          NULL};
	if (run(mk1) < 0 || run(mk2) < 0)
		return 1;

	struct prov_config cfg = {.storage_dir = storage,
	                          .image_dir = images,
	                          .run_dir = run_dir,
	                          .cgroup_parent = "zosbenchvm",
	                          .log_max_bytes = 1 << 20,
	                          .log_keep = 1,
	                          .vm_kernel = kernel,
	                          .vm_initrd = initrd,
	                          .vm_accel = "tcg",
	                          .vm_stop_timeout_ms = 200};
	struct prov_ctx *ctx;
	if (prov_ctx_new(&cfg, &ctx) < 0)
		return 1;
	const struct prov_ops *V = prov_lookup("zmachine");
	double bare[50], prov[50], cpu_self[50], cpu_kids[50];
	printf("bench_vm: %d rounds, TCG, 128 MiB, 1 vCPU, kernel %s\n", rounds, kernel);
	for (int r = 0; r < rounds; r++) {
		bare[r] = bare_boot(kernel, initrd, bare_root, bare_cfg);
		struct prov_workload_id id = {.twin_id = 1, .contract_id = 4242000 + (uint64_t)r};
		snprintf(id.name, sizeof id.name, "benchvm");
		char host[PROV_HOST_MAX], console[800];
		prov_host_name(&id, host);
		snprintf(console, sizeof console, "%s/vms/%s/console.log", run_dir, host);
		double c0 = cpu_s(RUSAGE_SELF), k0 = cpu_s(RUSAGE_CHILDREN), t0 = clk_seconds(CLOCK_MONOTONIC);
		cJSON *res = NULL;
		if (V->provision(ctx, &id, data, NULL, &res, err, sizeof err) < 0) {
			fprintf(stderr, "provision: %s\n", err);
			return 1;
		}
		cJSON_Delete(res);
		/* Only the provisioner's calls count, not this program's polling. */
		double c1 = cpu_s(RUSAGE_SELF), k1 = cpu_s(RUSAGE_CHILDREN);
		prov[r] = -1;
		while (clk_seconds(CLOCK_MONOTONIC) - t0 < TIMEOUT_MS / 1000.0) {
			if (has_marker(console)) {
				prov[r] = clk_seconds(CLOCK_MONOTONIC) - t0;
				break;
			}
			struct timespec d = {0, 10 * 1000000L};
			nanosleep(&d, NULL);
		}
		double c2 = cpu_s(RUSAGE_SELF), k2 = cpu_s(RUSAGE_CHILDREN);
		if (V->deprovision(ctx, &id, err, sizeof err) < 0)
			fprintf(stderr, "deprovision: %s\n", err);
		cpu_self[r] = (c1 - c0) + (cpu_s(RUSAGE_SELF) - c2);
		cpu_kids[r] = (k1 - k0) + (cpu_s(RUSAGE_CHILDREN) - k2);
		printf("round %d: bare %.2f s, provisioner %.2f s (%.2fx), agent CPU %.3f s, "
		       "its tools %.3f s\n",
		       r + 1, bare[r], prov[r], prov[r] / bare[r], cpu_self[r], cpu_kids[r]);
		fflush(stdout);
		if (bare[r] < 0 || prov[r] < 0)
			return 1;
	}
	double mb = median(bare, rounds), mp = median(prov, rounds);
	printf("median: bare qemu %.2f s, through the provisioner %.2f s, ratio %.2fx; agent CPU "
	       "per deploy %.3f s (+ mkfs/ip %.3f s)\n",
	       mb, mp, mp / mb, median(cpu_self, rounds), median(cpu_kids, rounds));
	fflush(stdout);

	/* A whole disk image booted by the firmware. */
	char disk[700], bare_disk[700];
	snprintf(disk, sizeof disk, "%s/benchdisk.raw", images);
	snprintf(bare_disk, sizeof bare_disk, "%s/bare-disk.raw", root);
	const char *mkdisk[] = {"/bin/sh", "scripts/vm-test-disk.sh", kernel, initrd, disk, NULL};
	if (run(mkdisk) < 0) {
		fprintf(stderr, "no disk image (scripts/vm-test-disk.sh needs syslinux, mtools)\n");
		return 1;
	}
	cJSON *ddata = cJSON_Parse("{\"image\": \"benchdisk.raw\", \"size\": 134217728,"
	                           " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}");
	double dbare[50], dprov[50];
	for (int r = 0; r < rounds; r++) {
		const char *cp[] = {"/bin/cp", disk, bare_disk, NULL};
		if (run(cp) < 0)
			return 1;
		dbare[r] = bare_disk_boot(bare_disk);
		unlink(bare_disk);
		dprov[r] = deploy_until(ctx, ddata, 4243000 + (uint64_t)r, run_dir, DISK_MARKER);
		printf("disk round %d: bare %.2f s, provisioner %.2f s (%.2fx)\n", r + 1, dbare[r],
		       dprov[r], dprov[r] / dbare[r]);
		fflush(stdout);
		if (dbare[r] < 0 || dprov[r] < 0)
			return 1;
	}
	mb = median(dbare, rounds);
	mp = median(dprov, rounds);
	printf("disk image median: bare qemu %.2f s, through the provisioner %.2f s, ratio %.2fx\n",
	       mb, mp, mp / mb);
	cJSON_Delete(ddata);
	prov_ctx_free(ctx);
	cJSON_Delete(data);
	prov_rm_tree(root);
	return 0;
}
