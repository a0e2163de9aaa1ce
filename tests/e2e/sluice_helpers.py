# SPDX-License-Identifier: Apache-2.0
"""Helpers for the sluice end-to-end tests: start/stop a sluiced process,
build boto3 clients and AWS CLI invocations against it, and talk to it at the
HTTP level (signed or not) over verified TLS.

Everything goes over TLS verified against DIR/tls/ca.pem; nothing here ever
disables certificate verification."""

import configparser
import datetime
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from unittest import mock

import boto3
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
AWS_CLI = '/usr/bin/aws'
ACCOUNT = '000000000000'
TARGET_PREFIX = 'Kinesis_20131202.'
JSON_CT = 'application/x-amz-json-1.1'
MAX_HASH = 2 ** 128 - 1

# Every server started by this process, so a failing test can show their logs.
ALL_SERVERS = []

# SLUICE_TRANSPORT=dpdk: every Server runs `sluiced --transport dpdk` in a
# network namespace of its own behind a veth pair (dpdk_net.py), and pytest
# runs in the client namespace. Anything else: the kernel transport on
# 127.0.0.1, as always.
TRANSPORT = os.environ.get('SLUICE_TRANSPORT', 'kernel')
DPDK = TRANSPORT == 'dpdk'
DPDK_PORT = 4567  # DPDK mode refuses port 0


def without_listen(args):
    """(args without any --listen option, the port it named or 0)."""
    out, port, it = [], 0, iter(args)
    for a in it:
        if a == '--listen':
            val = next(it, '')
        elif a.startswith('--listen='):
            val = a.split('=', 1)[1]
        else:
            out.append(a)
            continue
        tail = val.rpartition(':')[2]
        port = int(tail) if tail.isdigit() else 0
    return out, port


def default_binary():
    """$SLUICED, else build/sluiced under the repository root."""
    return os.environ.get('SLUICED') or os.path.join(REPO, 'build', 'sluiced')


def uniq(prefix='s'):
    """A stream name unlikely to collide with any other test's."""
    return '%s-%s' % (prefix, uuid.uuid4().hex[:10])


def hash_ranges(n):
    """Kinesis's split of the 128-bit hash space into n equal shards: shard i
    starts at floor(2^128 / n) * i and ends one below the next start; the last
    one ends at 2^128 - 1."""
    step = (2 ** 128) // n
    starts = [step * i for i in range(n)]
    ends = [s - 1 for s in starts[1:]] + [MAX_HASH]
    return [(str(s), str(e)) for s, e in zip(starts, ends)]


def shard_id(i):
    return 'shardId-%012d' % i


def read_credentials(path, profile='default'):
    cp = configparser.ConfigParser()
    with open(path) as f:
        cp.read_file(f)
    sec = cp[profile]
    return sec['aws_access_key_id'].strip(), sec['aws_secret_access_key'].strip()


def tls_context(ca_path):
    """A client context that verifies the server against our CA only."""
    ctx = ssl.create_default_context(cafile=ca_path)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class Response:
    """One HTTP response: status, lowercased header dict, raw header list,
    body bytes."""

    def __init__(self, status, reason, header_list, body):
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body

    def json(self):
        return json.loads(self.body.decode('utf-8')) if self.body else None

    def __repr__(self):
        return 'Response(%d %s, %r, %r)' % (self.status, self.reason, self.headers,
                                            self.body[:500])


