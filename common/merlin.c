/*
 * Merlin transcripts over STROBE-128 on Keccak-f[1600], written from the
 * Keccak reference (FIPS 202), the STROBE 1.0.2 specification and Merlin's
 * description of its operations. Only the STROBE operations Merlin uses are
 * here: meta-AD, AD, PRF and KEY, each with its "more" continuation.
 */
#include "common/merlin.h"

#include <sodium.h>
#include <string.h>

#define STROBE_R 166
#define FLAG_I 1
#define FLAG_A (1 << 1)
#define FLAG_C (1 << 2)
#define FLAG_M (1 << 4)
#define FLAG_K (1 << 5)

static const uint64_t keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* Rotation offsets r[x][y], indexed x + 5y. */
static const unsigned keccak_rot[25] = {
    0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
};

static uint64_t rol64(uint64_t v, unsigned n)
{
	return n ? (v << n) | (v >> (64 - n)) : v;
}

void merlin_keccak_f1600(uint8_t st[200])
{
	uint64_t a[25], b[25], c[5], d[5];

	/* Lanes are little-endian whatever the host's byte order. */
	for (int i = 0; i < 25; i++) {
		uint64_t v = 0;
		for (int j = 7; j >= 0; j--)
			v = (v << 8) | st[8 * i + j];
		a[i] = v;
	}
	for (int round = 0; round < 24; round++) {
		/* theta */
		for (int x = 0; x < 5; x++)
			c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
		for (int x = 0; x < 5; x++)
			d[x] = c[(x + 4) % 5] ^ rol64(c[(x + 1) % 5], 1);
		for (int i = 0; i < 25; i++)
			a[i] ^= d[i % 5];
		/* rho and pi: B[y][2x+3y] = rot(A[x][y], r[x][y]) */
		for (int x = 0; x < 5; x++)
			for (int y = 0; y < 5; y++)
				b[y + 5 * ((2 * x + 3 * y) % 5)] =
				    rol64(a[x + 5 * y], keccak_rot[x + 5 * y]);
		/* chi */
		for (int y = 0; y < 5; y++)
			for (int x = 0; x < 5; x++)
				a[x + 5 * y] = b[x + 5 * y] ^
					       (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
		/* iota */
		a[0] ^= keccak_rc[round];
	}
	for (int i = 0; i < 25; i++)
		for (int j = 0; j < 8; j++)
			st[8 * i + j] = (uint8_t)(a[i] >> (8 * j));
	sodium_memzero(a, sizeof a);
	sodium_memzero(b, sizeof b);
	sodium_memzero(c, sizeof c);
	sodium_memzero(d, sizeof d);
}

static void run_f(struct merlin *t)
{
	t->st[t->pos] ^= t->pos_begin;
	t->st[t->pos + 1] ^= 0x04;
	t->st[STROBE_R + 1] ^= 0x80;
	merlin_keccak_f1600(t->st);
	t->pos = 0;
	t->pos_begin = 0;
}

static void absorb(struct merlin *t, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		t->st[t->pos++] ^= p[i];
		if (t->pos == STROBE_R)
			run_f(t);
	}
}

static void overwrite(struct merlin *t, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		t->st[t->pos++] = p[i];
		if (t->pos == STROBE_R)
			run_f(t);
	}
}

static void squeeze(struct merlin *t, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = t->st[t->pos];
		t->st[t->pos++] = 0;
		if (t->pos == STROBE_R)
			run_f(t);
	}
}

/* A continued operation ("more") keeps the flags of the one it continues;
 * every call site below continues only the operation it just began. */
static void begin_op(struct merlin *t, uint8_t flags, int more)
{
	if (more)
		return;
	uint8_t hdr[2] = {t->pos_begin, flags};
	t->pos_begin = (uint8_t)(t->pos + 1);
	t->cur_flags = flags;
	absorb(t, hdr, 2);
	/* Operations that use the cipher (C) or a key (K) start on a fresh block. */
	if ((flags & (FLAG_C | FLAG_K)) && t->pos != 0)
		run_f(t);
}

static void meta_ad(struct merlin *t, const uint8_t *p, size_t n, int more)
{
	begin_op(t, FLAG_M | FLAG_A, more);
	absorb(t, p, n);
}

static void le32(size_t n, uint8_t out[4])
{
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(n >> (8 * i));
}

void merlin_init(struct merlin *t, const char *label)
{
	static const uint8_t head[6] = {1, STROBE_R + 2, 1, 0, 1, 96};
	memset(t, 0, sizeof *t);
	memcpy(t->st, head, sizeof head);
	memcpy(t->st + 6, "STROBEv1.0.2", 12);
	merlin_keccak_f1600(t->st);
	meta_ad(t, (const uint8_t *)"Merlin v1.0", 11, 0);
	merlin_append(t, "dom-sep", (const uint8_t *)label, strlen(label));
}

void merlin_append(struct merlin *t, const char *label, const uint8_t *msg, size_t n)
{
	uint8_t len[4];
	le32(n, len);
	meta_ad(t, (const uint8_t *)label, strlen(label), 0);
	meta_ad(t, len, 4, 1);
	begin_op(t, FLAG_A, 0);
	absorb(t, msg, n);
}

void merlin_challenge(struct merlin *t, const char *label, uint8_t *out, size_t n)
{
	uint8_t len[4];
	le32(n, len);
	meta_ad(t, (const uint8_t *)label, strlen(label), 0);
	meta_ad(t, len, 4, 1);
	begin_op(t, FLAG_I | FLAG_A | FLAG_C, 0);
	squeeze(t, out, n);
}

static void key_op(struct merlin *t, const uint8_t *p, size_t n)
{
	begin_op(t, FLAG_A | FLAG_C, 0);
	overwrite(t, p, n);
}

void merlin_witness(const struct merlin *t, const char *label, const uint8_t *const *wit,
		    const size_t *wit_len, size_t nwit, uint8_t *out, size_t n)
{
	struct merlin r = *t;
	uint8_t len[4], rnd[32];

	for (size_t i = 0; i < nwit; i++) {
		le32(wit_len[i], len);
		meta_ad(&r, (const uint8_t *)label, strlen(label), 0);
		meta_ad(&r, len, 4, 1);
		key_op(&r, wit[i], wit_len[i]);
	}
	/* Fresh randomness makes the output unpredictable even if the
	 * witnesses repeat; the witnesses keep it secret if the RNG fails. */
	randombytes_buf(rnd, sizeof rnd);
	meta_ad(&r, (const uint8_t *)"rng", 3, 0);
	key_op(&r, rnd, sizeof rnd);
	le32(n, len);
	meta_ad(&r, len, 4, 0);
	begin_op(&r, FLAG_I | FLAG_A | FLAG_C, 0);
	squeeze(&r, out, n);
	sodium_memzero(rnd, sizeof rnd);
	merlin_wipe(&r);
}

void merlin_wipe(struct merlin *t)
{
	sodium_memzero(t, sizeof *t);
}
