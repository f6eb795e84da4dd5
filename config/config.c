/*
 * Loading the configuration: defaults, INI file, environment, overrides.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/zerr.h"
#include "config/keys.h"

/* Longest value accepted from the environment or a flag before parsing. */
#define CFG_VALUE_MAX 1024

static void seterr(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

void cfg_defaults(struct cfg *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->chain_url, sizeof c->chain_url, "http://127.0.0.1:9944");
	c->chain_rpc_timeout = 10;
	c->rmb_listen.n = 2;
	snprintf(c->rmb_listen.v[0], CFG_STR_MAX, "tcp://0.0.0.0:8800");
	snprintf(c->rmb_listen.v[1], CFG_STR_MAX, "ipc:///run/zos-agent/rmb.sock");
	c->rmb_workers = 4;
	c->rmb_max_message = 1u << 20;
	c->rmb_twin_cache_ttl = 60;
	c->rmb_memory_budget = 128u << 20;
	c->rmb_frame_timeout = 15;
	snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/zos-agent");
	c->report_interval = 3600;
	c->sync_interval = 3600;
	c->deploy_workers = 4;
	c->sched_batch = 1;
	c->uptime_interval = 2400; /* tfchain expects a report about every 40 minutes */
	c->log_level = LOG_LVL_INFO;
	c->log_target = LOG_TARGET_AUTO;
	c->container_log_max = 8u << 20;
	c->container_log_keep = 2;
	snprintf(c->vm_accel, sizeof c->vm_accel, "auto");
	c->vm_uid_base = 3000000;
	c->vm_stop_timeout = 10;
	snprintf(c->container_runtime, sizeof c->container_runtime, "auto");
	c->container_uid_base = 1u << 30;
	c->container_rootfs_size = 1ull << 30;
	c->public_port_min = 20000;
	c->public_port_max = 29999;
	c->reserved_cru = 1;
	c->reserved_mru = 1ull << 30;
	snprintf(c->metrics_listen, sizeof c->metrics_listen, "127.0.0.1:9464");
}

/* Copies s without surrounding blanks into out; ZE_TOOBIG if it does not fit. */
static int trim_copy(const char *s, char *out, size_t outsz)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= outsz)
		return ZE_TOOBIG;
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

int cfg_set(struct cfg *c, const char *key, const char *value, const char *origin, char *err,
	    size_t errsz)
{
	char val[CFG_VALUE_MAX], why[256];
	const struct cfg_key *k = cfg_key_find(key);
	if (!k) {
		seterr(err, errsz, "%s: unknown key '%s'", origin, key);
		return ZE_CONFIG;
	}
	if (trim_copy(value, val, sizeof val) != 0) {
		seterr(err, errsz, "%s: %s: value longer than %d bytes", origin, key, CFG_VALUE_MAX - 1);
		return ZE_CONFIG;
	}
	if (cfg_key_parse(c, k, val, 0, why, sizeof why) != 0) {
		seterr(err, errsz, "%s: %s: %s", origin, key, why);
		return ZE_CONFIG;
	}
	return 0;
}

/* State of one INI file being applied. */
struct file_ctx {
	FILE *f;
	const char *path;
	struct cfg *c;
	unsigned line; /* number of the line being parsed */
	char *err;
	size_t errsz;
	char section[64];  /* current [section]; "" before the first */
	char prev[64];     /* key that indented lines continue; "" = none */
	unsigned seen[64]; /* per key: line of its first occurrence */
};

