/*
 * container: a workload running the user's program from an image, started
 * by the OCI runtime in a user namespace (see prov_container.h).
 * {image, entrypoint, env, compute_capacity{cpu, memory}, size, mounts[{name,
 * mountpoint}], network{interfaces[{network, ip}]}}; parsing is in
 * prov_ct_parse.c. "zmachine" is accepted as another name for it, as older
 * deployments used it.
 *
 * Host objects: <run>/containers/<host>/ (the bundle, spec.json, cgroups,
 * pid files, logs, the writable layer's image and the mounts of
 * prov_ct_rootfs.c), the runtime's state of container <host> under
 * <run>/oci, the network namespace /run/netns/<host>, the cgroups the
 * runtime made (<parent>/<host>) and the supervisor process.
 */
#include "provisioners/prov_container.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"

#define SPEC_MAX (256 * 1024)
#define PAUSE_TRIES 20

static int ct_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	struct prov_ct_spec s;
	int rc = prov_ct_parse(data, &s, err, errsz);
	if (rc < 0)
		return rc;
	memset(cap, 0, sizeof *cap);
	cap->cru = s.cpu;
	cap->mru = s.memory;
	cap->sru = s.rootfs_size;
	return 0;
}

struct ct_paths {
	char host[PROV_HOST_MAX];
	char dir[PROV_PATH_MAX];
	char spec[PROV_PATH_MAX];
	char cgfile[PROV_PATH_MAX];
	char paused[PROV_PATH_MAX];
};

static int ct_paths(struct prov_ctx *ctx, const struct prov_workload_id *id, struct ct_paths *p)
{
	int rc;
	if ((rc = prov_host_name(id, p->host)) < 0 ||
	    (rc = prov_fmt(p->dir, sizeof p->dir, "%s/containers/%s", ctx->run_dir, p->host)) < 0 ||
	    (rc = prov_fmt(p->spec, sizeof p->spec, "%s/spec.json", p->dir)) < 0 ||
	    (rc = prov_fmt(p->paused, sizeof p->paused, "%s/paused", p->dir)) < 0 ||
	    (rc = prov_fmt(p->cgfile, sizeof p->cgfile, "%s/cgroups", p->dir)) < 0)
		return rc;
	return 0;
}

