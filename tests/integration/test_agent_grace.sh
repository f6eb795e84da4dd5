#!/bin/bash
# The grace period through the real block follower: tfchain-dev with 0.2 s
# blocks and a 15 s grace period, an agent reporting every 10 s. //Charlie
# deploys a zmount, then empties its account: the next report cannot be
# paid, the contract enters GracePeriod and the agent pauses the workload.
# A top-up pays the debt: Deployed again, the workload resumes. While a
# report is in flight the chain stops answering (SIGSTOP: connections are
# accepted, never answered) and the agent must still stop within its 20 s
# deadline; it is restarted with the chain back. Emptied again, the contract
# outlives its grace period: Deleted(OutOfFunds), the agent removes the disk.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the provisioners need root"
need_tools python3 jq

TMP=$(mktemp -d /tmp/agent-grace.XXXXXX)
CPID= APID=
cleanup() {
	[ -n "${GRACE_KEEP_LOG:-}" ] && cp "$TMP/agent.log" "$GRACE_KEEP_LOG"
	stop_all
}
trap cleanup EXIT
GRACE_BLOCKS=75
cat >"$TMP/genesis.json" <<EOF
{"name": "zos-grace-test",
 "Balances": {"balances": [["//Alice", "10000000000000"], ["//Bob", "1000000000"],
                           ["//Charlie", "1000000000"]]},
 "SmartContractModule": {"tft_price_musd": 50, "grace_period_blocks": $GRACE_BLOCKS}}
EOF
agent_conf 5 10
start_chain --base-path "$TMP/chain" --genesis "$TMP/genesis.json"
[ "$(get SmartContractModule GracePeriodBlocks)" = "$GRACE_BLOCKS" ] ||
	fail "genesis grace period: $(get SmartContractModule GracePeriodBlocks)"

# The farm, the node's funds, the user's twin; then the agent registers.
make_farm bob grace_farm
make_twins charlie
node_identity
"$CLI" transfer "$SS58" 100 --dev alice >/dev/null 2>"$TMP/err.txt" || fail "funding the node"
start_agent
wait_node
echo "ok: node $NODE registered (twin $TWIN)"

cat >"$TMP/dep.json" <<EOF
{"version": 0, "metadata": "", "description": "grace",
 "workloads": [{"version": 0, "name": "disk1", "type": "zmount", "metadata": "",
   "description": "", "data": {"size": 16777216}}]}
EOF
# The deploy engine starts once the node is registered.
wait_engine charlie
"$CLI" deploy --node "$NODE" "$TMP/dep.json" --dev charlie --timeout 60 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
	fail "deploy: $(cat "$TMP/deploy.out")"
C=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
[ -n "$C" ] || fail "no contract id in: $(cat "$TMP/deploy.out")"
ls "$TMP/state/volumes/zmounts/"*.img >/dev/null 2>&1 || fail "no zmount image"
echo "ok: contract $C deployed"

state() { get SmartContractModule Contracts "$C" | jq -c .state; }
in_grace() { state | grep -q GracePeriod; }
is_deployed() { [ "$(state)" = '"Deployed"' ]; }
wl_state() { # the workload's state per zos-cli deployment get
	"$CLI" deployment get --node "$NODE" --contract "$C" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" &&
		[ "$(jq -r '.workloads[0].state' "$TMP/get.json")" = "$1" ]
}
# transfer_all keeping the account alive leaves only the existential
# deposit, so no bill can be paid from it (zos-cli transfer would leave the
# fee margin, which a small bill still fits in).
drain() { call charlie Balances transfer_all '["alice", true]' || fail "draining charlie"; }

# ---- Out of funds: the next report starts the grace period; paused.
drain
wait_for 40 in_grace || fail "contract $C not in its grace period: $(state)"
wait_for 20 wl_state paused || fail "workload not paused: $(cat "$TMP/get.json")"
echo "ok: out of funds: $(state), disk1 paused"

# ---- Topped up: the debt is paid, Deployed again, resumed.
"$CLI" transfer charlie 10 --dev alice >/dev/null 2>"$TMP/err.txt" || fail "top-up"
wait_for 20 is_deployed || fail "contract $C not Deployed after the top-up: $(state)"
wait_for 20 wl_state ok || fail "workload not resumed: $(cat "$TMP/get.json")"
echo "ok: topped up: Deployed, disk1 ok"

# ---- A chain that accepts connections but never answers, while a report
# is in flight: the agent still stops within its deadline (20 s).
LINES=$(wc -l <"$TMP/agent.log")
kill -STOP "$CPID"
sleep 12 # past one report interval: its extrinsic waits for the chain
t0=$(date +%s)
kill "$APID"
wait "$APID"
rc=$?
APID=
took=$(($(date +%s) - t0))
kill -CONT "$CPID"
[ "$rc" = 0 ] || fail "agent exited with $rc on SIGTERM with a silent chain (after $took s)"
[ "$took" -lt 20 ] || fail "stopping took $took s"
tail -n +"$LINES" "$TMP/agent.log" | grep -q "deadline passed" && fail "the stop deadline passed"
echo "ok: stopped in $took s with the chain silent"
start_agent
wait_for 30 wl_state ok || fail "disk1 after restart: $(cat "$TMP/get.json")"

# ---- Out of funds again, past the grace period: deleted and removed.
drain
wait_for 40 in_grace || fail "contract $C not in its grace period again: $(state)"
gone() { [ "$(get SmartContractModule Contracts "$C")" = null ]; }
wait_for $((GRACE_BLOCKS / 5 + 30)) gone || fail "contract $C not deleted after its grace period: $(state)"
wait_for 20 wl_state deleted || fail "workload not removed: $(cat "$TMP/get.json")"
ls "$TMP/state/volumes/zmounts/"*.img >/dev/null 2>&1 && fail "zmount image left after deletion"
echo "ok: grace period ended: contract $C deleted, disk1 removed"

stop_agent_clean
echo "ok"
exit 0
