/*
 * The metadata type registry behind runtime.h's dev_type_* builders, its
 * SCALE encoding as a v14 PortableRegistry, and a checker that walks SCALE
 * bytes by type (used to refuse extrinsics whose call arguments do not
 * decode, before they reach a pallet).
 */
#ifndef ZOS_DEVCHAIN_TYPES_H
#define ZOS_DEVCHAIN_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "chainclient/scale.h"
#include "common/buf.h"
#include "devchain/runtime.h"

enum dev_kind {
	DEV_K_COMPOSITE = 0, /* values are metadata v14's TypeDef indices */
	DEV_K_VARIANT = 1,
	DEV_K_SEQUENCE = 2,
	DEV_K_ARRAY = 3,
	DEV_K_TUPLE = 4,
	DEV_K_PRIMITIVE = 5,
	DEV_K_COMPACT = 6,
};

/* TypeDefPrimitive indices. */
enum dev_prim { DEV_P_BOOL = 0, DEV_P_STR = 2, DEV_P_U8 = 3, DEV_P_U16 = 4, DEV_P_U32 = 5,
		DEV_P_U64 = 6, DEV_P_U128 = 7 };

struct dev_tfield {
	char *name; /* NULL when unnamed */
	dev_type type;
	char *type_name;
};

struct dev_tvariant {
	char *name;
	uint8_t index;
	size_t nfields;
	struct dev_tfield *fields;
};

struct dev_tdef {
	enum dev_kind kind;
	char *path;      /* "a::b::C" or NULL */
	dev_type param;  /* the T of Option<T> for type_params, or DEV_TYPE_NONE */
	enum dev_prim prim;
	dev_type of;     /* sequence, array, compact */
	uint32_t len;    /* array */
	size_t n;        /* fields, variants or tuple items */
	struct dev_tfield *fields;
	struct dev_tvariant *variants;
	dev_type *items;
	/* Extrinsic types name Address/Call/Signature/Extra as type params. */
	size_t nparams;
	char **param_names;
	dev_type *params;
};

struct dev_types {
	struct dev_tdef *v;
	size_t n, cap;
	int err; /* first builder error, sticky */
};

#define DEV_TYPES_MAX 4096

void dev_types_init(struct dev_types *r);
void dev_types_free(struct dev_types *r);
/* Adds type params (names copied) to type t; records errors in r. */
void dev_types_set_params(struct dev_types *r, dev_type t, size_t n, const char *const *names,
			  const dev_type *params);

/* A Vec<T> whose T is given later (a recursive type such as
 * Vec<RuntimeCall> inside a call of RuntimeCall): never shared with
 * dev_type_vec, and resolved once with dev_type_vec_resolve before the
 * registry is encoded or checked against. */
dev_type dev_type_vec_forward(struct dev_types *r);
void dev_type_vec_resolve(struct dev_types *r, dev_type t, dev_type of);

/* Appends the PortableRegistry (Vec<PortableType>). */
int dev_types_encode(const struct dev_types *r, struct zbuf *out);

/* Walks one value of type t in rd, checking that it decodes; ZE_MALFORMED
 * otherwise. */
int dev_types_check(const struct dev_types *r, dev_type t, struct scale_rd *rd);

/* SCALE string helpers shared with the metadata encoder. */
int dev_put_str(struct zbuf *b, const char *s);

#endif
