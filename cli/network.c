/*
 * zos-cli network wg-key|wg-config: the user's side of WireGuard access to
 * a deployment's network.
 *
 * wg-key makes the user's key pair (x25519, base64 like `wg genkey` and `wg
 * pubkey`): the private key goes into a new 0600 file, the public key is
 * printed for the "peers" entry of the network workload. wg-config prints a
 * wg-quick configuration for the user's machine from that key, the
 * deployment document (the user's peer entry: its subnet and tunnel address)
 * and the reply of `zos-cli deployment get` (the node's public key, port and
 * endpoint). Both work offline, so the secret never goes over the network.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/file.h"
#include "common/zerr.h"

#include <cjson/cJSON.h>

#define JSON_MAX (4u << 20)

static void network_usage(FILE *f)
{
	fprintf(f, "usage: zos-cli network wg-key --out FILE\n"
	           "       zos-cli network wg-config --key FILE --deployment DOC --get FILE|-\n"
	           "           --network NAME [--endpoint HOST:PORT]\n"
	           "\n"
	           "wg-key     writes a new WireGuard private key to FILE (mode 0600, never\n"
	           "           overwritten) and prints its public key: put that key in a peer\n"
	           "           of the network workload, with the peer's subnet and allowed_ips.\n"
	           "wg-config  prints a wg-quick configuration for this machine: its address\n"
	           "           from DOC (the deployment document, the peer with this key), the\n"
	           "           node's key, port and endpoint from the saved reply of\n"
	           "           'zos-cli deployment get' (FILE, or - for stdin). --endpoint\n"
	           "           names the node when it does not announce one (node's IP:port).\n");
}

static int pub_of(const uint8_t sk[32], char out[45])
{
	uint8_t pk[32];
	if (crypto_scalarmult_base(pk, sk) != 0)
		return -EINVAL;
	sodium_bin2base64(out, 45, pk, 32, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

static int wg_key(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			network_usage(stdout);
			return CLI_OK;
		default:
			network_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (!out || optind != argc) {
		network_usage(stderr);
		return CLI_USAGE;
	}
	uint8_t sk[32];
	char b64[45], pub[45], line[48];
	randombytes_buf(sk, sizeof sk);
	/* Clamped as `wg genkey` does, so the file reads the same in wg. */
	sk[0] &= 248;
	sk[31] = (sk[31] & 127) | 64;
	pub_of(sk, pub);
	sodium_bin2base64(b64, sizeof b64, sk, 32, sodium_base64_VARIANT_ORIGINAL);
	int n = snprintf(line, sizeof line, "%s\n", b64);
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(b64, sizeof b64);
	int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		cli_err("cannot create %s: %s%s", out, strerror(errno),
		        errno == EEXIST ? " (a key is never overwritten; remove it first)" : "");
		sodium_memzero(line, sizeof line);
		return CLI_FAIL;
	}
	ssize_t w = write(fd, line, (size_t)n);
	sodium_memzero(line, sizeof line);
	if (w != n || fsync(fd) < 0 || close(fd) < 0) {
		cli_err("cannot write %s: %s", out, strerror(errno));
		unlink(out);
		return CLI_FAIL;
	}
	printf("public_key: %s\n", pub);
	return CLI_OK;
}

