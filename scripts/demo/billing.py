#!/usr/bin/env python3
"""Recomputes a contract's bills from the pricing formulas of docs/billing.md.

Used by ./demo, independently of the chain's own arithmetic:

  billing.py --url URL --cli ZOS_CLI --contract ID --from BLOCK [--to BLOCK]
             --genesis demo/genesis.json --deployment demo/deployment.json
             --user 0xACCOUNT --farmer 0xACCOUNT [--metadata FILE] [--until-grace]

It reads every block FROM..TO over JSON-RPC, decodes System.Events with
`zos-cli chain decode-value` (metadata fetched from the chain), and takes
the node's reports from the ConsumptionReportReceived events. For each
report it computes the cost with the formulas (Python fractions, rounding
up once), converts it to planck at the genesis TFT price, and compares:

  - each expected bill with the chain's ContractBilled event;
  - the sum of the bills with the user's and the farmer's balance change
    between the block that deployed the contract and the last billed block
    (balances read at those blocks from System.Account, decoded here);
  - the reported capacity with what the deployment document declares.

It also prints the contract's SmartContractModule events (grace period,
deletion). Exit status 0 when everything matches, 1 otherwise.
"""
import argparse
import hashlib
import json
import math
import subprocess
import sys
import urllib.request
from fractions import Fraction

UNITS = {"Bytes": 0, "Kilobytes": 1, "Megabytes": 2, "Gigabytes": 3, "Terrabytes": 4}
EVENTS_KEY = "0x26aa394eea5630e07c48ae0c9558cef780d41e5e16056765bc8461851072c9d7"
TIMESTAMP_KEY = "0xf0c365c3cf59d671eb72da0e7a4113c49f1f0515f462cdcf84e0f1d6045dfcbb"


# twox128("System") ++ twox128("Account"), the prefix of System.Account.
SYSTEM_ACCOUNT = "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9"


