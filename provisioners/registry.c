/* The workload types this node runs, looked up by the deployment's "type". */
#include "provisioners/prov_internal.h"

#include <string.h>

extern const struct prov_ops prov_zmount_ops;
extern const struct prov_ops prov_volume_ops;
extern const struct prov_ops prov_network_ops;
extern const struct prov_ops prov_container_ops;

static const struct prov_ops *const registry[] = {
    &prov_zmount_ops,
    &prov_volume_ops,
    &prov_network_ops,
    &prov_container_ops,
};

/* Other names of a type. "zmachine" is what older deployments call a
 * container; it stays an alias until a type of its own takes the name. */
static const struct {
	const char *type;
	const struct prov_ops *ops;
} aliases[] = {
    {"zmachine", &prov_container_ops},
};

const struct prov_ops *prov_lookup(const char *type)
{
	if (!type)
		return NULL;
	for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
		if (strcmp(registry[i]->type, type) == 0)
			return registry[i];
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(aliases[i].type, type) == 0)
			return aliases[i].ops;
	return NULL;
}
