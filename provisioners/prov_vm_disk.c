/*
 * VM images that carry their own kernel: whole bootable disk images (raw or
 * qcow2, from the image store or a file in images_dir) and root filesystem
 * images whose /boot holds a kernel.
 *
 * A disk image is never given to qemu as it is: it is checked (its header
 * read here, then `qemu-img info` with the format forced, so qemu never
 * probes and never follows a backing file), then converted into the VM's
 * own sparse raw root disk, grown to the workload's size. The cached image
 * stays read-only and no guest can reach a host file through a qcow2
 * backing or data file.
 */
#include "provisioners/prov_vm.h"

#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INFO_MAX (64 * 1024)
#define INFO_TIMEOUT_MS 30000
#define CONVERT_TIMEOUT_MS (30 * 60 * 1000)
#define KERNEL_FILE_MAX (512ull << 20)

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcmp(s + n - k, suffix) == 0;
}

int prov_vm_disk_name(const char *name)
{
	return ends_with(name, ".raw") || ends_with(name, ".qcow2") || ends_with(name, ".img");
}

int prov_vm_disk_format(const char *name)
{
	if (ends_with(name, ".qcow2"))
		return IMG_DISK_QCOW2;
	if (ends_with(name, ".raw"))
		return IMG_DISK_RAW;
	return 0;
}

int prov_vm_image_disk(const struct img_image *img, char *path, size_t pathsz, int *format)
{
	if (img->disk) {
		*format = img->disk_format;
		return prov_fmt(path, pathsz, "%s", img->disk) < 0 ? -ENAMETOOLONG : 1;
	}
	if (img->n_layers != 1)
		return 0;
	/* A plain one-layer image whose only entry is a disk file. */
	DIR *d = opendir(img->layers[0]);
	if (!d)
		return -errno;
	struct dirent *e;
	char name[256] = "";
	int n = 0;
	while ((e = readdir(d)) && n < 2) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		snprintf(name, sizeof name, "%s", e->d_name);
	}
	int fd = dirfd(d);
	struct stat st;
	int found = n == 1 &&
	            (ends_with(name, ".raw") || ends_with(name, ".qcow2") ||
	             strcmp(name, "disk.img") == 0) &&
	            fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	closedir(d);
	if (!found)
		return 0;
	*format = prov_vm_disk_format(name);
	return prov_fmt(path, pathsz, "%s/%s", img->layers[0], name) < 0 ? -ENAMETOOLONG : 1;
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* What the first bytes say; refuses qcow2 files that name other files. */
static int check_header(const char *file, int *format, char *err, size_t errsz)
{
	unsigned char h[512];
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return prov_err(err, errsz, -errno, "cannot open the disk image %s: %s", file,
		                strerror(errno));
	ssize_t n = pread(fd, h, sizeof h, 0);
	close(fd);
	if (n < (ssize_t)sizeof h)
		return prov_err(err, errsz, -EINVAL,
		                "the disk image %s is shorter than one sector: not a bootable disk",
		                file);
	static const struct {
		const char *magic;
		size_t len;
		const char *name;
	} other[] = {{"KDMV", 4, "vmdk"},
	             {"conectix", 8, "vpc (vhd)"},
	             {"vhdxfile", 8, "vhdx"},
	             {"<<< ", 4, "vdi"}};
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		if (memcmp(h, other[i].magic, other[i].len) == 0)
			return prov_err(err, errsz, -EINVAL,
			                "the disk image is in %s format: only raw and qcow2 are "
			                "booted; convert it (qemu-img convert -O qcow2 IN OUT)",
			                other[i].name);
	int qcow = memcmp(h, "QFI\xfb", 4) == 0;
	if (*format == IMG_DISK_QCOW2 && !qcow)
		return prov_err(err, errsz, -EINVAL,
		                "the disk image is declared qcow2 but has no qcow2 header: declare "
		                "it raw (" IMG_MT_DISK_RAW " or a .raw name) or convert it");
	if (*format == IMG_DISK_RAW && qcow)
		return prov_err(err, errsz, -EINVAL,
		                "the disk image is declared raw but is a qcow2 image: declare it "
		                "qcow2 (" IMG_MT_DISK_QCOW2 " or a .qcow2 name)");
	*format = qcow ? IMG_DISK_QCOW2 : IMG_DISK_RAW;
	if (!qcow)
		return 0;
	/* Big-endian header: version at 4, backing file offset at 8, and in
	 * version 3 the incompatible feature bits at 72 (bit 1: corrupt, bit
	 * 2: the data lives in an external file). */
	uint32_t version = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (be64(h + 8) != 0)
		return prov_err(err, errsz, -EPERM,
		                "the qcow2 image names a backing file, which would be opened on "
		                "the node: flatten it first (qemu-img convert -O qcow2 IN OUT)");
	if (version >= 3 && (be64(h + 72) & 6))
		return prov_err(err, errsz, -EPERM,
		                "the qcow2 image is marked corrupt or keeps its data in an "
		                "external file: rewrite it (qemu-img convert -O qcow2 IN OUT)");
	return 0;
}

