# SPDX-License-Identifier: Apache-2.0
"""Per-shard quotas (--quota-mode kinesis: 1 MiB/s and 1000 records/s in,
partition keys counted; 2 MiB/s and 5 GetRecords/s out; 5 GetShardIterator/s;
one second of burst) and the control operations' rate limits, with Kinesis's
exact errors; --quota-mode custom and off."""

import base64
import time

import pytest
from botocore.exceptions import ClientError

import sluice_helpers as h
from sluice_helpers import ACCOUNT, assert_error, shard_id, uniq

MIB = 1 << 20


def throttle_msg(name, shard=0):
    return 'Rate exceeded for shard %s in stream %s under account %s.' % (
        shard_id(shard), name, ACCOUNT)


@pytest.fixture(scope='module')
def qserver(module_server_factory):
    """One server with Kinesis's quotas for the module (streams differ per
    test, so only the account's control-operation buckets are shared)."""
    return module_server_factory(extra_args=['--quota-mode', 'kinesis'])


def ctl_retry(fn, timeout_s=5.0):
    """Calls a control operation, waiting out LimitExceededException (the
    account's buckets are shared with the rate-limit test)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except ClientError as e:
            if e.response['Error']['Code'] != 'LimitExceededException' or \
                    time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def new_stream(client, shards=1, prefix='q'):
    name = uniq(prefix)
    ctl_retry(lambda: client.create_stream(StreamName=name, ShardCount=shards))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = ctl_retry(lambda: client.describe_stream_summary(StreamName=name))
        if s['StreamDescriptionSummary']['StreamStatus'] == 'ACTIVE':
            return name
        time.sleep(0.1)
    raise AssertionError('stream %s not ACTIVE' % name)


def paced_puts(client, name, rec_bytes, recs_per_call, calls_per_s, seconds, key='k'):
    """PutRecords at a fixed pace from one thread. Returns (accepted,
    throttled entries, elapsed seconds from the first to the last call)."""
    data = b'\xab' * rec_bytes
    accepted, throttled = 0, []
    period = 1.0 / calls_per_s
    n_calls = int(seconds * calls_per_s)
    t0 = time.monotonic()
    last = t0
    for i in range(n_calls):
        wait = t0 + i * period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last = time.monotonic()
        r = client.put_records(StreamName=name, Records=[
            {'PartitionKey': key, 'Data': data} for _ in range(recs_per_call)])
        for e in r['Records']:
            if 'SequenceNumber' in e:
                accepted += 1
            else:
                throttled.append(e)
        assert r['FailedRecordCount'] == sum(1 for e in r['Records'] if 'ErrorCode' in e)
    return accepted, throttled, last - t0


def allowed(tps, t0):
    """Most calls a bucket of one second at tps can admit since t0: the
    burst plus what it earned meanwhile (slow builds take longer per call)."""
    return tps + int((time.monotonic() - t0) * tps)


def throttled_after_drain(k, drain, call, tries=4):
    """True once `call` (a boto3 call, retries off) raises the modelled
    ProvisionedThroughputExceededException. A 5-per-second bucket refills one
    call per 200 ms and one boto3 call can take that long under ASan, so the
    bucket is emptied with raw calls (`drain`) right before each try; a working
    limiter throttles the first or second try, a broken one none of them."""
    for _ in range(tries):
        drain()
        try:
            call()
        except k.exceptions.ProvisionedThroughputExceededException:
            return True
    return False


def assert_near_rate(accepted, want):
    """The limiter admits at most the burst plus the rate over the run (10%
    for the clocks of client and server), and not much less: a paced client
    stalled by a loaded machine (the ASan build, other jobs) offers less at
    times, so the floor has 20%."""
    assert 0.8 * want <= accepted <= 1.1 * want, (accepted, want)


def check_throttled(entries, name):
    for e in entries:
        assert e == {'ErrorCode': 'ProvisionedThroughputExceededException',
                     'ErrorMessage': throttle_msg(name)}, e


def test_put_bytes_limit_at_twice_the_rate(qserver):
    """~2 MiB/s of 8 KiB records for ~5 s into one shard: bytes bind (128
    records/s are far under 1000). Accepted = the 1 s burst + 1 MiB/s."""
    k = qserver.client()
    name = new_stream(k)
    rec = 8192
    per = rec + 1  # partition key 'k' counts
    accepted, throttled, el = paced_puts(k, name, rec, 32, 8, 5.0)  # 2 MiB/s
    sent = accepted + len(throttled)
    want = (1.0 + el) * MIB / per
    print('sent %d accepted %d (want ~%.0f over %.2f s)' % (sent, accepted, want, el))
    assert_near_rate(accepted, want)
    assert len(throttled) >= sent * 0.3, (len(throttled), sent)
    check_throttled(throttled, name)


def test_put_records_limit_with_tiny_records(qserver):
    """~2000 records/s of 10 bytes for ~4 s: records bind at 1000/s."""
    k = qserver.client()
    name = new_stream(k)
    accepted, throttled, el = paced_puts(k, name, 10, 500, 4, 4.0)
    want = (1.0 + el) * 1000
    print('accepted %d (want ~%.0f over %.2f s)' % (accepted, want, el))
    assert_near_rate(accepted, want)
    check_throttled(throttled, name)


def test_partition_key_bytes_count(qserver):
    """One PutRecords at the start (full burst bucket) of records whose data
    plus 256-byte keys pass 1 MiB though their data alone would not."""
    k = qserver.client()
    name = new_stream(k)
    key = 'p' * 256
    rec = 4096 - 256
    n = MIB // rec  # 273 records: their data alone (1048320 bytes) fits in 1 MiB
    r = k.put_records(StreamName=name, Records=[
        {'PartitionKey': key, 'Data': b'd' * rec} for _ in range(n)])
    ok = sum(1 for e in r['Records'] if 'SequenceNumber' in e)
    want = MIB // (rec + 256)  # 256 records
    assert want <= ok <= want + 2, (ok, want)  # refill during the call: a record or two
    check_throttled([e for e in r['Records'] if 'ErrorCode' in e], name)
    # Order within the shard: nothing after a throttled record is accepted.
    flags = ['SequenceNumber' in e for e in r['Records']]
    assert flags == sorted(flags, reverse=True), flags


def test_put_record_throttled(qserver):
    k = qserver.client()
    name = new_stream(k)
    # Empty the bytes bucket: the first 900 KiB record leaves 124 KiB, and
    # the bucket refills 1 KiB per ms, so another 900 KiB record is throttled
    # for the next ~750 ms.
    big = b'x' * (900 * 1024)
    r = k.put_records(StreamName=name, Records=[
        {'PartitionKey': 'a', 'Data': big} for _ in range(2)])
    assert r['FailedRecordCount'] == 1, r
    # Raw: the exact error document.
    st, hd, body = qserver.call('PutRecord', {'StreamName': name, 'PartitionKey': 'a',
                                              'Data': base64.b64encode(big).decode()})
    assert_error(st, hd, body, 'ProvisionedThroughputExceededException', throttle_msg(name))
    # boto3 with retries off raises the modelled exception.
    with pytest.raises(k.exceptions.ProvisionedThroughputExceededException) as ei:
        k.put_record(StreamName=name, PartitionKey='a', Data=big)
    assert ei.value.response['Error']['Message'] == throttle_msg(name)
    assert ei.value.response['ResponseMetadata']['HTTPStatusCode'] == 400
    # A second later the bucket has refilled.
    time.sleep(1.1)
    assert k.put_record(StreamName=name, PartitionKey='a', Data=b'x')['ShardId'] == shard_id(0)


def test_get_records_calls_limit(qserver):
    k = qserver.client()
    name = new_stream(k)
    k.put_record(StreamName=name, PartitionKey='a', Data=b'x')
    it = k.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    ok, errs = 0, []
    t0 = time.monotonic()
    for _ in range(10):
        st, hd, body = qserver.call('GetRecords', {'ShardIterator': it})
        if st == 200:
            ok += 1
            it = body['NextShardIterator']
        else:
            errs.append((st, hd, body))
    assert 5 <= ok <= allowed(5, t0) and errs, (ok, errs)  # the 1 s burst
    for st, hd, body in errs:
        assert_error(st, hd, body, 'ProvisionedThroughputExceededException',
                     throttle_msg(name))
    # boto3 raises the modelled exception (drained right before each try:
    # see test_get_shard_iterator_limit for why one try can miss).
    assert throttled_after_drain(
        k, lambda: [qserver.call('GetRecords', {'ShardIterator': it}) for _ in range(8)],
        lambda: k.get_records(ShardIterator=it))
    time.sleep(1.1)
    assert k.get_records(ShardIterator=it)['Records'] == []


def test_get_shard_iterator_limit(qserver):
    k = qserver.client()
    name = new_stream(k, shards=2)
    ok, errs = 0, []
    t0 = time.monotonic()
    for _ in range(10):
        st, hd, body = qserver.call('GetShardIterator', {
            'StreamName': name, 'ShardId': shard_id(1), 'ShardIteratorType': 'LATEST'})
        if st == 200:
            ok += 1
        else:
            errs.append((st, hd, body))
    assert 5 <= ok <= allowed(5, t0) and errs, (ok, errs)
    for st, hd, body in errs:
        assert_error(st, hd, body, 'ProvisionedThroughputExceededException',
                     throttle_msg(name, 1))
    # Per shard: the other shard is not throttled.
    k.get_shard_iterator(StreamName=name, ShardId=shard_id(0), ShardIteratorType='LATEST')
    # boto3 sees the throttle as its modelled exception.
    assert throttled_after_drain(
        k, lambda: [qserver.call('GetShardIterator', {
            'StreamName': name, 'ShardId': shard_id(1), 'ShardIteratorType': 'LATEST'})
            for _ in range(8)],
        lambda: k.get_shard_iterator(StreamName=name, ShardId=shard_id(1),
                                     ShardIteratorType='LATEST'))


def test_control_operation_rate_limits(qserver):
    k = qserver.client()
    name = new_stream(k, prefix='ctl')
    time.sleep(1.1)  # let the account's buckets refill

    def burst(op, payload, n):
        """Calls until the first refusal, at most n: a slow build can take
        long enough per call that a fixed-size burst is refilled as it goes
        and never refused (seen under ASan on a loaded machine)."""
        out = []
        for _ in range(n):
            out.append(qserver.call(op, payload(len(out)) if callable(payload) else payload))
            if out[-1][0] != 200:
                break
        return [r for r in out if r[0] == 200], [r for r in out if r[0] != 200]

    # DescribeStream: 10 per second per account.
    t0 = time.monotonic()
    ok, bad = burst('DescribeStream', {'StreamName': name}, 40)
    assert 10 <= len(ok) <= allowed(10, t0) and bad, (len(ok), bad[:1])
    for st, hd, body in bad:
        assert_error(st, hd, body, 'LimitExceededException',
                     'Rate exceeded for stream %s under account %s.' % (name, ACCOUNT))
    # CreateStream: 5 per second; the limited calls create nothing.
    names, res = [], []
    t0 = time.monotonic()
    while len(names) < 40 and (not res or res[-1][0] == 200):  # until the first refusal
        names.append(uniq('burst'))
        res.append(qserver.call('CreateStream', {'StreamName': names[-1], 'ShardCount': 1}))
    created = [n for n, r in zip(names, res) if r[0] == 200]
    limited = [(n, r) for n, r in zip(names, res) if r[0] != 200]
    assert 5 <= len(created) <= allowed(5, t0) and limited, res
    for n, (st, hd, body) in limited:
        assert_error(st, hd, body, 'LimitExceededException',
                     'Rate exceeded for stream %s under account %s.' % (n, ACCOUNT))
    # DescribeLimits: 1 per second, names no stream.
    t0 = time.monotonic()
    ok, bad = burst('DescribeLimits', {}, 10)
    assert 1 <= len(ok) <= allowed(1, t0) and bad, (ok, bad)
    for st, hd, body in bad:
        assert_error(st, hd, body, 'LimitExceededException',
                     'Rate exceeded for account %s.' % ACCOUNT)
    # boto3 sees the modelled exception (the bucket drained with raw calls
    # right before each try: one boto3 call can outlast a 1 s refill).
    def boto_limited():
        try:
            k.describe_limits()
        except k.exceptions.LimitExceededException:
            return True
        return False
    assert any(burst('DescribeLimits', {}, 10) and boto_limited() for _ in range(4))
    time.sleep(1.1)
    lim = k.describe_limits()
    assert lim['ShardLimit'] >= 1 and lim['OpenShardCount'] >= 1, lim
    for n in created:
        h.wait_status(k, n, 'ACTIVE')
    assert set(created) <= set(ctl_retry(lambda: k.list_streams(Limit=100))['StreamNames'])
    for n in [n for n, _ in limited]:
        st, hd, body = qserver.call('DescribeStreamSummary', {'StreamName': n})
        assert st == 400 and body['__type'] == 'ResourceNotFoundException', body


def test_custom_quota_mode(server_factory):
    srv = server_factory(extra_args=[
        '--quota-mode', 'custom', '--quota-in-bytes', '4096', '--quota-in-records', '5',
        '--quota-out-bytes', '2048', '--quota-get-calls', '3', '--quota-iter-calls', '2'])
    k = srv.client()
    name = new_stream(k)
    # 5 records per second in.
    r = k.put_records(StreamName=name, Records=[
        {'PartitionKey': 'a', 'Data': b'%d' % i} for i in range(8)])
    assert [('SequenceNumber' in e) for e in r['Records']] == [True] * 5 + [False] * 3
    check_throttled(r['Records'][5:], name)
    # 4096 bytes per second in (after refill): 3 x 1 KiB fit, the 4th not.
    time.sleep(1.1)
    r = k.put_records(StreamName=name, Records=[
        {'PartitionKey': 'b', 'Data': b'z' * 1200} for _ in range(4)])
    assert [('SequenceNumber' in e) for e in r['Records']] == [True] * 3 + [False], r
    # 2 GetShardIterator per second.
    its = []
    for i in range(3):
        st, hd, body = srv.call('GetShardIterator', {
            'StreamName': name, 'ShardId': shard_id(0), 'ShardIteratorType': 'TRIM_HORIZON'})
        its.append((st, hd, body))
    assert [x[0] for x in its] == [200, 200, 400], its
    assert_error(*its[2], 'ProvisionedThroughputExceededException', throttle_msg(name))
    # 2048 bytes per second out: the first read (3.6 KiB) goes into debt, the
    # next is throttled although a GetRecords call is left.
    it = its[0][2]['ShardIterator']
    st, hd, body = srv.call('GetRecords', {'ShardIterator': it})
    assert st == 200 and len(body['Records']) == 8, body
    st, hd, body = srv.call('GetRecords', {'ShardIterator': body['NextShardIterator']})
    assert_error(st, hd, body, 'ProvisionedThroughputExceededException', throttle_msg(name))


def test_quota_mode_off_accepts_everything(server):
    """The session server runs with --quota-mode off."""
    k = server.client()
    name = uniq('qoff')
    h.create_active(k, name, 1)
    for _ in range(4):  # 2000 records, 2 MiB in well under a second or two
        r = k.put_records(StreamName=name, Records=[
            {'PartitionKey': 'a', 'Data': b'y' * 1024} for _ in range(500)])
        assert r['FailedRecordCount'] == 0
    it = k.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    for _ in range(12):
        r = k.get_records(ShardIterator=it, Limit=200)
        it = r['NextShardIterator']
    for _ in range(12):
        k.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                             ShardIteratorType='LATEST')
    for _ in range(15):
        k.describe_stream(StreamName=name)
    for _ in range(3):
        k.describe_limits()
