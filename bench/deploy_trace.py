#!/usr/bin/env python3
"""Latency breakdown of a traced bench_deploy.sh run.

    TRACE_DIR=DIR BUILD=build bench/bench_deploy.sh 8,64 10
    bench/deploy_trace.py DIR [--slowest N]

DIR holds deploys.csv (bench_deploy --trace: one line per deploy with the
bench's own wall-clock times), chain.log (tfchain-dev at info: when each
block was sealed and how long it took) and agent.log (zos-agent at debug:
when each contract was accepted and provisioned, and which submission
carried its set_contract_deployed). Times are joined by the wall clock of
this one machine. Per level it prints the median, p90 and p99 of each stage
of a deploy, in ms:

  seal      start -> create_node_contract handed to the user's submitter
  to b1     -> block b1 (the one including it) sealed by the chain
  b1 seen   -> the bench's watcher read block b1 (its poll, the RPC)
  learned   -> the user's submitter gave the outcome (fed by the watcher)
  accept    -> the agent logged "accepted" (RMB, contract read, commit)
  provision -> the agent logged "provisioned"
  to send   -> set_contract_deployed submitted (outbox, batch window)
  to b2     -> block b2 (the one including it) sealed
  b2 seen   -> the watcher read block b2 (the deploy's end)

and how many blocks each deploy took: b1 - (the last block sealed before
it started) and b2 - b1, with the share of deploys whose b2 - b1 was more
than one block and which stage made them miss the next block.
"""
import csv
import os
import re
import statistics
import sys
from datetime import datetime, timezone

TS = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ')


def wall_ms(line):
    m = TS.match(line)
    if not m:
        return None
    dt = datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S.%f').replace(tzinfo=timezone.utc)
    return dt.timestamp() * 1000.0


