/*
 * Printing an account's public identity for operators and scripts.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/key.h"

#define INFO_FIELDS 5

int key_print_info(const uint8_t pk[32], const uint8_t *seed, int json, FILE *out)
{
	char pkhex[67], xhex[67], seedhex[67], addr[64];
	uint8_t xpk[32];
	int rc;

	if ((rc = hex_encode(pk, 32, 1, pkhex, sizeof pkhex)) != 0 ||
	    (rc = ss58_encode(pk, 42, addr, sizeof addr)) != 0 || (rc = key_x25519_pk(pk, xpk)) != 0 ||
	    (rc = hex_encode(xpk, 32, 1, xhex, sizeof xhex)) != 0)
		return rc;
	if (seed && (rc = hex_encode(seed, 32, 1, seedhex, sizeof seedhex)) != 0)
		return rc;

	const char *names[INFO_FIELDS] = {"account_id", "public_key", "ss58_address",
					  "x25519_public_key", "secret_seed"};
	const char *values[INFO_FIELDS] = {pkhex, pkhex, addr, xhex, seedhex};
	int n = seed ? INFO_FIELDS : INFO_FIELDS - 1;

	rc = 0;
	if (json) {
		cJSON *o = cJSON_CreateObject();
		for (int i = 0; o && i < n; i++)
			if (!cJSON_AddStringToObject(o, names[i], values[i])) {
				cJSON_Delete(o);
				o = NULL;
			}
		char *text = o ? cJSON_Print(o) : NULL;
		if (!text)
			rc = -ENOMEM;
		else if (fprintf(out, "%s\n", text) < 0)
			rc = -EIO;
		if (text) {
			sodium_memzero(text, strlen(text));
			free(text);
		}
		/* The tree holds a copy of the seed too. */
		if (o && seed) {
			cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "secret_seed");
			if (cJSON_IsString(s))
				sodium_memzero(s->valuestring, strlen(s->valuestring));
		}
		cJSON_Delete(o);
	} else {
		for (int i = 0; i < n && rc == 0; i++)
			if (fprintf(out, "%s: %s\n", names[i], values[i]) < 0)
				rc = -EIO;
	}
	sodium_memzero(seedhex, sizeof seedhex);
	if (rc == 0 && fflush(out) != 0)
		rc = -EIO;
	return rc;
}
