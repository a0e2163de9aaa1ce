# SPDX-License-Identifier: Apache-2.0
"""Helpers for the resharding and quota tests (test_reshard.py,
test_quotas.py): checks of a stream's shard lineage, concurrent writers that
keep a per-partition-key counter, and a KCL-style consumer that reads every
shard to its end before any of its children."""

import threading
import time

from botocore.exceptions import ClientError

import records_helpers as rh
import sluice_helpers as h

MAX_HASH = h.MAX_HASH


def is_open(shard):
    return 'EndingSequenceNumber' not in shard['SequenceNumberRange']


def open_shards(shards):
    return [s for s in shards if is_open(s)]


def by_id(shards):
    return {s['ShardId']: s for s in shards}


def hash_range(shard):
    r = shard['HashKeyRange']
    return int(r['StartingHashKey']), int(r['EndingHashKey'])


def assert_partition(shards):
    """The open shards' hash ranges partition [0, 2^128 - 1] exactly."""
    rs = sorted(hash_range(s) + (s['ShardId'],) for s in open_shards(shards))
    assert rs, 'no open shard'
    assert rs[0][0] == 0 and rs[-1][1] == MAX_HASH, rs
    for a, b in zip(rs, rs[1:]):
        assert b[0] == a[1] + 1, ('open hash ranges not contiguous', a, b)
    for lo, hi, sid in rs:
        assert lo <= hi, (sid, lo, hi)


def assert_lineage(shards, last_seq=None):
    """Every closed shard has an EndingSequenceNumber >= its starting one and
    >= the last sequence number written to it (last_seq: {shard id: seq});
    every child's parents exist, are closed, and end below the child's
    StartingSequenceNumber; a child's range lies inside its parents'."""
    ids = by_id(shards)
    for s in shards:
        rng = s['SequenceNumberRange']
        start = int(rng['StartingSequenceNumber'])
        if not is_open(s):
            end = int(rng['EndingSequenceNumber'])
            assert end >= start, s
            if last_seq and s['ShardId'] in last_seq:
                assert end >= int(last_seq[s['ShardId']]), (s, last_seq[s['ShardId']])
        parents = [s.get('ParentShardId'), s.get('AdjacentParentShardId')]
        parents = [p for p in parents if p]
        if s.get('AdjacentParentShardId'):
            assert s.get('ParentShardId'), s
        lo, hi = hash_range(s)
        plo, phi = None, None
        for p in parents:
            assert p in ids, ('unknown parent', s, p)
            ps = ids[p]
            assert not is_open(ps), ('parent still open', ps)
            assert int(ps['SequenceNumberRange']['EndingSequenceNumber']) < start, (ps, s)
            a, b = hash_range(ps)
            plo = a if plo is None else min(plo, a)
            phi = b if phi is None else max(phi, b)
        if parents:
            # Overlap at least; split children lie inside, a merge child is
            # the union.
            assert lo <= phi and hi >= plo, (s, parents)


def wait_active(client, name, timeout_s=10.0):
    return h.wait_status(client, name, 'ACTIVE', timeout_s)


def status(client, name):
    return client.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'][
        'StreamStatus']


def describe_all_shards(client, name):
    """Shards from DescribeStream, following HasMoreShards."""
    out = []
    kw = {}
    for _ in range(1000):
        d = client.describe_stream(StreamName=name, **kw)['StreamDescription']
        out += d['Shards']
        if not d['HasMoreShards']:
            return out
        kw = {'ExclusiveStartShardId': out[-1]['ShardId']}
    raise AssertionError('DescribeStream never ended')


# --- concurrent writers ----------------------------------------------------

class Writers:
    """n threads; thread t owns keys k with k % n == t and writes, for each
    of its keys in turn, the key's next counter (PutRecords of one record per
    key, or PutRecord every few rounds). Records each acknowledgement:
    acked[key] = [(counter, shard id, sequence number)], and every failure."""

    def __init__(self, make_client, name, n_threads=3, n_keys=50, pause_s=0.0):
        self.make_client = make_client
        self.name = name
        self.n = n_threads
        self.keys = ['key-%03d' % k for k in range(n_keys)]
        self.pause_s = pause_s
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.acked = {k: [] for k in self.keys}
        self.failed = []  # (key, counter, error)
        self.errors = []  # exceptions that ended a thread
        self.threads = []
        self.calls = 0

    def _run(self, t):
        try:
            client = self.make_client()
            mine = [k for i, k in enumerate(self.keys) if i % self.n == t]
            counter = {k: 0 for k in mine}
            rounds = 0
            while not self.stop_ev.is_set():
                rounds += 1
                if rounds % 4 == 0:
                    self._one(client, mine[rounds % len(mine)], counter)
                else:
                    self._batch(client, mine, counter)
                if self.pause_s:
                    time.sleep(self.pause_s)
        except BaseException as e:  # reported by stop()
            self.errors.append(e)

    def _data(self, key, c):
        return ('%s:%d' % (key, c)).encode()

    def _one(self, client, key, counter):
        c = counter[key]
        counter[key] += 1
        try:
            r = client.put_record(StreamName=self.name, PartitionKey=key,
                                  Data=self._data(key, c))
        except ClientError as e:
            with self.lock:
                self.failed.append((key, c, str(e)))
            return
        with self.lock:
            self.calls += 1
            self.acked[key].append((c, r['ShardId'], r['SequenceNumber']))

    def _batch(self, client, keys, counter):
        recs, sent = [], []
        for k in keys:
            c = counter[k]
            counter[k] += 1
            recs.append({'PartitionKey': k, 'Data': self._data(k, c)})
            sent.append((k, c))
        r = client.put_records(StreamName=self.name, Records=recs)
        assert len(r['Records']) == len(recs), r
        with self.lock:
            self.calls += 1
            for (k, c), res in zip(sent, r['Records']):
                if 'SequenceNumber' in res:
                    self.acked[k].append((c, res['ShardId'], res['SequenceNumber']))
                else:
                    self.failed.append((k, c, '%s: %s' % (res.get('ErrorCode'),
                                                          res.get('ErrorMessage'))))

    def start(self):
        for t in range(self.n):
            th = threading.Thread(target=self._run, args=(t,), daemon=True)
            th.start()
            self.threads.append(th)
        return self

    def stop(self, timeout_s=30.0):
        self.stop_ev.set()
        for th in self.threads:
            th.join(timeout_s)
            assert not th.is_alive(), 'writer thread stuck'
        assert not self.errors, self.errors

    def total_acked(self):
        return sum(len(v) for v in self.acked.values())


