# shellcheck shell=bash
# Shell helpers shared by the integration scripts that run tfchain-dev and
# zos-agent. This file is sourced, not run: its name does not match
# test_*.sh, so tests/run-tests.sh never executes it. A script sources it
# with
#	. "$(dirname "$0")/lib.sh"
# and the helpers read TMP (the script's scratch directory), AGENT, CHAIN
# and CLI (the programs, set by use_build) when called. A script that needs
# a different version of a helper defines its own after sourcing this file.
#
# The usual start of a script that runs a node:
#	use_build
#	need_root "the provisioners need root"
#	need_tools python3 jq
#	TMP=$(mktemp -d /tmp/NAME.XXXXXX)
#	trap stop_all EXIT
#	agent_conf            # $TMP/agent.conf; more sections with cat >>
#	node_identity         # SS58, ACCOUNT
#	start_chain           # CPID
#	fund_node; make_farm bob NAME_farm; make_twins charlie
#	start_agent           # APID
#	wait_node             # TWIN, NODE
#	wait_engine charlie
#
# Other programs a script starts in the background (listeners, proxies,
# registries) go into the array PIDS; stop_all stops them too.

# use_build [agent|chain|cli|imgtool ...]: sets AGENT, CHAIN and CLI to the
# programs in $BUILD (default build), and IMGTOOL to the image test tool
# (tests/image/imgtool, built by make tests); exits 1 when one of those
# named (default the three programs) is not built.
use_build() {
	: "${BUILD:=build}"
	AGENT="$BUILD/zos-agent"
	CHAIN="$BUILD/tfchain-dev"
	CLI="$BUILD/zos-cli"
	IMGTOOL="$BUILD/tests/image/imgtool"
	local p b how
	[ $# -gt 0 ] || set -- agent chain cli
	for p in "$@"; do
		how="make first"
		case $p in
		agent) b=$AGENT ;;
		chain) b=$CHAIN ;;
		imgtool) b=$IMGTOOL how="make tests" ;;
		*) b=$CLI ;;
		esac
		[ -x "$b" ] || { echo "missing $b (run $how)"; exit 1; }
	done
}

# need_root WHY: skips the test (exit 77) unless it runs as root.
need_root() {
	[ "$(id -u)" = 0 ] || { echo "skipped: $1"; exit 77; }
}

# need_tools TOOL...: skips the test (exit 77) unless each TOOL is on PATH.
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 77; }
	done
}

# stop_pid PID: TERM, then wait at most ~STOP_PID_TENTHS/10 s (default 25 s),
# then KILL.
stop_pid() {
	local p=$1
	kill "$p" 2>/dev/null || return 0
	for _ in $(seq 1 "${STOP_PID_TENTHS:-250}"); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

# ok MESSAGE: reports a check that passed.
ok() { echo "ok: $*"; }

# fail MESSAGE: prints it, the last command's stderr and the tails of
# agent.log and chain.log (or of the files of $TMP named in FAIL_LOGS), and
# exits 1.
fail() {
	local f
	echo "FAIL: $*"
	[ -s "$TMP/err.txt" ] && { echo "--- last command's stderr"; cat "$TMP/err.txt"; }
	for f in ${FAIL_LOGS:-agent.log chain.log}; do
		[ -f "$TMP/$f" ] && { echo "--- $f"; tail -n 40 "$TMP/$f"; }
	done
	exit 1
}

# free_port: prints a TCP port on 127.0.0.1 that is free now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# hex STRING: prints STRING's bytes as 0x-prefixed hex.
hex() { printf '0x%s' "$(printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n')"; }

# call WHO PALLET CALL ARGS...: submits as the dev account WHO; outcome JSON
# in $TMP/out.json, stderr in $TMP/err.txt.
call() {
	local who=$1
	shift
	"$CLI" chain call "$@" --dev "$who" >"$TMP/out.json" 2>"$TMP/err.txt"
}

# get ARGS...: reads chain storage (zos-cli chain get); stderr in $TMP/err.txt.
get() { "$CLI" chain get "$@" 2>"$TMP/err.txt"; }

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
	local n=$(($1 * 5))
	shift
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# wait_log SECONDS PATTERN [FILE]: polls until FILE (default $TMP/agent.log)
# has a line matching PATTERN (grep's basic regular expression).
wait_log() {
	wait_for "$1" grep -q -- "$2" "${3:-$TMP/agent.log}"
}

# port_open PORT: true when something accepts TCP connections on
# 127.0.0.1:PORT.
port_open() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
		"$1" 2>/dev/null
}

# wait_port SECONDS PORT: polls until 127.0.0.1:PORT accepts connections.
wait_port() {
	wait_for "$1" port_open "$2"
}

