/*
 * The deployment commands of RMB (docs/rmb.md, "The node's commands"), as plain functions the RMB
 * server calls with the verified caller twin and the decoded JSON payload.
 *
 * Each returns 0 with *reply set (caller frees with cJSON_Delete), or a
 * negative error with *err_code (ENG_E_* in engine.h) and err set for
 * the RMB error reply {code, message}. Everything is scoped to the calling
 * twin: another twin's deployment reads as not found.
 *
 *   zos.deployment.deploy  {contract_id}  -> {contract_id, status}
 *   zos.deployment.get     {contract_id}  -> {contract_id, state, reason, ...,
 *                                             workloads: [{name, type, state, result,
 *                                                          pulling?: {image, done, total}}]}
 *   zos.deployment.list    {}             -> {deployments: [{contract_id, state, ...}]}
 *   zos.deployment.changes {contract_id}  -> {contract_id, changes: [{name, ts, state, message}]}
 *                          (a workload pulling its image now adds a last, live entry
 *                          {name, ts, state: "pulling", message, done, total})
 *   zos.statistics.get     {}             -> {total, reserved, used, free, deployments, workloads}
 *   zos.deployment.logs    {contract_id, name, tail} -> {contract_id, name, truncated,
 *                                             lines: [...]}: the last tail lines (default
 *                                             ENG_RMB_LOGS_TAIL) of a container's output
 *
 * contract_id is a JSON number or a decimal string (for ids above 2^53).
 */
#ifndef ZOS_AGENT_HANDLERS_H
#define ZOS_AGENT_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "agent/engine.h"

int eng_rmb_logs(struct eng *e, uint32_t caller_twin, const cJSON *payload, cJSON **reply,
                 int *err_code, char *err, size_t errsz);

/* Caps on list replies, so one reply stays a bounded message. */
#define ENG_RMB_LIST_MAX 1000
#define ENG_RMB_LOGS_TAIL 100
#define ENG_RMB_LOGS_TAIL_MAX 10000
#define ENG_RMB_CHANGES_MAX 2000

typedef int (*eng_rmb_fn)(struct eng *e, uint32_t caller_twin, const cJSON *payload,
			  cJSON **reply, int *err_code, char *err, size_t errsz);

int eng_rmb_deploy(struct eng *e, uint32_t caller_twin, const cJSON *payload, cJSON **reply,
		   int *err_code, char *err, size_t errsz);
int eng_rmb_get(struct eng *e, uint32_t caller_twin, const cJSON *payload, cJSON **reply,
		int *err_code, char *err, size_t errsz);
int eng_rmb_list(struct eng *e, uint32_t caller_twin, const cJSON *payload, cJSON **reply,
		 int *err_code, char *err, size_t errsz);
int eng_rmb_changes(struct eng *e, uint32_t caller_twin, const cJSON *payload, cJSON **reply,
		    int *err_code, char *err, size_t errsz);
int eng_rmb_statistics(struct eng *e, uint32_t caller_twin, const cJSON *payload,
		       cJSON **reply, int *err_code, char *err, size_t errsz);

/* Registers the five commands with an RMB server (before it starts); e
 * must outlive the server. Refusals that promise nothing was done (503)
 * are marked retryable. */
struct rmb_server;
int eng_rmb_register(struct eng *e, struct rmb_server *s);

/* contract_id of a payload: a positive integer number or decimal string. */
int eng_rmb_contract_id(const cJSON *payload, uint64_t *cid);

#endif
