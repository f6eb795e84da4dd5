#!/bin/bash
# VMs that bring their own kernel, through the whole node: zos-agent on
# tfchain-dev pulls them from a local docker-registry.
#  1. A whole bootable disk (MBR, syslinux, the Debian cloud kernel, a
#     busybox initramfs: scripts/vm-test-disk.sh) pushed as an OCI artifact
#     whose only layer has the media type application/vnd.zos.vm.disk.raw.
#     The firmware boots it: the console shows its marker and a disk grown to
#     the workload's size; the guest's write lands in the VM's own disk, the
#     cached disk in the image store still matches its digest; cancelling
#     removes the VM and collects the image.
#  2. The same disk as qcow2, the only file of an ordinary one-layer image
#     (umoci, skopeo): booted the same way.
#  3. An ordinary OCI image (busybox) with /boot/vmlinuz-<v> and
#     /boot/initrd.img-<v> and no entrypoint in the workload: it boots its
#     own kernel and initramfs with its ext4 root disk as /dev/vda (the
#     console shows a marker file of the image, read from that disk).
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "VMs need root"
need_tools python3 jq curl sha256sum qemu-system-x86_64 qemu-img
need_vm_assets

TMP=$(mktemp -d /tmp/vm-images.XXXXXX)
chmod 0711 "$TMP"
CPID='' APID='' REGPID=''
# shellcheck source=tests/integration/registry.sh
. "$(dirname "$0")/registry.sh"
T=$TMP
cleanup() {
	[ -n "$REGPID" ] && stop_pid "$REGPID"
	stop_node
	stop_vms
	rm -rf "$TMP"
}
trap cleanup EXIT
why=$(reg_have_tools) || { echo "skipped: $why"; exit 77; }
sh scripts/vm-test-disk.sh "$KERNEL" "$INITRD" "$TMP/disk.raw" "$TMP/guest-initrd.img" \
	>"$TMP/disk.log" 2>&1
rc=$?
[ $rc = 77 ] && { echo "skipped: $(cat "$TMP/disk.log")"; exit 77; }
[ $rc = 0 ] || fail "building the disk: $(cat "$TMP/disk.log")"
reg_start vmimgreg || fail "registry"
REGPID=$REG_PID
REG="127.0.0.1:$REG_PORT"

# ---- The disk artifact, pushed with the registry API (blob uploads, then
# the manifest): the config is the OCI empty descriptor.
push_blob() { # FILE REPO -> prints the digest
	local d loc
	d="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
	loc=$(curl -sS -o /dev/null -D - -X POST "http://$REG/v2/$2/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	[ -n "$loc" ] || return 1
	case $loc in http*) ;; *) loc="http://$REG$loc" ;; esac
	case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
	curl -sSf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary "@$1" "$loc" || return 1
	echo "$d"
}
printf '{}' >"$TMP/empty.json"
CFGD=$(push_blob "$TMP/empty.json" zos/disk) || fail "pushing the config blob"
DISKD=$(push_blob "$TMP/disk.raw" zos/disk) || fail "pushing the disk blob"
cat >"$TMP/manifest.json" <<EOF
{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
 "artifactType": "application/vnd.zos.vm.disk.raw",
 "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "$CFGD", "size": 2},
 "layers": [{"mediaType": "application/vnd.zos.vm.disk.raw", "digest": "$DISKD",
             "size": $(stat -c %s "$TMP/disk.raw")}]}
EOF
curl -sSf -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	--data-binary "@$TMP/manifest.json" "http://$REG/v2/zos/disk/manifests/v1" ||
	fail "pushing the manifest: $(tail -n 5 "$TMP/vmimgreg.log")"
DISKREF="$REG/zos/disk:v1"

