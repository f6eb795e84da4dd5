/*
 * libFuzzer target for the deployment document parser (agent/deployment.c),
 * which reads what a user sealed into a contract. Beyond "no crash, no
 * leak, no overread": an accepted document has its workloads within the
 * bounds, named validly, typed by a known provisioner, and its total
 * capacity is the sum of theirs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/deployment.h"
#include "common/zerr.h"
#include "provisioners/prov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dep_doc d;
	char why[256];
	memset(&d, 0, sizeof d);
	if (dep_parse((const char *)data, size, 7, prov_lookup, &d, why, sizeof why) != 0) {
		if (!why[0] || d.root || d.w || d.count)
			abort(); /* a refusal names its reason and leaves nothing */
		return 0;
	}
	struct prov_capacity sum;
	memset(&sum, 0, sizeof sum);
	if (d.twin_id != 7 || !d.root)
		abort();
	for (size_t i = 0; i < d.count; i++) {
		if (!dep_name_valid(d.w[i].name) || !prov_lookup(d.w[i].type))
			abort();
		if (dep_cap_add(&sum, &d.w[i].cap) != 0)
			abort();
	}
	if (memcmp(&sum, &d.total, sizeof sum) != 0)
		abort();
	dep_free(&d);
	return 0;
}
