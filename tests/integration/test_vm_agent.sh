#!/bin/bash
# A VM through the whole node: zos-agent on tfchain-dev with the [vm] keys
# (vm.accel = auto, so the KVM probe runs and falls back to TCG where guests
# do not run under KVM). //Charlie deploys a network, a container serving
# its /etc over HTTP and a zmachine VM booting the busybox image with
# SSH_KEY set, and a second VM whose image is an OCI reference pushed to a
# local docker-registry (two layers, the second deleting a file of the
# first; Entrypoint, Cmd, Env and WorkingDir from the image config). The
# VM's console shows its entrypoint, the key installed for
# root and the page fetched from the sibling container; the image VM's
# console shows the image's command run in its WorkingDir with its Env and
# the whiteout honoured; zos.statistics.get
# reports the acceleration; qemu runs as a non-root uid. kill -9 of the
# agent leaves the VM running; the restarted agent adopts it (state ok).
# Cancelling the contract removes the VM: no qemu, no supervisor, no files.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "VMs need root"
need_tools python3 jq qemu-system-x86_64
need_vm_assets

TMP=$(mktemp -d /tmp/vm-agent.XXXXXX)
# Container root is an unprivileged host id (user namespace): it must be able
# to pass through the directories down to its root filesystem.
chmod 0711 "$TMP"
CPID='' APID='' NPID='' REGPID=''
# shellcheck source=tests/integration/registry.sh
. "$(dirname "$0")/registry.sh"
T=$TMP
cleanup() {
	[ -n "$REGPID" ] && stop_pid "$REGPID"
	stop_node
	[ -n "$NPID" ] && stop_pid "$NPID"
	stop_vms
	rm -rf "$TMP"
}
trap cleanup EXIT
agent_conf
cat >>"$TMP/agent.conf" <<EOF
[vm]
kernel = $KERNEL
initrd = $INITRD
accel = auto
stop_timeout = 1
[reserved]
cru = 0
mru = 0
sru = 0
hru = 0
EOF
# The image VM: only where the registry tools are installed.
IMGVM=''
if why=$(reg_have_tools); then
	reg_start vmreg || fail "registry"
	REGPID=$REG_PID
	IMGREF="127.0.0.1:$REG_PORT/zos/vmimg:v1"
	gone_layer() { echo gone >"$1/etc/zos-gone" && mkdir -p "$1/srv/work"; }
	del_layer() { rm "$1/etc/zos-gone"; }
	IMGCMD='echo img-entry-$ZOS_IMAGE-$(pwd); [ -e /etc/zos-gone ] || echo whiteout-ok;'
	IMGCMD+=' while true; do sleep 1; done'
	{ oci_base "$TMP/lay" v1 && oci_layer "$TMP/lay" v1 gone_layer &&
		oci_layer "$TMP/lay" v1 del_layer &&
		umoci config --image "$TMP/lay:v1" --config.cmd=-c --config.cmd="$IMGCMD" \
			--config.workingdir /srv/work &&
		reg_push "$TMP/lay:v1" "$IMGREF"; } >"$TMP/img.log" 2>&1 ||
		fail "building the OCI image: $(tail -n 5 "$TMP/img.log")"
	printf '[images]\ninsecure = 127.0.0.1:%s\n' "$REG_PORT" >>"$TMP/agent.conf"
	IMGVM=1
else
	echo "note: no VM from an OCI reference ($why)"
fi
mkdir -p "$TMP/state/images" && chmod 0711 "$TMP/state"
sh scripts/make-busybox-image.sh "$TMP/state/images/busybox" >/dev/null || fail "busybox image"
node_identity
start_chain
# systemd's notify socket, to read the STATUS lines the agent sends.
notify_listen
NOTIFY_SOCKET="$TMP/notify.sock" "$AGENT" -d -f "$TMP/agent.conf" >"$TMP/agent.log" 2>&1 &
APID=$!
fund_node
make_farm bob vm_farm
wait_node
make_twins charlie
rmb() { "$CLI" rmb call "$TWIN" "$@" --dev charlie 2>"$TMP/err.txt"; }
engine_up() { rmb zos.statistics.get >"$TMP/stats.json"; }
wait_for 30 engine_up || fail "zos.statistics.get"
echo "ok: node $NODE registered, accel before the first VM: $(jq -r .vm_accel "$TMP/stats.json")"

