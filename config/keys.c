/*
 * Configuration keys: the table, value parsing and formatting.
 */
#include "config/keys.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/zerr.h"

#define F(field) offsetof(struct cfg, field)
#define KIB 1024ull
#define GIB (KIB * KIB * KIB)

/* Sections appear in this order in the normalized output. */
const struct cfg_key cfg_keys[] = {
	{"chain.url", CFG_T_URL, F(chain_url), 0, 0, 1},
	{"chain.rpc_timeout", CFG_T_SECS, F(chain_rpc_timeout), 1, 600, 1},
	{"chain.ca_file", CFG_T_PATH0, F(chain_ca_file), 0, 0, 1},
	{"rmb.listen", CFG_T_LISTEN, F(rmb_listen), 0, 0, 1},
	{"rmb.public_address", CFG_T_RELAY, F(rmb_public_address), 0, 0, 1},
	{"rmb.workers", CFG_T_U32, F(rmb_workers), 1, 256, 1},
	{"rmb.max_message", CFG_T_SIZE, F(rmb_max_message), 4 * KIB, 64 * KIB * KIB, 1},
	{"rmb.twin_cache_ttl", CFG_T_SECS, F(rmb_twin_cache_ttl), 1, 86400, 1},
	{"rmb.memory_budget", CFG_T_SIZE, F(rmb_memory_budget), 64 * KIB, 64 * GIB, 1},
	{"rmb.frame_timeout", CFG_T_SECS, F(rmb_frame_timeout), 1, 3600, 1},
	{"node.state_dir", CFG_T_PATH, F(state_dir), 0, 0, 1},
	{"node.seed_file", CFG_T_PATH0, F(seed_file), 0, 0, 1},
	{"node.farm_id", CFG_T_U32, F(farm_id), 0, UINT32_MAX, 1},
	/* Down to 10 s for development chains (tests, short grace periods);
	 * every report is an extrinsic the node pays for. */
	{"node.report_interval", CFG_T_SECS, F(report_interval), 10, 86400, 0},
	{"node.sync_interval", CFG_T_SECS, F(sync_interval), 60, 7 * 86400, 0},
	{"node.deploy_workers", CFG_T_U32, F(deploy_workers), 1, 64, 1},
	{"node.sched_batch", CFG_T_BOOL, F(sched_batch), 0, 0, 1},
	/* What create_node registers about the node; tfchain's runtime refuses
	 * an empty location. Unset keys leave the chain's values alone. */
	{"node.country", CFG_T_TEXT, F(node_country), 0, 0, 1},
	{"node.city", CFG_T_TEXT, F(node_city), 0, 0, 1},
	{"node.latitude", CFG_T_TEXT, F(node_latitude), 0, 0, 1},
	{"node.longitude", CFG_T_TEXT, F(node_longitude), 0, 0, 1},
	{"node.serial_number", CFG_T_TEXT, F(node_serial), 0, 0, 1},
	/* The terms and conditions the node's account accepts (user_accept_tc)
	 * before it creates its twin, as published for the network. */
	{"node.terms_link", CFG_T_TEXT, F(terms_link), 0, 0, 1},
	{"node.terms_hash", CFG_T_TEXT, F(terms_hash), 0, 0, 1},
	{"node.uptime_interval", CFG_T_SECS, F(uptime_interval), 10, 86400, 1},
	{"log.level", CFG_T_LEVEL, F(log_level), 0, 0, 0},
	{"log.target", CFG_T_TARGET, F(log_target), 0, 0, 0},
	{"storage.volumes_dir", CFG_T_PATH0, F(volumes_dir), 0, 0, 1},
	{"storage.images_dir", CFG_T_PATH0, F(images_dir), 0, 0, 1},
	{"storage.containers_dir", CFG_T_PATH0, F(containers_dir), 0, 0, 1},
	{"storage.allow_unenforced_volumes", CFG_T_BOOL, F(allow_unenforced_volumes), 0, 0, 1},
	{"storage.container_log_max", CFG_T_SIZE, F(container_log_max), 64 * KIB, GIB, 1},
	{"storage.container_log_keep", CFG_T_U32, F(container_log_keep), 1, 100, 1},
	{"containers.runtime", CFG_T_RUNTIME, F(container_runtime), 0, 0, 1},
	/* Ranges of 65536 ids from here must stay below 2^32. */
	{"containers.uid_base", CFG_T_U32, F(container_uid_base), 65536, 4026531840u, 1},
	{"containers.rootfs_size", CFG_T_SIZE, F(container_rootfs_size), 16 * KIB * KIB,
	 1ull << 44, 1},
	{"images.dir", CFG_T_PATH0, F(image_store_dir), 0, 0, 1},
	{"images.max_size", CFG_T_SIZE, F(image_max_size), 0, 1ull << 60, 1},
	{"images.allow", CFG_T_HOSTS, F(image_allow), 0, 0, 1},
	{"images.deny", CFG_T_HOSTS, F(image_deny), 0, 0, 1},
	{"images.insecure", CFG_T_HOSTS, F(image_insecure), 0, 0, 1},
	{"images.credentials_file", CFG_T_PATH0, F(image_credentials_file), 0, 0, 1},
	{"vm.kernel", CFG_T_PATH0, F(vm_kernel), 0, 0, 1},
	{"vm.initrd", CFG_T_PATH0, F(vm_initrd), 0, 0, 1},
	{"vm.accel", CFG_T_ACCEL, F(vm_accel), 0, 0, 1},
	{"vm.uid_base", CFG_T_U32, F(vm_uid_base), 1000, UINT32_MAX - 65536, 1},
	{"vm.stop_timeout", CFG_T_SECS, F(vm_stop_timeout), 1, 600, 1},
	{"network.wireguard", CFG_T_WGMODE, F(wireguard_mode), 0, 0, 1},
	{"network.public_ip", CFG_T_IPV4, F(public_ip), 0, 0, 1},
	{"network.public_port_min", CFG_T_U32, F(public_port_min), 1, 65535, 1},
	{"network.public_port_max", CFG_T_U32, F(public_port_max), 1, 65535, 1},
	{"network.gateway_domain", CFG_T_DOMAIN, F(gateway_domain), 0, 0, 1},
	{"network.gateway_cert", CFG_T_PATH0, F(gateway_cert), 0, 0, 1},
	{"network.gateway_http_port", CFG_T_U32, F(gateway_http_port), 0, 65535, 1},
	{"network.gateway_https_port", CFG_T_U32, F(gateway_https_port), 0, 65535, 1},
	{"reserved.cru", CFG_T_U32, F(reserved_cru), 0, 4096, 1},
	{"reserved.mru", CFG_T_SIZE, F(reserved_mru), 0, 1ull << 50, 1},
	{"reserved.sru", CFG_T_SIZE, F(reserved_sru), 0, 1ull << 60, 1},
	{"reserved.hru", CFG_T_SIZE, F(reserved_hru), 0, 1ull << 60, 1},
	{"metrics.listen", CFG_T_ADDR, F(metrics_listen), 0, 0, 1},
};
const char *const cfg_wg_mode_names[3] = {"auto", "kernel", "userspace"};
const size_t cfg_nkeys = sizeof cfg_keys / sizeof cfg_keys[0];

