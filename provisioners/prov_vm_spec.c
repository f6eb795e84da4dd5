/*
 * The VM workload's data (zos's zmachine fields): {image, size,
 * compute_capacity{cpu, memory}, mounts[{name, mountpoint}],
 * network{interfaces[{network, ip}]}, entrypoint, env}, checked without
 * side effects, and written out as the configuration disk's tree that the
 * initramfs's /init reads (scripts/vm-init.sh): one file per value, so no
 * value is ever parsed by a shell in the guest.
 */
#include "provisioners/prov_vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/image.h"

#define ARG_MAX_LEN 1024
#define ENTRY_MAX 4096
#define ENV_VAL_MAX 4096

static const char *const vm_keys[] = {"image",  "size",    "entrypoint", "env", "compute_capacity",
                                      "mounts", "network", "corex",      "gpu", NULL};

/* Counts (and with dir, writes args/<i>) the entrypoint: an array of
 * strings, or a string split on blanks. */
static int entry_walk(const cJSON *e, const char *dir, size_t *argc, char *err, size_t errsz)
{
	*argc = 0;
	char path[PROV_PATH_MAX];
	const char *s = NULL;
	const cJSON *a = NULL;
	if (cJSON_IsArray(e))
		a = e->child;
	else if (cJSON_IsString(e) && strlen(e->valuestring) <= ENTRY_MAX)
		s = e->valuestring;
	else
		return prov_err(err, errsz, -EINVAL,
		                "entrypoint must be a string (at most %d bytes) or an array of "
		                "strings",
		                ENTRY_MAX);
	for (;;) {
		const char *arg;
		size_t k;
		if (s) {
			s += strspn(s, " \t");
			if (!(k = strcspn(s, " \t")))
				break;
			arg = s;
			s += k;
		} else {
			if (!a)
				break;
			if (!cJSON_IsString(a))
				return prov_err(err, errsz, -EINVAL,
				                "entrypoint items must be strings");
			arg = a->valuestring;
			k = strlen(arg);
			a = a->next;
		}
		if (k > ARG_MAX_LEN || *argc >= PROV_VM_ARGS_USER_MAX)
			return prov_err(
			    err, errsz, -EINVAL,
			    "entrypoint has more than %d arguments or one longer than %d "
			    "bytes",
			    PROV_VM_ARGS_USER_MAX, ARG_MAX_LEN);
		if (*argc == 0 && k == 0)
			return prov_err(err, errsz, -EINVAL, "entrypoint is empty");
		if (dir) {
			int rc = prov_fmt(path, sizeof path, "%s/args/%zu", dir, *argc);
			if (rc < 0 || (rc = prov_write_file(path, arg, k, 0600)) < 0)
				return prov_err(err, errsz, rc, "cannot write %s: %s", path,
				                zerr_str(rc));
		}
		(*argc)++;
	}
	if (*argc == 0)
		return prov_err(err, errsz, -EINVAL, "entrypoint is empty");
	return 0;
}

static int env_walk(const cJSON *env, const char *dir, char *err, size_t errsz)
{
	if (!env || cJSON_IsNull(env))
		return 0;
	if (!cJSON_IsObject(env))
		return prov_err(err, errsz, -EINVAL, "env must be an object of strings");
	size_t n = 0;
	char path[PROV_PATH_MAX];
	const cJSON *v;
	cJSON_ArrayForEach(v, env)
	{
		if (!prov_spec_env_name_ok(v->string))
			return prov_err(err, errsz, -EINVAL, "bad env name '%.64s'", v->string);
		if (!cJSON_IsString(v) || strlen(v->valuestring) > ENV_VAL_MAX)
			return prov_err(err, errsz, -EINVAL,
			                "env %s must be a string of at most %d bytes", v->string,
			                ENV_VAL_MAX);
		if (++n > PROV_VM_ENV_MAX)
			return prov_err(err, errsz, -EINVAL, "more than %d env entries",
			                PROV_VM_ENV_MAX);
		if (dir) {
			int rc = prov_fmt(path, sizeof path, "%s/env/%s", dir, v->string);
			if (rc < 0 || (rc = prov_write_file(path, v->valuestring,
			                                    strlen(v->valuestring), 0600)) < 0)
				return prov_err(err, errsz, rc, "cannot write %s: %s", path,
				                zerr_str(rc));
		}
	}
	return 0;
}

static int parse_mounts(const cJSON *mounts, struct prov_vm_spec *s, char *err, size_t errsz)
{
	return prov_spec_mounts(mounts, PROV_VM_MOUNTS_MAX, s->mount_name, s->mountpoint,
	                        &s->nmounts, err, errsz);
}

static int parse_network(const cJSON *net, struct prov_vm_spec *s, char *err, size_t errsz)
{
	return prov_spec_ifaces(net, PROV_VM_NICS_MAX, s->if_net, s->if_ip, &s->nifs, err, errsz);
}

