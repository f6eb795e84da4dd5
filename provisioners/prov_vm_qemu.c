/*
 * The qemu command line of a VM, and the acceleration probe.
 *
 * The guest gets the node's kernel and initramfs (direct kernel boot), its
 * disks as virtio-blk with serial numbers the initramfs looks for, its taps
 * as already opened file descriptors (qemu never opens /dev/net/tun), its
 * serial console on qemu's stdout (the supervisor keeps the bounded log),
 * and QMP on a unix socket. qemu's own seccomp sandbox forbids obsolete
 * system calls, privilege changes, spawning programs and resource control.
 */
#include "provisioners/prov_vm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_MARKER "ZOS-VM-PROBE-OK"
#define PROBE_MEM_MIB 96

int prov_vm_qemu_path(char *out, size_t outsz)
{
	return prov_which("qemu-system-x86_64", out, outsz);
}

int prov_vm_virtiofsd_path(char *out, size_t outsz)
{
	static const char *const cands[] = {"/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"};
	for (size_t i = 0; i < 2; i++)
		if (access(cands[i], X_OK) == 0)
			return prov_fmt(out, outsz, "%s", cands[i]);
	return -ENOENT;
}

void prov_vm_plan_clear(struct prov_vm_plan *p)
{
	for (size_t i = 0; i < PROV_VM_ARGS_MAX + 1 && p->argv[i]; i++) {
		free(p->argv[i]);
		p->argv[i] = NULL;
	}
}

struct argv_b {
	struct prov_vm_plan *p;
	size_t n;
	int rc;
};

static void add(struct argv_b *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_b *b, const char *fmt, ...)
{
	if (b->rc < 0)
		return;
	if (b->n >= PROV_VM_ARGS_MAX) {
		b->rc = -E2BIG;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&b->p->argv[b->n], fmt, ap);
	va_end(ap);
	if (r < 0) {
		b->p->argv[b->n] = NULL;
		b->rc = -ENOMEM;
		return;
	}
	b->n++;
}

/* qemu's option parser splits on ','; a path holding one is refused. */
static int plain(const char *s)
{
	return !strchr(s, ',') && !strchr(s, '\n');
}

