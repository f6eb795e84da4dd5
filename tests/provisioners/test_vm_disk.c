/* zmachine VMs that bring their own kernel: the kernel found in an image's
 * /boot (newest version, its initramfs, never through a symlink), which
 * images are disks, qemu's command line per boot mode, disk images refused
 * with a reason before anything is made (other formats, a qcow2 naming a
 * backing file or encrypted, a disk larger than the workload's size, a
 * format that does not match the name), and a whole bootable disk (MBR,
 * syslinux, the Debian cloud kernel; scripts/vm-test-disk.sh) booted from a
 * qcow2 file in images_dir by the firmware: its console shows the guest's
 * marker, a disk grown to the workload's size and the cloud-init seed with
 * the SSH key, the guest's write lands in the VM's own disk and never in
 * the image file, and deletion leaves nothing. Needs root, cgroups, ip(8), qemu, qemu-img, syslinux
 * and mtools (skipped with 77 otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "tests/provisioners/prov_test.h"
#include "image/image.h"
#include "provisioners/prov_vm.h"
#include "tests/provisioners/vm_test.h"

static struct fixture F;
static struct prov_config CFG;
static const struct prov_ops *V;
static char kernel[512], initrd[512], qemu_img[256];
static int ready;
static const char *why = "";

static int setup(void **st)
{
	V = prov_lookup("zmachine");
	if (!V || fixture_open(&F, 0) < 0)
		return -1;
	why = vm_test_unready(&F, kernel, initrd, qemu_img, sizeof qemu_img);
	if (!why)
		ready = 1;
	if (!ready)
		return 0;
	prov_ctx_free(F.ctx);
	CFG = vm_test_config(&F, kernel, initrd);
	return prov_ctx_new(&CFG, &F.ctx) < 0 ? -1 : 0;
}

static int teardown(void **st)
{
	fixture_close(&F);
	return 0;
}

static int file_is(const char *path, const char *want)
{
	char buf[256];
	size_t n = 0;
	if (prov_read_file(path, buf, sizeof buf, &n) < 0)
		return 0;
	return n == strlen(want) && memcmp(buf, want, n) == 0;
}

/* The newest vmlinuz-<version> by version order (6.10 after 6.9), with its
 * own initramfs; a symlink is never followed out of the tree. */
static void tree_kernel_pick(void **st)
{
	char tree[256], boot[300], k[300], r[300], err[256] = "";
	snprintf(tree, sizeof tree, "%s/ktree", F.root);
	snprintf(boot, sizeof boot, "%s/boot", tree);
	snprintf(k, sizeof k, "%s/k.kernel", F.root);
	snprintf(r, sizeof r, "%s/k.initrd", F.root);
	assert_int_equal(prov_mkdirs(boot, 0755), 0);
	vm_test_put(boot, "vmlinuz-6.9.0-1-amd64", "old");
	vm_test_put(boot, "vmlinuz-6.10.0-2-amd64", "new");
	vm_test_put(boot, "initrd.img-6.9.0-1-amd64", "old-rd");
	vm_test_put(boot, "initrd.img-6.10.0-2-amd64", "new-rd");
	char link[400];
	snprintf(link, sizeof link, "%s/vmlinuz-9.9.9", boot);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(prov_vm_tree_kernel(tree, k, r, err, sizeof err), 1);
	assert_true(file_is(k, "new"));
	assert_true(file_is(r, "new-rd"));
	/* A kernel without an initramfs removes a stale one. */
	snprintf(link, sizeof link, "%s/initrd.img-6.10.0-2-amd64", boot);
	unlink(link);
	assert_int_equal(prov_vm_tree_kernel(tree, k, r, err, sizeof err), 1);
	assert_true(file_is(k, "new"));
	assert_int_equal(access(r, F_OK), -1);
	/* No kernel at all. */
	prov_rm_tree(boot);
	assert_int_equal(prov_vm_tree_kernel(tree, k, r, err, sizeof err), 0);
	prov_rm_tree(tree);
	unlink(k);
}

/* Which images are disks: a disk artifact of the store, or a one-layer
 * image whose layer holds only a *.raw, *.qcow2 or disk.img file. */
