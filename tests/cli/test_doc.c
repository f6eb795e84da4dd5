/*
 * Unit tests of the deployment document check and sealing of
 * `zos-cli contract create` (cli/grid_doc.c): what the node will open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/grid.h"
#include "common/key.h"
#include "common/seal.h"
#include "common/zerr.h"

static const char *const good_doc =
	"{\"version\": 0, \"metadata\": \"m\", \"description\": \"d\", \"workloads\": ["
	"{\"version\": 0, \"name\": \"disk_1\", \"type\": \"zmount\", \"data\": {\"size\": 1}},"
	"{\"version\": 1, \"name\": \"net\", \"type\": \"network\", \"data\": {}}]}\n";

static void doc_fills_in_the_twin(void **st)
{
	char *out = NULL, why[256] = "";
	(void)st;
	assert_int_equal(cli_doc_prepare(good_doc, strlen(good_doc), 7, &out, why, sizeof why), 0);
	cJSON *j = cJSON_Parse(out);
	assert_non_null(j);
	assert_int_equal(cJSON_GetObjectItem(j, "twin_id")->valueint, 7);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "workloads")), 2);
	cJSON_Delete(j);
	cli_doc_free(out);
}

static void doc_keeps_a_matching_twin(void **st)
{
	const char *doc = "{\"version\": 0, \"twin_id\": 3, \"workloads\": [{\"version\": 0, "
			  "\"name\": \"a\", \"type\": \"volume\", \"data\": {\"size\": 5}}]}";
	char *out = NULL, why[256] = "";
	(void)st;
	assert_int_equal(cli_doc_prepare(doc, strlen(doc), 3, &out, why, sizeof why), 0);
	assert_non_null(strstr(out, "\"twin_id\":3"));
	cli_doc_free(out);
	assert_int_equal(cli_doc_prepare(doc, strlen(doc), 4, &out, why, sizeof why), -EINVAL);
	assert_null(out);
	assert_non_null(strstr(why, "twin"));
}

static void doc_refuses_bad_documents(void **st)
{
	static const struct {
		const char *doc, *why;
	} bad[] = {
		{"[]", "JSON object"},
		{"{\"version\": 0", "not valid JSON"},
		{"{\"version\": 0, \"workloads\": []} x", "trailing"},
		{"{\"workloads\": [{}]}", "version"},
		{"{\"version\": -1, \"workloads\": []}", "version"},
		{"{\"version\": 0}", "workloads must be an array"},
		{"{\"version\": 0, \"workloads\": []}", "no workloads"},
		{"{\"version\": 0, \"workloads\": [{\"version\": 0, \"name\": \"a-b\", "
		 "\"type\": \"zmount\", \"data\": {}}]}",
		 "name must match"},
		{"{\"version\": 0, \"workloads\": [{\"version\": 0, \"name\": \"a\", "
		 "\"type\": \"zmount\", \"data\": {}}, {\"version\": 0, \"name\": \"a\", "
		 "\"type\": \"volume\", \"data\": {}}]}",
		 "used twice"},
		{"{\"version\": 0, \"workloads\": [{\"version\": 0, \"name\": \"a\", "
		 "\"type\": \"\", \"data\": {}}]}",
		 "type"},
		{"{\"version\": 0, \"workloads\": [{\"version\": 0, \"name\": \"a\", "
		 "\"type\": \"zmount\", \"data\": 5}]}",
		 "data must be an object"},
		{"{\"version\": 0, \"metadata\": 5, \"workloads\": [{\"version\": 0, \"name\": \"a\", "
		 "\"type\": \"zmount\", \"data\": {}}]}",
		 "metadata must be a string"},
		{"{\"version\": 0, \"twin_id\": \"1\", \"workloads\": [{\"version\": 0, \"name\": "
		 "\"a\", \"type\": \"zmount\", \"data\": {}}]}",
		 "twin_id"},
	};
	(void)st;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *out = NULL, why[256] = "";
		int rc = cli_doc_prepare(bad[i].doc, strlen(bad[i].doc), 1, &out, why, sizeof why);
		if (rc >= 0 || !strstr(why, bad[i].why))
			fail_msg("doc %zu: rc %d, why '%s', want '%s'", i, rc, why, bad[i].why);
		assert_null(out);
	}
}

static void doc_bounds_sizes(void **st)
{
	size_t n = CLI_DOC_MAX + 1;
	char *big = malloc(n + 1), *out = NULL, why[256] = "";
	(void)st;
	assert_non_null(big);
	memset(big, ' ', n);
	big[n] = '\0';
	assert_int_equal(cli_doc_prepare(big, n, 1, &out, why, sizeof why), ZE_TOOBIG);
	/* Under the file cap, but too large once sealed (41 bytes of overhead). */
	size_t fill = CLI_DOC_MAX - 20;
	int len = snprintf(big, n, "{\"version\": 0, \"description\": \"\", \"metadata\": \"\", "
				   "\"workloads\": [{\"version\": 0, \"name\": \"a\", \"type\": \"x\", "
				   "\"data\": {\"pad\": \"");
	assert_true(len > 0 && (size_t)len < fill);
	memset(big + len, 'p', fill - (size_t)len);
	memcpy(big + fill, "\"}}]}", 6);
	assert_int_equal(cli_doc_prepare(big, strlen(big), 1, &out, why, sizeof why), ZE_TOOBIG);
	assert_non_null(strstr(why, "sealed"));
	assert_null(out);
	/* 65 workloads are too many. */
	size_t pos = (size_t)snprintf(big, n, "{\"version\": 0, \"workloads\": [");
	for (int i = 0; i < 65; i++)
		pos += (size_t)snprintf(big + pos, n - pos,
					"%s{\"version\": 0, \"name\": \"w%d\", \"type\": \"x\", "
					"\"data\": {}}",
					i ? "," : "", i);
	snprintf(big + pos, n - pos, "]}");
	assert_int_equal(cli_doc_prepare(big, strlen(big), 1, &out, why, sizeof why), ZE_TOOBIG);
	assert_non_null(strstr(why, "more than 64"));
	free(big);
}

