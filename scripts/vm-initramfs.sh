#!/bin/sh
# Builds the initramfs the agent boots every VM with: the static busybox of
# Debian's busybox-static package, the virtio modules of the guest kernel
# and /init (scripts/vm-init.sh). The kernel's modules directory must be the
# one of the kernel the VMs boot (vm.kernel); a mismatch leaves the guest
# without disks or network.
#
#   scripts/vm-initramfs.sh MODULES_DIR OUT
#
# MODULES_DIR is /lib/modules/<version> of the guest kernel (on a node the
# installed Debian cloud kernel's). OUT is written atomically (OUT.tmp, then
# renamed). Every argument is quoted; nothing is evaluated by a shell.
set -eu
if [ $# -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
	echo "usage: $0 MODULES_DIR OUT" >&2
	exit 2
fi
mods=$1
out=$2
here=$(cd -- "$(dirname -- "$0")" && pwd)
bb=""
for c in /bin/busybox /usr/bin/busybox; do
	[ -x "$c" ] && { bb=$c; break; }
done
if [ -z "$bb" ]; then
	echo "vm-initramfs: busybox not found (apt-get install busybox-static)" >&2
	exit 1
fi
if command -v file >/dev/null 2>&1 && file -L "$bb" | grep -q dynamically; then
	echo "vm-initramfs: $bb is dynamically linked; install busybox-static" >&2
	exit 1
fi
command -v cpio >/dev/null 2>&1 || { echo "vm-initramfs: cpio not installed" >&2; exit 1; }
if [ ! -d "$mods/kernel" ]; then
	echo "vm-initramfs: $mods is not a kernel modules directory" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$work/bin" "$work/lib/modules" "$work/proc" "$work/sys" "$work/dev" \
	"$work/newroot" "$work/cfg" "$work/tmp"
cp -- "$bb" "$work/bin/busybox"
ln -s busybox "$work/bin/sh"
# The order matters only for speed: /init retries until nothing loads.
n=0
for m in virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
	virtio_blk failover net_failover virtio_net fuse virtiofs; do
	f=$(find "$mods/kernel" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n 1)
	[ -n "$f" ] || continue
	n=$((n + 1))
	case $f in
	*.xz) xz -dc -- "$f" >"$work/lib/modules/$(printf %02d $n)-$m.ko" ;;
	*.zst) zstd -qdc -- "$f" >"$work/lib/modules/$(printf %02d $n)-$m.ko" ;;
	*) cp -- "$f" "$work/lib/modules/$(printf %02d $n)-$m.ko" ;;
	esac
done
cp -- "$here/vm-init.sh" "$work/init"
chmod 0755 "$work/init"
(cd "$work" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv -f -- "$out.tmp" "$out"
echo "vm-initramfs: built $out with $n modules"