def pct(v, p):
    if not v:
        return float('nan')
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def main():
    args = sys.argv[1:]
    slowest = 0
    if '--slowest' in args:
        i = args.index('--slowest')
        slowest = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    d = args[0]
    sealed, built = {}, {}
    late = []
    blk = re.compile(r'devchain: block (\d+): (\d+) extrinsics.*built in ([\d.]+) ms')
    slot = re.compile(r'block slot started (\d+) ms late')
    with open(os.path.join(d, 'chain.log'), errors='replace') as f:
        for line in f:
            m = blk.search(line)
            if m:
                sealed[int(m.group(1))] = wall_ms(line)
                built[int(m.group(1))] = (int(m.group(2)), float(m.group(3)))
            m = slot.search(line)
            if m:
                late.append(int(m.group(1)))
    accepted, provisioned, sent, batch = {}, {}, {}, {}
    acc = re.compile(r'engine: contract (\d+) accepted')
    prov = re.compile(r'engine: contract (\d+): deploying -> deployed')
    snd = re.compile(r'set_contract_deployed: (\d+) call\(s\) sent with nonce \d+, '
                     r'queued (\d+)\.\.(\d+) ms ago: (.*)$')
    with open(os.path.join(d, 'agent.log'), errors='replace') as f:
        for line in f:
            m = acc.search(line)
            if m:
                accepted[int(m.group(1))] = wall_ms(line)
                continue
            m = prov.search(line)
            if m:
                provisioned[int(m.group(1))] = wall_ms(line)
                continue
            m = snd.search(line)
            if m:
                t = wall_ms(line)
                for c in m.group(4).split():
                    try:
                        sent[int(c)] = t
                        batch[int(c)] = int(m.group(1))
                    except ValueError:
                        pass
    rows = list(csv.DictReader(open(os.path.join(d, 'deploys.csv'))))
    seal_times = sorted((t, n) for n, t in sealed.items())
    import bisect
    keys = [t for t, _ in seal_times]

    def block_before(t):
        i = bisect.bisect_right(keys, t) - 1
        return seal_times[i][1] if i >= 0 else None

    stages = ['seal', 'to b1', 'b1 seen', 'learned', 'accept', 'provision', 'to send',
              'to b2', 'b2 seen']
    levels = {}
    for r in rows:
        lv = int(r['level'])
        cid = int(r['contract'])
        b1, b2 = int(r['b1']), int(r['b2'])
        if b1 not in sealed or b2 not in sealed or cid not in sent:
            continue
        p = [float(r['start']), float(r['submit']), sealed[b1], float(r['b1_seen']),
             float(r['created_seen']), accepted.get(cid), provisioned.get(cid), sent[cid],
             sealed[b2], float(r['b2_seen'])]
        if None in p:
            continue
        d_ = [p[i + 1] - p[i] for i in range(len(p) - 1)]
        b0 = block_before(float(r['start']))
        levels.setdefault(lv, []).append({
            'cid': cid, 'd': d_, 'total': p[-1] - p[0], 'b1': b1 - (b0 or b1), 'b2': b2 - b1,
            'p': p, 'batch': batch.get(cid, 0), 'b1n': b1, 'b2n': b2,
            'slack': sealed.get(b1 + 1, 0) - sent[cid]})
    if rows and not levels:
        print('no deploy could be joined with the logs: the agent must log at debug (each '
              'submission\'s contract ids) and the chain at info (TRACE_DIR does both)',
              file=sys.stderr)
        return 1
    for lv in sorted(levels):
        v = levels[lv]
        print(f'level {lv} users: {len(v)} deploys traced')
        print(f'  {"stage":<10} {"p50":>7} {"p90":>7} {"p99":>7} {"max":>7}  (ms)')
        for i, s in enumerate(stages):
            x = [e['d'][i] for e in v]
            print(f'  {s:<10} {pct(x, .5):7.1f} {pct(x, .9):7.1f} {pct(x, .99):7.1f} '
                  f'{max(x):7.1f}')
        x = [e['total'] for e in v]
        print(f'  {"total":<10} {pct(x, .5):7.1f} {pct(x, .9):7.1f} {pct(x, .99):7.1f} '
              f'{max(x):7.1f}')
        for k, name in (('b1', 'blocks to b1 (start to create included)'),
                        ('b2', 'blocks b1 -> b2 (the agent\'s part)')):
            hist = {}
            for e in v:
                hist[e[k]] = hist.get(e[k], 0) + 1
            print(f'  {name}: ' + ', '.join(f'{b}: {hist[b]} ({100.0 * hist[b] / len(v):.1f}%)'
                                             for b in sorted(hist)))
        miss = [e for e in v if e['b2'] > 1]
        if miss:
            # Sent after block b1 + 1 was sealed: which stage ran past it.
            print(f'  missed b1 + 1: {len(miss)}; median stage times of those (ms): ' +
                  ', '.join(f'{s} {statistics.median(e["d"][i] for e in miss):.1f}'
                            for i, s in enumerate(stages)))
        # The chain's side: sent before the slot of b1 + 1 began (its seal
        # time less its build time) and still not in it.
        early = [e for e in miss if e['b1n'] + 1 in built and
                 e['p'][7] < sealed[e['b1n'] + 1] - built[e['b1n'] + 1][1] - 5]
        if miss:
            print(f'  of those, sent over 5 ms before the slot of b1 + 1 began (the chain\'s '
                  f'miss): {len(early)}')
        x = [e['slack'] for e in v if e['b2'] == 1]
        if x:
            print(f'  sent before b1 + 1 was sealed by (ms): p50 {pct(x, .5):.1f}, '
                  f'p10 {pct(x, .1):.1f}, p1 {pct(x, .01):.1f}')
        if slowest:
            print(f'  the {slowest} slowest (ms from start: ' + ', '.join(
                ['submit', 'b1 sealed', 'b1 seen', 'learned', 'accepted', 'provisioned',
                 'sent', 'b2 sealed', 'b2 seen']) + '):')
            for e in sorted(v, key=lambda e: -e['total'])[:slowest]:
                rel = ' '.join(f'{t - e["p"][0]:.0f}' for t in e['p'][1:])
                print(f'    contract {e["cid"]} b1 {e["b1n"]} b2 {e["b2n"]} batch of '
                      f'{e["batch"]}: {rel}')
    if built:
        n = [b[0] for b in built.values()]
        t = [b[1] for b in built.values()]
        print(f'chain: {len(built)} blocks, extrinsics per block p50 {pct(n, .5)} max {max(n)}, '
              f'build ms p50 {pct(t, .5):.1f} p99 {pct(t, .99):.1f} max {max(t):.1f}; '
              f'{len(late)} slots started >= 10 ms late' +
              (f' (max {max(late)} ms)' if late else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
