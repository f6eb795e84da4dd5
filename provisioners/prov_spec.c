/*
 * What the container and the VM workload types share in handling their
 * specs: the compute_capacity field, environment variable names, the mounts
 * and network interfaces fields, the image a spec names by
 * reference (from the image store, where the agent pulled and holds it
 * before provisioning), whether a recorded spec equals a new one, and the
 * type of a workload a spec refers to by name.
 */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

static const char *const cc_keys[] = {"cpu", "memory", NULL};
static const char *const mount_keys[] = {"name", "mountpoint", NULL};
static const char *const net_keys[] = {"interfaces", "public_ip", "public_ip6",
                                       "planetary",  "mycelium",  NULL};
static const char *const if_keys[] = {"network", "ip", NULL};

/* Each type's compute_capacity bounds, side by side, as docs/deploying.md
 * and docs/vms.md state them to users. */
static const struct {
	uint64_t cpu_max, mem_min, mem_max;
} cc_bounds[] = {
    [PROV_CC_CONTAINER] = {256, 16ull << 20, 1ull << 40},
    [PROV_CC_VM] = {64, 64ull << 20, 256ull << 30},
};

int prov_spec_capacity(const cJSON *data, enum prov_cc_kind kind, uint64_t *cpu, uint64_t *memory,
                       char *err, size_t errsz)
{
	if ((size_t)kind >= sizeof cc_bounds / sizeof cc_bounds[0])
		abort(); /* a programming bug: an unknown workload kind */
	const cJSON *cc = cJSON_GetObjectItemCaseSensitive(data, "compute_capacity");
	if (!cc)
		return prov_err(err, errsz, -EINVAL, "missing field 'compute_capacity'");
	int rc;
	if ((rc = prov_json_keys(cc, cc_keys, err, errsz)) < 0 ||
	    (rc = prov_json_u64(cc, "cpu", 1, cc_bounds[kind].cpu_max, cpu, err, errsz)) < 0 ||
	    (rc = prov_json_u64(cc, "memory", cc_bounds[kind].mem_min, cc_bounds[kind].mem_max,
	                        memory, err, errsz)) < 0)
		return rc;
	return 0;
}

int prov_spec_env_name_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 64 || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	return strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

int prov_spec_mounts(const cJSON *mounts, size_t max, const char **name, const char **point,
                     size_t *n, char *err, size_t errsz)
{
	if (!mounts || cJSON_IsNull(mounts))
		return 0;
	if (!cJSON_IsArray(mounts))
		return prov_err(err, errsz, -EINVAL, "mounts must be an array");
	const cJSON *m;
	cJSON_ArrayForEach(m, mounts)
	{
		if (*n >= max)
			return prov_err(err, errsz, -EINVAL, "more than %zu mounts", max);
		const char *nm, *mp;
		int rc;
		if ((rc = prov_json_keys(m, mount_keys, err, errsz)) < 0 ||
		    (rc = prov_json_str(m, "name", PROV_NAME_MAX, &nm, err, errsz)) < 0 ||
		    (rc = prov_json_str(m, "mountpoint", PROV_MOUNTPOINT_MAX, &mp, err, errsz)) < 0)
			return rc;
		if (prov_name_valid(nm) < 0)
			return prov_err(err, errsz, -EINVAL,
			                "mount name '%.40s' is not a workload name", nm);
		if (!prov_mountpoint_ok(mp))
			return prov_err(err, errsz, -EINVAL,
			                "mountpoint '%.64s' must be an absolute normalized path of "
			                "[A-Za-z0-9._-] components, not under /proc, /dev or /sys",
			                mp);
		for (size_t i = 0; i < *n; i++)
			if (strcmp(point[i], mp) == 0 || strcmp(name[i], nm) == 0)
				return prov_err(err, errsz, -EINVAL,
				                "mount %s or mountpoint %s used twice", nm, mp);
		name[*n] = nm;
		point[(*n)++] = mp;
	}
	return 0;
}

int prov_spec_ifaces(const cJSON *net, size_t max, const char **net_name, const char **ip,
                     size_t *n, char *err, size_t errsz)
{
	if (!net || cJSON_IsNull(net))
		return 0;
	int rc = prov_json_keys(net, net_keys, err, errsz);
	if (rc < 0)
		return rc;
	/* zos clients send these switched off; this node offers none of them. */
	static const char *const off[] = {"public_ip", "public_ip6", "planetary", "mycelium"};
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
		if (*n >= max)
			return prov_err(err, errsz, -EINVAL, "more than %zu interfaces", max);
		const char *nn, *a;
		uint32_t addr;
		if ((rc = prov_json_keys(i, if_keys, err, errsz)) < 0 ||
		    (rc = prov_json_str(i, "network", PROV_NAME_MAX, &nn, err, errsz)) < 0 ||
		    (rc = prov_json_str(i, "ip", 15, &a, err, errsz)) < 0)
			return rc;
		if (prov_name_valid(nn) < 0 || prov_ipv4_parse(a, &addr) < 0)
			return prov_err(err, errsz, -EINVAL,
			                "interface needs a network name and an IPv4 address");
		for (size_t k = 0; k < *n; k++)
			if (strcmp(net_name[k], nn) == 0)
				return prov_err(err, errsz, -EINVAL, "network %s attached twice",
				                nn);
		net_name[*n] = nn;
		ip[(*n)++] = a;
	}
	return 0;
}

int prov_spec_image(struct prov_ctx *ctx, const char *ref, struct img_image **img, char *err,
                    size_t errsz)
{
	struct img_store *st = prov_ctx_images(ctx);
	char why[200] = "";
	if (!st)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "image %s: this node has no image store ([images] in the "
		                "agent's configuration)",
		                ref);
	int rc = img_get(st, ref, img, why, sizeof why);
	if (rc < 0)
		return prov_err(err, errsz, rc,
		                "image %s is not in the image store (%s): the agent pulls it "
		                "before provisioning; deploy again",
		                ref, why[0] ? why : zerr_str(rc));
	return 0;
}

int prov_spec_equal(const char *file, const cJSON *data, size_t max)
{
	char *buf = malloc(max);
	if (!buf)
		return 0;
	int eq = 0;
	if (prov_read_file(file, buf, max, NULL) == 0) {
		cJSON *old = cJSON_Parse(buf);
		eq = old && cJSON_Compare(old, data, 1);
		cJSON_Delete(old);
	}
	free(buf);
	return eq;
}

const char *prov_spec_dep_type(const struct prov_deployment_view *deps, const char *name)
{
	for (size_t i = 0; deps && i < deps->count; i++)
		if (deps->workloads[i].name && strcmp(deps->workloads[i].name, name) == 0)
			return deps->workloads[i].type;
	return NULL;
}
