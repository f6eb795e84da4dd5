/*
 * ed25519 account keys: seeds, Substrate dev accounts, seed files, x25519.
 */
#include "common/key.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/zerr.h"

/*
 * The mini-secret of Substrate's public dev phrase "bottom drive obey lake
 * curtain smoke basket hold race lonely fit walk": the first 32 bytes of
 * PBKDF2-HMAC-SHA512(BIP39 entropy, "mnemonic", 2048). It is public; keeping
 * the constant spares us a BIP39 wordlist. The unit tests check that //Alice
 * derived from it is the well-known ed25519 Alice seed.
 */
static const uint8_t dev_phrase_seed[32] = {
	0xfa, 0xc7, 0x95, 0x9d, 0xbf, 0xe7, 0x2f, 0x05, 0x2e, 0x5a, 0x0c,
	0x3c, 0x8d, 0x65, 0x30, 0xf2, 0x02, 0xb0, 0x2f, 0xd8, 0xf9, 0xf5,
	0xca, 0x35, 0x80, 0xec, 0x8d, 0xeb, 0x77, 0x97, 0x47, 0x9e,
};

static const char *const dev_names[] = {"Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"};

/* A seed file holds 64 hex digits plus optional 0x and whitespace. */
#define SEED_FILE_MAX 256

int key_from_seed(const uint8_t seed[32], struct zkey *k)
{
	memcpy(k->seed, seed, 32);
	if (crypto_sign_seed_keypair(k->pk, k->sk, k->seed) != 0) {
		key_wipe(k);
		return ZE_CRYPTO;
	}
	return 0;
}

int key_generate(struct zkey *k)
{
	uint8_t seed[32];
	/* Idempotent and thread-safe; the RNG must be initialised before use. */
	if (sodium_init() < 0)
		return ZE_CRYPTO;
	randombytes_buf(seed, sizeof seed);
	int rc = key_from_seed(seed, k);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

/*
 * Substrate's ed25519 hard junction: the chain code is the SCALE encoding of
 * the junction (here a short string: compact length, then the bytes) padded
 * with zeros to 32 bytes, and the derived seed is
 * blake2b-256(SCALE("Ed25519HDKD") ++ seed ++ chaincode).
 */
static int hard_derive(const uint8_t seed[32], const char *junction, uint8_t out[32])
{
	static const uint8_t tag[] = {11 << 2, 'E', 'd', '2', '5', '5', '1', '9', 'H', 'D', 'K', 'D'};
	uint8_t cc[32] = {0};
	size_t n = strlen(junction);
	/* Substrate hashes longer junctions into the chain code; dev names are short. */
	if (n > 31)
		return -EINVAL;
	cc[0] = (uint8_t)(n << 2);
	memcpy(cc + 1, junction, n);
	crypto_generichash_state st;
	if (crypto_generichash_init(&st, NULL, 0, 32) != 0 ||
	    crypto_generichash_update(&st, tag, sizeof tag) != 0 ||
	    crypto_generichash_update(&st, seed, 32) != 0 ||
	    crypto_generichash_update(&st, cc, sizeof cc) != 0 ||
	    crypto_generichash_final(&st, out, 32) != 0) {
		sodium_memzero(&st, sizeof st);
		return ZE_CRYPTO;
	}
	sodium_memzero(&st, sizeof st);
	return 0;
}

int key_dev(const char *name, struct zkey *k)
{
	if (!name)
		return -EINVAL;
	if (name[0] == '/' && name[1] == '/')
		name += 2;
	for (size_t i = 0; i < sizeof dev_names / sizeof dev_names[0]; i++) {
		if (strcasecmp(name, dev_names[i]) != 0)
			continue;
		uint8_t seed[32];
		int rc = hard_derive(dev_phrase_seed, dev_names[i], seed);
		if (rc == 0)
			rc = key_from_seed(seed, k);
		sodium_memzero(seed, sizeof seed);
		return rc;
	}
	return -ENOENT;
}

/* Parses the text of a seed file: optional 0x, 64 hex digits, whitespace. */
static int parse_seed_text(char *text, size_t n, uint8_t seed[32])
{
	while (n > 0 && isspace((unsigned char)text[n - 1]))
		text[--n] = 0;
	char *s = text;
	while (*s && isspace((unsigned char)*s))
		s++;
	return hex_decode_fixed(s, seed, 32);
}

int key_seed_file_load(const char *path, struct zkey *k)
{
	char text[SEED_FILE_MAX + 1];
	uint8_t seed[32];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int rc;

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = -EPERM;
		goto out;
	}
	while (got < SEED_FILE_MAX && (n = read(fd, text + got, SEED_FILE_MAX - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		got += (size_t)n;
	}
	text[got] = 0;
	/* A file at the cap may hold more: not a seed file. */
	if (got == SEED_FILE_MAX || memchr(text, 0, got)) {
		rc = ZE_MALFORMED;
		goto out;
	}
	rc = parse_seed_text(text, got, seed);
	if (rc == 0)
		rc = key_from_seed(seed, k);
out:
	sodium_memzero(text, sizeof text);
	sodium_memzero(seed, sizeof seed);
	close(fd);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Makes the new directory entry durable: the seed is the node's identity,
 * and a crash must not lose it after the node has started using it. */
static int fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(dir, sizeof dir, ".");
	} else if (slash == path) {
		snprintf(dir, sizeof dir, "/");
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= sizeof dir)
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = 0;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

int key_seed_file_create(const char *path, struct zkey *k)
{
	char text[67];
	int rc = key_generate(k);
	if (rc)
		return rc;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		key_wipe(k);
		return rc;
	}
	/* The umask may only remove bits, but be explicit about the mode. */
	rc = fchmod(fd, 0600) != 0 ? -errno : 0;
	if (rc == 0)
		rc = hex_encode(k->seed, 32, 0, text, sizeof text - 1);
	if (rc == 0) {
		text[64] = '\n';
		text[65] = 0;
		rc = write_all(fd, text, 65);
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_parent(path);
	sodium_memzero(text, sizeof text);
	if (rc) {
		unlink(path);
		key_wipe(k);
	}
	return rc;
}

int key_load_or_create(const char *path, struct zkey *k, int *created)
{
	*created = 0;
	int rc = key_seed_file_load(path, k);
	if (rc != -ENOENT)
		return rc;
	rc = key_seed_file_create(path, k);
	if (rc == -EEXIST) /* another process created it meanwhile */
		return key_seed_file_load(path, k);
	if (rc == 0)
		*created = 1;
	return rc;
}

void key_wipe(struct zkey *k)
{
	sodium_memzero(k, sizeof *k);
}

int key_sign(const struct zkey *k, const uint8_t *msg, size_t n, uint8_t sig[64])
{
	return crypto_sign_detached(sig, NULL, msg, n, k->sk) == 0 ? 0 : ZE_CRYPTO;
}

int key_verify(const uint8_t pk[32], const uint8_t *msg, size_t n, const uint8_t sig[64])
{
	return crypto_sign_verify_detached(sig, msg, n, pk) == 0 ? 0 : ZE_CRYPTO;
}

int key_x25519_pk(const uint8_t ed_pk[32], uint8_t out[32])
{
	return crypto_sign_ed25519_pk_to_curve25519(out, ed_pk) == 0 ? 0 : ZE_CRYPTO;
}

int key_x25519_sk(const struct zkey *k, uint8_t out[32])
{
	return crypto_sign_ed25519_sk_to_curve25519(out, k->sk) == 0 ? 0 : ZE_CRYPTO;
}
