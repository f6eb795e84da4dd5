/*
 * zmachine (container): {image, entrypoint, env, compute_capacity{cpu,
 * memory}, mounts[{name, mountpoint}], network{interfaces[{network, ip}]}}.
 *
 * Host objects: <run>/zmachines/<host>/ (spec.json, cgroups, pid files, logs,
 * overlay dirs), the network namespace /run/netns/<host>, cgroups
 * <parent>/<host> and the supervisor process. Everything else (the overlay,
 * bind mounts, loop devices of disks) lives in the container's own mount
 * namespace and disappears with it.
 */
#include "provisioners/prov_container.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CPU_MAX 256
#define MEM_MIN (16ull << 20)
#define MEM_MAX (1ull << 40)
#define ENTRY_MAX 4096
#define ARG_MAX_LEN 1024
#define ENV_KEY_MAX 64
#define ENV_VAL_MAX 4096
#define IMAGE_NAME_MAX 64
#define MOUNTPOINT_MAX 255
#define IFACES_MAX 4
#define SPEC_MAX (256 * 1024)

static const char *const zm_keys[] = {"image",  "entrypoint", "env", "compute_capacity",
                                      "mounts", "network",    NULL};
static const char *const cc_keys[] = {"cpu", "memory", NULL};
static const char *const mount_keys[] = {"name", "mountpoint", NULL};
static const char *const net_keys[] = {"interfaces", "public_ip", "public_ip6",
                                       "planetary",  "mycelium",  NULL};
static const char *const if_keys[] = {"network", "ip", NULL};

struct zm_spec {
	const char *image;
	uint64_t cpu, memory;
	size_t nmounts, nifs;
	const char *mount_name[PROV_CT_MOUNTS_MAX];
	const char *mountpoint[PROV_CT_MOUNTS_MAX];
	const char *if_net[IFACES_MAX];
	const char *if_ip[IFACES_MAX];
};

static int image_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > IMAGE_NAME_MAX)
		return 0;
	/* Starting with an alphanumeric rules out ".", ".." and hidden names. */
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Absolute, normalized, plain components, not / and not under the
 * kernel filesystems the container init mounts itself. */
static int mountpoint_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > MOUNTPOINT_MAX || s[0] != '/' || s[n - 1] == '/')
		return 0;
	const char *c = s;
	while (*c) {
		c++; /* skip '/' */
		size_t k = strcspn(c, "/");
		if (k == 0 || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		for (size_t i = 0; i < k; i++) {
			char ch = c[i];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
				return 0;
		}
		c += k;
	}
	static const char *const reserved[] = {"/proc", "/dev", "/sys", NULL};
	for (const char *const *r = reserved; *r; r++) {
		size_t k = strlen(*r);
		if (strncmp(s, *r, k) == 0 && (s[k] == '\0' || s[k] == '/'))
			return 0;
	}
	return 1;
}

static int env_key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > ENV_KEY_MAX || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	return strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/* The entrypoint: an array of strings (argv), or a string split on blanks.
 * Either way it is argv for execve; no shell unless argv[0] is one. */
static int parse_entry(const cJSON *e, char **argv, size_t *argc, char *err, size_t errsz)
{
	*argc = 0;
	if (cJSON_IsArray(e)) {
		const cJSON *a;
		cJSON_ArrayForEach(a, e)
		{
			if (!cJSON_IsString(a) || strlen(a->valuestring) > ARG_MAX_LEN)
				return prov_err(
				    err, errsz, -EINVAL,
				    "entrypoint items must be strings of at most %d bytes",
				    ARG_MAX_LEN);
			if (*argc >= PROV_CT_ARGS_MAX)
				return prov_err(err, errsz, -EINVAL,
				                "entrypoint has more than %d arguments",
				                PROV_CT_ARGS_MAX);
			if (argv && !(argv[*argc] = strdup(a->valuestring)))
				return -ENOMEM;
			(*argc)++;
		}
	} else if (cJSON_IsString(e)) {
		const char *s = e->valuestring;
		if (strlen(s) > ENTRY_MAX)
			return prov_err(err, errsz, -EINVAL, "entrypoint longer than %d bytes",
			                ENTRY_MAX);
		while (*s) {
			s += strspn(s, " \t");
			size_t k = strcspn(s, " \t");
			if (!k)
				break;
			if (k > ARG_MAX_LEN || *argc >= PROV_CT_ARGS_MAX)
				return prov_err(err, errsz, -EINVAL,
				                "entrypoint has too many or too long arguments");
			if (argv && !(argv[*argc] = strndup(s, k)))
				return -ENOMEM;
			(*argc)++;
			s += k;
		}
	} else {
		return prov_err(err, errsz, -EINVAL,
		                "entrypoint must be a string or an array of strings");
	}
	if (*argc == 0 || (argv && argv[0][0] == '\0'))
		return prov_err(err, errsz, -EINVAL, "entrypoint is empty");
	return 0;
}

