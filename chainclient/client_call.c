/*
 * Named call arguments mapped onto a runtime's argument order.
 */
#include <errno.h>
#include <string.h>

#include "chainclient/client.h"
#include "common/log.h"
#include "common/zerr.h"

int chain_call_args(const struct meta *m, const char *pallet, const char *call,
		    const cJSON *named, cJSON **args, const char **which)
{
	const struct meta_pallet *p = meta_pallet(m, pallet);
	const struct meta_variant *v = p ? meta_call(m, p, call) : NULL;
	const cJSON *it;
	cJSON *arr;

	*args = NULL;
	*which = NULL;
	if (!v)
		return ZE_UNSUPPORTED;
	if (!cJSON_IsObject(named))
		return -EINVAL;
	/* Every given argument must exist: a caller setting an argument the
	 * runtime does not have expects a behaviour it will not get. */
	cJSON_ArrayForEach(it, named) {
		size_t i;
		for (i = 0; i < v->nfields; i++)
			if (v->fields[i].name && !strcmp(v->fields[i].name, it->string))
				break;
		if (i == v->nfields) {
			*which = it->string;
			return -EINVAL;
		}
	}
	arr = cJSON_CreateArray();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < v->nfields; i++) {
		const char *name = v->fields[i].name;
		it = name ? cJSON_GetObjectItemCaseSensitive(named, name) : NULL;
		if (!it) {
			*which = name ? name : "(unnamed)";
			cJSON_Delete(arr);
			return -EINVAL;
		}
		cJSON *d = cJSON_Duplicate(it, 1);
		if (!d || !cJSON_AddItemToArray(arr, d)) {
			cJSON_Delete(d);
			cJSON_Delete(arr);
			return -ENOMEM;
		}
	}
	*args = arr;
	return 0;
}
