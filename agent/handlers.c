/* RMB command handlers of the deploy engine. */
#include "agent/handlers.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/hex.h"
#include "common/jnum.h"
#include "common/seal.h"
#include "common/zerr.h"
#include "rmb/rmb_server.h"

/* A new object appended to arr; NULL (nothing leaked) when out of memory. */
static cJSON *append_object(cJSON *arr)
{
	cJSON *o = cJSON_CreateObject();
	if (o && !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

static int fail(int *code, char *err, size_t errsz, int c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int fail(int *code, char *err, size_t errsz, int c, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	*code = c;
	return rc;
}

int eng_rmb_contract_id(const cJSON *payload, uint64_t *cid)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, "contract_id");
	uint64_t x = 0;
	int rc = jnum_u64_dec(v, &x);
	*cid = rc < 0 ? 0 : x;
	return rc < 0 || !x ? ZE_MALFORMED : 0;
}

static int want_cid(const cJSON *payload, uint64_t *cid, int *code, char *err, size_t errsz)
{
	if (eng_rmb_contract_id(payload, cid) < 0)
		return fail(code, err, errsz, ENG_E_BAD_REQUEST, ZE_MALFORMED,
			    "payload must be {\"contract_id\": positive integer}");
	return 0;
}

static int oom(int *code, char *err, size_t errsz)
{
	return fail(code, err, errsz, ENG_E_INTERNAL, -ENOMEM, "out of memory");
}

int eng_rmb_deploy(struct eng *e, uint32_t caller, const cJSON *payload, cJSON **reply,
		   int *code, char *err, size_t errsz)
{
	uint64_t cid;
	int rc = want_cid(payload, &cid, code, err, errsz);
	if (rc < 0)
		return rc;
	/* Optional "deployment": the sealed deployment (base64) of a contract
	 * that holds only its hash on chain. */
	const cJSON *dep = cJSON_GetObjectItemCaseSensitive(payload, "deployment");
	uint8_t *data = NULL;
	size_t dlen = 0;
	if (dep) {
		size_t cap = cJSON_IsString(dep) ? strlen(dep->valuestring) / 4 * 3 + 3 : 0;
		if (!cap || cap > (size_t)SEAL_DEFAULT_MAX * 2)
			return fail(code, err, errsz, ENG_E_BAD_REQUEST, ZE_MALFORMED,
				    "\"deployment\" must be the sealed deployment in base64");
		if (!(data = malloc(cap)))
			return oom(code, err, errsz);
		if (sodium_base642bin(data, cap, dep->valuestring, strlen(dep->valuestring), NULL,
				      &dlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
			free(data);
			return fail(code, err, errsz, ENG_E_BAD_REQUEST, ZE_MALFORMED,
				    "\"deployment\" is not valid base64");
		}
	}
	const char *status;
	rc = eng_accept_data(e, caller, cid, data, dlen, &status, code, err, errsz);
	free(data);
	if (rc < 0)
		return rc;
	cJSON *r = cJSON_CreateObject();
	if (!r || !cJSON_AddNumberToObject(r, "contract_id", (double)cid) ||
	    !cJSON_AddStringToObject(r, "status", status)) {
		cJSON_Delete(r);
		return oom(code, err, errsz);
	}
	*reply = r;
	return 0;
}

static int add_cap(cJSON *o, const char *key, const struct prov_capacity *c)
{
	cJSON *x = cJSON_AddObjectToObject(o, key);
	return x && cJSON_AddNumberToObject(x, "cru", (double)c->cru) &&
	       cJSON_AddNumberToObject(x, "mru", (double)c->mru) &&
	       cJSON_AddNumberToObject(x, "sru", (double)c->sru) &&
	       cJSON_AddNumberToObject(x, "hru", (double)c->hru);
}

/* The deployment fields list and get share. */
static int add_dep(cJSON *o, const struct store_dep *d)
{
	char hash[65];
	hex_encode(d->hash, 32, 0, hash, sizeof hash);
	return cJSON_AddNumberToObject(o, "contract_id", (double)d->contract_id) &&
	       cJSON_AddNumberToObject(o, "twin_id", d->twin_id) &&
	       cJSON_AddStringToObject(o, "state", store_dep_state_name(d->state)) &&
	       cJSON_AddStringToObject(o, "reason", d->reason) &&
	       cJSON_AddStringToObject(o, "hash", hash) &&
	       cJSON_AddNumberToObject(o, "created", (double)d->created) &&
	       cJSON_AddNumberToObject(o, "updated", (double)d->updated) &&
	       add_cap(o, "capacity", &d->cap);
}

/* While a workload's image is being pulled: "pulling": {image, done, total}
 * (bytes). 1 on success (also when not pulling), 0 out of memory. */
static int add_pulling(struct eng *e, uint64_t cid, const char *name, cJSON *o)
{
	struct eng_pull_info p[8];
	size_t n = eng_image_pulls(e, cid, p, 8);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(p[i].name, name))
			continue;
		cJSON *x = cJSON_AddObjectToObject(o, "pulling");
		return x && cJSON_AddStringToObject(x, "image", p[i].image) &&
		       cJSON_AddNumberToObject(x, "done", (double)p[i].done) &&
		       cJSON_AddNumberToObject(x, "total", (double)p[i].total);
	}
	return 1;
}