static int parse_env(const cJSON *env, char **envp, char *err, size_t errsz)
{
	size_t n = 0;
	int has_path = 0;
	if (env && !cJSON_IsNull(env)) {
		if (!cJSON_IsObject(env))
			return prov_err(err, errsz, -EINVAL, "env must be an object of strings");
		const cJSON *v;
		cJSON_ArrayForEach(v, env)
		{
			if (!env_key_ok(v->string))
				return prov_err(err, errsz, -EINVAL, "bad env name '%.64s'",
				                v->string);
			if (!cJSON_IsString(v) || strlen(v->valuestring) > ENV_VAL_MAX)
				return prov_err(err, errsz, -EINVAL,
				                "env %s must be a string of at most %d bytes",
				                v->string, ENV_VAL_MAX);
			if (n >= PROV_CT_ENV_MAX)
				return prov_err(err, errsz, -EINVAL, "more than %d env entries",
				                PROV_CT_ENV_MAX);
			has_path |= strcmp(v->string, "PATH") == 0;
			if (envp) {
				size_t len = strlen(v->string) + strlen(v->valuestring) + 2;
				if (!(envp[n] = malloc(len)))
					return -ENOMEM;
				snprintf(envp[n], len, "%s=%s", v->string, v->valuestring);
			}
			n++;
		}
	}
	if (envp && !has_path &&
	    !(envp[n] =
	          strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")))
		return -ENOMEM;
	return 0;
}

static int zm_parse(const cJSON *data, struct zm_spec *s, char *err, size_t errsz)
{
	memset(s, 0, sizeof *s);
	int rc = prov_json_keys(data, zm_keys, err, errsz);
	if (rc < 0 ||
	    (rc = prov_json_str(data, "image", IMAGE_NAME_MAX, &s->image, err, errsz)) < 0)
		return rc;
	if (!image_name_ok(s->image))
		return prov_err(err, errsz, -EINVAL,
		                "image name must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
	size_t argc;
	if ((rc = parse_entry(cJSON_GetObjectItemCaseSensitive(data, "entrypoint"), NULL, &argc,
	                      err, errsz)) < 0 ||
	    (rc = parse_env(cJSON_GetObjectItemCaseSensitive(data, "env"), NULL, err, errsz)) < 0)
		return rc;
	const cJSON *cc = cJSON_GetObjectItemCaseSensitive(data, "compute_capacity");
	if (!cc)
		return prov_err(err, errsz, -EINVAL, "missing field 'compute_capacity'");
	if ((rc = prov_json_keys(cc, cc_keys, err, errsz)) < 0 ||
	    (rc = prov_json_u64(cc, "cpu", 1, CPU_MAX, &s->cpu, err, errsz)) < 0 ||
	    (rc = prov_json_u64(cc, "memory", MEM_MIN, MEM_MAX, &s->memory, err, errsz)) < 0)
		return rc;

	const cJSON *mounts = cJSON_GetObjectItemCaseSensitive(data, "mounts"), *m;
	if (mounts && !cJSON_IsNull(mounts)) {
		if (!cJSON_IsArray(mounts))
			return prov_err(err, errsz, -EINVAL, "mounts must be an array");
		cJSON_ArrayForEach(m, mounts)
		{
			if (s->nmounts >= PROV_CT_MOUNTS_MAX)
				return prov_err(err, errsz, -EINVAL, "more than %d mounts",
				                PROV_CT_MOUNTS_MAX);
			const char *name, *mp;
			if ((rc = prov_json_keys(m, mount_keys, err, errsz)) < 0 ||
			    (rc = prov_json_str(m, "name", PROV_NAME_MAX, &name, err, errsz)) < 0 ||
			    (rc = prov_json_str(m, "mountpoint", MOUNTPOINT_MAX, &mp, err, errsz)) <
			        0)
				return rc;
			if (prov_name_valid(name) < 0)
				return prov_err(err, errsz, -EINVAL,
				                "mount name '%.40s' is not a workload name", name);
			if (!mountpoint_ok(mp))
				return prov_err(
				    err, errsz, -EINVAL,
				    "mountpoint '%.64s' must be an absolute normalized path of "
				    "[A-Za-z0-9._-] components, not under /proc, /dev or /sys",
				    mp);
			for (size_t i = 0; i < s->nmounts; i++)
				if (strcmp(s->mountpoint[i], mp) == 0 ||
				    strcmp(s->mount_name[i], name) == 0)
					return prov_err(err, errsz, -EINVAL,
					                "mount %s or mountpoint %s used twice",
					                name, mp);
			s->mount_name[s->nmounts] = name;
			s->mountpoint[s->nmounts++] = mp;
		}
	}
	const cJSON *net = cJSON_GetObjectItemCaseSensitive(data, "network");
	if (net && !cJSON_IsNull(net)) {
		if ((rc = prov_json_keys(net, net_keys, err, errsz)) < 0)
			return rc;
		/* zos clients send these switched off; this node offers none of them. */
		static const char *const off[] = {"public_ip", "public_ip6", "planetary",
		                                  "mycelium"};
		for (size_t k = 0; k < sizeof off / sizeof off[0]; k++) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(net, off[k]);
			if (o && !cJSON_IsNull(o) && !cJSON_IsFalse(o) &&
			    !(cJSON_IsString(o) && o->valuestring[0] == '\0'))
				return prov_err(err, errsz, ZE_UNSUPPORTED,
				                "network.%s is not supported on this node", off[k]);
		}
		const cJSON *ifs = cJSON_GetObjectItemCaseSensitive(net, "interfaces"), *i;
		if (ifs && !cJSON_IsArray(ifs))
			return prov_err(err, errsz, -EINVAL, "network.interfaces must be an array");
		cJSON_ArrayForEach(i, ifs)
		{
			if (s->nifs >= IFACES_MAX)
				return prov_err(err, errsz, -EINVAL, "more than %d interfaces",
				                IFACES_MAX);
			const char *nn, *ip;
			uint32_t a;
			if ((rc = prov_json_keys(i, if_keys, err, errsz)) < 0 ||
			    (rc = prov_json_str(i, "network", PROV_NAME_MAX, &nn, err, errsz)) <
			        0 ||
			    (rc = prov_json_str(i, "ip", 15, &ip, err, errsz)) < 0)
				return rc;
			if (prov_name_valid(nn) < 0 || prov_ipv4_parse(ip, &a) < 0)
				return prov_err(
				    err, errsz, -EINVAL,
				    "interface needs a network name and an IPv4 address");
			for (size_t k = 0; k < s->nifs; k++)
				if (strcmp(s->if_net[k], nn) == 0)
					return prov_err(err, errsz, -EINVAL,
					                "network %s attached twice", nn);
			s->if_net[s->nifs] = nn;
			s->if_ip[s->nifs++] = ip;
		}
	}
	return 0;
}

static int zm_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	struct zm_spec s;
	int rc = zm_parse(data, &s, err, errsz);
	if (rc < 0)
		return rc;
	memset(cap, 0, sizeof *cap);
	cap->cru = s.cpu;
	cap->mru = s.memory;
	return 0;
}

struct zm_paths {
	char host[PROV_HOST_MAX];
	char dir[PROV_PATH_MAX];
	char spec[PROV_PATH_MAX];
	char cgfile[PROV_PATH_MAX];
};

static int zm_paths(struct prov_ctx *ctx, const struct prov_workload_id *id, struct zm_paths *p)
{
	int rc;
	if ((rc = prov_host_name(id, p->host)) < 0 ||
	    (rc = prov_fmt(p->dir, sizeof p->dir, "%s/zmachines/%s", ctx->run_dir, p->host)) < 0 ||
	    (rc = prov_fmt(p->spec, sizeof p->spec, "%s/spec.json", p->dir)) < 0 ||
	    (rc = prov_fmt(p->cgfile, sizeof p->cgfile, "%s/cgroups", p->dir)) < 0)
		return rc;
	return 0;
}

static const char *dep_type(const struct prov_deployment_view *deps, const char *name)
{
	for (size_t i = 0; deps && i < deps->count; i++)
		if (deps->workloads[i].name && strcmp(deps->workloads[i].name, name) == 0)
			return deps->workloads[i].type;
	return NULL;
}

static int has_fs(const char *img)
{
	int fd = open(img, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	unsigned char m[2];
	ssize_t n = pread(fd, m, 2, 0x438);
	close(fd);
	return n == 2 && m[0] == 0x53 && m[1] == 0xef;
}

/* A zmount is a raw disk; a container needs a filesystem on it. */
static int format_disk(const char *img, char *err, size_t errsz)
{
	if (has_fs(img))
		return 0;
	char prog[PROV_PATH_MAX];
	if (prov_which("mkfs.ext4", prog, sizeof prog) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED, "mkfs.ext4 not installed");
	const char *argv[] = {
	    prog, "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
	    img,  NULL};
	char out[256];
	int rc = prov_run(argv, out, sizeof out, 120000);
	return rc < 0 ? prov_err(err, errsz, rc, "cannot format zmount: %s",
	                         out[0] ? out : zerr_str(rc))
	              : 0;
}

static int resolve_mounts(struct prov_ctx *ctx, const struct prov_workload_id *id,
                          const struct zm_spec *s, const struct prov_deployment_view *deps,
                          struct prov_ct_plan *p, char *err, size_t errsz)
{
	for (size_t i = 0; i < s->nmounts; i++) {
		const char *type = dep_type(deps, s->mount_name[i]);
		struct prov_ct_mount *m = &p->mounts[i];
		struct prov_workload_id mid = {.twin_id = id->twin_id,
		                               .contract_id = id->contract_id};
		char mh[PROV_HOST_MAX];
		snprintf(mid.name, sizeof mid.name, "%s", s->mount_name[i]);
		if (prov_host_name(&mid, mh) < 0)
			return prov_err(err, errsz, -EINVAL, "bad mount name");
		snprintf(m->dst, sizeof m->dst, "%s", s->mountpoint[i]);
		int rc;
		struct stat st;
		if (type && strcmp(type, "volume") == 0) {
			m->kind = PROV_MNT_BIND;
			if ((rc = prov_fmt(m->src, sizeof m->src, "%s/volumes/%s", ctx->storage_dir,
			                   mh)) < 0)
				return prov_err(err, errsz, rc, "path too long");
			int enforced = access(m->src, F_OK) == 0 && prov_is_mountpoint(m->src) == 1;
			if (!enforced && !(ctx->allow_unenforced_volumes &&
			                   stat(m->src, &st) == 0 && S_ISDIR(st.st_mode)))
				return prov_err(err, errsz, -ENOENT, "volume %s is not provisioned",
				                s->mount_name[i]);
		} else if (type && strcmp(type, "zmount") == 0) {
			m->kind = PROV_MNT_DISK;
			if ((rc = prov_fmt(m->src, sizeof m->src, "%s/zmounts/%s.img",
			                   ctx->storage_dir, mh)) < 0)
				return prov_err(err, errsz, rc, "path too long");
			if (lstat(m->src, &st) < 0 || !S_ISREG(st.st_mode))
				return prov_err(err, errsz, -ENOENT, "zmount %s is not provisioned",
				                s->mount_name[i]);
			if (!ctx->feat.loop)
				return prov_err(err, errsz, ZE_UNSUPPORTED,
				                "mounting a zmount needs loop devices");
			if ((rc = format_disk(m->src, err, errsz)) < 0)
				return rc;
		} else {
			return prov_err(err, errsz, -ENOENT,
			                "mount %s is not a volume or zmount of this deployment",
			                s->mount_name[i]);
		}
	}
	p->nmounts = s->nmounts;
	return 0;
}

static void teardown(struct prov_ctx *ctx, const struct zm_paths *zp)
{
	prov_ct_stop(zp->dir);
	struct prov_cg cg;
	if (prov_cg_load(&cg, zp->cgfile) == 0 || prov_cg_paths(ctx, zp->host, &cg) == 0)
		prov_cg_destroy(&cg);
	prov_netns_del(zp->host);
}

static cJSON *zm_result(const struct zm_paths *zp, const struct zm_spec *s)
{
	char log[PROV_PATH_MAX];
	if (prov_fmt(log, sizeof log, "%s/log", zp->dir) < 0)
		return NULL;
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddStringToObject(r, "id", zp->host) ||
	    !cJSON_AddStringToObject(r, "console_log", log) ||
	    (s->nifs && !cJSON_AddStringToObject(r, "ip", s->if_ip[0]))) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static int feature_check(struct prov_ctx *ctx, char *err, size_t errsz)
{
	if (!ctx->feat.root || !ctx->feat.namespaces)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "containers need root and pid/mount/uts/ipc/net namespaces");
	if (!ctx->feat.cgroups)
		return prov_err(
		    err, errsz, ZE_UNSUPPORTED,
		    "containers need the cpu, memory, pids and freezer cgroup controllers");
	if (!ctx->feat.netns_tools)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "containers need ip(8) for their network namespace");
	/* Overlay options use ',' and ':' as separators. */
	if (strpbrk(ctx->run_dir, ",:") || strpbrk(ctx->image_dir, ",:"))
		return prov_err(err, errsz, ZE_CONFIG,
		                "run_dir and image_dir must not contain ',' or ':'");
	return 0;
}

