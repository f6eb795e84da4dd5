/* Extrinsic v4: eras, signed extensions, signing, decoding, verification. */
#include "chainclient/xt.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "chainclient/hash.h"
#include "common/zerr.h"

#define ADDR_ID 0x00
/* MultiSignature's variants are numbered as enum key_scheme is. */
#define SIG_ED25519 0x00
#define SIG_SR25519 0x01

void xt_era_immortal(struct xt_era *e)
{
	memset(e, 0, sizeof *e);
}

void xt_era_mortal(uint64_t period, uint64_t current, struct xt_era *e)
{
	uint64_t p = 4;
	while (p < period && p < 65536)
		p <<= 1;
	uint64_t qf = p >> 12 ? p >> 12 : 1;
	e->mortal = 1;
	e->period = p;
	e->phase = current % p / qf * qf;
}

static unsigned trailing_zeros(uint64_t v)
{
	unsigned n = 0;
	while (n < 64 && !(v >> n & 1))
		n++;
	return n;
}

int xt_era_encode(const struct xt_era *e, struct zbuf *out)
{
	if (!e->mortal)
		return zbuf_putc(out, 0);
	/* Only what Era::mortal produces is encodable without loss. */
	if (e->period < 4 || e->period > 65536 || (e->period & (e->period - 1)) ||
	    e->phase >= e->period)
		return -EINVAL;
	uint64_t qf = e->period >> 12 ? e->period >> 12 : 1;
	if (e->phase % qf)
		return -EINVAL;
	unsigned low = trailing_zeros(e->period) - 1;
	if (low < 1)
		low = 1;
	if (low > 15)
		low = 15;
	uint16_t enc = (uint16_t)(low | (e->phase / qf) << 4);
	return scale_put_u16(out, enc);
}

int xt_era_decode(struct scale_rd *r, struct xt_era *e)
{
	struct scale_rd t = *r;
	uint8_t first, second;
	int rc = scale_get_u8(&t, &first);
	if (rc)
		return rc;
	if (first == 0) {
		xt_era_immortal(e);
		*r = t;
		return 0;
	}
	if ((rc = scale_get_u8(&t, &second)))
		return rc;
	uint16_t enc = (uint16_t)(first | second << 8);
	uint64_t period = 2ull << (enc % 16);
	uint64_t qf = period >> 12 ? period >> 12 : 1;
	uint64_t phase = (uint64_t)(enc >> 4) * qf;
	if (period < 4 || phase >= period)
		return ZE_MALFORMED;
	e->mortal = 1;
	e->period = period;
	e->phase = phase;
	*r = t;
	return 0;
}

uint64_t xt_era_birth(const struct xt_era *e, uint64_t current)
{
	if (!e->mortal)
		return 0;
	uint64_t c = current > e->phase ? current : e->phase;
	return (c - e->phase) / e->period * e->period + e->phase;
}

uint64_t xt_era_death(const struct xt_era *e, uint64_t current)
{
	if (!e->mortal)
		return UINT64_MAX;
	return xt_era_birth(e, current) + e->period;
}

void xt_exts_default(struct xt_exts *out)
{
	static const enum xt_ext tf[] = {
		XT_EXT_NON_ZERO_SENDER, XT_EXT_SPEC_VERSION, XT_EXT_TX_VERSION, XT_EXT_GENESIS,
		XT_EXT_MORTALITY,       XT_EXT_NONCE,        XT_EXT_WEIGHT,     XT_EXT_PAYMENT,
	};
	memcpy(out->ids, tf, sizeof tf);
	out->n = sizeof tf / sizeof tf[0];
}

static const struct {
	const char *name;
	enum xt_ext id;
} known_exts[] = {
	{"CheckNonZeroSender", XT_EXT_NON_ZERO_SENDER},
	{"CheckSpecVersion", XT_EXT_SPEC_VERSION},
	{"CheckTxVersion", XT_EXT_TX_VERSION},
	{"CheckGenesis", XT_EXT_GENESIS},
	{"CheckMortality", XT_EXT_MORTALITY},
	{"CheckEra", XT_EXT_MORTALITY},
	{"CheckNonce", XT_EXT_NONCE},
	{"CheckWeight", XT_EXT_WEIGHT},
	{"ChargeTransactionPayment", XT_EXT_PAYMENT},
};