SCRIPT='echo entry-$GREETING; cat /root/.ssh/authorized_keys;'
SCRIPT+=" for i in \$(seq 1 40); do printf 'GET /hosts HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc 10.88.1.3 8080"
SCRIPT+=' | grep -q localhost && echo reached-container && break; sleep 1; done;'
SCRIPT+=' i=0; while true; do echo tick-$i; i=$((i+1)); sleep 1; done'
cat >"$TMP/dep.json" <<EOF
{"version": 0, "metadata": "", "description": "vm",
 "workloads": [
  {"version": 0, "name": "net", "type": "network", "metadata": "", "description": "",
   "data": {"ip_range": "10.88.0.0/16", "subnet": "10.88.1.0/24",
            "wireguard_private_key": "", "wireguard_listen_port": 0, "peers": []}},
  {"version": 0, "name": "web", "type": "container", "metadata": "", "description": "",
   "data": {"image": "busybox", "entrypoint": ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"],
            "compute_capacity": {"cpu": 1, "memory": 67108864},
            "network": {"interfaces": [{"network": "net", "ip": "10.88.1.3"}]}}},
  {"version": 0, "name": "vm", "type": "zmachine", "metadata": "", "description": "",
   "data": {"image": "busybox", "size": 134217728,
            "compute_capacity": {"cpu": 1, "memory": 134217728},
            "env": {"GREETING": "from-vm", "SSH_KEY": "ssh-ed25519 AAAAvmagenttest user@laptop"},
            "network": {"interfaces": [{"network": "net", "ip": "10.88.1.2"}]},
            "entrypoint": ["/bin/sh", "-c", $(jq -Rn --arg s "$SCRIPT" '$s')]}}]}
EOF
T0=$(date +%s.%N)
"$CLI" deploy --node "$NODE" "$TMP/dep.json" --dev charlie --timeout 90 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
	fail "deploy: $(cat "$TMP/deploy.out")"
C1=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
[ -n "$C1" ] || fail "no contract id in: $(cat "$TMP/deploy.out")"
VMDIR="$TMP/state/containers/vms/zos-$C1-vm"
CONSOLE="$VMDIR/console.log"
wait_for 90 grep -q reached-container "$CONSOLE" || fail "VM console: $(cat "$CONSOLE" 2>/dev/null)"
echo "ok: deployed contract $C1 in $(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo '?') s; console:"
grep -E "entry-|ssh-ed25519|reached" "$CONSOLE" | sed 's/^/    /'
grep -q "entry-from-vm" "$CONSOLE" || fail "entrypoint output missing"
grep -q "ssh-ed25519 AAAAvmagenttest user@laptop" "$CONSOLE" || fail "SSH key not installed"
engine_up || fail "zos.statistics.get"
ACCEL=$(jq -r .vm_accel "$TMP/stats.json")
case "$ACCEL" in kvm* | tcg*) ;; *) fail "vm_accel after a VM: $ACCEL" ;; esac
wait_for 10 grep -q "^STATUS=registered: .*, vm accel $ACCEL" "$TMP/notify.log" ||
	fail "no 'vm accel $ACCEL' in STATUS: $(tail -n 3 "$TMP/notify.log")"
echo "ok: zos.statistics.get and systemd STATUS: vm accel $ACCEL"
QPID=$(cut -d' ' -f1 "$VMDIR/qemu.pid")
QUSER=$(ps -o user= -p "$QPID")
[ -n "$QUSER" ] && [ "$QUSER" != root ] || fail "qemu runs as '$QUSER'"
echo "ok: ps shows qemu (pid $QPID) running as uid $QUSER"

