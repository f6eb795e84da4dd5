/*
 * Parsing of a container workload's data: {image, entrypoint, env,
 * compute_capacity{cpu, memory}, size, mounts[{name, mountpoint}],
 * network{interfaces[{network, ip}]}}. No side effects: safe on hostile
 * input.
 */
#include "provisioners/prov_container.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

#define ENTRY_MAX 4096
#define ARG_MAX_LEN 1024
#define ENV_VAL_MAX 4096
#define ROOTFS_MIN (16ull << 20)

static const char *const zm_keys[] = {"image",  "entrypoint", "env",  "compute_capacity",
                                      "mounts", "network",    "size", NULL};

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
			if (!prov_spec_env_name_ok(v->string))
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

int prov_ct_parse(const cJSON *data, struct prov_ct_spec *s, char *err, size_t errsz)
{
	memset(s, 0, sizeof *s);
	int rc = prov_json_keys(data, zm_keys, err, errsz);
	if (rc < 0 || (rc = prov_json_str(data, "image", IMG_REF_MAX, &s->image, err, errsz)) < 0)
		return rc;
	const cJSON *entry = cJSON_GetObjectItemCaseSensitive(data, "entrypoint");
	if (prov_ct_image_is_ref(s->image)) {
		struct img_ref ref;
		char why[200];
		if (img_ref_parse(s->image, &ref, why, sizeof why) < 0)
			return prov_err(err, errsz, -EINVAL, "image: %s", why);
		/* A host name starts with a letter or digit ("../etc" is no
		 * registry). */
		if (!isalnum((unsigned char)ref.host[0]) || strstr(ref.host, ".."))
			return prov_err(err, errsz, -EINVAL,
			                "image: registry host '%.64s' is invalid", ref.host);
	} else if (!prov_image_name_ok(s->image)) {
		return prov_err(
		    err, errsz, -EINVAL,
		    "image must be a reference HOST[:PORT]/REPO[:TAG|@DIGEST] or a local "
		    "image name matching [A-Za-z0-9][A-Za-z0-9._-]{0,63}");
	} else if (!entry) {
		return prov_err(err, errsz, -EINVAL,
		                "a local image has no config: the workload must set entrypoint");
	}
	size_t argc;
	if ((entry && (rc = parse_entry(entry, NULL, &argc, err, errsz)) < 0) ||
	    (rc = parse_env(cJSON_GetObjectItemCaseSensitive(data, "env"), NULL, err, errsz)) < 0)
		return rc;
	if ((rc = prov_spec_capacity(data, PROV_CC_CONTAINER, &s->cpu, &s->memory, err, errsz)) < 0)
		return rc;
	/* The writable layer's limit; the node's default when absent. */
	if (cJSON_GetObjectItemCaseSensitive(data, "size") &&
	    (rc = prov_json_u64(data, "size", ROOTFS_MIN, PROV_DISK_MAX, &s->rootfs_size, err,
	                        errsz)) < 0)
		return rc;

	if ((rc = prov_spec_mounts(cJSON_GetObjectItemCaseSensitive(data, "mounts"),
	                           PROV_CT_MOUNTS_MAX, s->mount_name, s->mountpoint, &s->nmounts,
	                           err, errsz)) < 0)
		return rc;
	return prov_spec_ifaces(cJSON_GetObjectItemCaseSensitive(data, "network"),
	                        PROV_CT_IFACES_MAX, s->if_net, s->if_ip, &s->nifs, err, errsz);
}

int prov_ct_image_is_ref(const char *image)
{
	return strchr(image, '/') != NULL;
}

static int has_key(char *const *envp, size_t n, const char *kv)
{
	size_t k = strcspn(kv, "=");
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], kv, k) == 0 && envp[i][k] == '=')
			return 1;
	return 0;
}

/* "uid[:gid]" in numbers, or "root"; names would need the image's
 * /etc/passwd, which this node does not read. */
