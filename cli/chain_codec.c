/*
 * zos-cli chain compact / era / encode-value / decode-value: SCALE helpers
 * for scripts and for checking encodings by hand, no node needed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/meta.h"
#include "chainclient/xt.h"
#include "cli/chain.h"
#include "cli/cli.h"
#include "common/zerr.h"

#define MAX_VALUE_BYTES (16u << 20)

/* Parses --decode, --metadata-file and --help; returns 0 to go on, 1 after
 * --help, -1 after printing the usage. */
static int codec_opts(int argc, char **argv, const char *usage, int *decode, const char **meta)
{
	static const struct option longopts[] = {
		{"decode", no_argument, NULL, 'd'},
		{"metadata-file", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "dm:h", longopts, NULL)) != -1) {
		if (opt == 'd' && decode) {
			*decode = 1;
		} else if (opt == 'm' && meta) {
			*meta = optarg;
		} else if (opt == 'h') {
			printf("usage: %s\n", usage);
			return 1;
		} else {
			fprintf(stderr, "usage: %s\n", usage);
			return -1;
		}
	}
	return 0;
}

static int usage_exit(int rc)
{
	return rc > 0 ? CLI_OK : CLI_USAGE;
}

int cli_chain_compact(int argc, char **argv)
{
	static const char usage[] = "zos-cli chain compact N | --decode 0xHEX";
	int decode = 0, rc = codec_opts(argc, argv, usage, &decode, NULL);
	if (rc)
		return usage_exit(rc);
	if (argc - optind != 1) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	if (decode) {
		uint8_t *p;
		size_t n;
		scale_u128 v;
		struct scale_rd r;
		char s[40];
		if (cli_chain_parse_hex("compact", argv[optind], 17, &p, &n))
			return CLI_FAIL;
		scale_rd_init(&r, p, n);
		rc = scale_get_compact128(&r, &v);
		if (rc == 0 && scale_rd_left(&r) != 0)
			rc = ZE_MALFORMED;
		free(p);
		if (rc) {
			cli_err("not one minimal SCALE compact: %s", zerr_str(rc));
			return CLI_FAIL;
		}
		scale_u128_str(v, s);
		printf("%s\n", s);
		return CLI_OK;
	}
	scale_u128 v;
	struct zbuf b;
	if (scale_u128_parse(argv[optind], &v) != 0) {
		cli_err("N must be a decimal number up to 2^128-1");
		return CLI_USAGE;
	}
	zbuf_init(&b, 32);
	rc = scale_put_compact128(&b, v);
	if (rc == 0)
		rc = cli_chain_print_hex(b.data, b.len);
	zbuf_free(&b);
	return rc ? CLI_FAIL : CLI_OK;
}

int cli_chain_era(int argc, char **argv)
{
	static const char usage[] =
		"zos-cli chain era (--immortal | --period P --current B) | --decode 0xHEX";
	static const struct option longopts[] = {
		{"immortal", no_argument, NULL, 'i'},
		{"period", required_argument, NULL, 'p'},
		{"current", required_argument, NULL, 'c'},
		{"decode", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *period = NULL, *current = NULL, *dec = NULL;
	int immortal = 0, opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': immortal = 1; break;
		case 'p': period = optarg; break;
		case 'c': current = optarg; break;
		case 'd': dec = optarg; break;
		case 'h': printf("usage: %s\n", usage); return CLI_OK;
		default: fprintf(stderr, "usage: %s\n", usage); return CLI_USAGE;
		}
	}
	int modes = !!immortal + !!(period || current) + !!dec;
	if (optind != argc || modes != 1 || (!immortal && !dec && (!period || !current))) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	struct xt_era e;
	if (dec) {
		uint8_t *p;
		size_t n;
		struct scale_rd r;
		if (cli_chain_parse_hex("era", dec, 2, &p, &n))
			return CLI_FAIL;
		scale_rd_init(&r, p, n);
		int rc = xt_era_decode(&r, &e);
		if (rc == 0 && scale_rd_left(&r) != 0)
			rc = ZE_MALFORMED;
		free(p);
		if (rc) {
			cli_err("not an era encoding: %s", zerr_str(rc));
			return CLI_FAIL;
		}
		if (e.mortal)
			printf("period: %llu\nphase: %llu\n", (unsigned long long)e.period,
			       (unsigned long long)e.phase);
		else
			printf("immortal\n");
		return CLI_OK;
	}
	if (immortal) {
		xt_era_immortal(&e);
	} else {
		uint64_t p, c;
		if (cli_parse_num("--period", period, 0, UINT64_MAX, &p) ||
		    cli_parse_num("--current", current, 0, UINT64_MAX, &c))
			return CLI_USAGE;
		xt_era_mortal(p, c, &e);
	}
	struct zbuf b;
	zbuf_init(&b, 8);
	int rc = xt_era_encode(&e, &b);
	if (rc == 0)
		rc = cli_chain_print_hex(b.data, b.len);
	zbuf_free(&b);
	return rc ? CLI_FAIL : CLI_OK;
}

