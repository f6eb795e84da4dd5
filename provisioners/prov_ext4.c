/*
 * ext4 images on loop devices, shared by the container's writable layer
 * (prov_ct_rootfs.c), volumes (prov_volume.c) and zmounts a container
 * mounts (prov_container.c): whether an image holds a filesystem already,
 * making one, and mounting it.
 */
#include "provisioners/prov_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#define MKFS_TIMEOUT_MS 120000
/* The superblock's magic 0xEF53 (little endian) at 1024 + 0x38. */
#define EXT4_MAGIC_OFF 0x438

int prov_ext4_has(const char *img)
{
	int fd = open(img, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	unsigned char m[2];
	ssize_t n = pread(fd, m, 2, EXT4_MAGIC_OFF);
	close(fd);
	return n == 2 && m[0] == 0x53 && m[1] == 0xef;
}

int prov_ext4_format(const char *img, char *err, size_t errsz)
{
	char prog[PROV_PATH_MAX];
	if (prov_which("mkfs.ext4", prog, sizeof prog) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED, "mkfs.ext4 not installed (e2fsprogs)");
	/* -m 0: the owner gets the whole size; lazy init keeps big images fast. */
	const char *argv[] = {
	    prog, "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
	    img,  NULL};
	char out[256];
	int rc = prov_run(argv, out, sizeof out, MKFS_TIMEOUT_MS);
	return rc < 0 ? prov_err(err, errsz, rc, "mkfs.ext4 of %s failed: %s", img,
	                         out[0] ? out : zerr_str(rc))
	              : 0;
}

int prov_ext4_mount(const char *img, const char *mnt, char *err, size_t errsz)
{
	char dev[64];
	int lfd, rc = prov_loop_attach(img, dev, sizeof dev, &lfd);
	if (rc < 0)
		return prov_err(err, errsz, rc, "no loop device for %s: %s", img, zerr_str(rc));
	if (mount(dev, mnt, "ext4", MS_NOSUID | MS_NODEV, "") < 0)
		rc = prov_err(err, errsz, -errno, "cannot mount %s on %s: %s", img, mnt,
		              prov_strerror(errno));
	/* Closing our handle leaves the mount as the only user, so autoclear
	 * frees the device at unmount (or right now if the mount failed). */
	close(lfd);
	return rc;
}