static int resolve_mounts(struct prov_ctx *ctx, const struct prov_workload_id *id,
                          const struct prov_ct_spec *s, const struct prov_deployment_view *deps,
                          struct prov_ct_plan *p, char *err, size_t errsz)
{
	for (size_t i = 0; i < s->nmounts; i++) {
		const char *type = prov_spec_dep_type(deps, s->mount_name[i]);
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
			/* A zmount is a raw disk; a container needs a filesystem
			 * on it. */
			if (!prov_ext4_has(m->src) &&
			    (rc = prov_ext4_format(m->src, err, errsz)) < 0)
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

/* Removes the runtime objects (container, cgroups, mounts, netns) but not
 * the directory, so a rebuild keeps the writable layer. */
static int teardown(struct prov_ctx *ctx, const struct ct_paths *cp, char *err, size_t errsz)
{
	prov_ct_stop(cp->dir);
	if (ctx->runtime[0]) {
		const char *del[] = {"delete", "--force", cp->host, NULL};
		prov_rt_cmd(ctx, NULL, 0, 0, del);
	}
	struct prov_cg cg;
	int rc;
	if ((prov_cg_load(&cg, cp->cgfile) == 0 || prov_cg_paths(ctx, cp->host, &cg) == 0) &&
	    (rc = prov_cg_destroy(&cg)) < 0)
		return prov_err(err, errsz, rc, "cannot remove cgroups of %s: %s", cp->host,
		                zerr_str(rc));
	prov_ct_rootfs_down(cp->dir);
	if ((rc = prov_netns_del(cp->host)) < 0)
		return prov_err(err, errsz, rc, "cannot delete netns %s", cp->host);
	return 0;
}

static cJSON *ct_result(struct prov_ctx *ctx, const struct ct_paths *cp,
                        const struct prov_ct_spec *s)
{
	char log[PROV_PATH_MAX];
	if (prov_fmt(log, sizeof log, "%s/log", cp->dir) < 0)
		return NULL;
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddStringToObject(r, "id", cp->host) ||
	    !cJSON_AddStringToObject(r, "console_log", log) ||
	    !cJSON_AddStringToObject(r, "runtime", ctx->runtime_name) ||
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
	if (!ctx->feat.loop)
		return prov_err(
		    err, errsz, ZE_UNSUPPORTED,
		    "containers need loop devices for their size-limited writable layer");
	if (!ctx->feat.userns || !ctx->feat.oci_runtime)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "no OCI runtime works on this node (%s); install runc and check "
		                "that user namespaces and idmapped mounts are enabled",
		                ctx->runtime_why);
	/* Overlay options use ',' and ':' as separators. */
	if (strpbrk(ctx->run_dir, ",:") || strpbrk(ctx->image_dir, ",:"))
		return prov_err(err, errsz, ZE_CONFIG,
		                "run_dir and image_dir must not contain ',' or ':'");
	return 0;
}

/* The image's layers: the unpacked layers of an image by reference, which
 * the engine pulled (and holds) before provisioning; or one local rootfs
 * folder of image_dir. *img (for the image's config) is set for a
 * reference; the caller frees it. */
static int image_layers(struct prov_ctx *ctx, const char *image, struct prov_ct_plan *p,
                        struct img_image **img, char *err, size_t errsz)
{
	int rc;
	if (!prov_ct_image_is_ref(image)) {
		struct stat st;
		p->nlayers = 1;
		if ((rc = prov_fmt(p->layers[0], sizeof p->layers[0], "%s/%s", ctx->image_dir,
		                   image)) < 0)
			return prov_err(err, errsz, rc, "path too long");
		if (stat(p->layers[0], &st) < 0 || !S_ISDIR(st.st_mode))
			return prov_err(err, errsz, -ENOENT,
			                "image '%s' not found in the local image folder %s", image,
			                ctx->image_dir);
		return 0;
	}
	if ((rc = prov_spec_image(ctx, image, img, err, errsz)) < 0)
		return rc;
	if ((*img)->disk)
		return prov_err(err, errsz, -EINVAL,
		                "image %s is a VM disk image, not a root filesystem: deploy it as "
		                "a zmachine",
		                image);
	if ((*img)->n_layers == 0 || (*img)->n_layers > PROV_CT_LAYERS_MAX)
		return prov_err(err, errsz, ZE_UNSUPPORTED, "image %s has %zu layers (at most %d)",
		                image, (*img)->n_layers, PROV_CT_LAYERS_MAX);
	p->nlayers = (*img)->n_layers;
	for (size_t i = 0; i < p->nlayers; i++)
		if ((rc = prov_fmt(p->layers[i], sizeof p->layers[i], "%s", (*img)->layers[i])) < 0)
			return prov_err(err, errsz, rc, "layer path too long");
	snprintf(p->image_digest, sizeof p->image_digest, "%s", (*img)->digest);
	return 0;
}

static int ct_start(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
                    const struct prov_ct_spec *s, const struct ct_paths *cp,
                    const struct prov_deployment_view *deps, struct prov_ct_plan *p, char *err,
                    size_t errsz)
{
	int rc;
	snprintf(p->host, sizeof p->host, "%s", cp->host);
	snprintf(p->dir, sizeof p->dir, "%s", cp->dir);
	snprintf(p->runtime, sizeof p->runtime, "%s", ctx->runtime);
	snprintf(p->runtime_root, sizeof p->runtime_root, "%s", ctx->runtime_root);
	p->log_max = ctx->log_max_bytes;
	p->log_keep = ctx->log_keep;
	p->cpu = s->cpu;
	p->memory = s->memory;
	p->rootfs_size = s->rootfs_size ? s->rootfs_size : ctx->rootfs_size;
	if ((rc = prov_fmt(p->netns, sizeof p->netns, "/run/netns/%s", cp->host)) < 0 ||
	    (rc = prov_cg_spec_path(ctx, cp->host, p->cgroups_path, sizeof p->cgroups_path)) < 0)
		return prov_err(err, errsz, rc, "path too long");
	char root[PROV_PATH_MAX];
	struct img_image *img = NULL;
	if ((rc = image_layers(ctx, s->image, p, &img, err, errsz)) < 0)
		return rc;
	rc = prov_ct_args(data, img, p, err, errsz);
	img_image_free(img);
	if (rc < 0 || (rc = resolve_mounts(ctx, id, s, deps, p, err, errsz)) < 0 ||
	    (rc = prov_ct_twin_range(ctx, id->twin_id, &p->uid_base, err, errsz)) < 0)
		return rc;
	/* Search permission for container root on the way to rootfs/. */
	if ((rc = prov_mkdirs(cp->dir, 0711)) < 0 || chmod(cp->dir, 0711) < 0 ||
	    (rc = prov_fmt(root, sizeof root, "%s/containers", ctx->run_dir)) < 0 ||
	    chmod(root, 0711) < 0)
		return prov_err(err, errsz, rc < 0 ? rc : -errno, "cannot create %s: %s", cp->dir,
		                zerr_str(rc < 0 ? rc : -errno));
	char *text = cJSON_PrintUnformatted(data);
	if (!text)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	rc = prov_write_file(cp->spec, text, strlen(text), 0600);
	free(text);
	if (rc < 0)
		return prov_err(err, errsz, rc, "cannot write %s: %s", cp->spec, zerr_str(rc));

	if ((rc = prov_netns_add(cp->host, err, errsz)) < 0)
		return rc;
	/* Without CAP_NET_RAW, ping needs ICMP datagram sockets, which the
	 * namespace allows only to the groups listed here (as Docker does). */
	if ((rc = prov_netns_sysctl(cp->host, "net/ipv4/ping_group_range", "0 2147483647")) < 0)
		return prov_err(err, errsz, rc, "cannot allow ping in netns %s: %s", cp->host,
		                zerr_str(rc));
	for (size_t i = 0; i < s->nifs; i++) {
		const char *t = prov_spec_dep_type(deps, s->if_net[i]);
		if (!t || strcmp(t, "network") != 0)
			return prov_err(err, errsz, -ENOENT,
			                "network %s is not part of this deployment", s->if_net[i]);
		if ((rc = prov_network_attach(ctx, id->contract_id, s->if_net[i], cp->host,
		                              cp->host, (unsigned)i, s->if_ip[i], err, errsz)) < 0)
			return rc;
	}
	struct prov_cg cg;
	if ((rc = prov_ct_rootfs_up(p, err, errsz)) < 0 ||
	    (rc = prov_ct_bundle_write(ctx, p, err, errsz)) < 0)
		return rc;
	if ((rc = prov_cg_paths(ctx, cp->host, &cg)) < 0 ||
	    (rc = prov_cg_save(&cg, cp->cgfile)) < 0)
		return prov_err(err, errsz, rc, "cannot record cgroups: %s", zerr_str(rc));
	return prov_ct_start(p, err, errsz);
}

static int ct_provision(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
                        const struct prov_deployment_view *deps, cJSON **result, char *err,
                        size_t errsz)
{
	struct prov_ct_spec s;
	struct ct_paths cp;
	int rc = prov_ct_parse(data, &s, err, errsz);
	if (rc < 0 || (rc = feature_check(ctx, err, errsz)) < 0)
		return rc;
	if ((rc = ct_paths(ctx, id, &cp)) < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	pid_t pid;
	int fresh = access(cp.spec, F_OK) != 0;
	if (!fresh) {
		if (!prov_spec_equal(cp.spec, data, SPEC_MAX))
			return prov_err(err, errsz, ZE_STATE,
			                "container %s exists with another spec", id->name);
		if (prov_ct_alive(cp.dir, "supervisor.pid", &pid) == 1)
			goto done;
		/* Same spec but not running (reboot, crash): rebuild the runtime
		 * objects; the writable layer keeps the container's files. */
		char e2[256];
		teardown(ctx, &cp, e2, sizeof e2);
	}
	struct prov_ct_plan *p = calloc(1, sizeof *p);
	if (!p)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	rc = ct_start(ctx, id, data, &s, &cp, deps, p, err, errsz);
	prov_ct_plan_clear(p);
	free(p);
	if (rc < 0) {
		char e2[256];
		teardown(ctx, &cp, e2, sizeof e2);
		/* Keep the files of a container that existed before this call. */
		if (fresh)
			prov_rm_tree(cp.dir);
		return rc;
	}
done:
	if (!(*result = ct_result(ctx, &cp, &s)))
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	return 0;
}

static int ct_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                          size_t errsz)
{
	struct ct_paths cp;
	int rc = ct_paths(ctx, id, &cp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if ((rc = teardown(ctx, &cp, err, errsz)) < 0)
		return rc;
	char img[PROV_PATH_MAX];
	if (prov_fmt(img, sizeof img, "%s/upper.img", cp.dir) == 0)
		prov_loop_detach_file(img);
	if ((rc = prov_rm_tree(cp.dir)) < 0)
		return prov_err(err, errsz, rc, "cannot remove %s: %s", cp.dir, zerr_str(rc));
	return 0;
}

static int load_cg(struct prov_ctx *ctx, const struct ct_paths *cp, struct prov_cg *cg)
{
	if (prov_cg_load(cg, cp->cgfile) == 0)
		return 0;
	return prov_cg_paths(ctx, cp->host, cg);
}

static int ct_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id, enum prov_health *h,
                      char *err, size_t errsz)
{
	struct ct_paths cp;
	int rc = ct_paths(ctx, id, &cp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	struct prov_cg cg;
	int cg_ok = load_cg(ctx, &cp, &cg) == 0 && prov_cg_exists(&cg);
	int dir = access(cp.dir, F_OK) == 0, ns = prov_netns_exists(cp.host);
	if (!dir && !cg_ok && !ns) {
		*h = PROV_ABSENT;
		return 0;
	}
	pid_t sp, cpid, rpid = 0;
	int sup = prov_ct_alive(cp.dir, "supervisor.pid", &sp) == 1;
	int ct = prov_ct_alive(cp.dir, "container.pid", &cpid) == 1;
	char state[32] = "";
	/* The runtime's own view decides: a container it does not run is not
	 * healthy whatever our pid files say. */
	if (sup && ct && ns && ctx->runtime[0] &&
	    prov_rt_state(ctx, cp.host, state, sizeof state, &rpid) == 0 && rpid == cpid) {
		int want_paused = access(cp.paused, F_OK) == 0;
		if (strcmp(state, "running") == 0 && !want_paused)
			*h = PROV_OK;
		else if (strcmp(state, "paused") == 0 && want_paused)
			*h = PROV_PAUSED;
		else
			*h = PROV_DEGRADED;
	} else {
		*h = PROV_DEGRADED;
	}
	return 0;
}

/* Pausing marks the workload (the supervisor does not restart a paused
 * container) and freezes what runs through the runtime. */
static int ct_freeze(struct prov_ctx *ctx, const struct prov_workload_id *id, int frozen, char *err,
                     size_t errsz)
{
	struct ct_paths cp;
	int rc = ct_paths(ctx, id, &cp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (access(cp.spec, F_OK) != 0)
		return prov_err(err, errsz, -ENOENT, "container %s is not provisioned", id->name);
	if (frozen && (rc = prov_write_file(cp.paused, "1\n", 2, 0600)) < 0)
		return prov_err(err, errsz, rc, "cannot write %s: %s", cp.paused, zerr_str(rc));
	if (!frozen)
		unlink(cp.paused);
	const char *verb = frozen ? "pause" : "resume";
	const char *want = frozen ? "running" : "paused";
	char state[32], out[512] = "";
	for (int i = 0; i < PAUSE_TRIES; i++) {
		rc = prov_rt_state(ctx, cp.host, state, sizeof state, NULL);
		/* Not running (stopped, restarting): nothing to freeze now, and
		 * the supervisor honours the mark. "created" is a start under
		 * way: wait for it to run. */
		if (rc < 0 || strcmp(state, "created") != 0)
			break;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (rc == 0 && strcmp(state, want) == 0) {
		const char *args[] = {verb, cp.host, NULL};
		if ((rc = prov_rt_cmd(ctx, out, sizeof out, 0, args)) < 0)
			return prov_err(err, errsz, rc, "cannot %s %s: %s", verb, cp.host,
			                out[0] ? out : zerr_str(rc));
	}
	return 0;
}

static int ct_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                    size_t errsz)
{
	return ct_freeze(ctx, id, 1, err, errsz);
}

static int ct_resume(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
                     size_t errsz)
{
	return ct_freeze(ctx, id, 0, err, errsz);
}

static int ct_usage(struct prov_ctx *ctx, const struct prov_workload_id *id, struct prov_usage *u,
                    char *err, size_t errsz)
{
	struct ct_paths cp;
	struct prov_cg cg;
	int rc = ct_paths(ctx, id, &cp);
	if (rc < 0)
		return prov_err(err, errsz, rc, "bad workload id");
	if (load_cg(ctx, &cp, &cg) < 0 || !prov_cg_exists(&cg))
		return prov_err(err, errsz, -ENOENT, "container %s is not running", id->name);
	memset(u, 0, sizeof *u);
	if ((rc = prov_cg_stats(&cg, &u->cpu_ns, &u->mem_bytes)) < 0)
		return prov_err(err, errsz, rc, "cannot read cgroup stats: %s", zerr_str(rc));
	/* The writable layer is what the container adds on disk. */
	prov_ct_upper_usage(cp.dir, &u->disk_bytes);
	if (prov_netns_exists(cp.host))
		prov_netns_counters(cp.host, NULL, &u->net_rx_bytes, &u->net_tx_bytes);
	return 0;
}

const struct prov_ops prov_container_ops = {
    .type = "container",
    .validate = ct_validate,
    .provision = ct_provision,
    .deprovision = ct_deprovision,
    .pause = ct_pause,
    .resume = ct_resume,
    .inspect = ct_inspect,
    .usage = ct_usage,
};
