#!/bin/bash
# Reports survive crashes: the agent and the devchain are killed (SIGKILL) at
# random moments during report cycles and restarted on the same state (the
# agent's config and state dir, the chain's --base-path). Afterwards, from
# the chain's own events (ConsumptionReportReceived, ContractBilled) and
# storage, for each contract:
#   (a) no two reports cover overlapping time (timestamps strictly grow,
#       no report window counted twice, one bill per report);
#   (b) the windows are contiguous from the deployment (ContractDeployed's
#       block time, where the chain starts billing) to the last report, and
#       the last report is after the chaos ended (no report lost for good);
#   (c) every bill equals docs/billing.md's formula applied to the reserved
#       capacity over its window, recomputed here in exact integers; their
#       sum equals the ContractBilled total, `zos-cli contract bill-history`
#       and what the farmer's account received.
# And from the agent's log: every cycle it queued was billed (none lost in
# its outbox across kills), every report item it saw succeed was billed in
# that block or, resent after a cut send that had landed, skipped by the
# chain as a repeat; a cycle that could not be queued is retried within the
# report interval.
# CHAOS_SEED=N replays a schedule; CHAOS_SECONDS (default 100) sets how long
# the kills go on. The whole test stays under 4 minutes.
set -u
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
use_build
need_root "the provisioners need root"
need_tools python3 jq curl

