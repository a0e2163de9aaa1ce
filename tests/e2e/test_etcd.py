# SPDX-License-Identifier: Apache-2.0
"""sluiced with its metadata in etcd (--metadata etcd=URL): the stream
lifecycle through boto3, a restart that finds its streams in etcd (and no
DIR/meta.db), and etcd killed -9 under it: a clean InternalFailure answer
(not a hang, not a crash) while it is away, everything back when it is.

Each test starts its own etcd (Debian's etcd-server, /usr/bin/etcd or
$SL_ETCD) on free loopback ports with a temp data dir, never the packaged
service's 2379; skipped only when the binary is missing."""

import http.client
import os
import signal
import socket
import ssl
import subprocess
import time

import botocore.exceptions
import pytest

import reshard_helpers as rh
import security_helpers as sh
import sluice_helpers as h

ETCD = os.environ.get('SL_ETCD', '/usr/bin/etcd')

pytestmark = [
    pytest.mark.skipif(not os.access(ETCD, os.X_OK),
                       reason='%s not found (Debian package etcd-server)' % ETCD),
    pytest.mark.kernel_only,
]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Etcd:
    def __init__(self, data_dir, tls=None, client=None):
        """tls: (ca, (server cert, key)) to serve https and require client
        certificates from ca; client: (cert, key) for the readiness probe."""
        self.data_dir = data_dir
        self.port = free_port()
        self.peer = free_port()
        self.tls = tls
        self.client = client
        self.url = '%s://127.0.0.1:%d' % ('https' if tls else 'http', self.port)
        self.proc = None

    def start(self, timeout_s=30.0):
        peer = 'http://127.0.0.1:%d' % self.peer
        self.log = open(self.data_dir + '.log', 'ab')
        self.proc = subprocess.Popen(
            [ETCD, '--name', 't', '--data-dir', self.data_dir,
             '--listen-client-urls', self.url, '--advertise-client-urls', self.url,
             '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
             '--initial-cluster', 't=' + peer, '--max-txn-ops', '10240'] +
            (['--cert-file', self.tls[1][0], '--key-file', self.tls[1][1],
              '--client-cert-auth', '--trusted-ca-file', self.tls[0][0]] if self.tls else []),
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ready():
                return
            assert self.proc.poll() is None, 'etcd exited: see %s.log' % self.data_dir
            time.sleep(0.1)
        raise AssertionError('etcd did not answer within %.0f s' % timeout_s)

    def ready(self):
        """Listening is not enough: the JSON gateway answers 503 until its
        own gRPC connection is up. Ready is a range that answers 200."""
        try:
            if self.tls:
                ctx = ssl.create_default_context(cafile=self.tls[0][0])
                ctx.load_cert_chain(*self.client)
                conn = http.client.HTTPSConnection('127.0.0.1', self.port, timeout=1,
                                                   context=ctx)
            else:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=1)
            conn.request('POST', '/v3/kv/range', body=b'{"key":"AA=="}')
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except (OSError, http.client.HTTPException):
            return False

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def etcd(tmp_path):
    e = Etcd(str(tmp_path / 'etcd'))
    e.start()
    yield e
    e.kill(signal.SIGTERM)


def etcd_args(etcd):
    return ['--metadata', 'etcd=' + etcd.url, '--etcd-cluster', h.uniq('c'),
            '--etcd-timeout-ms', '2000']


