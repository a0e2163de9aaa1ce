# SPDX-License-Identifier: Apache-2.0
"""Resharding with boto3: SplitShard, MergeShards, UpdateShardCount
(UNIFORM_SCALING), their lineage in ListShards/DescribeStream, ShardFilter,
ChildShards at the end of a closed shard, Kinesis's error texts, and the
KCL-style ordering guarantee across splits and merges under concurrent
writes."""

import datetime
import time

import records_helpers as rh
import reshard_helpers as rs
from sluice_helpers import ACCOUNT, MAX_HASH, assert_error, hash_ranges, shard_id, uniq


def put_some(kinesis, name, n=20, prefix='k'):
    """n records with distinct keys; returns {shard id: last sequence number}."""
    last = {}
    for i in range(n):
        r = kinesis.put_record(StreamName=name, PartitionKey='%s%d' % (prefix, i),
                               Data=b'x%d' % i)
        last[r['ShardId']] = r['SequenceNumber']
    return last


def shards_of(kinesis, name):
    ls = rh.list_all_shards(kinesis, name)
    ds = rs.describe_all_shards(kinesis, name)
    assert ls == ds, (ls, ds)
    return ls


UPDATING_S = 0.3  # conftest's --create-delay-ms: how long a reshard keeps UPDATING


def assert_updating_then_active(kinesis, name, t_sent):
    """The stream is UPDATING right after a reshard, then ACTIVE. t_sent:
    time.monotonic() before the reshard request was sent. The window opens
    after that, so a status read that returns within UPDATING_S of t_sent
    must see UPDATING; a slower one (ASan, a loaded machine) may already see
    ACTIVE, and then proves nothing either way."""
    st = rs.status(kinesis, name)
    assert st == 'UPDATING' or time.monotonic() - t_sent >= UPDATING_S, st
    rs.wait_active(kinesis, name)


def test_split_shard(kinesis):
    name = uniq('split')
    kinesis.create_stream(StreamName=name, ShardCount=1)
    rs.wait_active(kinesis, name)
    last = put_some(kinesis, name)
    assert list(last) == [shard_id(0)]
    mid = 2 ** 127
    t_sent = time.monotonic()
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                        NewStartingHashKey=str(mid))
    assert_updating_then_active(kinesis, name, t_sent)
    shards = shards_of(kinesis, name)
    assert [s['ShardId'] for s in shards] == [shard_id(i) for i in range(3)]
    parent, a, b = shards
    assert 'EndingSequenceNumber' in parent['SequenceNumberRange'], parent
    assert int(parent['SequenceNumberRange']['EndingSequenceNumber']) >= int(last[shard_id(0)])
    for kid in (a, b):
        assert kid['ParentShardId'] == shard_id(0), kid
        assert 'AdjacentParentShardId' not in kid, kid
        assert rs.is_open(kid), kid
    assert rs.hash_range(a) == (0, mid - 1)
    assert rs.hash_range(b) == (mid, MAX_HASH)
    rs.assert_partition(shards)
    rs.assert_lineage(shards, last)
    # New records go to the children, by hash.
    router = rh.Router(rs.open_shards(shards))
    for i in range(20):
        k = 'after%d' % i
        r = kinesis.put_record(StreamName=name, PartitionKey=k, Data=b'y')
        assert r['ShardId'] == router.shard_for(k), (k, r)
        assert int(r['SequenceNumber']) > int(parent['SequenceNumberRange'][
            'EndingSequenceNumber'])


def test_merge_shards(kinesis):
    name = uniq('merge')
    kinesis.create_stream(StreamName=name, ShardCount=2)
    rs.wait_active(kinesis, name)
    last = put_some(kinesis, name, 30)
    assert set(last) == {shard_id(0), shard_id(1)}
    t_sent = time.monotonic()
    kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(0),
                         AdjacentShardToMerge=shard_id(1))
    assert_updating_then_active(kinesis, name, t_sent)
    shards = shards_of(kinesis, name)
    assert [s['ShardId'] for s in shards] == [shard_id(i) for i in range(3)]
    kid = shards[2]
    assert kid['ParentShardId'] == shard_id(0)
    assert kid['AdjacentParentShardId'] == shard_id(1)
    assert rs.hash_range(kid) == (0, MAX_HASH)
    assert not rs.is_open(shards[0]) and not rs.is_open(shards[1])
    rs.assert_partition(shards)
    rs.assert_lineage(shards, last)
    r = kinesis.put_record(StreamName=name, PartitionKey='z', Data=b'z')
    assert r['ShardId'] == shard_id(2)


