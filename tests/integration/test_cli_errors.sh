#!/bin/bash
# The mistakes a new user makes get an error that names the cause and the
# fix, and a non-zero exit: a negative amount, the bills of a contract that
# does not exist, a tfchain-dev started on a port in use, a chain that is
# not running, a chain URL without a scheme, an RMB address given as the
# chain.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build chain cli
need_tools python3
TMP=$(mktemp -d /tmp/cli-errors.XXXXXX)
CPID= BPID= HPID=
cleanup() {
	[ -n "$BPID" ] && stop_pid "$BPID"
	[ -n "$HPID" ] && stop_pid "$HPID"
	stop_all
}
trap cleanup EXIT
start_chain

# expect RC PATTERN CMD...: CMD exits RC and its stderr matches PATTERN.
expect() {
	local want=$1 pat=$2 rc
	shift 2
	"$@" >"$TMP/out.txt" 2>"$TMP/err.txt"
	rc=$?
	[ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat "$TMP/err.txt")"
	grep -q -- "$pat" "$TMP/err.txt" || fail "$*: stderr lacks '$pat': $(cat "$TMP/err.txt")"
}

expect 2 "AMOUNT '-1' is negative" "$CLI" transfer bob -1 --dev alice
expect 2 "AMOUNT '-0.5' is negative" "$CLI" transfer bob -0.5 --dev alice
expect 2 "AMOUNT 'abc' is not a TFT amount" "$CLI" transfer bob abc --dev alice
expect 2 "more than 7 decimals" "$CLI" transfer bob 0.00000001 --dev alice
echo "ok: negative and malformed amounts get the amount error"

expect 1 "contract 4242 does not exist" "$CLI" contract bill-history 4242
[ -s "$TMP/out.txt" ] && fail "bill-history of a missing contract printed: $(cat "$TMP/out.txt")"
echo "ok: the bills of a missing contract are an error, not an empty table"

# A chain that is not running: connection refused at the URL tried, with
# what to start or set, for reads and for signed calls (never "rejected").
DPORT=$(free_port)
DOWN="http://127.0.0.1:$DPORT"
expect 1 "connection refused at $DOWN" "$CLI" balance alice --url "$DOWN"
grep -q "start tfchain-dev or a tfchain node at that URL, or set --url / ZOS_CHAIN_URL" "$TMP/err.txt" ||
	fail "chain down: no fix named: $(cat "$TMP/err.txt")"
expect 1 "not sent: connection refused at $DOWN" "$CLI" twin create --dev dave --url "$DOWN"
grep -q "rejected" "$TMP/err.txt" && fail "chain down: a signed call says rejected: $(cat "$TMP/err.txt")"
expect 1 "connection refused at $DOWN" env ZOS_CHAIN_URL="$DOWN" "$CLI" chain get Timestamp Now
expect 1 "connection refused at $DOWN" "$CLI" deploy --node 1 /dev/null --dev alice --url "$DOWN"
echo "ok: a chain that is not running is 'connection refused' at the URL, with the fix"

# Something that is not a chain's JSON-RPC answers: the HTTP status is named.
HPORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$HPORT" --directory "$TMP" >/dev/null 2>&1 &
HPID=$!
wait_port 5 "$HPORT" ||
	fail "the HTTP server did not listen"
expect 1 "HTTP status 501 from http://127.0.0.1:$HPORT" "$CLI" balance alice --url "http://127.0.0.1:$HPORT"
stop_pid "$HPID"
HPID=
echo "ok: an HTTP error names the status"

expect 2 "chain URL '127.0.0.1:$CPORT' has no scheme: use http://, https://, ws:// or wss://" \
	"$CLI" balance alice --url "127.0.0.1:$CPORT"
expect 2 "unknown scheme 'ftp://'" "$CLI" contract get 1 --url "ftp://127.0.0.1:$CPORT"
echo "ok: a chain URL without a scheme or with an unknown one names the schemes that work"

expect 2 "is an RMB (nng) address, not a chain.*--rmb" \
	"$CLI" deploy --node 1 /dev/null --dev alice --url "tcp://127.0.0.1:$CPORT"
grep -q "tcp://127.0.0.1:$CPORT" "$TMP/err.txt" || fail "--url tcp: the address is not named"
expect 2 "is an RMB (nng) address" "$CLI" deployment list --node 1 --dev alice --url "ipc:///tmp/x.sock"
expect 2 "is an RMB (nng) address" "$CLI" rmb call 1 zos.system.version --dev alice --url "tcp://127.0.0.1:1"
expect 2 "looks like a chain URL.*give the chain with --url" \
	"$CLI" deployment list --node 1 --dev alice --rmb "http://127.0.0.1:$CPORT"
echo "ok: an RMB address given to --url is refused with 'use --rmb', and the other way round"

BPORT=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(60)' "$BPORT" &
BPID=$!
wait_port 5 "$BPORT" ||
	fail "the port blocker did not listen"
expect 1 "cannot listen on 127.0.0.1:$BPORT: the address is in use" timeout 10 "$CHAIN" --dev --rpc-port "$BPORT"
grep -q "port 0" "$TMP/err.txt" && fail "the busy-port error names port 0: $(cat "$TMP/err.txt")"
echo "ok: tfchain-dev on a busy port names the port and the fix"
echo "ok"
