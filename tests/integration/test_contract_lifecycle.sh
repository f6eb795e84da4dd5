#!/bin/bash
# A node contract's life on tfchain-dev, driven with signed extrinsics
# through zos-cli: twins, farm and node; create -> cancel by a non-owner
# refused with tfchain's error name -> deployed -> billed from a report
# (amount recomputed from docs/billing.md) -> grace period when the user
# cannot pay -> paid and Deployed again after a top-up -> deleted when the
# grace period runs out. Also reject by the node and cancel by the owner.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build chain cli
need_tools python3 jq

TMP=$(mktemp -d)
CPID=
trap stop_all EXIT
GRACE=10
cat >"$TMP/genesis.json" <<EOF
{"name": "contract-lifecycle",
 "Balances": {"balances": [["//Alice", "10000000000000"], ["//Bob", "10000000000000"],
   ["//Charlie", "10000000000000"], ["//Dave", "10000000000000"]]},
 "SmartContractModule": {"tft_price_musd": 50, "grace_period_blocks": $GRACE}}
EOF
BLOCK_MS=300 start_chain --base-path "$TMP/chain" --genesis "$TMP/genesis.json"

now_s() { echo $(($(get Timestamp Now) / 1000)); }
free_of() { get System Account "$1" | jq -r '.data.free'; }
state_of() { get SmartContractModule Contracts "$1" | jq -c '.state'; }
# Waits up to ~20 s for contract $1's state to become $2 (JSON).
wait_state() {
	for _ in $(seq 1 100); do
		[ "$(state_of "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
last_billed() { get SmartContractModule ContractBillingInformationByID "$1" | jq -r .last_updated; }
# Waits up to ~10 s until the chain's time (in whole seconds) passes $1.
wait_past() {
	for _ in $(seq 1 50); do
		[ "$(now_s)" -gt "$1" ] && return 0
		sleep 0.2
	done
	return 1
}
# The report docs/billing.md prices at 0.5 su + 1 cu, plus NRU bytes.
report() { # contract_id timestamp nru
	echo "[[{\"contract_id\": $1, \"timestamp\": $2, \"cru\": 2, \"sru\": 107374182400,
		\"hru\": 0, \"mru\": 4294967296, \"nru\": $3}]]"
}
# planck billed for that report over WINDOW seconds (docs/billing.md).
expected_planck() { # window nru
	python3 -c 'import sys
w, nru = int(sys.argv[1]), int(sys.argv[2])
units = -(-w * 125000 // 3600) + -(-nru * 15000 // 10**9)
print(units * 1000 // 50)' "$1" "$2"
}

# ---- The grid: alice deploys, bob farms, charlie runs node 1.
call alice TfgridModule create_twin "[\"$(hex tcp://127.0.0.1:7001)\", null]" || fail "alice create_twin"
call bob TfgridModule create_twin '[null, null]' || fail "bob create_twin"
call charlie TfgridModule create_twin "[\"$(hex tcp://127.0.0.1:7003)\", null]" || fail "charlie create_twin"
call alice TfgridModule create_twin '[null, null]' && fail "a second twin for alice"
grep -q TwinExists "$TMP/out.json" "$TMP/err.txt" || fail "second twin: not TwinExists"
call bob TfgridModule create_farm "[\"$(hex lifecycle_farm)\", []]" || fail "create_farm"
call charlie TfgridModule create_node "[1, {\"hru\": 4398046511104, \"sru\": 1099511627776,
	\"cru\": 8, \"mru\": 68719476736}, {\"city\": \"$(hex Ghent)\", \"country\": \"$(hex Belgium)\",
	\"latitude\": \"$(hex 51.05)\", \"longitude\": \"$(hex 3.71)\"}, [], false, false, null]" ||
	fail "create_node"
[ "$(get TfgridModule NodeIdByTwinID 3)" = 1 ] || fail "NodeIdByTwinID(3)"
echo "ok: twins, farm, node"

# ---- Contract 1: created, cancel by bob refused, deployed by charlie.
H1=0x$(printf '11%.0s' $(seq 1 32))
call alice SmartContractModule create_node_contract "[1, \"$H1\", \"0x01aabbcc\", 0, null]" ||
	fail "create_node_contract"
grep -q ContractCreated "$TMP/out.json" || fail "no ContractCreated event"
[ "$(state_of 1)" = '"Created"' ] || fail "contract 1 not Created: $(state_of 1)"
[ "$(get SmartContractModule ActiveNodeContracts 1 | jq -c .)" = '[1]' ] || fail "ActiveNodeContracts"
call bob SmartContractModule cancel_contract '[1]' && fail "bob cancelled alice's contract"
grep -q TwinNotAuthorizedToCancelContract "$TMP/out.json" "$TMP/err.txt" ||
	fail "cancel by non-owner: wrong error"
call charlie SmartContractModule set_contract_deployed '[1]' || fail "set_contract_deployed"
grep -q ContractDeployed "$TMP/out.json" || fail "no ContractDeployed event"
[ "$(state_of 1)" = '"Deployed"' ] || fail "contract 1 not Deployed"
echo "ok: create, cancel refused, deployed"

# ---- A report bills the window since deployment and pays the farmer.
last=$(last_billed 1)
wait_past "$last" || fail "chain time does not move past $last"
ts=$(now_s)
bob0=$(free_of bob)
charlie0=$(free_of charlie)
call charlie SmartContractModule add_reports "$(report 1 "$ts" 1000000000)" || fail "add_reports"
[ "$(free_of charlie)" = "$charlie0" ] || fail "the node paid a fee for its report"
grep -q ContractBilled "$TMP/out.json" || fail "no ContractBilled event"
want=$(expected_planck $((ts - last)) 1000000000)
got=$(get SmartContractModule ContractBillHistory 1 | jq -r '.[-1].amount_billed')
[ "$got" = "$want" ] || fail "billed $got, formulas say $want (window $((ts - last)) s)"
bob1=$(free_of bob)
[ "$(python3 -c 'import sys; print(int(sys.argv[2]) - int(sys.argv[1]))' "$bob0" "$bob1")" = "$want" ] ||
	fail "farmer received $bob0 -> $bob1, want +$want"
# The same timestamp again bills nothing.
call charlie SmartContractModule add_reports "$(report 1 "$ts" 1000000000)" || fail "repeated report"
[ "$(get SmartContractModule ContractBillHistory 1 | jq length)" = 1 ] || fail "repeated report billed"
echo "ok: billed $want planck for $((ts - last)) s"

# ---- Contract 2 rejected by its node, contract 3 cancelled by its owner.
H2=0x$(printf '22%.0s' $(seq 1 32))
H3=0x$(printf '33%.0s' $(seq 1 32))
call alice SmartContractModule create_node_contract "[1, \"$H2\", \"0x02\", 0, null]" || fail "contract 2"
call charlie SmartContractModule reject_contract "[2, \"$(hex 'no capacity')\"]" || fail "reject_contract"
grep -q ContractRejected "$TMP/out.json" || fail "no ContractRejected event"
[ "$(get SmartContractModule Contracts 2)" = null ] || fail "rejected contract still stored"
call alice SmartContractModule create_node_contract "[1, \"$H3\", \"0x03\", 0, null]" || fail "contract 3"
call alice SmartContractModule cancel_contract '[3]' || fail "cancel by owner"
grep -q NodeContractCanceled "$TMP/out.json" || fail "no NodeContractCanceled event"
[ "$(get SmartContractModule Contracts 3)" = null ] || fail "cancelled contract still stored"
[ "$(get SmartContractModule ActiveNodeContracts 1 | jq -c .)" = '[1]' ] || fail "ActiveNodeContracts after"
echo "ok: reject, cancel"

# ---- Grace period: alice cannot pay 1000 GB of traffic (30 TFT).
drain_alice() {
	local keep=2000000 free
	free=$(free_of alice)
	call alice Balances transfer_keep_alive "[\"dave\", \"$(python3 -c 'import sys; print(int(sys.argv[1]) - int(sys.argv[2]))' "$free" "$keep")\"]" ||
		fail "drain alice"
}
drain_alice
wait_past "$(last_billed 1)" || fail "chain time does not move"
call charlie SmartContractModule add_reports "$(report 1 "$(now_s)" 1000000000000)" || fail "report into grace"
grep -q ContractGracePeriodStarted "$TMP/out.json" || fail "no ContractGracePeriodStarted event"
state_of 1 | grep -q GracePeriod || fail "contract 1 not in grace: $(state_of 1)"
call dave Balances transfer_keep_alive '["alice", "10000000000"]' || fail "top up alice"
wait_state 1 '"Deployed"' || fail "topped up, but contract 1 is $(state_of 1)"
[ "$(get SmartContractModule ContractBillHistory 1 | jq length)" = 2 ] || fail "debt not billed"
echo "ok: grace period ended by a top-up"

drain_alice
wait_past "$(last_billed 1)" || fail "chain time does not move"
call charlie SmartContractModule add_reports "$(report 1 "$(now_s)" 1000000000000)" || fail "report into grace 2"
state_of 1 | grep -q GracePeriod || fail "contract 1 not in grace again: $(state_of 1)"
wait_state 1 null || fail "grace period over, but contract 1 is $(state_of 1)"
[ "$(get SmartContractModule ActiveNodeContracts 1 | jq -c .)" = '[]' ] || fail "ActiveNodeContracts after deletion"
[ "$(get SmartContractModule ContractsInGracePeriod | jq -c .)" = '[]' ] || fail "ContractsInGracePeriod after deletion"
echo "ok: deleted after $GRACE blocks of grace"

# A sanitized tfchain-dev reports memory errors and leaks when it exits.
stop_chain_clean
exit 0