def test_merge_shards_reverse_order(kinesis):
    """AdjacentShardToMerge below ShardToMerge is still an adjacent pair (AWS
    docs: the two ranges form a contiguous set)."""
    name = uniq('mrev')
    kinesis.create_stream(StreamName=name, ShardCount=2)
    rs.wait_active(kinesis, name)
    kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(1),
                         AdjacentShardToMerge=shard_id(0))
    rs.wait_active(kinesis, name)
    shards = shards_of(kinesis, name)
    assert rs.hash_range(shards[2]) == (0, MAX_HASH)
    assert shards[2]['ParentShardId'] == shard_id(1)
    assert shards[2]['AdjacentParentShardId'] == shard_id(0)
    rs.assert_partition(shards)


def test_update_shard_count_2_4_2(server, kinesis):
    name = uniq('usc')
    kinesis.create_stream(StreamName=name, ShardCount=2)
    rs.wait_active(kinesis, name)
    last = put_some(kinesis, name, 30)
    t_sent = time.monotonic()
    r = kinesis.update_shard_count(StreamName=name, TargetShardCount=4,
                                   ScalingType='UNIFORM_SCALING')
    assert (r['StreamName'], r['CurrentShardCount'], r['TargetShardCount']) == (name, 2, 4)
    assert_updating_then_active(kinesis, name, t_sent)
    shards = shards_of(kinesis, name)
    opened = rs.open_shards(shards)
    assert len(opened) == 4, shards
    assert [rs.hash_range(s) for s in opened] == [
        (int(a), int(b)) for a, b in hash_ranges(4)]
    rs.assert_partition(shards)
    rs.assert_lineage(shards, last)
    for s in opened:
        assert s['ParentShardId'] in (shard_id(0), shard_id(1)), s
    s = kinesis.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
    assert s['OpenShardCount'] == 4, s

    # A target equal to the open count changes nothing.
    r = kinesis.update_shard_count(StreamName=name, TargetShardCount=4,
                                   ScalingType='UNIFORM_SCALING')
    assert (r['CurrentShardCount'], r['TargetShardCount']) == (4, 4)
    rs.wait_active(kinesis, name)
    assert shards_of(kinesis, name) == shards

    last2 = put_some(kinesis, name, 40, prefix='q')
    # Raw: botocore 1.29 drops the StreamARN it does not know.
    t_sent = time.monotonic()
    st, _, r = server.call('UpdateShardCount', {'StreamName': name, 'TargetShardCount': 2,
                                                'ScalingType': 'UNIFORM_SCALING'})
    assert st == 200 and r == {
        'StreamName': name, 'CurrentShardCount': 4, 'TargetShardCount': 2,
        'StreamARN': 'arn:aws:kinesis:us-east-1:%s:stream/%s' % (ACCOUNT, name)}, r
    assert_updating_then_active(kinesis, name, t_sent)
    shards = shards_of(kinesis, name)
    opened = rs.open_shards(shards)
    assert len(opened) == 2 and len(shards) == 8, shards
    assert [rs.hash_range(s) for s in opened] == [(0, 2 ** 127 - 1), (2 ** 127, MAX_HASH)]
    rs.assert_partition(shards)
    rs.assert_lineage(shards, last2)
    # 4 -> 2 evenly: each new shard is exactly the union of two old ones.
    assert {(s['ParentShardId'], s['AdjacentParentShardId']) for s in opened} == {
        (shard_id(2), shard_id(3)), (shard_id(4), shard_id(5))}


