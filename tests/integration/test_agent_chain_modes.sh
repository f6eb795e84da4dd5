#!/bin/bash
# The behaviours test_real_tfchain.sh proves on tfchain's runtime, on
# tfchain-dev (which also has set_contract_deployed and reject_contract):
# the agent accepts the configured terms once, publishes its relay as
# 127.0.0.1.PORT and zos-cli reaches it without --url, registers its
# location, reports uptime (NodeUptimeReported), deploys a contract larger
# than MaxDeploymentDataLength (512 here) from the hash on chain and the
# sealed deployment sent over RMB, and deploys a contract nobody told it
# about (the chain's event), once.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the provisioners need root"
need_tools python3 jq
T0=$(date +%s)
TMP=$(mktemp -d /tmp/agent-modes.XXXXXX)
CPID= APID=
trap stop_all EXIT
cat >"$TMP/genesis.json" <<EOF
{"name": "zos-modes-test",
 "Balances": {"balances": [["//Alice", "10000000000000"], ["//Bob", "1000000000"],
                           ["//Charlie", "1000000000"]]},
 "SmartContractModule": {"tft_price_musd": 50, "grace_period_blocks": 100,
                         "max_deployment_data": 512}}
EOF
start_chain --base-path "$TMP/chain" --genesis "$TMP/genesis.json"
agent_conf
cat >>"$TMP/agent.conf" <<EOF
[node]
uptime_interval = 10
terms_link = https://example.com/terms.md
terms_hash = 0123abcd
country = Belgium
city = Ghent
latitude = 51.05
longitude = 3.72
EOF
node_identity
make_farm bob modes_farm
call charlie TfgridModule user_accept_tc "[\"$(hex https://example.com/terms.md)\", \"$(hex 0123abcd)\"]" ||
	fail "charlie user_accept_tc"
make_twins charlie
fund_node

start_agent
wait_node
grep -q "accepted the terms and conditions https://example.com/terms.md" "$TMP/agent.log" ||
	fail "terms not accepted by the agent"
[ "$(get TfgridModule Twins "$TWIN" | jq -r .relay)" = "$(hex "127.0.0.1.$RPORT")" ] ||
	fail "relay: $(get TfgridModule Twins "$TWIN")"
[ "$(get TfgridModule Nodes "$NODE" | jq -r .location.city)" = "$(hex Ghent)" ] ||
	fail "location: $(get TfgridModule Nodes "$NODE")"
echo "ok: terms accepted, twin $TWIN with relay 127.0.0.1.$RPORT, node $NODE in Ghent"

uptime_seen() { get System Events | grep -q NodeUptimeReported; }
wait_for 30 uptime_seen || fail "no NodeUptimeReported: $(grep -i uptime "$TMP/agent.log")"
echo "ok: NodeUptimeReported"

cat >"$TMP/small.json" <<EOF
{"version": 0, "metadata": "", "description": "modes",
 "workloads": [{"version": 0, "name": "d1", "type": "zmount", "metadata": "",
   "description": "", "data": {"size": 16777216}}]}
EOF
DESC=$(printf 'x%.0s' $(seq 1 700))
sed "s/\"description\": \"modes\"/\"description\": \"$DESC\"/; s/\"d1\"/\"big1\"/" "$TMP/small.json" >"$TMP/big.json"
wait_engine charlie
"$CLI" deploy --node "$NODE" "$TMP/big.json" --dev charlie --timeout 60 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
	fail "big deploy exited $?: $(cat "$TMP/deploy.out")"
C1=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
grep -q "the contract holds its hash" "$TMP/deploy.out" || fail "big deploy: $(cat "$TMP/deploy.out")"
grep -q "^deployed: contract $C1$" "$TMP/deploy.out" || fail "big deploy: $(cat "$TMP/deploy.out")"
get SmartContractModule Contracts "$C1" >"$TMP/c1.json"
[ "$(jq -r .contract_type.NodeContract.deployment_data "$TMP/c1.json")" = 0x ] || fail "contract $C1: $(cat "$TMP/c1.json")"
[ "$(jq -c .state "$TMP/c1.json")" = '"Deployed"' ] || fail "contract $C1: $(cat "$TMP/c1.json")"
echo "ok: contract $C1 holds only the hash, deployed from the sealed deployment sent over RMB"

"$CLI" contract create --node "$NODE" --file "$TMP/small.json" --dev charlie --json >"$TMP/c2.json" 2>"$TMP/err.txt" ||
	fail "contract create"
C2=$(jq -r .contract_id "$TMP/c2.json")
on_chain_deployed() { [ "$(get SmartContractModule Contracts "$C2" | jq -c .state)" = '"Deployed"' ]; }
wait_for 30 on_chain_deployed || fail "contract $C2 not deployed without the bus: $(grep "contract $C2" "$TMP/agent.log")"
"$CLI" rmb call "$TWIN" zos.deployment.deploy "{\"contract_id\": $C2}" --dev charlie >"$TMP/out.txt" 2>"$TMP/err.txt" ||
	fail "deploy $C2 again: $(cat "$TMP/err.txt")"
[ "$(grep -c "contract $C2 accepted from twin" "$TMP/agent.log")" = 1 ] || fail "contract $C2 accepted twice"
echo "ok: contract $C2 deployed from the chain's event, once"

stop_pid "$APID"
APID=
grep -q Sanitizer "$TMP/agent.log" && fail "agent: sanitizer report"
echo "ok: $(($(date +%s) - T0)) s"
exit 0
