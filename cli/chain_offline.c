/*
 * zos-cli chain: the dispatcher of chain subcommands and the offline ones,
 * which need no node: storage keys, metadata listings, call encoding and
 * decoding. Signing is in chain_sign.c; commands that talk to a node live in
 * chain_online.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/hash.h"
#include "chainclient/meta.h"
#include "cli/chain.h"
#include "cli/cli.h"
#include "cli/grid.h"
#include "common/hex.h"
#include "common/zerr.h"

#define MAX_KEY_BYTES (64u << 10)
#define MAX_CALL_BYTES (4u << 20)

int cli_chain_load_meta(const char *path, struct meta **m)
{
	int rc = meta_load_file(path, m);
	if (rc)
		cli_err("cannot load metadata from %s: %s", path, zerr_str(rc));
	return rc;
}

int cli_chain_print_hex(const uint8_t *p, size_t n)
{
	char *s = hex_encode_alloc(p, n, 1);
	if (!s) {
		cli_err("out of memory");
		return -ENOMEM;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}

int cli_chain_parse_u128(const char *name, const char *s, scale_u128 *v)
{
	if (scale_u128_parse(s, v) != 0) {
		cli_err("--%s needs a decimal number (u128)", name);
		return -EINVAL;
	}
	return 0;
}

int cli_chain_parse_hex(const char *name, const char *s, size_t max, uint8_t **p, size_t *n)
{
	int rc = hex_decode_alloc(s, max, p, n);
	if (rc)
		cli_err("%s: %s (expected 0x-hex, at most %zu bytes)", name, zerr_str(rc), max);
	return rc;
}

/* Parses --metadata-file, --json (where json is not NULL) and --help, leaving
 * positional arguments from optind. Returns 0 to go on, OPTS_DONE after
 * printing help, OPTS_BAD after printing the usage. */
enum { OPTS_DONE = 1, OPTS_BAD = 2 };

static int meta_opts_url(int argc, char **argv, const char *usage, const char **file, int *json,
			 const char **url)
{
	static const struct option longopts[] = {
		{"metadata-file", required_argument, NULL, 'm'},
		{"json", no_argument, NULL, 'j'},
		{"url", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "m:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm': *file = optarg; break;
		case 'u':
			if (!url)
				goto bad;
			*url = optarg;
			break;
		case 'j':
			if (!json)
				goto bad;
			*json = 1;
			break;
		case 'h': printf("usage: %s\n", usage); return OPTS_DONE;
		default: goto bad;
		}
	}
	return 0;
bad:
	fprintf(stderr, "usage: %s\n", usage);
	return OPTS_BAD;
}

static int meta_opts(int argc, char **argv, const char *usage, const char **file, int *json)
{
	return meta_opts_url(argc, argv, usage, file, json, NULL);
}

/* The exit code for a non-zero meta_opts() result. */
static int opts_exit(int rc)
{
	return rc == OPTS_DONE ? CLI_OK : CLI_USAGE;
}

static int need_meta(const char *file, struct meta **m)
{
	if (!file) {
		cli_err("this needs the runtime metadata: --metadata-file FILE");
		return -EINVAL;
	}
	return cli_chain_load_meta(file, m);
}

/* Each key must be exactly one SCALE value of the map's key type, so that a
 * mistyped key (a u32 where the map wants a u64) is caught here. */
static int check_keys(const struct meta *m, const char *pallet, const char *item, size_t nkeys,
		      uint8_t *const *keys, const size_t *lens)
{
	const struct meta_pallet *p = meta_pallet(m, pallet);
	const struct meta_storage *s = p ? meta_storage(p, item) : NULL;
	if (!s)
		return 0; /* meta_storage_key reports it */
	for (size_t i = 0; i < nkeys && i < s->nhashers; i++) {
		uint32_t type;
		cJSON *j;
		if (meta_storage_key_type(m, s, i, &type) != 0)
			return 0;
		if (meta_to_json_buf(m, type, keys[i], lens[i], &j) != 0) {
			const struct meta_type *t = meta_type(m, type);
			cli_err("KEY %zu is not one SCALE-encoded value of the key type%s%s", i + 1,
				*meta_type_name(t) ? " " : "", meta_type_name(t));
			return -EINVAL;
		}
		cJSON_Delete(j);
	}
	return 0;
}

/*
 * One KEY argument as SCALE bytes (caller frees *p). Where the metadata says
 * the key is an AccountId32, an SS58 address or a dev name is accepted too,
 * as in `chain get`; otherwise it is SCALE 0x-hex.
 */
