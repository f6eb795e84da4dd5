#!/bin/sh
# /init of the VM initramfs (built by scripts/vm-initramfs.sh). It runs as
# pid 1 inside the guest and stays pid 1: it loads the virtio modules, mounts
# the workload's root disk (virtio-blk, serial "zos-root") and its
# configuration disk (serial "zos-cfg", written by the agent), sets up the
# network, mounts the zmount disks and virtiofs volumes, installs SSH_KEY for root and runs the
# entrypoint chrooted into the root disk with its output on the serial
# console. When the entrypoint ends the guest powers off, and the agent's
# supervisor restarts it with backoff.
#
# The configuration disk holds one file per value, so no value is ever
# parsed by this shell: args/0.., env/<NAME>, net/<i>/addr (a.b.c.d/n),
# net/0/gw, mounts/<i>/path with mounts/<i>/serial (a disk) or
# mounts/<i>/tag (a virtiofs volume), hostname, workdir.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "[zos-init] $*" >/dev/console; }
die() {
	say "fatal: $*"
	sync
	poweroff -f
}
case " $(cat /proc/cmdline) " in
*" zos.probe=1 "*)
	echo "ZOS-VM-PROBE-OK" >/dev/console
	poweroff -f
	;;
esac
# A module whose dependency is not loaded yet fails; a few passes load all.
for _ in 1 2 3; do
	for m in /lib/modules/*.ko; do
		insmod "$m" 2>/dev/null
	done
done
# Block devices by their virtio serial number.
dev_of() {
	for s in /sys/block/vd*/serial; do
		[ -f "$s" ] || continue
		if [ "$(cat "$s")" = "$1" ]; then
			d=${s%/serial}
			echo "/dev/${d##*/}"
			return 0
		fi
	done
	return 1
}
i=0
while ! dev_of zos-cfg >/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
cfgdev=$(dev_of zos-cfg) || die "no configuration disk"
rootdev=$(dev_of zos-root) || die "no root disk"
mount -t ext4 -o ro "$cfgdev" /cfg || die "cannot mount the configuration disk"
mount -t ext4 "$rootdev" /newroot || die "cannot mount the root disk"
[ -f /cfg/hostname ] && hostname "$(cat /cfg/hostname)"
ip link set lo up
n=0
while [ -f "/cfg/net/$n/addr" ]; do
	ip addr add "$(cat "/cfg/net/$n/addr")" dev "eth$n" || say "eth$n: cannot set address"
	ip link set "eth$n" up
	n=$((n + 1))
done
[ -f /cfg/net/0/gw ] && ip route add default via "$(cat /cfg/net/0/gw)"
n=0
while [ -f "/cfg/mounts/$n/path" ]; do
	p=$(cat "/cfg/mounts/$n/path")
	mkdir -p "/newroot$p"
	if [ -f "/cfg/mounts/$n/tag" ]; then
		# A volume, shared by the host's virtiofsd.
		mount -t virtiofs "$(cat "/cfg/mounts/$n/tag")" "/newroot$p" ||
			say "cannot mount volume on $p"
	else
		d=$(dev_of "$(cat "/cfg/mounts/$n/serial")") || die "disk for $p missing"
		mount -t ext4 "$d" "/newroot$p" || say "cannot mount $d on $p"
	fi
	n=$((n + 1))
done
for f in proc sys dev; do
	mkdir -p "/newroot/$f"
done
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
if [ -f /cfg/env/SSH_KEY ]; then
	mkdir -p /newroot/root/.ssh
	chmod 0700 /newroot/root/.ssh
	cat /cfg/env/SSH_KEY >/newroot/root/.ssh/authorized_keys
	echo >>/newroot/root/.ssh/authorized_keys
	chmod 0600 /newroot/root/.ssh/authorized_keys
fi
set --
n=0
while [ -f "/cfg/args/$n" ]; do
	set -- "$@" "$(cat "/cfg/args/$n")"
	n=$((n + 1))
done
[ $# -gt 0 ] || die "no entrypoint"
say "starting $1"
(
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
	if [ -d /cfg/env ]; then
		for f in /cfg/env/*; do
			[ -f "$f" ] || continue
			export "${f##*/}=$(cat "$f")"
		done
	fi
	# The image's WorkingDir (images by reference): busybox's chroot
	# always starts in /, so the image's own shell changes directory.
	wd=
	[ -f /cfg/workdir ] && wd=$(cat /cfg/workdir)
	if [ -n "$wd" ] && [ "$wd" != / ]; then
		mkdir -p "/newroot$wd"
		if [ -e /newroot/bin/sh ] || [ -L /newroot/bin/sh ]; then
			exec chroot /newroot /bin/sh -c 'cd "$0" && exec "$@"' "$wd" "$@"
		fi
		say "no /bin/sh in the image: working directory $wd ignored"
	fi
	exec chroot /newroot "$@"
) </dev/console >/dev/console 2>&1
say "entrypoint exited with status $?"
sync
umount /newroot/proc /newroot/sys /newroot/dev 2>/dev/null
poweroff -f
