/*
 * RMB envelopes: JSON encoding, decoding, the signed challenge.
 *
 * Byte-level contract: docs/rmb.md. The decoder refuses input above its
 * max before parsing, refuses text that is not canonical (rmb_json_canonical,
 * duplicate member names, more than RMB_MEMBERS_MAX members), ignores
 * unknown fields, and treats a missing or mistyped field as malformed. It does not check times, keys or replay;
 * that is rmb_verify's job.
 */
#ifndef ZOS_RMB_ENVELOPE_H
#define ZOS_RMB_ENVELOPE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "common/key.h"
#include "rmb/rmb.h"

/* Members of an envelope object (known and unknown) at most. */
#define RMB_MEMBERS_MAX 32

enum rmb_kind { RMB_REQUEST = 0, RMB_REPLY = 1 };

struct rmb_env {
	uint32_t ver;
	enum rmb_kind kind;
	char uid[RMB_UID_MAX + 1];
	char cmd[RMB_CMD_MAX + 1];
	uint32_t src;
	uint32_t dst;
	uint64_t now; /* unix seconds at creation */
	uint32_t exp; /* ttl in seconds */
	uint8_t *dat; /* decoded payload, owned by the envelope (may be NULL) */
	size_t dat_len;
	int has_err; /* replies only: err set, dat empty */
	struct rmb_error err;
	int scheme; /* KEY_ED25519 (member "sch" absent) or KEY_SR25519 */
	uint8_t sig[64];
};

/* Zeroes e. */
void rmb_env_init(struct rmb_env *e);
/* Frees dat and zeroes e. */
void rmb_env_clear(struct rmb_env *e);

/* Copies uid/cmd into e; -EINVAL when too long or outside the charset. */
int rmb_env_set_uid(struct rmb_env *e, const char *uid);
int rmb_env_set_cmd(struct rmb_env *e, const char *cmd);
/* Copies n bytes into a new dat (replacing the old one). */
int rmb_env_set_dat(struct rmb_env *e, const void *p, size_t n);

/* blake2b-256 of the domain-separated encoding of every field but sig. */
void rmb_env_challenge(const struct rmb_env *e, uint8_t out[32]);
/* Sets e->scheme to k's and fills e->sig with k's signature of the challenge. */
int rmb_env_sign(struct rmb_env *e, const struct zkey *k);
/* 0 when e->sig is pk's signature of the challenge under e->scheme (the
 * scheme the envelope declares), ZE_CRYPTO otherwise. */
int rmb_env_verify_sig(const struct rmb_env *e, const uint8_t pk[32]);

/* JSON text of e (not NUL-counted in *len, but NUL-terminated); the caller
 * frees *out with free(). ZE_TOOBIG when longer than max (0 = default). */
int rmb_env_encode(const struct rmb_env *e, size_t max, char **out, size_t *len);

/* Decodes buf into e (which the caller clears afterwards, also on error: a
 * partly decoded uid helps to address an error reply). Returns 0, or
 * ZE_TOOBIG (len > max, nothing parsed) or ZE_MALFORMED; *code then says
 * which RMB code applies (RMB_E_MALFORMED or RMB_E_PAYLOAD). */
int rmb_env_decode(const void *buf, size_t len, size_t max, struct rmb_env *e,
		   uint32_t *code);

/* 0 when len bytes are one envelope-grade JSON text: valid UTF-8, no
 * \u0000 or unpaired surrogate escapes, numbers only as plain non-negative
 * integers, nothing after the value but whitespace (docs/rmb.md,
 * "Envelope"); ZE_MALFORMED otherwise. */
int rmb_json_canonical(const void *buf, size_t len);
/* Length (1..4) of the valid UTF-8 sequence at p (p < end), 0 if invalid. */
size_t rmb_utf8_seq(const unsigned char *p, const unsigned char *end);

/* Parses exactly one JSON document (trailing whitespace allowed) from len
 * bytes; the caller cJSON_Deletes *out. ZE_MALFORMED otherwise. */
int rmb_json_parse(const void *buf, size_t len, cJSON **out);

/* A fresh random uid (32 hex digits) into out (>= RMB_UID_MAX + 1). */
void rmb_uid_new(char out[RMB_UID_MAX + 1]);

#endif
