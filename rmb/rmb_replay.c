/*
 * Replay cache: a ring of entries in insertion order (which is also expiry
 * order, since every entry lives the same window) indexed by a chained hash
 * table. Keys are a keyed blake2b of (src, uid), with a random key, so a
 * peer cannot aim many uids at one bucket.
 *
 * Persistence (rmb_replay_persist): an append-only file holding the hash
 * key and one 24-byte record per accepted or forgotten request (the 16-byte
 * entry key, then the wall-clock milliseconds it was accepted, 0 for
 * "forgotten"). Each add is written before it is acknowledged (write(2),
 * so it survives a crash of the process, not a power loss). When the
 * records appended reach the table's size the file is rewritten from the
 * live entries (temp file, fsync, rename, directory fsync), so it stays
 * below twice the table: 12 MiB with the default 262144 entries.
 */
#include "rmb/rmb_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/zerr.h"

#define NIL UINT32_MAX

struct replay_ent {
	uint8_t key[16];
	uint64_t t_ms;
	uint32_t next; /* next entry in the same bucket */
	uint32_t live; /* 0 once forgotten: still holds its ring slot */
};

struct rmb_replay {
	pthread_mutex_t mu;
	struct replay_ent *ring;
	uint32_t *buckets;
	size_t cap, head, count;
	size_t mask;
	uint64_t window_ms;
	uint8_t hkey[crypto_generichash_KEYBYTES];
	/* persistence */
	int fd;             /* -1 when memory only */
	char *path;
	int64_t wall_off;   /* wall ms - monotonic ms */
	size_t appended;    /* records since the last rewrite */
	int write_failed;   /* reported once */
};

#define FILE_MAGIC "zos-rmb-replay-1"
#define MAGIC_LEN 16
#define REC_LEN 24
#define HDR_LEN (MAGIC_LEN + crypto_generichash_KEYBYTES)

int rmb_replay_new(size_t entries, uint64_t window_ms, struct rmb_replay **out)
{
	if (!entries || entries >= NIL / 2)
		return -EINVAL;
	struct rmb_replay *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	size_t nb = 1;
	while (nb < entries)
		nb <<= 1;
	r->ring = calloc(entries, sizeof(*r->ring));
	r->buckets = malloc(nb * sizeof(*r->buckets));
	if (!r->ring || !r->buckets || pthread_mutex_init(&r->mu, NULL)) {
		free(r->ring);
		free(r->buckets);
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nb; i++)
		r->buckets[i] = NIL;
	r->cap = entries;
	r->mask = nb - 1;
	r->window_ms = window_ms;
	r->fd = -1;
	randombytes_buf(r->hkey, sizeof(r->hkey));
	*out = r;
	return 0;
}

void rmb_replay_free(struct rmb_replay *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r->ring);
	free(r->buckets);
	free(r);
}

static void replay_key(const struct rmb_replay *r, uint32_t src, const char *uid,
		       uint8_t key[16])
{
	crypto_generichash_state st;
	uint8_t b[4] = {(uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8),
			(uint8_t)src};
	crypto_generichash_init(&st, r->hkey, sizeof(r->hkey), 16);
	crypto_generichash_update(&st, b, sizeof(b));
	crypto_generichash_update(&st, (const uint8_t *)uid, strlen(uid));
	crypto_generichash_final(&st, key, 16);
}

static size_t bucket_of(const struct rmb_replay *r, const uint8_t key[16])
{
	uint64_t v;
	memcpy(&v, key, sizeof(v));
	return (size_t)v & r->mask;
}

/* Index of the live entry with key, or NIL; *prev gets its predecessor. */
static uint32_t find(const struct rmb_replay *r, const uint8_t key[16], uint32_t *prev)
{
	uint32_t p = NIL;
	for (uint32_t i = r->buckets[bucket_of(r, key)]; i != NIL; i = r->ring[i].next) {
		if (!memcmp(r->ring[i].key, key, 16)) {
			if (prev)
				*prev = p;
			return i;
		}
		p = i;
	}
	return NIL;
}

