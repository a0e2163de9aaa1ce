# SPDX-License-Identifier: Apache-2.0
"""perf/loadgen --mode subscribe against a real sluiced: it holds one
SubscribeToShard per shard and registered consumer over HTTP/1.1 (TLS
verified, SigV4) and must count exactly the records put, no more (a record
read twice) and no fewer, with their data bytes; records put while it is
subscribed arrive too, each with a put-to-arrival latency and the events'
MillisBehindLatest."""

import json
import os
import subprocess
import threading
import time

import pytest

import sluice_helpers as h

pytestmark = pytest.mark.kernel_only('loadgen connects over loopback TCP')

LOADGEN = os.path.join(os.path.dirname(os.path.abspath(h.default_binary())), 'perf', 'loadgen')


def register(k, stream, name):
    sarn = k.describe_stream_summary(StreamName=stream)[
        'StreamDescriptionSummary']['StreamARN']
    carn = k.register_stream_consumer(StreamARN=sarn, ConsumerName=name)[
        'Consumer']['ConsumerARN']
    deadline = time.monotonic() + 10
    while k.describe_stream_consumer(ConsumerARN=carn)['ConsumerDescription'][
            'ConsumerStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline, 'consumer not ACTIVE within 10 s'
        time.sleep(0.1)
    return carn


def put(k, stream, n, first=0):
    """n records of distinct sizes spread over the shards; returns their bytes."""
    total = 0
    for base in range(0, n, 100):
        recs = [{'PartitionKey': 'k%d' % (first + i), 'Data': b'x' * (1 + (first + i) % 37)}
                for i in range(base, min(n, base + 100))]
        r = k.put_records(StreamName=stream, Records=recs)
        assert r['FailedRecordCount'] == 0
        total += sum(len(x['Data']) for x in recs)
    return total


def loadgen(server, stream, arns, shards, out, duration_s, iterator='TRIM_HORIZON', extra=()):
    cmd = [LOADGEN, '--endpoint', server.endpoint, '--ca', server.ca,
           '--credentials', server.creds_file, '--stream', stream, '--mode', 'subscribe',
           '--shards', str(shards), '--iterator', iterator, '--duration', str(duration_s),
           '--json', str(out), '--quiet']
    for a in arns:
        cmd += ['--consumer-arn', a]
    cmd += list(extra)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(p, out):
    so, se = p.communicate(timeout=120)
    assert p.returncode == 0, (so, se)
    return json.load(open(out))


@pytest.fixture
def stream(kinesis):
    name = h.uniq('lgsub')
    h.create_active(kinesis, name, 2)
    return name


def test_subscribe_counts_exactly_the_records_put(server, kinesis, stream, tmp_path):
    want_bytes = put(kinesis, stream, 500)
    arns = [register(kinesis, stream, h.uniq('c')) for _ in range(2)]
    out = tmp_path / 'sub.json'
    r = finish(loadgen(server, stream, arns, 2, out, 3), out)
    # two consumers, each reading both shards from the start: every record twice
    assert r['mode'] == 'subscribe'
    assert r['records'] == 2 * 500
    assert r['payload_bytes'] == 2 * want_bytes
    assert r['requests_failed'] == 0, r['errors']
    assert r['millis_behind_latest']['max'] >= 0
    assert r['series'], 'no per-second series'


def test_subscribe_receives_records_put_while_subscribed(server, kinesis, stream, tmp_path):
    arn = register(kinesis, stream, h.uniq('c'))
    out = tmp_path / 'sub.json'
    # TRIM_HORIZON: records put before the subscription is up count too, so the
    # test does not depend on when loadgen subscribes
    p = loadgen(server, stream, [arn], 2, out, 6)
    want_bytes = 0
    for i in range(5):
        want_bytes += put(kinesis, stream, 200, first=200 * i)
        time.sleep(0.2)
    r = finish(p, out)
    assert r['records'] == 1000
    assert r['payload_bytes'] == want_bytes
    assert r['requests_failed'] == 0, r['errors']
    # put-to-arrival is measured per record from ApproximateArrivalTimestamp
    assert r['put_to_get_ms']['max'] > 0
    assert r['latency_ms']['p50'] > 0


def test_subscribe_verify_checks_every_byte(server, kinesis, stream, tmp_path):
    """loadgen --verify writes self-checking records; the subscriber checks
    each one's bytes, and a record of other bytes is counted bad."""
    n = 600
    prod = subprocess.run(
        [LOADGEN, '--endpoint', server.endpoint, '--ca', server.ca,
         '--credentials', server.creds_file, '--stream', stream, '--mode', 'putrecords',
         '--verify', '--batch', '100', '--record-bytes', '64', '--records', str(n),
         '--duration', '60', '--connections', '1', '--inflight', '1', '--quiet'],
        capture_output=True, timeout=120)
    assert prod.returncode == 0, prod
    kinesis.put_record(StreamName=stream, PartitionKey='odd', Data=b'not a verify pattern!')
    arn = register(kinesis, stream, h.uniq('c'))
    out = tmp_path / 'sub.json'
    r = finish(loadgen(server, stream, [arn], 2, out, 3, extra=['--verify']), out)
    assert r['records'] == n + 1
    assert r['payload_bytes'] == n * 64 + len(b'not a verify pattern!')
    assert r['verify'] == {'records_ok': n, 'records_bad': 1}


def test_subscribe_registers_its_consumer(server, kinesis, stream, tmp_path):
    """--consumer-name registers the consumer (DescribeStreamSummary,
    RegisterStreamConsumer, waits for ACTIVE); a second run takes the
    consumer already registered under that name."""
    want_bytes = put(kinesis, stream, 300)
    name = h.uniq('c')
    for run in range(2):
        out = tmp_path / ('sub%d.json' % run)
        r = finish(loadgen(server, stream, [], 2, out, 3, extra=['--consumer-name', name]), out)
        assert r['records'] == 300
        assert r['payload_bytes'] == want_bytes
        assert r['requests_failed'] == 0, r['errors']
    sarn = kinesis.describe_stream_summary(StreamName=stream)[
        'StreamDescriptionSummary']['StreamARN']
    got = kinesis.list_stream_consumers(StreamARN=sarn)['Consumers']
    assert [c['ConsumerName'] for c in got] == [name]


def test_subscribe_stops_at_a_closed_shard(server, kinesis, tmp_path):
    """A shard closed by resharding ends its subscription after ChildShards;
    loadgen keeps the records it read and does not subscribe to it again
    (each new subscription would end at once)."""
    stream = h.uniq('lgsubc')
    h.create_active(kinesis, stream, 1)
    want_bytes = put(kinesis, stream, 200)
    arn = register(kinesis, stream, h.uniq('c'))
    out = tmp_path / 'sub.json'
    p = loadgen(server, stream, [arn], 1, out, 5)
    time.sleep(1.5)
    kinesis.update_shard_count(StreamName=stream, TargetShardCount=2,
                               ScalingType='UNIFORM_SCALING')
    r = finish(p, out)
    assert r['records'] == 200
    assert r['payload_bytes'] == want_bytes
    assert r['subscriptions'] == 1
    assert r['requests_failed'] == 0, r['errors']
