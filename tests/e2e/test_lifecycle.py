# SPDX-License-Identifier: Apache-2.0
"""Stream lifecycle with boto3 and the AWS CLI: CREATING -> ACTIVE ->
DELETING -> gone, shard layout, modes, ARNs, retention."""

import datetime
import time

import pytest

import sluice_helpers as h
from sluice_helpers import ACCOUNT, assert_error, hash_ranges, shard_id, uniq


def arn(name, region='us-east-1'):
    return 'arn:aws:kinesis:%s:%s:stream/%s' % (region, ACCOUNT, name)


def not_found(name):
    return 'Stream %s under account %s not found.' % (name, ACCOUNT)


def check_shards(shards, n):
    assert [s['ShardId'] for s in shards] == [shard_id(i) for i in range(n)]
    assert [(s['HashKeyRange']['StartingHashKey'], s['HashKeyRange']['EndingHashKey'])
            for s in shards] == hash_ranges(n)
    for s in shards:
        seq = s['SequenceNumberRange']
        assert seq['StartingSequenceNumber'].isdigit(), s
        assert 'EndingSequenceNumber' not in seq, s  # open shards have no end
        assert 'ParentShardId' not in s and 'AdjacentParentShardId' not in s, s


WINDOW_S = 0.3  # conftest's --create-delay-ms and --delete-delay-ms


def in_window(status, want, t_sent):
    """True when status is the transitional `want`, or when the read
    returned WINDOW_S or more after t_sent (time.monotonic() before the
    request that began the transition): the server's window opens after
    t_sent, so a read back sooner must see it, while a slower one (ASan, a
    loaded machine) may already see what follows it."""
    return status == want or time.monotonic() - t_sent >= WINDOW_S


@pytest.mark.smoke
def test_create_describe_list_delete_boto3(kinesis):
    name = uniq('life')
    t0 = datetime.datetime.now(datetime.timezone.utc)
    t_sent = time.monotonic()
    assert kinesis.create_stream(StreamName=name, ShardCount=3)['ResponseMetadata'][
        'HTTPStatusCode'] == 200

    d = kinesis.describe_stream(StreamName=name)['StreamDescription']
    assert in_window(d['StreamStatus'], 'CREATING', t_sent), d
    assert d['StreamName'] == name
    assert d['StreamARN'] == arn(name)
    assert d['HasMoreShards'] is False

    h.wait_status(kinesis, name, 'ACTIVE')
    d = kinesis.describe_stream(StreamName=name)['StreamDescription']
    assert d['StreamStatus'] == 'ACTIVE'
    assert d['StreamARN'] == arn(name)
    assert d['RetentionPeriodHours'] == 24
    assert d['StreamModeDetails'] == {'StreamMode': 'PROVISIONED'}
    assert d['EncryptionType'] == 'NONE'
    assert d['EnhancedMonitoring'] == [{'ShardLevelMetrics': []}]
    assert d['HasMoreShards'] is False
    created = d['StreamCreationTimestamp']
    now = datetime.datetime.now(datetime.timezone.utc)
    assert t0 - datetime.timedelta(seconds=5) <= created <= now + datetime.timedelta(seconds=5)
    check_shards(d['Shards'], 3)

    assert name in kinesis.list_streams()['StreamNames']

    t_sent = time.monotonic()
    kinesis.delete_stream(StreamName=name)
    try:
        d = kinesis.describe_stream(StreamName=name)['StreamDescription']
        assert in_window(d['StreamStatus'], 'DELETING', t_sent), d
    except kinesis.exceptions.ResourceNotFoundException:
        assert in_window(None, 'DELETING', t_sent)  # gone: only after the window
    h.wait_gone(kinesis, name)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as ei:
        kinesis.describe_stream(StreamName=name)
    assert ei.value.response['Error']['Message'] == not_found(name)
    assert name not in kinesis.list_streams()['StreamNames']


def test_describe_stream_summary(kinesis):
    name = uniq('sum')
    t_sent = time.monotonic()
    kinesis.create_stream(StreamName=name, ShardCount=2)
    s = kinesis.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
    assert in_window(s['StreamStatus'], 'CREATING', t_sent), s
    s = h.wait_status(kinesis, name, 'ACTIVE')
    assert s['StreamName'] == name
    assert s['StreamARN'] == arn(name)
    assert s['OpenShardCount'] == 2
    assert s['RetentionPeriodHours'] == 24
    assert s['StreamModeDetails'] == {'StreamMode': 'PROVISIONED'}
    assert s['EncryptionType'] == 'NONE'
    assert s['EnhancedMonitoring'] == [{'ShardLevelMetrics': []}]
    kinesis.delete_stream(StreamName=name)
    h.wait_gone(kinesis, name)


@pytest.mark.parametrize('n', [1, 3, 7])
def test_hash_ranges_exact(kinesis, n):
    name = uniq('hash%d' % n)
    h.create_active(kinesis, name, n)
    check_shards(kinesis.describe_stream(StreamName=name)['StreamDescription']['Shards'], n)
    check_shards(kinesis.list_shards(StreamName=name)['Shards'], n)
    kinesis.delete_stream(StreamName=name)


def test_on_demand_gets_four_shards(kinesis):
    name = uniq('od')
    kinesis.create_stream(StreamName=name, StreamModeDetails={'StreamMode': 'ON_DEMAND'})
    s = h.wait_status(kinesis, name, 'ACTIVE')
    assert s['StreamModeDetails'] == {'StreamMode': 'ON_DEMAND'}
    assert s['OpenShardCount'] == 4
    d = kinesis.describe_stream(StreamName=name)['StreamDescription']
    assert d['StreamModeDetails'] == {'StreamMode': 'ON_DEMAND'}
    check_shards(d['Shards'], 4)
    kinesis.delete_stream(StreamName=name)


