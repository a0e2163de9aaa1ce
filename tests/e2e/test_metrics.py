# SPDX-License-Identifier: Apache-2.0
"""The admin listener (--admin-listen): /metrics in Prometheus's text format
and OpenMetrics, /healthz, /readyz, the bearer token and TLS; the stream
families under CloudWatch's Kinesis names checked against what real boto3
calls did; --version and --log-format json.

The exposition is parsed by a small parser here (the text format's grammar:
'# HELP', '# TYPE', 'name{label="value",...} value'), written from the
format's description, not from sluice's writer."""

import hashlib
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


def wait_scrape(srv, pred, timeout_s=10.0):
    """Scrapes until pred(samples) holds (answers are counted when they are
    sent, which the client sees first)."""
    deadline = time.monotonic() + timeout_s
    while True:
        s = scrape(srv)
        if pred(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.05)


def test_throttled_records_and_get_records(server_factory):
    # 5 records/s per shard: a PutRecords of 40 gets at most the bucket's
    # second of burst (5) and a few refilled meanwhile; the rest throttled.
    srv = server_factory(extra_args=[
        '--quota-mode', 'custom', '--quota-in-records', '5', '--quota-in-bytes', '1048576',
        '--quota-out-bytes', '2097152', '--quota-get-calls', '1000', '--quota-iter-calls', '1000'])
    k = srv.client()
    name = uniq('mxq')
    h.create_active(k, name, shards=1)
    before = scrape(srv)
    recs = [{'Data': b'x' * 50, 'PartitionKey': 'p%d' % j} for j in range(40)]
    r = k.put_records(StreamName=name, Records=recs)
    ok = [e for e in r['Records'] if 'SequenceNumber' in e]
    thr = [e for e in r['Records'] if e.get('ErrorCode') == 'ProvisionedThroughputExceededException']
    assert ok and thr and len(ok) + len(thr) == 40, r['Records'][:3]
    it = k.get_shard_iterator(StreamName=name, ShardId='shardId-000000000000',
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    got, calls = 0, 0
    while calls < 20:
        g = k.get_records(ShardIterator=it, Limit=10)
        calls += 1
        got += len(g['Records'])
        it = g['NextShardIterator']
        if got == len(ok):
            break
    assert got == len(ok)
    after = wait_scrape(srv, lambda s: val(s, 'sluice_kinesis_get_records_latency_seconds_count',
                                           stream=name) >= calls)

    def delta(metric, **kw):
        return val(after, metric, stream=name, **kw) - val(before, metric, stream=name, **kw)
    assert delta('sluice_kinesis_put_records_total_records_total') == 40
    assert delta('sluice_kinesis_put_records_successful_records_total') == len(ok)
    assert delta('sluice_kinesis_put_records_throttled_records_total') == len(thr)
    assert delta('sluice_kinesis_write_provisioned_throughput_exceeded_total') == len(thr)
    assert delta('sluice_kinesis_put_records_failed_records_total') == 0
    assert delta('sluice_kinesis_incoming_records_total') == len(ok)
    assert delta('sluice_kinesis_incoming_bytes_total') == 50 * len(ok)
    assert delta('sluice_kinesis_get_shard_iterator_success_total') == 1
    assert delta('sluice_kinesis_get_records_success_total') == calls
    assert delta('sluice_kinesis_get_records_records_total') == len(ok)
    assert delta('sluice_kinesis_outgoing_records_total') == len(ok)
    assert delta('sluice_kinesis_get_records_bytes_total') == 50 * len(ok)
    assert delta('sluice_kinesis_outgoing_bytes_total') == 50 * len(ok)
    # Latency histograms: buckets cumulative (monotone in le), +Inf == _count.
    for fam, n in (('sluice_kinesis_get_records_latency_seconds', calls),
                   ('sluice_kinesis_put_records_latency_seconds', 1)):
        buckets = sorted(
            (float(dict(lbl)['le']), v) for (nm, lbl), v in after.items()
            if nm == fam + '_bucket' and dict(lbl)['stream'] == name)
        assert len(buckets) >= 10 and buckets[-1][0] == float('inf')
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), counts
        assert counts[-1] == val(after, fam + '_count', stream=name) == n
        assert val(after, fam + '_sum', stream=name) > 0


