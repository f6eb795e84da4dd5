#!/bin/bash
# End-to-end deploys per second: starts tfchain-dev (100 ms blocks) and a
# real zos-agent on free loopback ports in a temporary directory, registers
# the node (//Alice funds it, //Bob creates farm 1, the agent registers its
# twin and node itself), then runs bench_deploy: 1, 8 and 64 concurrent
# users deploying one-zmount deployments, with the operation floor of one
# deploy (crypto, one durable commit on the state directory's file system,
# one nng round trip, two chain round trips) measured in the same run, and
# the agent's chain requests and store syncs per deploy read from its
# /metrics. Needs root (the agent's provisioners), python3 and jq.
#
#   BUILD=build bench/bench_deploy.sh [LEVELS (1,8,64)] [SECONDS_PER_LEVEL (20)]
#
# BLOCK_MS=100 sets the block time; KEEP_LOG=FILE keeps the agent's log;
# AGENT=PATH runs another agent binary (e.g. an experimental build);
# CHAIN_SCHEME=http makes the agent use HTTP instead of WebSocket (ws, as a
# real node's wss:// endpoint).
# TRACE_DIR=DIR traces each deploy: the chain logs at info (each block's
# build time), the agent at debug (each submission's contract ids), and
# DIR gets deploys.csv (bench_deploy --trace), chain.log and agent.log;
# bench/deploy_trace.py DIR prints the latency breakdown.
# BENCH_DIR=DIR puts the temporary directory (the agent's state, its
# zmounts, the floor's commit) on DIR's file system instead of /tmp: a
# file system of its own keeps other processes' file churn out of the
# figures (docs/performance.md, "Deploy engine").
set -u
: "${BUILD:=build}"
: "${BLOCK_MS:=100}"
: "${CHAIN_SCHEME:=ws}"
LEVELS=${1:-1,8,64}
SECS=${2:-20}
AGENT=${AGENT:-$BUILD/zos-agent}
CHAIN="$BUILD/tfchain-dev"
CLI="$BUILD/zos-cli"
LOAD="$BUILD/bench/bench_deploy"
for b in "$AGENT" "$CHAIN" "$CLI" "$LOAD"; do
	[ -x "$b" ] || { echo "missing $b (run make BUILD=$BUILD bench first)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "skipped: the agent's provisioners need root"; exit 77; }
for t in python3 jq; do
	command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 77; }
done

TMP=$(mktemp -d "${BENCH_DIR:-/tmp}/bench-deploy.XXXXXX")
# ext4 without a journal does not reuse an inode deleted within the last 5 s,
# or 300 s while its inode table block is dirty: every file created scans
# past all of them (a previous run's deleted zmounts, other programs' files in
# /tmp), up to ~1 ms of the agent's CPU per zmount. Writing those blocks back
# now leaves only what is deleted during the run to skip.
sync -f "$TMP"
CPID= APID=
stop_pid() { # pid: TERM, then wait at most ~25 s, then KILL
	local p=$1
	kill "$p" 2>/dev/null || return 0
	for _ in $(seq 1 250); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}
