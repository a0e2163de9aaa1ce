# SPDX-License-Identifier: Apache-2.0
"""A 10,000-shard stream (the default --shard-limit allows 20,000): it is
created, accepts PutRecords spread over thousands of shards, serves them, and
keeps every acknowledged record across a clean restart (which records the
index incrementally, storage/st_delta.c) followed by more writes and a
kill -9 (recovery applies the incremental checkpoint, then scans)."""

import os
import random
import signal

import records_helpers as rh
import sluice_helpers as h

SHARDS = 10000
BATCHES = 8  # x 500 records per round


def put_round(c, name, tag, acked):
    """BATCHES x 500 records with random keys (each batch touches ~480
    shards); records what was acknowledged: data -> (shard, seq)."""
    rng = random.Random(tag)
    for b in range(BATCHES):
        batch = [{'PartitionKey': 'k%d' % rng.randrange(1 << 40),
                  'Data': ('%s-%d-%d|' % (tag, b, i)).encode() + os.urandom(rng.randrange(80))}
                 for i in range(500)]
        r = c.put_records(StreamName=name, Records=batch)
        assert r['FailedRecordCount'] == 0, r['Records'][:3]
        for e, res in zip(batch, r['Records']):
            acked[e['Data']] = (res['ShardId'], res['SequenceNumber'])


def check_sample(c, name, acked, n_shards_read, seed):
    """Reads n_shards_read shards that hold acknowledged records, whole, and
    checks each holds exactly its acknowledged records, in order."""
    by_shard = {}
    for data, (sid, seq) in acked.items():
        by_shard.setdefault(sid, {})[seq] = data
    sids = sorted(by_shard)
    random.Random(seed).shuffle(sids)
    for sid in sids[:n_shards_read]:
        recs, _ = rh.read_shard(c, name, sid)
        got = {r['SequenceNumber']: r['Data'] for r in recs}
        assert got == by_shard[sid], (sid, len(got), len(by_shard[sid]))
        rh.assert_increasing([r['SequenceNumber'] for r in recs], sid)
    return len(sids)


def test_10000_shards_put_read_restart_kill9(server_factory):
    srv = server_factory(extra_args=['--segment-mib', '16'])
    c = srv.client()
    name = 'wide'
    h.create_active(c, name, SHARDS, timeout_s=60.0)
    summ = c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
    assert summ['OpenShardCount'] == SHARDS
    acked = {}
    put_round(c, name, 'a', acked)
    touched = check_sample(c, name, acked, 40, 1)
    assert touched > 3000, touched  # spread over thousands of shards
    # Clean restart: the journal closes with an incremental checkpoint.
    assert srv.stop() == 0, srv.log_tail()
    srv.start()
    c = srv.client()
    log = srv.log_tail()
    assert 'incremental checkpoints applied' in log, log
    check_sample(c, name, acked, 40, 2)
    put_round(c, name, 'b', acked)
    rc = srv.stop(10.0, signal.SIGKILL)
    assert rc == -signal.SIGKILL, rc
    srv.start()
    c = srv.client()
    check_sample(c, name, acked, 60, 3)
    # Numbering goes on above everything acknowledged on that shard.
    r = c.put_records(StreamName=name, Records=[{'PartitionKey': 'k1', 'Data': b'end'}])
    sid, seq = r['Records'][0]['ShardId'], int(r['Records'][0]['SequenceNumber'])
    assert all(seq > int(s) for d, (x, s) in acked.items() if x == sid)