def test_read_throttled(server_factory):
    srv = server_factory(extra_args=[
        '--quota-mode', 'custom', '--quota-in-records', '1000', '--quota-in-bytes', '1048576',
        '--quota-out-bytes', '2097152', '--quota-get-calls', '1', '--quota-iter-calls', '1000'])
    k = srv.client()
    name = uniq('mxr')
    h.create_active(k, name, shards=1)
    it = k.get_shard_iterator(StreamName=name, ShardId='shardId-000000000000',
                              ShardIteratorType='LATEST')['ShardIterator']
    throttled = 0
    for _ in range(4):  # 1 call/s with one second of burst: most of 4 are refused
        try:
            k.get_records(ShardIterator=it)
        except ClientError as e:
            assert e.response['Error']['Code'] == 'ProvisionedThroughputExceededException'
            throttled += 1
    assert throttled >= 1
    s = wait_scrape(srv, lambda s: val(
        s, 'sluice_kinesis_read_provisioned_throughput_exceeded_total', stream=name) >= throttled)
    assert val(s, 'sluice_kinesis_read_provisioned_throughput_exceeded_total',
               stream=name) == throttled


def shard_series(samples, name):
    return {(nm, dict(lbl)['shard']): v for (nm, lbl), v in samples.items()
            if nm.startswith('sluice_kinesis_shard_') and dict(lbl).get('stream') == name}


def test_enhanced_monitoring_shard_series(server):
    k = server.client()
    name = uniq('mxe')
    h.create_active(k, name, shards=3)
    assert shard_series(scrape(server), name) == {}
    k.enable_enhanced_monitoring(StreamName=name,
                                 ShardLevelMetrics=['IncomingRecords', 'IteratorAgeMilliseconds'])
    n = 30
    k.put_records(StreamName=name, Records=[
        {'Data': b'd', 'PartitionKey': 'key-%d' % i} for i in range(n)])
    s = shard_series(scrape(server), name)
    shards = {'shardId-%012d' % i for i in range(3)}
    # Exactly the metrics turned on, for every shard of the stream.
    assert set(s) == ({('sluice_kinesis_shard_incoming_records_total', x) for x in shards} |
                      {('sluice_kinesis_shard_iterator_age_seconds', x) for x in shards})
    assert sum(v for (nm, _), v in s.items() if nm.endswith('incoming_records_total')) == n
    # Each shard's count is what ListShards' ranges say it got.
    ranges = [(int(x['HashKeyRange']['StartingHashKey']), int(x['HashKeyRange']['EndingHashKey']),
               x['ShardId']) for x in k.list_shards(StreamName=name)['Shards']]
    want = {}
    for i in range(n):
        hk = int.from_bytes(hashlib.md5(('key-%d' % i).encode()).digest(), 'big')
        sid = next(sid for lo, hi, sid in ranges if lo <= hk <= hi)
        want[sid] = want.get(sid, 0) + 1
    for sid in shards:
        assert s[('sluice_kinesis_shard_incoming_records_total', sid)] == want.get(sid, 0)
    k.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=['IteratorAgeMilliseconds'])
    s = shard_series(scrape(server), name)
    assert {nm for nm, _ in s} == {'sluice_kinesis_shard_incoming_records_total'}
    k.disable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=['ALL'])
    assert shard_series(scrape(server), name) == {}


def test_deleted_stream_series_disappear(server):
    k = server.client()
    name = uniq('mxd')
    h.create_active(k, name, shards=1)
    k.put_record(StreamName=name, Data=b'abc', PartitionKey='p')
    assert val(scrape(server), 'sluice_kinesis_incoming_records_total', stream=name) == 1
    k.delete_stream(StreamName=name)
    h.wait_gone(k, name)
    s = scrape(server)
    assert not [key for key in s if dict(key[1]).get('stream') == name]
    # Re-created under the same name: it starts from zero (a new stream id).
    h.create_active(k, name, shards=1)
    s = scrape(server)
    assert val(s, 'sluice_kinesis_incoming_records_total', stream=name) == 0
    assert ('sluice_kinesis_incoming_records_total', frozenset({'stream': name}.items())) in s