# start_chain [ARGS...]: runs tfchain-dev with ARGS (default --dev), RPC on
# 127.0.0.1:$CPORT (picked when unset), a block every ${BLOCK_MS:-200} ms,
# output to $TMP/chain.log; sets CPID, exports ZOS_CHAIN_URL, and fails
# unless the chain answers within 10 s.
start_chain() {
	[ -n "${CPORT:-}" ] || CPORT=$(free_port)
	export ZOS_CHAIN_URL="http://127.0.0.1:$CPORT"
	[ $# -gt 0 ] || set -- --dev
	"$CHAIN" "$@" --rpc-addr "127.0.0.1:$CPORT" --block-time "${BLOCK_MS:-200}" \
		>"$TMP/chain.log" 2>&1 &
	CPID=$!
	wait_for 10 get Timestamp Now >/dev/null || fail "tfchain-dev did not answer on port $CPORT"
}

# agent_conf [RPC_TIMEOUT [REPORT_INTERVAL [FARM]]]: writes $TMP/agent.conf
# for an agent of farm FARM (default 1) on the chain at $CPORT and with RMB
# on $RPORT (each picked when unset; ZOS_CHAIN_URL exported), its state in
# $TMP/state, volumes allowed unenforced, chain calls bounded by
# RPC_TIMEOUT (default 5) seconds and a capacity report every
# REPORT_INTERVAL (a duration, default 60 seconds).
# A script adds keys in more sections: cat >>"$TMP/agent.conf" (a section
# may appear again; a key may not).
agent_conf() {
	[ -n "${CPORT:-}" ] || CPORT=$(free_port)
	[ -n "${RPORT:-}" ] || RPORT=$(free_port)
	export ZOS_CHAIN_URL="http://127.0.0.1:$CPORT"
	cat >"$TMP/agent.conf" <<EOF
[chain]
url = http://127.0.0.1:$CPORT
rpc_timeout = ${1:-5}
[rmb]
listen = tcp://127.0.0.1:$RPORT
public_address = tcp://127.0.0.1:$RPORT
[node]
state_dir = $TMP/state
farm_id = ${3:-1}
report_interval = ${2:-60}
sync_interval = 60
[storage]
allow_unenforced_volumes = true
EOF
}

# node_identity: the identity of the agent of $TMP/agent.conf, in
# $TMP/id.json; sets SS58 (its address) and ACCOUNT (its account id).
node_identity() {
	"$AGENT" -f "$TMP/agent.conf" identity --json >"$TMP/id.json" 2>"$TMP/err.txt" ||
		fail "identity"
	SS58=$(jq -r .ss58_address "$TMP/id.json")
	ACCOUNT=$(jq -r .account_id "$TMP/id.json")
}

# fund_node: //Alice sends the node's account (SS58) 1000 TFT.
fund_node() {
	call alice Balances transfer_keep_alive "[\"$SS58\", \"1000000000000\"]" ||
		fail "funding the node"
}

# make_twins WHO...: a twin for each dev account WHO.
make_twins() {
	local w
	for w in "$@"; do
		call "$w" TfgridModule create_twin '[null, null]' || fail "$w create_twin"
	done
}

# make_farm WHO NAME: the dev account WHO's twin and its farm NAME (farm 1
# on a fresh chain).
make_farm() {
	make_twins "$1"
	call "$1" TfgridModule create_farm "[\"$(hex "$2")\", []]" || fail "create_farm"
}

# start_agent [ARGS...]: zos-agent -d -f $TMP/agent.conf ARGS in the
# background, its output appended to $TMP/agent.log; sets APID.
start_agent() {
	"$AGENT" -d -f "$TMP/agent.conf" "$@" >>"$TMP/agent.log" 2>&1 &
	APID=$!
}

# notify_listen: stands in for systemd's notify socket at $TMP/notify.sock
# (for an agent started with NOTIFY_SOCKET set to it), appending each
# message as one line to $TMP/notify.log (its newlines shown as " | ");
# sets NPID (the caller stops it) and fails unless the socket is there
# within 10 s.
notify_listen() {
	python3 - "$TMP/notify.sock" "$TMP/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode(errors="replace").replace("\n", " | ") + "\n")
EOF
	NPID=$!
	wait_for 10 test -S "$TMP/notify.sock" || fail "notify listener did not start"
}

# node_registered: true when the node's account (ACCOUNT) has a twin with a
# node; sets TWIN and NODE.
node_registered() {
	TWIN=$(get TfgridModule TwinIdByAccountID "\"$ACCOUNT\"") && [ -n "$TWIN" ] &&
		[ "$TWIN" != null ] && [ "$TWIN" != 0 ] &&
		NODE=$(get TfgridModule NodeIdByTwinID "$TWIN") && [ -n "$NODE" ] &&
		[ "$NODE" != 0 ] && [ "$NODE" != null ]
}

# wait_node [SECONDS]: waits (default 60 s) until the agent registered its
# twin and node; sets TWIN and NODE.
wait_node() {
	wait_for "${1:-60}" node_registered ||
		fail "the agent did not register its node: $(tail -5 "$TMP/agent.log")"
}

# wait_engine WHO [SECONDS]: waits (default 20 s) until the node (TWIN)
# answers WHO's zos.statistics.get over RMB: its deploy engine runs.
wait_engine() {
	wait_for "${2:-20}" "$CLI" rmb call "$TWIN" zos.statistics.get --dev "$1" \
		>/dev/null 2>"$TMP/err.txt" || fail "zos.statistics.get: $(cat "$TMP/err.txt")"
}

# stop_node: stops the agent (APID) and the chain (CPID) when started, a
# stopped (SIGSTOP) chain too.
stop_node() {
	[ -n "${APID:-}" ] && stop_pid "$APID"
	APID=
	[ -n "${CPID:-}" ] && { kill -CONT "$CPID" 2>/dev/null; stop_pid "$CPID"; }
	CPID=
}

# stop_all: the usual EXIT trap: stop_node, then stops each program in
# the array PIDS (when set), then removes TMP.
stop_all() {
	local p
	stop_node
	for p in ${PIDS[@]+"${PIDS[@]}"}; do stop_pid "$p"; done
	PIDS=()
	rm -rf "$TMP"
}

# need_pjs MODULE: sets PJS_DIR (default $BUILD/pjs) to a directory whose
# node_modules holds the pinned polkadot.js client of tests/integration/pjs
# (installed there with npm ci the first time) with MODULE in it; skips the
# test (exit 77) when node, npm or the registry is not there.
need_pjs() {
	need_tools node
	local src
	src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pjs"
	if [ -z "${PJS_DIR:-}" ]; then
		PJS_DIR="${BUILD:-build}/pjs"
		if [ ! -d "$PJS_DIR/node_modules/$1" ]; then
			need_tools npm
			mkdir -p "$PJS_DIR"
			cp "$src/package.json" "$src/package-lock.json" "$PJS_DIR/"
			if ! (cd "$PJS_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error \
				>npm.log 2>&1); then
				tail -n 5 "$PJS_DIR/npm.log"
				rm -rf "$PJS_DIR/node_modules"
				echo "skipped: could not install $1 from the npm registry"
				exit 77
			fi
		fi
	fi
	[ -d "$PJS_DIR/node_modules/$1" ] || { echo "skipped: $PJS_DIR has no $1 installed"; exit 77; }
}

# stop_agent_clean: SIGTERM to the agent (APID); fails unless it exits 0
# and $TMP/agent.log has no sanitizer report (a sanitized build reports
# leaks when it exits).
stop_agent_clean() {
	local rc
	kill "$APID"
	wait "$APID"
	rc=$?
	APID=
	[ "$rc" = 0 ] || fail "agent exited with $rc on SIGTERM"
	! grep -aq Sanitizer "$TMP/agent.log" || fail "agent: sanitizer report"
}

# stop_chain_clean: SIGTERM to the chain (CPID); fails when
# $TMP/chain.log has a sanitizer report.
stop_chain_clean() {
	kill "$CPID"
	wait "$CPID"
	CPID=
	! grep -aq Sanitizer "$TMP/chain.log" || fail "tfchain-dev: sanitizer report"
}

# chain_port LOG: waits (10 s at most) until a tfchain-dev started with
# --rpc-addr 127.0.0.1:0 has logged the port it got into LOG, and prints it.
chain_port() {
	local p
	for _ in $(seq 1 100); do
		p=$(sed -n 's/.*rpc listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$1")
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

# need_vm_assets: sets KERNEL and INITRD to a guest kernel and initramfs
# (scripts/vm-test-assets.sh, cached in $BUILD/vm-cache); skips the test
# (exit 77) when there is none.
need_vm_assets() {
	local assets rc
	assets=$(sh scripts/vm-test-assets.sh "${BUILD:-build}/vm-cache")
	rc=$?
	[ $rc = 0 ] || { echo "skipped: no guest kernel (vm-test-assets exited $rc)"; exit 77; }
	# shellcheck disable=SC2034 # read by the script
	KERNEL=$(echo "$assets" | sed -n 1p)
	# shellcheck disable=SC2034
	INITRD=$(echo "$assets" | sed -n 2p)
}

# stop_vms: what a failed run of the agent left under $TMP/state: the
# supervisors by their pid files, then any qemu that outlived them.
stop_vms() {
	local f
	for f in "$TMP"/state/containers/*/*/supervisor.pid; do
		[ -f "$f" ] && kill "$(cut -d' ' -f1 "$f")" 2>/dev/null
	done
	sleep 1
	for f in "$TMP"/state/containers/*/*/qemu.pid; do
		[ -f "$f" ] && kill -9 "$(cut -d' ' -f1 "$f")" 2>/dev/null
	done
}
