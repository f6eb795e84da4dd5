/*
 * The OCI Distribution API client: manifests into memory (bounded), blobs
 * streamed to a file descriptor while they are hashed. Anonymous first; when
 * the registry answers 401 it says how to authenticate (WWW-Authenticate):
 * Bearer (a token from the realm, asked with the configured basic
 * credentials if any) or Basic. Transport failures, 5xx and 429 are retried
 * with exponential backoff a bounded number of times. Credentials and tokens
 * never appear in logs or error messages.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/log.h"
#include "common/zerr.h"
#include "image/img_int.h"

struct img_reg {
	struct img_store *st;
	struct img_ref ref;
	const struct img_cred *cred;
	CURL *h;
	char base[IMG_HOST_MAX + IMG_REPO_MAX + 32]; /* scheme://host/v2/repo */
	char *auth;                                  /* "Authorization: ..." or NULL; wiped */
	int insecure;
};

struct resp {
	struct img_reg *r;
	char www[1024];
	char ctype[128];
	char ebody[200];
	size_t elen;
	/* memory sink */
	char *buf;
	size_t len, max;
	/* file sink */
	int fd;
	struct img_sha *sha;
	uint64_t got, limit;
	img_reg_tick_fn tick;
	void *arg;
	int canceled, overflow, ioerr;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

int img_reg_new(struct img_store *st, const struct img_ref *ref, struct img_reg **out)
{
	pthread_once(&curl_once, curl_init);
	struct img_reg *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->st = st;
	r->ref = *ref;
	r->insecure = img_list_match(st->insecure, ref->host);
	for (size_t i = 0; i < st->n_creds; i++)
		if (!strcasecmp(st->creds[i].host, ref->host))
			r->cred = &st->creds[i];
	snprintf(r->base, sizeof r->base, "%s://%s/v2/%s", r->insecure ? "http" : "https",
	         ref->host, ref->repo);
	if (!(r->h = curl_easy_init())) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

int img_reg_dup(const struct img_reg *src, struct img_reg **out)
{
	int rc = img_reg_new(src->st, &src->ref, out);
	if (rc == 0 && src->auth && !((*out)->auth = strdup(src->auth))) {
		img_reg_free(*out);
		*out = NULL;
		rc = -ENOMEM;
	}
	return rc;
}

void img_reg_free(struct img_reg *r)
{
	if (!r)
		return;
	curl_easy_cleanup(r->h);
	wipe_free(r->auth);
	free(r);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *rs = arg;
	size_t len = sz * n;
	if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		rs->www[0] = rs->ctype[0] = 0;
	} else if (len > 17 && !strncasecmp(p, "www-authenticate:", 17)) {
		size_t k = len - 17;
		if (k >= sizeof rs->www)
			k = sizeof rs->www - 1;
		memcpy(rs->www, p + 17, k);
		rs->www[k] = 0;
	} else if (len > 13 && !strncasecmp(p, "content-type:", 13)) {
		size_t k = len - 13;
		if (k >= sizeof rs->ctype)
			k = sizeof rs->ctype - 1;
		memcpy(rs->ctype, p + 13, k);
		rs->ctype[k] = 0;
	}
	return len;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *rs = arg;
	size_t len = sz * n;
	long code = 0;
	curl_easy_getinfo(rs->r->h, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		/* Keep the start of an error body for the message. */
		size_t k =
		    len < sizeof rs->ebody - 1 - rs->elen ? len : sizeof rs->ebody - 1 - rs->elen;
		memcpy(rs->ebody + rs->elen, p, k);
		rs->elen += k;
		rs->ebody[rs->elen] = 0;
		return len;
	}
	if (rs->fd >= 0) {
		if (rs->got + len > rs->limit) {
			rs->overflow = 1;
			return 0;
		}
		img_sha_update(rs->sha, p, len);
		for (size_t off = 0; off < len;) {
			ssize_t w = write(rs->fd, p + off, len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rs->ioerr = errno;
				return 0;
			}
			off += (size_t)w;
		}
		rs->got += len;
		if (rs->tick && rs->tick(rs->arg, len)) {
			rs->canceled = 1;
			return 0;
		}
		return len;
	}
	if (rs->len + len > rs->max) {
		rs->overflow = 1;
		return 0;
	}
	char *nb = realloc(rs->buf, rs->len + len + 1);
	if (!nb)
		return 0;
	rs->buf = nb;
	memcpy(rs->buf + rs->len, p, len);
	rs->len += len;
	rs->buf[rs->len] = 0;
	return len;
}

static void resp_reset(struct resp *rs)
{
	rs->len = 0;
	rs->elen = 0;
	rs->ebody[0] = 0;
	rs->overflow = rs->ioerr = 0;
	if (rs->fd >= 0 && rs->got) {
		/* A file restarts from zero; a pipe cannot (-ESPIPE: the
		 * caller starts the whole stream again). */
		if (rs->tick)
			rs->tick(rs->arg, (uint64_t)0 - rs->got);
		rs->got = 0;
		if (img_sha_reset(rs->sha) < 0)
			rs->ioerr = EIO;
		else if (ftruncate(rs->fd, 0) < 0 || lseek(rs->fd, 0, SEEK_SET) < 0)
			rs->ioerr = errno;
	}
}

/* Value of key in a WWW-Authenticate challenge (quoted or bare). */
static int challenge_param(const char *www, const char *key, char *out, size_t outsz)
{
	size_t kl = strlen(key);
	for (const char *p = www; *p; p++) {
		if (strncasecmp(p, key, kl) || p[kl] != '=' ||
		    (p != www && p[-1] != ' ' && p[-1] != ',' && p[-1] != '\t'))
			continue;
		const char *v = p + kl + 1;
		int q = *v == '"';
		v += q;
		size_t n = 0;
		while (v[n] && (q ? v[n] != '"' : (v[n] != ',' && v[n] != ' ' && v[n] != '\r')))
			n++;
		if (n >= outsz)
			return ZE_TOOBIG;
		memcpy(out, v, n);
		out[n] = 0;
		return 0;
	}
	return -ENOENT;
}

static void common_opts(struct img_reg *r, CURL *h, struct resp *rs)
{
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	/* Redirects may go to plain HTTP only for registries listed insecure. */
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, r->insecure ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, r->insecure ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)r->st->timeout_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)r->st->timeout_s);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 131072L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "zos-agent");
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
}

