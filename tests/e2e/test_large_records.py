# SPDX-License-Identifier: Apache-2.0
"""Large records: MaxRecordSizeInKiB (CreateStream, UpdateMaxRecordSize) is
the limit a record's Data is held to, up to 10 MiB; a PutRecords request may
carry 10 MiB on such a stream (5 MiB on a default one); a record larger than
a shard's second of write quota is admitted from a full bucket and paid back
at the sustained rate. Debian's botocore predates MaxRecordSizeInKiB, so the
stream settings go through signed raw calls; records go through boto3 (it
does not check blob lengths). Over SLUICE_TRANSPORT=dpdk the same tests run
over our TCP stack."""

import os

import botocore.exceptions
import pytest

import records_helpers as rh
import sluice_helpers as h

MIB = 1 << 20
S0 = h.shard_id(0)


@pytest.fixture(scope='module')
def server(module_server_factory):
    """This module's own server: bodies of up to 14 MB get 20 s to arrive.
    The session server's 2 s request timeout is for the slow-client tests,
    and one such body through TLS took longer under ASan on a loaded
    machine (the server closed the connection mid-body: an EOF in boto3)."""
    return module_server_factory(extra_args=['--request-timeout-ms', '20000'])


def err_of(exc_info):
    e = exc_info.value.response['Error']
    return e['Code'], e['Message']


def too_long(path, n, limit):
    return ("1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]' "
            "at '%s' failed to satisfy constraint: Member must have length less than or "
            "equal to %d" % (n, n, path, limit))


def create(server, name, kib=None, shards=1):
    body = {'StreamName': name, 'ShardCount': shards}
    if kib is not None:
        body['MaxRecordSizeInKiB'] = kib
    st, _, out = server.call('CreateStream', body)
    assert st == 200, out
    c = server.client()
    h.wait_status(c, name, 'ACTIVE')
    return c