static int parse_key(const struct meta *m, const char *pallet, const char *item, size_t i,
		     const char *arg, uint8_t **p, size_t *n)
{
	const struct meta_pallet *mp = m ? meta_pallet(m, pallet) : NULL;
	const struct meta_storage *s = mp ? meta_storage(mp, item) : NULL;
	uint32_t type;

	if (s && i < s->nhashers && meta_storage_key_type(m, s, i, &type) == 0 &&
	    !strcmp(meta_type_name(meta_type(m, type)), "AccountId32")) {
		if (!(*p = malloc(32)))
			return -ENOMEM;
		if (cli_grid_parse_account(arg, *p) != 0) {
			free(*p);
			*p = NULL;
			cli_err("KEY %zu: '%s' is not an account (SS58, 0x-hex or a dev name)", i + 1,
				arg);
			return -EINVAL;
		}
		*n = 32;
		return 0;
	}
	return cli_chain_parse_hex("KEY", arg, MAX_KEY_BYTES, p, n);
}

static int cmd_storage_key(int argc, char **argv)
{
	static const char usage[] =
		"zos-cli chain storage-key PALLET ITEM [KEY...] [--metadata-file F]\n"
		"  KEY: each map key as SCALE 0x-hex (an AccountId32 key also as SS58 or a dev\n"
		"  name); hashers come from the metadata";
	const char *file = NULL;
	struct meta *m = NULL;
	struct zbuf out;
	int rc = meta_opts(argc, argv, usage, &file, NULL);
	if (rc)
		return opts_exit(rc);
	if (argc - optind < 2) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	const char *pallet = argv[optind], *item = argv[optind + 1];
	size_t nkeys = (size_t)(argc - optind - 2);
	uint8_t **keys = calloc(nkeys + 1, sizeof *keys);
	size_t *lens = calloc(nkeys + 1, sizeof *lens);
	zbuf_init(&out, 0);
	if (!keys || !lens) {
		cli_err("out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (file && (rc = cli_chain_load_meta(file, &m)))
		goto out;
	for (size_t i = 0; i < nkeys; i++)
		if ((rc = parse_key(m, pallet, item, i, argv[optind + 2 + i], &keys[i], &lens[i])))
			goto out;
	if (!file && nkeys == 0) {
		/* A plain value's key needs no hasher: twox128(pallet) ++ twox128(item). */
		rc = chain_storage_key(pallet, item, 0, NULL, NULL, NULL, &out);
	} else {
		if ((!m && (rc = need_meta(file, &m))) ||
		    (rc = check_keys(m, pallet, item, nkeys, keys, lens)))
			goto out;
		rc = meta_storage_key(m, pallet, item, nkeys, (const uint8_t *const *)keys, lens,
				      &out);
		if (rc == ZE_ABSENT)
			cli_err("no storage item %s.%s in the metadata", pallet, item);
		else if (rc == -EINVAL)
			cli_err("%s.%s takes at most %zu keys", pallet, item,
				meta_storage(meta_pallet(m, pallet), item)->nhashers);
		else if (rc)
			cli_err("cannot build the key: %s", zerr_str(rc));
	}
	if (rc == 0)
		rc = cli_chain_print_hex(out.data, out.len);
out:
	for (size_t i = 0; keys && i < nkeys; i++)
		free(keys[i]);
	free(keys);
	free(lens);
	zbuf_free(&out);
	meta_free(m);
	return rc ? CLI_FAIL : CLI_OK;
}

/* [{"name", "index"}] of a variant type. */
static cJSON *variants_json(const struct meta *m, int has, uint32_t type)
{
	cJSON *arr = cJSON_CreateArray();
	const struct meta_type *t = has ? meta_type(m, type) : NULL;
	for (size_t i = 0; arr && t && i < t->nvariants; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddStringToObject(o, "name", t->variants[i].name) ||
		    !cJSON_AddNumberToObject(o, "index", t->variants[i].index)) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *storage_json(const struct meta_pallet *p)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < p->nstorage; i++) {
		const struct meta_storage *s = &p->storage[i];
		cJSON *o = cJSON_CreateObject(), *h = cJSON_CreateArray();
		int ok = o && h && cJSON_AddStringToObject(o, "name", s->name);
		for (size_t k = 0; ok && k < s->nhashers; k++) {
			cJSON *name = cJSON_CreateString(chain_hasher_name(s->hashers[k]));
			ok = name != NULL;
			if (ok)
				cJSON_AddItemToArray(h, name);
		}
		if (!ok) {
			cJSON_Delete(o);
			cJSON_Delete(h);
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToObject(o, "hashers", h);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *metadata_json(const struct meta *m)
{
	cJSON *root = cJSON_CreateObject(), *pallets = cJSON_CreateArray(),
	      *exts = cJSON_CreateArray();
	if (!root || !pallets || !exts)
		goto fail;
	cJSON_AddItemToObject(root, "pallets", pallets);
	cJSON_AddItemToObject(root, "signed_extensions", exts);
	for (size_t i = 0; i < m->npallets; i++) {
		const struct meta_pallet *p = &m->pallets[i];
		cJSON *o = cJSON_CreateObject();
		if (!o)
			goto fail;
		cJSON_AddItemToArray(pallets, o);
		if (!cJSON_AddStringToObject(o, "name", p->name) ||
		    !cJSON_AddNumberToObject(o, "index", p->index))
			goto fail;
		cJSON *calls = variants_json(m, p->has_calls, p->calls_type);
		if (calls)
			cJSON_AddItemToObject(o, "calls", calls);
		cJSON *events = variants_json(m, p->has_events, p->events_type);
		if (events)
			cJSON_AddItemToObject(o, "events", events);
		cJSON *storage = storage_json(p);
		if (storage)
			cJSON_AddItemToObject(o, "storage", storage);
		if (!calls || !events || !storage)
			goto fail;
	}
	for (size_t i = 0; i < m->nexts; i++) {
		cJSON *s = cJSON_CreateString(m->exts[i].identifier);
		if (!s)
			goto fail;
		cJSON_AddItemToArray(exts, s);
	}
	return root;
fail:
	if (!root) {
		cJSON_Delete(pallets);
		cJSON_Delete(exts);
	}
	cJSON_Delete(root);
	return NULL;
}

static void metadata_text(const struct meta *m)
{
	for (size_t i = 0; i < m->npallets; i++) {
		const struct meta_pallet *p = &m->pallets[i];
		const struct meta_type *c = p->has_calls ? meta_type(m, p->calls_type) : NULL;
		printf("%u %s\n", p->index, p->name);
		for (size_t k = 0; c && k < c->nvariants; k++)
			printf("  call %u %s\n", c->variants[k].index, c->variants[k].name);
		for (size_t k = 0; k < p->nstorage; k++) {
			printf("  storage %s", p->storage[k].name);
			for (size_t h = 0; h < p->storage[k].nhashers; h++)
				printf(" %s", chain_hasher_name(p->storage[k].hashers[h]));
			printf("\n");
		}
		/* Constants as their SCALE bytes (a u32 limit reads little-endian). */
		for (size_t k = 0; k < p->nconstants; k++) {
			char *h = hex_encode_alloc(p->constants[k].value, p->constants[k].len, 1);
			printf("  constant %s %s\n", p->constants[k].name, h ? h : "?");
			free(h);
		}
	}
	printf("signed extensions:");
	for (size_t i = 0; i < m->nexts; i++)
		printf(" %s", m->exts[i].identifier);
	printf("\n");
}

static int cmd_metadata(int argc, char **argv)
{
	static const char usage[] =
		"zos-cli chain metadata (--metadata-file F | --url URL) [--json]\n"
		"  --url fetches the metadata of the runtime the node at URL runs";
	const char *file = NULL, *url = NULL;
	struct meta *m = NULL;
	struct chain_client *cc = NULL;
	struct chain_runtime *rt = NULL;
	int json = 0, rc = meta_opts_url(argc, argv, usage, &file, &json, &url);
	if (rc)
		return opts_exit(rc);
	if (optind != argc || (file && url)) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	if (url && cli_chain_url_check(url) < 0)
		return CLI_USAGE;
	if (url) {
		rc = chain_client_new(url, NULL, &cc);
		if (rc == 0)
			rc = chain_client_runtime(cc, &rt);
		if (rc) {
			cli_err("cannot fetch the metadata from %s: %s", url, cli_chain_why(rc));
			chain_client_free(cc);
			return CLI_FAIL;
		}
		m = rt->meta;
	} else if (need_meta(file, &m))
		return CLI_FAIL;
	if (json) {
		cJSON *j = metadata_json(m);
		char *s = j ? cJSON_PrintUnformatted(j) : NULL;
		if (s)
			printf("%s\n", s);
		else
			cli_err("out of memory");
		rc = s ? 0 : -ENOMEM;
		free(s);
		cJSON_Delete(j);
	} else {
		metadata_text(m);
	}
	if (rt) {
		chain_runtime_put(rt);
		chain_client_free(cc);
	} else {
		meta_free(m);
	}
	return rc ? CLI_FAIL : CLI_OK;
}

static int cmd_encode_call(int argc, char **argv)
{
	static const char usage[] =
		"zos-cli chain encode-call PALLET CALL 'JSON-ARGS' --metadata-file F\n"
		"  JSON-ARGS: array of the call's arguments in order";
	const char *file = NULL;
	struct meta *m = NULL;
	struct zbuf out;
	int rc = meta_opts(argc, argv, usage, &file, NULL);
	if (rc)
		return opts_exit(rc);
	if (argc - optind != 3) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	cJSON *args = cJSON_Parse(argv[optind + 2]);
	if (!cJSON_IsArray(args)) {
		cli_err("JSON-ARGS must be a JSON array");
		cJSON_Delete(args);
		return CLI_USAGE;
	}
	zbuf_init(&out, MAX_CALL_BYTES);
	if ((rc = need_meta(file, &m)) == 0) {
		rc = meta_encode_call(m, argv[optind], argv[optind + 1], args, &out);
		if (rc == ZE_ABSENT) {
			cli_err("no call %s.%s in the metadata", argv[optind], argv[optind + 1]);
		} else if (rc == -EINVAL) {
			const struct meta_variant *v =
				meta_call(m, meta_pallet(m, argv[optind]), argv[optind + 1]);
			cli_err("arguments do not fit %s.%s, which takes %zu:", argv[optind],
				argv[optind + 1], v->nfields);
			for (size_t i = 0; i < v->nfields; i++)
				fprintf(stderr, "  %s: %s\n", v->fields[i].name ? v->fields[i].name : "_",
					v->fields[i].type_name ? v->fields[i].type_name : "?");
		} else if (rc) {
			cli_err("cannot encode the call: %s", zerr_str(rc));
		} else {
			rc = cli_chain_print_hex(out.data, out.len);
		}
	}
	cJSON_Delete(args);
	zbuf_free(&out);
	meta_free(m);
	return rc ? CLI_FAIL : CLI_OK;
}

static int cmd_decode_call(int argc, char **argv)
{
	static const char usage[] = "zos-cli chain decode-call 0xCALL --metadata-file F";
	const char *file = NULL;
	struct meta *m = NULL;
	uint8_t *call = NULL;
	size_t n;
	cJSON *j = NULL;
	int rc = meta_opts(argc, argv, usage, &file, NULL);
	if (rc)
		return opts_exit(rc);
	if (argc - optind != 1) {
		fprintf(stderr, "usage: %s\n", usage);
		return CLI_USAGE;
	}
	if ((rc = cli_chain_parse_hex("CALL", argv[optind], MAX_CALL_BYTES, &call, &n)) ||
	    (rc = need_meta(file, &m)))
		goto out;
	struct scale_rd r;
	scale_rd_init(&r, call, n);
	rc = meta_decode_call(m, &r, &j);
	if (rc == 0 && scale_rd_left(&r) != 0) {
		rc = ZE_MALFORMED;
		cJSON_Delete(j);
		j = NULL;
	}
	if (rc) {
		cli_err("cannot decode the call: %s", zerr_str(rc));
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
	free(call);
	meta_free(m);
	return rc ? CLI_FAIL : CLI_OK;
}

struct chain_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

/* Subcommands; the online ones are implemented in chain_online.c. */
static const struct chain_cmd chain_cmds[] = {
	{"storage-key", cmd_storage_key, "full storage key of PALLET ITEM [KEY...]"},
	{"metadata", cmd_metadata, "pallets, calls, events, storage hashers, extensions"},
	{"encode-call", cmd_encode_call, "SCALE-encode PALLET CALL from JSON arguments"},
	{"decode-call", cmd_decode_call, "decode a SCALE call to JSON"},
	{"encode-value", cli_chain_encode_value, "SCALE-encode JSON as a type (id or PALLET.ITEM)"},
	{"decode-value", cli_chain_decode_value, "decode SCALE bytes of a type to JSON"},
	{"compact", cli_chain_compact, "SCALE compact encoding of N (or --decode)"},
	{"era", cli_chain_era, "extrinsic era encoding (or --decode)"},
	{"sign", cli_chain_sign, "build a signed extrinsic offline"},
	{"get", cli_chain_get, "read and decode a storage value from a node"},
	{"call", cli_chain_call, "sign, submit and wait for a call's outcome"},
};

static void chain_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli chain SUBCOMMAND [ARGS...]\n\nsubcommands:\n");
	for (size_t i = 0; i < sizeof chain_cmds / sizeof chain_cmds[0]; i++)
		fprintf(f, "  %-12s %s\n", chain_cmds[i].name, chain_cmds[i].help);
}

int cli_chain_main(int argc, char **argv)
{
	if (argc < 2) {
		chain_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		chain_usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof chain_cmds / sizeof chain_cmds[0]; i++) {
		if (strcmp(argv[1], chain_cmds[i].name) == 0) {
			optind = 0; /* a full getopt reset for the subcommand */
			return chain_cmds[i].fn(argc - 1, argv + 1);
		}
	}
	cli_err("unknown chain subcommand '%s'", argv[1]);
	chain_usage(stderr);
	return CLI_USAGE;
}
