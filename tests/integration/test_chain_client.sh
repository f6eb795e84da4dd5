#!/bin/bash
# The online chain client through zos-cli against tfchain-dev: decoded
# storage reads (value, default, absent, unknown), a transfer whose outcome
# comes from the including block's events, a failing call reported by its
# module error name, and forced nonce collisions (a stale nonce, and two
# processes signing with the same nonce) resolved by resyncing.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
: "${BUILD:=build}"
CLI="$BUILD/zos-cli"
DEV="$BUILD/tfchain-dev"
for b in "$CLI" "$DEV"; do
	[ -x "$b" ] || { echo "skipped: $b not built"; exit 77; }
done

DIR=$(mktemp -d /tmp/chain-client-it.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$DIR"/*.out "$DIR"/*.err "$DIR/log"; do
		[ -s "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }
	done
	exit 1
}
ok() { echo "ok: $*"; }

"$DEV" --dev --rpc-addr 127.0.0.1:0 --block-time 150 2>"$DIR/log" &
PID=$!
PORT=$(chain_port "$DIR/log") || fail "no rpc port in the devchain log"
URL="http://127.0.0.1:$PORT"

# json_num FILE FIELD: the first numeric value of "FIELD" in a printed JSON.
json_num() { sed -n "s/.*\"$2\":[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1; }

free_of() { # ACCOUNT -> free balance
	"$CLI" chain get System Account "$1" --url "$URL" >"$DIR/acct.out" 2>"$DIR/acct.err" ||
		fail "chain get System Account $1"
	json_num "$DIR/acct.out" free
}

# --- reads --------------------------------------------------------------------
"$CLI" chain get System Account alice --url "$URL" >"$DIR/get.out" 2>"$DIR/get.err" ||
	fail "chain get System Account alice"
grep -q '"free"' "$DIR/get.out" || fail "AccountInfo has no free balance"
grep -q '"nonce"' "$DIR/get.out" || fail "AccountInfo has no nonce"
ok "System.Account of alice decodes"

"$CLI" chain get TfgridModule Twins 424242 --url "$URL" >"$DIR/absent.out" 2>"$DIR/absent.err" ||
	fail "an absent twin is an error"
[ "$(cat "$DIR/absent.out")" = "null" ] || fail "an absent twin is not null"
ok "absent value prints null"

# An AccountId32 key as an SS58 address (which starts with a digit), 0x-hex or
# a dev name reads the same entry.
"$CLI" twin create --dev alice --url "$URL" >"$DIR/twin.out" 2>"$DIR/twin.err" || fail "twin create"
"$CLI" key inspect --dev alice >"$DIR/alice.out" 2>"$DIR/alice.err" || fail "key inspect alice"
ALICE_SS58=$(sed -n 's/^ss58_address: //p' "$DIR/alice.out")
ALICE_HEX=$(sed -n 's/^account_id: //p' "$DIR/alice.out")
case "$ALICE_SS58" in [0-9]*) ;; *) fail "alice's SS58 address does not start with a digit: $ALICE_SS58" ;; esac
for k in "$ALICE_SS58" "$ALICE_HEX" alice; do
	"$CLI" chain get TfgridModule TwinIdByAccountID "$k" --url "$URL" >"$DIR/byacc.out" 2>"$DIR/byacc.err" ||
		fail "TwinIdByAccountID $k"
	[ "$(cat "$DIR/byacc.out")" = 1 ] || fail "TwinIdByAccountID $k: $(cat "$DIR/byacc.out")"
done
if "$CLI" chain get TfgridModule TwinIdByAccountID 5notanaccount --url "$URL" >"$DIR/byacc.out" 2>"$DIR/byacc.err"; then
	fail "a bad account key was accepted"
fi
grep -q "key 1: cannot use '5notanaccount'" "$DIR/byacc.err" || fail "bad account key: $(cat "$DIR/byacc.err")"
# A number key must be the whole argument, not its leading digits.
"$CLI" chain get TfgridModule Twins 1x --url "$URL" >"$DIR/byacc.out" 2>"$DIR/byacc.err" &&
	fail "Twins 1x read twin 1"
ok "AccountId32 keys as SS58, 0x-hex and dev name"

