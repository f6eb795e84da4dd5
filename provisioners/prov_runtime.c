/*
 * The OCI runtime: which one this node uses, and running its commands.
 *
 * [containers] runtime = auto tries runc, then crun; runc or crun names one.
 * A runtime is picked only if it runs a probe container with what every
 * container asks for (a user namespace mapped to the id ranges, a memory
 * limit in a cgroup under the configured parent): crun 1.8, for one, refuses
 * hosts with cgroup v1 controllers beside an empty v2 hierarchy ("hybrid"
 * layout). The probe's process is a program that does not exist, so the
 * runtime gets through namespaces and cgroups and fails only at execve;
 * that failure is the sign that everything before it works.
 */
#include "provisioners/prov_container.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD_TIMEOUT_MS 30000
#define PROBE_EXEC "/zos-probe-exec-target"

int prov_rt_cmd(const struct prov_ctx *ctx, char *out, size_t outsz, int timeout_ms,
                const char *const args[])
{
	if (!ctx->runtime[0])
		return ZE_UNSUPPORTED;
	const char *argv[10] = {ctx->runtime, "--root", ctx->runtime_root};
	size_t n = 3;
	for (size_t i = 0; args[i]; i++) {
		if (n >= sizeof argv / sizeof argv[0] - 1)
			return -E2BIG;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return prov_run(argv, out, outsz, timeout_ms ? timeout_ms : CMD_TIMEOUT_MS);
}

int prov_rt_state(const struct prov_ctx *ctx, const char *id, char *state, size_t statesz,
                  pid_t *pid)
{
	char out[4096];
	const char *args[] = {"state", id, NULL};
	int rc = prov_rt_cmd(ctx, out, sizeof out, 0, args);
	if (rc < 0)
		return strstr(out, "does not exist") || strstr(out, "not found") ? -ENOENT : rc;
	cJSON *j = cJSON_Parse(out);
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pid");
	rc = cJSON_IsString(st) ? prov_fmt(state, statesz, "%s", st->valuestring) : ZE_MALFORMED;
	if (pid)
		*pid = cJSON_IsNumber(p) ? (pid_t)p->valueint : 0;
	cJSON_Delete(j);
	return rc;
}

static cJSON *probe_config(const struct prov_ctx *ctx, const char *rootfs, const char *cgpath)
{
	char cfg[2048];
	int n = snprintf(
	    cfg, sizeof cfg,
	    "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"" PROBE_EXEC "\"], "
	    "\"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}, \"noNewPrivileges\": true},"
	    " \"root\": {\"path\": \"%s\"}, \"mounts\": [{\"destination\": \"/proc\", \"type\": "
	    "\"proc\","
	    " \"source\": \"proc\"}], \"linux\": {\"namespaces\": [{\"type\": \"pid\"},"
	    " {\"type\": \"mount\"}, {\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": 0,"
	    " \"hostID\": %u, \"size\": %u}], \"gidMappings\": [{\"containerID\": 0, \"hostID\":"
	    " %u, \"size\": %u}], \"cgroupsPath\": \"%s\", \"resources\": {\"memory\": {\"limit\":"
	    " 67108864}, \"pids\": {\"limit\": 16}}}}",
	    rootfs, ctx->uid_base, PROV_CT_IDS, ctx->uid_base, PROV_CT_IDS, cgpath);
	return n > 0 && (size_t)n < sizeof cfg ? cJSON_Parse(cfg) : NULL;
}

/* 0 when the runtime at path ran the probe up to its execve. */
static int probe(struct prov_ctx *ctx, const char *path, char *err, size_t errsz)
{
	char dir[PROV_PATH_MAX], rootfs[PROV_PATH_MAX], state[PROV_PATH_MAX], cfgf[PROV_PATH_MAX];
	char id[64], cgpath[PROV_PATH_MAX], out[1024];
	snprintf(id, sizeof id, "zos-probe-%d", (int)getpid());
	if (prov_fmt(dir, sizeof dir, "%s/oci-probe", ctx->run_dir) < 0 ||
	    prov_fmt(rootfs, sizeof rootfs, "%s/rootfs", dir) < 0 ||
	    prov_fmt(state, sizeof state, "%s/state", dir) < 0 ||
	    prov_fmt(cfgf, sizeof cfgf, "%s/config.json", dir) < 0 ||
	    prov_cg_spec_path(ctx, id, cgpath, sizeof cgpath) < 0)
		return prov_err(err, errsz, -ENAMETOOLONG, "run_dir too long");
	prov_rm_tree(dir);
	/* Owned by container root, as a container's writable layer is. */
	if (prov_mkdirs(rootfs, 0755) < 0 || prov_mkdirs(state, 0700) < 0 || chmod(dir, 0711) < 0 ||
	    chown(rootfs, ctx->uid_base, ctx->uid_base) < 0)
		return prov_err(err, errsz, -EIO, "cannot create %s", dir);
	cJSON *c = probe_config(ctx, rootfs, cgpath);
	char *text = c ? cJSON_Print(c) : NULL;
	cJSON_Delete(c);
	int rc = text ? prov_write_file(cfgf, text, strlen(text), 0600) : -ENOMEM;
	free(text);
	if (rc < 0) {
		prov_rm_tree(dir);
		return prov_err(err, errsz, rc, "cannot write the probe bundle");
	}
	const char *run[] = {path, "--root", state, "run", "--bundle", dir, id, NULL};
	rc = prov_run(run, out, sizeof out, CMD_TIMEOUT_MS);
	const char *del[] = {path, "--root", state, "delete", "--force", id, NULL};
	prov_run(del, NULL, 0, CMD_TIMEOUT_MS);
	prov_rm_tree(dir);
	if (rc == 0)
		return prov_err(err, errsz, -EIO, "the probe ran a program that does not exist");
	if (strstr(out, PROBE_EXEC) && (strstr(out, "no such file") || strstr(out, "not found")))
		return 0;
	return prov_err(err, errsz, -EIO, "%.200s", out[0] ? out : "no output");
}

/* Container root, an unprivileged host id, must reach the bundles' rootfs
 * under run_dir: every directory above it needs search permission for
 * others. 0 or -EACCES with the first one that lacks it in bad. */
static int reachable(const char *dir, char *bad, size_t badsz)
{
	char p[PROV_PATH_MAX];
	if (prov_fmt(p, sizeof p, "%s", dir) < 0)
		return -ENAMETOOLONG;
	for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
		*slash = '\0';
		struct stat st;
		const char *d = p[0] ? p : "/";
		if (stat(d, &st) == 0 && !(st.st_mode & S_IXOTH)) {
			snprintf(bad, badsz, "%s", d);
			return -EACCES;
		}
		if (!p[0])
			break;
	}
	return 0;
}