/* 1 when values of the type always encode to zero bytes. */
static int zero_sized(const struct meta *m, uint32_t type, int depth)
{
	const struct meta_type *t = meta_type(m, type);
	if (!t || depth > META_MAX_DEPTH)
		return 0;
	switch (t->kind) {
	case META_COMPOSITE:
		for (size_t i = 0; i < t->nfields; i++)
			if (!zero_sized(m, t->fields[i].type, depth + 1))
				return 0;
		return 1;
	case META_TUPLE:
		for (size_t i = 0; i < t->ntuple; i++)
			if (!zero_sized(m, t->tuple[i], depth + 1))
				return 0;
		return 1;
	case META_ARRAY:
		return t->len == 0 || zero_sized(m, t->elem, depth + 1);
	default:
		return 0;
	}
}

int xt_exts_from_meta(const struct meta *m, struct xt_exts *out, const char **unknown)
{
	if (m->nexts > XT_MAX_EXTS)
		return ZE_UNSUPPORTED;
	out->n = 0;
	for (size_t i = 0; i < m->nexts; i++) {
		const struct meta_signed_ext *e = &m->exts[i];
		size_t k;
		for (k = 0; k < sizeof known_exts / sizeof known_exts[0]; k++)
			if (strcmp(e->identifier, known_exts[k].name) == 0)
				break;
		if (k < sizeof known_exts / sizeof known_exts[0]) {
			out->ids[out->n++] = known_exts[k].id;
		} else if (zero_sized(m, e->type, 0) && zero_sized(m, e->additional, 0)) {
			/* An extension that carries no data cannot change the bytes. */
			out->ids[out->n++] = XT_EXT_EMPTY;
		} else {
			if (unknown)
				*unknown = e->identifier;
			return ZE_UNSUPPORTED;
		}
	}
	return 0;
}

static int put_extras(const struct xt_exts *exts, const struct xt_params *p, struct zbuf *out)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < exts->n; i++) {
		switch (exts->ids[i]) {
		case XT_EXT_MORTALITY:
			rc = xt_era_encode(&p->era, out);
			break;
		case XT_EXT_NONCE:
			rc = scale_put_compact(out, p->nonce);
			break;
		case XT_EXT_PAYMENT:
			rc = scale_put_compact128(out, p->tip);
			break;
		default:
			break;
		}
	}
	return rc;
}

static int put_additional(const struct xt_exts *exts, const struct xt_params *p,
			  struct zbuf *out)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < exts->n; i++) {
		switch (exts->ids[i]) {
		case XT_EXT_SPEC_VERSION:
			rc = scale_put_u32(out, p->spec_version);
			break;
		case XT_EXT_TX_VERSION:
			rc = scale_put_u32(out, p->tx_version);
			break;
		case XT_EXT_GENESIS:
			rc = zbuf_put(out, p->genesis, 32);
			break;
		case XT_EXT_MORTALITY:
			rc = zbuf_put(out, p->block_hash, 32);
			break;
		default:
			break;
		}
	}
	return rc;
}

int xt_signing_payload(const struct xt_exts *exts, const struct xt_params *p, struct zbuf *out)
{
	struct zbuf pl;
	int rc;
	zbuf_init(&pl, 0);
	if ((rc = zbuf_put(&pl, p->call, p->call_len)) || (rc = put_extras(exts, p, &pl)) ||
	    (rc = put_additional(exts, p, &pl)))
		goto out;
	if (pl.len > XT_PAYLOAD_HASH_OVER) {
		uint8_t h[32];
		chain_blake2_256(pl.data, pl.len, h);
		rc = zbuf_put(out, h, sizeof h);
	} else {
		rc = zbuf_put(out, pl.data, pl.len);
	}
out:
	zbuf_free(&pl);
	return rc;
}

int xt_assemble(const struct xt_exts *exts, const struct xt_params *p, const uint8_t signer[32],
		const uint8_t sig[64], struct zbuf *out)
{
	return xt_assemble_scheme(exts, p, KEY_ED25519, signer, sig, out);
}

int xt_assemble_scheme(const struct xt_exts *exts, const struct xt_params *p, int scheme,
		       const uint8_t signer[32], const uint8_t sig[64], struct zbuf *out)
{
	struct zbuf body;
	int rc;
	size_t old = out->len;
	if (scheme != KEY_ED25519 && scheme != KEY_SR25519)
		return -EINVAL;
	zbuf_init(&body, 0);
	if ((rc = zbuf_putc(&body, 0x80 | XT_VERSION)) || (rc = zbuf_putc(&body, ADDR_ID)) ||
	    (rc = zbuf_put(&body, signer, 32)) ||
	    (rc = zbuf_putc(&body, scheme == KEY_SR25519 ? SIG_SR25519 : SIG_ED25519)) ||
	    (rc = zbuf_put(&body, sig, 64)) || (rc = put_extras(exts, p, &body)) ||
	    (rc = zbuf_put(&body, p->call, p->call_len)))
		goto out;
	if ((rc = scale_put_compact(out, body.len)) || (rc = zbuf_put(out, body.data, body.len)))
		out->len = old;
out:
	zbuf_free(&body);
	return rc;
}

