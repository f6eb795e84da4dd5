#!/bin/bash
# RMB against the devchain: twins created on chain with zos-cli, an RMB peer
# (zos-cli rmb serve) that verifies callers' keys on chain, and zos-cli rmb
# call resolving the destination's address and key from its twin's relay.
# Checks the round trip and the refusals a caller sees (103, 104, 107),
# that a destination which is not the peer's twin is refused, and that an
# unreachable chain gives a retryable 500, never "unknown twin".
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build chain cli

TMP=$(mktemp -d /tmp/rmb-it.XXXXXX)
CPID= SPID=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	stop_all
}
trap cleanup EXIT
FAIL_LOGS="chain.log serve.log"

BLOCK_MS=150 start_chain --base-path "$TMP/base"

SOCK="ipc://$TMP/bob.sock"
hexof() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
twin() { # dev-name relay-or-empty -> twin id
	local relay=null
	[ -n "$2" ] && relay="\"0x$(hexof "$2")\""
	"$CLI" chain call TfgridModule create_twin "[$relay, null]" --dev "$1" >"$TMP/call.out" 2>&1 ||
		fail "create_twin for $1: $(cat "$TMP/call.out")"
	"$CLI" chain get TfgridModule TwinIdByAccountID "$1"
}
BOB=$(twin bob "$SOCK") || exit 1
CHARLIE=$(twin charlie "") || exit 1
EVE=$(twin eve "") || exit 1
FERDIE=$(twin ferdie "") || exit 1
echo "twins: bob=$BOB charlie=$CHARLIE eve=$EVE ferdie=$FERDIE"

"$CLI" rmb serve --listen "$SOCK" --dev bob 2>"$TMP/serve.log" &
SPID=$!
wait_log 5 "serving twin $BOB" "$TMP/serve.log" || fail "rmb serve did not start"

# Round trips: the caller's twin and the destination's relay and key come from chain.
out=$("$CLI" rmb call "$BOB" zos.system.version --dev charlie --timeout 3000) || fail "version: $out"
echo "$out" | grep -q '"version":' || fail "version payload: $out"
out=$("$CLI" rmb call "$BOB" rmb.echo '{"n":[1,2,3]}' --dev charlie) || fail "echo: $out"
[ "$out" = "{\"payload\":{\"n\":[1,2,3]},\"caller\":$CHARLIE}" ] || fail "echo payload: $out"
echo "ok: round trips through the relay on chain"

expect_code() { # code description cmd...
	local code=$1 what=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" && fail "$what: succeeded: $(cat "$TMP/out")"
	grep -q "rmb error $code " "$TMP/err" || fail "$what: expected $code, got: $(cat "$TMP/err")"
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
"$CLI" rmb call "$CHARLIE" zos.system.version --dev eve --rmb "$SOCK" --dst-pk "$BOBPK" >"$TMP/out" 2>"$TMP/err" &&
	fail "wrong destination accepted"
grep -q "rmb error 105 " "$TMP/err" || grep -q "failed: malformed" "$TMP/err" || fail "wrong destination: $(cat "$TMP/err")"
echo "ok: destination"

# The chain goes away: ferdie's twin was never looked up by the peer, so its
# key is unknown now; the answer must be retryable, never "unknown twin".
kill "$CPID"
wait "$CPID" 2>/dev/null
CPID=
"$CLI" rmb call "$BOB" zos.system.version --dev ferdie --src "$FERDIE" --rmb "$SOCK" --dst-pk "$BOBPK" \
	--attempts 1 >"$TMP/out" 2>"$TMP/err" && fail "unverifiable caller accepted"
grep -q "rmb error 500 .*\[retryable\]" "$TMP/err" || fail "chain down: $(cat "$TMP/err")"
# A caller already in the key cache is still served.
out=$("$CLI" rmb call "$BOB" zos.system.version --dev charlie --src "$CHARLIE" --rmb "$SOCK" --dst-pk "$BOBPK") ||
	fail "cached caller with the chain down: $out"
echo "ok: chain down is retryable, cached keys still verify"

kill "$SPID"
wait "$SPID" || fail "rmb serve did not exit cleanly on SIGTERM"
SPID=
echo "ok"
