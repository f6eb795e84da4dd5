/*
 * Registry credentials from the credentials file. The file must not be
 * readable by group or others; its values are kept in memory only as long
 * as the store is open, wiped on close, and never logged.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h"
#include "common/log.h"
#include "common/zerr.h"
#include "image/img_int.h"

#define CREDS_FILE_MAX (64u << 10)

static int add(struct img_store *st, const char *host, const char *kind, const char *a,
               const char *b)
{
	struct img_cred *n = realloc(st->creds, (st->n_creds + 1) * sizeof *n);
	if (!n)
		return -ENOMEM;
	st->creds = n;
	struct img_cred *c = &n[st->n_creds];
	memset(c, 0, sizeof *c);
	snprintf(c->host, sizeof c->host, "%s", host);
	if (!strcmp(kind, "basic")) {
		c->user = strdup(a);
		c->password = strdup(b);
		if (!c->user || !c->password) {
			free(c->user);
			free(c->password);
			return -ENOMEM;
		}
	} else {
		if (!(c->token = strdup(a)))
			return -ENOMEM;
	}
	st->n_creds++;
	return 0;
}

int img_creds_load(struct img_store *st, const char *path)
{
	struct stat s;
	if (stat(path, &s) < 0) {
		log_err("image", "credentials file %s: %s", path, strerror(errno));
		return ZE_CONFIG;
	}
	if (s.st_mode & 077) {
		log_err("image",
		        "credentials file %s is readable by group or others: chmod 0600 it", path);
		return ZE_CONFIG;
	}
	uint8_t *buf;
	size_t len;
	int rc = zfile_read(path, CREDS_FILE_MAX, &buf, &len);
	if (rc < 0) {
		log_err("image", "credentials file %s: %s", path, zerr_str(rc));
		return ZE_CONFIG;
	}
	unsigned lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r((char *)buf, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *f[5] = {0};
		int n = 0;
		char *s2 = NULL;
		for (char *t = strtok_r(line, " \t\r", &s2); t && n < 5;
		     t = strtok_r(NULL, " \t\r", &s2))
			f[n++] = t;
		if (n == 0 || f[0][0] == '#')
			continue;
		if (n == 4 && !strcmp(f[1], "basic"))
			rc = add(st, f[0], "basic", f[2], f[3]);
		else if (n == 3 && !strcmp(f[1], "token"))
			rc = add(st, f[0], "token", f[2], NULL);
		else {
			/* Name the line, never its contents: it may hold a secret. */
			log_err(
			    "image",
			    "credentials file %s line %u: expected 'HOST basic USER PASSWORD' or "
			    "'HOST token TOKEN'",
			    path, lineno);
			rc = ZE_CONFIG;
		}
	}
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}