# ---- kill -9 of the agent: the VM keeps running and is adopted.
kill -9 "$APID"
wait "$APID" 2>/dev/null
APID=
N0=$(grep -c tick- "$CONSOLE")
sleep 2
[ "$(grep -c tick- "$CONSOLE")" -gt "$N0" ] || fail "VM stopped with the agent"
kill -0 "$QPID" || fail "qemu died with the agent"
start_agent
adopted() {
	"$CLI" deployment get --node "$NODE" --contract "$C1" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" &&
		[ "$(jq -r '.workloads[] | select(.name == "vm") | .state' "$TMP/get.json")" = ok ]
}
wait_for 60 adopted || fail "vm after the restart: $(cat "$TMP/get.json")"
[ "$(cut -d' ' -f1 "$VMDIR/qemu.pid")" = "$QPID" ] || fail "qemu was restarted, not adopted"
echo "ok: kill -9 of the agent left qemu $QPID running; the new agent adopted it"

# ---- Cancel: the VM goes away completely.
SPID=$(cut -d' ' -f1 "$VMDIR/supervisor.pid")
call charlie SmartContractModule cancel_contract "[$C1]" || fail "cancel_contract"
removed() {
	"$CLI" deployment get --node "$NODE" --contract "$C1" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" &&
		[ "$(jq -r '.workloads[] | select(.name == "vm") | .state' "$TMP/get.json")" = deleted ]
}
wait_for 60 removed || fail "vm not removed after cancel: $(cat "$TMP/get.json")"
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
alive "$QPID" && fail "qemu $QPID still runs"
alive "$SPID" && fail "supervisor $SPID still runs"
[ -e "$VMDIR" ] && fail "$VMDIR left behind"
ls "$TMP/state/volumes/vms/"*.img >/dev/null 2>&1 && fail "root disk left behind"
echo "ok: cancelled: no qemu, supervisor or VM file left"

# ---- A VM whose image is an OCI reference (a deployment of its own: the
# node has too few cpus for three workloads at once).
if [ -n "$IMGVM" ]; then
	T0=$(date +%s.%N)
	cat >"$TMP/dep2.json" <<EOF
{"version": 0, "metadata": "", "description": "vm from an image reference",
 "workloads": [
  {"version": 0, "name": "vmimg", "type": "zmachine", "metadata": "", "description": "",
   "data": {"image": "$IMGREF", "size": 134217728,
            "compute_capacity": {"cpu": 1, "memory": 134217728}}}]}
EOF
	"$CLI" deploy --node "$NODE" "$TMP/dep2.json" --dev charlie --timeout 90 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
		fail "deploy by reference: $(cat "$TMP/deploy.out" "$TMP/err.txt")"
	C2=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
	ICONSOLE="$TMP/state/containers/vms/zos-$C2-vmimg/console.log"
	wait_for 60 grep -q whiteout-ok "$ICONSOLE" || fail "image VM console: $(cat "$ICONSOLE" 2>/dev/null)"
	grep -q "img-entry-test-/srv/work" "$ICONSOLE" ||
		fail "image config's Entrypoint/Cmd/Env/WorkingDir not used: $(cat "$ICONSOLE")"
	grep -q "^$C2/vmimg sha256:" "$TMP/state/image-store/holds" ||
		fail "image not held for the VM: $(cat "$TMP/state/image-store/holds")"
	ls -d "$TMP/state/volumes/vms/"*.tree >/dev/null 2>&1 && fail "merged image tree left behind"
	echo "ok: VM from $IMGREF running in $(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo '?') s:"
	grep -E "img-entry|whiteout" "$ICONSOLE" | sed 's/^/    /'
	call charlie SmartContractModule cancel_contract "[$C2]" || fail "cancel_contract $C2"
	released() { ! grep -q "^$C2/" "$TMP/state/image-store/holds"; }
	wait_for 60 released || fail "image still held after cancel"
	collected() { [ -z "$(ls -A "$TMP/state/image-store/layers/sha256")" ]; }
	wait_for 20 collected ||
		fail "image not collected after cancel: $(ls -A "$TMP/state/image-store/layers/sha256")"
	echo "ok: cancelled: the image VM's hold released and its image collected"
fi
kill "$APID"
wait "$APID"
rc=$?
APID=
[ "$rc" = 0 ] || fail "agent exited with $rc on SIGTERM"
echo "ok"
exit 0
