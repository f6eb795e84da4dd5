/*
 * The deployment document parser: bounded, hostile-input decoding of the plaintext a user seals
 * into a node contract (deployment.h).
 */
#include "agent/deployment.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jnum.h"
#include "common/zerr.h"

static int fail(char *err, size_t errsz, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errsz, int rc, const char *fmt, ...)
{
	if (err && errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int dep_name_valid(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		if (n >= PROV_NAME_MAX)
			return -EINVAL;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return -EINVAL;
	}
	return n ? 0 : -EINVAL;
}

int dep_cap_add(struct prov_capacity *a, const struct prov_capacity *b)
{
	if (a->cru > UINT64_MAX - b->cru || a->mru > UINT64_MAX - b->mru ||
	    a->sru > UINT64_MAX - b->sru || a->hru > UINT64_MAX - b->hru)
		return ZE_TOOBIG;
	a->cru += b->cru;
	a->mru += b->mru;
	a->sru += b->sru;
	a->hru += b->hru;
	return 0;
}

void dep_json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->string)
			sodium_memzero(j->string, strlen(j->string));
		if (j->valuestring)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		j->valuedouble = 0;
		j->valueint = 0;
		dep_json_wipe(j->child);
	}
}

void dep_free(struct dep_doc *d)
{
	if (d->root) {
		dep_json_wipe(d->root);
		cJSON_Delete(d->root);
	}
	if (d->w) {
		sodium_memzero(d->w, d->count * sizeof *d->w);
		free(d->w);
	}
	memset(d, 0, sizeof *d);
}

/* An optional bounded string member; absent and null are accepted. */
static int opt_text(const cJSON *obj, const char *key, const char *where, char *err,
		    size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return fail(err, errsz, ZE_MALFORMED, "%s%s must be a string", where, key);
	if (strlen(v->valuestring) > DEP_MAX_TEXT)
		return fail(err, errsz, ZE_TOOBIG, "%s%s is longer than %u bytes", where, key,
			    DEP_MAX_TEXT);
	return 0;
}

/* A required integer member in [0, UINT32_MAX]. */
static int get_u32(const cJSON *obj, const char *key, const char *where, uint32_t *out,
		   char *err, size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v))
		return fail(err, errsz, ZE_MALFORMED, "%s%s must be a number", where, key);
	if (jnum_u32(v, out) < 0)
		return fail(err, errsz, ZE_MALFORMED, "%s%s must be an integer in [0, 2^32)",
			    where, key);
	return 0;
}

static int parse_workload(const cJSON *item, size_t idx, dep_lookup_fn lookup,
			  struct dep_workload *w, char *err, size_t errsz)
{
	char where[64];
	int rc;
	snprintf(where, sizeof where, "workloads[%zu].", idx);
	if (!cJSON_IsObject(item))
		return fail(err, errsz, ZE_MALFORMED, "workloads[%zu] must be an object", idx);
	if ((rc = get_u32(item, "version", where, &w->version, err, errsz)) < 0)
		return rc;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
	if (!cJSON_IsString(name) || dep_name_valid(name->valuestring) < 0)
		return fail(err, errsz, ZE_MALFORMED,
			    "%sname must match ^[a-zA-Z0-9_]{1,36}$", where);
	memcpy(w->name, name->valuestring, strlen(name->valuestring) + 1);
	snprintf(where, sizeof where, "workload \"%s\": ", w->name);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
	if (!cJSON_IsString(type) || !type->valuestring[0] ||
	    strlen(type->valuestring) > DEP_MAX_TYPE)
		return fail(err, errsz, ZE_MALFORMED, "%stype must be a short string", where);
	memcpy(w->type, type->valuestring, strlen(type->valuestring) + 1);
	if ((rc = opt_text(item, "metadata", where, err, errsz)) < 0 ||
	    (rc = opt_text(item, "description", where, err, errsz)) < 0)
		return rc;
	w->data = cJSON_GetObjectItemCaseSensitive(item, "data");
	if (!cJSON_IsObject(w->data))
		return fail(err, errsz, ZE_MALFORMED, "%sdata must be an object", where);
	const struct prov_ops *ops = lookup(w->type);
	if (!ops || !ops->validate)
		return fail(err, errsz, ZE_UNSUPPORTED, "%sunknown type \"%s\"", where, w->type);
	char perr[192] = "";
	memset(&w->cap, 0, sizeof w->cap);
	rc = ops->validate(w->data, &w->cap, perr, sizeof perr);
	if (rc < 0)
		return fail(err, errsz, rc == -ENOMEM ? rc : -EINVAL, "%sinvalid %s data: %s",
			    where, w->type, perr[0] ? perr : zerr_str(rc));
	w->stage = prov_stage_of(w->type);
	return 0;
}

