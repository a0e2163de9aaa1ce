# SPDX-License-Identifier: Apache-2.0
"""Issue 13 item 8: resource policies (Put/Get/DeleteResourcePolicy on stream
and consumer ARNs, enforced with the credential policies) and
UpdateStreamRecordDistributionStrategy.

Debian's botocore predates these operations, so they are called with the
raw signed client (Server.call: botocore's SigV4Auth over verified TLS);
everything else goes through boto3."""

import json
import time

import pytest

import security_helpers as sec
import sluice_helpers as h
from security_helpers import policy, stmt

ACCT = h.ACCOUNT
# A credential whose own policy covers only streams named other-*.
OTHER = sec.Principal('other', policy(stmt('Allow', 'kinesis:*',
                                           'arn:aws:kinesis:*:*:stream/other-*')))
# A credential whose own policy allows everything.
BROAD = sec.Principal('broad', policy(stmt('Allow', 'kinesis:*', '*')))
PRINCIPALS = [OTHER, BROAD]

READ_WRITE = ['kinesis:PutRecord', 'kinesis:PutRecords', 'kinesis:GetShardIterator',
              'kinesis:GetRecords', 'kinesis:DescribeStreamSummary']


def user_arn(p):
    return 'arn:aws:iam::%s:user/%s' % (ACCT, p.key_id)


def res_stmt(effect, principal, action, resource):
    return {'Effect': effect, 'Principal': principal, 'Action': action,
            'Resource': resource}


@pytest.fixture(scope='module')
def rp(module_server_factory, tmp_path_factory):
    """A server with the principals above, quotas off (1000 records to one
    shard within a second are part of the distribution tests)."""
    srv = module_server_factory(extra_args=['--quota-mode', 'off'])
    srv.stop()
    sec.add_principals(srv, PRINCIPALS)
    srv.start()
    return srv


def call_ok(srv, op, payload, who=None):
    kw = {'key_id': who.key_id, 'secret': who.secret} if who else {}
    st, hd, body = srv.call(op, payload, **kw)
    assert st == 200, (op, st, body)
    return body


def put_policy(srv, arn, doc):
    text = doc if isinstance(doc, str) else json.dumps(doc)
    call_ok(srv, 'PutResourcePolicy', {'ResourceARN': arn, 'Policy': text})
    return text


def get_policy(srv, arn):
    return call_ok(srv, 'GetResourcePolicy', {'ResourceARN': arn})['Policy']


def denied(fn, message_end, **kw):
    code, msg, status = sec.client_error(fn, **kw)
    assert (code, status) == ('AccessDeniedException', 400), (code, msg, status)
    assert msg.endswith(message_end), msg
    return msg


def new_stream(admin, shards=1, on_demand=False):
    name = h.uniq('rp')
    if on_demand:
        admin.create_stream(StreamName=name, StreamModeDetails={'StreamMode': 'ON_DEMAND'})
        return name, h.wait_status(admin, name, 'ACTIVE')['StreamARN']
    return name, h.create_active(admin, name, shards)['StreamARN']


