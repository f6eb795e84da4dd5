#!/bin/bash
# sr25519 on tfchain's real runtime (spec 144 under Chopsticks, the harness
# of chopsticks_lib.sh): the runtime itself checks the signatures. A user
# who has only a BIP-0039 phrase is funded by the sr25519 //Alice of
# tfchain's development genesis (zos-cli signing with MultiSignature::Sr25519),
# accepts the terms and conditions, creates a twin (with the x25519 pk zos-cli
# derives for an sr25519 account) and transfers funds back; a flipped bit in
# a signed extrinsic is refused by the runtime.
set -u
: "${BUILD:=build}"
CLI="$BUILD/zos-cli"
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$CLI" ] || { echo "missing $CLI (run make first)"; exit 1; }
[ -f "$HERE/chopsticks_lib.sh" ] || { echo "skipped: no Chopsticks harness (chopsticks_lib.sh)"; exit 77; }
for t in python3 jq curl; do
	command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 77; }
done
TMP=$(mktemp -d /tmp/keys-sr25519-chop.XXXXXX)
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
# shellcheck source=tests/integration/chopsticks_lib.sh
. "$HERE/chopsticks_lib.sh"
cleanup() {
	chop_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
chop_install || exit 77
chop_start || exit 1
chop_ticker 2
export ZOS_CHAIN_URL="$CHOP_URL"

zos() { "$CLI" "$@" >"$TMP/out" 2>"$TMP/err.txt"; }
"$CLI" key generate --scheme sr25519 --out "$TMP/user.phrase" --json >"$TMP/user.json" 2>"$TMP/err.txt" ||
	fail "key generate"
USER=$(jq -r .ss58_address "$TMP/user.json")
KEY=(--mnemonic-file "$TMP/user.phrase" --scheme sr25519)
ALICE=(--dev alice --scheme sr25519)

zos transfer "$USER" 10 "${ALICE[@]}" --json || fail "transfer from the sr25519 //Alice"
[ "$(jq -r .status "$TMP/out")" = success ] || fail "transfer: $(cat "$TMP/out")"
zos balance "${KEY[@]}" --json || fail "balance of the user"
[ "$(jq -r .free_planck "$TMP/out")" = 100000000 ] || fail "user balance: $(cat "$TMP/out")"
echo "ok: the real runtime accepted an sr25519 transfer from //Alice to $USER"

zos chain call TfgridModule user_accept_tc "[\"$(hex https://example.org/tc)\", \"$(hex 0123456789abcdef)\"]" \
	"${KEY[@]}" || fail "user_accept_tc"
zos twin create "${KEY[@]}" --json || fail "twin create"
UTWIN=$(jq -r .twin_id "$TMP/out")
[ "$(jq -r .account "$TMP/out")" = "$USER" ] || fail "twin: $(cat "$TMP/out")"
PK=$(get TfgridModule Twins "$UTWIN" | jq -r .pk)
[ ${#PK} = 66 ] || fail "twin $UTWIN has no x25519 pk: $PK"
echo "ok: twin $UTWIN of the sr25519 user, pk $PK"

zos transfer "$(jq -r .ss58_address <<<"$("$CLI" key inspect "${ALICE[@]}" --json)")" 1 "${KEY[@]}" --json ||
	fail "transfer back"
[ "$(jq -r .status "$TMP/out")" = success ] || fail "transfer back: $(cat "$TMP/out")"
echo "ok: the user's own sr25519 transfer"

# A node contract of the sr25519 user: the ed25519 //Bob farms a node, the
# user seals a deployment for it and creates the contract.
BOB=(--dev bob)
TC="[\"$(hex https://example.org/tc)\", \"$(hex 0123456789abcdef)\"]"
zos chain call TfgridModule user_accept_tc "$TC" "${BOB[@]}" || fail "bob user_accept_tc"
zos twin create "${BOB[@]}" --json || fail "bob twin create"
zos farm create sr_chop_farm "${BOB[@]}" --json || fail "farm create"
FARM=$(jq -r .farm_id "$TMP/out")
zos chain call TfgridModule create_node "[$FARM, {\"hru\": 4398046511104, \"sru\": 1099511627776,
	\"cru\": 8, \"mru\": 68719476736}, {\"city\": \"$(hex Ghent)\", \"country\": \"$(hex Belgium)\",
	\"latitude\": \"$(hex 51.05)\", \"longitude\": \"$(hex 3.71)\"}, [], false, false, null]" "${BOB[@]}" ||
	fail "create_node"
NODE=$(jq -r '.events[] | select(.event == "NodeStored") | .data.id' "$TMP/out")
[ -n "$NODE" ] && [ "$NODE" != null ] || fail "no NodeStored event: $(cat "$TMP/out")"
cat >"$TMP/dep.json" <<'EOF'
{"version": 0, "metadata": "", "description": "sr25519 user on the real runtime",
 "workloads": [{"version": 0, "name": "data", "type": "volume", "data": {"size": 1073741824}}]}
EOF
zos contract create --node "$NODE" --file "$TMP/dep.json" "${KEY[@]}" --json || fail "contract create"
CID=$(jq -r .contract_id "$TMP/out")
[ "$(jq -r .twin_id "$TMP/out")" = "$UTWIN" ] || fail "contract: $(cat "$TMP/out")"
echo "ok: node $NODE, contract $CID of the sr25519 twin $UTWIN"

# Signed offline (zos-cli chain sign) and sent raw: the runtime takes the
# extrinsic, and refuses it with one bit of the signature flipped.
GENESIS=$(chop_rpc chain_getBlockHash '[0]' | jq -r .result)
rpc_nonce() { chop_rpc system_accountNextIndex "[\"$USER\"]" | jq -r .result; }
sign() { # NONCE: System.remark(0x01), immortal, spec 144, tx version 2
	"$CLI" chain sign "${KEY[@]}" --call 0x00000401 --nonce "$1" --immortal --spec-version 144 \
		--tx-version 2 --genesis "$GENESIS" 2>"$TMP/err.txt"
}
XT=$(sign "$(rpc_nonce)") || fail "chain sign"
# 0x, compact length (2 bytes here), 0x84, 0x00 ++ 32-byte signer, then the
# MultiSignature variant (hex digits 74..75) and the signature from digit 76.
[ "${XT:74:2}" = 01 ] || fail "not MultiSignature::Sr25519: ${XT:0:80}"
bad="${XT:0:80}$(printf '%x' $((0x${XT:80:1} ^ 1)))${XT:81}"
chop_rpc author_submitExtrinsic "[\"$bad\"]" >"$TMP/bad.json"
jq -e .error "$TMP/bad.json" >/dev/null || fail "a flipped bit was accepted: $(cat "$TMP/bad.json")"
grep -qi 'badProof\|invalid' "$TMP/bad.json" || fail "flipped bit: $(cat "$TMP/bad.json")"
chop_rpc author_submitExtrinsic "[\"$XT\"]" >"$TMP/good.json"
jq -e .result "$TMP/good.json" >/dev/null || fail "the signed remark was refused: $(cat "$TMP/good.json")"
echo "ok: the runtime refused a flipped signature bit and took the intact extrinsic"
