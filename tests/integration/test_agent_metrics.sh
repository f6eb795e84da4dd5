#!/bin/bash
# The agent's metrics endpoint against what happened: /healthz names the
# missing chain and turns 200 once the node is registered and serving;
# /metrics is valid Prometheus text whose figures match the run (RMB calls
# by command and code, a deployment and its workload by state, the node id,
# the capacity, the chain's head); a stopped chain turns /healthz to 503
# naming it; a metrics port in use is logged and the node keeps working.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the provisioners need root"
need_tools python3 jq curl

TMP=$(mktemp -d /tmp/agent-metrics.XXXXXX)
CPID= APID= BPID=
cleanup() {
	[ -n "$BPID" ] && stop_pid "$BPID"
	stop_all
}
trap cleanup EXIT
MPORT=$(free_port)
agent_conf 2
cat >>"$TMP/agent.conf" <<EOF
[reserved]
cru = 0
mru = 0
[metrics]
listen = 127.0.0.1:$MPORT
EOF
node_identity
M="http://127.0.0.1:$MPORT"
scrape() { curl -s --max-time 5 "$M/metrics" >"$TMP/metrics.txt"; }
# metric NAME{LABELS}: the sample's value ("" when absent).
metric() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/metrics.txt"; }

# ---- No chain yet: /healthz is 503 and names the chain and its URL.
start_agent
health() { curl -s --max-time 5 -o "$TMP/health.txt" -w '%{http_code}' "$M/healthz"; }
health_is() { [ "$(health)" = "$1" ]; }
wait_log 20 "chain unreachable" || fail "unreachable chain not reported"
wait_for 10 health_is 503 || fail "/healthz without a chain: $(health) $(cat "$TMP/health.txt")"
grep -q "^chain: no answer from http://127.0.0.1:$CPORT" "$TMP/health.txt" || fail "/healthz: $(cat "$TMP/health.txt")"
grep -q "^registration:" "$TMP/health.txt" || fail "/healthz: $(cat "$TMP/health.txt")"
echo "ok: /healthz is 503 and names the missing chain and registration"

start_chain
fund_node
make_farm bob metrics_farm
wait_node

make_twins charlie
rmb() { "$CLI" rmb call "$TWIN" "$@" --dev charlie 2>"$TMP/err.txt"; }
wait_for 20 rmb zos.system.version >/dev/null || fail "zos.system.version"
rmb zos.system.version >/dev/null || fail "zos.system.version"
engine_up() { rmb zos.statistics.get >/dev/null; }
wait_for 20 engine_up || fail "zos.statistics.get"
rmb zos.deployment.get '{"contract_id": 999999}' >/dev/null && fail "a missing deployment was found"
cat >"$TMP/dep.json" <<EOF
{"version": 0, "metadata": "", "description": "metrics",
 "workloads": [{"version": 0, "name": "disk1", "type": "zmount", "metadata": "",
   "description": "", "data": {"size": 16777216}}]}
EOF
"$CLI" deploy --node "$NODE" "$TMP/dep.json" --dev charlie --timeout 60 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
	fail "deploy: $(cat "$TMP/deploy.out")"
echo "ok: node $NODE registered, RMB calls made, one zmount deployed"

# ---- /healthz is 200 once everything runs.
wait_for 20 health_is 200 || fail "/healthz on a working node: $(cat "$TMP/health.txt")"
[ "$(cat "$TMP/health.txt")" = ok ] || fail "/healthz body: $(cat "$TMP/health.txt")"
echo "ok: /healthz is 200 ok"

# ---- /metrics: valid text format, figures that match the run.
scrape || fail "GET /metrics"
python3 - "$TMP/metrics.txt" <<'EOF' || fail "/metrics is not valid Prometheus text: $(head -c 2000 "$TMP/metrics.txt")"
import re, sys
sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (NaN|[-+]?Inf|[-+]?[0-9.eE+-]+)$')
typed = set()
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# TYPE "):
        name = line.split()[2]
        if name in typed:
            sys.exit(f"TYPE twice for {name}")
        typed.add(name)
    elif line.startswith("#") or not line:
        continue
    elif not sample.match(line):
        sys.exit(f"bad line: {line}")
    else:
        base = re.sub(r'(_bucket|_sum|_count)$', '', line.split('{')[0].split(' ')[0])
        if base not in typed and line.split('{')[0].split(' ')[0] not in typed:
            sys.exit(f"sample without TYPE: {line}")
