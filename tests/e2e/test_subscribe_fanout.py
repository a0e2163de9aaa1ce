# SPDX-License-Identifier: Apache-2.0
"""Enhanced fan-out at the tip (issue #16 item 4): 5 registered consumers
subscribed to each shard of a 2-shard stream (10 SubscribeToShard streams,
boto3 over HTTP/1.1) while a producer writes; every subscriber receives
every record of its shard byte-exact, in order, exactly once, and all of
them are served from the in-memory tail (storage/README.md "Sizing the
tail"): sluice_journal_tail_read_records grows by 5 x the records and
sluice_journal_disk_read_records not at all. --tail-mib 2 is the point:
with rings sized by need both shards hold their records in 2 MiB, where
first come first served gave the first shard a whole 1 MiB ring and the
second none (its subscribers read from disk)."""

import random
import threading
import time

import pytest

import records_helpers as rh
import sluice_helpers as h
from test_metrics import scrape, val

pytestmark = pytest.mark.kernel_only  # the admin socket is in the server's namespace

TAIL = 'sluice_journal_tail_read_records_total'
DISK = 'sluice_journal_disk_read_records_total'
NCONS = 5
NREC = 240  # per shard


def counters(srv):
    s = scrape(srv)
    return {n: val(s, n, lcore='log0') for n in (TAIL, DISK)}


def register(k, sarn, name):
    carn = k.register_stream_consumer(StreamARN=sarn, ConsumerName=name)[
        'Consumer']['ConsumerARN']
    rh.wait_until(lambda: k.describe_stream_consumer(ConsumerARN=carn)[
        'ConsumerDescription']['ConsumerStatus'] == 'ACTIVE', 10.0, what='consumer ACTIVE')
    return carn


class Sub(threading.Thread):
    """One subscription read in its own thread (and client, so its own
    connection) until it holds want records or the deadline."""

    def __init__(self, srv, carn, shard, want):
        super().__init__(daemon=True)
        self.k, self.carn, self.shard, self.want = srv.client(), carn, shard, want
        self.ready, self.recs, self.err = threading.Event(), [], None

    def run(self):
        try:
            resp = self.k.subscribe_to_shard(ConsumerARN=self.carn, ShardId=self.shard,
                                             StartingPosition={'Type': 'LATEST'})
            deadline = time.monotonic() + 120
            for ev in resp['EventStream']:
                # The first event (a heartbeat within a second): the LATEST
                # position is resolved, so the producer may start.
                self.ready.set()
                self.recs += ev.get('SubscribeToShardEvent', {}).get('Records', [])
                if len(self.recs) >= self.want or time.monotonic() > deadline:
                    break
            resp['EventStream'].close()
        except Exception as e:  # reported by the test
            self.err = e
        finally:
            self.ready.set()


def test_five_subscribers_per_shard_from_the_tail(server_factory):
    srv = server_factory(extra_args=['--tail-mib', '2'])
    c = srv.client()
    name = h.uniq('fan')
    h.create_active(c, name, 2)
    shards = c.list_shards(StreamName=name)['Shards']
    sarn = c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
    carns = [register(c, sarn, 'c%d' % i) for i in range(NCONS)]
    before = counters(srv)
    subs = [Sub(srv, carn, sh['ShardId'], NREC) for sh in shards for carn in carns]
    for s in subs:
        s.start()
    for s in subs:
        assert s.ready.wait(30), 'no first event within 30 s'
        assert s.err is None, s.err
    rng = random.Random(16)
    want = {sh['ShardId']: [] for sh in shards}
    # Written while they read: 2 x 240 records of up to 2 KiB in batches.
    for _ in range(NREC // 40):
        batch = []
        for sh in shards:
            for _ in range(40):
                batch.append({'Data': rng.randbytes(rng.randrange(1, 2048)),
                              'PartitionKey': 'pk%d' % rng.randrange(1000),
                              'ExplicitHashKey': sh['HashKeyRange']['StartingHashKey']})
        r = c.put_records(StreamName=name, Records=batch)
        assert r['FailedRecordCount'] == 0, r
        for rec, res in zip(batch, r['Records']):
            want[res['ShardId']].append((rec['Data'], rec['PartitionKey'],
                                         res['SequenceNumber']))
    for s in subs:
        s.join(150)
        assert not s.is_alive(), 'a subscriber did not finish'
        assert s.err is None, s.err
        got = [(r['Data'], r['PartitionKey'], r['SequenceNumber']) for r in s.recs]
        assert len(got) == NREC, (s.shard, len(got))
        assert got == want[s.shard], s.shard  # byte-exact, in order, once
    total = NCONS * 2 * NREC
    got = {}

    def settled():
        got.update(counters(srv))
        return got[TAIL] + got[DISK] - before[TAIL] - before[DISK] >= total
    rh.wait_until(settled, 10.0, what='counters')
    assert got[DISK] == before[DISK], ('subscribers read from disk', before, got)
    assert got[TAIL] - before[TAIL] == total, (before, got)
