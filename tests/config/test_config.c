/* Unit tests of config/: sources, precedence, errors, round trip, reload diff. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/zerr.h"
#include "config/config.h"
#include "config/keys.h"

static char dir[64], path[128], path2[128];
static char err[512];

static int setup(void **st)
{
	snprintf(dir, sizeof dir, "/tmp/test_config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/a.conf", dir);
	snprintf(path2, sizeof path2, "%s/b.conf", dir);
	return 0;
}

static int teardown(void **st)
{
	unlink(path);
	unlink(path2);
	return rmdir(dir);
}

static void put(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text as the config file with the given environment and overrides. */
static int load_text(struct cfg *c, const char *text, char **envp, const char **ov, unsigned nov)
{
	put(path, text);
	struct cfg_source src = {.file = path, .envp = envp, .overrides = ov, .n_overrides = nov};
	err[0] = 0;
	return cfg_load(c, &src, err, sizeof err, NULL, 0);
}

static void expect_error(const char *text, const char *want)
{
	struct cfg c;
	char full[256];
	assert_int_equal(load_text(&c, text, NULL, NULL, 0), ZE_CONFIG);
	snprintf(full, sizeof full, "%s:%s", path, want);
	if (strcmp(err, full) != 0)
		fail_msg("got  '%s'\nwant '%s'", err, full);
}

static void defaults_are_complete(void **st)
{
	struct cfg c;
	char *envp[] = {NULL};
	assert_int_equal(load_text(&c, "", envp, NULL, 0), 0);
	assert_string_equal(c.chain_url, "http://127.0.0.1:9944");
	assert_int_equal(c.rmb_listen.n, 2);
	assert_string_equal(c.rmb_listen.v[0], "tcp://0.0.0.0:8800");
	assert_string_equal(c.seed_file, "/var/lib/zos-agent/identity.seed");
	assert_string_equal(c.volumes_dir, "/var/lib/zos-agent/volumes");
	assert_int_equal(c.report_interval, 3600);
	assert_int_equal(c.log_level, LOG_LVL_INFO);
	assert_int_equal(c.reserved_mru, 1ull << 30);
}

static void example_round_trips(void **st)
{
	struct cfg a, b;
	struct cfg_source src = {.file = "config/agent.conf.example"};
	char used[256];
	assert_int_equal(cfg_load(&a, &src, err, sizeof err, used, sizeof used), 0);
	assert_string_equal(used, "config/agent.conf.example");

	FILE *f = fopen(path2, "w");
	assert_non_null(f);
	assert_int_equal(cfg_write(&a, f), 0);
	fclose(f);
	src.file = path2;
	assert_int_equal(cfg_load(&b, &src, err, sizeof err, NULL, 0), 0);
	assert_memory_equal(&a, &b, sizeof a);
	assert_int_equal(cfg_diff(&a, &b, NULL, NULL), 0);
}

static void values_are_parsed(void **st)
{
	struct cfg c;
	const char *text = "[chain]\nurl = https://tfchain.grid.tf\nrpc_timeout = 2m\n"
			   "[rmb]\nlisten = tcp://[::1]:9000\nlisten = ipc:///tmp/x.sock, tcp://10.0.0.1:1\n"
			   "public_address = tcp://1.2.3.4:8800\nmax_message = 64K\n"
			   "[node]\nstate_dir = /srv/zos\nfarm_id = 4294967295\n"
			   "[storage]\nallow_unenforced_volumes = yes\n"
			   "[reserved]\nmru = 3G\nsru = 1536K\nhru = 7\n[log]\nlevel = debug\n"
			   "[images]\nmax_size = 20G\nallow = reg.example.com, 10.0.0.5:5000\n"
			   "deny = *\ninsecure = 127.0.0.1:5000\ncredentials_file = /etc/zos/regs\n";
	assert_int_equal(load_text(&c, text, NULL, NULL, 0), 0);
	assert_string_equal(c.chain_url, "https://tfchain.grid.tf");
	assert_int_equal(c.chain_rpc_timeout, 120);
	assert_int_equal(c.rmb_listen.n, 3);
	assert_string_equal(c.rmb_listen.v[2], "tcp://10.0.0.1:1");
	assert_int_equal(c.rmb_max_message, 65536);
	assert_int_equal(c.farm_id, 4294967295u);
	assert_string_equal(c.seed_file, "/srv/zos/identity.seed");
	assert_int_equal(c.allow_unenforced_volumes, 1);
	assert_int_equal(c.reserved_mru, 3ull << 30);
	assert_int_equal(c.reserved_sru, 1536 * 1024);
	assert_int_equal(c.reserved_hru, 7);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_string_equal(c.image_store_dir, "/srv/zos/image-store");
	assert_int_equal(c.image_max_size, 20ull << 30);
	assert_string_equal(c.image_allow, "reg.example.com, 10.0.0.5:5000");
	assert_string_equal(c.image_deny, "*");
	assert_string_equal(c.image_insecure, "127.0.0.1:5000");
	assert_string_equal(c.image_credentials_file, "/etc/zos/regs");

	char s[32];
	cfg_format_size(3ull << 30, s, sizeof s);
	assert_string_equal(s, "3G");
	cfg_format_size(1536 * 1024, s, sizeof s);
	assert_string_equal(s, "1536K");
	cfg_format_size(0, s, sizeof s);
	assert_string_equal(s, "0");
}

