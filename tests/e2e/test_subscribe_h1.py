# SPDX-License-Identifier: Apache-2.0
"""SubscribeToShard over HTTP/1.1, as boto3 does it: botocore speaks
HTTP/1.1 and reads the application/vnd.amazon.eventstream answer from a
chunked body. The same rules as over HTTP/2 (tests/js): records written after
the subscription arrive in order with ContinuationSequenceNumber and
MillisBehindLatest; a second subscription of the consumer to the shard is
ResourceInUseException; the answer ends (the zero chunk) when the consumer
is deregistered, when the shard is closed and read to its end, and when the
server stops. At the byte level: one chunk per event, each a whole
eventstream message, and a request pipelined behind the subscription is
answered only after the zero chunk, on the same connection."""

import binascii
import json
import signal
import struct
import subprocess
import threading
import time

import botocore.exceptions
import pytest

import sluice_helpers as h

S0 = h.shard_id(0)


def register(k, stream, name=None):
    sarn = k.describe_stream_summary(StreamName=stream)[
        'StreamDescriptionSummary']['StreamARN']
    carn = k.register_stream_consumer(StreamARN=sarn, ConsumerName=name or h.uniq('c'))[
        'Consumer']['ConsumerARN']
    deadline = time.monotonic() + 10
    while k.describe_stream_consumer(ConsumerARN=carn)['ConsumerDescription'][
            'ConsumerStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline, 'consumer not ACTIVE within 10 s'
        time.sleep(0.1)
    return carn


@pytest.fixture
def stream(kinesis):
    name = h.uniq('sub1')
    h.create_active(kinesis, name, 1)
    return name


def subscribe(k, carn, pos=None, shard=S0):
    return k.subscribe_to_shard(ConsumerARN=carn, ShardId=shard,
                                StartingPosition=pos or {'Type': 'LATEST'})


def drain(events, until, timeout_s=30.0):
    """Iterates the event stream in this thread until until(all events so
    far) or the stream ends; returns (events, ended)."""
    got, deadline = [], time.monotonic() + timeout_s
    for ev in events:
        got.append(ev)
        if until(got) or time.monotonic() > deadline:
            return got, False
    return got, True


def records_of(evs):
    return [r for e in evs if 'SubscribeToShardEvent' in e
            for r in e['SubscribeToShardEvent']['Records']]


@pytest.mark.smoke
def test_boto3_receives_records_written_after_it_subscribed(server, kinesis, stream):
    carn = register(kinesis, stream)
    kinesis.put_record(StreamName=stream, PartitionKey='k', Data=b'before')
    resp = subscribe(kinesis, carn)
    md = resp['ResponseMetadata']
    assert md['HTTPStatusCode'] == 200
    assert md['HTTPHeaders']['content-type'] == 'application/vnd.amazon.eventstream'
    assert md['HTTPHeaders']['transfer-encoding'] == 'chunked'
    want = [b'after-%d' % i for i in range(30)]
    writer = server.client()  # another client (and connection) writes

    def write():
        time.sleep(0.3)
        for w in want:
            writer.put_record(StreamName=stream, PartitionKey='k', Data=w)
    t, res = h.in_thread(write)
    evs, ended = drain(resp['EventStream'],
                       lambda got: len(records_of(got)) >= len(want))
    t.join(30)
    assert 'error' not in res, res
    assert not ended
    assert [r['Data'] for r in records_of(evs)] == want  # in order, exactly once
    seqs = [int(r['SequenceNumber']) for r in records_of(evs)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for e in evs:
        ev = e['SubscribeToShardEvent']
        assert ev['ContinuationSequenceNumber'].isdigit()
        assert isinstance(ev['MillisBehindLatest'], int) and ev['MillisBehindLatest'] >= 0
    last = evs[-1]['SubscribeToShardEvent']
    assert int(last['ContinuationSequenceNumber']) >= seqs[-1]
    resp['EventStream'].close()
    kinesis.deregister_stream_consumer(ConsumerARN=carn)


def test_heartbeat_events_when_quiet(kinesis, stream):
    """No records: an event still comes at least every 5 s (Kinesis's promise;
    sluice sends one a second), with the continuation position."""
    carn = register(kinesis, stream)
    resp = subscribe(kinesis, carn, {'Type': 'TRIM_HORIZON'})
    t0 = time.monotonic()
    evs, ended = drain(resp['EventStream'], lambda got: len(got) >= 3, timeout_s=20)
    assert not ended and len(evs) == 3
    assert time.monotonic() - t0 < 15
    for e in evs:
        ev = e['SubscribeToShardEvent']
        assert ev['Records'] == [] and ev['ContinuationSequenceNumber'].isdigit()
    resp['EventStream'].close()
    kinesis.deregister_stream_consumer(ConsumerARN=carn)


def test_second_subscription_is_resource_in_use(server, kinesis, stream):
    carn = register(kinesis, stream)
    first = subscribe(kinesis, carn)
    # Within 5 s, while the first is live (botocore takes a new connection:
    # the first one's answer is still being read).
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        subscribe(server.client(), carn, {'Type': 'TRIM_HORIZON'})
    err = ei.value.response['Error']
    assert err['Code'] == 'ResourceInUseException'
    assert err['Message'] == 'Another active subscription exists for this consumer: ' + carn
    assert ei.value.response['ResponseMetadata']['HTTPStatusCode'] == 400
    # The first is unharmed: still streaming.
    evs, ended = drain(first['EventStream'], lambda got: len(got) >= 1, timeout_s=10)
    assert evs and not ended
    first['EventStream'].close()
    kinesis.deregister_stream_consumer(ConsumerARN=carn)


def test_deregistering_the_consumer_ends_the_stream(kinesis, stream):
    carn = register(kinesis, stream)
    resp = subscribe(kinesis, carn)
    first, ended = drain(resp['EventStream'], lambda got: len(got) >= 1, timeout_s=10)
    assert first and not ended
    kinesis.deregister_stream_consumer(ConsumerARN=carn)
    t0 = time.monotonic()
    # The iteration ends cleanly (the zero chunk), no exception.
    _, ended = drain(resp['EventStream'], lambda got: False, timeout_s=15)
    assert ended and time.monotonic() - t0 < 10


def test_closed_shard_ends_after_child_shards(kinesis, stream):
    carn = register(kinesis, stream)
    kinesis.put_record(StreamName=stream, PartitionKey='k', Data=b'parent')
    resp = subscribe(kinesis, carn, {'Type': 'TRIM_HORIZON'})
    kinesis.split_shard(StreamName=stream, ShardToSplit=S0,
                        NewStartingHashKey=str(2 ** 127))
    evs, ended = drain(resp['EventStream'], lambda got: False, timeout_s=20)
    assert ended, 'the stream did not end after the shard closed'
    assert [r['Data'] for r in records_of(evs)] == [b'parent']
    last = evs[-1]['SubscribeToShardEvent']
    assert sorted(c['ShardId'] for c in last['ChildShards']) == [h.shard_id(1),
                                                                  h.shard_id(2)]
    kinesis.deregister_stream_consumer(ConsumerARN=carn)


def test_server_stop_ends_the_stream_cleanly(server_factory):
    srv = server_factory()
    k = srv.client()
    name = h.uniq('stop')
    h.create_active(k, name, 1)
    carn = register(k, name)
    resp = subscribe(k, carn)
    first, ended = drain(resp['EventStream'], lambda got: len(got) >= 1, timeout_s=10)
    assert first and not ended
    srv.send_signal(signal.SIGTERM)
    # Without the zero chunk, urllib3 raises (IncompleteRead / ProtocolError).
    _, ended = drain(resp['EventStream'], lambda got: False, timeout_s=15)
    assert ended
    assert srv.stop(10.0) == 0


def es_messages(data):
    """Splits bytes into eventstream messages, checking both CRCs."""
    out = []
    while data:
        total, hlen, pcrc = struct.unpack('>III', data[:12])
        assert binascii.crc32(data[:8]) == pcrc
        msg = data[:total]
        assert len(msg) == total
        assert binascii.crc32(msg[:-4]) == struct.unpack('>I', msg[-4:])[0]
        hdrs, p = {}, 12
        while p < 12 + hlen:
            nl = msg[p]
            name = msg[p + 1:p + 1 + nl].decode()
            p += 1 + nl
            assert msg[p] == 7  # string
            vl = struct.unpack('>H', msg[p + 1:p + 3])[0]
            hdrs[name] = msg[p + 3:p + 3 + vl].decode()
            p += 3 + vl
        out.append((hdrs, msg[12 + hlen:-4]))
        data = data[total:]
    return out


def test_wire_chunks_and_pipelined_request(server, kinesis, stream):
    """One chunk per eventstream message; a ListStreams pipelined behind the
    subscription waits for the zero chunk, then is answered on the same
    connection."""
    carn = register(kinesis, stream)
    conn = server.connect()
    body = json.dumps({'ConsumerARN': carn, 'ShardId': S0,
                       'StartingPosition': {'Type': 'LATEST'}})
    conn.send(server.request_bytes('SubscribeToShard', body) +
              server.request_bytes('ListStreams', {}))
    conn.settimeout(10)
    while b'\r\n\r\n' not in conn.buf:
        conn._fill()
    head, conn.buf = conn.buf.split(b'\r\n\r\n', 1)
    lines = head.decode('latin-1').split('\r\n')
    assert lines[0] == 'HTTP/1.1 200 OK'
    hd = {k.lower(): v.strip() for k, _, v in (x.partition(':') for x in lines[1:])}
    assert hd['transfer-encoding'] == 'chunked'
    assert 'content-length' not in hd

    def chunk():
        while b'\r\n' not in conn.buf:
            conn._fill()
        size, rest = conn.buf.split(b'\r\n', 1)
        n = int(size, 16)
        while len(rest) < n + 2:
            conn._fill()
            rest = conn.buf.split(b'\r\n', 1)[1]
        assert rest[n:n + 2] == b'\r\n'
        conn.buf = rest[n + 2:]
        return rest[:n]

    msgs = []
    for _ in range(3):
        c = chunk()
        m = es_messages(c)
        assert len(m) == 1, 'one whole message per chunk'
        msgs += m
    assert msgs[0][0][':event-type'] == 'initial-response'
    assert [m[0][':event-type'] for m in msgs[1:]] == ['SubscribeToShardEvent'] * 2
    ev = json.loads(msgs[1][1])
    assert ev['ContinuationSequenceNumber'].isdigit() and 'MillisBehindLatest' in ev
    assert b'HTTP/1.1' not in conn.buf  # ListStreams not answered yet
    kinesis.deregister_stream_consumer(ConsumerARN=carn)
    while True:
        c = chunk()
        if c == b'':
            break
        for hdrs, _ in es_messages(c):
            assert hdrs[':event-type'] == 'SubscribeToShardEvent'
    assert conn.buf == b'' or conn.buf.startswith(b'HTTP/1.1 ')
    r = conn.read_response(10)
    assert r.status == 200 and 'StreamNames' in r.json()
    conn.close()


def test_slow_reader_then_reads_everything(server, kinesis, stream):
    """A subscriber that stops reading while 6 MiB are written is neither cut
    off nor buffered for without bound: once it reads again it gets every
    record, in order."""
    import socket
    carn = register(kinesis, stream)
    conn = h.RawConn.__new__(h.RawConn)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    raw.settimeout(10)
    raw.connect((server.host, server.port))
    conn.server, conn.buf = server, b''
    conn.sock = h.tls_context(server.ca).wrap_socket(raw, server_hostname=server.host)
    body = json.dumps({'ConsumerARN': carn, 'ShardId': S0,
                       'StartingPosition': {'Type': 'LATEST'}})
    conn.send(server.request_bytes('SubscribeToShard', body))
    while b'\r\n\r\n' not in conn.buf:
        conn._fill()
    time.sleep(0.5)
    n_batches, per = 12, 500
    blob = b'z' * 1000
    for b in range(n_batches):
        recs = [{'Data': b'%05d' % (b * per + i) + blob, 'PartitionKey': 'k'}
                for i in range(per)]
        assert kinesis.put_records(StreamName=stream, Records=recs)['FailedRecordCount'] == 0
    time.sleep(3)  # not reading meanwhile
    data = conn.buf.split(b'\r\n\r\n', 1)[1]
    conn.buf = b''
    want, got = n_batches * per, []
    deadline = time.monotonic() + 60
    while len(got) < want and time.monotonic() < deadline:
        conn._fill()
        data += conn.buf
        conn.buf = b''
        # Whole chunks only.
        while True:
            if b'\r\n' not in data:
                break
            size, rest = data.split(b'\r\n', 1)
            n = int(size, 16)
            if len(rest) < n + 2:
                break
            for hdrs, payload in es_messages(rest[:n]):
                if hdrs.get(':event-type') == 'SubscribeToShardEvent':
                    got += [int(__import__('base64').b64decode(r['Data'])[:5])
                            for r in json.loads(payload)['Records']]
            data = rest[n + 2:]
    assert got == list(range(want))
    conn.close()
    kinesis.deregister_stream_consumer(ConsumerARN=carn)


def test_aws_cli_subscribe_to_shard(server):
    """The AWS CLI: Debian's /usr/bin/aws is CLI v1, which has no
    subscribe-to-shard (event-stream operations are left out of v1); this
    checks that and says so, and runs it when a CLI that has it is found."""
    p = subprocess.run([h.AWS_CLI, 'kinesis', 'subscribe-to-shard', 'help'],
                       env=server.aws_env(), capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and 'Invalid choice' in p.stderr:
        pytest.skip('this AWS CLI (%s) has no kinesis subscribe-to-shard'
                    % subprocess.run([h.AWS_CLI, '--version'], capture_output=True,
                                     text=True).stdout.strip()
                    or 'v1')
    k = server.client()
    name = h.uniq('cli')
    h.create_active(k, name, 1)
    carn = register(k, name)
    k.put_record(StreamName=name, PartitionKey='k', Data=b'cli-record')
    threading.Timer(3.0, lambda: k.deregister_stream_consumer(ConsumerARN=carn)).start()
    rc, out, err = server.aws('kinesis', 'subscribe-to-shard', '--consumer-arn', carn,
                              '--shard-id', S0, '--starting-position', 'Type=TRIM_HORIZON')
    assert rc == 0, err
    assert 'SubscribeToShardEvent' in json.dumps(out)
