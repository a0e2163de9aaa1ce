# SPDX-License-Identifier: Apache-2.0
"""Channel delivery (--channel-config, #17 item 1): a real sluiced delivers a
channel's stream to a real S3-compatible server (npm's s3rver, file-backed,
over TLS verified against a test CA, checking our SigV4 signatures); the
objects are read back from s3rver's directory and checked record by record
against what was put. Records put before the channel existed are not
delivered (no backfill); a kill -9 mid-delivery loses nothing."""

import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import security_helpers as sec
import sluice_helpers as h
import test_metrics as metrics

pytestmark = pytest.mark.kernel_only  # delivery dials the listener's 127.0.0.1 port

HERE = os.path.dirname(os.path.abspath(__file__))
S3RVER = os.path.join(HERE, '..', 's3', 'node_modules', 's3rver', 'bin', 's3rver.js')
BUCKET = 'chan-bucket'
ROLE = 'arn:aws:iam::123456789012:role/channel-role'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class S3:
    """s3rver on a loopback port with TLS from a test CA."""

    def __init__(self, d):
        if not os.path.exists(S3RVER) or not shutil.which('node'):
            pytest.skip('s3rver not installed (tests/s3: npm ci)')
        self.dir = os.path.join(d, 's3data')
        os.makedirs(self.dir)
        pki = os.path.join(d, 'pki')
        os.makedirs(pki)
        self.ca = sec.make_ca(pki, 's3ca')
        cert, key = sec.make_cert(pki, 's3', self.ca)
        self.port = free_port()
        self.log = open(os.path.join(d, 's3rver.log'), 'w')
        self.args = ['node', S3RVER, '-d', self.dir, '-a', '127.0.0.1', '-p', str(self.port),
                     '--key', key, '--cert', cert, '--no-vhost-buckets',
                     '--configure-bucket', BUCKET]
        self.start()

    def start(self):
        """Starts (again: same port, same files) and waits until it listens."""
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError('s3rver did not listen')

    def objects(self, prefix=''):
        """{key: bytes} of every complete object in the bucket under prefix.
        s3rver writes an object's file in place and its .md5 beside it: an
        object is taken only once the two agree (not while being written)."""
        out = {}
        root = os.path.join(self.dir, BUCKET)
        for p in glob.glob(os.path.join(root, '**', '*._S3rver_object'), recursive=True):
            key = os.path.relpath(p, root)[:-len('._S3rver_object')]
            if not key.startswith(prefix):
                continue
            try:
                with open(p, 'rb') as f:
                    data = f.read()
                with open(p + '.md5') as f:
                    md5 = f.read().strip().strip('"')
            except FileNotFoundError:
                continue
            if hashlib.md5(data).hexdigest() == md5:
                out[key] = data
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def close(self):
        if self.proc.poll() is None:
            self.stop()
        self.log.close()


@pytest.fixture
def s3(tmp_path):
    s = S3(str(tmp_path))
    yield s
    s.close()


def write_conf(path, s3, mode=0o600, extra=''):
    text = ('# channel delivery test\nendpoint = https://127.0.0.1:%d\nregion = us-east-1\n'
            'access_key = S3RVER\nsecret_key = S3RVER\nca_bundle = %s\nflush_ms = 1000\n%s'
            % (s3.port, s3.ca[0], extra))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


def on_demand_stream(client, name):
    client.create_stream(StreamName=name, StreamModeDetails={'StreamMode': 'ON_DEMAND'})
    return h.wait_status(client, name, 'ACTIVE', 10.0)


def create_channel(server, name, stream_arn, fmt='BYTE_ARRAY', compression='NONE',
                   template=None):
    storage = {'BucketARN': 'arn:aws:s3:::' + BUCKET, 'ExpectedBucketOwner': '123456789012',
               'CompressionType': compression}
    if template:
        storage['OutputKeyTemplate'] = template
    st, _, body = server.call('CreateChannel', {
        'ChannelName': name, 'ServiceExecutionRoleARN': ROLE,
        'StreamConfigurationList': [{'StreamARN': stream_arn,
                                     'RecordConfiguration': {'RecordFormatType': fmt}}],
        'S3DestinationConfiguration': {'StorageConfiguration': storage}})
    assert st == 200, body
    desc = body['ChannelDescription']
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        st, _, body = server.call('DescribeChannel', {'ChannelARN': desc['ChannelARN']})
        assert st == 200, body
        if body['ChannelDescription']['ChannelStatus'] == 'ACTIVE':
            return body['ChannelDescription']
        time.sleep(0.1)
    raise AssertionError('channel %s not ACTIVE' % name)


