/*
 * zos-agent: the ThreeFold Grid node daemon.
 *
 *   zos-agent [-dv] [-f FILE] [-o section.key=value]...   run the daemon
 *   zos-agent -n [-f FILE] [-o ...]                        check the configuration
 *   zos-agent [-f FILE] identity [--json]                  print the node identity
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "agent/daemon.h"
#include "agent/node.h"
#include "common/log.h"
#include "common/psched.h"
#include "common/version.h"
#include "common/zerr.h"
#include "config/config.h"

extern char **environ;

#define MAX_OVERRIDES 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zos-agent [-dv] [-f FILE] [-o section.key=value]...\n"
		"       zos-agent -n [-f FILE] [-o section.key=value]...\n"
		"       zos-agent [-f FILE] identity [--json]\n"
		"\n"
		"The ThreeFold Grid node agent. It stays in the foreground (systemd\n"
		"supervises it) and logs to journald under systemd, else to stderr.\n"
		"\n"
		"  -f FILE     configuration file (default $%s, else %s)\n"
		"  -o K=V      set one configuration key, over the file and environment\n"
		"  -d          log to stderr whatever log.target says\n"
		"  -v          log at debug level\n"
		"  -n          check the configuration, print it normalized and exit\n"
		"  --json      with identity: print JSON\n"
		"  -h, --help  this help\n"
		"  -V, --version\n"
		"\n"
		"identity      print the node's account id, SS58 address and x25519 key,\n"
		"              creating the seed file if it does not exist yet\n"
		"\n"
		"Signals: TERM/INT stop gracefully, HUP reloads the configuration,\n"
		"USR1 logs a state summary.\n",
		CFG_ENV_FILE, CFG_DEFAULT_FILE);
}

static int check_config(const struct cfg_source *src)
{
	struct cfg c;
	char err[512];
	if (cfg_load(&c, src, err, sizeof err, NULL, 0) != 0) {
		fprintf(stderr, "zos-agent: %s\n", err);
		return EXIT_FAILURE;
	}
	if (cfg_write(&c, stdout) != 0) {
		fprintf(stderr, "zos-agent: cannot write the configuration\n");
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static int show_identity(const struct cfg_source *src, int json)
{
	struct cfg c;
	struct zkey k;
	char err[512];
	int created = 0;
	if (cfg_load(&c, src, err, sizeof err, NULL, 0) != 0) {
		fprintf(stderr, "zos-agent: %s\n", err);
		return EXIT_FAILURE;
	}
	if (agent_identity_load(&c, &k, &created) != 0)
		return EXIT_FAILURE;
	if (created)
		fprintf(stderr, "zos-agent: created a new identity in %s\n", c.seed_file);
	int rc = key_print_info(k.pk, NULL, json, stdout);
	key_wipe(&k);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int run_daemon(const struct cfg_source *src)
{
	struct agent *a = malloc(sizeof *a);
	if (!a) {
		log_err("agent", "out of memory");
		return EXIT_FAILURE;
	}
	struct agent_node *node = NULL;
	int rc = agent_init(a, src);
	if (rc == 0 && a->cfg.sched_batch) {
		/* Before any thread starts: they all inherit it (common/psched.h). */
		int prc = psched_batch();
		if (prc < 0)
			log_warn("agent",
				 "cannot run under SCHED_BATCH (%s); running under the default "
				 "policy: set node.sched_batch = false to silence this",
				 zerr_str(prc));
	}
	if (rc == 0) {
		/* The node's subsystems (node.h), in start order. */
		if ((rc = agent_node_new(&node)) == 0 && (rc = agent_node_register(node, a)) == 0)
			rc = agent_run(a);
		else
			log_err("agent", "cannot set the node up: %s", zerr_str(rc));
		agent_fini(a);
		agent_node_free(node);
	} else {
		/* Shown by `systemctl status`; the log has the details. */
		sd_notifyf(0, "STATUS=start-up failed: %s", zerr_str(rc));
	}
	sodium_memzero(a, sizeof *a);
	free(a);
	return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *overrides[MAX_OVERRIDES];
	unsigned nov = 0;
	int check = 0, json = 0, foreground = 0, verbose = 0, opt;
	struct cfg_source src = {.envp = environ};

	while ((opt = getopt_long(argc, argv, "f:o:dnvhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': src.file = optarg; break;
		case 'o':
			if (nov == MAX_OVERRIDES - 2) {
				fprintf(stderr, "zos-agent: more than %d -o options\n", MAX_OVERRIDES - 2);
				return 2;
			}
			overrides[nov++] = optarg;
			break;
		case 'd': foreground = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose = 1; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		case 'V': printf("zos-agent %s\n", ZOS_VERSION); return EXIT_SUCCESS;
		default: usage(stderr); return 2;
		}
	}
	/* Flags come last in precedence, after -o: they are the most explicit. */
	if (foreground)
		overrides[nov++] = "log.target=stderr";
	if (verbose)
		overrides[nov++] = "log.level=debug";
	src.overrides = overrides;
	src.n_overrides = nov;

	const char *cmd = optind < argc ? argv[optind] : NULL;
	if ((cmd && (strcmp(cmd, "identity") != 0 || optind + 1 != argc)) || (json && !cmd) ||
	    (check && cmd)) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "zos-agent: libsodium failed to initialise\n");
		return EXIT_FAILURE;
	}
	log_setup(verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO,
		  foreground || check || cmd ? LOG_TARGET_STDERR : LOG_TARGET_AUTO, "zos-agent");
	if (check)
		return check_config(&src);
	if (cmd)
		return show_identity(&src, json);
	return run_daemon(&src);
}
