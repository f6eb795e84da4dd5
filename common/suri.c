/*
 * Secret URIs as Substrate reads them: a phrase, a hex seed or nothing (the
 * public dev phrase), then hard (//) and soft (/) junctions, then ///password.
 * Junction chain codes and both schemes' derivations follow Substrate's
 * sp_core: ed25519 has hard junctions only ("Ed25519HDKD"), sr25519 both
 * (schnorrkel's HDKD, in common/sr25519.c).
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/bip39.h"
#include "common/hex.h"
#include "common/key.h"
#include "common/sr25519.h"
#include "common/zerr.h"

/* Substrate's public development phrase: //Alice and friends derive from it. */
static const char dev_phrase[] = "bottom drive obey lake curtain smoke basket hold race lonely "
				 "fit walk";

/* A junction's 32-byte chain code: a decimal u64 as 8 little-endian bytes,
 * anything else as a SCALE string (compact length ++ bytes); encodings
 * longer than 32 bytes are replaced by their blake2b-256. */
static int junction_code(const char *j, size_t n, uint8_t cc[32])
{
	uint8_t enc[4 + 1024];
	size_t len = 0;
	uint64_t v = 0;
	int numeric = n > 0;
	/* Rust's u64 parser, which Substrate uses, accepts one leading '+'. */
	size_t i = (n > 1 && j[0] == '+') ? 1 : 0;
	for (size_t d = i; d < n && numeric; d++) {
		if (j[d] < '0' || j[d] > '9' || v > (UINT64_MAX - (uint64_t)(j[d] - '0')) / 10)
			numeric = 0;
		else
			v = v * 10 + (uint64_t)(j[d] - '0');
	}
	memset(cc, 0, 32);
	if (numeric) {
		for (int b = 0; b < 8; b++)
			cc[b] = (uint8_t)(v >> (8 * b));
		return 0;
	}
	if (n > 1024)
		return ZE_MALFORMED;
	if (n < 64) {
		enc[len++] = (uint8_t)(n << 2);
	} else {
		enc[len++] = (uint8_t)((n << 2) | 1);
		enc[len++] = (uint8_t)(n >> 6);
	}
	memcpy(enc + len, j, n);
	len += n;
	if (len <= 32)
		memcpy(cc, enc, len);
	else if (crypto_generichash(cc, 32, enc, len, NULL, 0) != 0)
		return ZE_CRYPTO;
	return 0;
}

/* blake2b-256(SCALE("Ed25519HDKD") ++ seed ++ cc): SCALE of a tuple is the
 * concatenation, and the fixed arrays carry no length. */
static int ed25519_hard(const uint8_t seed[32], const uint8_t cc[32], uint8_t out[32])
{
	static const uint8_t tag[] = {11 << 2, 'E', 'd', '2', '5', '5',
				      '1',     '9', 'H', 'D', 'K', 'D'};
	crypto_generichash_state st;
	int rc = 0;
	if (crypto_generichash_init(&st, NULL, 0, 32) != 0 ||
	    crypto_generichash_update(&st, tag, sizeof tag) != 0 ||
	    crypto_generichash_update(&st, seed, 32) != 0 ||
	    crypto_generichash_update(&st, cc, 32) != 0 ||
	    crypto_generichash_final(&st, out, 32) != 0)
		rc = ZE_CRYPTO;
	sodium_memzero(&st, sizeof st);
	return rc;
}

/* Applies one junction to k in place. */
static int derive(struct zkey *k, int hard, const uint8_t cc[32])
{
	uint8_t seed[32], sk[64], pk[32];
	int rc;
	if (k->scheme == KEY_ED25519) {
		if (!hard)
			return -ENOTSUP;
		rc = ed25519_hard(k->seed, cc, seed);
		if (rc == 0)
			rc = key_from_seed(seed, k);
	} else if (hard) {
		/* A hard junction gives a new mini-secret: the key has a seed again. */
		rc = sr25519_derive_hard(k->sk, cc, seed);
		if (rc == 0)
			rc = key_from_seed_scheme(KEY_SR25519, seed, k);
	} else {
		rc = sr25519_derive_soft(k->sk, cc, sk, pk);
		if (rc == 0) {
			memcpy(k->sk, sk, 64);
			memcpy(k->pk, pk, 32);
			sodium_memzero(k->seed, sizeof k->seed);
			k->has_seed = 0;
		}
	}
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(sk, sizeof sk);
	return rc;
}