class RawConn:
    """A TLS connection on which the test writes exact bytes and parses the
    responses itself (pipelining, Expect: 100-continue, slow clients)."""

    def __init__(self, server, timeout=10.0):
        self.server = server
        sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.sock = tls_context(server.ca).wrap_socket(sock, server_hostname=server.host)
        self.buf = b''

    def send(self, data):
        self.sock.sendall(data)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError('connection closed by server')
        self.buf += chunk

    def read_response(self, timeout=10.0):
        """Reads one response (a 1xx counts as one). Raises ConnectionError if
        the server closes first, socket.timeout on timeout."""
        self.sock.settimeout(timeout)
        while b'\r\n\r\n' not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        m = re.match(r'HTTP/1\.[01] (\d{3}) ?(.*)$', lines[0])
        if not m:
            raise AssertionError('bad status line %r' % lines[0])
        status = int(m.group(1))
        hdrs = []
        for line in lines[1:]:
            k, _, v = line.partition(':')
            hdrs.append((k.strip(), v.strip()))
        if 100 <= status < 200:
            return Response(status, m.group(2), hdrs, b'')
        h = {k.lower(): v for k, v in hdrs}
        if 'content-length' in h:
            n = int(h['content-length'])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
        else:
            # No length: the body runs to the end of the connection.
            try:
                while True:
                    self._fill()
            except ConnectionError:
                pass
            body, self.buf = self.buf, b''
        return Response(status, m.group(2), hdrs, body)

    def is_closed(self, timeout=2.0):
        """True if the server closed (or reset) the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except socket.timeout:
            return False
        except (ConnectionError, ssl.SSLError, OSError):
            return True
        if data:
            self.buf += data
            return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class _FixedClock:
    """Stands in for the datetime module inside botocore.auth so a request can
    be signed at an arbitrary instant."""

    def __init__(self, when):
        outer = self

        class _DT(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return outer.when
        self.when = when
        self.datetime = _DT


class Server:
    """One sluiced process with its own data directory."""

    def __init__(self, binary, data_dir, args=(), name='sluiced'):
        self.binary = binary
        self.data_dir = str(data_dir)
        self.args = list(args)
        self.name = name
        self.proc = None
        self.log_path = os.path.join(self.data_dir, '..', os.path.basename(self.data_dir) +
                                     '.%s.log' % name)
        self.log_path = os.path.abspath(self.log_path)
        self.host = None
        self.port = None
        self.started_at = 0.0
        self.last_rc = None
        self.net = None  # DPDK mode: dpdk_net.ServerNet, kept across restarts
        ALL_SERVERS.append(self)

    # --- process control -------------------------------------------------

    @property
    def addr_file(self):
        return os.path.join(self.data_dir, 'sluiced.addr')

    @property
    def admin_file(self):
        return os.path.join(self.data_dir, 'sluiced.admin')

    def admin_addr(self):
        """HOST:PORT of the admin listener (written before sluiced.addr)."""
        with open(self.admin_file) as f:
            return f.read().strip()

    @property
    def ca(self):
        return os.path.join(self.data_dir, 'tls', 'ca.pem')

    @property
    def creds_file(self):
        return os.path.join(self.data_dir, 'credentials')

    @property
    def endpoint(self):
        return 'https://%s:%d' % (self.url_host, self.port)

    def command(self, listen='127.0.0.1:0'):
        # Quotas are off unless a test asks for them: bulk loads would be
        # throttled, as they would be on Kinesis, and only the quota tests
        # are about that.
        quota = [] if '--quota-mode' in self.args else ['--quota-mode', 'off']
        # Every test server gets its own admin port (the default 4568 would
        # clash between servers running side by side).
        if '--admin-listen' not in self.args:
            quota = quota + ['--admin-listen', '127.0.0.1:0']
        # The smallest segment (16 MiB) unless a test asks: each segment is
        # preallocated, and at the default 256 MiB a suite's ~120 servers
        # held 20+ GiB of disk (a CI run on this machine filled it).
        if '--segment-mib' not in self.args:
            quota = quota + ['--segment-mib', '16']
        if DPDK:
            return self._dpdk_command(listen, quota)
        return [self.binary, '--listen', listen, '--data-dir', self.data_dir] + quota + self.args

    def _dpdk_command(self, listen, quota):
        """The same server over DPDK in this Server's namespace: a --listen
        from the caller or the test's args only contributes its port."""
        args, port = without_listen(self.args)
        port = port or without_listen(['--listen', listen])[1] or DPDK_PORT
        return (self.net.exec_prefix() + [self.binary] + self.net.dpdk_args(port) +
                ['--data-dir', self.data_dir] + quota + args)

    def ensure_net(self):
        """DPDK mode: makes this server's namespace and veth on first use."""
        if DPDK and self.net is None:
            import dpdk_net
            dpdk_net.require_client_netns()
            self.net = dpdk_net.ServerNet.create()
        return self.net

    def destroy_net(self):
        """Removes the namespace (DPDK mode; call after stop())."""
        if self.net is not None:
            self.net.destroy()
            self.net = None

    def start(self, timeout_s=20.0, listen='127.0.0.1:0'):
        if not os.path.exists(self.binary):
            raise AssertionError('sluiced binary not found at %s (set SLUICED=path)'
                                 % self.binary)
        os.makedirs(self.data_dir, exist_ok=True)
        self.ensure_net()
        # A file left by a previous run names a port that is no longer ours.
        if os.path.exists(self.addr_file):
            os.unlink(self.addr_file)
        log = open(self.log_path, 'ab')
        log.write(('\n=== start %s\n' % ' '.join(self.command(listen))).encode())
        log.flush()
        self.started_at = time.time()
        self.proc = subprocess.Popen(self.command(listen), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, cwd=self.data_dir)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('sluiced exited with %d before it was ready:\n%s'
                                     % (self.proc.returncode, self.log_tail()))
            try:
                with open(self.addr_file) as f:
                    text = f.read()
            except FileNotFoundError:
                text = ''
            if text.endswith('\n'):
                hp = text.strip()
                host, _, port = hp.rpartition(':')
                self.host, self.port = host.strip('[]'), int(port)
                assert self.port > 0, 'sluiced.addr names port 0: %r' % text
                self.key_id, self.secret = read_credentials(self.creds_file)
                return self
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError('sluiced did not write %s within %.0f s:\n%s'
                             % (self.addr_file, timeout_s, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def stop(self, timeout_s=10.0, sig=signal.SIGTERM):
        """Sends sig and waits; returns the exit code (None if it had to be
        killed after timeout_s)."""
        if self.proc is None:
            return self.last_rc
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.last_rc = None
                self.proc = None
                return None
        self.last_rc = self.proc.returncode
        self.proc = None
        return self.last_rc

    def log_tail(self, max_bytes=20000):
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - max_bytes))
                return f.read().decode('utf-8', 'replace')
        except OSError as e:
            return '(no log: %s)' % e

    # --- clients -----------------------------------------------------------

    def client(self, region='us-east-1', key_id=None, secret=None, validate=True, **cfg):
        """A boto3 Kinesis client for this server, retries off, TLS verified."""
        session = boto3.session.Session(
            aws_access_key_id=key_id or self.key_id,
            aws_secret_access_key=secret or self.secret,
            region_name=region)
        config = Config(retries={'total_max_attempts': 1, 'mode': 'standard'},
                        connect_timeout=5, read_timeout=20,
                        parameter_validation=validate, **cfg)
        return session.client('kinesis', endpoint_url=self.endpoint, verify=self.ca,
                              config=config)

    def aws_env(self, region='us-east-1'):
        env = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
        env.update({
            'AWS_CA_BUNDLE': self.ca,
            'AWS_SHARED_CREDENTIALS_FILE': self.creds_file,
            'AWS_CONFIG_FILE': '/dev/null',
            'AWS_DEFAULT_REGION': region,
            'AWS_PAGER': '',
            'AWS_RETRY_MODE': 'standard',
            'AWS_MAX_ATTEMPTS': '1',
        })
        return env

    def aws(self, *args, region='us-east-1', timeout_s=120):
        """Runs /usr/bin/aws against this server. Returns (rc, parsed JSON
        stdout or None when empty, stderr)."""
        cmd = [AWS_CLI, '--endpoint-url', self.endpoint, '--output', 'json'] + list(args)
        if ':' in self.host:
            # AWS CLI 2.9 refuses an IPv6 literal in --endpoint-url: it
            # reaches the server as https://localhost (in the certificate),
            # which a hosts file of its own mount namespace maps to the
            # server's IPv6 address alone.
            hosts = os.path.join(self.data_dir, '..', 'hosts6-%s' % self.name)
            with open(hosts, 'w') as f:
                f.write('%s localhost\n' % self.host)
            cmd = (['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"',
                    hosts, AWS_CLI, '--endpoint-url', 'https://localhost:%d' % self.port,
                    '--output', 'json'] + list(args))
        p = subprocess.run(cmd, env=self.aws_env(region), capture_output=True, text=True,
                           timeout=timeout_s)
        out = p.stdout.strip()
        try:
            parsed = json.loads(out) if out else None
        except ValueError:
            parsed = out
        return p.returncode, parsed, p.stderr

    # --- raw HTTP ----------------------------------------------------------

    @property
    def url_host(self):
        """host as URLs and Host headers spell it: [..] for IPv6."""
        return '[%s]' % self.host if ':' in self.host else self.host

    def host_header(self):
        return '%s:%d' % (self.url_host, self.port)

    def sign(self, headers, body, method='POST', path='/', region='us-east-1',
             service='kinesis', key_id=None, secret=None, when=None, token=None):
        """Returns headers plus X-Amz-Date and Authorization from botocore's
        SigV4Auth; `when` (naive UTC datetime) fixes the signing instant;
        `token` signs as a session credential (X-Amz-Security-Token)."""
        req = AWSRequest(method=method, url=self.endpoint + path, data=body,
                         headers=dict(headers))
        auth = botocore.auth.SigV4Auth(
            Credentials(key_id or self.key_id, secret or self.secret, token), service, region)
        if when is None:
            auth.add_auth(req)
        else:
            with mock.patch.object(botocore.auth, 'datetime', _FixedClock(when)):
                auth.add_auth(req)
        return dict(req.headers.items())

    def request_parts(self, target=None, body=b'{}', headers=None, sign=True,
                      method='POST', path='/', **sign_kw):
        """Builds (method, path, header list, body bytes) for one request."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        hdrs = {'Content-Type': JSON_CT}
        if target is not None:
            hdrs['X-Amz-Target'] = target if '.' in target else TARGET_PREFIX + target
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        if sign:
            hdrs = self.sign(hdrs, body, method=method, path=path, **sign_kw)
        out = [('Host', self.host_header())]
        out += [(k, v) for k, v in hdrs.items() if k.lower() != 'host']
        if not any(k.lower() == 'content-length' for k, _ in out):
            out.append(('Content-Length', str(len(body))))
        return method, path, out, body

    def request_bytes(self, target=None, body=b'{}', headers=None, sign=True, **kw):
        method, path, hdrs, body = self.request_parts(target, body, headers, sign, **kw)
        head = '%s %s HTTP/1.1\r\n' % (method, path)
        head += ''.join('%s: %s\r\n' % (k, v) for k, v in hdrs)
        return head.encode('latin-1') + b'\r\n' + body

    def raw(self, target=None, body=b'{}', headers=None, sign=True, timeout_s=15, **kw):
        """Sends one request with http.client over verified TLS. Returns
        (status, lowercased header dict, body bytes)."""
        method, path, hdrs, body = self.request_parts(target, body, headers, sign, **kw)
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout_s,
                                           context=tls_context(self.ca))
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in hdrs:
                conn.putheader(k, v)
            conn.endheaders(body)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def call(self, op, payload=None, **kw):
        """Signed raw call of a Kinesis operation. Returns (status, headers,
        parsed JSON body or None)."""
        status, hdrs, body = self.raw(op, {} if payload is None else payload, **kw)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            raise AssertionError('non-JSON body (%d): %r' % (status, body[:300]))
        return status, hdrs, parsed

    def call_cbor(self, op, payload=None, body=None, **kw):
        """Signed raw call in application/x-amz-cbor-1.1, as the AWS SDK for
        Java sends it: payload is CBOR-encoded (or body sent as is).
        Returns (status, headers, decoded CBOR body or None); tag 1 decodes
        to EpochMs (see cbor_loads)."""
        import cbor2
        if body is None:
            body = cbor2.dumps({} if payload is None else payload)
        hdrs = {'Content-Type': CBOR_CT}
        hdrs.update(kw.pop('headers', None) or {})
        status, rh, data = self.raw(op, body, headers=hdrs, **kw)
        return status, rh, cbor_loads(data) if data else None

    def connect(self, timeout_s=10.0):
        return RawConn(self, timeout_s)


CBOR_CT = 'application/x-amz-cbor-1.1'


class EpochMs(int):
    """A CBOR tag-1 value as AWS's CBOR protocol means it: epoch
    milliseconds (RFC 8949 says seconds; cbor2 would read it so)."""

    def __repr__(self):
        return 'EpochMs(%d)' % int(self)


def cbor_loads(data):
    """cbor2.loads, with tag 1 read as AWS means it (EpochMs; a float is
    kept as a float) instead of cbor2's epoch-seconds datetime, which would
    be in the year 56,000 (out of range) for a Kinesis answer."""
    import cbor2
    import cbor2.decoder as dec
    old = dec.semantic_decoders[1]

    def tag1(self):
        v = self._decode()
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise ValueError('tag 1 holds %r' % (v,))
        return EpochMs(v) if isinstance(v, int) else v

    dec.semantic_decoders[1] = tag1
    try:
        return dec.loads(data)  # the pure-Python decoder reads semantic_decoders
    finally:
        dec.semantic_decoders[1] = old


def error_message(body):
    """Kinesis puts the text under "message" (a few Coral errors use
    "Message")."""
    if body is None:
        return None
    return body.get('message', body.get('Message'))


def assert_error(status, headers, body, type_, message=None, http_status=400,
                 message_prefix=None, message_re=None):
    """Asserts a Kinesis JSON error response exactly."""
    assert status == http_status, (status, body)
    assert headers.get('content-type') == JSON_CT, headers
    assert 'x-amzn-requestid' in headers, headers
    assert isinstance(body, dict), body
    assert body.get('__type') == type_, body
    msg = error_message(body)
    if message is not None:
        assert msg == message, body
    if message_prefix is not None:
        assert msg is not None and msg.startswith(message_prefix), body
    if message_re is not None:
        assert msg is not None and re.fullmatch(message_re, msg), body


def wait_status(client, name, status, timeout_s=10.0):
    """Polls DescribeStreamSummary until the stream reaches status."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = client.describe_stream_summary(StreamName=name)
        if last['StreamDescriptionSummary']['StreamStatus'] == status:
            return last['StreamDescriptionSummary']
        time.sleep(0.05)
    raise AssertionError('stream %s not %s after %.1f s: %r' % (name, status, timeout_s, last))


