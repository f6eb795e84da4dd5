/* Loading the devchain's genesis JSON into the pallets' initial state (genesis.h). */
#include "devchain/genesis.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jnum.h"
#include "common/key.h"
#include "common/log.h"
#include "common/file.h"
#include "common/zerr.h"
#include "devchain/system.h"

/* Both schemes' dev accounts are endowed, as on a Substrate dev chain
 * (sr25519) and as this project's ed25519 tools expect. */
static const char *const dev_names[] = {
	"//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie",
	"sr25519://Alice", "sr25519://Bob", "sr25519://Charlie",
	"sr25519://Dave", "sr25519://Eve", "sr25519://Ferdie",
};

static int builtin(cJSON **out)
{
	cJSON *g = cJSON_CreateObject(), *bal = NULL, *list = NULL;
	if (!g)
		return -ENOMEM;
	if (!cJSON_AddStringToObject(g, "name", "tfchain-dev") ||
	    !(bal = cJSON_AddObjectToObject(g, "Balances")) ||
	    !(list = cJSON_AddArrayToObject(bal, "balances")))
		goto nomem;
	for (size_t i = 0; i < sizeof(dev_names) / sizeof(dev_names[0]); i++) {
		cJSON *pair = cJSON_CreateArray();
		if (!pair)
			goto nomem;
		cJSON_AddItemToArray(list, pair);
		if (!cJSON_AddItemToArray(pair, cJSON_CreateString(dev_names[i])) ||
		    !cJSON_AddItemToArray(pair, cJSON_CreateString(DEV_GENESIS_ENDOWMENT)))
			goto nomem;
	}
	*out = g;
	return 0;
nomem:
	cJSON_Delete(g);
	return -ENOMEM;
}

int dev_genesis_load(const char *path, cJSON **out)
{
	uint8_t *text = NULL;
	if (!path)
		return builtin(out);
	size_t text_len;
	int rc = zfile_read(path, DEV_GENESIS_MAX, &text, &text_len);
	if (rc) {
		log_err("devchain", "genesis %s: %s", path, zerr_str(rc));
		return ZE_CONFIG;
	}
	cJSON *g = cJSON_Parse((const char *)text);
	free(text);
	if (!g || !cJSON_IsObject(g)) {
		log_err("devchain", "genesis %s: not a JSON object", path);
		cJSON_Delete(g);
		return ZE_CONFIG;
	}
	*out = g;
	return 0;
}

/* "//Alice" (an ed25519 dev account), "sr25519://Alice" or "ed25519://Alice"
 * (any secret URI of that scheme), SS58 or 0x-hex. */
static int parse_account(const char *s, uint8_t pk[32])
{
	if (!strncmp(s, "sr25519:", 8) || !strncmp(s, "ed25519:", 8)) {
		struct zkey k;
		int rc = key_from_suri(s + 8, s[0] == 's' ? KEY_SR25519 : KEY_ED25519, NULL, &k);
		if (!rc)
			memcpy(pk, k.pk, 32);
		key_wipe(&k);
		return rc;
	}
	if (!strncmp(s, "//", 2)) {
		struct zkey k;
		int rc = key_dev(s, &k);
		if (!rc)
			memcpy(pk, k.pk, 32);
		key_wipe(&k);
		return rc;
	}
	return key_parse_account(s, pk);
}

static int parse_amount(const cJSON *v, dev_balance *out)
{
	if (cJSON_IsString(v))
		return scale_u128_parse(v->valuestring, out);
	uint64_t x;
	if (jnum_u64(v, UINT64_MAX, &x) == 0) {
		*out = x;
		return 0;
	}
	return ZE_MALFORMED;
}

static int endow(struct dev_ctx *ctx, const cJSON *sec)
{
	const cJSON *list = sec ? cJSON_GetObjectItemCaseSensitive(sec, "balances") : NULL;
	const cJSON *pair;
	if (!list)
		return 0;
	if (!cJSON_IsArray(list)) {
		log_err("devchain", "genesis: Balances.balances must be an array");
		return ZE_CONFIG;
	}
	cJSON_ArrayForEach(pair, list)
	{
		const cJSON *who = cJSON_GetArrayItem(pair, 0), *amt = cJSON_GetArrayItem(pair, 1);
		uint8_t pk[32];
		dev_balance amount;
		if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(who) ||
		    parse_account(who->valuestring, pk) || parse_amount(amt, &amount)) {
			log_err("devchain", "genesis: bad Balances entry (want [account, amount])");
			return ZE_CONFIG;
		}
		int rc = dev_balance_endow(ctx, pk, amount);
		if (rc) {
			log_err("devchain", "genesis: cannot endow %s: %s", who->valuestring,
				DEV_IS_MODULE_ERR(rc) ? "below the existential deposit"
						      : zerr_str(rc));
			return DEV_IS_MODULE_ERR(rc) ? ZE_CONFIG : rc;
		}
	}
	return 0;
}

/* A misspelt section would silently leave a pallet at its defaults. */
static void warn_unknown(const cJSON *g)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, g)
	{
		int known = !strcmp(item->string, "name") || !strcmp(item->string, "Balances");
		for (size_t i = 0; i < dev_npallets && !known; i++)
			known = !strcmp(item->string, dev_pallets[i]->name);
		if (!known)
			log_warn("devchain", "genesis: unknown section \"%s\" ignored", item->string);
	}
}

int dev_genesis_apply(struct dev_ctx *ctx, const cJSON *g)
{
	warn_unknown(g);
	int rc = endow(ctx, cJSON_GetObjectItemCaseSensitive(g, "Balances"));
	for (size_t i = 0; i < dev_npallets && !rc; i++) {
		const struct dev_pallet *p = dev_pallets[i];
		if (!p->genesis)
			continue;
		dev_ctx_call_begin(ctx);
		rc = p->genesis(ctx, cJSON_GetObjectItemCaseSensitive(g, p->name));
		if (rc) {
			dev_ctx_call_rollback(ctx);
			log_err("devchain", "genesis: %s: %s", p->name,
				DEV_IS_MODULE_ERR(rc) ? "refused" : zerr_str(rc));
			return DEV_IS_MODULE_ERR(rc) ? ZE_CONFIG : rc;
		}
		rc = dev_ctx_call_commit(ctx);
	}
	return rc;
}