static void image_disk_kinds(void **st)
{
	char layer[256], path[512];
	snprintf(layer, sizeof layer, "%s/onelayer", F.root);
	assert_int_equal(prov_mkdirs(layer, 0755), 0);
	char *layers[] = {layer, NULL};
	struct img_image img = {.n_layers = 1, .layers = layers};
	int format = -1;
	vm_test_put(layer, "disk.img", "x");
	assert_int_equal(prov_vm_image_disk(&img, path, sizeof path, &format), 1);
	assert_int_equal(format, 0);
	assert_non_null(strstr(path, "/onelayer/disk.img"));
	/* A second file: a root filesystem, not a disk. */
	vm_test_put(layer, "etc", "x");
	assert_int_equal(prov_vm_image_disk(&img, path, sizeof path, &format), 0);
	snprintf(path, sizeof path, "%s/etc", layer);
	unlink(path);
	snprintf(path, sizeof path, "%s/disk.img", layer);
	unlink(path);
	vm_test_put(layer, "debian.qcow2", "x");
	assert_int_equal(prov_vm_image_disk(&img, path, sizeof path, &format), 1);
	assert_int_equal(format, IMG_DISK_QCOW2);
	/* Any other single file is a root filesystem. */
	snprintf(path, sizeof path, "%s/debian.qcow2", layer);
	unlink(path);
	vm_test_put(layer, "hello", "x");
	assert_int_equal(prov_vm_image_disk(&img, path, sizeof path, &format), 0);
	/* Two layers never are a disk by their files. */
	char *two[] = {layer, layer, NULL};
	struct img_image img2 = {.n_layers = 2, .layers = two};
	assert_int_equal(prov_vm_image_disk(&img2, path, sizeof path, &format), 0);
	/* The store's disk artifact. */
	struct img_image art = {
	    .n_layers = 1, .layers = layers, .disk = "/s/disk.raw", .disk_format = IMG_DISK_RAW};
	assert_int_equal(prov_vm_image_disk(&art, path, sizeof path, &format), 1);
	assert_string_equal(path, "/s/disk.raw");
	assert_int_equal(format, IMG_DISK_RAW);
	prov_rm_tree(layer);
}

static int has_arg(const struct prov_vm_plan *p, const char *a)
{
	for (size_t i = 0; p->argv[i]; i++)
		if (strstr(p->argv[i], a))
			return 1;
	return 0;
}

/* qemu's command line per boot mode: the firmware boots disk 0 (no
 * -kernel, -initrd or -append); an image's own kernel without initramfs
 * gets its own command line and no -initrd. */
static void argv_boot_modes(void **st)
{
	char q[256];
	if (prov_vm_qemu_path(q, sizeof q) < 0) {
		printf("skipped: qemu-system-x86_64 is not installed\n");
		skip();
	}
	struct prov_vm_plan *p = calloc(1, sizeof *p);
	assert_non_null(p);
	p->accel = PROV_ACCEL_TCG;
	p->cpus = 1;
	p->mem = 128ull << 20;
	p->ndisks = 2;
	snprintf(p->disks[0].serial, sizeof p->disks[0].serial, "zos-root");
	snprintf(p->disks[1].serial, sizeof p->disks[1].serial, "cidata");
	p->disks[1].readonly = 1;
	assert_int_equal(prov_vm_argv(p, 0), 0);
	assert_false(has_arg(p, "-kernel"));
	assert_false(has_arg(p, "-initrd"));
	assert_false(has_arg(p, "-append"));
	assert_true(has_arg(p, "serial=zos-root,bootindex=0"));
	assert_false(has_arg(p, "serial=cidata,bootindex"));
	prov_vm_plan_clear(p);
	snprintf(p->kernel, sizeof p->kernel, "/x/vm.img.kernel");
	snprintf(p->append, sizeof p->append, "console=ttyS0 root=/dev/vda rw panic=-1");
	assert_int_equal(prov_vm_argv(p, 0), 0);
	assert_true(has_arg(p, "-kernel"));
	assert_false(has_arg(p, "-initrd"));
	assert_true(has_arg(p, "root=/dev/vda rw"));
	assert_false(has_arg(p, "bootindex"));
	prov_vm_plan_clear(p);
	free(p);
}

/* Crafted qcow2 headers are refused from their first sector, before
 * qemu-img reads them: a backing file, an external data file, a corrupt
 * mark, encryption. */
static void qcow2_headers(void **st)
{
	char f[256], err[256];
	snprintf(f, sizeof f, "%s/crafted.qcow2", F.root);
	static const struct {
		size_t off;
		unsigned char byte;
		const char *want;
	} cases[] = {{15, 0x80, "backing file"},
	             {79, 0x04, "external file"},
	             {79, 0x02, "corrupt"},
	             {35, 0x02, "encrypted"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned char h[512] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 3};
		h[cases[i].off] = cases[i].byte;
		assert_int_equal(prov_write_file(f, h, sizeof h, 0600), 0);
		int format = IMG_DISK_QCOW2;
		uint64_t vsize = 0;
		err[0] = '\0';
		assert_int_equal(prov_vm_disk_inspect(f, &format, &vsize, err, sizeof err), -EPERM);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
	}
	unlink(f);
}

