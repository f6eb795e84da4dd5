/*
 * zos-cli grid commands: balances and transfers, twins, farms, nodes and
 * node contracts on tfchain (or tfchain-dev), on top of chainclient/.
 *
 *   grid.c           shared session and output; balance, transfer
 *   grid_amount.c    TFT amounts (7 decimals) <-> planck
 *   grid_doc.c       the deployment document check before a contract
 *   grid_entity.c    twin, farm, node
 *   grid_contract.c  contract create, get, cancel
 *   grid_list.c      contract list
 *   grid_bill.c      contract bill-history
 *
 * Every command prints "name: value" lines, or one JSON document with
 * --json; it fails with exit 1 and the chain's error name (e.g.
 * "SmartContractModule.TwinNotAuthorizedToCancelContract") on stderr.
 */
#ifndef ZOS_CLI_GRID_H
#define ZOS_CLI_GRID_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "chainclient/client.h"
#include "chainclient/scale.h"
#include "chainclient/submit.h"
#include "cli/cli.h"
#include "common/key.h"

/* Commands (one line each in the table of cli/main.c). */
int cli_cmd_balance(int argc, char **argv);
int cli_cmd_transfer(int argc, char **argv);
int cli_cmd_twin(int argc, char **argv);
int cli_cmd_farm(int argc, char **argv);
int cli_cmd_node(int argc, char **argv);
int cli_cmd_contract(int argc, char **argv);
/* contract subcommands in their own files, argv[0] = the subcommand. */
int cli_contract_bill_history(int argc, char **argv); /* grid_bill.c */
int cli_contract_list(int argc, char **argv);         /* grid_list.c */
/* The contract usage text (grid_contract.c). */
void cli_contract_usage(FILE *f);
/* A twin listing scans at most this many contracts unless --max says more. */
#define CLI_CONTRACT_SCAN_DEFAULT 10000u

struct grid_contract;
/* The fields of one contract (id, state, cause, twin, node, hash...) into o. */
int cli_contract_fields(cJSON *o, const struct grid_contract *c);

/* ---- TFT amounts (grid_amount.c) ----------------------------------------- */

/* 1 TFT = 10^7 planck, the chain's balance unit. */
#define CLI_TFT_DECIMALS 7
#define CLI_TFT_PLANCK 10000000u
/* Longest formatted amount: 32 integer digits, '.', 7 decimals, NUL. */
#define CLI_TFT_STRLEN 48

/*
 * Parses a TFT amount written as digits with at most 7 decimals ("1",
 * "1.5", "0.0000001") into planck, exactly. No sign, exponent, spaces or
 * leading/trailing '.'. ZE_MALFORMED for anything else, -ERANGE for more
 * than 7 decimals, ZE_TOOBIG when it does not fit a u128.
 */
int cli_tft_parse(const char *s, scale_u128 *planck);
/* Formats planck as TFT with exactly 7 decimals ("1.5000000"). */
void cli_tft_format(scale_u128 planck, char out[CLI_TFT_STRLEN]);

/* ---- The deployment document (grid_doc.c) ------------------------------- */

/* Plaintext bound: what still fits the sealed 16 KiB deployment_data. */
#define CLI_DOC_MAX (16u << 10)

/*
 * Checks the deployment document text (docs/deploying.md) before anything is spent:
 * at most CLI_DOC_MAX bytes, one JSON object with integer version, optional
 * twin_id (filled in with `twin` when absent, else it must equal it),
 * optional short metadata/description, and 1..64 workloads, each with
 * version, a unique name ^[a-zA-Z0-9_]{1,36}$, a type and a data object (the
 * node validates the data of each type). On success *out is the document as
 * it will be sealed (compact JSON, NUL-terminated, plaintext: wipe and free
 * it with cli_doc_free). On failure err says what is wrong.
 */
int cli_doc_prepare(const char *text, size_t len, uint32_t twin, char **out, char *err,
		    size_t errsz);
/*
 * The same, checking only that the document is a JSON object and its
 * twin_id: `zos-cli deploy` leaves the rest to the node, which answers with
 * its reason (and rejects the contract).
 */
int cli_doc_prepare_twin(const char *text, size_t len, uint32_t twin, char **out, char *err,
			 size_t errsz);
void cli_doc_free(char *doc);

/*
 * Reads a deployment file whole: *text NUL-terminated, *len bytes, heap and
 * plaintext (free it with cli_doc_text_free). -errno, or ZE_TOOBIG past
 * CLI_DOC_MAX.
 */
int cli_doc_read(const char *path, char **text, size_t *len);
void cli_doc_text_free(char *text, size_t len);

/*
 * The caller's x25519 key must be the one its twin publishes: the node opens
 * the box with the twin's key, so anything else could never be deployed.
 * Prints why not; ZE_CRYPTO on a mismatch.
 */
