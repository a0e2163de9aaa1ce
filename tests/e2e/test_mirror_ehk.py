# SPDX-License-Identifier: Apache-2.0
"""Mirroring keeps explicit hash keys (#17 item 2): a record put with an
ExplicitHashKey lands upstream in the shard that owns that hash, not where
its partition key would have sent it. The mirror reads them with sluiced's
internal credential (made at start, in memory only), the one key whose
GetRecords may ask for stored hash keys: a client key asking gets nothing
more, and the internal key may read and nothing else. Both sides are real
sluiced servers over verified TLS."""

import hashlib
import os
import re
import time

import pytest

import sluice_helpers as h
from test_mirror import PAIR_ARGS, write_conf

pytestmark = pytest.mark.kernel_only  # the mirror dials the upstream's 127.0.0.1 port

EHK_HEADER = 'x-sluice-explicit-hash-keys'


def md5_hash(pk):
    return int.from_bytes(hashlib.md5(pk.encode()).digest(), 'big')


def keys_outside(lo, hi, n, prefix):
    """n partition keys whose MD5 hash is outside [lo, hi]: by partition
    key alone they would land in another shard."""
    out, i = [], 0
    while len(out) < n:
        k = '%s-%d' % (prefix, i)
        if not lo <= md5_hash(k) <= hi:
            out.append(k)
        i += 1
    return out


def shard_ranges(client, stream):
    return {s['ShardId']: (int(s['HashKeyRange']['StartingHashKey']),
                           int(s['HashKeyRange']['EndingHashKey']))
            for s in client.list_shards(StreamName=stream)['Shards']}


def read_by_shard(client, stream):
    out = {}
    for sid in shard_ranges(client, stream):
        it = client.get_shard_iterator(StreamName=stream, ShardId=sid,
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        recs = []
        while it:
            r = client.get_records(ShardIterator=it, Limit=10000)
            recs.extend(r['Records'])
            if not r['Records'] and r.get('MillisBehindLatest', 0) == 0:
                break
            it = r.get('NextShardIterator')
        out[sid] = recs
    return out


def internal_credential(pid, known_secrets):
    """sluiced's internal key id and secret, read from its memory (the only
    place they are): the key id is SLIN + 16 of [A-Z0-9]; the secret sits
    in its signer as "AWS4" + 40 base64 characters. Skips when the memory
    cannot be read (ptrace restrictions)."""
    ids, secrets = set(), set()
    try:
        maps = open('/proc/%d/maps' % pid).read().splitlines()
        mem = open('/proc/%d/mem' % pid, 'rb')
    except OSError as e:
        pytest.skip('cannot read sluiced memory: %s' % e)
    with mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split('-'))
            path = f[5] if len(f) > 5 else ''
            # anonymous and heap mappings and the binary's data; not the
            # sanitizer's terabytes of shadow, not DPDK's hugepages
            if 'rw' not in f[1] or hi - lo > (256 << 20) or path.startswith('/dev'):
                continue
            try:
                mem.seek(lo)
                b = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            ids.update(m.group(0) for m in re.finditer(rb'SLIN[A-Z0-9]{16}(?![A-Z0-9])', b))
            secrets.update(m.group(1) for m in
                           re.finditer(rb'AWS4([A-Za-z0-9+/]{40})\x00', b))
    secrets -= {s.encode() for s in known_secrets}
    assert len(ids) == 1, ids
    assert len(secrets) == 1, 'one internal secret expected, found %d' % len(secrets)
    return ids.pop().decode(), secrets.pop().decode()


def start_pair(server_factory, tmp_path, src_shards=2, dst_shards=4):
    up = server_factory(extra_args=PAIR_ARGS)
    uc = up.client()
    h.create_active(uc, 'dst', dst_shards)
    conf = str(tmp_path / 'mirror.conf')
    write_conf(conf, up)
    src = server_factory(extra_args=PAIR_ARGS + ['--mirror-config', conf,
                                                 '--log-level', 'debug'])
    sc = src.client()
    h.create_active(sc, 'src', src_shards)
    return up, uc, src, sc


