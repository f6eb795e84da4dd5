/*
 * zos-cli key: generate, inspect, sign and verify with ed25519 and sr25519
 * account keys, and the shared loader of signing keys for the other commands.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cli/cli.h"
#include "common/bip39.h"
#include "common/hex.h"
#include "common/num.h"
#include "common/zerr.h"

void cli_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "zos-cli: %s\n", msg);
}

int cli_keysrc_opt(struct cli_keysrc *s, int opt, const char *arg)
{
	/* Each key option sets one field of s, in the order of CLI_OPT_*. */
	const char **field[] = {&s->seed_file,     &s->seed_hex, &s->dev,     &s->suri,
	                        &s->mnemonic_file, &s->scheme,   &s->password};
	_Static_assert(CLI_OPT_PASSWORD - CLI_OPT_SEED_FILE == 6, "one field per key option");
	if (opt < CLI_OPT_SEED_FILE ||
	    opt >= CLI_OPT_SEED_FILE + (int)(sizeof field / sizeof *field))
		return 0;
	*field[opt - CLI_OPT_SEED_FILE] = arg;
	return 1;
}

int cli_keysrc_given(const struct cli_keysrc *s)
{
	return s->seed_file || s->seed_hex || s->dev || s->suri || s->mnemonic_file;
}

/* --scheme's value: every command that takes it says the same when it is
 * not a scheme. */
static int scheme_arg(const char *arg, int *scheme)
{
	if (key_scheme_parse(arg, scheme) == 0)
		return 0;
	cli_err("unknown --scheme '%s' (ed25519 or sr25519)", arg);
	return -EINVAL;
}

int cli_keysrc_scheme(const struct cli_keysrc *s, int *scheme)
{
	const char *env = getenv("ZOS_KEY_SCHEME");
	*scheme = KEY_ED25519;
	if (s->scheme) {
		if (scheme_arg(s->scheme, scheme) != 0)
			return -EINVAL;
	} else if (env && *env && key_scheme_parse(env, scheme) != 0) {
		cli_err("unknown scheme '%s' in $ZOS_KEY_SCHEME (ed25519 or sr25519)", env);
		return -EINVAL;
	}
	return 0;
}

/* Names why a secret URI did not give a key. */
static void suri_error(const char *what, int rc)
{
	if (rc == -ENOTSUP)
		cli_err("%s has a soft junction (/x), which ed25519 cannot derive; use hard "
			"junctions (//x) or --scheme sr25519",
			what);
	else if (rc == ZE_MALFORMED)
		cli_err("%s is not a valid secret URI: want PHRASE[//hard|/soft...][///password] "
			"with 12-24 English BIP-0039 words and a valid checksum, 0x and 64 hex "
			"digits, or //Name",
			what);
	else
		cli_err("%s: %s", what, zerr_str(rc));
}

static int load_file(const char *path, int scheme, const char *password, struct zkey *k)
{
	int rc = key_file_load(path, scheme, password, k);
	if (rc == -EPERM)
		cli_err("%s is readable by group or others; refusing to use it (chmod 600 %s)",
			path, path);
	else if (rc == ZE_MALFORMED || rc == -ENOTSUP) {
		char what[4200];
		snprintf(what, sizeof what, "%s (a key file: phrase, secret URI or hex seed)",
			 path);
		suri_error(what, rc);
	} else if (rc)
		cli_err("cannot read %s: %s", path, zerr_str(rc));
	return rc;
}

