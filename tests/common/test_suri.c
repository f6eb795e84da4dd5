/* Unit tests of common/bip39 and common/suri: the word list, phrases,
 * Substrate's mini-secret and secret URIs of both schemes, and key files
 * holding a phrase. The public keys were computed by polkadot.js
 * (@polkadot/keyring 13.5.9) and agree with Substrate's well-known dev
 * accounts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bip39.h"
#include "common/hex.h"
#include "common/key.h"
#include "common/seal.h"
#include "common/zerr.h"

#define DEV "bottom drive obey lake curtain smoke basket hold race lonely fit walk"

static void wordlist_is_bip39_english(void **state)
{
	crypto_hash_sha256_state st;
	uint8_t h[32], want[32];
	crypto_hash_sha256_init(&st);
	for (int i = 0; i < BIP39_WORDS; i++) {
		crypto_hash_sha256_update(&st, (const uint8_t *)bip39_english[i],
					  strlen(bip39_english[i]));
		crypto_hash_sha256_update(&st, (const uint8_t *)"\n", 1);
	}
	crypto_hash_sha256_final(&st, h);
	hex_decode_fixed("2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda", want,
			 32);
	assert_memory_equal(h, want, 32);
}

static void phrases_and_entropy(void **state)
{
	uint8_t ent[32] = {0}, back[32];
	char phrase[BIP39_PHRASE_MAX];
	size_t n;
	/* BIP-0039's first test vector: zero entropy. */
	assert_int_equal(bip39_phrase(ent, 16, phrase, sizeof phrase), 0);
	assert_string_equal(phrase, "abandon abandon abandon abandon abandon abandon abandon "
				    "abandon abandon abandon abandon about");
	for (size_t len = 16; len <= 32; len += 4) {
		randombytes_buf(ent, len);
		assert_int_equal(bip39_phrase(ent, len, phrase, sizeof phrase), 0);
		assert_int_equal(bip39_entropy(phrase, back, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(ent, back, len);
	}
	/* A wrong checksum word, an unknown word, a wrong count, upper case. */
	assert_int_equal(bip39_entropy("abandon abandon abandon abandon abandon abandon abandon "
				       "abandon abandon abandon abandon abandon",
				       back, &n),
			 ZE_MALFORMED);
	assert_int_equal(bip39_entropy("bottom drive obey lake curtain smoke basket hold race "
				       "lonely fit walkx",
				       back, &n),
			 ZE_MALFORMED);
	assert_int_equal(bip39_entropy("bottom drive obey", back, &n), ZE_MALFORMED);
	assert_int_equal(bip39_entropy("Bottom drive obey lake curtain smoke basket hold race "
				       "lonely fit walk",
				       back, &n),
			 ZE_MALFORMED);
	/* Extra whitespace between words is accepted. */
	assert_int_equal(bip39_entropy("  bottom drive obey lake curtain smoke basket hold race "
				       "lonely  fit\twalk ",
				       back, &n),
			 0);
}

struct vector {
	const char *suri;
	int scheme;
	const char *pk;
};

static const struct vector vectors[] = {
    {"//Alice", KEY_SR25519, "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"},
    {"//Alice", KEY_ED25519, "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee"},
    {DEV "//Alice", KEY_SR25519,
     "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"},
    {"//Alice//stash", KEY_SR25519,
     "be5ddb1579b72e84524fc29e78609e3caf42e85aa118ebfe0b0ad404b5bdd25f"},
    {"//Alice//stash", KEY_ED25519,
     "451781cd0c5504504f69ceec484cc66e4c22a2b6a9d20fb1a426d91ad074a2a8"},
    {"//Alice/soft", KEY_SR25519,
     "02cfd83074aefc9955af4034d19b3780d47a52e158ababec8ec012b2295f1c5b"},
    {"//Alice/1/2//3", KEY_SR25519,
     "a202869795de5d8e6630284ff4f0b7e092f6623fbcf632cc4e161451618b4736"},
    {DEV "///pw", KEY_SR25519, "f059637e84952f13fb7cdc6a646b09692f9bc23cc17eea2055b62ecc478f0e13"},
    {DEV "///pw", KEY_ED25519, "232e40fb55f2f77a66ae62c0522c37bbee84dbae0d7a172e47c1cfcad00535cc"},
    /* A junction longer than 32 encoded bytes is hashed into its chain code. */
    {"//aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", KEY_SR25519,
     "f664e39a1662f83fcfed934f1e2b70b46d59e011e7e2136cab24c7df8806a00f"},
    {"//aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", KEY_ED25519,
     "eda47a9ed517ae7e410310b130170cedaca329574b8adc2f64d507c32d5a69c2"},
};

static void suri_vectors(void **state)
{
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		struct zkey k;
		uint8_t want[32];
		print_message("%s %s\n", key_scheme_name(vectors[i].scheme), vectors[i].suri);
		assert_int_equal(key_from_suri(vectors[i].suri, vectors[i].scheme, NULL, &k), 0);
		assert_int_equal(hex_decode_fixed(vectors[i].pk, want, 32), 0);
		assert_memory_equal(k.pk, want, 32);
		assert_int_equal(k.scheme, vectors[i].scheme);
		/* The key signs, and its signature verifies under its scheme only. */
		uint8_t sig[64];
		assert_int_equal(key_sign(&k, (const uint8_t *)"m", 1, sig), 0);
		assert_int_equal(key_verify_scheme(k.scheme, k.pk, (const uint8_t *)"m", 1, sig),
				 0);
		assert_int_equal(key_verify_scheme(!k.scheme, k.pk, (const uint8_t *)"m", 1, sig),
				 ZE_CRYPTO);
		key_wipe(&k);
	}
}