class Rpc:
    def __init__(self, url):
        self.url = url
        self.n = 0

    def __call__(self, method, params):
        self.n += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.n, "method": method, "params": params})
        req = urllib.request.Request(self.url, body.encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            reply = json.load(r)
        if "error" in reply:
            raise RuntimeError("%s: %s" % (method, reply["error"]))
        return reply["result"]


def policy_value(pol, name, default_value):
    p = pol.get(name, {})
    return int(p.get("value", default_value)), UNITS[p.get("unit", "Gigabytes")]


def cost_units(prices, rep, window, public_ips=0):
    """docs/billing.md, 'The cost of one report', with exact fractions."""
    (suv, suu), (cuv, cuu), (nuv, nuu), (ipv, _) = prices
    fsu, fcu = Fraction(1024) ** suu, Fraction(1024) ** cuu
    su = Fraction(rep["hru"]) / (1200 * fsu) + Fraction(rep["sru"]) / (200 * fsu)
    m = Fraction(rep["mru"]) / fcu
    cru = Fraction(rep["cru"])
    cu = min(max(m / 4, cru / 2), max(m / 8, cru), max(m / 2, cru / 4))
    resources = math.ceil(window * (su * suv + cu * cuv + public_ips * ipv) / 3600)
    traffic = math.ceil(Fraction(rep["nru"]) * nuv / (1000 ** nuu))
    return resources, traffic, su, cu


def find_dict_with(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj
        for v in obj.values():
            r = find_dict_with(v, key)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_dict_with(v, key)
            if r is not None:
                return r
    return None


def free_at(rpc, block_hash, account_hex):
    acc = bytes.fromhex(account_hex[2:])
    key = "0x" + SYSTEM_ACCOUNT + hashlib.blake2b(acc, digest_size=16).hexdigest() + acc.hex()
    v = rpc("state_getStorage", [key, block_hash])
    if v is None:
        return 0
    raw = bytes.fromhex(v[2:])
    # AccountInfo: nonce, consumers, providers, sufficients (u32), then data.free (u128).
    return int.from_bytes(raw[16:32], "little")


def declared_capacity(doc):
    cap = {"cru": 0, "mru": 0, "sru": 0, "hru": 0}
    for w in doc["workloads"]:
        d = w.get("data", {})
        if w["type"] in ("zmount", "volume"):
            cap["sru"] += int(d["size"])
        elif w["type"] in ("container", "zmachine"):
            cap["cru"] += int(d["compute_capacity"]["cpu"])
            cap["mru"] += int(d["compute_capacity"]["memory"])
    return cap


def tft(planck):
    sign = "-" if planck < 0 else ""
    planck = abs(planck)
    return "%s%d.%07d TFT" % (sign, planck // 10**7, planck % 10**7)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--contract", type=int, required=True)
    ap.add_argument("--from", dest="start", type=int, required=True)
    ap.add_argument("--to", dest="end", type=int)
    ap.add_argument("--genesis", required=True)
    ap.add_argument("--deployment", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--farmer", required=True)
    ap.add_argument("--metadata", required=True, help="file to store the runtime metadata in")
    ap.add_argument("--min-bills", type=int, default=1)
    ap.add_argument("--timeline", action="store_true", help="only print the contract's events")
    a = ap.parse_args()

    rpc = Rpc(a.url)
    genesis = json.load(open(a.genesis))
    pol = genesis.get("TfgridModule", {}).get("pricing_policy", {})
    prices = (policy_value(pol, "su", 50000), policy_value(pol, "cu", 100000),
              policy_value(pol, "nu", 15000), policy_value(pol, "ipu", 40000))
    tft_price = int(genesis.get("SmartContractModule", {}).get("tft_price_musd", 50))
    want_cap = declared_capacity(json.load(open(a.deployment)))

    meta = rpc("state_getMetadata", [])
    with open(a.metadata, "wb") as f:
        f.write(bytes.fromhex(meta[2:]))
    end = a.end
    if end is None:
        end = int(rpc("chain_getHeader", [])["number"], 16)

    timeline, reports, bills = [], [], []
    deployed = None  # (block, hash, timestamp seconds)
    for n in range(a.start, end + 1):
        h = rpc("chain_getBlockHash", [n])
        raw = rpc("state_getStorage", [EVENTS_KEY, h])
        if raw is None or raw == "0x00":
            continue
        out = subprocess.run([a.cli, "chain", "decode-value", "System.Events", raw,
                              "--metadata-file", a.metadata], capture_output=True, text=True)
        if out.returncode != 0:
            print("cannot decode the events of block %d: %s" % (n, out.stderr.strip()))
            return 1
        for rec in json.loads(out.stdout):
            ev = rec.get("event", {})
            sc = ev.get("SmartContractModule")
            if not sc:
                continue
            name, data = next(iter(sc.items()))
            d = find_dict_with(data, "contract_id")
            if d is not None:
                cid = int(d["contract_id"])
            else:
                # Unnamed fields, e.g. ContractDeployed(u64, AccountId).
                first = data[0] if isinstance(data, list) and data else data
                try:
                    cid = int(first)
                except (TypeError, ValueError):
                    continue
            if cid != a.contract:
                continue
            timeline.append((n, name, data))
            if name == "ContractDeployed" and deployed is None:
                ts = rpc("state_getStorage", [TIMESTAMP_KEY, h])
                deployed = (n, h, int.from_bytes(bytes.fromhex(ts[2:]), "little") // 1000)
            elif name == "ConsumptionReportReceived":
                reports.append((n, h, {k: int(v) for k, v in d.items()}))
            elif name == "ContractBilled":
                bills.append((n, h, int(d["amount_billed"])))

    print("contract %d, blocks %d..%d: SmartContractModule events" % (a.contract, a.start, end))
    for n, name, data in timeline:
        print("  block %-5d %s %s" % (n, name, json.dumps(data, separators=(",", ":"))[:150]))
    if a.timeline:
        return 0
    if deployed is None:
        print("FAIL: no ContractDeployed event for contract %d in that range" % a.contract)
        return 1

    (suv, _), (cuv, _), (nuv, _), _ = prices
    print("\nrecomputing with su %d, cu %d, nu %d units USD (per hour, per GB), TFT at %d mUSD"
          % (suv, cuv, nuv, tft_price))
    print("deployed in block %d at %d s: billing starts there" % (deployed[0], deployed[2]))
    ok = True
    last = deployed[2]
    unbilled = 0
    expected = []  # (block of the report, planck)
    for n, h, r in reports:
        w = r["timestamp"] - last
        res, traffic, su, cu = cost_units(prices, r, w)
        cost = res + traffic
        unbilled += cost
        planck = unbilled * 1000 // tft_price
        cap_ok = all(r[k] == want_cap[k] for k in want_cap)
        ok &= cap_ok
        print("report (block %d): ts %d, window %d s, cru %d mru %d sru %d hru %d nru %d%s"
              % (n, r["timestamp"], w, r["cru"], r["mru"], r["sru"], r["hru"], r["nru"],
                 "" if cap_ok else "  <-- differs from the deployment %s" % want_cap))
        print("    su %s = %.6f, cu %s = %.6f -> ceil(%d * (su*%d + cu*%d) / 3600) = %d"
              " + traffic %d = %d units USD -> %d planck"
              % (su, float(su), cu, float(cu), w, suv, cuv, res, traffic, cost, planck))
        if planck > 0:
            expected.append((n, planck))
            unbilled = 0
        last = r["timestamp"]

    got = [(n, p) for n, _, p in bills]
    print("\nbills: expected (block, planck) %s" % expected)
    print("       on chain (block, planck) %s" % got)
    if len(got) < a.min_bills:
        print("FAIL: only %d bill(s) on chain, wanted at least %d" % (len(got), a.min_bills))
        ok = False
    # Bills the chain could not collect yet (grace period) are not in `got`.
    if [p for _, p in got] != [p for _, p in expected[:len(got)]]:
        print("FAIL: the chain's bills differ from the formulas")
        ok = False
    if got:
        last_bill_block = bills[-1][0]
        h_end = rpc("chain_getBlockHash", [last_bill_block])
        total = sum(p for _, p in got)
        du = free_at(rpc, h_end, a.user) - free_at(rpc, deployed[1], a.user)
        df = free_at(rpc, h_end, a.farmer) - free_at(rpc, deployed[1], a.farmer)
        print("\nbalances from block %d to block %d:" % (deployed[0], last_bill_block))
        print("  user   %s (expected %s)" % (tft(du), tft(-total)))
        print("  farmer %s (expected %s)" % (tft(df), tft(total)))
        if du != -total or df != total:
            print("FAIL: the balances did not move by the recomputed bills")
            ok = False
    print("\n%s" % ("OK: every bill and both balances match the pricing formulas" if ok
                    else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
