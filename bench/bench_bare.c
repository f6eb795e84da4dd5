/*
 * A bare program linked like zos-agent (the bench rule links every module
 * library and the same shared libraries), the floor for the agent's memory
 * figures: it touches each library once (curl_global_init, nng_req0_open,
 * sodium_init, sqlite3_open(":memory:"), cJSON_Parse, sd_notify), tells
 * READY=1 to $NOTIFY_SOCKET when set, and sleeps so that a measuring
 * program can read /proc/PID/status; bench_agent_mem.c starts it.
 *
 *   bench_bare [SECONDS (30)]      exits after SECONDS or on SIGTERM
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *end = NULL;
	long secs = argc > 1 ? strtol(argv[1], &end, 10) : 30;
	if (argc > 2 || (argc > 1 && (*end || secs < 1 || secs > 3600))) {
		fprintf(stderr, "usage: bench_bare [SECONDS (30)]\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || sodium_init() < 0)
		return 1;
	nng_socket s;
	if (nng_req0_open(&s) != 0)
		return 1;
	sqlite3 *db = NULL;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return 1;
	cJSON *j = cJSON_Parse("{\"bare\":true}");
	if (!j)
		return 1;
	sd_notify(0, "READY=1");
	for (long i = 0; i < secs * 10; i++)
		usleep(100000);
	cJSON_Delete(j);
	sqlite3_close(db);
	nng_close(s);
	curl_global_cleanup();
	return 0;
}