/* Reads the base64 private key of a key file (refused when others can read it). */
static int load_key(const char *path, uint8_t sk[32])
{
	struct stat st;
	if (stat(path, &st) < 0) {
		cli_err("cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	if (st.st_mode & 077) {
		cli_err("%s is readable by other users: chmod 600 %s", path, path);
		return -EPERM;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = zfile_read(path, 128, &buf, &len);
	if (rc < 0) {
		cli_err("cannot read %s: %s", path, zerr_str(rc));
		return rc;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		buf[--len] = 0;
	size_t n = 0;
	rc = len == 44 &&
	             sodium_base642bin(sk, 32, (const char *)buf, len, NULL, &n, NULL,
	                               sodium_base64_VARIANT_ORIGINAL) == 0 &&
	             n == 32
	         ? 0
	         : -EINVAL;
	sodium_memzero(buf, len);
	free(buf);
	if (rc < 0)
		cli_err("%s does not hold a WireGuard key (base64, as wg genkey writes)", path);
	return rc;
}

static cJSON *load_json(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	if (!strcmp(path, "-")) {
		rc = zfile_read("/dev/stdin", JSON_MAX, &buf, &len);
	} else {
		rc = zfile_read(path, JSON_MAX, &buf, &len);
	}
	if (rc < 0) {
		cli_err("cannot read %s: %s", path, zerr_str(rc));
		return NULL;
	}
	cJSON *j = cJSON_ParseWithLength((const char *)buf, len);
	free(buf);
	if (!j)
		cli_err("%s is not JSON", path);
	return j;
}

/* The workload of type "network" called name in a document or a get reply. */
static const cJSON *find_network(const cJSON *root, const char *name)
{
	const cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(root, "workloads"))
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(w, "name");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(w, "type");
		if (cJSON_IsString(n) && cJSON_IsString(t) && !strcmp(n->valuestring, name) &&
		    !strcmp(t->valuestring, "network"))
			return w;
	}
	return NULL;
}

static const char *str_at(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "a.b.c.d/n" -> the first host, "a.b.c.(d+1)/n"; the user's address in
 * its own peer subnet, as zos clients choose it. */
static int first_host(const char *cidr, char *out, size_t outsz)
{
	unsigned a, b, c, d, p;
	char extra;
	if (sscanf(cidr, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &p, &extra) != 5 || a > 255 ||
	    b > 255 || c > 255 || d > 254 || p > 30)
		return -EINVAL;
	return snprintf(out, outsz, "%u.%u.%u.%u/%u", a, b, c, d + 1, p) < (int)outsz ? 0 : -EINVAL;
}

static int wg_config(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"deployment", required_argument, NULL, 'd'},
	    {"get", required_argument, NULL, 'g'},
	    {"network", required_argument, NULL, 'n'},
	    {"endpoint", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *keyf = NULL, *docf = NULL, *getf = NULL, *net = NULL, *endpoint = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			keyf = optarg;
			break;
		case 'd':
			docf = optarg;
			break;
		case 'g':
			getf = optarg;
			break;
		case 'n':
			net = optarg;
			break;
		case 'e':
			endpoint = optarg;
			break;
		case 'h':
			network_usage(stdout);
			return CLI_OK;
		default:
			network_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (!keyf || !docf || !getf || !net || optind != argc) {
		network_usage(stderr);
		return CLI_USAGE;
	}
	uint8_t sk[32];
	char pub[45];
	if (load_key(keyf, sk) < 0)
		return CLI_FAIL;
	pub_of(sk, pub);
	int ret = CLI_FAIL;
	cJSON *doc = load_json(docf), *get = doc ? load_json(getf) : NULL;
	if (!doc || !get)
		goto out;

	/* The user's own peer entry in the deployed document. */
	const cJSON *dw = find_network(doc, net);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(dw, "data");
	const cJSON *peer = NULL, *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(data, "peers"))
	{
		const char *k = str_at(p, "wireguard_public_key");
		if (k && !strcmp(k, pub))
			peer = p;
	}
	if (!dw) {
		cli_err("%s has no network workload named '%s'", docf, net);
		goto out;
	}
	if (!peer) {
		cli_err("network '%s' in %s has no peer with this key's public key %s; add one",
		        net, docf, pub);
		goto out;
	}
	/* The node's side, from the get reply. */
	const cJSON *gw = find_network(get, net);
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(gw, "result");
	const cJSON *wg = cJSON_GetObjectItemCaseSensitive(res, "wireguard");
	const char *node_pub = str_at(wg, "public_key"), *subnet = str_at(res, "subnet");
	const char *ep = endpoint ? endpoint : str_at(wg, "endpoint");
	if (!node_pub || !subnet) {
		cli_err("the get reply in %s has no WireGuard result for network '%s' (is it "
		        "deployed, with a wireguard_private_key?)",
		        getf, net);
		goto out;
	}
	if (!ep) {
		cli_err("the node announces no endpoint; pass --endpoint NODE_IP:%d",
		        cJSON_GetObjectItemCaseSensitive(wg, "listen_port")
		            ? cJSON_GetObjectItemCaseSensitive(wg, "listen_port")->valueint
		            : 0);
		goto out;
	}
	char addr[24];
	const char *psub = str_at(peer, "subnet");
	if (!psub || first_host(psub, addr, sizeof addr) < 0) {
		cli_err("the peer's subnet in %s is not a.b.c.d/n", docf);
		goto out;
	}
	char b64[45];
	sodium_bin2base64(b64, sizeof b64, sk, 32, sodium_base64_VARIANT_ORIGINAL);
	printf("# WireGuard access to network '%s' (wg-quick up FILE)\n", net);
	printf("[Interface]\nPrivateKey = %s\nAddress = %s", b64, addr);
	sodium_memzero(b64, sizeof b64);
	/* The tunnel address the deployment gave this peer (100.64.x.y/32). */
	const cJSON *a;
	cJSON_ArrayForEach(a,
	                   cJSON_GetObjectItemCaseSensitive(
	                       peer, "allowed_ips")) if (cJSON_IsString(a) &&
	                                                 !strncmp(a->valuestring, "100.64.", 7) &&
	                                                 strstr(a->valuestring, "/32"))
	    printf(", %s", a->valuestring);
	printf("\n\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s, 100.64.0.0/16\n"
	       "PersistentKeepalive = 25\n",
	       node_pub, ep, subnet);
	ret = CLI_OK;
out:
	sodium_memzero(sk, sizeof sk);
	cJSON_Delete(doc);
	cJSON_Delete(get);
	return ret;
}

int cli_network_main(int argc, char **argv)
{
	if (argc < 2) {
		network_usage(stderr);
		return CLI_USAGE;
	}
	const char *sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	if (!strcmp(sub, "wg-key"))
		return wg_key(argc, argv);
	if (!strcmp(sub, "wg-config"))
		return wg_config(argc, argv);
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		network_usage(stdout);
		return CLI_OK;
	}
	cli_err("unknown network command '%s'", sub);
	network_usage(stderr);
	return CLI_USAGE;
}
