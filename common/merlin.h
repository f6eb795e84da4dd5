/*
 * Merlin transcripts (STROBE-128 over Keccak-f[1600]), as schnorrkel's
 * sr25519 signatures and key derivation use them.
 *
 * A struct merlin holds secret-dependent state once a secret was appended:
 * wipe it with merlin_wipe() when done. Copying the struct forks the
 * transcript (schnorrkel clones transcripts the same way).
 */
#ifndef ZOS_COMMON_MERLIN_H
#define ZOS_COMMON_MERLIN_H

#include <stddef.h>
#include <stdint.h>

struct merlin {
	uint8_t st[200]; /* the Keccak state, lanes little-endian */
	uint8_t pos, pos_begin, cur_flags;
};

/* Keccak-f[1600] on 25 little-endian lanes (exposed for its tests). */
void merlin_keccak_f1600(uint8_t st[200]);

/* Transcript::new(label): STROBE-128("Merlin v1.0"), then "dom-sep". */
void merlin_init(struct merlin *t, const char *label);
/* Transcript::append_message: the label is a C string, msg n bytes. */
void merlin_append(struct merlin *t, const char *label, const uint8_t *msg, size_t n);
/* Transcript::challenge_bytes: n bytes of output bound to everything so far. */
void merlin_challenge(struct merlin *t, const char *label, uint8_t *out, size_t n);

/*
 * The transcript RNG (Merlin's TranscriptRngBuilder): a fork of t rekeyed
 * with each witness (label, bytes), then with 32 bytes from the system RNG,
 * then n bytes of output. t itself is not changed.
 */
void merlin_witness(const struct merlin *t, const char *label, const uint8_t *const *wit,
		    const size_t *wit_len, size_t nwit, uint8_t *out, size_t n);

void merlin_wipe(struct merlin *t);

#endif
