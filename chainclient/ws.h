/*
 * WebSocket framing (RFC 6455) shared by the chain client's ws:// and wss://
 * transport (rpc_ws.c) and tfchain-dev's WebSocket RPC server.
 *
 * Only what JSON-RPC over WebSocket needs: text, binary, continuation,
 * close, ping and pong frames; no extensions (a peer that negotiates none
 * never sets RSV bits, so a frame with one is refused). Every length is
 * checked before it is used and a message is capped by the caller.
 */
#ifndef ZOS_CHAINCLIENT_WS_H
#define ZOS_CHAINCLIENT_WS_H

#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

#define WS_HEADER_MAX 14

/*
 * Writes a frame header (FIN set) for a payload of len bytes into out
 * (WS_HEADER_MAX bytes) and returns its length. With mask non-NULL (a
 * client's frame) the 4-byte key is written too and the caller masks the
 * payload with ws_mask.
 */
size_t ws_frame_header(uint8_t out[WS_HEADER_MAX], int opcode, uint64_t len, const uint8_t mask[4]);

/* XORs p with the key, starting at key offset `off` (for chunked masking). */
void ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off);

struct ws_frame {
	int fin;
	int opcode;
	uint8_t *payload; /* points into the caller's buffer, unmasked in place */
	size_t len;
};

/*
 * Parses one frame at the start of buf (n bytes). Returns the number of
 * bytes the frame takes (payload unmasked in place, *f filled), 0 when more
 * bytes are needed, ZE_MALFORMED for a protocol violation (RSV bits, a
 * fragmented or oversized control frame, a 64-bit length with its top bit
 * set, masking that does not match must_mask: 1 = must be masked (server),
 * 0 = must not be (client)) and ZE_TOOBIG for a payload over max.
 */
long ws_frame_parse(uint8_t *buf, size_t n, int must_mask, size_t max, struct ws_frame *f);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key GUID)),
 * NUL-terminated in out (29 bytes). */
int ws_accept_key(const char *key, char out[29]);

/* A fresh random Sec-WebSocket-Key (24 characters and a NUL). */
int ws_client_key(char out[25]);

#endif
