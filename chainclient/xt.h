/*
 * Extrinsics (format v4): eras, signed extensions, signing and decoding.
 *
 * Signed extrinsic = compact(len) ++ 0x84 ++ MultiAddress::Id(signer) ++
 * MultiSignature::Ed25519|Sr25519(sig) ++ extras ++ call, where the extras and the
 * signed payload's "additional" data follow the runtime's signed extensions
 * in order. Signed payload = call ++ extras ++ additionals, replaced by its
 * blake2b-256 when longer than 256 bytes.
 *
 * Accounts are MultiAddress::Id with an ed25519 or sr25519 signature; other
 * address or signature kinds (ecdsa) decode as ZE_UNSUPPORTED.
 */
#ifndef ZOS_CHAINCLIENT_XT_H
#define ZOS_CHAINCLIENT_XT_H

#include <stddef.h>
#include <stdint.h>

#include "chainclient/meta.h"
#include "chainclient/scale.h"
#include "common/buf.h"
#include "common/key.h"

#define XT_VERSION 4
#define XT_MAX_LEN (4u << 20) /* largest extrinsic xt_decode accepts */
#define XT_PAYLOAD_HASH_OVER 256

/* sp_runtime's Era: immortal, or mortal for `period` blocks from a birth
 * block congruent to `phase` modulo period. */
struct xt_era {
	int mortal;
	uint64_t period; /* power of two in [4, 65536] */
	uint64_t phase;  /* < period, quantized */
};

void xt_era_immortal(struct xt_era *e);
/* Era::mortal(period, current): period rounded up to a power of two and
 * clamped to [4, 65536], phase = current % period, quantized. */
void xt_era_mortal(uint64_t period, uint64_t current, struct xt_era *e);
/* 1 byte (0x00) immortal, 2 bytes mortal. */
int xt_era_encode(const struct xt_era *e, struct zbuf *out);
/* ZE_MALFORMED for an encoding Substrate rejects. */
int xt_era_decode(struct scale_rd *r, struct xt_era *e);
/* First and last+1 block of validity given a current block (as era.rs). */
uint64_t xt_era_birth(const struct xt_era *e, uint64_t current);
uint64_t xt_era_death(const struct xt_era *e, uint64_t current);

/* Signed extensions this code knows how to fill. XT_EXT_EMPTY stands for an
 * unknown extension whose extra and additional types are both zero-sized. */
enum xt_ext {
	XT_EXT_NON_ZERO_SENDER = 0, /* CheckNonZeroSender */
	XT_EXT_SPEC_VERSION,        /* CheckSpecVersion: additional u32 */
	XT_EXT_TX_VERSION,          /* CheckTxVersion: additional u32 */
	XT_EXT_GENESIS,             /* CheckGenesis: additional hash */
	XT_EXT_MORTALITY,           /* CheckMortality / CheckEra: extra era, additional hash */
	XT_EXT_NONCE,               /* CheckNonce: extra compact nonce */
	XT_EXT_WEIGHT,              /* CheckWeight */
	XT_EXT_PAYMENT,             /* ChargeTransactionPayment: extra compact tip */
	XT_EXT_EMPTY,
};

#define XT_MAX_EXTS 32

struct xt_exts {
	enum xt_ext ids[XT_MAX_EXTS];
	size_t n;
};

/* tfchain's list (docs/devchain.md, Extrinsics), for use without metadata. */
void xt_exts_default(struct xt_exts *out);
/*
 * The runtime's list from its metadata. ZE_UNSUPPORTED when it needs an
 * extension we cannot fill; *unknown (if not NULL) then names it (a pointer
 * into m).
 */
int xt_exts_from_meta(const struct meta *m, struct xt_exts *out, const char **unknown);

/* What a signed extrinsic commits to. */
struct xt_params {
	const uint8_t *call; /* pallet index ++ call index ++ args */
	size_t call_len;
	struct xt_era era;
	uint64_t nonce;
	scale_u128 tip;
	uint32_t spec_version;
	uint32_t tx_version;
	uint8_t genesis[32];
	/* CheckMortality's additional data: the hash of the era's birth block,
	 * which for an immortal era is the genesis hash. Signed as given. */
	uint8_t block_hash[32];
};

/* Appends the bytes to sign: the payload, or its blake2b-256 when the
 * payload is longer than 256 bytes. */
int xt_signing_payload(const struct xt_exts *exts, const struct xt_params *p, struct zbuf *out);

/* Appends compact(len) ++ signed extrinsic v4 signed by k, with
 * MultiSignature::Ed25519 or ::Sr25519 after k's scheme. */
int xt_sign(const struct xt_exts *exts, const struct xt_params *p, const struct zkey *k,
	    struct zbuf *out);
/* The same with a signature made elsewhere over xt_signing_payload(). */
int xt_assemble(const struct xt_exts *exts, const struct xt_params *p,
		const uint8_t signer[32], const uint8_t sig[64], struct zbuf *out);
/* The same for a signature of either scheme (enum key_scheme). */
int xt_assemble_scheme(const struct xt_exts *exts, const struct xt_params *p, int scheme,
		       const uint8_t signer[32], const uint8_t sig[64], struct zbuf *out);

/* Appends compact(len) ++ 0x04 ++ call (an unsigned extrinsic, e.g. an inherent). */
int xt_unsigned(const uint8_t *call, size_t call_len, struct zbuf *out);

/* A decoded extrinsic. Pointers are views into the decoded input. */
struct xt_decoded {
	int is_signed;
	uint8_t signer[32];
	uint8_t sig[64];
	int sig_scheme; /* KEY_ED25519 or KEY_SR25519 (MultiSignature's variant) */
	struct xt_era era;
	uint64_t nonce;
	scale_u128 tip;
	const uint8_t *call;
	size_t call_len;
};

/*
 * Decodes one extrinsic with its compact length prefix (as in a block body or
 * author_submitExtrinsic), which must cover p exactly. The call bytes are not
 * parsed. ZE_MALFORMED on bad input, ZE_UNSUPPORTED on another version,
 * address or signature kind.
 */
int xt_decode(const struct xt_exts *exts, const uint8_t *p, size_t n, struct xt_decoded *out);

/*
 * Checks a decoded signed extrinsic's signature against the chain's values
 * (spec and tx versions, genesis, and the hash of the era's birth block,
 * which the verifier looks up with xt_era_birth; NULL means genesis, right
 * for an immortal era). 0 when valid, ZE_CRYPTO otherwise, -EINVAL for an
 * unsigned extrinsic.
 */
int xt_verify(const struct xt_exts *exts, const struct xt_decoded *d, uint32_t spec_version,
	      uint32_t tx_version, const uint8_t genesis[32], const uint8_t block_hash[32]);

/* blake2b-256 of the encoded extrinsic (what author_submitExtrinsic returns). */
void xt_hash(const uint8_t *p, size_t n, uint8_t out[32]);

#endif