def test_openmetrics_and_text_format(server):
    status, hdrs, body = get(server, '/metrics',
                             headers={'Accept': 'application/openmetrics-text; version=1.0.0'})
    assert status == 200
    assert hdrs['content-type'].startswith('application/openmetrics-text; version=1.0.0')
    text = body.decode()
    assert text.endswith('# EOF\n')
    assert '# TYPE sluice_kinesis_incoming_records counter\n' in text
    status, hdrs, body = get(server, '/metrics')
    assert hdrs['content-type'] == 'text/plain; version=0.0.4; charset=utf-8'
    text = body.decode()
    assert '# EOF' not in text
    assert '# TYPE sluice_kinesis_incoming_records_total counter\n' in text
    parse(text)


def test_promtool_accepts_the_exposition(server):
    promtool = '/usr/bin/promtool'
    if not os.path.exists(promtool):
        pytest.skip('promtool (Debian prometheus) is not installed')
    k = server.client()
    name = uniq('mxp')
    h.create_active(k, name, shards=1)
    k.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=['ALL'])
    k.put_record(StreamName=name, Data=b'abc', PartitionKey='p')
    _, _, body = get(server, '/metrics')
    r = subprocess.run([promtool, 'check', 'metrics'], input=body, capture_output=True,
                       timeout=60)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()[:2000]


def test_readyz_503_when_the_disk_is_full(server_factory, tmp_path):
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    mnt = tmp_path / 'small'
    mnt.mkdir()
    rc = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', str(mnt)],
                        capture_output=True)
    if rc.returncode != 0:
        pytest.skip('cannot mount a tmpfs here: %s' % rc.stderr.decode().strip())
    try:
        srv = server_factory(data_dir=str(mnt / 'data'), extra_args=['--segment-mib', '16'])
        assert get(srv, '/readyz')[0] == 200
        filler = str(mnt / 'filler')
        with open(filler, 'wb') as f:
            try:
                while True:
                    f.write(b'\0' * (1 << 20))
                    f.flush()
            except OSError:
                pass
        # The probe runs at most once a second.
        deadline = time.monotonic() + 10
        while True:
            status, _, body = get(srv, '/readyz')
            if status == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 503, body
        assert b'not writable' in body and b'No space left on device' in body, body
        assert get(srv, '/healthz')[0] == 200  # alive, just not ready
        os.unlink(filler)
        deadline = time.monotonic() + 10
        while get(srv, '/readyz')[0] != 200:
            assert time.monotonic() < deadline, 'never ready again'
            time.sleep(0.2)
        srv.stop()
    finally:
        subprocess.run(['umount', '-l', str(mnt)], capture_output=True)


def test_bearer_token(server_factory, tmp_path):
    tok = tmp_path / 'admin.token'
    tok.write_text('s3cret-token-value\n')
    os.chmod(str(tok), 0o644)
    srv = server_factory(extra_args=['--admin-token-file', str(tok)], start=False)
    with pytest.raises(AssertionError):
        srv.start(timeout_s=5)  # a token file others can read is refused
    assert 'must be a regular file of mode 0600' in srv.log_tail()
    os.chmod(str(tok), 0o600)
    srv.start()
    assert get(srv, '/metrics')[0] == 401
    status, hdrs, _ = get(srv, '/metrics', headers={'Authorization': 'Bearer wrong'})
    assert status == 401 and hdrs['www-authenticate'].startswith('Bearer')
    assert get(srv, '/metrics', headers={'Authorization': 'Bearer s3cret-token-value'})[0] == 200
    assert get(srv, '/', headers={'Authorization': 'Bearer s3cret-token-value'})[0] == 200
    assert get(srv, '/')[0] == 401
    assert get(srv, '/healthz')[0] == 200  # probes carry no secret
    assert get(srv, '/readyz')[0] == 200
    assert 's3cret-token-value' not in open(srv.log_path).read()


def test_admin_tls(server_factory):
    srv = server_factory(extra_args=['--admin-tls'])
    ctx = ssl.create_default_context(cafile=srv.ca)
    status, _, body = get(srv, '/healthz', tls_ctx=ctx)
    assert (status, body) == (200, b'ok\n')
    status, _, body = get(srv, '/metrics', tls_ctx=ctx)
    assert status == 200 and b'sluice_build_info' in body
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        get(srv, '/healthz', timeout=3)  # plaintext is not spoken there


