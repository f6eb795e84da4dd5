/* Image references (HOST[:PORT]/REPO[:TAG][@sha256:HEX]) and registry lists. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "image/img_int.h"
#include "common/zerr.h"

int img_errf(char *err, size_t errsz, int rc, const char *fmt, ...)
{
	if (err && errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int img_digest_valid(const char *d)
{
	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return 0;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

static int host_ok(const char *h, size_t n)
{
	if (n == 0 || n >= IMG_HOST_MAX)
		return 0;
	int colon = 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == ':') {
			if (colon++ || i == 0 || i + 1 == n)
				return 0;
		} else if (colon) {
			if (!isdigit((unsigned char)c))
				return 0;
		} else if (!isalnum((unsigned char)c) && c != '.' && c != '-') {
			return 0;
		}
	}
	return 1;
}

/* Repository path components: lowercase alphanumerics separated by '.',
 * '_' or '-', each component starting and ending alphanumeric. */
static int repo_ok(const char *r, size_t n)
{
	if (n == 0 || n >= IMG_REPO_MAX)
		return 0;
	char prev = '/';
	for (size_t i = 0; i < n; i++) {
		char c = r[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && c != '.' && c != '_' && c != '-' && c != '/')
			return 0;
		if (!alnum && !(prev >= 'a' && prev <= 'z') && !(prev >= '0' && prev <= '9') &&
		    !(c == '_' && prev == '_') && !(c == '-' && prev == '-'))
			return 0;
		prev = c;
	}
	return (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
}

static int tag_ok(const char *t, size_t n)
{
	if (n == 0 || n >= IMG_TAG_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!isalnum((unsigned char)c) && c != '_' && (i == 0 || (c != '.' && c != '-')))
			return 0;
	}
	return 1;
}

int img_ref_parse(const char *s, struct img_ref *out, char *err, size_t errsz)
{
	memset(out, 0, sizeof *out);
	if (!s || !*s)
		return img_errf(err, errsz, -EINVAL, "empty image reference");
	size_t len = strnlen(s, IMG_REF_MAX);
	if (len >= IMG_REF_MAX)
		return img_errf(err, errsz, -EINVAL, "image reference longer than %d bytes",
		                IMG_REF_MAX - 1);
	const char *at = strchr(s, '@');
	size_t name_len = at ? (size_t)(at - s) : len;
	if (at) {
		if (!img_digest_valid(at + 1))
			return img_errf(err, errsz, -EINVAL,
			                "image reference '%s': the digest must be sha256: and 64 "
			                "lowercase hex digits",
			                s);
		memcpy(out->digest, at + 1, 72 - 1);
	}
	const char *slash = memchr(s, '/', name_len);
	if (!slash)
		return img_errf(err, errsz, -EINVAL,
		                "image reference '%s' names no registry: write "
		                "HOST[:PORT]/REPOSITORY[:TAG] (short Docker Hub names are not "
		                "accepted)",
		                s);
	size_t hlen = (size_t)(slash - s);
	if (!(memchr(s, '.', hlen) || memchr(s, ':', hlen) ||
	      (hlen == 9 && memcmp(s, "localhost", 9) == 0)))
		return img_errf(err, errsz, -EINVAL,
		                "image reference '%s' names no registry: its first component must "
		                "be a host (with a '.' or ':port', or 'localhost'); short Docker "
		                "Hub names are not accepted",
		                s);
	if (!host_ok(s, hlen))
		return img_errf(err, errsz, -EINVAL, "image reference '%s': bad registry host", s);
	memcpy(out->host, s, hlen);
	const char *rp = slash + 1;
	const char *end = s + name_len;
	const char *lastslash = rp;
	for (const char *p = rp; p < end; p++)
		if (*p == '/')
			lastslash = p;
	const char *colon = memchr(lastslash, ':', (size_t)(end - lastslash));
	size_t rlen = (size_t)((colon ? colon : end) - rp);
	if (!repo_ok(rp, rlen))
		return img_errf(err, errsz, -EINVAL,
		                "image reference '%s': bad repository name (lowercase letters, "
		                "digits and . _ - separated by /)",
		                s);
	memcpy(out->repo, rp, rlen);
	if (colon) {
		size_t tlen = (size_t)(end - colon - 1);
		if (!tag_ok(colon + 1, tlen))
			return img_errf(err, errsz, -EINVAL,
			                "image reference '%s': bad tag (at most 128 of "
			                "A-Z a-z 0-9 _ . -)",
			                s);
		memcpy(out->tag, colon + 1, tlen);
	} else {
		memcpy(out->tag, "latest", 7);
	}
	return 0;
}

int img_ref_canonical(const struct img_ref *r, char *out, size_t outsz)
{
	int n = r->digest[0] ? snprintf(out, outsz, "%s/%s@%s", r->host, r->repo, r->digest)
	                     : snprintf(out, outsz, "%s/%s:%s", r->host, r->repo, r->tag);
	return n < 0 || (size_t)n >= outsz ? ZE_TOOBIG : 0;
}

/* 1 when host is in the comma/space separated list (or the list has "*"). */
int img_list_match(const char *list, const char *host)
{
	if (!list)
		return 0;
	size_t hl = strlen(host);
	const char *p = list;
	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		const char *q = p;
		while (*q && *q != ',' && *q != ' ' && *q != '\t')
			q++;
		size_t n = (size_t)(q - p);
		if ((n == 1 && *p == '*') || (n == hl && strncasecmp(p, host, n) == 0))
			return 1;
		p = q;
	}
	return 0;
}

static int list_empty(const char *list)
{
	if (!list)
		return 1;
	for (; *list; list++)
		if (*list != ',' && *list != ' ' && *list != '\t')
			return 0;
	return 1;
}

int img_policy_check(struct img_store *st, const char *ref, char *err, size_t errsz)
{
	struct img_ref r;
	int rc = img_ref_parse(ref, &r, err, errsz);
	if (rc < 0)
		return rc;
	if (img_list_match(st->deny, r.host))
		return img_errf(err, errsz, -EACCES,
		                "registry %s is denied by this node's policy ([images] deny)",
		                r.host);
	if (!list_empty(st->allow) && !img_list_match(st->allow, r.host))
		return img_errf(err, errsz, -EACCES,
		                "registry %s is not in this node's allowed registries ([images] "
		                "allow)",
		                r.host);
	return 0;
}