/* The root key of the URI's secret part (phrase, 0x seed or empty). */
static int root_key(const char *secret, size_t n, int scheme, const char *password, struct zkey *k)
{
	char phrase[BIP39_PHRASE_MAX + 64];
	uint8_t seed[32];
	int rc;
	while (n > 0 && secret[n - 1] == ' ')
		n--;
	while (n > 0 && secret[0] == ' ') {
		secret++;
		n--;
	}
	if (n >= 2 && secret[0] == '0' && (secret[1] == 'x' || secret[1] == 'X')) {
		/* Substrate ignores the password with a hex seed. */
		if (n != 66 || n >= sizeof phrase)
			return ZE_MALFORMED;
		memcpy(phrase, secret, n);
		phrase[n] = 0;
		rc = hex_decode_fixed(phrase, seed, 32);
		if (rc == 0)
			rc = key_from_seed_scheme(scheme, seed, k);
		sodium_memzero(phrase, sizeof phrase);
		sodium_memzero(seed, sizeof seed);
		return rc;
	}
	if (n == 0) {
		secret = dev_phrase;
		n = strlen(dev_phrase);
	}
	if (n >= sizeof phrase)
		return ZE_MALFORMED;
	memcpy(phrase, secret, n);
	phrase[n] = 0;
	rc = bip39_mini_secret(phrase, password, seed);
	if (rc == 0)
		rc = key_from_seed_scheme(scheme, seed, k);
	sodium_memzero(phrase, sizeof phrase);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

int key_from_suri(const char *suri, int scheme, const char *password, struct zkey *k)
{
	char pw[1025];
	uint8_t cc[32];
	int rc;

	if (!suri || !key_scheme_name(scheme))
		return -EINVAL;
	/* The secret part ends at the first '/'; the password starts at the
	 * first "///" (junctions cannot contain '/'). */
	const char *path = strchr(suri, '/');
	const char *end = path ? path : suri + strlen(suri);
	const char *pwd = path ? strstr(path, "///") : NULL;
	const char *path_end = pwd ? pwd : end + strlen(end);
	if (!password && pwd) {
		size_t pl = strlen(pwd + 3);
		if (pl >= sizeof pw)
			return ZE_TOOBIG;
		memcpy(pw, pwd + 3, pl + 1);
		password = pw;
	}
	/* The secret part: letters, digits and spaces only, as in Substrate. */
	for (const char *p = suri; p < end; p++)
		if (!(*p == ' ' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_')) {
			rc = ZE_MALFORMED;
			goto out;
		}
	rc = root_key(suri, (size_t)(end - suri), scheme, password, k);
	const char *p = end;
	while (rc == 0 && p < path_end) {
		/* p is at '/': "//" starts a hard junction, "/" a soft one. */
		int hard = p + 1 < path_end && p[1] == '/';
		const char *j = p + (hard ? 2 : 1);
		const char *je = j;
		while (je < path_end && *je != '/')
			je++;
		if (je == j) {
			rc = ZE_MALFORMED;
			break;
		}
		rc = junction_code(j, (size_t)(je - j), cc);
		if (rc == 0)
			rc = derive(k, hard, cc);
		p = je;
	}
	if (rc)
		key_wipe(k);
out:
	sodium_memzero(pw, sizeof pw);
	sodium_memzero(cc, sizeof cc);
	return rc;
}

int key_public_from_uri(const char *uri, int scheme, uint8_t pk[32])
{
	char acct[128];
	uint8_t cc[32], next[32];
	const char *path = strchr(uri, '/');
	size_t n = path ? (size_t)(path - uri) : strlen(uri);
	if (n >= sizeof acct)
		return ZE_MALFORMED;
	memcpy(acct, uri, n);
	acct[n] = 0;
	int rc = key_parse_account(acct, pk);
	if (rc || !path)
		return rc;
	/* Only soft junctions follow from a public key, and only sr25519 has them. */
	if (scheme != KEY_SR25519)
		return -ENOTSUP;
	for (const char *p = path; *p;) {
		if (p[1] == '/')
			return -ENOTSUP;
		const char *j = p + 1, *je = j;
		while (*je && *je != '/')
			je++;
		if (je == j)
			return ZE_MALFORMED;
		if ((rc = junction_code(j, (size_t)(je - j), cc)) ||
		    (rc = sr25519_derive_soft_public(pk, cc, next)))
			return rc;
		memcpy(pk, next, 32);
		p = je;
	}
	return 0;
}
