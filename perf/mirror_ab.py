# SPDX-License-Identifier: Apache-2.0
"""perf/mirror_ab.py: side by side, two sluiced binaries (OLD, NEW) mirroring
the same backlog. Each run: a 4-shard stream gets N records of 1 KiB (64
partition keys, every other record with an ExplicitHashKey) with the mirror
off; sluiced restarts with --mirror-config towards a second sluiced (same
binary, 4 shards); the time until sluice_mirror_records_sent_total == N and
the mirroring sluiced's utime+stime (/proc/PID/stat) over it are printed.
OLD and NEW alternate ROUNDS times. usage: OLD=a/sluiced NEW=b/sluiced
N=20000 ROUNDS=2 [KEYS=64] /usr/bin/python3 perf/mirror_ab.py"""
import os, sys, time, shutil, tempfile, urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'e2e'))
import sluice_helpers as h
from test_mirror import write_conf

N = int(os.environ.get('N', '20000'))
# partition keys of the backlog: 64 cuts each PutRecords at 64 records (no
# key twice in a batch); a large number (e.g. 1000000) gives full batches of 500
KEYS = int(os.environ.get('KEYS', '64'))
TICK = os.sysconf('SC_CLK_TCK')

def cpu_s(pid):
    f = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK

def sent(srv):
    for l in urllib.request.urlopen('http://%s/metrics' % srv.admin_addr()).read().decode().splitlines():
        if l.startswith('sluice_mirror_records_sent_total'):
            return int(float(l.split()[-1]))
    return 0

def run(binary, label):
    base = tempfile.mkdtemp(prefix='ehkperf')
    args = ['--quota-mode', 'off', '--admin-listen', '127.0.0.1:0', '--request-timeout-ms', '20000',
            '--create-delay-ms', '300']
    up = h.Server(binary, os.path.join(base, 'up'), args)
    up.start()
    uc = up.client()
    h.create_active(uc, 'dst', 4)
    conf = os.path.join(base, 'mirror.conf')
    write_conf(conf, up)
    src = h.Server(binary, os.path.join(base, 'src'), args)
    src.start()
    sc = src.client()
    h.create_active(sc, 'src', 4)
    # the backlog first, mirror off: the run times the mirror alone
    data = b'x' * 1024
    i = 0
    while i < N:
        recs = []
        for j in range(i, i + 500):
            r = {'PartitionKey': 'k%d' % (j % KEYS), 'Data': data}
            if j % 2:
                r['ExplicitHashKey'] = str((j * 2654435761) % (2 ** 128))
            recs.append(r)
        assert sc.put_records(StreamName='src', Records=recs)['FailedRecordCount'] == 0
        i += 500
    src.stop()
    src.args = args + ['--mirror-config', conf]
    src.start()
    pid = src.proc.pid
    c0, t0 = cpu_s(pid), time.monotonic()
    while sent(src) < N:
        time.sleep(0.05)
        if time.monotonic() - t0 > 300:
            raise SystemExit('timeout')
    c1, t1 = cpu_s(pid), time.monotonic()
    src.stop(); up.stop()
    shutil.rmtree(base, ignore_errors=True)
    print('%s: %d records mirrored in %.2f s (%.0f rec/s), mirroring sluiced CPU %.2f s = %.1f us/record, load %s'
          % (label, N, t1 - t0, N / (t1 - t0), c1 - c0, (c1 - c0) * 1e6 / N, open('/proc/loadavg').read().split()[0]), flush=True)

for rnd in range(int(os.environ.get('ROUNDS', '2'))):
    run(os.environ['OLD'], 'old')
    run(os.environ['NEW'], 'new')
