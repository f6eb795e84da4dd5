/*
 * tfchain-dev as a process: JSON-RPC over HTTP keep-alive, transfers signed
 * here, refusals with their codes, and kill -9 under load followed by a
 * restart on the same base path.
 */
#include "devchain_testlib.h"

#include <curl/curl.h>
#include <sodium.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/hex.h"

extern char **environ;

#define TFT 10000000ull
#define AMOUNT (2 * TFT)

static char bin[512], dir[64], base[96], logpath[128];
static pid_t pid = -1;
static int port;
static CURL *curl;
static uint8_t genesis[32];
static struct zkey keys[6];
static const char *const names[] = {"alice", "bob", "charlie", "dave", "eve", "ferdie"};
static uint8_t sink[32]; /* receives every transfer */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The chain dies with the test (PR_SET_PDEATHSIG), so a test that aborts
 * or times out leaves no process behind. */
static void start_chain(void)
{
	char *argv[] = {bin, "--base-path", base, "--rpc-addr", "127.0.0.1:0", "--block-time", "100",
			NULL};
	pid_t parent = getpid();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent || fd < 0 ||
		    dup2(fd, 2) < 0)
			_exit(127);
		execve(bin, argv, environ);
		_exit(127);
	}
	/* The port is in the log line "rpc listening on 127.0.0.1:PORT". */
	for (int i = 0; i < 200 && !port; i++) {
		char buf[4096];
		FILE *f = fopen(logpath, "r");
		sleep_ms(50);
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		const char *p = strstr(buf, "rpc listening on 127.0.0.1:");
		if (p)
			port = (int)strtol(p + strlen("rpc listening on 127.0.0.1:"), NULL, 10);
	}
	assert_true(port > 0);
}

static void kill_chain(int sig)
{
	int st;
	if (pid <= 0)
		return;
	kill(pid, sig);
	waitpid(pid, &st, 0);
	pid = -1;
	port = 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	return zbuf_put(arg, p, sz * n) ? 0 : sz * n;
}

/* POSTs body; returns the parsed answer (caller deletes). */
static cJSON *post(const char *body)
{
	char url[64];
	struct zbuf out;
	zbuf_init(&out, 64u << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
	assert_int_equal(curl_easy_perform(curl), CURLE_OK);
	assert_int_equal(zbuf_cstr(&out), 0);
	cJSON *j = cJSON_Parse((const char *)out.data);
	assert_non_null(j);
	zbuf_free(&out);
	return j;
}

static cJSON *call(const char *method, const char *params)
{
	size_t n = strlen(params) + 128;
	char *body = malloc(n);
	assert_non_null(body);
	snprintf(body, n, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method,
		 params);
	cJSON *j = post(body);
	free(body);
	return j;
}

static int error_code(const cJSON *j)
{
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	return e ? (int)cJSON_GetObjectItem(e, "code")->valuedouble : 0;
}

static const cJSON *result(const cJSON *j)
{
	return cJSON_GetObjectItem(j, "result");
}

static uint32_t head_number(void)
{
	cJSON *j = call("chain_getHeader", "[]");
	const cJSON *n = cJSON_GetObjectItem(result(j), "number");
	assert_true(cJSON_IsString(n));
	uint32_t v = (uint32_t)strtoul(n->valuestring, NULL, 16);
	cJSON_Delete(j);
	return v;
}

static uint64_t next_index(const struct zkey *k)
{
	char params[80], ss58[64];
	assert_int_equal(ss58_encode(k->pk, 42, ss58, sizeof(ss58)), 0);
	snprintf(params, sizeof(params), "[\"%s\"]", ss58);
	cJSON *j = call("system_accountNextIndex", params);
	assert_true(cJSON_IsNumber(result(j)));
	uint64_t v = (uint64_t)result(j)->valuedouble;
	cJSON_Delete(j);
	return v;
}

/* Submits xt; returns the JSON-RPC error code (0 when accepted). */
static int submit_hex(const uint8_t *p, size_t n, char *data, size_t datasz)
{
	char *hex = hex_encode_alloc(p, n, 1);
	assert_non_null(hex);
	size_t len = strlen(hex) + 8;
	char *params = malloc(len);
	assert_non_null(params);
	snprintf(params, len, "[\"%s\"]", hex);
	cJSON *j = call("author_submitExtrinsic", params);
	int code = error_code(j);
	if (data && code) {
		const cJSON *d = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "data");
		snprintf(data, datasz, "%s", cJSON_IsString(d) ? d->valuestring : "");
	}
	cJSON_Delete(j);
	free(params);
	free(hex);
	return code;
}

