# SPDX-License-Identifier: Apache-2.0
"""Reads older than the in-memory tail go to disk through io_uring
(storage/st_aread.c, --read-slots, --read-mib): a GetRecords consumer and a
SubscribeToShard consumer far behind read everything byte for byte while a
producer keeps writing, and /metrics shows the reads took the new path
(sluice_journal_async_read_chunks and _waits grow); --read-slots 0 keeps the
old synchronous pread (the counters stay at zero)."""

import random
import threading
import time

import pytest

import records_helpers as rh
import sluice_helpers as h
from test_metrics import scrape, val
from test_readtail import put_n, same
from test_subscribe_h1 import register, subscribe, drain, records_of

pytestmark = pytest.mark.kernel_only  # the admin socket is in the server's namespace

ACHUNKS = 'sluice_journal_async_read_chunks_total'
AWAITS = 'sluice_journal_async_read_waits_total'
DISK = 'sluice_journal_disk_read_records_total'

# A 64 KiB tail: nearly everything below is read from disk.
SMALL_TAIL = ['--tail-shard-kib', '64', '--tail-mib', '1']


def counters(srv):
    s = scrape(srv)
    return {n: val(s, n, lcore='log0') for n in (ACHUNKS, AWAITS, DISK)}


class Producer:
    """Puts batches into the stream from another thread until stopped;
    keeps what it put ([(data, pkey, seq)])."""

    def __init__(self, srv, name, seed):
        self.c, self.name = srv.client(), name
        self.rng = random.Random(seed)
        self.put, self.err = [], None
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run)

    def run(self):
        try:
            while not self.stop.is_set() and len(self.put) < 3000:
                self.put += put_n(self.c, self.name, 50, self.rng)
                time.sleep(0.01)
        except Exception as e:  # reported by finish()
            self.err = e

    def __enter__(self):
        self.t.start()
        return self

    def finish(self):
        self.stop.set()
        self.t.join(60)
        assert not self.t.is_alive() and self.err is None, self.err
        return self.put

    def __exit__(self, *a):
        self.stop.set()
        self.t.join(60)


def test_get_records_far_behind_while_producing(server_factory):
    srv = server_factory(extra_args=SMALL_TAIL)
    c = srv.client()
    name = h.uniq('dread')
    h.create_active(c, name, 1)
    sid = c.list_shards(StreamName=name)['Shards'][0]['ShardId']
    want = put_n(c, name, 800, random.Random(5))  # ~1.6 MB: 25x the tail
    before = counters(srv)
    it = c.get_shard_iterator(StreamName=name, ShardId=sid,
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    with Producer(srv, name, 6) as p:
        got = []
        # Read while the producer writes: bounded by the records put.
        for _ in range(2000):
            r = c.get_records(ShardIterator=it, Limit=150)
            got += r['Records']
            it = r['NextShardIterator']
            if len(got) >= len(want):
                break
        more = p.finish()
    rest, _ = rh.drain(c, it, limit=500)
    same(got + rest, want + more)
    after = rh.wait_until(lambda: (lambda a: a if a[DISK] - before[DISK] >= 700 else None)(
        counters(srv)), 10, what='counters')
    assert after[ACHUNKS] > before[ACHUNKS], 'no chunk was read with io_uring'
    assert after[AWAITS] > before[AWAITS], 'no read waited for the disk'


def test_subscribe_far_behind_while_producing(server_factory):
    srv = server_factory(extra_args=SMALL_TAIL)
    k = srv.client()
    name = h.uniq('dsub')
    h.create_active(k, name, 1)
    want = put_n(k, name, 600, random.Random(7))
    before = counters(srv)
    carn = register(k, name)
    with Producer(srv, name, 8) as p:
        evs, _ = drain(subscribe(k, carn, {'Type': 'TRIM_HORIZON'})['EventStream'],
                       lambda e: len(records_of(e)) >= len(want), timeout_s=60)
        more = p.finish()
    got = records_of(evs)
    assert len(got) >= len(want)
    allput = want + more
    same(got, allput[:len(got)])
    after = rh.wait_until(lambda: (lambda a: a if a[ACHUNKS] > before[ACHUNKS] else None)(
        counters(srv)), 10, what='counters')
    assert after[AWAITS] > before[AWAITS]


def test_read_slots_zero_is_pread(server_factory):
    srv = server_factory(extra_args=SMALL_TAIL + ['--read-slots', '0'])
    c = srv.client()
    name = h.uniq('dread')
    h.create_active(c, name, 1)
    sid = c.list_shards(StreamName=name)['Shards'][0]['ShardId']
    want = put_n(c, name, 300, random.Random(9))
    same(rh.read_shard(c, name, sid, limit=100)[0], want)
    after = rh.wait_until(lambda: (lambda a: a if a[DISK] >= 200 else None)(counters(srv)),
                          10, what='counters')
    assert after[ACHUNKS] == 0 and after[AWAITS] == 0