const struct cfg_key *cfg_key_find(const char *name)
{
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/* The types kept as a string of at most CFG_STR_MAX bytes (parse_string
 * checks each): one list for the switches below, so that a new string type
 * is parsed, written and sized alike. */
#define CASE_STRING_TYPES                                                                          \
	case CFG_T_URL:                                                                            \
	case CFG_T_PATH:                                                                           \
	case CFG_T_PATH0:                                                                          \
	case CFG_T_RELAY:                                                                          \
	case CFG_T_ACCEL:                                                                          \
	case CFG_T_ADDR:                                                                           \
	case CFG_T_TEXT:                                                                           \
	case CFG_T_HOSTS:                                                                          \
	case CFG_T_RUNTIME:                                                                        \
	case CFG_T_IPV4:                                                                           \
	case CFG_T_DOMAIN

static void *field(struct cfg *c, const struct cfg_key *k)
{
	return (char *)c + k->off;
}

static const void *cfield(const struct cfg *c, const struct cfg_key *k)
{
	return (const char *)c + k->off;
}

/* Decimal digits only: no sign, no spaces, no base prefixes. */
static int parse_u64(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	*end = s;
	return 0;
}

static int parse_scaled(const char *s, const char *units, const uint64_t *mult, uint64_t *out)
{
	const char *end;
	uint64_t v, m = 1;
	int rc = parse_u64(s, &v, &end);
	if (rc)
		return rc;
	if (*end) {
		const char *u = end[1] == 0 ? strchr(units, toupper((unsigned char)*end)) : NULL;
		if (!u || !*u)
			return -EINVAL;
		m = mult[u - units];
	}
	if (v > UINT64_MAX / m)
		return -ERANGE;
	*out = v * m;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -EINVAL;
}

/* host:port after a tcp:// scheme; IPv6 hosts in brackets. */
static int check_hostport(const char *hp)
{
	const char *colon = strrchr(hp, ':');
	const char *end;
	uint64_t port;
	if (!colon || colon == hp)
		return -EINVAL;
	if (hp[0] == '[' && colon[-1] != ']')
		return -EINVAL;
	for (const char *p = hp; p < colon; p++)
		if (*p == '/' || *p == ' ')
			return -EINVAL;
	if (parse_u64(colon + 1, &port, &end) || *end || port == 0 || port > 65535)
		return -EINVAL;
	return 0;
}

static int check_nng_url(const char *s, char *err, size_t errsz)
{
	if (strncmp(s, "tcp://", 6) == 0) {
		if (check_hostport(s + 6) == 0)
			return 0;
		snprintf(err, errsz, "'%s' is not tcp://HOST:PORT", s);
		return ZE_CONFIG;
	}
	if (strncmp(s, "ipc:///", 7) == 0 && s[7])
		return 0;
	snprintf(err, errsz, "'%s' is neither tcp://HOST:PORT nor ipc:///PATH", s);
	return ZE_CONFIG;
}

/* Appends one list item; s is already trimmed and checked for bad bytes. */
static int list_add(struct cfg_list *l, const char *s, char *err, size_t errsz)
{
	if (!*s) {
		snprintf(err, errsz, "empty list item");
		return ZE_CONFIG;
	}
	int rc = check_nng_url(s, err, errsz);
	if (rc)
		return rc;
	for (unsigned i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0) {
			snprintf(err, errsz, "'%s' is listed twice", s);
			return ZE_CONFIG;
		}
	if (l->n == CFG_LIST_MAX) {
		snprintf(err, errsz, "more than %d addresses", CFG_LIST_MAX);
		return ZE_CONFIG;
	}
	snprintf(l->v[l->n++], CFG_STR_MAX, "%s", s);
	return 0;
}

static int parse_list(struct cfg_list *l, const char *text, int append, char *err, size_t errsz)
{
	struct cfg_list tmp = append ? *l : (struct cfg_list){0};
	const char *p = text;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && isspace((unsigned char)*p))
			p++, n--;
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		char item[CFG_STR_MAX];
		if (n >= sizeof item) {
			snprintf(err, errsz, "list item longer than %d bytes", CFG_STR_MAX - 1);
			return ZE_CONFIG;
		}
		memcpy(item, p, n);
		item[n] = 0;
		int rc = list_add(&tmp, item, err, errsz);
		if (rc)
			return rc;
		if (!comma)
			break;
		p = comma + 1;
	}
	*l = tmp;
	return 0;
}

