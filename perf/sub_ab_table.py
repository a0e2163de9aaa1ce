# SPDX-License-Identifier: Apache-2.0
# perf/sub_ab_table.py DIR: the table of perf/sub_ab.sh's runs (Markdown):
# per run the producer's rate and ack p99, the consumers' (summed over the
# c*.json of the run) rate, put-to-arrival p50/p99 and MillisBehindLatest
# p99 (worst consumer), sluiced's CPU per produced record and per MB in+out,
# and where reads were served from; then each mode's producer rate beside
# the same binary's s0 run of that rate.
import glob, json, os, sys
base = sys.argv[1]


def metric(path, name):
    try:
        for l in open(path):
            if l.startswith(name):
                return float(l.split()[-1])
    except OSError:
        pass
    return 0.0


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


rows = {}
print('| run | producer rec/s | producer MB/s | producer ack p99 ms | consumers rec/s | '
      'consumers MB/s | put-to-arrival p50 / p99 ms | MillisBehind p99 | '
      'server CPU us per produced record | CPU ms per MB (in+out) | page faults per MB (in+out) | from tail | from disk | load |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
for d in sorted(glob.glob(base + '/*-r*')):
    lab = os.path.basename(d)
    p = load(d + '/p.json')
    if not p:
        continue
    cs = [c for c in (load(f) for f in sorted(glob.glob(d + '/c*.json'))) if c]
    ticks = int(open(d + '/ticks').read())
    try:
        faults = int(open(d + '/faults').read())
    except (OSError, ValueError):
        faults = 0
    ld = open(d + '/load').read().strip()
    mb_in = p['payload_bytes'] / 1e6
    mb_out = sum(c['payload_bytes'] for c in cs) / 1e6
    t = lambda n: metric(d + '/after', n) - metric(d + '/before', n)
    tail = t('sluice_journal_tail_read_records'); disk = t('sluice_journal_disk_read_records')
    cpu_ms = ticks * 1000.0 / os.sysconf('SC_CLK_TCK')
    recs = p.get('records') or 1
    p2g50 = max((c.get('put_to_get_ms', {}).get('p50', 0) for c in cs), default=0)
    p2g99 = max((c.get('put_to_get_ms', {}).get('p99', 0) for c in cs), default=0)
    mbl = max((c.get('millis_behind_latest', {}).get('p99', 0) for c in cs), default=0)
    r = (lab, p['records_per_s'], p['payload_MB_per_s'], p['latency_ms']['p99'],
         sum(c['records_per_s'] for c in cs), sum(c['payload_MB_per_s'] for c in cs),
         p2g50, p2g99, mbl, cpu_ms * 1000.0 / recs, cpu_ms / ((mb_in + mb_out) or 1), faults / ((mb_in + mb_out) or 1),
         int(tail), int(disk), ld)
    rows[lab] = r
    print('| %s | %.0f | %.2f | %.1f | %.0f | %.2f | %.0f / %.0f | %.0f | %.1f | %.2f | %.0f | %d | %d | %s |'
          % r)
print()
for lab, r in sorted(rows.items()):
    b, mode, rnd = lab.split('-')
    at = mode[mode.index('at'):] if 'at' in mode else ''
    s0 = rows.get('%s-s0%s-%s' % (b, at, rnd))
    if s0 and s0 is not r and s0[1]:
        print('%s: producers %.3fx of %s' % (lab, r[1] / s0[1], s0[0]))
