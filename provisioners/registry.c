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

/* The one list of workload types: each type's name is in its ops table,
 * its install stage here. */
static const struct {
	const struct prov_ops *ops;
	enum prov_stage stage;
} registry[] = {
    {&prov_zmount_ops, PROV_STAGE_STORAGE},    {&prov_volume_ops, PROV_STAGE_STORAGE},
    {&prov_network_ops, PROV_STAGE_NETWORK},   {&prov_container_ops, PROV_STAGE_COMPUTE},
    {&prov_vm_ops, PROV_STAGE_COMPUTE},        {&prov_pubport_ops, PROV_STAGE_OTHER},
    {&prov_gateway_ops, PROV_STAGE_OTHER},
};

static int find(const char *type)
{
	if (!type)
		return -1;
	for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
		if (strcmp(registry[i].ops->type, type) == 0)
			return (int)i;
	return -1;
}

const struct prov_ops *prov_lookup(const char *type)
{
	int i = find(type);
	return i < 0 ? NULL : registry[i].ops;
}

enum prov_stage prov_stage_of(const char *type)
{
	int i = find(type);
	return i < 0 ? PROV_STAGE_OTHER : registry[i].stage;
}

int prov_runs_image(const char *type)
{
	int i = find(type);
	return i >= 0 && registry[i].stage == PROV_STAGE_COMPUTE;
}
