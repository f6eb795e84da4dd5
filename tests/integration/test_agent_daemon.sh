#!/bin/bash
# The daemon's life cycle without a chain: configuration check and round trip,
# identity creation and permission refusal, READY/RELOADING/STOPPING/WATCHDOG
# through NOTIFY_SOCKET, SIGHUP with a valid and an invalid configuration,
# SIGUSR1, the state directory lock, and SIGTERM within the deadline.
set -u
: "${BUILD:=build}"
AGENT="$BUILD/zos-agent"
[ -x "$AGENT" ] || { echo "missing $AGENT (run make first)"; exit 1; }
command -v python3 >/dev/null || { echo "skip: python3 is needed for the notify listener"; exit 77; }

T=$(mktemp -d /tmp/test_agent_daemon.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$T"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
	exit 1
}
ok() { echo "ok: $*"; }

# wait_for FILE REGEX SECONDS
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_count FILE FIXED-STRING N SECONDS: until the string is on N lines.
wait_count() {
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(grep -cF -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# A port nobody listens on, so nothing reaches a real chain.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

write_conf() { # FILE FARM LEVEL
	cat >"$1" <<EOF
[chain]
url = http://127.0.0.1:$PORT
[rmb]
listen = ipc://$T/rmb.sock
[node]
state_dir = $T/state
farm_id = $2
report_interval = 5m
[log]
level = $3
EOF
}

# --- configuration check and round trip -------------------------------------
"$AGENT" -n -f config/agent.conf.example >"$T/n1.conf" || fail "-n rejects the example config"
"$AGENT" -n -f "$T/n1.conf" >"$T/n2.conf" || fail "-n rejects its own output"
cmp -s "$T/n1.conf" "$T/n2.conf" || fail "-n output does not round-trip"
ok "example config checks and round-trips"

printf '[chain]\nurl = http://x:1\n\n[rmb]\nworkers = 12x\n' >"$T/bad1.conf"
out=$("$AGENT" -n -f "$T/bad1.conf" 2>&1) && fail "bad number accepted"
[ "$out" = "zos-agent: $T/bad1.conf:5: rmb.workers: '12x' is not a number" ] || fail "bad number message: $out"
printf '[node]\nfarm_id = 1\nfarmid = 2\n' >"$T/bad2.conf"
out=$("$AGENT" -n -f "$T/bad2.conf" 2>&1) && fail "unknown key accepted"
[ "$out" = "zos-agent: $T/bad2.conf:3: unknown key 'node.farmid'" ] || fail "unknown key message: $out"
out=$("$AGENT" -n -f "$T/none.conf" 2>&1) && fail "missing file accepted"
[ "$out" = "zos-agent: $T/none.conf: cannot open: No such file or directory" ] || fail "missing file message: $out"
out=$(ZOS_AGENT_NODE_FARM_ID=7 "$AGENT" -n -f "$T/bad2.conf" -o node.farm_id=8 2>&1) && fail "env did not stop at the bad file"
out=$(ZOS_AGENT_NODE_FARM_ID=7 "$AGENT" -n -f "$T/n1.conf" | grep '^farm_id') || fail "env config"
[ "$out" = "farm_id = 7" ] || fail "environment does not override the file: $out"
out=$(ZOS_AGENT_NODE_FARM_ID=7 "$AGENT" -n -f "$T/n1.conf" -o node.farm_id=8 | grep '^farm_id')
[ "$out" = "farm_id = 8" ] || fail "-o does not override the environment: $out"
ok "bad configs fail with file:line and the key; precedence file < env < flags"

# --- identity ----------------------------------------------------------------
write_conf "$T/a.conf" 1 info
"$AGENT" -f "$T/a.conf" identity >"$T/id.txt" 2>"$T/id.log" || fail "identity"
[ "$(stat -c %a "$T/state/identity.seed")" = 600 ] || fail "seed file mode is not 0600"
grep -Eq '^ss58_address: 5[1-9A-HJ-NP-Za-km-z]{47}$' "$T/id.txt" || fail "identity output: $(cat "$T/id.txt")"
"$AGENT" -f "$T/a.conf" identity --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["account_id"].startswith("0x")' ||
	fail "identity --json"
ok "identity created 0600 and printed"

# --- the daemon ----------------------------------------------------------------
python3 - "$T/notify.sock" "$T/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode(errors="replace").replace("\n", " | ") + "\n")
EOF
PIDS+=($!)
for ((i = 0; i < 50; i++)); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
[ -S "$T/notify.sock" ] || fail "notify listener did not start"

NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=1000000 "$AGENT" -d -f "$T/a.conf" 2>"$T/agent.log" &
APID=$!
PIDS+=($APID)
wait_for "$T/notify.log" 'READY=1' 20 || fail "no READY=1"
grep -q "node account $(sed -n 's/^ss58_address: //p' "$T/id.txt")" "$T/agent.log" || fail "agent uses another identity"
wait_for "$T/notify.log" '^WATCHDOG=1' 10 || fail "no watchdog ping"
ok "READY and WATCHDOG sent"

"$AGENT" -d -f "$T/a.conf" 2>"$T/second.log" && fail "a second agent on the same state dir started"
grep -q "another zos-agent is running" "$T/second.log" || fail "second agent message"
ok "state directory lock"

kill -USR1 $APID
wait_for "$T/agent.log" 'state: up [0-9]+s, account 5.*farm 1,.*reloads 0 accepted 0 rejected' 10 || fail "no SIGUSR1 summary"
ok "SIGUSR1 summary"

write_conf "$T/a.conf" 2 debug
kill -HUP $APID
wait_for "$T/agent.log" 'configuration reloaded' 10 || fail "valid reload not applied"
grep -q 'node.farm_id changed: takes effect after a restart' "$T/agent.log" || fail "restart key not reported"
grep -q 'log.level changed: applied' "$T/agent.log" || fail "reloadable key not reported"
wait_for "$T/notify.log" 'RELOADING=1' 5 || fail "no RELOADING=1"
wait_count "$T/notify.log" 'READY=1' 2 5 || fail "no READY=1 after the reload"
ok "SIGHUP with a valid config"

printf '[node]\nstate_dir = %s/state\nbogus = 1\n' "$T" >"$T/a.conf"
kill -HUP $APID
wait_for "$T/agent.log" "reload rejected, keeping the running configuration: $T/a.conf:3: unknown key 'node.bogus'" 10 ||
	fail "invalid reload not rejected"
sleep 0.3
kill -0 $APID 2>/dev/null || fail "agent died on an invalid reload"
kill -USR1 $APID
# farm 1 still runs (farm_id needs a restart); the level change was applied.
wait_for "$T/agent.log" 'farm 1,.*reloads 1 accepted 1 rejected, log level debug' 10 || fail "state after reloads"
ok "SIGHUP with an invalid config keeps the running one"

start=$(date +%s)
kill -TERM $APID
wait $APID
rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
[ $(($(date +%s) - start)) -le 25 ] || fail "stop took longer than the deadline"
wait_for "$T/notify.log" 'STOPPING=1' 5 || fail "no STOPPING=1"
grep -q 'agent: stopped' "$T/agent.log" || fail "no stop message"
ok "SIGTERM: graceful stop, exit 0"

write_conf "$T/a.conf" 1 info
chmod 640 "$T/state/identity.seed"
"$AGENT" -d -f "$T/a.conf" 2>"$T/perm.log" && fail "agent started with a group-readable seed"
grep -q 'has mode 0640: readable by group or others, refusing to use it' "$T/perm.log" || fail "permission message"
"$AGENT" -f "$T/a.conf" identity >/dev/null 2>&1 && fail "identity used a group-readable seed"
ok "group-readable seed refused"
echo "all daemon checks passed"
