#!/bin/sh
# Builds a tiny container image (a rootfs tree) from the static busybox of
# Debian's busybox-static package: /bin/busybox plus one symlink per applet
# the demos and tests use, and the empty directories a container expects.
#
#   scripts/make-busybox-image.sh DIR
#
# DIR is created if missing and must be empty otherwise. Every argument is
# quoted; nothing is evaluated by a shell.
set -eu
if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
bb=""
for c in /bin/busybox /usr/bin/busybox; do
	[ -x "$c" ] && { bb=$c; break; }
done
if [ -z "$bb" ]; then
	echo "make-busybox-image: busybox not found (apt-get install busybox-static)" >&2
	exit 1
fi
# A dynamically linked busybox would need the host's libraries in the image.
if ! "$bb" --help 2>&1 | head -n 1 | grep -q BusyBox; then
	echo "make-busybox-image: $bb does not run" >&2
	exit 1
fi
if command -v file >/dev/null 2>&1 && file -L "$bb" | grep -q dynamically; then
	echo "make-busybox-image: $bb is dynamically linked; install busybox-static" >&2
	exit 1
fi
mkdir -p -- "$dir"
if [ -n "$(ls -A -- "$dir")" ]; then
	echo "make-busybox-image: $dir is not empty" >&2
	exit 1
fi
mkdir -p -- "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/etc" "$dir/proc" "$dir/sys" \
	"$dir/dev" "$dir/tmp" "$dir/root" "$dir/var" "$dir/run"
chmod 1777 "$dir/tmp"
cp -- "$bb" "$dir/bin/busybox"
chmod 0755 "$dir/bin/busybox"
for a in sh ash echo cat sleep ls ping ip dd mkdir rm cp mv ps kill true false \
	head tail wc grep sed awk env id hostname mount df du sync yes seq \
	touch stat printf test nc wget ifconfig route uname date; do
	ln -s busybox "$dir/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/etc/passwd"
printf 'root:x:0:\n' >"$dir/etc/group"
printf '127.0.0.1 localhost\n' >"$dir/etc/hosts"
echo "make-busybox-image: built $dir"