def error_of(server, op, payload):
    return server.call(op, payload)


def test_reshard_errors(server, kinesis):
    name = uniq('rserr')
    kinesis.create_stream(StreamName=name, ShardCount=3)
    rs.wait_active(kinesis, name)
    start, end = rs.hash_range(kinesis.list_shards(StreamName=name)['Shards'][1])

    def bad_key(key):
        st, hd, body = server.call('SplitShard', {'StreamName': name,
                                                  'ShardToSplit': shard_id(1),
                                                  'NewStartingHashKey': str(key)})
        assert_error(st, hd, body, 'InvalidArgumentException',
                     'NewStartingHashKey %s used in SplitShard() on shard %s in stream %s '
                     'under account %s is not both greater than one plus the shard\'s '
                     'StartingHashKey %d and less than the shard\'s EndingHashKey %d.'
                     % (key, shard_id(1), name, ACCOUNT, start, end))
    for key in (start, start + 1, end, end + 5, 0):
        bad_key(key)

    st, hd, body = server.call('SplitShard', {'StreamName': name,
                                              'ShardToSplit': shard_id(9),
                                              'NewStartingHashKey': str(start + 10)})
    assert_error(st, hd, body, 'ResourceNotFoundException',
                 'Could not find shard %s in stream %s under account %s.'
                 % (shard_id(9), name, ACCOUNT))

    st, hd, body = server.call('MergeShards', {'StreamName': name,
                                               'ShardToMerge': shard_id(0),
                                               'AdjacentShardToMerge': shard_id(2)})
    assert_error(st, hd, body, 'InvalidArgumentException',
                 'Shards %s and %s in stream %s under account %s are not an adjacent pair '
                 'of shards eligible for merging' % (shard_id(0), shard_id(2), name, ACCOUNT))
    st, hd, body = server.call('MergeShards', {'StreamName': name,
                                               'ShardToMerge': shard_id(1),
                                               'AdjacentShardToMerge': shard_id(1)})
    assert_error(st, hd, body, 'InvalidArgumentException',
                 'Shards %s and %s in stream %s under account %s are not an adjacent pair '
                 'of shards eligible for merging' % (shard_id(1), shard_id(1), name, ACCOUNT))

    def usc(target, msg):
        st, hd, body = server.call('UpdateShardCount', {
            'StreamName': name, 'TargetShardCount': target,
            'ScalingType': 'UNIFORM_SCALING'})
        assert_error(st, hd, body, 'LimitExceededException', msg)
    usc(7, 'UpdateShardCount cannot scale up over double your current open shard count. '
        'Current open shard count: 3, Target shard count: 7')
    usc(1, 'UpdateShardCount cannot scale down below half your current open shard count. '
        'Current open shard count: 3, Target shard count: 1')

    # While UPDATING every reshard is refused.
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(1),
                        NewStartingHashKey=str(start + (end - start) // 2))
    in_state = ('Stream %s under account %s not ACTIVE, instead in state UPDATING'
                % (name, ACCOUNT))
    st, hd, body = server.call('MergeShards', {'StreamName': name,
                                               'ShardToMerge': shard_id(3),
                                               'AdjacentShardToMerge': shard_id(4)})
    assert_error(st, hd, body, 'ResourceInUseException', in_state)
    st, hd, body = server.call('UpdateShardCount', {
        'StreamName': name, 'TargetShardCount': 4, 'ScalingType': 'UNIFORM_SCALING'})
    assert_error(st, hd, body, 'ResourceInUseException', in_state)
    rs.wait_active(kinesis, name)

    # A closed shard can be neither split nor merged again.
    closed = ('Shard %s in stream %s under account %s has already been merged or split, '
              'and thus is not eligible for merging or splitting.'
              % (shard_id(1), name, ACCOUNT))
    st, hd, body = server.call('SplitShard', {'StreamName': name,
                                              'ShardToSplit': shard_id(1),
                                              'NewStartingHashKey': str(start + 10)})
    assert_error(st, hd, body, 'ResourceInUseException', closed)
    st, hd, body = server.call('MergeShards', {'StreamName': name,
                                               'ShardToMerge': shard_id(0),
                                               'AdjacentShardToMerge': shard_id(1)})
    assert_error(st, hd, body, 'ResourceInUseException', closed)

    # Validation of the request itself.
    st, hd, body = server.call('SplitShard', {'StreamName': name, 'ShardToSplit': shard_id(0),
                                              'NewStartingHashKey': 'abc'})
    assert_error(st, hd, body, 'ValidationException', message_prefix='1 validation error')
    assert 'newStartingHashKey' in body['message'], body
    st, hd, body = server.call('UpdateShardCount', {
        'StreamName': name, 'TargetShardCount': 4, 'ScalingType': 'NOPE'})
    assert_error(st, hd, body, 'ValidationException', message_prefix='1 validation error')
    assert 'scalingType' in body['message'], body
    st, hd, body = server.call('UpdateShardCount', {
        'StreamName': name, 'TargetShardCount': 0, 'ScalingType': 'UNIFORM_SCALING'})
    assert_error(st, hd, body, 'ValidationException', message_prefix='1 validation error')
    assert 'targetShardCount' in body['message'], body
    # The failed calls changed nothing: 5 shards, 4 open.
    shards = shards_of(kinesis, name)
    assert len(shards) == 5 and len(rs.open_shards(shards)) == 4
    rs.assert_partition(shards)
    rs.assert_lineage(shards)


def test_shard_filter(kinesis):
    name = uniq('filt')
    kinesis.create_stream(StreamName=name, ShardCount=2)
    rs.wait_active(kinesis, name)
    t_before = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.1)
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                        NewStartingHashKey=str(2 ** 126))
    rs.wait_active(kinesis, name)
    time.sleep(1.1)
    t_after = datetime.datetime.now(datetime.timezone.utc)
    every = [shard_id(i) for i in range(4)]
    open_now = [shard_id(1), shard_id(2), shard_id(3)]

    def ids(**flt):
        r = kinesis.list_shards(StreamName=name, ShardFilter=flt)
        return [s['ShardId'] for s in r['Shards']]
    assert ids(Type='AT_LATEST') == open_now
    assert ids(Type='AT_TRIM_HORIZON') == [shard_id(0), shard_id(1)]
    assert ids(Type='FROM_TRIM_HORIZON') == every
    assert ids(Type='AFTER_SHARD_ID', ShardId=shard_id(1)) == [shard_id(2), shard_id(3)]
    assert ids(Type='AFTER_SHARD_ID', ShardId=shard_id(3)) == []
    assert ids(Type='AT_TIMESTAMP', Timestamp=t_before) == [shard_id(0), shard_id(1)]
    assert ids(Type='AT_TIMESTAMP', Timestamp=t_after) == open_now
    assert ids(Type='FROM_TIMESTAMP', Timestamp=t_before) == every
    assert ids(Type='FROM_TIMESTAMP', Timestamp=t_after) == open_now
    # Pagination keeps the filter.
    r = kinesis.list_shards(StreamName=name, ShardFilter={'Type': 'AT_LATEST'}, MaxResults=1)
    got = [s['ShardId'] for s in r['Shards']]
    while r.get('NextToken'):
        r = kinesis.list_shards(NextToken=r['NextToken'], MaxResults=1)
        got += [s['ShardId'] for s in r['Shards']]
    assert got == open_now
    # The ExclusiveStartShardId of ListShards is not a filter but still works.
    r = kinesis.list_shards(StreamName=name, ExclusiveStartShardId=shard_id(0))
    assert [s['ShardId'] for s in r['Shards']] == open_now