/* zos.deployment.changes: a workload pulling its image now shows as a last
 * entry {name, ts, state "pulling", message "IMAGE: DONE/TOTAL bytes",
 * done, total}; it is live, not history. */
static int add_pull_changes(struct eng *e, uint64_t cid, cJSON *arr)
{
	struct eng_pull_info p[8];
	size_t n = eng_image_pulls(e, cid, p, 8);
	for (size_t i = 0; i < n; i++) {
		char m[IMG_REF_MAX + 64];
		snprintf(m, sizeof m, "%s: %" PRIu64 "/%" PRIu64 " bytes", p[i].image, p[i].done,
			 p[i].total);
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o) ||
		    !cJSON_AddStringToObject(o, "name", p[i].name) ||
		    !cJSON_AddNumberToObject(o, "ts", (double)p[i].since) ||
		    !cJSON_AddStringToObject(o, "state", "pulling") ||
		    !cJSON_AddStringToObject(o, "message", m) ||
		    !cJSON_AddNumberToObject(o, "done", (double)p[i].done) ||
		    !cJSON_AddNumberToObject(o, "total", (double)p[i].total))
			return 0;
	}
	return 1;
}

/* Loads the caller's own deployment; another twin's reads as absent. */
static int own_dep(struct eng *e, uint32_t caller, uint64_t cid, struct store_dep *d,
		   struct store_wl **w, size_t *n, int *code, char *err, size_t errsz)
{
	int rc = store_dep_get(eng_store(e), cid, d, w, n);
	if (rc == 0 && d->twin_id != caller) {
		store_dep_clear(d);
		if (w) {
			store_wls_free(*w, *n);
			*w = NULL;
		}
		rc = ZE_ABSENT;
	}
	if (rc == ZE_ABSENT || rc == ZE_MALFORMED)
		return fail(code, err, errsz, ENG_E_NOT_FOUND, ZE_ABSENT,
			    "no deployment of twin %u for contract %" PRIu64, caller, cid);
	if (rc < 0)
		return fail(code, err, errsz, ENG_E_INTERNAL, rc, "state store: %s", zerr_str(rc));
	return 0;
}

