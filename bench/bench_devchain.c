/*
 * tfchain-dev throughput, each figure beside its floor from the same run:
 *
 *   reads:      state_getStorage over one keep-alive HTTP connection,
 *               against a bare round trip to a trivial libmicrohttpd
 *               handler configured like the devchain's server;
 *   extrinsics: signed transfers from many accounts, submitted over RPC and
 *               included in blocks, against one core's ed25519 verify rate.
 *               Four client connections submit one extrinsic per request.
 *
 *   bench_devchain [seconds-per-read-phase (2)] [accounts (200)] [nonces (10)]
 *
 * The chain runs in-process on a temporary SQLite file with 100 ms blocks.
 */
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "chainclient/hash.h"
#include "chainclient/xt.h"
#include "common/hex.h"
#include "common/key.h"
#include "common/log.h"
#include "devchain/chain.h"
#include "devchain/genesis.h"
#include "devchain/rpc.h"
#include "devchain/system.h"

#define BLOCK_MS 100
#define SUBMITTERS 4

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	struct zbuf *b = arg;
	if (b && zbuf_put(b, p, sz * n))
		return 0;
	return sz * n;
}

static CURL *client(uint16_t port, struct curl_slist **hdr, struct zbuf *out)
{
	char url[64];
	CURL *c = curl_easy_init();
	if (!c)
		return NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	*hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	return c;
}

/* Requests per second of body against port for `secs`. */
static double rate(uint16_t port, const char *body, double secs)
{
	struct curl_slist *hdr;
	CURL *c = client(port, &hdr, NULL);
	long n = 0;
	if (!c)
		return 0;
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	double t0 = clk_seconds(CLOCK_MONOTONIC), t;
	do {
		for (int i = 0; i < 100; i++) {
			if (curl_easy_perform(c) != CURLE_OK) {
				fprintf(stderr, "request failed\n");
				exit(1);
			}
			n++;
		}
		t = clk_seconds(CLOCK_MONOTONIC) - t0;
	} while (t < secs);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	return (double)n / t;
}

static enum MHD_Result trivial(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	static const char answer[] = "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":1}";
	static int marker;
	if (!*con_cls) {
		*con_cls = &marker;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(answer) - 1, (void *)answer,
								 MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Daemon *trivial_server(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_TURBO, 0, NULL,
		NULL, trivial,
		NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
		MHD_OPTION_END);
	if (d)
		*port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return d;
}

static double verify_rate(void)
{
	struct zkey k;
	uint8_t msg[160], sig[64];
	long n = 0;
	key_generate(&k);
	randombytes_buf(msg, sizeof(msg));
	key_sign(&k, msg, sizeof(msg), sig);
	double t0 = clk_seconds(CLOCK_MONOTONIC), t;
	do {
		for (int i = 0; i < 200; i++, n++)
			if (key_verify(k.pk, msg, sizeof(msg), sig))
				exit(1);
		t = clk_seconds(CLOCK_MONOTONIC) - t0;
	} while (t < 1.0);
	key_wipe(&k);
	return (double)n / t;
}

struct producer {
	struct dev_chain *chain;
	volatile int stop;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	while (!p->stop) {
		struct timespec ts = {0, BLOCK_MS * 1000000L};
		nanosleep(&ts, NULL);
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		dev_chain_produce(p->chain, (uint64_t)rt.tv_sec * 1000 + (uint64_t)rt.tv_nsec / 1000000,
				  NULL, NULL);
	}
	return NULL;
}

struct submitter {
	uint16_t port;
	char **bodies;
	size_t from, to;
	long refused;
};

