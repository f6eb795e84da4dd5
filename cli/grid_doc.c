/*
 * The deployment document check of `zos-cli contract create`: the same
 * structural rules as the agent's parser (agent/deployment.c), so a document
 * the node would refuse is refused here, before the contract costs a fee.
 * The data of each workload type is the node's to validate. `zos-cli deploy`
 * reads, prepares and seals its document with the same functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "chainclient/grid.h"
#include "cli/grid.h"
#include "common/jnum.h"
#include "common/seal.h"
#include "common/file.h"
#include "common/zerr.h"

#define DOC_MAX_WORKLOADS 64
#define DOC_MAX_TYPE 32
#define DOC_MAX_TEXT 1024
#define DOC_MAX_NAME 36

static int doc_fail(char *err, size_t errsz, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int doc_fail(char *err, size_t errsz, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Zeroes every string of a tree before it is freed: it is plaintext. */
static void doc_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->string)
			sodium_memzero(j->string, strlen(j->string));
		if (j->valuestring)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		doc_wipe(j->child);
	}
}

static int doc_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DOC_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

static int doc_u32(const cJSON *v)
{
	uint32_t x;
	return jnum_u32(v, &x) == 0;
}

/* An optional bounded string; absent and null are accepted. */
static int doc_text(const cJSON *obj, const char *key, const char *where, char *err,
		    size_t errsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return doc_fail(err, errsz, ZE_MALFORMED, "%s%s must be a string", where, key);
	if (strlen(v->valuestring) > DOC_MAX_TEXT)
		return doc_fail(err, errsz, ZE_TOOBIG, "%s%s is longer than %u bytes", where, key,
				DOC_MAX_TEXT);
	return 0;
}

static int doc_workload(const cJSON *w, int idx, const cJSON *all, char *err, size_t errsz)
{
	char where[64];
	int rc;

	snprintf(where, sizeof where, "workloads[%d].", idx);
	if (!cJSON_IsObject(w))
		return doc_fail(err, errsz, ZE_MALFORMED, "workloads[%d] must be an object", idx);
	if (!doc_u32(cJSON_GetObjectItemCaseSensitive(w, "version")))
		return doc_fail(err, errsz, ZE_MALFORMED, "%sversion must be an integer in [0, 2^32)",
				where);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(w, "name");
	if (!cJSON_IsString(name) || !doc_name_valid(name->valuestring))
		return doc_fail(err, errsz, ZE_MALFORMED, "%sname must match ^[a-zA-Z0-9_]{1,36}$",
				where);
	/* Unique names: compare with the workloads before this one. */
	const cJSON *prev;
	int j = 0;
	cJSON_ArrayForEach(prev, all) {
		if (j++ >= idx)
			break;
		const cJSON *pn = cJSON_GetObjectItemCaseSensitive(prev, "name");
		if (cJSON_IsString(pn) && !strcmp(pn->valuestring, name->valuestring))
			return doc_fail(err, errsz, ZE_MALFORMED, "workload name \"%s\" is used twice",
					name->valuestring);
	}
	snprintf(where, sizeof where, "workload \"%s\": ", name->valuestring);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(w, "type");
	if (!cJSON_IsString(type) || !type->valuestring[0] ||
	    strlen(type->valuestring) > DOC_MAX_TYPE)
		return doc_fail(err, errsz, ZE_MALFORMED, "%stype must be a string of 1..%u bytes",
				where, DOC_MAX_TYPE);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(w, "data")))
		return doc_fail(err, errsz, ZE_MALFORMED, "%sdata must be an object", where);
	if ((rc = doc_text(w, "metadata", where, err, errsz)) < 0 ||
	    (rc = doc_text(w, "description", where, err, errsz)) < 0)
		return rc;
	return 0;
}

/* The twin: filled in when absent; the node refuses a document whose twin
 * is not the contract's. */
static int doc_twin(cJSON *doc, uint32_t twin, char *err, size_t errsz)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "twin_id");

	if (!t) {
		if (!cJSON_AddNumberToObject(doc, "twin_id", twin))
			return doc_fail(err, errsz, -ENOMEM, "out of memory");
	} else if (!doc_u32(t) || (uint32_t)t->valuedouble != twin) {
		return doc_fail(err, errsz, -EINVAL,
				"twin_id must be the key's twin %u (or be left out)", twin);
	}
	return 0;
}

static int doc_check(cJSON *doc, uint32_t twin, int full, char *err, size_t errsz)
{
	int rc;

	if (!cJSON_IsObject(doc))
		return doc_fail(err, errsz, ZE_MALFORMED, "the deployment must be a JSON object");
	if (!full)
		return doc_twin(doc, twin, err, errsz);
	if (!doc_u32(cJSON_GetObjectItemCaseSensitive(doc, "version")))
		return doc_fail(err, errsz, ZE_MALFORMED, "version must be an integer in [0, 2^32)");
	if ((rc = doc_twin(doc, twin, err, errsz)) < 0)
		return rc;
	if ((rc = doc_text(doc, "metadata", "", err, errsz)) < 0 ||
	    (rc = doc_text(doc, "description", "", err, errsz)) < 0)
		return rc;
	const cJSON *wls = cJSON_GetObjectItemCaseSensitive(doc, "workloads");
	if (!cJSON_IsArray(wls))
		return doc_fail(err, errsz, ZE_MALFORMED, "workloads must be an array");
	int n = cJSON_GetArraySize(wls);
	if (n == 0)
		return doc_fail(err, errsz, ZE_MALFORMED, "the deployment has no workloads");
	if (n > DOC_MAX_WORKLOADS)
		return doc_fail(err, errsz, ZE_TOOBIG, "more than %d workloads", DOC_MAX_WORKLOADS);
	for (int i = 0; i < n; i++)
		if ((rc = doc_workload(cJSON_GetArrayItem(wls, i), i, wls, err, errsz)) < 0)
			return rc;
	return 0;
}