@pytest.mark.smoke
def test_cli_lifecycle(server):
    name = uniq('cli')
    rc, out, err = server.aws('kinesis', 'create-stream', '--stream-name', name,
                              '--shard-count', '2')
    assert rc == 0, err
    assert out is None, out
    # The waiter polls every 10 s; let the 300 ms CREATING phase end first
    # (a bounded wait, not a fixed 0.6 s: on a loaded machine or under ASan
    # the stream took longer and the waiter needed its second poll) so its
    # first DescribeStream already sees ACTIVE.
    h.wait_status(server.client(), name, 'ACTIVE', timeout_s=30)
    t0 = time.monotonic()
    rc, _, err = server.aws('kinesis', 'wait', 'stream-exists', '--stream-name', name)
    assert rc == 0, err
    assert time.monotonic() - t0 < 9, 'waiter needed a second poll'

    rc, out, err = server.aws('kinesis', 'describe-stream-summary', '--stream-name', name)
    assert rc == 0, err
    s = out['StreamDescriptionSummary']
    assert (s['StreamName'], s['StreamStatus'], s['OpenShardCount']) == (name, 'ACTIVE', 2)
    assert s['StreamARN'] == arn(name)

    rc, out, err = server.aws('kinesis', 'list-streams')
    assert rc == 0, err
    assert name in out['StreamNames']

    rc, out, err = server.aws('kinesis', 'list-shards', '--stream-name', name)
    assert rc == 0, err
    check_shards(out['Shards'], 2)

    rc, out, err = server.aws('kinesis', 'describe-stream', '--stream-name', name)
    assert rc == 0, err
    check_shards(out['StreamDescription']['Shards'], 2)

    rc, out, err = server.aws('kinesis', 'delete-stream', '--stream-name', name)
    assert rc == 0, err
    h.wait_gone(server.client(), name, timeout_s=30)  # the waiter's first poll sees it gone
    rc, _, err = server.aws('kinesis', 'wait', 'stream-not-exists', '--stream-name', name)
    assert rc == 0, err
    rc, _, err = server.aws('kinesis', 'describe-stream', '--stream-name', name)
    assert rc != 0
    assert 'ResourceNotFoundException' in err and not_found(name) in err, err


@pytest.mark.smoke
def test_stream_arn_in_place_of_name(server, kinesis):
    name = uniq('arn')
    h.create_active(kinesis, name, 2)
    a = arn(name)
    st, _, body = server.call('DescribeStreamSummary', {'StreamARN': a})
    assert st == 200, body
    assert body['StreamDescriptionSummary']['StreamName'] == name
    st, _, body = server.call('DescribeStream', {'StreamARN': a})
    assert st == 200, body
    assert body['StreamDescription']['StreamARN'] == a
    check_shards(body['StreamDescription']['Shards'], 2)
    st, _, body = server.call('ListShards', {'StreamARN': a})
    assert st == 200, body
    check_shards(body['Shards'], 2)
    st, _, body = server.call('IncreaseStreamRetentionPeriod',
                              {'StreamARN': a, 'RetentionPeriodHours': 36})
    assert st == 200, body
    assert kinesis.describe_stream_summary(StreamName=name)[
        'StreamDescriptionSummary']['RetentionPeriodHours'] == 36
    st, _, body = server.call('DeleteStream', {'StreamARN': a})
    assert st == 200, body
    h.wait_gone(kinesis, name)
    st, hd, body = server.call('DescribeStreamSummary', {'StreamARN': a})
    assert_error(st, hd, body, 'ResourceNotFoundException', not_found(name))


def test_region_appears_in_arn(server_factory):
    """ARNs carry the server's --region (the signature must name the same)."""
    c = server_factory(extra_args=['--region', 'eu-west-1']).client(region='eu-west-1')
    name = uniq('region')
    c.create_stream(StreamName=name, ShardCount=1)
    s = h.wait_status(c, name, 'ACTIVE')
    assert s['StreamARN'] == arn(name, 'eu-west-1')
    c.delete_stream(StreamName=name)


def test_retention_increase_decrease(kinesis):
    name = uniq('ret')
    h.create_active(kinesis, name, 1)

    def hours():
        return kinesis.describe_stream_summary(StreamName=name)[
            'StreamDescriptionSummary']['RetentionPeriodHours']
    assert hours() == 24
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert hours() == 48
    assert kinesis.describe_stream(StreamName=name)['StreamDescription'][
        'RetentionPeriodHours'] == 48
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=30)
    assert hours() == 30

    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as ei:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=25)
    assert ei.value.response['Error']['Message'] == (
        'Requested retention period (25 hours) for stream %s can not be shorter than '
        'existing retention period (30 hours). Use DecreaseRetentionPeriod API.' % name)
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as ei:
        kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=40)
    assert ei.value.response['Error']['Message'] == (
        'Requested retention period (40 hours) for stream %s can not be longer than '
        'existing retention period (30 hours). Use IncreaseRetentionPeriod API.' % name)
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as ei:
        kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=23)
    assert ei.value.response['Error']['Message'] == (
        'Minimum allowed retention period is 24 hours. Requested retention period '
        '(23 hours) is too short.')
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as ei:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8761)
    assert ei.value.response['Error']['Message'] == (
        'Maximum allowed retention period is 8760 hours. Requested retention period '
        '(8761 hours) is too long.')
    assert hours() == 30
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    assert hours() == 24
    kinesis.delete_stream(StreamName=name)