def read_one(c, name):
    it = c.get_shard_iterator(StreamName=name, ShardId=S0,
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    out = []
    for _ in range(50):
        r = c.get_records(ShardIterator=it)
        out += r['Records']
        it = r['NextShardIterator']
        if not r['Records'] and r['MillisBehindLatest'] == 0:
            return out
    raise AssertionError('shard not drained')


def test_8_mib_record_round_trip(server):
    name = h.uniq('big')
    c = create(server, name, 10240)
    data = os.urandom(8 * MIB)
    r = c.put_record(StreamName=name, PartitionKey='k', Data=data)
    assert rh.seq_parts(r['SequenceNumber'])[0] == 0
    # PutRecords: one large record among small ones, 9 MiB in all
    small = [{'PartitionKey': 'k%d' % i, 'Data': os.urandom(1000)} for i in range(3)]
    big2 = os.urandom(9 * MIB - 4000)
    r2 = c.put_records(StreamName=name, Records=small[:1] + [{'PartitionKey': 'b',
                                                              'Data': big2}] + small[1:])
    assert r2['FailedRecordCount'] == 0, [x.get('ErrorCode') for x in r2['Records']]
    got = read_one(c, name)
    assert [x['Data'] for x in got] == [data] + [small[0]['Data'], big2] + \
        [e['Data'] for e in small[1:]]
    assert got[0]['SequenceNumber'] == r['SequenceNumber']


def test_10_mib_limit(server):
    name = h.uniq('big10')
    c = create(server, name, 10240)
    c.put_record(StreamName=name, PartitionKey='k', Data=b'\1' * (10 * MIB))
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_record(StreamName=name, PartitionKey='k', Data=b'\1' * (10 * MIB + 1))
    assert err_of(ei) == ('ValidationException', too_long('data', 10 * MIB + 1, 10 * MIB))
    got = read_one(c, name)
    assert len(got) == 1 and got[0]['Data'] == b'\1' * (10 * MIB)


def test_default_stream_rejects_1_mib_plus_1(server):
    name = h.uniq('small')
    c = create(server, name)
    c.put_record(StreamName=name, PartitionKey='k', Data=b'\0' * MIB)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_record(StreamName=name, PartitionKey='k', Data=b'\0' * (MIB + 1))
    assert err_of(ei) == ('ValidationException', too_long('data', MIB + 1, MIB))
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_records(StreamName=name, Records=[
            {'PartitionKey': 'k', 'Data': b'x'},
            {'PartitionKey': 'k', 'Data': b'\0' * (MIB + 1)},
            {'PartitionKey': 'k', 'Data': b'\0' * (MIB + 2)}])
    code, msg = err_of(ei)
    assert code == 'ValidationException'
    assert msg == (
        "2 validation errors detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 "
        "cap=1048577]' at 'records.2.member.data' failed to satisfy constraint: Member must "
        "have length less than or equal to 1048576; Value 'java.nio.HeapByteBuffer[pos=0 "
        "lim=1048578 cap=1048578]' at 'records.3.member.data' failed to satisfy constraint: "
        "Member must have length less than or equal to 1048576"), msg


def test_update_max_record_size(server):
    name = h.uniq('upd')
    c = create(server, name)
    arn = c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
    st, _, out = server.call('UpdateMaxRecordSize', {'StreamARN': arn,
                                                     'MaxRecordSizeInKiB': 2048})
    assert st == 200, out
    h.wait_status(c, name, 'ACTIVE')
    rh.wait_until(lambda: put_ok(c, name, 2 * MIB), what='2 MiB accepted')
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_record(StreamName=name, PartitionKey='k', Data=b'\0' * (2 * MIB + 1))
    assert err_of(ei) == ('ValidationException', too_long('data', 2 * MIB + 1, 2 * MIB))


def put_ok(c, name, n):
    try:
        c.put_record(StreamName=name, PartitionKey='k', Data=b'\0' * n)
        return True
    except botocore.exceptions.ClientError as e:
        assert e.response['Error']['Code'] == 'ValidationException', e.response
        return False


def test_put_records_request_limit(server):
    """5 MiB of data and keys per request on a default stream, 10 MiB on a
    large-record one."""
    small_name, large_name = h.uniq('rq5'), h.uniq('rq10')
    small = create(server, small_name)
    large = create(server, large_name, 4096)
    for c, name, recs, msg in (
            (small, small_name, [{'PartitionKey': 'k', 'Data': b'\0' * MIB}] * 5 +
             [{'PartitionKey': 'k', 'Data': b''}], 'Records size exceeds 5 MB limit'),
            (large, large_name, [{'PartitionKey': 'k', 'Data': b'\0' * (2 * MIB)}] * 5 +
             [{'PartitionKey': 'k', 'Data': b'\0'}], 'Records size exceeds 10 MB limit')):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            c.put_records(StreamName=name, Records=recs)
        assert err_of(ei) == ('InvalidArgumentException', msg)
    # 6 MiB in one request is fine on the large-record stream
    r = large.put_records(StreamName=large_name, Records=[
        {'PartitionKey': 'k', 'Data': b'\0' * (3 * MIB)}] * 2)
    assert r['FailedRecordCount'] == 0


def test_large_record_bursts_the_write_quota(server_factory):
    """Under the shard write quota (here 4 MiB/s, so the test is quick) an
    8 MiB record is admitted from a full bucket; the shard then owes 4 MiB
    and throttles writes until it has paid it back at the sustained rate."""
    srv = server_factory(extra_args=['--quota-mode', 'custom', '--quota-in-bytes',
                                     str(4 * MIB), '--quota-in-records', '1000',
                                     '--quota-out-bytes', str(64 * MIB),
                                     '--quota-get-calls', '1000', '--quota-iter-calls', '1000'])
    name = h.uniq('burst')
    c = create(srv, name, 10240)
    c.put_record(StreamName=name, PartitionKey='k', Data=b'\0' * (8 * MIB))
    # In debt for about a second: the next write is throttled (at once,
    # well within the second even on a slow build)...
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_record(StreamName=name, PartitionKey='k', Data=b'x')
    assert err_of(ei)[0] == 'ProvisionedThroughputExceededException'
    # ... and accepted again once the debt is repaid.
    rh.wait_until(lambda: throttled_put(c, name) is None, timeout_s=20, step_s=0.2,
                  what='write accepted after the burst')


def throttled_put(c, name):
    try:
        return c.put_record(StreamName=name, PartitionKey='k', Data=b'y') and None
    except botocore.exceptions.ClientError as e:
        assert e.response['Error']['Code'] == 'ProvisionedThroughputExceededException'
        return e