def test_mirror_forwards_explicit_hash_keys(server_factory, tmp_path):
    # Two shards here, four upstream: what places a record upstream is its
    # hash key, whatever the source's layout.
    up, uc, src, sc = start_pair(server_factory, tmp_path)
    ranges = sorted(shard_ranges(uc, 'dst').items())
    targets = [ranges[3], ranges[0]]  # (shard id, (lo, hi)) upstream
    plan = []  # (partition key, ehk or None)
    for t, (sid, (lo, hi)) in enumerate(targets):
        for k, pk in enumerate(keys_outside(lo, hi, 5, 'e%d' % t)):
            plan.append((pk, lo + 1000 * k + t))
    plan += [(pk, None) for pk in ('plain-%d' % i for i in range(4))]
    total, sent = 0, []
    for rnd in range(40):
        recs = []
        for pk, ehk in plan:
            rec = {'PartitionKey': pk, 'Data': ('%s:%d:%s' % (pk, rnd, ehk)).encode()}
            if ehk is not None:
                rec['ExplicitHashKey'] = str(ehk)
            recs.append(rec)
        r = sc.put_records(StreamName='src', Records=recs)
        assert r['FailedRecordCount'] == 0, r
        total += len(recs)
        sent.extend(recs)
    deadline = time.monotonic() + 120
    while True:
        got = read_by_shard(uc, 'dst')
        n = sum(len(v) for v in got.values())
        if n >= total or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert n == total, 'upstream has %d of %d records' % (n, total)
    upr = dict(ranges)
    per_key = {}
    for sid, recs in got.items():
        lo, hi = upr[sid]
        for r in recs:
            pk, rnd, ehk = r['Data'].decode().split(':')
            assert r['PartitionKey'] == pk
            # where the producer asked, or where the key hashes without one
            want = int(ehk) if ehk != 'None' else md5_hash(pk)
            assert lo <= want <= hi, (sid, pk, ehk, 'landed by partition key')
            per_key.setdefault(pk, []).append(int(rnd))
    for pk, rounds in per_key.items():
        assert rounds == list(range(40)), (pk, rounds)  # per-key order, no duplicates


def test_only_the_internal_key_reads_hash_keys(server_factory, tmp_path):
    up, uc, src, sc = start_pair(server_factory, tmp_path, src_shards=1, dst_shards=1)
    sc.put_record(StreamName='src', PartitionKey='a', Data=b'x', ExplicitHashKey='12345')
    sc.put_record(StreamName='src', PartitionKey='b', Data=b'y')
    sid = h.shard_id(0)

    def get(**kw):
        st, _, body = src.call('GetShardIterator', {
            'StreamName': 'src', 'ShardId': sid, 'ShardIteratorType': 'TRIM_HORIZON'}, **kw)
        assert st == 200, body
        st, _, body = src.call('GetRecords', {'ShardIterator': body['ShardIterator']},
                               headers={EHK_HEADER: '1'}, **kw)
        assert st == 200, body
        return body['Records']

    # A client key (the administrator's, even) asking: the header is
    # ignored, as Kinesis ignores headers it does not know.
    recs = get()
    assert [r['PartitionKey'] for r in recs] == ['a', 'b']
    assert not any('ExplicitHashKey' in r for r in recs), recs
    # The internal key asking gets the stored key of the record that had one.
    key_id, secret = internal_credential(src.proc.pid, [up.secret, src.secret])
    recs = get(key_id=key_id, secret=secret)
    assert [r.get('ExplicitHashKey') for r in recs] == ['12345', None], recs
    # and without the header, the answer Kinesis gives
    st, _, body = src.call('GetShardIterator', {
        'StreamName': 'src', 'ShardId': sid, 'ShardIteratorType': 'TRIM_HORIZON'},
        key_id=key_id, secret=secret)
    st, _, body = src.call('GetRecords', {'ShardIterator': body['ShardIterator']},
                           key_id=key_id, secret=secret)
    assert st == 200 and not any('ExplicitHashKey' in r for r in body['Records']), body
    # Least privilege: the internal key reads, and nothing else.
    for op, payload in (('PutRecord', {'StreamName': 'src', 'PartitionKey': 'a',
                                       'Data': 'eA=='}),
                        ('CreateStream', {'StreamName': 'other', 'ShardCount': 1}),
                        ('DeleteStream', {'StreamName': 'src'})):
        st, _, body = src.call(op, payload, key_id=key_id, secret=secret)
        assert st == 400 and body['__type'] == 'AccessDeniedException', (op, st, body)
        assert key_id not in body['message'], body  # named sluiced-internal
    assert sc.describe_stream_summary(StreamName='src')['StreamDescriptionSummary'][
        'StreamStatus'] == 'ACTIVE'


def test_internal_credential_is_in_no_file_or_log(server_factory, tmp_path):
    up, uc, src, sc = start_pair(server_factory, tmp_path, src_shards=1, dst_shards=1)
    sc.put_record(StreamName='src', PartitionKey='a', Data=b'x', ExplicitHashKey='7')
    deadline = time.monotonic() + 60
    while not read_by_shard(uc, 'dst')[h.shard_id(0)] and time.monotonic() < deadline:
        time.sleep(0.3)
    key_id, secret = internal_credential(src.proc.pid, [up.secret, src.secret])
    # a denied call puts the internal principal into the audit log
    st, _, _ = src.call('DeleteStream', {'StreamName': 'src'}, key_id=key_id, secret=secret)
    assert st == 400
    src.stop()
    files = [src.log_path]
    for d in (src.data_dir, up.data_dir, str(tmp_path)):
        for root, _, names in os.walk(d):
            files += [os.path.join(root, n) for n in names]
    audit = b''
    for p in files:
        try:
            with open(p, 'rb') as f:
                b = f.read()
        except OSError:
            continue
        assert key_id.encode() not in b, p
        assert secret.encode() not in b, p
        if os.path.basename(p).startswith('audit'):
            audit += b
    assert b'sluiced-internal' in audit