int eng_rmb_get(struct eng *e, uint32_t caller, const cJSON *payload, cJSON **reply, int *code,
		char *err, size_t errsz)
{
	uint64_t cid;
	struct store_dep d;
	struct store_wl *w = NULL;
	size_t n = 0;
	int rc = want_cid(payload, &cid, code, err, errsz);
	if (rc < 0 || (rc = own_dep(e, caller, cid, &d, &w, &n, code, err, errsz)) < 0)
		return rc;
	cJSON *r = cJSON_CreateObject();
	cJSON *arr = r && add_dep(r, &d) ? cJSON_AddArrayToObject(r, "workloads") : NULL;
	int ok = arr != NULL;
	for (size_t i = 0; ok && i < n; i++) {
		cJSON *o = append_object(arr);
		ok = o && cJSON_AddStringToObject(o, "name", w[i].name) &&
		     cJSON_AddStringToObject(o, "type", w[i].type) &&
		     cJSON_AddStringToObject(o, "state", store_wl_state_name(w[i].state)) &&
		     cJSON_AddNumberToObject(o, "updated", (double)w[i].updated) &&
		     add_pulling(e, cid, w[i].name, o);
		if (ok && w[i].result) {
			cJSON *res = cJSON_Parse(w[i].result);
			ok = res ? cJSON_AddItemToObject(o, "result", res)
				 : cJSON_AddNullToObject(o, "result") != NULL;
			if (!ok)
				cJSON_Delete(res);
		} else if (ok) {
			ok = cJSON_AddNullToObject(o, "result") != NULL;
		}
	}
	store_dep_clear(&d);
	store_wls_free(w, n);
	if (!ok) {
		cJSON_Delete(r);
		return oom(code, err, errsz);
	}
	*reply = r;
	return 0;
}

struct list_ctx {
	cJSON *arr;
	size_t n;
	int oom;
	int truncated;
};

static int list_cb(void *ctx, const struct store_dep *d)
{
	struct list_ctx *l = ctx;
	if (l->n >= ENG_RMB_LIST_MAX) {
		l->truncated = 1;
		return 1;
	}
	cJSON *o = append_object(l->arr);
	if (!o || !add_dep(o, d)) {
		l->oom = 1;
		return 1;
	}
	l->n++;
	return 0;
}

int eng_rmb_list(struct eng *e, uint32_t caller, const cJSON *payload, cJSON **reply, int *code,
		 char *err, size_t errsz)
{
	cJSON *r = cJSON_CreateObject();
	struct list_ctx l = {.arr = r ? cJSON_AddArrayToObject(r, "deployments") : NULL};
	if (!l.arr) {
		cJSON_Delete(r);
		return oom(code, err, errsz);
	}
	int rc = store_dep_list(eng_store(e), caller, list_cb, &l);
	if (l.oom || (rc < 0) || !cJSON_AddBoolToObject(r, "truncated", l.truncated)) {
		cJSON_Delete(r);
		if (rc < 0)
			return fail(code, err, errsz, ENG_E_INTERNAL, rc, "state store: %s",
				    zerr_str(rc));
		return oom(code, err, errsz);
	}
	*reply = r;
	return 0;
}

static int hist_cb(void *ctx, const char *name, int64_t ts, const char *state,
		   const char *message)
{
	struct list_ctx *l = ctx;
	if (l->n >= ENG_RMB_CHANGES_MAX) {
		l->truncated = 1;
		return 1;
	}
	cJSON *o = append_object(l->arr);
	if (!o || !cJSON_AddStringToObject(o, "name", name) ||
	    !cJSON_AddNumberToObject(o, "ts", (double)ts) ||
	    !cJSON_AddStringToObject(o, "state", state) ||
	    !cJSON_AddStringToObject(o, "message", message)) {
		l->oom = 1;
		return 1;
	}
	l->n++;
	return 0;
}

int eng_rmb_changes(struct eng *e, uint32_t caller, const cJSON *payload, cJSON **reply,
		    int *code, char *err, size_t errsz)
{
	uint64_t cid;
	struct store_dep d;
	int rc = want_cid(payload, &cid, code, err, errsz);
	if (rc < 0 || (rc = own_dep(e, caller, cid, &d, NULL, NULL, code, err, errsz)) < 0)
		return rc;
	store_dep_clear(&d);
	cJSON *r = cJSON_CreateObject();
	struct list_ctx l = {0};
	if (!r || !cJSON_AddNumberToObject(r, "contract_id", (double)cid) ||
	    !(l.arr = cJSON_AddArrayToObject(r, "changes"))) {
		cJSON_Delete(r);
		return oom(code, err, errsz);
	}
	rc = store_history(eng_store(e), cid, hist_cb, &l);
	if (rc >= 0 && !l.oom && !add_pull_changes(e, cid, l.arr))
		l.oom = 1;
	if (l.oom || rc < 0 || !cJSON_AddBoolToObject(r, "truncated", l.truncated)) {
		cJSON_Delete(r);
		if (rc < 0)
			return fail(code, err, errsz, ENG_E_INTERNAL, rc, "state store: %s",
				    zerr_str(rc));
		return oom(code, err, errsz);
	}
	*reply = r;
	return 0;
}

