#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Table of perf/compare.sh --reads: for the tail on and off, producers
alone, with 1 and 8 GetRecords consumers at the tip, and with 1 and 5
SubscribeToShard consumers per shard (enhanced fan-out).

usage: compare_reads.py OUT_DIR COMMAND APPEND(0|1) RESULTS.md CLK_TCK"""

import datetime
import glob
import json
import os
import platform
import re
import sys

out, cmd, append, results, hz = sys.argv[1], sys.argv[2], sys.argv[3] == '1', sys.argv[4], \
    float(sys.argv[5])


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def counters(path):
    """{metric name: sum over lcores} of a /metrics excerpt."""
    got = {}
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r'^([a-z_]+)\{[^}]*\} (\S+)$', line.strip())
                if m:
                    got[m.group(1)] = got.get(m.group(1), 0.0) + float(m.group(2))
    except OSError:
        pass
    return got


rows = []
base = {}
for tail in ('on', 'off'):
    for kind, nc in (('g', 0), ('g', 1), ('g', 8), ('s', 1), ('s', 5)):
        name = 'reads-%s-%s%d' % (tail, kind, nc)
        who = '%d SubscribeToShard per shard' % nc if kind == 's' else \
            '%d GetRecords' % nc if nc else 'none'
        p = load(os.path.join(out, name + '-p.json'))
        cs = [x for x in (load(f) for f in sorted(glob.glob(os.path.join(out, name + '-c*.json'))))
              if x]
        try:
            with open(os.path.join(out, name + '.ticks')) as f:
                cpu_s = int(f.read()) / hz
        except (OSError, ValueError):
            cpu_s = None
        b, a = counters(os.path.join(out, name + '.before')), counters(
            os.path.join(out, name + '.after'))

        def d(k):
            return a.get(k, 0.0) - b.get(k, 0.0)
        if p is None:
            rows.append('| %s | %s | (producer run missing) |' % (tail, who))
            continue
        if nc == 0:
            base[tail] = p['records_per_s']
        ratio = p['records_per_s'] / base[tail] if base.get(tail) else 0.0
        c_rec = sum(c['records_per_s'] for c in cs)
        c_mb = sum(c['payload_MB_per_s'] for c in cs)
        p2g = max((c.get('put_to_get_ms', {}).get('p99', 0.0) for c in cs), default=0.0)
        p2g50 = max((c.get('put_to_get_ms', {}).get('p50', 0.0) for c in cs), default=0.0)
        mbl = max((c.get('millis_behind_latest', {}).get('p99', 0.0) for c in cs), default=0.0)
        in_mb = p['payload_MB_per_s'] * p['elapsed_s']
        cpu_mb = '%.1f' % (1000.0 * cpu_s / (in_mb + c_mb * (p['elapsed_s']))) \
            if cpu_s and in_mb else ''
        rows.append('| %s | %s | %.0f | %.1f | %.3f | %.0f | %.1f | %.0f / %.0f | %.0f | %s | '
                    '%.0f | %.0f | %.0f |' % (
                        tail, who, p['records_per_s'], p['payload_MB_per_s'], ratio, c_rec, c_mb,
                        p2g50, p2g, mbl, cpu_mb,
                        d('sluice_journal_tail_read_records_total'),
                        d('sluice_journal_disk_read_records_total'),
                        d('sluice_journal_disk_read_chunks_total')))

head = ('| tail | consumers | producer records/s | producer MB/s | vs no consumers | '
        'consumers records/s (sum) | consumers MB/s (sum) | put-to-get ms p50 / p99 | '
        'MillisBehindLatest p99 | sluiced CPU ms per MB (in + out) | records from tail | '
        'records from disk | chunks read |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|')
text = '\n'.join([head] + rows)
print(text)
if append:
    with open(results, 'a') as f:
        f.write('\n## Read path: %s\n\n' % datetime.datetime.now(datetime.timezone.utc)
                .strftime('%Y-%m-%d %H:%M UTC'))
        f.write('`%s`\n\n' % cmd)
        f.write(text + '\n\n')
        f.write('- machine: %s, %d CPUs, kernel %s; 1-minute load average at the end of '
                'the producer runs: %s\n' % (
                    platform.machine(), os.cpu_count() or 0, platform.release(),
                    ', '.join(open(x).read().strip() for x in
                              sorted(glob.glob(os.path.join(out, 'reads-*-p.load'))))))
