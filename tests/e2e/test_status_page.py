# SPDX-License-Identifier: Apache-2.0
"""The admin listener's status page (/) and /status.json: the page opened in
headless Chromium (Debian's chromium) against a real sluiced, its numbers
checked against what boto3 put and read, a screenshot kept as an artifact;
its Content-Security-Policy checked against the inline script and style it
serves; and hostile names rendered as text.

Kinesis names (streams, consumers) allow [a-zA-Z0-9_.-] only, and sluice
refuses anything else, so no user text with markup can reach the page from
a real sluiced. The escaping test therefore serves the real page (bytes and
policy fetched from sluiced) from a loopback server of its own whose
/status.json and /metrics carry markup in every name, and checks in
Chromium that it shows as text and nothing of it runs."""

import base64
import hashlib
import html.parser
import http.client
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

import sluice_helpers as h
from sluice_helpers import uniq

pytestmark = pytest.mark.kernel_only  # the admin socket is in the server's namespace

CHROMIUM = '/usr/bin/chromium'
# Each Chromium run lets the page refresh at least twice in virtual time (the
# page fetches every 2 s); real time is spent only on the fetches.
VIRTUAL_MS = 4500


class Dom(html.parser.HTMLParser):
    """The dumped DOM: rows by their data-stream / data-consumer / data-lcore
    (cells by data-k, text unescaped), the tags seen, the page state."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows = {}      # (table id, row key) -> {data-k: text}
        self.tags = []      # (tag, attrs) of every element
        self.title = ''
        self.state = None
        self.refreshes = 0
        self._table = None
        self._row = None
        self._cell = None
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == 'table' and 'id' in a:
            self._table = a['id']
        elif tag == 'tr':
            key = a.get('data-stream') or a.get('data-consumer') or a.get('data-lcore')
            if key is not None:
                self._row = self.rows.setdefault((self._table, key), {})
        elif tag == 'td' and self._row is not None and 'data-k' in a:
            self._cell = a['data-k']
            self._row[self._cell] = ''
        elif tag == 'title':
            self._in_title = True
        elif tag == 'div' and a.get('id') == 'state':
            self.state = a.get('data-state')
        elif tag == 'body':
            self.refreshes = int(a.get('data-refreshes', '0'))

    def handle_endtag(self, tag):
        if tag == 'td':
            self._cell = None
        elif tag == 'tr':
            self._row = None
        elif tag == 'table':
            self._table = None
        elif tag == 'title':
            self._in_title = False

    def handle_data(self, data):
        if self._cell is not None and self._row is not None:
            self._row[self._cell] += data
        if self._in_title:
            self.title += data


def chromium(tmp_path, url, *args):
    """Runs headless Chromium once on url; returns (stdout, stderr)."""
    assert os.access(CHROMIUM, os.X_OK), 'Debian chromium is not installed (tests/run.sh DEPS)'
    home = tmp_path / 'chromium-home'
    home.mkdir(exist_ok=True)
    env = dict(os.environ, HOME=str(home))
    cmd = [CHROMIUM, '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-extensions', '--user-data-dir=' + str(home / 'profile'),
           '--enable-logging=stderr', '--v=0', '--virtual-time-budget=%d' % VIRTUAL_MS]
    r = subprocess.run(cmd + list(args) + [url], capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors='replace')[-3000:]
    return r.stdout.decode(), r.stderr.decode(errors='replace')


def console(stderr):
    """The page's console messages (CSP violations show there)."""
    return [line for line in stderr.splitlines() if ':CONSOLE' in line]


def wait_dom(tmp_path, url, ready, timeout_s=90):
    """Dumps the DOM until ready(dom) holds (bounded); returns the last."""
    deadline = time.monotonic() + timeout_s
    while True:
        out, err = chromium(tmp_path, url, '--dump-dom')
        dom = Dom(out)
        if dom.state == 'ok' and dom.refreshes >= 2 and ready(dom):
            return dom, err
        assert time.monotonic() < deadline, (
            'the page never showed the expected numbers; state=%r refreshes=%d rows=%r '
            'console=%r' % (dom.state, dom.refreshes, dom.rows, console(err)))
        time.sleep(0.5)


def screenshot(tmp_path, url, name):
    """A PNG of the page, kept under tmp_path and copied to $SLUICE_ARTIFACTS."""
    png = tmp_path / name
    chromium(tmp_path, url, '--screenshot=' + str(png), '--window-size=1400,1100',
             '--hide-scrollbars')
    data = png.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 10000, len(data)
    art = os.environ.get('SLUICE_ARTIFACTS')
    if art:
        os.makedirs(art, exist_ok=True)
        shutil.copy(str(png), os.path.join(art, name))
    return png


def get(srv, path, timeout=10):
    """GET path from the admin listener: (status, {header: value}, body)."""
    host, _, port = srv.admin_addr().rpartition(':')
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.request('GET', path)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def page_url(srv):
    return 'http://%s/' % srv.admin_addr()