# ---- The image with its own kernel (umoci layout, pushed with skopeo).
VER=$(basename "$KERNEL" | sed 's/^vmlinuz-//')
kernel_layer() {
	mkdir -p "$1/boot" && cp "$KERNEL" "$1/boot/vmlinuz-$VER" &&
		cp "$TMP/guest-initrd.img" "$1/boot/initrd.img-$VER" &&
		echo own-kernel-root >"$1/etc/zos-marker"
}
{ oci_base "$TMP/lay" v1 && oci_layer "$TMP/lay" v1 kernel_layer &&
	reg_push "$TMP/lay:v1" "$REG/zos/kimg:v1"; } >"$TMP/img.log" 2>&1 ||
	fail "building the kernel image: $(tail -n 5 "$TMP/img.log")"
KREF="$REG/zos/kimg:v1"

# ---- The disk as the only file of a plain image.
qemu-img convert -q -f raw -O qcow2 "$TMP/disk.raw" "$TMP/disk.qcow2" || fail "qemu-img convert"
{ umoci init --layout "$TMP/qlay" && umoci new --image "$TMP/qlay:v1" &&
	umoci unpack --image "$TMP/qlay:v1" "$TMP/qb" &&
	cp "$TMP/disk.qcow2" "$TMP/qb/rootfs/disk.qcow2" &&
	umoci repack --image "$TMP/qlay:v1" "$TMP/qb" &&
	reg_push "$TMP/qlay:v1" "$REG/zos/qdisk:v1"; } >"$TMP/qimg.log" 2>&1 ||
	fail "building the qcow2 image: $(tail -n 5 "$TMP/qimg.log")"
QREF="$REG/zos/qdisk:v1"

agent_conf
cat >>"$TMP/agent.conf" <<EOF
[vm]
kernel = $KERNEL
initrd = $INITRD
accel = tcg
stop_timeout = 1
[images]
insecure = $REG
[metrics]
listen =
[reserved]
cru = 0
mru = 0
sru = 0
hru = 0
EOF
mkdir -p "$TMP/state" && chmod 0711 "$TMP/state"
node_identity
start_chain
start_agent
fund_node
make_farm bob vmimg_farm
wait_node
make_twins charlie
wait_engine charlie 30