static void run_ok(const char *const *argv)
{
	char out[512];
	if (prov_run(argv, out, sizeof out, 120000) < 0)
		fail_msg("%s: %s", argv[0], out);
}

static cJSON *vm_json(const char *image, uint64_t size)
{
	char buf[512];
	snprintf(buf, sizeof buf,
	         "{\"image\": \"%s\", \"size\": %llu,"
	         " \"compute_capacity\": {\"cpu\": 1, \"memory\": 134217728}}",
	         image, (unsigned long long)size);
	return json(buf);
}

/* <storage>/vms/<host><suffix>: the root disk and what goes with it. */
static void vm_path(const struct prov_workload_id *id, const char *suffix, char *out, size_t n)
{
	char host[PROV_HOST_MAX];
	prov_host_name(id, host);
	snprintf(out, n, "%s/vms/%s%s", F.storage, host, suffix);
}

/* Refused with the cause named, before any file of the VM exists. */
static void refused(const char *image, uint64_t size, const char *needle)
{
	struct prov_workload_id id = test_id(43, 2, "baddisk");
	char err[512] = "", p[512];
	cJSON *d = vm_json(image, size), *res = NULL;
	int rc = V->provision(F.ctx, &id, d, NULL, &res, err, sizeof err);
	cJSON_Delete(d);
	if (rc >= 0 || !strstr(err, needle))
		fail_msg("%s: rc %d, error '%s', expected '%s'", image, rc, err, needle);
	vm_path(&id, ".img", p, sizeof p);
	assert_int_equal(access(p, F_OK), -1);
	vm_path(&id, ".img.tmp", p, sizeof p);
	assert_int_equal(access(p, F_OK), -1);
	vm_path(&id, ".img.boot", p, sizeof p);
	assert_int_equal(access(p, F_OK), -1);
}

static void disk_image_errors(void **st)
{
	NEED_VMS();
	char p[512], b[512];
	/* A qcow2 whose backing file is a host file. */
	snprintf(p, sizeof p, "%s/backed.qcow2", F.images);
	run_ok((const char *const[]){qemu_img, "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
	                             "/etc/passwd", p, "64M", NULL});
	refused("backed.qcow2", 1 << 30, "backing file");
	/* An encrypted qcow2: the node has no key. AES (crypt_method 1), not
	 * LUKS: qemu-img times LUKS's key derivation by the thread's CPU clock
	 * and fails ("Unable to get accurate CPU usage") when one round reads
	 * as 0 ms, which a fast machine does in about one run of four.
	 * qcow2_headers covers LUKS's crypt_method 2. */
	snprintf(p, sizeof p, "%s/enc.qcow2", F.images);
	run_ok((const char *const[]){qemu_img, "create", "-q", "-f", "qcow2", "--object",
	                             "secret,id=s0,data=zos", "-o",
	                             "encrypt.format=aes,encrypt.key-secret=s0", p, "64M", NULL});
	refused("enc.qcow2", 1 << 30, "encrypted");
	/* A vmdk is not booted. */
	snprintf(p, sizeof p, "%s/other.img", F.images);
	run_ok((const char *const[]){qemu_img, "create", "-q", "-f", "vmdk", p, "64M", NULL});
	refused("other.img", 1 << 30, "vmdk");
	/* Larger than the workload's size: never shrunk. */
	snprintf(p, sizeof p, "%s/big.raw", F.images);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 256ll << 20), 0);
	close(fd);
	refused("big.raw", 128ull << 20, "at least 268435456");
	/* Named raw but a qcow2. */
	snprintf(b, sizeof b, "%s/real.qcow2", F.images);
	run_ok((const char *const[]){qemu_img, "create", "-q", "-f", "qcow2", b, "64M", NULL});
	snprintf(p, sizeof p, "%s/fake.raw", F.images);
	assert_int_equal(rename(b, p), 0);
	refused("fake.raw", 1 << 30, "declared raw but is a qcow2");
	/* Too short to hold a boot sector. */
	snprintf(p, sizeof p, "%s/tiny.img", F.images);
	assert_int_equal(prov_write_file(p, "x", 1, 0600), 0);
	refused("tiny.img", 1 << 30, "shorter than one sector");
}

static int sha_equal(const char *a, const char *b)
{
	char oa[256], ob[256];
	const char *argv_a[] = {"/usr/bin/sha256sum", a, NULL},
	           *argv_b[] = {"/usr/bin/sha256sum", b, NULL};
	if (prov_run(argv_a, oa, sizeof oa, 60000) < 0 ||
	    prov_run(argv_b, ob, sizeof ob, 60000) < 0)
		return 0;
	return strncmp(oa, ob, 64) == 0;
}

