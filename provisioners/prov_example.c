/* Trial workload type "example": accepts {} and makes nothing (scratch). */
#include "provisioners/prov_int.h"
#include <errno.h>

static int v(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	if (!cJSON_IsObject(data) || cJSON_GetArraySize(data) != 0)
		return prov_err(err, errsz, -EINVAL, "example takes {}");
	return 0;
}
static int p(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
	     const struct prov_deployment_view *deps, cJSON **result, char *err, size_t errsz)
{
	*result = cJSON_CreateObject();
	return *result ? 0 : -ENOMEM;
}
static int nop(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err, size_t errsz)
{
	return 0;
}
static int in(struct prov_ctx *ctx, const struct prov_workload_id *id, enum prov_health *h,
	      char *err, size_t errsz)
{
	*h = PROV_OK;
	return 0;
}
static int u(struct prov_ctx *ctx, const struct prov_workload_id *id, struct prov_usage *us,
	     char *err, size_t errsz)
{
	return 0;
}
const struct prov_ops prov_example_ops = {.type = "example", .validate = v, .provision = p,
	.deprovision = nop, .pause = nop, .resume = nop, .inspect = in, .usage = u};