cleanup() {
	[ -n "$APID" ] && stop_pid "$APID"
	[ -n "$CPID" ] && stop_pid "$CPID"
	[ -n "${KEEP_LOG:-}" ] && cp "$TMP/agent.log" "$KEEP_LOG"
	[ -n "${TRACE_DIR:-}" ] && cp "$TMP/agent.log" "$TMP/chain.log" "$TRACE_DIR/"
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	[ -s "$TMP/err.txt" ] && { echo "--- last command's stderr"; cat "$TMP/err.txt"; }
	echo "--- agent.log"
	tail -n 30 "$TMP/agent.log" 2>/dev/null
	echo "--- chain.log"
	tail -n 10 "$TMP/chain.log" 2>/dev/null
	exit 1
}
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
hex() { printf '0x%s' "$(printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n')"; }
call() { # who pallet call args
	local who=$1
	shift
	"$CLI" chain call "$@" --dev "$who" >"$TMP/out.json" 2>"$TMP/err.txt"
}
get() { "$CLI" chain get "$@" 2>"$TMP/err.txt"; }
wait_for() { # SECONDS CMD...: polls CMD every 0.2 s
	local n=$(($1 * 5))
	shift
	for _ in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

AGENT_LOG_LEVEL=info CHAIN_LOG_LEVEL=warn
[ -n "${TRACE_DIR:-}" ] && AGENT_LOG_LEVEL=debug CHAIN_LOG_LEVEL=info
CPORT=$(free_port)
RPORT=$(free_port)
MPORT=$(free_port)
export ZOS_CHAIN_URL="http://127.0.0.1:$CPORT"
cat >"$TMP/agent.conf" <<CONF
[chain]
url = $CHAIN_SCHEME://127.0.0.1:$CPORT
rpc_timeout = 5
[rmb]
listen = tcp://127.0.0.1:$RPORT
listen = ipc://$TMP/rmb.sock
public_address = tcp://127.0.0.1:$RPORT
[node]
state_dir = $TMP/state
farm_id = 1
report_interval = 3600
sync_interval = 3600
[metrics]
listen = 127.0.0.1:$MPORT
[log]
level = $AGENT_LOG_LEVEL
[storage]
allow_unenforced_volumes = true
[reserved]
cru = 0
mru = 0
sru = 0
hru = 0
CONF
"$AGENT" -f "$TMP/agent.conf" identity --json >"$TMP/id.json" 2>"$TMP/err.txt" || fail "identity"
SS58=$(jq -r .ss58_address "$TMP/id.json")
ACCOUNT=$(jq -r .account_id "$TMP/id.json")

TRACE_ARGS=()
if [ -n "${TRACE_DIR:-}" ]; then
	mkdir -p "$TRACE_DIR" || fail "TRACE_DIR $TRACE_DIR"
	TRACE_ARGS=(--trace "$TRACE_DIR/deploys.csv")
fi
"$CHAIN" --dev --rpc-addr "127.0.0.1:$CPORT" --block-time "$BLOCK_MS" \
	--log-level "$CHAIN_LOG_LEVEL" \
	>"$TMP/chain.log" 2>&1 &
CPID=$!
wait_for 10 get Timestamp Now >/dev/null || fail "tfchain-dev did not answer on port $CPORT"
call alice Balances transfer_keep_alive "[\"$SS58\", \"1000000000000\"]" || fail "funding the node"
call bob TfgridModule create_twin '[null, null]' || fail "bob create_twin"
call bob TfgridModule create_farm "[\"$(hex bench_farm)\", []]" || fail "create_farm"

"$AGENT" -d -f "$TMP/agent.conf" >"$TMP/agent.log" 2>&1 &
APID=$!
twin_of() { get TfgridModule TwinIdByAccountID "\"$1\""; }
has_node() {
	local t v
	t=$(twin_of "$ACCOUNT") && [ -n "$t" ] && [ "$t" != 0 ] && [ "$t" != null ] || return 1
	v=$(get TfgridModule NodeIdByTwinID "$t") && [ -n "$v" ] && [ "$v" != 0 ] && [ "$v" != null ]
}
wait_for 60 has_node || fail "the agent did not register its node"
NODE=$(get TfgridModule NodeIdByTwinID "$(twin_of "$ACCOUNT")")
wait_for 30 grep -q "deploy engine running" "$TMP/agent.log" || fail "the deploy engine did not start"
wait_for 30 grep -q "rmb serving" "$TMP/agent.log" || fail "the RMB server did not start"
echo "node $NODE registered; agent pid $APID, tfchain-dev pid $CPID (${BLOCK_MS} ms blocks); load $(cut -d' ' -f1-3 /proc/loadavg)"

"$LOAD" --chain "http://127.0.0.1:$CPORT" --floor-chain "$CHAIN_SCHEME://127.0.0.1:$CPORT" --node "$NODE" --agent-pid "$APID" --chain-pid "$CPID" \
	--levels "$LEVELS" --seconds "$SECS" --block-ms "$BLOCK_MS" \
	--metrics "http://127.0.0.1:$MPORT/metrics" --state-dir "$TMP" "${TRACE_ARGS[@]}" ||
	fail "bench_deploy"
grep -c "outbox deployed:.*: ok" "$TMP/agent.log" | sed 's/^/set_contract_deployed sent by the agent: /'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
