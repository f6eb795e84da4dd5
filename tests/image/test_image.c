/* Unit tests of image/: references, policy lists, manifests and indexes,
 * the store's holds and GC, and layer unpacking (whiteouts, escapes),
 * with tar files written here by libarchive. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/zerr.h"
#include "image/image.h"
#include "image/img_int.h"

static char tmpdir[64];

static int setup(void **st)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_image.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **st)
{
	return img_rmtree(tmpdir, NULL);
}

static void ref_valid(void **st)
{
	struct img_ref r;
	char err[256];
	assert_int_equal(img_ref_parse("registry.example.com/team/app:1.2", &r, err, sizeof err),
	                 0);
	assert_string_equal(r.host, "registry.example.com");
	assert_string_equal(r.repo, "team/app");
	assert_string_equal(r.tag, "1.2");
	assert_string_equal(r.digest, "");
	assert_int_equal(img_ref_parse("127.0.0.1:5000/app", &r, err, sizeof err), 0);
	assert_string_equal(r.host, "127.0.0.1:5000");
	assert_string_equal(r.tag, "latest");
	assert_int_equal(img_ref_parse("localhost/a/b/c", &r, err, sizeof err), 0);
	assert_string_equal(r.repo, "a/b/c");
	const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char s[300];
	snprintf(s, sizeof s, "reg.io:443/x/y:tag@%s", d);
	assert_int_equal(img_ref_parse(s, &r, err, sizeof err), 0);
	assert_string_equal(r.digest, d);
	assert_string_equal(r.tag, "tag");
	char canon[IMG_REF_MAX];
	assert_int_equal(img_ref_canonical(&r, canon, sizeof canon), 0);
	snprintf(s, sizeof s, "reg.io:443/x/y@%s", d);
	assert_string_equal(canon, s);
}

static void ref_invalid(void **st)
{
	struct img_ref r;
	char err[256];
	const char *bad[] = {
	    "",
	    "busybox",
	    "library/busybox:latest",
	    "reg.io/UPPER",
	    "reg.io/a//b",
	    "reg.io/-a",
	    "reg.io/a:",
	    "reg.io/a:-x",
	    "reg.io:port/a",
	    "reg.io/a@sha256:abc",
	    "reg.io/a@md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "reg.io/a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	    "reg io/a",
	    "reg.io/a b",
	    "reg.io/../etc",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = 0;
		assert_int_equal(img_ref_parse(bad[i], &r, err, sizeof err), -EINVAL);
		assert_true(strlen(err) > 0);
	}
	img_ref_parse("busybox", &r, err, sizeof err);
	assert_non_null(strstr(err, "names no registry"));
	char longref[IMG_REF_MAX + 10];
	memset(longref, 'a', sizeof longref);
	memcpy(longref, "r.io/", 5);
	longref[sizeof longref - 1] = 0;
	assert_int_equal(img_ref_parse(longref, &r, err, sizeof err), -EINVAL);
}

static void lists_and_policy(void **st)
{
	assert_true(img_list_match("a.io, b.io:5000", "b.io:5000"));
	assert_true(img_list_match("a.io,B.IO", "b.io"));
	assert_false(img_list_match("a.io b.io:5000", "b.io"));
	assert_true(img_list_match("*", "x.y"));
	assert_false(img_list_match(NULL, "x.y"));
	assert_false(img_list_match("", "x.y"));
	struct img_config c = {.dir = tmpdir, .allow = "good.io, other.io", .deny = "bad.io"};
	struct img_store *s;
	char err[256];
	assert_int_equal(img_store_open(&c, &s), 0);
	assert_int_equal(img_policy_check(s, "good.io/a:1", err, sizeof err), 0);
	assert_int_equal(img_policy_check(s, "bad.io/a:1", err, sizeof err), -EACCES);
	assert_non_null(strstr(err, "denied"));
	assert_int_equal(img_policy_check(s, "third.io/a:1", err, sizeof err), -EACCES);
	assert_int_equal(img_policy_check(s, "a", err, sizeof err), -EINVAL);
	img_store_close(s);
	c.allow = NULL;
	c.deny = "*";
	assert_int_equal(img_store_open(&c, &s), 0);
	assert_int_equal(img_policy_check(s, "good.io/a:1", err, sizeof err), -EACCES);
	img_store_close(s);
}

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static void manifests(void **st)
{
	const char *m =
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"digest\":\"" D1 "\",\"size\":10},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
	    "\"digest\":\"" D2 "\",\"size\":100},{\"digest\":\"" D3 "\",\"size\":5}]}";
	struct img_manifest mf;
	char err[256];
	assert_int_equal(img_manifest_kind(m, strlen(m), NULL), 0);
	assert_int_equal(img_manifest_parse(m, strlen(m), &mf, err, sizeof err), 0);
	assert_int_equal(mf.n, 2);
	assert_string_equal(mf.config, D1);
	assert_string_equal(mf.layers[1].digest, D3);
	assert_int_equal(mf.layers[0].size, 100);
	const char *bad = "{\"config\":{\"digest\":\"sha256:12\",\"size\":1},\"layers\":[]}";
	assert_int_equal(img_manifest_parse(bad, strlen(bad), &mf, err, sizeof err), ZE_MALFORMED);
	const char *foreign =
	    "{\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[{"
	    "\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\","
	    "\"digest\":\"" D2 "\",\"size\":1}]}";
	assert_int_equal(img_manifest_parse(foreign, strlen(foreign), &mf, err, sizeof err),
	                 ZE_MALFORMED);
	/* A VM disk artifact: one layer with a disk media type, kept apart
	 * from tar layers; a disk beside other layers is refused. */
	const char *disk =
	    "{\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"" D1
	    "\",\"size\":2},\"layers\":[{\"mediaType\":\"" IMG_MT_DISK_QCOW2 "\","
	    "\"digest\":\"" D2 "\",\"size\":1048576}]}";
	assert_int_equal(img_manifest_parse(disk, strlen(disk), &mf, err, sizeof err), 0);
	assert_int_equal(mf.n, 1);
	assert_int_equal(mf.layers[0].disk, IMG_DISK_QCOW2);
	assert_int_equal(mf.layers[0].size, 1048576);
	assert_int_equal(img_manifest_parse(m, strlen(m), &mf, err, sizeof err), 0);
	assert_int_equal(mf.layers[0].disk, IMG_DISK_NONE);
	const char *mixed =
	    "{\"config\":{\"digest\":\"" D1 "\",\"size\":2},\"layers\":["
	    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D3
	    "\",\"size\":1},{\"mediaType\":\"" IMG_MT_DISK_RAW "\",\"digest\":\"" D2
	    "\",\"size\":1}]}";
	err[0] = '\0';
	assert_int_equal(img_manifest_parse(mixed, strlen(mixed), &mf, err, sizeof err),
	                 ZE_MALFORMED);
	assert_non_null(strstr(err, "only layer"));
	assert_string_equal(img_disk_name(IMG_DISK_RAW), "disk.raw");
	assert_string_equal(img_disk_name(IMG_DISK_QCOW2), "disk.qcow2");
	const char *idx =
	    "{\"schemaVersion\":2,\"manifests\":["
	    "{\"digest\":\"" D1
	    "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
	    "{\"digest\":\"" D2
	    "\",\"size\":1,\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}},"
	    "{\"digest\":\"" D3
	    "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	char d[IMG_DIGEST_MAX];
	assert_int_equal(img_manifest_kind(idx, strlen(idx), NULL), 1);
	assert_int_equal(img_index_pick(idx, strlen(idx), "amd64", d, err, sizeof err), 0);
	assert_string_equal(d, D3);
	assert_int_equal(img_index_pick(idx, strlen(idx), "arm64", d, err, sizeof err), 0);
	assert_string_equal(d, D1);
	assert_int_equal(img_index_pick(idx, strlen(idx), "riscv64", d, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "linux/riscv64"));
	assert_int_equal(img_manifest_kind("[1]", 3, NULL), ZE_MALFORMED);
	assert_int_equal(img_digest_valid(D1), 1);
	assert_int_equal(img_digest_valid("sha256:11"), 0);
}