/* What create_node and user_accept_tc take from the config; unset = "". */
static void node_location_and_terms(void **st)
{
	struct cfg c;
	const char *text = "[node]\ncountry = Belgium\ncity = Sint-Martens-Latem\n"
			   "latitude = 51.0167\nlongitude = -3.6\nserial_number = ABC 123\n"
			   "terms_link = https://example.com/tc.md#/\nterms_hash = 0x12ab\n"
			   "uptime_interval = 40m\n";
	assert_int_equal(load_text(&c, text, NULL, NULL, 0), 0);
	assert_string_equal(c.node_country, "Belgium");
	assert_string_equal(c.node_city, "Sint-Martens-Latem");
	assert_string_equal(c.node_latitude, "51.0167");
	assert_string_equal(c.node_longitude, "-3.6");
	assert_string_equal(c.node_serial, "ABC 123");
	assert_string_equal(c.terms_link, "https://example.com/tc.md#/");
	assert_string_equal(c.terms_hash, "0x12ab");
	assert_int_equal(c.uptime_interval, 2400);
	assert_int_equal(load_text(&c, "[node]\nfarm_id = 1\n", NULL, NULL, 0), 0);
	assert_string_equal(c.node_city, "");
	assert_string_equal(c.terms_link, "");
	assert_int_equal(c.uptime_interval, 2400);
	expect_error("[node]\nuptime_interval = 5\n",
		     "2: node.uptime_interval: '5' is out of range 10..86400");
}