static void cap_sub(struct prov_capacity *out, const struct prov_capacity *a,
		    const struct prov_capacity *b)
{
	out->cru = a->cru > b->cru ? a->cru - b->cru : 0;
	out->mru = a->mru > b->mru ? a->mru - b->mru : 0;
	out->sru = a->sru > b->sru ? a->sru - b->sru : 0;
	out->hru = a->hru > b->hru ? a->hru - b->hru : 0;
}

int eng_rmb_statistics(struct eng *e, uint32_t caller, const cJSON *payload, cJSON **reply,
		       int *code, char *err, size_t errsz)
{
	struct store_stats st;
	int rc = store_stats(eng_store(e), caller, &st);
	if (rc < 0)
		return fail(code, err, errsz, ENG_E_INTERNAL, rc, "state store: %s", zerr_str(rc));
	const struct prov_capacity *total = &eng_config(e)->total;
	struct prov_capacity free_cap;
	cap_sub(&free_cap, total, &st.reserved);
	cJSON *r = cJSON_CreateObject();
	if (!r || !add_cap(r, "total", total) || !add_cap(r, "reserved", &st.reserved) ||
	    !add_cap(r, "used", &st.used) || !add_cap(r, "free", &free_cap) ||
	    !cJSON_AddNumberToObject(r, "deployments", (double)st.deployments) ||
	    !cJSON_AddNumberToObject(r, "workloads", (double)st.workloads)) {
		cJSON_Delete(r);
		return oom(code, err, errsz);
	}
	/* How VMs run here: "kvm", "tcg", or auto before the first VM. */
	if (eng_config(e)->prov) {
		char accel[64];
		prov_vm_accel(eng_config(e)->prov, accel, sizeof accel);
		if (!cJSON_AddStringToObject(r, "vm_accel", accel)) {
			cJSON_Delete(r);
			return oom(code, err, errsz);
		}
	}
	*reply = r;
	return 0;
}

/* The RMB server's calling convention around the handlers above. */
static int trampoline(eng_rmb_fn fn, void *arg, const struct rmb_call *call, cJSON **reply,
		      struct rmb_error *err)
{
	int code = 0;
	char msg[RMB_ERRMSG_MAX + 1] = "";
	int rc = fn(arg, call->src, call->payload, reply, &code, msg, sizeof msg);
	if (rc < 0)
		rmb_error_set(err, code ? (uint32_t)code : ENG_E_INTERNAL,
			      code == ENG_E_UNAVAILABLE, "%s", msg);
	return rc;
}

