# SPDX-License-Identifier: Apache-2.0
"""PutRecord / PutRecords / GetRecords through the durable journal: routing
computed by the test itself (MD5 or ExplicitHashKey against ListShards'
ranges), per-shard order, byte-exact read back before and after a restart,
the AWS CLI, Kinesis's validation errors, a 10,000-shard stream and records
at the size limits."""

import base64
import os
import re
import time

import botocore.exceptions
import pytest

import records_helpers as rh
import sluice_helpers as h

MIB = 1024 * 1024


def err_of(exc_info):
    e = exc_info.value.response['Error']
    return e['Code'], e['Message']


def ts(dt):
    return dt.timestamp()


def put_bulk(c, name, router, rng, n_records):
    """Writes n_records (batches of 500 plus some single PutRecord calls),
    checking every returned ShardId and per-shard sequence order. Returns
    {shard id: [(seq, data, key)] in submission order}."""
    expected = {}
    last_seq = {}

    def accept(sid, seq, data, key, want):
        assert sid == want, ('record routed to %s, want %s' % (sid, want), key)
        idx, ctr = rh.seq_parts(seq)
        assert idx == rh.shard_index(sid), (seq, sid)
        assert ctr >= 1
        if sid in last_seq:
            assert int(seq) > last_seq[sid], ('sequence went backwards', sid, seq)
        last_seq[sid] = int(seq)
        expected.setdefault(sid, []).append((seq, data, key))

    def entry():
        key = rh.rand_key(rng)
        e = {'PartitionKey': key, 'Data': os.urandom(rng.randint(0, 300))}
        if rng.random() < 0.1:
            e['ExplicitHashKey'] = str(rng.randint(0, rh.MAX_HASH))
        return e

    sent = 0
    while sent < n_records:
        if rng.random() < 0.1:
            # A handful of single PutRecord calls between the batches.
            for _ in range(min(5, n_records - sent)):
                e = entry()
                r = c.put_record(StreamName=name, **e)
                accept(r['ShardId'], r['SequenceNumber'], e['Data'], e['PartitionKey'],
                       router.shard_for(e['PartitionKey'], e.get('ExplicitHashKey')))
                sent += 1
            continue
        batch = [entry() for _ in range(min(500, n_records - sent))]
        r = c.put_records(StreamName=name, Records=batch)
        assert r['FailedRecordCount'] == 0, r['FailedRecordCount']
        assert len(r['Records']) == len(batch)
        for e, res in zip(batch, r['Records']):
            assert 'ErrorCode' not in res, res
            accept(res['ShardId'], res['SequenceNumber'], e['Data'], e['PartitionKey'],
                   router.shard_for(e['PartitionKey'], e.get('ExplicitHashKey')))
        sent += len(batch)
    return expected


def check_read_back(got, expected, t0, t1):
    """got: {sid: [records from GetRecords]} equals expected exactly."""
    for sid, want in expected.items():
        recs = got[sid]
        assert len(recs) == len(want), (sid, len(recs), len(want))
        for i, (r, (seq, data, key)) in enumerate(zip(recs, want)):
            assert r['SequenceNumber'] == seq, (sid, i, r['SequenceNumber'], seq)
            assert r['Data'] == data, (sid, i, seq)
            assert r['PartitionKey'] == key, (sid, i, seq)
            at = ts(r['ApproximateArrivalTimestamp'])
            assert t0 - 1.0 <= at <= t1 + 1.0, (sid, i, r['ApproximateArrivalTimestamp'],
                                                t0, t1)
        rh.assert_increasing([r['SequenceNumber'] for r in recs], sid)
    for sid, recs in got.items():
        if sid not in expected:
            assert recs == [], ('records in a shard nothing was routed to', sid, recs[:2])


