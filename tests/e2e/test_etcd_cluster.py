# SPDX-License-Identifier: Apache-2.0
"""Two sluiced nodes on one etcd (issue #18, docs/REPLICATION.md): each with
its own data directory, both under one --etcd-cluster prefix. What is built:
node membership (a key per node under a lease) and the watch that rebuilds
every node's routing table when another node changes the metadata. Records
are not forwarded between nodes yet: each node serves the records written
through it.

The waits here are bounded loops on an observable fact (a log line, an
answer), never a fixed sleep: the ASan build is several times slower."""

import base64
import http.client
import json
import os
import re
import signal
import time

import botocore.exceptions
import pytest

import sluice_helpers as h
from test_etcd import ETCD, Etcd

pytestmark = [
    pytest.mark.skipif(not os.access(ETCD, os.X_OK),
                       reason='%s not found (Debian package etcd-server)' % ETCD),
    pytest.mark.kernel_only,
]


@pytest.fixture
def etcd(tmp_path):
    """An etcd of the test's own: for the tests that kill or restart it."""
    e = Etcd(str(tmp_path / 'etcd'))
    e.start()
    yield e
    e.kill(signal.SIGTERM)


@pytest.fixture(scope='module')
def shared_etcd(tmp_path_factory):
    """One etcd for the tests that leave it running: each test's nodes live
    under a cluster prefix of their own (h.uniq), so they never meet."""
    e = Etcd(str(tmp_path_factory.mktemp('etcd') / 'etcd'))
    e.start()
    yield e
    e.kill(signal.SIGTERM)


def node_args(etcd, cluster, node_id, ttl_s=10):
    return ['--metadata', 'etcd=' + etcd.url, '--etcd-cluster', cluster,
            '--etcd-timeout-ms', '2000', '--node-id', node_id,
            '--etcd-lease-ttl-s', str(ttl_s)]


def etcd_keys(etcd, prefix):
    """The keys under prefix, read from etcd itself (not through sluiced)."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    conn = http.client.HTTPConnection('127.0.0.1', etcd.port, timeout=5)
    conn.request('POST', '/v3/kv/range', body=json.dumps({
        'key': base64.b64encode(prefix.encode()).decode(),
        'range_end': base64.b64encode(end.encode()).decode()}))
    ans = json.loads(conn.getresponse().read())
    conn.close()
    return sorted(base64.b64decode(kv['key']).decode() for kv in ans.get('kvs', []))


def wait_log(srv, pattern, timeout_s=30.0):
    """Waits until srv's log matches pattern (a regex); returns the match."""
    deadline = time.monotonic() + timeout_s
    while True:
        m = re.search(pattern, srv.log_tail(1 << 20))
        if m:
            return m
        assert time.monotonic() < deadline, 'no %r in the log:\n%s' % (pattern, srv.log_tail())
        time.sleep(0.05)


def wait_ok(fn, timeout_s=20.0, codes=('ResourceNotFoundException',)):
    """Calls fn until it stops failing with one of codes (the watch has not
    reached this node yet); any other error is raised at once."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except botocore.exceptions.ClientError as e:
            if e.response['Error']['Code'] not in codes or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


REMOTE_RE = re.compile(r'^Shard (shardId-\d{12}) in stream \S+ under account \d+ is owned by '
                       r'another node of this cluster, and this node does not forward '
                       r'requests yet\.$')


def remote_shard(e):
    """The shard a non-owner's InternalFailure names (no forwarding yet),
    or None when e is another error."""
    err = e.response['Error']
    m = REMOTE_RE.match(err.get('Message', '')) if err['Code'] == 'InternalFailure' else None
    return m.group(1) if m else None


def shard_of(c, stream, pk, data=b'x'):
    """The shard c routes pk to: the one that stored it, or the one its
    owner-elsewhere error names."""
    try:
        return c.put_record(StreamName=stream, Data=data, PartitionKey=pk)['ShardId']
    except botocore.exceptions.ClientError as e:
        sid = remote_shard(e)
        if sid is None:
            raise
        return sid


def wait_routed(c, stream, timeout_s=20.0):
    """Waits until c routes stream (a put is stored, or refused because
    another node owns the shard; not ResourceNotFoundException)."""
    return wait_ok(lambda: shard_of(c, stream, 'k'), timeout_s)


def owners(etcd, cluster):
    """{(stream id, shard index): node} from the ownership records in etcd."""
    prefix = '/sluice/%s/own/' % cluster
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    conn = http.client.HTTPConnection('127.0.0.1', etcd.port, timeout=5)
    conn.request('POST', '/v3/kv/range', body=json.dumps({
        'key': base64.b64encode(prefix.encode()).decode(),
        'range_end': base64.b64encode(end.encode()).decode()}))
    ans = json.loads(conn.getresponse().read())
    conn.close()
    out = {}
    for kv in ans.get('kvs', []):
        sid, shard = base64.b64decode(kv['key']).decode()[len(prefix):].split('/')
        val = json.loads(base64.b64decode(kv['value']))
        assert int(val['lease']) != 0 and int(kv.get('lease', 0)) == int(val['lease']), kv
        out[(int(sid), int(shard))] = val['node']
    return out


def wait_owners(etcd, cluster, n, pred=lambda o: True, timeout_s=30.0):
    """Waits until n shards have an owner and pred(owners) holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        o = owners(etcd, cluster)
        if len(o) == n and pred(o):
            return o
        assert time.monotonic() < deadline, o
        time.sleep(0.05)


