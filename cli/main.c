/*
 * zos-cli: the user's and farmer's tool for the ThreeFold Grid.
 *
 *   zos-cli [--help | --version]
 *   zos-cli COMMAND [ARGS...]      (zos-cli COMMAND --help for details)
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/deploy.h"
#include "cli/grid.h"
#include "common/log.h"
#include "common/version.h"

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

/* One line per command; the function is declared in cli/cli.h. */
static const struct cli_cmd cmds[] = {
	{"key", cli_cmd_key, "ed25519 and sr25519 keys: generate, inspect, sign, verify"},
	{"chain", cli_chain_main, "chain helpers: storage keys, metadata, calls, signing"},
	{"rmb", cli_cmd_rmb, "call a twin over RMB (signed request, verified reply)"},
	{"deploy", cli_deploy_main, "deploy a workload document on a node and follow it"},
	{"deployment", cli_deployment_main, "a node's deployments: get, list, changes"},
	{"network", cli_network_main, "WireGuard keys and wg-quick configs to reach a network"},
	{"balance", cli_cmd_balance, "an account's TFT balance"},
	{"transfer", cli_cmd_transfer, "send TFT to an account"},
	{"twin", cli_cmd_twin, "create and show twins (the grid identity of an account)"},
	{"farm", cli_cmd_farm, "create and show farms"},
	{"node", cli_cmd_node, "show a node: farm, twin, relay, capacity"},
	{"contract", cli_cmd_contract, "node contracts: create, get, cancel, list, bill-history"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: zos-cli [--help | --version] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'zos-cli COMMAND --help' describes one command.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	/* '+': options after the command name belong to the command. */
	while ((opt = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': usage(stdout); return CLI_OK;
		case 'V': printf("zos-cli %s\n", ZOS_VERSION); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (sodium_init() < 0) {
		cli_err("libsodium failed to initialise");
		return CLI_FAIL;
	}
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "zos-cli");
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(name, cmds[i].name) != 0)
			continue;
		int cargc = argc - optind;
		char **cargv = argv + optind;
		optind = 0; /* glibc: a full reset for the command's own getopt */
		return cmds[i].fn(cargc, cargv);
	}
	cli_err("unknown command '%s'", name);
	usage(stderr);
	return CLI_USAGE;
}