void prov_rt_detect(struct prov_ctx *ctx)
{
	static const char *const all[] = {"runc", "crun", NULL};
	const char *one[] = {ctx->runtime_cfg, NULL};
	const char *const *want = strcmp(ctx->runtime_cfg, "auto") == 0 ? all : one;
	ctx->runtime[0] = '\0';
	snprintf(ctx->runtime_name, sizeof ctx->runtime_name, "none");
	snprintf(ctx->runtime_why, sizeof ctx->runtime_why, "not probed (needs root)");
	if (prov_fmt(ctx->runtime_root, sizeof ctx->runtime_root, "%s/oci", ctx->run_dir) < 0 ||
	    !ctx->feat.root)
		return;
	char bad[PROV_PATH_MAX];
	if (reachable(ctx->run_dir, bad, sizeof bad) < 0) {
		prov_err(ctx->runtime_why, sizeof ctx->runtime_why, -EACCES,
		         "%.80s is not searchable by others, so container root cannot reach its "
		         "root filesystem: chmod o+x it or move [storage] containers_dir",
		         bad);
		return;
	}
	size_t off = 0;
	ctx->runtime_why[0] = '\0';
	for (size_t i = 0; want[i]; i++) {
		char path[PROV_PATH_MAX], why[200];
		if (prov_which(want[i], path, sizeof path) < 0)
			snprintf(why, sizeof why, "not installed");
		else if (probe(ctx, path, why, sizeof why) == 0) {
			snprintf(ctx->runtime, sizeof ctx->runtime, "%s", path);
			snprintf(ctx->runtime_name, sizeof ctx->runtime_name, "%s", want[i]);
			ctx->runtime_why[0] = '\0';
			ctx->feat.oci_runtime = 1;
			return;
		}
		int k = snprintf(ctx->runtime_why + off, sizeof ctx->runtime_why - off, "%s%s: %s",
		                 off ? "; " : "", want[i], why);
		if (k > 0 && (size_t)k < sizeof ctx->runtime_why - off)
			off += (size_t)k;
	}
}

const char *prov_runtime_name(const struct prov_ctx *ctx)
{
	return ctx->runtime_name;
}

const char *prov_runtime_why(const struct prov_ctx *ctx)
{
	return ctx->runtime_why;
}