SEED=${CHAOS_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
CHAOS_SECONDS=${CHAOS_SECONDS:-100}
T0=$(date +%s)

TMP=$(mktemp -d /tmp/report-chaos.XXXXXX)
CPID= APID=
# shellcheck disable=SC2034 # read by stop_pid (lib.sh): wait at most ~20 s
STOP_PID_TENTHS=200
cleanup() {
	stop_node
	# CHAOS_KEEP=DIR keeps the logs and the analysis input.
	if [ -n "${CHAOS_KEEP:-}" ]; then
		mkdir -p "$CHAOS_KEEP" && cp "$TMP"/*.log "$TMP"/*.json "$CHAOS_KEEP"/ 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $* (seed $SEED)"
	[ -s "$TMP/err.txt" ] && { echo "--- last command's stderr"; cat "$TMP/err.txt"; }
	echo "--- agent.log"
	tail -n 40 "$TMP/agent.log" 2>/dev/null
	echo "--- chain.log"
	grep -v ': [0-9]* extrinsics\?$' "$TMP/chain.log" 2>/dev/null | tail -n 15
	exit 1
}
CPORT=$(free_port)
export ZOS_CHAIN_URL="http://127.0.0.1:$CPORT"

# ---- The chain, on a base path that survives kill -9 (default genesis:
# the dev accounts hold 1,000,000 TFT each, policy 1, TFT at 50 mUSD).
chain_up() { get Timestamp Now >/dev/null; }
start_chain() {
	local try
	for try in 1 2 3 4 5; do
		"$CHAIN" --base-path "$TMP/chain" --rpc-addr "127.0.0.1:$CPORT" --block-time 200 \
			>>"$TMP/chain.log" 2>&1 &
		CPID=$!
		wait_for 10 chain_up && return 0
		kill -0 "$CPID" 2>/dev/null || { CPID=; sleep 0.5; continue; } # port still held
		fail "tfchain-dev did not answer on port $CPORT"
	done
	fail "tfchain-dev did not start on port $CPORT"
}
start_chain

agent_conf 3 10
cat >>"$TMP/agent.conf" <<EOF
[rmb]
listen = ipc://$TMP/run/rmb.sock
EOF
node_identity
fund_node
make_farm bob chaos_farm
make_twins charlie

start_agent
wait_node
wait_engine charlie 30
echo "ok: node $NODE (twin $TWIN) registered in farm 1, report_interval 10 s"

# The farmer (//Bob) receives every bill: its balance before any bill.
BOB=$("$CLI" key inspect --dev bob --json 2>/dev/null | jq -r '.account_id // empty')
balance_of() { get System Account "\"$1\"" | jq -r .data.free; }
BOB0=$(balance_of "$BOB")
[[ "$BOB0" =~ ^[0-9]+$ ]] || fail "cannot read //Bob's balance (account '$BOB'): $BOB0"

# ---- Two zmounts, sizes that give fractional prices per window.
SIZES=(21474836480 3238002688) # 20 GiB; 3 GiB + 16 MiB (sparse images)
CONTRACTS=()
for i in 0 1; do
	cat >"$TMP/dep$i.json" <<EOF
{"version": 0, "metadata": "", "description": "chaos $i",
 "workloads": [{"version": 0, "name": "disk$i", "type": "zmount", "metadata": "",
   "description": "", "data": {"size": ${SIZES[$i]}}}]}
EOF
	"$CLI" deploy --node "$NODE" "$TMP/dep$i.json" --dev charlie --timeout 60 >"$TMP/deploy.out" 2>"$TMP/err.txt" ||
		fail "deploy $i: $(cat "$TMP/deploy.out")"
	C=$(sed -n 's/^contract: \([0-9]*\)$/\1/p' "$TMP/deploy.out")
	grep -q "^deployed: contract $C" "$TMP/deploy.out" || fail "deploy output: $(cat "$TMP/deploy.out")"
	CONTRACTS+=("$C")
done
echo "ok: contracts ${CONTRACTS[*]} Deployed (zmounts of ${SIZES[*]} bytes)"

# ---- Chaos. Each step waits a random time, or (2 in 3) for the agent to
# queue a report cycle and then 0..0.6 s (the report is being sent or waits
# in the pool for a block), and kills the agent, the chain or both with SIGKILL; each comes
# back after a random 0..4 s on the same state.
cycles_queued() { grep -c 'records in [0-9]* calls queued' "$TMP/agent.log"; }
kill9() { # var-name
	local p=${!1}
	[ -n "$p" ] || return 0
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	printf -v "$1" '%s' ""
}
msleep() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }
KILLS_AGENT=0 KILLS_CHAIN=0 STEPS=0
# A shuffled plan with each kind at least twice, then random kinds.
PLAN=(agent chain both agent chain both)
for i in 5 4 3 2 1; do
	j=$((RANDOM % (i + 1)))
	t=${PLAN[$i]} PLAN[$i]=${PLAN[$j]} PLAN[$j]=$t
done
END_CHAOS=$(($(date +%s) + CHAOS_SECONDS))
echo "chaos: seed $SEED, $CHAOS_SECONDS s"
while [ "$(date +%s)" -lt "$END_CHAOS" ]; do
	if ((RANDOM % 3)) && [ -n "$APID" ]; then
		# Wait (at most 14 s) for the agent to queue its next cycle, then
		# kill within 0..600 ms: the report is being sent or in the pool.
		n0=$(cycles_queued)
		for _ in $(seq 1 280); do
			[ "$(cycles_queued)" -gt "$n0" ] && break
			sleep 0.05
		done
		msleep $((RANDOM % 600))
		how="in a cycle"
	else
		msleep $((2000 + RANDOM % 10000))
		how="at random"
	fi
	[ "$(date +%s)" -lt "$END_CHAOS" ] || break
	kind=${PLAN[$STEPS]:-}
	[ -n "$kind" ] || kind=$(echo agent chain both | cut -d' ' -f$((RANDOM % 3 + 1)))
	STEPS=$((STEPS + 1))
	case $kind in
	agent) kill9 APID; KILLS_AGENT=$((KILLS_AGENT + 1)) ;;
	chain) kill9 CPID; KILLS_CHAIN=$((KILLS_CHAIN + 1)) ;;
	both)
		kill9 APID; kill9 CPID
		KILLS_AGENT=$((KILLS_AGENT + 1)) KILLS_CHAIN=$((KILLS_CHAIN + 1)) ;;
	esac
	down=$((RANDOM % 5000))
	echo "  $(date -u +%H:%M:%S) kill -9 $kind ($how), down ${down} ms"
	msleep "$down"
	if [ -z "$APID" ] && [ -z "$CPID" ] && ((RANDOM % 2)); then
		start_agent # the agent comes back first, to a chain still down
		msleep $((RANDOM % 3000))
	fi
	[ -n "$CPID" ] || start_chain
	[ -n "$APID" ] || start_agent
done
kill -0 "$APID" 2>/dev/null || fail "the agent died on its own"
kill -0 "$CPID" 2>/dev/null || fail "the chain died on its own"
CHAOS_DONE=$(date +%s)
echo "ok: chaos over: $STEPS steps, $KILLS_AGENT agent kills, $KILLS_CHAIN chain kills"

# ---- One last report cycle must land for every contract after the chaos
# (a failed cycle is retried after the reporter's retry delay).
last_updated() { get SmartContractModule ContractBillingInformationByID "$1" | jq -r .last_updated; }
settled() {
	local c
	for c in "${CONTRACTS[@]}"; do
		[ "$(last_updated "$c")" -gt "$CHAOS_DONE" ] 2>/dev/null || return 1
	done
}
wait_for 60 settled || fail "no report after the chaos (ended $CHAOS_DONE) for every contract: $(for c in "${CONTRACTS[@]}"; do printf '%s:%s ' "$c" "$(last_updated "$c")"; done)"
echo "ok: a report landed for every contract after the chaos ($(($(date +%s) - CHAOS_DONE)) s later)"

# Stop the agent cleanly: no report after the figures are read.
stop_pid "$APID"
APID=
grep -aq Sanitizer "$TMP/agent.log" && fail "agent: sanitizer report"
grep -aq Sanitizer "$TMP/chain.log" && fail "chain: sanitizer report"

NOTQ=$(grep -ac 'reporter: cycle [0-9]* not queued' "$TMP/agent.log")
# A cycle that could not be built (the agent started while the chain was
# down) is retried within one report interval, not a fixed minute later.
grep -a 'reporter: cycle [0-9]* not queued' "$TMP/agent.log" | grep -av 'retry in \([0-9]\|10\) s$' &&
	fail "a cycle that could not be queued is retried later than the 10 s interval"
echo "agent: $NOTQ report cycles could not be queued (chain down at the agent's start), each retried within the interval"

# ---- Gather the chain's view and check it.
BOB1=$(balance_of "$BOB")
for c in "${CONTRACTS[@]}"; do
	"$CLI" contract bill-history "$c" --json >"$TMP/bills.$c.json" 2>"$TMP/err.txt" || fail "bill-history $c"
	get SmartContractModule ContractBillingInformationByID "$c" >"$TMP/info.$c.json" || fail "billing info $c"
done
get TfgridModule PricingPolicies 1 >"$TMP/policy.json" || fail "pricing policy"
get SmartContractModule TftPrice >"$TMP/tftprice.json" || fail "TftPrice"
curl -s -H 'Content-Type: application/json' \
	-d '{"jsonrpc":"2.0","id":1,"method":"state_getMetadata","params":[]}' "$ZOS_CHAIN_URL" |
	jq -r .result >"$TMP/meta.hex" || fail "metadata"
EVKEY=$("$CLI" chain storage-key System Events) || fail "storage-key"
TSKEY=$("$CLI" chain storage-key Timestamp Now) || fail "storage-key"

python3 - "$TMP" "$ZOS_CHAIN_URL" "$CLI" "$EVKEY" "$TSKEY" "$BOB0" "$BOB1" "$CHAOS_DONE" \
	"$(IFS=,; echo "${CONTRACTS[*]}")" "$(IFS=,; echo "${SIZES[*]}")" <<'EOF' || fail "the chain's billing does not add up"
import json, subprocess, sys, urllib.request

tmp, url, cli, evkey, tskey = sys.argv[1:6]
bob0, bob1, chaos_done = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
contracts = [int(x) for x in sys.argv[9].split(",")]
sizes = dict(zip(contracts, (int(x) for x in sys.argv[10].split(","))))
bad = []

def rpc_batch(calls):
    out = []
    for i in range(0, len(calls), 200):
        body = [{"jsonrpc": "2.0", "id": j, "method": m, "params": p}
                for j, (m, p) in enumerate(calls[i:i + 200])]
        req = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        res = json.load(urllib.request.urlopen(req, timeout=30))
        res = sorted(res, key=lambda r: r["id"])
        for r in res:
            if "error" in r:
                raise SystemExit("rpc error: %s" % r["error"])
            out.append(r["result"])
    return out

def num(x):
    return int(x, 0) if isinstance(x, str) else int(x)

head = num(rpc_batch([("chain_getHeader", [])])[0]["number"])
hashes = rpc_batch([("chain_getBlockHash", [n]) for n in range(head + 1)])
raw = rpc_batch([("state_getStorage", [k, h]) for h in hashes for k in (evkey, tskey)])
events = []  # (block, block_time_s, pallet, name, data)
for n in range(head + 1):
    ev, ts = raw[2 * n], raw[2 * n + 1]
    bt = int.from_bytes(bytes.fromhex(ts[2:]), "little") // 1000 if ts else 0
    if not ev or ev == "0x00":
        continue
    dec = json.loads(subprocess.run([cli, "chain", "decode-value", "System.Events", ev,
                                     "--metadata-file", tmp + "/meta.hex"],
                                    check=True, capture_output=True, text=True).stdout)
    for rec in dec:
        (pallet, e), = rec["event"].items()
        if isinstance(e, str):
            name, data = e, None
        else:
            (name, data), = e.items()
        if pallet == "SmartContractModule":
            events.append((n, bt, name, data))

def first(d):  # a single unnamed field decodes as the value or a 1-list
    return d[0] if isinstance(d, list) else d

policy = json.load(open(tmp + "/policy.json"))
price = num(json.load(open(tmp + "/tftprice.json")))
UNITS = {"Bytes": 0, "Kilobytes": 1, "Megabytes": 2, "Gigabytes": 3, "Terrabytes": 4}
def pol(k):
    v = policy[k]
    u = v.get("unit", "Gigabytes")
    return num(v["value"]), UNITS[u] if isinstance(u, str) else num(u)
su_v, su_u = pol("su"); cu_v, cu_u = pol("cu"); nu_v, nu_u = pol("nu"); ipu_v, _ = pol("ipu")

def ceil_div(a, b):
    return -(-a // b)

def cost_units(w, cru, sru, hru, mru, nru, ips=0):
    # docs/billing.md, with exact fractions: su and cu in GiB (policy units).
    from fractions import Fraction as Fr
    Fsu, Fcu = 1024 ** su_u, 1024 ** cu_u
    su = Fr(hru, 1200 * Fsu) + Fr(sru, 200 * Fsu)
    m = Fr(mru, Fcu)
    cu = min(max(m / 4, Fr(cru, 2)), max(m / 8, Fr(cru)), max(m / 2, Fr(cru, 4)))
    res = w * (su * su_v + cu * cu_v + ips * ipu_v) / 3600
    resources = ceil_div(res.numerator, res.denominator)
    traffic = ceil_div(nru * nu_v, 1000 ** nu_u)
    return resources + traffic

# docs/billing.md's worked example, when the chain runs its policy 1.
if (su_v, su_u, cu_v, cu_u, nu_v, nu_u) == (50000, 3, 100000, 3, 15000, 3):
    G = 1 << 30
    for w, want in ((3600, 140000), (60, 17084)):
        got = cost_units(w, 2, 100 * G, 0, 4 * G, 10 ** 9)
        if got != want:
            raise SystemExit("recomputation off: %d for the worked example over %d s, want %d" % (got, w, want))
grand_billed = grand_expected = 0
for c in contracts:
    dep = [e for e in events if e[2] == "ContractDeployed" and num(first(e[3])) == c]
    reps = [e for e in events if e[2] == "ConsumptionReportReceived" and num(first(e[3])["contract_id"]) == c]
    bills = [e for e in events if e[2] == "ContractBilled" and num(first(e[3])["contract_id"]) == c]
    if len(dep) != 1:
        bad.append("contract %d: %d ContractDeployed events" % (c, len(dep))); continue
    start = dep[0][1]
    prev, windows, unbilled, expected_bills = start, [], 0, []
    by_block = {}
    for b in bills:
        by_block.setdefault(b[0], []).append(num(first(b[3])["amount_billed"]))
    for blk, bt, _, d in reps:
        r = {k: num(v) for k, v in first(d).items()}
        ts = r["timestamp"]
        if ts <= prev:
            bad.append("contract %d: report at %d in block %d overlaps the previous one (%d)" % (c, ts, blk, prev))
        if ts > bt:
            bad.append("contract %d: report at %d billed in block %d of time %d" % (c, ts, blk, bt))
        if (r["cru"], r["mru"], r["hru"], r["sru"]) != (0, 0, 0, sizes[c]):
            bad.append("contract %d: report at %d claims cru %d mru %d hru %d sru %d, reserved sru %d"
                       % (c, ts, r["cru"], r["mru"], r["hru"], r["sru"], sizes[c]))
        w = ts - prev
        windows.append(w)
        units = cost_units(w, r["cru"], r["sru"], r["hru"], r["mru"], r["nru"])
        unbilled += units
        planck = unbilled * 1000 // price
        if planck:
            expected_bills.append((blk, planck))
            unbilled = 0
        prev = ts
    got_bills = [(b[0], num(first(b[3])["amount_billed"])) for b in bills]
    billed = sum(a for _, a in got_bills)
    expected = sum(a for _, a in expected_bills)
    if got_bills != expected_bills:
        diff = [(g, e) for g, e in zip(got_bills, expected_bills) if g != e][:5]
        bad.append("contract %d: bills %d (sum %d) != recomputed %d (sum %d); first differences "
                   "(block, got) vs (block, expected): %s" % (c, len(got_bills), billed,
                   len(expected_bills), expected, diff))
    total_w = sum(windows)
    last = prev
    if total_w != last - start:
        bad.append("contract %d: windows sum to %d s, last report - deployment = %d s" % (c, total_w, last - start))
    if last <= chaos_done:
        bad.append("contract %d: last report at %d, not after the chaos (%d)" % (c, last, chaos_done))
    info = json.load(open("%s/info.%d.json" % (tmp, c)))
    if num(info["last_updated"]) != last:
        bad.append("contract %d: chain last_updated %s != last report %d" % (c, info["last_updated"], last))
    hist = json.load(open("%s/bills.%d.json" % (tmp, c)))
    hist_bills = [(num(b["timestamp"]), num(b["amount_planck"])) for b in hist["bills"]]
    ev_bills = [(b[1], num(first(b[3])["amount_billed"])) for b in bills]
    if hist_bills != ev_bills[-128:] or (len(ev_bills) <= 128 and num(hist["total_planck"]) != billed):
        bad.append("contract %d: bill-history (%d bills, %s planck) != ContractBilled events (%d, %d)"
                   % (c, len(hist_bills), hist["total_planck"], len(ev_bills), billed))
    # The whole window at once, for scale: per-report rounding (ceil) can
    # only add, at most one unit per report.
    one = cost_units(total_w, 0, sizes[c], 0, 0, 0) * 1000 // price
    print("contract %d: sru %d B, deployed at %d, %d reports, windows %d..%d s, total window %d s "
          "(%d..%d); billed %d planck in %d bills, recomputed %d; one %d s window would be %d "
          "(+%d from per-report rounding, at most %d)"
          % (c, sizes[c], start, len(reps), min(windows or [0]), max(windows or [0]), total_w,
             start, last, billed, len(got_bills), expected, total_w, one, expected - one,
             len(reps) * 1000 // price))
    if not (one <= expected <= one + len(reps) * ceil_div(1000, price)):
        bad.append("contract %d: recomputed %d outside [%d, %d]" % (c, expected, one, one + len(reps) * ceil_div(1000, price)))
    grand_billed += billed
    grand_expected += expected

# The agent's view: each report item it saw succeed ("add_reports ... in
# block B: success" then "outbox report:TS:P: ok"). Its records either
# billed in block B, or landed earlier (a send cut by a kill) so that the
# chain skipped this resend as a repeat; anything else is a lost report.
import re
landed = {}
for blk, bt, name, d in events:
    if name == "ConsumptionReportReceived":
        landed.setdefault(num(first(d)["timestamp"]), set()).add(blk)
first_send = resent_skipped = 0
prev_line = ""
for line in open(tmp + "/agent.log", errors="replace"):
    m = re.search(r"outbox report:(\d+):\d+(?::\w+)?: ok$", line.rstrip())
    b = re.search(r"add_reports nonce \d+ in block (\d+) #\d+: success", prev_line)
    prev_line = line
    if not m or not b:
        continue
    ts, blk = int(m.group(1)), int(b.group(1))
    blocks = landed.get(ts, set())
    if blk in blocks:
        first_send += 1
    elif blocks and min(blocks) < blk:
        resent_skipped += 1
    else:
        bad.append("report of cycle %d: the agent saw it succeed in block %d, the chain billed it in %s"
                   % (ts, blk, sorted(blocks) or "no block"))
# Every cycle the agent queued (up to the last billed one: the agent was
# stopped after it) was billed: none lost in the outbox across the kills.
queued = [int(m.group(1)) for m in re.finditer(r"reporter: cycle (\d+): \d+ records in \d+ calls queued",
                                               open(tmp + "/agent.log", errors="replace").read())]
last_billed = max(landed) if landed else 0
lost = [ts for ts in queued if ts <= last_billed and ts not in landed]
if lost:
    bad.append("cycles queued by the agent but never billed: %s" % lost)
print("agent's cycles: %d queued, %d billed on chain, %d lost" %
      (len(queued), len([t for t in queued if t in landed]), len(lost)))
print("agent's report items: %d billed where the agent saw them land, %d resent after a cut "
      "send that had landed, skipped by the chain as repeats" % (first_send, resent_skipped))
print("all contracts: billed %d planck, recomputed %d; //Bob received %d" % (grand_billed, grand_expected, bob1 - bob0))
if bob1 - bob0 != grand_billed:
    bad.append("the farmer received %d planck, ContractBilled events sum to %d" % (bob1 - bob0, grand_billed))
json.dump([list(e) for e in events], open(tmp + "/events.json", "w"))
for b in bad:
    print("BAD:", b)
sys.exit(1 if bad else 0)
EOF
stop_pid "$CPID"
CPID=
grep -aq Sanitizer "$TMP/chain.log" && fail "chain: sanitizer report"
echo "ok: no overlap, contiguous windows, every bill as recomputed ($STEPS kills: agent $KILLS_AGENT, chain $KILLS_CHAIN; seed $SEED; $(($(date +%s) - T0)) s)"
exit 0