def two_nodes(etcd, server_factory, ttl_s=10):
    cluster = h.uniq('c')
    a = server_factory(extra_args=node_args(etcd, cluster, 'node-a', ttl_s))
    b = server_factory(extra_args=node_args(etcd, cluster, 'node-b', ttl_s))
    # each sees the other through the watch
    wait_log(a, r'node node-b joined \(127\.0\.0\.1:%d\)' % b.port)
    wait_log(b, r'node node-a joined \(127\.0\.0\.1:%d\)' % a.port)
    return cluster, a, b


def test_stream_made_on_one_node_is_routed_on_the_other(shared_etcd, server_factory):
    etcd = shared_etcd
    _, a, b = two_nodes(etcd, server_factory)
    ca, cb = a.client(), b.client()
    h.create_active(ca, 'shared', 2)
    # the metadata is etcd's: B describes it at once
    desc = cb.describe_stream(StreamName='shared')['StreamDescription']
    assert desc['StreamStatus'] == 'ACTIVE' and len(desc['Shards']) == 2
    assert [s['ShardId'] for s in cb.list_shards(StreamName='shared')['Shards']] == \
        [s['ShardId'] for s in desc['Shards']]
    # B's routing table follows through the watch
    wait_routed(cb, 'shared')
    # each shard is written and read through its owner
    for c in (ca, cb):
        try:
            put = c.put_record(StreamName='shared', Data=b'via-owner', PartitionKey='k')
        except botocore.exceptions.ClientError as e:
            assert remote_shard(e), e
            continue
        it = c.get_shard_iterator(StreamName='shared', ShardId=put['ShardId'],
                                  ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        # (wait_routed may have stored one b'x' before)
        assert [r['Data'] for r in c.get_records(ShardIterator=it)['Records']][-1] == b'via-owner'

    # a reshard on A: B routes to the children
    ca.update_shard_count(StreamName='shared', TargetShardCount=4,
                          ScalingType='UNIFORM_SCALING')
    h.wait_status(ca, 'shared', 'ACTIVE')
    open_ids = {s['ShardId'] for s in cb.list_shards(StreamName='shared')['Shards']
                if 'EndingSequenceNumber' not in s['SequenceNumberRange']}
    assert len(open_ids) == 4
    deadline = time.monotonic() + 20
    while True:
        got = {shard_of(cb, 'shared', 'k%d' % i) for i in range(16)}
        if got <= open_ids:
            break
        assert time.monotonic() < deadline, (got, open_ids)
        time.sleep(0.05)

    # a delete on A: B stops routing to it
    ca.delete_stream(StreamName='shared')
    h.wait_gone(ca, 'shared')
    deadline = time.monotonic() + 20
    while True:
        try:
            shard_of(cb, 'shared', 'k')
        except cb.exceptions.ResourceNotFoundException:
            break
        assert time.monotonic() < deadline, 'B still routes a deleted stream'
        time.sleep(0.05)


def test_killed_node_leaves_after_its_lease(shared_etcd, server_factory):
    etcd = shared_etcd
    cluster, a, b = two_nodes(etcd, server_factory, ttl_s=2)
    prefix = '/sluice/%s/nodes/' % cluster
    assert etcd_keys(etcd, prefix) == [prefix + 'node-a', prefix + 'node-b']
    # keepalives hold the keys past several TTLs
    wait_log(a, r'node node-b joined')
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5.0:
        assert etcd_keys(etcd, prefix) == [prefix + 'node-a', prefix + 'node-b']
        time.sleep(0.5)
    a.stop(sig=signal.SIGKILL)
    t0 = time.monotonic()
    wait_log(b, r'node node-a left, 1 live', timeout_s=30)
    # at least the TTL, bounded by TTL + etcd's expiry sweep and our slack
    assert time.monotonic() - t0 < 30
    assert etcd_keys(etcd, prefix) == [prefix + 'node-b']
    # A again, under the same id: it registers once the old key is gone
    a.start()
    wait_log(a, r'cluster: node node-a registered')
    wait_log(b, r'(?s)node node-a left.*node node-a joined')
    # a clean stop revokes the lease: the key goes at once, not after the TTL
    assert b.stop() == 0
    assert etcd_keys(etcd, prefix) == [prefix + 'node-a']
    wait_log(a, r'node node-b left')


def test_node_id_held_by_a_live_node_waits(shared_etcd, server_factory):
    etcd = shared_etcd
    cluster = h.uniq('c')
    server_factory(extra_args=node_args(etcd, cluster, 'twin'))
    b = server_factory(extra_args=node_args(etcd, cluster, 'twin'))
    wait_log(b, r'node id twin is held by a live lease')
    prefix = '/sluice/%s/nodes/' % cluster
    assert etcd_keys(etcd, prefix) == [prefix + 'twin']


def test_watch_resumes_after_etcd_restart(etcd, server_factory):
    _, a, b = two_nodes(etcd, server_factory)
    ca, cb = a.client(), b.client()
    h.create_active(ca, 'before', 1)
    wait_routed(cb, 'before')
    etcd.kill(signal.SIGKILL)
    wait_log(b, r'watch connection lost')
    etcd.start()
    # made after the restart: B sees it through the resumed watch
    create_retrying(ca, 'after', a)
    wait_routed(cb, 'after')
    assert a.running() and b.running()


@pytest.mark.parametrize('args,msg', [
    (['--node-id', 'x'], '--node-id needs --metadata etcd'),
    (['--metadata', 'etcd=http://127.0.0.1:1', '--node-id', 'a/b'], '--node-id must be'),
    (['--metadata', 'etcd=http://127.0.0.1:1', '--etcd-lease-ttl-s', '1'], 'etcd-lease-ttl-s'),
])
def test_cluster_flags_are_checked(tmp_path, args, msg):
    import subprocess
    r = subprocess.run([h.default_binary(), '--data-dir', str(tmp_path)] + args,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and msg in r.stderr, r.stderr


def etcd_post(etcd, path, body):
    conn = http.client.HTTPConnection('127.0.0.1', etcd.port, timeout=5)
    conn.request('POST', path, body=json.dumps(body))
    r = conn.getresponse()
    ans = json.loads(r.read())
    conn.close()
    assert r.status == 200, ans
    return ans


def create_retrying(c, name, srv, timeout_s=30.0):
    """create_active while etcd's gateway may still be coming up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return h.create_active(c, name, 1)
        except botocore.exceptions.ClientError as e:
            code = e.response['Error']['Code']
            if code == 'ResourceInUseException':
                # an earlier try was applied, its answer lost (InternalFailure)
                return h.wait_status(c, name, 'ACTIVE')
            assert code == 'InternalFailure', e
            assert time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.2)


def test_watch_from_a_compacted_revision_reloads(etcd, server_factory):
    """B's watch is cut (etcd restarted) while B is stopped; then a stream
    is made on A and etcd compacts past what B saw: B's resumed watch is
    canceled as compacted, and B reloads everything."""
    _, a, b = two_nodes(etcd, server_factory)
    ca, cb = a.client(), b.client()
    b.send_signal(signal.SIGSTOP)
    try:
        etcd.kill(signal.SIGKILL)
        etcd.start()
        create_retrying(ca, 'while-b-slept', a)
        rev = int(etcd_post(etcd, '/v3/kv/range', {'key': 'AA=='})['header']['revision'])
        etcd_post(etcd, '/v3/kv/compaction', {'revision': str(rev), 'physical': True})
    finally:
        b.send_signal(signal.SIGCONT)
    wait_log(b, r'watch canceled \(compacted at \d+\): full reload')
    wait_routed(cb, 'while-b-slept')


def test_paused_node_registers_again_after_its_lease_expired(shared_etcd, server_factory):
    etcd = shared_etcd
    """A stopped (SIGSTOP) past its lease: its key expires and B sees it
    leave; when A runs again its keepalive finds the lease gone, and it
    registers again under a new one."""
    cluster, a, b = two_nodes(etcd, server_factory, ttl_s=2)
    a.send_signal(signal.SIGSTOP)
    try:
        wait_log(b, r'node node-a left, 1 live', timeout_s=30)
    finally:
        a.send_signal(signal.SIGCONT)
    wait_log(a, r'lease of node node-a expired; registering again')
    wait_log(b, r'(?s)node node-a left.*node node-a joined')
    prefix = '/sluice/%s/nodes/' % cluster
    assert etcd_keys(etcd, prefix) == [prefix + 'node-a', prefix + 'node-b']


# --- shard ownership (controlplane/cp_own.h) ---

@pytest.fixture(scope='module')
def mcluster(tmp_path_factory, module_server_factory):
    """One etcd and two nodes for the ownership tests that leave both alive."""
    e = Etcd(str(tmp_path_factory.mktemp('etcd-own')))
    e.start()
    try:
        cluster, a, b = two_nodes(e, module_server_factory)
        yield e, cluster, a, b
    finally:
        e.kill(signal.SIGTERM)


def test_each_shard_gets_one_owner_split_between_nodes(mcluster):
    etcd, cluster, a, b = mcluster
    ca, cb = a.client(), b.client()
    before = owners(etcd, cluster)
    h.create_active(ca, 'owned8', 8)
    o = wait_owners(etcd, cluster, len(before) + 8)
    mine = {k: v for k, v in o.items() if k not in before}
    assert len({sid for sid, _ in mine}) == 1 and sorted(s for _, s in mine) == list(range(8))
    # rendezvous hashing over two live nodes: both own some
    assert set(mine.values()) == {'node-a', 'node-b'}, mine
    # a non-owner refuses each shard with InternalFailure, the owner takes it
    shards = ca.list_shards(StreamName='owned8')['Shards']
    by_node = {'node-a': ca, 'node-b': cb}
    for (_, ix), node in sorted(mine.items()):
        sid = 'shardId-%012d' % ix
        ehk = [s for s in shards if s['ShardId'] == sid][0]['HashKeyRange']['StartingHashKey']
        owner, other = by_node[node], by_node['node-b' if node == 'node-a' else 'node-a']
        # the owner's table may lag its record by one watch delivery
        put = wait_ok(lambda: owner.put_record(StreamName='owned8', Data=b'd', PartitionKey='p',
                                               ExplicitHashKey=ehk),
                      codes=('InternalFailure',))
        assert put['ShardId'] == sid
        for call in (lambda: other.put_record(StreamName='owned8', Data=b'd', PartitionKey='p',
                                              ExplicitHashKey=ehk),
                     lambda: other.get_shard_iterator(StreamName='owned8', ShardId=sid,
                                                      ShardIteratorType='TRIM_HORIZON')):
            with pytest.raises(botocore.exceptions.ClientError) as ei:
                call()
            assert ei.value.response['ResponseMetadata']['HTTPStatusCode'] == 500
            assert remote_shard(ei.value) == sid, ei.value.response
        it = owner.get_shard_iterator(StreamName='owned8', ShardId=sid,
                                      ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        assert [r['Data'] for r in owner.get_records(ShardIterator=it)['Records']] == [b'd']
    # SubscribeToShard on a non-owner: the same refusal (the consumer is
    # registered through A; B's table has it once the watch delivers it)
    from test_subscribe_h1 import register
    carn = register(ca, 'owned8')
    sub_node = mine[(next(iter(mine))[0], 0)]
    other = by_node['node-b' if sub_node == 'node-a' else 'node-a']
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        wait_ok(lambda: other.subscribe_to_shard(ConsumerARN=carn, ShardId='shardId-%012d' % 0,
                                                 StartingPosition={'Type': 'LATEST'}))
    assert remote_shard(ei.value) == 'shardId-%012d' % 0, ei.value.response
    # PutRecords on one node: its shards' records are stored, the others'
    # fail one by one with InternalFailure (SDKs and the KPL retry those)
    recs = [{'Data': b'r', 'PartitionKey': 'p',
             'ExplicitHashKey': s['HashKeyRange']['StartingHashKey']} for s in shards]
    ans = ca.put_records(StreamName='owned8', Records=recs)
    for s, r in zip(shards, ans['Records']):
        ix = int(s['ShardId'][len('shardId-'):])
        if mine[(next(iter(mine))[0], ix)] == 'node-a':
            assert r['ShardId'] == s['ShardId'], r
        else:
            assert r['ErrorCode'] == 'InternalFailure', r
            assert REMOTE_RE.match(r['ErrorMessage']).group(1) == s['ShardId'], r
    assert ans['FailedRecordCount'] == sum(1 for v in mine.values() if v == 'node-b')


def test_ownership_moves_to_the_survivor_after_kill(etcd, server_factory):
    cluster, a, b = two_nodes(etcd, server_factory, ttl_s=2)
    ca, cb = a.client(), b.client()
    h.create_active(ca, 'moves', 8)
    o = wait_owners(etcd, cluster, 8, lambda o: set(o.values()) == {'node-a', 'node-b'})
    kept = {k for k, v in o.items() if v == 'node-b'}
    a.stop(sig=signal.SIGKILL)
    # A's records go with its lease; B claims each of them, keeps its own
    o2 = wait_owners(etcd, cluster, 8, lambda o: set(o.values()) == {'node-b'})
    assert kept <= set(o2)
    for s in cb.list_shards(StreamName='moves')['Shards']:
        ehk = s['HashKeyRange']['StartingHashKey']
        put = wait_ok(lambda: cb.put_record(StreamName='moves', Data=b'd', PartitionKey='p',
                                            ExplicitHashKey=ehk),
                      codes=('InternalFailure',))
        assert put['ShardId'] == s['ShardId']


def test_stream_made_on_a_is_usable_on_b_at_once(mcluster):
    """B's watch delivery is held back (B stopped while A creates the
    stream); a PutRecord already waiting in B's socket when B runs again
    meets a routing table without the stream. B reads etcd once before it
    would answer ResourceNotFoundException, so there is no such window."""
    import threading
    etcd, cluster, a, b = mcluster
    ca, cb = a.client(), b.client()
    cb.list_streams()  # the connection is open before B stops
    got = {}

    def put():
        try:
            # one record to each of the 8 shards (CreateStream's even split)
            got['ok'] = cb.put_records(StreamName='at-once', Records=[
                {'Data': b'first-%d' % i, 'PartitionKey': 'k',
                 'ExplicitHashKey': str((2 ** 128 // 8) * i)} for i in range(8)])
        except botocore.exceptions.ClientError as e:
            got['err'] = e

    b.send_signal(signal.SIGSTOP)
    try:
        h.create_active(ca, 'at-once', 8)
        t = threading.Thread(target=put)
        t.start()
        time.sleep(0.2)  # its bytes reach B's socket (B is stopped: nothing answers)
    finally:
        b.send_signal(signal.SIGCONT)
    t.join(30)
    assert not t.is_alive()
    assert 'err' not in got, got['err'].response
    # stored, or refused as another node's shard: found either way; what
    # was stored is what was sent (the request is routed again after the
    # read, not decoded again: its base64 was decoded in place)
    stored = 0
    for i, r in enumerate(got['ok']['Records']):
        if 'ErrorCode' in r:
            assert REMOTE_RE.match(r['ErrorMessage']).group(1) == 'shardId-%012d' % i, r
            continue
        assert r['ShardId'] == 'shardId-%012d' % i, r
        it = cb.get_shard_iterator(StreamName='at-once', ShardId=r['ShardId'],
                                   ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        assert [x['Data'] for x in cb.get_records(ShardIterator=it)['Records']] == \
            [b'first-%d' % i]
        stored += 1
    assert 0 < stored < 8  # both nodes own some of the 8 (rendezvous hash)
    # a stream that does not exist is still not found, after one read
    with pytest.raises(cb.exceptions.ResourceNotFoundException):
        cb.put_record(StreamName='never-made', Data=b'd', PartitionKey='k')
