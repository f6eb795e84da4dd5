/*
 * The chain client: an RPC connection plus the runtime context needed to
 * read storage and build extrinsics (genesis hash, spec and transaction
 * versions, metadata, signed extensions).
 *
 * The runtime context is a reference-counted, immutable snapshot. It is
 * loaded on first use and re-checked at most every recheck_ms: when the
 * chain's spec version changed (a runtime upgrade), a new snapshot with the
 * new metadata replaces the old one without restarting the process. Holders
 * of the old snapshot keep using it until they drop their reference.
 *
 * Reads follow the RPC layer's three-way contract: 0 = value, ZE_ABSENT =
 * the chain says there is none, anything else = unknown.
 *
 * Thread-safe.
 */
#ifndef ZOS_CHAINCLIENT_CLIENT_H
#define ZOS_CHAINCLIENT_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "chainclient/meta.h"
#include "chainclient/rpc.h"
#include "chainclient/xt.h"

struct chain_runtime {
	uint8_t genesis[32];
	uint32_t spec_version;
	uint32_t tx_version;
	struct meta *meta;
	struct xt_exts exts;
	int refs; /* atomic; owned by the client */
};

struct chain_client_opts {
	struct rpc_opts rpc;
	long recheck_ms; /* runtime version check interval; 0 = 30000, <0 = every use */
	/* Largest storage value read; 0 = 16 MiB. */
	size_t max_value;
};

void chain_client_opts_default(struct chain_client_opts *o);

struct chain_client;

/* Does not contact the chain; the runtime loads on first use. opts may be NULL. */
int chain_client_new(const char *url, const struct chain_client_opts *opts,
		     struct chain_client **out);
void chain_client_free(struct chain_client *c);
struct rpc_client *chain_client_rpc(struct chain_client *c);

/*
 * A reference to the current runtime snapshot (loading or re-checking it as
 * due). Release with chain_runtime_put().
 */
int chain_client_runtime(struct chain_client *c, struct chain_runtime **rt);
void chain_runtime_put(struct chain_runtime *rt);
/* Checks the spec version now and reloads on change; *changed (may be
 * NULL) tells whether a new snapshot was installed. */
int chain_client_refresh(struct chain_client *c, int *changed);

/*
 * Raw value of PALLET.ITEM with SCALE-encoded keys, at block `at` (32-byte
 * hash or NULL for best). *out caller frees. ZE_ABSENT when the chain has
 * no value stored (defaults are not substituted here).
 */
int chain_storage_raw(struct chain_client *c, const struct chain_runtime *rt, const char *pallet,
		      const char *item, size_t nkeys, const uint8_t *const *keys,
		      const size_t *key_lens, const uint8_t *at, uint8_t **out, size_t *outlen);

/*
 * PALLET.ITEM[keys] decoded to JSON. keys is a JSON array with one value per
 * map key, each in meta.h's JSON form of the key type (NULL or [] for a
 * plain value). An entry declared with a default (ValueQuery) yields the
 * default when nothing is stored, as the runtime itself would; an optional
 * one yields ZE_ABSENT. *out caller cJSON_Delete()s. ZE_UNSUPPORTED when the
 * pallet or item does not exist in this runtime (never ZE_ABSENT: a missing
 * item says nothing about the value), -EINVAL when the keys do not fit their
 * types, ZE_MALFORMED when the stored value does not decode as the
 * metadata's type. On those two errors the runtime version is re-checked
 * at once, and the read repeated if the runtime was upgraded.
 */
int chain_get_json(struct chain_client *c, const char *pallet, const char *item,
		   const cJSON *keys, const uint8_t *at, cJSON **out);

/* Best block number (chain_getHeader). */
int chain_block_number(struct chain_client *c, uint64_t *number);
/* Number and hash of the last finalized block. */
int chain_finalized(struct chain_client *c, uint64_t *number, uint8_t hash[32]);
/* Timestamp.Now in milliseconds at `at` (NULL = best). */
int chain_timestamp_ms(struct chain_client *c, const uint8_t *at, uint64_t *ms);

/*
 * System.Events at block `at`, flattened: a JSON array of
 *   {"index": extrinsic index or -1, "phase": "ApplyExtrinsic"|"Finalization"|
 *    "Initialization", "pallet": "Balances", "event": "Transfer", "data": {...}}
 * (*out caller frees).
 */
int chain_events(struct chain_client *c, const struct chain_runtime *rt, const uint8_t at[32],
		 cJSON **out);

/*
 * The same, keeping only the events of the npallets pallets named (and
 * decoding only those: the others are walked over, nothing allocated).
 */
int chain_events_of_pallets(struct chain_client *c, const struct chain_runtime *rt,
			    const uint8_t at[32], const char *const *pallets, size_t npallets,
			    cJSON **out);

/*
 * The same from System.Events' raw SCALE value (raw NULL: none stored, an
 * empty list), read by the caller (chain_block_reads).
 */
int chain_events_decode(const struct chain_runtime *rt, const uint8_t *raw, size_t n,
			const char *const *pallets, size_t npallets, cJSON **out);

/*
 * What a block follower reads of block number (hash), in one request where
 * the chain takes JSON-RPC batches: System.Events' raw value (*events heap,
 * NULL when none are stored) and, with body, the block's extrinsics (free
 * with rpc_keys_free(*xts, *lens, *nxt)). With verify, the chain's hash of
 * block number is asked in the same request; when it is not hash (which
 * came from a header the caller hashed itself), ZE_STATE with hash set to
 * the chain's, nothing else returned: read again with that. ZE_ABSENT when
 * the chain has no block number (yet).
 */
int chain_block_reads(struct chain_client *c, const struct chain_runtime *rt, uint64_t number,
		      uint8_t hash[32], int verify, int body, uint8_t **events, size_t *nevents,
		      uint8_t ***xts, size_t **lens, size_t *nxt);

/* First event of pallet.name in a flattened event array, or NULL. */
const cJSON *chain_event_find(const cJSON *events, const char *pallet, const char *name);

/*
 * Names a DispatchError (as decoded JSON) into out: "Pallet.Error" for a
 * module error (resolved through the metadata's error variants, e.g.
 * "SmartContractModule.NodeNotAuthorized"), "Token.FundsUnavailable" or
 * "BadOrigin" style names otherwise.
 */
int chain_dispatch_error_name(const struct meta *m, const cJSON *err, char *out, size_t outsz);

/*
 * Orders named call arguments (a JSON object {arg: value}) into the array
 * meta_encode_call takes, following this runtime's argument list. -EINVAL
 * when an argument is missing or unexpected (*which names it, pointing into
 * m or named), ZE_UNSUPPORTED when the call does not exist. *args caller
 * frees.
 */
int chain_call_args(const struct meta *m, const char *pallet, const char *call,
		    const cJSON *named, cJSON **args, const char **which);

#endif
