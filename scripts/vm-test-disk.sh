#!/bin/sh
# Builds a small bootable raw disk image for the VM tests and the benchmark,
# without the internet and without mounting anything: an MBR (syslinux's
# mbr.bin) and one FAT partition holding syslinux, the guest kernel and an
# initramfs whose /init prints ZOS-DISK-BOOT-OK and the size of its disk on
# the serial console, prints /etc/zos-marker of the disk when the disk is an
# ext4 file system (a root filesystem image booting its own kernel), prints
# the user-data and network-config of a FAT disk labelled cidata (the
# agent's cloud-init seed; the kernel's FAT modules are added), writes
# "guest-wrote-this" into sector 1 of the disk (before the partition, or in
# ext4's unused boot block) and then prints a tick every second.
#
#   scripts/vm-test-disk.sh KERNEL MODULES_INITRD OUT [INITRD_OUT]
#
# With INITRD_OUT the guest's initramfs is written there too.
# KERNEL is the guest kernel (the Debian cloud kernel of vm-test-assets.sh),
# MODULES_INITRD the VM initramfs built for it (its virtio modules and
# busybox are reused; a second cpio archive replaces its /init). Needs
# syslinux, syslinux-common, mtools, dosfstools and cpio.
# Exits 77 when a tool is missing.
set -eu
if [ $# -ne 3 ] && [ $# -ne 4 ]; then
	echo "usage: $0 KERNEL MODULES_INITRD OUT [INITRD_OUT]" >&2
	exit 2
fi
kernel=$1 base=$2 out=$3 rdout=${4:-}
mbr=/usr/lib/syslinux/mbr/mbr.bin
for t in syslinux mcopy mkfs.fat cpio od; do
	command -v "$t" >/dev/null 2>&1 || { echo "vm-test-disk: $t missing" >&2; exit 77; }
done
[ -f "$mbr" ] || { echo "vm-test-disk: $mbr missing (syslinux-common)" >&2; exit 77; }
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$work/root/lib/modules"
# FAT for the cloud-init seed, from the kernel's package tree when there.
mods=$(ls -d "$(dirname -- "$kernel")"/../lib/modules/* 2>/dev/null | tail -n 1)
for m in fat vfat nls_cp437 nls_ascii; do
	f=$(find "$mods/kernel/fs" -name "$m.ko" 2>/dev/null | head -n 1)
	[ -n "$f" ] && cp -- "$f" "$work/root/lib/modules/90-$m.ko"
done
cat >"$work/root/init" <<'INIT'
#!/bin/sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for _ in 1 2 3; do
	for m in /lib/modules/*.ko; do insmod "$m" 2>/dev/null; done
done
i=0
while [ ! -e /sys/block/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "ZOS-DISK-BOOT-OK" >/dev/console
echo "disk-bytes=$(($(cat /sys/block/vda/size) * 512))" >/dev/console
mkdir -p /mnt
if mount -t ext4 -o ro /dev/vda /mnt 2>/dev/null; then
	echo "marker=$(cat /mnt/etc/zos-marker)" >/dev/console
	umount /mnt
fi
for b in /sys/block/vd*; do
	d=/dev/${b##*/}
	[ "$d" = /dev/vda ] && continue
	if mount -t vfat -o ro "$d" /mnt 2>/dev/null; then
		[ -f /mnt/user-data ] && echo "seed-user: $(tr '\n' ' ' </mnt/user-data)" >/dev/console
		[ -f /mnt/network-config ] && echo "seed-net: $(cat /mnt/network-config)" >/dev/console
		umount /mnt
	fi
done
echo guest-wrote-this | dd of=/dev/vda bs=512 seek=1 conv=notrunc,fsync 2>/dev/null &&
	echo "disk-written" >/dev/console
i=0
while true; do
	echo "tick-$i" >/dev/console
	i=$((i + 1))
	sleep 1
done
INIT
chmod 0755 "$work/root/init"
(cd "$work/root" && find . -print | cpio -o -H newc --quiet) | gzip -1 >"$work/init.cpio.gz"
cat -- "$base" "$work/init.cpio.gz" >"$work/initrd.img"
[ -z "$rdout" ] || cp -- "$work/initrd.img" "$rdout"
cp -- "$kernel" "$work/vmlinuz"
cat >"$work/syslinux.cfg" <<'CFG'
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT linux
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=ttyS0 quiet panic=-1
CFG
# The partition: sizes in KiB, the FAT told it starts at sector 2048.
kib=$(($(du -k "$work/vmlinuz" | cut -f1) + $(du -k "$work/initrd.img" | cut -f1) + 4096))
mkfs.fat -n ZOSBOOT -h 2048 -C "$work/fat.img" "$kib" >/dev/null
syslinux --install "$work/fat.img"
MTOOLS_SKIP_CHECK=1 mcopy -i "$work/fat.img" "$work/vmlinuz" "$work/initrd.img" \
	"$work/syslinux.cfg" ::/
truncate -s 1M "$work/disk.raw"
cat "$work/fat.img" >>"$work/disk.raw"
# The partition entry (bootable, type 0x0c FAT32 LBA, CHS fields saturated:
# syslinux's MBR and SeaBIOS use the LBA fields) and the boot signature.
le32() { for s in 0 8 16 24; do printf "\\$(printf %o $((($1 >> s) & 255)))"; done; }
sectors=$((kib * 2))
{
	printf '\200\376\377\377\014\376\377\377'
	le32 2048
	le32 "$sectors"
} | dd of="$work/disk.raw" bs=1 seek=446 conv=notrunc 2>/dev/null
printf '\125\252' | dd of="$work/disk.raw" bs=1 seek=510 conv=notrunc 2>/dev/null
dd if="$mbr" of="$work/disk.raw" bs=440 count=1 conv=notrunc 2>/dev/null
mv -f -- "$work/disk.raw" "$out"