# A node that does not answer is unknown: an error, never null.
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 1)
if "$CLI" chain get TfgridModule Twins 1 --url "http://127.0.0.1:$CLOSED" >"$DIR/unknown.out" 2>"$DIR/unknown.err"; then
	fail "an unreachable chain read succeeded"
fi
grep -q null "$DIR/unknown.out" && fail "an unreachable chain read printed null"
ok "unreachable chain is an error, not absent"

# --- a transfer and its outcome --------------------------------------------------
before=$(free_of bob)
"$CLI" chain call Balances transfer '["bob", 12345]' --dev alice --url "$URL" \
	>"$DIR/xfer.out" 2>"$DIR/xfer.err" || fail "transfer failed"
grep -q '"status":[[:space:]]*"success"' "$DIR/xfer.out" || fail "transfer status not success"
grep -q '"event":[[:space:]]*"ExtrinsicSuccess"' "$DIR/xfer.out" || fail "no ExtrinsicSuccess event"
grep -q '"event":[[:space:]]*"Transfer"' "$DIR/xfer.out" || fail "no Balances.Transfer event"
after=$(free_of bob)
[ $((after - before)) -eq 12345 ] || fail "bob received $((after - before)), not 12345"
ok "transfer succeeded per events; bob +12345"

# --- a failing call -------------------------------------------------------------
if "$CLI" chain call SmartContractModule cancel_contract '[999999]' --dev alice --url "$URL" \
	>"$DIR/bad.out" 2>"$DIR/bad.err"; then
	fail "cancelling a missing contract succeeded"
fi
grep -q 'SmartContractModule\.ContractNotExists' "$DIR/bad.err" ||
	fail "stderr does not name SmartContractModule.ContractNotExists"
grep -q '"status":[[:space:]]*"failed"' "$DIR/bad.out" || fail "status not failed"
grep -q '"event":[[:space:]]*"ExtrinsicFailed"' "$DIR/bad.out" || fail "no ExtrinsicFailed event"
ok "failing call reports SmartContractModule.ContractNotExists"

# --- forced nonce collisions ---------------------------------------------------
# Nonce 0 is long used: the node refuses it as stale (1010), the client
# resyncs from the chain and re-signs.
"$CLI" chain call Balances transfer '["charlie", 1]' --dev alice --nonce 0 --url "$URL" \
	>"$DIR/stale.out" 2>"$DIR/stale.err" || fail "stale-nonce call failed"
grep -q '"status":[[:space:]]*"success"' "$DIR/stale.out" || fail "stale-nonce call not success"
[ "$(json_num "$DIR/stale.out" resends)" -ge 1 ] || fail "stale nonce was not resynced"
[ "$(json_num "$DIR/stale.out" nonce)" -gt 0 ] || fail "stale nonce was used"
ok "stale nonce refused, resynced and re-signed"

# Two processes sign with the same next nonce at once: one of them is refused
# (1014 while the other is in the pool, or 1010 once it is in a block) and
# must resync; both calls end up included with distinct nonces.
"$CLI" chain get System Account alice --url "$URL" >"$DIR/n.out" 2>/dev/null || fail "nonce read"
N=$(json_num "$DIR/n.out" nonce)
for i in 1 2; do
	"$CLI" chain call Balances transfer '["dave", 1]' --dev alice --nonce "$N" --url "$URL" \
		>"$DIR/dup$i.out" 2>"$DIR/dup$i.err" &
	eval "P$i=\$!"
done
wait "$P1" || fail "first concurrent call failed"
wait "$P2" || fail "second concurrent call failed"
n1=$(json_num "$DIR/dup1.out" nonce)
n2=$(json_num "$DIR/dup2.out" nonce)
r1=$(json_num "$DIR/dup1.out" resends)
r2=$(json_num "$DIR/dup2.out" resends)
[ -n "$n1" ] && [ -n "$n2" ] && [ "$n1" != "$n2" ] || fail "concurrent nonces not distinct: $n1 $n2"
[ $((r1 + r2)) -ge 1 ] || fail "no resync although both signed nonce $N"
ok "same-nonce collision resolved (nonces $n1 and $n2)"
exit 0
