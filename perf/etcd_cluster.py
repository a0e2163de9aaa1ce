#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What the cluster membership and watch (controlplane/cp_cluster.c) cost
and how fast they are, on this machine, with a private etcd on loopback:

  idle CPU   one sluiced with --metadata etcd, idle for --idle-s seconds:
             the server's utime+stime (/proc/PID/stat) per second, old
             binary (no cluster thread) and new, alternated --rounds times;
  lag        two nodes: CreateStream on A until ACTIVE on A, then the
             time until a PutRecord through B is not refused with
             ResourceNotFoundException (B's routing table rebuilt from the
             watch, or - since the miss read - from one etcd read; a
             refusal because A owns the shard counts as routed), --streams
             times; median and max, old and new binary.

  perf/etcd_cluster.py --old OLD/sluiced --new build/sluiced [--rounds 3]"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'e2e'))
import botocore.exceptions  # noqa: E402
import sluice_helpers as h  # noqa: E402
from test_etcd import Etcd  # noqa: E402

BASE = ['--create-delay-ms', '300', '--delete-delay-ms', '300', '--quota-mode', 'off',
        '--log-level', 'warn', '--admin-listen', '127.0.0.1:0']


def cpu_ticks(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def idle_cpu(binary, etcd, tmp, idle_s):
    srv = h.Server(binary, tempfile.mkdtemp(dir=tmp),
                   BASE + ['--metadata', 'etcd=' + etcd.url, '--etcd-cluster', h.uniq('i')])
    srv.start()
    time.sleep(1.0)  # start-up done
    t0, c0 = time.monotonic(), cpu_ticks(srv.proc.pid)
    time.sleep(idle_s)
    t1, c1 = time.monotonic(), cpu_ticks(srv.proc.pid)
    srv.stop()
    hz = os.sysconf('SC_CLK_TCK')
    return (c1 - c0) * 1000.0 / hz / (t1 - t0)  # CPU ms per second


def lag(binary, etcd, tmp, n):
    cluster = h.uniq('l')
    a = h.Server(binary, tempfile.mkdtemp(dir=tmp), BASE + [
        '--metadata', 'etcd=' + etcd.url, '--etcd-cluster', cluster, '--node-id', 'a']).start()
    b = h.Server(binary, tempfile.mkdtemp(dir=tmp), BASE + [
        '--metadata', 'etcd=' + etcd.url, '--etcd-cluster', cluster, '--node-id', 'b']).start()
    ca, cb = a.client(), b.client()
    out = []
    for i in range(n):
        h.create_active(ca, 'lag%d' % i, 1)
        t0 = time.monotonic()
        while True:
            try:
                cb.put_record(StreamName='lag%d' % i, Data=b'x', PartitionKey='k')
                break
            except botocore.exceptions.ClientError as e:
                if e.response['Error']['Code'] == 'InternalFailure' and \
                        'owned by another node' in e.response['Error']['Message']:
                    break  # routed: A owns the shard (no forwarding yet)
                assert time.monotonic() - t0 < 30
        out.append((time.monotonic() - t0) * 1000.0)
    a.stop()
    b.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--old', required=True)
    ap.add_argument('--new', required=True)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--idle-s', type=float, default=20.0)
    ap.add_argument('--streams', type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        etcd = Etcd(os.path.join(tmp, 'etcd'))
        etcd.start()
        try:
            old, new = [], []
            for _ in range(args.rounds):
                old.append(idle_cpu(args.old, etcd, tmp, args.idle_s))
                new.append(idle_cpu(args.new, etcd, tmp, args.idle_s))
            print('idle CPU ms/s  old %s  new %s' % (
                ' '.join('%.2f' % x for x in old), ' '.join('%.2f' % x for x in new)))
            for name, binary in (('old', args.old), ('new', args.new)):
                ms = lag(binary, etcd, tmp, args.streams)
                print('lag A ACTIVE -> B routes, %s (ms, PutRecord round trip included): '
                      'median %.1f max %.1f of %d' % (name, statistics.median(ms), max(ms),
                                                      len(ms)))
        finally:
            etcd.kill()
    print('load average: %s' % open('/proc/loadavg').read().strip())


if __name__ == '__main__':
    main()
