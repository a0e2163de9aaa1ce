# SPDX-License-Identifier: Apache-2.0
"""deploy/: Debian's prometheus server scraping a real sluiced with the
shipped scrape configuration (deploy/prometheus/prometheus.yml, target and
interval replaced), the stream's IncomingRecords series checked through
Prometheus's HTTP query API after boto3 put N records, every PromQL
expression of the Grafana dashboard (deploy/grafana/sluice.json) evaluated
by that Prometheus, and every metric name the dashboard uses checked against
a live /metrics scrape (so the dashboard cannot drift from the code)."""

import json
import os
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

import sluice_helpers as h
from sluice_helpers import uniq

pytestmark = pytest.mark.kernel_only  # the admin socket is in the server's namespace

PROMETHEUS = '/usr/bin/prometheus'
PROMTOOL = '/usr/bin/promtool'
SCRAPE_CONFIG = os.path.join(h.REPO, 'deploy', 'prometheus', 'prometheus.yml')
DASHBOARD = os.path.join(h.REPO, 'deploy', 'grafana', 'sluice.json')

PROMQL_WORDS = {'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and',
                'or', 'unless', 'offset', 'inf', 'nan'}


def admin_metrics(srv):
    with urllib.request.urlopen('http://%s/metrics' % srv.admin_addr(), timeout=10) as r:
        return r.read().decode()


def sample_names(text):
    return {re.match(r'[a-zA-Z_:][a-zA-Z0-9_:]*', line).group(0)
            for line in text.splitlines() if line and not line.startswith('#')}


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def dashboard_exprs(d):
    """Every PromQL expression of the dashboard's panels (rows' nested
    panels included) and of its query variables."""
    out = []

    def walk(panels):
        for p in panels:
            out.extend(t['expr'] for t in p.get('targets', []))
            walk(p.get('panels', []))
    walk(d['panels'])
    for v in d['templating']['list']:
        if v['type'] == 'query':
            q = v['query']['query'] if isinstance(v['query'], dict) else v['query']
            out.append(q)
    return out


def metric_names(expr):
    """Metric names an expression selects: identifiers outside strings,
    label matchers, ranges and groupings, not called, not keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r'\{[^}]*\}', ' ', e)
    e = re.sub(r'\[[^\]]*\]', ' ', e)
    e = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', ' ', e)
    m = re.match(r'\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)', e)
    if m:
        return {m.group(1)}
    names = set()
    for tok in re.finditer(r'[a-zA-Z_:][a-zA-Z0-9_:]*', e):
        rest = e[tok.end():].lstrip()
        if rest.startswith('(') or tok.group(0).lower() in PROMQL_WORDS:
            continue
        names.add(tok.group(0))
    return names


def runnable(expr):
    """A dashboard expression with Grafana's variables filled in."""
    return (expr.replace('$__rate_interval', '1m').replace('${stream}', '.*')
            .replace('$stream', '.*'))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prom_get(port, path, **params):
    url = 'http://127.0.0.1:%d%s' % (port, path)
    if params:
        url += '?' + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def query(port, expr):
    doc = json.loads(prom_get(port, '/api/v1/query', query=expr))
    assert doc['status'] == 'success', (expr, doc)
    return doc['data']['result']


def test_dashboard_is_grafana_json():
    d = dashboard()
    assert d['uid'] and d['title'] and isinstance(d['schemaVersion'], int)
    ds = [v for v in d['templating']['list'] if v['type'] == 'datasource']
    assert len(ds) == 1 and ds[0]['query'] == 'prometheus'
    ref = '${%s}' % ds[0]['name']
    ids = []
    for p in d['panels']:
        ids.append(p['id'])
        g = p['gridPos']
        assert 0 <= g['x'] and g['x'] + g['w'] <= 24 and g['h'] > 0, p['title']
        if p['type'] == 'row':
            continue
        assert p['datasource'] == {'type': 'prometheus', 'uid': ref}, p['title']
        assert p['targets'], p['title']
        for t in p['targets']:
            assert t['datasource'] == p['datasource'] and t['expr'], p['title']
    assert len(ids) == len(set(ids)), 'panel ids repeat'
    for v in d['templating']['list']:
        if v['type'] == 'query':
            assert v['datasource'] == {'type': 'prometheus', 'uid': ref}
    # What the issue asks the dashboard to show.
    exprs = ' '.join(dashboard_exprs(d))
    for needed in ('sluice_kinesis_incoming_records_total', 'sluice_kinesis_outgoing_bytes_total',
                   'sluice_kinesis_write_provisioned_throughput_exceeded_total',
                   'sluice_kinesis_read_provisioned_throughput_exceeded_total',
                   'histogram_quantile', 'sluice_kinesis_get_records_iterator_age_seconds',
                   'sluice_lcore_busy_loops_total', 'sluice_journal_write_latency_seconds_bucket'):
        assert needed in exprs, needed


