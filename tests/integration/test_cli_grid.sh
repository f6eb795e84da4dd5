#!/bin/bash
# zos-cli's grid commands against tfchain-dev --dev: balances and transfers
# (exact amounts and fees), twins, a farm, a node, and a node contract's life
# as user, farmer and node: create from a deployment file, Deployed by the
# node, a cancel by a non-owner refused with the chain's error name, billed
# (bill-history from storage and from events), listed, cancelled by its owner.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build chain cli
need_tools python3 jq

TMP=$(mktemp -d)
CPID=
trap stop_all EXIT
BLOCK_MS=300 start_chain

# zos ARGS...: runs zos-cli, stdout in $TMP/out, stderr in $TMP/err.txt.
zos() { "$CLI" "$@" >"$TMP/out" 2>"$TMP/err.txt"; }
field() { jq -r ".$1" "$TMP/out"; }
planck_of() { "$CLI" balance "$1" --json | jq -r .free_planck; }
py() { python3 -c "import sys; print($1)" "${@:2}"; }

# ---- Balances and transfers.
zos balance alice || fail "balance alice"
grep -q '^free: [0-9]*\.[0-9]\{7\} TFT$' "$TMP/out" || fail "balance: $(cat "$TMP/out")"
zos balance alice --json || fail "balance alice --json"
[ "$(field account)" = 5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu ] || fail "alice's SS58: $(field account)"
[ "$(field free_planck)" -gt 0 ] || fail "alice has nothing"

zos key generate --out "$TMP/user.seed" --json || fail "key generate"
USER=$(field ss58_address)
USER_KEY=(--seed-file "$TMP/user.seed")
[ "$(planck_of "$USER")" = 0 ] || fail "a fresh account has a balance"
alice0=$(planck_of alice)
zos transfer "$USER" 2.5 --dev alice --json || fail "transfer alice -> user"
[ "$(field status)" = success ] && [ "$(field amount_planck)" = 25000000 ] || fail "transfer: $(cat "$TMP/out")"
jq -e '.events | index("Balances.Transfer")' "$TMP/out" >/dev/null || fail "no Balances.Transfer event: $(cat "$TMP/out")"
fee=$(field fee_planck)
[ "$fee" -gt 0 ] || fail "no fee reported"
[ "$(planck_of "$USER")" = 25000000 ] || fail "user received $(planck_of "$USER"), want 25000000"
[ "$(planck_of alice)" = "$(py 'int(sys.argv[1]) - 25000000 - int(sys.argv[2])' "$alice0" "$fee")" ] ||
	fail "alice $alice0 -> $(planck_of alice): not -2.5 TFT - fee $fee"
[ "$(field from_free_planck)" = "$(planck_of alice)" ] || fail "transfer printed a wrong sender balance"
echo "ok: transfer of 2.5 TFT, fee $fee planck"

alice1=$(planck_of alice)
zos transfer "$USER" 1.00000001 --dev alice && fail "8 decimals accepted"
grep -q 'more than 7 decimals' "$TMP/err.txt" || fail "8 decimals: wrong message"
zos transfer "$USER" 0 --dev alice && fail "a zero transfer accepted"
zos transfer nobody 1 --dev alice && fail "a bad account accepted"
[ "$(planck_of alice)" = "$alice1" ] || fail "a refused transfer changed alice's balance"
# More than the user has: the chain refuses it and names why.
zos transfer alice 100 "${USER_KEY[@]}"
[ $? = 1 ] || fail "overdrawn transfer did not exit 1"
grep -q 'failed: Balances\.\|failed: Token\.' "$TMP/err.txt" || fail "overdraft: no error name"
echo "ok: refused transfers"