def test_bulk_20000_records_routing_order_and_restart(server_factory):
    srv = server_factory()
    c = srv.client()
    rng = rh.rng()
    name = h.uniq('bulk')
    h.create_active(c, name, 16)
    shards = rh.list_all_shards(c, name)
    assert len(shards) == 16
    router = rh.Router(shards)
    sids = [s['ShardId'] for s in shards]

    t0 = time.time()
    expected = put_bulk(c, name, router, rng, 20000)
    t1 = time.time()
    assert sum(len(v) for v in expected.values()) == 20000
    # With random keys every one of the 16 shards gets records.
    assert len(expected) == 16, sorted(expected)

    got = rh.read_all(c, name, sids)
    check_read_back(got, expected, t0, t1)

    assert srv.stop() == 0, srv.log_tail()
    srv.start()
    c = srv.client()
    again = rh.read_all(c, name, sids)
    check_read_back(again, expected, t0, t1)
    for sid in sids:
        assert [r['ApproximateArrivalTimestamp'] for r in again[sid]] == \
            [r['ApproximateArrivalTimestamp'] for r in got[sid]], sid

    # The restarted server keeps numbering after the recovered records.
    r = c.put_record(StreamName=name, PartitionKey='after-restart', Data=b'z')
    sid = router.shard_for('after-restart')
    assert r['ShardId'] == sid
    assert int(r['SequenceNumber']) > int(expected[sid][-1][0])


@pytest.mark.smoke
def test_put_record_get_records_small(kinesis):
    c = kinesis
    name = h.uniq('small')
    h.create_active(c, name, 2)
    router = rh.Router(rh.list_all_shards(c, name))
    r = c.put_record(StreamName=name, PartitionKey='a', Data=b'\x00\xffhello')
    assert r['ShardId'] == router.shard_for('a')
    assert r['EncryptionType'] == 'NONE'
    r2 = c.put_record(StreamName=name, PartitionKey='b', Data=b'',
                      ExplicitHashKey=str(rh.MAX_HASH))
    assert r2['ShardId'] == h.shard_id(1)
    recs, _ = rh.read_shard(c, name, r['ShardId'])
    mine = [x for x in recs if x['PartitionKey'] == 'a']
    assert [x['Data'] for x in mine] == [b'\x00\xffhello']
    assert mine[0]['SequenceNumber'] == r['SequenceNumber']
    recs, _ = rh.read_shard(c, name, h.shard_id(1))
    assert recs[-1]['Data'] == b'' and recs[-1]['SequenceNumber'] == r2['SequenceNumber']


def test_aws_cli_put_record_get_records(server):
    c = server.client()
    name = h.uniq('cli')
    h.create_active(c, name, 1)
    payload = b'cli \x00\x01\xfe payload'
    rc, out, err = server.aws('kinesis', 'put-record', '--stream-name', name,
                              '--partition-key', 'pk-cli',
                              '--data', base64.b64encode(payload).decode())
    assert rc == 0, err
    assert out['ShardId'] == h.shard_id(0)
    seq = out['SequenceNumber']
    rc, it, err = server.aws('kinesis', 'get-shard-iterator', '--stream-name', name,
                             '--shard-id', h.shard_id(0),
                             '--shard-iterator-type', 'TRIM_HORIZON')
    assert rc == 0, err
    rc, out, err = server.aws('kinesis', 'get-records', '--shard-iterator',
                              it['ShardIterator'])
    assert rc == 0, err
    assert len(out['Records']) == 1, out
    rec = out['Records'][0]
    assert rec['SequenceNumber'] == seq
    assert rec['PartitionKey'] == 'pk-cli'
    assert base64.b64decode(rec['Data']) == payload
    assert out['MillisBehindLatest'] == 0
    assert out['NextShardIterator']


# --- validation -------------------------------------------------------------

@pytest.fixture(scope='module')
def loose(server):
    """boto3 without client-side parameter validation."""
    return server.client(validate=False)


@pytest.fixture(scope='module')
def vstream(server):
    c = server.client()
    name = h.uniq('val')
    h.create_active(c, name, 2)
    return name


def test_put_records_zero_records(loose, vstream):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_records(StreamName=vstream, Records=[])
    code, msg = err_of(ei)
    assert code == 'ValidationException', msg
    assert msg == ("1 validation error detected: Value '[]' at 'records' failed to satisfy "
                   "constraint: Member must have length greater than or equal to 1"), msg


