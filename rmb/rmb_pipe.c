/* Ending a connection so that libnng sees its peer go away (rmb_pipe.h). */
#include "rmb/rmb_pipe.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/num.h"

/* Descriptors looked at per scan at most (and so entries in the map). */
#define SCAN_MAX 65536

struct ent {
	int fd;
	nng_sockaddr loc, rem;
};

struct rmb_fds {
	pthread_mutex_t mu;
	struct ent *e; /* the process's TCP sockets at the last scan */
	size_t n, cap;
};

int rmb_fds_new(struct rmb_fds **out)
{
	struct rmb_fds *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	if (pthread_mutex_init(&m->mu, NULL)) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

void rmb_fds_free(struct rmb_fds *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->e);
	free(m);
}

/* The nng form of a socket address; -1 when it is not IPv4 or IPv6. */
static int to_nng(const struct sockaddr_storage *sa, socklen_t len, nng_sockaddr *out)
{
	memset(out, 0, sizeof *out);
	if (sa->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		out->s_in.sa_family = NNG_AF_INET;
		out->s_in.sa_port = in->sin_port;
		out->s_in.sa_addr = in->sin_addr.s_addr;
		return 0;
	}
	if (sa->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		out->s_in6.sa_family = NNG_AF_INET6;
		out->s_in6.sa_port = in6->sin6_port;
		memcpy(out->s_in6.sa_addr, &in6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

static int same(const nng_sockaddr *a, const nng_sockaddr *b)
{
	if (a->s_family != b->s_family)
		return 0;
	if (a->s_family == NNG_AF_INET)
		return a->s_in.sa_port == b->s_in.sa_port && a->s_in.sa_addr == b->s_in.sa_addr;
	return a->s_family == NNG_AF_INET6 && a->s_in6.sa_port == b->s_in6.sa_port &&
	       memcmp(a->s_in6.sa_addr, b->s_in6.sa_addr, 16) == 0;
}

/* The address pair of fd when it is a connected TCP socket. */
static int pair_of(int fd, nng_sockaddr *loc, nng_sockaddr *rem)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) || to_nng(&sa, len, loc))
		return -1;
	len = sizeof sa;
	if (getpeername(fd, (struct sockaddr *)&sa, &len) || to_nng(&sa, len, rem))
		return -1;
	return 0;
}

/* Under mu: rebuilds the map from the open descriptors. A descriptor
 * closed and reused after the scan belongs to a connection with another
 * address pair; rmb_pipe_end checks the pair again before it acts. */
static int rescan(struct rmb_fds *m)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	int self = dirfd(d);
	struct dirent *de;
	m->n = 0;
	while ((de = readdir(d)) != NULL && m->n < SCAN_MAX) {
		uint64_t v;
		struct ent e;
		if (num_u64(de->d_name, 1u << 30, &v) || (int)v == self)
			continue;
		e.fd = (int)v;
		if (pair_of(e.fd, &e.loc, &e.rem))
			continue;
		if (m->n == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 64;
			struct ent *ne = realloc(m->e, cap * sizeof *ne);
			if (!ne)
				break;
			m->e = ne;
			m->cap = cap;
		}
		m->e[m->n++] = e;
	}
	closedir(d);
	return 0;
}

/* Under mu: the map's descriptor for the pair, still connected as it. */
static int lookup(struct rmb_fds *m, const nng_sockaddr *loc, const nng_sockaddr *rem)
{
	for (size_t i = 0; i < m->n; i++) {
		nng_sockaddr l, r;
		if (!same(&m->e[i].loc, loc) || !same(&m->e[i].rem, rem))
			continue;
		if (!pair_of(m->e[i].fd, &l, &r) && same(&l, loc) && same(&r, rem))
			return m->e[i].fd;
		return -1;
	}
	return -1;
}

void rmb_pipe_end(struct rmb_fds *m, nng_pipe p)
{
	nng_sockaddr loc, rem;
	int rv = nng_pipe_get_addr(p, NNG_OPT_LOCADDR, &loc);
	if (!rv)
		rv = nng_pipe_get_addr(p, NNG_OPT_REMADDR, &rem);
	if (rv == NNG_ENOENT || rv == NNG_ECLOSED)
		return;
	if (!rv && (loc.s_family == NNG_AF_INET || loc.s_family == NNG_AF_INET6)) {
		pthread_mutex_lock(&m->mu);
		int fd = lookup(m, &loc, &rem);
		if (fd < 0 && !rescan(m))
			fd = lookup(m, &loc, &rem);
		/* The pair was checked just now. Should nng close the
		 * descriptor and the number go to a new connection in
		 * between, that connection would be ended instead: its peer
		 * sees a closed connection and dials again. */
		int done = fd >= 0 && shutdown(fd, SHUT_RDWR) == 0;
		pthread_mutex_unlock(&m->mu);
		if (done)
			return;
	}
	nng_pipe_close(p);
}
