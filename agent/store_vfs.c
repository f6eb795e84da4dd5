/*
 * The VFS the store opens its database with: SQLite's default VFS, except
 * that the WAL's appends are gathered and reach the file as one write per
 * commit.
 *
 * Why: SQLite writes each WAL frame as two writes (its 24-byte header, then
 * the page), so the three commits of a deploy cost about 39 pwrite calls.
 * Where a system call costs microseconds (a virtual machine) fourteen such
 * writes took 23-27 us of CPU and one write of the same bytes 3 us; with
 * two smaller changes this saved a tenth of the agent's CPU per deploy
 * (docs/performance.md, "Deploy engine").
 *
 * How: writes that append to the WAL are copied into a buffer while each
 * continues the one before. The buffer goes to the file, through the
 * default VFS (which retries short writes and maps ENOSPC to SQLITE_FULL):
 *  - when a commit is complete: the header SQLite writes for the last frame
 *    of a commit holds the database's size after it (bytes 4-7, non-zero),
 *    and the page that follows it ends the commit. That page's xWrite
 *    returns only after the buffer is written, so a commit is in the OS
 *    cache before SQLite's COMMIT returns, as without the buffer (it
 *    survives kill -9, and the group commit's fdatasync of the WAL covers
 *    it), and a failed write fails the commit;
 *  - before any other operation on the WAL (read, sync, size, truncate,
 *    file control, close): SQLite never finds the file other than it wrote
 *    it;
 *  - before a write that does not continue the buffer, and when the buffer
 *    is full.
 * Only appends are held: a write below the highest offset written since
 * the WAL started (SQLite rewriting frames in place after a transaction
 * spilled pages early, including a commit frame's header) goes straight
 * to the file, so no commit's last write can stay in the buffer. A write
 * at offset 0 (the WAL header of a new log) starts the count again.
 * A buffer that could not be written is dropped with the error: SQLite
 * then fails the transaction, whose frames are not part of the log.
 *
 * Every other file (the database itself, a rollback journal on a file
 * system without WAL) is the default VFS's, unchanged.
 */
#include "agent/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "common/zerr.h"

#define FRAME_HDR 24 /* a WAL frame's header */
/* Held appends of one WAL: 15 frames of 4 KiB pages, twice a deploy's
 * largest commit. Below 128 KiB: the default VFS keeps only the low 17 bits of
 * a write's size for each pwrite, so it fails a write of 128 KiB or more as
 * if the disk were full. */
#define BUF_MAX (64 * 1024)
#define ROUND8(n) (((n) + 7) & ~(size_t)7)

struct wal_file {
	sqlite3_file base;     /* pMethods = &wal_methods */
	sqlite3_file *real;    /* the default VFS's file, after this struct */
	unsigned char *buf;    /* BUF_MAX bytes (sqlite3_malloc), NULL until the first append */
	sqlite3_int64 buf_off; /* the file offset of buf[0] */
	size_t buf_len;
	sqlite3_int64 high; /* end of the highest write since the log started */
	int commit;         /* the buffer ends with a commit frame's header */
	struct store_wal_stats st;
};

static sqlite3_vfs *def; /* the default VFS, which does the work */

static const sqlite3_io_methods wal_methods;

/* One write to the file, through the default VFS. */
static int through(struct wal_file *w, const void *p, int n, sqlite3_int64 off)
{
	w->st.file_writes++;
	return w->real->pMethods->xWrite(w->real, p, n, off);
}

/* Writes the held appends; the buffer is empty afterwards either way. */
static int flush(struct wal_file *w)
{
	if (!w->buf_len)
		return SQLITE_OK;
	int n = (int)w->buf_len;
	w->buf_len = 0;
	return through(w, w->buf, n, w->buf_off);
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int wal_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct wal_file *w = (struct wal_file *)f;
	int ends = w->commit; /* this write is the page of a commit frame */
	int rc;
	w->commit = 0;
	w->st.writes++;
	if (n <= 0)
		return through(w, p, n, off);
	if (off == 0)
		w->high = 0; /* a new log's header: everything after it is new */
	if (off < w->high) {
		/* A rewrite in place: it must not wait in the buffer. */
		w->st.in_place++;
		if ((rc = flush(w)) != SQLITE_OK)
			return rc;
		return through(w, p, n, off);
	}
	if (w->buf_len && off != w->buf_off + (sqlite3_int64)w->buf_len &&
	    (rc = flush(w)) != SQLITE_OK)
		return rc;
	if ((size_t)n > BUF_MAX - w->buf_len && (rc = flush(w)) != SQLITE_OK)
		return rc;
	w->high = off + n;
	if ((size_t)n > BUF_MAX || (!w->buf && !(w->buf = sqlite3_malloc(BUF_MAX))))
		return through(w, p, n, off); /* too large to hold, or no memory */
	if (!w->buf_len)
		w->buf_off = off;
	memcpy(w->buf + w->buf_len, p, (size_t)n);
	w->buf_len += (size_t)n;
	if (ends)
		return flush(w);
	if (n == FRAME_HDR && be32((const unsigned char *)p + 4) != 0)
		w->commit = 1;
	return SQLITE_OK;
}

static int wal_close(sqlite3_file *f)
{
	struct wal_file *w = (struct wal_file *)f;
	int rc = flush(w);
	int crc = w->real->pMethods->xClose(w->real);
	sqlite3_free(w->buf);
	w->buf = NULL;
	return rc != SQLITE_OK ? rc : crc;
}

/* The other methods write what is held, then do what the default VFS does. */
#define REAL(f) (((struct wal_file *)(f))->real)
#define FLUSH_OR_RETURN(f)                                                                         \
	do {                                                                                       \
		int frc_ = flush((struct wal_file *)(f));                                          \
		if (frc_ != SQLITE_OK)                                                             \
			return frc_;                                                               \
	} while (0)

static int wal_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	FLUSH_OR_RETURN(f);
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	FLUSH_OR_RETURN(f);
	struct wal_file *w = (struct wal_file *)f;
	if (w->high > size)
		w->high = size;
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
	FLUSH_OR_RETURN(f);
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int wal_size(sqlite3_file *f, sqlite3_int64 *size)
{
	FLUSH_OR_RETURN(f);
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int wal_lock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int wal_unlock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int wal_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int wal_control(sqlite3_file *f, int op, void *arg)
{
	FLUSH_OR_RETURN(f);
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int wal_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int wal_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* Version 1: SQLite maps and shares memory through the database file only,
 * never through its WAL, so the WAL needs no shm or fetch methods. */
static const sqlite3_io_methods wal_methods = {
    .iVersion = 1,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_size,
    .xLock = wal_lock,
    .xUnlock = wal_unlock,
    .xCheckReservedLock = wal_reserved,
    .xFileControl = wal_control,
    .xSectorSize = wal_sector,
    .xDeviceCharacteristics = wal_device,
};

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	(void)vfs;
	if (!(flags & SQLITE_OPEN_WAL))
		return def->xOpen(def, name, f, flags, out);
	struct wal_file *w = (struct wal_file *)f;
	memset(w, 0, sizeof *w);
	w->real = (sqlite3_file *)((char *)f + ROUND8(sizeof *w));
	int rc = def->xOpen(def, name, w->real, flags, out);
	if (rc != SQLITE_OK) {
		/* SQLite closes a file whose pMethods is set even when its open
		 * failed: the wrapper stays unset, the default's is closed here. */
		if (w->real->pMethods)
			w->real->pMethods->xClose(w->real);
		w->base.pMethods = NULL;
		return rc;
	}
	w->base.pMethods = &wal_methods;
	return SQLITE_OK;
}

/* The rest is the default VFS's, called with its own object (its methods
 * find their state through it). */
static int vfs_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return def->xDelete(def, name, sync);
}

static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return def->xAccess(def, name, flags, out);
}

static int vfs_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return def->xFullPathname(def, name, n, out);
}

static void *vfs_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return def->xDlOpen(def, name);
}

static void vfs_dlerror(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	def->xDlError(def, n, msg);
}

static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return def->xDlSym(def, h, sym);
}

static void vfs_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	def->xDlClose(def, h);
}

static int vfs_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return def->xRandomness(def, n, out);
}

static int vfs_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return def->xSleep(def, us);
}

static int vfs_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return def->xCurrentTime(def, out);
}

static int vfs_lasterr(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return def->xGetLastError ? def->xGetLastError(def, n, out) : 0;
}

static int vfs_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	if (def->iVersion >= 2 && def->xCurrentTimeInt64)
		return def->xCurrentTimeInt64(def, out);
	double d;
	int rc = def->xCurrentTime(def, &d);
	*out = (sqlite3_int64)(d * 86400000.0);
	return rc;
}

static sqlite3_vfs vfs = {
    .iVersion = 2,
    .zName = STORE_VFS_NAME,
    .xOpen = vfs_open,
    .xDelete = vfs_delete,
    .xAccess = vfs_access,
    .xFullPathname = vfs_full,
    .xDlOpen = vfs_dlopen,
    .xDlError = vfs_dlerror,
    .xDlSym = vfs_dlsym,
    .xDlClose = vfs_dlclose,
    .xRandomness = vfs_random,
    .xSleep = vfs_sleep,
    .xCurrentTime = vfs_time,
    .xGetLastError = vfs_lasterr,
    .xCurrentTimeInt64 = vfs_time64,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered = -EIO;

static void do_register(void)
{
	if (sqlite3_initialize() != SQLITE_OK || !(def = sqlite3_vfs_find(NULL)))
		return;
	vfs.szOsFile = (int)(ROUND8(sizeof(struct wal_file)) + (size_t)def->szOsFile);
	vfs.mxPathname = def->mxPathname;
	if (sqlite3_vfs_register(&vfs, 0) == SQLITE_OK)
		registered = 0;
}

int store_vfs_register(void)
{
	pthread_once(&once, do_register);
	return registered;
}

int store_wal_stats(struct store *s, struct store_wal_stats *out)
{
	sqlite3_file *f = NULL;
	store_lock(s);
	int rc = sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f);
	if (rc == SQLITE_OK && f && f->pMethods == &wal_methods) {
		*out = ((struct wal_file *)f)->st;
		rc = 0;
	} else {
		rc = ZE_ABSENT;
	}
	store_unlock(s);
	return rc;
}
