#!/bin/sh
# Gets a guest kernel and builds the VM initramfs for the tests and the
# benchmark, without the internet: the versioned package that Debian's
# linux-image-cloud-amd64 depends on is fetched from the configured package
# archive (apt-get download), unpacked with dpkg-deb -x into CACHE, and
# scripts/vm-initramfs.sh builds CACHE/initrd.img from its modules. Done once;
# later runs reuse CACHE.
#
#   scripts/vm-test-assets.sh CACHE
#
# Prints two lines: the kernel's path and the initramfs's path. Exits 77 when
# the package archive or the tools are not available (tests then skip).
set -eu
if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 CACHE" >&2
	exit 2
fi
here=$(cd -- "$(dirname -- "$0")" && pwd)
mkdir -p -- "$1"
cache=$(cd -- "$1" && pwd)
exec 9>"$cache/.lock"
flock 9
kernel=$(ls "$cache"/kernel/boot/vmlinuz-* 2>/dev/null | tail -n 1 || true)
if [ -z "$kernel" ]; then
	for t in apt-get apt-cache dpkg-deb; do
		command -v "$t" >/dev/null 2>&1 || { echo "vm-test-assets: $t missing" >&2; exit 77; }
	done
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
	if [ -z "$pkg" ]; then
		echo "vm-test-assets: apt-cache knows no linux-image-cloud-amd64" >&2
		exit 77
	fi
	rm -rf -- "$cache/dl" "$cache/kernel.tmp"
	mkdir -p -- "$cache/dl"
	if ! (cd "$cache/dl" && apt-get download -q "$pkg" >/dev/null 2>&1); then
		echo "vm-test-assets: apt-get download $pkg failed" >&2
		exit 77
	fi
	dpkg-deb -x "$cache"/dl/*.deb "$cache/kernel.tmp"
	rm -rf -- "$cache/dl" "$cache/kernel"
	mv -- "$cache/kernel.tmp" "$cache/kernel"
	rm -f -- "$cache/initrd.img"
	kernel=$(ls "$cache"/kernel/boot/vmlinuz-* | tail -n 1)
fi
# Rebuilt when /init changed, so the tests always boot this tree's.
if [ ! -s "$cache/initrd.img" ] ||
	[ -n "$(find "$here/vm-init.sh" "$here/vm-initramfs.sh" -newer "$cache/initrd.img")" ]; then
	mods=$(ls -d "$cache"/kernel/lib/modules/* | tail -n 1)
	sh "$here/vm-initramfs.sh" "$mods" "$cache/initrd.img" >/dev/null
fi
echo "$kernel"
echo "$cache/initrd.img"