static void errors_name_file_line_and_key(void **st)
{
	expect_error("[chain]\nurl = http://x:1\nbogus = 1\n", "3: unknown key 'chain.bogus'");
	expect_error("[nosuch]\nurl = 1\n", "2: unknown key 'nosuch.url'");
	expect_error("\n[rmb]\nworkers = 12x\n", "3: rmb.workers: '12x' is not a number");
	expect_error("[rmb]\nworkers = 0\n", "2: rmb.workers: '0' is out of range 1..256");
	expect_error("[rmb]\nworkers = -1\n", "2: rmb.workers: '-1' is not a number");
	expect_error("[node]\nfarm_id = 4294967296\n",
		     "2: node.farm_id: '4294967296' is out of range 0..4294967295");
	expect_error("[node]\nfarm_id = 99999999999999999999999\n",
		     "2: node.farm_id: '99999999999999999999999' is not a number");
	expect_error("[node]\nfarm_id = 1\nfarm_id = 2\n", "3: node.farm_id: set twice (first on line 2)");
	expect_error("[node]\nstate_dir = var/lib\n", "2: node.state_dir: 'var/lib' is not an absolute path");
	expect_error("[chain]\nurl = ftp://x:9944\n",
		     "2: chain.url: 'ftp://x:9944' is not an http://, https://, ws:// or wss:// URL");
	expect_error("[chain]\nurl = wss://a/ws, tcp://b\n",
		     "2: chain.url: 'tcp://b' is not an http://, https://, ws:// or wss:// URL");
	expect_error("[chain]\nurl = ,\n", "2: chain.url: no URL given");
	expect_error("[chain]\nca_file = ca.pem\n", "2: chain.ca_file: 'ca.pem' is not an absolute path");
	expect_error("[rmb]\nlisten = tcp://x\n", "2: rmb.listen: 'tcp://x' is not tcp://HOST:PORT");
	expect_error("[rmb]\nlisten = tcp://a:1,tcp://a:1\n", "2: rmb.listen: 'tcp://a:1' is listed twice");
	expect_error("[storage]\nallow_unenforced_volumes = maybe\n",
		     "2: storage.allow_unenforced_volumes: 'maybe' is not a boolean (true/false)");
	expect_error("[log]\nlevel = loud\n", "2: log.level: 'loud' is not one of error, warn, info, debug");
	expect_error("[reserved]\nmru = 1X\n", "2: reserved.mru: '1X' is not a size (bytes, or with K/M/G/T)");
	expect_error("[images]\nallow = https://reg.io\n",
		     "2: images.allow: 'https://reg.io' is not a comma-separated list of HOST[:PORT] or *");
	expect_error("[images]\ninsecure = a.io:\n",
		     "2: images.insecure: 'a.io:' is not a comma-separated list of HOST[:PORT] or *");
	expect_error("[images]\ndeny = a*.io\n",
		     "2: images.deny: 'a*.io' is not a comma-separated list of HOST[:PORT] or *");
	expect_error("[images]\ncredentials_file = regs\n",
		     "2: images.credentials_file: 'regs' is not an absolute path");
	expect_error("url = x\n", "1: key 'url' outside a [section]");
	expect_error("[chain]\nthis is not ini\n", "2: syntax error (expected [section] or key = value)");

	/* Lines hold up to CFG_LINE_MAX bytes: a value of CFG_STR_MAX - 1 fits. */
	static char text[CFG_LINE_MAX + 64];
	struct cfg c;
	snprintf(text, sizeof text, "[node]\ncity = %0*d\n", CFG_STR_MAX - 1, 0);
	assert_int_equal(load_text(&c, text, NULL, NULL, 0), 0);
	assert_int_equal(strlen(c.node_city), CFG_STR_MAX - 1);
	snprintf(text, sizeof text, "[node]\ncity = %0*d\n", CFG_STR_MAX, 0);
	expect_error(text, "2: node.city: longer than 511 bytes");
	snprintf(text, sizeof text, "#%0*d\n[node]\nfarm_id = 3\n", CFG_LINE_MAX - 1, 0);
	assert_int_equal(load_text(&c, text, NULL, NULL, 0), 0);
	assert_int_equal(c.farm_id, 3);
	snprintf(text, sizeof text, "[node]\n#%0*d\nfarm_id = 3\n", CFG_LINE_MAX, 0);
	expect_error(text, "2: line longer than 4095 bytes");
	/* A NUL byte would hide the rest of its line. */
	put(path, "[node]\n");
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	assert_int_equal(fwrite("farm_id = 3\0junk\n", 1, 18, f), 18);
	assert_int_equal(fclose(f), 0);
	struct cfg_source src = {.file = path};
	assert_int_equal(cfg_load(&c, &src, err, sizeof err, NULL, 0), ZE_CONFIG);
	assert_non_null(strstr(err, ":2: NUL byte in line"));
	expect_error("[node\nfarm_id = 3\n", "1: syntax error (expected [section] or key = value)");
	expect_error("[node] farm_id = 3\n", "1: text after [section]");
	/* The first error wins, even when a later line is also wrong. */
	expect_error("[rmb]\nworkers = x\n[zzz]\n", "2: rmb.workers: 'x' is not a number");
}

/* The file format of docs/configuration.md, "File format". */
static void file_syntax(void **st)
{
	struct cfg c;
#define SYNTAX_HEAD                                                                                \
	"\xEF\xBB\xBF# a comment\n"                                                                \
	"; another\n"                                                                              \
	"  [rmb] ; trailing comment\n"                                                             \
	"  workers: 7\n"                                                                           \
	"listen = tcp://127.0.0.1:1 ; inline comment\n"                                            \
	"\ttcp://127.0.0.1:2\n"                                                                    \
	"   ipc:///run/x.sock\r\n"                                                                 \
	"\n"                                                                                       \
	"[node]\n"                                                                                 \
	"city =\n"
	expect_error(SYNTAX_HEAD "country = Belgium;Flanders\n",
	             "11: node.country: control character or ';' in value");
	const char *text = SYNTAX_HEAD "country = Belgium # not a comment\n";
#undef SYNTAX_HEAD
	assert_int_equal(load_text(&c, text, NULL, NULL, 0), 0);
	assert_int_equal(c.rmb_workers, 7);
	assert_int_equal(c.rmb_listen.n, 3);
	assert_string_equal(c.rmb_listen.v[0], "tcp://127.0.0.1:1");
	assert_string_equal(c.rmb_listen.v[1], "tcp://127.0.0.1:2");
	assert_string_equal(c.rmb_listen.v[2], "ipc:///run/x.sock");
	assert_string_equal(c.node_city, "");
	assert_string_equal(c.node_country, "Belgium # not a comment");
	/* An indented line continues only a list key. */
	expect_error("[node]\nfarm_id = 3\n  4\n", "3: node.farm_id: set twice (first on line 2)");
	/* A BOM is allowed only at the start of the file. */
	expect_error("[node]\n\xEF\xBB\xBF[rmb]\n",
	             "2: syntax error (expected [section] or key = value)");
}

