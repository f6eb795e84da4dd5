/*
 * The OCI runtime bundle's config.json (runtime spec 1.0.2, as runc 1.1 and
 * crun read it). What it asks of the runtime:
 *   - a user namespace mapping container ids 0..65535 to the twin's range,
 *     and new pid, mount, ipc, uts and cgroup namespaces; the network
 *     namespace is the one the agent made (/run/netns/<host>)
 *   - the root is <dir>/rootfs, made by prov_ct_rootfs.c
 *   - cpu quota, memory and pids limits, cgroupsPath under the configured
 *     parent (the runtime creates and removes the cgroups)
 *   - Docker's default capabilities less NET_RAW and MKNOD, no new
 *     privileges, the seccomp allow-list of prov_ct_seccomp.c
 *   - Docker's masked and read-only paths, so /proc/sys and friends are
 *     read-only and /proc/kcore and friends are empty
 *   - the volumes and disks, bind-mounted from their idmapped clones
 */
#include "provisioners/prov_container.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFS_PERIOD_US 100000.0

static const char *const caps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_SETGID", "CAP_SETUID",       "CAP_SETFCAP",          "CAP_SETPCAP",
    "CAP_KILL",   "CAP_SYS_CHROOT",   "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE",
};

static const char *const masked[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};

static const char *const readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                       "/proc/sysrq-trigger"};

