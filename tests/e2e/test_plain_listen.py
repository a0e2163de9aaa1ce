# SPDX-License-Identifier: Apache-2.0
"""--plain-listen: the optional plaintext listener, for clients configured
with http:// endpoints. HTTP/1.1, and HTTP/2 with prior knowledge (the
client preface as the first bytes; no Upgrade). SigV4 is required exactly
as over TLS. Off by default; refused with --transport dpdk (the userspace
stack has one listening port) and with --tls-client-ca (the plaintext port
would bypass client certificates). Real clients: boto3 and the AWS CLI with
http:// endpoints, python3-h2 speaking HTTP/2 with prior knowledge."""

import json
import os
import socket
import subprocess
import time

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import sluice_helpers as h

pytestmark = pytest.mark.kernel_only(reason='--plain-listen is served by the kernel '
                                            'transport only')


@pytest.fixture(scope='module')
def plain(module_server_factory):
    srv = module_server_factory(extra_args=['--plain-listen', '127.0.0.1:0'])
    with open(os.path.join(srv.data_dir, 'sluiced.plain.addr')) as f:
        host, _, port = f.read().strip().rpartition(':')
    srv.plain_host, srv.plain_port = host, int(port)
    srv.plain_endpoint = 'http://%s:%d' % (host, int(port))
    return srv


def plain_client(srv):
    import boto3
    from botocore.config import Config
    return boto3.session.Session(
        aws_access_key_id=srv.key_id, aws_secret_access_key=srv.secret,
        region_name='us-east-1').client(
            'kinesis', endpoint_url=srv.plain_endpoint,
            config=Config(retries={'total_max_attempts': 1, 'mode': 'standard'},
                          connect_timeout=5, read_timeout=20))


def signed(srv, target, body, headers=None):
    """Headers signed for the plaintext endpoint (Host is part of the
    signature, so it must name the plaintext port)."""
    hd = {'Content-Type': h.JSON_CT, 'X-Amz-Target': h.TARGET_PREFIX + target}
    hd.update(headers or {})
    req = AWSRequest(method='POST', url=srv.plain_endpoint + '/', data=body, headers=hd)
    botocore.auth.SigV4Auth(Credentials(srv.key_id, srv.secret), 'kinesis',
                            'us-east-1').add_auth(req)
    return dict(req.headers.items())


def h1_exchange(srv, target, body, sign=True, extra=None):
    """One HTTP/1.1 request over plain TCP. Returns (status line, header
    dict, body)."""
    hd = signed(srv, target, body, extra) if sign else dict(
        {'Content-Type': h.JSON_CT, 'X-Amz-Target': h.TARGET_PREFIX + target}, **(extra or {}))
    hd = {k: v for k, v in hd.items() if k.lower() != 'host'}
    head = 'POST / HTTP/1.1\r\nHost: %s:%d\r\n' % (srv.plain_host, srv.plain_port)
    head += ''.join('%s: %s\r\n' % kv for kv in hd.items())
    head += 'Content-Length: %d\r\n\r\n' % len(body)
    with socket.create_connection((srv.plain_host, srv.plain_port), timeout=10) as s:
        s.sendall(head.encode() + body)
        buf = b''
        while b'\r\n\r\n' not in buf:
            chunk = s.recv(65536)
            assert chunk, 'closed before an answer: %r' % buf
            buf += chunk
        top, rest = buf.split(b'\r\n\r\n', 1)
        lines = top.decode('latin-1').split('\r\n')
        hdrs = {k.strip().lower(): v.strip()
                for k, _, v in (x.partition(':') for x in lines[1:])}
        n = int(hdrs['content-length'])
        while len(rest) < n:
            chunk = s.recv(65536)
            assert chunk
            rest += chunk
        return lines[0], hdrs, rest[:n]