static int qemu_img(char *out, size_t outsz)
{
	return prov_which("qemu-img", out, outsz);
}

int prov_vm_disk_inspect(const char *file, int *format, uint64_t *vsize, char *err, size_t errsz)
{
	int rc = check_header(file, format, err, errsz);
	if (rc < 0)
		return rc;
	char prog[PROV_PATH_MAX];
	if (qemu_img(prog, sizeof prog) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "disk images need qemu-img (apt-get install qemu-utils)");
	const char *fmt = *format == IMG_DISK_QCOW2 ? "qcow2" : "raw";
	/* The format is forced (no probing) and the output bounded. */
	const char *argv[] = {prog, "info", "--output=json", "-f", fmt, file, NULL};
	char *out = malloc(INFO_MAX);
	if (!out)
		return prov_err(err, errsz, -ENOMEM, "out of memory");
	rc = prov_run(argv, out, INFO_MAX, INFO_TIMEOUT_MS);
	cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
	if (!j) {
		rc = prov_err(err, errsz, rc < 0 ? rc : -EINVAL,
		              "qemu-img cannot read the %s image: %.200s", fmt, out);
		free(out);
		return rc;
	}
	free(out);
	const cJSON *vs = cJSON_GetObjectItemCaseSensitive(j, "virtual-size");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "format");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "format-specific"), "data");
	if (!cJSON_IsNumber(vs) || vs->valuedouble < 512 ||
	    vs->valuedouble > (double)PROV_DISK_MAX || !cJSON_IsString(f) ||
	    strcmp(f->valuestring, fmt) != 0)
		rc = prov_err(err, errsz, -EINVAL,
		              "qemu-img reports no usable size or format for the %s image", fmt);
	else if (cJSON_GetObjectItemCaseSensitive(j, "backing-filename") ||
	         cJSON_GetObjectItemCaseSensitive(data, "data-file"))
		rc = prov_err(err, errsz, -EPERM,
		              "the qcow2 image refers to another file (backing or data file): "
		              "flatten it first (qemu-img convert -O qcow2 IN OUT)");
	else
		*vsize = (uint64_t)vs->valuedouble;
	cJSON_Delete(j);
	return rc;
}

int prov_vm_disk_copy(const char *src, int format, uint64_t vsize, uint64_t size, const char *dst,
                      char *err, size_t errsz)
{
	if (size < vsize)
		return prov_err(err, errsz, -ENOSPC,
		                "the disk image is %llu bytes but the workload's size is %llu: set "
		                "size to at least %llu (a disk is never shrunk)",
		                (unsigned long long)vsize, (unsigned long long)size,
		                (unsigned long long)vsize);
	char prog[PROV_PATH_MAX], tmp[PROV_PATH_MAX], out[512];
	if (qemu_img(prog, sizeof prog) < 0)
		return prov_err(err, errsz, ZE_UNSUPPORTED,
		                "disk images need qemu-img (apt-get install qemu-utils)");
	if (prov_fmt(tmp, sizeof tmp, "%s.tmp", dst) < 0)
		return prov_err(err, errsz, -ENAMETOOLONG, "path too long");
	unlink(tmp);
	/* A sparse raw copy: the VM's disk is its own, the image is only read. */
	const char *argv[] = {
	    prog, "convert", "-q", "-f", format == IMG_DISK_QCOW2 ? "qcow2" : "raw",
	    "-O", "raw",     src,  tmp,  NULL};
	int rc = prov_run(argv, out, sizeof out, CONVERT_TIMEOUT_MS);
	if (rc < 0) {
		unlink(tmp);
		return prov_err(err, errsz, rc, "cannot copy the disk image: %s",
		                out[0] ? out : zerr_str(rc));
	}
	if (chmod(tmp, 0600) < 0 || truncate(tmp, (off_t)size) < 0 || rename(tmp, dst) < 0) {
		rc = -errno;
		unlink(tmp);
		return prov_err(err, errsz, rc, "cannot make the root disk %s: %s", dst,
		                zerr_str(rc));
	}
	return 0;
}

