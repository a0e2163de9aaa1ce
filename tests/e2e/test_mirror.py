# SPDX-License-Identifier: Apache-2.0
"""Mirroring (--mirror-config, #17 item 2): one real sluiced mirrors a stream
to a second real sluiced over verified TLS. Every record must arrive
upstream, in order per partition key, through a kill -9 and restart of the
upstream and a kill -9 of the mirroring server (which resumes from its
checkpoint). The duplicate count is printed (pytest -s shows it)."""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import types

import pytest

import sluice_helpers as h
import test_metrics as metrics

pytestmark = pytest.mark.kernel_only  # the mirror dials the upstream's 127.0.0.1 port

KEYS = ['key-%d' % k for k in range(12)]


def write_conf(path, up, mode=0o600, stream='src', upstream='dst', extra=''):
    text = ('# mirror test\nstream = %s\nupstream_stream = %s\nendpoint = https://%s:%d\n'
            'region = us-east-1\naccess_key = %s\nsecret_key = %s\nca_bundle = %s\n%s'
            % (stream, upstream, up.host, up.port, up.key_id, up.secret, up.ca, extra))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


def produce(client, first, count, batch=100):
    """Puts records first..first+count-1; record i has key KEYS[i % 12] and
    data 'key:i', so each key's numbers must arrive increasing."""
    i = first
    while i < first + count:
        n = min(batch, first + count - i)
        recs = [{'PartitionKey': KEYS[j % len(KEYS)],
                 'Data': ('%s:%d' % (KEYS[j % len(KEYS)], j)).encode()}
                for j in range(i, i + n)]
        r = client.put_records(StreamName='src', Records=recs)
        assert r['FailedRecordCount'] == 0, r
        i += n


