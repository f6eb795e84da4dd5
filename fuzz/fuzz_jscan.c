/*
 * libFuzzer target for common/jscan.c, the JSON scanner that routes the
 * chain client's WebSocket responses without parsing them: no overread, and
 * agreement with cJSON where it answers. A value the scanner skips to the
 * end of the text is one cJSON parses, and an "id" it reads as an integer
 * is, in a text cJSON parses, cJSON's first "id" member with that value.
 */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan catches a read past the text. */
	char *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, data, size);
	size_t pos = 0, vs, ve;
	int whole = jscan_skip(p, size, &pos) == 0 && jscan_peek(p, size, &pos) == -1;
	cJSON *j = cJSON_ParseWithLength(p, size);
	if (whole && !j)
		abort();
	uint64_t id;
	if (jscan_member(p, size, 0, "id", &vs, &ve) == 0 && jscan_u64(p, vs, ve, &id) == 0 && j) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "id");
		if (!cJSON_IsNumber(c) || c->valuedouble != (double)id)
			abort();
	}
	cJSON_Delete(j);
	free(p);
	return 0;
}