static void disk_image_boot(void **st)
{
	NEED_VMS();
	char raw[512], img[512], copy[512], out[512], console[512], err[512] = "";
	snprintf(raw, sizeof raw, "%s/boot.raw", F.root);
	snprintf(img, sizeof img, "%s/bootdisk.qcow2", F.images);
	snprintf(copy, sizeof copy, "%s/bootdisk.orig", F.root);
	const char *mk[] = {"/bin/sh", "scripts/vm-test-disk.sh", kernel, initrd, raw, NULL};
	int rc = prov_run(mk, out, sizeof out, 120000);
	if (rc < 0) {
		printf("skipped: scripts/vm-test-disk.sh: %s\n", out);
		skip();
	}
	run_ok((const char *const[]){qemu_img, "convert", "-q", "-f", "raw", "-O", "qcow2", raw,
	                             img, NULL});
	run_ok((const char *const[]){"/bin/cp", img, copy, NULL});

	struct prov_workload_id id = test_id(43, 3, "diskvm");
	uint64_t size = 96ull << 20;
	cJSON *d = vm_json("bootdisk.qcow2", size), *res = NULL;
	/* An entrypoint is accepted but not applied (a warning is logged);
	 * SSH_KEY reaches the guest in the cloud-init seed. */
	cJSON_AddStringToObject(d, "entrypoint", "/sbin/init");
	cJSON *env = cJSON_AddObjectToObject(d, "env");
	cJSON_AddStringToObject(env, "SSH_KEY", "ssh-ed25519 AAAAdisk \"quoted\"\nx: y");
	track(V, &id);
	char host[PROV_HOST_MAX];
	prov_host_name(&id, host);
	snprintf(console, sizeof console, "%s/vms/%s/console.log", F.run, host);
	if (V->provision(F.ctx, &id, d, NULL, &res, err, sizeof err) < 0) {
		dump_file(console);
		fail_msg("provision: %s", err);
	}
	const cJSON *boot = cJSON_GetObjectItemCaseSensitive(res, "boot");
	assert_true(cJSON_IsString(boot) && strcmp(boot->valuestring, "disk") == 0);
	cJSON_Delete(res);
	if (!wait_for_text(console, "tick-1", 90000)) {
		dump_file(console);
		fail_msg("the disk image did not boot");
	}
	char *log = malloc(1 << 20);
	assert_int_equal(prov_read_file(console, log, 1 << 20, NULL), 0);
	assert_non_null(strstr(log, "ZOS-DISK-BOOT-OK"));
	assert_non_null(strstr(log, "disk-written"));
	/* The guest sees a disk of the workload's size, not the image's. */
	char want[64];
	snprintf(want, sizeof want, "disk-bytes=%llu", (unsigned long long)size);
	assert_non_null(strstr(log, want));
	/* The seed: JSON-quoted key (no YAML injection), hostname. */
	assert_non_null(strstr(log, "seed-user: #cloud-config"));
	assert_non_null(strstr(log, "\"ssh_authorized_keys\":[\"ssh-ed25519 AAAAdisk "
	                            "\\\"quoted\\\"\\nx: y\"]"));
	assert_non_null(strstr(log, host));
	assert_non_null(strstr(log, "seed-net: {\"version\":2}"));
	free(log);
	enum prov_health h;
	assert_int_equal(V->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_OK);
	/* The guest wrote into its own disk; the image file is untouched. */
	char root[512], sector[32] = "";
	vm_path(&id, ".img", root, sizeof root);
	int fd = open(root, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, sector, 16, 512), 16);
	close(fd);
	assert_memory_equal(sector, "guest-wrote-this", 16);
	assert_true(sha_equal(img, copy));
	struct prov_usage u;
	assert_int_equal(V->usage(F.ctx, &id, &u, err, sizeof err), 0);
	assert_true(u.disk_bytes > 0 && u.disk_bytes < size);

	/* Deleted: no directory, root disk or boot record remains. */
	assert_int_equal(V->deprovision(F.ctx, &id, err, sizeof err), 0);
	char p[512];
	vm_path(&id, ".img", p, sizeof p);
	assert_int_equal(access(p, F_OK), -1);
	vm_path(&id, ".img.boot", p, sizeof p);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof p, "%s/vms/%s", F.run, host); /* console, seed.img */
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(V->inspect(F.ctx, &id, &h, err, sizeof err), 0);
	assert_int_equal(h, PROV_ABSENT);
	assert_true(sha_equal(img, copy));
	cJSON_Delete(d);
	unlink(raw);
	unlink(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tree_kernel_pick),  cmocka_unit_test(image_disk_kinds),
	    cmocka_unit_test(argv_boot_modes),   cmocka_unit_test(qcow2_headers),
	    cmocka_unit_test(disk_image_errors), cmocka_unit_test(disk_image_boot),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	if (rc == 0 && !ready)
		return 77;
	return rc;
}