static void signed_transfer(const struct zkey *k, uint64_t nonce, struct zbuf *xt)
{
	struct xt_exts exts;
	struct xt_params p = {0};
	struct zbuf callb;
	zbuf_init(&callb, 0);
	tl_transfer_call(3, sink, AMOUNT, &callb);
	xt_exts_default(&exts);
	p.call = callb.data;
	p.call_len = callb.len;
	xt_era_immortal(&p.era);
	p.nonce = nonce;
	p.spec_version = DEV_SPEC_VERSION;
	p.tx_version = DEV_TX_VERSION;
	memcpy(p.genesis, genesis, 32);
	memcpy(p.block_hash, genesis, 32);
	zbuf_reset(xt);
	assert_int_equal(xt_sign(&exts, &p, k, xt), 0);
	zbuf_free(&callb);
}

/* System.Account of who at the best block, key built here. */
static int account_at(const uint8_t who[32], const char *at, struct dev_account *a)
{
	struct zbuf key;
	char *khex, params[400];
	enum chain_hasher h = CHAIN_HASHER_BLAKE2_128_CONCAT;
	const uint8_t *keys1[1] = {who};
	const size_t lens[1] = {32};
	zbuf_init(&key, 0);
	assert_int_equal(chain_storage_key("System", "Account", 1, &h, keys1, lens, &key), 0);
	khex = hex_encode_alloc(key.data, key.len, 1);
	if (at)
		snprintf(params, sizeof(params), "[\"%s\",\"%s\"]", khex, at);
	else
		snprintf(params, sizeof(params), "[\"%s\"]", khex);
	cJSON *j = call("state_getStorage", params);
	int rc = ZE_ABSENT;
	const cJSON *r = result(j);
	if (cJSON_IsString(r)) {
		uint8_t *v;
		size_t n;
		assert_int_equal(hex_decode_alloc(r->valuestring, 256, &v, &n), 0);
		rc = dev_account_decode(v, n, a);
		free(v);
	}
	cJSON_Delete(j);
	free(khex);
	zbuf_free(&key);
	return rc;
}

static void wait_blocks(uint32_t n)
{
	uint32_t want = head_number() + n;
	for (int i = 0; i < 200 && head_number() < want; i++)
		sleep_ms(50);
	assert_true(head_number() >= want);
}