def test_put_records_501_records(server_factory):
    # Its own server: the long message (Coral lists the 501 entries) once
    # overflowed the error buffer and aborted the process.
    srv = server_factory()
    c = srv.client(validate=False)
    h.create_active(c, 'v', 1)
    recs = [{'PartitionKey': 'k', 'Data': b'x'}] * 501
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_records(StreamName='v', Records=recs)
    code, msg = err_of(ei)
    assert code == 'ValidationException', msg
    assert msg.startswith('1 validation error detected: Value '), msg
    assert msg.endswith("at 'records' failed to satisfy constraint: Member must have length "
                        "less than or equal to 500"), msg
    assert srv.running(), srv.log_tail()
    assert c.put_records(StreamName='v', Records=recs[:500])['FailedRecordCount'] == 0


def test_partition_key_257_chars(loose, vstream):
    key = 'k' * 257
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_record(StreamName=vstream, PartitionKey=key, Data=b'x')
    code, msg = err_of(ei)
    assert code == 'ValidationException', msg
    assert msg == ("1 validation error detected: Value '%s' at 'partitionKey' failed to "
                   "satisfy constraint: Member must have length less than or equal to 256"
                   % key), msg
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_records(StreamName=vstream, Records=[{'PartitionKey': 'ok', 'Data': b'x'},
                                                       {'PartitionKey': key, 'Data': b'x'}])
    code, msg = err_of(ei)
    assert code == 'ValidationException', msg
    assert msg == ("1 validation error detected: Value '%s' at 'records.2.member."
                   "partitionKey' failed to satisfy constraint: Member must have length "
                   "less than or equal to 256" % key), msg


def test_partition_key_256_multibyte_chars(kinesis, vstream):
    """The limit is 256 characters, not bytes: 256 two-byte characters (512
    UTF-8 bytes) are a valid key, alone and in a batch."""
    router = rh.Router(rh.list_all_shards(kinesis, vstream))
    for key in ('é' * 256, 'é' * 129, '€' * 200):
        r = kinesis.put_record(StreamName=vstream, PartitionKey=key, Data=b'mb')
        assert r['ShardId'] == router.shard_for(key)
        recs = rh.read_shard(kinesis, vstream, r['ShardId'], 'AT_SEQUENCE_NUMBER',
                             StartingSequenceNumber=r['SequenceNumber'])[0]
        assert recs[0]['PartitionKey'] == key and recs[0]['Data'] == b'mb'
    r = kinesis.put_records(StreamName=vstream, Records=[
        {'PartitionKey': 'ascii', 'Data': b'1'}, {'PartitionKey': 'é' * 256, 'Data': b'2'}])
    assert r['FailedRecordCount'] == 0, r['Records']


@pytest.mark.smoke
def test_explicit_hash_key_2_pow_128(loose, vstream):
    big = str(2 ** 128)
    want = ('Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. '
            'Specified value was %s' % big)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_record(StreamName=vstream, PartitionKey='k', Data=b'x', ExplicitHashKey=big)
    assert err_of(ei) == ('InvalidArgumentException', want)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_records(StreamName=vstream, Records=[
            {'PartitionKey': 'k', 'Data': b'x', 'ExplicitHashKey': '1'},
            {'PartitionKey': 'k', 'Data': b'x', 'ExplicitHashKey': big}])
    assert err_of(ei) == ('InvalidArgumentException', want)
    # The top of the range is accepted and lands in the last shard.
    r = loose.put_record(StreamName=vstream, PartitionKey='k', Data=b'x',
                         ExplicitHashKey=str(2 ** 128 - 1))
    assert r['ShardId'] == h.shard_id(1)


def test_data_over_1_mib(loose, vstream):
    data = b'\0' * (MIB + 1)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_record(StreamName=vstream, PartitionKey='k', Data=data)
    code, msg = err_of(ei)
    assert code == 'ValidationException', msg
    assert msg.endswith("at 'data' failed to satisfy constraint: Member must have length "
                        "less than or equal to 1048576"), msg
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_records(StreamName=vstream, Records=[{'PartitionKey': 'k', 'Data': data}])
    code, msg = err_of(ei)
    assert code == 'ValidationException', msg
    assert msg.endswith("at 'records.1.member.data' failed to satisfy constraint: Member must "
                        "have length less than or equal to 1048576"), msg


