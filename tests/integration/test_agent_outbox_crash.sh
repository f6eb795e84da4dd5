#!/bin/bash
# kill -9 between a chain call's send and its stored outcome, on
# tfchain-dev: the agent deploys a zmount and sends set_contract_deployed;
# while that extrinsic waits in the chain's pool (one block a second) the
# agent is killed with SIGKILL. Its store then holds the outbox row pending
# with its sending mark (a lazy commit survives kill -9) and no outcome.
# The restarted agent asks the chain before sending the row again: the
# contract ends Deployed, the row ends "ok", the workload stays ok, and the
# call was neither lost nor applied twice (the chain took it once; a repeat
# would have failed as ContractWrongState, which the log must not show as
# the row's final outcome). docs/deploy-engine.md, "Crash points".
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the provisioners need root"
need_tools python3 jq curl

TMP=$(mktemp -d /tmp/agent-obcrash.XXXXXX)
CPID= APID= DPID=
cleanup() {
	[ -n "$DPID" ] && stop_pid "$DPID"
	stop_node
	# OBCRASH_KEEP_LOG=FILE keeps the agent's log for reading.
	[ -n "${OBCRASH_KEEP_LOG:-}" ] && cp "$TMP/agent.log" "$OBCRASH_KEEP_LOG"
	rm -rf "$TMP"
}
trap cleanup EXIT

# One block a second: the agent's extrinsic waits in the pool long enough
# to be seen there and the agent killed meanwhile.
BLOCK_MS=1000 start_chain
agent_conf
node_identity
fund_node
make_farm bob obcrash_farm
start_agent
wait_node
make_twins charlie
wait_engine charlie

# pending_call HEX: true when the pool holds an extrinsic with HEX in it.
pending_call() {
	curl -s -m 2 -H 'Content-Type: application/json' \
		-d '{"jsonrpc":"2.0","id":1,"method":"author_pendingExtrinsics","params":[]}' \
		"$ZOS_CHAIN_URL" | jq -e --arg h "$1" '[.result[] | select(contains($h))] | length > 0' \
		>/dev/null 2>&1
}
# ob SQL: the first row of SQL on the agent's store, columns joined by "|".
ob() {
	python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("|".join(str(x) for x in r) if r else "")' "$TMP/state/agent.db" "$1" 2>/dev/null
}
# le64 N: N as 8 little-endian bytes in hex.
le64() { python3 -c "import sys; print(int(sys.argv[1]).to_bytes(8, 'little').hex())" "$1"; }

cat >"$TMP/dep.json" <<EOF
{"version": 0, "metadata": "", "description": "obcrash",
 "workloads": [{"version": 0, "name": "disk1", "type": "zmount", "metadata": "",
   "description": "", "data": {"size": 16777216}}]}
EOF
# The contract the deploy creates is the next id (the CLI's stdout, a file
# here, is flushed only when it exits).
LAST=$(get SmartContractModule ContractID) || fail "reading ContractID"
case "$LAST" in '' | null) LAST=0 ;; esac
C=$((LAST + 1))
# SmartContractModule (index 12) call 19, set_contract_deployed(C).
CALL="0c13$(le64 "$C")"
"$CLI" deploy --node "$NODE" "$TMP/dep.json" --dev charlie --timeout 60 --keep-contract \
	>"$TMP/deploy.out" 2>"$TMP/deploy.err" &
DPID=$!
# Polled every 20 ms: the call waits in the pool for less than a block.
seen=
for _ in $(seq 1 600); do
	if pending_call "$CALL"; then
		seen=1
		break
	fi
	sleep 0.02
done
[ -n "$seen" ] || fail "set_contract_deployed($C) never seen in the pool: $(tail -5 "$TMP/agent.log")"
# Frozen at once, so that it records nothing more; then whether the call
# still waited (after the send, before inclusion) or was just included
# (before its outcome could be recorded: the follower reads blocks every
# 100 ms) is the crash point. Either way the row must be pending.
kill -STOP "$APID"
POINT="after inclusion, before the outcome"
pending_call "$CALL" && POINT="after the send, before inclusion"
kill -9 "$APID"
wait "$APID" 2>/dev/null
APID=
ROW=$(ob "SELECT done, attempts FROM outbox WHERE key='deployed:$C'")
[ "$ROW" = "0|1" ] || fail "outbox row deployed:$C after kill -9: '$ROW', want pending with 1 attempt"
echo "ok: killed $POINT of set_contract_deployed($C); the row pending, 1 attempt"

start_agent
# The running agent holds its store exclusively: its log says when the row
# settled, and the store is read once the agent has stopped.
row_settled() { grep -q "outbox deployed:$C: ok" "$TMP/agent.log"; }
wait_for 30 row_settled || fail "outbox row deployed:$C not settled after restart: $(tail -5 "$TMP/agent.log")"
[ "$(get SmartContractModule Contracts "$C" | jq -r .state)" = Deployed ] ||
	fail "contract $C on chain: $(get SmartContractModule Contracts "$C")"
"$CLI" deployment get --node "$NODE" --contract "$C" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" ||
	fail "deployment get: $(cat "$TMP/err.txt")"
[ "$(jq -r '.workloads[0].state' "$TMP/get.json")" = ok ] || fail "deployment get: $(cat "$TMP/get.json")"
grep -q "outbox deployed:$C: failed on chain" "$TMP/agent.log" &&
	fail "a repeat was recorded as a failure: $(grep "outbox deployed:$C" "$TMP/agent.log")"

# The CLI lost the node mid-deploy; what it says then is not under test.
stop_pid "$DPID"
DPID=
stop_agent_clean
ROW=$(ob "SELECT done, outcome FROM outbox WHERE key='deployed:$C'")
case "$ROW" in
"1|ok" | "1|ok (already deployed)") ;;
*) fail "outbox row deployed:$C ended '$ROW', want done and ok" ;;
esac
echo "ok: after restart the row ended '${ROW#1|}', contract $C Deployed, disk1 ok"
echo "    ($(grep -c "outbox deployed:$C" "$TMP/agent.log") outbox log lines: $(grep "outbox deployed:$C" "$TMP/agent.log" | sed 's/.*engine: //' | paste -sd';'))"
echo "ok"
exit 0