static int setup(void **st)
{
	const char *b = getenv("BUILD");
	snprintf(bin, sizeof(bin), "%s/tfchain-dev", b ? b : "build");
	if (access(bin, X_OK)) {
		printf("skipped: %s not built\n", bin);
		exit(77);
	}
	snprintf(dir, sizeof(dir), "/tmp/devchain-rpc-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(base, sizeof(base), "%s/base", dir);
	snprintf(logpath, sizeof(logpath), "%s/chain.log", dir);
	for (int i = 0; i < 6; i++)
		tl_key(names[i], &keys[i]);
	randombytes_buf(sink, sizeof(sink));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	curl = curl_easy_init();
	assert_non_null(curl);
	start_chain();
	cJSON *j = call("chain_getBlockHash", "[0]");
	assert_true(cJSON_IsString(result(j)));
	assert_int_equal(hex_decode_fixed(result(j)->valuestring, genesis, 32), 0);
	cJSON_Delete(j);
	return 0;
}

static int teardown(void **st)
{
	char cmd[160];
	kill_chain(SIGTERM);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	for (int i = 0; i < 6; i++)
		key_wipe(&keys[i]);
	static const char *const files[] = {"base/chain.sqlite", "base/chain.sqlite-wal",
					    "base/chain.sqlite-shm", "chain.log"};
	for (int i = 0; i < 4; i++) {
		snprintf(cmd, sizeof(cmd), "%s/%s", dir, files[i]);
		unlink(cmd);
	}
	rmdir(base);
	rmdir(dir);
	return 0;
}

static void malformed_requests_get_standard_errors(void **st)
{
	cJSON *j = post("{not json");
	assert_int_equal(error_code(j), -32700);
	cJSON_Delete(j);
	j = post("{\"jsonrpc\":\"2.0\",\"id\":1}");
	assert_int_equal(error_code(j), -32600);
	cJSON_Delete(j);
	j = call("no_such_method", "[]");
	assert_int_equal(error_code(j), -32601);
	cJSON_Delete(j);
	j = call("state_getStorage", "[42]");
	assert_int_equal(error_code(j), -32602);
	cJSON_Delete(j);
	j = call("state_getStorage", "[\"0x00\", \"0x1234\"]");
	assert_int_equal(error_code(j), -32602);
	cJSON_Delete(j);
	/* A batch answers each member. */
	j = post("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"system_chain\"},"
		 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}]");
	assert_int_equal(cJSON_GetArraySize(j), 2);
	assert_string_equal(result(cJSON_GetArrayItem(j, 0))->valuestring, "tfchain-dev");
	assert_int_equal(error_code(cJSON_GetArrayItem(j, 1)), -32601);
	cJSON_Delete(j);
	j = call("state_getRuntimeVersion", "[]");
	assert_string_equal(cJSON_GetObjectItem(result(j), "specName")->valuestring, DEV_SPEC_NAME);
	assert_int_equal((int)cJSON_GetObjectItem(result(j), "transactionVersion")->valuedouble,
			 DEV_TX_VERSION);
	cJSON_Delete(j);
}

static void transfers_over_rpc_and_refusals(void **st)
{
	struct zbuf xt;
	struct dev_account a;
	char data[256];
	zbuf_init(&xt, 0);
	uint64_t nonce = next_index(&keys[0]);
	signed_transfer(&keys[0], nonce, &xt);

	/* payment_queryInfo quotes the fee the block will charge. */
	char *hex = hex_encode_alloc(xt.data, xt.len, 1), params[1024];
	snprintf(params, sizeof(params), "[\"%s\"]", hex);
	free(hex);
	cJSON *q = call("payment_queryInfo", params);
	char fee_dec[40];
	scale_u128_str(DEV_FEE_BASE + DEV_FEE_PER_BYTE * (dev_balance)xt.len, fee_dec);
	assert_string_equal(cJSON_GetObjectItem(result(q), "partialFee")->valuestring, fee_dec);
	cJSON_Delete(q);

	/* The next nonce first: it waits in the pool for the gap, so sending it
	 * twice is deterministically a duplicate (1014). */
	struct zbuf next;
	zbuf_init(&next, 0);
	signed_transfer(&keys[0], nonce + 1, &next);
	assert_int_equal(submit_hex(next.data, next.len, data, sizeof(data)), 0);
	assert_int_equal(submit_hex(next.data, next.len, data, sizeof(data)), 1014);
	q = call("author_pendingExtrinsics", "[]");
	assert_int_equal(cJSON_GetArraySize(result(q)), 1);
	cJSON_Delete(q);
	assert_int_equal(submit_hex(xt.data, xt.len, data, sizeof(data)), 0);
	assert_int_equal(next_index(&keys[0]), nonce + 2);
	wait_blocks(2);
	assert_int_equal(account_at(sink, NULL, &a), 0);
	assert_true(a.free == 2 * AMOUNT);
	/* Now stale: 1010. */
	assert_int_equal(submit_hex(xt.data, xt.len, data, sizeof(data)), 1010);
	assert_non_null(strstr(data, "outdated"));
	zbuf_free(&next);

	/* Bad signature, truncated, huge, garbage: 1010 with a reason. */
	signed_transfer(&keys[0], nonce + 2, &xt);
	xt.data[xt.len - 20] ^= 0x80; /* inside the call's dest: the signature no longer matches */
	assert_int_equal(submit_hex(xt.data, xt.len, data, sizeof(data)), 1010);
	assert_non_null(strstr(data, "signature"));
	assert_int_equal(submit_hex(xt.data, 10, data, sizeof(data)), 1010);
	uint8_t *huge = calloc(1, DEV_XT_MAX + 1024);
	assert_int_equal(submit_hex(huge, DEV_XT_MAX + 1024, data, sizeof(data)), 1010);
	free(huge);
	assert_int_equal(submit_hex((const uint8_t *)"\xff\xff\xff", 3, data, sizeof(data)), 1010);
	/* Blocks keep coming. */
	wait_blocks(2);
	zbuf_free(&xt);
}

