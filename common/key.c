/*
 * Account keys: seeds of either scheme, Substrate dev accounts, key files,
 * signing, x25519.
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

#include "common/bip39.h"
#include "common/hex.h"
#include "common/sr25519.h"
#include "common/zerr.h"

static const char *const dev_names[] = {"Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"};

/* A key file holds a hex seed or a phrase with an optional path: 24 words
 * take at most 216 bytes, so 1 KiB leaves room for paths and a password. */
#define SEED_FILE_MAX 1024

const char *key_scheme_name(int scheme)
{
	return scheme == KEY_ED25519 ? "ed25519" : scheme == KEY_SR25519 ? "sr25519" : NULL;
}

int key_scheme_parse(const char *s, int *scheme)
{
	if (s && strcmp(s, "ed25519") == 0)
		*scheme = KEY_ED25519;
	else if (s && strcmp(s, "sr25519") == 0)
		*scheme = KEY_SR25519;
	else
		return -EINVAL;
	return 0;
}

int key_from_seed(const uint8_t seed[32], struct zkey *k)
{
	memset(k, 0, sizeof *k);
	memcpy(k->seed, seed, 32);
	if (crypto_sign_seed_keypair(k->pk, k->sk, k->seed) != 0) {
		key_wipe(k);
		return ZE_CRYPTO;
	}
	k->scheme = KEY_ED25519;
	k->has_seed = 1;
	return 0;
}

int key_from_seed_scheme(int scheme, const uint8_t seed[32], struct zkey *k)
{
	if (scheme == KEY_ED25519)
		return key_from_seed(seed, k);
	if (scheme != KEY_SR25519)
		return -EINVAL;
	memset(k, 0, sizeof *k);
	memcpy(k->seed, seed, 32);
	k->scheme = KEY_SR25519;
	k->has_seed = 1;
	return sr25519_from_mini(seed, k->sk, k->pk);
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

int key_generate_phrase(int words, char *phrase, size_t phrase_sz)
{
	uint8_t ent[32];
	if (words < 12 || words > 24 || words % 3 != 0)
		return -EINVAL;
	if (sodium_init() < 0)
		return ZE_CRYPTO;
	size_t n = (size_t)words * 4 / 3; /* 11 bits a word, 1 in 33 is checksum */
	randombytes_buf(ent, n);
	int rc = bip39_phrase(ent, n, phrase, phrase_sz);
	sodium_memzero(ent, sizeof ent);
	return rc;
}

int key_dev(const char *name, struct zkey *k)
{
	return key_dev_scheme(name, KEY_ED25519, k);
}

int key_dev_scheme(const char *name, int scheme, struct zkey *k)
{
	char suri[16];
	if (!name)
		return -EINVAL;
	if (name[0] == '/' && name[1] == '/')
		name += 2;
	for (size_t i = 0; i < sizeof dev_names / sizeof dev_names[0]; i++) {
		if (strcasecmp(name, dev_names[i]) != 0)
			continue;
		snprintf(suri, sizeof suri, "//%s", dev_names[i]);
		return key_from_suri(suri, scheme, NULL, k);
	}
	return -ENOENT;
}

/* Reads a secret file of at most SEED_FILE_MAX bytes into text (NUL
 * terminated, surrounding whitespace removed), refusing files others can
 * read. The caller wipes text. */
static int read_secret_file(const char *path, char text[SEED_FILE_MAX + 1])
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int rc = 0;

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
	/* A file at the cap may hold more: not a key file. */
	if (got == SEED_FILE_MAX || memchr(text, 0, got)) {
		rc = ZE_MALFORMED;
		goto out;
	}
	while (got > 0 && isspace((unsigned char)text[got - 1]))
		text[--got] = 0;
	size_t lead = 0;
	while (lead < got && isspace((unsigned char)text[lead]))
		lead++;
	memmove(text, text + lead, got - lead + 1);
out:
	close(fd);
	return rc;
}

int key_seed_file_load(const char *path, struct zkey *k)
{
	char text[SEED_FILE_MAX + 1];
	uint8_t seed[32];
	int rc = read_secret_file(path, text);
	if (rc == 0)
		rc = hex_decode_fixed(text, seed, 32);
	if (rc == 0)
		rc = key_from_seed(seed, k);
	sodium_memzero(text, sizeof text);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

int key_file_load(const char *path, int scheme, const char *password, struct zkey *k)
{
	char text[SEED_FILE_MAX + 1];
	int rc = read_secret_file(path, text);
	if (rc == 0) {
		/* A phrase spread over lines is still one phrase. */
		for (char *p = text; *p; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
		/* A bare 64-digit seed without 0x, as key_seed_file_create writes it. */
		uint8_t seed[32];
		if (strlen(text) == 64 && hex_decode_fixed(text, seed, 32) == 0)
			rc = key_from_seed_scheme(scheme, seed, k);
		else
			rc = key_from_suri(text, scheme, password, k);
		sodium_memzero(seed, sizeof seed);
	}
	sodium_memzero(text, sizeof text);
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

int key_secret_file_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int rc = fchmod(fd, 0600) != 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, text, strlen(text));
	if (rc == 0)
		rc = write_all(fd, "\n", 1);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_parent(path);
	if (rc)
		unlink(path);
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
	if (k->scheme == KEY_SR25519)
		return sr25519_sign(k->sk, k->pk, msg, n, sig);
	return crypto_sign_detached(sig, NULL, msg, n, k->sk) == 0 ? 0 : ZE_CRYPTO;
}

int key_verify_scheme(int scheme, const uint8_t pk[32], const uint8_t *msg, size_t n,
		      const uint8_t sig[64])
{
	if (scheme == KEY_ED25519)
		return key_verify(pk, msg, n, sig);
	if (scheme == KEY_SR25519)
		return sr25519_verify(pk, msg, n, sig);
	return -EINVAL;
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
	static const uint8_t tag[] = "zos-agent sr25519 x25519 v1";
	if (k->scheme == KEY_SR25519) {
		/* The scalar, not the nonce: a soft junction draws a fresh nonce. */
		return crypto_generichash(out, 32, k->sk, 32, tag, sizeof tag - 1) == 0 ? 0
											: ZE_CRYPTO;
	}
	return crypto_sign_ed25519_sk_to_curve25519(out, k->sk) == 0 ? 0 : ZE_CRYPTO;
}

int key_x25519_pk_of(const struct zkey *k, uint8_t out[32])
{
	uint8_t sk[32];
	if (k->scheme == KEY_ED25519)
		return key_x25519_pk(k->pk, out);
	int rc = key_x25519_sk(k, sk);
	if (rc == 0 && crypto_scalarmult_base(out, sk) != 0)
		rc = ZE_CRYPTO;
	sodium_memzero(sk, sizeof sk);
	return rc;
}
