/*
 * imgtool: drives the image store from the command line for the image
 * integration test and benchmark (tests/integration/test_image_pull.sh,
 * bench/bench_image.sh). Not installed.
 *
 *   imgtool [--dir D] [--allow L] [--deny L] [--insecure L] [--creds FILE]
 *           [--max BYTES] [--arch A] [--retries N] [--progress]
 *           pull REF | pull2 REF | get REF | resolve REF | policy REF |
 *           hold DIGEST HOLDER | release HOLDER | gc | usage
 *
 * pull/get print "digest D", "size N", then one "layer PATH" per layer
 * (lowest first) and the config's entrypoint/cmd/env; errors go to stderr as
 * "error: <code name>: <message>" with exit status 1.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/zerr.h"
#include "image/image.h"

static int show_progress(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	fprintf(stderr, "progress %" PRIu64 "/%" PRIu64 "\n", done, total);
	return 0;
}

struct job {
	struct img_store *st;
	const char *ref;
	int rc;
	char err[512];
	struct img_image *img;
};

static void *pull_thread(void *arg)
{
	struct job *j = arg;
	j->rc = img_pull(j->st, j->ref, NULL, NULL, &j->img, j->err, sizeof j->err);
	return NULL;
}

static void print_image(const struct img_image *img)
{
	printf("digest %s\nsize %" PRIu64 "\n", img->digest, img->size);
	for (size_t i = 0; i < img->n_layers; i++)
		printf("layer %s\n", img->layers[i]);
	for (char **p = img->entrypoint; p && *p; p++)
		printf("entrypoint %s\n", *p);
	for (char **p = img->cmd; p && *p; p++)
		printf("cmd %s\n", *p);
	for (char **p = img->env; p && *p; p++)
		printf("env %s\n", *p);
}

static int fail(int rc, const char *err)
{
	fprintf(stderr, "error: %s: %s\n", zerr_str(rc), err);
	return 1;
}

int main(int argc, char **argv)
{
	struct img_config c = {.dir = "images"};
	int progress = 0, i = 1;
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		const char *k = argv[i] + 2, *v = argv[i + 1];
		if (!strcmp(k, "dir"))
			c.dir = v;
		else if (!strcmp(k, "allow"))
			c.allow = v;
		else if (!strcmp(k, "deny"))
			c.deny = v;
		else if (!strcmp(k, "insecure"))
			c.insecure = v;
		else if (!strcmp(k, "creds"))
			c.credentials_file = v;
		else if (!strcmp(k, "max"))
			c.max_bytes = strtoull(v, NULL, 10);
		else if (!strcmp(k, "arch"))
			c.arch = v;
		else if (!strcmp(k, "retries"))
			c.retries = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "progress")) {
			progress = 1;
			i--;
		} else {
			fprintf(stderr, "unknown option --%s\n", k);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: imgtool [options] COMMAND ARGS (see the source)\n");
		return 2;
	}
	const char *cmd = argv[i++];
	struct img_store *st;
	int rc = img_store_open(&c, &st);
	if (rc < 0)
		return fail(rc, "cannot open the store");
	/* IMGTOOL_IDLE_MS: sleep with the store open before the command, so a
	 * benchmark can sample the idle RSS. */
	const char *idle = getenv("IMGTOOL_IDLE_MS");
	if (idle) {
		unsigned long ms = strtoul(idle, NULL, 10);
		struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	char err[512] = "";
	struct img_image *img = NULL;
	int ret = 0;
	if (!strcmp(cmd, "pull") && i < argc) {
		rc = img_pull(st, argv[i], progress ? show_progress : NULL, NULL, &img, err,
		              sizeof err);
	} else if (!strcmp(cmd, "pull2") && i < argc) {
		/* Two concurrent pulls of one image in one process: single flight. */
		struct job j[2] = {{.st = st, .ref = argv[i]}, {.st = st, .ref = argv[i]}};
		pthread_t t[2];
		for (int k = 0; k < 2; k++)
			pthread_create(&t[k], NULL, pull_thread, &j[k]);
		for (int k = 0; k < 2; k++)
			pthread_join(t[k], NULL);
		for (int k = 0; k < 2; k++) {
			if (j[k].rc < 0)
				ret = fail(j[k].rc, j[k].err);
			else
				printf("pull%d %s\n", k, j[k].img->digest);
			img_image_free(j[k].img);
		}
	} else if (!strcmp(cmd, "get") && i < argc) {
		rc = img_get(st, argv[i], &img, err, sizeof err);
	} else if (!strcmp(cmd, "resolve") && i < argc) {
		char d[IMG_DIGEST_MAX];
		uint64_t size;
		if ((rc = img_resolve(st, argv[i], d, &size, err, sizeof err)) == 0)
			printf("digest %s\nsize %" PRIu64 "\n", d, size);
	} else if (!strcmp(cmd, "policy") && i < argc) {
		rc = img_policy_check(st, argv[i], err, sizeof err);
	} else if (!strcmp(cmd, "hold") && i + 1 < argc) {
		rc = img_hold(st, argv[i], argv[i + 1]);
	} else if (!strcmp(cmd, "release") && i < argc) {
		rc = img_release(st, argv[i]);
	} else if (!strcmp(cmd, "gc")) {
		uint64_t freed;
		if ((rc = img_gc(st, &freed)) == 0)
			printf("freed %" PRIu64 "\n", freed);
	} else if (!strcmp(cmd, "usage")) {
		uint64_t b;
		if ((rc = img_store_usage(st, &b)) == 0)
			printf("usage %" PRIu64 "\n", b);
	} else {
		fprintf(stderr, "unknown command or missing argument: %s\n", cmd);
		ret = 2;
	}
	if (rc < 0)
		ret = fail(rc, err);
	else if (img)
		print_image(img);
	img_image_free(img);
	img_store_close(st);
	return ret;
}
