#!/bin/bash
# tfchain-dev under abuse: 300 connections sending their headers a byte at
# a time (slowloris) and 1500 idle connections do not stop other callers
# (answered within curl's 5 s bound while they are held), and are closed
# by the 10 s request deadline; a batch of 256 state_getMetadata stays
# within the 2 MiB response budget (the rest answered "Response too
# large"); an id that is not valid UTF-8 and a non-integer
# state_getKeysPaged count are refused.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
: "${BUILD:=build}"
BIN="$BUILD/tfchain-dev"
[ -x "$BIN" ] || { echo "skipped: $BIN not built"; exit 77; }
for t in curl python3; do
	command -v $t >/dev/null || { echo "skipped: $t not installed"; exit 77; }
done
[ "$(ulimit -n)" -ge 4096 ] 2>/dev/null || ulimit -n 4096 2>/dev/null ||
	{ echo "skipped: cannot open 4096 files (ulimit -n)"; exit 77; }

DIR=$(mktemp -d /tmp/devchain-abuse.XXXXXX)
PID= HP=
cleanup() {
	[ -n "$HP" ] && kill "$HP" 2>/dev/null && wait "$HP" 2>/dev/null
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$DIR/log" ] && tail -n 20 "$DIR/log"; exit 1; }

"$BIN" --dev --rpc-addr 127.0.0.1:0 --block-time 500 2>"$DIR/log" &
PID=$!
PORT=$(chain_port "$DIR/log") || fail "no rpc port in the log"
URL="http://127.0.0.1:$PORT/"

post() { # body [max-time]
	curl -s --max-time "${2:-5}" -H 'Content-Type: application/json' --data-binary "$1" "$URL"
}
healthy() { # what
	local t0 t1
	t0=$(date +%s%N)
	post '{"jsonrpc":"2.0","id":1,"method":"chain_getHeader","params":[]}' >"$DIR/out" ||
		fail "no answer while $1"
	t1=$(date +%s%N)
	grep -q '"number"' "$DIR/out" || fail "while $1: $(cat "$DIR/out")"
	echo "ok: answered in $(((t1 - t0) / 1000000)) ms while $1"
}
healthy "idle"

# hold.py MODE COUNT SECONDS: opens COUNT connections and holds them,
# trickling header bytes (slow) or silent (idle); prints how many the
# server closed by then.
cat >"$DIR/hold.py" <<'PY'
import socket, sys, time
port, mode, count, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
socks = []
for _ in range(count):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.setblocking(False)
        if mode == "slow":
            s.send(b"POST / HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    except OSError:
        pass
closed = set()
end = time.time() + secs
while time.time() < end:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        try:
            if s.recv(4096) == b"":
                closed.add(i)
                continue
        except BlockingIOError:
            pass
        except OSError:
            closed.add(i)
            continue
        if mode == "slow":
            try:
                s.send(b"X")
            except OSError:
                closed.add(i)
    time.sleep(1)
print(len(socks), len(closed))
PY

python3 "$DIR/hold.py" "$PORT" slow 300 13 >"$DIR/slow.out" &
HP=$!
sleep 3
healthy "300 slowloris connections are held"
wait $HP
HP=
read -r opened closed <"$DIR/slow.out"
[ "$opened" -ge 250 ] || fail "only $opened slowloris connections opened"
[ "$closed" -eq "$opened" ] || fail "$closed of $opened slowloris connections closed after 13 s"
echo "ok: all $opened slowloris connections closed by the deadline or displaced"

python3 "$DIR/hold.py" "$PORT" idle 1500 4 >"$DIR/idle.out" &
HP=$!
sleep 2.5
healthy "1500 idle connections are held"
wait $HP
HP=
healthy "after the floods"

# A batch of 256 metadata requests: the answer stays within the budget.
python3 -c 'import json; print(json.dumps([{"jsonrpc":"2.0","id":i,"method":"state_getMetadata","params":[]} for i in range(256)]))' >"$DIR/batch.json"
post "@$DIR/batch.json" 20 >"$DIR/batch.out" || fail "no answer to the batch"
size=$(stat -c %s "$DIR/batch.out")
[ "$size" -le $((2 * 1048576 + 256 * 800)) ] || fail "batch answer of $size bytes"
python3 - "$DIR/batch.out" <<'PY' || fail "batch answer: $(head -c 300 "$DIR/batch.out")"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 256
ok = [x for x in a if "result" in x]
big = [x for x in a if x.get("error", {}).get("message") == "Response too large"]
assert len(ok) >= 1 and len(big) >= 1 and len(ok) + len(big) == 256, (len(ok), len(big))
assert sorted(x["id"] for x in a) == list(range(256))
PY
echo "ok: 256 state_getMetadata answered in $size bytes"

# Ids must be valid UTF-8; counts must be integers.
printf '{"jsonrpc":"2.0","id":"\xff\xfe","method":"system_health","params":[]}' >"$DIR/badid.json"
post "@$DIR/badid.json" >"$DIR/out" || fail "no answer to a bad id"
grep -q '"code":-32600' "$DIR/out" && grep -q '"id":null' "$DIR/out" || fail "bad id: $(cat "$DIR/out")"
post '{"jsonrpc":"2.0","id":2,"method":"state_getKeysPaged","params":["0x",1.5]}' >"$DIR/out"
grep -q '"code":-32602' "$DIR/out" || fail "count 1.5: $(cat "$DIR/out")"
post '{"jsonrpc":"2.0","id":3,"method":"state_getKeysPaged","params":["0x",2]}' >"$DIR/out"
grep -q '"result":\["0x' "$DIR/out" || fail "count 2: $(cat "$DIR/out")"
echo "ok: bad id and fractional count refused"
kill "$PID"
wait "$PID" || fail "tfchain-dev did not exit cleanly"
PID=
echo "ok"