def test_child_shards_at_end_of_parent(kinesis):
    name = uniq('kids')
    kinesis.create_stream(StreamName=name, ShardCount=1)
    rs.wait_active(kinesis, name)
    put_some(kinesis, name, 20)
    # An iterator taken while the shard was open still leads to its end.
    early = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                       ShardIteratorType='LATEST')['ShardIterator']
    for i in range(20, 25):
        kinesis.put_record(StreamName=name, PartitionKey='k%d' % i, Data=b'x%d' % i)
    mid = 2 ** 127 + 12345
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                        NewStartingHashKey=str(mid))
    rs.wait_active(kinesis, name)
    recs, kids = rs.read_to_end(kinesis, name, shard_id(0))
    assert [r['Data'] for r in recs] == [b'x%d' % i for i in range(25)]
    assert kids == [
        {'ShardId': shard_id(1), 'ParentShards': [shard_id(0)],
         'HashKeyRange': {'StartingHashKey': '0', 'EndingHashKey': str(mid - 1)}},
        {'ShardId': shard_id(2), 'ParentShards': [shard_id(0)],
         'HashKeyRange': {'StartingHashKey': str(mid), 'EndingHashKey': str(MAX_HASH)}}]
    r = kinesis.get_records(ShardIterator=early)
    assert [x['Data'] for x in r['Records']] == [b'x%d' % i for i in range(20, 25)]
    if 'NextShardIterator' in r:
        r = kinesis.get_records(ShardIterator=r['NextShardIterator'])
        assert r['Records'] == [] and 'NextShardIterator' not in r, r
    assert r['ChildShards'] == kids
    # At the last record: that record; after the EndingSequenceNumber: the
    # end at once.
    end = kinesis.list_shards(StreamName=name)['Shards'][0]['SequenceNumberRange'][
        'EndingSequenceNumber']
    assert int(end) >= int(recs[-1]['SequenceNumber']), (end, recs[-1])
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType='AT_SEQUENCE_NUMBER',
                                    StartingSequenceNumber=recs[-1]['SequenceNumber'])[
                                        'ShardIterator']
    r = kinesis.get_records(ShardIterator=it)
    assert [x['Data'] for x in r['Records']] == [b'x24'], r
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType='AFTER_SEQUENCE_NUMBER',
                                    StartingSequenceNumber=end)['ShardIterator']
    r = kinesis.get_records(ShardIterator=it)
    assert r['Records'] == [] and 'NextShardIterator' not in r and r['ChildShards'] == kids, r
    # Small pages: every page but the last has a NextShardIterator.
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    n = 0
    for _ in range(100):
        r = kinesis.get_records(ShardIterator=it, Limit=7)
        n += len(r['Records'])
        if 'NextShardIterator' not in r:
            break
        assert 'ChildShards' not in r or not r['ChildShards'], r
        it = r['NextShardIterator']
    assert n == 25 and r['ChildShards'] == kids, r
    # LATEST on a closed shard: already at its end.
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                    ShardIteratorType='LATEST')['ShardIterator']
    r = kinesis.get_records(ShardIterator=it)
    assert r['Records'] == [] and 'NextShardIterator' not in r, r
    assert r['ChildShards'] == kids
    # Records in both children, then merge them: each ends with the one
    # merged child.
    put_some(kinesis, name, 25, prefix='c')
    kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(1),
                         AdjacentShardToMerge=shard_id(2))
    rs.wait_active(kinesis, name)
    merged = [{'ShardId': shard_id(3), 'ParentShards': [shard_id(1), shard_id(2)],
               'HashKeyRange': {'StartingHashKey': '0', 'EndingHashKey': str(MAX_HASH)}}]
    total = 0
    for sid in (shard_id(1), shard_id(2)):
        recs, kids = rs.read_to_end(kinesis, name, sid)
        total += len(recs)
        assert kids == merged, kids
    assert total == 25
    recs, kids = rs.read_to_end(kinesis, name, shard_id(3))
    assert recs == [] and kids is None


