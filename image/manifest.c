/*
 * Manifests, image indexes and image configs (OCI image spec and the Docker
 * v2 schema 2 equivalents), and the struct img_image built from them.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jnum.h"
#include "common/zerr.h"
#include "image/img_int.h"

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int img_manifest_kind(const char *json, size_t len, const char *ctype)
{
	cJSON *j = cJSON_ParseWithLength(json, len);
	if (!j)
		return ZE_MALFORMED;
	const char *mt = str(j, "mediaType");
	if (!mt || !*mt)
		mt = ctype;
	int kind = ZE_MALFORMED;
	if (mt && (strstr(mt, "image.index.v1") || strstr(mt, "manifest.list.v2")))
		kind = 1;
	else if (mt && (strstr(mt, "image.manifest.v1") || strstr(mt, "manifest.v2+json")))
		kind = 0;
	else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "manifests")))
		kind = 1;
	else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "layers")))
		kind = 0;
	cJSON_Delete(j);
	return kind;
}

static int descriptor(const cJSON *d, char digest[IMG_DIGEST_MAX], uint64_t *size)
{
	const char *dg = str(d, "digest");
	const cJSON *sz = cJSON_GetObjectItemCaseSensitive(d, "size");
	uint64_t n;
	if (!dg || !img_digest_valid(dg) || jnum_u64(sz, 1000000000000000ull, &n) < 0)
		return ZE_MALFORMED;
	memcpy(digest, dg, 72);
	*size = n;
	return 0;
}

int img_manifest_parse(const char *json, size_t len, struct img_manifest *m, char *err,
                       size_t errsz)
{
	memset(m, 0, sizeof *m);
	cJSON *j = cJSON_ParseWithLength(json, len);
	if (!j)
		return img_errf(err, errsz, ZE_MALFORMED, "the image manifest is not JSON");
	int rc = 0;
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(j, "layers");
	if (!cJSON_IsObject(cfg) || !cJSON_IsArray(layers) ||
	    descriptor(cfg, m->config, &m->config_size) < 0) {
		rc = img_errf(err, errsz, ZE_MALFORMED,
		              "the image manifest has no valid config or layers");
		goto out;
	}
	int n = cJSON_GetArraySize(layers);
	if (n <= 0 || n > IMG_LAYERS_MAX) {
		rc = img_errf(err, errsz, ZE_MALFORMED, "the image has %d layers (1..%d allowed)",
		              n, IMG_LAYERS_MAX);
		goto out;
	}
	const cJSON *l;
	cJSON_ArrayForEach(l, layers)
	{
		const char *mt = str(l, "mediaType");
		int disk = !mt                                  ? IMG_DISK_NONE
		           : strcmp(mt, IMG_MT_DISK_RAW) == 0   ? IMG_DISK_RAW
		           : strcmp(mt, IMG_MT_DISK_QCOW2) == 0 ? IMG_DISK_QCOW2
		                                                : IMG_DISK_NONE;
		if (mt && !disk &&
		    !(strstr(mt, "tar") && !strstr(mt, "nondistributable") &&
		      !strstr(mt, "foreign"))) {
			rc = img_errf(err, errsz, ZE_MALFORMED,
			              "layer media type %.80s is not supported (tar, tar+gzip, "
			              "tar+zstd, " IMG_MT_DISK_RAW ", " IMG_MT_DISK_QCOW2 ")",
			              mt);
			goto out;
		}
		/* A disk is a whole VM: nothing can be stacked on or under it. */
		if (disk && n != 1) {
			rc = img_errf(err, errsz, ZE_MALFORMED,
			              "a VM disk image layer (%s) must be the image's only layer; "
			              "this image has %d",
			              mt, n);
			goto out;
		}
		m->layers[m->n].disk = disk;
		if (descriptor(l, m->layers[m->n].digest, &m->layers[m->n].size) < 0) {
			rc = img_errf(err, errsz, ZE_MALFORMED, "layer %zu has no valid descriptor",
			              m->n);
			goto out;
		}
		m->n++;
	}
out:
	cJSON_Delete(j);
	return rc;
}

int img_index_pick(const char *json, size_t len, const char *arch, char digest[IMG_DIGEST_MAX],
                   char *err, size_t errsz)
{
	cJSON *j = cJSON_ParseWithLength(json, len);
	if (!j)
		return img_errf(err, errsz, ZE_MALFORMED, "the image index is not JSON");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "manifests");
	int rc = -ENOENT;
	const cJSON *m;
	cJSON_ArrayForEach(m, ms)
	{
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "platform");
		const char *os = str(p, "os"), *ar = str(p, "architecture");
		uint64_t sz;
		if (!os || !ar || strcmp(os, "linux") || strcmp(ar, arch))
			continue;
		if (descriptor(m, digest, &sz) < 0)
			continue;
		rc = 0;
		break;
	}
	cJSON_Delete(j);
	if (rc < 0)
		img_errf(err, errsz, rc, "the image index has no image for linux/%s", arch);
	return rc;
}

