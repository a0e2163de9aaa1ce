# SPDX-License-Identifier: Apache-2.0
"""Kinesis error responses, type and text exactly as Kinesis sends them.
Validation cases go through signed raw requests, since boto3 would reject
them on the client side before sending."""

import pytest

import sluice_helpers as h
from sluice_helpers import ACCOUNT, assert_error, uniq

PATTERN = '[a-zA-Z0-9_.-]+'


def one(msg):
    return '1 validation error detected: ' + msg


def regex_err(value, member='streamName'):
    return ("Value '%s' at '%s' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: %s" % (value, member, PATTERN))


def min_err(value, member, bound):
    return ("Value '%s' at '%s' failed to satisfy constraint: "
            "Member must have value greater than or equal to %d" % (value, member, bound))


def max_err(value, member, bound):
    return ("Value '%s' at '%s' failed to satisfy constraint: "
            "Member must have value less than or equal to %d" % (value, member, bound))


def check(server, op, payload, type_, message=None, **kw):
    st, hd, body = server.call(op, payload)
    assert_error(st, hd, body, type_, message, **kw)
    return body


@pytest.mark.smoke
def test_stream_name_regex(server):
    check(server, 'CreateStream', {'StreamName': 'a b', 'ShardCount': 1},
          'ValidationException', one(regex_err('a b')))
    check(server, 'DescribeStream', {'StreamName': 'x/y'},
          'ValidationException', one(regex_err('x/y')))
    check(server, 'DeleteStream', {'StreamName': 'bad*name'},
          'ValidationException', one(regex_err('bad*name')))


def test_stream_name_length(server):
    name = 'a' * 129
    check(server, 'CreateStream', {'StreamName': name, 'ShardCount': 1}, 'ValidationException',
          one("Value '%s' at 'streamName' failed to satisfy constraint: "
              "Member must have length less than or equal to 128" % name))
    check(server, 'CreateStream', {'StreamName': '', 'ShardCount': 1}, 'ValidationException',
          '2 validation errors detected: ' + regex_err('') + '; ' +
          "Value '' at 'streamName' failed to satisfy constraint: "
          "Member must have length greater than or equal to 1")
    # 128 characters is fine.
    ok = 'b' * 120 + uniq('')[-8:]
    assert len(ok) == 128
    st, _, body = server.call('CreateStream', {'StreamName': ok, 'ShardCount': 1})
    assert st == 200, body
    h.wait_status(server.client(), ok, 'ACTIVE')
    assert server.call('DeleteStream', {'StreamName': ok})[0] == 200


def test_shard_count_zero(server):
    check(server, 'CreateStream', {'StreamName': uniq('z'), 'ShardCount': 0},
          'ValidationException', one(min_err(0, 'shardCount', 1)))
    check(server, 'CreateStream', {'StreamName': uniq('z'), 'ShardCount': -3},
          'ValidationException', one(min_err(-3, 'shardCount', 1)))


def test_shard_count_too_large(server):
    # No static upper bound in the model: 100001 shards is refused by the
    # account shard limit (--shard-limit, 20000 by default).
    check(server, 'CreateStream', {'StreamName': uniq('big'), 'ShardCount': 100001},
          'LimitExceededException',
          message_re=(r'This request would exceed the shard limit for the account %s in '
                      r'us-east-1\. Current shard count for the account: \d+\. Limit: 20000\. '
                      r'Number of additional shards that would have resulted from this '
                      r'request: 100001\..*' % ACCOUNT))


@pytest.mark.smoke
def test_missing_stream_name(server):
    check(server, 'CreateStream', {'ShardCount': 1}, 'ValidationException',
          one("Value null at 'streamName' failed to satisfy constraint: "
              "Member must not be null"))


def test_two_errors_at_once(server):
    check(server, 'CreateStream', {'StreamName': 'a b', 'ShardCount': 0}, 'ValidationException',
          '2 validation errors detected: ' + min_err(0, 'shardCount', 1) + '; ' +
          regex_err('a b'))


def test_limits_on_list_operations(server):
    check(server, 'ListStreams', {'Limit': 0}, 'ValidationException',
          one(min_err(0, 'limit', 1)))
    check(server, 'ListStreams', {'Limit': 10001}, 'ValidationException',
          one(max_err(10001, 'limit', 10000)))
    check(server, 'ListShards', {'StreamName': 'x', 'MaxResults': 0}, 'ValidationException',
          one(min_err(0, 'maxResults', 1)))
    check(server, 'DescribeStream', {'StreamName': 'x', 'Limit': 0}, 'ValidationException',
          one(min_err(0, 'limit', 1)))


