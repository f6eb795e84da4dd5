/*
 * The node: the subsystems that make zos-agent a node of the grid, wired
 * over the daemon's plug-in point (daemon.h), in start order:
 *
 *   chain     the chain client on chain.url and the node account's one
 *             extrinsic submitter; publishes the node's state in STATUS
 *   engine    the state store and provisioners at start; the deploy
 *             engine, its chain adapter and the block follower once the
 *             node is registered (the engine needs the node id)
 *   register  a thread that makes sure the node twin (relay, pk) and the
 *             node (farm, resources) exist on chain and match, retrying
 *             with backoff while the chain is unreachable, the account is
 *             unfunded or the farm is missing
 *   rmb       the RMB server, once the twin exists: zos.system.version and
 *             the engine's commands (503 until the engine runs)
 *   reporter  the capacity reporter's cycle on its own thread
 *
 * Nothing here needs the chain at start-up: every subsystem that does
 * waits for it without blocking the daemon's main loop.
 */
#ifndef ZOS_AGENT_NODE_H
#define ZOS_AGENT_NODE_H

struct agent;
struct agent_node;

/* *out is freed with agent_node_free after agent_run returned. */
int agent_node_new(struct agent_node **out);
/* Registers the node's subsystems with a (before agent_run). */
int agent_node_register(struct agent_node *n, struct agent *a);
/* The subsystems must be stopped (agent_run returned). NULL accepted. */
void agent_node_free(struct agent_node *n);

#endif