int cli_load_key(const struct cli_keysrc *s, struct zkey *k)
{
	int n = !!s->seed_file + !!s->seed_hex + !!s->dev + !!s->suri + !!s->mnemonic_file, rc;
	int scheme;
	if (n != 1) {
		cli_err(
		    "give exactly one of --suri, --mnemonic-file, --seed-file, --seed or --dev");
		return -EINVAL;
	}
	if ((rc = cli_keysrc_scheme(s, &scheme)) != 0)
		return rc;
	if (s->dev) {
		rc = key_dev_scheme(s->dev, scheme, k);
		if (rc == -ENOENT)
			cli_err("unknown dev account '%s' (alice, bob, charlie, dave, eve, ferdie; "
				"other paths with --suri '//Name//path')",
				s->dev);
		return rc;
	}
	if (s->suri) {
		rc = key_from_suri(s->suri, scheme, s->password, k);
		if (rc)
			suri_error("--suri", rc);
		return rc;
	}
	if (s->seed_hex) {
		uint8_t seed[32];
		rc = hex_decode_fixed(s->seed_hex, seed, sizeof seed);
		if (rc == 0)
			rc = key_from_seed_scheme(scheme, seed, k);
		else
			cli_err("--seed needs 64 hex digits (32 bytes, optional 0x)");
		sodium_memzero(seed, sizeof seed);
		return rc;
	}
	return load_file(s->seed_file ? s->seed_file : s->mnemonic_file, scheme, s->password, k);
}

static void key_usage(FILE *f)
{
	fprintf(f,
		"usage: zos-cli key generate [--scheme ed25519|sr25519] [--words N] [--password PW]\n"
		"                            [--out FILE] [--json]\n"
		"       zos-cli key inspect " CLI_KEY_USAGE " [--password PW] [--show-secret] "
		"[--json]\n"
		"       zos-cli key inspect --account SS58|0xHEX[/soft...] [--scheme S] [--json]\n"
		"       zos-cli key sign " CLI_KEY_USAGE " --message TEXT [--hex]\n"
		"       zos-cli key verify --scheme S --account SS58|0xHEX --message TEXT\n"
		"                          --signature HEX [--hex]\n"
		"\n"
		"generate  makes a new BIP-0039 phrase (--words 12, 15, 18, 21 or 24; default\n"
		"          12) and prints its account for the scheme. With\n"
		"          --out the phrase goes to FILE (mode 0600, never overwritten) and only\n"
		"          public fields are printed; without it the phrase and seed are\n"
		"          printed, once: write them down. --password is BIP-0039's password:\n"
		"          the account needs it with the phrase (it is not written to FILE).\n"
		"inspect   prints the scheme, account id, public key, SS58 address (prefix 42)\n"
		"          and, for ed25519, the x25519 public key used for workload encryption.\n"
		"          URIs are Substrate's: PHRASE[//hard|/soft...][///password], 0xSEED, or\n"
		"          //Alice//stash (the dev phrase). Soft junctions need sr25519.\n"
		"sign      signs TEXT (or, with --hex, the bytes of 0xHEX TEXT) and prints the\n"
		"          signature as 0x-hex (sr25519 uses Substrate's \"substrate\" context).\n"
		"verify    exits 0 when the signature is valid for the account, 1 otherwise.\n"
		"\n"
		"The scheme is --scheme, else $ZOS_KEY_SCHEME, else ed25519. Accounts made\n"
		"with the ThreeFold dashboard, polkadot.js or subkey are sr25519.\n");
}

