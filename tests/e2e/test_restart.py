# SPDX-License-Identifier: Apache-2.0
"""Restarts and shutdown: metadata survives a restart of a separate server
with the same data dir, and SIGTERM answers what is in flight before exit."""

import os
import re
import shutil
import signal
import time

import pytest

import sluice_helpers as h


def read(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.mark.smoke
def test_streams_survive_restart(server_factory):
    srv = server_factory()
    c = srv.client()
    h.create_active(c, 'keep', 3)
    c.increase_stream_retention_period(StreamName='keep', RetentionPeriodHours=48)
    h.create_active(c, 'drop', 1)
    c.delete_stream(StreamName='drop')
    h.wait_gone(c, 'drop')
    before = c.describe_stream(StreamName='keep')['StreamDescription']
    creds, ca = read(srv.creds_file), read(srv.ca)
    port1 = srv.port

    assert srv.stop() == 0, srv.log_tail()
    srv.start()
    assert read(srv.creds_file) == creds, 'credentials regenerated on restart'
    assert read(srv.ca) == ca, 'CA regenerated on restart'
    c = srv.client()
    after = c.describe_stream(StreamName='keep')['StreamDescription']
    for k in ['StreamName', 'StreamARN', 'StreamStatus', 'Shards', 'RetentionPeriodHours',
              'StreamCreationTimestamp', 'StreamModeDetails']:
        assert after[k] == before[k], (k, before[k], after[k])
    assert after['StreamStatus'] == 'ACTIVE'
    assert c.list_streams()['StreamNames'] == ['keep']
    assert port1 > 0
    # The restarted server is fully usable.
    h.create_active(c, 'more', 2)
    assert c.list_streams()['StreamNames'] == ['keep', 'more']


def test_lifecycle_in_progress_survives_restart(server_factory):
    srv = server_factory(extra_args=['--create-delay-ms', '1500', '--delete-delay-ms', '1500'])
    c = srv.client()
    h.create_active(c, 'old', 1)
    c.create_stream(StreamName='new', ShardCount=2)
    c.delete_stream(StreamName='old')
    assert c.describe_stream_summary(StreamName='new')[
        'StreamDescriptionSummary']['StreamStatus'] == 'CREATING'
    assert srv.stop() == 0, srv.log_tail()
    srv.start()
    c = srv.client()
    # An acknowledged CreateStream / DeleteStream is never lost: they finish.
    s = h.wait_status(c, 'new', 'ACTIVE', timeout_s=10)
    assert s['OpenShardCount'] == 2
    h.wait_gone(c, 'old', timeout_s=10)
    assert c.list_streams()['StreamNames'] == ['new']


@pytest.mark.smoke
def test_sigterm_answers_request_in_flight(server_factory):
    srv = server_factory()
    req = srv.request_bytes('CreateStream', {'StreamName': 'inflight', 'ShardCount': 1})
    cut = len(req) - 10
    conn = srv.connect()
    try:
        conn.send(req[:cut])
        time.sleep(0.3)
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        conn.send(req[cut:])
        r = conn.read_response(timeout=10)
        assert r.status == 200, r
    finally:
        conn.close()
    try:
        rc = srv.proc.wait(timeout=10)
    except Exception:
        rc = srv.stop(1, signal.SIGKILL)
        raise AssertionError('sluiced still running 10 s after SIGTERM')
    srv.proc = None
    assert rc == 0, srv.log_tail()
    # What was acknowledged was kept.
    srv.start()
    c = srv.client()
    assert 'inflight' in c.list_streams()['StreamNames']


def test_sigint_is_graceful_too(server_factory):
    srv = server_factory()
    srv.client().list_streams()
    assert srv.stop(10, signal.SIGINT) == 0, srv.log_tail()


def _synced_after_rename(trace_text, dir_path, name):
    """True when the trace renames something onto dir_path/name and the next
    fsync of that process is of a descriptor open on dir_path (strace -y
    prints fd<path>): the rename is made durable before anything else."""
    lines = trace_text.splitlines()
    dst = re.compile(r'rename(at2?)?\(.*"(%s/)?%s"' % (re.escape(dir_path), re.escape(name)))
    sync = re.compile(r'fsync\(\d+<%s>[) ]' % re.escape(dir_path))  # ' ': <unfinished ...
    for i, ln in enumerate(lines):
        if dst.search(ln) and ln.rstrip().endswith('= 0'):
            pid = ln.split()[0]
            nxt = [x for x in lines[i + 1:] if x.split()[0] == pid and ' fsync(' in x]
            return bool(nxt) and bool(sync.search(nxt[0]))
    raise AssertionError('no rename onto %s/%s in the trace:\n%s' % (dir_path, name, trace_text))


@pytest.mark.kernel_only('runs sluiced under strace')
def test_startup_files_rename_then_directory_fsync(server_factory, tmp_path):
    """The iterator key and the address file are published like every other
    file: written, fsynced, renamed, and the directory fsynced, so the
    rename survives a power loss (it used to skip the directory fsync)."""
    if not shutil.which('strace'):
        pytest.skip('strace is not installed')
    srv = server_factory(start=False)
    trace = str(tmp_path / 'trace.txt')
    plain = srv.command
    # LeakSanitizer cannot run under ptrace (an ASan build would abort at
    # exit): leak checking is off for this one traced process only.
    asan = os.environ.get('ASAN_OPTIONS', '')
    no_lsan = ['env', 'ASAN_OPTIONS=%s%sdetect_leaks=0' % (asan, ':' if asan else '')]
    srv.command = lambda listen='127.0.0.1:0': no_lsan + (
        ['strace', '-f', '-qq', '-y', '-o', trace,
         '-e', 'trace=rename,renameat,renameat2,fsync'] + plain(listen))
    srv.start()
    h.create_active(srv.client(), 'traced', 1)  # the server is up and serving
    # SIGTERM to strace would only detach it and leave sluiced running:
    # stop sluiced itself (strace's child) and let strace exit with it.
    tracer = srv.proc
    with open('/proc/%d/task/%d/children' % (tracer.pid, tracer.pid)) as f:
        kids = [int(x) for x in f.read().split()]
    assert len(kids) == 1, kids
    os.kill(kids[0], signal.SIGTERM)
    assert tracer.wait(timeout=20) == 0  # strace exits with its tracee's status
    srv.stop()
    with open(trace) as f:
        text = f.read()
    data = os.path.realpath(srv.data_dir)
    assert _synced_after_rename(text, os.path.join(data, 'keys'), 'iterator.key'), text
    assert _synced_after_rename(text, data, 'sluiced.addr'), text
