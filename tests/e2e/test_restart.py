# SPDX-License-Identifier: Apache-2.0
"""Restarts and shutdown: metadata survives a restart of a separate server
with the same data dir, and SIGTERM answers what is in flight before exit."""

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
