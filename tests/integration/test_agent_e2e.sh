#!/bin/bash
# The whole node on tfchain-dev: an agent started before the chain runs,
# before its account has funds and before its farm exists reports each and
# retries; once //Alice funds it
# and //Bob creates the farm, it registers its twin (relay = its RMB
# address, pk = its x25519 key) and its node (farm, measured capacity).
# //Charlie then calls it over RMB (signed replies, verified against the
# node twin's key on chain), deploys a zmount that reaches Deployed on
# chain, sees a contract with a wrong hash refused with the reason and
# rejected on chain, and cancels the first contract: the agent follows the
# event and removes the workload. A restart with another RMB address and a
# memory reservation updates the twin's relay and the node's resources,
# and the agent's capacity report bills the contract.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the provisioners need root"
need_tools python3 jq

TMP=$(mktemp -d /tmp/agent-e2e.XXXXXX)
CPID= APID= NPID=
cleanup() {
	stop_node
	[ -n "$NPID" ] && stop_pid "$NPID"
	# E2E_KEEP_LOG=FILE keeps the agent's log for reading.
	[ -n "${E2E_KEEP_LOG:-}" ] && cp "$TMP/agent.log" "$E2E_KEEP_LOG"
	rm -rf "$TMP"
}
trap cleanup EXIT

write_conf() { # reserved-mru; RMB on $RPORT and a unix socket
	agent_conf
	cat >>"$TMP/agent.conf" <<EOF
[rmb]
listen = ipc://$TMP/run/rmb.sock
[reserved]
cru = 0
mru = $1
sru = 0
hru = 0
EOF
}
write_conf 0
node_identity
X25519=$(jq -r .x25519_public_key "$TMP/id.json")
[ -n "$SS58" ] && [ "$SS58" != null ] || fail "no ss58 address in $(cat "$TMP/id.json")"

# systemd's notify socket, to read the STATUS lines the agent sends.
notify_listen
# status_shown TEXT: the agent sent STATUS=TEXT... (it does once a second).
status_shown() {
	wait_log 10 "^STATUS=$1" "$TMP/notify.log" || fail "no STATUS=$1 in: $(cat "$TMP/notify.log")"
}

# ---- The chain is not there yet: reported and retried, not fatal.
NOTIFY_SOCKET="$TMP/notify.sock" "$AGENT" -d -f "$TMP/agent.conf" >"$TMP/agent.log" 2>&1 &
APID=$!
wait_log 15 "chain unreachable at http://127.0.0.1:$CPORT" ||
	fail "unreachable chain not reported"
kill -0 "$APID" 2>/dev/null || fail "agent exited without a chain"
status_shown "chain unreachable at http://127.0.0.1:$CPORT"
echo "ok: unreachable chain reported"

start_chain

# ---- Unfunded account: reported and retried, the daemon keeps running.
wait_log 30 "account $SS58 has no funds" || fail "unfunded account not reported"
kill -0 "$APID" 2>/dev/null || fail "agent exited on an unfunded account"
status_shown "account $SS58 has no funds"
echo "ok: unfunded account reported"

fund_node
# A storage key is read as JSON: the account id goes in as a JSON string.
twin_of() { get TfgridModule TwinIdByAccountID "\"$1\""; }
has_twin() { local t; t=$(twin_of "$ACCOUNT") && [ -n "$t" ] && [ "$t" != 0 ] && [ "$t" != null ]; }
wait_for 30 has_twin || fail "the agent did not create its twin"
TWIN=$(twin_of "$ACCOUNT")
get TfgridModule Twins "$TWIN" >"$TMP/twin.json" || fail "reading twin $TWIN"
[ "$(jq -r .relay "$TMP/twin.json")" = "$(hex "127.0.0.1.$RPORT")" ] ||
	fail "twin relay: $(cat "$TMP/twin.json")"
[ "$(jq -r .pk "$TMP/twin.json")" = "$X25519" ] || fail "twin pk: $(cat "$TMP/twin.json"), want $X25519"
echo "ok: twin $TWIN with relay and pk"

