/* The provisioners' context: configuration and what the host offers. */
#include "provisioners/prov_vm.h"
#include "provisioners/prov_container.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_MAX_DEFAULT (8ull << 20)
#define LOG_KEEP_DEFAULT 2
#define LOG_KEEP_MAX 16
#define UID_BASE_DEFAULT (1u << 30)
#define ROOTFS_SIZE_DEFAULT (1ull << 30)

/* A throwaway child tries the namespaces a container needs. */
static int probe_namespaces(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0)
		_exit(unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
		              CLONE_NEWNET) == 0
		          ? 0
		          : 1);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int dup_str(char **dst, const char *src)
{
	if (!src || !*src || src[0] != '/' || strlen(src) > PROV_PATH_MAX / 2)
		return ZE_CONFIG;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int prov_ctx_new(const struct prov_config *cfg, struct prov_ctx **out)
{
	struct prov_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	int rc;
	if ((rc = dup_str(&c->storage_dir, cfg->storage_dir)) < 0 ||
	    (rc = dup_str(&c->image_dir, cfg->image_dir)) < 0 ||
	    (rc = dup_str(&c->run_dir, cfg->run_dir)) < 0)
		goto fail;
	const char *parent = cfg->cgroup_parent ? cfg->cgroup_parent : "zos";
	if (prov_name_valid(parent) < 0) {
		rc = ZE_CONFIG;
		goto fail;
	}
	if (!(c->cgroup_parent = strdup(parent))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = prov_vm_ctx_init(c, cfg)) < 0)
		goto fail;
	const char *rt = cfg->runtime && cfg->runtime[0] ? cfg->runtime : "auto";
	if (strcmp(rt, "auto") != 0 && strcmp(rt, "runc") != 0 && strcmp(rt, "crun") != 0) {
		rc = ZE_CONFIG;
		goto fail;
	}
	if (!(c->runtime_cfg = strdup(rt))) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Ids below 65536 are the host's own users; a range must fit below
	 * 2^32-1 (prov_ct_idmap.c checks each twin's). */
	c->uid_base = cfg->uid_base ? cfg->uid_base : UID_BASE_DEFAULT;
	if (c->uid_base < 65536 || c->uid_base > 0xfffffffeu - PROV_CT_IDS) {
		rc = ZE_CONFIG;
		goto fail;
	}
	c->rootfs_size = cfg->rootfs_size ? cfg->rootfs_size : ROOTFS_SIZE_DEFAULT;
	c->allow_unenforced_volumes = cfg->allow_unenforced_volumes;
	c->images = cfg->images;
	c->reserved = cfg->reserved;
	c->log_max_bytes = cfg->log_max_bytes ? cfg->log_max_bytes : LOG_MAX_DEFAULT;
	c->log_keep = cfg->log_keep ? cfg->log_keep : LOG_KEEP_DEFAULT;
	if (c->log_keep > LOG_KEEP_MAX)
		c->log_keep = LOG_KEEP_MAX;
	if ((rc = prov_mkdirs(c->storage_dir, 0700)) < 0 ||
	    (rc = prov_mkdirs(c->run_dir, 0700)) < 0)
		goto fail;
	/* Container root (an unprivileged host id) must reach its bundle's
	 * rootfs below run_dir: search permission, nothing listable. */
	if (chmod(c->run_dir, 0711) < 0) {
		rc = -errno;
		goto fail;
	}

	char tmp[PROV_PATH_MAX];
	c->feat.root = geteuid() == 0;
	c->feat.loop = c->feat.root && access("/dev/loop-control", R_OK | W_OK) == 0;
	c->feat.namespaces = c->feat.root && probe_namespaces();
	c->feat.netns_tools = c->feat.root && prov_which("ip", tmp, sizeof tmp) == 0;
	prov_cg_detect(c);
	/* The image store may not exist yet; it is on the same kind of disk. */
	c->feat.userns =
	    c->feat.root &&
	    prov_ct_idmap_probe(access(c->image_dir, F_OK) == 0 ? c->image_dir : c->run_dir) == 0;
	if (c->feat.userns && c->feat.cgroups)
		prov_rt_detect(c);
	else
		snprintf(c->runtime_why, sizeof c->runtime_why, "%s",
		         !c->feat.root     ? "not root"
		         : !c->feat.userns ? "no user namespaces or idmapped mounts on image_dir"
		                           : "no usable cgroups");
	if (!c->runtime_name[0])
		snprintf(c->runtime_name, sizeof c->runtime_name, "none");
	c->wg_mode = cfg->wireguard >= PROV_WG_AUTO && cfg->wireguard <= PROV_WG_USERSPACE
	                 ? cfg->wireguard
	                 : PROV_WG_AUTO;
	if (cfg->public_ip && *cfg->public_ip && !(c->public_ip = strdup(cfg->public_ip))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((cfg->gateway_domain && *cfg->gateway_domain &&
	     !(c->gw_domain = strdup(cfg->gateway_domain))) ||
	    (cfg->gateway_cert && *cfg->gateway_cert &&
	     !(c->gw_cert = strdup(cfg->gateway_cert)))) {
		rc = -ENOMEM;
		goto fail;
	}
	c->gw_http_port = cfg->gateway_http_port;
	c->gw_https_port = cfg->gateway_https_port;
	c->port_min = cfg->public_port_min ? cfg->public_port_min : 20000;
	c->port_max = cfg->public_port_max ? cfg->public_port_max : 29999;
	prov_wg_probe(c);
	c->feat.wireguard = c->wg_impl;
	*out = c;
	return 0;
fail:
	prov_ctx_free(c);
	return rc;
}

void prov_ctx_free(struct prov_ctx *ctx)
{
	if (!ctx)
		return;
	free(ctx->storage_dir);
	free(ctx->image_dir);
	free(ctx->run_dir);
	free(ctx->cgroup_parent);
	prov_vm_ctx_free(ctx);
	free(ctx->runtime_cfg);
	free(ctx->public_ip);
	free(ctx->gw_domain);
	free(ctx->gw_cert);
	free(ctx);
}

void prov_ctx_features(const struct prov_ctx *ctx, struct prov_features *f)
{
	*f = ctx->feat;
}

struct img_store *prov_ctx_images(const struct prov_ctx *ctx)
{
	return ctx->images;
}