/* Gets a Bearer token from the realm the registry named. */
static int fetch_token(struct img_reg *r, const char *www, char *err, size_t errsz)
{
	char realm[512], service[256] = "", scope[IMG_REPO_MAX + 32];
	if (challenge_param(www, "realm", realm, sizeof realm) < 0)
		return img_errf(err, errsz, -EACCES, "registry %s asks for a token without a realm",
		                r->ref.host);
	challenge_param(www, "service", service, sizeof service);
	if (challenge_param(www, "scope", scope, sizeof scope) < 0)
		snprintf(scope, sizeof scope, "repository:%s:pull", r->ref.repo);
	if (strncmp(realm, "https://", 8) && !(r->insecure && !strncmp(realm, "http://", 7)))
		return img_errf(err, errsz, -EACCES,
		                "registry %s names a token realm that is not https", r->ref.host);
	char *es = curl_easy_escape(r->h, service, 0), *ec = curl_easy_escape(r->h, scope, 0);
	char url[1500];
	snprintf(url, sizeof url, "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
	         es ? es : "", ec ? ec : "");
	curl_free(es);
	curl_free(ec);
	struct resp rs = {.r = r, .fd = -1, .max = 64 << 10};
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	common_opts(r, h, &rs);
	rs.r = r;
	/* on_body reads the status from r->h: point it at this handle. */
	CURL *saved = r->h;
	r->h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (r->cred && r->cred->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, r->cred->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, r->cred->password);
	}
	CURLcode cc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	r->h = saved;
	curl_easy_cleanup(h);
	int rc = 0;
	if (cc != CURLE_OK)
		rc = img_errf(err, errsz, ZE_UNKNOWN, "token service of %s: %s", r->ref.host,
		              curl_easy_strerror(cc));
	else if (code == 401 || code == 403)
		rc = img_errf(
		    err, errsz, -EACCES, "registry %s refused the credentials%s", r->ref.host,
		    r->cred ? "" : ": add them for this registry to the [images] credentials file");
	else if (code != 200)
		rc = img_errf(err, errsz, -EACCES, "token service of %s answered HTTP %ld",
		              r->ref.host, code);
	cJSON *j = rc == 0 ? cJSON_ParseWithLength(rs.buf ? rs.buf : "", rs.len) : NULL;
	if (rc == 0) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "token");
		if (!cJSON_IsString(t))
			t = cJSON_GetObjectItemCaseSensitive(j, "access_token");
		if (!cJSON_IsString(t) || strlen(t->valuestring) > 16384) {
			rc = img_errf(err, errsz, -EACCES, "token service of %s gave no token",
			              r->ref.host);
		} else {
			size_t n = strlen(t->valuestring) + 32;
			wipe_free(r->auth);
			if ((r->auth = malloc(n)))
				snprintf(r->auth, n, "Authorization: Bearer %s", t->valuestring);
			else
				rc = -ENOMEM;
			sodium_memzero(t->valuestring, strlen(t->valuestring));
		}
	}
	cJSON_Delete(j);
	if (rs.buf) {
		sodium_memzero(rs.buf, rs.len);
		free(rs.buf);
	}
	return rc;
}