/* Copies dir/name (a regular file, never a symlink) to dst, mode 0644:
 * qemu, under the VM's uid, opens its kernel again through /proc/self/fd,
 * which checks the file's mode (the directories above stay root's). */
static int copy_out(int dir, const char *name, const char *dst, char *err, size_t errsz)
{
	char tmp[PROV_PATH_MAX], buf[65536];
	int in = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > KERNEL_FILE_MAX) {
		int e = in < 0 ? errno : EINVAL;
		if (in >= 0)
			close(in);
		return prov_err(err, errsz, -e, "the image's /boot/%s is not a usable file", name);
	}
	int rc = prov_fmt(tmp, sizeof tmp, "%s.tmp", dst);
	int out =
	    rc < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (out < 0) {
		rc = rc < 0 ? rc : -errno;
		close(in);
		return prov_err(err, errsz, rc, "cannot create %s: %s", tmp, zerr_str(rc));
	}
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	rc = n < 0 ? -errno : 0;
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return prov_err(err, errsz, rc, "cannot copy /boot/%s: %s", name, zerr_str(rc));
	}
	return 0;
}

static int regular_at(int dir, const char *name)
{
	struct stat st;
	return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int prov_vm_tree_kernel(const char *tree, const char *kernel, const char *initrd, char *err,
                        size_t errsz)
{
	char boot[PROV_PATH_MAX], best[256] = "", rd[300] = "";
	if (prov_fmt(boot, sizeof boot, "%s/boot", tree) < 0)
		return 0;
	int bfd = open(boot, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (bfd < 0)
		return 0;
	DIR *d = fdopendir(bfd);
	if (!d) {
		close(bfd);
		return 0;
	}
	struct dirent *e;
	/* The newest vmlinuz-<version> (or a plain vmlinuz), regular files only. */
	while ((e = readdir(d)))
		if ((strcmp(e->d_name, "vmlinuz") == 0 || strncmp(e->d_name, "vmlinuz-", 8) == 0) &&
		    strlen(e->d_name) < sizeof best && regular_at(bfd, e->d_name) &&
		    (!best[0] || strverscmp(e->d_name, best) > 0))
			snprintf(best, sizeof best, "%s", e->d_name);
	int rc = 0;
	if (best[0]) {
		/* Its initramfs: Debian's initrd.img-<version>, Fedora's
		 * initramfs-<version>.img, else a plain initrd.img. */
		const char *ver = best[7] == '-' ? best + 8 : "";
		char cands[3][300];
		snprintf(cands[0], sizeof cands[0], "initrd.img-%s", ver);
		snprintf(cands[1], sizeof cands[1], "initramfs-%s.img", ver);
		snprintf(cands[2], sizeof cands[2], "initrd.img");
		for (int i = ver[0] ? 0 : 2; i < 3 && !rd[0]; i++)
			if (regular_at(bfd, cands[i]))
				snprintf(rd, sizeof rd, "%s", cands[i]);
		unlink(initrd);
		if ((rc = copy_out(bfd, best, kernel, err, errsz)) == 0 && rd[0])
			rc = copy_out(bfd, rd, initrd, err, errsz);
		rc = rc < 0 ? rc : 1;
	}
	closedir(d);
	return rc;
}
