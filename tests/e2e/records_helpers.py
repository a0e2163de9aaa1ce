# SPDX-License-Identifier: Apache-2.0
"""Helpers for the record tests (test_records.py, test_iterators.py,
test_crash.py): the test's own model of Kinesis routing and sequence
numbers, and boto3 loops that write and read whole shards."""

import bisect
import hashlib
import random
import time

MAX_HASH = 2 ** 128 - 1


def key_hash(partition_key, explicit_hash_key=None):
    """The 128-bit hash Kinesis routes on: the ExplicitHashKey if given, else
    MD5 of the partition key's UTF-8 bytes read as a big-endian integer."""
    if explicit_hash_key is not None:
        return int(explicit_hash_key)
    return int.from_bytes(hashlib.md5(partition_key.encode('utf-8')).digest(), 'big')


class Router:
    """Maps a hash to the shard whose HashKeyRange holds it, built from the
    Shards of ListShards (never from the server's own answers to puts)."""

    def __init__(self, shards):
        rs = sorted((int(s['HashKeyRange']['StartingHashKey']),
                     int(s['HashKeyRange']['EndingHashKey']), s['ShardId']) for s in shards)
        assert rs and rs[0][0] == 0 and rs[-1][1] == MAX_HASH, rs[:2]
        for a, b in zip(rs, rs[1:]):
            assert b[0] == a[1] + 1, ('hash ranges not contiguous', a, b)
        self.starts = [r[0] for r in rs]
        self.ranges = rs

    def shard_for(self, partition_key, explicit_hash_key=None):
        hv = key_hash(partition_key, explicit_hash_key)
        i = bisect.bisect_right(self.starts, hv) - 1
        lo, hi, sid = self.ranges[i]
        assert lo <= hv <= hi
        return sid


def list_all_shards(client, name):
    """Every shard of the stream via ListShards pagination."""
    out = []
    r = client.list_shards(StreamName=name, MaxResults=10000)
    out += r['Shards']
    while r.get('NextToken'):
        r = client.list_shards(NextToken=r['NextToken'], MaxResults=10000)
        out += r['Shards']
    return out


SEQ_EPOCH_S = 1577836800  # the "shard time" of shard 0 (common/u128.h)


def seq_text(shard, counter):
    """The 56-digit text of (shard index, counter): AWS's layout (hex
    nibbles: 2, 36-bit shard time, shard & 0xf, 64-bit counter, 00, 36-bit
    record time, 32-bit shard, 2) with both times SEQ_EPOCH_S + shard.
    Written here from the layout, independently of the C code."""
    t = SEQ_EPOCH_S + shard
    h = '2%09x%x%016x00%09x%08x2' % (t, shard & 0xf, counter, t, shard)
    assert len(h) == 47, h
    return str(int(h, 16))


def old_seq_text(shard, counter):
    """The 29-30 digit text releases before the 56-digit one printed (the
    internal integer (1 << 96) | (shard << 64) | counter)."""
    return str((1 << 96) | (shard << 64) | counter)


def seq_parts(seq):
    """(shard index, counter) of a sluice sequence number (56 digits)."""
    assert isinstance(seq, str) and len(seq) == 56 and seq.isdigit(), seq
    h = '%x' % int(seq)
    assert len(h) == 47, seq
    shard, counter = int(h[38:46], 16), int(h[11:27], 16)
    assert seq_text(shard, counter) == seq, ('not a sluice number', seq)
    return shard, counter


def shard_index(shard_id):
    assert shard_id.startswith('shardId-') and len(shard_id) == 20, shard_id
    return int(shard_id[8:])


def rand_key(rng, max_len=64):
    """A random partition key, sometimes with non-ASCII characters (the MD5
    is over UTF-8)."""
    n = rng.randint(1, max_len)
    alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/é€😀'
    return ''.join(rng.choice(alphabet) for _ in range(n))


def read_shard(client, name, shard_id, iterator_type='TRIM_HORIZON', limit=None,
               max_calls=100000, **gsi):
    """Reads a shard from iterator_type until GetRecords returns an empty batch
    with MillisBehindLatest 0. Returns (records, last NextShardIterator)."""
    it = client.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                   ShardIteratorType=iterator_type, **gsi)['ShardIterator']
    return drain(client, it, limit, max_calls)


def drain(client, it, limit=None, max_calls=100000):
    """Follows NextShardIterator from it until caught up; see read_shard."""
    out = []
    for _ in range(max_calls):
        kw = {'ShardIterator': it}
        if limit is not None:
            kw['Limit'] = limit
        r = client.get_records(**kw)
        assert 'NextShardIterator' in r, ('open shard lost its NextShardIterator', r)
        it = r['NextShardIterator']
        if limit is not None:
            assert len(r['Records']) <= limit, (limit, len(r['Records']))
        out += r['Records']
        if not r['Records'] and r['MillisBehindLatest'] == 0:
            return out, it
    raise AssertionError('shard %s did not catch up within %d GetRecords calls'
                         % (it, max_calls))


def read_all(client, name, shard_ids):
    """{shard id: [records]} read from TRIM_HORIZON."""
    return {sid: read_shard(client, name, sid)[0] for sid in shard_ids}


def assert_increasing(seqs, what=''):
    ints = [int(s) for s in seqs]
    for i, (a, b) in enumerate(zip(ints, ints[1:])):
        assert a < b, ('sequence numbers not strictly increasing %s at %d: %d then %d'
                       % (what, i, a, b))


def wait_until(pred, timeout_s=10.0, step_s=0.05, what='condition'):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step_s)
    raise AssertionError('%s not reached within %.1f s' % (what, timeout_s))


def rng(seed=None):
    """A seeded Random; the seed is printed so a failure can be replayed."""
    seed = seed if seed is not None else random.randrange(1 << 30)
    print('random seed %d' % seed)
    return random.Random(seed)
