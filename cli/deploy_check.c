/*
 * zos-cli deploy: what is checked before paying, and what is said when a
 * contract exists but its node cannot be reached.
 *
 * Before create_node_contract the node must answer over RMB
 * (zos.system.version) and have the free capacity the document's workloads
 * ask for (zos.statistics.get); a node that is down or full is refused
 * while nothing has been spent. When the node goes away after the contract
 * exists, the user gets the contract id, what it has been billed so far and
 * the exact commands to resend or cancel it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainclient/meta.h"
#include "cli/deploy.h"
#include "cli/grid.h"
#include "common/jnum.h"
#include "common/zerr.h"
#include "rmb/rmb.h"

/* A non-negative integer member of o, else 0 (the node validates). */
static uint64_t json_u64(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	uint64_t x;
	return jnum_u64(v, UINT64_MAX, &x) < 0 ? 0 : x;
}

static void add_sat(uint64_t *a, uint64_t b)
{
	*a = *a > UINT64_MAX - b ? UINT64_MAX : *a + b;
}

/*
 * What the document's workloads ask for, the way the node's provisioners
 * count it: compute_capacity {cpu, memory} as cru and mru, a disk's or a
 * volume's size as sru.
 */
static void doc_want(const cJSON *doc, uint64_t want[4])
{
	const cJSON *w;

	memset(want, 0, 4 * sizeof want[0]);
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(doc, "workloads"))
	{
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(w, "data");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(w, "type");
		const cJSON *cc = cJSON_GetObjectItemCaseSensitive(data, "compute_capacity");
		add_sat(&want[0], json_u64(cc, "cpu"));
		add_sat(&want[1], json_u64(cc, "memory"));
		if (cJSON_IsString(type) &&
		    (!strcmp(type->valuestring, "zmount") || !strcmp(type->valuestring, "volume")))
			add_sat(&want[2], json_u64(data, "size"));
	}
}

int cli_deploy_check_node(struct cli_link *l, const char *doc)
{
	static const char *const names[4] = {"cru", "mru", "sru", "hru"};
	char msg[RMB_ERRMSG_MAX + 1];
	uint32_t code = 0;
	cJSON *reply = NULL;

	fprintf(stderr, "checking node %u at %s...\n", l->node.id, l->addr);
	int rc = cli_link_call(l, "zos.system.version", NULL, &reply, &code, msg, sizeof msg);
	/* A signed "unknown command" is still the node answering: a peer that
	 * serves only the deployment commands is up. */
	if (rc == 1 && code == RMB_E_UNKNOWN_CMD)
		rc = 0;
	if (rc == 1) {
		cli_err("node %u answered zos.system.version with error %u: %s; nothing was paid",
		        l->node.id, code, msg);
		return ZE_STATE;
	}
	if (rc < 0) {
		cli_err("node %u does not answer at %s: nothing was paid, no contract was created",
		        l->node.id, l->addr);
		return rc;
	}
	cJSON_Delete(reply);
	reply = NULL;
	/* An agent that has just started answers 503 until its engine runs:
	 * worth a few seconds' wait before giving up on it. */
	for (int i = 0; i < 20; i++) {
		rc = cli_link_call(l, "zos.statistics.get", NULL, &reply, &code, msg, sizeof msg);
		if (rc != 1 || code != 503)
			break;
		struct timespec ts = {0, 500 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (rc == 1) {
		cli_err("node %u cannot tell its free capacity (error %u: %s); nothing was paid",
		        l->node.id, code, msg);
		return ZE_STATE;
	}
	if (rc < 0)
		return rc;
	cJSON *d = cJSON_Parse(doc);
	uint64_t want[4];
	const cJSON *fr = cJSON_GetObjectItemCaseSensitive(reply, "free");
	doc_want(d, want);
	cJSON_Delete(d);
	rc = 0;
	for (int i = 0; i < 4 && cJSON_IsObject(fr); i++) {
		uint64_t free_ = json_u64(fr, names[i]);
		if (want[i] > free_) {
			cli_err("node %u has not enough free %s: the deployment wants %" PRIu64
			        ", the node has %" PRIu64 " free; nothing was paid (pick another "
			        "node: zos-cli node get ID shows its capacity)",
			        l->node.id, names[i], want[i], free_);
			rc = ZE_CAPACITY;
			break;
		}
	}
	cJSON_Delete(reply);
	return rc;
}

/* The sum of the contract's bills in the chain's ContractBillHistory: 1 with
 * *total when there are some, 0 when none, negative when unknown. */
static int billed(struct cli_link *l, uint64_t cid, scale_u128 *total, size_t *n)
{
	cJSON *keys = cJSON_CreateArray(), *v = NULL;
	const cJSON *b;
	char id[24];
	int rc = -ENOMEM;

	*total = 0;
	*n = 0;
	snprintf(id, sizeof id, "%" PRIu64, cid);
	if (!keys || !cJSON_AddItemToArray(keys, cJSON_CreateString(id)))
		goto out;
	rc = chain_get_json(l->chain, "SmartContractModule", "ContractBillHistory", keys, NULL, &v);
	if (rc == ZE_ABSENT) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	cJSON_ArrayForEach(b, v)
	{
		scale_u128 a;
		if (meta_json_u128(cJSON_GetObjectItemCaseSensitive(b, "amount_billed"), &a) == 0) {
			*total += a;
			(*n)++;
		}
	}
	rc = *n > 0;
out:
	cJSON_Delete(keys);
	cJSON_Delete(v);
	return rc;
}

void cli_deploy_stranded(struct cli_link *l, uint64_t cid, const struct cli_deploy_resend *r)
{
	scale_u128 total;
	size_t n;
	char tft[CLI_TFT_STRLEN], cost[128];
	int rc = billed(l, cid, &total, &n);

	if (rc > 0) {
		cli_tft_format(total, tft);
		snprintf(cost, sizeof cost, "%s TFT billed so far (%zu bill%s)", tft, n,
		         n == 1 ? "" : "s");
	} else if (rc == 0) {
		snprintf(cost, sizeof cost, "nothing billed yet");
	} else {
		snprintf(cost, sizeof cost,
		         "its bills could not be read (zos-cli contract bill-history %" PRIu64 ")",
		         cid);
	}
	fprintf(stderr,
	        "zos-cli: contract %" PRIu64 " exists on chain (state Created; %s) but node %u "
	        "could not be reached at %s.\n"
	        "  resend it once the node is up:  zos-cli deploy --contract %" PRIu64
	        " --node %u%s%s %s%s%s%s%s\n"
	        "  or cancel it to stop paying:    zos-cli contract cancel %" PRIu64 " %s%s%s\n",
	        cid, cost, l->node.id, l->addr, cid, l->node.id, r->sealed ? " --sealed " : "",
	        r->sealed ? r->sealed : "", r->keyopt, r->url ? " --url " : "",
	        r->url ? r->url : "", r->rmb ? " --rmb " : "", r->rmb ? r->rmb : "", cid, r->keyopt,
	        r->url ? " --url " : "", r->url ? r->url : "");
}