def produce(client, stream, first, count, batch=100):
    """Records first..first+count-1: data 'rec:%06d\\n' (self-delimiting in a
    BYTE_ARRAY object), keys spread over the shards."""
    i = first
    while i < first + count:
        n = min(batch, first + count - i)
        recs = [{'PartitionKey': 'k%d' % (j % 37), 'Data': b'rec:%06d\n' % j}
                for j in range(i, i + n)]
        r = client.put_records(StreamName=stream, Records=recs)
        assert r['FailedRecordCount'] == 0, r
        i += n


def delivered(s3, prefix, want, deadline_s):
    """Waits until every number in want is in the objects under prefix;
    returns (numbers in object order, objects)."""
    deadline = time.monotonic() + deadline_s
    while True:
        objs = s3.objects(prefix)
        nums = []
        for key in sorted(objs):
            for line in objs[key].split(b'\n')[:-1]:
                assert line.startswith(b'rec:'), (key, line)
                nums.append(int(line[4:]))
        if set(want) <= set(nums) or time.monotonic() > deadline:
            return nums, objs
        time.sleep(0.3)


def test_delivery_writes_records_to_s3(server_factory, tmp_path, s3):
    conf = str(tmp_path / 'channel.conf')
    write_conf(conf, s3)
    srv = server_factory(extra_args=['--channel-config', conf, '--create-delay-ms', '300'])
    kc = srv.client()
    stream = on_demand_stream(kc, 'src')
    produce(kc, 'src', 0, 50)  # before the channel: never delivered (no backfill)
    time.sleep(1.1)  # arrival times are kept in ms; keep the two sets apart
    ch = create_channel(srv, 'ch1', stream['StreamARN'])
    produce(kc, 'src', 1000, 600)
    prefix = 'kinesis-channel/ch1/%s/' % ch['ChannelId']
    nums, objs = delivered(s3, prefix, range(1000, 1600), 60)
    assert sorted(nums) == list(range(1000, 1600)), 'missing or extra records'
    # The default template, expanded, with our unique suffix: shard id and
    # the first record's sequence number.
    for key in objs:
        assert key.startswith(prefix), key
        name = key.rsplit('/', 1)[1]
        assert name.startswith('ch1-%s-' % ch['ChannelId']), name
        assert '-shardId-' in name, name
    # Records of one shard are in sequence order within and across objects.
    per_shard = {}
    for key in sorted(objs, key=lambda k: int(k.rsplit('-', 1)[1])):
        sid = 'shardId-' + key.split('-shardId-')[1].rsplit('-', 1)[0]
        per_shard.setdefault(sid, []).extend(
            int(line[4:]) for line in objs[key].split(b'\n')[:-1])
    for sid, ns in per_shard.items():
        assert len(ns) == len(set(ns)), (sid, 'duplicates without a restart')
    # the checkpoint: private, one line per shard that delivered
    # The delivery thread writes the checkpoint (and counts) right after S3
    # answers the PUT, so the last object can be visible a moment before
    # its shard's line is: wait for it, bounded.
    ckpt = os.path.join(srv.data_dir, 'channels', ch['ChannelId'] + '.ckpt')
    lab = frozenset({('channel', 'ch1')})
    deadline = time.monotonic() + 20
    while True:
        lines = open(ckpt).read().splitlines() if os.path.exists(ckpt) else []
        samples = metrics.scrape(srv)
        if (len(lines) == len(per_shard)
                and samples.get(('sluice_channel_records_total', lab)) == 600) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert os.stat(ckpt).st_mode & 0o777 == 0o600
    assert len(lines) == len(per_shard)
    assert samples[('sluice_channel_records_total', lab)] == 600
    assert samples[('sluice_channel_objects_total', lab)] == len(objs)
    assert samples[('sluice_channel_bytes_total', lab)] == 600 * 11
    assert ('sluice_channel_lag_milliseconds', lab) in samples
    assert srv.stop() == 0, srv.log_tail()
    with open(srv.log_path) as f:
        assert 'S3RVER' not in f.read()  # the secret never reaches the log