const char *img_disk_name(int disk)
{
	return disk == IMG_DISK_QCOW2 ? "disk.qcow2" : "disk.raw";
}

static int strv(const cJSON *a, char ***out)
{
	*out = NULL;
	if (!a || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a))
		return ZE_MALFORMED;
	int n = cJSON_GetArraySize(a);
	if (n > 4096)
		return ZE_TOOBIG;
	char **v = calloc((size_t)n + 1, sizeof *v);
	if (!v)
		return -ENOMEM;
	int i = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, a)
	{
		if (!cJSON_IsString(e) || !(v[i++] = strdup(e->valuestring))) {
			for (int k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return cJSON_IsString(e) ? -ENOMEM : ZE_MALFORMED;
		}
	}
	*out = v;
	return 0;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

void img_image_free(struct img_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; img->layers && i < img->n_layers; i++)
		free(img->layers[i]);
	free(img->layers);
	strv_free(img->entrypoint);
	strv_free(img->cmd);
	strv_free(img->env);
	free(img->workdir);
	free(img->user);
	free(img->disk);
	free(img);
}

static int config_fill(struct img_image *img, const char *json, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(json, len);
	if (!j)
		return ZE_MALFORMED;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "config");
	int rc = 0;
	if (cJSON_IsObject(c)) {
		const char *wd = str(c, "WorkingDir"), *u = str(c, "User");
		if ((rc = strv(cJSON_GetObjectItemCaseSensitive(c, "Entrypoint"),
		               &img->entrypoint)) ||
		    (rc = strv(cJSON_GetObjectItemCaseSensitive(c, "Cmd"), &img->cmd)) ||
		    (rc = strv(cJSON_GetObjectItemCaseSensitive(c, "Env"), &img->env)))
			goto out;
		if ((wd && *wd && !(img->workdir = strdup(wd))) ||
		    (u && *u && !(img->user = strdup(u))))
			rc = -ENOMEM;
	}
out:
	cJSON_Delete(j);
	return rc;
}

int img_image_build(struct img_store *st, const char *digest, struct img_image **out, char *err,
                    size_t errsz)
{
	*out = NULL;
	char *mb = NULL, *cb = NULL;
	size_t ml, cl;
	struct img_manifest *m = calloc(1, sizeof *m);
	struct img_image *img = calloc(1, sizeof *img);
	int rc = !m || !img ? -ENOMEM : 0;
	if (rc == 0 && (rc = img_read_blob(st, digest, IMG_MANIFEST_MAX, &mb, &ml)) < 0)
		img_errf(err, errsz, -ENOENT, "image %s is not in the store", digest);
	if (rc == 0)
		rc = img_manifest_parse(mb, ml, m, err, errsz);
	if (rc == 0 && (rc = img_read_blob(st, m->config, IMG_MANIFEST_MAX, &cb, &cl)) < 0)
		img_errf(err, errsz, -ENOENT, "config %s of image %s is not in the store",
		         m->config, digest);
	if (rc == 0 && (rc = config_fill(img, cb, cl)) < 0)
		img_errf(err, errsz, rc, "the image config is malformed");
	if (rc == 0 && !(img->layers = calloc(m->n + 1, sizeof *img->layers)))
		rc = -ENOMEM;
	if (rc == 0) {
		memcpy(img->digest, digest, 72);
		memcpy(img->config_digest, m->config, 72);
		img->size = m->config_size;
	}
	for (size_t i = 0; rc == 0 && i < m->n; i++) {
		char p[PATH_MAX];
		img->size += m->layers[i].size;
		if ((rc = img_path(st, p, sizeof p, "layers", m->layers[i].digest)) < 0)
			break;
		if (!img_exists(p, 1)) {
			rc = img_errf(err, errsz, -ENOENT, "layer %s of image %s is not unpacked",
			              m->layers[i].digest, digest);
			break;
		}
		if (!(img->layers[i] = strdup(p)))
			rc = -ENOMEM;
		else
			img->n_layers++;
		if (rc == 0 && m->layers[i].disk) {
			img->disk_format = m->layers[i].disk;
			if (asprintf(&img->disk, "%s/%s", p, img_disk_name(m->layers[i].disk)) <
			    0) {
				img->disk = NULL;
				rc = -ENOMEM;
			}
		}
	}
	if (rc == 0) {
		*out = img;
		img = NULL;
	}
	img_image_free(img);
	free(m);
	free(mb);
	free(cb);
	return rc;
}
