/*
 * The deployment document (docs/deploying.md): the plaintext a user seals into a
 * node contract.
 *
 *   {version, twin_id, metadata, description,
 *    workloads: [{version, name, type, data, metadata, description}]}
 *
 * dep_parse() treats its input as hostile: sizes and counts are bounded,
 * names are ^[a-zA-Z0-9_]{1,36}$ and unique, twin_id must be the contract's
 * twin, and every workload's data is checked by its type's validate
 * operation, which also says what capacity it reserves. The workloads come
 * out in install order: disks and volumes, then networks, then other types,
 * then compute (zmachine VMs, containers); removal walks the array backwards.
 */
#ifndef ZOS_AGENT_DEPLOYMENT_H
#define ZOS_AGENT_DEPLOYMENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "provisioners/prov.h"

#define DEP_MAX_DOC (16u << 10)  /* plaintext bytes */
#define DEP_MAX_WORKLOADS 64
#define DEP_MAX_TYPE 32
#define DEP_MAX_TEXT 1024        /* metadata and description strings */

/* Finds a type's operations; prov_lookup in the agent, a fake in tests. */
typedef const struct prov_ops *(*dep_lookup_fn)(const char *type);

struct dep_workload {
	char name[PROV_NAME_MAX + 1];
	char type[DEP_MAX_TYPE + 1];
	uint32_t version;
	enum prov_stage stage; /* install order (prov_stage_of) */
	const cJSON *data;        /* borrowed from dep_doc.root */
	struct prov_capacity cap; /* what validate said it reserves */
};

struct dep_doc {
	cJSON *root;              /* owned; holds plaintext, wiped by dep_free */
	uint32_t version;
	uint32_t twin_id;
	size_t count;
	struct dep_workload *w;   /* owned, count entries, install order */
	struct prov_capacity total;
};

/*
 * Parses and validates len bytes of JSON (NUL not required). On failure
 * returns ZE_MALFORMED (bad JSON or fields), ZE_TOOBIG (bounds), -EINVAL
 * (a workload's data refused by its type), ZE_UNSUPPORTED (unknown type) or
 * -ENOMEM, with the exact reason in err, and leaves *out empty.
 * On success *out is released with dep_free().
 */
int dep_parse(const char *json, size_t len, uint32_t twin_id, dep_lookup_fn lookup,
	      struct dep_doc *out, char *err, size_t errsz);

/* Wipes the plaintext strings and frees. Safe on a zeroed or freed doc. */
void dep_free(struct dep_doc *d);

/* 0 when name matches ^[a-zA-Z0-9_]{1,36}$, -EINVAL otherwise. */
int dep_name_valid(const char *name);

/* Adds b to a; ZE_TOOBIG on overflow (a unchanged). */
int dep_cap_add(struct prov_capacity *a, const struct prov_capacity *b);

/* Overwrites every string of a cJSON tree (keys and values) with zeros, so
 * plaintext does not linger in freed memory. */
void dep_json_wipe(cJSON *j);

#endif
