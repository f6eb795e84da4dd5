/*
 * zos-cli: commands and the helpers they share.
 *
 * A command is `int fn(int argc, char **argv)` listed in the table of
 * cli/main.c. It receives argv[0] = its own name and the arguments after it,
 * with getopt's state reset (optind = 0), and returns the process exit code:
 * CLI_OK, CLI_FAIL (the operation failed, reason on stderr) or CLI_USAGE.
 * Output for scripts: one "name: value" line per field, or JSON with --json.
 */
#ifndef ZOS_CLI_CLI_H
#define ZOS_CLI_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "common/key.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Commands (one line each in the table in cli/main.c). */
int cli_cmd_key(int argc, char **argv);
/* zos-cli chain SUBCOMMAND: a table of subcommands in cli/chain_offline.c. */
int cli_chain_main(int argc, char **argv);
/* Chain subcommands, each receiving argv[0] = its name. */
int cli_chain_sign(int argc, char **argv); /* chain_sign.c */
int cli_chain_get(int argc, char **argv);  /* chain_online.c */
int cli_chain_call(int argc, char **argv); /* chain_online.c */
int cli_cmd_rmb(int argc, char **argv);
/* zos-cli network wg-key|wg-config (cli/network.c). */
int cli_network_main(int argc, char **argv);

/* ---- The chain's address (chain_url.c) --------------------------------- */

#define CLI_CHAIN_DEFAULT_URL "http://127.0.0.1:9944"
/* given, else $ZOS_CHAIN_URL, else CLI_CHAIN_DEFAULT_URL (static strings). */
const char *cli_chain_url(const char *given);
/*
 * Checks each URL of a chain endpoint list before anything is sent: the
 * scheme must be http, https, ws or wss. Prints which schemes work (or, for
 * tcp:// and ipc://, that the node's RMB address goes with --rmb); -EINVAL.
 */
int cli_chain_url_check(const char *list);
/*
 * The words for a chain call that failed with rc: for a transport failure
 * the cause at the address tried and the fix ("connection refused at URL:
 * ... start tfchain-dev ... or set --url / ZOS_CHAIN_URL", timeout, HTTP
 * status), else zerr_str(rc). A static buffer, valid until the next call.
 */
const char *cli_chain_why(int rc);
/* Refuses (printed, -EINVAL) a chain URL given to --rmb. */
int cli_rmb_addr_check(const char *addr);
/* 0 when rc came from a chain that was never reached (nothing was sent). */
int cli_chain_reached(int rc);
/* --chain, kept for old scripts: prints a one-line deprecation warning on
 * stderr (once) and returns arg. */
const char *cli_chain_alias(const char *arg);

/* Prints "zos-cli: <message>\n" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The one parser for numbers on the command line, options and positional
 * arguments alike (cli/opts.c): s as plain decimal digits (common/num.h) in
 * [min, max] into *v, else a message naming what ("--node", "contract ID")
 * and the range, and -EINVAL.
 */
int cli_parse_num(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *v);

/*
 * Where a signing key comes from: exactly one of --suri URI (a Substrate
 * secret URI: phrase, 0x seed or //Dev with junctions and ///password),
 * --mnemonic-file FILE or --seed-file FILE (a file holding a phrase, a URI
 * or a hex seed; refused when group- or world-readable), --seed HEX, or
 * --dev NAME (alice..ferdie). --suri and --seed are visible to other users in
 * the process list: files are for real keys. --scheme ed25519|sr25519 picks
 * the signature scheme (default $ZOS_KEY_SCHEME, then ed25519); --password
 * the BIP-0039 password (overrides one in the URI). Commands add CLI_KEY_LONGOPTS to their
 * getopt_long table and hand every option to cli_keysrc_opt() first.
 */
struct cli_keysrc {
	const char *seed_file;
	const char *seed_hex;
	const char *dev;
	const char *suri;
	const char *mnemonic_file;
	const char *scheme;
	const char *password;
};

enum {
	CLI_OPT_SEED_FILE = 0x1000,
	CLI_OPT_SEED,
	CLI_OPT_DEV,
	CLI_OPT_SURI,
	CLI_OPT_MNEMONIC_FILE,
	CLI_OPT_SCHEME,
	CLI_OPT_PASSWORD,
};

#define CLI_KEY_LONGOPTS                                                   \
	{"seed-file", required_argument, NULL, CLI_OPT_SEED_FILE},         \
		{"seed", required_argument, NULL, CLI_OPT_SEED},           \
		{"dev", required_argument, NULL, CLI_OPT_DEV},             \
		{"suri", required_argument, NULL, CLI_OPT_SURI},           \
		{"mnemonic-file", required_argument, NULL,                 \
		 CLI_OPT_MNEMONIC_FILE},                                   \
		{"scheme", required_argument, NULL, CLI_OPT_SCHEME},       \
		{"password", required_argument, NULL, CLI_OPT_PASSWORD}

#define CLI_KEY_USAGE                                                               \
	"(--suri URI | --mnemonic-file FILE | --seed-file FILE | --seed HEX | --dev " \
	"NAME) [--scheme ed25519|sr25519]"

/* Records opt if it is one of the key options: returns 1, else 0. */
int cli_keysrc_opt(struct cli_keysrc *s, int opt, const char *arg);
/* 1 when any key source option was given (--scheme/--password alone: 0). */
int cli_keysrc_given(const struct cli_keysrc *s);
/* The scheme named by --scheme, else by $ZOS_KEY_SCHEME, else KEY_ED25519;
 * -EINVAL, with a message, for an unknown name. */
int cli_keysrc_scheme(const struct cli_keysrc *s, int *scheme);
/* Loads the key; exactly one source must be set. Prints the reason on
 * failure and returns a negative error (-EINVAL when none or several were
 * given). The caller wipes k with key_wipe(). */
int cli_load_key(const struct cli_keysrc *s, struct zkey *k);

/*
 * The options many commands share (cli/opts.c): the key sources, --url URL
 * (repeatable, or URLs separated by commas: the chain's endpoint list),
 * --chain URL (--url's deprecated alias), --rmb ADDR (a node's RMB address)
 * and --json. A command lists in its getopt_long table the ones it takes
 * (CLI_KEY_LONGOPTS, CLI_URL_LONGOPT, ...) and hands every option to
 * cli_opt() first; what the table does not list is never accepted.
 */
enum {
	CLI_OPT_URL = 0x1100,
	CLI_OPT_CHAIN,
	CLI_OPT_RMB,
	CLI_OPT_JSON,
};
#define CLI_URL_LONGOPT {"url", required_argument, NULL, CLI_OPT_URL}
#define CLI_CHAIN_LONGOPT {"chain", required_argument, NULL, CLI_OPT_CHAIN}
#define CLI_RMB_LONGOPT {"rmb", required_argument, NULL, CLI_OPT_RMB}
#define CLI_JSON_LONGOPT {"json", no_argument, NULL, CLI_OPT_JSON}

struct cli_opts {
	struct cli_keysrc keysrc;
	const char *url; /* the chain's endpoint list; NULL: cli_chain_url()'s default */
	const char *rmb; /* a node's RMB address; NULL: its twin's relay */
	int json;
};

/* Records opt if it is one of the shared options (the key sources
 * included): returns 1, else 0. */
int cli_opt(struct cli_opts *o, int opt, const char *arg);

#endif