def test_put_records_missing_stream(loose, server):
    name = h.uniq('nope')
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_records(StreamName=name, Records=[{'PartitionKey': 'k', 'Data': b'x'}])
    assert err_of(ei) == ('ResourceNotFoundException',
                          'Stream %s under account %s not found.' % (name, h.ACCOUNT))
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        loose.put_record(StreamName=name, PartitionKey='k', Data=b'x')
    assert err_of(ei) == ('ResourceNotFoundException',
                          'Stream %s under account %s not found.' % (name, h.ACCOUNT))


def test_put_to_creating_stream(server_factory):
    srv = server_factory(extra_args=['--create-delay-ms', '3000'])
    c = srv.client(validate=False)
    c.create_stream(StreamName='slow', ShardCount=1)
    assert c.describe_stream_summary(StreamName='slow')[
        'StreamDescriptionSummary']['StreamStatus'] == 'CREATING'
    want = ('ResourceNotFoundException',
            'Stream slow under account %s not found.' % h.ACCOUNT)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_record(StreamName='slow', PartitionKey='k', Data=b'x')
    assert err_of(ei) == want
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_records(StreamName='slow', Records=[{'PartitionKey': 'k', 'Data': b'x'}])
    assert err_of(ei) == want
    h.wait_status(c, 'slow', 'ACTIVE', timeout_s=10)
    c.put_record(StreamName='slow', PartitionKey='k', Data=b'x')


# --- scale and size ---------------------------------------------------------

def test_10000_shard_stream(server_factory):
    srv = server_factory(extra_args=['--shard-limit', '20000'])
    c = srv.client()
    rng = rh.rng()
    h.create_active(c, 'wide', 10000, timeout_s=60)
    shards = rh.list_all_shards(c, 'wide')
    assert len(shards) == 10000
    assert [s['ShardId'] for s in shards] == [h.shard_id(i) for i in range(10000)]
    assert c.describe_stream_summary(StreamName='wide')[
        'StreamDescriptionSummary']['OpenShardCount'] == 10000
    router = rh.Router(shards)
    expected = {}
    for _ in range(3):
        batch = [{'PartitionKey': rh.rand_key(rng), 'Data': os.urandom(rng.randint(1, 100))}
                 for _ in range(100)]
        r = c.put_records(StreamName='wide', Records=batch)
        assert r['FailedRecordCount'] == 0
        for e, res in zip(batch, r['Records']):
            assert res['ShardId'] == router.shard_for(e['PartitionKey']), (e, res)
            expected.setdefault(res['ShardId'], []).append(
                (res['SequenceNumber'], e['Data'], e['PartitionKey']))
    # The top and bottom shards by explicit hash key, and some random ones.
    for hk, sid in [('0', h.shard_id(0)), (str(rh.MAX_HASH), h.shard_id(9999))]:
        r = c.put_record(StreamName='wide', PartitionKey='edge', Data=b'edge', ExplicitHashKey=hk)
        assert r['ShardId'] == sid
        expected.setdefault(sid, []).append((r['SequenceNumber'], b'edge', 'edge'))
    pick = [h.shard_id(0), h.shard_id(9999)] + rng.sample(sorted(expected), 5)
    empty = next(h.shard_id(i) for i in range(10000) if h.shard_id(i) not in expected)
    for sid in pick + [empty]:
        recs, _ = rh.read_shard(c, 'wide', sid)
        assert [(r['SequenceNumber'], r['Data'], r['PartitionKey']) for r in recs] == \
            expected.get(sid, []), sid


def test_1_mib_record_round_trip(kinesis):
    c = kinesis
    name = h.uniq('big')
    h.create_active(c, name, 1)
    data = os.urandom(MIB)
    r = c.put_record(StreamName=name, PartitionKey='big', Data=data)
    it = c.get_shard_iterator(StreamName=name, ShardId=h.shard_id(0),
                              ShardIteratorType='AT_SEQUENCE_NUMBER',
                              StartingSequenceNumber=r['SequenceNumber'])['ShardIterator']
    out = c.get_records(ShardIterator=it)
    assert len(out['Records']) == 1
    assert out['Records'][0]['Data'] == data
    assert out['Records'][0]['SequenceNumber'] == r['SequenceNumber']