int prov_vm_argv(struct prov_vm_plan *p, int probe)
{
	char qemu[PROV_PATH_MAX];
	int rc = prov_vm_qemu_path(qemu, sizeof qemu);
	if (rc < 0)
		return rc;
	if (!plain(p->kernel) || !plain(p->initrd))
		return -EINVAL;
	/* No kernel: the firmware boots the first disk's bootloader. */
	int firmware = !probe && !p->kernel[0];
	/* The descriptors the supervisor's child opens for qemu, in order. */
	size_t fd_disk = 3 + p->nnics, fd_kernel = fd_disk + 2 * p->ndisks;
	struct argv_b b = {.p = p};
	add(&b, "%s", qemu);
	add(&b, "-name");
	add(&b, "%s", p->host[0] ? p->host : "zos-probe");
	add(&b, "-machine");
	add(&b, "q35");
	add(&b, "-accel");
	/* TCG reserves a 1 GiB translation buffer by default; 64 MiB keeps
	 * qemu's own footprint inside the cgroup's overhead allowance. */
	add(&b, "%s", p->accel == PROV_ACCEL_KVM ? "kvm" : "tcg,tb-size=64");
	add(&b, "-cpu");
	add(&b, "%s", p->accel == PROV_ACCEL_KVM ? "host" : "max");
	add(&b, "-m");
	add(&b, "%" PRIu64, probe ? (uint64_t)PROBE_MEM_MIB : p->mem >> 20);
	add(&b, "-smp");
	add(&b, "%" PRIu64, probe ? 1 : p->cpus);
	add(&b, "-nodefaults");
	add(&b, "-no-user-config");
	add(&b, "-display");
	add(&b, "none");
	/* A guest that powers off or reboots makes qemu exit; the supervisor
	 * restarts it with backoff. */
	add(&b, "-no-reboot");
	add(&b, "-sandbox");
	add(&b, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	/* A VM's qemu opens no path of the host: the kernel, the initramfs,
	 * its disks, taps and monitor socket come as descriptors. */
	if (!firmware) {
		add(&b, "-kernel");
		if (probe)
			add(&b, "%s", p->kernel);
		else
			add(&b, "/proc/self/fd/%zu", fd_kernel);
	}
	if (probe || (!firmware && p->initrd[0])) {
		add(&b, "-initrd");
		if (probe)
			add(&b, "%s", p->initrd);
		else
			add(&b, "/proc/self/fd/%zu", fd_kernel + 1);
	}
	if (!firmware) {
		add(&b, "-append");
		if (!probe && p->append[0])
			add(&b, "%s", p->append);
		else
			add(&b, "console=ttyS0 quiet panic=-1%s", probe ? " zos.probe=1" : "");
	}
	add(&b, "-chardev");
	add(&b, "stdio,id=con,signal=off");
	add(&b, "-serial");
	add(&b, "chardev:con");
	if (!probe) {
		add(&b, "-chardev");
		add(&b, "socket,id=qmp,fd=%zu,server=on,wait=off", fd_kernel + 2);
		add(&b, "-mon");
		add(&b, "chardev=qmp,mode=control");
		for (size_t i = 0; i < p->ndisks; i++) {
			/* qemu opens a disk read-only first, then read-write: the
			 * set holds one descriptor of each mode. */
			add(&b, "-add-fd");
			add(&b, "fd=%zu,set=%zu", fd_disk + 2 * i, i + 1);
			add(&b, "-add-fd");
			add(&b, "fd=%zu,set=%zu", fd_disk + 2 * i + 1, i + 1);
			add(&b, "-drive");
			add(&b, "file=/dev/fdset/%zu,if=none,id=d%zu,format=raw%s", i + 1, i,
			    p->disks[i].readonly ? ",readonly=on" : "");
			add(&b, "-device");
			add(&b, "virtio-blk-pci,drive=d%zu,serial=%s%s", i, p->disks[i].serial,
			    firmware && i == 0 ? ",bootindex=0" : "");
		}
		if (p->nvols) {
			/* vhost-user needs the guest's memory shared with virtiofsd. */
			add(&b, "-object");
			add(&b, "memory-backend-memfd,id=mem,size=%" PRIu64 "M,share=on",
			    p->mem >> 20);
			add(&b, "-numa");
			add(&b, "node,memdev=mem");
		}
		for (size_t i = 0; i < p->nvols; i++) {
			add(&b, "-chardev");
			add(&b, "socket,id=vfs%zu,fd=%zu", i, fd_kernel + 3 + i);
			add(&b, "-device");
			add(&b, "vhost-user-fs-pci,chardev=vfs%zu,tag=zv%zu", i, i);
		}
		for (size_t i = 0; i < p->nnics; i++) {
			add(&b, "-netdev");
			add(&b, "tap,id=n%zu,fd=%zu", i, 3 + i);
			add(&b, "-device");
			add(&b, "virtio-net-pci,netdev=n%zu,mac=%s", i, p->nics[i].mac);
		}
	}
	if (b.rc < 0)
		prov_vm_plan_clear(p);
	return b.rc;
}

int prov_vm_probe(const char *kernel, const char *initrd, int accel, int timeout_ms)
{
	struct prov_vm_plan *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	snprintf(p->kernel, sizeof p->kernel, "%s", kernel);
	snprintf(p->initrd, sizeof p->initrd, "%s", initrd);
	p->accel = accel;
	int rc = prov_vm_argv(p, 1);
	if (rc == 0) {
		char out[8192];
		/* Killed at the timeout: a guest that hangs (as KVM guests do on
		 * some hosts) never prints the marker. */
		prov_run((const char *const *)p->argv, out, sizeof out, timeout_ms);
		rc = strstr(out, PROBE_MARKER) ? 0 : ZE_UNSUPPORTED;
	}
	prov_vm_plan_clear(p);
	free(p);
	return rc;
}