static void suri_forms_and_errors(void **state)
{
	struct zkey a, b;
	/* The password argument overrides the URI's. */
	assert_int_equal(key_from_suri(DEV "///other", KEY_SR25519, "pw", &a), 0);
	assert_int_equal(key_from_suri(DEV "///pw", KEY_SR25519, NULL, &b), 0);
	assert_memory_equal(a.pk, b.pk, 32);
	/* A hex seed is the mini-secret itself; its derivations work too. */
	char hex[67];
	assert_int_equal(key_from_suri(DEV, KEY_SR25519, NULL, &a), 0);
	assert_true(a.has_seed);
	hex_encode(a.seed, 32, 1, hex, sizeof hex);
	assert_int_equal(key_from_suri(hex, KEY_SR25519, NULL, &b), 0);
	assert_memory_equal(a.pk, b.pk, 32);
	char uri[100];
	snprintf(uri, sizeof uri, "%s//Alice", hex);
	assert_int_equal(key_from_suri(uri, KEY_SR25519, NULL, &b), 0);
	assert_int_equal(key_from_suri("//Alice", KEY_SR25519, NULL, &a), 0);
	assert_memory_equal(a.pk, b.pk, 32);
	/* A soft junction leaves no seed. */
	assert_int_equal(key_from_suri("//Alice/x", KEY_SR25519, NULL, &a), 0);
	assert_false(a.has_seed);
	/* Soft junctions follow from the public key alone; hard ones do not. */
	uint8_t pub[32];
	assert_int_equal(key_public_from_uri("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY/x",
					     KEY_SR25519, pub),
			 0);
	assert_memory_equal(pub, a.pk, 32);
	assert_int_equal(key_public_from_uri("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY//x",
					     KEY_SR25519, pub),
			 -ENOTSUP);
	assert_int_equal(key_public_from_uri("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY/x",
					     KEY_ED25519, pub),
			 -ENOTSUP);
	/* ed25519 has no soft derivation. */
	assert_int_equal(key_from_suri("//Alice/soft", KEY_ED25519, NULL, &a), -ENOTSUP);
	assert_int_equal(key_from_suri("bottom drive obey", KEY_SR25519, NULL, &a), ZE_MALFORMED);
	assert_int_equal(key_from_suri("0x1234", KEY_SR25519, NULL, &a), ZE_MALFORMED);
	assert_int_equal(key_from_suri("//Alice//", KEY_SR25519, NULL, &a), ZE_MALFORMED);
	assert_int_equal(key_from_suri("bottom-drive", KEY_SR25519, NULL, &a), ZE_MALFORMED);
	assert_int_equal(key_from_suri("//Alice", 7, NULL, &a), -EINVAL);
	key_wipe(&a);
	key_wipe(&b);
}