/* Registry host lists: items HOST[:PORT] or "*", separated by commas
 * (spaces around items allowed). */
static int check_hosts(const char *s)
{
	while (*s) {
		while (*s == ' ' || *s == ',')
			s++;
		if (!*s)
			break;
		size_t n = 0, colon = 0;
		while (s[n] && s[n] != ',' && s[n] != ' ') {
			char ch = s[n];
			if (ch == ':') {
				if (colon || n == 0)
					return -EINVAL;
				colon = n;
			} else if (colon ? !isdigit((unsigned char)ch)
			                 : !(isalnum((unsigned char)ch) || ch == '.' || ch == '-' ||
			                     ch == '*')) {
				return -EINVAL;
			}
			n++;
		}
		if ((colon && colon + 1 == n) || (memchr(s, '*', n) && n != 1))
			return -EINVAL;
		s += n;
	}
	return 0;
}

/* One chain endpoint: http(s):// for JSON-RPC over HTTP POST, ws(s):// for
 * WebSocket. */
static int url_ok(const char *s, size_t n)
{
	static const char *const schemes[] = {"http://", "https://", "ws://", "wss://"};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t l = strlen(schemes[i]);
		if (n > l && strncmp(s, schemes[i], l) == 0)
			return 1;
	}
	return 0;
}