# ---- Twins, farm, node.
zos twin create "${USER_KEY[@]}" --relay tcp://127.0.0.1:7101 --json || fail "user twin create"
UTWIN=$(field twin_id)
[ "$(field relay)" = tcp://127.0.0.1:7101 ] && [ "$(field account)" = "$USER" ] || fail "twin: $(cat "$TMP/out")"
zos twin create "${USER_KEY[@]}" && fail "a second twin for the user"
grep -q 'TfgridModule.TwinExists' "$TMP/err.txt" || fail "second twin: not TwinExists"
zos twin get "$UTWIN" || fail "twin get"
grep -q "^account: $USER\$" "$TMP/out" || fail "twin get: $(cat "$TMP/out")"
zos twin get --account "$USER" --json && [ "$(field twin_id)" = "$UTWIN" ] || fail "twin get --account"
zos twin get 999 && fail "twin 999 exists"
zos twin create --dev bob --json || fail "bob twin"
BTWIN=$(field twin_id)
zos twin create --dev charlie --json || fail "charlie twin"
CTWIN=$(field twin_id)
echo "ok: twins $UTWIN (user), $BTWIN (farmer), $CTWIN (node)"

zos farm create grid_farm "${USER_KEY[@]}" --dev bob && fail "two key sources accepted"
zos farm create grid_farm --dev bob --json || fail "farm create"
FARM=$(field farm_id)
[ "$(field twin_id)" = "$BTWIN" ] || fail "farm owner: $(cat "$TMP/out")"
zos farm create grid_farm --dev bob && fail "a duplicate farm name accepted"
grep -q 'failed: TfgridModule\.' "$TMP/err.txt" || fail "duplicate farm: no error name"
zos farm get "$FARM" || fail "farm get"
grep -q '^name: grid_farm$' "$TMP/out" || fail "farm get: $(cat "$TMP/out")"
zos chain call TfgridModule create_node "[$FARM, {\"hru\": 4398046511104, \"sru\": 1099511627776,
	\"cru\": 8, \"mru\": 68719476736}, {\"city\": \"$(hex Ghent)\", \"country\": \"$(hex Belgium)\",
	\"latitude\": \"$(hex 51.05)\", \"longitude\": \"$(hex 3.71)\"}, [], false, false, null]" --dev charlie ||
	fail "create_node"
NODE=$(jq -r '.events[] | select(.event == "NodeStored") | .data.id' "$TMP/out")
zos node get "$NODE" --json || fail "node get"
[ "$(field farm_id)" = "$FARM" ] && [ "$(field twin_id)" = "$CTWIN" ] && [ "$(field resources.cru)" = 8 ] ||
	fail "node get: $(cat "$TMP/out")"
zos node get 999 && fail "node 999 exists"
echo "ok: farm $FARM, node $NODE"

# ---- The contract's life.
cat >"$TMP/dep.json" <<'EOF'
{"version": 0, "metadata": "grid test", "description": "one volume",
 "workloads": [{"version": 0, "name": "data", "type": "volume", "data": {"size": 1073741824}}]}
EOF
printf '{"version": 0, "twin_id": 999, "workloads": []}' >"$TMP/bad.json"
user0=$(planck_of "$USER")
zos contract create --node "$NODE" --file "$TMP/bad.json" "${USER_KEY[@]}" && fail "a bad document accepted"
grep -q 'not a valid deployment' "$TMP/err.txt" || fail "bad document: wrong message"
zos contract create --node 999 --file "$TMP/dep.json" "${USER_KEY[@]}" && fail "node 999 accepted"
[ "$(planck_of "$USER")" = "$user0" ] || fail "a refused contract cost a fee"
zos contract create --node "$NODE" --file "$TMP/dep.json" "${USER_KEY[@]}" --json || fail "contract create"
CID=$(field contract_id)
jq -e '.events | index("SmartContractModule.ContractCreated")' "$TMP/out" >/dev/null || fail "no ContractCreated event"
HASH=$(field deployment_hash)
[ "$(field twin_id)" = "$UTWIN" ] && [ "$(field state)" = Created ] || fail "contract create: $(cat "$TMP/out")"
# The hash is that of the document as sealed: the file with twin_id filled in.
want=$(python3 -c 'import hashlib, json, sys
d = json.load(open(sys.argv[1])); d["twin_id"] = int(sys.argv[2])
print("0x" + hashlib.blake2b(json.dumps(d, separators=(",", ":")).encode(), digest_size=32).hexdigest())' \
	"$TMP/dep.json" "$UTWIN")
[ "$HASH" = "$want" ] || fail "deployment_hash $HASH, want $want"
stored=$("$CLI" chain get SmartContractModule Contracts "$CID" | jq -r '.contract_type.NodeContract.deployment_hash')
[ "$stored" = "$HASH" ] || fail "the chain stores hash $stored, not $HASH"
zos contract get "$CID" || fail "contract get"
grep -q '^state: Created$' "$TMP/out" || fail "not Created: $(cat "$TMP/out")"
zos chain call SmartContractModule set_contract_deployed "[$CID]" --dev charlie || fail "set_contract_deployed"
zos contract get "$CID" --json && [ "$(field state)" = Deployed ] || fail "not Deployed: $(cat "$TMP/out")"
zos contract cancel "$CID" --dev bob
[ $? = 1 ] || fail "cancel by a non-owner did not exit 1"
grep -q 'SmartContractModule.TwinNotAuthorizedToCancelContract' "$TMP/err.txt" ||
	fail "cancel by a non-owner: not the chain's error name"
zos contract get "$CID" --json && [ "$(field state)" = Deployed ] || fail "the refused cancel changed the contract"
echo "ok: contract $CID created, deployed, cancel by a non-owner refused"

zos contract list "${USER_KEY[@]}" --json || fail "contract list"
[ "$(jq -c '[.contracts[] | {contract_id, state}]' "$TMP/out")" = "[{\"contract_id\":$CID,\"state\":\"Deployed\"}]" ] ||
	fail "list: $(cat "$TMP/out")"
zos contract list --node "$NODE" || fail "contract list --node"
grep -q "^$CID  *Deployed  *$NODE  *$UTWIN" "$TMP/out" || fail "list --node: $(cat "$TMP/out")"
zos contract list --twin "$BTWIN" --json && [ "$(jq '.contracts | length' "$TMP/out")" = 0 ] ||
	fail "bob's twin has contracts"
echo "ok: contract list"

# ---- A report bills the contract; bill-history shows it.
now_s() { echo $(($("$CLI" chain get Timestamp Now) / 1000)); }
last=$("$CLI" chain get SmartContractModule ContractBillingInformationByID "$CID" | jq -r .last_updated)
for _ in $(seq 1 50); do
	[ "$(now_s)" -gt "$last" ] && break
	sleep 0.2
done
ts=$(now_s)
[ "$ts" -gt "$last" ] || fail "chain time does not move"
zos chain call SmartContractModule add_reports "[[{\"contract_id\": $CID, \"timestamp\": $ts, \"cru\": 2,
	\"sru\": 107374182400, \"hru\": 0, \"mru\": 4294967296, \"nru\": 1000000000}]]" --dev charlie ||
	fail "add_reports"
BLOCK=$(jq -r .block_number "$TMP/out")
billed=$("$CLI" chain get SmartContractModule ContractBillHistory "$CID" | jq -r '.[-1].amount_billed')
[ "$billed" -gt 0 ] || fail "nothing billed"
zos contract bill-history "$CID" --json || fail "bill-history"
[ "$(field source)" = ContractBillHistory ] && [ "$(jq '.bills | length' "$TMP/out")" = 1 ] &&
	[ "$(jq -r '.bills[0].amount_planck' "$TMP/out")" = "$billed" ] &&
	[ "$(jq -r '.bills[0].timestamp' "$TMP/out")" -ge "$ts" ] &&
	[ "$(field total_planck)" = "$billed" ] || fail "bill-history: $(cat "$TMP/out") (billed $billed)"
zos contract bill-history "$CID" --from 1 --json || fail "bill-history --from"
[ "$(field source)" = events ] && [ "$(jq -r '.bills[0].block_number' "$TMP/out")" = "$BLOCK" ] &&
	[ "$(jq -r '.bills[0].amount_planck' "$TMP/out")" = "$billed" ] || fail "bill-history from events: $(cat "$TMP/out")"
zos contract bill-history "$CID" || fail "bill-history table"
grep -q "^total: $(py 'f"{int(sys.argv[1]) // 10**7}.{int(sys.argv[1]) % 10**7:07d}"' "$billed") TFT in 1 bill(s)$" "$TMP/out" ||
	fail "bill-history table: $(cat "$TMP/out")"
zos contract bill-history "$CID" --from 5 --to 4 && fail "an empty range accepted"
echo "ok: billed $billed planck in block $BLOCK"

# ---- The owner cancels.
zos contract cancel "$CID" "${USER_KEY[@]}" --json || fail "cancel by the owner"
[ "$(field status)" = canceled ] && [ "$(field node_id)" = "$NODE" ] || fail "cancel: $(cat "$TMP/out")"
zos contract get "$CID" && fail "a cancelled contract is still there"
grep -q 'does not exist' "$TMP/err.txt" || fail "get after cancel: wrong message"
zos contract list "${USER_KEY[@]}" --json && [ "$(jq '.contracts | length' "$TMP/out")" = 0 ] ||
	fail "list after cancel: $(cat "$TMP/out")"
zos contract bill-history "$CID" --json && [ "$(jq '.bills | length' "$TMP/out")" = 1 ] ||
	fail "the bill history went with the contract"
zos contract cancel "$CID" "${USER_KEY[@]}" && fail "a second cancel succeeded"
grep -q 'SmartContractModule.ContractNotExists' "$TMP/err.txt" || fail "second cancel: not ContractNotExists"
echo "ok: cancelled by its owner"

# A sanitized tfchain-dev reports memory errors and leaks when it exits.
stop_chain_clean
exit 0
