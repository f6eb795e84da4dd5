/*
 * Unit tests of the store's group commit (agent/store_sync.c): concurrent
 * durable commits share syncs, each returns only after a sync that covers
 * it, lazy transactions do not sync, and a failed sync is reported.
 *
 * The sync hook stands in for fdatasync: it copies the database and its WAL
 * as they are when the sync starts, which is what a real fdatasync would
 * make durable, so reopening a copy with the store shows what a power cut
 * right after that sync would leave.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/store.h"
#include "common/zerr.h"

#define THREADS 8
#define PER_THREAD 10

struct fx {
	char dir[64];
	struct store *s;
	pthread_mutex_t mu;
	unsigned calls;     /* syncs started */
	unsigned completed; /* snapshots complete: snap-1 .. snap-completed */
	int snapshot;       /* copy the files on each sync */
	int fail;           /* the next sync fails */
	long delay_us;
	/* what each commit's caller saw when it returned */
	unsigned seen[THREADS][PER_THREAD];
};

static struct fx F;

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -errno;
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -errno;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	if (n < 0)
		rc = -errno;
	close(in);
	close(out);
	return rc;
}

static int hook(void *ud, int fd)
{
	struct fx *f = ud;
	pthread_mutex_lock(&f->mu);
	unsigned k = ++f->calls;
	int fail = f->fail;
	f->fail = 0;
	pthread_mutex_unlock(&f->mu);
	if (fail)
		return -EIO;
	if (f->snapshot) {
		char d[128], from[160], to[160];
		snprintf(d, sizeof d, "%s/snap-%u", f->dir, k);
		if (mkdir(d, 0700) < 0)
			return -errno;
		const char *names[] = {"agent.db", "agent.db-wal"};
		for (int i = 0; i < 2; i++) {
			snprintf(from, sizeof from, "%s/%s", f->dir, names[i]);
			snprintf(to, sizeof to, "%s/%s", d, names[i]);
			if (copy_file(from, to) < 0)
				return -EIO;
		}
	}
	if (f->delay_us)
		usleep((useconds_t)f->delay_us);
	int rc = fdatasync(fd) < 0 ? -errno : 0;
	pthread_mutex_lock(&f->mu);
	/* Syncs run one at a time, so they complete in the order they started. */
	if (rc == 0)
		f->completed = k;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int setup(void **st)
{
	memset(&F, 0, sizeof F);
	pthread_mutex_init(&F.mu, NULL);
	snprintf(F.dir, sizeof F.dir, "/tmp/test_store_sync.XXXXXX");
	if (!mkdtemp(F.dir) || store_open(F.dir, 0, &F.s) < 0)
		return -1;
	store_set_sync_fn(F.s, hook, &F);
	*st = &F;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	store_close(F.s);
	char cmd[128];
	/* Only our own mkdtemp directory, removed with argv, not a shell. */
	snprintf(cmd, sizeof cmd, "%s", F.dir);
	const char *argv[] = {"/bin/rm", "-rf", cmd, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	pthread_mutex_destroy(&F.mu);
	return 0;
}

static void *committer(void *arg)
{
	int t = (int)(intptr_t)arg;
	for (int j = 0; j < PER_THREAD; j++) {
		char name[32];
		snprintf(name, sizeof name, "t%d.%d", t, j);
		if (store_cursor_set(F.s, name, t * 1000 + j) < 0)
			return (void *)1;
		pthread_mutex_lock(&F.mu);
		F.seen[t][j] = F.completed;
		pthread_mutex_unlock(&F.mu);
	}
	return NULL;
}

static void run_threads(void)
{
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, committer, (void *)(intptr_t)t), 0);
	for (int t = 0; t < THREADS; t++) {
		void *r;
		assert_int_equal(pthread_join(th[t], &r), 0);
		assert_null(r);
	}
}

/* 80 durable commits from 8 threads while each sync takes 20 ms: they
 * share syncs instead of taking one each. */