int cli_doc_check_sender(struct chain_client *c, const struct zkey *key, uint32_t twin);
/* Whether a sealed deployment of len bytes fits the runtime's
 * MaxDeploymentDataLength (*limit, 0 when the runtime declares none): 1 yes,
 * 0 no, negative (printed) when the chain cannot be asked. Checked before
 * paying: the runtime refuses a larger one only once the fee is spent. */
int cli_doc_fits_chain(struct chain_client *c, size_t len, uint32_t *limit);

/*
 * Seals doc (docs/deploy-engine.md, Encryption) from user's key for the node's twin, whose x25519
 * key is node_pk when the chain has one (node_pk_len bytes, must be 32),
 * else converted from node_account, and gives its deployment_hash.
 * *data heap (not secret; free it). ZE_MALFORMED / ZE_CRYPTO for an
 * unusable node key, ZE_TOOBIG past SEAL_DEFAULT_MAX.
 */
int cli_doc_seal(const struct zkey *user, const uint8_t *node_pk, size_t node_pk_len,
		 const uint8_t node_account[32], const char *doc, uint8_t **data, size_t *len,
		 uint8_t hash[32]);

/* ---- Shared by the grid commands (grid.c) ------------------------------- */

/* Options every grid command takes (cli_opt() parses them): --url, --json
 * and the key sources. */
#define CLI_GRID_LONGOPTS CLI_URL_LONGOPT, CLI_JSON_LONGOPT, CLI_KEY_LONGOPTS
/*
 * The option loop of a grid command that takes only those (and --help):
 * 0 with them in o and the arguments from optind; -1 after printing the
 * usage for --help (stdout, *rc = CLI_OK) or a bad option (stderr, *rc =
 * CLI_USAGE).
 */
int cli_grid_common_opts(int argc, char **argv, struct cli_opts *o, void (*usage)(FILE *),
			 int *rc);

/* A connection to the chain and, for signing commands, the caller's key. */
struct cli_grid {
	struct chain_client *chain;
	const char *url;
	int json;
	int have_key;
	struct zkey key; /* wiped by cli_grid_close */
};

/* need_key: 1 = a key option is required, 0 = none is used. Prints the
 * reason on failure (CLI_USAGE-worthy errors return -EINVAL). */
int cli_grid_open(struct cli_grid *g, const struct cli_opts *o, int need_key);
void cli_grid_close(struct cli_grid *g);

/*
 * Signs and submits pallet.call(args) with g's key and waits for the block
 * that includes it. 0 when it succeeded (*o filled; chain_outcome_clear it);
 * ZE_CHAIN when the chain refused or failed it, after printing
 * "PALLET.CALL failed: Pallet.ErrorName" (and, with --json, the outcome on
 * stdout); other errors when it could not be sent.
 */
int cli_grid_submit(struct cli_grid *g, const char *pallet, const char *call,
		    const cJSON *args, struct chain_outcome *o);

/* The key's twin; prints a hint to create one when it has none. */
int cli_grid_caller_twin(struct cli_grid *g, uint32_t *twin);

/* An account given as SS58, 0x-hex (32 bytes) or a dev name (alice..ferdie). */
int cli_grid_parse_account(const char *s, uint8_t pk[32]);

/* Output fields: u64 as a JSON number while exact, else a decimal string. */
int cli_grid_add_u64(cJSON *o, const char *name, uint64_t v);
/* An amount as "name": "1.5000000" (TFT) and "name_planck": "15000000". */
int cli_grid_add_amount(cJSON *o, const char *name, scale_u128 planck);
/* An account as "name": SS58 and "name_id": 0x-hex. */
int cli_grid_add_account(cJSON *o, const char *name, const uint8_t pk[32]);
int cli_grid_add_hex(cJSON *o, const char *name, const uint8_t *p, size_t n);
/* The including block of an outcome: block_number, extrinsic_hash, the
 * extrinsic's events ("Pallet.Event" names) and the fee. */
int cli_grid_add_outcome(cJSON *o, const struct chain_outcome *oc, const uint8_t signer[32]);

/*
 * Prints an object: JSON (--json), else one "name: value" line per member,
 * nested objects as "parent.child: value", amounts with " TFT". Returns 0
 * or -EIO / -ENOMEM.
 */
int cli_grid_print(const cJSON *o, int json);

/* The data of the first pallet.name event of an outcome, or NULL. */
const cJSON *cli_grid_event_data(const struct chain_outcome *o, const char *pallet,
				 const char *name);
/* The id of the contract a successful create_node_contract made (its
 * ContractCreated event); prints why not (ZE_ABSENT). */
int cli_grid_created_contract(const struct chain_outcome *o, uint64_t *id);

#endif
