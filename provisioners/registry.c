/* The workload types this node runs, looked up by the deployment's "type". */
#include "provisioners/prov_int.h"

#include <string.h>

extern const struct prov_ops prov_zmount_ops;
extern const struct prov_ops prov_volume_ops;
extern const struct prov_ops prov_network_ops;
/* "container" is an OCI container run by runc or crun (prov_container.c);
 * "zmachine" is a virtual machine on qemu (prov_vm.c), as in zos;
 * "public_port" and "gateway-name-proxy" are the ways in (network-access.md). */
extern const struct prov_ops prov_container_ops;
extern const struct prov_ops prov_vm_ops;
extern const struct prov_ops prov_pubport_ops;
extern const struct prov_ops prov_gateway_ops;

static const struct prov_ops *const registry[] = {
    &prov_zmount_ops,    &prov_volume_ops, &prov_network_ops, &prov_container_ops,
    &prov_vm_ops,        &prov_pubport_ops, &prov_gateway_ops,
};

const struct prov_ops *prov_lookup(const char *type)
{
	if (!type)
		return NULL;
	for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
		if (strcmp(registry[i]->type, type) == 0)
			return registry[i];
	return NULL;
}
