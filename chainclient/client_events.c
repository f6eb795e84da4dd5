/*
 * System.Events: reading, flattening, and naming dispatch errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/client_int.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/zerr.h"

/* The single member of a one-key object (an enum value in meta.h's form). */
static const cJSON *chain_only_member(const cJSON *o)
{
	if (!cJSON_IsObject(o) || !o->child || o->child->next)
		return NULL;
	return o->child;
}

/* Adds name/value pairs of one flattened event record. */
static int chain_flatten_record(const cJSON *rec, cJSON *arr)
{
	const cJSON *phase = cJSON_GetObjectItemCaseSensitive(rec, "phase");
	const cJSON *ev = chain_only_member(cJSON_GetObjectItemCaseSensitive(rec, "event"));
	const cJSON *inner, *ph;
	cJSON *o = NULL, *data;
	const char *evname;
	double index = -1;
	const char *phname;

	if (!ev)
		return ZE_MALFORMED;
	if (cJSON_IsString(phase)) {
		phname = phase->valuestring;
	} else if ((ph = chain_only_member(phase)) && cJSON_IsNumber(ph)) {
		phname = ph->string;
		index = ph->valuedouble;
	} else {
		return ZE_MALFORMED;
	}
	/* ev->string is the pallet; its value is the pallet's event enum. */
	inner = ev;
	if (cJSON_IsString(inner)) {
		evname = inner->valuestring;
		data = cJSON_CreateNull();
	} else if ((inner = chain_only_member(ev))) {
		evname = inner->string;
		data = cJSON_Duplicate(inner, 1);
	} else {
		return ZE_MALFORMED;
	}
	o = cJSON_CreateObject();
	if (!o || !data || !cJSON_AddNumberToObject(o, "index", index) ||
	    !cJSON_AddStringToObject(o, "phase", phname) ||
	    !cJSON_AddStringToObject(o, "pallet", ev->string) ||
	    !cJSON_AddStringToObject(o, "event", evname)) {
		cJSON_Delete(o);
		cJSON_Delete(data);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(o, "data", data);
	cJSON_AddItemToArray(arr, o);
	return 0;
}

int chain_events(struct chain_client *c, const struct chain_runtime *rt, const uint8_t at[32],
		 cJSON **out)
{
	const struct meta_pallet *p = meta_pallet(rt->meta, "System");
	const struct meta_storage *s = p ? meta_storage(p, "Events") : NULL;
	uint8_t *raw = NULL;
	size_t n = 0;
	cJSON *recs = NULL, *arr = NULL;
	const cJSON *rec;
	int ret;

	*out = NULL;
	if (!s)
		return ZE_UNSUPPORTED;
	ret = chain_storage_raw(c, rt, "System", "Events", 0, NULL, NULL, at, &raw, &n);
	if (ret == ZE_ABSENT) {
		/* A block without events stores nothing; the default is empty. */
		*out = cJSON_CreateArray();
		return *out ? 0 : -ENOMEM;
	}
	if (ret)
		return ret;
	ret = meta_to_json_buf(rt->meta, s->value_type, raw, n, &recs);
	free(raw);
	if (ret) {
		log_err("chain", "System.Events do not decode as runtime %u's types: %s",
			rt->spec_version, zerr_str(ret));
		return ret;
	}
	arr = cJSON_CreateArray();
	if (!arr || !cJSON_IsArray(recs)) {
		ret = arr ? ZE_MALFORMED : -ENOMEM;
		goto fail;
	}
	cJSON_ArrayForEach(rec, recs) {
		ret = chain_flatten_record(rec, arr);
		if (ret)
			goto fail;
	}
	cJSON_Delete(recs);
	*out = arr;
	return 0;
fail:
	cJSON_Delete(recs);
	cJSON_Delete(arr);
	return ret;
}

const cJSON *chain_event_find(const cJSON *events, const char *pallet, const char *name)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, events) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "pallet");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "event");
		if (cJSON_IsString(p) && cJSON_IsString(n) && strcmp(p->valuestring, pallet) == 0 &&
		    strcmp(n->valuestring, name) == 0)
			return e;
	}
	return NULL;
}

/* The first byte of a module error: a number in old runtimes, [u8; 4] in newer. */
static int chain_module_error_byte(const cJSON *v, uint8_t *b)
{
	uint64_t x;
	uint8_t four[4];

	if (cJSON_IsString(v) && hex_decode_fixed(v->valuestring, four, 4) == 0) {
		*b = four[0];
		return 0;
	}
	if (meta_json_u64(v, &x) == 0 && x <= 255) {
		*b = (uint8_t)x;
		return 0;
	}
	return ZE_MALFORMED;
}

static int chain_module_error_name(const struct meta *m, const cJSON *mod, char *out,
				   size_t outsz)
{
	uint64_t idx;
	uint8_t err;
	const struct meta_pallet *p;
	const struct meta_variant *v = NULL;

	if (meta_json_u64(cJSON_GetObjectItemCaseSensitive(mod, "index"), &idx) < 0 || idx > 255 ||
	    chain_module_error_byte(cJSON_GetObjectItemCaseSensitive(mod, "error"), &err) < 0)
		return ZE_MALFORMED;
	p = meta_pallet_by_index(m, (uint8_t)idx);
	if (p && p->has_errors)
		v = meta_variant_by_index(meta_type(m, p->errors_type), err);
	if (v)
		snprintf(out, outsz, "%s.%s", p->name, v->name);
	else
		snprintf(out, outsz, "Module(%u).Error(%u)", (unsigned)idx, (unsigned)err);
	return 0;
}

int chain_dispatch_error_name(const struct meta *m, const cJSON *err, char *out, size_t outsz)
{
	const cJSON *k;

	if (outsz == 0)
		return -EINVAL;
	out[0] = '\0';
	if (cJSON_IsString(err)) {
		snprintf(out, outsz, "%s", err->valuestring);
		return 0;
	}
	k = chain_only_member(err);
	if (!k)
		return ZE_MALFORMED;
	if (strcmp(k->string, "Module") == 0)
		return chain_module_error_name(m, k, out, outsz);
	const cJSON *inner = chain_only_member(k);
	if (cJSON_IsString(k))
		snprintf(out, outsz, "%s.%s", k->string, k->valuestring);
	else if (inner)
		snprintf(out, outsz, "%s.%s", k->string, inner->string);
	else
		snprintf(out, outsz, "%s", k->string);
	return 0;
}