def test_dashboard_metrics_exist(server):
    """Every metric name the dashboard's PromQL selects is in a live scrape
    (a stream with traffic, so its histograms have samples)."""
    k = server.client()
    name = uniq('dash')
    h.create_active(k, name, shards=1)
    k.put_record(StreamName=name, Data=b'd', PartitionKey='p')
    k.put_records(StreamName=name, Records=[{'Data': b'e', 'PartitionKey': 'q'}])
    it = k.get_shard_iterator(StreamName=name, ShardId='shardId-000000000000',
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    assert len(k.get_records(ShardIterator=it)['Records']) == 2
    live = sample_names(admin_metrics(server))
    used = set()
    for e in dashboard_exprs(dashboard()):
        used |= metric_names(e)
    assert len(used) >= 20, used  # the parser found the dashboard's names
    missing = sorted(used - live)
    assert not missing, 'the dashboard uses metrics /metrics does not have: %s' % missing


def test_metric_name_parser():
    assert metric_names('sum by (stream) (rate(a_total{stream=~"$stream"}[$__rate_interval]))') \
        == {'a_total'}
    assert metric_names('histogram_quantile(0.99, sum by (le, x) (rate(h_bucket{}[1m])))') \
        == {'h_bucket'}
    assert metric_names('sum(rate(a[1m])) / sum(b) + c') == {'a', 'b', 'c'}
    assert metric_names('label_values(m_total, stream)') == {'m_total'}


def test_shipped_config_is_valid():
    r = subprocess.run([PROMTOOL, 'check', 'config', SCRAPE_CONFIG], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_prometheus_counts_records(server, tmp_path):
    """Prometheus, scraping sluice every second with the shipped
    configuration, says the stream's IncomingRecords is N after N puts; and
    it evaluates every dashboard expression."""
    with open(SCRAPE_CONFIG) as f:
        cfg = f.read()
    assert "targets: ['127.0.0.1:4568']" in cfg and 'scrape_interval: 5s' in cfg
    cfg = (cfg.replace("targets: ['127.0.0.1:4568']", "targets: ['%s']" % server.admin_addr())
           .replace('scrape_interval: 5s', 'scrape_interval: 1s')
           .replace('scrape_timeout: 4s', 'scrape_timeout: 1s'))
    cfg_path = tmp_path / 'prometheus.yml'
    cfg_path.write_text(cfg)
    port = free_port()
    log = open(str(tmp_path / 'prometheus.log'), 'wb')
    proc = subprocess.Popen([PROMETHEUS, '--config.file=' + str(cfg_path),
                             '--storage.tsdb.path=' + str(tmp_path / 'tsdb'),
                             '--web.listen-address=127.0.0.1:%d' % port,
                             '--log.level=warn'],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / 'prometheus.log').read_text()[-3000:]
            try:
                if prom_get(port, '/-/ready'):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, 'prometheus never became ready'
            time.sleep(0.3)

        k = server.client()
        name = uniq('prom')
        h.create_active(k, name, shards=2)
        n = 0
        for i in range(3):
            k.put_record(StreamName=name, Data=b'p' * 10, PartitionKey='k%d' % i)
            n += 1
        recs = [{'Data': b'r' * 20, 'PartitionKey': 'p%d' % j} for j in range(40)]
        assert k.put_records(StreamName=name, Records=recs)['FailedRecordCount'] == 0
        n += len(recs)

        sel = 'sluice_kinesis_incoming_records_total{stream="%s"}' % name
        deadline = time.monotonic() + 60
        while True:
            res = query(port, sel)
            if res and float(res[0]['value'][1]) == n:
                break
            assert time.monotonic() < deadline, 'Prometheus never saw %d: %r' % (n, res)
            time.sleep(0.5)
        assert len(res) == 1 and res[0]['metric']['job'] == 'sluice'
        assert res[0]['metric']['instance'] == server.admin_addr()
        up = query(port, 'up{job="sluice"}')
        assert [float(x['value'][1]) for x in up] == [1.0]

        # Every dashboard expression parses and evaluates in Prometheus; a
        # rate over this stream has a value once two scrapes saw it.
        for e in dashboard_exprs(dashboard()):
            q = runnable(e)
            if q.startswith('label_values('):
                m = re.match(r'label_values\((\w+),\s*(\w+)\)', q)
                vals = json.loads(prom_get(port, '/api/v1/label/%s/values' % m.group(2),
                                           **{'match[]': m.group(1)}))
                assert vals['status'] == 'success' and name in vals['data'], vals
            else:
                query(port, q)
        # The ingest panel's expression has a series for the stream once
        # two scrapes saw it (one a second: bounded wait).
        ingest = [e for e in dashboard_exprs(dashboard())
                  if 'rate(sluice_kinesis_incoming_records_total' in e][0]
        deadline = time.monotonic() + 30
        while True:
            res = [x for x in query(port, runnable(ingest)) if x['metric'].get('stream') == name]
            if res:
                break
            assert time.monotonic() < deadline, 'no ingest rate series for %s' % name
            time.sleep(0.5)
        assert float(res[0]['value'][1]) >= 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