# ---- Missing farm: reported and retried until //Bob creates it.
wait_log 15 "farm 1 does not exist" || fail "missing farm not reported"
status_shown "farm 1 does not exist"
make_farm bob e2e_farm
wait_node
get TfgridModule Nodes "$NODE" >"$TMP/node.json" || fail "reading node $NODE"
[ "$(jq -r .farm_id "$TMP/node.json")" = 1 ] || fail "node farm: $(cat "$TMP/node.json")"
[ "$(jq -r .resources.cru "$TMP/node.json")" = "$(nproc)" ] || fail "node cru: $(cat "$TMP/node.json")"
[ "$(jq -r .resources.mru "$TMP/node.json")" -gt 0 ] || fail "node mru: $(cat "$TMP/node.json")"
[ "$(jq -r .resources.sru "$TMP/node.json")" -gt 0 ] || fail "node sru: $(cat "$TMP/node.json")"
echo "ok: node $NODE in farm 1, cru $(nproc)"
status_shown "registered: account $SS58, twin $TWIN, node $NODE, farm 1"
echo "ok: each state was shown in STATUS"

# ---- RMB as //Charlie: the CLI accepts only replies signed by the node
# twin's key on chain.
make_twins charlie
rmb() { "$CLI" rmb call "$TWIN" "$@" --dev charlie 2>"$TMP/err.txt"; }
wait_for 20 rmb zos.system.version >"$TMP/version.json" || fail "zos.system.version"
[ "$(jq -r .version "$TMP/version.json")" = "$("$AGENT" --version | cut -d' ' -f2)" ] ||
	fail "version reply: $(cat "$TMP/version.json")"
[ "$(jq -r .program "$TMP/version.json")" = zos-agent ] || fail "version reply: $(cat "$TMP/version.json")"
engine_up() { rmb zos.statistics.get >"$TMP/stats.json"; }
wait_for 20 engine_up || fail "zos.statistics.get"
[ "$(jq -r .total.cru "$TMP/stats.json")" = "$(nproc)" ] || fail "statistics: $(cat "$TMP/stats.json")"
[ "$(jq -r .deployments "$TMP/stats.json")" = 0 ] || fail "statistics: $(cat "$TMP/stats.json")"
echo "ok: zos.system.version and zos.statistics.get, signed by twin $TWIN"

# ---- A zmount deployment reaches Deployed on chain.
cat >"$TMP/dep.json" <<EOF
{"version": 0, "metadata": "", "description": "e2e",
 "workloads": [{"version": 0, "name": "disk1", "type": "zmount", "metadata": "",
   "description": "", "data": {"size": 16777216}}]}
EOF
"$CLI" deploy --node "$NODE" "$TMP/dep.json" --dev charlie --timeout 60 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
	fail "deploy: $(cat "$TMP/deploy.out")"
C1=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
[ -n "$C1" ] || fail "no contract id in: $(cat "$TMP/deploy.out")"
grep -q "^deployed: contract $C1" "$TMP/deploy.out" || fail "deploy output: $(cat "$TMP/deploy.out")"
[ "$(get SmartContractModule Contracts "$C1" | jq -c .state)" = '"Deployed"' ] ||
	fail "contract $C1 on chain: $(get SmartContractModule Contracts "$C1")"
"$CLI" deployment get --node "$NODE" --contract "$C1" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" ||
	fail "deployment get"
[ "$(jq -r '.workloads[0].name + " " + .workloads[0].state' "$TMP/get.json")" = "disk1 ok" ] ||
	fail "deployment get: $(cat "$TMP/get.json")"
ls "$TMP/state/volumes/zmounts/"*.img >/dev/null 2>&1 || fail "no zmount image under $TMP/state/volumes"
echo "ok: contract $C1 Deployed, disk1 ok"

