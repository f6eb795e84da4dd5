/*
 * The store's group commit: durable commits share fdatasync calls.
 *
 * SQLite runs in WAL mode with synchronous=NORMAL, so a commit is written to
 * the WAL (the OS cache) but not synced. A durable commit takes a sequence
 * number while it still holds the store's lock, releases the lock, and
 * waits in store_sync_to() until a sync that started after its number was
 * taken has finished. The first waiter with no sync running becomes the
 * leader: it notes the newest number, syncs the WAL once (outside every
 * lock, so other threads keep committing meanwhile) and wakes everyone
 * whose number it covers; those that committed during its sync form the
 * next group. No timer window is needed: batches form while a sync runs.
 *
 * The WAL is synced through our own descriptor: fdatasync flushes the
 * file's dirty pages whichever descriptor wrote them. SQLite keeps the same
 * WAL file while the connection is open (it resets it in place after a
 * checkpoint, syncing the database first with synchronous=NORMAL); if the
 * file was replaced anyway, the descriptor is reopened before syncing.
 */
#include "agent/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/zerr.h"

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int store_sync_open(struct store *s, const char *dir)
{
	size_t n = strlen(dir) + sizeof "/agent.db-wal";
	if (!(s->wal_path = malloc(n)))
		return -ENOMEM;
	snprintf(s->wal_path, n, "%s/agent.db-wal", dir);
	/* SQLite created the WAL when it first read the database in WAL mode. */
	s->wal_fd = open(s->wal_path, O_RDWR | O_CLOEXEC);
	if (s->wal_fd < 0) {
		int rc = -errno;
		log_err("store", "open %s: %s", s->wal_path, strerror(errno));
		return rc;
	}
	/* The WAL's and the database's directory entries, once: SQLite syncs a
	 * new file's directory only on that file's first sync, which with
	 * synchronous=NORMAL may come late. Then the migrations' commits. */
	int rc = sync_dir(dir);
	if (rc == 0 && fdatasync(s->wal_fd) < 0)
		rc = -errno;
	if (rc < 0)
		log_err("store", "sync %s: %s", dir, zerr_str(rc));
	return rc;
}

void store_sync_close(struct store *s)
{
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	s->wal_fd = -1;
	free(s->wal_path);
	s->wal_path = NULL;
}

void store_set_sync_fn(struct store *s, store_sync_fn fn, void *ud)
{
	pthread_mutex_lock(&s->sync_mu);
	s->sync_fn = fn;
	s->sync_ud = ud;
	pthread_mutex_unlock(&s->sync_mu);
}

uint64_t store_write_count(struct store *s)
{
	return __atomic_load_n(&s->writes, __ATOMIC_RELAXED);
}

uint64_t store_sync_count(struct store *s)
{
	pthread_mutex_lock(&s->sync_mu);
	uint64_t n = s->syncs;
	pthread_mutex_unlock(&s->sync_mu);
	return n;
}

/* One sync of the WAL; called by the leader only, without locks. */
static int sync_wal(struct store *s, store_sync_fn fn, void *ud)
{
	struct stat st;
	/* A WAL that was unlinked (every connection closed it once) is not the
	 * one SQLite writes now. */
	if (fstat(s->wal_fd, &st) == 0 && st.st_nlink == 0) {
		int fd = open(s->wal_path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			close(s->wal_fd);
			s->wal_fd = fd;
		}
	}
	if (fn)
		return fn(ud, s->wal_fd);
	return fdatasync(s->wal_fd) < 0 ? -errno : 0;
}

int store_sync_to(struct store *s, uint64_t seq)
{
	int rc = 0, led = 0;
	pthread_mutex_lock(&s->sync_mu);
	while (s->synced_seq < seq) {
		if (s->syncing) {
			pthread_cond_wait(&s->sync_cv, &s->sync_mu);
			continue;
		}
		/* Leader: every commit numbered up to target is in the WAL's
		 * pages already (numbers are taken after SQLite's COMMIT). */
		uint64_t target = __atomic_load_n(&s->commit_seq, __ATOMIC_ACQUIRE);
		store_sync_fn fn = s->sync_fn;
		void *ud = s->sync_ud;
		s->syncing = 1;
		pthread_mutex_unlock(&s->sync_mu);
		rc = sync_wal(s, fn, ud);
		pthread_mutex_lock(&s->sync_mu);
		s->syncing = 0;
		led = 1;
		if (rc == 0) {
			if (target > s->synced_seq)
				s->synced_seq = target;
			s->syncs++;
		}
		if (rc < 0) {
			/* The waiters retry with their own sync; this commit's
			 * caller learns that its promise may not hold. */
			log_err("store", "sync %s: %s", s->wal_path, zerr_str(rc));
			break;
		}
	}
	pthread_mutex_unlock(&s->sync_mu);
	/* The leader wakes the group after the unlock: woken under the lock,
	 * each waiter would only block again on it. The leader's own target
	 * covers its seq, so it never loops to lead again. */
	if (led)
		pthread_cond_broadcast(&s->sync_cv);
	return rc;
}

int store_unlock_durable(struct store *s, int rc, uint64_t *ticket)
{
	uint64_t seq = 0;
	if (rc == 0 && s->depth == 0)
		__atomic_add_fetch(&s->writes, 1, __ATOMIC_RELAXED);
	if (rc == 0 && s->depth == 0 && s->durable && !s->full)
		seq = __atomic_add_fetch(&s->commit_seq, 1, __ATOMIC_ACQ_REL);
	store_unlock(s);
	if (ticket) {
		*ticket = seq;
		return rc;
	}
	if (seq) {
		int src = store_sync_to(s, seq);
		if (src < 0)
			return src;
	}
	return rc;
}

int store_unlock_write(struct store *s, int rc)
{
	return store_unlock_durable(s, rc, NULL);
}

int store_wait_durable(struct store *s, uint64_t ticket)
{
	return ticket ? store_sync_to(s, ticket) : 0;
}