int prov_vm_parse(const cJSON *data, struct prov_vm_spec *s, char *err, size_t errsz)
{
	memset(s, 0, sizeof *s);
	int rc = prov_json_keys(data, vm_keys, err, errsz);
	if (rc < 0 ||
	    (rc = prov_json_str(data, "image", IMG_REF_MAX - 1, &s->image, err, errsz)) < 0)
		return rc;
	/* A '/' makes it an OCI reference (the agent pulls it into the image
	 * store); otherwise the name of a root filesystem folder in image_dir. */
	s->image_ref = strchr(s->image, '/') != NULL;
	if (s->image_ref) {
		struct img_ref r;
		char why[160];
		if (img_ref_parse(s->image, &r, why, sizeof why) < 0)
			return prov_err(err, errsz, -EINVAL, "image %.200s: %s", s->image, why);
		/* A host name starts with a letter or digit ("../x" is a path). */
		char h = r.host[0];
		if (!((h >= 'a' && h <= 'z') || (h >= 'A' && h <= 'Z') || (h >= '0' && h <= '9')))
			return prov_err(err, errsz, -EINVAL,
			                "image %.200s: the registry host must start with a letter "
			                "or digit",
			                s->image);
	} else if (!prov_image_name_ok(s->image))
		return prov_err(err, errsz, -EINVAL,
		                "image must be an OCI reference (HOST[:PORT]/REPO[:TAG]) or a "
		                "local image name matching [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
	/* zos's optional extras, refused unless switched off. */
	static const char *const off[] = {"corex", "gpu"};
	for (size_t k = 0; k < 2; k++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(data, off[k]);
		if (o && !cJSON_IsNull(o) && !cJSON_IsFalse(o) &&
		    !(cJSON_IsArray(o) && cJSON_GetArraySize(o) == 0))
			return prov_err(err, errsz, ZE_UNSUPPORTED,
			                "%s is not supported on this node", off[k]);
	}
	s->size = PROV_VM_SIZE_DEFAULT;
	if (cJSON_GetObjectItemCaseSensitive(data, "size") &&
	    (rc = prov_json_u64(data, "size", PROV_VM_SIZE_MIN, PROV_DISK_MAX, &s->size, err,
	                        errsz)) < 0)
		return rc;
	size_t argc;
	/* An image by reference may bring its command (Entrypoint, Cmd); a
	 * disk image file boots its own system and needs none. */
	s->image_disk = !s->image_ref && prov_vm_disk_name(s->image);
	const cJSON *entry = cJSON_GetObjectItemCaseSensitive(data, "entrypoint");
	if (((entry || (!s->image_ref && !s->image_disk)) && (rc = entry_walk(entry, NULL, &argc, err, errsz)) < 0) ||
	    (rc = env_walk(cJSON_GetObjectItemCaseSensitive(data, "env"), NULL, err, errsz)) < 0)
		return rc;
	if ((rc = prov_spec_capacity(data, PROV_CC_VM, &s->cpu, &s->memory, err, errsz)) < 0)
		return rc;
	/* qemu takes whole MiB. */
	s->memory &= ~((1ull << 20) - 1);
	if ((rc = parse_mounts(cJSON_GetObjectItemCaseSensitive(data, "mounts"), s, err, errsz)) <
	        0 ||
	    (rc = parse_network(cJSON_GetObjectItemCaseSensitive(data, "network"), s, err, errsz)) <
	        0)
		return rc;
	return 0;
}

int prov_vm_cfg_tree(const cJSON *data, const char *dir, const char *hostname, char *err,
                     size_t errsz)
{
	static const char *const subs[] = {"args", "env", "net", "mounts", NULL};
	char path[PROV_PATH_MAX];
	int rc;
	for (const char *const *s = subs; *s; s++)
		if ((rc = prov_fmt(path, sizeof path, "%s/%s", dir, *s)) < 0 ||
		    (rc = prov_mkdirs(path, 0700)) < 0)
			return prov_err(err, errsz, rc, "cannot create %s: %s", path, zerr_str(rc));
	if ((rc = prov_fmt(path, sizeof path, "%s/hostname", dir)) < 0 ||
	    (rc = prov_write_file(path, hostname, strlen(hostname), 0600)) < 0)
		return prov_err(err, errsz, rc, "cannot write %s: %s", path, zerr_str(rc));
	size_t argc;
	const cJSON *entry = cJSON_GetObjectItemCaseSensitive(data, "entrypoint");
	if (entry && (rc = entry_walk(entry, dir, &argc, err, errsz)) < 0)
		return rc;
	return env_walk(cJSON_GetObjectItemCaseSensitive(data, "env"), dir, err, errsz);
}

/* One value file below dir, creating its directory. */
int prov_vm_cfg_put(const char *dir, const char *sub, size_t idx, const char *leaf,
                    const char *value, char *err, size_t errsz)
{
	char path[PROV_PATH_MAX];
	int rc;
	if ((rc = prov_fmt(path, sizeof path, "%s/%s/%zu", dir, sub, idx)) < 0 ||
	    (rc = prov_mkdirs(path, 0700)) < 0 ||
	    (rc = prov_fmt(path, sizeof path, "%s/%s/%zu/%s", dir, sub, idx, leaf)) < 0 ||
	    (rc = prov_write_file(path, value, strlen(value), 0600)) < 0)
		return prov_err(err, errsz, rc, "cannot write %s: %s", path, zerr_str(rc));
	return 0;
}