/* The node opens what contract create seals, with its own key and the
 * user's public key, and the hash is the plaintext's. */
static void doc_seal_opens_on_the_node(void **st)
{
	struct zkey user, node, other;
	uint8_t *data = NULL, *pt = NULL, hash[32], node_x[32], user_x[32];
	size_t len = 0, ptlen = 0;
	const char *doc = "{\"version\":0,\"twin_id\":1,\"workloads\":[]}";
	(void)st;
	assert_int_equal(key_dev("alice", &user), 0);
	assert_int_equal(key_dev("charlie", &node), 0);
	assert_int_equal(key_dev("bob", &other), 0);
	assert_int_equal(cli_doc_seal(&user, NULL, 0, node.pk, doc, &data, &len, hash), 0);
	assert_int_equal(len, strlen(doc) + SEAL_OVERHEAD);
	assert_int_equal(data[0], SEAL_VERSION);
	assert_int_equal(seal_hash_check(doc, strlen(doc), hash), 0);
	assert_int_equal(key_x25519_sk(&node, node_x), 0);
	assert_int_equal(key_x25519_pk(user.pk, user_x), 0);
	assert_int_equal(seal_open(data, len, user_x, node_x, 0, &pt, &ptlen), 0);
	assert_int_equal(ptlen, strlen(doc));
	assert_memory_equal(pt, doc, ptlen);
	seal_free(pt, ptlen);
	/* Another node cannot open it. */
	assert_int_equal(key_x25519_sk(&other, node_x), 0);
	assert_int_equal(seal_open(data, len, user_x, node_x, 0, &pt, &ptlen), ZE_CRYPTO);
	free(data);

	/* A node twin that publishes a pk is sealed for that key. */
	uint8_t pk[32];
	assert_int_equal(key_x25519_pk(other.pk, pk), 0);
	assert_int_equal(cli_doc_seal(&user, pk, 32, node.pk, doc, &data, &len, hash), 0);
	assert_int_equal(seal_open(data, len, user_x, node_x, 0, &pt, &ptlen), 0);
	seal_free(pt, ptlen);
	free(data);
	/* A pk of the wrong length is refused, nothing allocated. */
	data = NULL;
	assert_int_equal(cli_doc_seal(&user, pk, 31, node.pk, doc, &data, &len, hash), ZE_MALFORMED);
	assert_null(data);
	sodium_memzero(node_x, sizeof node_x);
	key_wipe(&user);
	key_wipe(&node);
	key_wipe(&other);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(doc_fills_in_the_twin),
		cmocka_unit_test(doc_keeps_a_matching_twin),
		cmocka_unit_test(doc_refuses_bad_documents),
		cmocka_unit_test(doc_bounds_sizes),
		cmocka_unit_test(doc_seal_opens_on_the_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
