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

#include "common/jnum.h"
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
	/* crypt_method (offset 32): the node holds no key for an encrypted image. */
	if (h[32] | h[33] | h[34] | h[35])
		return prov_err(err, errsz, -EPERM,
		                "the qcow2 image is encrypted and the node has no key for it: "
		                "publish it unencrypted (qemu-img convert -O qcow2 IN OUT)");
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
	uint64_t v = 0;
	if (jnum_u64(vs, JNUM_MAX, &v) < 0 || v < 512 || !cJSON_IsString(f) ||
	    strcmp(f->valuestring, fmt) != 0)
		rc = prov_err(err, errsz, -EINVAL,
		              "qemu-img reports no usable size or format for the %s image", fmt);
	else if (v > PROV_DISK_MAX)
		rc = prov_err(err, errsz, -EFBIG,
		              "the disk image is %llu bytes, more than the largest VM disk (%llu)",
		              (unsigned long long)v, (unsigned long long)PROV_DISK_MAX);
	else if (cJSON_GetObjectItemCaseSensitive(j, "backing-filename") ||
	         cJSON_GetObjectItemCaseSensitive(data, "data-file"))
		rc = prov_err(err, errsz, -EPERM,
		              "the qcow2 image refers to another file (backing or data file): "
		              "flatten it first (qemu-img convert -O qcow2 IN OUT)");
	else
		*vsize = v;
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

/* ---- the NoCloud seed of a disk image VM ---- */

/* Writes text to dir/name. */
static int seed_put(const char *dir, const char *name, const char *text, char *err, size_t errsz)
{
	char p[PROV_PATH_MAX];
	int rc = prov_fmt(p, sizeof p, "%s/%s", dir, name);
	if (rc == 0)
		rc = prov_write_file(p, text, strlen(text), 0600);
	return rc < 0 ? prov_err(err, errsz, rc, "cannot write %s: %s", p, zerr_str(rc)) : 0;
}

/* "#cloud-config" or "" followed by the JSON of o (JSON is YAML, and cJSON
 * quotes every user value, so no value can change the document's shape). */
static int seed_json(const char *dir, const char *name, const char *head, cJSON *o, char *err,
                     size_t errsz)
{
	char *js = o ? cJSON_PrintUnformatted(o) : NULL;
	char *text = NULL;
	int rc = js && asprintf(&text, "%s%s\n", head, js) >= 0 ? 0 : -ENOMEM;
	if (rc == 0)
		rc = seed_put(dir, name, text, err, errsz);
	else
		prov_err(err, errsz, rc, "out of memory");
	free(js);
	free(text);
	return rc;
}

static int read_value(const char *cfgdir, const char *rel, char *out, size_t outsz)
{
	char p[PROV_PATH_MAX];
	return prov_fmt(p, sizeof p, "%s/%s", cfgdir, rel) < 0
	           ? -ENAMETOOLONG
	           : prov_read_file(p, out, outsz, NULL);
}

int prov_vm_seed(const cJSON *data, const char *host, const struct prov_vm_plan *p,
                 const char *cfgdir, const char *out, char *err, size_t errsz)
{
	char mkfs[PROV_PATH_MAX], mcopy[PROV_PATH_MAX], dir[PROV_PATH_MAX], buf[512];
	if (prov_which("mkfs.fat", mkfs, sizeof mkfs) < 0 ||
	    prov_which("mcopy", mcopy, sizeof mcopy) < 0)
		return ZE_UNSUPPORTED;
	int rc = prov_fmt(dir, sizeof dir, "%s.d", out);
	if (rc < 0)
		return prov_err(err, errsz, rc, "path too long");
	prov_rm_tree(dir);
	if ((rc = prov_mkdirs(dir, 0700)) < 0)
		return prov_err(err, errsz, rc, "cannot create %s: %s", dir, zerr_str(rc));
	cJSON *meta = cJSON_CreateObject(), *user = cJSON_CreateObject(),
	      *net = cJSON_CreateObject(), *eths = NULL;
	cJSON_AddStringToObject(meta, "instance-id", host);
	cJSON_AddStringToObject(meta, "local-hostname", host);
	cJSON_AddStringToObject(user, "hostname", host);
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(data, "env"), "SSH_KEY");
	if (cJSON_IsString(key)) {
		cJSON *keys = cJSON_AddArrayToObject(user, "ssh_authorized_keys");
		cJSON_AddItemToArray(keys, cJSON_CreateString(key->valuestring));
	}
	/* Network config version 2: each interface by its MAC, its address
	 * and, for the first, the gateway. */
	cJSON_AddNumberToObject(net, "version", 2);
	if (p->nnics)
		eths = cJSON_AddObjectToObject(net, "ethernets");
	for (size_t i = 0; i < p->nnics; i++) {
		char rel[32], name[24];
		snprintf(rel, sizeof rel, "net/%zu/addr", i);
		snprintf(name, sizeof name, "zos%zu", i);
		cJSON *e = cJSON_AddObjectToObject(eths, name);
		cJSON *m = cJSON_AddObjectToObject(e, "match");
		cJSON_AddStringToObject(m, "macaddress", p->nics[i].mac);
		cJSON_AddStringToObject(e, "set-name", name);
		if (read_value(cfgdir, rel, buf, sizeof buf) == 0) {
			cJSON *a = cJSON_AddArrayToObject(e, "addresses");
			cJSON_AddItemToArray(a, cJSON_CreateString(buf));
		}
		if (i == 0 && read_value(cfgdir, "net/0/gw", buf, sizeof buf) == 0)
			cJSON_AddStringToObject(e, "gateway4", buf);
	}
	if ((rc = seed_json(dir, "meta-data", "", meta, err, errsz)) == 0 &&
	    (rc = seed_json(dir, "user-data", "#cloud-config\n", user, err, errsz)) == 0)
		rc = seed_json(dir, "network-config", "", net, err, errsz);
	cJSON_Delete(meta);
	cJSON_Delete(user);
	cJSON_Delete(net);
	char tmp[PROV_PATH_MAX], f1[PROV_PATH_MAX], f2[PROV_PATH_MAX], f3[PROV_PATH_MAX],
	    msg[256] = "";
	if (rc == 0 && (prov_fmt(tmp, sizeof tmp, "%s.tmp", out) < 0 ||
	                prov_fmt(f1, sizeof f1, "%s/meta-data", dir) < 0 ||
	                prov_fmt(f2, sizeof f2, "%s/user-data", dir) < 0 ||
	                prov_fmt(f3, sizeof f3, "%s/network-config", dir) < 0))
		rc = prov_err(err, errsz, -ENAMETOOLONG, "path too long");
	if (rc == 0) {
		unlink(tmp);
		/* 1 MiB of FAT12 labelled "cidata", filled without mounting. */
		const char *mk[] = {mkfs, "-n", "CIDATA", "-C", tmp, "1024", NULL};
		const char *cp[] = {mcopy, "-i", tmp, f1, f2, f3, "::/", NULL};
		if ((rc = prov_run(mk, msg, sizeof msg, 30000)) < 0 ||
		    (rc = prov_run(cp, msg, sizeof msg, 30000)) < 0 ||
		    (rc = chmod(tmp, 0600)) < 0 || (rc = rename(tmp, out)) < 0) {
			rc = rc == -1 ? -errno : rc;
			unlink(tmp);
			prov_err(err, errsz, rc, "cannot make the cloud-init seed: %s",
			         msg[0] ? msg : zerr_str(rc));
		}
	}
	/* The tree may hold the SSH key; the seed is root's, 0600. */
	prov_rm_tree(dir);
	return rc;
}
