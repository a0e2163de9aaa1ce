# SPDX-License-Identifier: Apache-2.0
"""56-digit sequence numbers (AWS's layout, common/u128.h): what every
operation prints, what GetShardIterator, SubscribeToShard and
SequenceNumberForOrdering accept, children above parents, the same numbers
after a restart, and the 29-digit numbers of earlier releases still
accepted. records_helpers.seq_text computes the expected text from the
layout, independently of the C code."""

import json
import os
import struct
import tarfile

import botocore.exceptions
import pytest

import records_helpers as rh
import reshard_helpers as reh
import sluice_helpers as h

S0, S1 = h.shard_id(0), h.shard_id(1)
# AWS's published example: a real Kinesis number, of another stream.
AWS_SEQ = '49590338271490256608559692538361571095921575989136588898'


def err_of(exc_info):
    e = exc_info.value.response['Error']
    return e['Code'], e['Message']


def gsi(c, name, shard, typ, **kw):
    return c.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=typ,
                                **kw)['ShardIterator']


@pytest.fixture(scope='module')
def two(server):
    """A 2-shard stream: 5 records in shard 0 (PutRecord), 3 in shard 1
    (PutRecords); the answers' sequence numbers."""
    c = server.client()
    name = h.uniq('sq')
    h.create_active(c, name, 2)
    s0 = [c.put_record(StreamName=name, PartitionKey='k', Data=b'a%d' % i,
                       ExplicitHashKey='0')['SequenceNumber'] for i in range(5)]
    r = c.put_records(StreamName=name, Records=[
        {'PartitionKey': 'k', 'Data': b'b%d' % i, 'ExplicitHashKey': str(rh.MAX_HASH)}
        for i in range(3)])
    assert r['FailedRecordCount'] == 0, r
    s1 = [x['SequenceNumber'] for x in r['Records']]
    return name, s0, s1


def test_put_answers_56_digits(two):
    _, s0, s1 = two
    for shard, seqs in ((0, s0), (1, s1)):
        got = [rh.seq_parts(s) for s in seqs]
        assert [g[0] for g in got] == [shard] * len(seqs), seqs
        ctrs = [g[1] for g in got]
        assert ctrs == list(range(ctrs[0], ctrs[0] + len(seqs))), seqs
        rh.assert_increasing(seqs)


def test_get_records_and_shard_ranges(kinesis, two):
    name, s0, s1 = two
    recs, _ = rh.read_shard(kinesis, name, S0)
    assert [r['SequenceNumber'] for r in recs] == s0
    recs, _ = rh.read_shard(kinesis, name, S1)
    assert [r['SequenceNumber'] for r in recs] == s1
    for shards in (kinesis.list_shards(StreamName=name)['Shards'],
                   kinesis.describe_stream(StreamName=name)['StreamDescription']['Shards']):
        for i, sh in enumerate(shards):
            start = sh['SequenceNumberRange']['StartingSequenceNumber']
            assert start == rh.seq_text(i, 1), sh
            assert rh.seq_parts(start) == (i, 1)
    # The first record of a shard has the shard's StartingSequenceNumber.
    assert s0[0] == rh.seq_text(0, 1)


def test_aws_cli(server, two):
    name, s0, _ = two
    rc, out, err = server.aws('kinesis', 'put-record', '--stream-name', name,
                              '--partition-key', 'cli', '--data', 'aGVsbG8=',
                              '--explicit-hash-key', '0')
    assert rc == 0, err
    assert out['ShardId'] == S0
    assert len(out['SequenceNumber']) == 56
    assert rh.seq_parts(out['SequenceNumber']) == (0, rh.seq_parts(s0[-1])[1] + 1)
    rc, ls, err = server.aws('kinesis', 'list-shards', '--stream-name', name)
    assert rc == 0, err
    assert ls['Shards'][1]['SequenceNumberRange']['StartingSequenceNumber'] == \
        rh.seq_text(1, 1)


