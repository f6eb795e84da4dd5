/*
 * WebSocket frame headers, parsing and the handshake keys (see ws.h).
 */
#include "chainclient/ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <string.h>

#include "common/zerr.h"

size_t ws_frame_header(uint8_t out[WS_HEADER_MAX], int opcode, uint64_t len, const uint8_t mask[4])
{
	size_t n = 0;

	out[n++] = (uint8_t)(0x80 | (opcode & 0x0f));
	uint8_t m = mask ? 0x80 : 0;
	if (len < 126) {
		out[n++] = (uint8_t)(m | len);
	} else if (len <= 0xffff) {
		out[n++] = m | 126;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = m | 127;
		for (int i = 7; i >= 0; i--)
			out[n++] = (uint8_t)(len >> (8 * i));
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(i + off) & 3];
}

long ws_frame_parse(uint8_t *buf, size_t n, int must_mask, size_t max, struct ws_frame *f)
{
	if (n < 2)
		return 0;
	if (buf[0] & 0x70)
		return ZE_MALFORMED;
	int fin = buf[0] >> 7, op = buf[0] & 0x0f, masked = buf[1] >> 7;
	uint64_t len = buf[1] & 0x7f;
	size_t h = 2;

	if (masked != must_mask)
		return ZE_MALFORMED;
	if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_CLOSE &&
	    op != WS_OP_PING && op != WS_OP_PONG)
		return ZE_MALFORMED;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)buf[2] << 8 | buf[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | buf[2 + i];
		if (len >> 63)
			return ZE_MALFORMED;
		h = 10;
	}
	/* Control frames are short and never fragmented. */
	if ((op & 0x8) && (!fin || len > 125))
		return ZE_MALFORMED;
	if (len > max)
		return ZE_TOOBIG;
	uint8_t key[4];
	if (masked) {
		if (n < h + 4)
			return 0;
		memcpy(key, buf + h, 4);
		h += 4;
	}
	if (n - h < len)
		return 0;
	f->fin = fin;
	f->opcode = op;
	f->payload = buf + h;
	f->len = (size_t)len;
	if (masked)
		ws_mask(f->payload, f->len, key, 0);
	return (long)(h + len);
}

int ws_accept_key(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	uint8_t d[SHA_DIGEST_LENGTH];
	char cat[128];
	size_t kl = strlen(key);

	if (kl == 0 || kl + sizeof(guid) > sizeof(cat))
		return ZE_MALFORMED;
	memcpy(cat, key, kl);
	memcpy(cat + kl, guid, sizeof(guid));
	if (!SHA1((const unsigned char *)cat, kl + sizeof(guid) - 1, d))
		return -ENOMEM;
	if (EVP_EncodeBlock((unsigned char *)out, d, sizeof(d)) != 28)
		return -EINVAL;
	return 0;
}

int ws_client_key(char out[25])
{
	uint8_t r[16];

	randombytes_buf(r, sizeof(r));
	if (EVP_EncodeBlock((unsigned char *)out, r, sizeof(r)) != 24)
		return -EINVAL;
	return 0;
}
