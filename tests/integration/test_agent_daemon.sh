#!/bin/bash
# The daemon's life cycle without a chain: configuration check and round trip,
# identity creation and permission refusal, READY/RELOADING/STOPPING/WATCHDOG
# through NOTIFY_SOCKET, SIGHUP with a valid and an invalid configuration,
# SIGUSR1, the state directory lock, and SIGTERM within the deadline.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build agent
need_tools python3

TMP=$(mktemp -d /tmp/test_agent_daemon.XXXXXX)
PIDS=()
trap stop_all EXIT
FAIL_LOGS="agent.log notify.log second.log perm.log id.log"

# has_lines N FIXED-STRING FILE: FILE has at least N lines with the string.
has_lines() {
	[ "$(grep -cF -- "$2" "$3" 2>/dev/null)" -ge "$1" ]
}

# A chain port nobody listens on, so nothing reaches a real chain.
CPORT=$(free_port)

# write_conf FARM LEVEL: $TMP/agent.conf for farm FARM, logging at LEVEL.
write_conf() {
	agent_conf 5 5m "$1"
	printf '[log]\nlevel = %s\n' "$2" >>"$TMP/agent.conf"
}

# --- configuration check and round trip -------------------------------------
"$AGENT" -n -f config/agent.conf.example >"$TMP/n1.conf" || fail "-n rejects the example config"
"$AGENT" -n -f "$TMP/n1.conf" >"$TMP/n2.conf" || fail "-n rejects its own output"
cmp -s "$TMP/n1.conf" "$TMP/n2.conf" || fail "-n output does not round-trip"
ok "example config checks and round-trips"

printf '[chain]\nurl = http://x:1\n\n[rmb]\nworkers = 12x\n' >"$TMP/bad1.conf"
out=$("$AGENT" -n -f "$TMP/bad1.conf" 2>&1) && fail "bad number accepted"
[ "$out" = "zos-agent: $TMP/bad1.conf:5: rmb.workers: '12x' is not a number" ] || fail "bad number message: $out"
printf '[node]\nfarm_id = 1\nfarmid = 2\n' >"$TMP/bad2.conf"
out=$("$AGENT" -n -f "$TMP/bad2.conf" 2>&1) && fail "unknown key accepted"
[ "$out" = "zos-agent: $TMP/bad2.conf:3: unknown key 'node.farmid'" ] || fail "unknown key message: $out"
out=$("$AGENT" -n -f "$TMP/none.conf" 2>&1) && fail "missing file accepted"
[ "$out" = "zos-agent: $TMP/none.conf: cannot open: No such file or directory" ] || fail "missing file message: $out"
out=$(ZOS_AGENT_NODE_FARM_ID=7 "$AGENT" -n -f "$TMP/bad2.conf" -o node.farm_id=8 2>&1) && fail "env did not stop at the bad file"
out=$(ZOS_AGENT_NODE_FARM_ID=7 "$AGENT" -n -f "$TMP/n1.conf" | grep '^farm_id') || fail "env config"
[ "$out" = "farm_id = 7" ] || fail "environment does not override the file: $out"
out=$(ZOS_AGENT_NODE_FARM_ID=7 "$AGENT" -n -f "$TMP/n1.conf" -o node.farm_id=8 | grep '^farm_id')
[ "$out" = "farm_id = 8" ] || fail "-o does not override the environment: $out"
ok "bad configs fail with file:line and the key; precedence file < env < flags"

# --- identity ----------------------------------------------------------------
write_conf 1 info
"$AGENT" -f "$TMP/agent.conf" identity >"$TMP/id.txt" 2>"$TMP/id.log" || fail "identity"
[ "$(stat -c %a "$TMP/state/identity.seed")" = 600 ] || fail "seed file mode is not 0600"
grep -Eq '^ss58_address: 5[1-9A-HJ-NP-Za-km-z]{47}$' "$TMP/id.txt" || fail "identity output: $(cat "$TMP/id.txt")"
"$AGENT" -f "$TMP/agent.conf" identity --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["account_id"].startswith("0x")' ||
	fail "identity --json"
ok "identity created 0600 and printed"

# --- the daemon ----------------------------------------------------------------
notify_listen
PIDS+=("$NPID")

NOTIFY_SOCKET="$TMP/notify.sock" WATCHDOG_USEC=1000000 start_agent
wait_log 20 'READY=1' "$TMP/notify.log" || fail "no READY=1"
grep -q "node account $(sed -n 's/^ss58_address: //p' "$TMP/id.txt")" "$TMP/agent.log" || fail "agent uses another identity"
wait_log 10 '^WATCHDOG=1' "$TMP/notify.log" || fail "no watchdog ping"
ok "READY and WATCHDOG sent"

"$AGENT" -d -f "$TMP/agent.conf" 2>"$TMP/second.log" && fail "a second agent on the same state dir started"
grep -q "another zos-agent is running" "$TMP/second.log" || fail "second agent message"
ok "state directory lock"

kill -USR1 $APID
wait_log 10 'state: up [0-9][0-9]*s, account 5.*farm 1,.*reloads 0 accepted 0 rejected' "$TMP/agent.log" || fail "no SIGUSR1 summary"
ok "SIGUSR1 summary"

write_conf 2 debug
kill -HUP $APID
wait_log 10 'configuration reloaded' "$TMP/agent.log" || fail "valid reload not applied"
grep -q 'node.farm_id changed: takes effect after a restart' "$TMP/agent.log" || fail "restart key not reported"
grep -q 'log.level changed: applied' "$TMP/agent.log" || fail "reloadable key not reported"
wait_log 5 'RELOADING=1' "$TMP/notify.log" || fail "no RELOADING=1"
wait_for 5 has_lines 2 'READY=1' "$TMP/notify.log" || fail "no READY=1 after the reload"
ok "SIGHUP with a valid config"

printf '[node]\nstate_dir = %s/state\nbogus = 1\n' "$TMP" >"$TMP/agent.conf"
kill -HUP $APID
wait_log 10 "reload rejected, keeping the running configuration: $TMP/agent.conf:3: unknown key 'node.bogus'" "$TMP/agent.log" ||
	fail "invalid reload not rejected"
sleep 0.3
kill -0 $APID 2>/dev/null || fail "agent died on an invalid reload"
kill -USR1 $APID
# farm 1 still runs (farm_id needs a restart); the level change was applied.
wait_log 10 'farm 1,.*reloads 1 accepted 1 rejected, log level debug' "$TMP/agent.log" || fail "state after reloads"
ok "SIGHUP with an invalid config keeps the running one"

start=$(date +%s)
kill -TERM $APID
wait $APID
rc=$?
APID=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
[ $(($(date +%s) - start)) -le 25 ] || fail "stop took longer than the deadline"
wait_log 5 'STOPPING=1' "$TMP/notify.log" || fail "no STOPPING=1"
grep -q 'agent: stopped' "$TMP/agent.log" || fail "no stop message"
ok "SIGTERM: graceful stop, exit 0"

write_conf 1 info
chmod 640 "$TMP/state/identity.seed"
"$AGENT" -d -f "$TMP/agent.conf" 2>"$TMP/perm.log" && fail "agent started with a group-readable seed"
grep -q 'has mode 0640: readable by group or others, refusing to use it' "$TMP/perm.log" || fail "permission message"
"$AGENT" -f "$TMP/agent.conf" identity >/dev/null 2>&1 && fail "identity used a group-readable seed"
ok "group-readable seed refused"
echo "all daemon checks passed"
