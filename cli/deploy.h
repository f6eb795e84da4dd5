/*
 * zos-cli deploy and zos-cli deployment: shared pieces.
 *
 * A node link is what it takes to talk to one node's agent: the chain
 * client, the caller's key and twin, the node's twin (keys, relay) and an
 * RMB client to it.
 */
#ifndef ZOS_CLI_DEPLOY_H
#define ZOS_CLI_DEPLOY_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "cli/cli.h"
#include "common/key.h"
#include "rmb/rmb_client.h"

struct cli_link_opts {
	struct cli_opts opts; /* the key, --url (the chain), --rmb (the node), --json */
	uint32_t node_id;
	unsigned timeout_ms; /* per RMB attempt; 0 = the client's default */
};

struct cli_link {
	struct chain_client *chain;
	struct zkey key;             /* wiped by cli_link_close */
	uint32_t src;                /* the caller's twin */
	struct grid_node node;
	struct grid_twin node_twin;
	struct rmb_client *rmb;
	char addr[RMB_RELAY_MAX + 1]; /* the node's RMB address in use */
};

/* Resolves everything from the chain and dials the node; prints the reason
 * on failure (-ECONNREFUSED when nothing listens at the node's address). */
int cli_link_open(const struct cli_link_opts *o, struct cli_link *l);
/* The options deploy and deployment share, parsed by cli_opt(): --url
 * (repeatable, the chain), --chain (its deprecated alias) and --rmb (the
 * node). */
#define CLI_LINK_LONGOPTS CLI_URL_LONGOPT, CLI_CHAIN_LONGOPT, CLI_RMB_LONGOPT
void cli_link_close(struct cli_link *l);

/*
 * Calls cmd with a JSON payload (may be NULL). 0 with *reply (caller
 * cJSON_Delete()s) for a payload reply; 1 with code and msg for an error
 * reply; negative (printed) when no verified reply came.
 */
int cli_link_call(struct cli_link *l, const char *cmd, const cJSON *payload, cJSON **reply,
		  uint32_t *code, char *err, size_t errsz);

/* Strict decimal parse of an option value; prints "--name ..." on failure. */

/* What a resend command needs besides the contract and node (deploy_check.c);
 * every string borrowed. */
struct cli_deploy_resend {
	const char *keyopt; /* the key options to repeat, e.g. "--seed-file me.seed" */
	const char *url;    /* --url as given, or NULL */
	const char *rmb;    /* --rmb as given, or NULL */
	const char *sealed; /* the saved sealed deployment (hash-only), or NULL */
};
/*
 * Before paying: node l answers over RMB and has the free capacity the
 * document doc (compact JSON) asks for. Prints why not (saying nothing was
 * paid) and returns a negative error.
 */
int cli_deploy_check_node(struct cli_link *l, const char *doc);
/* After the contract exists and the node cannot be reached: prints the
 * contract id, its cost so far and the commands to resend or cancel it. */
void cli_deploy_stranded(struct cli_link *l, uint64_t cid, const struct cli_deploy_resend *r);

int cli_deploy_main(int argc, char **argv);
int cli_deployment_main(int argc, char **argv);

#endif