# deploy NAME IMAGE SIZE: sets C to the contract id
deploy() {
	cat >"$TMP/dep.json" <<EOF
{"version": 0, "metadata": "", "description": "vm image",
 "workloads": [
  {"version": 0, "name": "$1", "type": "zmachine", "metadata": "", "description": "",
   "data": {"image": "$2", "size": $3, "compute_capacity": {"cpu": 1, "memory": 134217728}}}]}
EOF
	"$CLI" deploy --node "$NODE" "$TMP/dep.json" --dev charlie --timeout 120 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
		fail "deploy $2: $(cat "$TMP/deploy.out" "$TMP/err.txt")"
	C=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
	[ -n "$C" ] || fail "no contract id in: $(cat "$TMP/deploy.out")"
}
# cancel CONTRACT NAME: the VM, its files and its image go away.
cancel() {
	local vmdir="$TMP/state/containers/vms/zos-$1-$2"
	call charlie SmartContractModule cancel_contract "[$1]" || fail "cancel_contract $1"
	removed() {
		"$CLI" deployment get --node "$NODE" --contract "$1" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" &&
			[ "$(jq -r ".workloads[] | select(.name == \"$2\") | .state" "$TMP/get.json")" = deleted ]
	}
	wait_for 60 removed "$1" "$2" || fail "$2 not removed after cancel: $(cat "$TMP/get.json")"
	[ -e "$vmdir" ] && fail "$vmdir left behind"
	ls "$TMP/state/volumes/vms/zos-$1-$2".* >/dev/null 2>&1 &&
		fail "root disk files left behind: $(ls "$TMP/state/volumes/vms/")"
	collected() { [ -z "$(ls -A "$TMP/state/image-store/layers/sha256")" ]; }
	wait_for 20 collected || fail "image not collected: $(ls -A "$TMP/state/image-store/layers/sha256")"
}

# ---- 1. The disk artifact.
T0=$(date +%s.%N)
SIZE=134217728
deploy disk "$DISKREF" $SIZE
C1=$C
CONSOLE="$TMP/state/containers/vms/zos-$C1-disk/console.log"
wait_for 90 grep -q tick-1 "$CONSOLE" || fail "disk VM console: $(cat "$CONSOLE" 2>/dev/null)"
echo "ok: disk image VM (contract $C1) at its console marker in $(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo '?') s:"
grep -aE "SYSLINUX|ZOS-DISK|disk-" "$CONSOLE" | sed 's/^/    /'
grep -q ZOS-DISK-BOOT-OK "$CONSOLE" || fail "no boot marker"
grep -q "disk-bytes=$SIZE" "$CONSOLE" || fail "the guest's disk is not $SIZE bytes"
grep -q disk-written "$CONSOLE" || fail "the guest did not write its disk"
"$CLI" deployment get --node "$NODE" --contract "$C1" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt"
[ "$(jq -r '.workloads[0].result.data.boot // .workloads[0].result.boot // empty' "$TMP/get.json")" = disk ] ||
	fail "result does not say boot disk: $(jq -c '.workloads[0].result' "$TMP/get.json")"
ROOT="$TMP/state/volumes/vms/zos-$C1-disk.img"
[ "$(dd if="$ROOT" bs=512 skip=1 count=1 2>/dev/null | head -c 16)" = guest-wrote-this ] ||
	fail "the guest's write is not in its root disk"
CACHED="$TMP/state/image-store/layers/sha256/${DISKD#sha256:}/disk.raw"
[ -f "$CACHED" ] || fail "no cached disk at $CACHED"
[ "sha256:$(sha256sum "$CACHED" | cut -d' ' -f1)" = "$DISKD" ] || fail "the cached disk changed"
echo "ok: guest wrote its own disk; the cached disk still matches $DISKD"
cancel "$C1" disk
echo "ok: cancelled: no VM file left, image collected"

# ---- 2. The qcow2 file of a plain image.
T0=$(date +%s.%N)
deploy qdisk "$QREF" $SIZE
C3=$C
CONSOLE="$TMP/state/containers/vms/zos-$C3-qdisk/console.log"
wait_for 90 grep -q tick-1 "$CONSOLE" || fail "qcow2 VM console: $(cat "$CONSOLE" 2>/dev/null)"
echo "ok: qcow2-in-an-image VM (contract $C3) at its console marker in $(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo '?') s"
grep -q "disk-bytes=$SIZE" "$CONSOLE" || fail "the guest's disk is not $SIZE bytes"
[ "$(cat "$TMP/state/volumes/vms/zos-$C3-qdisk.img.boot")" = disk ] || fail "not booted as a disk"
cancel "$C3" qdisk
echo "ok: cancelled"

# ---- 3. The image with its own kernel.
T0=$(date +%s.%N)
deploy kvm "$KREF" $SIZE
C2=$C
CONSOLE="$TMP/state/containers/vms/zos-$C2-kvm/console.log"
wait_for 90 grep -q tick-1 "$CONSOLE" || fail "kernel VM console: $(cat "$CONSOLE" 2>/dev/null)"
echo "ok: own-kernel VM (contract $C2) at its console marker in $(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo '?') s:"
grep -aE "ZOS-DISK|disk-|marker=" "$CONSOLE" | sed 's/^/    /'
grep -q "marker=own-kernel-root" "$CONSOLE" || fail "the image's root disk was not /dev/vda"
grep -q "disk-bytes=$SIZE" "$CONSOLE" || fail "the root disk is not $SIZE bytes"
grep -q "zos-init" "$CONSOLE" && fail "the node's initramfs ran, not the image's"
[ "$(cat "$TMP/state/volumes/vms/zos-$C2-kvm.img.boot")" = kernel ] || fail "boot mode not recorded"
"$CLI" deployment get --node "$NODE" --contract "$C2" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt"
[ "$(jq -r '.workloads[0].result.data.boot // .workloads[0].result.boot // empty' "$TMP/get.json")" = kernel ] ||
	fail "result does not say boot kernel: $(jq -c '.workloads[0].result' "$TMP/get.json")"
cancel "$C2" kvm
echo "ok: cancelled"
kill "$APID"
wait "$APID"
rc=$?
APID=
[ "$rc" = 0 ] || fail "agent exited with $rc on SIGTERM"
echo "ok"
exit 0