/* Whatever loads, from any source, prints (zos-agent -n) as a file that
 * loads to the same configuration, long values included. */
static void long_values_round_trip(void **st)
{
	struct cfg a, b;
	static char ov1[CFG_STR_MAX + 32], ov2[CFG_STR_MAX + 32];
	snprintf(ov1, sizeof ov1, "node.city=%0*d", CFG_STR_MAX - 1, 7);
	snprintf(ov2, sizeof ov2, "rmb.listen=ipc:///%0*d", CFG_STR_MAX - 8, 1);
	const char *ov[] = {ov1, ov2};
	assert_int_equal(load_text(&a, "", NULL, ov, 2), 0);
	assert_int_equal(strlen(a.node_city), CFG_STR_MAX - 1);
	FILE *f = fopen(path2, "w");
	assert_non_null(f);
	assert_int_equal(cfg_write(&a, f), 0);
	assert_int_equal(fclose(f), 0);
	struct cfg_source src = {.file = path2};
	assert_int_equal(cfg_load(&b, &src, err, sizeof err, NULL, 0), 0);
	assert_int_equal(cfg_diff(&a, &b, NULL, NULL), 0);
}

static void missing_files(void **st)
{
	struct cfg c;
	struct cfg_source src = {.file = "/nonexistent/agent.conf"};
	assert_int_equal(cfg_load(&c, &src, err, sizeof err, NULL, 0), ZE_CONFIG);
	assert_string_equal(err, "/nonexistent/agent.conf: cannot open: No such file or directory");

	/* A file named by ZOS_AGENT_CONFIG must exist too. */
	char *envp[] = {"ZOS_AGENT_CONFIG=/nonexistent/b.conf", NULL};
	struct cfg_source src2 = {.envp = envp};
	assert_int_equal(cfg_load(&c, &src2, err, sizeof err, NULL, 0), ZE_CONFIG);
	assert_string_equal(err, "/nonexistent/b.conf: cannot open: No such file or directory");
}

static void precedence_file_env_flags(void **st)
{
	struct cfg c;
	const char *text = "[rmb]\nworkers = 2\n[node]\nfarm_id = 1\nreport_interval = 600\n";
	char *envp[] = {"PATH=/bin", "ZOS_AGENT_NODE_FARM_ID=5", "ZOS_AGENT_RMB_LISTEN=tcp://a:1, ipc:///x",
			"ZOS_AGENT_NODE_REPORT_INTERVAL= 120 ", NULL};
	const char *ov[] = {"node.farm_id=9", "log.level=warn"};
	assert_int_equal(load_text(&c, text, envp, ov, 2), 0);
	assert_int_equal(c.rmb_workers, 2);
	assert_int_equal(c.farm_id, 9);
	assert_int_equal(c.report_interval, 120);
	assert_int_equal(c.rmb_listen.n, 2);
	assert_string_equal(c.rmb_listen.v[1], "ipc:///x");
	assert_int_equal(c.log_level, LOG_LVL_WARN);

	char *bad_env[] = {"ZOS_AGENT_NODE_FARMID=5", NULL};
	assert_int_equal(load_text(&c, text, bad_env, NULL, 0), ZE_CONFIG);
	assert_string_equal(err, "environment ZOS_AGENT_NODE_FARMID: unknown variable (no such key)");
	char *bad_val[] = {"ZOS_AGENT_RMB_WORKERS=many", NULL};
	assert_int_equal(load_text(&c, text, bad_val, NULL, 0), ZE_CONFIG);
	assert_string_equal(err, "environment ZOS_AGENT_RMB_WORKERS: rmb.workers: 'many' is not a number");
	const char *bad_ov[] = {"node.farm=1"};
	assert_int_equal(load_text(&c, text, NULL, bad_ov, 1), ZE_CONFIG);
	assert_string_equal(err, "option -o node.farm: unknown key 'node.farm'");
	const char *no_eq[] = {"node.farm_id"};
	assert_int_equal(load_text(&c, text, NULL, no_eq, 1), ZE_CONFIG);
	assert_string_equal(err, "option 'node.farm_id': expected section.key=value");
	char *empty_list[] = {"ZOS_AGENT_RMB_LISTEN=", NULL};
	assert_int_equal(load_text(&c, text, empty_list, NULL, 0), ZE_CONFIG);
	assert_string_equal(err, "environment ZOS_AGENT_RMB_LISTEN: rmb.listen: empty list item");
}

