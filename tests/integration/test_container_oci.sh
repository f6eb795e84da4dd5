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
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "containers need root"
need_tools python3 jq runc

TMP=$(mktemp -d /tmp/ct-oci.XXXXXX)
# Container root (an unprivileged host id) must reach the bundles below.
chmod 0711 "$TMP"
T=$TMP
CPID= APID= RPID=
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
	stop_node
	ct_cleanup
	[ -n "$RPID" ] && stop_pid "$RPID"
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
agent_conf
cat >>"$TMP/agent.conf" <<EOF
[containers]
runtime = auto
rootfs_size = 64M
[images]
insecure = $REG
EOF
mkdir -p "$TMP/state" && chmod 0711 "$TMP/state"
start_chain
node_identity
fund_node
make_farm bob ct_farm
make_twins charlie dave
start_agent
wait_node
grep -q "containers: OCI runtime runc" "$TMP/agent.log" || fail "the runtime choice is not logged"
# zos-cli deploy checks the node over RMB before it pays: wait until the
# node's message bus and engine answer.
wait_engine charlie 30
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