def test_etcd_stream_lifecycle_and_restart(etcd, server_factory):
    srv = server_factory(extra_args=etcd_args(etcd))
    c = srv.client()
    h.create_active(c, 'kept', 2)
    c.add_tags_to_stream(StreamName='kept', Tags={'team': 'a'})
    put = c.put_record(StreamName='kept', Data=b'hello', PartitionKey='k')
    it = c.get_shard_iterator(StreamName='kept', ShardId=put['ShardId'],
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    assert [r['Data'] for r in c.get_records(ShardIterator=it)['Records']] == [b'hello']
    # a reshard: parents closed, children open, in one etcd transaction
    c.update_shard_count(StreamName='kept', TargetShardCount=4, ScalingType='UNIFORM_SCALING')
    rh.wait_active(c, 'kept')
    shards = rh.describe_all_shards(c, 'kept')
    assert len(rh.open_shards(shards)) == 4
    rh.assert_partition(rh.open_shards(shards))
    h.create_active(c, 'gone', 1)
    c.delete_stream(StreamName='gone')
    h.wait_gone(c, 'gone')
    before = c.describe_stream(StreamName='kept')['StreamDescription']
    assert c.list_streams()['StreamNames'] == ['kept']

    assert srv.stop() == 0, srv.log_tail()
    # the metadata is in etcd, not in the data directory
    assert not os.path.exists(os.path.join(srv.data_dir, 'meta.db'))
    srv.start()
    c = srv.client()
    after = c.describe_stream(StreamName='kept')['StreamDescription']
    for k in ['StreamName', 'StreamARN', 'StreamStatus', 'Shards', 'RetentionPeriodHours',
              'StreamCreationTimestamp']:
        assert after[k] == before[k], (k, before[k], after[k])
    assert c.list_tags_for_stream(StreamName='kept')['Tags'] == [{'Key': 'team', 'Value': 'a'}]
    assert c.list_streams()['StreamNames'] == ['kept']
    # records written before the restart are still read (journal is local)
    it = c.get_shard_iterator(StreamName='kept', ShardId=put['ShardId'],
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    assert [r['Data'] for r in c.get_records(ShardIterator=it)['Records']] == [b'hello']
    # a new stream gets a new id: what was deleted is not reused
    h.create_active(c, 'more', 1)
    assert c.list_streams()['StreamNames'] == ['kept', 'more']


def test_etcd_killed_gives_clean_errors_then_recovers(etcd, server_factory):
    srv = server_factory(extra_args=etcd_args(etcd))
    c = srv.client()
    h.create_active(c, 'before', 1)
    etcd.kill(signal.SIGKILL)
    # every control call answers, in bounded time, with Kinesis's shape
    for call in (lambda: c.create_stream(StreamName='during', ShardCount=1),
                 lambda: c.describe_stream_summary(StreamName='before'),
                 lambda: c.list_streams()):
        t0 = time.monotonic()
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response['Error']['Code'] == 'InternalFailure'
        assert e.value.response['ResponseMetadata']['HTTPStatusCode'] == 500
        assert time.monotonic() - t0 < 15.0
    # records still flow: routing is in memory, not in etcd
    c.put_record(StreamName='before', Data=b'x', PartitionKey='k')
    assert srv.running()

    etcd.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            summary = c.describe_stream_summary(StreamName='before')
            break
        except botocore.exceptions.ClientError:
            assert time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.2)
    assert summary['StreamDescriptionSummary']['StreamStatus'] == 'ACTIVE'
    # the failed create left nothing; it can be made now, and goes ACTIVE
    # (the lifecycle timer looks again after an outage)
    assert c.list_streams()['StreamNames'] == ['before']
    h.create_active(c, 'during', 1)
    assert c.list_streams()['StreamNames'] == ['before', 'during']


def test_etcd_killed_mid_operation(etcd, server_factory):
    """Creates in a loop while etcd is killed -9 under them: each call
    succeeds or answers InternalFailure (never hangs, never crashes
    sluiced); after etcd is back every create that succeeded is there."""
    srv = server_factory(extra_args=etcd_args(etcd))
    c = srv.client()
    ok, failed = [], []

    def creates():
        for i in range(400):
            name = 'm%03d' % i
            try:
                c.create_stream(StreamName=name, ShardCount=2)
                ok.append(name)
            except botocore.exceptions.ClientError as e:
                assert e.response['Error']['Code'] == 'InternalFailure', e.response
                failed.append(name)
                if len(failed) >= 3:
                    return

    t, out = h.in_thread(creates)
    deadline = time.monotonic() + 20
    while not ok and time.monotonic() < deadline:
        time.sleep(0.01)
    etcd.kill(signal.SIGKILL)  # while creates are in flight
    t.join(60)
    assert not t.is_alive(), 'a create hung with etcd dead'
    assert 'error' not in out, out
    assert ok and len(failed) == 3, (ok, failed)
    assert srv.running(), srv.log_tail()

    etcd.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            names = c.list_streams(Limit=1000)['StreamNames']
            break
        except botocore.exceptions.ClientError:
            assert time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.2)
    # acknowledged means durable; a failed call's outcome is unknown (as
    # Kinesis's InternalFailure), but it is whole or absent, never half
    assert set(ok) <= set(names), (ok, names)
    assert set(names) <= set(ok) | set(failed)
    for name in names:
        h.wait_status(c, name, 'ACTIVE')
        shards = c.list_shards(StreamName=name)['Shards']
        assert len(shards) == 2, (name, shards)


