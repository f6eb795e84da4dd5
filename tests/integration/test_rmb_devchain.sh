#!/bin/bash
# RMB against the devchain: twins created on chain with zos-cli, an RMB peer
# (zos-cli rmb serve) that verifies callers' keys on chain, and zos-cli rmb
# call resolving the destination's address and key from its twin's relay.
# Checks the round trip and the refusals a caller sees (103, 104, 107),
# that a destination which is not the peer's twin is refused, and that an
# unreachable chain gives a retryable 500, never "unknown twin".
set -u
: "${BUILD:=build}"
CHAIN="$BUILD/tfchain-dev"
CLI="$BUILD/zos-cli"
for b in "$CHAIN" "$CLI"; do
	[ -x "$b" ] || { echo "skipped: $b not built"; exit 77; }
done

DIR=$(mktemp -d /tmp/rmb-it.XXXXXX)
CPID= SPID=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	[ -n "$CPID" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in chain.log serve.log; do [ -f "$DIR/$f" ] && { echo "--- $f"; tail -n 15 "$DIR/$f"; }; done
	exit 1
}

"$CHAIN" --base-path "$DIR/base" --rpc-addr 127.0.0.1:0 --block-time 150 2>"$DIR/chain.log" &
CPID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*rpc listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$DIR/chain.log")
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || fail "devchain did not start"
export ZOS_CHAIN_URL="http://127.0.0.1:$PORT"

SOCK="ipc://$DIR/bob.sock"
hexof() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
twin() { # dev-name relay-or-empty -> twin id
	local relay=null
	[ -n "$2" ] && relay="\"0x$(hexof "$2")\""
	"$CLI" chain call TfgridModule create_twin "[$relay, null]" --dev "$1" >"$DIR/call.out" 2>&1 ||
		fail "create_twin for $1: $(cat "$DIR/call.out")"
	"$CLI" chain get TfgridModule TwinIdByAccountID "$1"
}
BOB=$(twin bob "$SOCK") || exit 1
CHARLIE=$(twin charlie "") || exit 1
EVE=$(twin eve "") || exit 1
FERDIE=$(twin ferdie "") || exit 1
echo "twins: bob=$BOB charlie=$CHARLIE eve=$EVE ferdie=$FERDIE"

"$CLI" rmb serve --listen "$SOCK" --dev bob 2>"$DIR/serve.log" &
SPID=$!
for _ in $(seq 1 50); do
	grep -q "serving twin $BOB" "$DIR/serve.log" && break
	sleep 0.1
done
grep -q "serving twin $BOB" "$DIR/serve.log" || fail "rmb serve did not start"

# Round trips: the caller's twin and the destination's relay and key come from chain.
out=$("$CLI" rmb call "$BOB" zos.system.version --dev charlie --timeout 3000) || fail "version: $out"
echo "$out" | grep -q '"version":' || fail "version payload: $out"
out=$("$CLI" rmb call "$BOB" rmb.echo '{"n":[1,2,3]}' --dev charlie) || fail "echo: $out"
[ "$out" = "{\"payload\":{\"n\":[1,2,3]},\"caller\":$CHARLIE}" ] || fail "echo payload: $out"
echo "ok: round trips through the relay on chain"

expect_code() { # code description cmd...
	local code=$1 what=$2
	shift 2
	"$@" >"$DIR/out" 2>"$DIR/err" && fail "$what: succeeded: $(cat "$DIR/out")"
	grep -q "rmb error $code " "$DIR/err" || fail "$what: expected $code, got: $(cat "$DIR/err")"
}
# dave has no twin: claiming some twin id gives 103 (absent) or 104 (not its key).
expect_code 103 "unknown twin" "$CLI" rmb call "$BOB" zos.system.version --dev dave --src 4000
expect_code 104 "wrong key" "$CLI" rmb call "$BOB" zos.system.version --dev dave --src "$CHARLIE"
expect_code 107 "unknown command" "$CLI" rmb call "$BOB" zos.nope --dev charlie
echo "ok: 103, 104, 107"

# Addressed to charlie's twin at bob's address: bob refuses it (105), and
# its reply, from bob's twin, is not accepted as charlie's answer.
BOBPK=$("$CLI" chain get TfgridModule Twins "$BOB" | sed -n 's/.*"account_id":[^"]*"\(0x[0-9a-f]*\)".*/\1/p')
[ -n "$BOBPK" ] || fail "bob's account id"
"$CLI" rmb call "$CHARLIE" zos.system.version --dev eve --rmb "$SOCK" --dst-pk "$BOBPK" >"$DIR/out" 2>"$DIR/err" &&
	fail "wrong destination accepted"
grep -q "rmb error 105 " "$DIR/err" || grep -q "failed: malformed" "$DIR/err" || fail "wrong destination: $(cat "$DIR/err")"
echo "ok: destination"

# The chain goes away: ferdie's twin was never looked up by the peer, so its
# key is unknown now; the answer must be retryable, never "unknown twin".
kill "$CPID"
wait "$CPID" 2>/dev/null
CPID=
"$CLI" rmb call "$BOB" zos.system.version --dev ferdie --src "$FERDIE" --rmb "$SOCK" --dst-pk "$BOBPK" \
	--attempts 1 >"$DIR/out" 2>"$DIR/err" && fail "unverifiable caller accepted"
grep -q "rmb error 500 .*\[retryable\]" "$DIR/err" || fail "chain down: $(cat "$DIR/err")"
# A caller already in the key cache is still served.
out=$("$CLI" rmb call "$BOB" zos.system.version --dev charlie --src "$CHARLIE" --rmb "$SOCK" --dst-pk "$BOBPK") ||
	fail "cached caller with the chain down: $out"
echo "ok: chain down is retryable, cached keys still verify"

kill "$SPID"
wait "$SPID" || fail "rmb serve did not exit cleanly on SIGTERM"
SPID=
echo "ok"
