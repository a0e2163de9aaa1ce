# SPDX-License-Identifier: Apache-2.0
"""The in-memory read tail (storage/st_tail.c, --tail-ms, --tail-shard-kib,
--tail-mib, --tail-idle-ms): GetRecords at the tip is served from memory without reading the
journal (sluice_journal_disk_read_chunks stays put), a reader far behind
reads older records from disk and the newest from memory with the seam
byte-exact, a restart empties the tail (reads fall back to disk), and
--tail-ms 0 turns it off; only shards a reader asked for lately keep a tail
(--tail-idle-ms 0: every shard). Records are compared byte for byte with what
boto3 put; the counters come from /metrics."""

import random

import pytest

import records_helpers as rh
import sluice_helpers as h
from test_metrics import scrape, val

pytestmark = pytest.mark.kernel_only  # the admin socket is in the server's namespace

TAIL = 'sluice_journal_tail_read_records_total'
DISK = 'sluice_journal_disk_read_records_total'
CHUNKS = 'sluice_journal_disk_read_chunks_total'


def counters(srv):
    s = scrape(srv)
    return {n: val(s, n, lcore='log0') for n in (TAIL, DISK, CHUNKS,
                                                  'sluice_journal_tail_bytes')}


def settled(srv, pred, timeout_s=10.0):
    """counters() once pred holds: the log lcore publishes its counters when
    it goes idle, a moment after its last answer."""
    out = {}

    def ok():
        out.update(counters(srv))
        return pred(out)
    rh.wait_until(ok, timeout_s, what='counters')
    return out


def put_n(c, name, n, rng, size_max=4096):
    """Puts n records in batches of up to 100; returns [(data, pkey, seq)]."""
    out = []
    while len(out) < n:
        batch = []
        for i in range(min(100, n - len(out))):
            rec = {'Data': rng.randbytes(rng.randrange(1, size_max)),
                   'PartitionKey': 'pk%d' % rng.randrange(100000)}
            if i % 4 == 0:
                rec['ExplicitHashKey'] = '1'  # the first shard
            batch.append(rec)
        r = c.put_records(StreamName=name, Records=batch)
        assert r['FailedRecordCount'] == 0, r
        for rec, res in zip(batch, r['Records']):
            out.append((rec['Data'], rec['PartitionKey'], res['SequenceNumber']))
    return out


def same(got, want):
    assert len(got) == len(want), (len(got), len(want))
    for g, (data, pk, seq) in zip(got, want):
        assert (g['Data'], g['PartitionKey'], g['SequenceNumber']) == (data, pk, seq)


def test_tip_reads_from_memory(server_factory):
    srv = server_factory()
    c = srv.client()
    name = h.uniq('tail')
    h.create_active(c, name, 1)
    sid = c.list_shards(StreamName=name)['Shards'][0]['ShardId']
    it = c.get_shard_iterator(StreamName=name, ShardId=sid,
                              ShardIteratorType='LATEST')['ShardIterator']
    rng = random.Random(1)
    before = counters(srv)
    want = []
    # A consumer at the tip: each batch is read right after it was put.
    for _ in range(5):
        batch = put_n(c, name, 60, rng)
        got, it = rh.drain(c, it)
        same(got, batch)
        want += batch
    got, _ = rh.read_shard(c, name, sid)  # and from TRIM_HORIZON
    same(got, want)
    after = settled(srv, lambda a: a[TAIL] - before[TAIL] >= 2 * len(want))
    assert after[TAIL] - before[TAIL] == 2 * len(want), (before, after)
    assert after[DISK] == before[DISK]
    assert after[CHUNKS] == before[CHUNKS], 'a tip read went to the journal'
    assert after['sluice_journal_tail_bytes'] > 0


