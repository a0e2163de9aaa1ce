# SPDX-License-Identifier: Apache-2.0
"""perf/put_ab.py: the PutRecords hot path of two sluiced binaries side by
side: one node (SQLite), a 4-shard stream, loadgen 500 x 1 KiB, 4
connections x 2 in flight, DUR seconds; the server's utime+stime
(/proc/PID/stat) per record. OLD and NEW alternate ROUNDS times.
usage: OLD=a/sluiced NEW=b/sluiced [DUR=8 ROUNDS=2] /usr/bin/python3 perf/put_ab.py
(loadgen from build/perf/loadgen, or LOADGEN=...)"""
import json, os, subprocess, sys, tempfile
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'e2e'))
import sluice_helpers as h  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')
LG = os.environ.get('LOADGEN', os.path.join(HERE, '..', 'build', 'perf', 'loadgen'))
DUR = int(os.environ.get('DUR', '8'))


def cpu_s(pid):
    f = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def run(binary, tmp):
    srv = h.Server(os.path.abspath(binary), tempfile.mkdtemp(dir=tmp),
                   ['--quota-mode', 'off', '--create-delay-ms', '0', '--log-level', 'warn'])
    srv.start()
    c = srv.client()
    c.create_stream(StreamName='s', ShardCount=4)
    h.wait_status(c, 's', 'ACTIVE')
    out = os.path.join(tmp, 'lg.json')
    c0 = cpu_s(srv.proc.pid)
    subprocess.run([LG, '--endpoint', srv.endpoint, '--ca', srv.ca, '--credentials',
                    srv.creds_file, '--stream', 's', '--batch', '500', '--record-bytes', '1024',
                    '--connections', '4', '--inflight', '2', '--duration', str(DUR), '--quiet',
                    '--json', out], check=True, capture_output=True)
    c1 = cpu_s(srv.proc.pid)
    srv.stop()
    return json.load(open(out))['records'], c1 - c0


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(int(os.environ.get('ROUNDS', '2'))):
            for name in ('OLD', 'NEW'):
                recs, cs = run(os.environ[name], tmp)
                print('%s records/s %.0f  cpu_s %.2f  us/record %.2f  load %s' % (
                    name.lower(), recs / DUR, cs, cs * 1e6 / max(recs, 1),
                    open('/proc/loadavg').read().split()[0]), flush=True)


if __name__ == '__main__':
    main()