static int spec_equal(const char *file, const cJSON *data)
{
	char *buf = malloc(SPEC_MAX);
	if (!buf)
		return 0;
	int eq = 0;
	if (prov_read_file(file, buf, SPEC_MAX, NULL) == 0) {
		cJSON *old = cJSON_Parse(buf);
		eq = old && cJSON_Compare(old, data, 1);
		cJSON_Delete(old);
	}
	free(buf);
	return eq;
}

static int zm_start(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
                    const struct zm_spec *s, const struct zm_paths *zp,
                    const struct prov_deployment_view *deps, struct prov_ct_plan *p, char *err,
                    size_t errsz)
{
	int rc;
	char sub[PROV_PATH_MAX];
	snprintf(p->host, sizeof p->host, "%s", zp->host);
	snprintf(p->dir, sizeof p->dir, "%s", zp->dir);
	p->log_max = ctx->log_max_bytes;
	p->log_keep = ctx->log_keep;
	if ((rc = prov_fmt(p->image, sizeof p->image, "%s/%s", ctx->image_dir, s->image)) < 0 ||
	    (rc = prov_fmt(p->netns, sizeof p->netns, "/run/netns/%s", zp->host)) < 0)
		return prov_err(err, errsz, rc, "path too long");
	struct stat st;
	if (stat(p->image, &st) < 0 || !S_ISDIR(st.st_mode))
		return prov_err(err, errsz, -ENOENT, "image '%s' not found in the image store",
		                s->image);
	if ((rc = resolve_mounts(ctx, id, s, deps, p, err, errsz)) < 0)
		return rc;
	size_t argc;
	if ((rc = parse_entry(cJSON_GetObjectItemCaseSensitive(data, "entrypoint"), p->argv, &argc,
	                      err, errsz)) < 0 ||
	    (rc = parse_env(cJSON_GetObjectItemCaseSensitive(data, "env"), p->envp, err, errsz)) <
	        0)
		return rc == -ENOMEM ? prov_err(err, errsz, rc, "out of memory") : rc;

	static const char *const subs[] = {"upper", "work", "rootfs"};
	for (size_t i = 0; i < 3; i++)
		if ((rc = prov_fmt(sub, sizeof sub, "%s/%s", zp->dir, subs[i])) < 0 ||
		    (rc = prov_mkdirs(sub, 0755)) < 0)
			return prov_err(err, errsz, rc, "cannot create %s: %s", sub, zerr_str(rc));
	char *text = cJSON_PrintUnformatted(data);
	if (!text)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	rc = prov_write_file(zp->spec, text, strlen(text), 0600);
	free(text);
	if (rc < 0)
		return prov_err(err, errsz, rc, "cannot write %s: %s", zp->spec, zerr_str(rc));

	if ((rc = prov_netns_add(zp->host, err, errsz)) < 0)
		return rc;
	for (size_t i = 0; i < s->nifs; i++) {
		const char *t = dep_type(deps, s->if_net[i]);
		if (!t || strcmp(t, "network") != 0)
			return prov_err(err, errsz, -ENOENT,
			                "network %s is not part of this deployment", s->if_net[i]);
		if ((rc = prov_network_attach(ctx, id->contract_id, s->if_net[i], zp->host,
		                              zp->host, (unsigned)i, s->if_ip[i], err, errsz)) < 0)
			return rc;
	}
	if ((rc = prov_cg_paths(ctx, zp->host, &p->cg)) < 0 ||
	    (rc = prov_cg_create(&p->cg, s->cpu, s->memory, PROV_CT_PIDS_MAX, err, errsz)) < 0)
		return rc;
	if ((rc = prov_cg_save(&p->cg, zp->cgfile)) < 0)
		return prov_err(err, errsz, rc, "cannot record cgroups: %s", zerr_str(rc));
	return prov_ct_start(p, err, errsz);
}

