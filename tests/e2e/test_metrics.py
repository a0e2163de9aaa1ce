# SPDX-License-Identifier: Apache-2.0
"""The admin listener (--admin-listen): /metrics in Prometheus's text format
and OpenMetrics, /healthz, /readyz, the bearer token and TLS; the stream
families under CloudWatch's Kinesis names checked against what real boto3
calls did; --version and --log-format json.

The exposition is parsed by a small parser here (the text format's grammar:
'# HELP', '# TYPE', 'name{label="value",...} value'), written from the
format's description, not from sluice's writer."""

import http.client
import json
import os
import re
import ssl
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

import sluice_helpers as h
from sluice_helpers import uniq

pytestmark = pytest.mark.kernel_only  # the admin socket is in the server's namespace

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == '\\' and i + 1 < len(v):
            out.append({'n': '\n', '\\': '\\', '"': '"'}[v[i + 1]])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return ''.join(out)


def parse(text):
    """{(name, frozenset(labels.items())): value}, and {family: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith('# TYPE '):
            _, _, fam, typ = line.split(' ', 3)
            types[fam] = typ
            continue
        if line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        assert m, 'not a sample line: %r' % line
        labels = {k: unescape(v) for k, v in LABEL.findall(m.group(3) or '')}
        key = (m.group(1), frozenset(labels.items()))
        assert key not in samples, 'duplicate sample %r' % line
        samples[key] = float(m.group(4))
    return samples, types


def get(srv, path, headers=None, tls_ctx=None, timeout=10):
    host, _, port = srv.admin_addr().rpartition(':')
    if tls_ctx is not None:
        c = http.client.HTTPSConnection(host, int(port), context=tls_ctx, timeout=timeout)
    else:
        c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.request('GET', path, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def scrape(srv, **kw):
    status, hdrs, body = get(srv, '/metrics', **kw)
    assert status == 200, (status, body[:200])
    return parse(body.decode())[0]


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_healthz_readyz(server):
    assert get(server, '/healthz')[0:3:2] == (200, b'ok\n')
    status, _, body = get(server, '/readyz')
    assert status == 200, body


def test_put_records_counted(server):
    k = server.client()
    name = uniq('mx.a-b_c')  # '.', '-' and '_' pass through the label unchanged
    h.create_active(k, name, shards=2)
    before = scrape(server)
    n, data_bytes = 0, 0
    for i in range(7):
        d = os.urandom(10 + i)
        k.put_record(StreamName=name, Data=d, PartitionKey='k%d' % i)
        n += 1
        data_bytes += len(d)
    recs = [{'Data': os.urandom(100 + j), 'PartitionKey': 'p%d' % j} for j in range(25)]
    r = k.put_records(StreamName=name, Records=recs)
    assert r['FailedRecordCount'] == 0
    n += len(recs)
    data_bytes += sum(len(x['Data']) for x in recs)
    after = scrape(server)

    def delta(metric):
        return val(after, metric, stream=name) - val(before, metric, stream=name)
    assert delta('sluice_kinesis_incoming_records_total') == n
    assert delta('sluice_kinesis_incoming_bytes_total') == data_bytes
    assert delta('sluice_kinesis_put_record_success_total') == 7
    assert delta('sluice_kinesis_put_records_successful_records_total') == 25
    assert delta('sluice_kinesis_put_records_total_records_total') == 25
    assert delta('sluice_kinesis_put_records_success_total') == 1
    assert delta('sluice_kinesis_put_records_failed_records_total') == 0
    assert delta('sluice_kinesis_put_records_throttled_records_total') == 0
    assert delta('sluice_kinesis_put_records_bytes_total') == sum(len(x['Data']) for x in recs)