struct changes {
	int n, restart;
	char keys[512];
};

static void note_change(const char *key, int restart, void *arg)
{
	struct changes *ch = arg;
	ch->n++;
	ch->restart += restart;
	size_t used = strlen(ch->keys);
	snprintf(ch->keys + used, sizeof ch->keys - used, "%s ", key);
}

static void reload_diff(void **st)
{
	struct cfg cur, next;
	assert_int_equal(load_text(&cur, "[node]\nfarm_id = 1\n", NULL, NULL, 0), 0);
	assert_int_equal(load_text(&next, "[node]\nfarm_id = 2\nreport_interval = 90\n[log]\nlevel = debug\n",
				   NULL, NULL, 0), 0);
	struct changes ch = {0};
	assert_int_equal(cfg_diff(&cur, &next, note_change, &ch), 3);
	assert_int_equal(ch.restart, 1);
	assert_string_equal(ch.keys, "node.farm_id node.report_interval log.level ");
	cfg_keep_restart_keys(&next, &cur);
	assert_int_equal(next.farm_id, 1);
	assert_int_equal(next.report_interval, 90);
	assert_int_equal(next.log_level, LOG_LVL_DEBUG);
	memset(&ch, 0, sizeof ch);
	assert_int_equal(cfg_diff(&cur, &next, note_change, &ch), 2);
	assert_int_equal(ch.restart, 0);
}

/* Whether file has a line "[section]" followed (before the next section) by
 * a line "key =" or "#key =". */
static int example_documents(const char *file, const char *name)
{
	char sec[64], line[512];
	const char *dot = strchr(name, '.');
	snprintf(sec, sizeof sec, "[%.*s]\n", (int)(dot - name), name);
	FILE *f = fopen(file, "r");
	assert_non_null(f);
	int in = 0, found = 0;
	size_t klen = strlen(dot + 1);
	while (!found && fgets(line, sizeof line, f)) {
		if (line[0] == '[')
			in = strcmp(line, sec) == 0;
		const char *k = line[0] == '#' ? line + 1 : line;
		if (in && strncmp(k, dot + 1, klen) == 0 && strncmp(k + klen, " =", 2) == 0)
			found = 1;
	}
	fclose(f);
	return found;
}

/* Every connection may hold one frame: a budget below one frame is refused,
 * naming both keys. */
static void memory_budget_fits_a_frame(void **st)
{
	struct cfg c;
	assert_int_equal(load_text(&c, "[rmb]\nmemory_budget = 256M\nmax_message = 64M\n"
				      "frame_timeout = 5\n",
				   NULL, NULL, 0),
			 0);
	assert_int_equal(c.rmb_memory_budget, 256ull << 20);
	assert_int_equal(c.rmb_frame_timeout, 5);
	assert_int_equal(load_text(&c, "[rmb]\nmemory_budget = 1M\nmax_message = 2M\n", NULL, NULL, 0),
			 ZE_CONFIG);
	assert_non_null(strstr(err, "rmb.memory_budget"));
	assert_non_null(strstr(err, "rmb.max_message"));
}

static void every_key_is_documented(void **st)
{
	for (size_t i = 0; i < cfg_nkeys; i++) {
		if (!example_documents("config/agent.conf.example", cfg_keys[i].name))
			fail_msg("%s is missing from config/agent.conf.example", cfg_keys[i].name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_complete),
		cmocka_unit_test(example_round_trips),
		cmocka_unit_test(values_are_parsed),
		cmocka_unit_test(node_location_and_terms),
		cmocka_unit_test(errors_name_file_line_and_key),
		cmocka_unit_test(file_syntax),
		cmocka_unit_test(long_values_round_trip),
		cmocka_unit_test(missing_files),
		cmocka_unit_test(precedence_file_env_flags),
		cmocka_unit_test(reload_diff),
		cmocka_unit_test(every_key_is_documented),
		cmocka_unit_test(memory_budget_fits_a_frame),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
