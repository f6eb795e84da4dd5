/*
 * Fake provisioners for the agent's tests: zmount, network and container
 * tables that keep a host in memory (what exists, what is paused), count
 * calls, record the provision order, and fail on demand. fh_share_fd() moves
 * the host into a memfd shared with child agents, so that it outlives one killed
 * with SIGKILL, as a real host outlives its agent.
 */
#ifndef ZOS_TESTS_AGENT_FAKE_PROV_H
#define ZOS_TESTS_AGENT_FAKE_PROV_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "provisioners/prov.h"

#ifndef MAXW
#define MAXW 64
#endif

struct fwl {
	int used;
	uint64_t cid;
	char name[40];
	int paused;
};

struct fhost {
	pthread_mutex_t mu;
	struct fwl w[MAXW];
	int provisions, deprovisions, inspects;
	int creates;              /* workloads made that did not exist */
	int delay_ms;             /* each provision takes this long */
	char order[512];          /* "name," per provision call */
	char fail_name[40];       /* provision of this name fails for good */
	int busy;                 /* provision answers -EBUSY this many times */
	pthread_t prov_thread;    /* the thread of the latest provision call */
};

static struct fhost fh_local;
static struct fhost *fhp = &fh_local;
#define fh (*fhp)

/* A shared host's mutex is robust: an agent killed holding it leaves it
 * consistent for the next one (the fake's updates are single stores). */
static void fh_lock(void)
{
	if (pthread_mutex_lock(&fh.mu) == EOWNERDEAD)
		pthread_mutex_consistent(&fh.mu);
}

static void fh_unlock(void)
{
	pthread_mutex_unlock(&fh.mu);
}

/* Maps the shared host from fd (a memfd inherited across exec). */
__attribute__((unused)) static int fh_attach_fd(int fd)
{
	void *p = mmap(NULL, sizeof(struct fhost), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	fhp = p;
	return 0;
}

/* A new, empty host in a memfd that child processes inherit. */
__attribute__((unused)) static int fh_share_fd(int *fdout)
{
	int fd = memfd_create("fake-host", 0);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(struct fhost)) < 0 || fh_attach_fd(fd) < 0) {
		close(fd);
		return -EIO;
	}
	*fdout = fd;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&fh.mu, &a);
	pthread_mutexattr_destroy(&a);
	return 0;
}

static struct fwl *fh_find(const struct prov_workload_id *id)
{
	for (int i = 0; i < MAXW; i++)
		if (fh.w[i].used && fh.w[i].cid == id->contract_id && !strcmp(fh.w[i].name, id->name))
			return &fh.w[i];
	return NULL;
}

__attribute__((unused)) static int fh_count(uint64_t cid)
{
	fh_lock();
	int n = 0;
	for (int i = 0; i < MAXW; i++)
		n += fh.w[i].used && fh.w[i].cid == cid;
	fh_unlock();
	return n;
}

__attribute__((unused)) static int fh_paused(uint64_t cid)
{
	fh_lock();
	int n = 0;
	for (int i = 0; i < MAXW; i++)
		n += fh.w[i].used && fh.w[i].cid == cid && fh.w[i].paused;
	fh_unlock();
	return n;
}

static int v_validate(const cJSON *data, struct prov_capacity *cap, char *err, size_t errsz)
{
	const cJSON *s = cJSON_GetObjectItem(data, "size");
	if (s && !cJSON_IsNumber(s)) {
		snprintf(err, errsz, "size must be a number");
		return -EINVAL;
	}
	cap->sru = s ? (uint64_t)s->valuedouble : 0;
	cap->cru = 1;
	return 0;
}

static int v_provision(struct prov_ctx *ctx, const struct prov_workload_id *id, const cJSON *data,
		       const struct prov_deployment_view *deps, cJSON **result, char *err,
		       size_t errsz)
{
	if (fh.delay_ms) {
		struct timespec ts = {.tv_sec = fh.delay_ms / 1000,
				      .tv_nsec = (fh.delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	fh_lock();
	int rc = 0;
	fh.provisions++;
	fh.prov_thread = pthread_self();
	size_t o = strlen(fh.order);
	snprintf(fh.order + o, sizeof fh.order - o, "%s,", id->name);
	if (fh.busy > 0) {
		fh.busy--;
		snprintf(err, errsz, "resource busy");
		rc = -EBUSY;
	} else if (!strcmp(fh.fail_name, id->name)) {
		snprintf(err, errsz, "image not found");
		rc = -ENOENT;
	} else if (!fh_find(id)) {
		rc = -ENOSPC;
		for (int i = 0; i < MAXW; i++)
			if (!fh.w[i].used) {
				fh.w[i] = (struct fwl){.used = 1, .cid = id->contract_id};
				snprintf(fh.w[i].name, sizeof fh.w[i].name, "%s", id->name);
				fh.creates++;
				rc = 0;
				break;
			}
	}
	fh_unlock();
	if (rc == 0) {
		*result = cJSON_CreateObject();
		cJSON_AddStringToObject(*result, "path", id->name);
	}
	return rc;
}

static int v_deprovision(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
			 size_t errsz)
{
	fh_lock();
	fh.deprovisions++;
	struct fwl *w = fh_find(id);
	if (w)
		w->used = 0;
	fh_unlock();
	return 0;
}

static int v_freeze(const struct prov_workload_id *id, int pause, char *err, size_t errsz)
{
	fh_lock();
	struct fwl *w = fh_find(id);
	if (w)
		w->paused = pause;
	fh_unlock();
	if (!w)
		snprintf(err, errsz, "no such workload");
	return w ? 0 : -ENOENT;
}

static int v_pause(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
		   size_t errsz)
{
	return v_freeze(id, 1, err, errsz);
}

static int v_resume(struct prov_ctx *ctx, const struct prov_workload_id *id, char *err,
		    size_t errsz)
{
	return v_freeze(id, 0, err, errsz);
}

static int v_inspect(struct prov_ctx *ctx, const struct prov_workload_id *id,
		     enum prov_health *h, char *err, size_t errsz)
{
	fh_lock();
	fh.inspects++;
	struct fwl *w = fh_find(id);
	*h = !w ? PROV_ABSENT : w->paused ? PROV_PAUSED : PROV_OK;
	fh_unlock();
	return 0;
}

/* The fake network claims "udp/<port>" for a "port" in its data, as the
 * real one claims its WireGuard listen port. */
static int v_claims(const cJSON *data, struct prov_claim *out, size_t max, size_t *n)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(data, "port");
	*n = 0;
	if (cJSON_IsNumber(p) && max > 0)
		snprintf(out[(*n)++].key, sizeof out[0].key, "udp/%d", p->valueint);
	return 0;
}

#define OPS(t, c) {.type = t, .validate = v_validate, .provision = v_provision, \
		.deprovision = v_deprovision, .pause = v_pause, .resume = v_resume, \
		.inspect = v_inspect, .claims = c}
static const struct prov_ops fops[] = {OPS("zmount", NULL), OPS("network", v_claims),
				       OPS("container", NULL)};

static const struct prov_ops *f_lookup(const char *type)
{
	for (size_t i = 0; i < sizeof fops / sizeof fops[0]; i++)
		if (!strcmp(fops[i].type, type))
			return &fops[i];
	return NULL;
}

#endif