def test_status_json(server):
    k = server.client()
    name = uniq('st.j-son_')
    h.create_active(k, name, shards=3)
    arn = k.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
    k.register_stream_consumer(StreamARN=arn, ConsumerName='viewer-1')
    deadline = time.monotonic() + 20
    while True:
        status, hdrs, body = get(server, '/status.json')
        assert status == 200, body[:300]
        assert hdrs['content-type'] == 'application/json'
        assert hdrs['x-content-type-options'] == 'nosniff'
        doc = json.loads(body)
        cons = [c for c in doc['consumers'] if c['stream'] == name]
        if cons:
            break
        assert time.monotonic() < deadline, 'the consumer never became ACTIVE: %r' % doc
        time.sleep(0.3)
    s = [x for x in doc['streams'] if x['name'] == name]
    assert len(s) == 1, doc
    s = s[0]
    assert (s['shards_total'], s['shards_open'], s['consumers']) == (3, 3, 1)
    assert [x['id'] for x in s['shards']] == ['shardId-00000000000%d' % i for i in range(3)]
    assert all(x['open'] and x['parent'] is None for x in s['shards'])
    # The hash ranges are ListShards's, as decimal strings.
    want = {x['ShardId']: x['HashKeyRange'] for x in k.list_shards(StreamName=name)['Shards']}
    for x in s['shards']:
        assert (x['hash_start'], x['hash_end']) == (want[x['id']]['StartingHashKey'],
                                                    want[x['id']]['EndingHashKey'])
    assert cons[0]['name'] == 'viewer-1' and cons[0]['arn'].startswith(arn + '/consumer/viewer-1:')
    assert doc['truncated'] is False and doc['streams_listed'] == len(doc['streams'])
    assert doc['io_lcores'] >= 1 and doc['log_lcores'] >= 1


def test_status_json_after_split(server):
    """Closed shards are listed after the open ones, with their lineage."""
    k = server.client()
    name = uniq('st-split')
    h.create_active(k, name, shards=1)
    k.split_shard(StreamName=name, ShardToSplit='shardId-000000000000',
                  NewStartingHashKey=str(2 ** 127))
    h.wait_status(k, name, 'ACTIVE')
    deadline = time.monotonic() + 20
    while True:
        doc = json.loads(get(server, '/status.json')[2])
        s = [x for x in doc['streams'] if x['name'] == name]
        if s and s[0]['shards_total'] == 3:
            break
        assert time.monotonic() < deadline, doc
        time.sleep(0.3)
    s = s[0]
    assert s['shards_open'] == 2
    assert [(x['id'], x['open'], x['parent']) for x in s['shards']] == [
        ('shardId-000000000001', True, 'shardId-000000000000'),
        ('shardId-000000000002', True, 'shardId-000000000000'),
        ('shardId-000000000000', False, None)]


def test_page_policy(server):
    """The page is self-contained and its policy allows exactly its inline
    script and style (by hash), nothing from elsewhere."""
    status, hdrs, body = get(server, '/')
    assert status == 200
    assert hdrs['content-type'] == 'text/html; charset=utf-8'
    csp = hdrs['content-security-policy']
    page = body.decode('utf-8')
    no_comments = re.sub(r'<!--.*?-->', '', page, flags=re.S)
    scripts = re.findall(r'<script>(.*?)</script>', no_comments, re.S)
    styles = re.findall(r'<style>(.*?)</style>', no_comments, re.S)
    assert len(scripts) == 1 and len(styles) == 1

    def sha(s):
        return "'sha256-%s'" % base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
    directives = dict((d.strip().split(' ', 1) + [''])[:2] for d in csp.split(';'))
    assert directives['default-src'] == "'self'"
    assert directives['script-src'] == sha(scripts[0])
    assert directives['style-src'] == sha(styles[0])
    assert directives['object-src'] == "'none'" and directives['frame-ancestors'] == "'none'"
    assert 'unsafe' not in csp
    # Nothing loaded from anywhere: no src or href attributes at all, no
    # @import or url() in the style.
    assert not re.search(r'\s(src|href)\s*=', no_comments, re.I)
    assert '@import' not in styles[0] and 'url(' not in styles[0]
    # Data reaches the DOM as text only.
    for sink in ('innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval('):
        assert sink not in scripts[0], sink


