#!/bin/bash
# A user who has only a BIP-0039 phrase, signing with sr25519: funded by the
# sr25519 //Alice of tfchain-dev's genesis, the user creates a twin (which
# registers the x25519 key zos-cli derives for it), calls the node over RMB
# (an envelope declaring sr25519, verified by the node against the twin's
# account), and deploys a zmount: the contract is created with an sr25519
# extrinsic, the node opens the workload with the twin's pk and the contract
# reaches Deployed on chain.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the provisioners need root"
need_tools python3 jq

TMP=$(mktemp -d /tmp/keys-sr25519-e2e.XXXXXX)
CPID= APID=
trap stop_all EXIT
agent_conf 5 600
node_identity
start_chain
start_agent
fund_node
make_farm bob sr_farm
wait_node
twin_of() { get TfgridModule TwinIdByAccountID "\"$1\""; }
echo "ok: node $NODE (twin $TWIN) registered"

# ---- The user: a phrase in a 0600 file, nothing else.
"$CLI" key generate --scheme sr25519 --out "$TMP/user.phrase" --json >"$TMP/user.json" 2>"$TMP/err.txt" ||
	fail "key generate"
USER=$(jq -r .ss58_address "$TMP/user.json")
UACCOUNT=$(jq -r .account_id "$TMP/user.json")
KEY=(--mnemonic-file "$TMP/user.phrase" --scheme sr25519)
[ "$(wc -w <"$TMP/user.phrase")" = 12 ] || fail "the key file does not hold a 12-word phrase"
# The sr25519 //Alice is endowed by the genesis and signs with sr25519.
"$CLI" transfer "$USER" 100 --dev alice --scheme sr25519 --json >"$TMP/out.json" 2>"$TMP/err.txt" ||
	fail "transfer from the sr25519 //Alice"
[ "$(jq -r .status "$TMP/out.json")" = success ] || fail "transfer: $(cat "$TMP/out.json")"
echo "ok: sr25519 //Alice funded the user $USER"

"$CLI" twin create "${KEY[@]}" --json >"$TMP/twin.json" 2>"$TMP/err.txt" || fail "twin create"
UTWIN=$(jq -r .twin_id "$TMP/twin.json")
[ "$(jq -r .account "$TMP/twin.json")" = "$USER" ] || fail "twin account: $(cat "$TMP/twin.json")"
PK=$(get TfgridModule Twins "$UTWIN" | jq -r .pk)
[ -n "$PK" ] && [ "$PK" != null ] && [ ${#PK} = 66 ] || fail "the sr25519 twin has no x25519 pk: $PK"
[ "$(twin_of "$UACCOUNT")" = "$UTWIN" ] || fail "TwinIdByAccountID of the user"
echo "ok: twin $UTWIN with x25519 pk $PK"

# ---- RMB with an sr25519 envelope, verified by the node.
rmb() { "$CLI" rmb call "$TWIN" "$@" "${KEY[@]}" 2>"$TMP/err.txt"; }
wait_for 20 rmb zos.system.version >"$TMP/version.json" || fail "zos.system.version as the sr25519 twin"
[ "$(jq -r .program "$TMP/version.json")" = zos-agent ] || fail "version reply: $(cat "$TMP/version.json")"
# The same key declared as ed25519 signs for another account: refused.
"$CLI" rmb call "$TWIN" zos.system.version --mnemonic-file "$TMP/user.phrase" --src "$UTWIN" \
	>/dev/null 2>"$TMP/err.txt" && fail "an ed25519 signature accepted for the sr25519 twin"
grep -q '104' "$TMP/err.txt" || fail "ed25519 envelope for an sr25519 twin: $(cat "$TMP/err.txt")"
echo "ok: RMB call signed with sr25519 accepted; the wrong scheme refused with 104"

# ---- A deployment, sealed with the twin's x25519 key and signed with sr25519.
cat >"$TMP/dep.json" <<EOF
{"version": 0, "metadata": "", "description": "sr25519 user",
 "workloads": [{"version": 0, "name": "disk1", "type": "zmount", "metadata": "",
   "description": "", "data": {"size": 16777216}}]}
EOF
"$CLI" deploy --node "$NODE" "$TMP/dep.json" "${KEY[@]}" --timeout 60 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
	fail "deploy: $(cat "$TMP/deploy.out")"
C1=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
[ -n "$C1" ] || fail "no contract id in: $(cat "$TMP/deploy.out")"
[ "$(get SmartContractModule Contracts "$C1" | jq -c .state)" = '"Deployed"' ] ||
	fail "contract $C1 on chain: $(get SmartContractModule Contracts "$C1")"
[ "$(get SmartContractModule Contracts "$C1" | jq -r .twin_id)" = "$UTWIN" ] || fail "contract owner"
"$CLI" deployment get --node "$NODE" --contract "$C1" "${KEY[@]}" >"$TMP/get.json" 2>"$TMP/err.txt" ||
	fail "deployment get"
[ "$(jq -r '.workloads[0].name + " " + .workloads[0].state' "$TMP/get.json")" = "disk1 ok" ] ||
	fail "deployment get: $(cat "$TMP/get.json")"
echo "ok: contract $C1 of twin $UTWIN Deployed, disk1 ok"
"$CLI" contract cancel "$C1" "${KEY[@]}" >/dev/null 2>"$TMP/err.txt" || fail "cancel"
echo "ok: cancelled by the sr25519 owner"
