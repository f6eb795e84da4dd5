/*
 * libFuzzer target for the WebSocket frame parser (network input on both
 * sides: the chain client reads a server's frames, tfchain-dev a client's).
 *
 * Invariants beyond "no crash, no overread": a parsed frame lies inside the
 * input, its payload is at most the cap, control frames are final and at
 * most 125 bytes, and the header rebuilt from what was parsed has the
 * parsed length (the parser and the writer agree on the encoding).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/ws.h"

#define MAX_PAYLOAD 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int must_mask = data[0] & 1;
	uint8_t *buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	size_t n = size - 1, off = 0;
	while (off < n) {
		struct ws_frame f;
		long used = ws_frame_parse(buf + off, n - off, must_mask, MAX_PAYLOAD, &f);
		if (used <= 0)
			break;
		if ((size_t)used > n - off || f.len > MAX_PAYLOAD ||
		    f.payload + f.len != buf + off + (size_t)used)
			abort();
		if ((f.opcode & 0x8) && (!f.fin || f.len > 125))
			abort();
		uint8_t h[WS_HEADER_MAX], key[4] = {1, 2, 3, 4};
		size_t hl = ws_frame_header(h, f.opcode, f.len, must_mask ? key : NULL);
		/* A non-minimal length encoding parses too; ours is never longer. */
		if (hl + f.len > (size_t)used)
			abort();
		off += (size_t)used;
	}
	free(buf);
	return 0;
}