def test_child_shards_of_empty_parents(kinesis):
    """A shard closed before any record reached it still has an end:
    GetRecords answers ChildShards and no NextShardIterator (else a KCL
    consumer would wait on it forever and never read the children)."""
    name = uniq('ekids')
    kinesis.create_stream(StreamName=name, ShardCount=1)
    rs.wait_active(kinesis, name)
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                        NewStartingHashKey=str(2 ** 127))
    rs.wait_active(kinesis, name)
    recs, kids = rs.read_to_end(kinesis, name, shard_id(0), settle_s=2.0)
    assert recs == [] and [k['ShardId'] for k in kids] == [shard_id(1), shard_id(2)]
    kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(1),
                         AdjacentShardToMerge=shard_id(2))
    rs.wait_active(kinesis, name)
    for sid in (shard_id(1), shard_id(2)):
        recs, kids = rs.read_to_end(kinesis, name, sid, settle_s=2.0)
        assert recs == []
        assert [k['ShardId'] for k in kids] == [shard_id(3)], kids


def test_kcl_ordering_across_reshards(server, kinesis):
    """3 writers keep a counter per partition key while the stream is split,
    merged and rescaled; a consumer reading parents to their end before
    their children sees every key's acknowledged records once, in order."""
    name = uniq('kcl')
    kinesis.create_stream(StreamName=name, ShardCount=2)
    rs.wait_active(kinesis, name)
    w = rs.Writers(server.client, name, n_threads=3, n_keys=50).start()
    try:
        time.sleep(0.8)
        kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(0),
                            NewStartingHashKey=str(2 ** 126))
        rs.wait_active(kinesis, name)
        time.sleep(0.8)
        kinesis.merge_shards(StreamName=name, ShardToMerge=shard_id(3),
                             AdjacentShardToMerge=shard_id(1))
        rs.wait_active(kinesis, name)
        time.sleep(0.8)
        # Open now: 2 [0, 2^126 - 1] and 4 [2^126, 2^128 - 1]; 2 -> 4.
        kinesis.update_shard_count(StreamName=name, TargetShardCount=4,
                                   ScalingType='UNIFORM_SCALING')
        rs.wait_active(kinesis, name)
        time.sleep(0.8)
    finally:
        w.stop()
    print('acked %d records in %d calls, %d failed' % (w.total_acked(), w.calls,
                                                          len(w.failed)))
    assert not w.failed, w.failed[:5]
    assert w.total_acked() > 500, w.total_acked()
    shards = shards_of(kinesis, name)
    rs.assert_partition(shards)
    last = {}
    for lst in w.acked.values():
        for _, sid, seq in lst:
            if sid not in last or int(seq) > int(last[sid]):
                last[sid] = seq
    rs.assert_lineage(shards, last)
    # Every acknowledgement named a shard whose range holds the key.
    ids = rs.by_id(shards)
    for k, lst in w.acked.items():
        hv = rh.key_hash(k)
        for _, sid, _ in lst:
            lo, hi = rs.hash_range(ids[sid])
            assert lo <= hv <= hi, (k, sid)
    order, recs, kids = rs.kcl_read(kinesis, name)
    assert len(order) == len(shards)
    n = rs.assert_key_order(w, order, recs)
    assert n == w.total_acked()
    # Each key was written to more than one shard: the test crossed reshards.
    crossed = sum(1 for lst in w.acked.values() if len({sid for _, sid, _ in lst}) > 1)
    assert crossed > 25, crossed


