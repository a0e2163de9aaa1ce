# SPDX-License-Identifier: Apache-2.0
"""perf/loadgen's open loop (--rate) against a real sluiced: it reports its
schedule (requests due, sent, the send lag from the intended time) and says
when it fell behind, so a latency table never passes off the generator's own
queue as the server's; --auto-conns opens enough connections for the rate
(Little's law). Behind or not is decided by slot counts, not by timing: one
connection with one request in flight cannot send a million requests a
second, whatever the machine."""

import json
import os
import subprocess

import pytest

import sluice_helpers as h

pytestmark = pytest.mark.kernel_only('loadgen connects over loopback TCP')

LOADGEN = os.path.join(os.path.dirname(os.path.abspath(h.default_binary())), 'perf', 'loadgen')


@pytest.fixture
def stream(kinesis):
    name = h.uniq('lgopen')
    h.create_active(kinesis, name, 1)
    return name


def run(server, stream, out, *extra):
    cmd = [LOADGEN, '--endpoint', server.endpoint, '--ca', server.ca,
           '--credentials', server.creds_file, '--stream', stream, '--batch', '1',
           '--record-bytes', '64', '--pool', '4', '--json', str(out), '--quiet'] + list(extra)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                       text=True)
    assert p.returncode == 0, (p.stdout, p.stderr)
    return json.load(open(out)), p.stdout, p.stderr


def test_open_loop_says_it_fell_behind(server, stream, tmp_path):
    r, so, se = run(server, stream, tmp_path / 'behind.json', '--rate', '1000000',
                    '--duration', '1', '--connections', '1', '--inflight', '1')
    s = r['schedule']
    # ~1,000,000 ticks due in 1 s, at most one request at a time in flight
    assert s['due'] >= 900000
    assert 0 < s['sent'] < s['due'] // 10
    assert s['sent'] == r['requests'] + r['requests_failed'] + r['requests_throttled']
    assert s['fell_behind'] is True
    assert s['slot_waits'] >= 1
    assert s['send_lag_ms']['max'] >= s['send_lag_ms']['p50'] >= 0
    assert 'FELL BEHIND' in so
    assert 'fell behind the schedule' in se
    # latency is counted from the intended send time: it includes the wait
    # for the one slot, so it is at least the median send lag
    assert r['latency_ms']['p99'] >= s['send_lag_ms']['p50']


def test_auto_conns_sizes_connections_for_the_rate(server, stream, tmp_path):
    # 20 requests/s x 1000 ms / 1 in flight each: 20 connections
    r, so, _ = run(server, stream, tmp_path / 'auto.json', '--rate', '20', '--duration', '1',
                   '--connections', '2', '--inflight', '1', '--auto-conns', '1000')
    assert r['connections'] == 20
    s = r['schedule']
    assert s['due'] == 20
    assert s['sent'] <= s['due']
    assert s['sent'] == r['requests'] + r['requests_failed'] + r['requests_throttled']
    assert r['requests_failed'] == 0
    # never fewer than asked for
    r, _, _ = run(server, stream, tmp_path / 'auto2.json', '--rate', '20', '--duration', '1',
                  '--connections', '3', '--inflight', '1', '--auto-conns', '10')
    assert r['connections'] == 3


def test_closed_loop_has_no_schedule(server, stream, tmp_path):
    r, so, _ = run(server, stream, tmp_path / 'closed.json', '--records', '20',
                   '--connections', '1', '--inflight', '1')
    assert 'schedule' not in r
    assert 'schedule' not in so
    assert r['records'] == 20


def test_auto_conns_rejects_nonsense(server, stream, tmp_path):
    for bad in ('-1', '100000', 'nan'):
        p = subprocess.run([LOADGEN, '--endpoint', server.endpoint, '--stream', stream,
                            '--rate', '10', '--auto-conns', bad], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, text=True)
        assert p.returncode == 2, (bad, p.stderr)
