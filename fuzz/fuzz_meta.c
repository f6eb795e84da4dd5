/*
 * libFuzzer target for the metadata v14 decoder. Whatever decodes must be
 * safe to use: every lookup, every storage default and every constant goes
 * through the generic decoder, and accepted values re-encode identically.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/meta.h"
#include "chainclient/xt.h"
#include "common/zerr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct meta *m, uint32_t type, const uint8_t *p, size_t n)
{
	cJSON *j;
	if (meta_to_json_buf(m, type, p, n, &j) != 0)
		return;
	struct zbuf b;
	zbuf_init(&b, 0);
	/* The encoder may refuse shapes it cannot express (ZE_TOOBIG on
	 * depth); when it accepts, it must give back the same bytes. */
	if (meta_from_json(m, type, j, &b) == 0 &&
	    (b.len != n || (n && memcmp(b.data, p, n) != 0)))
		abort();
	zbuf_free(&b);
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meta *m;
	if (meta_decode(data, size, &m) != 0)
		return 0;
	for (size_t i = 0; i < m->npallets; i++) {
		const struct meta_pallet *p = &m->pallets[i];
		if (meta_pallet(m, p->name) == NULL)
			abort();
		(void)meta_call(m, p, "x");
		(void)meta_event(m, p, "x");
		for (size_t k = 0; k < p->nstorage; k++) {
			const struct meta_storage *s = &p->storage[k];
			uint32_t kt;
			for (size_t h = 0; h < s->nhashers; h++)
				(void)meta_storage_key_type(m, s, h, &kt);
			round_trip(m, s->value_type, s->def, s->def_len);
		}
		for (size_t k = 0; k < p->nconstants; k++)
			round_trip(m, p->constants[k].type, p->constants[k].value, p->constants[k].len);
	}
	struct xt_exts ex;
	(void)xt_exts_from_meta(m, &ex, NULL);
	meta_free(m);
	return 0;
}
