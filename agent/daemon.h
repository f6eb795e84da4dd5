/*
 * The daemon's life cycle: configuration, identity, signals, systemd
 * notifications, and the main loop that drives the subsystems.
 *
 * Subsystems (RMB server, deploy engine, chain watcher, reporter, ...) plug
 * in through a struct agent_subsys registered before agent_run():
 *
 *   static const struct agent_subsys rmb_subsys = {
 *           .name = "rmb", .start = rmb_start, .stop = rmb_stop, ...
 *   };
 *   agent_register(&agent, &rmb_subsys, NULL);
 *
 * Every hook runs on the main thread. Hooks must not block for long: the
 * loop ticks once a second and pings the systemd watchdog from there, so a
 * hook that hangs gets the daemon restarted. Work that takes time belongs in
 * the subsystem's own threads, which must copy any configuration they read
 * (the daemon replaces a->cfg on SIGHUP).
 */
#ifndef ZOS_AGENT_DAEMON_H
#define ZOS_AGENT_DAEMON_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "common/key.h"
#include "config/config.h"

struct agent;

struct agent_subsys {
	const char *name;
	/* Starts the subsystem; *state is its private data (starts as the arg
	 * given to agent_register). Failure stops the start-up: the subsystems
	 * started before are stopped in reverse order and the daemon exits 1. */
	int (*start)(struct agent *a, void **state);
	/* The stop has begun: called for every started subsystem, in reverse
	 * start order, before any stop hook, to end waits on the outside world
	 * (a chain that does not answer) that would hold a stop hook past the
	 * deadline. Must not block. Optional. */
	void (*stopping)(struct agent *a, void *state);
	/* Stops and frees; called in reverse start order with the stop
	 * deadline running (agent_stop_remaining()). Optional. */
	void (*stop)(struct agent *a, void *state);
	/* About once a second from the main loop. Optional. */
	void (*tick)(struct agent *a, void *state);
	/* A new configuration was accepted; next only differs from a->cfg in
	 * keys that can change at run time. a->cfg becomes next afterwards.
	 * A failure is logged; the other subsystems still get the new
	 * configuration. Optional. */
	int (*reload)(struct agent *a, void *state, const struct cfg *next);
	/* SIGUSR1: log a few lines about the subsystem's state. Optional. */
	void (*summary)(struct agent *a, void *state);
};

#define AGENT_MAX_SUBSYS 16
/* Seconds a graceful stop may take before the daemon exits anyway; below the
 * unit's TimeoutStopSec so the daemon, not systemd, decides. */
#define AGENT_STOP_DEADLINE 20
/* Main loop tick. */
#define AGENT_TICK_MS 1000

struct agent_slot {
	const struct agent_subsys *ops;
	void *state;
	int started;
};

struct agent {
	struct cfg cfg;          /* the running configuration */
	struct cfg_source src;   /* where it came from, re-read on SIGHUP (with
				  * the then-current environ when envp is set) */
	char cfg_file[512];      /* the file read, "" when none was */
	struct zkey key;         /* the node's identity (secret) */
	char ss58[64];           /* its SS58 address (prefix 42) */
	uint8_t x25519_pk[32];   /* for workload encryption */
	time_t started_at;
	unsigned reloads;        /* accepted reloads */
	unsigned rejected_reloads;
	int lock_fd;             /* flock on the state directory */
	int wake[2];             /* self-pipe written by signal handlers */
	uint64_t watchdog_usec;  /* 0 = no watchdog */
	struct timespec stop_by; /* CLOCK_MONOTONIC deadline once stopping */
	struct agent_slot subs[AGENT_MAX_SUBSYS];
	unsigned nsubs;
};

/*
 * Loads the configuration from src (kept by pointer: src and what it points
 * to must outlive the agent), sets up logging, creates the state directory,
 * takes its lock and loads or creates the identity. Errors are logged with
 * their reason. On failure nothing is left to release.
 */
int agent_init(struct agent *a, const struct cfg_source *src);
/* Adds a subsystem; state is passed to its start hook. -ENOSPC when full. */
int agent_register(struct agent *a, const struct agent_subsys *ops, void *state);
/*
 * Installs the signal handlers, starts the subsystems, tells systemd READY
 * and runs until SIGTERM or SIGINT; then stops the subsystems in reverse
 * order within AGENT_STOP_DEADLINE. Returns 0 after a graceful stop.
 */
int agent_run(struct agent *a);
/* Releases what agent_init took; wipes the identity. */
void agent_fini(struct agent *a);

/* Milliseconds left before the stop deadline (0 when passed or not
 * stopping). For stop hooks that wait on threads. */
long agent_stop_remaining(const struct agent *a);

/* Loads (creating on first use) the identity named by c->seed_file; logs a
 * clear reason on failure. *created is set when a new seed was written. */
int agent_identity_load(const struct cfg *c, struct zkey *k, int *created);

#endif