EOF
want() { # NAME{LABELS} VALUE
	local v
	v=$(metric "$1")
	[ "$v" = "$2" ] || fail "$1 is '$v', want $2"
}
want 'zos_node_id' "$NODE"
want 'zos_twin_id' "$TWIN"
want 'zos_chain_up' 1
want 'zos_engine_running' 1
want 'zos_deployments{state="deployed"}' 1
want 'zos_workloads{state="ok"}' 1
want 'zos_workload_errors' 0
want 'zos_capacity_total{resource="cru"}' "$(nproc)"
want 'zos_capacity_used{resource="sru"}' 16777216
# version twice (one more while waiting may have failed before the engine
# ran: it still counts as answered), statistics at least once, the missing
# deployment with its error code, and the deploy.
v=$(metric 'zos_rmb_requests_total{cmd="zos.system.version",code="0"}')
[ "${v:-0}" -ge 2 ] || fail "zos.system.version requests: '$v'"
[ -n "$(metric 'zos_rmb_requests_total{cmd="zos.deployment.deploy",code="0"}')" ] || fail "no deploy request counted"
grep -q '^zos_rmb_requests_total{cmd="zos.deployment.get",code="[1-9][0-9]*"} 1$' "$TMP/metrics.txt" ||
	fail "the refused zos.deployment.get is not counted with its code: $(grep deployment.get "$TMP/metrics.txt")"
n=$(metric 'zos_rmb_request_duration_seconds_count{cmd="zos.system.version"}')
[ "$n" = "$v" ] || fail "histogram count $n, requests $v"
inf=$(metric 'zos_rmb_request_duration_seconds_bucket{cmd="zos.system.version",le="+Inf"}')
[ "$inf" = "$v" ] || fail "+Inf bucket $inf, requests $v"
head=$(metric zos_chain_finalized_block)
[ "${head:-0}" -gt 0 ] || fail "zos_chain_finalized_block: '$head'"
lag=$(metric zos_chain_head_lag_blocks)
[ "${lag:-99}" -le 50 ] || fail "zos_chain_head_lag_blocks: '$lag'"
# Every metric the dashboard and docs/operations.md name is served.
for m in $(grep -oh 'zos_[a-z_]*' docs/grafana-dashboard.json docs/operations.md | sed 's/_bucket$//' | sort -u); do
	grep -q "^# TYPE $m " "$TMP/metrics.txt" || fail "$m is in the docs or dashboard but not served"
done
echo "ok: /metrics is valid and matches the run (node $NODE, $v version calls, head $head, lag $lag)"

# ---- A stopped chain: /healthz turns 503 and names it.
kill -STOP "$CPID"
wait_for 30 health_is 503 || fail "/healthz with a stopped chain: $(cat "$TMP/health.txt")"
grep -q "^chain: no answer" "$TMP/health.txt" || fail "/healthz: $(cat "$TMP/health.txt")"
scrape && want zos_chain_up 0
kill -CONT "$CPID"
wait_for 30 health_is 200 || fail "/healthz after the chain came back: $(cat "$TMP/health.txt")"
echo "ok: a stopped chain shows in /healthz and zos_chain_up, and clears when it answers again"

# ---- The metrics port in use at start: logged, the node keeps working.
stop_pid "$APID"
APID=
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' "$MPORT" &
BPID=$!
wait_port 5 "$MPORT" || fail "the port blocker did not listen"
"$AGENT" -d -f "$TMP/agent.conf" >"$TMP/agent2.log" 2>&1 &
APID=$!
wait_log 20 "metrics endpoint on 127.0.0.1:$MPORT did not start" "$TMP/agent2.log" ||
	fail "busy metrics port not reported: $(tail -n 20 "$TMP/agent2.log")"
wait_for 20 rmb zos.system.version >/dev/null || fail "the node stopped serving with its metrics port taken"
echo "ok: a taken metrics port is logged with the fix and the node keeps serving"
stop_pid "$APID"
APID=
grep -q Sanitizer "$TMP/agent.log" "$TMP/agent2.log" && fail "agent: sanitizer report"
echo "ok"