static int generate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"out", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"scheme", required_argument, NULL, 's'},
		{"words", required_argument, NULL, 'w'},
		{"password", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL, *password = NULL;
	int json = 0, opt, rc, scheme;
	uint64_t words = 12;
	struct cli_keysrc none = {0};

	if (cli_keysrc_scheme(&none, &scheme) != 0)
		return CLI_USAGE;
	char phrase[BIP39_PHRASE_MAX];
	struct zkey k;

	while ((opt = getopt_long(argc, argv, "o:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 's':
			if (scheme_arg(optarg, &scheme) != 0)
				return CLI_USAGE;
			break;
		case 'p': password = optarg; break;
		case 'w':
			if (num_u64(optarg, 24, &words) != 0 || words < 12 || words % 3) {
				cli_err("--words must be 12, 15, 18, 21 or 24");
				return CLI_USAGE;
			}
			break;
		case 'h':
			key_usage(stdout);
			return CLI_OK;
		default:
			key_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		key_usage(stderr);
		return CLI_USAGE;
	}
	if ((rc = key_generate_phrase((int)words, phrase, sizeof phrase)) != 0 ||
	    (rc = key_from_suri(phrase, scheme, password, &k)) != 0) {
		sodium_memzero(phrase, sizeof phrase);
		cli_err("cannot generate a key: %s", zerr_str(rc));
		return CLI_FAIL;
	}
	if (out) {
		rc = key_secret_file_write(out, phrase);
		if (rc) {
			cli_err("cannot create %s: %s", out,
				rc == -EEXIST ? "file exists, not overwriting" : zerr_str(rc));
			sodium_memzero(phrase, sizeof phrase);
			key_wipe(&k);
			return CLI_FAIL;
		}
		rc = key_print_info_scheme(scheme, k.pk, NULL, NULL, json, stdout);
	} else {
		rc = key_print_info_scheme(scheme, k.pk, k.seed, phrase, json, stdout);
	}
	sodium_memzero(phrase, sizeof phrase);
	key_wipe(&k);
	return rc == 0 ? CLI_OK : CLI_FAIL;
}

static int inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_KEY_LONGOPTS,
		{"account", required_argument, NULL, 'a'},
		{"show-secret", no_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_keysrc src = {0};
	const char *account = NULL;
	int json = 0, secret = 0, opt, rc, scheme;

	while ((opt = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		if (cli_keysrc_opt(&src, opt, optarg))
			continue;
		switch (opt) {
		case 'a':
			account = optarg;
			break;
		case 's':
			secret = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			key_usage(stdout);
			return CLI_OK;
		default:
			key_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc || (account && (cli_keysrc_given(&src) || secret))) {
		key_usage(stderr);
		return CLI_USAGE;
	}
	if (cli_keysrc_scheme(&src, &scheme) != 0)
		return CLI_USAGE;
	if (account) {
		uint8_t pk[32];
		rc = key_public_from_uri(account, scheme, pk);
		if (rc == -ENOTSUP) {
			cli_err("'%s': only soft junctions (/x) of an sr25519 account follow from "
				"the public key (--scheme sr25519); hard ones need the secret",
				account);
			return CLI_FAIL;
		}
		if (rc) {
			cli_err("'%s' is neither an SS58 address nor 32 bytes of 0x-hex (optionally "
				"followed by soft junctions /x)",
				account);
			return CLI_FAIL;
		}
		/* An address does not say its scheme: print it only when given. */
		rc = key_print_info_scheme(src.scheme ? scheme : KEY_SCHEME_UNKNOWN, pk, NULL, NULL,
					   json, stdout);
		if (rc)
			cli_err("cannot print the account: %s", zerr_str(rc));
		return rc == 0 ? CLI_OK : CLI_FAIL;
	}
	if (!cli_keysrc_given(&src)) {
		key_usage(stderr);
		return CLI_USAGE;
	}
	struct zkey k;
	if ((rc = cli_load_key(&src, &k)) != 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	rc = key_print_info_scheme(k.scheme, k.pk, secret && k.has_seed ? k.seed : NULL, NULL, json,
				   stdout);
	key_wipe(&k);
	return rc == 0 ? CLI_OK : CLI_FAIL;
}

/* The message bytes: the text itself, or with hex its decoding (0x optional).
 * *buf is heap memory the caller frees. */
static int message_bytes(const char *text, int hex, uint8_t **buf, size_t *n)
{
	size_t len = strlen(text);
	if (!hex) {
		*buf = malloc(len ? len : 1);
		if (!*buf)
			return -ENOMEM;
		memcpy(*buf, text, len);
		*n = len;
		return 0;
	}
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		text += 2;
		len -= 2;
	}
	if (len % 2)
		return ZE_MALFORMED;
	*buf = malloc(len / 2 ? len / 2 : 1);
	if (!*buf)
		return -ENOMEM;
	if (sodium_hex2bin(*buf, len / 2, text, len, NULL, n, NULL) != 0 || *n != len / 2) {
		free(*buf);
		*buf = NULL;
		return ZE_MALFORMED;
	}
	return 0;
}

static int sign(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_KEY_LONGOPTS,
		{"message", required_argument, NULL, 'm'},
		{"hex", no_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_keysrc src = {0};
	const char *message = NULL;
	int hex = 0, opt, rc;
	uint8_t *msg, sig[64];
	size_t n;
	char out[131];

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_keysrc_opt(&src, opt, optarg))
			continue;
		switch (opt) {
		case 'm':
			message = optarg;
			break;
		case 'x':
			hex = 1;
			break;
		case 'h':
			key_usage(stdout);
			return CLI_OK;
		default:
			key_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind != argc || !message) {
		key_usage(stderr);
		return CLI_USAGE;
	}
	if (message_bytes(message, hex, &msg, &n) != 0) {
		cli_err("--message with --hex needs hex digits (optional 0x)");
		return CLI_USAGE;
	}
	struct zkey k;
	if ((rc = cli_load_key(&src, &k)) != 0) {
		free(msg);
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	}
	rc = key_sign(&k, msg, n, sig);
	key_wipe(&k);
	free(msg);
	if (rc == 0)
		rc = hex_encode(sig, 64, 1, out, sizeof out);
	if (rc) {
		cli_err("cannot sign: %s", zerr_str(rc));
		return CLI_FAIL;
	}
	printf("%s\n", out);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static int verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"scheme", required_argument, NULL, 's'},
		{"account", required_argument, NULL, 'a'},
		{"message", required_argument, NULL, 'm'},
		{"signature", required_argument, NULL, 'g'},
		{"hex", no_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *account = NULL, *message = NULL, *signature = NULL;
	int hex = 0, opt, rc, scheme = -1;
	uint8_t pk[32], sig[64], *msg;
	size_t n;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (scheme_arg(optarg, &scheme) != 0)
				return CLI_USAGE;
			break;
		case 'a':
			account = optarg;
			break;
		case 'm':
			message = optarg;
			break;
		case 'g':
			signature = optarg;
			break;
		case 'x':
			hex = 1;
			break;
		case 'h':
			key_usage(stdout);
			return CLI_OK;
		default:
			key_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (scheme < 0 && getenv("ZOS_KEY_SCHEME")) {
		struct cli_keysrc none = {0};
		if (cli_keysrc_scheme(&none, &scheme) != 0)
			return CLI_USAGE;
	}
	if (optind != argc || scheme < 0 || !account || !message || !signature) {
		cli_err("key verify needs --scheme, --account, --message and --signature");
		key_usage(stderr);
		return CLI_USAGE;
	}
	if (key_parse_account(account, pk) != 0) {
		cli_err("'%s' is neither an SS58 address nor 32 bytes of 0x-hex", account);
		return CLI_USAGE;
	}
	if (hex_decode_fixed(signature, sig, sizeof sig) != 0) {
		cli_err("--signature needs 64 bytes of hex (128 digits, optional 0x)");
		return CLI_USAGE;
	}
	if (message_bytes(message, hex, &msg, &n) != 0) {
		cli_err("--message with --hex needs hex digits (optional 0x)");
		return CLI_USAGE;
	}
	rc = key_verify_scheme(scheme, pk, msg, n, sig);
	free(msg);
	if (rc) {
		cli_err("the signature is not valid for this account, scheme and message");
		return CLI_FAIL;
	}
	printf("signature: valid\n");
	return CLI_OK;
}

int cli_cmd_key(int argc, char **argv)
{
	if (argc < 2) {
		key_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		key_usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "generate") == 0)
		return generate(argc - 1, argv + 1);
	if (strcmp(argv[1], "inspect") == 0)
		return inspect(argc - 1, argv + 1);
	if (strcmp(argv[1], "sign") == 0)
		return sign(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return verify(argc - 1, argv + 1);
	cli_err("unknown key command '%s'", argv[1]);
	key_usage(stderr);
	return CLI_USAGE;
}
