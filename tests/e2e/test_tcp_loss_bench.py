# SPDX-License-Identifier: Apache-2.0
"""Smoke of perf/tcp_loss.sh (the kernel vs DPDK goodput benchmark under
loss, issue #15 item 3): its set-up and tear-down and its table, at one
loss rate and one fault condition (duplication: the DPDK fault stage after a
restart, nftables for the kernel), with 1 s cells. DPDK suite only
(SLUICE_TRANSPORT=dpdk: root, network namespaces, af_packet); 20-45 s on
a 2-vCPU VM shared with other jobs, about 60 s against the ASan build. The
numbers are not checked (a benchmark on a shared machine), only that every
cell ran, its figures parse and every record read back was intact.

The script makes its own two namespaces (sl-tl-PID-srv/-cli) from wherever
it runs, here pytest's client namespace, and must leave none behind."""

import os
import re
import subprocess
import time

import pytest

import sluice_helpers as h

DPDK_ONLY = [pytest.mark.dpdk,
             pytest.mark.skipif(not h.DPDK, reason='DPDK transport only (SLUICE_TRANSPORT=dpdk, '
                                'as tests/run.sh suite e2e-dpdk runs it)')]

SCRIPT = os.path.join(h.REPO, 'perf', 'tcp_loss.sh')
ROW = re.compile(r'^\| (PutRecords|GetRecords) \| ([^|]+) \| ([0-9.]+|n/a) \| ([0-9.]+|n/a) \| '
                 r'([0-9.]+x|-) \| (.*) \|$')


def namespaces():
    p = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, timeout=30)
    return [ln.split()[0] for ln in p.stdout.splitlines() if ln.strip()]