/* Answers a 401 challenge: sets r->auth. */
static int authenticate(struct img_reg *r, const char *www, char *err, size_t errsz)
{
	while (*www == ' ')
		www++;
	if (!strncasecmp(www, "bearer", 6)) {
		if (r->cred && r->cred->token) {
			size_t n = strlen(r->cred->token) + 32;
			wipe_free(r->auth);
			if (!(r->auth = malloc(n)))
				return -ENOMEM;
			snprintf(r->auth, n, "Authorization: Bearer %s", r->cred->token);
			return 0;
		}
		return fetch_token(r, www, err, errsz);
	}
	if (!strncasecmp(www, "basic", 5)) {
		if (!r->cred || !r->cred->user)
			return img_errf(
			    err, errsz, -EACCES,
			    "registry %s requires a login: add 'HOST basic USER PASSWORD' "
			    "for it to the [images] credentials file",
			    r->ref.host);
		size_t ul = strlen(r->cred->user), pl = strlen(r->cred->password);
		char *up = malloc(ul + pl + 2);
		size_t bl = sodium_base64_ENCODED_LEN(ul + pl + 1, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(bl);
		wipe_free(r->auth);
		r->auth = malloc(bl + 32);
		if (!up || !b64 || !r->auth) {
			free(up);
			free(b64);
			return -ENOMEM;
		}
		memcpy(up, r->cred->user, ul);
		up[ul] = ':';
		memcpy(up + ul + 1, r->cred->password, pl + 1);
		sodium_bin2base64(b64, bl, (unsigned char *)up, ul + pl + 1,
		                  sodium_base64_VARIANT_ORIGINAL);
		snprintf(r->auth, bl + 32, "Authorization: Basic %s", b64);
		wipe_free(up);
		wipe_free(b64);
		return 0;
	}
	return img_errf(err, errsz, -EACCES, "registry %s asks for an unsupported authentication",
	                r->ref.host);
}

static int transient(CURLcode cc, long code)
{
	if (cc == CURLE_OK)
		return code >= 500 || code == 429;
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	       cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
	       cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE;
}

static int request(struct img_reg *r, const char *what, const char *url, const char *accept,
                   struct resp *rs, char *err, size_t errsz)
{
	int authed = 0;
	unsigned attempt = 0;
	for (;;) {
		resp_reset(rs);
		common_opts(r, r->h, rs);
		struct curl_slist *hdr = NULL;
		if (accept)
			hdr = curl_slist_append(hdr, accept);
		if (r->auth)
			hdr = curl_slist_append(hdr, r->auth);
		curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(r->h, CURLOPT_URL, url);
		CURLcode cc = curl_easy_perform(r->h);
		long code = 0;
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(hdr);
		if (rs->canceled)
			return img_errf(err, errsz, -ECANCELED, "pull cancelled");
		if (rs->ioerr)
			return img_errf(err, errsz, -rs->ioerr, "writing %s: %s", what,
			                strerror(rs->ioerr));
		if (rs->overflow)
			return img_errf(err, errsz, ZE_TOOBIG,
			                "%s from %s is larger than its manifest says", what,
			                r->ref.host);
		if (cc == CURLE_OK && code == 401 && !authed && rs->www[0]) {
			int rc = authenticate(r, rs->www, err, errsz);
			if (rc < 0)
				return rc;
			authed = 1;
			continue;
		}
		if (transient(cc, code) && ++attempt < r->st->retries) {
			int64_t ms = backoff_delay(250, 4000, attempt - 1, 0);
			log_warn("image", "registry %s: %s, retrying in %lld ms", r->ref.host,
			         cc != CURLE_OK ? curl_easy_strerror(cc) : "server error",
			         (long long)ms);
			struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		if (cc != CURLE_OK)
			return img_errf(
			    err, errsz, ZE_UNKNOWN,
			    "registry %s is unreachable (%s) after %u attempts; check that "
			    "it is up%s",
			    r->ref.host, curl_easy_strerror(cc), attempt + 1,
			    r->insecure ? ""
			                : " and serves HTTPS (plain-HTTP registries "
			                  "must be listed in [images] insecure)");
		if (code >= 200 && code <= 299)
			return 0;
		if (code == 404)
			return img_errf(err, errsz, -ENOENT, "%s not found in %s/%s", what,
			                r->ref.host, r->ref.repo);
		if (code == 401 || code == 403)
			return img_errf(err, errsz, -EACCES,
			                "registry %s refused access to %s (HTTP %ld): check the "
			                "credentials for it",
			                r->ref.host, r->ref.repo, code);
		if (code >= 500 || code == 429)
			return img_errf(err, errsz, ZE_UNKNOWN,
			                "registry %s keeps failing (HTTP %ld) after %u attempts",
			                r->ref.host, code, attempt + 1);
		return img_errf(err, errsz, -EIO, "registry %s answered HTTP %ld for %s",
		                r->ref.host, code, what);
	}
}

int img_reg_manifest(struct img_reg *r, const char *tag_or_digest, char **body, size_t *len,
                     char *ctype, size_t ctsz, char *err, size_t errsz)
{
	char url[sizeof r->base + IMG_TAG_MAX + IMG_DIGEST_MAX + 16];
	snprintf(url, sizeof url, "%s/manifests/%s", r->base, tag_or_digest);
	struct resp rs = {.r = r, .fd = -1, .max = IMG_MANIFEST_MAX};
	char what[IMG_TAG_MAX + IMG_DIGEST_MAX + 16];
	snprintf(what, sizeof what, "manifest %s", tag_or_digest);
	int rc = request(r, what, url,
	                 "Accept: application/vnd.oci.image.index.v1+json, "
	                 "application/vnd.oci.image.manifest.v1+json, "
	                 "application/vnd.docker.distribution.manifest.list.v2+json, "
	                 "application/vnd.docker.distribution.manifest.v2+json",
	                 &rs, err, errsz);
	if (rc == 0 && !rs.buf)
		rc = img_errf(err, errsz, ZE_MALFORMED, "empty manifest from %s", r->ref.host);
	if (rc < 0) {
		free(rs.buf);
		return rc;
	}
	char *c = rs.ctype;
	while (*c == ' ')
		c++;
	c[strcspn(c, "\r\n;")] = 0;
	snprintf(ctype, ctsz, "%s", c);
	*body = rs.buf;
	*len = rs.len;
	return 0;
}

int img_reg_blob(struct img_reg *r, const char *digest, uint64_t size, int fd, img_reg_tick_fn tick,
                 void *arg, char *err, size_t errsz)
{
	char url[sizeof r->base + IMG_DIGEST_MAX + 16];
	snprintf(url, sizeof url, "%s/blobs/%s", r->base, digest);
	struct resp rs = {.r = r, .fd = fd, .limit = size, .tick = tick, .arg = arg};
	if (img_sha_new(&rs.sha) < 0)
		return img_errf(err, errsz, -ENOMEM, "out of memory");
	char what[IMG_DIGEST_MAX + 8];
	snprintf(what, sizeof what, "blob %s", digest);
	int rc = request(r, what, url, NULL, &rs, err, errsz);
	char hex[65];
	img_sha_hex(rs.sha, hex);
	img_sha_free(rs.sha);
	if (rc < 0)
		return rc;
	if (strcmp(hex, digest + 7) != 0)
		return img_errf(
		    err, errsz, ZE_CRYPTO,
		    "digest mismatch: blob %s from %s has sha256:%s; the registry serves "
		    "corrupt or tampered data",
		    digest, r->ref.host, hex);
	if (rs.got != size)
		return img_errf(err, errsz, ZE_CRYPTO, "blob %s from %s has %llu bytes, not %llu",
		                digest, r->ref.host, (unsigned long long)rs.got,
		                (unsigned long long)size);
	return 0;
}