static void shared_syncs(void **st)
{
	(void)st;
	F.delay_us = 20000;
	run_threads();
	unsigned calls = F.calls;
	print_message("%u syncs for %d commits\n", calls, THREADS * PER_THREAD);
	assert_true(calls >= 1);
	assert_true(calls <= THREADS * PER_THREAD / 2);
	assert_int_equal(store_sync_count(F.s), calls);
	/* And every commit returned after a sync had completed. */
	for (int t = 0; t < THREADS; t++)
		for (int j = 0; j < PER_THREAD; j++)
			assert_true(F.seen[t][j] >= 1);
}

/* Each commit's caller returns only once its row is in the copy that the
 * last completed sync started from: a power cut then keeps it. */
static void durable_on_return(void **st)
{
	(void)st;
	F.snapshot = 1;
	F.delay_us = 5000;
	run_threads();
	assert_true(F.calls < THREADS * PER_THREAD);
	for (unsigned k = 1; k <= F.completed; k++) {
		char d[128];
		struct store *s;
		snprintf(d, sizeof d, "%s/snap-%u", F.dir, k);
		/* Reopened as after a crash: WAL recovery, then the store's reads. */
		assert_int_equal(store_open(d, STORE_OPEN_FAST, &s), 0);
		for (int t = 0; t < THREADS; t++)
			for (int j = 0; j < PER_THREAD; j++) {
				if (F.seen[t][j] != k)
					continue;
				char name[32];
				int64_t v = -1;
				snprintf(name, sizeof name, "t%d.%d", t, j);
				assert_int_equal(store_cursor_get(s, name, &v), 0);
				assert_int_equal(v, t * 1000 + j);
			}
		store_close(s);
	}
}

/* A lazy transaction does not wait for a sync; the next durable one does. */
static void lazy_no_sync(void **st)
{
	(void)st;
	assert_int_equal(store_begin_lazy(F.s), 0);
	assert_int_equal(store_cursor_set(F.s, "lazy", 1), 0);
	assert_int_equal(store_commit(F.s), 0);
	assert_int_equal(F.calls, 0);
	assert_int_equal(store_begin(F.s), 0);
	assert_int_equal(store_cursor_set(F.s, "a", 1), 0);
	assert_int_equal(store_cursor_set(F.s, "b", 2), 0);
	assert_int_equal(store_commit(F.s), 0);
	assert_int_equal(F.calls, 1);
	/* Reads never sync. */
	int64_t v;
	assert_int_equal(store_cursor_get(F.s, "lazy", &v), 0);
	assert_int_equal(F.calls, 1);
}

/* store_commit_async: committed (visible) at once, durable after the wait;
 * two of them waited for together share one sync. */
static void async_commit(void **st)
{
	(void)st;
	uint64_t t1 = 0, t2 = 0;
	assert_int_equal(store_begin(F.s), 0);
	assert_int_equal(store_cursor_set(F.s, "a", 1), 0);
	assert_int_equal(store_commit_async(F.s, &t1), 0);
	assert_int_equal(store_begin(F.s), 0);
	assert_int_equal(store_cursor_set(F.s, "b", 2), 0);
	assert_int_equal(store_commit_async(F.s, &t2), 0);
	assert_true(t1 != 0 && t2 > t1);
	assert_int_equal(F.calls, 0);
	int64_t v = 0;
	assert_int_equal(store_cursor_get(F.s, "b", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(store_wait_durable(F.s, t2), 0);
	assert_int_equal(F.calls, 1);
	assert_int_equal(store_wait_durable(F.s, t1), 0);
	assert_int_equal(F.calls, 1);
	assert_int_equal(store_wait_durable(F.s, 0), 0);
}

/* A sync that fails is the caller's error; the next commit syncs again. */
static void failed_sync(void **st)
{
	(void)st;
	F.fail = 1;
	assert_int_equal(store_cursor_set(F.s, "x", 1), -EIO);
	assert_int_equal(store_cursor_set(F.s, "y", 2), 0);
	assert_int_equal(F.calls, 2);
	assert_int_equal(store_sync_count(F.s), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(shared_syncs, setup, teardown),
	    cmocka_unit_test_setup_teardown(durable_on_return, setup, teardown),
	    cmocka_unit_test_setup_teardown(lazy_no_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(async_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(failed_sync, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
