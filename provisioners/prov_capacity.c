/* Node capacity and admission. */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static uint64_t minus(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

int prov_node_capacity(struct prov_ctx *ctx, struct prov_capacity *total)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		return -errno ? -errno : -EIO;
	struct sysinfo si;
	if (sysinfo(&si) < 0)
		return -errno;
	struct statvfs vfs;
	if (statvfs(ctx->storage_dir, &vfs) < 0)
		return -errno;
	total->cru = minus((uint64_t)cpus, ctx->reserved.cru);
	total->mru = minus((uint64_t)si.totalram * si.mem_unit, ctx->reserved.mru);
	total->sru = minus((uint64_t)vfs.f_blocks * vfs.f_frsize, ctx->reserved.sru);
	total->hru = minus(0, ctx->reserved.hru);
	return 0;
}

/* Asking for none of a resource always fits, even on an overcommitted
 * node (say, after the reservation grew). */
static int fits(uint64_t total, uint64_t used, uint64_t want)
{
	return want == 0 || (used <= total && want <= total - used);
}

int prov_admit(const struct prov_capacity *total, const struct prov_capacity *used,
               const struct prov_capacity *want, char *err, size_t errsz)
{
	static const struct {
		const char *name;
		size_t off;
	} res[] = {
	    {"cru", offsetof(struct prov_capacity, cru)},
	    {"mru", offsetof(struct prov_capacity, mru)},
	    {"sru", offsetof(struct prov_capacity, sru)},
	    {"hru", offsetof(struct prov_capacity, hru)},
	};
	for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
		uint64_t t = *(const uint64_t *)((const char *)total + res[i].off);
		uint64_t u = *(const uint64_t *)((const char *)used + res[i].off);
		uint64_t w = *(const uint64_t *)((const char *)want + res[i].off);
		if (!fits(t, u, w))
			return prov_err(err, errsz, ZE_CAPACITY,
			                "not enough %s: want %" PRIu64 ", free %" PRIu64
			                " (total %" PRIu64 ", used %" PRIu64 ")",
			                res[i].name, w, u < t ? t - u : 0, t, u);
	}
	return 0;
}