#define TRAMPOLINE(name)                                                                   \
	static int rmb_##name(void *arg, const struct rmb_call *call, cJSON **reply,       \
			      struct rmb_error *err)                                       \
	{                                                                                  \
		return trampoline(eng_rmb_##name, arg, call, reply, err);                  \
	}
TRAMPOLINE(deploy)
TRAMPOLINE(get)
TRAMPOLINE(list)
TRAMPOLINE(changes)
TRAMPOLINE(statistics)

int eng_rmb_register(struct eng *e, struct rmb_server *s)
{
	/* deploy waits on the chain: it is a slow handler, run within the
	 * server's slow_workers places (docs/rmb.md, "Workers and shares"). */
	static const struct {
		const char *cmd;
		rmb_handler_fn fn;
		unsigned flags;
	} table[] = {
		{"zos.deployment.deploy", rmb_deploy, RMB_H_SLOW},
		{"zos.deployment.get", rmb_get, 0},
		{"zos.deployment.list", rmb_list, 0},
		{"zos.deployment.changes", rmb_changes, 0},
		{"zos.statistics.get", rmb_statistics, 0},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		int rc = rmb_server_register_flags(s, table[i].cmd, table[i].fn, e, table[i].flags);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Valid UTF-8 copies through; any other byte, and control characters but
 * newline and tab, become '?', so the reply is always valid JSON text. */
static void clean_text(char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
		                       : (c & 0xf8) == 0xf0 ? 4 : 0;
		int ok = k > 0 && i + k <= n && (k > 1 || c >= 0x20 || c == '\n' || c == '\t') &&
		         c != 0x7f && (k != 2 || c >= 0xc2);
		for (size_t j = 1; ok && j < k; j++)
			ok = ((unsigned char)s[i + j] & 0xc0) == 0x80;
		if (!ok) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
}

int eng_rmb_logs(struct eng *e, uint32_t caller, const cJSON *payload, cJSON **reply, int *code,
		 char *err, size_t errsz)
{
	uint64_t cid;
	struct store_dep d;
	struct store_wl *w = NULL;
	size_t n = 0;
	int rc = want_cid(payload, &cid, code, err, errsz);
	if (rc < 0)
		return rc;
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(payload, "name");
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(payload, "tail");
	double tail = ENG_RMB_LOGS_TAIL;
	if (!cJSON_IsString(nm) || prov_name_valid(nm->valuestring) < 0)
		return fail(code, err, errsz, ENG_E_BAD_REQUEST, ZE_MALFORMED,
			    "payload must be {\"contract_id\", \"name\": workload name, \"tail\": "
			    "lines}");
	if (tl && !cJSON_IsNull(tl)) {
		uint64_t t;
		if (jnum_u64(tl, ENG_RMB_LOGS_TAIL_MAX, &t) < 0 || t < 1)
			return fail(code, err, errsz, ENG_E_BAD_REQUEST, ZE_MALFORMED,
				    "tail must be an integer from 1 to %d", ENG_RMB_LOGS_TAIL_MAX);
		tail = (double)t;
	}
	if ((rc = own_dep(e, caller, cid, &d, &w, &n, code, err, errsz)) < 0)
		return rc;
	const struct store_wl *wl = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(w[i].name, nm->valuestring) == 0)
			wl = &w[i];
	if (!wl || !prov_runs_image(wl->type)) {
		rc = fail(code, err, errsz, ENG_E_NOT_FOUND, ZE_ABSENT,
			  "contract %" PRIu64 " has no container named %s", cid,
			  nm->valuestring);
		goto out;
	}
	struct prov_workload_id id = {.twin_id = d.twin_id, .contract_id = cid};
	snprintf(id.name, sizeof id.name, "%s", wl->name);
	char *text = NULL, perr[256] = "";
	size_t len = 0;
	int truncated = 0;
	rc = prov_logs(eng_config(e)->prov, &id, (unsigned)tail, &text, &len, &truncated, perr,
		       sizeof perr);
	if (rc < 0) {
		rc = fail(code, err, errsz, rc == -ENOENT ? ENG_E_NOT_FOUND : ENG_E_INTERNAL, rc,
			  "logs of %s: %s", wl->name, perr);
		goto out;
	}
	clean_text(text, len);
	cJSON *r = cJSON_CreateObject();
	cJSON *lines = r ? cJSON_AddArrayToObject(r, "lines") : NULL;
	int ok = lines && cJSON_AddNumberToObject(r, "contract_id", (double)cid) &&
		 cJSON_AddStringToObject(r, "name", wl->name) &&
		 cJSON_AddBoolToObject(r, "truncated", truncated);
	for (char *line = text, *nl; ok && line < text + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(text + len - line));
		if (!nl)
			nl = text + len;
		*nl = '\0';
		cJSON *s = cJSON_CreateString(line);
		ok = s && cJSON_AddItemToArray(lines, s);
	}
	free(text);
	if (!ok) {
		cJSON_Delete(r);
		rc = oom(code, err, errsz);
		goto out;
	}
	*reply = r;
	rc = 0;
out:
	store_dep_clear(&d);
	store_wls_free(w, n);
	return rc;
}
