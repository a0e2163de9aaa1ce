#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Table and ratio line for perf/compare.sh.

usage: compare_table.py OUT_DIR COMMAND APPEND(0|1) RESULTS_MD
Reads OUT_DIR/<system>-<size>[-<shards>].json (loadgen --json), storage.txt
and sluiced-threads.txt; prints the table and the last line
`ratio sluice/kinesalite=X sluice/tls-sink=Y cbor/json=Z` (payload MB/s,
500 x 1 KiB, 4 shards); appends to RESULTS_MD.
"""
import datetime
import json
import os
import platform
import subprocess
import sys


def load(out, name):
    try:
        with open(os.path.join(out, name + '.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def machine():
    model = ''
    try:
        for line in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.split('\n'):
            if line.startswith('Model name:'):
                model = line.split(':', 1)[1].strip()
    except OSError:
        pass
    return '%s, %d CPUs, kernel %s' % (model or 'unknown CPU', os.cpu_count(),
                                       platform.release())


def row(label, r, load=''):
    if not r:
        return '| %s | - | - | - | - | - | - | - | %s |' % (label, load)
    lat = r['latency_ms']
    err = r['requests_failed'] + r['records_failed']
    thr = r['requests_throttled'] + r['records_throttled']
    return '| %s | %.0f | %.1f | %.0f | %.1f | %.1f | %.1f | %d / %d | %s |' % (
        label, r['records_per_s'], r['payload_MB_per_s'], r['requests_per_s'],
        lat['p50'], lat['p99'], lat['max'], err, thr, load)


def loadavg(out, name):
    try:
        with open(os.path.join(out, name + '.load')) as f:
            return f.read().strip()
    except OSError:
        return ''


def named_row(out, label, name):
    return row(label, load(out, name), loadavg(out, name))


def ratio(a, b):
    if not a or not b or b['payload_MB_per_s'] <= 0:
        return 'n/a'
    return '%.2f' % (a['payload_MB_per_s'] / b['payload_MB_per_s'])


def main():
    out, cmd, append, results = sys.argv[1], sys.argv[2], sys.argv[3] == '1', sys.argv[4]
    lines = ['| run | records/s | payload MB/s | requests/s | p50 ms | p99 ms | max ms '
             '| errors / throttled | load avg |', '|---|---|---|---|---|---|---|---|---|']
    for size in ('1KiB', '100B'):
        for n in ('4', '10000'):
            lines.append(named_row(out, 'sluice %s x500, %s shards' % (size, n),
                                   'sluice-%s-%s' % (size, n)))
        lines.append(named_row(out, 'sluice CBOR %s x500, 4 shards' % size,
                               'sluice-cbor-%s-4' % size))
        for n in ('4', '10000'):
            lines.append(named_row(out, 'kinesalite %s x500, %s shards' % (size, n),
                                   'kinesalite-%s-%s' % (size, n)))
        lines.append(named_row(out, 'tls-sink %s x500' % size, 'tls-sink-%s' % size))
    storage = []
    try:
        with open(os.path.join(out, 'storage.txt')) as f:
            storage = [ln.strip() for ln in f if ln.startswith('storage_limit')]
    except OSError:
        pass
    threads = ''
    try:
        with open(os.path.join(out, 'sluiced-threads.txt')) as f:
            threads = ', '.join(ln.strip() for ln in f if ln.strip())
    except OSError:
        pass
    s, k, t = load(out, 'sluice-1KiB-4'), load(out, 'kinesalite-1KiB-4'), load(out, 'tls-sink-1KiB')
    c = load(out, 'sluice-cbor-1KiB-4')
    ratio_line = 'ratio sluice/kinesalite=%s sluice/tls-sink=%s cbor/json=%s' % (
        ratio(s, k), ratio(s, t), ratio(c, s))
    print('\n'.join(lines))
    for ln in storage:
        print(ln)
    print(ratio_line)
    if not append:
        return
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    with open(results, 'a') as f:
        f.write('\n## %s\n\n' % date)
        f.write('- command: `%s`\n' % cmd)
        f.write('- machine: %s\n' % machine())
        f.write('- raw results: `perf/out/%s/` (not committed)\n\n' % os.path.basename(out))
        f.write('\n'.join(lines) + '\n\n')
        for ln in storage:
            f.write('- %s\n' % ln)
        if threads:
            f.write('- sluiced CPU by thread over all sluice runs (clock ticks): %s\n' % threads)
        f.write('\n`%s`\n' % ratio_line)


if __name__ == '__main__':
    main()