static void key_files_hold_phrases(void **state)
{
	char dir[] = "/tmp/zos-test-suri.XXXXXX", path[64];
	struct zkey k, want;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/phrase", dir);
	assert_int_equal(key_secret_file_write(path, DEV "//Alice"), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(key_secret_file_write(path, "x"), -EEXIST);
	assert_int_equal(key_file_load(path, KEY_SR25519, NULL, &k), 0);
	assert_int_equal(key_from_suri("//Alice", KEY_SR25519, NULL, &want), 0);
	assert_memory_equal(k.pk, want.pk, 32);
	/* A hex seed file (as key_seed_file_create writes it) loads for either scheme. */
	char seedhex[65];
	hex_encode(want.seed, 32, 0, seedhex, sizeof seedhex);
	snprintf(path, sizeof path, "%s/seed", dir);
	assert_int_equal(key_secret_file_write(path, seedhex), 0);
	assert_int_equal(key_file_load(path, KEY_SR25519, NULL, &k), 0);
	assert_memory_equal(k.pk, want.pk, 32);
	/* Readable by others: refused, as seed files are. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(key_file_load(path, KEY_SR25519, NULL, &k), -EPERM);
	unlink(path);
	snprintf(path, sizeof path, "%s/phrase", dir);
	unlink(path);
	rmdir(dir);
	key_wipe(&k);
	key_wipe(&want);
}

static void generated_phrases_load(void **state)
{
	char phrase[BIP39_PHRASE_MAX];
	struct zkey k;
	for (int words = 12; words <= 24; words += 3) {
		assert_int_equal(key_generate_phrase(words, phrase, sizeof phrase), 0);
		int spaces = 0;
		for (char *p = phrase; *p; p++)
			spaces += *p == ' ';
		assert_int_equal(spaces, words - 1);
		assert_int_equal(key_from_suri(phrase, KEY_SR25519, NULL, &k), 0);
	}
	assert_int_equal(key_generate_phrase(13, phrase, sizeof phrase), -EINVAL);
	key_wipe(&k);
}

/* An sr25519 account's x25519 key is derived from its secret: the same on
 * every load, the phrase alone recovers it, and a deployment sealed with it
 * opens with its public half (the twin's pk) on the node's side. */
static void sr25519_x25519_seals(void **state)
{
	struct zkey user, again, node;
	uint8_t xpk[32], xpk2[32], xsk[32], node_x[32], node_xsk[32], *box, *pt;
	size_t boxlen, ptlen;
	assert_int_equal(key_from_suri("//Alice/soft", KEY_SR25519, NULL, &user), 0);
	assert_int_equal(key_from_suri("//Alice/soft", KEY_SR25519, NULL, &again), 0);
	assert_int_equal(key_x25519_pk_of(&user, xpk), 0);
	assert_int_equal(key_x25519_pk_of(&again, xpk2), 0);
	assert_memory_equal(xpk, xpk2, 32);
	/* Not the "conversion" of the account id, which has no meaning here. */
	assert_memory_not_equal(xpk, user.pk, 32);
	assert_int_equal(key_from_suri("//Bob", KEY_ED25519, NULL, &node), 0);
	assert_int_equal(key_x25519_pk_of(&node, node_x), 0);
	assert_int_equal(key_x25519_sk(&node, node_xsk), 0);
	assert_int_equal(key_x25519_sk(&user, xsk), 0);
	assert_int_equal(seal_box((const uint8_t *)"{}", 2, node_x, xsk, 0, &box, &boxlen), 0);
	assert_int_equal(seal_open(box, boxlen, xpk, node_xsk, 0, &pt, &ptlen), 0);
	assert_int_equal(ptlen, 2);
	seal_free(pt, ptlen);
	free(box);
	key_wipe(&user);
	key_wipe(&again);
	key_wipe(&node);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wordlist_is_bip39_english),
		cmocka_unit_test(phrases_and_entropy),
		cmocka_unit_test(suri_vectors),
		cmocka_unit_test(suri_forms_and_errors),
		cmocka_unit_test(key_files_hold_phrases),
		cmocka_unit_test(generated_phrases_load),
		cmocka_unit_test(sr25519_x25519_seals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