def test_far_behind_reads_disk_then_memory(server_factory):
    srv = server_factory(extra_args=['--tail-shard-kib', '64', '--tail-mib', '1'])
    c = srv.client()
    name = h.uniq('tail')
    h.create_active(c, name, 1)
    sid = c.list_shards(StreamName=name)['Shards'][0]['ShardId']
    # A reader's iterator first: only shards read lately keep a tail
    # (--tail-idle-ms).
    c.get_shard_iterator(StreamName=name, ShardId=sid, ShardIteratorType='LATEST')
    rng = random.Random(2)
    want = put_n(c, name, 1000, rng)  # ~2 MB: far more than a 64 KiB tail
    before = counters(srv)
    got, _ = rh.read_shard(c, name, sid, limit=97)
    same(got, want)
    after = settled(srv, lambda a: a[TAIL] + a[DISK] - before[TAIL] - before[DISK] >= len(want))
    tail, disk = after[TAIL] - before[TAIL], after[DISK] - before[DISK]
    assert tail + disk == len(want), (tail, disk)
    assert disk > 0 and after[CHUNKS] > before[CHUNKS]
    assert 0 < tail < 200, tail  # only the newest ~64 KiB
    # The per-journal bound: one ring (64 KiB and its offsets) within 1 MiB.
    assert 0 < after['sluice_journal_tail_bytes'] <= 1 << 20


def test_restart_empties_tail(server_factory):
    srv = server_factory()
    c = srv.client()
    name = h.uniq('tail')
    h.create_active(c, name, 2)
    rng = random.Random(3)
    want = put_n(c, name, 300, rng)
    assert srv.stop() == 0, srv.log_tail()
    srv.start()
    c = srv.client()
    before = counters(srv)
    assert before['sluice_journal_tail_bytes'] == 0
    shards = [s['ShardId'] for s in c.list_shards(StreamName=name)['Shards']]
    got, tips = {}, {}
    for sid in shards:
        recs, tips[sid] = rh.read_shard(c, name, sid)
        for r in recs:
            got[r['SequenceNumber']] = (r['Data'], r['PartitionKey'])
    assert got == {seq: (d, pk) for d, pk, seq in want}
    after = settled(srv, lambda a: a[DISK] - before[DISK] >= len(want))
    assert after[TAIL] == before[TAIL]
    assert after[DISK] - before[DISK] == len(want)
    # Records put after the restart are served from memory again.
    more = put_n(c, name, 50, rng)
    mid = counters(srv)
    got = {}
    for sid in shards:
        for r in rh.drain(c, tips[sid])[0]:
            got[r['SequenceNumber']] = (r['Data'], r['PartitionKey'])
    assert got == {seq: (d, pk) for d, pk, seq in more}
    end = settled(srv, lambda a: a[TAIL] - mid[TAIL] >= len(more))
    assert end[TAIL] - mid[TAIL] == len(more)
    assert end[CHUNKS] == mid[CHUNKS]


def test_tail_off(server_factory):
    srv = server_factory(extra_args=['--tail-ms', '0'])
    c = srv.client()
    name = h.uniq('tail')
    h.create_active(c, name, 1)
    sid = c.list_shards(StreamName=name)['Shards'][0]['ShardId']
    want = put_n(c, name, 100, random.Random(4))
    same(rh.read_shard(c, name, sid)[0], want)
    after = settled(srv, lambda a: a[DISK] >= 100)
    assert after[TAIL] == 0 and after[DISK] == 100
    assert after['sluice_journal_tail_bytes'] == 0


@pytest.mark.parametrize('idle', [None, '0'])
def test_unread_shard_keeps_no_tail(server_factory, idle):
    """Records put while nobody reads the shard are not copied into a tail
    (the first read goes to disk); after that read, new records are served
    from memory. With --tail-idle-ms 0 every shard keeps a tail, read or
    not."""
    srv = server_factory(extra_args=['--tail-idle-ms', idle] if idle else [])
    c = srv.client()
    name = h.uniq('tail')
    h.create_active(c, name, 1)
    sid = c.list_shards(StreamName=name)['Shards'][0]['ShardId']
    rng = random.Random(5)
    before = counters(srv)
    want = put_n(c, name, 200, rng, size_max=512)
    got, tip = rh.read_shard(c, name, sid)
    same(got, want)
    after = settled(srv, lambda a: a[TAIL] + a[DISK] - before[TAIL] - before[DISK] >= 200)
    if idle is None:
        assert after[DISK] - before[DISK] == 200 and after[TAIL] == before[TAIL]
    else:
        assert after[TAIL] - before[TAIL] == 200 and after[DISK] == before[DISK]
    more = put_n(c, name, 50, rng, size_max=512)
    same(rh.drain(c, tip)[0], more)
    end = settled(srv, lambda a: a[TAIL] - after[TAIL] >= 50)
    assert end[TAIL] - after[TAIL] == 50
    assert end[CHUNKS] == after[CHUNKS], 'a tip read went to the journal'