static cJSON *strings(const char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < n; i++)
		if (v[i] && !cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

static size_t count(char *const *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	return n;
}

static int add_mount(cJSON *mounts, const char *dst, const char *type, const char *src,
                     const char *const *opts, size_t nopts)
{
	cJSON *m = cJSON_CreateObject();
	if (!m || !cJSON_AddItemToArray(mounts, m))
		return -ENOMEM;
	if (!cJSON_AddStringToObject(m, "destination", dst) ||
	    !cJSON_AddStringToObject(m, "type", type) || !cJSON_AddStringToObject(m, "source", src))
		return -ENOMEM;
	cJSON *o = strings(opts, nopts);
	return o && cJSON_AddItemToObject(m, "options", o) ? 0 : -ENOMEM;
}

static int base_mounts(cJSON *mounts)
{
	static const char *const devo[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
	static const char *const ptso[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666",
	                                   "mode=0620"};
	static const char *const shmo[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"};
	static const char *const mqo[] = {"nosuid", "noexec", "nodev"};
	/* A sysfs of its own needs a network namespace owned by the container's
	 * user namespace; the host's, read-only and masked, is what rootless
	 * runtimes use. */
	static const char *const syso[] = {"rbind", "nosuid", "noexec", "nodev", "ro"};
	static const char *const proco[] = {"nosuid", "noexec", "nodev"};
	int rc;
	if ((rc = add_mount(mounts, "/proc", "proc", "proc", proco, 3)) < 0 ||
	    (rc = add_mount(mounts, "/dev", "tmpfs", "tmpfs", devo, 4)) < 0 ||
	    (rc = add_mount(mounts, "/dev/pts", "devpts", "devpts", ptso, 5)) < 0 ||
	    (rc = add_mount(mounts, "/dev/shm", "tmpfs", "shm", shmo, 5)) < 0 ||
	    (rc = add_mount(mounts, "/dev/mqueue", "mqueue", "mqueue", mqo, 3)) < 0 ||
	    (rc = add_mount(mounts, "/sys", "none", "/sys", syso, 5)) < 0)
		return rc;
	return 0;
}

static cJSON *id_map(uint32_t host)
{
	cJSON *a = cJSON_CreateArray(), *m = cJSON_CreateObject();
	if (!a || !m || !cJSON_AddItemToArray(a, m)) {
		cJSON_Delete(a);
		cJSON_Delete(m);
		return NULL;
	}
	cJSON_AddNumberToObject(m, "containerID", 0);
	cJSON_AddNumberToObject(m, "hostID", host);
	cJSON_AddNumberToObject(m, "size", PROV_CT_IDS);
	return a;
}

static cJSON *namespaces(const struct prov_ct_plan *p)
{
	static const char *const own[] = {"pid", "ipc", "uts", "mount", "user", "cgroup"};
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < sizeof own / sizeof own[0]; i++) {
		cJSON *n = cJSON_CreateObject();
		cJSON_AddItemToArray(a, n);
		cJSON_AddStringToObject(n, "type", own[i]);
	}
	cJSON *n = cJSON_CreateObject();
	cJSON_AddItemToArray(a, n);
	cJSON_AddStringToObject(n, "type", "network");
	cJSON_AddStringToObject(n, "path", p->netns);
	return a;
}

static cJSON *resources(const struct prov_ct_plan *p)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *cpu = cJSON_AddObjectToObject(r, "cpu");
	cJSON_AddNumberToObject(cpu, "quota", (double)p->cpu * CFS_PERIOD_US);
	cJSON_AddNumberToObject(cpu, "period", CFS_PERIOD_US);
	cJSON *mem = cJSON_AddObjectToObject(r, "memory");
	cJSON_AddNumberToObject(mem, "limit", (double)p->memory);
	cJSON *pids = cJSON_AddObjectToObject(r, "pids");
	cJSON_AddNumberToObject(pids, "limit", PROV_CT_PIDS_MAX);
	/* Devices: deny all but what the runtime creates itself. */
	cJSON *dev = cJSON_AddArrayToObject(r, "devices");
	cJSON *d = cJSON_CreateObject();
	cJSON_AddItemToArray(dev, d);
	cJSON_AddBoolToObject(d, "allow", 0);
	cJSON_AddStringToObject(d, "access", "rwm");
	return r;
}

static cJSON *process(const struct prov_ct_plan *p)
{
	cJSON *pr = cJSON_CreateObject();
	cJSON_AddBoolToObject(pr, "terminal", 0);
	cJSON *u = cJSON_AddObjectToObject(pr, "user");
	cJSON_AddNumberToObject(u, "uid", p->uid);
	cJSON_AddNumberToObject(u, "gid", p->gid);
	cJSON_AddItemToObject(pr, "args", strings((const char *const *)p->argv, count(p->argv)));
	cJSON_AddItemToObject(pr, "env", strings((const char *const *)p->envp, count(p->envp)));
	cJSON_AddStringToObject(pr, "cwd", p->cwd[0] ? p->cwd : "/");
	cJSON *c = cJSON_AddObjectToObject(pr, "capabilities");
	size_t nc = sizeof caps / sizeof caps[0];
	static const char *const sets[] = {"bounding", "effective", "permitted"};
	for (size_t i = 0; i < 3; i++)
		cJSON_AddItemToObject(c, sets[i], strings(caps, nc));
	cJSON_AddBoolToObject(pr, "noNewPrivileges", 1);
	return pr;
}

static cJSON *build(const struct prov_ct_plan *p)
{
	char root[PROV_PATH_MAX], src[PROV_PATH_MAX];
	if (prov_fmt(root, sizeof root, "%s/rootfs", p->dir) < 0)
		return NULL;
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "ociVersion", "1.0.2");
	cJSON_AddItemToObject(c, "process", process(p));
	cJSON *r = cJSON_AddObjectToObject(c, "root");
	cJSON_AddStringToObject(r, "path", root);
	cJSON_AddBoolToObject(r, "readonly", 0);
	cJSON_AddStringToObject(c, "hostname", p->host);
	cJSON *mounts = cJSON_AddArrayToObject(c, "mounts");
	if (!mounts || base_mounts(mounts) < 0) {
		cJSON_Delete(c);
		return NULL;
	}
	static const char *const bindo[] = {"rbind", "nosuid", "nodev", "rw"};
	for (size_t i = 0; i < p->nmounts; i++)
		if (prov_fmt(src, sizeof src, "%s/mnt/%zu", p->dir, i) < 0 ||
		    add_mount(mounts, p->mounts[i].dst, "bind", src, bindo, 4) < 0) {
			cJSON_Delete(c);
			return NULL;
		}
	cJSON *l = cJSON_AddObjectToObject(c, "linux");
	cJSON_AddItemToObject(l, "uidMappings", id_map(p->uid_base));
	cJSON_AddItemToObject(l, "gidMappings", id_map(p->uid_base));
	cJSON_AddItemToObject(l, "namespaces", namespaces(p));
	cJSON_AddStringToObject(l, "cgroupsPath", p->cgroups_path);
	cJSON_AddItemToObject(l, "resources", resources(p));
	cJSON_AddItemToObject(l, "seccomp", prov_ct_seccomp_json());
	cJSON_AddItemToObject(l, "maskedPaths", strings(masked, sizeof masked / sizeof masked[0]));
	cJSON_AddItemToObject(l, "readonlyPaths",
	                      strings(readonly, sizeof readonly / sizeof readonly[0]));
	cJSON_AddStringToObject(l, "rootfsPropagation", "private");
	/* cJSON adds nothing when out of memory: a spec missing any part that
	 * confines the container is never written. */
	static const char *const need_linux[] = {"uidMappings", "gidMappings",  "namespaces",
	                                         "cgroupsPath", "resources",    "seccomp",
	                                         "maskedPaths", "readonlyPaths"};
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(c, "process");
	int ok = pr && cJSON_GetObjectItemCaseSensitive(pr, "capabilities") &&
	         cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pr, "noNewPrivileges")) &&
	         cJSON_GetObjectItemCaseSensitive(pr, "args") &&
	         cJSON_GetObjectItemCaseSensitive(c, "root") && l;
	for (size_t i = 0; ok && i < sizeof need_linux / sizeof need_linux[0]; i++)
		ok = cJSON_GetObjectItemCaseSensitive(l, need_linux[i]) != NULL;
	if (!ok) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

int prov_ct_bundle_write(const struct prov_ctx *ctx, const struct prov_ct_plan *p, char *err,
                         size_t errsz)
{
	(void)ctx;
	char path[PROV_PATH_MAX];
	int rc = prov_fmt(path, sizeof path, "%s/config.json", p->dir);
	if (rc < 0)
		return prov_err(err, errsz, rc, "path too long");
	cJSON *c = build(p);
	char *text = c ? cJSON_Print(c) : NULL;
	cJSON_Delete(c);
	if (!text)
		return prov_err(err, errsz, -ENOMEM, "out of memory writing config.json");
	rc = prov_write_file(path, text, strlen(text), 0600);
	free(text);
	return rc < 0 ? prov_err(err, errsz, rc, "cannot write %s: %s", path, zerr_str(rc)) : 0;
}
