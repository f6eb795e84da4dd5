/*
 * Runtime metadata v14, generated from the pallets' own descriptions.
 *
 * dev_meta_build() runs every pallet's describe() into one type registry,
 * adds the runtime-level types (RuntimeCall, RuntimeEvent, EventRecord, the
 * extrinsic and its signed extensions) and encodes "meta" ++ 14 ++
 * RuntimeMetadataV14. The same registry checks incoming calls, so the
 * devchain accepts exactly the calls its metadata announces.
 */
#ifndef ZOS_DEVCHAIN_METAGEN_H
#define ZOS_DEVCHAIN_METAGEN_H

#include <stddef.h>
#include <stdint.h>

#include "devchain/runtime.h"
#include "devchain/types.h"

struct dev_meta;

/* *out is freed with dev_meta_free. -EINVAL (logged) when a pallet's
 * description disagrees with its dispatch table. */
int dev_meta_build(const struct dev_pallet *const *pallets, size_t n, struct dev_meta **out);
void dev_meta_free(struct dev_meta *m);

/* The encoded metadata (owned by m). */
const uint8_t *dev_meta_bytes(const struct dev_meta *m, size_t *len);

/* Checks that call (pallet index ++ call index ++ args) decodes exactly as
 * the metadata describes it: ZE_MALFORMED otherwise. */
int dev_meta_check_call(const struct dev_meta *m, const uint8_t *call, size_t len);

/* Type ids the System pallet needs for its own encodings. */
struct dev_types *dev_meta_registry(struct dev_meta *m);

/* ---- Between metagen.c and metagen_rt.c ---- */

struct dev_ext_desc {
	const char *name;
	dev_type type, additional;
};

int dev_meta_build_runtime(struct dev_meta *m);
int dev_meta_encode_all(struct dev_meta *m, dev_type extrinsic, const struct dev_ext_desc *exts,
			size_t nexts, dev_type runtime);
dev_type dev_meta_runtime_event(const struct dev_meta *m);
dev_type dev_meta_runtime_call(const struct dev_meta *m);
int dev_meta_add_storage(struct dev_meta *m, const char *pallet, const struct dev_storage_desc *d);

#endif