static int file_fail(struct file_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports an error on the current line; parsing stops at the first one. */
static int file_fail(struct file_ctx *x, const char *fmt, ...)
{
	char why[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	seterr(x->err, x->errsz, "%s:%u: %s", x->path, x->line, why);
	return ZE_CONFIG;
}

/*
 * Reads the next line, without its newline, into buf (CFG_LINE_MAX + 1
 * bytes). Returns 1 for a line, 0 at the end of the file, ZE_CONFIG on a read
 * error, a NUL byte or a line longer than CFG_LINE_MAX (the whole line is
 * consumed first, so the count of lines stays right).
 */
static int read_line(struct file_ctx *x, char *buf)
{
	size_t n = 0;
	int ch, any = 0, nul = 0, too_long = 0;
	while ((ch = getc(x->f)) != EOF) {
		any = 1;
		if (ch == '\n')
			break;
		nul |= ch == 0;
		if (n < CFG_LINE_MAX)
			buf[n++] = (char)ch;
		else
			too_long = 1;
	}
	if (ferror(x->f))
		return file_fail(x, "read error");
	if (!any)
		return 0;
	x->line++;
	buf[n] = 0;
	if (too_long)
		return file_fail(x, "line longer than %d bytes", CFG_LINE_MAX);
	if (nul)
		return file_fail(x, "NUL byte in line");
	return 1;
}

static char *skip_blanks(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static void trim_end(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
}

/* Cuts an inline comment: ';' after a blank, as Python's configparser
 * reads it. */
static void cut_comment(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == ';' && p > s && isspace((unsigned char)p[-1])) {
			*p = 0;
			break;
		}
}

static int on_entry(struct file_ctx *x, const char *name, const char *value)
{
	char key[256], why[256];
	if (!x->section[0])
		return file_fail(x, "key '%s' outside a [section]", name);
	snprintf(key, sizeof key, "%s.%s", x->section, name);
	const struct cfg_key *k = cfg_key_find(key);
	if (!k)
		return file_fail(x, "unknown key '%s'", key);
	size_t i = (size_t)(k - cfg_keys);
	int is_list = k->type == CFG_T_LISTEN;
	if (x->seen[i] && !is_list)
		return file_fail(x, "%s: set twice (first on line %u)", key, x->seen[i]);
	/* A list key repeated in one file (or continued on indented lines)
	 * accumulates; its first occurrence replaces the default. */
	if (cfg_key_parse(x->c, k, value, x->seen[i] != 0, why, sizeof why) != 0)
		return file_fail(x, "%s: %s", key, why);
	if (!x->seen[i])
		x->seen[i] = x->line;
	return 0;
}

/*
 * One line: blank, a comment (first non-blank byte '#' or ';'), [section],
 * key = value (or key: value), or an indented value continuing the key
 * above (docs/configuration.md, "File format").
 */
static int parse_line(struct file_ctx *x, char *line)
{
	static const char bom[] = "\xEF\xBB\xBF";
	char *s = line;
	if (x->line == 1 && strncmp(s, bom, 3) == 0)
		s += 3;
	int indented = isspace((unsigned char)*s);
	s = skip_blanks(s);
	trim_end(s);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (indented && x->prev[0]) {
		cut_comment(s);
		trim_end(s);
		return on_entry(x, x->prev, s);
	}
	if (*s == '[') {
		char *end = strchr(s + 1, ']');
		if (!end)
			return file_fail(x, "syntax error (expected [section] or key = value)");
		char *rest = skip_blanks(end + 1);
		if (*rest && *rest != '#' && *rest != ';')
			return file_fail(x, "text after [section]");
		size_t n = (size_t)(end - (s + 1));
		if (n >= sizeof x->section)
			return file_fail(x, "section name longer than %zu bytes",
			                 sizeof x->section - 1);
		memcpy(x->section, s + 1, n);
		x->section[n] = 0;
		x->prev[0] = 0;
		return 0;
	}
	char *sep = s + strcspn(s, "=:");
	if (!*sep)
		return file_fail(x, "syntax error (expected [section] or key = value)");
	*sep = 0;
	char *value = sep + 1;
	cut_comment(value);
	value = skip_blanks(value);
	trim_end(value);
	trim_end(s);
	int rc = on_entry(x, s, value);
	/* Only a known key is accepted, so a name that got here is short. */
	size_t n = strlen(s);
	if (rc == 0 && n < sizeof x->prev)
		memcpy(x->prev, s, n + 1);
	return rc;
}

int cfg_apply_file(struct cfg *c, const char *path, char *err, size_t errsz)
{
	struct file_ctx x = {.path = path, .c = c, .err = err, .errsz = errsz};
	char line[CFG_LINE_MAX + 1];
	/* The key table outgrowing seen[] is a programming bug. */
	if (cfg_nkeys > sizeof x.seen / sizeof x.seen[0])
		abort();
	x.f = fopen(path, "re");
	if (!x.f) {
		int rc = -errno;
		seterr(err, errsz, "%s: cannot open: %s", path, strerror(-rc));
		return rc == -ENOENT ? -ENOENT : ZE_CONFIG;
	}
	int rc;
	while ((rc = read_line(&x, line)) == 1 && (rc = parse_line(&x, line)) == 0)
		;
	fclose(x.f);
	return rc;
}

/* "ZOS_AGENT_" + section + "_" + key, upper case, for a table entry. */
static void env_name(const struct cfg_key *k, char *out, size_t outsz)
{
	size_t o = (size_t)snprintf(out, outsz, "%s", CFG_ENV_PREFIX);
	for (const char *p = k->name; *p && o + 1 < outsz; p++)
		out[o++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
	out[o] = 0;
}

int cfg_apply_env(struct cfg *c, char *const *envp, char *err, size_t errsz)
{
	const size_t plen = strlen(CFG_ENV_PREFIX);
	char name[128];
	for (; envp && *envp; envp++) {
		const char *e = *envp, *eq = strchr(e, '=');
		if (!eq || strncmp(e, CFG_ENV_PREFIX, plen) != 0)
			continue;
		size_t nlen = (size_t)(eq - e);
		if (nlen == strlen(CFG_ENV_FILE) && strncmp(e, CFG_ENV_FILE, nlen) == 0)
			continue;
		const struct cfg_key *k = NULL;
		for (size_t i = 0; i < cfg_nkeys && !k; i++) {
			env_name(&cfg_keys[i], name, sizeof name);
			if (strlen(name) == nlen && strncmp(name, e, nlen) == 0)
				k = &cfg_keys[i];
		}
		if (!k) {
			seterr(err, errsz, "environment %.*s: unknown variable (no such key)",
			       (int)(nlen > 100 ? 100 : nlen), e);
			return ZE_CONFIG;
		}
		char origin[160];
		snprintf(origin, sizeof origin, "environment %s", name);
		int rc = cfg_set(c, k->name, eq + 1, origin, err, errsz);
		if (rc)
			return rc;
	}
	return 0;
}

static int derive_path(char *dst, const char *dir, const char *leaf, const char *key, char *err,
		       size_t errsz)
{
	if (*dst)
		return 0;
	int n = snprintf(dst, CFG_STR_MAX, "%s/%s", dir, leaf);
	if (n < 0 || n >= CFG_STR_MAX) {
		memset(dst, 0, CFG_STR_MAX);
		seterr(err, errsz, "%s: default %s/%s is longer than %d bytes; set it explicitly", key,
		       dir, leaf, CFG_STR_MAX - 1);
		return ZE_CONFIG;
	}
	return 0;
}

int cfg_finish(struct cfg *c, char *err, size_t errsz)
{
	const char *dir = c->state_dir;
	int rc;
	if ((rc = derive_path(c->seed_file, dir, "identity.seed", "node.seed_file", err, errsz)) ||
	    (rc = derive_path(c->volumes_dir, dir, "volumes", "storage.volumes_dir", err, errsz)) ||
	    (rc = derive_path(c->images_dir, dir, "images", "storage.images_dir", err, errsz)) ||
	    (rc = derive_path(c->image_store_dir, dir, "image-store", "images.dir", err, errsz)) ||
	    (rc = derive_path(c->containers_dir, dir, "containers", "storage.containers_dir", err,
			      errsz)) ||
	    (rc = derive_path(c->vm_initrd, dir, "vm-initrd.img", "vm.initrd", err, errsz)))
		return rc;
	if (c->rmb_listen.n == 0) {
		seterr(err, errsz, "rmb.listen: at least one address is needed");
		return ZE_CONFIG;
	}
	/* Each connection may hold one frame: the budget must fit at least one. */
	if (c->rmb_memory_budget < c->rmb_max_message) {
		seterr(err, errsz,
		       "rmb.memory_budget: must be at least rmb.max_message (%" PRIu64
		       " bytes); raise it or lower rmb.max_message",
		       c->rmb_max_message);
		return ZE_CONFIG;
	}
	if (c->public_port_min > c->public_port_max) {
		seterr(err, errsz, "network.public_port_min %u is above network.public_port_max %u",
		       c->public_port_min, c->public_port_max);
		return ZE_CONFIG;
	}
	return 0;
}

static const char *env_lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static int apply_overrides(struct cfg *c, const struct cfg_source *src, char *err, size_t errsz)
{
	for (unsigned i = 0; i < src->n_overrides; i++) {
		const char *o = src->overrides[i], *eq = strchr(o, '=');
		char key[128];
		if (!eq || eq == o || (size_t)(eq - o) >= sizeof key) {
			seterr(err, errsz, "option '%.100s': expected section.key=value", o);
			return ZE_CONFIG;
		}
		memcpy(key, o, (size_t)(eq - o));
		key[eq - o] = 0;
		char origin[160];
		snprintf(origin, sizeof origin, "option -o %s", key);
		int rc = cfg_set(c, key, eq + 1, origin, err, errsz);
		if (rc)
			return rc;
	}
	return 0;
}

int cfg_load(struct cfg *c, const struct cfg_source *src, char *err, size_t errsz,
	     char *used_file, size_t used_sz)
{
	const char *path = src->file;
	int rc;
	if (!path || !*path)
		path = env_lookup(src->envp, CFG_ENV_FILE);
	int explicit = path && *path;
	if (!explicit)
		path = CFG_DEFAULT_FILE;
	if (used_file && used_sz)
		used_file[0] = 0;

	cfg_defaults(c);
	rc = cfg_apply_file(c, path, err, errsz);
	if (rc == -ENOENT && !explicit)
		rc = 0; /* no config file: defaults, environment and flags only */
	else if (rc == 0 && used_file && used_sz)
		snprintf(used_file, used_sz, "%s", path);
	if (rc)
		return rc == -ENOENT ? ZE_CONFIG : rc;
	if ((rc = cfg_apply_env(c, src->envp, err, errsz)) != 0 ||
	    (rc = apply_overrides(c, src, err, errsz)) != 0 || (rc = cfg_finish(c, err, errsz)) != 0)
		return rc;
	return 0;
}

int cfg_write(const struct cfg *c, FILE *f)
{
	size_t seclen = 0;
	const char *sec = NULL;
	if (fprintf(f, "# zos-agent effective configuration\n") < 0)
		return -EIO;
	for (size_t i = 0; i < cfg_nkeys; i++) {
		const char *name = cfg_keys[i].name;
		size_t n = (size_t)(strchr(name, '.') - name);
		if (!sec || n != seclen || strncmp(sec, name, n) != 0) {
			sec = name;
			seclen = n;
			if (fprintf(f, "\n[%.*s]\n", (int)n, name) < 0)
				return -EIO;
		}
		int rc = cfg_key_write(c, &cfg_keys[i], f);
		if (rc)
			return rc;
	}
	return fflush(f) == 0 ? 0 : -EIO;
}

int cfg_diff(const struct cfg *a, const struct cfg *b, cfg_change_fn fn, void *arg)
{
	int n = 0;
	for (size_t i = 0; i < cfg_nkeys; i++) {
		if (cfg_key_equal(a, b, &cfg_keys[i]))
			continue;
		n++;
		if (fn)
			fn(cfg_keys[i].name, cfg_keys[i].restart, arg);
	}
	return n;
}

void cfg_keep_restart_keys(struct cfg *next, const struct cfg *cur)
{
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (cfg_keys[i].restart)
			cfg_key_copy(next, cur, &cfg_keys[i]);
}