# --- KCL-style consumer ----------------------------------------------------

def read_to_end(client, name, shard_id, max_calls=5000, settle_s=10.0):
    """Reads a shard from TRIM_HORIZON. A closed shard is read until
    GetRecords answers without NextShardIterator (returns ChildShards); an
    open one until an empty batch with MillisBehindLatest 0. Returns
    (records, child shards or None when the shard is still open)."""
    it = client.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                   ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    out = []
    deadline = time.monotonic() + settle_s
    for _ in range(max_calls):
        r = client.get_records(ShardIterator=it)
        out += r['Records']
        if 'NextShardIterator' not in r or r.get('NextShardIterator') is None:
            assert 'ChildShards' in r, ('closed shard end without ChildShards', shard_id, r)
            return out, r['ChildShards']
        assert not r.get('ChildShards'), ('ChildShards before the end', shard_id, r)
        it = r['NextShardIterator']
        if not r['Records'] and r['MillisBehindLatest'] == 0:
            # Caught up: open, or closed but its seal still pending.
            shard = [s for s in rh.list_all_shards(client, name) if s['ShardId'] == shard_id]
            if shard and is_open(shard[0]):
                return out, None
            assert time.monotonic() < deadline, ('closed shard never ended', shard_id)
            time.sleep(0.05)
    raise AssertionError('shard %s not read to its end in %d calls' % (shard_id, max_calls))


def kcl_read(client, name):
    """Reads the whole stream as the KCL does: a shard only after all of its
    parents were read to their ends. Lineage comes from the ChildShards at
    the end of each parent (and roots from ListShards: shards without a
    parent in the stream). Returns (order of shard ids read, {shard id:
    records}, {shard id: ChildShards})."""
    shards = rh.list_all_shards(client, name)
    ids = by_id(shards)
    parents_of = {}
    for s in shards:
        ps = [p for p in (s.get('ParentShardId'), s.get('AdjacentParentShardId'))
              if p and p in ids]
        parents_of[s['ShardId']] = set(ps)
    ready = [s['ShardId'] for s in shards if not parents_of[s['ShardId']]]
    done, order, recs, kids = set(), [], {}, {}
    while ready:
        sid = ready.pop(0)
        if sid in done:
            continue
        recs[sid], children = read_to_end(client, name, sid)
        done.add(sid)
        order.append(sid)
        kids[sid] = children or []
        for c in children or []:
            # The KCL makes the child's lease wait for ParentShards only: a
            # parent missing there lets the child be processed before the
            # parent's last records.
            assert sid in c['ParentShards'], ('%s ends with child %s whose ParentShards %s '
                                              'omit it' % (sid, c['ShardId'],
                                                           c['ParentShards']))
            parents_of.setdefault(c['ShardId'], set()).update(c['ParentShards'])
        for c in children or []:
            cid = c['ShardId']
            if cid not in done and parents_of[cid] <= done and cid not in ready:
                ready.append(cid)
    missing = set(ids) - done
    assert not missing, ('shards never reached through lineage', sorted(missing))
    return order, recs, kids


def assert_key_order(writers, order, recs):
    """For every key: the counters read (in KCL order) strictly increase,
    every acknowledged record is read exactly once, from the shard and with
    the sequence number its acknowledgement named, and nothing was read that
    was never written."""
    acked = {}
    for k, lst in writers.acked.items():
        for c, sid, seq in lst:
            acked[(k, c)] = (sid, seq)
    failed = {(k, c) for k, c, _ in writers.failed}
    seen = {}
    per_key = {k: [] for k in writers.keys}
    for sid in order:
        rh.assert_increasing([r['SequenceNumber'] for r in recs[sid]], sid)
        for r in recs[sid]:
            k = r['PartitionKey']
            key, _, c = r['Data'].decode().rpartition(':')
            assert key == k, r
            c = int(c)
            assert (k, c) not in seen, ('duplicate', k, c, seen[(k, c)], sid)
            seen[(k, c)] = (sid, r['SequenceNumber'])
            assert (k, c) in acked or (k, c) in failed, ('never written', k, c)
            per_key[k].append(c)
    for k, cs in per_key.items():
        for a, b in zip(cs, cs[1:]):
            assert a < b, ('key %s out of order: %d then %d (%s)' % (k, a, b, cs))
    for kc, want in acked.items():
        assert kc in seen, ('acknowledged record never read', kc, want)
        assert seen[kc] == want, ('read elsewhere than acknowledged', kc, seen[kc], want)
    # No gap among acknowledged records: between two read counters of a key,
    # every acknowledged counter was read (implied by the above), and the
    # acknowledged counters of a key are read in order.
    for k, lst in writers.acked.items():
        cs = [c for c, _, _ in lst]
        got = [c for c in per_key[k] if (k, c) in acked]
        assert got == sorted(cs), (k, got, cs)
    return len(seen)