def read_shard(c, name, shard):
    it = c.get_shard_iterator(StreamName=name, ShardId=shard,
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    out = []
    for _ in range(50):
        r = c.get_records(ShardIterator=it, Limit=10000)
        out += r['Records']
        if not r['Records'] and r.get('MillisBehindLatest', 0) == 0:
            break
        it = r['NextShardIterator']
    return out


def active_consumer(admin, sarn):
    carn = admin.register_stream_consumer(StreamARN=sarn, ConsumerName=h.uniq('c'))[
        'Consumer']['ConsumerARN']
    deadline = time.monotonic() + 10
    while admin.describe_stream_consumer(ConsumerARN=carn)['ConsumerDescription'][
            'ConsumerStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return carn


def test_round_trip(rp):
    """Get on a resource without a policy answers "{}"; Put stores the text
    as sent; Delete removes it (and deleting nothing succeeds)."""
    admin = rp.client()
    name, sarn = new_stream(admin)
    assert get_policy(rp, sarn) == '{}'
    text = put_policy(rp, sarn, '{"Version":"2012-10-17", "Statement": [\n {"Effect": "Allow",'
                      ' "Principal": {"AWS": "%s"}, "Action": "kinesis:Get*", "Resource": "%s"}]}'
                      % (user_arn(OTHER), sarn))
    assert get_policy(rp, sarn) == text
    # replaced whole by the next Put
    text2 = put_policy(rp, sarn, policy(res_stmt('Allow', '*', 'kinesis:Describe*', sarn)))
    assert get_policy(rp, sarn) == text2
    call_ok(rp, 'DeleteResourcePolicy', {'ResourceARN': sarn})
    assert get_policy(rp, sarn) == '{}'
    call_ok(rp, 'DeleteResourcePolicy', {'ResourceARN': sarn})
    # a consumer ARN has its own
    carn = active_consumer(admin, sarn)
    ctext = put_policy(rp, carn, policy(res_stmt('Allow', '*', 'kinesis:*', carn)))
    assert get_policy(rp, carn) == ctext
    assert get_policy(rp, sarn) == '{}'
    admin.deregister_stream_consumer(ConsumerARN=carn)


def test_invalid_requests(rp):
    admin = rp.client()
    name, sarn = new_stream(admin)

    def bad(payload, type_, message=None, message_prefix=None):
        st, hd, body = rp.call('PutResourcePolicy', payload)
        h.assert_error(st, hd, body, type_, message, message_prefix=message_prefix)

    ok_stmt = res_stmt('Allow', '*', 'kinesis:*', sarn)
    bad({'ResourceARN': sarn, 'Policy': 'not json'}, 'InvalidArgumentException',
        'Invalid policy document: not a JSON object.')
    bad({'ResourceARN': sarn, 'Policy': '{"Statement": [{"Effect": "Allow", '
         '"Action": "kinesis:*", "Resource": "*"}]}'}, 'InvalidArgumentException',
        'Invalid policy document: a statement needs Effect, Principal, Action and Resource.')
    cond = dict(ok_stmt, Condition={'IpAddress': {'aws:SourceIp': '10.0.0.0/8'}})
    bad({'ResourceARN': sarn, 'Policy': json.dumps(policy(cond))}, 'InvalidArgumentException',
        "Invalid policy document: Condition is not supported (operator 'IpAddress', key "
        "'aws:SourceIp'): sluice evaluates no condition keys.")
    bad({'ResourceARN': sarn, 'Policy': json.dumps(policy(dict(ok_stmt, NotResource='x')))},
        'InvalidArgumentException',
        "Invalid policy document: statement member 'NotResource' is not supported.")
    bad({'ResourceARN': sarn, 'Policy': json.dumps(policy(*[ok_stmt] * 65))},
        'InvalidArgumentException', 'Invalid policy document: too many statements.')
    bad({'ResourceARN': sarn, 'Policy': json.dumps(policy(dict(
        ok_stmt, Principal={'Service': 'firehose.amazonaws.com'})))},
        'InvalidArgumentException', message_prefix='Invalid policy document: Principal must')
    # 20 KiB is the limit: one byte over is refused, the limit itself is not
    doc = json.dumps(policy(ok_stmt))
    pad = 20480 - len(doc)
    at_limit = doc[:-1] + ' ' * pad + '}'
    assert len(at_limit) == 20480
    put_policy(rp, sarn, at_limit)
    bad({'ResourceARN': sarn, 'Policy': at_limit[:-1] + ' }'}, 'InvalidArgumentException',
        'Policy size exceeds the maximum allowed size of 20480 bytes.')
    assert get_policy(rp, sarn) == at_limit  # the refused ones changed nothing
    bad({'ResourceARN': sarn}, 'ValidationException',
        "1 validation error detected: Value null at 'policy' failed to satisfy constraint: "
        "Member must not be null")
    bad({'ResourceARN': 'arn:aws:kinesis:us-east-1:%s:table/x' % ACCT, 'Policy': '{}'},
        'ValidationException', message_prefix="1 validation error detected: Value "
        "'arn:aws:kinesis:us-east-1:%s:table/x' at 'resourceARN' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: " % ACCT)
    gone = 'arn:aws:kinesis:us-east-1:%s:stream/%s' % (ACCT, h.uniq('nope'))
    bad({'ResourceARN': gone, 'Policy': doc}, 'ResourceNotFoundException',
        'Stream %s under account %s not found.' % (gone.split('/')[-1], ACCT))
    st, hd, body = rp.call('GetResourcePolicy', {'ResourceARN': sarn + '/consumer/c:1'})
    h.assert_error(st, hd, body, 'ResourceNotFoundException',
                   'Consumer c under stream %s and account %s not found.' % (name, ACCT))


def test_cross_credential_grant(rp):
    """A credential whose own policy does not cover a stream reads and
    writes it once the stream's resource policy names it; another stream
    stays denied; naming only the account delegates and grants nothing."""
    admin, c = rp.client(), OTHER.client(rp)
    name, sarn = new_stream(admin)
    other_name, other_arn = new_stream(admin)
    denied(c.put_record, 'because no identity-based policy allows the action',
           StreamName=name, Data=b'x', PartitionKey='k')
    put_policy(rp, sarn, policy(res_stmt('Allow', {'AWS': ACCT}, READ_WRITE, sarn)))
    denied(c.put_record, 'because no identity-based policy allows the action',
           StreamName=name, Data=b'x', PartitionKey='k')
    put_policy(rp, sarn, policy(res_stmt('Allow', {'AWS': [user_arn(OTHER)]}, READ_WRITE,
                                         sarn)))
    c.put_record(StreamName=name, Data=b'granted', PartitionKey='k')
    r = c.put_records(StreamName=name, Records=[{'Data': b'two', 'PartitionKey': 'k'}])
    assert r['FailedRecordCount'] == 0
    assert [x['Data'] for x in read_shard(c, name, h.shard_id(0))] == [b'granted', b'two']
    assert c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'][
        'StreamName'] == name
    # not granted: another action on it, and another stream
    denied(c.list_shards, 'because no identity-based policy allows the action',
           StreamName=name)
    denied(c.put_record, 'because no identity-based policy allows the action',
           StreamName=other_name, Data=b'x', PartitionKey='k')
    # removed: denied again at once
    call_ok(rp, 'DeleteResourcePolicy', {'ResourceARN': sarn})
    denied(c.put_record, 'because no identity-based policy allows the action',
           StreamName=name, Data=b'x', PartitionKey='k')
    # the credential cannot manage the policy itself
    st, hd, body = rp.call('PutResourcePolicy', {'ResourceARN': sarn, 'Policy': json.dumps(
        policy(res_stmt('Allow', '*', 'kinesis:*', sarn)))}, key_id=OTHER.key_id,
        secret=OTHER.secret)
    h.assert_error(st, hd, body, 'AccessDeniedException', sec.denied_message(
        OTHER.key_id, 'PutResourcePolicy', sarn))
    assert other_arn != sarn


def test_resource_deny_beats_identity_allow(rp):
    """An explicit Deny in the resource policy wins over an Allow in the
    credential's policy, and binds full-access keys too (on the record
    path, which skips authorisation for them otherwise); the administrator
    can still read and remove the policy."""
    admin, b = rp.client(), BROAD.client(rp)
    name, sarn = new_stream(admin)
    b.put_record(StreamName=name, Data=b'x', PartitionKey='k')
    put_policy(rp, sarn, policy(res_stmt('Deny', {'AWS': user_arn(BROAD)},
                                         'kinesis:Put*', sarn)))
    msg = denied(b.put_record, 'because an explicit deny in a resource-based policy',
                 StreamName=name, Data=b'x', PartitionKey='k')
    assert msg == ('User: %s is not authorized to perform: kinesis:PutRecord on resource: '
                   '%s because an explicit deny in a resource-based policy'
                   % (user_arn(BROAD), sarn))
    assert read_shard(b, name, h.shard_id(0))[0]['Data'] == b'x'  # reads still allowed
    admin.put_record(StreamName=name, Data=b'admin', PartitionKey='k')  # not named
    # "*" names everyone, the full-access administrator included
    put_policy(rp, sarn, policy(res_stmt('Deny', '*', ['kinesis:PutRecord*',
                                                       'kinesis:GetRecords'], sarn)))
    for c in (admin, b):
        denied(c.put_records, 'because an explicit deny in a resource-based policy',
               StreamName=name, Records=[{'Data': b'x', 'PartitionKey': 'k'}])
        it = c.get_shard_iterator(StreamName=name, ShardId=h.shard_id(0),
                                  ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        denied(c.get_records, 'because an explicit deny in a resource-based policy',
               ShardIterator=it)
    assert json.loads(get_policy(rp, sarn))['Statement'][0]['Effect'] == 'Deny'
    call_ok(rp, 'DeleteResourcePolicy', {'ResourceARN': sarn})
    admin.put_record(StreamName=name, Data=b'again', PartitionKey='k')
    b.put_record(StreamName=name, Data=b'again', PartitionKey='k')


def test_consumer_policy(rp):
    """A policy on a consumer ARN grants DescribeStreamConsumer and
    SubscribeToShard on that consumer to a credential that has neither."""
    admin, c = rp.client(), OTHER.client(rp)
    name, sarn = new_stream(admin)
    carn = active_consumer(admin, sarn)

    def subscribe():
        body = json.dumps({'ConsumerARN': carn, 'ShardId': h.shard_id(0),
                           'StartingPosition': {'Type': 'TRIM_HORIZON'}}).encode()
        hdrs = h.h2_headers(rp, 'SubscribeToShard', body, key_id=OTHER.key_id,
                            secret=OTHER.secret)
        return h.h2_exchange(rp, hdrs, body, stop_at_headers=True, timeout_s=3)[0]

    denied(c.describe_stream_consumer, 'because no identity-based policy allows the action',
           ConsumerARN=carn)
    assert subscribe() == 400
    put_policy(rp, carn, policy(res_stmt('Allow', {'AWS': user_arn(OTHER)},
                                         ['kinesis:DescribeStreamConsumer',
                                          'kinesis:SubscribeToShard'], carn)))
    assert c.describe_stream_consumer(ConsumerARN=carn)['ConsumerDescription'][
        'ConsumerARN'] == carn
    assert subscribe() == 200
    # the consumer's policy says nothing about its stream
    denied(c.describe_stream_summary, 'because no identity-based policy allows the action',
           StreamName=name)
    # deregistered: the policy goes with it
    admin.deregister_stream_consumer(ConsumerARN=carn)
    deadline = time.monotonic() + 10
    while True:
        st, _, body = rp.call('GetResourcePolicy', {'ResourceARN': carn})
        if st == 400:
            assert body['__type'] == 'ResourceNotFoundException', body
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_policy_removed_with_stream(rp):
    admin, c = rp.client(), OTHER.client(rp)
    name, sarn = new_stream(admin)
    put_policy(rp, sarn, policy(res_stmt('Allow', '*', READ_WRITE, sarn)))
    c.put_record(StreamName=name, Data=b'x', PartitionKey='k')
    admin.delete_stream(StreamName=name)
    h.wait_gone(admin, name)
    h.create_active(admin, name)
    assert get_policy(rp, sarn) == '{}'
    denied(c.put_record, 'because no identity-based policy allows the action',
           StreamName=name, Data=b'x', PartitionKey='k')


def test_audited(rp):
    admin, b = rp.client(), BROAD.client(rp)
    name, sarn = new_stream(admin)
    put_policy(rp, sarn, policy(res_stmt('Deny', {'AWS': user_arn(BROAD)}, 'kinesis:*', sarn)))
    sec.client_error(b.describe_stream_summary, StreamName=name)
    deadline = time.monotonic() + 5
    while True:
        lines = sec.audit_lines(rp)
        put = [x for x in lines if x.get('operation') == 'PutResourcePolicy' and
               x.get('stream') == name and x.get('result') == 'OK']
        deny = [x for x in lines if x.get('operation') == 'DescribeStreamSummary' and
                x.get('stream') == name and x.get('principal') == BROAD.key_id and
                x.get('result') == 'AccessDeniedException']
        if put and deny:
            break
        assert time.monotonic() < deadline, lines[-10:]
        time.sleep(0.05)
    assert put[0]['principal'] == rp.key_id
    assert all('Statement' not in json.dumps(x) for x in lines)  # never the policy text


# --- UpdateStreamRecordDistributionStrategy ------------------------------

def set_distribution(srv, sarn, strategy):
    return srv.call('UpdateStreamRecordDistributionStrategy',
                    {'StreamARN': sarn, 'RecordDistributionStrategy': strategy})


def strategy_of(srv, name):
    st, _, body = srv.call('DescribeStreamSummary', {'StreamName': name})
    assert st == 200, body
    return body['StreamDescriptionSummary'].get('RecordDistributionStrategy')


def put_1000_one_key(c, name):
    for _ in range(2):
        r = c.put_records(StreamName=name, Records=[
            {'Data': b'%d' % i, 'PartitionKey': 'one-key'} for i in range(500)])
        assert r['FailedRecordCount'] == 0
    return r


def counts(c, name, n_shards):
    return [len(read_shard(c, name, h.shard_id(i))) for i in range(n_shards)]


def test_auto_distribution(rp):
    """AUTO: 1000 records with one partition key land evenly on the 4
    shards of an on-demand stream (ExplicitHashKey ignored too);
    USER_PARTITION_KEY keeps them on one shard."""
    admin = rp.client()
    name, sarn = new_stream(admin, on_demand=True)
    assert strategy_of(rp, name) == 'USER_PARTITION_KEY'
    st, _, body = set_distribution(rp, sarn, 'AUTO')
    assert st == 200, body
    assert strategy_of(rp, name) == 'AUTO'
    put_1000_one_key(admin, name)
    admin.put_record(StreamName=name, Data=b'ehk', PartitionKey='one-key',
                     ExplicitHashKey='0')
    got = counts(admin, name, 4)
    assert sum(got) == 1001, got
    assert all(200 <= n <= 300 for n in got), got

    user, uarn = new_stream(admin, on_demand=True)
    put_1000_one_key(admin, user)
    got = counts(admin, user, 4)
    assert sorted(got) == [0, 0, 0, 1000], got
    # back to USER_PARTITION_KEY: one shard again
    st, _, body = set_distribution(rp, sarn, 'USER_PARTITION_KEY')
    assert st == 200, body
    assert strategy_of(rp, name) == 'USER_PARTITION_KEY'
    before = counts(admin, name, 4)
    put_1000_one_key(admin, name)
    diff = [a - b for a, b in zip(counts(admin, name, 4), before)]
    assert sorted(diff) == [0, 0, 0, 1000], diff


def test_distribution_errors(rp):
    admin = rp.client()
    name, sarn = new_stream(admin, shards=2)
    st, hd, body = set_distribution(rp, sarn, 'AUTO')
    h.assert_error(st, hd, body, 'InvalidArgumentException',
                   'The record distribution strategy can only be set for stream %s under '
                   'account %s in ON_DEMAND mode.' % (name, ACCT))
    assert strategy_of(rp, name) is None  # provisioned: not reported
    st, hd, body = set_distribution(rp, sarn, 'RANDOM')
    h.assert_error(st, hd, body, 'ValidationException',
                   "1 validation error detected: Value 'RANDOM' at "
                   "'recordDistributionStrategy' failed to satisfy constraint: Member must "
                   "satisfy enum value set: [AUTO, USER_PARTITION_KEY]")
    st, hd, body = rp.call('UpdateStreamRecordDistributionStrategy', {'StreamName': name})
    h.assert_error(st, hd, body, 'ValidationException',
                   "2 validation errors detected: Value null at 'streamARN' failed to "
                   "satisfy constraint: Member must not be null; Value null at "
                   "'recordDistributionStrategy' failed to satisfy constraint: Member must "
                   "not be null")
    # every violation, in the model's order (ResourceARN before Policy)
    st, hd, body = rp.call('PutResourcePolicy', {})
    h.assert_error(st, hd, body, 'ValidationException',
                   "2 validation errors detected: Value null at 'resourceARN' failed to "
                   "satisfy constraint: Member must not be null; Value null at 'policy' "
                   "failed to satisfy constraint: Member must not be null")
    # switching an AUTO stream to PROVISIONED routes by key again
    od, odarn = new_stream(admin, on_demand=True)
    assert set_distribution(rp, odarn, 'AUTO')[0] == 200
    admin.update_stream_mode(StreamARN=odarn, StreamModeDetails={'StreamMode': 'PROVISIONED'})
    h.wait_status(admin, od, 'ACTIVE')
    admin.update_stream_mode(StreamARN=odarn, StreamModeDetails={'StreamMode': 'ON_DEMAND'})
    h.wait_status(admin, od, 'ACTIVE')
    assert strategy_of(rp, od) == 'USER_PARTITION_KEY'


def test_create_stream_with_distribution(rp):
    """CreateStream takes RecordDistributionStrategy (the JS SDK v3's model):
    AUTO for an on-demand stream, refused for a provisioned one."""
    name = h.uniq('ca')
    st, _, body = rp.call('CreateStream', {'StreamName': name, 'StreamModeDetails': {
        'StreamMode': 'ON_DEMAND'}, 'RecordDistributionStrategy': 'AUTO'})
    assert st == 200, body
    h.wait_status(rp.client(), name, 'ACTIVE')
    assert strategy_of(rp, name) == 'AUTO'
    put_1000_one_key(rp.client(), name)
    got = counts(rp.client(), name, 4)
    assert all(200 <= n <= 300 for n in got), got
    prov = h.uniq('cp')
    st, hd, body = rp.call('CreateStream', {'StreamName': prov, 'ShardCount': 2,
                                            'RecordDistributionStrategy': 'AUTO'})
    h.assert_error(st, hd, body, 'InvalidArgumentException',
                   'The record distribution strategy can only be set for stream %s under '
                   'account %s in ON_DEMAND mode.' % (prov, ACCT))
    st, hd, body = rp.call('CreateStream', {'StreamName': prov, 'ShardCount': 2,
                                            'RecordDistributionStrategy': 'x'})
    h.assert_error(st, hd, body, 'ValidationException',
                   "1 validation error detected: Value 'x' at 'recordDistributionStrategy' "
                   "failed to satisfy constraint: Member must satisfy enum value set: "
                   "[AUTO, USER_PARTITION_KEY]")
    st, _, body = rp.call('DescribeStreamSummary', {'StreamName': prov})
    assert body['__type'] == 'ResourceNotFoundException', body


def test_survives_restart(server_factory):
    """Policies and the distribution strategy are durable: after a restart
    the grant still works, the text is the same, AUTO still spreads."""
    srv = server_factory(extra_args=['--quota-mode', 'off'])
    srv.stop()
    sec.add_principals(srv, [OTHER])
    srv.start()
    admin = srv.client()
    name, sarn = new_stream(admin)
    auto, aarn = new_stream(admin, on_demand=True)
    text = put_policy(srv, sarn, policy(res_stmt('Allow', {'AWS': user_arn(OTHER)},
                                                 READ_WRITE, sarn)))
    assert set_distribution(srv, aarn, 'AUTO')[0] == 200
    srv.stop()
    srv.start()
    admin, c = srv.client(), OTHER.client(srv)
    assert get_policy(srv, sarn) == text
    c.put_record(StreamName=name, Data=b'after restart', PartitionKey='k')
    assert strategy_of(srv, auto) == 'AUTO'
    put_1000_one_key(admin, auto)
    got = counts(admin, auto, 4)
    assert all(200 <= n <= 300 for n in got), got


def test_create_channel_authorised_on_its_stream(rp):
    """CreateChannel names its stream only inside StreamConfigurationList;
    it is authorised as that stream, so the stream's resource policy (an
    explicit Deny here) binds it. It was authorised on '*' before, which
    no stream's policy could name."""
    admin = rp.client()
    name, sarn = new_stream(admin, on_demand=True)
    put_policy(rp, sarn, policy(res_stmt('Deny', '*', 'kinesis:CreateChannel', sarn)))
    payload = {'ChannelName': 'ch-' + name[-8:],
               'ServiceExecutionRoleARN': 'arn:aws:iam::%s:role/r' % ACCT,
               'StreamConfigurationList': [{'StreamARN': sarn,
                                            'RecordConfiguration': {'RecordFormatType': 'JSON'}}],
               'S3DestinationConfiguration': {'StorageConfiguration': {
                   'BucketARN': 'arn:aws:s3:::bucket-a', 'ExpectedBucketOwner': ACCT,
                   'CompressionType': 'GZIP'}}}
    st, _, body = rp.call('CreateChannel', payload)
    assert (st, body.get('__type')) == (400, 'AccessDeniedException'), (st, body)
    assert body['message'].endswith('on resource: %s because an explicit deny in a '
                                    'resource-based policy' % sarn), body
    call_ok(rp, 'DeleteResourcePolicy', {'ResourceARN': sarn})
    call_ok(rp, 'CreateChannel', payload)


def channel_payload(sarn, cname):
    return {'ChannelName': cname,
            'ServiceExecutionRoleARN': 'arn:aws:iam::%s:role/r' % ACCT,
            'StreamConfigurationList': [{'StreamARN': sarn,
                                         'RecordConfiguration': {'RecordFormatType': 'JSON'}}],
            'S3DestinationConfiguration': {'StorageConfiguration': {
                'BucketARN': 'arn:aws:s3:::bucket-a', 'ExpectedBucketOwner': ACCT,
                'CompressionType': 'GZIP'}}}


def list_channels(srv, filters=None, who=None):
    payload = {'StreamFilter': [{'StreamARN': a} for a in filters]} if filters else {}
    kw = {'key_id': who.key_id, 'secret': who.secret} if who else {}
    return srv.call('ListChannels', payload, **kw)


def test_list_channels_authorised_on_filtered_streams(rp):
    """ListChannels with a StreamFilter lists only the channels of the
    streams it names, so it is authorised as each of them: a Deny in a
    named stream's resource policy refuses it (it was authorised on '*',
    which no stream's policy can name, so the channels of a stream whose
    policy denies ListChannels could be listed by naming it). Without a
    filter it lists the account's channels and is authorised on '*'."""
    admin = rp.client()
    name, sarn = new_stream(admin, on_demand=True)
    cname = 'lc-' + name[-8:]
    call_ok(rp, 'CreateChannel', channel_payload(sarn, cname))
    put_policy(rp, sarn, policy(res_stmt('Deny', '*', 'kinesis:ListChannels', sarn)))
    for who in (None, BROAD):
        st, _, body = list_channels(rp, [sarn], who)
        assert (st, body.get('__type')) == (400, 'AccessDeniedException'), (st, body)
        assert body['message'].endswith('on resource: %s because an explicit deny in a '
                                        'resource-based policy' % sarn), body
    # another stream named with it: still refused (every named stream is checked)
    _, other_arn = new_stream(admin, on_demand=True)
    st, _, body = list_channels(rp, [other_arn, sarn])
    assert (st, body.get('__type')) == (400, 'AccessDeniedException'), (st, body)
    # the unfiltered list is the account's, not the stream's
    names = [c['ChannelName'] for c in call_ok(rp, 'ListChannels', {})['ChannelSummaries']]
    assert cname in names
    call_ok(rp, 'DeleteResourcePolicy', {'ResourceARN': sarn})
    got = call_ok(rp, 'ListChannels', {'StreamFilter': [{'StreamARN': sarn}]})
    assert [c['ChannelName'] for c in got['ChannelSummaries']] == [cname]
    call_ok(rp, 'DeleteChannel', {'ChannelARN': got['ChannelSummaries'][0]['ChannelARN']})


def test_list_channels_identity_policy_per_stream(rp):
    """A credential allowed only on streams named other-* lists the
    channels of such a stream by naming it, but not those of a stream its
    policy does not cover, nor the account's whole list ('*')."""
    admin = rp.client()
    mine = h.uniq('other')
    admin.create_stream(StreamName=mine, StreamModeDetails={'StreamMode': 'ON_DEMAND'})
    mine_arn = h.wait_status(admin, mine, 'ACTIVE')['StreamARN']
    _, theirs_arn = new_stream(admin, on_demand=True)
    cname = 'lo-' + mine[-8:]
    call_ok(rp, 'CreateChannel', channel_payload(mine_arn, cname))
    got = call_ok(rp, 'ListChannels', {'StreamFilter': [{'StreamARN': mine_arn}]}, who=OTHER)
    assert [c['ChannelName'] for c in got['ChannelSummaries']] == [cname]
    for filters, res in (([theirs_arn], theirs_arn), ([mine_arn, theirs_arn], theirs_arn),
                         (None, '*')):
        st, hd, body = list_channels(rp, filters, OTHER)
        h.assert_error(st, hd, body, 'AccessDeniedException',
                       sec.denied_message(OTHER.key_id, 'ListChannels', res))
    call_ok(rp, 'DeleteChannel', {'ChannelARN': got['ChannelSummaries'][0]['ChannelARN']})


def test_list_shards_next_token_authorised_on_its_stream(rp):
    """A ListShards NextToken names its stream (no StreamName may come with
    it), so a later page is authorised as that stream, like the first. It
    was authorised on '*': a key allowed only on its own streams could not
    page, and a Deny on a stream did not bind a page (the token is the hex
    of the stream's name and creation time, which ListStreams shows)."""
    admin, c, b = rp.client(), OTHER.client(rp), BROAD.client(rp)
    mine = h.uniq('other')
    h.create_active(admin, mine, 3)
    first = c.list_shards(StreamName=mine, MaxResults=1)
    assert len(first['Shards']) == 1 and first.get('NextToken'), first
    second = c.list_shards(NextToken=first['NextToken'], MaxResults=1)
    assert [s['ShardId'] for s in second['Shards']] == [h.shard_id(1)], second
    # a stream the key's policy does not cover: denied as that stream
    name, sarn = new_stream(admin, shards=3)
    tok = admin.list_shards(StreamName=name, MaxResults=1)['NextToken']
    denied(c.list_shards, 'on resource: %s because no identity-based policy allows the action'
           % sarn, NextToken=tok, MaxResults=1)
    # an explicit Deny in the stream's resource policy binds the pages too
    assert b.list_shards(NextToken=tok, MaxResults=1)['Shards']
    put_policy(rp, sarn, policy(res_stmt('Deny', {'AWS': user_arn(BROAD)},
                                         'kinesis:ListShards', sarn)))
    denied(b.list_shards, 'on resource: %s because an explicit deny in a resource-based '
           'policy' % sarn, NextToken=tok, MaxResults=1)
    denied(b.list_shards, 'because an explicit deny in a resource-based policy',
           StreamName=name)
    call_ok(rp, 'DeleteResourcePolicy', {'ResourceARN': sarn})
    # not one of ours: authorised on '*' (the key allowed on '*' gets
    # ListShards' own refusal; the key allowed on its streams only, denied)
    code, msg, status = sec.client_error(b.list_shards, NextToken='zz')
    assert code == 'InvalidArgumentException', (code, msg)
    denied(c.list_shards, 'on resource: * because no identity-based policy allows the action',
           NextToken='zz')


def test_consumer_named_by_stream_and_name_authorised_on_its_arn(rp):
    """DescribeStreamConsumer and DeregisterStreamConsumer may name their
    consumer by StreamARN and ConsumerName: they act on the consumer, so
    they are authorised on its ARN and its resource policy binds them as
    when it is named by ConsumerARN. They were authorised as the stream,
    so naming the consumer this way stepped around a Deny on it."""
    admin, b = rp.client(), BROAD.client(rp)
    name, sarn = new_stream(admin)
    carn = active_consumer(admin, sarn)
    cname = carn.split('/consumer/')[1].rsplit(':', 1)[0]
    put_policy(rp, carn, policy(res_stmt('Deny', {'AWS': user_arn(BROAD)},
                                         ['kinesis:DescribeStreamConsumer',
                                          'kinesis:DeregisterStreamConsumer'], carn)))
    end = 'on resource: %s because an explicit deny in a resource-based policy' % carn
    denied(b.describe_stream_consumer, end, ConsumerARN=carn)
    denied(b.describe_stream_consumer, end, StreamARN=sarn, ConsumerName=cname)
    denied(b.deregister_stream_consumer, end, StreamARN=sarn, ConsumerName=cname)
    assert admin.describe_stream_consumer(StreamARN=sarn, ConsumerName=cname)[
        'ConsumerDescription']['ConsumerARN'] == carn  # not named in the Deny
    call_ok(rp, 'DeleteResourcePolicy', {'ResourceARN': carn})
    assert b.describe_stream_consumer(StreamARN=sarn, ConsumerName=cname)[
        'ConsumerDescription']['ConsumerStatus'] == 'ACTIVE'
    b.deregister_stream_consumer(StreamARN=sarn, ConsumerName=cname)
