#!/bin/bash
# A way in, through the real agent on tfchain-dev: //Charlie deploys a
# network with WireGuard (its own peer made with zos-cli network wg-key) and
# a public_port to an address on it; busybox httpd in a namespace on the
# network's bridge plays the container. zos-cli deployment get shows the
# node's key, endpoint and the public address; zos-cli network wg-config
# makes the laptop's wg-quick file, which wg-quick brings up in a "laptop"
# namespace joined to the host by a veth "internet". The laptop fetches the
# page through the tunnel, through the public port and through the name
# gateway (haproxy, TLS checked against the test's own CA). Out of funds, the
# contract's grace period pauses the deployment: all three ways stop
# answering; a top-up brings them back. A second deployment
# asking for the same port is refused before accept. kill -9 of the agent
# and a restart leave one forward, one wireguard-go and one haproxy; after
# cancellation no namespace, interface, process, proxy entry or forward is
# left.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the provisioners need root"
need_tools python3 jq curl busybox wg wg-quick wireguard-go nft haproxy openssl
[ -c /dev/net/tun ] || { echo "skipped: no /dev/net/tun for wireguard-go"; exit 77; }

TMP=$(mktemp -d /tmp/agent-access.XXXXXX)
P=$$
LAP=zaccalap$P SRV=zaccasrv$P VH=zaccah$((P % 1000000)) VL=zaccal$((P % 1000000))
SV=zaccas$((P % 1000000))
# 198.18.0.0/15 is for benchmarks (RFC 2544): nothing real uses it.
HOST_IP=198.18.$((128 + (P >> 6) % 128)).$(((P % 64) * 4 + 1))
LAP_IP=198.18.$((128 + (P >> 6) % 128)).$(((P % 64) * 4 + 2))
O=$((20 + P % 200))
CPID= APID= HPID=
cleanup() {
	[ -n "$HPID" ] && stop_pid "$HPID"
	stop_node
	ip netns exec "$LAP" wg-quick down "$TMP/zacc0.conf" >/dev/null 2>&1
	ip netns del "$LAP" 2>/dev/null
	ip netns del "$SRV" 2>/dev/null
	ip link del "$VH" 2>/dev/null
	[ -n "${ACCESS_KEEP_LOG:-}" ] && cp "$TMP/agent.log" "$ACCESS_KEEP_LOG"
	rm -rf "$TMP"
}
trap cleanup EXIT
WGPORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", 0)); print(s.getsockname()[1])')
PUBPORT=$(python3 -c '
import socket, os
for p in range(20000 + os.getpid() % 9000, 30000):
    s = socket.socket()
    try:
        s.bind(("", p)); print(p); break
    except OSError: pass')
GWPORT=$(free_port)
DOMAIN=gw$P.test

# A CA and a wildcard certificate for *.$DOMAIN.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/ca.key" \
	-out "$TMP/ca.pem" -days 1 -subj /CN=zos-access-test-ca >/dev/null 2>&1 || fail "CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/w.key" \
	-out "$TMP/w.csr" -subj "/CN=*.$DOMAIN" >/dev/null 2>&1 || fail "csr"
echo "subjectAltName=DNS:*.$DOMAIN" >"$TMP/w.ext"
openssl x509 -req -in "$TMP/w.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
	-out "$TMP/w.crt" -days 1 -extfile "$TMP/w.ext" >/dev/null 2>&1 || fail "certificate"
cat "$TMP/w.crt" "$TMP/w.key" >"$TMP/w.pem"
chmod 600 "$TMP/w.pem"

# The internet: host <-> laptop.
ip netns add "$LAP" || fail "netns add"
ip -n "$LAP" link set lo up
ip link add "$VH" type veth peer name "$VL" netns "$LAP" || fail "veth"
ip addr add "$HOST_IP/30" dev "$VH"
ip link set "$VH" up
ip -n "$LAP" addr add "$LAP_IP/30" dev "$VL"
ip -n "$LAP" link set "$VL" up

agent_conf 5 10
cat >>"$TMP/agent.conf" <<EOF
[network]
wireguard = auto
public_ip = $HOST_IP
gateway_domain = $DOMAIN
gateway_cert = $TMP/w.pem
gateway_https_port = $GWPORT
EOF
cat >"$TMP/genesis.json" <<EOF
{"name": "zos-access-test",
 "Balances": {"balances": [["//Alice", "10000000000000"], ["//Bob", "1000000000"],
                           ["//Charlie", "1000000000"]]},
 "SmartContractModule": {"tft_price_musd": 50, "grace_period_blocks": 300}}
EOF
start_chain --base-path "$TMP/chain" --genesis "$TMP/genesis.json"
make_farm bob access_farm
make_twins charlie
node_identity
"$CLI" transfer "$SS58" 100 --dev alice >/dev/null 2>"$TMP/err.txt" || fail "funding the node"
start_agent
wait_node
wait_engine charlie
echo "ok: node $NODE registered"

# ---- The user's key, the node network's key, the deployment.
LPUB=$("$CLI" network wg-key --out "$TMP/laptop.key" | sed 's/^public_key: //')
"$CLI" network wg-key --out "$TMP/net.key" >/dev/null || fail "wg-key"
doc() { # name-suffix public-port [wireguard-port]
	cat <<EOF
{"version": 0, "metadata": "", "description": "access",
 "workloads": [
  {"version": 0, "name": "disk", "type": "zmount", "metadata": "", "description": "",
   "data": {"size": 16777216}},
  {"version": 0, "name": "net$1", "type": "network", "metadata": "", "description": "",
   "data": {"ip_range": "10.$O.0.0/16", "subnet": "10.$O.1.0/24",
            "wireguard_private_key": "$(cat "$TMP/net.key")", "wireguard_listen_port": ${3:-$WGPORT},
            "peers": [{"subnet": "10.$O.2.0/24", "wireguard_public_key": "$LPUB",
                       "allowed_ips": ["10.$O.2.0/24", "100.64.$O.2/32"]}]}},
  {"version": 0, "name": "web", "type": "public_port", "metadata": "", "description": "",
   "data": {"protocol": "tcp", "public_port": $2, "network": "net$1", "ip": "10.$O.1.2",
            "port": 8080}},
  {"version": 0, "name": "site", "type": "gateway-name-proxy", "metadata": "", "description": "",
   "data": {"name": "blog$1", "network": "net$1", "backends": ["http://10.$O.1.2:8080"]}}]}
EOF
}
doc "" "$PUBPORT" >"$TMP/dep.json"
"$CLI" deploy --node "$NODE" "$TMP/dep.json" --dev charlie --timeout 60 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
	fail "deploy: $(cat "$TMP/deploy.out")"
C=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
[ -n "$C" ] || fail "no contract id in: $(cat "$TMP/deploy.out")"
grep -q "$(cat "$TMP/net.key")" "$TMP/agent.log" && fail "the network's private key is in the log"
echo "ok: contract $C deployed"

"$CLI" deployment get --node "$NODE" --contract "$C" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" ||
	fail "deployment get"
EP=$(jq -r '.workloads[] | select(.name=="net") | .result.wireguard.endpoint' "$TMP/get.json")
[ "$EP" = "$HOST_IP:$WGPORT" ] || fail "endpoint in get: $EP"
ADDR=$(jq -r '.workloads[] | select(.name=="web") | .result.address' "$TMP/get.json")
[ "$ADDR" = "$HOST_IP:$PUBPORT" ] || fail "public address in get: $ADDR"
grep -q "$(cat "$TMP/net.key")" "$TMP/get.json" && fail "the private key is in the get reply"
URL=$(jq -r '.workloads[] | select(.name=="site") | .result.urls[0]' "$TMP/get.json")
[ "$URL" = "https://blog.$DOMAIN:$GWPORT/" ] || fail "gateway url in get: $URL"
echo "ok: deployment get shows endpoint $EP, public address $ADDR and $URL"

# The public port's host links (zp<hash>): gone after cancellation.
ZPS=$(ip -o link | grep -o ' zp[0-9a-f]\{12\}' | tr -d ' ')
[ -n "$ZPS" ] || fail "no zp link for the public port"

# ---- The "container": httpd on the network's bridge.
NETNS=zos-$C-net
mkdir -p "$TMP/www"
echo zos-access-page >"$TMP/www/index.html"
ip netns add "$SRV"
ip -n "$SRV" link set lo up
ip -n "$NETNS" link add "$SV" type veth peer name eth0 netns "$SRV" || fail "container veth"
ip -n "$NETNS" link set "$SV" master br0 up
ip -n "$SRV" addr add "10.$O.1.2/24" dev eth0
ip -n "$SRV" link set eth0 up
ip -n "$SRV" route add default via "10.$O.1.1"
ip netns exec "$SRV" busybox httpd -f -p "10.$O.1.2:8080" -h "$TMP/www" </dev/null >/dev/null 2>&1 &
HPID=$!

# ---- The laptop: wg-quick with the file zos-cli made.
"$CLI" network wg-config --key "$TMP/laptop.key" --deployment "$TMP/dep.json" --get "$TMP/get.json" \
	--network net >"$TMP/zacc0.conf" 2>"$TMP/err.txt" || fail "wg-config"
chmod 600 "$TMP/zacc0.conf"
WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go ip netns exec "$LAP" wg-quick up "$TMP/zacc0.conf" \
	>"$TMP/wgq.log" 2>&1 || { cat "$TMP/wgq.log"; fail "wg-quick up"; }
fetch() { ip netns exec "$LAP" curl -sS -m "${2:-2}" "http://$1/" 2>/dev/null | grep -q zos-access-page; }
wait_for 15 fetch "10.$O.1.2:8080" || fail "the laptop does not reach the container through WireGuard"
echo "ok: laptop -> WireGuard -> container"
wait_for 10 fetch "$ADDR" || fail "the laptop does not reach the container through $ADDR"
echo "ok: laptop -> public port $ADDR -> container"
gw_fetch() {
	ip netns exec "$LAP" curl -sS -f -m 3 --cacert "$TMP/ca.pem" \
		--resolve "blog.$DOMAIN:$GWPORT:$HOST_IP" "$URL" 2>/dev/null | grep -q zos-access-page
}
wait_for 10 gw_fetch || fail "the laptop does not reach the container through $URL"
echo "ok: laptop -> $URL (TLS, our CA) -> container"

# ---- Out of funds: the grace period pauses everything; a top-up resumes.
state() { get SmartContractModule Contracts "$C" | jq -c .state; }
in_grace() { state | grep -q GracePeriod; }
is_deployed() { [ "$(state)" = '"Deployed"' ]; }
all_wl() { # every workload in state $1 per deployment get
	"$CLI" deployment get --node "$NODE" --contract "$C" --dev charlie >"$TMP/get2.json" 2>"$TMP/err.txt" &&
		[ "$(jq -r '[.workloads[].state] | unique | join(",")' "$TMP/get2.json")" = "$1" ]
}
call charlie Balances transfer_all '["alice", true]' || fail "draining charlie"
wait_for 40 in_grace || fail "contract $C not in its grace period: $(state)"
wait_for 20 all_wl paused || fail "not paused: $(cat "$TMP/get2.json")"
fetch "10.$O.1.2:8080" && fail "WireGuard still reaches the container while paused"
fetch "$ADDR" && fail "the public port still answers while paused"
gw_fetch && fail "the gateway still answers while paused"
echo "ok: grace period: paused, none of the three ways answers"
"$CLI" transfer charlie 10 --dev alice >/dev/null 2>"$TMP/err.txt" || fail "top-up"
wait_for 20 is_deployed || fail "contract $C not Deployed after the top-up: $(state)"
wait_for 20 all_wl ok || fail "not resumed: $(cat "$TMP/get2.json")"
wait_for 10 fetch "10.$O.1.2:8080" || fail "WireGuard after resume"
wait_for 10 fetch "$ADDR" || fail "public port after resume"
wait_for 10 gw_fetch || fail "gateway after resume"
echo "ok: topped up: resumed, all three ways answer"

# ---- The same port again: refused before accept.
doc 2 "$PUBPORT" | sed "s/10.$O./10.$((O + 1))./g" >"$TMP/dep2.json"
"$CLI" deploy --node "$NODE" "$TMP/dep2.json" --dev charlie --timeout 60 >"$TMP/deploy2.out" 2>&1 &&
	fail "a second deployment took the same ports"
grep -q "is taken by another deployment" "$TMP/deploy2.out" ||
	fail "refusal reason: $(cat "$TMP/deploy2.out")"
echo "ok: the same ports refused: $(grep -o 'udp/[0-9]* is taken[^;]*' "$TMP/deploy2.out" | head -1)"
# Other ports, the same gateway name: refused too.
doc "" $((PUBPORT + 1)) $((WGPORT + 1)) | sed "s/10.$O./10.$((O + 2))./g" >"$TMP/dep3.json"
"$CLI" deploy --node "$NODE" "$TMP/dep3.json" --dev charlie --timeout 60 >"$TMP/deploy3.out" 2>&1 &&
	fail "a second deployment took the same gateway name"
grep -q "name/blog is taken by another deployment" "$TMP/deploy3.out" ||
	fail "refusal reason: $(cat "$TMP/deploy3.out")"
echo "ok: the same gateway name refused"

# ---- kill -9 and restart: one forward, one wireguard-go, still reachable.
WGIF=$(jq -r '.workloads[] | select(.name=="net") | .result.wireguard.interface' "$TMP/get.json")
{ kill -9 "$APID" && wait "$APID"; } 2>/dev/null
start_agent
wait_engine charlie
sleep 2
n=$(nft list map ip zos_access port_tcp | grep -o "$HOST_IP . $PUBPORT" | wc -l)
[ "$n" = 1 ] || fail "$n forwards for $ADDR after kill -9 and restart"
n=$(pgrep -xf "/usr/bin/wireguard-go $WGIF" | wc -l)
[ "$n" = 1 ] || fail "$n wireguard-go for $WGIF after kill -9 and restart"
wait_for 10 fetch "10.$O.1.2:8080" || fail "WireGuard after restart"
wait_for 10 fetch "$ADDR" || fail "public port after restart"
n=$(pgrep -f "haproxy -D -f $TMP/state" | wc -l)
[ "$n" = 1 ] || fail "$n haproxy after kill -9 and restart"
wait_for 10 gw_fetch || fail "gateway after restart"
echo "ok: kill -9 and restart: one forward, one wireguard-go, one haproxy; all three ways work"

# ---- Cancellation: nothing left.
"$CLI" contract cancel "$C" --dev charlie >/dev/null 2>"$TMP/err.txt" || fail "cancel"
removed() {
	"$CLI" deployment get --node "$NODE" --contract "$C" --dev charlie >"$TMP/get.json" 2>"$TMP/err.txt" &&
		[ "$(jq -r '[.workloads[].state] | unique | join(",")' "$TMP/get.json")" = deleted ]
}
wait_for 20 removed || fail "workloads not removed: $(cat "$TMP/get.json")"
ip netns list | grep -q "^$NETNS\b" && fail "network namespace $NETNS left"
ip link show "$WGIF" >/dev/null 2>&1 && fail "interface $WGIF left"
pgrep -xf "/usr/bin/wireguard-go $WGIF" >/dev/null && fail "wireguard-go left"
[ -e "/var/run/wireguard/$WGIF.sock" ] && fail "UAPI socket left"
nft list map ip zos_access port_tcp 2>/dev/null | grep -q "$HOST_IP . $PUBPORT" && fail "forward left"
for l in $ZPS; do ip link show "$l" >/dev/null 2>&1 && fail "link $l left"; done
fetch "$ADDR" 1 && fail "the public port still answers"
pgrep -f "haproxy -D -f $TMP/state" >/dev/null && fail "haproxy left"
gw_fetch && fail "the gateway still answers"
python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', $WGPORT))" ||
	fail "UDP port $WGPORT still bound"
echo "ok: cancelled: no namespace, interface, process, socket or forward left"

stop_agent_clean
echo "ok"
exit 0
