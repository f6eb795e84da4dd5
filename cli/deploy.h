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

#define CLI_DEFAULT_CHAIN "http://127.0.0.1:9944"

struct cli_link_opts {
	struct cli_keysrc keysrc;
	const char *chain;  /* RPC URL (default $ZOS_CHAIN_URL, then CLI_DEFAULT_CHAIN) */
	const char *url;    /* the node's RMB address instead of its twin's relay */
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
};

/* Resolves everything from the chain; prints the reason on failure. */
int cli_link_open(const struct cli_link_opts *o, struct cli_link *l);
void cli_link_close(struct cli_link *l);

/*
 * Calls cmd with a JSON payload (may be NULL). 0 with *reply (caller
 * cJSON_Delete()s) for a payload reply; 1 with code and msg for an error
 * reply; negative (printed) when no verified reply came.
 */
int cli_link_call(struct cli_link *l, const char *cmd, const cJSON *payload, cJSON **reply,
		  uint32_t *code, char *msg, size_t msgsz);

/* Strict decimal parse of an option value; prints "--name ..." on failure. */
int cli_parse_uint(const char *name, const char *s, uint64_t max, uint64_t *v);

int cli_deploy_main(int argc, char **argv);
int cli_deployment_main(int argc, char **argv);

#endif
