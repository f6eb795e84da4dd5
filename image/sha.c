/*
 * SHA-256 for blob digests, through OpenSSL's EVP interface: it uses the
 * CPU's SHA extensions where present, several times faster than a portable
 * implementation, and hashing every byte of every layer is the pull's main
 * CPU cost. (libcurl already links OpenSSL's libcrypto.)
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>

#include "image/img_int.h"

int img_sha_new(struct img_sha **out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return -EIO;
	}
	*out = (struct img_sha *)c;
	return 0;
}

int img_sha_reset(struct img_sha *s)
{
	return EVP_DigestInit_ex((EVP_MD_CTX *)s, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

void img_sha_update(struct img_sha *s, const void *p, size_t n)
{
	EVP_DigestUpdate((EVP_MD_CTX *)s, p, n);
}

void img_sha_hex(struct img_sha *s, char hex[65])
{
	unsigned char h[32];
	unsigned int n = 0;
	EVP_DigestFinal_ex((EVP_MD_CTX *)s, h, &n);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

void img_sha_free(struct img_sha *s)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)s);
}

void img_sha256_digest(const void *p, size_t n, char out[IMG_DIGEST_MAX])
{
	struct img_sha *s;
	out[0] = 0;
	if (img_sha_new(&s) < 0)
		return;
	img_sha_update(s, p, n);
	snprintf(out, IMG_DIGEST_MAX, "sha256:");
	img_sha_hex(s, out + 7);
	img_sha_free(s);
}