def test_page_in_chromium(server, tmp_path):
    """The page in headless Chromium shows what boto3 did: N records in,
    the records read out, the shards and the consumer, every lcore."""
    k = server.client()
    name = uniq('st-page')
    h.create_active(k, name, shards=2)
    arn = k.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
    k.register_stream_consumer(StreamARN=arn, ConsumerName='dash-reader')
    n = 0
    for i in range(5):
        k.put_record(StreamName=name, Data=b'x' * 100, PartitionKey='pk%d' % i)
        n += 1
    recs = [{'Data': os.urandom(200), 'PartitionKey': 'p%d' % j} for j in range(32)]
    assert k.put_records(StreamName=name, Records=recs)['FailedRecordCount'] == 0
    n += len(recs)
    got = 0
    for sid in ('shardId-000000000000', 'shardId-000000000001'):
        it = k.get_shard_iterator(StreamName=name, ShardId=sid,
                                  ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        got += len(k.get_records(ShardIterator=it, Limit=1000)['Records'])
    assert got == n

    def ready(dom):
        row = dom.rows.get(('streams', name))
        return (row is not None and row.get('records_in') == str(n) and
                row.get('consumers') == '1')
    dom, err = wait_dom(tmp_path, page_url(server), ready)
    assert not [c for c in console(err) if 'Content Security Policy' in c], console(err)
    row = dom.rows[('streams', name)]
    assert row['name'] == name
    assert row['shards'] == '2 / 2'
    assert row['records_out'] == str(n)
    assert row['write_throttled'] == '0' and row['read_throttled'] == '0'
    assert re.fullmatch(r'[0-9.,]+', row['records_in_rate']), row  # a number, not '–'
    assert re.fullmatch(r'[0-9.,]+', row['put_p99']), row
    assert dom.rows[('consumers', 'dash-reader')]['consumer'] == 'dash-reader'
    for lc in ('io0', 'log0'):
        assert re.fullmatch(r'[0-9.]+ %', dom.rows[('lcores', lc)]['busy']), dom.rows
    j = dom.rows[('journal', 'log0')]
    assert re.fullmatch(r'[0-9.,]+', j['write_mean']), j  # records were written
    assert re.fullmatch(r'[0-9.,]+', j['write_p99']), j
    assert int(j['acked'].replace(',', '')) >= n
    assert dom.title == 'sluice status'
    screenshot(tmp_path, page_url(server), 'status_page.png')


HOSTILE_STREAM = '<script>document.title="pwned-stream"</script>'
HOSTILE_CONSUMER = '<img src=x onerror="document.title=\'pwned-consumer\'">'
HOSTILE_LCORE = '<b id="pwned-lcore">io0</b>'


def prom_label(v):
    return v.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def test_page_renders_names_as_text(server, tmp_path):
    """Markup in any name is shown as text: the real page (bytes and policy
    from sluiced) served with hostile data."""
    status, hdrs, page = get(server, '/')
    assert status == 200
    csp = hdrs['content-security-policy']
    status_doc = json.dumps({
        'version': '<i>v</i>', 'io_lcores': 1, 'log_lcores': 1,
        'streams': [{'name': HOSTILE_STREAM, 'shards_total': 1, 'shards_open': 1,
                     'retention_hours': 24, 'enhanced_monitoring': 0, 'consumers': 1,
                     'shards': [{'id': '<u>shard</u>', 'open': True, 'parent': None,
                                 'hash_start': '0', 'hash_end': '<s>1</s>'}]}],
        'consumers': [{'stream': HOSTILE_STREAM, 'name': HOSTILE_CONSUMER,
                       'arn': 'arn:<x>', 'created_ms': 0}],
        'streams_listed': 1, 'consumers_listed': 1, 'truncated': False, 'snapshot': 1,
    }).encode()
    lab = prom_label(HOSTILE_STREAM)
    metrics = ('# TYPE sluice_kinesis_incoming_records counter\n'
               'sluice_kinesis_incoming_records_total{stream="%s"} 42\n'
               '# TYPE sluice_lcore_loops counter\n'
               'sluice_lcore_loops_total{lcore="%s"} 10\n'
               '# TYPE sluice_lcore_busy_loops counter\n'
               'sluice_lcore_busy_loops_total{lcore="%s"} 5\n'
               % (lab, prom_label(HOSTILE_LCORE), prom_label(HOSTILE_LCORE))).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split('?')[0]
            body, ctype, extra = {
                '/': (page, 'text/html; charset=utf-8', {'Content-Security-Policy': csp}),
                '/status.json': (status_doc, 'application/json', {}),
                '/metrics': (metrics, 'text/plain; version=0.0.4', {}),
            }.get(path, (b'no', 'text/plain', {}))
            self.send_response(200 if body != b'no' else 404)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(body)))
            for key, v in extra.items():
                self.send_header(key, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = 'http://127.0.0.1:%d/' % srv.server_address[1]
        dom, err = wait_dom(tmp_path, url,
                            lambda d: ('streams', HOSTILE_STREAM) in d.rows)
        screenshot(tmp_path, url, 'status_page_hostile.png')
    finally:
        srv.shutdown()
        srv.server_close()
    row = dom.rows[('streams', HOSTILE_STREAM)]
    assert row['name'] == HOSTILE_STREAM  # the text, character for character
    assert row['records_in'] == '42'
    assert dom.rows[('consumers', HOSTILE_CONSUMER)]['consumer'] == HOSTILE_CONSUMER
    assert ('lcores', HOSTILE_LCORE) in dom.rows
    assert dom.title == 'sluice status'  # no injected script ran
    # No element came from the data: one script (the page's), no img, no
    # b/i/u/s, nothing with the injected id.
    tags = [t for t, _ in dom.tags]
    assert tags.count('script') == 1
    for bad in ('img', 'b', 'i', 'u', 's', 'x'):
        assert bad not in tags, bad
    assert not any(a.get('id') == 'pwned-lcore' for _, a in dom.tags)
