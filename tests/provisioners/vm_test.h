/*
 * Shared setup of the VM provisioner tests (test_vm, test_vm_disk): the
 * guest kernel and initramfs from scripts/vm-test-assets.sh, the check of
 * whether VMs can run on this machine at all, the fixture's
 * configuration with the VM keys, and writing a file into a test tree.
 * Include after cmocka.h and prov_test.h.
 */
#ifndef ZOS_TESTS_VM_TEST_H
#define ZOS_TESTS_VM_TEST_H

#include "tests/provisioners/prov_test.h"
#include "provisioners/prov_vm.h"

/* Writes the real paths of the guest kernel and initramfs into kernel and
 * initrd (caller's buffers of 512 bytes). The script caches them under
 * $BUILD/vm-cache. */
static inline int vm_test_assets(char *kernel, char *initrd)
{
	const char *build = getenv("BUILD");
	char cache[512], out[1200];
	snprintf(cache, sizeof cache, "%s/vm-cache", build && *build ? build : "build");
	const char *argv[] = {"/bin/sh", "scripts/vm-test-assets.sh", cache, NULL};
	if (prov_run(argv, out, sizeof out, 300000) < 0) {
		fprintf(stderr, "vm-test-assets: %s\n", out);
		return -1;
	}
	/* prov_run joins the two lines with a blank. */
	char *sp = strchr(out, ' ');
	if (!sp)
		return -1;
	*sp = '\0';
	if (!realpath(out, kernel) || !realpath(sp + 1, initrd))
		return -1;
	return 0;
}

/* Returns why VMs cannot run here, or NULL when they can (then kernel and
 * initrd hold the guest's paths). A test that also needs qemu-img passes a
 * buffer for its path in qemu_img; others pass NULL. */
static inline const char *vm_test_unready(const struct fixture *f, char *kernel, char *initrd,
                                          char *qemu_img, size_t qemu_img_len)
{
	char q[256];
	if (!(f->feat.root && f->feat.namespaces && f->feat.cgroups && f->feat.netns_tools))
		return "VMs need root, namespaces, cgroups and ip(8)";
	if (!qemu_img && prov_vm_qemu_path(q, sizeof q) < 0)
		return "qemu-system-x86_64 is not installed";
	if (qemu_img && (prov_vm_qemu_path(q, sizeof q) < 0 ||
	                 prov_which("qemu-img", qemu_img, qemu_img_len) < 0))
		return "qemu-system-x86_64 or qemu-img is not installed";
	if (vm_test_assets(kernel, initrd) < 0)
		return "no guest kernel from the package archive";
	return NULL;
}

/* The fixture's configuration again with the VM keys and a log large enough
 * for a boot. The strings stay owned by f and the caller. */
static inline struct prov_config vm_test_config(const struct fixture *f, const char *kernel,
                                                const char *initrd)
{
	return (struct prov_config){
	    .storage_dir = f->storage,
	    .image_dir = f->images,
	    .run_dir = f->run,
	    .cgroup_parent = f->cgparent,
	    /* Without loop devices a volume is a plain directory. */
	    .allow_unenforced_volumes = !f->feat.loop,
	    .log_max_bytes = 1 << 20,
	    .log_keep = 1,
	    .vm_kernel = kernel,
	    .vm_initrd = initrd,
	    .vm_accel = "tcg",
	    /* The busybox guest ignores the ACPI power button. */
	    .vm_stop_timeout_ms = 500,
	};
}

/* Writes text to dir/rel (the directories must exist); a failure fails
 * the test. Needs cmocka.h included before this header. */
static inline void vm_test_put(const char *dir, const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	assert_int_equal(prov_write_file(p, text, strlen(text), 0644), 0);
}

/* Skips a test when setup found that VMs cannot run; the including test
 * defines `ready` and `why`. */
#define NEED_VMS()                                                                                 \
	do {                                                                                       \
		if (!ready) {                                                                      \
			printf("skipped: %s\n", why);                                              \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

#endif