def test_admin_off_and_version(server_factory):
    srv = server_factory(extra_args=['--admin-listen', 'off'])
    assert not os.path.exists(srv.admin_file)
    r = subprocess.run([srv.binary, '--version'], capture_output=True, timeout=30)
    assert r.returncode == 0
    assert re.match(rb'^sluiced \d+\.\d+\.\d+( \(\S+\))?\n$', r.stdout), r.stdout


def test_log_format_json(server_factory):
    srv = server_factory(extra_args=['--log-format', 'json'])
    k = srv.client()
    h.create_active(k, uniq('mxj'), shards=1)
    srv.stop()
    lines = [ln for ln in open(srv.log_path).read().splitlines()
             if ln and not ln.startswith('===') and not ln.startswith('EAL:')]
    assert len(lines) >= 3
    for ln in lines:
        o = json.loads(ln)
        assert set(o) == {'ts', 'level', 'thread', 'msg'}, o
        assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', o['ts'])
        assert o['level'] in ('err', 'warn', 'info', 'debug')
    assert any('sluiced serving' in json.loads(ln)['msg'] for ln in lines)


def test_subscribe_to_shard_families(server):
    k = server.client()
    name = uniq('mxs')
    h.create_active(k, name, shards=1)
    sarn = k.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
    carn = k.register_stream_consumer(StreamARN=sarn, ConsumerName=uniq('c'))[
        'Consumer']['ConsumerARN']
    deadline = time.monotonic() + 10
    while k.describe_stream_consumer(ConsumerARN=carn)['ConsumerDescription'][
            'ConsumerStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline
        time.sleep(0.1)
    datas = [os.urandom(20 + i) for i in range(5)]
    for i, d in enumerate(datas):
        k.put_record(StreamName=name, Data=d, PartitionKey='p%d' % i)
    before = scrape(server)
    body = json.dumps({'ConsumerARN': carn, 'ShardId': 'shardId-000000000000',
                       'StartingPosition': {'Type': 'TRIM_HORIZON'}}).encode()

    def subscribe(timeout_s, stop_at_headers=False):
        return h.h2_exchange(server, h.h2_headers(server, 'SubscribeToShard', body), body,
                             stop_at_headers=stop_at_headers, timeout_s=timeout_s)
    t, out = h.in_thread(subscribe, 3.0)
    try:
        time.sleep(1.0)
        st, _, data = subscribe(3.0)  # the same consumer and shard: refused
        assert st == 400 and b'ResourceInUseException' in data, (st, data[:200])
    finally:
        t.join(10)
    assert out.get('value') and out['value'][0] == 200, out
    after = wait_scrape(server, lambda s: val(
        s, 'sluice_kinesis_subscribe_to_shard_event_records_total', stream=name) >= 5)

    def delta(metric):
        return val(after, metric, stream=name) - val(before, metric, stream=name)
    assert delta('sluice_kinesis_subscribe_to_shard_success_total') == 1
    assert delta('sluice_kinesis_subscribe_to_shard_rate_exceeded_total') == 1
    assert delta('sluice_kinesis_subscribe_to_shard_event_records_total') == 5
    assert delta('sluice_kinesis_subscribe_to_shard_event_bytes_total') == sum(map(len, datas))
    assert delta('sluice_kinesis_subscribe_to_shard_event_success_total') >= 1
    k.deregister_stream_consumer(ConsumerARN=carn)


def test_admin_client_certificates(server_factory, tmp_path):
    import security_helpers as sec
    d = str(tmp_path)
    ca = sec.make_ca(d, 'adminca')
    cli = sec.make_cert(d, 'scraper', ca, client=True)
    other = sec.make_cert(d, 'stranger', sec.make_ca(d, 'otherca'), client=True)
    srv = server_factory(extra_args=['--admin-tls', '--admin-client-ca', ca[0]])
    ctx = ssl.create_default_context(cafile=srv.ca)
    ctx.load_cert_chain(*cli)
    assert get(srv, '/metrics', tls_ctx=ctx)[0] == 200
    for chain in (None, other):
        bad = ssl.create_default_context(cafile=srv.ca)
        if chain:
            bad.load_cert_chain(*chain)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError,
                            http.client.HTTPException)):
            get(srv, '/metrics', tls_ctx=bad, timeout=5)


