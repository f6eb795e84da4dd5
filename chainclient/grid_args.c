/*
 * Named arguments of the calls the agent and the CLI make. Byte strings go
 * as 0x-hex and u64/u128 values as decimal strings (exact in JSON); the
 * runtime's metadata maps names to positions and encodes at sending time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/grid.h"
#include "common/hex.h"
#include "common/zerr.h"

static int ga_hex(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	char *s = hex_encode_alloc(p, n, 1);
	int ok = s && cJSON_AddStringToObject(o, name, s);

	free(s);
	return ok ? 0 : -1;
}

static int ga_opt_hex(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
	if (!p)
		return cJSON_AddNullToObject(o, name) ? 0 : -1;
	return ga_hex(o, name, p, n);
}

static int ga_u64(cJSON *o, const char *name, uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return cJSON_AddStringToObject(o, name, s) ? 0 : -1;
}

static int ga_u32(cJSON *o, const char *name, uint32_t v)
{
	return cJSON_AddNumberToObject(o, name, v) ? 0 : -1;
}

static cJSON *ga_twin(const char *relay, const uint8_t *pk, size_t pk_len)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || ga_opt_hex(o, "relay", (const uint8_t *)relay, relay ? strlen(relay) : 0) ||
	    ga_opt_hex(o, "pk", pk, pk_len)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *grid_args_create_twin(const char *relay, const uint8_t *pk, size_t pk_len)
{
	return ga_twin(relay, pk, pk_len);
}

cJSON *grid_args_update_twin(const char *relay, const uint8_t *pk, size_t pk_len)
{
	return ga_twin(relay, pk, pk_len);
}

static int ga_text(cJSON *o, const char *name, const char *s)
{
	return ga_hex(o, name, (const uint8_t *)(s ? s : ""), s ? strlen(s) : 0);
}

cJSON *grid_args_create_farm(const char *name)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || ga_text(o, "name", name) || !cJSON_AddArrayToObject(o, "public_ips")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int ga_node(cJSON *o, const struct grid_node_info *n)
{
	cJSON *res = cJSON_CreateObject(), *loc = cJSON_CreateObject();
	int bad = !res || !loc || ga_u64(res, "hru", n->hru) || ga_u64(res, "sru", n->sru) ||
		  ga_u64(res, "cru", n->cru) || ga_u64(res, "mru", n->mru) ||
		  ga_text(loc, "city", n->city) || ga_text(loc, "country", n->country) ||
		  ga_text(loc, "latitude", n->latitude) || ga_text(loc, "longitude", n->longitude);

	if (bad) {
		cJSON_Delete(res);
		cJSON_Delete(loc);
		return -1;
	}
	cJSON_AddItemToObject(o, "resources", res);
	cJSON_AddItemToObject(o, "location", loc);
	if (ga_u32(o, "farm_id", n->farm_id) || !cJSON_AddArrayToObject(o, "interfaces") ||
	    !cJSON_AddBoolToObject(o, "secure_boot", n->secure_boot) ||
	    !cJSON_AddBoolToObject(o, "virtualized", n->virtualized))
		return -1;
	if (n->serial_number)
		return ga_text(o, "serial_number", n->serial_number);
	return cJSON_AddNullToObject(o, "serial_number") ? 0 : -1;
}

cJSON *grid_args_create_node(const struct grid_node_info *n)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || ga_node(o, n)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *grid_args_update_node(uint32_t node_id, const struct grid_node_info *n)
{
	cJSON *o = grid_args_create_node(n);

	if (o && ga_u32(o, "node_id", node_id)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *grid_args_create_node_contract(uint32_t node_id, const uint8_t hash[32],
				      const uint8_t *data, size_t len, uint32_t public_ips)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || ga_u32(o, "node_id", node_id) || ga_hex(o, "deployment_hash", hash, 32) ||
	    ga_hex(o, "deployment_data", data, len) || ga_u32(o, "public_ips", public_ips) ||
	    !cJSON_AddNullToObject(o, "solution_provider_id")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *grid_args_contract_id(uint64_t contract_id)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || ga_u64(o, "contract_id", contract_id)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *grid_args_reject_contract(uint64_t contract_id, const char *reason)
{
	cJSON *o = grid_args_contract_id(contract_id);

	if (o && ga_hex(o, "reason", (const uint8_t *)reason, strlen(reason))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *grid_args_transfer(const uint8_t dest[32], scale_u128 amount)
{
	cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateObject();
	char v[40];

	scale_u128_str(amount, v);
	if (!o || !d || ga_hex(d, "Id", dest, 32) || !cJSON_AddStringToObject(o, "value", v)) {
		cJSON_Delete(o);
		cJSON_Delete(d);
		return NULL;
	}
	cJSON_AddItemToObject(o, "dest", d);
	return o;
}

static cJSON *ga_reports(const struct grid_report *r, size_t nr, int kind)
{
	cJSON *arr = cJSON_CreateArray();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < nr; i++) {
		cJSON *o = cJSON_CreateObject(), *used = NULL;
		int bad = !o || ga_u64(o, "contract_id", r[i].contract_id);
		if (!bad && kind == 0) /* add_reports: Consumption */
			bad = ga_u64(o, "timestamp", r[i].timestamp) || ga_u64(o, "cru", r[i].cru) ||
			      ga_u64(o, "sru", r[i].sru) || ga_u64(o, "hru", r[i].hru) ||
			      ga_u64(o, "mru", r[i].mru) || ga_u64(o, "nru", r[i].nru);
		else if (!bad && kind == 1) { /* report_contract_resources */
			used = cJSON_CreateObject();
			bad = !used || ga_u64(used, "hru", r[i].hru) || ga_u64(used, "sru", r[i].sru) ||
			      ga_u64(used, "cru", r[i].cru) || ga_u64(used, "mru", r[i].mru);
			if (!bad)
				cJSON_AddItemToObject(o, "used", used);
			else
				cJSON_Delete(used);
		} else if (!bad) /* add_nru_reports */
			bad = ga_u64(o, "timestamp", r[i].timestamp) ||
			      ga_u64(o, "window", r[i].window) || ga_u64(o, "nru", r[i].nru);
		if (bad) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *ga_wrap(const char *name, cJSON *v)
{
	cJSON *o = v ? cJSON_CreateObject() : NULL;

	if (!o) {
		cJSON_Delete(v);
		return NULL;
	}
	cJSON_AddItemToObject(o, name, v);
	return o;
}

int grid_report_calls(const struct meta *m, const struct grid_report *r, size_t nr,
		      const char *calls[2], cJSON *args[2], size_t *n)
{
	const struct meta_pallet *p = meta_pallet(m, "SmartContractModule");

	*n = 0;
	args[0] = args[1] = NULL;
	if (!p)
		return ZE_UNSUPPORTED;
	if (meta_call(m, p, "add_reports")) {
		calls[0] = "add_reports";
		args[0] = ga_wrap("reports", ga_reports(r, nr, 0));
		if (!args[0])
			return -ENOMEM;
		*n = 1;
		return 0;
	}
	if (!meta_call(m, p, "report_contract_resources") || !meta_call(m, p, "add_nru_reports"))
		return ZE_UNSUPPORTED;
	calls[0] = "report_contract_resources";
	args[0] = ga_wrap("contract_resources", ga_reports(r, nr, 1));
	calls[1] = "add_nru_reports";
	args[1] = ga_wrap("reports", ga_reports(r, nr, 2));
	if (!args[0] || !args[1]) {
		cJSON_Delete(args[0]);
		cJSON_Delete(args[1]);
		args[0] = args[1] = NULL;
		return -ENOMEM;
	}
	*n = 2;
	return 0;
}