static void *submit(void *arg)
{
	struct submitter *s = arg;
	struct zbuf out;
	struct curl_slist *hdr;
	zbuf_init(&out, 1u << 16);
	CURL *c = client(s->port, &hdr, &out);
	for (size_t i = s->from; c && i < s->to; i++) {
		zbuf_reset(&out);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->bodies[i]);
		if (curl_easy_perform(c) != CURLE_OK || zbuf_cstr(&out) != 0 ||
		    strstr((const char *)out.data, "\"error\""))
			s->refused++;
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	zbuf_free(&out);
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
	long naccounts = argc > 2 ? strtol(argv[2], NULL, 10) : 200;
	long nonces = argc > 3 ? strtol(argv[3], NULL, 10) : 10;
	char dir[] = "/tmp/bench-devchain.XXXXXX", db[128];
	if (secs <= 0 || naccounts < 1 || naccounts > 5000 || nonces < 1 || nonces > 16) {
		fprintf(stderr, "usage: bench_devchain [secs] [accounts<=5000] [nonces<=16]\n");
		return 2;
	}
	if (sodium_init() < 0 || !mkdtemp(dir))
		return 1;
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "bench");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(db, sizeof(db), "%s/chain.sqlite", dir);

	/* Genesis: the dev accounts plus naccounts generated ones. */
	struct zkey *keys = calloc((size_t)naccounts, sizeof(*keys));
	cJSON *g = NULL;
	if (!keys || dev_genesis_load(NULL, &g))
		return 1;
	cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "Balances"), "balances");
	for (int i = 0; i < naccounts; i++) {
		char hex[70];
		key_generate(&keys[i]);
		hex_encode(keys[i].pk, 32, 1, hex, sizeof(hex));
		cJSON *pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, cJSON_CreateString(hex));
		cJSON_AddItemToArray(pair, cJSON_CreateString("100000000000"));
		cJSON_AddItemToArray(list, pair);
	}
	struct dev_chain *chain;
	struct dev_rpc *rpc;
	if (dev_chain_open(db, g, &chain) || dev_rpc_start(chain, "127.0.0.1:0", &rpc))
		return 1;
	cJSON_Delete(g);
	uint16_t port = dev_rpc_port(rpc);
	struct producer prod = {chain, 0};
	pthread_t pt;
	pthread_create(&pt, NULL, produce, &prod);

	/* Reads. */
	struct zkey alice;
	uint8_t key[DEV_ACCOUNT_KEY_LEN];
	char khex[200], body[400];
	key_dev("alice", &alice);
	dev_account_key(alice.pk, key);
	hex_encode(key, sizeof(key), 1, khex, sizeof(khex));
	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"state_getStorage\",\"params\":[\"%s\"]}",
		 khex);
	uint16_t tport;
	struct MHD_Daemon *bare = trivial_server(&tport);
	if (!bare)
		return 1;
	/* The machine may be shared: take each floor before and after its
	 * measurement and compare with the mean. */
	double bare_rate = rate(tport, body, secs / 2);
	double read_rate = rate(port, body, secs);
	bare_rate = (bare_rate + rate(tport, body, secs / 2)) / 2;
	MHD_stop_daemon(bare);

	/* Extrinsics: pre-signed transfers, submitted by two client threads. */
	size_t total = (size_t)naccounts * (size_t)nonces;
	char **bodies = calloc(total, sizeof(*bodies));
	struct xt_exts exts;
	struct xt_params p = {0};
	struct zbuf call, xt;
	uint8_t genesis[32], sink[32];
	xt_exts_default(&exts);
	dev_chain_genesis_hash(chain, genesis);
	randombytes_buf(sink, 32);
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	scale_put_u8(&call, 2);
	scale_put_u8(&call, 3);
	scale_put_u8(&call, 0);
	scale_put_bytes(&call, sink, 32);
	scale_put_compact(&call, 10000000);
	p.call = call.data;
	p.call_len = call.len;
	xt_era_immortal(&p.era);
	p.spec_version = DEV_SPEC_VERSION;
	p.tx_version = DEV_TX_VERSION;
	memcpy(p.genesis, genesis, 32);
	memcpy(p.block_hash, genesis, 32);
	for (int n = 0; n < nonces; n++) {
		for (int a = 0; a < naccounts; a++) {
			size_t i = (size_t)n * (size_t)naccounts + (size_t)a;
			p.nonce = (uint64_t)n;
			zbuf_reset(&xt);
			if (xt_sign(&exts, &p, &keys[a], &xt))
				return 1;
			char *hex = hex_encode_alloc(xt.data, xt.len, 1);
			size_t len = strlen(hex) + 100;
			bodies[i] = malloc(len);
			snprintf(bodies[i], len,
				 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"author_submitExtrinsic\","
				 "\"params\":[\"%s\"]}",
				 hex);
			free(hex);
		}
	}
	double vrate = verify_rate();
	double t0 = clk_seconds(CLOCK_MONOTONIC);
	/* Several connections, so the server's threads never wait on one
	 * client's round trip. */
	struct submitter subs[SUBMITTERS];
	pthread_t st[SUBMITTERS];
	for (int i = 0; i < SUBMITTERS; i++) {
		subs[i] = (struct submitter){port, bodies, total * (size_t)i / SUBMITTERS,
					     total * (size_t)(i + 1) / SUBMITTERS, 0};
		pthread_create(&st[i], NULL, submit, &subs[i]);
	}
	long refused = 0;
	for (int i = 0; i < SUBMITTERS; i++) {
		pthread_join(st[i], NULL);
		refused += subs[i].refused;
	}
	double t_submitted = clk_seconds(CLOCK_MONOTONIC) - t0;
	while (dev_chain_pending(chain) > 0 && clk_seconds(CLOCK_MONOTONIC) - t0 < 120) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	double t_included = clk_seconds(CLOCK_MONOTONIC) - t0;
	double xt_rate = (double)(total - (size_t)refused) / t_included;
	vrate = (vrate + verify_rate()) / 2;

	prod.stop = 1;
	pthread_join(pt, NULL);
	dev_rpc_stop(rpc);
	dev_chain_close(chain);

	printf("storage reads over keep-alive RPC: %.0f/s; bare HTTP round trip: %.0f/s; "
	       "ratio %.0f%%\n",
	       read_rate, bare_rate, 100.0 * read_rate / bare_rate);
	printf("signed transfers included: %zu (%ld refused) from %ld accounts in %.2f s "
	       "(submitted in %.2f s): %.0f/s; one-core ed25519 verify: %.0f/s; ratio %.0f%%\n",
	       total - (size_t)refused, refused, naccounts, t_included, t_submitted, xt_rate,
	       vrate, 100.0 * xt_rate / vrate);

	for (size_t i = 0; i < total; i++)
		free(bodies[i]);
	free(bodies);
	for (int i = 0; i < naccounts; i++)
		key_wipe(&keys[i]);
	free(keys);
	key_wipe(&alice);
	zbuf_free(&call);
	zbuf_free(&xt);
	char f[160];
	static const char *const sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), "%s%s", db, sfx[i]);
		unlink(f);
	}
	rmdir(dir);
	curl_global_cleanup();
	return refused ? 1 : 0;
}