@DPDK_ONLY[0]
@DPDK_ONLY[1]
def test_tcp_loss_quick_smoke(tmp_path):
    build = os.path.dirname(os.path.abspath(h.default_binary()))
    assert os.access(os.path.join(build, 'perf', 'loadgen'), os.X_OK), \
        'perf/loadgen is built with sluiced (%s)' % build
    out = tmp_path / 'out'
    proc = subprocess.Popen(['bash', SCRIPT, '--cell-s', '1', '--loss', '2', '--faults', 'dup',
                             '--read-mb', '2', '--no-append', '--build', build,
                             '--out', str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            # SIGTERM first: the script's trap removes its namespaces
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stdout[-4000:] + stderr[-4000:]
    left = [n for n in namespaces() if n.startswith('sl-tl-%d-' % proc.pid)]
    assert not left, 'namespaces left behind: %s' % left

    rows = {}
    for line in stdout.splitlines():
        m = ROW.match(line)
        if m:
            rows[(m.group(1), m.group(2).strip())] = m.groups()[2:]
    want = [(w, c) for w in ('PutRecords', 'GetRecords')
            for c in ('2% loss', '2% duplicated')]
    assert sorted(rows) == sorted(want), stdout
    for w in ('PutRecords', 'GetRecords'):
        kern, dpdk, ratio, integ = rows[(w, '2% loss')]
        assert float(kern) > 0 and float(dpdk) > 0, rows[(w, '2% loss')]
        # the ratio is of the unrounded figures: close to the printed ones
        want = float(dpdk) / float(kern)
        assert abs(float(ratio[:-1]) - want) <= 0.01 + 0.05 * want, rows[(w, '2% loss')]
        assert re.fullmatch(r'kernel OK \d+/\d+.*; DPDK OK \d+/\d+.*', integ), integ
        # duplication: the fault stage for DPDK, nftables (or netem) for the kernel
        kern, dpdk, ratio, integ = rows[(w, '2% duplicated')]
        assert float(kern) > 0 and float(dpdk) > 0, rows[(w, '2% duplicated')]
        assert re.fullmatch(r'kernel OK \d+/\d+.*; DPDK OK \d+/\d+.*', integ), integ
    assert stdout.rstrip().endswith('integrity: all OK'), stdout[-2000:]
    # the servers' timeouts and probes per GetRecords cell, both stacks
    for mode in ('kernel', 'dpdk'):
        assert re.search(r'^- %s 2%% loss: rto \d+, tlp \d+' % mode, stdout, re.M), stdout[-2000:]
    # nftables did drop segments in both runs (the loss was on the wire)
    m = re.search(r'dpdk 2pct (\d+), kernel 2pct (\d+)', stdout)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) > 0, stdout[-2000:]
    if 'no netem' in stdout:
        m = re.search(r'duplicated by nftables \(kernel, put \+ get cells\): dup (\d+)', stdout)
        assert m and int(m.group(1)) > 0, stdout[-2000:]
    # every cell's JSON is there, and the servers' logs
    for f in ('kernel-2pct-put.json', 'kernel-2pct-get.json', 'kernel-2pct-back.json',
              'dpdk-2pct-put.json', 'dpdk-dup-get.json', 'kernel-dup-get.json', 'kernel.log', 'dpdk.log'):
        assert (out / f).exists(), f
    assert 'test fault stage ON' in (out / 'dpdk.log').read_text()


def dead_pid():
    p = subprocess.Popen(['true'])
    p.wait()
    return p.pid


@pytest.mark.kernel_only(reason='makes namespaces of its own; the DPDK suite runs the smoke')
@pytest.mark.skipif(os.geteuid() != 0, reason='root only (network namespaces)')
def test_tcp_loss_sweeps_what_killed_runs_left(tmp_path):
    """A run killed -9 never runs its EXIT trap: its sl-tl-PID-* namespaces
    (with a sluiced still in them) and its /tmp/sl-tl.PID.* data stay. The
    next run (here --sweep, the same first step) removes those whose run is
    gone, killing what runs in them, and keeps a live run's and any other
    name."""
    gone = dead_pid()
    # a live "run": a process with tcp_loss.sh on its command line
    live = subprocess.Popen(['bash', '-c', 'sleep 120; :', 'tcp_loss.sh'])
    stale = ['sl-tl-%d-srv' % gone, 'sl-tl-%d-cli' % gone]
    kept = ['sl-tl-%d-srv' % live.pid, 'sl-tl-x-%d' % gone]
    data_stale = '/tmp/sl-tl.%d.t%s' % (gone, tmp_path.name[-6:])
    data_live = '/tmp/sl-tl.%d.t%s' % (live.pid, tmp_path.name[-6:])
    inside = None
    try:
        for ns in stale + kept:
            p = subprocess.run(['ip', 'netns', 'add', ns], capture_output=True, text=True,
                               timeout=30)
            if p.returncode != 0 and ns == stale[0]:
                pytest.skip('cannot make a network namespace here: ' + p.stderr.strip())
            assert p.returncode == 0, p.stderr
        for d in (data_stale, data_live):
            os.makedirs(d)
        # what a killed run leaves running in its namespace
        inside = subprocess.Popen(['ip', 'netns', 'exec', stale[0], 'sleep', '120'])
        deadline = time.monotonic() + 10
        while not subprocess.run(['ip', 'netns', 'pids', stale[0]], capture_output=True,
                                 text=True, timeout=30).stdout.strip():
            assert time.monotonic() < deadline, 'sleep never ran in ' + stale[0]
            time.sleep(0.05)
        p = subprocess.run(['bash', SCRIPT, '--sweep'], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        left = namespaces()
        assert not [n for n in stale if n in left], (left, p.stderr)
        assert all(n in left for n in kept), (left, p.stderr)
        assert not os.path.exists(data_stale) and os.path.isdir(data_live), p.stderr
        assert inside.wait(10) != 0  # killed with its namespace
    finally:
        for ns in stale + kept:
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True, timeout=30)
        for d in (data_stale, data_live):
            subprocess.run(['rm', '-rf', d], timeout=30)
        live.kill()
        live.wait()
        if inside and inside.poll() is None:
            inside.kill()
            inside.wait()