static int zm_provision(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
                        const struct prov_deployment_view *deps, cJSON **result, char *err,
                        size_t errsz)
{
	struct zm_spec s;
	struct zm_paths zp;
	int rc = zm_parse(data, &s, err, errsz);
	if (rc < 0 || (rc = feature_check(ctx, err, errsz)) < 0)
		return rc;
	if ((rc = zm_paths(ctx, id, &zp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	pid_t pid;
	int fresh = access(zp.spec, F_OK) != 0;
	if (!fresh) {
		if (!spec_equal(zp.spec, data))
			return prov_err(err, errsz, ZE_STATE,
			                "zmachine %s exists with another spec", id->name);
		if (prov_ct_alive(zp.dir, "supervisor.pid", &pid) == 1)
			goto done;
		/* Same spec but not running (reboot, crash): rebuild the runtime
		 * objects; upper/ keeps the container's files. */
		teardown(ctx, &zp);
	}
	struct prov_ct_plan *p = calloc(1, sizeof *p);
	if (!p)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	rc = zm_start(ctx, id, data, &s, &zp, deps, p, err, errsz);
	prov_ct_plan_clear(p);
	free(p);
	if (rc < 0) {
		teardown(ctx, &zp);
		/* Keep the files of a container that existed before this call. */
		if (fresh)
			prov_rm_tree(zp.dir);
		return rc;
	}
done:
	if (!(*result = zm_result(&zp, &s)))
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	return 0;
}

static int zm_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                          size_t errsz)
{
	struct zm_paths zp;
	int rc = zm_paths(ctx, id, &zp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	struct prov_cg cg;
	int have_cg = prov_cg_load(&cg, zp.cgfile) == 0 || prov_cg_paths(ctx, zp.host, &cg) == 0;
	/* Thaw first: a frozen container cannot be stopped. */
	if (have_cg && prov_cg_exists(&cg))
		prov_cg_freeze(&cg, 0);
	prov_ct_stop(zp.dir);
	if (have_cg && (rc = prov_cg_destroy(&cg)) < 0)
		return prov_err(err, errsz, rc, "cannot remove cgroups of %s: %s", zp.host,
		                zerr_str(rc));
	if ((rc = prov_netns_del(zp.host)) < 0)
		return prov_err(err, errsz, rc, "cannot delete netns %s", zp.host);
	if ((rc = prov_rm_tree(zp.dir)) < 0)
		return prov_err(err, errsz, rc, "cannot remove %s: %s", zp.dir, zerr_str(rc));
	return 0;
}

static int load_cg(struct prov_ctx *ctx, const struct zm_paths *zp, struct prov_cg *cg)
{
	if (prov_cg_load(cg, zp->cgfile) == 0)
		return 0;
	return prov_cg_paths(ctx, zp->host, cg);
}

static int zm_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id, enum prov_health *h,
                      char *err, size_t errsz)
{
	struct zm_paths zp;
	int rc = zm_paths(ctx, id, &zp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	struct prov_cg cg;
	int cg_ok = load_cg(ctx, &zp, &cg) == 0 && prov_cg_exists(&cg);
	int dir = access(zp.dir, F_OK) == 0, ns = prov_netns_exists(zp.host);
	if (!dir && !cg_ok && !ns) {
		*h = PROV_ABSENT;
		return 0;
	}
	pid_t sp, cp;
	int sup = prov_ct_alive(zp.dir, "supervisor.pid", &sp) == 1;
	int ct = prov_ct_alive(zp.dir, "container.pid", &cp) == 1;
	if (!sup || !ct || !cg_ok || !ns || access(zp.spec, F_OK) != 0)
		*h = PROV_DEGRADED;
	else
		*h = prov_cg_frozen(&cg) == 1 ? PROV_PAUSED : PROV_OK;
	return 0;
}

static int zm_freeze(struct prov_ctx *ctx, const struct prov_workload_id *id, int frozen, char *err,
                     size_t errsz)
{
	struct zm_paths zp;
	struct prov_cg cg;
	int rc = zm_paths(ctx, id, &zp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (load_cg(ctx, &zp, &cg) < 0 || !prov_cg_exists(&cg))
		return prov_err(err, errsz, -ENOENT, "zmachine %s is not provisioned", id->name);
	if ((rc = prov_cg_freeze(&cg, frozen)) < 0)
		return prov_err(err, errsz, rc, "cannot %s %s: %s", frozen ? "freeze" : "thaw",
		                zp.host, zerr_str(rc));
	return 0;
}

static int zm_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                    size_t errsz)
{
	return zm_freeze(ctx, id, 1, err, errsz);
}

static int zm_resume(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                     size_t errsz)
{
	return zm_freeze(ctx, id, 0, err, errsz);
}

static int zm_usage(struct prov_ctx *ctx, const struct prov_workload_id *id, struct prov_usage *u,
                    char *err, size_t errsz)
{
	struct zm_paths zp;
	struct prov_cg cg;
	int rc = zm_paths(ctx, id, &zp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (load_cg(ctx, &zp, &cg) < 0 || !prov_cg_exists(&cg))
		return prov_err(err, errsz, -ENOENT, "zmachine %s is not provisioned", id->name);
	memset(u, 0, sizeof *u);
	if ((rc = prov_cg_stats(&cg, &u->cpu_ns, &u->mem_bytes)) < 0)
		return prov_err(err, errsz, rc, "cannot read cgroup stats: %s", zerr_str(rc));
	/* The writable layer is what the container adds on disk. */
	char upper[PROV_PATH_MAX];
	if (prov_fmt(upper, sizeof upper, "%s/upper", zp.dir) == 0)
		prov_du(upper, &u->disk_bytes);
	if (prov_netns_exists(zp.host))
		prov_netns_counters(zp.host, NULL, &u->net_rx_bytes, &u->net_tx_bytes);
	return 0;
}

const struct prov_ops prov_zmachine_ops = {
    .type = "container",
    .validate = zm_validate,
    .provision = zm_provision,
    .deprovision = zm_deprovision,
    .pause = zm_pause,
    .resume = zm_resume,
    .inspect = zm_inspect,
    .usage = zm_usage,
};