# ---- node.sched_batch (default): every thread of the agent is under
# SCHED_BATCH (3 in the 41st field of /proc/PID/task/TID/stat, the 39th
# after the name, which may hold spaces).
for t in /proc/"$APID"/task/*; do
	pol=$(sed 's/.*) //' "$t/stat" | awk '{print $39}')
	[ "$pol" = 3 ] || fail "thread $(cat "$t/comm") of the agent has policy $pol, not SCHED_BATCH (3)"
done
echo "ok: the agent's $(ls /proc/"$APID"/task | wc -l) threads run under SCHED_BATCH"

# ---- Restart with another address and a memory reservation: the agent
# updates its twin's relay and its node's resources, and adopts disk1.
kill "$APID"
wait "$APID" || fail "agent exited with $? on SIGTERM"
APID=
MRU0=$(jq -r .resources.mru "$TMP/node.json")
RPORT=$(free_port)
write_conf 1G
start_agent
relay_moved() { [ "$(get TfgridModule Twins "$TWIN" | jq -r .relay)" = "$(hex "127.0.0.1.$RPORT")" ]; }
wait_for 30 relay_moved || fail "relay not updated: $(get TfgridModule Twins "$TWIN")"
mru_moved() { [ "$(get TfgridModule Nodes "$NODE" | jq -r .resources.mru)" = $((MRU0 - 1073741824)) ]; }
wait_for 30 mru_moved || fail "node mru not updated from $MRU0: $(get TfgridModule Nodes "$NODE")"
[ "$(get TfgridModule NodeIdByTwinID "$TWIN")" = "$NODE" ] || fail "a second node registered"
adopted() {
	"$CLI" deployment get --node "$NODE" --contract "$C1" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" &&
		[ "$(jq -r '.workloads[0].state' "$TMP/get.json")" = ok ]
}
wait_for 30 adopted || fail "disk1 after restart: $(cat "$TMP/get.json")"
echo "ok: restarted: relay and node resources updated on chain, disk1 still ok"

# ---- The reporter bills the deployed contract (report_interval is 60 s,
# its jitter up to 6 s).
billed() { [ "$(get SmartContractModule ContractBillHistory "$C1" | jq 'length')" -gt 0 ] 2>/dev/null; }
wait_for 120 billed || fail "no report billed contract $C1: $(get SmartContractModule ContractBillHistory "$C1")"
echo "ok: contract $C1 billed from the agent's report: $(get SmartContractModule ContractBillHistory "$C1" | jq -c '.[0]')"

# ---- The same sealed data under a wrong hash is refused with the reason
# and rejected on chain.
DATA=$(get SmartContractModule Contracts "$C1" | jq -r '.contract_type.NodeContract.deployment_data')
[ -n "$DATA" ] && [ "$DATA" != null ] || fail "deployment_data of $C1"
BADHASH=0x$(printf 'ab%.0s' $(seq 1 32))
call charlie SmartContractModule create_node_contract "[$NODE, \"$BADHASH\", \"$DATA\", 0, null]" ||
	fail "create_node_contract (wrong hash)"
C2=$(jq -r '.. | objects | select(.event? == "ContractCreated") | .data | .. | .contract_id? // empty' "$TMP/out.json" | head -n 1)
[ -n "$C2" ] || fail "no ContractCreated in $(cat "$TMP/out.json")"
rmb zos.deployment.deploy "{\"contract_id\": $C2}" >"$TMP/out.txt" && fail "wrong hash accepted: $(cat "$TMP/out.txt")"
grep -q "rmb error 422 " "$TMP/err.txt" || fail "wrong hash: expected 422"
grep -qi "hash" "$TMP/err.txt" || fail "wrong hash: the reason does not name the hash"
REFUSAL=$(grep -m1 "rmb error 422 " "$TMP/err.txt")
gone() { [ "$(get SmartContractModule Contracts "$1")" = null ]; }
wait_for 30 gone "$C2" || fail "contract $C2 with a wrong hash not rejected on chain"
echo "ok: contract $C2 refused and rejected on chain: $REFUSAL"

# ---- Cancel: the agent follows NodeContractCanceled and removes disk1.
call charlie SmartContractModule cancel_contract "[$C1]" || fail "cancel_contract"
removed() {
	"$CLI" deployment get --node "$NODE" --contract "$C1" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" &&
		[ "$(jq -r '.workloads[0].state' "$TMP/get.json")" = deleted ]
}
wait_for 30 removed || fail "workload not removed after cancel: $(cat "$TMP/get.json")"
ls "$TMP/state/volumes/zmounts/"*.img >/dev/null 2>&1 && fail "zmount image left after cancel"
echo "ok: cancelled contract $C1, disk1 removed"

# ---- Graceful stop; a sanitized build reports leaks at exit.
stop_agent_clean
echo "ok"
exit 0
