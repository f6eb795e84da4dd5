#!/bin/bash
# Head-of-line blocking on a stalled chain: with tfchain-dev stopped
# (SIGSTOP), one twin sending 8 deploys at once (each waits on the chain)
# must not delay another twin's zos.system.version. The agent runs deploys
# on its slow pool with a share of 2 per twin: the first twin's other 6
# deploys are refused at once with 108 busy, and the other twin is answered
# while the 2 deploys are still pending. Asserted by ordering (the cheap
# call is answered while the slow ones hang), with a generous 5 s bound.
set -u
: "${BUILD:=build}"
AGENT="$BUILD/zos-agent"
CHAIN="$BUILD/tfchain-dev"
CLI="$BUILD/zos-cli"
for b in "$AGENT" "$CHAIN" "$CLI"; do
	[ -x "$b" ] || { echo "missing $b (run make first)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "skipped: the agent's provisioners need root"; exit 77; }
for t in python3 jq; do
	command -v "$t" >/dev/null || { echo "skipped: $t is not installed"; exit 77; }
done

TMP=$(mktemp -d /tmp/rmb-stall.XXXXXX)
CPID= APID=
DPIDS=()
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
cleanup() {
	[ -n "$CPID" ] && kill -CONT "$CPID" 2>/dev/null
	for p in "${DPIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$APID" ] && stop_pid "$APID"
	[ -n "$CPID" ] && stop_pid "$CPID"
	rm -rf "$TMP"
}
trap cleanup EXIT
CPORT=$(free_port)
RPORT=$(free_port)
export ZOS_CHAIN_URL="http://127.0.0.1:$CPORT"
cat >"$TMP/agent.conf" <<EOF
[chain]
url = http://127.0.0.1:$CPORT
rpc_timeout = 20
[rmb]
listen = tcp://127.0.0.1:$RPORT
public_address = tcp://127.0.0.1:$RPORT
[node]
state_dir = $TMP/state
farm_id = 1
report_interval = 60
sync_interval = 60
[storage]
allow_unenforced_volumes = true
EOF
"$AGENT" -f "$TMP/agent.conf" identity --json >"$TMP/id.json" 2>"$TMP/err.txt" || fail "identity"
SS58=$(jq -r .ss58_address "$TMP/id.json")
ACCOUNT=$(jq -r .account_id "$TMP/id.json")

"$CHAIN" --dev --rpc-addr "127.0.0.1:$CPORT" --block-time 200 >"$TMP/chain.log" 2>&1 &
CPID=$!
wait_for 10 get Timestamp Now >/dev/null || fail "tfchain-dev did not answer on port $CPORT"
call alice Balances transfer_keep_alive "[\"$SS58\", \"1000000000000\"]" || fail "funding the node"
call bob TfgridModule create_twin '[null, null]' || fail "bob create_twin"
call bob TfgridModule create_farm "[\"$(hex stall_farm)\", []]" || fail "create_farm"
for who in charlie dave; do
	call $who TfgridModule create_twin '[null, null]' || fail "$who create_twin"
done
twin_of() { get TfgridModule TwinIdByAccountID "\"$1\""; }
CHARLIE=$("$CLI" chain get TfgridModule TwinIdByAccountID charlie 2>"$TMP/err.txt") || fail "charlie's twin"
DAVE=$("$CLI" chain get TfgridModule TwinIdByAccountID dave 2>"$TMP/err.txt") || fail "dave's twin"

"$AGENT" -d -f "$TMP/agent.conf" >"$TMP/agent.log" 2>&1 &
APID=$!
has_twin() { local t; t=$(twin_of "$ACCOUNT") && [ -n "$t" ] && [ "$t" != 0 ] && [ "$t" != null ]; }
wait_for 30 has_twin || fail "the agent did not create its twin"
TWIN=$(twin_of "$ACCOUNT")
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
[ "$(running)" -eq 2 ] || fail "$(running) of charlie's deploys pending, want 2 (its share)"
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
echo "ok"