def test_delivery_survives_kill(server_factory, tmp_path, s3):
    conf = str(tmp_path / 'channel.conf')
    write_conf(conf, s3)
    srv = server_factory(extra_args=['--channel-config', conf, '--create-delay-ms', '300'])
    kc = srv.client()
    stream = on_demand_stream(kc, 'src')
    ch = create_channel(srv, 'ch2', stream['StreamARN'])
    prefix = 'kinesis-channel/ch2/'
    produce(kc, 'src', 0, 400)
    delivered(s3, prefix, range(0, 200), 60)  # some, maybe not all, written
    produce(kc, 'src', 400, 200)
    srv.stop(sig=signal.SIGKILL)
    srv.start()
    kc = srv.client()
    produce(kc, 'src', 600, 300)
    nums, objs = delivered(s3, prefix, range(0, 900), 90)
    assert set(nums) == set(range(0, 900)), 'lost: %s' % sorted(set(range(900)) - set(nums))[:20]
    dups = len(nums) - 900
    print('delivery through kill -9: 900 records, %d objects, %d duplicates'
          % (len(objs), dups))
    # An object whose checkpoint did not reach the disk is written again
    # under the same key (its suffix is the shard and its first record's
    # sequence number): the overwrite replaces it whole, so even when it is
    # cut differently the second time no record is in the bucket twice.
    assert ch['ChannelId']
    assert dups == 0, dups


def test_delivery_stops_quickly_with_a_black_holed_s3(server_factory, tmp_path):
    """SIGTERM while an S3 PutObject hangs: the endpoint completes the TLS
    handshake, reads the request and then never answers (a black hole).
    hclient's waits look at stop every 50 ms, so the server exits within a
    few seconds instead of after the 15 s I/O timeout (up to twice: the
    call, then its retry on a fresh connection)."""
    import ssl
    import threading
    import types
    pki = str(tmp_path / 'pki')
    os.makedirs(pki)
    ca = sec.make_ca(pki, 'holeca')
    cert, key = sec.make_cert(pki, 'hole', ca)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    hole = socket.socket()
    hole.bind(('127.0.0.1', 0))
    hole.listen(8)
    got = threading.Event()  # a PUT's head arrived and will never be answered
    held = []

    def serve():
        while True:
            try:
                conn, _ = hole.accept()
            except OSError:
                return  # closed: the test is over
            held.append(conn)
            try:
                conn.settimeout(30)
                t = tls.wrap_socket(conn, server_side=True)
                held.append(t)
                buf = b''
                while b'\r\n\r\n' not in buf:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                if buf.startswith(b'PUT /' + BUCKET.encode()):
                    got.set()
            except (OSError, ssl.SSLError):
                pass

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        conf = str(tmp_path / 'channel.conf')
        write_conf(conf, types.SimpleNamespace(port=hole.getsockname()[1], ca=ca),
                   extra='flush_ms = 200\n')
        srv = server_factory(extra_args=['--channel-config', conf,
                                         '--create-delay-ms', '300'])
        kc = srv.client()
        stream = on_demand_stream(kc, 'src')
        create_channel(srv, 'chhole', stream['StreamARN'])
        produce(kc, 'src', 0, 20)
        assert got.wait(60), 'delivery never sent a PutObject: ' + srv.log_tail()
        time.sleep(1.0)  # well inside the call's wait for an answer
        t0 = time.monotonic()
        rc = srv.stop(timeout_s=40)
        took = time.monotonic() - t0
        print('delivery: SIGTERM during a black-holed S3 PUT took %.2f s' % took)
        assert rc == 0, srv.log_tail()
        assert took < 5.0, took
    finally:
        hole.close()
        for c in held:
            c.close()


def test_channel_config_must_be_private(server_factory, tmp_path, s3):
    conf = str(tmp_path / 'open.conf')
    write_conf(conf, s3, mode=0o644)
    srv = server_factory(extra_args=['--channel-config', conf], start=False)
    with pytest.raises(AssertionError, match='mode 0600'):
        srv.start()