static int doc_prepare(const char *text, size_t len, uint32_t twin, int full, char **out,
		       char *err, size_t errsz)
{
	const char *end = NULL;
	cJSON *doc;
	int rc;

	*out = NULL;
	if (len > CLI_DOC_MAX)
		return doc_fail(err, errsz, ZE_TOOBIG, "the deployment is larger than %u bytes",
				CLI_DOC_MAX);
	doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!doc)
		return doc_fail(err, errsz, ZE_MALFORMED, "not valid JSON (near byte %td)",
				end && end >= text ? end - text : (ptrdiff_t)0);
	for (size_t i = (size_t)(end - text); i < len; i++) {
		if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t') {
			rc = doc_fail(err, errsz, ZE_MALFORMED,
				      "trailing bytes after the deployment document");
			goto out;
		}
	}
	if ((rc = doc_check(doc, twin, full, err, errsz)) < 0)
		goto out;
	*out = cJSON_PrintUnformatted(doc);
	if (!*out)
		rc = doc_fail(err, errsz, -ENOMEM, "out of memory");
	else if (strlen(*out) > SEAL_DEFAULT_MAX - SEAL_OVERHEAD) {
		rc = doc_fail(err, errsz, ZE_TOOBIG, "sealed, the deployment would exceed %u bytes",
			      SEAL_DEFAULT_MAX);
		cli_doc_free(*out);
		*out = NULL;
	}
out:
	doc_wipe(doc);
	cJSON_Delete(doc);
	return rc;
}

int cli_doc_prepare(const char *text, size_t len, uint32_t twin, char **out, char *err,
		    size_t errsz)
{
	return doc_prepare(text, len, twin, 1, out, err, errsz);
}

int cli_doc_prepare_twin(const char *text, size_t len, uint32_t twin, char **out, char *err,
			 size_t errsz)
{
	return doc_prepare(text, len, twin, 0, out, err, errsz);
}

void cli_doc_free(char *doc)
{
	if (!doc)
		return;
	sodium_memzero(doc, strlen(doc));
	free(doc);
}

int cli_doc_seal(const struct zkey *user, const uint8_t *node_pk, size_t node_pk_len,
		 const uint8_t node_account[32], const char *doc, uint8_t **data, size_t *len,
		 uint8_t hash[32])
{
	uint8_t node_x[32], user_x[32];
	int rc = seal_twin_x25519(node_pk, node_pk_len, node_account, node_x);

	if (rc < 0)
		return rc;
	if ((rc = key_x25519_sk(user, user_x)) == 0)
		rc = seal_box((const uint8_t *)doc, strlen(doc), node_x, user_x, 0, data, len);
	sodium_memzero(user_x, sizeof user_x);
	if (rc == 0)
		seal_hash(doc, strlen(doc), hash);
	return rc;
}

int cli_doc_read(const char *path, char **text, size_t *len)
{
	uint8_t *p;
	int rc = zfile_read(path, CLI_DOC_MAX, &p, len);
	if (rc == 0)
		*text = (char *)p;
	return rc;
}

void cli_doc_text_free(char *text, size_t len)
{
	if (!text)
		return;
	sodium_memzero(text, len);
	free(text);
}

int cli_doc_check_sender(struct chain_client *c, const struct zkey *key, uint32_t twin)
{
	struct grid_twin t;
	uint8_t mine[32], theirs[32];
	int rc = grid_twin(c, twin, &t);

	if (rc < 0) {
		cli_err("cannot read twin %u: %s", twin, cli_chain_why(rc));
		return rc;
	}
	if ((rc = key_x25519_pk_of(key, mine)) < 0 ||
	    (rc = seal_twin_x25519(t.pk_len ? t.pk : NULL, t.pk_len, t.account, theirs)) < 0) {
		cli_err("twin %u has no usable x25519 key", twin);
		return rc;
	}
	if (sodium_memcmp(mine, theirs, 32) != 0) {
		cli_err("twin %u publishes an x25519 key (pk) that is not this key's; the node "
			"could not open the deployment (zos-cli chain call TfgridModule update_twin)",
			twin);
		return ZE_CRYPTO;
	}
	return 0;
}

int cli_doc_fits_chain(struct chain_client *c, size_t len, uint32_t *limit)
{
	int rc = grid_max_deployment_data(c, limit);
	if (rc == ZE_ABSENT) {
		*limit = 0;
		return 1;
	}
	if (rc < 0) {
		cli_err("cannot read the runtime's MaxDeploymentDataLength: %s", cli_chain_why(rc));
		return rc;
	}
	return len <= *limit;
}