/* Stable order by install stage; n is small (DEP_MAX_WORKLOADS). */
static void sort_install_order(struct dep_workload *w, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct dep_workload t = w[i];
		size_t j = i;
		for (; j > 0 && w[j - 1].stage > t.stage; j--)
			w[j] = w[j - 1];
		w[j] = t;
	}
}

static int parse_doc(struct dep_doc *d, uint32_t twin_id, dep_lookup_fn lookup, char *err,
		     size_t errsz)
{
	int rc;
	if (!cJSON_IsObject(d->root))
		return fail(err, errsz, ZE_MALFORMED, "deployment must be a JSON object");
	if ((rc = get_u32(d->root, "version", "", &d->version, err, errsz)) < 0 ||
	    (rc = get_u32(d->root, "twin_id", "", &d->twin_id, err, errsz)) < 0)
		return rc;
	if (d->twin_id != twin_id)
		return fail(err, errsz, ZE_MALFORMED,
			    "twin_id %u does not match the contract's twin %u", d->twin_id, twin_id);
	if ((rc = opt_text(d->root, "metadata", "", err, errsz)) < 0 ||
	    (rc = opt_text(d->root, "description", "", err, errsz)) < 0)
		return rc;
	const cJSON *wls = cJSON_GetObjectItemCaseSensitive(d->root, "workloads");
	if (!cJSON_IsArray(wls))
		return fail(err, errsz, ZE_MALFORMED, "workloads must be an array");
	int n = cJSON_GetArraySize(wls);
	if (n <= 0)
		return fail(err, errsz, ZE_MALFORMED, "deployment has no workloads");
	if (n > DEP_MAX_WORKLOADS)
		return fail(err, errsz, ZE_TOOBIG, "more than %u workloads", DEP_MAX_WORKLOADS);
	d->w = calloc((size_t)n, sizeof *d->w);
	if (!d->w)
		return fail(err, errsz, -ENOMEM, "out of memory");
	const cJSON *item;
	cJSON_ArrayForEach(item, wls) {
		struct dep_workload *w = &d->w[d->count];
		if ((rc = parse_workload(item, d->count, lookup, w, err, errsz)) < 0)
			return rc;
		for (size_t i = 0; i < d->count; i++)
			if (!strcmp(d->w[i].name, w->name))
				return fail(err, errsz, ZE_MALFORMED,
					    "workload name \"%s\" is used twice", w->name);
		if (dep_cap_add(&d->total, &w->cap) < 0)
			return fail(err, errsz, ZE_TOOBIG, "capacity of the workloads overflows");
		d->count++;
	}
	sort_install_order(d->w, d->count);
	return 0;
}

int dep_parse(const char *json, size_t len, uint32_t twin_id, dep_lookup_fn lookup,
	      struct dep_doc *out, char *err, size_t errsz)
{
	memset(out, 0, sizeof *out);
	if (len > DEP_MAX_DOC)
		return fail(err, errsz, ZE_TOOBIG, "deployment is larger than %u bytes",
			    DEP_MAX_DOC);
	const char *end = NULL;
	out->root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!out->root)
		return fail(err, errsz, ZE_MALFORMED, "deployment is not valid JSON (at byte %td)",
			    end && end >= json ? end - json : (ptrdiff_t)0);
	/* Only whitespace (or a terminating NUL) may follow the document. */
	for (size_t i = (size_t)(end - json); i < len; i++) {
		if (json[i] == '\0' && i + 1 == len)
			break;
		if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t') {
			dep_free(out);
			return fail(err, errsz, ZE_MALFORMED,
				    "trailing bytes after the deployment document");
		}
	}
	int rc = parse_doc(out, twin_id, lookup, err, errsz);
	if (rc < 0)
		dep_free(out);
	return rc;
}