def h2_prior_knowledge(srv, target, body, sign=True, split_at=0):
    """One HTTP/2 request on a plain TCP connection that starts with the
    client preface (no TLS, no ALPN, no Upgrade). split_at > 0 sends the
    first split_at bytes alone, then the rest a moment later. Returns
    (status, headers, body)."""
    import h2.config
    import h2.connection
    import h2.events
    hd = signed(srv, target, body) if sign else {
        'Content-Type': h.JSON_CT, 'X-Amz-Target': h.TARGET_PREFIX + target}
    hdrs = [(':method', 'POST'), (':scheme', 'http'),
            (':authority', '%s:%d' % (srv.plain_host, srv.plain_port)), (':path', '/')]
    hdrs += [(k.lower(), v) for k, v in hd.items() if k.lower() != 'host']
    hdrs.append(('content-length', str(len(body))))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding='utf-8'))
    conn.initiate_connection()  # the preface, then SETTINGS
    with socket.create_connection((srv.plain_host, srv.plain_port), timeout=10) as s:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, hdrs)
        conn.send_data(sid, body, end_stream=True)
        out = conn.data_to_send()
        if split_at:
            s.sendall(out[:split_at])
            time.sleep(0.3)
            out = out[split_at:]
        s.sendall(out)
        status, rh, data = None, {}, b''
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    rh = dict(ev.headers)
                    status = int(rh[':status'])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    return status, rh, data
            out = conn.data_to_send()
            if out:
                s.sendall(out)
        raise AssertionError('no whole HTTP/2 answer: %r %r %r' % (status, rh, data[:200]))