def wait_gone(client, name, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            client.describe_stream_summary(StreamName=name)
        except client.exceptions.ResourceNotFoundException:
            return
        time.sleep(0.05)
    raise AssertionError('stream %s still exists after %.1f s' % (name, timeout_s))


def create_active(client, name, shards=1, timeout_s=10.0):
    client.create_stream(StreamName=name, ShardCount=shards)
    return wait_status(client, name, 'ACTIVE', timeout_s)


def in_thread(fn, *args, **kw):
    """Runs fn in a daemon thread; returns (thread, result dict)."""
    out = {}

    def run():
        try:
            out['value'] = fn(*args, **kw)
        except BaseException as e:  # reported to the test, not lost
            out['error'] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


# --- HTTP/2 (the h2 library; the JS suite runs the AWS SDK over HTTP/2) ---

def h2_exchange(server, headers, body=b'', end_stream=True, timeout_s=5.0,
                stop_at_headers=False):
    """One HTTP/2 request over verified TLS (ALPN h2). headers: list of
    (name, value), pseudo-headers first. body is sent in DATA frames; with
    end_stream False the stream is left open (no DATA, no END_STREAM), as a
    client that announced a large body and has not sent it. Returns
    (status or None when nothing came within timeout_s, header dict, body
    bytes); stop_at_headers returns once the response headers are in (for
    streaming answers)."""
    import h2.config
    import h2.connection
    import h2.events
    ctx = tls_context(server.ca)
    ctx.set_alpn_protocols(['h2'])
    raw_sock = socket.create_connection((server.host, server.port), timeout=timeout_s)
    s = ctx.wrap_socket(raw_sock, server_hostname=server.host)
    try:
        assert s.selected_alpn_protocol() == 'h2'
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding='utf-8'))
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers, end_stream=end_stream and not body)
        if end_stream and body:
            conn.send_data(sid, body, end_stream=True)
        s.sendall(conn.data_to_send())
        status, hdrs, data = None, {}, b''
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    hdrs = {k.lower(): v for k, v in ev.headers}
                    status = int(hdrs.get(':status', 0))
                    if stop_at_headers:
                        return status, hdrs, data
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)) and \
                        ev.stream_id == sid:
                    return status, hdrs, data
            out = conn.data_to_send()
            if out:
                s.sendall(out)
        return status, hdrs, data
    finally:
        s.close()


def h2_headers(server, target, body, sign=True, extra=(), content_length=None,
               content_type=JSON_CT, **sign_kw):
    """Request headers for h2_exchange: pseudo-headers, then the signed ones
    (lower-case, as HTTP/2 requires)."""
    hd = {'Content-Type': content_type,
          'X-Amz-Target': target if '.' in target else TARGET_PREFIX + target}
    if sign:
        hd = server.sign(hd, body, **sign_kw)
    out = [(':method', 'POST'), (':scheme', 'https'), (':authority', server.host_header()),
           (':path', '/')]
    out += [(k.lower(), v) for k, v in hd.items() if k.lower() != 'host']
    out.append(('content-length', str(len(body) if content_length is None
                                      else content_length)))
    out += list(extra)
    return out
