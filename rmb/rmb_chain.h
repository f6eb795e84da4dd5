/*
 * Twin lookups on chain for rmb: an rmb_twin_lookup_fn reading
 * TfgridModule.Twins through chainclient/, for the agent's server and for
 * zos-cli's "rmb call". The relay field holds the twin's RMB address(es):
 * nng URLs separated by spaces or commas (docs/rmb.md).
 */
#ifndef ZOS_RMB_CHAIN_H
#define ZOS_RMB_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "chainclient/client.h"
#include "rmb/rmb_guard.h"

/* ctx is a struct chain_client *. 0, ZE_ABSENT (the chain has no such
 * twin), or ZE_UNKNOWN (no trustworthy answer: RPC down, pallet missing,
 * value that does not decode). */
int rmb_chain_twin_lookup(void *ctx, uint32_t twin_id, struct rmb_twin *out);

/* The port a relay without one means (docs/rmb.md, "Addresses on chain"). */
#define RMB_DEFAULT_PORT 8800

/* Copies the first address of a relay field into out as an nng URL; -ENOENT
 * when there is none, -ENOSPC when it does not fit. tfchain's runtime
 * accepts only domain-like relays, so besides nng URLs a relay may hold a
 * bare host (tcp://HOST:8800) or an IPv4 address followed by ".PORT"
 * ("203.0.113.5.7001" is tcp://203.0.113.5:7001). */
int rmb_relay_first(const char *relay, char *out, size_t outsz);

/* Writes the relay form of the nng URL tcp://HOST:PORT into out: "HOST" when
 * PORT is RMB_DEFAULT_PORT, "A.B.C.D.PORT" for an IPv4 host; other URLs are
 * copied unchanged (tfchain-dev accepts them, tfchain's runtime does not).
 * -ENOSPC when it does not fit. */
int rmb_relay_compact(const char *url, char *out, size_t outsz);

#endif
