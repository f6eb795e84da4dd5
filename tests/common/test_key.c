/* Unit tests of common/key.c and common/ss58.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/key.h"
#include "common/zerr.h"

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
	char s[200];
	assert_int_equal(hex_encode(p, n, 0, s, sizeof s), 0);
	assert_string_equal(s, want);
}

/* RFC 8032 section 7.1, test 1 (empty message) and test 2 (one byte). */
static void rfc8032_vectors(void **st)
{
	uint8_t seed[32], sig[64];
	struct zkey k;
	assert_int_equal(hex_decode_fixed("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
					  seed, 32), 0);
	assert_int_equal(key_from_seed(seed, &k), 0);
	assert_hex(k.pk, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
	assert_int_equal(key_sign(&k, (const uint8_t *)"", 0, sig), 0);
	assert_hex(sig, 64,
		   "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
		   "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
	assert_int_equal(key_verify(k.pk, (const uint8_t *)"", 0, sig), 0);
	sig[0] ^= 1;
	assert_int_equal(key_verify(k.pk, (const uint8_t *)"", 0, sig), ZE_CRYPTO);
	key_wipe(&k);

	uint8_t msg = 0x72;
	assert_int_equal(hex_decode_fixed("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
					  seed, 32), 0);
	assert_int_equal(key_from_seed(seed, &k), 0);
	assert_hex(k.pk, 32, "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
	assert_int_equal(key_sign(&k, &msg, 1, sig), 0);
	assert_hex(sig, 64,
		   "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
		   "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
	key_wipe(&k);
	uint8_t zero[sizeof k] = {0};
	assert_memory_equal(&k, zero, sizeof k);
}

static void dev_alice(void **st)
{
	struct zkey k;
	char addr[64];
	assert_int_equal(key_dev("alice", &k), 0);
	assert_hex(k.seed, 32, "abf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115");
	assert_hex(k.pk, 32, "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee");
	assert_int_equal(ss58_encode(k.pk, 42, addr, sizeof addr), 0);
	assert_string_equal(addr, "5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu");

	struct zkey k2;
	assert_int_equal(key_dev("//Alice", &k2), 0);
	assert_memory_equal(k.sk, k2.sk, 64);
	assert_int_equal(key_dev("ALICE", &k2), 0);
	assert_memory_equal(k.sk, k2.sk, 64);
	key_wipe(&k);
	key_wipe(&k2);
}

static void dev_others(void **st)
{
	/* ed25519 dev accounts as `subkey inspect --scheme ed25519 //Bob` prints them. */
	struct zkey k;
	char addr[64];
	assert_int_equal(key_dev("bob", &k), 0);
	assert_hex(k.seed, 32, "3b7b60af2abcd57ba401ab398f84f4ca54bd6b2140d2503fbcf3286535fe3ff1");
	assert_hex(k.pk, 32, "d17c2d7823ebf260fd138f2d7e27d114c0145d968b5ff5006125f2414fadae69");
	assert_int_equal(ss58_encode(k.pk, 42, addr, sizeof addr), 0);
	assert_string_equal(addr, "5GoNkf6WdbxCFnPdAnYYQyCjAKPJgLNxXwPjwTh6DGg6gN3E");

	const char *names[] = {"alice", "bob", "charlie", "dave", "eve", "ferdie"};
	uint8_t pks[6][32];
	for (int i = 0; i < 6; i++) {
		assert_int_equal(key_dev(names[i], &k), 0);
		memcpy(pks[i], k.pk, 32);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(pks[i], pks[j], 32);
	}
	assert_int_equal(key_dev("mallory", &k), -ENOENT);
	assert_int_equal(key_dev("", &k), -ENOENT);
	assert_int_equal(key_dev(NULL, &k), -EINVAL);
	key_wipe(&k);
}

static void ss58_round_trip_and_errors(void **st)
{
	uint8_t pk[32], pk2[32], prefix = 0;
	char addr[64];
	assert_int_equal(ss58_decode("5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu", pk, &prefix), 0);
	assert_int_equal(prefix, 42);
	assert_hex(pk, 32, "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee");
	/* A changed character breaks the checksum. */
	assert_int_equal(ss58_decode("5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpv", pk2, NULL),
			 ZE_MALFORMED);
	assert_int_equal(ss58_decode("5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTp0", pk2, NULL),
			 ZE_MALFORMED);
	assert_int_equal(ss58_decode("5FA9nQ", pk2, NULL), ZE_MALFORMED);
	assert_int_equal(ss58_decode("", pk2, NULL), ZE_MALFORMED);

	/* Edge keys: all zero (leading zero bytes after the prefix) and all 0xff. */
	for (int fill = 0; fill < 256; fill += 255) {
		memset(pk, fill, 32);
		for (uint8_t p = 0; p < 64; p += 21) {
			assert_int_equal(ss58_encode(pk, p, addr, sizeof addr), 0);
			assert_int_equal(ss58_decode(addr, pk2, &prefix), 0);
			assert_int_equal(prefix, p);
			assert_memory_equal(pk, pk2, 32);
		}
	}
	assert_int_equal(ss58_encode(pk, 64, addr, sizeof addr), -EINVAL);
	assert_int_equal(ss58_encode(pk, 42, addr, 10), -ENOSPC);

	assert_int_equal(key_parse_account("5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu", pk), 0);
	assert_int_equal(key_parse_account("0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee",
					   pk2), 0);
	assert_memory_equal(pk, pk2, 32);
	assert_int_equal(key_parse_account("0x88dc", pk2), ZE_MALFORMED);
}

static void x25519_conversion_agrees(void **st)
{
	struct zkey k;
	uint8_t xpk[32], xsk[32], derived[32];
	assert_int_equal(key_dev("alice", &k), 0);
	assert_int_equal(key_x25519_pk(k.pk, xpk), 0);
	assert_int_equal(key_x25519_sk(&k, xsk), 0);
	crypto_scalarmult_base(derived, xsk);
	assert_memory_equal(derived, xpk, 32);
	sodium_memzero(xsk, sizeof xsk);
	key_wipe(&k);
}

static void info_text_and_json(void **st)
{
	struct zkey k;
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(key_dev("alice", &k), 0);
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(key_print_info(k.pk, NULL, 0, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "account_id: 0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee\n"));
	assert_non_null(strstr(text, "ss58_address: 5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu\n"));
	assert_non_null(strstr(text, "x25519_public_key: 0x"));
	assert_null(strstr(text, "secret_seed"));
	free(text);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(key_print_info(k.pk, k.seed, 1, f), 0);
	fclose(f);
	assert_non_null(strstr(text, "\"ss58_address\":\t\"5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu\""));
	assert_non_null(
		strstr(text, "\"secret_seed\":\t\"0xabf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115\""));
	free(text);
	key_wipe(&k);
}

static char tmpdir[64];

static int make_tmpdir(void **st)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_key.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **st)
{
	char p[128];
	snprintf(p, sizeof p, "%s/seed", tmpdir);
	unlink(p);
	return rmdir(tmpdir);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void seed_file_lifecycle(void **st)
{
	char path[128];
	struct zkey k, k2;
	struct stat sb;
	int created = -1;
	snprintf(path, sizeof path, "%s/seed", tmpdir);
	unlink(path);

	assert_int_equal(key_seed_file_load(path, &k), -ENOENT);
	assert_int_equal(key_load_or_create(path, &k, &created), 0);
	assert_int_equal(created, 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(key_load_or_create(path, &k2, &created), 0);
	assert_int_equal(created, 0);
	assert_memory_equal(k.sk, k2.sk, 64);
	assert_int_equal(key_seed_file_create(path, &k2), -EEXIST);

	/* Group- or world-readable seed files are refused. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(key_seed_file_load(path, &k2), -EPERM);
	assert_int_equal(key_load_or_create(path, &k2, &created), -EPERM);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(key_seed_file_load(path, &k2), -EPERM);
	key_wipe(&k);
	key_wipe(&k2);
}

static void seed_file_formats(void **st)
{
	char path[128];
	struct zkey k;
	snprintf(path, sizeof path, "%s/seed", tmpdir);

	write_file(path, "  0xabf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115\n", 0600);
	assert_int_equal(key_seed_file_load(path, &k), 0);
	assert_hex(k.pk, 32, "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee");
	key_wipe(&k);

	write_file(path, "abf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a769091\n", 0600);
	assert_int_equal(key_seed_file_load(path, &k), ZE_MALFORMED);
	write_file(path, "", 0400);
	assert_int_equal(key_seed_file_load(path, &k), ZE_MALFORMED);
	char big[400];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	write_file(path, big, 0600);
	assert_int_equal(key_seed_file_load(path, &k), ZE_MALFORMED);
	assert_int_equal(key_seed_file_load(tmpdir, &k), -EINVAL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc8032_vectors),
		cmocka_unit_test(dev_alice),
		cmocka_unit_test(dev_others),
		cmocka_unit_test(ss58_round_trip_and_errors),
		cmocka_unit_test(x25519_conversion_agrees),
		cmocka_unit_test(info_text_and_json),
		cmocka_unit_test(seed_file_lifecycle),
		cmocka_unit_test(seed_file_formats),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