def test_put_records_near_5_mib(kinesis):
    c = kinesis
    name = h.uniq('big5')
    h.create_active(c, name, 2)
    # 5 records of 1 MiB minus a little: the request is just under 5 MiB of
    # data plus keys (Kinesis counts data + partition keys against 5 MiB).
    batch = [{'PartitionKey': 'p%d' % i, 'Data': os.urandom(MIB - 100)} for i in range(5)]
    r = c.put_records(StreamName=name, Records=batch)
    assert r['FailedRecordCount'] == 0
    got = {}
    for sid in (h.shard_id(0), h.shard_id(1)):
        for rec in rh.read_shard(c, name, sid)[0]:
            got[rec['SequenceNumber']] = (rec['PartitionKey'], rec['Data'])
    for e, res in zip(batch, r['Records']):
        assert got[res['SequenceNumber']] == (e['PartitionKey'], e['Data'])
    assert len(got) == 5


def test_put_records_over_5_mib(server):
    """Six records of 1 MiB: over the 5 MiB request limit. Kinesis answers
    InvalidArgumentException "Records size exceeds 5 MB limit"."""
    c = server.client(validate=False)
    name = h.uniq('over5')
    h.create_active(c, name, 1)
    batch = [{'PartitionKey': 'p%d' % i, 'Data': b'\1' * MIB} for i in range(6)]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_records(StreamName=name, Records=batch)
    code, msg = err_of(ei)
    assert code == 'InvalidArgumentException', (code, msg)
    assert msg == 'Records size exceeds 5 MB limit', msg
    assert rh.read_shard(c, name, h.shard_id(0))[0] == []



LONG_VALUES = [
    ('GetRecords', {'ShardIterator': 'A' * 3000}),
    ('PutRecord', {'StreamName': 'v', 'PartitionKey': 'k' * 3000, 'Data': 'eA=='}),
    ('PutRecord', {'StreamName': 'v' * 3000, 'PartitionKey': 'k', 'Data': 'eA=='}),
    ('PutRecord', {'StreamName': 'v', 'PartitionKey': 'k', 'Data': 'eA==',
                   'ExplicitHashKey': '9' * 3000}),
    ('PutRecords', {'StreamName': 'v', 'Records': [{'PartitionKey': 'k' * 300,
                                                    'Data': 'eA=='}] * 50}),
    ('GetShardIterator', {'StreamName': 'v', 'ShardId': h.shard_id(0),
                          'ShardIteratorType': 'AT_SEQUENCE_NUMBER',
                          'StartingSequenceNumber': '1' * 3000}),
    ('GetShardIterator', {'StreamName': 'v', 'ShardId': 's' * 3000,
                          'ShardIteratorType': 'TRIM_HORIZON'}),
]


@pytest.mark.parametrize('op,body', LONG_VALUES, ids=[
    'GetRecords-iterator', 'PutRecord-key', 'PutRecord-stream', 'PutRecord-hashkey',
    'PutRecords-50-keys', 'GetShardIterator-seq', 'GetShardIterator-shard'])
def test_long_invalid_value_answers_validation_error(server_factory, op, body):
    """A long invalid value is echoed in the ValidationException message
    (Coral's "Value '...' at '...' failed to satisfy constraint"); the answer
    must still be a 400, not a dead server."""
    srv = server_factory()
    h.create_active(srv.client(), 'v', 1)
    try:
        status, hdrs, resp = srv.call(op, body)
    except Exception as e:  # connection dropped: report with the log
        raise AssertionError('%s with a 3000-char value: %r\n%s' % (op, e, srv.log_tail()))
    h.assert_error(status, hdrs, resp, 'ValidationException')
    assert re.match(r"\d+ validation errors? detected: Value '", h.error_message(resp)), resp
    assert srv.running(), srv.log_tail()