/* A comma-separated list of endpoints (spaces around commas allowed). */
static int check_url_list(const char *s, char *err, size_t errsz)
{
	int n = 0;

	for (const char *p = s; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t l = strcspn(p, ", ");
		if (!url_ok(p, l)) {
			snprintf(err, errsz, "'%.*s' is not an http://, https://, ws:// or wss:// URL",
				 (int)l, p);
			return ZE_CONFIG;
		}
		n++;
		p += l;
	}
	if (n == 0) {
		snprintf(err, errsz, "no URL given");
		return ZE_CONFIG;
	}
	if (n > 8) {
		snprintf(err, errsz, "more than 8 endpoints");
		return ZE_CONFIG;
	}
	return 0;
}

static int parse_string(char *dst, enum cfg_type t, const char *s, char *err, size_t errsz)
{
	if (strlen(s) >= CFG_STR_MAX) {
		snprintf(err, errsz, "longer than %d bytes", CFG_STR_MAX - 1);
		return ZE_CONFIG;
	}
	switch (t) {
	case CFG_T_URL:
		if (check_url_list(s, err, errsz) < 0)
			return ZE_CONFIG;
		break;
	case CFG_T_PATH0:
		if (!*s)
			break;
		/* fall through */
	case CFG_T_PATH:
		if (s[0] == '/')
			break;
		snprintf(err, errsz, "'%s' is not an absolute path", s);
		return ZE_CONFIG;
	case CFG_T_RELAY:
		if (!*s || (strncmp(s, "tcp://", 6) == 0 && check_hostport(s + 6) == 0))
			break;
		snprintf(err, errsz, "'%s' is not tcp://HOST:PORT", s);
		return ZE_CONFIG;
	case CFG_T_ACCEL:
		if (!strcmp(s, "auto") || !strcmp(s, "kvm") || !strcmp(s, "tcg"))
			break;
		snprintf(err, errsz, "'%s' is not one of auto, kvm, tcg", s);
		return ZE_CONFIG;
	case CFG_T_ADDR:
		if (!*s || check_hostport(s) == 0)
			break;
		snprintf(err, errsz, "'%s' is not HOST:PORT (empty turns it off)", s);
		return ZE_CONFIG;
	case CFG_T_TEXT:
		break;
	case CFG_T_RUNTIME:
		if (!strcmp(s, "auto") || !strcmp(s, "runc") || !strcmp(s, "crun"))
			break;
		snprintf(err, errsz, "'%s' is not one of auto, runc, crun", s);
		return ZE_CONFIG;
	case CFG_T_HOSTS:
		if (check_hosts(s) == 0)
			break;
		snprintf(err, errsz, "'%s' is not a comma-separated list of HOST[:PORT] or *", s);
		return ZE_CONFIG;
	case CFG_T_DOMAIN: {
		size_t n = strlen(s);
		int ok = n < 200;
		for (const char *p = s; *p && ok; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			     (*p == '.' && p != s && p[1] && p[1] != '.');
		if (ok)
			break;
		snprintf(err, errsz, "'%s' is not a lower-case domain name like gw.example.com", s);
		return ZE_CONFIG;
	}
	case CFG_T_IPV4: {
		struct in_addr a;
		if (!*s || inet_pton(AF_INET, s, &a) == 1)
			break;
		snprintf(err, errsz, "'%s' is not an IPv4 address a.b.c.d", s);
		return ZE_CONFIG;
	}
	default:
		abort();
	}
	memset(dst, 0, CFG_STR_MAX);
	memcpy(dst, s, strlen(s));
	return 0;
}

static int check_range(const struct cfg_key *k, uint64_t v, const char *s, char *err, size_t errsz)
{
	if (v >= k->min && v <= k->max)
		return 0;
	snprintf(err, errsz, "'%s' is out of range %" PRIu64 "..%" PRIu64, s, k->min, k->max);
	return ZE_CONFIG;
}

int cfg_key_parse(struct cfg *c, const struct cfg_key *k, const char *s, int append, char *err,
		  size_t errsz)
{
	static const uint64_t size_mult[] = {KIB, KIB * KIB, GIB, GIB * KIB};
	static const uint64_t secs_mult[] = {1, 60, 3600, 86400};
	uint64_t v;
	int rc;

	/* Control bytes and ';' (an inline comment in the file) would not survive a
	 * round trip through the INI writer. */
	for (const char *p = s; *p; p++)
		if (iscntrl((unsigned char)*p) || *p == ';') {
			snprintf(err, errsz, "control character or ';' in value");
			return ZE_CONFIG;
		}
	switch (k->type) {
	CASE_STRING_TYPES:
		return parse_string(field(c, k), k->type, s, err, errsz);
	case CFG_T_LISTEN:
		return parse_list(field(c, k), s, append, err, errsz);
	case CFG_T_U32:
	case CFG_T_SECS:
		rc = k->type == CFG_T_U32 ? parse_scaled(s, "", NULL, &v)
					  : parse_scaled(s, "SMHD", secs_mult, &v);
		if (rc) {
			snprintf(err, errsz, "'%s' is not a %s", s,
				 k->type == CFG_T_U32 ? "number" : "duration (seconds, or with s/m/h/d)");
			return ZE_CONFIG;
		}
		if ((rc = check_range(k, v, s, err, errsz)) != 0)
			return rc;
		*(uint32_t *)field(c, k) = (uint32_t)v;
		return 0;
	case CFG_T_SIZE:
		if (parse_scaled(s, "KMGT", size_mult, &v) != 0) {
			snprintf(err, errsz, "'%s' is not a size (bytes, or with K/M/G/T)", s);
			return ZE_CONFIG;
		}
		if ((rc = check_range(k, v, s, err, errsz)) != 0)
			return rc;
		*(uint64_t *)field(c, k) = v;
		return 0;
	case CFG_T_BOOL:
		if (parse_bool(s, field(c, k)) == 0)
			return 0;
		snprintf(err, errsz, "'%s' is not a boolean (true/false)", s);
		return ZE_CONFIG;
	case CFG_T_LEVEL:
		if (log_level_parse(s, field(c, k)) == 0)
			return 0;
		snprintf(err, errsz, "'%s' is not one of error, warn, info, debug", s);
		return ZE_CONFIG;
	case CFG_T_TARGET:
		if (log_target_parse(s, field(c, k)) == 0)
			return 0;
		snprintf(err, errsz, "'%s' is not one of auto, stderr, journal", s);
		return ZE_CONFIG;
	case CFG_T_WGMODE:
		for (int i = 0; i < 3; i++)
			if (strcmp(s, cfg_wg_mode_names[i]) == 0) {
				*(int *)field(c, k) = i;
				return 0;
			}
		snprintf(err, errsz, "'%s' is not one of auto, kernel, userspace", s);
		return ZE_CONFIG;
	}
	abort();
}

void cfg_format_size(uint64_t v, char *out, size_t outsz)
{
	static const char units[] = "TGMK";
	static const uint64_t mult[] = {GIB * KIB, GIB, KIB * KIB, KIB};
	for (int i = 0; i < 4 && v; i++)
		if (v % mult[i] == 0) {
			snprintf(out, outsz, "%" PRIu64 "%c", v / mult[i], units[i]);
			return;
		}
	snprintf(out, outsz, "%" PRIu64, v);
}

int cfg_key_write(const struct cfg *c, const struct cfg_key *k, FILE *f)
{
	const char *name = strchr(k->name, '.') + 1;
	const void *p = cfield(c, k);
	char num[32];
	int rc = 0;
	switch (k->type) {
	CASE_STRING_TYPES:
		/* The file reader reads "key =" as the empty string. */
		rc = *(const char *)p ? fprintf(f, "%s = %s\n", name, (const char *)p)
				      : fprintf(f, "%s =\n", name);
		break;
	case CFG_T_LISTEN: {
		/* One line per item: repeated list keys accumulate in a file. */
		const struct cfg_list *l = p;
		for (unsigned i = 0; i < l->n && rc >= 0; i++)
			rc = fprintf(f, "%s = %s\n", name, l->v[i]);
		break;
	}
	case CFG_T_U32:
	case CFG_T_SECS:
		rc = fprintf(f, "%s = %" PRIu32 "\n", name, *(const uint32_t *)p);
		break;
	case CFG_T_SIZE:
		cfg_format_size(*(const uint64_t *)p, num, sizeof num);
		rc = fprintf(f, "%s = %s\n", name, num);
		break;
	case CFG_T_BOOL:
		rc = fprintf(f, "%s = %s\n", name, *(const int *)p ? "true" : "false");
		break;
	case CFG_T_LEVEL:
		rc = fprintf(f, "%s = %s\n", name, log_level_name(*(const enum log_level *)p));
		break;
	case CFG_T_TARGET:
		rc = fprintf(f, "%s = %s\n", name, log_target_name(*(const enum log_target *)p));
		break;
	case CFG_T_WGMODE:
		rc = fprintf(f, "%s = %s\n", name, cfg_wg_mode_names[*(const int *)p % 3]);
		break;
	}
	return rc < 0 ? -EIO : 0;
}

static size_t key_size(const struct cfg_key *k)
{
	switch (k->type) {
	CASE_STRING_TYPES:
		return CFG_STR_MAX;
	case CFG_T_LISTEN:
		return sizeof(struct cfg_list);
	case CFG_T_U32:
	case CFG_T_SECS:
		return sizeof(uint32_t);
	case CFG_T_SIZE:
		return sizeof(uint64_t);
	case CFG_T_BOOL:
	case CFG_T_WGMODE:
		return sizeof(int);
	case CFG_T_LEVEL:
		return sizeof(enum log_level);
	case CFG_T_TARGET:
		return sizeof(enum log_target);
	}
	abort();
}

/* Fields are always zero-filled before being set, so bytes compare exactly. */
int cfg_key_equal(const struct cfg *a, const struct cfg *b, const struct cfg_key *k)
{
	return memcmp(cfield(a, k), cfield(b, k), key_size(k)) == 0;
}

void cfg_key_copy(struct cfg *dst, const struct cfg *src, const struct cfg_key *k)
{
	memcpy(field(dst, k), cfield(src, k), key_size(k));
}
