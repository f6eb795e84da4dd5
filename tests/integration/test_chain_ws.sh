#!/bin/bash
# The chain client over WebSocket, TLS and several endpoints, against
# tfchain-dev (which serves HTTP and WebSocket on one port):
#  1. the same reads through http:// and ws:// give the same answers, and a
#     transfer submitted over ws:// is seen over http://;
#  2. wss:// through a TLS-terminating proxy (socat) with a CA made here:
#     refused without the CA, answered with it ($ZOS_CHAIN_CA_FILE);
#  3. zos-cli with two endpoints of which the first is dead;
#  4. the agent's block follower on two ws:// endpoints, the first through a
#     proxy that is cut (kill -9 of the proxy and of its connections) for
#     a few seconds and brought back: every block is followed once, in
#     order, none skipped, none twice;
#  5. the agent restarted on that proxy alone: it goes on from its stored
#     cursor, and across a second cut it reconnects, subscribes again and
#     reads the blocks it missed, each once.
# Everything listens on 127.0.0.1 on free ports; processes stop by pid.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_tools python3 jq socat openssl setsid

TMP=$(mktemp -d /tmp/chain-ws.XXXXXX)
CPID= APID= PPID1= TPID=
# A proxy runs in its own process group (setsid), so that killing the group
# also ends the connections its forked children carry.
kill_group() { [ -n "$1" ] && kill -9 -- "-$1" 2>/dev/null; wait "$1" 2>/dev/null; }
cleanup() {
	[ -n "$APID" ] && stop_pid "$APID"
	kill_group "$PPID1"
	kill_group "$TPID"
	[ -n "$CPID" ] && stop_pid "$CPID"
	[ -n "${CHAIN_WS_KEEP_LOG:-}" ] && cp "$TMP/agent.log" "$CHAIN_WS_KEEP_LOG"
	rm -rf "$TMP"
}
trap cleanup EXIT
CPORT=$(free_port)
PPORT=$(free_port)
TPORT=$(free_port)
RPORT=$(free_port)
HTTP="http://127.0.0.1:$CPORT"
WS="ws://127.0.0.1:$CPORT"
export ZOS_CHAIN_URL="$HTTP"

BLOCK_MS=100 start_chain --dev --base-path "$TMP/chain"

# 1. HTTP and WebSocket give the same answers.
same() { # what CLI-ARGS...: the command's output through both transports
	local what=$1
	shift
	"$CLI" "$@" --url "$HTTP" >"$TMP/http.out" 2>"$TMP/err.txt" || fail "$what over http"
	"$CLI" "$@" --url "$WS" >"$TMP/ws.out" 2>"$TMP/err.txt" || fail "$what over ws"
	cmp -s "$TMP/http.out" "$TMP/ws.out" ||
		fail "$what differs: http $(cat "$TMP/http.out") ws $(cat "$TMP/ws.out")"
}
same "balance" balance alice --json
same "storage" chain get TfgridModule TwinIdByAccountID alice
same "metadata-backed read" chain get Balances TotalIssuance
DEST=$("$CLI" key inspect --dev wsdest --json 2>/dev/null | jq -r .ss58_address)
[ -n "$DEST" ] && [ "$DEST" != null ] || DEST=$("$CLI" balance --dev dave --json | jq -r .account)
"$CLI" transfer "$DEST" 3 --dev alice --url "$WS" >/dev/null 2>"$TMP/err.txt" ||
	fail "transfer over ws"
same "balance after a ws transfer" balance "$DEST" --json
[ "$(jq -r .free "$TMP/ws.out")" != 0 ] || fail "the ws transfer did not arrive: $(cat "$TMP/ws.out")"
echo "ok: http:// and ws:// agree (reads and a submission)"

# 2. wss:// through a TLS proxy with our own CA.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/ca.key" -out "$TMP/ca.pem" -days 2 \
	-subj "/CN=zos chain-ws test CA" >/dev/null 2>&1 || fail "making the CA"
openssl req -newkey rsa:2048 -nodes -keyout "$TMP/srv.key" -out "$TMP/srv.csr" \
	-subj "/CN=localhost" >/dev/null 2>&1 || fail "making the server key"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$TMP/san.ext"
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
	-out "$TMP/srv.crt" -days 2 -extfile "$TMP/san.ext" >/dev/null 2>&1 || fail "signing"
cat "$TMP/srv.crt" "$TMP/srv.key" >"$TMP/srv.pem"
setsid socat "OPENSSL-LISTEN:$TPORT,bind=127.0.0.1,reuseaddr,fork,cert=$TMP/srv.pem,verify=0" \
	"TCP:127.0.0.1:$CPORT" 2>"$TMP/tls.log" &
TPID=$!
WSS="wss://localhost:$TPORT"
tls_up() { port_open "$TPORT"; }
wait_for 10 tls_up || fail "the TLS proxy did not start"
if "$CLI" balance alice --json --url "$WSS" >"$TMP/wss.out" 2>"$TMP/err.txt"; then
	fail "an unknown CA was trusted"