static void kill_9_under_load_then_resume(void **st)
{
	struct zbuf xt;
	uint64_t nonces[6];
	uint8_t seen_hash[32];
	uint32_t seen = 0;
	zbuf_init(&xt, 0);
	for (int i = 0; i < 6; i++)
		nonces[i] = next_index(&keys[i]);
	signed_transfer(&keys[0], 0, &xt);
	size_t xt_len = xt.len;
	/* Submit for a while from six accounts, remembering a committed block. */
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 6; i++) {
			signed_transfer(&keys[i], nonces[i], &xt);
			assert_int_equal(xt.len, xt_len);
			if (submit_hex(xt.data, xt.len, NULL, 0) == 0)
				nonces[i]++;
		}
		if (round == 30) {
			cJSON *j = call("chain_getBlockHash", "[]");
			assert_int_equal(hex_decode_fixed(result(j)->valuestring, seen_hash, 32), 0);
			cJSON_Delete(j);
			cJSON *h = call("chain_getHeader", "[]");
			seen = (uint32_t)strtoul(cJSON_GetObjectItem(result(h), "number")->valuestring,
						 NULL, 16);
			cJSON_Delete(h);
		}
		sleep_ms(10);
	}
	kill_chain(SIGKILL);
	start_chain();

	/* Every block we saw is still there with the same hash. */
	char params[32];
	snprintf(params, sizeof(params), "[%u]", seen);
	cJSON *j = call("chain_getBlockHash", params);
	uint8_t h[32];
	assert_int_equal(hex_decode_fixed(result(j)->valuestring, h, 32), 0);
	assert_memory_equal(h, seen_hash, 32);
	cJSON_Delete(j);
	uint32_t head = head_number();
	assert_true(head >= seen);

	/* Whole blocks only: each sender paid amount + fee per nonce used, and
	 * the sink holds exactly the sum. */
	char at[80];
	j = call("chain_getBlockHash", "[]");
	snprintf(at, sizeof(at), "%s", result(j)->valuestring);
	cJSON_Delete(j);
	dev_balance fee = DEV_FEE_BASE + DEV_FEE_PER_BYTE * (dev_balance)xt_len;
	dev_balance total = 0;
	for (int i = 0; i < 6; i++) {
		struct dev_account a;
		assert_int_equal(account_at(keys[i].pk, at, &a), 0);
		dev_balance start = (dev_balance)1000000 * TFT;
		/* Alice's first nonce (earlier test) is part of the same sum. */
		assert_true(a.free == start - (dev_balance)a.nonce * (AMOUNT + fee));
		total += (dev_balance)a.nonce * AMOUNT;
	}
	struct dev_account s;
	assert_int_equal(account_at(sink, at, &s), 0);
	assert_true(s.free == total);
	/* And the chain goes on. */
	wait_blocks(2);
	zbuf_free(&xt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(malformed_requests_get_standard_errors),
		cmocka_unit_test(transfers_over_rpc_and_refusals),
		cmocka_unit_test(kill_9_under_load_then_resume),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
