/*
 * Container images by reference in the engine: the registry policy and the
 * image's size against free storage when a deployment is accepted, the pull
 * (with progress for zos.deployment.get/changes) before a container is
 * provisioned, and the hold that keeps the image from GC while the workload
 * exists. Holders are "<contract>/<name>", persisted by the image store, so
 * GC after an agent restart knows what is in use.
 */
#include "agent/engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/zerr.h"

const char *eng_image_ref(const char *type, const cJSON *data)
{
	if (!prov_runs_image(type))
		return NULL;
	const cJSON *im = cJSON_GetObjectItemCaseSensitive(data, "image");
	if (!cJSON_IsString(im) || !strchr(im->valuestring, '/'))
		return NULL;
	return im->valuestring;
}

static int admit_one(struct eng *e, const char *ref, int *code, char *err, size_t errsz)
{
	char detail[256] = "";
	int rc = img_policy_check(e->cfg.images, ref, detail, sizeof detail);
	if (rc < 0) {
		*code = ENG_E_INVALID;
		snprintf(err, errsz, "image %s: %s", ref, detail);
		return rc;
	}
	char digest[IMG_DIGEST_MAX];
	uint64_t size = 0, avail = 0;
	rc = img_resolve(e->cfg.images, ref, digest, &size, detail, sizeof detail);
	if (rc < 0) {
		/* Not there, or refused: the deployment is wrong. Unreachable:
		 * ask again later, the contract itself may be fine. */
		*code = (rc == ZE_UNKNOWN || rc == ZE_TIMEOUT) ? ENG_E_UNAVAILABLE : ENG_E_INVALID;
		snprintf(err, errsz, "image %s: %s", ref, detail);
		return rc;
	}
	struct img_image *have = NULL;
	if (img_get(e->cfg.images, digest, &have, NULL, 0) == 0) {
		img_image_free(have);
		return 0; /* already stored: takes no new space */
	}
	if ((rc = img_store_avail(e->cfg.images, &avail)) < 0) {
		*code = ENG_E_INTERNAL;
		snprintf(err, errsz, "image store: %s", zerr_str(rc));
		return rc;
	}
	/* The compressed layers and their unpacked trees: twice the manifest's
	 * size is the estimate the node reserves. */
	if (size > avail / 2) {
		*code = ENG_E_CAPACITY;
		snprintf(err, errsz,
		         "image %s needs about %" PRIu64 " bytes of image storage, %" PRIu64
		         " are free",
		         ref, size * 2, avail);
		return ZE_CAPACITY;
	}
	return 0;
}

int eng_image_admit(struct eng *e, const struct dep_doc *doc, int *code, char *err, size_t errsz)
{
	for (size_t i = 0; i < doc->count; i++) {
		const char *ref = eng_image_ref(doc->w[i].type, doc->w[i].data);
		if (!ref)
			continue;
		if (!e->cfg.images) {
			*code = ENG_E_INVALID;
			snprintf(err, errsz, "image %s: this node has no image store", ref);
			return ZE_UNSUPPORTED;
		}
		int rc = admit_one(e, ref, code, err, errsz);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct progress_arg {
	struct eng *e;
	struct eng_pull *slot;
};

static int on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress_arg *p = arg;
	pthread_mutex_lock(&p->e->mu);
	p->slot->done = done;
	p->slot->total = total;
	int stop = p->e->stopping;
	pthread_mutex_unlock(&p->e->mu);
	return stop; /* the agent is stopping: the next start pulls again */
}

int eng_image_pull(struct eng *e, uint64_t cid, const char *name, const char *type,
                   const char *spec, char *err, size_t errsz)
{
	if (!prov_runs_image(type) || !spec)
		return 0;
	cJSON *data = cJSON_Parse(spec);
	const char *r = eng_image_ref(type, data);
	char ref[IMG_REF_MAX];
	int have = r && strlen(r) < sizeof ref;
	if (have)
		snprintf(ref, sizeof ref, "%s", r);
	dep_json_wipe(data);
	cJSON_Delete(data);
	if (!have)
		return 0;
	if (!e->cfg.images) {
		snprintf(err, errsz, "image %s: this node has no image store", ref);
		return ZE_UNSUPPORTED;
	}
	struct eng_pull *slot = NULL;
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < ENG_PULLS_MAX && !slot; i++)
		if (!e->pulls[i].used)
			slot = &e->pulls[i];
	if (slot) {
		memset(slot, 0, sizeof *slot);
		slot->used = 1;
		slot->cid = cid;
		snprintf(slot->name, sizeof slot->name, "%s", name);
		snprintf(slot->image, sizeof slot->image, "%s", ref);
		slot->since = (int64_t)time(NULL);
	}
	pthread_mutex_unlock(&e->mu);
	struct progress_arg pa = {e, slot};
	struct img_image *img = NULL;
	char perr[256] = "", holder[64];
	snprintf(holder, sizeof holder, "%" PRIu64 "/%s", cid, name);
	int rc = img_pull_hold(e->cfg.images, ref, holder, slot ? on_progress : NULL, &pa, &img,
			       perr, sizeof perr);
	if (rc < 0 && (rc == ZE_UNKNOWN || rc == ZE_TIMEOUT)) {
		/* Registry down: an image already complete in the store still runs
		 * (after an agent restart, say). */
		if (img_get(e->cfg.images, ref, &img, NULL, 0) == 0 &&
		    img_hold(e->cfg.images, img->digest, holder) == 0) {
			log_warn("engine", "contract %" PRIu64 ": %s: %s; using the stored image", cid,
				 name, perr);
			rc = 0;
		}
	}
	img_image_free(img);
	if (slot) {
		pthread_mutex_lock(&e->mu);
		slot->used = 0;
		pthread_mutex_unlock(&e->mu);
	}
	if (rc < 0) {
		snprintf(err, errsz, "pulling image %s: %s", ref, perr);
		/* Cancelled because the agent stops: try again at the next start,
		 * never a reason to reject the contract. */
		return rc == -ECANCELED ? -EINTR : rc;
	}
	return 0;
}

void eng_image_release(struct eng *e, uint64_t cid, const char *name)
{
	if (!e->cfg.images)
		return;
	char holder[64];
	snprintf(holder, sizeof holder, "%" PRIu64 "/%s", cid, name);
	int rc = img_release(e->cfg.images, holder);
	uint64_t freed = 0;
	if (rc == 0)
		rc = img_gc(e->cfg.images, &freed);
	if (rc < 0 && rc != -EBUSY)
		log_warn("engine", "contract %" PRIu64 ": releasing the image of %s: %s", cid, name,
		         zerr_str(rc));
}

size_t eng_image_pulls(struct eng *e, uint64_t cid, struct eng_pull_info *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < ENG_PULLS_MAX && n < max; i++) {
		struct eng_pull *p = &e->pulls[i];
		if (!p->used || p->cid != cid)
			continue;
		snprintf(out[n].name, sizeof out[n].name, "%s", p->name);
		snprintf(out[n].image, sizeof out[n].image, "%s", p->image);
		out[n].done = p->done;
		out[n].total = p->total;
		out[n].since = p->since;
		n++;
	}
	pthread_mutex_unlock(&e->mu);
	return n;
}