def test_at_after_56_and_old_forms(kinesis, two):
    """A number names the same record in either text: numbers clients kept
    from earlier releases (checkpoints) still work."""
    name, s0, _ = two
    for text in (s0[2], rh.old_seq_text(0, rh.seq_parts(s0[2])[1])):
        at, _ = rh.drain(kinesis, gsi(kinesis, name, S0, 'AT_SEQUENCE_NUMBER',
                                      StartingSequenceNumber=text))
        assert [r['SequenceNumber'] for r in at][:3] == s0[2:5], text
        after, _ = rh.drain(kinesis, gsi(kinesis, name, S0, 'AFTER_SEQUENCE_NUMBER',
                                         StartingSequenceNumber=text))
        assert [r['SequenceNumber'] for r in after][:2] == s0[3:5], text


def test_other_shard_rejected(kinesis, two):
    name, s0, s1 = two
    cases = ((S0, s1[0], S1), (S1, s0[0], S0),
             (S0, rh.old_seq_text(1, rh.seq_parts(s1[0])[1]), S1),
             (S0, rh.seq_text(7, 1), h.shard_id(7)))
    for shard, seq, encodes in cases:
        for typ in ('AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER'):
            with pytest.raises(botocore.exceptions.ClientError) as ei:
                gsi(kinesis, name, shard, typ, StartingSequenceNumber=seq)
            assert err_of(ei) == (
                'InvalidArgumentException',
                'Invalid StartingSequenceNumber. It encodes %s, while it was used in a '
                'call to a shard with %s' % (encodes, shard))


def test_malformed_rejected(kinesis, two):
    name, s0, _ = two
    # one digit changed: a field no longer agrees with the others
    bumped = s0[0][:30] + ('0' if s0[0][30] == '9' else str(int(s0[0][30]) + 1)) + s0[0][31:]
    for bad in (AWS_SEQ, bumped, '9' * 56, s0[0][:-1], '1', '0'):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            gsi(kinesis, name, S0, 'AT_SEQUENCE_NUMBER', StartingSequenceNumber=bad)
        assert err_of(ei) == (
            'InvalidArgumentException',
            'StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s '
            'under account %s is invalid.' % (bad, S0, name, h.ACCOUNT)), bad


def test_newer_than_latest(kinesis, two):
    """A number of this shard not handed out yet: the iterator is given and
    reads nothing until the shard gets there (kept from before; see
    dataplane/api/README.md)."""
    name, _, _ = two
    it = gsi(kinesis, name, S0, 'AT_SEQUENCE_NUMBER',
             StartingSequenceNumber=rh.seq_text(0, 1 << 40))
    r = kinesis.get_records(ShardIterator=it)
    assert r['Records'] == [] and 'NextShardIterator' in r


def test_sequence_number_for_ordering(kinesis, two):
    name, s0, s1 = two
    # Ours, of any shard, in either text: accepted, and the new number is above.
    for prev in (s0[-1], s1[-1], rh.old_seq_text(0, 1)):
        r = kinesis.put_record(StreamName=name, PartitionKey='o', Data=b'x',
                               ExplicitHashKey='0', SequenceNumberForOrdering=prev)
        assert rh.seq_parts(r['SequenceNumber'])[0] == 0
        assert int(r['SequenceNumber']) > int(s0[-1])
    for bad in (AWS_SEQ, '9' * 56, '12345'):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            kinesis.put_record(StreamName=name, PartitionKey='o', Data=b'x',
                               SequenceNumberForOrdering=bad)
        assert err_of(ei) == (
            'InvalidArgumentException',
            'ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under '
            'account %s is invalid.' % (bad, name, h.ACCOUNT)), bad