/* TYPE is a type id or PALLET.ITEM (that storage entry's value type). */
static int resolve_type(const struct meta *m, const char *spec, uint32_t *type)
{
	const char *dot = strchr(spec, '.');
	if (!dot) {
		uint64_t id;
		if (cli_parse_num("TYPE", spec, 0, UINT32_MAX, &id) || id >= m->ntypes) {
			cli_err("TYPE must be a type id below %zu or PALLET.ITEM", m->ntypes);
			return -EINVAL;
		}
		*type = (uint32_t)id;
		return 0;
	}
	char pallet[256];
	size_t plen = (size_t)(dot - spec);
	if (plen >= sizeof pallet) {
		cli_err("pallet name too long");
		return -EINVAL;
	}
	memcpy(pallet, spec, plen);
	pallet[plen] = 0;
	const struct meta_pallet *p = meta_pallet(m, pallet);
	const struct meta_storage *s = p ? meta_storage(p, dot + 1) : NULL;
	if (!s) {
		cli_err("no storage item %s in the metadata", spec);
		return ZE_ABSENT;
	}
	*type = s->value_type;
	return 0;
}

int cli_chain_decode_value(int argc, char **argv)
{
	static const char usage[] =
		"zos-cli chain decode-value (TYPE-ID | PALLET.ITEM) 0xHEX --metadata-file F";
	const char *file = NULL;
	struct meta *m = NULL;
	uint8_t *p = NULL;
	size_t n;
	uint32_t type;
	cJSON *j = NULL;
	int rc = codec_opts(argc, argv, usage, NULL, &file);
	if (rc)
		return usage_exit(rc);
	if (argc - optind != 2 || !file) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	if ((rc = cli_chain_load_meta(file, &m)) || (rc = resolve_type(m, argv[optind], &type)) ||
	    (rc = cli_chain_parse_hex("value", argv[optind + 1], MAX_VALUE_BYTES, &p, &n)))
		goto out;
	if ((rc = meta_to_json_buf(m, type, p, n, &j))) {
		cli_err("the bytes are not one value of that type: %s", zerr_str(rc));
		goto out;
	}
	char *s = cJSON_PrintUnformatted(j);
	if (s)
		printf("%s\n", s);
	else
		rc = -ENOMEM;
	free(s);
out:
	cJSON_Delete(j);
	free(p);
	meta_free(m);
	return rc ? CLI_FAIL : CLI_OK;
}

int cli_chain_encode_value(int argc, char **argv)
{
	static const char usage[] =
		"zos-cli chain encode-value (TYPE-ID | PALLET.ITEM) 'JSON' --metadata-file F";
	const char *file = NULL;
	struct meta *m = NULL;
	uint32_t type;
	cJSON *j = NULL;
	struct zbuf b;
	int rc = codec_opts(argc, argv, usage, NULL, &file);
	if (rc)
		return usage_exit(rc);
	if (argc - optind != 2 || !file) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	zbuf_init(&b, MAX_VALUE_BYTES);
	if ((rc = cli_chain_load_meta(file, &m)) || (rc = resolve_type(m, argv[optind], &type)))
		goto out;
	if (!(j = cJSON_Parse(argv[optind + 1]))) {
		cli_err("the value is not JSON");
		rc = -EINVAL;
		goto out;
	}
	if ((rc = meta_from_json(m, type, j, &b))) {
		cli_err("the JSON does not fit that type: %s", zerr_str(rc));
		goto out;
	}
	rc = cli_chain_print_hex(b.data, b.len);
out:
	cJSON_Delete(j);
	zbuf_free(&b);
	meta_free(m);
	return rc ? CLI_FAIL : CLI_OK;
}
