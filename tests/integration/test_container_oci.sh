#!/bin/bash
# A container deployed by image reference through the whole node: a local
# docker-registry holds a three-layer busybox image built here (a whiteout
# in the top layer, Entrypoint/Cmd/Env/WorkingDir in its config); //Charlie
# deploys a "container" workload naming only the image, the agent pulls it,
# the OCI runtime runs it in a user namespace (root inside, an unprivileged
# id outside), its output is read back over RMB with zos.deployment.logs
# (and refused to another twin), and cancelling the contract removes the
# container, its mounts and cgroups and releases the image.
set -u
: "${BUILD:=build}"
AGENT="$BUILD/zos-agent"
CHAIN="$BUILD/tfchain-dev"
CLI="$BUILD/zos-cli"
for b in "$AGENT" "$CHAIN" "$CLI"; do
	[ -x "$b" ] || { echo "missing $b (run make first)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "skipped: containers need root"; exit 77; }
for t in python3 jq runc; do
	command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 77; }
done

TMP=$(mktemp -d /tmp/ct-oci.XXXXXX)
# Container root (an unprivileged host id) must reach the bundles below.
chmod 0711 "$TMP"
T=$TMP
CPID= APID= RPID=
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/registry.sh
. "$(dirname "$0")/registry.sh"
reg_have_tools >"$TMP/tools.txt" || { echo "skipped: $(cat "$TMP/tools.txt")"; rm -rf "$TMP"; exit 77; }
# After a failure the container outlives the agent (as it is meant to):
# stop its supervisor, then whatever the runtime and the mounts still hold.
ct_cleanup() {
	local d p m
	for d in "$TMP"/state/containers/containers/*/; do
		[ -f "$d/supervisor.pid" ] || continue
		p=$(cut -d' ' -f1 "$d/supervisor.pid")
		[ -n "$p" ] && stop_pid "$p"
		runc --root "$TMP/state/containers/oci" delete --force "$(basename "$d")" 2>/dev/null
		ip netns del "$(basename "$d")" 2>/dev/null
	done
	grep " $TMP/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m"
	done
}
cleanup() {
	[ -n "$APID" ] && stop_pid "$APID"
	ct_cleanup
	[ -n "$CPID" ] && stop_pid "$CPID"
	[ -n "$RPID" ] && reg_stop "$RPID"
	rm -rf "$TMP"
}
trap cleanup EXIT
start=$(date +%s)

# ---- The image: busybox, a layer adding files, a layer deleting one.
add_files() {
	echo hello-from-layer >"$1/etc/hello"
	echo doomed >"$1/etc/gone"
	mkdir -p "$1/opt/work"
}
del_file() { rm "$1/etc/gone"; }
L=$TMP/oci
oci_base "$L" app && oci_layer "$L" app add_files && oci_layer "$L" app del_file ||
	fail "building the image"
umoci config --image "$L:app" --config.workingdir /opt/work \
	--config.cmd -c --config.cmd 'echo image-env=$ZOS_IMAGE; cat /etc/hello; test -e /etc/gone && echo GONE_VISIBLE; echo cwd=$(pwd); echo uid=$(id -u); echo ready; exec sleep 1000' ||
	fail "image config"
reg_start reg || fail "registry"
RPID=$reg_pid
REG=127.0.0.1:$reg_port
reg_push "$L:app" "$REG/test/app:v1" || fail "push"
echo "ok: image pushed to $REG ($(($(date +%s) - start)) s)"

# ---- Chain and agent.
CPORT=$(free_port)
RPORT=$(free_port)
export ZOS_CHAIN_URL="http://127.0.0.1:$CPORT"
cat >"$TMP/agent.conf" <<EOF
[chain]
url = http://127.0.0.1:$CPORT
rpc_timeout = 5
[rmb]
listen = tcp://127.0.0.1:$RPORT
public_address = tcp://127.0.0.1:$RPORT
[node]
state_dir = $TMP/state
farm_id = 1
report_interval = 60
sync_interval = 60
[storage]
allow_unenforced_volumes = true
[containers]
runtime = auto
rootfs_size = 64M
[images]
insecure = $REG
EOF
mkdir -p "$TMP/state" && chmod 0711 "$TMP/state"
"$CHAIN" --dev --rpc-addr "127.0.0.1:$CPORT" --block-time 200 >"$TMP/chain.log" 2>&1 &
CPID=$!
wait_for 10 get Timestamp Now >/dev/null || fail "tfchain-dev did not answer"
"$AGENT" -f "$TMP/agent.conf" identity --json >"$TMP/id.json" 2>"$TMP/err.txt" || fail "identity"
SS58=$(jq -r .ss58_address "$TMP/id.json")
ACCOUNT=$(jq -r .account_id "$TMP/id.json")
call alice Balances transfer_keep_alive "[\"$SS58\", \"1000000000000\"]" || fail "funding the node"
call bob TfgridModule create_twin '[null, null]' || fail "bob create_twin"
call bob TfgridModule create_farm "[\"$(hex ct_farm)\", []]" || fail "create_farm"
call charlie TfgridModule create_twin '[null, null]' || fail "charlie create_twin"
call dave TfgridModule create_twin '[null, null]' || fail "dave create_twin"
"$AGENT" -d -f "$TMP/agent.conf" >"$TMP/agent.log" 2>&1 &
APID=$!
twin_of() { get TfgridModule TwinIdByAccountID "\"$1\""; }
has_node() {
	local t v
	t=$(twin_of "$ACCOUNT") && [ -n "$t" ] && [ "$t" != null ] && [ "$t" != 0 ] &&
		v=$(get TfgridModule NodeIdByTwinID "$t") && [ -n "$v" ] && [ "$v" != 0 ] && [ "$v" != null ]
}
wait_for 60 has_node || fail "the agent did not register its node"
NODE=$(get TfgridModule NodeIdByTwinID "$(twin_of "$ACCOUNT")")
grep -q "containers: OCI runtime runc" "$TMP/agent.log" || fail "the runtime choice is not logged"
# zos-cli deploy checks the node over RMB before it pays: wait until the
# node's message bus and engine answer.
engine_up() { "$CLI" rmb call "$(twin_of "$ACCOUNT")" zos.statistics.get --dev charlie >/dev/null 2>"$TMP/err.txt"; }
wait_for 30 engine_up || fail "the node does not answer zos.statistics.get over RMB"
echo "ok: node $NODE up, $(grep -o 'containers: OCI runtime [a-z]*' "$TMP/agent.log")"

# ---- Deploy by reference: no entrypoint, the image's config decides.
cat >"$TMP/dep.json" <<EOF
{"version": 0, "metadata": "", "description": "oci",
 "workloads": [{"version": 0, "name": "app", "type": "container", "metadata": "",
   "description": "", "data": {"image": "$REG/test/app:v1",
   "env": {"EXTRA": "1"}, "compute_capacity": {"cpu": 1, "memory": 67108864}}}]}
EOF
"$CLI" deploy --node "$NODE" "$TMP/dep.json" --dev charlie --timeout 120 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
	fail "deploy: $(cat "$TMP/deploy.out")"
C1=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
grep -q "^deployed: contract $C1" "$TMP/deploy.out" || fail "deploy output: $(cat "$TMP/deploy.out")"
echo "ok: contract $C1 deployed by reference ($(($(date +%s) - start)) s)"

logs() { "$CLI" deployment logs --node "$NODE" "$C1" app --tail "${1:-100}" --dev "${2:-charlie}" 2>"$TMP/err.txt"; }
ready() { logs >"$TMP/logs.txt" && grep -q '^ready$' "$TMP/logs.txt"; }
wait_for 30 ready || fail "no output over RMB: $(cat "$TMP/logs.txt")"
grep -qx 'image-env=test' "$TMP/logs.txt" || fail "image Env not applied: $(cat "$TMP/logs.txt")"
grep -qx 'hello-from-layer' "$TMP/logs.txt" || fail "second layer missing: $(cat "$TMP/logs.txt")"
grep -q GONE_VISIBLE "$TMP/logs.txt" && fail "the whiteout of the top layer is not honoured"
grep -qx 'cwd=/opt/work' "$TMP/logs.txt" || fail "image WorkingDir not applied: $(cat "$TMP/logs.txt")"
grep -qx 'uid=0' "$TMP/logs.txt" || fail "not root inside: $(cat "$TMP/logs.txt")"
echo "ok: Entrypoint/Cmd/Env/WorkingDir from the image, three layers with a whiteout, root inside"
# The supervisor's own note may come after the container's last line.
[ "$(logs 3 | grep -c .)" = 3 ] && logs 3 | grep -qx ready || fail "--tail 3: $(logs 3)"
logs 5 dave >/dev/null && fail "another twin read the logs"
grep -q "404" "$TMP/err.txt" || fail "another twin: expected 404: $(cat "$TMP/err.txt")"
echo "ok: zos.deployment.logs (--tail, refused to another twin)"

# ---- Seen from the host, container root is an unprivileged id.
CDIR=$(echo "$TMP"/state/containers/containers/zos-"$C1"-app)
[ -d "$CDIR" ] || CDIR=$(find "$TMP/state" -maxdepth 3 -type d -name "zos-$C1-app" | head -n 1)
[ -f "$CDIR/container.pid" ] || fail "no container.pid under $TMP/state"
CPIDC=$(cut -d' ' -f1 "$CDIR/container.pid")
HUID=$(awk '/^Uid:/ {print $2}' "/proc/$CPIDC/status")
[ -n "$HUID" ] && [ "$HUID" -ge 65536 ] || fail "host uid of the container's process is $HUID"
echo "ok: the container's root is host uid $HUID"

# ---- Cancel: everything goes, the image is released.
call charlie SmartContractModule cancel_contract "[$C1]" || fail "cancel_contract"
removed() {
	"$CLI" deployment get --node "$NODE" --contract "$C1" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" &&
		[ "$(jq -r '.workloads[0].state' "$TMP/get.json")" = deleted ]
}
wait_for 30 removed || fail "not removed after cancel: $(cat "$TMP/get.json")"
[ -e "$CDIR" ] && fail "$CDIR left after cancel"
kill -0 "$CPIDC" 2>/dev/null && fail "the container's process outlived the cancel"
grep -q "$TMP" /proc/self/mountinfo && fail "mounts left: $(grep "$TMP" /proc/self/mountinfo)"
grep -q "zos-$C1-app" "$TMP"/state/image-store/holds 2>/dev/null && fail "the image is still held"
echo "ok: cancelled: container, mounts and hold gone ($(($(date +%s) - start)) s)"

stop_pid "$APID"
APID=
echo "ok"
exit 0
