# SPDX-License-Identifier: Apache-2.0
"""sluice from a real browser: headless Chromium loads a page served over
https by a small test server; the page calls ListStreams and PutRecord with
the browser build of @aws-sdk/client-kinesis (bundled here with esbuild from
tests/browser/node_modules, which tests/run.sh installs with npm ci). The
calls are cross-origin (another port), so Chromium sends CORS preflights and
reads the answers only if sluice's CORS headers allow it; the page writes
what it got into the DOM, read with --dump-dom. boto3 then reads the record
back.

Trust: Chromium verifies sluice's certificate against the test CA, added to
a throwaway NSS database in a throwaway HOME ($HOME/.pki/nssdb, where
Chromium on Linux reads locally trusted roots) with certutil. That is full
verification (chain, name, validity), unlike
--ignore-certificate-errors-spki-list, which accepts a pinned key whatever
the chain or the name. The page server presents sluice's own server
certificate (issued for 127.0.0.1), so the page's origin is a secure context
like a real web app's."""

import functools
import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import threading

import pytest

import sluice_helpers as h
from sluice_helpers import uniq

BROWSER_DIR = os.path.join(h.REPO, 'tests', 'browser')
ESBUILD = os.path.join(BROWSER_DIR, 'node_modules', '.bin', 'esbuild')
CHROMIUM = shutil.which('chromium')
CERTUTIL = shutil.which('certutil')

pytestmark = [
    pytest.mark.kernel_only('Chromium runs outside the DPDK client namespace setup'),
    pytest.mark.skipif(not CHROMIUM, reason='chromium is not installed (Debian chromium)'),
    pytest.mark.skipif(not CERTUTIL, reason='certutil is not installed (libnss3-tools)'),
    pytest.mark.skipif(not os.path.exists(ESBUILD),
                       reason='tests/browser/node_modules missing: npm ci in tests/browser'),
]


@pytest.fixture(scope='module')
def bundle(tmp_path_factory):
    """The page's script: tests/browser/page.mjs and the SDK, one file."""
    out = tmp_path_factory.mktemp('bundle') / 'bundle.js'
    subprocess.run([ESBUILD, 'page.mjs', '--bundle', '--format=iife', '--platform=browser',
                    '--log-level=warning', '--outfile=%s' % out],
                   cwd=BROWSER_DIR, check=True, timeout=120)
    return out.read_bytes()


class PageServer:
    """https on 127.0.0.1: binds at once (so its origin is known before
    sluice starts), serves once given a certificate."""

    def __init__(self, root):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.port = self.httpd.server_address[1]
        self.origin = 'https://127.0.0.1:%d' % self.port
        self.thread = None

    def serve(self, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        if self.thread:
            self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def trust_store(home, ca):
    """A fresh NSS database under home/.pki/nssdb trusting only ca for TLS
    servers (besides Chromium's built-in roots)."""
    db = home / '.pki' / 'nssdb'
    db.mkdir(parents=True)
    subprocess.run([CERTUTIL, '-N', '-d', 'sql:%s' % db, '--empty-password'], check=True,
                   timeout=30)
    subprocess.run([CERTUTIL, '-A', '-d', 'sql:%s' % db, '-t', 'C,,', '-n', 'sluice-test-ca',
                    '-i', ca], check=True, timeout=30)


def run_page(tmp, url, home, flags=()):
    """Loads url in headless Chromium; returns (the JSON the page wrote,
    Chromium's net log as text)."""
    env = dict(os.environ, HOME=str(home))
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to
    # start. The virtual-time budget only runs while the page is idle (no
    # fetch outstanding), so a slow (ASan) server does not cut it short.
    r = subprocess.run([CHROMIUM, '--headless=new', '--no-sandbox', '--disable-gpu',
                        '--no-first-run', '--user-data-dir=%s' % (tmp / 'profile'),
                        '--log-net-log=%s' % (tmp / 'netlog.json'),
                        '--virtual-time-budget=60000'] + list(flags) + ['--dump-dom', url],
                       env=env, capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="out">(.*?)</pre>', r.stdout, re.S)
    assert m, 'no result in the page (rc %d): %s\n%s' % (r.returncode, r.stdout[-2000:],
                                                         r.stderr[-3000:])
    text = m.group(1).replace('&quot;', '"').replace('&amp;', '&')
    assert text != 'pending', 'the page did not finish: %s' % r.stderr[-3000:]
    netlog = (tmp / 'netlog.json').read_text(errors='replace')
    return json.loads(text), netlog


def h2_hosts(netlog):
    """The hosts of the HTTP/2 sessions in a Chromium net log."""
    d = json.loads(netlog)
    t = d['constants']['logEventTypes']['HTTP2_SESSION']
    return {e['params']['host'] for e in d['events']
            if e['type'] == t and 'host' in (e.get('params') or {})}


@pytest.mark.parametrize('origins,proto', [('default', 'h2'), ('listed', 'h2'),
                                           ('default', 'http/1.1')])
def test_browser_list_streams_and_put_record(server_factory, tmp_path, bundle, origins, proto):
    site = tmp_path / 'site'
    site.mkdir()
    page = PageServer(site)
    try:
        # default: any origin ("*", as AWS); listed: only the page's own
        # origin is allowed, and echoed back.
        extra = [] if origins == 'default' else ['--cors-origins',
                                                  'https://x.example,' + page.origin]
        srv = server_factory(extra_args=extra)
        page.serve(os.path.join(srv.data_dir, 'tls', 'server.pem'),
                   os.path.join(srv.data_dir, 'tls', 'server.key'))
        home = tmp_path / 'home'
        trust_store(home, srv.ca)
        k = srv.client()
        name = uniq('web')
        h.create_active(k, name, shards=2)
        data = 'hello from chromium %s' % name
        cfg = {'endpoint': srv.endpoint, 'region': 'us-east-1', 'keyId': srv.key_id,
               'secret': srv.secret, 'stream': name, 'data': data}
        html = open(os.path.join(BROWSER_DIR, 'index.html')).read()
        (site / 'index.html').write_text(html.replace('@CFG@', json.dumps(cfg)))
        (site / 'bundle.js').write_bytes(bundle)

        flags = ['--disable-http2'] if proto == 'http/1.1' else []
        res, netlog = run_page(tmp_path, page.origin + '/index.html', home, flags)
    finally:
        page.close()

    assert res['ok'], res
    assert res['origin'] == page.origin
    assert name in res['streams']
    assert re.fullmatch(r'shardId-00000000000[01]', res['shardId']), res
    assert re.fullmatch(r'\d{20,}', res['sequenceNumber']), res
    # The SDK read x-amzn-RequestId: only possible through Expose-Headers.
    assert res['requestId'] and re.fullmatch(r'[0-9a-f-]{36}', res['requestId']), res
    # Chromium spoke HTTP/2 to sluice (unless told not to): its net log has
    # an HTTP/2 session to sluice's address (resource timing hides a
    # cross-origin fetch's protocol from the page).
    assert (srv.host_header() in h2_hosts(netlog)) == (proto == 'h2'), h2_hosts(netlog)

    it = k.get_shard_iterator(StreamName=name, ShardId=res['shardId'],
                              ShardIteratorType='AT_SEQUENCE_NUMBER',
                              StartingSequenceNumber=res['sequenceNumber'])['ShardIterator']
    recs = k.get_records(ShardIterator=it, Limit=1)['Records']
    assert recs and recs[0]['SequenceNumber'] == res['sequenceNumber']
    assert recs[0]['Data'] == data.encode()
    assert recs[0]['PartitionKey'] == 'browser'
