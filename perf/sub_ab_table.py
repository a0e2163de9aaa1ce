# SPDX-License-Identifier: Apache-2.0
# perf/sub_ab_table.py DIR: the table of perf/sub_ab.sh's runs (Markdown).
import json, os, re, sys, glob
base = sys.argv[1]
rows = []
def metric(path, name):
    try:
        for l in open(path):
            if l.startswith(name):
                return float(l.split()[-1])
    except OSError:
        pass
    return 0.0
for d in sorted(glob.glob(base + '/*-r*')):
    lab = os.path.basename(d)
    try:
        p = json.load(open(d + '/p.json'))
    except Exception:
        continue
    c = None
    if os.path.exists(d + '/c.json'):
        try: c = json.load(open(d + '/c.json'))
        except Exception: c = None
    ticks = int(open(d + '/ticks').read())
    load = open(d + '/load').read().strip()
    mb_in = p['payload_bytes'] / 1e6
    mb_out = c['payload_bytes'] / 1e6 if c else 0
    t = lambda n: metric(d + '/after', n) - metric(d + '/before', n)
    tail = t('sluice_journal_tail_read_records'); disk = t('sluice_journal_disk_read_records')
    cpu_ms = ticks * 10
    p2g = c['put_to_get_ms'] if c else {}
    mbl = c['millis_behind_latest'] if c else {}
    rows.append((lab, p['records_per_s'], p['payload_MB_per_s'], c['records_per_s'] if c else 0,
                 c['payload_MB_per_s'] if c else 0, cpu_ms / (mb_in + mb_out), int(tail), int(disk),
                 p2g.get('p50', 0), p2g.get('p99', 0), mbl.get('p99', 0), load))
print('| run | producer rec/s | producer MB/s | consumers rec/s | consumers MB/s | server CPU ms per MB (in+out) | from tail | from disk | put-to-get p50/p99 ms | MillisBehind p99 | load |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
for r in rows:
    print('| %s | %.0f | %.1f | %.0f | %.1f | %.2f | %d | %d | %.0f / %.0f | %.0f | %s |' % r)
print()
byk = {}
for r in rows:
    byk[r[0]] = r
for d in sorted(glob.glob(base + '/*-s5-r*')):
    lab = os.path.basename(d)
    b, _, rnd = lab.split('-')
    s0 = byk.get('%s-s0-%s' % (b, rnd)); s5 = byk.get(lab)
    if not s0 or not s5:
        continue
    p = json.load(open(d + '/p.json')); c = json.load(open(d + '/c.json'))
    ticks = int(open(d + '/ticks').read())
    mb_in, mb_out = p['payload_bytes'] / 1e6, c['payload_bytes'] / 1e6
    in_cost = s0[5]
    out_cost = (ticks * 10 - in_cost * mb_in) / mb_out
    print('%s: producers %.2fx of no-consumer run; out cost %.2f ms/MB (in %.2f ms/MB)' % (lab, s5[1] / s0[1], out_cost, in_cost))