int xt_sign(const struct xt_exts *exts, const struct xt_params *p, const struct zkey *k,
	    struct zbuf *out)
{
	struct zbuf pl;
	uint8_t sig[64];
	int rc;
	zbuf_init(&pl, 0);
	if ((rc = xt_signing_payload(exts, p, &pl)))
		goto out;
	if ((rc = key_sign(k, pl.data, pl.len, sig)))
		goto out;
	rc = xt_assemble_scheme(exts, p, k->scheme, k->pk, sig, out);
out:
	zbuf_free(&pl);
	return rc;
}

int xt_unsigned(const uint8_t *call, size_t call_len, struct zbuf *out)
{
	size_t old = out->len;
	int rc;
	if (call_len == SIZE_MAX)
		return ZE_TOOBIG;
	if ((rc = scale_put_compact(out, call_len + 1)) || (rc = zbuf_putc(out, XT_VERSION)) ||
	    (rc = zbuf_put(out, call, call_len)))
		out->len = old;
	return rc;
}

static int get_extras(const struct xt_exts *exts, struct scale_rd *r, struct xt_decoded *d)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < exts->n; i++) {
		switch (exts->ids[i]) {
		case XT_EXT_MORTALITY:
			rc = xt_era_decode(r, &d->era);
			break;
		case XT_EXT_NONCE:
			rc = scale_get_compact(r, &d->nonce);
			break;
		case XT_EXT_PAYMENT:
			rc = scale_get_compact128(r, &d->tip);
			break;
		default:
			break;
		}
	}
	return rc == ZE_TOOBIG ? ZE_MALFORMED : rc;
}

int xt_decode(const struct xt_exts *exts, const uint8_t *p, size_t n, struct xt_decoded *out)
{
	struct scale_rd r;
	struct xt_decoded d;
	uint8_t ver, tag;
	size_t len;
	int rc;

	if (n > XT_MAX_LEN + 8)
		return ZE_TOOBIG;
	memset(&d, 0, sizeof d);
	scale_rd_init(&r, p, n);
	if ((rc = scale_get_len(&r, XT_MAX_LEN, 1, &len)))
		return rc;
	if (len != scale_rd_left(&r))
		return ZE_MALFORMED;
	if ((rc = scale_get_u8(&r, &ver)))
		return rc;
	if ((ver & 0x7f) != XT_VERSION)
		return ZE_UNSUPPORTED;
	d.is_signed = (ver & 0x80) != 0;
	if (d.is_signed) {
		if ((rc = scale_get_u8(&r, &tag)))
			return rc;
		if (tag != ADDR_ID)
			return ZE_UNSUPPORTED;
		if ((rc = scale_get_bytes(&r, d.signer, 32)) || (rc = scale_get_u8(&r, &tag)))
			return rc;
		if (tag != SIG_ED25519 && tag != SIG_SR25519)
			return ZE_UNSUPPORTED;
		d.sig_scheme = tag == SIG_SR25519 ? KEY_SR25519 : KEY_ED25519;
		if ((rc = scale_get_bytes(&r, d.sig, 64)) || (rc = get_extras(exts, &r, &d)))
			return rc;
	}
	/* A call has at least its pallet and call index. */
	if (scale_rd_left(&r) < 2)
		return ZE_MALFORMED;
	d.call_len = scale_rd_left(&r);
	if ((rc = scale_get_view(&r, d.call_len, &d.call)))
		return rc;
	*out = d;
	return 0;
}

int xt_verify(const struct xt_exts *exts, const struct xt_decoded *d, uint32_t spec_version,
	      uint32_t tx_version, const uint8_t genesis[32], const uint8_t block_hash[32])
{
	struct xt_params p = {
		.call = d->call,
		.call_len = d->call_len,
		.era = d->era,
		.nonce = d->nonce,
		.tip = d->tip,
		.spec_version = spec_version,
		.tx_version = tx_version,
	};
	struct zbuf pl;
	int rc;
	if (!d->is_signed)
		return -EINVAL;
	memcpy(p.genesis, genesis, 32);
	memcpy(p.block_hash, block_hash ? block_hash : genesis, 32);
	zbuf_init(&pl, 0);
	if ((rc = xt_signing_payload(exts, &p, &pl)) == 0 &&
	    key_verify_scheme(d->sig_scheme, d->signer, pl.data, pl.len, d->sig) != 0)
		rc = ZE_CRYPTO;
	zbuf_free(&pl);
	return rc;
}

void xt_hash(const uint8_t *p, size_t n, uint8_t out[32])
{
	chain_blake2_256(p, n, out);
}
