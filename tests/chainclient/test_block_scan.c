/*
 * Unit tests of chainclient/block_scan.c, a block's reads answered from the
 * batch's text: the usual answers are read there, and whatever it reads is
 * what the cJSON path (batch_parse, then rpc_hash_result, rpc_hex_result,
 * rpc_block_result) reads from the same text, on the chain's answers and on
 * every one-byte change of them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client_int.h"
#include "chainclient/rpc_int.h"
#include "common/buf.h"
#include "common/zerr.h"

#define BASE 40
#define MAX_EVENTS 4096

struct reads {
	uint8_t hash[32];
	uint8_t *events;
	size_t nevents;
	uint64_t num;
	uint8_t **xts;
	size_t *lens, nxt;
};

static void reads_free(struct reads *r)
{
	free(r->events);
	rpc_keys_free(r->xts, r->lens, r->nxt);
	memset(r, 0, sizeof *r);
}

static int scan(const char *t, size_t n, size_t first, size_t last, struct reads *r)
{
	struct zbuf z;
	zbuf_init(&z, 0);
	assert_int_equal(zbuf_put(&z, t, n), 0);
	memset(r, 0, sizeof *r);
	int rc = chain_scan_block_reads(&z, BASE, first, last, MAX_EVENTS, r->hash, &r->events,
	                                &r->nevents, &r->num, &r->xts, &r->lens, &r->nxt);
	zbuf_free(&z);
	return rc;
}

/* The cJSON path's reading of the same text: 0 when every call has its
 * result and each decodes. */
static int reference(const char *t, size_t n, size_t first, size_t last, struct reads *r)
{
	const cJSON *res[BR_N] = {NULL, NULL, NULL};
	int got[BR_N] = {0}, rc = 0;
	memset(r, 0, sizeof *r);
	cJSON *root = cJSON_ParseWithLength(t, n), *e;
	if (!cJSON_IsArray(root)) {
		cJSON_Delete(root);
		return ZE_UNKNOWN;
	}
	cJSON_ArrayForEach(e, root)
	{
		const cJSON *ver = cJSON_GetObjectItemCaseSensitive(e, "jsonrpc");
		const cJSON *rid = cJSON_GetObjectItemCaseSensitive(e, "id");
		if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0 ||
		    !cJSON_IsNumber(rid) || rid->valuedouble < BASE ||
		    rid->valuedouble > BASE + (double)(last - first))
			continue;
		size_t k = first + (size_t)(rid->valuedouble - BASE);
		if ((double)(k - first) + BASE != rid->valuedouble || got[k])
			continue;
		if (cJSON_GetObjectItemCaseSensitive(e, "error"))
			continue;
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "result");
		if (v) {
			got[k] = 1;
			res[k] = v;
		}
	}
	for (size_t k = first; k <= last && !rc; k++)
		if (!got[k])
			rc = ZE_UNKNOWN;
	if (!rc && first == BR_HASH)
		rc = rpc_hash_result(res[BR_HASH], r->hash);
	if (!rc) {
		rc = rpc_hex_result(res[BR_EVENTS], MAX_EVENTS, &r->events, &r->nevents);
		if (rc == ZE_ABSENT)
			rc = 0;
	}
	if (!rc && last == BR_BODY)
		rc = rpc_block_result(res[BR_BODY], &r->num, &r->xts, &r->lens, &r->nxt);
	cJSON_Delete(root);
	if (rc)
		reads_free(r);
	return rc;
}

static void same_reads(const struct reads *a, const struct reads *b, size_t first, size_t last)
{
	if (first == BR_HASH)
		assert_memory_equal(a->hash, b->hash, 32);
	assert_int_equal(a->nevents, b->nevents);
	if (a->nevents)
		assert_memory_equal(a->events, b->events, a->nevents);
	if (last == BR_BODY) {
		assert_int_equal(a->num, b->num);
		assert_int_equal(a->nxt, b->nxt);
		for (size_t i = 0; i < a->nxt; i++) {
			assert_int_equal(a->lens[i], b->lens[i]);
			assert_memory_equal(a->xts[i], b->xts[i], a->lens[i]);
		}
	}
}

#define HASH                                                                                       \
	"\"0x"                                                                                     \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""