@pytest.mark.parametrize('fmt', ['STRING', 'JSON'])
def test_delivery_validates_and_dead_letters(server_factory, tmp_path, s3, fmt):
    """STRING records must be UTF-8 and JSON records JSON: the valid ones are
    delivered newline-separated, each invalid one goes alone under the
    error prefix, with the reason and its bytes."""
    import base64
    import json
    conf = str(tmp_path / 'channel.conf')
    write_conf(conf, s3)
    srv = server_factory(extra_args=['--channel-config', conf, '--create-delay-ms', '300'])
    kc = srv.client()
    stream = on_demand_stream(kc, 'src')
    ch = create_channel(srv, 'v' + fmt.lower(), stream['StreamARN'], fmt=fmt)
    good, bad = {}, {}
    recs = []
    for i in range(120):
        if i % 10 == 3:
            data = (b'\xff\xfe not utf-8 %d' % i if fmt == 'STRING'
                    else b'{"n": %d, "cut": ' % i)
            bad[i] = data
        else:
            data = ('r\u00e9c %d' % i).encode() if fmt == 'STRING' else \
                json.dumps({'n': i, 's': 'x\u00e9', 'a': [1, 2.5, None, True]}).encode()
            good[i] = data
        recs.append({'PartitionKey': 'k%d' % (i % 7), 'Data': data})
    r = kc.put_records(StreamName='src', Records=recs)
    assert r['FailedRecordCount'] == 0, r
    prefix = 'kinesis-channel/v%s/%s/' % (fmt.lower(), ch['ChannelId'])
    errp = 'kinesis-channel/errors/v%s/%s/' % (fmt.lower(), ch['ChannelId'])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = [ln for body in s3.objects(prefix).values() for ln in body.split(b'\n')[:-1]]
        errs = s3.objects(errp)
        if len(lines) >= len(good) and len(errs) >= len(bad):
            break
        time.sleep(0.3)
    assert sorted(lines) == sorted(good.values())
    assert len(errs) == len(bad), sorted(errs)
    got = {}
    for key, body in errs.items():
        doc = json.loads(body)
        assert doc['errorCode'] == ('InvalidUTF8' if fmt == 'STRING' else 'InvalidJSON')
        assert 'not valid' in doc['errorMessage']
        assert key.endswith('-%s.json' % doc['sequenceNumber']), key
        got[doc['partitionKey']] = got.get(doc['partitionKey'], 0) + 1
        raw = base64.b64decode(doc['rawData'])
        assert raw in bad.values(), raw
    # counted right after S3 answers the PUT: the object can show first
    lab = frozenset({('channel', 'v' + fmt.lower())})
    deadline = time.monotonic() + 20
    samples = metrics.scrape(srv)
    while samples.get(('sluice_channel_dead_letters_total', lab)) != len(bad) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
        samples = metrics.scrape(srv)
    assert samples[('sluice_channel_dead_letters_total', lab)] == len(bad)