def test_boto3_over_http(plain):
    k = plain_client(plain)
    name = h.uniq('plain')
    k.create_stream(StreamName=name, ShardCount=1)
    h.wait_status(k, name, 'ACTIVE')
    put = k.put_record(StreamName=name, PartitionKey='p', Data=b'over plain http')
    it = k.get_shard_iterator(StreamName=name, ShardId=put['ShardId'],
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    recs = k.get_records(ShardIterator=it)['Records']
    assert [r['Data'] for r in recs] == [b'over plain http']
    # The same server over TLS sees it too: one appliance, two listeners.
    assert name in plain.client().list_streams()['StreamNames']


def test_aws_cli_over_http(plain):
    env = plain.aws_env()
    env.pop('AWS_CA_BUNDLE')
    name = h.uniq('cli')
    base = [h.AWS_CLI, '--endpoint-url', plain.plain_endpoint, '--output', 'json', 'kinesis']

    def aws(*args):
        p = subprocess.run(base + list(args), env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout) if p.stdout.strip() else None
    aws('create-stream', '--stream-name', name, '--shard-count', '1')
    h.wait_status(plain.client(), name, 'ACTIVE')
    out = aws('put-record', '--stream-name', name, '--partition-key', 'k', '--data', 'aGVsbG8=')
    assert out['SequenceNumber'].isdigit()
    assert name in aws('list-streams')['StreamNames']


@pytest.mark.smoke
def test_h2_prior_knowledge_signed(plain):
    status, hdrs, body = h2_prior_knowledge(plain, 'ListStreams', b'{}')
    assert status == 200, body
    assert hdrs['content-type'] == h.JSON_CT
    assert 'StreamNames' in json.loads(body)


def test_preface_in_pieces(plain):
    """The protocol is decided on the whole preface, however it arrives."""
    for split_at in (1, 5, 23):
        status, _, body = h2_prior_knowledge(plain, 'ListStreams', b'{}', split_at=split_at)
        assert status == 200, (split_at, body)


def test_stalled_preface_is_cut(plain):
    """A connection that begins the preface and stops is closed after
    --request-timeout-ms (2000 here), as a stalled TLS handshake is."""
    with socket.create_connection((plain.plain_host, plain.plain_port), timeout=20) as s:
        s.sendall(b'PRI * HTTP/2.0\r\n')
        t0 = time.monotonic()
        try:
            data = s.recv(100)
        except ConnectionError:
            data = b''
        assert data == b''
        assert time.monotonic() - t0 < 15


def test_unsigned_is_refused_over_both_protocols(plain):
    status, _, body = h2_prior_knowledge(plain, 'ListStreams', b'{}', sign=False)
    assert status == 400
    assert json.loads(body)['__type'] == 'MissingAuthenticationTokenException'
    line, hdrs, body = h1_exchange(plain, 'ListStreams', b'{}', sign=False)
    assert line.startswith('HTTP/1.1 400 ')
    assert json.loads(body)['__type'] == 'MissingAuthenticationTokenException'
    # A wrong signature is as wrong as over TLS.
    bad = signed(plain, 'ListStreams', b'{}')
    bad['Authorization'] = bad['Authorization'][:-4] + '0000'
    line, _, body = h1_exchange(plain, 'ListStreams', b'{}', sign=False,
                                extra={k: v for k, v in bad.items()
                                       if k.lower() not in ('host', 'content-type')})
    assert line.startswith('HTTP/1.1 400 ')
    assert json.loads(body)['__type'] == 'InvalidSignatureException'


def test_upgrade_h2c_is_ignored(plain):
    """Upgrade: h2c (RFC 7540 3.2, deprecated by RFC 9113) is not taken up:
    the request is answered over HTTP/1.1, never 101."""
    line, hdrs, body = h1_exchange(plain, 'ListStreams', b'{}',
                                   extra={'Connection': 'Upgrade, HTTP2-Settings',
                                          'Upgrade': 'h2c', 'HTTP2-Settings': 'AAMAAABkAAQAAP__'})
    assert line.startswith('HTTP/1.1 200 '), line
    assert 'upgrade' not in hdrs
    assert 'StreamNames' in json.loads(body)


def test_subscribe_to_shard_over_plain_http(plain):
    k = plain_client(plain)
    name = h.uniq('psub')
    k.create_stream(StreamName=name, ShardCount=1)
    h.wait_status(k, name, 'ACTIVE')
    sarn = k.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
    carn = k.register_stream_consumer(StreamARN=sarn, ConsumerName='c')['Consumer'][
        'ConsumerARN']
    deadline = time.monotonic() + 10
    while k.describe_stream_consumer(ConsumerARN=carn)['ConsumerDescription'][
            'ConsumerStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline
        time.sleep(0.1)
    k.put_record(StreamName=name, PartitionKey='k', Data=b'first')
    resp = k.subscribe_to_shard(ConsumerARN=carn, ShardId=h.shard_id(0),
                                StartingPosition={'Type': 'TRIM_HORIZON'})
    got = []
    for ev in resp['EventStream']:
        got += [r['Data'] for r in ev['SubscribeToShardEvent']['Records']]
        if got:
            break
    assert got == [b'first']
    resp['EventStream'].close()
    k.deregister_stream_consumer(ConsumerARN=carn)


def test_log_says_plaintext(plain):
    with open(plain.log_path, errors='replace') as f:
        log = f.read()
    assert 'PLAINTEXT http://127.0.0.1:%d' % plain.plain_port in log


def test_off_by_default(server):
    """The session server has no --plain-listen: no address file, and its
    TLS port does not speak plaintext HTTP."""
    assert not os.path.exists(os.path.join(server.data_dir, 'sluiced.plain.addr'))
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}')
        s.settimeout(5)
        try:
            data = s.recv(100)
        except (ConnectionError, socket.timeout):
            data = b''
    assert not data.startswith(b'HTTP/1.1')


@pytest.mark.parametrize('extra,message', [
    (['--transport', 'dpdk', '--ip', '10.99.0.2/24', '--listen', '10.99.0.2:4567'],
     '--plain-listen is served by the kernel transport only'),
    (['--tls-client-ca', '/dev/null'], '--plain-listen cannot be combined with --tls-client-ca'),
    (['--listen', '127.0.0.1:4999', '--plain-listen', '127.0.0.1:4999'],
     '--plain-listen must differ from --listen'),
    (['--plain-listen', '127.0.0.1'], "--plain-listen wants HOST:PORT, got '127.0.0.1'"),
    (['--plain-listen', '127.0.0.1:65536'], '--plain-listen wants HOST:PORT'),
])
def test_refused_combinations(tmp_path, extra, message):
    args = [h.default_binary(), '--data-dir', str(tmp_path / 'd')]
    if '--plain-listen' not in extra:
        args += ['--plain-listen', '127.0.0.1:0']
    p = subprocess.run(args + extra, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr
