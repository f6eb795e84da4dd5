/* Loop devices through /dev/loop-control and ioctls (no losetup). */
#include "provisioners/prov_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Another process may grab the device LOOP_CTL_GET_FREE returned before we
 * bind it; a few retries absorb such races. */
#define LOOP_ATTACH_TRIES 8

static int configure(int lfd, int ffd)
{
	struct loop_config lc;
	memset(&lc, 0, sizeof lc);
	lc.fd = (uint32_t)ffd;
	lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(lfd, LOOP_CONFIGURE, &lc) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTTY)
		return -errno;
	/* Kernels before 5.8 lack LOOP_CONFIGURE: bind, then set autoclear. */
	if (ioctl(lfd, LOOP_SET_FD, ffd) < 0)
		return -errno;
	struct loop_info64 li;
	memset(&li, 0, sizeof li);
	li.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(lfd, LOOP_SET_STATUS64, &li) < 0) {
		int e = -errno;
		ioctl(lfd, LOOP_CLR_FD, 0);
		return e;
	}
	return 0;
}

int prov_loop_attach(const char *file, char *dev, size_t devsz, int *fd)
{
	int ffd = open(file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (ffd < 0)
		return -errno;
	int cfd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (cfd < 0) {
		int e = errno == ENOENT ? ZE_UNSUPPORTED : -errno;
		close(ffd);
		return e;
	}
	int rc = -EBUSY;
	for (int i = 0; i < LOOP_ATTACH_TRIES; i++) {
		int n = ioctl(cfd, LOOP_CTL_GET_FREE);
		if (n < 0) {
			/* ENOSPC/ENODEV: the pool is exhausted (max_loop reached). */
			rc = -errno;
			break;
		}
		if (prov_fmt(dev, devsz, "/dev/loop%d", n) < 0) {
			rc = -ENAMETOOLONG;
			break;
		}
		int lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			rc = -errno;
			if (errno == ENOENT)
				continue;
			break;
		}
		rc = configure(lfd, ffd);
		if (rc == 0) {
			*fd = lfd;
			break;
		}
		close(lfd);
		if (rc != -EBUSY)
			break;
	}
	close(cfd);
	close(ffd);
	return rc;
}

/* Calls fn for every loop device whose backing file is file. */
static int each_backed_by(const char *file, int (*fn)(const char *dev, void *arg), void *arg)
{
	struct stat want;
	if (stat(file, &want) < 0)
		return -errno;
	DIR *d = opendir("/sys/block");
	if (!d)
		return -errno;
	struct dirent *e;
	int found = 0, rc = 0;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "loop", 4) != 0)
			continue;
		char dev[64];
		if (prov_fmt(dev, sizeof dev, "/dev/%s", e->d_name) < 0)
			continue;
		int lfd = open(dev, O_RDONLY | O_CLOEXEC);
		if (lfd < 0)
			continue;
		/* Compare inode numbers, not names: the kernel's backing_file
		 * string is truncated for long paths. */
		struct loop_info64 li;
		int ok = ioctl(lfd, LOOP_GET_STATUS64, &li) == 0 && li.lo_device == want.st_dev &&
		         li.lo_inode == want.st_ino;
		close(lfd);
		if (!ok)
			continue;
		found = 1;
		rc = fn(dev, arg);
		if (rc != 0)
			break;
	}
	closedir(d);
	if (rc < 0)
		return rc;
	return found ? 0 : -ENOENT;
}

struct find_arg {
	char *dev;
	size_t devsz;
};

static int find_cb(const char *dev, void *arg)
{
	struct find_arg *a = arg;
	int rc = prov_fmt(a->dev, a->devsz, "%s", dev);
	return rc < 0 ? rc : 1;
}

int prov_loop_find(const char *file, char *dev, size_t devsz)
{
	struct find_arg a = {dev, devsz};
	return each_backed_by(file, find_cb, &a);
}

static int clear_cb(const char *dev, void *arg)
{
	int lfd = open(dev, O_RDONLY | O_CLOEXEC);
	if (lfd < 0)
		return 0;
	/* EBUSY when still mounted: autoclear releases it at the last unmount. */
	if (ioctl(lfd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO && errno != EBUSY) {
		int e = -errno;
		close(lfd);
		return e;
	}
	close(lfd);
	return 0;
}

int prov_loop_detach_file(const char *file)
{
	int rc = each_backed_by(file, clear_cb, NULL);
	return rc == -ENOENT ? 0 : rc;
}