/* ---- layer unpacking ---- */

struct ent {
	const char *name;
	mode_t type;
	const char *link; /* symlink or hardlink target */
	int hard;
	const char *data;
	const char *xattr; /* name of an xattr to set to "v" */
};

static void write_tar(const char *path, const struct ent *e, size_t n, int gzip)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gzip == 1)
		archive_write_add_filter_gzip(a);
	else if (gzip == 2)
		archive_write_add_filter_zstd(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *x = archive_entry_new();
		archive_entry_set_pathname(x, e[i].name);
		archive_entry_set_filetype(x, e[i].type);
		archive_entry_set_perm(x, e[i].type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_uid(x, 1000);
		archive_entry_set_gid(x, 1000);
		if (e[i].type == AE_IFCHR)
			archive_entry_set_rdev(x, makedev(1, 3));
		if (e[i].link && e[i].hard)
			archive_entry_set_hardlink(x, e[i].link);
		else if (e[i].link)
			archive_entry_set_symlink(x, e[i].link);
		if (e[i].xattr)
			archive_entry_xattr_add_entry(x, e[i].xattr, "v", 1);
		size_t len = e[i].data ? strlen(e[i].data) : 0;
		archive_entry_set_size(x, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
		if (len)
			archive_write_data(a, e[i].data, len);
		archive_entry_free(x);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static int unpack_ents(const struct ent *e, size_t n, int gzip, char *dir, size_t dsz, char *err,
                       size_t errsz)
{
	static int k;
	char tar[PATH_MAX];
	snprintf(tar, sizeof tar, "%s/l%d.tar", tmpdir, k);
	snprintf(dir, dsz, "%s/d%d", tmpdir, k++);
	write_tar(tar, e, n, gzip);
	mkdir(dir, 0755);
	return img_unpack(tar, dir, err, errsz);
}

static int need_root(void)
{
	if (geteuid() != 0) {
		print_message("skipped: unpacking needs root (owners, whiteout devices)\n");
		return 0;
	}
	return 1;
}

static void unpack_whiteouts(void **st)
{
	if (!need_root())
		return;
	const struct ent e[] = {
	    {"./etc/", AE_IFDIR},
	    {"./etc/keep", AE_IFREG, .data = "keep"},
	    {"./etc/.wh.removed", AE_IFREG},
	    {"./opt/d/.wh..wh..opq", AE_IFREG},
	    {"./opt/d/new", AE_IFREG, .data = "n"},
	    {"bin/sh", AE_IFLNK, .link = "/bin/busybox"},
	    {"etc/hard", AE_IFREG, .link = "etc/keep", .hard = 1},
	    {"etc/x", AE_IFREG, .data = "x", .xattr = "trusted.overlay.redirect"},
	    {"etc/y", AE_IFREG, .data = "y", .xattr = "user.keep"},
	};
	char dir[PATH_MAX], p[PATH_MAX * 2], err[256] = "";
	int rc = unpack_ents(e, sizeof e / sizeof *e, 1, dir, sizeof dir, err, sizeof err);
	assert_int_equal(rc, 0);
	struct stat s;
	snprintf(p, sizeof p, "%s/etc/removed", dir);
	assert_int_equal(lstat(p, &s), 0);
	assert_true(S_ISCHR(s.st_mode));
	assert_int_equal(s.st_rdev, makedev(0, 0));
	snprintf(p, sizeof p, "%s/etc/.wh.removed", dir);
	assert_int_equal(lstat(p, &s), -1);
	snprintf(p, sizeof p, "%s/opt/d", dir);
	char v[4] = "";
	assert_int_equal(getxattr(p, "trusted.overlay.opaque", v, sizeof v), 1);
	assert_int_equal(v[0], 'y');
	snprintf(p, sizeof p, "%s/etc/keep", dir);
	assert_int_equal(lstat(p, &s), 0);
	assert_int_equal(s.st_uid, 1000);
	assert_int_equal(s.st_nlink, 2);
	snprintf(p, sizeof p, "%s/bin/sh", dir);
	assert_int_equal(lstat(p, &s), 0);
	assert_true(S_ISLNK(s.st_mode));
	snprintf(p, sizeof p, "%s/etc/x", dir);
	assert_int_equal(getxattr(p, "trusted.overlay.redirect", v, sizeof v), -1);
	snprintf(p, sizeof p, "%s/etc/y", dir);
	assert_int_equal(getxattr(p, "user.keep", v, sizeof v), 1);
}

static void unpack_zstd(void **st)
{
	if (!need_root())
		return;
	const struct ent e[] = {{"etc/z", AE_IFREG, .data = "zstd layer"}};
	char dir[PATH_MAX], p[PATH_MAX * 2], err[256] = "";
	assert_int_equal(unpack_ents(e, 1, 2, dir, sizeof dir, err, sizeof err), 0);
	snprintf(p, sizeof p, "%s/etc/z", dir);
	struct stat s;
	assert_int_equal(stat(p, &s), 0);
	assert_int_equal(s.st_size, 10);
}

static void unpack_refuses_escapes(void **st)
{
	if (!need_root())
		return;
	char dir[PATH_MAX], p[PATH_MAX * 2], err[256];
	const struct ent dotdot[] = {{"a/../../evil", AE_IFREG, .data = "e"}};
	assert_int_equal(unpack_ents(dotdot, 1, 0, dir, sizeof dir, err, sizeof err), ZE_MALFORMED);
	assert_non_null(strstr(err, "escapes"));
	snprintf(p, sizeof p, "%s/evil", tmpdir);
	assert_int_equal(access(p, F_OK), -1);

	const struct ent abs[] = {{"/etc/evil", AE_IFREG, .data = "e"}};
	assert_int_equal(unpack_ents(abs, 1, 0, dir, sizeof dir, err, sizeof err), ZE_MALFORMED);

	const struct ent hard[] = {{"x", AE_IFREG, .link = "../../etc/passwd", .hard = 1}};
	assert_int_equal(unpack_ents(hard, 1, 0, dir, sizeof dir, err, sizeof err), ZE_MALFORMED);
	const struct ent hardabs[] = {{"x", AE_IFREG, .link = "/etc/passwd", .hard = 1}};
	assert_int_equal(unpack_ents(hardabs, 1, 0, dir, sizeof dir, err, sizeof err),
	                 ZE_MALFORMED);

	const struct ent dev[] = {{"dev/mem", AE_IFCHR}};
	assert_int_equal(unpack_ents(dev, 1, 0, dir, sizeof dir, err, sizeof err), ZE_MALFORMED);
	assert_non_null(strstr(err, "device"));

	/* A symlink to outside, then a file through it: nothing lands outside. */
	char out[PATH_MAX];
	snprintf(out, sizeof out, "%s/outside", tmpdir);
	mkdir(out, 0755);
	const struct ent sym[] = {{"l", AE_IFLNK, .link = out}, {"l/pwned", AE_IFREG, .data = "x"}};
	assert_int_not_equal(unpack_ents(sym, 2, 0, dir, sizeof dir, err, sizeof err), 0);
	snprintf(p, sizeof p, "%s/pwned", out);
	assert_int_equal(access(p, F_OK), -1);

	/* A hard link through such a symlink would pull a host file in. */
	const struct ent hsym[] = {{"l", AE_IFLNK, .link = "/etc"},
	                           {"x", AE_IFREG, .link = "l/passwd", .hard = 1}};
	assert_int_not_equal(unpack_ents(hsym, 2, 0, dir, sizeof dir, err, sizeof err), 0);
	snprintf(p, sizeof p, "%s/x", dir);
	assert_int_equal(access(p, F_OK), -1);
	/* A directory entry over a symlink must not touch the symlink's target. */
	struct stat before, after;
	assert_int_equal(stat(out, &before), 0);
	const struct ent dsym[] = {{"d", AE_IFLNK, .link = out}, {"d/", AE_IFDIR}};
	unpack_ents(dsym, 2, 0, dir, sizeof dir, err, sizeof err);
	assert_int_equal(stat(out, &after), 0);
	assert_int_equal(before.st_mode, after.st_mode);
	assert_int_equal(before.st_uid, after.st_uid);

	const struct ent junk[] = {{"ok", AE_IFREG, .data = "x"}};
	char tar[PATH_MAX];
	unpack_ents(junk, 1, 0, dir, sizeof dir, err, sizeof err);
	snprintf(tar, sizeof tar, "%s/junk", tmpdir);
	FILE *f = fopen(tar, "w");
	fputs("this is not a tar file at all, not even close, really not", f);
	fclose(f);
	assert_int_equal(img_unpack(tar, dir, err, sizeof err), ZE_MALFORMED);
}

static void holds_and_gc(void **st)
{
	char d[128];
	snprintf(d, sizeof d, "%s/store", tmpdir);
	struct img_config c = {.dir = d};
	struct img_store *s;
	assert_int_equal(img_store_open(&c, &s), 0);
	/* A fake image: manifest, config blob and one unpacked layer. */
	char m[1024], p[PATH_MAX];
	snprintf(m, sizeof m,
	         "{\"config\":{\"digest\":\"%s\",\"size\":2},\"layers\":[{\"digest\":\"%s\","
	         "\"size\":3}]}",
	         D2, D3);
	assert_int_equal(img_path(s, p, sizeof p, "blobs", D1), 0);
	assert_int_equal(img_write_atomic(s, p, m, strlen(m)), 0);
	assert_int_equal(img_path(s, p, sizeof p, "blobs", D2), 0);
	assert_int_equal(img_write_atomic(s, p, "{}", 2), 0);
	assert_int_equal(img_path(s, p, sizeof p, "layers", D3), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(img_ref_store(s, "r.io/a:1", D1), 0);
	/* An interrupted pull's leftovers. */
	snprintf(p, sizeof p, "%s/tmp/blob.xyz", d);
	assert_int_equal(mkdir(p, 0700), 0);
	struct img_image *img;
	char err[256];
	assert_int_equal(img_get(s, "r.io/a:1", &img, err, sizeof err), 0);
	assert_string_equal(img->digest, D1);
	assert_int_equal(img->n_layers, 1);
	assert_null(img->layers[1]);
	assert_null(img->entrypoint);
	img_image_free(img);
	assert_int_equal(img_hold(s, D1, "42/web"), 0);
	assert_int_equal(img_hold(s, D1, "bad holder"), -EINVAL);
	img_store_close(s);

	/* Reopen: tmp/ is emptied, the hold survives, GC keeps the image. */
	assert_int_equal(img_store_open(&c, &s), 0);
	snprintf(p, sizeof p, "%s/tmp/blob.xyz", d);
	assert_int_equal(access(p, F_OK), -1);
	uint64_t freed = 1;
	assert_int_equal(img_gc(s, &freed), 0);
	assert_int_equal(img_get(s, "r.io/a:1", &img, err, sizeof err), 0);
	img_image_free(img);
	assert_int_equal(img_release(s, "42/web"), 0);
	assert_int_equal(img_release(s, "never/held"), 0);
	assert_int_equal(img_gc(s, &freed), 0);
	assert_true(freed > 0);
	assert_int_equal(img_get(s, "r.io/a:1", &img, err, sizeof err), -ENOENT);
	assert_int_equal(img_get(s, D1, &img, err, sizeof err), -ENOENT);
	img_store_close(s);
}

static void creds_file_mode(void **st)
{
	char f[PATH_MAX], d[PATH_MAX];
	snprintf(f, sizeof f, "%s/creds", tmpdir);
	snprintf(d, sizeof d, "%s/cstore", tmpdir);
	FILE *fp = fopen(f, "w");
	fputs("# c\nr.io basic u p\nq.io token tok\n", fp);
	fclose(fp);
	chmod(f, 0644);
	struct img_config c = {.dir = d, .credentials_file = f};
	struct img_store *s;
	assert_int_equal(img_store_open(&c, &s), ZE_CONFIG);
	chmod(f, 0600);
	assert_int_equal(img_store_open(&c, &s), 0);
	assert_int_equal(s->n_creds, 2);
	assert_string_equal(s->creds[1].token, "tok");
	img_store_close(s);
	fp = fopen(f, "w");
	fputs("r.io basic onlyuser\n", fp);
	fclose(fp);
	assert_int_equal(img_store_open(&c, &s), ZE_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ref_valid),
	    cmocka_unit_test(ref_invalid),
	    cmocka_unit_test(lists_and_policy),
	    cmocka_unit_test(manifests),
	    cmocka_unit_test(unpack_whiteouts),
	    cmocka_unit_test(unpack_zstd),
	    cmocka_unit_test(unpack_refuses_escapes),
	    cmocka_unit_test(holds_and_gc),
	    cmocka_unit_test(creds_file_mode),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