def test_request_tls_and_sigv4_families(server):
    before = scrape(server)
    k = server.client()
    k.list_streams()
    bad = server.client(secret='not-the-secret')
    with pytest.raises(ClientError) as ei:
        bad.list_streams()
    err = ei.value.response['Error']['Code']
    after = wait_scrape(server, lambda s: val(
        s, 'sluice_http_responses_total', operation='ListStreams', status='200') >
        val(before, 'sluice_http_responses_total', operation='ListStreams', status='200'))

    def delta(metric, **labels):
        return val(after, metric, **labels) - val(before, metric, **labels)
    assert delta('sluice_http_responses_total', operation='ListStreams', status='200') >= 1
    assert delta('sluice_sigv4_failures_total', type=err) == 1, err
    assert delta('sluice_tls_handshakes_total', version='TLSv1.3', result='ok') + delta(
        'sluice_tls_handshakes_total', version='TLSv1.2', result='ok') >= 2
    assert delta('sluice_control_operations_total', operation='ListStreams') >= 1
    # The appliance's own families are there, per lcore.
    for fam in ('sluice_lcore_loops_total', 'sluice_log_lcore_loops_total',
                'sluice_connections_accepted_total', 'sluice_journal_writes_total',
                'sluice_journal_segments', 'sluice_journal_damaged_ranges_total'):
        assert any(nm == fam for nm, _ in after), fam
    assert val(after, 'process_resident_memory_bytes') > 0
    assert val(after, 'process_open_fds') > 0


def test_journal_commit_wait(server):
    """Group commit (storage/README.md): every data write's commit wait (first
    append into it to its submission) is in sluice_journal_commit_wait_seconds;
    the idle markers that follow hold no record and are not. Each PUT's time on
    the log lcore (queue, to durable) is in sluice_log_put_*_seconds."""
    k = server.client()
    name = uniq('cw')
    h.create_active(k, name, shards=1)
    lc = {'lcore': 'log0'}
    before = scrape(server)
    for i in range(3):
        k.put_record(StreamName=name, Data=b'x%d' % i, PartitionKey='p')
    cw = 'sluice_journal_commit_wait_seconds'
    after = wait_scrape(server, lambda s: val(s, cw + '_count', **lc) >=
                        val(before, cw + '_count', **lc) + 3)
    n = val(after, cw + '_count', **lc) - val(before, cw + '_count', **lc)
    writes = val(after, 'sluice_journal_writes_total', **lc) - val(
        before, 'sluice_journal_writes_total', **lc)
    markers = val(after, 'sluice_journal_marker_writes_total', **lc) - val(
        before, 'sluice_journal_marker_writes_total', **lc)
    assert n >= 3  # one write per acknowledged PutRecord, at least
    assert n == writes - markers
    assert val(after, cw + '_bucket', le='+Inf', **lc) == val(after, cw + '_count', **lc)
    assert val(after, cw + '_sum', **lc) >= 0
    # The log lcore's side of each PUT: taken off the ring, then answered
    # durable (one message per PutRecord here: one shard, one log lcore).
    for fam in ('sluice_log_put_queue_seconds', 'sluice_log_put_durable_seconds'):
        assert val(after, fam + '_count', **lc) - val(before, fam + '_count', **lc) >= 3, fam
    assert val(after, 'sluice_log_put_durable_seconds_sum', **lc) >= val(
        after, 'sluice_log_put_queue_seconds_sum', **lc)


def test_metrics_off(server_factory):
    srv = server_factory(extra_args=['--metrics', 'off'])
    k = srv.client()
    h.create_active(k, uniq('mxo'), shards=1)
    s = scrape(srv)
    assert not [nm for nm, _ in s if nm.startswith('sluice_kinesis_')]
    assert val(s, 'sluice_lcore_loops_total', lcore='io0') > 0  # heartbeats stay
    assert get(srv, '/readyz')[0] == 200