@pytest.mark.smoke
def test_resource_in_use(server, kinesis):
    name = uniq('dup')
    kinesis.create_stream(StreamName=name, ShardCount=1)
    msg = 'Stream %s under account %s already exists.' % (name, ACCOUNT)
    # Both while CREATING and once ACTIVE.
    check(server, 'CreateStream', {'StreamName': name, 'ShardCount': 1},
          'ResourceInUseException', msg)
    h.wait_status(kinesis, name, 'ACTIVE')
    with pytest.raises(kinesis.exceptions.ResourceInUseException) as ei:
        kinesis.create_stream(StreamName=name, ShardCount=2)
    assert ei.value.response['Error']['Message'] == msg
    kinesis.delete_stream(StreamName=name)


@pytest.mark.smoke
def test_resource_not_found(server, kinesis):
    name = uniq('missing')
    msg = 'Stream %s under account %s not found.' % (name, ACCOUNT)
    for op, extra in [('DescribeStream', {}), ('DescribeStreamSummary', {}),
                      ('DeleteStream', {}), ('ListShards', {}),
                      ('IncreaseStreamRetentionPeriod', {'RetentionPeriodHours': 48}),
                      ('DecreaseStreamRetentionPeriod', {'RetentionPeriodHours': 24})]:
        payload = dict({'StreamName': name}, **extra)
        check(server, op, payload, 'ResourceNotFoundException', msg)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as ei:
        kinesis.describe_stream(StreamName=name)
    assert ei.value.response['Error']['Message'] == msg


def test_limit_exceeded_small_shard_limit(server_factory):
    srv = server_factory(extra_args=['--shard-limit', '10'])
    c = srv.client()
    c.create_stream(StreamName='le-a', ShardCount=6)
    # Shards of a stream still CREATING count against the limit.
    with pytest.raises(c.exceptions.LimitExceededException) as ei:
        c.create_stream(StreamName='le-b', ShardCount=5)
    assert ei.value.response['Error']['Message'].startswith(
        'This request would exceed the shard limit for the account %s in us-east-1. '
        'Current shard count for the account: 6. Limit: 10. Number of additional shards '
        'that would have resulted from this request: 5.' % ACCOUNT), ei.value.response
    check(srv, 'CreateStream', {'StreamName': 'le-c', 'ShardCount': 11},
          'LimitExceededException', message_prefix='This request would exceed the shard limit')
    c.create_stream(StreamName='le-d', ShardCount=4)  # exactly at the limit
    h.wait_status(c, 'le-a', 'ACTIVE')
    h.wait_status(c, 'le-d', 'ACTIVE')
    assert sorted(c.list_streams()['StreamNames']) == ['le-a', 'le-d']
    with pytest.raises(c.exceptions.LimitExceededException):
        c.create_stream(StreamName='le-e', ShardCount=1)
    # Deleting a stream gives its shards back.
    c.delete_stream(StreamName='le-d')
    h.wait_gone(c, 'le-d')
    c.create_stream(StreamName='le-e', ShardCount=4)


@pytest.mark.smoke
def test_malformed_json(server):
    for body in [b'{"StreamName": ', b'hello', b'{"StreamName": "x",}', b'\xff\xfe{}']:
        st, hd, raw = server.raw('DescribeStream', body)
        assert st == 400, (body, raw)
        b = h.json.loads(raw)
        assert_error(st, hd, b, 'SerializationException')


def test_wrong_json_type(server):
    for op, payload in [('DescribeStream', {'StreamName': 123}),
                        ('DescribeStream', {'StreamName': ['a']}),
                        ('CreateStream', {'StreamName': 'x', 'ShardCount': 'one'}),
                        ('CreateStream', {'StreamName': 'x', 'ShardCount': {'a': 1}}),
                        ('ListStreams', {'Limit': True})]:
        st, hd, body = server.call(op, payload)
        assert_error(st, hd, body, 'SerializationException')


@pytest.mark.smoke
def test_unknown_operation(server):
    for target in ['Kinesis_20131202.NoSuchOperation', 'DynamoDB_20120810.ListTables',
                   'Kinesis_20131202.', 'ListStreams']:
        st, hd, body = server.call(target if '.' in target else 'X.' + target, {})
        assert_error(st, hd, body, 'UnknownOperationException')
    # And with no X-Amz-Target at all.
    st, hd, raw = server.raw(None, b'{}')
    assert_error(st, hd, h.json.loads(raw), 'UnknownOperationException')