static void unlink_ent(struct rmb_replay *r, uint32_t idx)
{
	struct replay_ent *e = &r->ring[idx];
	uint32_t prev = NIL;
	if (!e->live || find(r, e->key, &prev) != idx)
		return;
	if (prev == NIL)
		r->buckets[bucket_of(r, e->key)] = e->next;
	else
		r->ring[prev].next = e->next;
	e->live = 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void write_failed(struct rmb_replay *r, int rc)
{
	if (!r->write_failed)
		log_err("rmb", "replay cache %s: %s; replays are refused until restart only",
			r->path, zerr_str(rc));
	r->write_failed = 1;
}

static int rewrite(struct rmb_replay *r);

/* Appends one record (wall_ms 0: forgotten). Under the lock. */
static void persist(struct rmb_replay *r, const uint8_t key[16], uint64_t wall_ms)
{
	uint8_t rec[REC_LEN];
	if (r->fd < 0)
		return;
	memcpy(rec, key, 16);
	put_be64(rec + 16, wall_ms);
	int rc = write_all(r->fd, rec, sizeof rec);
	if (rc) {
		write_failed(r, rc);
		return;
	}
	if (++r->appended >= r->cap && (rc = rewrite(r)) < 0)
		write_failed(r, rc);
}

static void expire(struct rmb_replay *r, uint64_t now_ms)
{
	while (r->count) {
		struct replay_ent *e = &r->ring[r->head];
		if (e->t_ms + r->window_ms > now_ms)
			break;
		unlink_ent(r, (uint32_t)r->head);
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
}

int rmb_replay_add(struct rmb_replay *r, uint32_t src, const char *uid, uint64_t now_ms)
{
	uint8_t key[16];
	int rc = 0;
	replay_key(r, src, uid, key);
	pthread_mutex_lock(&r->mu);
	expire(r, now_ms);
	if (find(r, key, NULL) != NIL) {
		rc = -EEXIST;
	} else if (r->count == r->cap) {
		rc = ZE_CAPACITY;
	} else {
		uint32_t idx = (uint32_t)((r->head + r->count) % r->cap);
		struct replay_ent *e = &r->ring[idx];
		size_t b = bucket_of(r, key);
		memcpy(e->key, key, 16);
		e->t_ms = now_ms;
		e->live = 1;
		e->next = r->buckets[b];
		r->buckets[b] = idx;
		r->count++;
		persist(r, key, (uint64_t)((int64_t)now_ms + r->wall_off));
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void rmb_replay_forget(struct rmb_replay *r, uint32_t src, const char *uid)
{
	uint8_t key[16];
	replay_key(r, src, uid, key);
	pthread_mutex_lock(&r->mu);
	uint32_t idx = find(r, key, NULL);
	if (idx != NIL) {
		unlink_ent(r, idx);
		persist(r, key, 0);
	}
	pthread_mutex_unlock(&r->mu);
}

size_t rmb_replay_count(struct rmb_replay *r)
{
	pthread_mutex_lock(&r->mu);
	size_t n = r->count;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* ---- persistence ---- */

/* Writes the header and every live entry to path.tmp, then renames it
 * over path and reopens it for appending. Under the lock (or before the
 * cache is shared). */
static int rewrite(struct rmb_replay *r)
{
	size_t plen = strlen(r->path) + 5;
	char *tmp = malloc(plen);
	uint8_t *buf = NULL;
	int rc = 0, fd = -1;
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, plen, "%s.tmp", r->path);
	size_t n = HDR_LEN + r->count * REC_LEN, len = 0;
	buf = malloc(n);
	if (!buf) {
		free(tmp);
		return -ENOMEM;
	}
	memcpy(buf, FILE_MAGIC, MAGIC_LEN);
	memcpy(buf + MAGIC_LEN, r->hkey, sizeof(r->hkey));
	len = HDR_LEN;
	for (size_t i = 0; i < r->count; i++) {
		const struct replay_ent *e = &r->ring[(r->head + i) % r->cap];
		if (!e->live)
			continue;
		memcpy(buf + len, e->key, 16);
		put_be64(buf + len + 16, (uint64_t)((int64_t)e->t_ms + r->wall_off));
		len += REC_LEN;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = -errno;
	if (!rc)
		rc = write_all(fd, buf, len);
	if (!rc && fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (!rc && rename(tmp, r->path) != 0)
		rc = -errno;
	if (!rc) {
		/* The rename itself must survive a crash: sync the directory. */
		char *dir = strdup(r->path), *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash) {
			*(slash == dir ? slash + 1 : slash) = 0;
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) {
				fsync(dfd);
				close(dfd);
			}
		}
		free(dir);
		fd = open(r->path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
		} else {
			if (r->fd >= 0)
				close(r->fd);
			r->fd = fd;
			r->appended = 0;
		}
	} else {
		unlink(tmp);
	}
	free(buf);
	free(tmp);
	return rc;
}

/* Loads the records of an existing file into the (empty) cache: entries
 * accepted less than a window ago, minus those forgotten since. */
static void load(struct rmb_replay *r, const uint8_t *buf, size_t len, uint64_t now_ms,
		 uint64_t wall_ms)
{
	memcpy(r->hkey, buf + MAGIC_LEN, sizeof(r->hkey));
	for (size_t off = HDR_LEN; off + REC_LEN <= len; off += REC_LEN) {
		const uint8_t *key = buf + off;
		uint64_t w = get_be64(buf + off + 16);
		uint32_t idx = find(r, key, NULL);
		if (!w) {
			if (idx != NIL)
				unlink_ent(r, idx);
			continue;
		}
		uint64_t age = wall_ms > w ? wall_ms - w : 0;
		if (age >= r->window_ms || idx != NIL)
			continue;
		/* Accepted `age` ago; before this boot counts as at 0, which
		 * only keeps it longer. */
		uint64_t t = now_ms > age ? now_ms - age : 0;
		expire(r, t);
		if (r->count == r->cap)
			continue;
		idx = (uint32_t)((r->head + r->count) % r->cap);
		struct replay_ent *e = &r->ring[idx];
		size_t b = bucket_of(r, key);
		memcpy(e->key, key, 16);
		e->t_ms = t;
		e->live = 1;
		e->next = r->buckets[b];
		r->buckets[b] = idx;
		r->count++;
	}
}

int rmb_replay_persist(struct rmb_replay *r, const char *path, uint64_t now_ms, uint64_t wall_ms)
{
	if (r->path || !path || !*path)
		return -EINVAL;
	r->path = strdup(path);
	if (!r->path)
		return -ENOMEM;
	r->wall_off = (int64_t)wall_ms - (int64_t)now_ms;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* At most a header and twice the table (the rewrite bound), and
		 * a little slack for records appended during the last rewrite. */
		size_t max = HDR_LEN + (2 * r->cap + 16) * REC_LEN, len = 0;
		uint8_t *buf = malloc(max);
		ssize_t got = 0;
		while (buf && len < max && (got = read(fd, buf + len, max - len)) > 0)
			len += (size_t)got;
		close(fd);
		if (buf && len >= HDR_LEN && !memcmp(buf, FILE_MAGIC, MAGIC_LEN))
			load(r, buf, len, now_ms, wall_ms);
		else if (len)
			log_warn("rmb", "replay cache %s is not one: starting empty", path);
		free(buf);
	} else if (errno != ENOENT) {
		int rc = -errno;
		free(r->path);
		r->path = NULL;
		return rc;
	}
	int rc = rewrite(r);
	if (rc < 0) {
		free(r->path);
		r->path = NULL;
	}
	return rc;
}