def test_children_above_parents(kinesis):
    name = h.uniq('sqsplit')
    h.create_active(kinesis, name, 1)
    # Enough records that the parent's counter is far above a child's first.
    parent = [kinesis.put_records(StreamName=name, Records=[
        {'PartitionKey': 'p%d' % i, 'Data': b'p'} for i in range(100)])['Records'][-1]
        ['SequenceNumber'] for _ in range(3)]
    kinesis.split_shard(StreamName=name, ShardToSplit=S0,
                        NewStartingHashKey=str(1 << 127))
    h.wait_status(kinesis, name, 'ACTIVE')
    shards = {s['ShardId']: s for s in kinesis.list_shards(StreamName=name)['Shards']}
    end = rh.wait_until(lambda: kinesis.list_shards(StreamName=name)['Shards'][0]
                        ['SequenceNumberRange'].get('EndingSequenceNumber'),
                        what='parent sealed')
    assert end == parent[-1]
    kids = [sid for sid in shards if sid != S0]
    assert len(kids) == 2
    for sid in kids:
        start = shards[sid]['SequenceNumberRange']['StartingSequenceNumber']
        assert int(start) > int(end), (sid, start, end)
        assert rh.seq_parts(start) == (rh.shard_index(sid), 1)
    # and the children's records, whatever their counters
    r = kinesis.put_records(StreamName=name, Records=[
        {'PartitionKey': 'c%d' % i, 'Data': b'c'} for i in range(20)])
    for x in r['Records']:
        assert x['ShardId'] in kids
        assert int(x['SequenceNumber']) > int(end)


def test_same_numbers_after_restart(server_factory):
    """The text is a pure function of the stored number: a restart (the
    journal and metadata store read back) prints the same numbers, and new
    ones continue above them."""
    srv = server_factory()
    c = srv.client()
    name = h.uniq('sqr')
    h.create_active(c, name, 1)
    before = [c.put_record(StreamName=name, PartitionKey='k', Data=b'%d' % i)['SequenceNumber']
              for i in range(5)]
    assert srv.stop() == 0
    srv.start()
    c = srv.client()
    recs, _ = rh.read_shard(c, name, S0)
    assert [r['SequenceNumber'] for r in recs] == before
    after = c.put_record(StreamName=name, PartitionKey='k', Data=b'x')['SequenceNumber']
    assert int(after) > int(before[-1])
    assert rh.seq_parts(after)[0] == 0


def old_to_new(old):
    v = int(old)
    assert v >> 96 == 1, old
    return rh.seq_text((v >> 64) & 0xFFFFFFFF, v & 0xFFFFFFFFFFFFFFFF)


def test_data_dir_of_29_digit_release(server_factory, tmp_path):
    """A data directory the last 29-digit release wrote (fixtures/, made by
    fixtures/make_datadir_29.py with main at 7abc7db): its records, shard
    ranges and the numbers that release handed out all work, in the new
    text."""
    fx = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
    with open(os.path.join(fx, 'datadir_29.json')) as f:
        old = json.load(f)
    data = str(tmp_path / 'data')
    os.makedirs(data, mode=0o700)
    with tarfile.open(os.path.join(fx, 'datadir_29.tar.gz')) as t:
        t.extractall(data)  # our own fixture
    srv = server_factory(data_dir=data)
    c = srv.client()
    shards = c.list_shards(StreamName='old')['Shards']
    assert [s['ShardId'] for s in shards] == [s['ShardId'] for s in old['shards']]
    for new, was in zip(shards, old['shards']):
        want = {k: old_to_new(v) for k, v in was['SequenceNumberRange'].items()}
        assert new['SequenceNumberRange'] == want, (new, was)
    for sid, seqs in old['records'].items():
        recs, _ = reh.read_to_end(c, 'old', sid)
        assert [r['SequenceNumber'] for r in recs] == [old_to_new(s) for s in seqs], sid
        # a number a client kept from the old release names the same record
        it = gsi(c, 'old', sid, 'AT_SEQUENCE_NUMBER', StartingSequenceNumber=seqs[-1])
        got = c.get_records(ShardIterator=it)['Records']
        assert [r['SequenceNumber'] for r in got][:1] == [old_to_new(seqs[-1])]
    # and new records continue above the old ones
    r = c.put_record(StreamName='old', PartitionKey='k', Data=b'new', ExplicitHashKey='0')
    kid = old['records'][r['ShardId']]
    assert int(r['SequenceNumber']) > int(old_to_new(kid[-1]))