def test_kcl_ordering_uneven_update_shard_count(server, kinesis):
    """UpdateShardCount 3 -> 5 -> 3 under concurrent writes: every closed
    shard's ChildShards must name it among each child's ParentShards (5 -> 3
    puts old shard 2's whole range inside new shard 9), and the KCL-style
    read keeps every key in order."""
    name = uniq('kclu')
    kinesis.create_stream(StreamName=name, ShardCount=3)
    rs.wait_active(kinesis, name)
    w = rs.Writers(server.client, name, n_threads=3, n_keys=50).start()
    try:
        time.sleep(0.6)
        for target in (5, 3):
            kinesis.update_shard_count(StreamName=name, TargetShardCount=target,
                                       ScalingType='UNIFORM_SCALING')
            rs.wait_active(kinesis, name)
            time.sleep(0.6)
    finally:
        w.stop()
    assert not w.failed, w.failed[:5]
    shards = shards_of(kinesis, name)
    assert len(shards) == 11 and len(rs.open_shards(shards)) == 3
    rs.assert_partition(shards)
    rs.assert_lineage(shards)
    order, recs, kids = rs.kcl_read(kinesis, name)
    assert rs.assert_key_order(w, order, recs) == w.total_acked()


def _usc_after_uneven_splits(server, kinesis, name, split_keys, target):
    """Splits shard after shard at split_keys (each split takes the newest
    shard holding the key), writes a record to every open shard, then asks
    UpdateShardCount for target. Returns (the error body or None, the open
    shards before)."""
    kinesis.create_stream(StreamName=name, ShardCount=1)
    rs.wait_active(kinesis, name)
    for key in split_keys:
        holder = [s for s in rs.open_shards(shards_of(kinesis, name))
                  if rs.hash_range(s)[0] <= key <= rs.hash_range(s)[1]][0]
        kinesis.split_shard(StreamName=name, ShardToSplit=holder['ShardId'],
                            NewStartingHashKey=str(key))
        rs.wait_active(kinesis, name)
    before = rs.open_shards(shards_of(kinesis, name))
    for s in before:
        kinesis.put_record(StreamName=name, PartitionKey='p', Data=b'x',
                           ExplicitHashKey=str(rs.hash_range(s)[0]))
    st, _, body = server.call('UpdateShardCount', {'StreamName': name,
                                                   'TargetShardCount': target,
                                                   'ScalingType': 'UNIFORM_SCALING'})
    if st != 200:
        return body, before
    rs.wait_active(kinesis, name)
    return None, before


