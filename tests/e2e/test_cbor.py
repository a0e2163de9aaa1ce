# SPDX-License-Identifier: Apache-2.0
"""application/x-amz-cbor-1.1, as the AWS SDK for Java (KCL, Flink, Spark)
speaks it: requests encoded with Debian's python3-cbor2 and signed with
botocore's SigV4Auth, answers decoded with cbor2 (tag 1 read as AWS means
it: epoch milliseconds). The JSON answers of the same server are the oracle
for error types and messages."""

import json
import os
import random
import re
import time

import cbor2
import pytest
from cbor2 import CBORTag

import records_helpers as rh
import sluice_helpers as h

CBOR_CT = h.CBOR_CT
SERVICE_JSON = '/usr/lib/python3/dist-packages/botocore/data/kinesis/2013-12-02/service-2.json'
CBOR_C = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'dataplane',
                      'api', 'cbor.c')


def now_ms():
    return int(time.time() * 1000)


def ok(server, op, payload=None, **kw):
    status, hdrs, body = server.call_cbor(op, payload, **kw)
    assert status == 200, (op, status, body)
    assert hdrs['content-type'] == CBOR_CT, hdrs
    return body


def assert_cbor_error(answer, type_, message=None, http_status=400):
    status, hdrs, body = answer
    assert status == http_status, answer
    assert hdrs['content-type'] == CBOR_CT, hdrs
    assert 'x-amzn-requestid' in hdrs, hdrs
    assert isinstance(body, dict) and body.get('__type') == type_, body
    if message is not None:
        assert body.get('message') == message, body


def create_active(server, shards=1):
    name = h.uniq('cbor')
    before = now_ms()
    # An operation without output answers 200 with an empty body, in CBOR as
    # in JSON (Kinesis's answer; call_cbor reads an empty body as None).
    assert ok(server, 'CreateStream', {'StreamName': name, 'ShardCount': shards}) is None
    after = now_ms()
    rh.wait_until(lambda: ok(server, 'DescribeStreamSummary', {'StreamName': name})
                  ['StreamDescriptionSummary']['StreamStatus'] == 'ACTIVE',
                  timeout_s=30, what='stream ACTIVE')
    return name, before, after


def get_all(server, it, want, max_calls=200):
    """GetRecords in CBOR from iterator it until want records came (or the
    shard has nothing more and want is None)."""
    out = []
    for _ in range(max_calls):
        b = ok(server, 'GetRecords', {'ShardIterator': it})
        out += b['Records']
        it = b.get('NextShardIterator')
        if (want is not None and len(out) >= want) or (want is None and not b['Records']):
            return out
        if not it:
            return out
        time.sleep(0.25)  # GetRecords is 5/s per shard
    raise AssertionError('only %d of %r records' % (len(out), want))


def test_member_table_is_the_model():
    """dataplane/api/cbor.c's blob and timestamp members are exactly the
    model's (every structure member whose shape is a blob or a timestamp)."""
    model = json.load(open(SERVICE_JSON))
    shapes = model['shapes']
    want = {}
    for s in shapes.values():
        for m, ref in s.get('members', {}).items():
            t = shapes[ref['shape']]['type']
            if t in ('blob', 'timestamp'):
                want.setdefault(m, set()).add(t)
    assert all(len(t) == 1 for t in want.values()), want
    src = open(CBOR_C).read()
    got = {m: {'blob' if k == 'BLOB' else 'timestamp'}
           for m, k in re.findall(r'\{ "(\w+)", CBOR_KIND_(BLOB|TIME) \}', src)}
    assert got == want


def test_put_records_500_and_get_records_round_trip(server):
    name, _, _ = create_active(server, shards=2)
    rng = random.Random(13)
    recs = [{'Data': rng.randbytes(1024), 'PartitionKey': 'pk-%d' % i} for i in range(500)]
    t0 = now_ms()
    b = ok(server, 'PutRecords', {'StreamName': name, 'Records': recs})
    t1 = now_ms()
    assert b['FailedRecordCount'] == 0 and len(b['Records']) == 500, b
    by_shard = {}
    for r, res in zip(recs, b['Records']):
        assert re.fullmatch(r'\d{1,128}', res['SequenceNumber']), res
        by_shard.setdefault(res['ShardId'], []).append((res['SequenceNumber'], r))
    assert set(by_shard) <= {'shardId-000000000000', 'shardId-000000000001'}
    for sid, want in by_shard.items():
        it = ok(server, 'GetShardIterator', {'StreamName': name, 'ShardId': sid,
                                             'ShardIteratorType': 'TRIM_HORIZON'})
        got = get_all(server, it['ShardIterator'], len(want))
        assert len(got) == len(want)
        for g, (seq, r) in zip(got, want):
            assert g['SequenceNumber'] == seq
            assert g['PartitionKey'] == r['PartitionKey']
            assert isinstance(g['Data'], bytes) and g['Data'] == r['Data']
            # tag 1, milliseconds, now (not 1970, not the year 56,000)
            ts = g['ApproximateArrivalTimestamp']
            assert isinstance(ts, h.EpochMs), g
            assert t0 - 2000 <= ts <= t1 + 2000, (t0, ts, t1)