def unzstd(data):
    # the zstd CLI (Debian's zstd package): no Python binding is installed
    p = subprocess.run(['zstd', '-d', '-c', '-q'], input=data, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize('comp', ['GZIP', 'ZSTD'])
def test_delivery_compresses(server_factory, tmp_path, s3, comp):
    import gzip
    conf = str(tmp_path / 'channel.conf')
    write_conf(conf, s3)
    srv = server_factory(extra_args=['--channel-config', conf, '--create-delay-ms', '300'])
    kc = srv.client()
    stream = on_demand_stream(kc, 'src')
    name = 'z' + comp.lower()
    # a template of our own: the variables, and the suffix before !{extension}
    create_channel(srv, name, stream['StreamARN'], compression=comp,
                   template='out/!{stream-name}/!{yyyy}!{MM}!{dd}/!{channel-name}!{extension}')
    produce(kc, 'src', 0, 500)
    ext = '.gz' if comp == 'GZIP' else '.zst'
    deadline = time.monotonic() + 60
    while True:
        objs = s3.objects('out/src/')
        plain = {k: gzip.decompress(v) if comp == 'GZIP' else unzstd(v) for k, v in objs.items()}
        nums = [int(ln[4:]) for v in plain.values() for ln in v.split(b'\n')[:-1]]
        if len(nums) >= 500 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert sorted(nums) == list(range(500))
    # the first record's arrival day (UTC): today, or yesterday just after midnight
    days = {time.strftime('%Y%m%d', time.gmtime(time.time() - d)) for d in (0, 120)}
    for k, v in objs.items():
        assert any(k.startswith('out/src/%s/%s-shardId-' % (day, name)) for day in days), k
        assert k.endswith(ext), k
        assert len(v) < len(plain[k]), 'not compressed'


def test_delivery_counts_an_expiry_across_restarts(server_factory, tmp_path, s3):
    """Records written while delivery is off (a run without --channel-config)
    expire before it reads them (24 h of retention made 12 s by the test-only
    --test-retention-hour-ms 500). Two restarts lie between the checkpoint
    and the next record, so the sequence counters jumped by 2^23 or more:
    the episode is counted (sluice_channel_expiries_total) and warned once,
    but not a number of records (sluice_channel_records_expired_total stays
    0); delivery goes on from the trim horizon."""
    conf = str(tmp_path / 'channel.conf')
    write_conf(conf, s3)
    chan_args = ['--channel-config', conf]
    srv = server_factory(extra_args=chan_args + ['--create-delay-ms', '300',
                                                 '--test-retention-hour-ms', '500'])
    kc = srv.client()
    stream = on_demand_stream(kc, 'src')
    ch = create_channel(srv, 'chx', stream['StreamARN'])
    prefix = 'kinesis-channel/chx/'
    lab = frozenset({('channel', 'chx')})

    def put(first, count):  # one key: one shard, one checkpoint line
        r = kc.put_records(StreamName='src', Records=[
            {'PartitionKey': 'one', 'Data': b'rec:%06d\n' % j}
            for j in range(first, first + count)])
        assert r['FailedRecordCount'] == 0, r

    put(0, 10)
    delivered(s3, prefix, range(0, 10), 60)
    deadline = time.monotonic() + 20
    while metrics.scrape(srv).get(('sluice_channel_records_total', lab)) != 10 and \
            time.monotonic() < deadline:
        time.sleep(0.2)  # the checkpoint is written right after the object
    assert srv.stop() == 0, srv.log_tail()
    for a in chan_args:
        srv.args.remove(a)
    srv.start()
    kc = srv.client()
    put(100, 20)  # never read: delivery is off, and they expire
    time.sleep(12 + 2)
    assert srv.stop() == 0, srv.log_tail()
    srv.args.extend(chan_args)
    srv.start()
    kc = srv.client()
    put(200, 5)
    nums, _ = delivered(s3, prefix, range(200, 205), 60)
    assert sorted(nums) == list(range(0, 10)) + list(range(200, 205)), nums
    deadline = time.monotonic() + 30
    while metrics.scrape(srv).get(('sluice_channel_expiries_total', lab)) != 1 and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    samples = metrics.scrape(srv)
    assert samples[('sluice_channel_expiries_total', lab)] == 1
    assert samples[('sluice_channel_records_expired_total', lab)] == 0
    assert srv.stop() == 0, srv.log_tail()
    with open(srv.log_path) as f:
        warns = [ln for ln in f if 'expired (retention)' in ln]
    assert len(warns) == 1 and 'how many, if any, is not known' in warns[0], warns


def test_delivery_backlog_in_records(server_factory, tmp_path, s3):
    """sluice_channel_backlog_records: the records not yet in an object S3
    acknowledged. 0 once delivered, growing while S3 is down (delivery
    reads on into its buffers), 0 again once S3 is back."""
    conf = str(tmp_path / 'channel.conf')
    write_conf(conf, s3)
    srv = server_factory(extra_args=['--channel-config', conf, '--create-delay-ms', '300'])
    kc = srv.client()
    stream = on_demand_stream(kc, 'src')
    ch = create_channel(srv, 'chb', stream['StreamARN'])
    prefix = 'kinesis-channel/chb/%s/' % ch['ChannelId']

    def backlog():
        return metrics.val(metrics.scrape(srv), 'sluice_channel_backlog_records',
                           channel='chb')

    def wait_backlog(want, deadline_s):
        deadline = time.monotonic() + deadline_s
        while backlog() != want and time.monotonic() < deadline:
            time.sleep(0.2)
        return backlog()

    produce(kc, 'src', 0, 200)
    delivered(s3, prefix, range(0, 200), 60)
    assert wait_backlog(0, 30) == 0
    s3.stop()
    produce(kc, 'src', 200, 300)
    assert wait_backlog(300, 60) == 300
    produce(kc, 'src', 500, 200)
    assert wait_backlog(500, 60) == 500
    s3.start()
    nums, _ = delivered(s3, prefix, range(0, 700), 90)
    assert set(nums) == set(range(0, 700))
    assert wait_backlog(0, 60) == 0
