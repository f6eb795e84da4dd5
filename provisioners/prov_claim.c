/* Whether the host itself already uses a port a workload claims. */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int prov_claim_host_free(const char *claim, char *err, size_t errsz)
{
	int udp = strncmp(claim, "udp/", 4) == 0, tcp = strncmp(claim, "tcp/", 4) == 0;
	if (!udp && !tcp)
		return 0;
	char *end = NULL;
	unsigned long port = strtoul(claim + 4, &end, 10);
	if (!end || *end || port < 1 || port > 65535)
		return prov_err(err, errsz, -EINVAL, "bad port claim '%.20s'", claim);
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return prov_err(err, errsz, -errno, "socket: %s", strerror(errno));
	int one = 1;
	/* A TCP port in TIME_WAIT is free for a listener. */
	if (tcp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_ANY)};
	int rc = bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ? -errno : 0;
	close(fd);
	if (rc == -EADDRINUSE)
		return prov_err(err, errsz, ZE_STATE,
		                "%s port %lu is already in use on this node; choose another port",
		                udp ? "UDP" : "TCP", port);
	return 0;
}

int prov_claim_check(struct prov_ctx *ctx, const struct prov_claim *c, char *err, size_t errsz)
{
	if (c->public_range) {
		char *end = NULL;
		unsigned long port = strtoul(c->key + 4, &end, 10);
		if (port < ctx->port_min || port > ctx->port_max)
			return prov_err(err, errsz, ZE_STATE,
			                "public port %lu is outside this node's range %u..%u", port,
			                ctx->port_min, ctx->port_max);
	}
	return prov_claim_host_free(c->key, err, errsz);
}
