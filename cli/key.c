/*
 * zos-cli key: generate and inspect ed25519 account keys, and the shared
 * loader of signing keys for the other commands.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "cli/cli.h"
#include "common/hex.h"
#include "common/zerr.h"

const char *cli_url_append(const char *prev, const char *next)
{
	static char list[2048];
	char tmp[sizeof(list)];

	if (!prev)
		return next;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s,%s", prev, next) >= sizeof(tmp)) {
		cli_err("--url: the endpoint list is over %zu bytes; %s left out", sizeof(list) - 1,
			next);
		return prev;
	}
	memcpy(list, tmp, sizeof(list));
	return list;
}

void cli_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "zos-cli: %s\n", msg);
}

int cli_parse_digits(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (x > (max - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int cli_keysrc_opt(struct cli_keysrc *s, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_SEED_FILE: s->seed_file = arg; return 1;
	case CLI_OPT_SEED: s->seed_hex = arg; return 1;
	case CLI_OPT_DEV: s->dev = arg; return 1;
	default: return 0;
	}
}

int cli_keysrc_given(const struct cli_keysrc *s)
{
	return s->seed_file || s->seed_hex || s->dev;
}

int cli_load_key(const struct cli_keysrc *s, struct zkey *k)
{
	int n = !!s->seed_file + !!s->seed_hex + !!s->dev, rc;
	if (n != 1) {
		cli_err("give exactly one of --seed-file, --seed or --dev");
		return -EINVAL;
	}
	if (s->dev) {
		rc = key_dev(s->dev, k);
		if (rc == -ENOENT)
			cli_err("unknown dev account '%s' (alice, bob, charlie, dave, eve, ferdie)", s->dev);
		return rc;
	}
	if (s->seed_hex) {
		uint8_t seed[32];
		rc = hex_decode_fixed(s->seed_hex, seed, sizeof seed);
		if (rc == 0)
			rc = key_from_seed(seed, k);
		else
			cli_err("--seed needs 64 hex digits (32 bytes, optional 0x)");
		sodium_memzero(seed, sizeof seed);
		return rc;
	}
	rc = key_seed_file_load(s->seed_file, k);
	if (rc == -EPERM)
		cli_err("%s is readable by group or others; refusing to use it (chmod 600 %s)",
			s->seed_file, s->seed_file);
	else if (rc == ZE_MALFORMED)
		cli_err("%s does not hold a seed (64 hex digits)", s->seed_file);
	else if (rc)
		cli_err("cannot read %s: %s", s->seed_file, zerr_str(rc));
	return rc;
}

static void key_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli key generate [--out FILE] [--json]\n"
		   "       zos-cli key inspect " CLI_KEY_USAGE " [--show-secret] [--json]\n"
		   "       zos-cli key inspect --account SS58|0xHEX [--json]\n"
		   "\n"
		   "generate  makes a new ed25519 key. With --out the seed goes to FILE (mode\n"
		   "          0600, never overwritten) and only public fields are printed;\n"
		   "          without it the secret seed is printed too.\n"
		   "inspect   prints the account id, SS58 address (prefix 42) and the x25519\n"
		   "          public key used for workload encryption.\n");
}

static int generate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"out", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int json = 0, opt, rc;
	struct zkey k;

	while ((opt = getopt_long(argc, argv, "o:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'j': json = 1; break;
		case 'h': key_usage(stdout); return CLI_OK;
		default: key_usage(stderr); return CLI_USAGE;
		}
	}
	if (optind != argc) {
		key_usage(stderr);
		return CLI_USAGE;
	}
	if (out) {
		rc = key_seed_file_create(out, &k);
		if (rc) {
			cli_err("cannot create %s: %s", out, rc == -EEXIST ? "file exists, not overwriting" :
									 zerr_str(rc));
			return CLI_FAIL;
		}
		rc = key_print_info(k.pk, NULL, json, stdout);
	} else {
		if ((rc = key_generate(&k)) != 0) {
			cli_err("cannot generate a key: %s", zerr_str(rc));
			return CLI_FAIL;
		}
		rc = key_print_info(k.pk, k.seed, json, stdout);
	}
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
	int json = 0, secret = 0, opt, rc;

	while ((opt = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		if (cli_keysrc_opt(&src, opt, optarg))
			continue;
		switch (opt) {
		case 'a': account = optarg; break;
		case 's': secret = 1; break;
		case 'j': json = 1; break;
		case 'h': key_usage(stdout); return CLI_OK;
		default: key_usage(stderr); return CLI_USAGE;
		}
	}
	if (optind != argc || (account && (cli_keysrc_given(&src) || secret))) {
		key_usage(stderr);
		return CLI_USAGE;
	}
	if (account) {
		uint8_t pk[32];
		if (key_parse_account(account, pk) != 0) {
			cli_err("'%s' is neither an SS58 address nor 32 bytes of 0x-hex", account);
			return CLI_FAIL;
		}
		return key_print_info(pk, NULL, json, stdout) == 0 ? CLI_OK : CLI_FAIL;
	}
	if (!cli_keysrc_given(&src)) {
		key_usage(stderr);
		return CLI_USAGE;
	}
	struct zkey k;
	if ((rc = cli_load_key(&src, &k)) != 0)
		return rc == -EINVAL ? CLI_USAGE : CLI_FAIL;
	rc = key_print_info(k.pk, secret ? k.seed : NULL, json, stdout);
	key_wipe(&k);
	return rc == 0 ? CLI_OK : CLI_FAIL;
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
	cli_err("unknown key command '%s'", argv[1]);
	key_usage(stderr);
	return CLI_USAGE;
}