static const struct {
	const char *text;
	size_t first, last;
} answers[] = {
    {"[{\"jsonrpc\":\"2.0\",\"result\":" HASH ",\"id\":40},"
     "{\"jsonrpc\":\"2.0\",\"result\":\"0x0800aa\",\"id\":41},"
     "{\"jsonrpc\":\"2.0\",\"result\":{\"block\":{\"header\":{\"parentHash\":" HASH
     ",\"number\":\"0x1a\",\"digest\":{\"logs\":[]}},\"extrinsics\":[\"0x280403000b\","
     "\"0x\",\"0x0102\"]},\"justifications\":null},\"id\":42}]",
     BR_HASH, BR_BODY},
    /* Entries in another order, spaces, events absent, no extrinsics. */
    {" [ { \"id\" : 40 , \"result\" : null , \"jsonrpc\" : \"2.0\" } ,\n"
     "{\"jsonrpc\":\"2.0\",\"id\":41,\"result\":{\"block\":{\"extrinsics\":[],"
     "\"header\":{\"number\":\"0xFFFF\"}}}} ] ",
     BR_EVENTS, BR_BODY},
    {"[{\"jsonrpc\":\"2.0\",\"result\":\"0x04\",\"id\":40}]", BR_EVENTS, BR_EVENTS},
};

static void usual_answers_are_read_from_the_text(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		struct reads a, b;
		size_t n = strlen(answers[i].text);
		assert_int_equal(scan(answers[i].text, n, answers[i].first, answers[i].last, &a),
		                 0);
		assert_int_equal(
		    reference(answers[i].text, n, answers[i].first, answers[i].last, &b), 0);
		same_reads(&a, &b, answers[i].first, answers[i].last);
		reads_free(&a);
		reads_free(&b);
	}
}

static void others_are_left_to_cjson(void **st)
{
	(void)st;
	const char *left[] = {
	    /* An error, a second answer, an id out of the batch, a missing one. */
	    "[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"m\"},\"id\":40}]",
	    "[{\"jsonrpc\":\"2.0\",\"result\":\"0x04\",\"id\":40},"
	    "{\"jsonrpc\":\"2.0\",\"result\":\"0x05\",\"id\":40}]",
	    "[{\"jsonrpc\":\"2.0\",\"result\":\"0x04\",\"id\":44}]",
	    "[]",
	    /* An escaped string, an odd length, too large, not a string. */
	    "[{\"jsonrpc\":\"2.0\",\"result\":\"0x\\u0030\\u0034\",\"id\":40}]",
	    "[{\"jsonrpc\":\"2.0\",\"result\":\"0x123\",\"id\":40}]",
	    "[{\"jsonrpc\":\"2.0\",\"result\":7,\"id\":40}]",
	    /* Another version, a fractional id, trailing text. */
	    "[{\"jsonrpc\":\"1.0\",\"result\":\"0x04\",\"id\":40}]",
	    "[{\"jsonrpc\":\"2.0\",\"result\":\"0x04\",\"id\":40.0}]",
	    "[{\"jsonrpc\":\"2.0\",\"result\":\"0x04\",\"id\":40}] x",
	    "{\"jsonrpc\":\"2.0\",\"result\":\"0x04\",\"id\":40}",
	};
	for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
		struct reads a;
		assert_int_not_equal(scan(left[i], strlen(left[i]), BR_EVENTS, BR_EVENTS, &a), 0);
		assert_null(a.events);
	}
	/* Events larger than the bound: left to the cJSON path's refusal. */
	char big[2 * MAX_EVENTS + 64];
	int k = snprintf(big, sizeof big, "[{\"jsonrpc\":\"2.0\",\"id\":40,\"result\":\"0x");
	memset(big + k, 'a', 2 * MAX_EVENTS + 2);
	memcpy(big + k + 2 * MAX_EVENTS + 2, "\"}]", 4);
	struct reads a;
	assert_int_not_equal(scan(big, strlen(big), BR_EVENTS, BR_EVENTS, &a), 0);
}

/* Every one-byte change of the answers: what the scan reads, the cJSON
 * path reads the same. */
static void changed_answers_agree_with_cjson(void **st)
{
	(void)st;
	const char subst[] = {'"', '\\', '{', '}', '[', ']', ',',
	                      ':', '0',  '1', 'a', 'x', ' ', 'n'};
	for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
		size_t n = strlen(answers[i].text);
		char *t = malloc(n);
		assert_non_null(t);
		for (size_t j = 0; j < n; j++)
			for (size_t s = 0; s < sizeof subst; s++) {
				memcpy(t, answers[i].text, n);
				t[j] = subst[s];
				struct reads a, b;
				if (scan(t, n, answers[i].first, answers[i].last, &a) != 0)
					continue;
				assert_int_equal(
				    reference(t, n, answers[i].first, answers[i].last, &b), 0);
				same_reads(&a, &b, answers[i].first, answers[i].last);
				reads_free(&a);
				reads_free(&b);
			}
		free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(usual_answers_are_read_from_the_text),
	    cmocka_unit_test(others_are_left_to_cjson),
	    cmocka_unit_test(changed_answers_agree_with_cjson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