def read_all(client, stream):
    """Every record of every shard of stream, per shard in order."""
    out = []
    for sh in client.list_shards(StreamName=stream)['Shards']:
        it = client.get_shard_iterator(StreamName=stream, ShardId=sh['ShardId'],
                                       ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        while it:
            r = client.get_records(ShardIterator=it, Limit=10000)
            out.extend(r['Records'])
            if not r['Records'] and r.get('MillisBehindLatest', 0) == 0:
                break
            it = r.get('NextShardIterator')
    return out


def check_upstream(client, total, deadline_s):
    """Waits until all `total` records are upstream; checks per-key order and
    returns the number of duplicates."""
    deadline = time.monotonic() + deadline_s
    settled = -1
    while True:
        recs = read_all(client, 'dst')
        per_key = {}
        for r in recs:
            key, num = r['Data'].decode().split(':')[:2]
            assert r['PartitionKey'] == key, r
            per_key.setdefault(key, []).append(int(num))
        seen = {(k, n) for k, nums in per_key.items() for n in nums}
        if len(seen) == total and settled == len(recs):
            break  # all there, and nothing more (no late re-sends) for 1 s
        if time.monotonic() > deadline:
            break
        settled = len(recs) if len(seen) == total else -1
        time.sleep(1.0 if len(seen) == total else 0.5)
    assert len(seen) == total, 'upstream has %d of %d records' % (len(seen), total)
    for key, nums in per_key.items():
        # A re-sent batch repeats numbers; the first arrival of each number
        # must still be in the producer's order.
        firsts, got = [], set()
        for n in nums:
            if n not in got:
                got.add(n)
                firsts.append(n)
        assert firsts == sorted(firsts), (key, firsts[:50])
        # and after its first arrival a number only repeats inside one re-sent run
    return len(recs) - total


# The pair's servers give a request (and a TLS handshake) 20 s: the
# conftest's 2 s cut a fresh server's first handshake under ASan on a
# loaded machine.
PAIR_ARGS = ['--request-timeout-ms', '20000']


def start_pair(server_factory, tmp_path, shards=2, up_args=(), conf_extra=''):
    up = server_factory(extra_args=PAIR_ARGS + list(up_args))
    uc = up.client()
    h.create_active(uc, 'dst', 3)
    conf = str(tmp_path / 'mirror.conf')
    write_conf(conf, up, extra=conf_extra)
    src = server_factory(extra_args=PAIR_ARGS + ['--mirror-config', conf])
    sc = src.client()
    h.create_active(sc, 'src', shards, timeout_s=60.0)
    return up, uc, src, sc


def test_mirror_delivers_in_key_order(server_factory, tmp_path):
    up, uc, src, sc = start_pair(server_factory, tmp_path)
    produce(sc, 0, 1200)
    dups = check_upstream(uc, 1200, 120)
    print('mirror: 1200 records upstream, %d duplicates' % dups)
    assert dups == 0  # nothing failed, nothing was re-sent
    # The counters and gauges on the admin listener's /metrics.
    samples = metrics.scrape(src)
    lab = frozenset({('stream', 'src')})
    deadline = time.monotonic() + 10
    while samples[('sluice_mirror_records_sent_total', lab)] < 1200 and \
            time.monotonic() < deadline:
        time.sleep(0.2)  # the last batch's counter may trail its arrival
        samples = metrics.scrape(src)
    assert samples[('sluice_mirror_records_sent_total', lab)] == 1200
    assert samples[('sluice_mirror_entries_retried_total', lab)] == 0
    assert samples[('sluice_mirror_batches_total', lab)] >= 1200 / len(KEYS)
    assert samples[('sluice_mirror_upstream_up', lab)] == 1
    assert samples[('sluice_mirror_checkpoint_time_seconds', lab)] > time.time() - 300
    assert ('sluice_mirror_lag_milliseconds', lab) in samples
    ckpt = os.path.join(src.data_dir, 'mirror.ckpt')
    assert os.stat(ckpt).st_mode & 0o777 == 0o600
    lines = open(ckpt).read().split()
    assert len(lines) == 4, lines  # two shards: id and sequence number each
    # The upstream secret never reaches the log.
    assert src.stop() == 0, src.log_tail()
    with open(src.log_path) as f:
        assert up.secret not in f.read()


@pytest.mark.parametrize('page', [None, 7])
def test_mirror_reads_shards_past_the_first_listshards_page(server_factory, tmp_path, page):
    """1100 shards: ListShards answers 1000 a page (our mirror asks for
    1000; 7 with list_shards_page); records put by explicit hash key into
    the last shards, past the first page (and past the 1024 shards the
    mirror once followed), must go upstream too."""
    # (with the small page, the checkpoint fsynced at most every 200 ms:
    # the other setting of checkpoint_sync_ms)
    extra = 'list_shards_page = %d\ncheckpoint_sync_ms = 200\n' % page if page else ''
    up, uc, src, sc = start_pair(server_factory, tmp_path, shards=1100, conf_extra=extra)
    shards = []
    tok = None
    while True:
        r = sc.list_shards(NextToken=tok) if tok else sc.list_shards(StreamName='src')
        shards.extend(r['Shards'])
        tok = r.get('NextToken')
        if not tok:
            break
    assert len(shards) == 1100
    last = shards[-60:]  # shardId-000000001040 .. 1099: the second page of 1000
    recs = []
    for j, sh in enumerate(last):
        key = KEYS[j % len(KEYS)]
        recs.append({'PartitionKey': key, 'Data': ('%s:%d' % (key, j)).encode(),
                     'ExplicitHashKey': sh['HashKeyRange']['StartingHashKey']})
    r = sc.put_records(StreamName='src', Records=recs)
    assert r['FailedRecordCount'] == 0, r
    got = {rr['ShardId'] for rr in r['Records']}
    assert got == {sh['ShardId'] for sh in last}
    dups = check_upstream(uc, len(recs), 180)
    assert dups == 0


@pytest.mark.parametrize('line', ['checkpoint_sync_ms = soon', 'checkpoint_sync_ms = 10001',
                                  'list_shards_page = 0', 'list_shards_page = 10001'])
def test_mirror_config_refuses_bad_numbers(server_factory, tmp_path, line):
    up = server_factory()
    conf = str(tmp_path / 'bad.conf')
    write_conf(conf, up, extra=line + '\n')
    src = server_factory(extra_args=['--mirror-config', conf], start=False)
    with pytest.raises(AssertionError, match='bad value'):
        src.start()


def test_mirror_config_must_be_private(server_factory, tmp_path):
    up = server_factory()
    conf = str(tmp_path / 'open.conf')
    write_conf(conf, up, mode=0o644)
    src = server_factory(extra_args=['--mirror-config', conf], start=False)
    with pytest.raises(AssertionError, match='mode 0600'):
        src.start()


def test_mirror_survives_kills(server_factory, tmp_path):
    up, uc, src, sc = start_pair(server_factory, tmp_path)
    produce(sc, 0, 1000)
    # Upstream killed mid-run and back on the same port a little later: the
    # mirror backs off and carries on.
    time.sleep(0.5)
    up_port = up.port
    up.stop(sig=signal.SIGKILL)
    produce(sc, 1000, 1000)
    time.sleep(1.5)
    up.start(listen='127.0.0.1:%d' % up_port)
    uc = up.client()
    produce(sc, 2000, 500)
    # The mirroring server killed with -9 mid-mirror resumes from its checkpoint.
    time.sleep(0.3)
    src.stop(sig=signal.SIGKILL)
    src.start()
    sc = src.client()
    produce(sc, 2500, 500)
    dups = check_upstream(uc, 3000, 180)
    print('mirror through kills: 3000 records upstream, %d duplicates' % dups)
    # at most one unacknowledged batch per kill (a batch is at most 12
    # records here: one per key)
    assert dups <= 2 * len(KEYS) * 2, dups
    # The restart made the sequence counters jump; the record before the
    # jump is still retained, so nothing is taken for lost to retention.
    samples = metrics.scrape(src)
    assert metrics.val(samples, 'sluice_mirror_expiries_total', stream='src') == 0
    assert metrics.val(samples, 'sluice_mirror_records_expired_total', stream='src') == 0
    with open(src.log_path) as f:
        assert 'expired (retention)' not in f.read()


def test_mirror_keeps_key_order_when_upstream_throttles(server_factory, tmp_path):
    """The upstream's byte quota throttles a large record while a later small
    one of the same key would fit: were both in one PutRecords, the small one
    would land first. Batches never hold a key twice, so order holds."""
    quota = ['--quota-mode', 'custom', '--quota-in-bytes', '65536', '--quota-in-records',
             '1000', '--quota-out-bytes', '2097152', '--quota-get-calls', '5',
             '--quota-iter-calls', '5']
    up, uc, src, sc = start_pair(server_factory, tmp_path, shards=1, up_args=quota)
    keys = KEYS[:3]
    recs = []
    for i in range(120):
        pad = 'x' * (12000 if i % 2 == 0 else 10)
        recs.append({'PartitionKey': keys[i % 3],
                     'Data': ('%s:%d:%s' % (keys[i % 3], i, pad)).encode()})
    for i in range(0, len(recs), 40):
        r = sc.put_records(StreamName='src', Records=recs[i:i + 40])
        assert r['FailedRecordCount'] == 0, r
    dups = check_upstream(uc, len(recs), 120)
    with open(src.log_path) as f:
        throttled = f.read().count('entries (throttled?); retrying')
    print('mirror under throttling: %d records, %d duplicates, %d throttled calls'
          % (len(recs), dups, throttled))
    assert throttled > 0, 'the upstream never throttled: the test proved nothing'


def test_mirror_follows_a_reshard(server_factory, tmp_path):
    """UpdateShardCount closes the source shards: the mirror finds the
    children and reads each only after its parents are read to their end,
    so every key stays in order across the reshard. The upstream is down
    while the parents fill (more than one GetRecords each) and the source
    restarts, so the mirror sees parents and children at once."""
    up, uc, src, sc = start_pair(server_factory, tmp_path, shards=2)
    up_port = up.port
    assert up.stop() == 0, up.log_tail()
    produce(sc, 0, 2000)  # about 1000 per parent: two GetRecords each
    sc.update_shard_count(StreamName='src', TargetShardCount=4, ScalingType='UNIFORM_SCALING')
    deadline = time.monotonic() + 30
    while sc.describe_stream_summary(StreamName='src')['StreamDescriptionSummary'][
            'StreamStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline, 'UpdateShardCount did not finish'
        time.sleep(0.2)
    produce(sc, 2000, 600)
    assert src.stop() == 0, src.log_tail()
    src.start()
    up.start(listen='127.0.0.1:%d' % up_port)
    dups = check_upstream(up.client(), 2600, 180)
    print('mirror across a reshard: 2600 records upstream, %d duplicates' % dups)
    assert dups == 0


def test_mirror_finds_children_while_running(server_factory, tmp_path):
    """A reshard while the mirror runs: the children appear after it
    started, and what is written to them arrives too."""
    up, uc, src, sc = start_pair(server_factory, tmp_path, shards=2)
    produce(sc, 0, 600)
    assert check_upstream(uc, 600, 120) == 0  # the mirror runs on the parents
    sc.update_shard_count(StreamName='src', TargetShardCount=4, ScalingType='UNIFORM_SCALING')
    deadline = time.monotonic() + 30
    while sc.describe_stream_summary(StreamName='src')['StreamDescriptionSummary'][
            'StreamStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline, 'UpdateShardCount did not finish'
        time.sleep(0.2)
    produce(sc, 600, 600)
    assert check_upstream(uc, 1200, 120) == 0


def test_mirror_stops_quickly_with_a_black_holed_upstream(server_factory, tmp_path):
    """SIGTERM while the upstream accepts the connection and then never
    answers (a black hole): the mirror's waits look at stop every 50 ms, so
    the server exits within a few seconds instead of after its 15 s I/O
    timeout (twice: the handshake, then the retried call)."""
    hole = socket.socket()
    hole.bind(('127.0.0.1', 0))
    hole.listen(8)
    try:
        ca = '/etc/ssl/certs/ca-certificates.crt'  # never used: no handshake completes
        if not os.path.exists(ca):
            ca = str(tmp_path / 'ca.pem')
            up0 = server_factory()
            shutil.copy(up0.ca, ca)
            assert up0.stop() == 0
        up = types.SimpleNamespace(host='127.0.0.1', port=hole.getsockname()[1],
                                   key_id='AKIDHOLE', secret='hole-secret', ca=ca)
        conf = str(tmp_path / 'mirror.conf')
        write_conf(conf, up)
        src = server_factory(extra_args=['--mirror-config', conf])
        sc = src.client()
        h.create_active(sc, 'src', 1)
        produce(sc, 0, 24)
        hole.settimeout(30)
        conn, _ = hole.accept()  # the mirror dialled; it now waits for a ServerHello
        try:
            time.sleep(1.0)
            t0 = time.monotonic()
            rc = src.stop(timeout_s=30)
            took = time.monotonic() - t0
        finally:
            conn.close()
        print('mirror: SIGTERM with a black-holed upstream took %.2f s' % took)
        assert rc == 0, src.log_tail()
        assert took < 5.0, took
    finally:
        hole.close()


class LinkNet:
    """The upstream's own network namespace, reached only through a veth
    pair (10.97.K.1 here, 10.97.K.2 there); cut() drops everything on the
    namespace's end with an nft table inside that namespace (the host's
    ruleset is never touched), mend() removes it. The namespace is named
    sl-e2e-PID-mirror so tests/run.sh's cleanup removes a leftover."""

    def __init__(self):
        k = os.getpid() % 250 + 1
        self.ns = 'sl-e2e-%d-mirror' % os.getpid()
        self.here, self.there = 'slm%d' % k, 'slm%dp' % k
        self.addr_here, self.addr = '10.97.%d.1' % k, '10.97.%d.2' % k
        self.server = None  # the sluiced started in the namespace

    def create(self):
        self.run('ip', 'netns', 'add', self.ns)
        self.run('ip', '-n', self.ns, 'link', 'set', 'lo', 'up')
        self.run('ip', 'link', 'add', self.here, 'type', 'veth', 'peer', 'name', self.there)
        self.run('ip', 'link', 'set', self.there, 'netns', self.ns)
        self.run('ip', 'addr', 'add', self.addr_here + '/30', 'dev', self.here)
        self.run('ip', 'link', 'set', self.here, 'up')
        self.run('ip', '-n', self.ns, 'addr', 'add', self.addr + '/30', 'dev', self.there)
        self.run('ip', '-n', self.ns, 'link', 'set', self.there, 'up')

    @staticmethod
    def run(*cmd, check=True):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError('%s: %s%s' % (' '.join(cmd), p.stdout, p.stderr))
        return p

    def nft(self, script):
        p = subprocess.run(['ip', 'netns', 'exec', self.ns, 'nft', '-f', '-'], input=script,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr

    def cut(self):
        self.nft('table inet slmirror {\n'
                 ' chain in { type filter hook input priority 0; policy accept;\n'
                 '  iifname "%s" drop; }\n'
                 ' chain out { type filter hook output priority 0; policy accept;\n'
                 '  oifname "%s" drop; }\n}\n' % (self.there, self.there))

    def mend(self):
        self.nft('delete table inet slmirror\n')

    def destroy(self):
        if self.server is not None and self.server.running():
            self.server.stop()  # SIGTERM first: the factory wants a clean exit
        pids = self.run('ip', 'netns', 'pids', self.ns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        # deleting the namespace deletes the veth pair with it
        self.run('ip', 'netns', 'del', self.ns, check=False)
        self.run('ip', 'link', 'del', self.here, check=False)


@pytest.fixture
def link_net():
    if os.geteuid() != 0 or not shutil.which('ip') or not shutil.which('nft'):
        pytest.skip('the link-cut test needs root, ip and nft (network namespaces)')
    net = LinkNet()
    try:
        net.create()
        yield net
    finally:
        net.destroy()


def test_mirror_through_a_cut_link(server_factory, tmp_path, link_net):
    """The upstream sits behind a veth pair in its own network namespace; an
    nft rule there drops every packet for longer than the mirror's 15 s I/O
    timeout while producers keep writing, then is removed. Every record
    arrives, in per-key order; the duplicate count is printed."""
    up = server_factory(start=False)
    base_command = up.command
    up.command = lambda listen='127.0.0.1:0': (['ip', 'netns', 'exec', link_net.ns] +
                                               base_command(listen))
    link_net.server = up
    up.start(listen='%s:0' % link_net.addr)
    assert up.host == link_net.addr
    uc = up.client()
    h.create_active(uc, 'dst', 3)
    conf = str(tmp_path / 'mirror.conf')
    write_conf(conf, up)
    src = server_factory(extra_args=['--mirror-config', conf])
    sc = src.client()
    h.create_active(sc, 'src', 2)
    lab = frozenset({('stream', 'src')})
    produce(sc, 0, 600)
    assert check_upstream(uc, 600, 120) == 0  # the link works
    link_net.cut()
    try:
        produce(sc, 600, 900)
        # Past the 15 s I/O timeout (twice: the call on the kept-alive
        # connection, then its one retry on a new one, whose SYN is dropped):
        # the call fails, and the mirror redials into the dead link with backoff.
        deadline = time.monotonic() + 90
        while metrics.scrape(src)[('sluice_mirror_upstream_up', lab)] != 0:
            assert time.monotonic() < deadline, 'the mirror never noticed the cut'
            time.sleep(0.5)
        # The lag gauge keeps moving through the outage: it shows the age of
        # the oldest record waiting for the upstream (the batch in flight
        # when the link went down has waited out two 15 s timeouts).
        deadline = time.monotonic() + 30
        while metrics.scrape(src)[('sluice_mirror_lag_milliseconds', lab)] < 10000:
            assert time.monotonic() < deadline, 'the lag gauge did not grow in the outage'
            time.sleep(0.5)
        produce(sc, 1500, 300)
    finally:
        link_net.mend()
    produce(sc, 1800, 200)
    dups = check_upstream(uc, 2000, 180)
    samples = metrics.scrape(src)
    print('mirror through a cut link: 2000 records upstream, %d duplicates, %d errors' %
          (dups, samples[('sluice_mirror_errors_total', lab)]))
    assert samples[('sluice_mirror_upstream_up', lab)] == 1
    deadline = time.monotonic() + 30  # caught up: the gauge is MillisBehindLatest again
    while metrics.scrape(src)[('sluice_mirror_lag_milliseconds', lab)] >= 5000:
        assert time.monotonic() < deadline, 'the lag gauge stayed up after the outage'
        time.sleep(0.5)
    # a response lost to the cut re-sends that one call (at most one record per key)
    assert dups <= len(KEYS), dups
    assert src.stop() == 0, src.log_tail()
    assert up.stop() == 0, up.log_tail()


def test_mirror_several_streams(server_factory, tmp_path):
    """Two streams in one file: the upstream, key and CA given once before
    the first stream line, each stream block with its own upstream name.
    Each stream has its thread, its checkpoint (mirror.NAME.ckpt) and its
    labelled metrics; a stream named twice is refused."""
    up = server_factory()
    uc = up.client()
    h.create_active(uc, 'dst', 2)
    h.create_active(uc, 'dst2', 1)
    conf = str(tmp_path / 'mirror.conf')
    text = ('endpoint = https://%s:%d\nregion = us-east-1\naccess_key = %s\n'
            'secret_key = %s\nca_bundle = %s\n\nstream = src\nupstream_stream = dst\n\n'
            'stream = src2\nupstream_stream = dst2\n'
            % (up.host, up.port, up.key_id, up.secret, up.ca))
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    src = server_factory(extra_args=['--mirror-config', conf])
    sc = src.client()
    h.create_active(sc, 'src', 2)
    h.create_active(sc, 'src2', 1)
    produce(sc, 0, 600)
    for i in range(0, 300, 100):
        r = sc.put_records(StreamName='src2', Records=[
            {'PartitionKey': 'k%d' % (j % 5), 'Data': b'two:%d' % j} for j in range(i, i + 100)])
        assert r['FailedRecordCount'] == 0, r
    assert check_upstream(uc, 600, 120) == 0
    deadline = time.monotonic() + 60
    while True:
        got = [r['Data'] for r in read_all(uc, 'dst2')]
        if len(got) >= 300 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert got == [b'two:%d' % j for j in range(300)]  # one shard each side: total order
    samples = metrics.scrape(src)
    for stream, n in (('src', 600), ('src2', 300)):
        lab = frozenset({('stream', stream)})
        deadline = time.monotonic() + 10
        while samples[('sluice_mirror_records_sent_total', lab)] < n and \
                time.monotonic() < deadline:
            time.sleep(0.2)
            samples = metrics.scrape(src)
        assert samples[('sluice_mirror_records_sent_total', lab)] == n
    assert sorted(f for f in os.listdir(src.data_dir) if 'mirror' in f) == \
        ['mirror.src.ckpt', 'mirror.src2.ckpt']
    assert len(open(os.path.join(src.data_dir, 'mirror.src2.ckpt')).read().split()) == 2
    assert src.stop() == 0, src.log_tail()
    # The same stream twice: refused at start-up.
    with open(conf, 'a') as f:
        f.write('stream = src\n')
    with pytest.raises(AssertionError, match='named twice'):
        src.start()


def wait_metric(srv, name, want, deadline_s, **labels):
    """Scrapes until sample name{labels} is at least want; returns it."""
    deadline = time.monotonic() + deadline_s
    while True:
        v = metrics.val(metrics.scrape(srv), name, **labels)
        if v >= want or time.monotonic() > deadline:
            return v
        time.sleep(0.2)


def test_mirror_counts_records_lost_to_retention(server_factory, tmp_path):
    """The upstream is down for longer than the retention (24 h, made 12 s
    by the test-only --test-retention-hour-ms 500): the records written
    meanwhile expire before they are read. The mirror counts them exactly
    (sluice_mirror_records_expired_total), warns once, and goes on from the
    trim horizon; the batch it was holding when the upstream went away is
    still delivered."""
    up = server_factory(extra_args=PAIR_ARGS)
    uc = up.client()
    h.create_active(uc, 'dst', 1)
    conf = str(tmp_path / 'mirror.conf')
    write_conf(conf, up)
    up_port = up.port
    assert up.stop() == 0
    src = server_factory(extra_args=PAIR_ARGS + ['--mirror-config', conf,
                                                 '--test-retention-hour-ms', '500'])
    sc = src.client()
    h.create_active(sc, 'src', 1)
    lab = {'stream': 'src'}
    # A: 24 records, one PutRecords: the mirror reads them in one answer and
    # keeps retrying its first batch of them while the upstream is down.
    produce(sc, 0, 24)
    assert wait_metric(src, 'sluice_mirror_errors_total', 2, 60, **lab) >= 2
    # B: 36 records the mirror will not read before they expire.
    produce(sc, 24, 36)
    time.sleep(12 + 2)
    up.start(listen='127.0.0.1:%d' % up_port)
    uc = up.client()
    assert wait_metric(src, 'sluice_mirror_records_sent_total', 24, 90, **lab) == 24
    # C: 12 records after the outage, read at once.
    produce(sc, 60, 12)
    assert wait_metric(src, 'sluice_mirror_records_sent_total', 36, 60, **lab) == 36
    assert wait_metric(src, 'sluice_mirror_expiries_total', 1, 30, **lab) == 1
    samples = metrics.scrape(src)
    assert metrics.val(samples, 'sluice_mirror_records_expired_total', **lab) == 36
    assert metrics.val(samples, 'sluice_mirror_expiries_total', **lab) == 1
    recs = read_all(uc, 'dst')
    got = sorted(int(r['Data'].decode().split(':')[1]) for r in recs)
    assert got == list(range(24)) + list(range(60, 72)), got
    assert src.stop() == 0, src.log_tail()
    with open(src.log_path) as f:
        warns = [ln for ln in f if 'expired (retention)' in ln]
    assert len(warns) == 1, warns
    assert '36 records expired' in warns[0], warns


def test_mirror_backlog_in_records(server_factory, tmp_path):
    """sluice_mirror_backlog_records counts the records not yet acknowledged
    upstream: 0 once caught up, growing while the upstream is down (the
    reads stop then: the mirror counts afresh at its retries), back to 0
    after. Exact across the jump of the sequence counters at a restart of
    the mirroring server (2^23 or more), which no difference of sequence
    numbers could give."""
    up, uc, src, sc = start_pair(server_factory, tmp_path)
    produce(sc, 0, 300)
    assert wait_metric(src, 'sluice_mirror_records_sent_total', 300, 120, stream='src') == 300
    back = lambda: metrics.val(metrics.scrape(src), 'sluice_mirror_backlog_records',
                               stream='src')
    deadline = time.monotonic() + 30
    while back() != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert back() == 0
    up_port = up.port
    up.stop(sig=signal.SIGKILL)
    produce(sc, 300, 500)
    assert wait_metric(src, 'sluice_mirror_backlog_records', 500, 60, stream='src') == 500
    # The first batch waits for the upstream; what arrives after it is
    # counted by the probes at the mirror's retries (at most every 10 s).
    produce(sc, 800, 200)
    assert wait_metric(src, 'sluice_mirror_backlog_records', 700, 60, stream='src') == 700
    # A restart of the mirroring server inside the outage: the counters
    # jump, the count does not.
    src.stop()
    src.start()
    sc = src.client()
    produce(sc, 1000, 100)
    assert wait_metric(src, 'sluice_mirror_backlog_records', 800, 60, stream='src') == 800
    up.start(listen='127.0.0.1:%d' % up_port)
    uc = up.client()
    check_upstream(uc, 1100, 180)
    deadline = time.monotonic() + 30
    while back() != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert back() == 0