def _assert_full_child_shards(kinesis, name, before):
    """Every old shard's ChildShards names every new shard overlapping it, and
    each of those lists every old shard it overlaps among its ParentShards:
    a KCL consumer that misses a child never reads it."""
    after = rs.open_shards(shards_of(kinesis, name))
    old = {s['ShardId'] for s in before}
    for p in before:
        plo, phi = rs.hash_range(p)
        want = [c['ShardId'] for c in after
                if rs.hash_range(c)[0] <= phi and rs.hash_range(c)[1] >= plo]
        recs, kids = rs.read_to_end(kinesis, name, p['ShardId'])
        assert len(recs) == 1, recs
        assert [k['ShardId'] for k in kids] == want, (p['ShardId'], kids)
        for k in kids:
            klo, khi = int(k['HashKeyRange']['StartingHashKey']), \
                int(k['HashKeyRange']['EndingHashKey'])
            want_parents = {s['ShardId'] for s in before
                            if rs.hash_range(s)[0] <= khi and rs.hash_range(s)[1] >= klo}
            assert set(k['ParentShards']) & old == want_parents, (k, want_parents)


def test_update_shard_count_many_children(server, kinesis):
    """After uneven splits one open shard covers almost the whole key space:
    3 -> 6 gives it 6 children, more than a closed shard's children list
    holds. UpdateShardCount must refuse it, or ChildShards must name all 6
    (it used to name 4 and log "too many children": the other 2 were never
    read by a KCL consumer)."""
    name = uniq('uscwide')
    err, before = _usc_after_uneven_splits(server, kinesis, name,
                                           [MAX_HASH - 1000, MAX_HASH - 500], 6)
    if err is not None:
        assert err['__type'] == 'LimitExceededException', err
        assert 'ChildShards' in err.get('message', err.get('Message', '')), err
        return
    _assert_full_child_shards(kinesis, name, before)


def test_update_shard_count_many_parents(server, kinesis):
    """The mirror case: nine tiny shards at the bottom of the key space and
    one wide one; 10 -> 5 makes the first new shard take over ten old ones,
    more than a child's ParentShards holds. Refused, or listed whole."""
    name = uniq('uscnarrow')
    err, before = _usc_after_uneven_splits(server, kinesis, name,
                                           [1000 - 100 * i for i in range(9)], 5)
    if err is not None:
        assert err['__type'] == 'LimitExceededException', err
        assert 'ChildShards' in err.get('message', err.get('Message', '')), err
        return
    _assert_full_child_shards(kinesis, name, before)
