#!/bin/bash
# tfchain-dev over raw JSON-RPC with curl: runtime version, metadata magic,
# System.Account of //Alice through a key computed here (twox128 prefixes
# as Substrate defines them, blake2b-128 by b2sum), standard errors for malformed
# requests, 1010 for bad extrinsics, and a kill -9 + restart on the same
# base path that keeps every block and the state.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
: "${BUILD:=build}"
BIN="$BUILD/tfchain-dev"
[ -x "$BIN" ] || { echo "skipped: $BIN not built"; exit 77; }
for t in curl b2sum; do
	command -v $t >/dev/null || { echo "skipped: $t not installed"; exit 77; }
done

DIR=$(mktemp -d /tmp/devchain-it.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; [ -f "$DIR/log" ] && tail -n 20 "$DIR/log"; exit 1; }

start() {
	"$BIN" --base-path "$DIR/base" --rpc-addr 127.0.0.1:0 --block-time 150 2>"$DIR/log" &
	PID=$!
	PORT=$(chain_port "$DIR/log") || fail "no rpc port in the log"
}

rpc() { # method params
	curl -s --max-time 10 -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"$1\",\"params\":$2}" \
		"http://127.0.0.1:$PORT/"
}

raw() { curl -s --max-time 10 -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$PORT/"; }

field() { # extracts "key":value (string or number) from one-line JSON
	sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p"
}

head_number() { echo $((16#$(rpc chain_getHeader '[]' | field number | sed 's/^0x//'))); }

start

# The ed25519 //Alice account (the well-known development seed), and its System.Account key.
ALICE=88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee
PREFIX=26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9
B2=$(printf "$(echo $ALICE | sed 's/../\\x&/g')" | b2sum -l 128 | cut -d' ' -f1)
KEY=0x$PREFIX$B2$ALICE

v=$(rpc state_getRuntimeVersion '[]')
echo "$v" | grep -q '"specName":"substrate-threefold"' || fail "runtime version: $v"
echo "$v" | grep -q '"transactionVersion":1' || fail "runtime version: $v"

m=$(rpc state_getMetadata '[]' | field result)
case "$m" in 0x6d6574610e*) ;; *) fail "metadata does not start with meta v14" ;; esac

acc=$(rpc state_getStorage "[\"$KEY\"]" | field result)
[ ${#acc} -eq 162 ] || fail "System.Account of Alice: $acc"
# data.free is the u128 after four u32: bytes 16..31; 1,000,000 TFT = 10^13.
free_le=${acc:34:32}
free_be=$(echo "$free_le" | sed 's/../& /g' | tr ' ' '\n' | tac | tr -d '\n')
[ $((16#${free_be: -16})) -eq 10000000000000 ] || fail "Alice's free balance: $free_le"

r=$(rpc state_getStorage '["0x26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da900"]')
echo "$r" | grep -q '"result":null' || fail "absent storage is not null: $r"

keys=$(rpc state_getKeysPaged "[\"0x$PREFIX\", 3]")
[ "$(echo "$keys" | grep -o '"0x' | wc -l)" -eq 3 ] || fail "getKeysPaged count: $keys"

# Standard JSON-RPC errors.
raw '{oops' | grep -q '"code":-32700' || fail "parse error"
raw '{"jsonrpc":"2.0","id":1,"params":[]}' | grep -q '"code":-32600' || fail "invalid request"
rpc no_such_method '[]' | grep -q '"code":-32601' || fail "method not found"
rpc state_getStorage '[1]' | grep -q '"code":-32602' || fail "invalid params"
rpc state_getStorage '{}' | grep -q '"code":-32602' || fail "object params"

# Bad extrinsics: truncated, garbage, unsigned, huge: 1010 with a reason.
for xt in 0x2084 0xffffffff 0x0c040000 0x08; do
	r=$(rpc author_submitExtrinsic "[\"$xt\"]")
	echo "$r" | grep -q '"code":1010' || fail "extrinsic $xt: $r"
	echo "$r" | grep -q '"data":"' || fail "no reason for $xt: $r"
done
big=$(head -c 600000 /dev/zero | od -An -v -tx1 | tr -d ' \n')
printf '{"jsonrpc":"2.0","id":1,"method":"author_submitExtrinsic","params":["0x%s"]}' "$big" > "$DIR/big.json"
r=$(curl -s --max-time 20 -H 'Content-Type: application/json' --data-binary @"$DIR/big.json" "http://127.0.0.1:$PORT/")
echo "$r" | grep -q '"code":1010' || fail "huge extrinsic: ${r:0:200}"
grep -q "rejected extrinsic" "$DIR/log" || fail "no log line for rejected extrinsics"
# Bodies past the 4 MiB bound are refused at the HTTP layer.
head -c 5000000 /dev/zero | tr '\0' 'a' > "$DIR/huge.body"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --data-binary @"$DIR/huge.body" "http://127.0.0.1:$PORT/")
[ "$code" = 413 ] || fail "5 MB body: HTTP $code"

# Blocks keep coming, one log line each.
n1=$(head_number)
sleep 0.6
n2=$(head_number)
[ "$n2" -gt "$n1" ] || fail "chain stalled at $n1"
grep -q "block $n1: 0 extrinsics" "$DIR/log" || fail "no log line for block $n1"

# kill -9 and restart on the same base path.
h=$(rpc chain_getBlockHash "[$n2]" | field result)
{ kill -9 "$PID"; wait "$PID"; } 2>/dev/null
PID=
start
h2=$(rpc chain_getBlockHash "[$n2]" | field result)
[ "$h" = "$h2" ] || fail "block $n2 changed across kill -9: $h vs $h2"
acc2=$(rpc state_getStorage "[\"$KEY\"]" | field result)
[ "$acc" = "$acc2" ] || fail "Alice's account changed across restart"
n3=$(head_number)
sleep 0.6
[ "$(head_number)" -gt "$n3" ] || fail "no blocks after restart"

# A damaged store is refused with a clear message, not crashed on.
kill "$PID"
wait "$PID" 2>/dev/null
PID=
rm -f "$DIR/base/chain.sqlite-wal" "$DIR/base/chain.sqlite-shm"
printf 'garbage garbage garbage garbage' | dd of="$DIR/base/chain.sqlite" bs=1 seek=0 conv=notrunc 2>/dev/null
"$BIN" --base-path "$DIR/base" --rpc-addr 127.0.0.1:0 2>"$DIR/log2"
rc=$?
[ $rc -ne 0 ] || fail "started on a damaged store"
[ $rc -lt 128 ] || fail "crashed on a damaged store (status $rc)"
grep -q "refusing to start" "$DIR/log2" || fail "no clear message: $(cat "$DIR/log2")"
echo "ok"
