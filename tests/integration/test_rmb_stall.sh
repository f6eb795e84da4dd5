#!/bin/bash
# Head-of-line blocking on a stalled chain: with tfchain-dev stopped
# (SIGSTOP), one twin sending 8 deploys at once (each waits on the chain)
# must not delay another twin's zos.system.version. The agent runs deploys
# on its slow pool with a share of 2 per twin: the first twin's other 6
# deploys are refused at once with 108 busy, and the other twin is answered
# while the 2 deploys are still pending, with its cached key expired (it
# serves while refreshed in the background). Then a request recorded on the
# wire and replayed after an agent restart gets 106 (the replay cache is
# persistent). Asserted by ordering (the cheap
# call is answered while the slow ones hang), with a generous 5 s bound.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the agent's provisioners need root"
need_tools python3 jq

TMP=$(mktemp -d /tmp/rmb-stall.XXXXXX)
CPID= APID=
DPIDS=()
cleanup() {
	for p in "${DPIDS[@]}"; do kill "$p" 2>/dev/null; done
	stop_all
}
trap cleanup EXIT
agent_conf 20
cat >>"$TMP/agent.conf" <<EOF
[rmb]
# Short, so that dave's cached key has expired during the stall: it must
# still serve (refreshed in the background), not wait on the chain.
twin_cache_ttl = 1
EOF
node_identity
start_chain
fund_node
make_farm bob stall_farm
make_twins charlie dave
CHARLIE=$("$CLI" chain get TfgridModule TwinIdByAccountID charlie 2>"$TMP/err.txt") || fail "charlie's twin"
DAVE=$("$CLI" chain get TfgridModule TwinIdByAccountID dave 2>"$TMP/err.txt") || fail "dave's twin"

start_agent
wait_node
# rmb_as WHO CMD JSON TIMEOUT_MS: needs no chain on the caller's side.
rmb_as() {
	local src=$CHARLIE
	[ "$1" = dave ] && src=$DAVE
	"$CLI" rmb call "$TWIN" "$2" "$3" --dev "$1" --src "$src" --rmb "tcp://127.0.0.1:$RPORT" \
		--dst-pk "$ACCOUNT" --timeout "$4" --attempts 1
}
engine_up() { rmb_as charlie zos.statistics.get '{}' 5000 >/dev/null 2>"$TMP/err.txt"; }
wait_for 60 engine_up || fail "the agent's engine did not come up"
# Both twins are in the agent's cache before the chain stalls.
rmb_as dave zos.system.version '{}' 5000 >/dev/null 2>"$TMP/err.txt" || fail "dave's first call"
echo "ok: node twin $TWIN serving; twins $CHARLIE and $DAVE known"

kill -STOP "$CPID"
sleep 1.5 # past dave's twin_cache_ttl
for i in $(seq 1 8); do
	rmb_as charlie zos.deployment.deploy "{\"contract_id\": $((900 + i))}" 60000 \
		>"$TMP/deploy$i.out" 2>"$TMP/deploy$i.err" &
	DPIDS+=($!)
done
# The 6 beyond charlie's share are refused at once.
busy_count() { grep -l "rmb error 108" "$TMP"/deploy*.err 2>/dev/null | wc -l; }
six_busy() { [ "$(busy_count)" -ge 6 ]; }
wait_for 20 six_busy || fail "charlie's deploys beyond its share were not refused busy: $(cat "$TMP"/deploy*.err)"
running() { local n=0; for p in "${DPIDS[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }
# A refused call has written its error a moment before it exits.
two_running() { [ "$(running)" -eq 2 ]; }
wait_for 5 two_running || fail "$(running) of charlie's deploys pending, want 2 (its share)"
T0=$(date +%s%N)
rmb_as dave zos.system.version '{}' 5000 >"$TMP/version.json" 2>"$TMP/err.txt" ||
	fail "dave's zos.system.version while the chain is stopped"
T1=$(date +%s%N)
[ "$(jq -r .program "$TMP/version.json")" = zos-agent ] || fail "version reply: $(cat "$TMP/version.json")"
[ "$(running)" -eq 2 ] || fail "charlie's deploys did not stay pending while dave was answered"
echo "ok: dave answered in $(((T1 - T0) / 1000000)) ms while 2 deploys wait on the stopped chain, 6 refused busy"
kill -CONT "$CPID"
for p in "${DPIDS[@]}"; do wait "$p"; done
DPIDS=()

# ---- A request replayed after an agent restart is refused (106): the
# replay cache lives in the state directory. A proxy records the bytes of
# one of dave's calls; they are sent again once the agent restarted.
PX=$(free_port)
cat >"$TMP/proxy.py" <<'PY'
import socket, sys, threading
lport, dport, rec = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen(1); ls.settimeout(20)
# zos-cli first checks that something listens (a connect it closes at
# once): skip such connections and record the first one that sends.
while True:
    c, _ = ls.accept(); c.settimeout(5)
    try:
        first = c.recv(65536)
    except socket.timeout:
        first = None
    if first:
        break
    c.close()
c.settimeout(None)
d = socket.create_connection(("127.0.0.1", dport))
out = open(rec, "wb")
out.write(first); out.flush(); d.sendall(first)
def pump(a, b, f):
    while True:
        x = a.recv(65536)
        if not x:
            break
        if f:
            f.write(x); f.flush()
        b.sendall(x)
    for sk in (a, b):  # ends the other direction's recv at once
        try:
            sk.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
t = threading.Thread(target=pump, args=(d, c, None)); t.start()
pump(c, d, out); t.join()
PY
cat >"$TMP/replay.py" <<'PY'
import json, socket, sys
port, rec = int(sys.argv[1]), open(sys.argv[2], "rb").read()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(rec[:8])                      # SP header
n = int.from_bytes(rec[8:16], "big")
s.sendall(rec[8:16 + n])                # the first request frame, as sent
buf = b""
while len(buf) < 16 or len(buf) < 16 + int.from_bytes(buf[8:16], "big"):
    x = s.recv(65536)
    if not x:
        sys.exit("connection closed")
    buf += x
print(json.loads(buf[20:16 + int.from_bytes(buf[8:16], "big")]).get("err", {}).get("code", 0))
PY
python3 "$TMP/proxy.py" "$PX" "$RPORT" "$TMP/recorded" &
PXPID=$!
# The proxy takes connections that send nothing and waits for the next.
wait_port 10 "$PX" || fail "the recording proxy did not listen on port $PX"
"$CLI" rmb call "$TWIN" zos.system.version '{}' --dev dave --src "$DAVE" --rmb "tcp://127.0.0.1:$PX" \
	--dst-pk "$ACCOUNT" --timeout 5000 --attempts 1 --ttl 120 >/dev/null 2>"$TMP/err.txt" ||
	fail "dave's call through the recording proxy"
wait "$PXPID"
[ "$(python3 "$TMP/replay.py" "$RPORT" "$TMP/recorded")" = 106 ] || fail "replay before the restart not refused"
stop_pid "$APID"
APID=
start_agent
serving() { [ "$(grep -c "rmb serving twin" "$TMP/agent.log")" -ge 2 ]; }
wait_for 30 serving || fail "the restarted agent did not serve rmb"
code=$(python3 "$TMP/replay.py" "$RPORT" "$TMP/recorded") || fail "no answer to the replay"
[ "$code" = 106 ] || fail "replay after the restart answered $code, want 106 (replayed)"
[ -s "$TMP/state/rmb-replay" ] || fail "no replay cache file in the state directory"
echo "ok: a request replayed after the agent restarted is refused (106)"
echo "ok"
