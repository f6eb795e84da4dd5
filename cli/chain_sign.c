/*
 * zos-cli chain sign: builds a signed extrinsic v4 offline from a SCALE call
 * and everything the signature commits to.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/xt.h"
#include "cli/chain.h"
#include "cli/cli.h"
#include "common/hex.h"
#include "common/zerr.h"

#define MAX_CALL_BYTES (4u << 20)

static const char sign_usage[] =
	"usage: zos-cli chain sign " CLI_KEY_USAGE " --call 0xHEX --nonce N [--tip N]\n"
	"         (--immortal | --era-period P --era-current B) --spec-version N\n"
	"         --tx-version N --genesis 0xHASH [--block-hash 0xHASH] [--metadata-file F]\n"
	"\n"
	"Prints the signed extrinsic (MultiAddress::Id, MultiSignature::Ed25519, or\n"
	"::Sr25519 with --scheme sr25519) as 0x-hex. --block-hash is the era's birth\n"
	"block: required for a mortal era,\n"
	"the genesis hash by default for an immortal one. Signed extensions come from\n"
	"--metadata-file, else tfchain's list.\n";

enum {
	OPT_CALL = 0x2000, OPT_NONCE, OPT_TIP, OPT_IMMORTAL, OPT_ERA_PERIOD, OPT_ERA_CURRENT,
	OPT_SPEC, OPT_TXV, OPT_GENESIS, OPT_BLOCK, OPT_META,
};

struct sign_args {
	struct cli_keysrc key;
	const char *call, *nonce, *tip, *era_period, *era_current, *spec, *txv, *genesis, *block,
		*meta;
	int immortal;
};

static int parse_opts(int argc, char **argv, struct sign_args *a)
{
	static const struct option longopts[] = {
		CLI_KEY_LONGOPTS,
		{"call", required_argument, NULL, OPT_CALL},
		{"nonce", required_argument, NULL, OPT_NONCE},
		{"tip", required_argument, NULL, OPT_TIP},
		{"immortal", no_argument, NULL, OPT_IMMORTAL},
		{"era-period", required_argument, NULL, OPT_ERA_PERIOD},
		{"era-current", required_argument, NULL, OPT_ERA_CURRENT},
		{"spec-version", required_argument, NULL, OPT_SPEC},
		{"tx-version", required_argument, NULL, OPT_TXV},
		{"genesis", required_argument, NULL, OPT_GENESIS},
		{"block-hash", required_argument, NULL, OPT_BLOCK},
		{"metadata-file", required_argument, NULL, OPT_META},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_keysrc_opt(&a->key, opt, optarg))
			continue;
		switch (opt) {
		case OPT_CALL: a->call = optarg; break;
		case OPT_NONCE: a->nonce = optarg; break;
		case OPT_TIP: a->tip = optarg; break;
		case OPT_IMMORTAL: a->immortal = 1; break;
		case OPT_ERA_PERIOD: a->era_period = optarg; break;
		case OPT_ERA_CURRENT: a->era_current = optarg; break;
		case OPT_SPEC: a->spec = optarg; break;
		case OPT_TXV: a->txv = optarg; break;
		case OPT_GENESIS: a->genesis = optarg; break;
		case OPT_BLOCK: a->block = optarg; break;
		case OPT_META: a->meta = optarg; break;
		case 'h': fputs(sign_usage, stdout); return 1;
		default: fputs(sign_usage, stderr); return -1;
		}
	}
	int mortal = a->era_period || a->era_current;
	if (optind != argc || !a->call || !a->nonce || !a->spec || !a->txv || !a->genesis ||
	    a->immortal == mortal || (mortal && (!a->era_period || !a->era_current || !a->block))) {
		cli_err("missing or conflicting options (a mortal era needs --era-period, "
			"--era-current and --block-hash)");
		fputs(sign_usage, stderr);
		return -1;
	}
	return 0;
}

/* Fills p from the options; p->call is heap memory the caller frees. */
static int build_params(const struct sign_args *a, struct xt_params *p, uint8_t **call)
{
	uint64_t v, period = 0, current = 0;
	size_t n;
	int rc;
	if ((rc = cli_parse_num("--nonce", a->nonce, 0, UINT32_MAX, &p->nonce)) ||
	    (a->tip && (rc = cli_chain_parse_u128("tip", a->tip, &p->tip))) ||
	    (rc = cli_parse_num("--spec-version", a->spec, 0, UINT32_MAX, &v)))
		return rc;
	p->spec_version = (uint32_t)v;
	if ((rc = cli_parse_num("--tx-version", a->txv, 0, UINT32_MAX, &v)))
		return rc;
	p->tx_version = (uint32_t)v;
	if (hex_decode_fixed(a->genesis, p->genesis, 32) ||
	    (a->block && hex_decode_fixed(a->block, p->block_hash, 32))) {
		cli_err("--genesis and --block-hash need 32-byte 0x-hex hashes");
		return -EINVAL;
	}
	if (!a->block)
		memcpy(p->block_hash, p->genesis, 32);
	if (a->immortal) {
		xt_era_immortal(&p->era);
	} else {
		if ((rc = cli_parse_num("--era-period", a->era_period, 0, 65536, &period)) ||
		    (rc = cli_parse_num("--era-current", a->era_current, 0, UINT64_MAX, &current)))
			return rc;
		xt_era_mortal(period, current, &p->era);
	}
	if ((rc = cli_chain_parse_hex("--call", a->call, MAX_CALL_BYTES, call, &n)))
		return rc;
	if (n < 2) {
		cli_err("--call needs at least the pallet and call index");
		free(*call);
		*call = NULL;
		return -EINVAL;
	}
	p->call = *call;
	p->call_len = n;
	return 0;
}

static int load_exts(const char *file, struct xt_exts *exts)
{
	struct meta *m;
	const char *unknown = NULL;
	if (!file) {
		xt_exts_default(exts);
		return 0;
	}
	int rc = cli_chain_load_meta(file, &m);
	if (rc)
		return rc;
	rc = xt_exts_from_meta(m, exts, &unknown);
	if (rc == ZE_UNSUPPORTED)
		cli_err("the runtime needs signed extension '%s', which zos-cli cannot fill",
			unknown ? unknown : "(too many)");
	else if (rc)
		cli_err("cannot read signed extensions: %s", zerr_str(rc));
	meta_free(m);
	return rc;
}

int cli_chain_sign(int argc, char **argv)
{
	struct sign_args a = {0};
	struct xt_params p = {0};
	struct xt_exts exts;
	struct zkey k;
	struct zbuf out;
	uint8_t *call = NULL;
	int rc = parse_opts(argc, argv, &a);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_USAGE;
	if (build_params(&a, &p, &call) || load_exts(a.meta, &exts))
		goto fail;
	if (cli_load_key(&a.key, &k))
		goto fail;
	zbuf_init(&out, 0);
	rc = xt_sign(&exts, &p, &k, &out);
	key_wipe(&k);
	if (rc)
		cli_err("cannot sign: %s", zerr_str(rc));
	else
		rc = cli_chain_print_hex(out.data, out.len);
	zbuf_free(&out);
	free(call);
	return rc ? CLI_FAIL : CLI_OK;
fail:
	free(call);
	return CLI_FAIL;
}