def test_encryption_type_kms(server_factory):
    """Records written while the stream was KMS-encrypted say so (PutRecord,
    PutRecords, GetRecords per record), also after the stream stops being
    encrypted and after a restart; the others do not."""
    srv = server_factory()
    c = srv.client()
    name = h.uniq('kms')
    h.create_active(c, name, 1)
    assert c.put_record(StreamName=name, PartitionKey='k', Data=b'plain1')['EncryptionType'] \
        == 'NONE'
    c.start_stream_encryption(StreamName=name, EncryptionType='KMS', KeyId='alias/aws/kinesis')
    h.wait_status(c, name, 'ACTIVE')
    assert c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'][
        'EncryptionType'] == 'KMS'
    r = c.put_record(StreamName=name, PartitionKey='k', Data=b'kms1')
    assert r['EncryptionType'] == 'KMS', r
    r = c.put_records(StreamName=name, Records=[{'PartitionKey': 'k', 'Data': b'kms2'}])
    assert r['EncryptionType'] == 'KMS', r
    c.stop_stream_encryption(StreamName=name, EncryptionType='KMS', KeyId='alias/aws/kinesis')
    h.wait_status(c, name, 'ACTIVE')
    assert c.put_record(StreamName=name, PartitionKey='k', Data=b'plain2')['EncryptionType'] \
        == 'NONE'
    want = [(b'plain1', None), (b'kms1', 'KMS'), (b'kms2', 'KMS'), (b'plain2', None)]
    recs, _ = rh.read_shard(c, name, S0)
    assert [(r['Data'], r.get('EncryptionType')) for r in recs] == want
    assert srv.stop() == 0
    srv.start()
    recs, _ = rh.read_shard(srv.client(), name, S0)
    assert [(r['Data'], r.get('EncryptionType')) for r in recs] == want


def event_payloads(data):
    """JSON payloads of the event-stream messages in data (whole ones)."""
    out = []
    while len(data) >= 16:
        total, hlen = struct.unpack('>II', data[:8])
        if len(data) < total:
            break
        payload = data[12 + hlen:total - 4]
        if payload:
            out.append(json.loads(payload))
        data = data[total:]
    return out


def test_subscribe_to_shard_events(server, kinesis):
    """SubscribeToShard (HTTP/2): records carry their 56-digit numbers and
    EncryptionType KMS for those written while the stream was encrypted;
    ContinuationSequenceNumber is a 56-digit number of the shard."""
    name = h.uniq('sqsub')
    h.create_active(kinesis, name, 1)
    plain = kinesis.put_record(StreamName=name, PartitionKey='k', Data=b'p')['SequenceNumber']
    kinesis.start_stream_encryption(StreamName=name, EncryptionType='KMS',
                                    KeyId='alias/aws/kinesis')
    h.wait_status(kinesis, name, 'ACTIVE')
    enc = kinesis.put_record(StreamName=name, PartitionKey='k', Data=b'e')['SequenceNumber']
    sarn = kinesis.describe_stream_summary(StreamName=name)[
        'StreamDescriptionSummary']['StreamARN']
    carn = kinesis.register_stream_consumer(StreamARN=sarn, ConsumerName=h.uniq('c'))[
        'Consumer']['ConsumerARN']
    try:
        rh.wait_until(lambda: kinesis.describe_stream_consumer(ConsumerARN=carn)[
            'ConsumerDescription']['ConsumerStatus'] == 'ACTIVE', what='consumer active')
        body = json.dumps({'ConsumerARN': carn, 'ShardId': S0, 'StartingPosition': {
            'Type': 'AT_SEQUENCE_NUMBER', 'SequenceNumber': plain}}).encode()
        st, _, data = h.h2_exchange(server, h.h2_headers(server, 'SubscribeToShard', body),
                                    body, timeout_s=4)
        assert st == 200, data[:300]
        events = [e for e in event_payloads(data) if 'ContinuationSequenceNumber' in e]
        assert events, data[:300]
        recs = [r for e in events for r in e['Records']]
        assert [(r['SequenceNumber'], r.get('EncryptionType')) for r in recs] == \
            [(plain, None), (enc, 'KMS')]
        for e in events:
            assert rh.seq_parts(e['ContinuationSequenceNumber'])[0] == 0
    finally:
        kinesis.deregister_stream_consumer(ConsumerARN=carn)