static int image_user(const char *u, uint32_t *uid, uint32_t *gid, char *err, size_t errsz)
{
	*uid = *gid = 0;
	if (!u || !*u || strcmp(u, "root") == 0 || strcmp(u, "0") == 0)
		return 0;
	char *end;
	unsigned long a = strtoul(u, &end, 10), b;
	if (end == u || a >= PROV_CT_IDS)
		goto bad;
	b = a;
	if (*end == ':') {
		const char *g = end + 1;
		b = strtoul(g, &end, 10);
		if (end == g || b >= PROV_CT_IDS)
			goto bad;
	}
	if (*end)
		goto bad;
	*uid = (uint32_t)a;
	*gid = (uint32_t)b;
	return 0;
bad:
	return prov_err(err, errsz, ZE_UNSUPPORTED,
	                "the image's User '%.64s' is not numeric (uid[:gid] below 65536); "
	                "only numeric users are supported",
	                u);
}

int prov_ct_args(const cJSON *data, const struct img_image *img, struct prov_ct_plan *p, char *err,
                 size_t errsz)
{
	size_t argc = 0;
	int rc;
	const cJSON *entry = cJSON_GetObjectItemCaseSensitive(data, "entrypoint");
	if (entry) {
		if ((rc = parse_entry(entry, p->argv, &argc, err, errsz)) < 0)
			goto out;
	} else if (img) {
		char **parts[] = {img->entrypoint, img->cmd};
		for (size_t k = 0; k < 2; k++)
			for (size_t i = 0; parts[k] && parts[k][i]; i++) {
				if (argc >= PROV_CT_ARGS_MAX) {
					rc = prov_err(
					    err, errsz, -EINVAL,
					    "the image's command has more than %d arguments",
					    PROV_CT_ARGS_MAX);
					goto out;
				}
				if (!(p->argv[argc++] = strdup(parts[k][i]))) {
					rc = -ENOMEM;
					goto out;
				}
			}
	}
	if (argc == 0 || !p->argv[0][0]) {
		rc = prov_err(err, errsz, -EINVAL,
		              "no command: the image sets no Entrypoint or Cmd and the workload no "
		              "entrypoint");
		goto out;
	}
	/* The workload's env first (it wins), then the image's other keys. */
	if ((rc = parse_env(cJSON_GetObjectItemCaseSensitive(data, "env"), p->envp, err, errsz)) <
	    0)
		goto out;
	size_t n = 0;
	while (p->envp[n])
		n++;
	/* parse_env added a default PATH; the image's PATH replaces it. */
	const cJSON *wenv = cJSON_GetObjectItemCaseSensitive(data, "env");
	int own_path = cJSON_IsObject(wenv) && cJSON_GetObjectItemCaseSensitive(wenv, "PATH");
	for (size_t i = 0; img && img->env && img->env[i]; i++) {
		const char *kv = img->env[i];
		if (!strchr(kv, '='))
			continue;
		if (strncmp(kv, "PATH=", 5) == 0 && !own_path && n > 0 &&
		    strncmp(p->envp[n - 1], "PATH=", 5) == 0) {
			free(p->envp[--n]);
			p->envp[n] = NULL;
		}
		if (has_key(p->envp, n, kv))
			continue;
		if (n >= 2 * PROV_CT_ENV_MAX) {
			rc = prov_err(err, errsz, -EINVAL, "more than %d env entries",
			              2 * PROV_CT_ENV_MAX);
			goto out;
		}
		if (!(p->envp[n++] = strdup(kv))) {
			rc = -ENOMEM;
			goto out;
		}
	}
	snprintf(p->cwd, sizeof p->cwd, "/");
	if (img && img->workdir && img->workdir[0] == '/' && strlen(img->workdir) < sizeof p->cwd &&
	    !strstr(img->workdir, ".."))
		snprintf(p->cwd, sizeof p->cwd, "%s", img->workdir);
	rc = image_user(img ? img->user : NULL, &p->uid, &p->gid, err, errsz);
out:
	return rc == -ENOMEM ? prov_err(err, errsz, rc, "out of memory") : rc;
}

void prov_ct_plan_clear(struct prov_ct_plan *p)
{
	for (size_t i = 0; i < PROV_CT_ARGS_MAX + 1 && p->argv[i]; i++) {
		free(p->argv[i]);
		p->argv[i] = NULL;
	}
	for (size_t i = 0; i < 2 * PROV_CT_ENV_MAX + 2 && p->envp[i]; i++) {
		free(p->envp[i]);
		p->envp[i] = NULL;
	}
}