fi
grep -qi "certificate" "$TMP/err.txt" "$TMP/wss.out" || fail "no certificate error: $(cat "$TMP/err.txt")"
ZOS_CHAIN_CA_FILE="$TMP/ca.pem" "$CLI" balance alice --json --url "$WSS" >"$TMP/wss.out" \
	2>"$TMP/err.txt" || fail "wss with the CA file"
"$CLI" balance alice --json --url "$HTTP" >"$TMP/http.out" || fail "balance over http"
cmp -s "$TMP/http.out" "$TMP/wss.out" || fail "wss answer differs: $(cat "$TMP/wss.out")"
# The certificate names localhost and 127.0.0.1, not another host name.
if ZOS_CHAIN_CA_FILE="$TMP/ca.pem" "$CLI" balance alice --url "wss://127.0.0.2:$TPORT" \
	>/dev/null 2>&1; then
	fail "a certificate for another name was accepted"
fi
echo "ok: wss:// verified against the CA file, refused without it"

# 3. zos-cli with a dead first endpoint: the second answers.
DEAD=$(free_port)
"$CLI" balance alice --json --url "ws://127.0.0.1:$DEAD" --url "$WS" >"$TMP/fo.out" \
	2>"$TMP/err.txt" || fail "failover in zos-cli"
cmp -s "$TMP/http.out" "$TMP/fo.out" || fail "failover answer differs"
echo "ok: zos-cli fails over from a dead endpoint"

# 4. The agent's follower across a cut endpoint.
start_proxy() {
	setsid socat "TCP-LISTEN:$PPORT,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$CPORT" \
		2>>"$TMP/proxy.log" &
	PPID1=$!
}
start_proxy
make_farm bob ws_farm
cat >"$TMP/agent.conf" <<EOF
[chain]
url = ws://127.0.0.1:$PPORT, $WS
rpc_timeout = 5
[rmb]
listen = tcp://127.0.0.1:$RPORT
public_address = tcp://127.0.0.1:$RPORT
[node]
state_dir = $TMP/state
farm_id = 1
report_interval = 3600
sync_interval = 3600
[log]
level = debug
EOF
node_identity
"$CLI" transfer "$SS58" 100 --dev alice >/dev/null 2>"$TMP/err.txt" || fail "funding the node"
start_agent
followed() { grep -c "followed block" "$TMP/agent.log"; }
following() { [ "$(followed)" -ge "$1" ]; }
wait_for 60 following 10 || fail "the agent does not follow blocks"
# Cut the first endpoint (listener and live connections) for 3 s.
kill_group "$PPID1"
PPID1=
CUT_AT=$(followed)
sleep 3
start_proxy
sleep 1
# Blocks go on at 10/s: the follower must be past the cut by 30+ blocks.
wait_for 30 following $((CUT_AT + 60)) || fail "the follower stalled after the cut ($(followed))"
grep -q "does not answer; using $WS\|switching from ws://127.0.0.1:$PPORT" "$TMP/agent.log" ||
	grep -q "ws://127.0.0.1:$PPORT: connection lost" "$TMP/agent.log" ||
	fail "the cut was not noticed"
consecutive() { # LOG...: the followed blocks in the logs, in order, are consecutive
	sed -n 's/.*followed block \([0-9]*\) .*/\1/p' "$@" >"$TMP/blocks"
	python3 - "$TMP/blocks" <<'EOF'
import sys
b = [int(x) for x in open(sys.argv[1])]
bad = [(x, y) for x, y in zip(b, b[1:]) if y != x + 1]
if not b or bad:
    print("gaps or repeats:", bad[:5])
    sys.exit(1)
print("ok: %d blocks followed once each, %d..%d" % (len(b), b[0], b[-1]))
EOF
}
consecutive "$TMP/agent.log" || fail "followed blocks are not consecutive"
echo "ok: the follower lost and repeated nothing across the cut"

# 5. One endpoint only: a restart, then a cut without anywhere to fail over.
stop_pid "$APID"
APID=
sed -i "s|^url = .*|url = ws://127.0.0.1:$PPORT|" "$TMP/agent.conf"
"$AGENT" -d -f "$TMP/agent.conf" >"$TMP/agent2.log" 2>&1 &
APID=$!
followed2() { grep -c "followed block" "$TMP/agent2.log"; }
following2() { [ "$(followed2)" -ge "$1" ]; }
wait_for 30 following2 10 || fail "the restarted agent does not follow blocks"
kill_group "$PPID1"
PPID1=
CUT_AT=$(followed2)
sleep 2
start_proxy
wait_for 30 following2 $((CUT_AT + 40)) || fail "no reconnection after the cut ($(followed2))"
grep -q "ws://127.0.0.1:$PPORT: connected again" "$TMP/agent2.log" || fail "no reconnection logged"
consecutive "$TMP/agent.log" "$TMP/agent2.log" || fail "blocks skipped or repeated across restart and cut"
echo "ok: restart and reconnection lost and repeated nothing"
