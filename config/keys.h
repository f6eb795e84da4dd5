/*
 * The table of configuration keys: name, type, bounds, where the value lives
 * in struct cfg and whether a change needs a restart. Internal to config/.
 */
#ifndef ZOS_CONFIG_KEYS_H
#define ZOS_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

enum cfg_type {
	CFG_T_URL,    /* http:// or https:// */
	CFG_T_PATH,   /* absolute path */
	CFG_T_PATH0,  /* absolute path or "" (derived later) */
	CFG_T_LISTEN, /* list of tcp://host:port | ipc:///path */
	CFG_T_RELAY,  /* "" or tcp://host:port */
	CFG_T_ADDR,   /* "" or host:port (an IP literal, [v6] in brackets) */
	CFG_T_TEXT,   /* any printable text, "" = not set */
	CFG_T_U32,
	CFG_T_SIZE,   /* u64 bytes with optional K/M/G/T suffix */
	CFG_T_SECS,   /* u32 seconds with optional s/m/h/d suffix */
	CFG_T_BOOL,
	CFG_T_LEVEL,
	CFG_T_TARGET,
	CFG_T_HOSTS,  /* "" or registry hosts (HOST[:PORT] or *), comma separated */
	CFG_T_ACCEL, /* auto | kvm | tcg, kept as a string */
	CFG_T_RUNTIME, /* auto, runc or crun */
	CFG_T_WGMODE, /* auto | kernel | userspace (enum cfg_wg_mode) */
	CFG_T_IPV4,   /* "" or a dotted IPv4 address */
	CFG_T_DOMAIN, /* "" or a lower-case domain name */
};

struct cfg_key {
	const char *name; /* "section.key" */
	enum cfg_type type;
	size_t off;
	uint64_t min, max;
	int restart; /* 1: the daemon applies a new value only on restart */
};

extern const struct cfg_key cfg_keys[];
extern const size_t cfg_nkeys;

const struct cfg_key *cfg_key_find(const char *name);
/* Parses text into the key's field. append: add to a list instead of
 * replacing it. On error writes a reason (without key or origin) to err. */
int cfg_key_parse(struct cfg *c, const struct cfg_key *k, const char *text, int append, char *err,
		  size_t errsz);
/* Writes "key = value" line(s) for the key's value (name without section). */
int cfg_key_write(const struct cfg *c, const struct cfg_key *k, FILE *f);
int cfg_key_equal(const struct cfg *a, const struct cfg *b, const struct cfg_key *k);
void cfg_key_copy(struct cfg *dst, const struct cfg *src, const struct cfg_key *k);

#endif
