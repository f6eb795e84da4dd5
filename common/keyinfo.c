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

#define INFO_MAX 7

/* Prints the fields; with_scheme adds the "scheme" line (zos-cli), which
 * `zos-agent identity` leaves out. */
static int print_info(int scheme, int with_scheme, const uint8_t pk[32], const uint8_t *seed,
		      const char *phrase, int json, FILE *out)
{
	char pkhex[67], xhex[67], seedhex[67], addr[64];
	const char *names[INFO_MAX], *values[INFO_MAX];
	const char *sname = key_scheme_name(scheme);
	uint8_t xpk[32];
	int n = 0, rc;

	if (!sname && scheme != KEY_SCHEME_UNKNOWN)
		return -EINVAL;
	if ((rc = hex_encode(pk, 32, 1, pkhex, sizeof pkhex)) != 0 ||
	    (rc = ss58_encode(pk, 42, addr, sizeof addr)) != 0)
		return rc;
	if (with_scheme && sname) {
		names[n] = "scheme";
		values[n++] = sname;
	}
	names[n] = "account_id";
	values[n++] = pkhex;
	names[n] = "public_key";
	values[n++] = pkhex;
	names[n] = "ss58_address";
	values[n++] = addr;
	/* Only an ed25519 key converts to x25519 (an sr25519 twin registers a
	 * separate x25519 key instead). */
	if (scheme == KEY_ED25519) {
		if ((rc = key_x25519_pk(pk, xpk)) != 0 ||
		    (rc = hex_encode(xpk, 32, 1, xhex, sizeof xhex)) != 0)
			return rc;
		names[n] = "x25519_public_key";
		values[n++] = xhex;
	} else if (scheme == KEY_SCHEME_UNKNOWN && key_x25519_pk(pk, xpk) == 0 &&
		   hex_encode(xpk, 32, 1, xhex, sizeof xhex) == 0) {
		/* An account of unknown scheme: its x25519 form if it were ed25519. */
		names[n] = "x25519_public_key";
		values[n++] = xhex;
	}
	if (seed) {
		if ((rc = hex_encode(seed, 32, 1, seedhex, sizeof seedhex)) != 0)
			return rc;
		names[n] = "secret_seed";
		values[n++] = seedhex;
	}
	if (phrase) {
		names[n] = "secret_phrase";
		values[n++] = phrase;
	}

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
		/* The tree holds copies of the secrets too. */
		const char *secret_names[2] = {"secret_seed", "secret_phrase"};
		for (int i = 0; o && i < 2; i++) {
			cJSON *s = cJSON_GetObjectItemCaseSensitive(o, secret_names[i]);
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

int key_print_info(const uint8_t pk[32], const uint8_t *seed, int json, FILE *out)
{
	return print_info(KEY_ED25519, 0, pk, seed, NULL, json, out);
}

int key_print_info_scheme(int scheme, const uint8_t pk[32], const uint8_t *seed, const char *phrase,
			  int json, FILE *out)
{
	return print_info(scheme, 1, pk, seed, phrase, json, out);
}