def test_etcd_hung_answers_within_the_timeout(etcd, server_factory):
    """etcd stopped (SIGSTOP: connections accepted, nothing answered): a
    control call answers InternalFailure after about --etcd-timeout-ms, not
    never; after SIGCONT the store works again."""
    srv = server_factory(extra_args=['--metadata', 'etcd=' + etcd.url, '--etcd-cluster',
                                     h.uniq('c'), '--etcd-timeout-ms', '500'])
    c = srv.client()
    h.create_active(c, 'one', 1)
    etcd.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(botocore.exceptions.ClientError) as e:
            c.describe_stream_summary(StreamName='one')
        assert e.value.response['Error']['Code'] == 'InternalFailure'
        assert time.monotonic() - t0 < 10.0
    finally:
        etcd.proc.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 20
    while True:
        try:
            c.describe_stream_summary(StreamName='one')
            break
        except botocore.exceptions.ClientError:
            assert time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.2)


def etcd_server_cert(d, ca):
    """etcd 3.4's JSON gateway dials etcd's own gRPC port with the server
    certificate as its client certificate, so with --client-cert-auth that
    certificate must be good for both (serverAuth and clientAuth)."""
    cert, key = os.path.join(d, 'etcd-server.pem'), os.path.join(d, 'etcd-server.key')
    csr, ext = os.path.join(d, 'etcd-server.csr'), os.path.join(d, 'etcd-server.ext')
    with open(ext, 'w') as f:
        f.write('basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n'
                'subjectAltName=IP:127.0.0.1\n')
    sh._openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=etcd', cwd=d)
    sh._openssl('x509', '-req', '-in', csr, '-CA', ca[0], '-CAkey', ca[1], '-CAcreateserial',
                '-out', cert, '-days', '2', '-extfile', ext, cwd=d)
    return cert, key


def test_etcd_over_tls_with_client_certificates(tmp_path, server_factory):
    """https etcd that requires client certificates: sluiced verifies etcd's
    certificate against --etcd-ca (its IP SAN must name the URL's host) and
    shows its own; without the client certificate, or trusting another CA,
    the start fails."""
    d = str(tmp_path)
    ca = sh.make_ca(d, 'etcd-ca')
    other_ca = sh.make_ca(d, 'other-ca')
    server = etcd_server_cert(d, ca)
    client = sh.make_cert(d, 'etcd-client', ca, client=True)
    e = Etcd(os.path.join(d, 'etcd'), tls=(ca, server), client=client)
    e.start()
    try:
        # handshakes are slow on a loaded machine (ASan): a generous bound
        base = ['--metadata', 'etcd=' + e.url, '--etcd-cluster', h.uniq('c'),
                '--etcd-timeout-ms', '10000']
        srv = server_factory(extra_args=base + ['--etcd-ca', ca[0], '--etcd-cert', client[0],
                                                '--etcd-key', client[1]])
        c = srv.client()
        h.create_active(c, 'secure', 1)
        assert c.list_streams()['StreamNames'] == ['secure']
        assert srv.stop() == 0, srv.log_tail()
        for args in (['--etcd-ca', ca[0]],  # no client certificate: etcd refuses
                     ['--etcd-ca', other_ca[0], '--etcd-cert', client[0],
                      '--etcd-key', client[1]]):  # etcd's certificate not trusted
            bad = server_factory(extra_args=base + args, start=False)
            with pytest.raises(AssertionError, match='exited'):
                bad.start(timeout_s=60.0)
            assert 'unreachable or unusable' in bad.log_tail()
    finally:
        e.kill(signal.SIGTERM)


def test_etcd_unreachable_at_start_fails_the_start(tmp_path, server_factory):
    port = free_port()  # nothing listens there
    srv = server_factory(extra_args=['--metadata', 'etcd=http://127.0.0.1:%d' % port],
                         start=False)
    with pytest.raises(AssertionError, match='exited'):
        srv.start(timeout_s=15.0)
    assert not srv.running()
    assert 'unreachable' in srv.log_tail()


@pytest.mark.parametrize('args,msg', [
    (['--metadata', 'etcd=ftp://x:1'], '--metadata must be'),
    (['--metadata', 'mysql'], '--metadata must be'),
    (['--metadata', 'etcd=http://127.0.0.1:1', '--etcd-cluster', 'a/b'], '--etcd-cluster'),
    (['--metadata', 'etcd=http://127.0.0.1:1', '--etcd-ca', '/x'], 'need an https://'),
    (['--etcd-ca', '/x'], 'need --metadata etcd'),
    (['--metadata', 'etcd=https://127.0.0.1:1', '--etcd-cert', '/x'], 'go together'),
    (['--etcd-timeout-ms', '10'], 'etcd-timeout-ms'),
])
def test_etcd_flags_are_checked(tmp_path, args, msg):
    out = subprocess.run([h.default_binary(), '--data-dir', str(tmp_path / 'd')] + args,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert msg in out.stderr, out.stderr