def test_put_record_and_at_timestamp_ms(server):
    """An AT_TIMESTAMP iterator at a millisecond timestamp taken between two
    puts returns exactly the later records, whether the tag holds an integer
    or a float; a seconds value would be read as 1970 (everything)."""
    name, _, _ = create_active(server)
    shard = 'shardId-000000000000'

    def put(data):
        return ok(server, 'PutRecord', {'StreamName': name, 'PartitionKey': 'k',
                                        'Data': data})['SequenceNumber']

    put(b'early')
    time.sleep(0.05)
    t_ms = now_ms()
    time.sleep(0.05)
    late = [put(b'late-1'), put(b'late-2')]
    for stamp in (CBORTag(1, t_ms), CBORTag(1, float(t_ms)), CBORTag(1, t_ms + 0.75)):
        it = ok(server, 'GetShardIterator', {'StreamName': name, 'ShardId': shard,
                                             'ShardIteratorType': 'AT_TIMESTAMP',
                                             'Timestamp': stamp})
        got = get_all(server, it['ShardIterator'], 2)
        assert [g['SequenceNumber'] for g in got] == late, (stamp, got)
        assert [g['Data'] for g in got] == [b'late-1', b'late-2']
        assert all(g['ApproximateArrivalTimestamp'] >= t_ms for g in got), (t_ms, got)
    it = ok(server, 'GetShardIterator', {'StreamName': name, 'ShardId': shard,
                                         'ShardIteratorType': 'AT_TIMESTAMP',
                                         'Timestamp': CBORTag(1, t_ms // 1000)})
    assert len(get_all(server, it['ShardIterator'], 3)) == 3


def test_creation_timestamps(server):
    name, before, after = create_active(server, shards=2)
    d = ok(server, 'DescribeStreamSummary', {'StreamName': name})['StreamDescriptionSummary']
    ts = d['StreamCreationTimestamp']
    assert isinstance(ts, h.EpochMs) and before - 2000 <= ts <= after + 2000, (before, ts)
    full = ok(server, 'DescribeStream', {'StreamName': name})['StreamDescription']
    assert full['StreamCreationTimestamp'] == ts
    shards = ok(server, 'ListShards', {'StreamName': name})['Shards']
    assert [s['ShardId'] for s in shards] == ['shardId-000000000000', 'shardId-000000000001']
    # a timestamp in a request that is not tag 1's iterator: ListShards'
    # StreamCreationTimestamp (ms), with a ShardFilter
    again = ok(server, 'ListShards', {'StreamName': name,
                                      'StreamCreationTimestamp': CBORTag(1, ts),
                                      'ShardFilter': {'Type': 'AT_LATEST'}})['Shards']
    assert [s['ShardId'] for s in again] == [s['ShardId'] for s in shards]
    summaries = ok(server, 'ListStreams', {})['StreamSummaries']
    mine = [s for s in summaries if s['StreamName'] == name]
    assert len(mine) == 1 and mine[0]['StreamCreationTimestamp'] == ts
    arn = d['StreamARN']
    t0 = now_ms()
    c = ok(server, 'RegisterStreamConsumer', {'StreamARN': arn, 'ConsumerName': 'c1'})
    cts = c['Consumer']['ConsumerCreationTimestamp']
    assert isinstance(cts, h.EpochMs) and t0 - 2000 <= cts <= now_ms() + 2000
    listed = ok(server, 'ListStreamConsumers', {'StreamARN': arn})['Consumers']
    assert [x['ConsumerCreationTimestamp'] for x in listed] == [cts]


def test_errors_in_cbor(server):
    missing = h.uniq('nope')
    # the same answers as the JSON path, in CBOR
    for op, payload, type_ in (
            ('DescribeStreamSummary', {'StreamName': missing}, 'ResourceNotFoundException'),
            ('CreateStream', {'StreamName': missing, 'ShardCount': 0}, 'ValidationException'),
            ('GetShardIterator', {'StreamName': missing, 'ShardId': 'shardId-0',
                                  'ShardIteratorType': 'LATEST'}, 'ResourceNotFoundException'),
            ('PutRecords', {'StreamName': missing, 'Records': []}, 'ValidationException')):
        js, _, jb = server.call(op, payload)
        assert js == 400 and jb['__type'] == type_, jb
        assert_cbor_error(server.call_cbor(op, payload), type_, jb['message'])
    # a Data member that is not a blob: the JSON decoder's own words
    assert_cbor_error(server.call_cbor('PutRecord', {'StreamName': missing, 'PartitionKey': 'k',
                                                     'Data': 5}), 'SerializationException')
    # malformed CBOR: truncated, trailing bytes, not UTF-8, a tag sluice
    # does not know: Kinesis's bare SerializationException
    for body in (b'\xa1\x61', cbor2.dumps({}) + b'\x00', b'\xa1\x61x\x62\xc0\x80',
                 b'\xa1\x61x\xc2\x41\x01'):
        st, hd, b = server.call_cbor('ListStreams', body=body)
        assert_cbor_error((st, hd, b), 'SerializationException')
        assert b == {'__type': 'SerializationException'}
    # before authentication: answered in CBOR too
    js, _, jb = server.call('ListStreams', {}, sign=False)
    assert jb['__type'] == 'MissingAuthenticationTokenException', jb
    assert_cbor_error(server.call_cbor('ListStreams', {}, sign=False),
                      'MissingAuthenticationTokenException', jb['message'], http_status=js)


def test_indefinite_lengths_as_jackson_writes_them(server):
    """Jackson (the Java SDK's CBOR generator) writes maps with indefinite
    length; strings may come in chunks."""
    name, _, _ = create_active(server)
    enc = cbor2.dumps
    body = (b'\xbf' + enc('StreamName') + b'\x7f' + enc(name[:3]) + enc(name[3:]) + b'\xff'
            + enc('PartitionKey') + enc('k')
            + enc('Data') + b'\x5f' + enc(b'ab') + enc(b'c') + b'\xff' + b'\xff')
    st, hd, b = server.call_cbor('PutRecord', body=body)
    assert st == 200, b
    it = ok(server, 'GetShardIterator', {'StreamName': name, 'ShardId': 'shardId-000000000000',
                                         'ShardIteratorType': 'TRIM_HORIZON'})
    got = get_all(server, it['ShardIterator'], 1)
    assert got[0]['Data'] == b'abc' and got[0]['SequenceNumber'] == b['SequenceNumber']


def test_cbor_over_http2(server):
    """The same over HTTP/2 (the Java SDK v2's async client speaks it)."""
    name, _, _ = create_active(server)
    body = cbor2.dumps({'StreamName': name, 'PartitionKey': 'k', 'Data': b'\x00h2'})
    st, hd, data = h.h2_exchange(server, h.h2_headers(server, 'PutRecord', body,
                                                      content_type=CBOR_CT), body)
    assert st == 200 and hd['content-type'] == CBOR_CT, (st, hd, data)
    assert set(h.cbor_loads(data)) == {'SequenceNumber', 'ShardId', 'EncryptionType'}
    body = cbor2.dumps({'StreamName': h.uniq('nope')})
    st, hd, data = h.h2_exchange(server, h.h2_headers(server, 'DescribeStreamSummary', body,
                                                      content_type=CBOR_CT), body)
    assert st == 400 and hd['content-type'] == CBOR_CT
    assert h.cbor_loads(data)['__type'] == 'ResourceNotFoundException'


def test_json_unchanged_after_cbor_on_one_connection(server):
    """A keep-alive connection that carried a CBOR request answers the next
    JSON one in JSON (the CBOR state is the request's, not the
    connection's)."""
    conn = server.connect()
    try:
        cb = cbor2.dumps({})
        conn.send(server.request_bytes('ListStreams', cb, headers={'Content-Type': CBOR_CT}))
        r1 = conn.read_response()
        conn.send(server.request_bytes('ListStreams', b'{}'))
        r2 = conn.read_response()
        conn.send(server.request_bytes('ListStreams', b'\xa1', headers={'Content-Type': CBOR_CT}))
        r3 = conn.read_response()
        conn.send(server.request_bytes('ListStreams', b'{'))
        r4 = conn.read_response()
    finally:
        conn.close()
    assert r1.status == 200 and r1.headers['content-type'] == CBOR_CT
    assert 'StreamNames' in h.cbor_loads(r1.body)
    assert r2.status == 200 and r2.headers['content-type'] == h.JSON_CT
    assert 'StreamNames' in r2.json()
    assert r3.status == 400 and r3.headers['content-type'] == CBOR_CT
    assert r4.status == 400 and r4.headers['content-type'] == h.JSON_CT
    assert r4.json()['__type'] == 'SerializationException'


@pytest.mark.parametrize('ct', ['application/x-amz-cbor-1.1; charset=utf-8',
                                'APPLICATION/X-AMZ-CBOR-1.1'])
def test_content_type_forms(server, ct):
    st, hd, b = server.call_cbor('ListStreams', {}, headers={'Content-Type': ct})
    assert st == 200 and hd['content-type'] == CBOR_CT and 'StreamNames' in b


def test_transcoding_is_charged_to_the_buffer_budget(server_factory):
    """The JSON a CBOR request becomes counts against --max-buffered-mib:
    3 MB of control characters become 18 MB of \\u0001 escapes, past a
    16 MiB budget: 503, retryable; the charge is given back (the next
    request passes, and the server's exit checks every charge)."""
    srv = server_factory(extra_args=['--max-buffered-mib', '16', '--max-conn-buffered-mib', '16',
                                     '--max-body-bytes', str(8 << 20)])
    big = {'ExclusiveStartStreamName': '\x01' * 3_000_000}
    assert_cbor_error(srv.call_cbor('ListStreams', big), 'ServiceUnavailable',
                      'The server is busy; retry the request.', http_status=503)
    assert 'StreamNames' in ok(srv, 'ListStreams', {})
    # a small one: the operation's own answer
    st, _, b = srv.call_cbor('ListStreams', {'ExclusiveStartStreamName': '\x01' * 100})
    assert st == 400 and b['__type'] == 'ValidationException', b


def parse_eventstream(data):
    """application/vnd.amazon.eventstream messages: [(headers, payload)]
    (string headers only, which is all SubscribeToShard sends)."""
    out, off = [], 0
    while off + 16 <= len(data):
        total, hlen = int.from_bytes(data[off:off + 4], 'big'), \
            int.from_bytes(data[off + 4:off + 8], 'big')
        if off + total > len(data):
            break
        hb, hdrs = data[off + 12:off + 12 + hlen], {}
        k = 0
        while k < len(hb):
            n = hb[k]
            name = hb[k + 1:k + 1 + n].decode()
            assert hb[k + 1 + n] == 7, 'string header'
            vl = int.from_bytes(hb[k + 2 + n:k + 4 + n], 'big')
            hdrs[name] = hb[k + 4 + n:k + 4 + n + vl].decode()
            k += 4 + n + vl
        out.append((hdrs, data[off + 12 + hlen:off + total - 4]))
        off += total
    return out


def test_subscribe_to_shard_events_in_cbor(server):
    """SubscribeToShard in CBOR (KCL 2.x's enhanced fan-out): the event
    payloads are CBOR too (:content-type application/x-amz-cbor-1.1), with
    Data as bytes and arrival times as tag 1 milliseconds."""
    name, _, _ = create_active(server)
    arn = ok(server, 'DescribeStreamSummary', {'StreamName': name})[
        'StreamDescriptionSummary']['StreamARN']
    carn = ok(server, 'RegisterStreamConsumer', {'StreamARN': arn, 'ConsumerName': 'efo'})[
        'Consumer']['ConsumerARN']
    rh.wait_until(lambda: ok(server, 'DescribeStreamConsumer', {'ConsumerARN': carn})[
        'ConsumerDescription']['ConsumerStatus'] == 'ACTIVE', what='consumer ACTIVE')
    t0 = now_ms()
    seq = ok(server, 'PutRecord', {'StreamName': name, 'PartitionKey': 'k',
                                   'Data': b'\x00\xffefo'})['SequenceNumber']
    body = cbor2.dumps({'ConsumerARN': carn, 'ShardId': 'shardId-000000000000',
                        'StartingPosition': {'Type': 'TRIM_HORIZON'}})
    st, hd, data = h.h2_exchange(server, h.h2_headers(server, 'SubscribeToShard', body,
                                                      content_type=CBOR_CT), body, timeout_s=3)
    assert st == 200 and hd['content-type'] == 'application/vnd.amazon.eventstream', (st, hd)
    events = parse_eventstream(data)
    assert events[0][0][':event-type'] == 'initial-response'
    assert events[0][0][':content-type'] == CBOR_CT and h.cbor_loads(events[0][1]) == {}
    recs = []
    for hdrs, payload in events[1:]:
        assert hdrs[':event-type'] == 'SubscribeToShardEvent', hdrs
        assert hdrs[':content-type'] == CBOR_CT
        recs += h.cbor_loads(payload)['Records']
    assert [r['SequenceNumber'] for r in recs] == [seq]
    assert recs[0]['Data'] == b'\x00\xffefo'
    ts = recs[0]['ApproximateArrivalTimestamp']
    assert isinstance(ts, h.EpochMs) and t0 - 2000 <= ts <= now_ms() + 2000
    # an error before subscribing is a CBOR answer
    bad = cbor2.dumps({'ConsumerARN': carn, 'ShardId': 'shardId-000000000009',
                       'StartingPosition': {'Type': 'TRIM_HORIZON'}})
    st, hd, data = h.h2_exchange(server, h.h2_headers(server, 'SubscribeToShard', bad,
                                                      content_type=CBOR_CT), bad, timeout_s=3)
    assert st == 400 and hd['content-type'] == CBOR_CT
    assert h.cbor_loads(data)['__type'] == 'ResourceNotFoundException'
