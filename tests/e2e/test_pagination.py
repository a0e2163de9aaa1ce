# SPDX-License-Identifier: Apache-2.0
"""Paging through ListStreams, ListShards and DescribeStream. Runs against a
server of its own so the set of streams is known exactly."""

import pytest

import sluice_helpers as h
from sluice_helpers import shard_id

NAMES = sorted('pg-%s' % c for c in ['a0', 'a1', 'a2', 'b0', 'b1', 'c0', 'c1'])
BIG = 'pg-big'
ALL = sorted(NAMES + [BIG])
N_BIG = 30


@pytest.fixture(scope='module')
def pserver(module_server_factory):
    srv = module_server_factory()
    c = srv.client()
    for n in NAMES:
        c.create_stream(StreamName=n, ShardCount=1)
    c.create_stream(StreamName=BIG, ShardCount=N_BIG)
    for n in ALL:
        h.wait_status(c, n, 'ACTIVE')
    return srv


@pytest.fixture
def pc(pserver):
    return pserver.client()


def ids(shards):
    return [s['ShardId'] for s in shards]


@pytest.mark.smoke
def test_list_streams_limit_and_exclusive_start(pc):
    r = pc.list_streams()
    assert r['StreamNames'] == ALL and r['HasMoreStreams'] is False
    r = pc.list_streams(Limit=3)
    assert r['StreamNames'] == ALL[:3] and r['HasMoreStreams'] is True
    r = pc.list_streams(Limit=3, ExclusiveStartStreamName=ALL[2])
    assert r['StreamNames'] == ALL[3:6] and r['HasMoreStreams'] is True
    r = pc.list_streams(Limit=3, ExclusiveStartStreamName=ALL[5])
    assert r['StreamNames'] == ALL[6:] and r['HasMoreStreams'] is False
    # A start name that is not a stream still positions the listing.
    r = pc.list_streams(ExclusiveStartStreamName=ALL[1] + 'x')
    assert r['StreamNames'] == ALL[2:] and r['HasMoreStreams'] is False
    r = pc.list_streams(ExclusiveStartStreamName=ALL[-1])
    assert r['StreamNames'] == [] and r['HasMoreStreams'] is False
    r = pc.list_streams(Limit=len(ALL))
    assert r['StreamNames'] == ALL and r['HasMoreStreams'] is False


def test_list_streams_next_token(pserver):
    # botocore in Debian 12 predates ListStreams' NextToken: use raw calls.
    got, token, pages = [], None, 0
    while True:
        req = {'Limit': 3}
        if token:
            req['NextToken'] = token
        st, _, body = pserver.call('ListStreams', req)
        assert st == 200, body
        pages += 1
        got += body['StreamNames']
        if 'StreamSummaries' in body:
            assert [s['StreamName'] for s in body['StreamSummaries']] == body['StreamNames']
            for s in body['StreamSummaries']:
                assert s['StreamStatus'] == 'ACTIVE', s
                assert s['StreamARN'].endswith(':stream/' + s['StreamName']), s
        if not body['HasMoreStreams']:
            assert 'NextToken' not in body, body
            break
        token = body.get('NextToken')
        assert token, 'HasMoreStreams without NextToken: %r' % body
        assert pages < 10
    assert got == ALL
    assert pages == 3


def test_list_streams_paginator(pc):
    pages = list(pc.get_paginator('list_streams').paginate(PaginationConfig={'PageSize': 2}))
    assert [len(p['StreamNames']) for p in pages] == [2, 2, 2, 2]
    assert sum((p['StreamNames'] for p in pages), []) == ALL
    full = pc.get_paginator('list_streams').paginate(
        PaginationConfig={'PageSize': 3}).build_full_result()
    assert full['StreamNames'] == ALL
    part = pc.get_paginator('list_streams').paginate(
        PaginationConfig={'PageSize': 2, 'MaxItems': 5}).build_full_result()
    assert part['StreamNames'] == ALL[:5]


@pytest.mark.smoke
def test_list_shards_max_results_next_token(pc):
    r = pc.list_shards(StreamName=BIG)
    assert ids(r['Shards']) == [shard_id(i) for i in range(N_BIG)]
    assert 'NextToken' not in r
    r = pc.list_shards(StreamName=BIG, MaxResults=7)
    sizes, got = [len(r['Shards'])], ids(r['Shards'])
    while 'NextToken' in r:
        # Kinesis rejects StreamName together with NextToken: send the token alone.
        r = pc.list_shards(NextToken=r['NextToken'], MaxResults=7)
        sizes.append(len(r['Shards']))
        got += ids(r['Shards'])
        assert len(sizes) < 10
    assert sizes == [7, 7, 7, 7, 2]
    assert got == [shard_id(i) for i in range(N_BIG)]
    for s, (lo, hi) in zip(pc.list_shards(StreamName=BIG)['Shards'], h.hash_ranges(N_BIG)):
        assert (s['HashKeyRange']['StartingHashKey'], s['HashKeyRange']['EndingHashKey']) == (lo, hi)


def test_list_shards_exclusive_start(pc):
    r = pc.list_shards(StreamName=BIG, ExclusiveStartShardId=shard_id(9), MaxResults=5)
    assert ids(r['Shards']) == [shard_id(i) for i in range(10, 15)]
    assert 'NextToken' in r
    r = pc.list_shards(StreamName=BIG, ExclusiveStartShardId=shard_id(N_BIG - 1))
    assert r['Shards'] == []


def test_describe_stream_limit_exclusive_start(pc):
    d = pc.describe_stream(StreamName=BIG)['StreamDescription']
    assert ids(d['Shards']) == [shard_id(i) for i in range(N_BIG)]
    assert d['HasMoreShards'] is False
    d = pc.describe_stream(StreamName=BIG, Limit=10)['StreamDescription']
    assert ids(d['Shards']) == [shard_id(i) for i in range(10)]
    assert d['HasMoreShards'] is True
    d = pc.describe_stream(StreamName=BIG, Limit=10,
                           ExclusiveStartShardId=shard_id(9))['StreamDescription']
    assert ids(d['Shards']) == [shard_id(i) for i in range(10, 20)]
    assert d['HasMoreShards'] is True
    d = pc.describe_stream(StreamName=BIG, Limit=100,
                           ExclusiveStartShardId=shard_id(19))['StreamDescription']
    assert ids(d['Shards']) == [shard_id(i) for i in range(20, 30)]
    assert d['HasMoreShards'] is False


def test_describe_stream_paginator(pc):
    pages = list(pc.get_paginator('describe_stream').paginate(
        StreamName=BIG, PaginationConfig={'PageSize': 7}))
    assert [len(p['StreamDescription']['Shards']) for p in pages] == [7, 7, 7, 7, 2]
    got = sum((ids(p['StreamDescription']['Shards']) for p in pages), [])
    assert got == [shard_id(i) for i in range(N_BIG)]
