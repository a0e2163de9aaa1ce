# SPDX-License-Identifier: Apache-2.0
"""Security features end to end: access policies per credential
(AccessDeniedException with AWS's wording), the audit log (fields, mode,
no secrets or record data, rotation), TLS certificate reload on SIGHUP,
mutual TLS, and a TLS scan with sslscan."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import security_helpers as sec
import sluice_helpers as h
from security_helpers import policy, stmt

PORT_RE = r'127\.0\.0\.1:\d{1,5}'

# --- access policies ---------------------------------------------------------

READ_ONLY = sec.Principal('reader', policy(stmt(
    'Allow', ['kinesis:Describe*', 'kinesis:list*', 'kinesis:Get*'], '*')))
WRITE_ONLY = sec.Principal('writer', policy(stmt(
    'Allow', ['kinesis:PutRecord', 'kinesis:PutRecords'], '*')))
ORDERS_ONLY = sec.Principal('orders', policy(stmt(
    'Allow', 'kinesis:*', 'arn:aws:kinesis:*:*:stream/orders-*')), absolute=True)
DENY_PAYMENTS = sec.Principal('nopay', policy(
    stmt('Allow', 'kinesis:*', '*'),
    stmt('Deny', ['kinesis:PutRecord', 'kinesis:PutRecords'],
         ['arn:aws:kinesis:*:*:stream/payments'])))
NO_POLICY = sec.Principal('full')
DENY_SECRET = sec.Principal('nosecret', policy(
    stmt('Allow', 'kinesis:*', '*'),
    stmt('Deny', 'kinesis:*', ['arn:aws:kinesis:us-east-1:%s:stream/secret*' % h.ACCOUNT])))
PRINCIPALS = [READ_ONLY, WRITE_ONLY, ORDERS_ONLY, DENY_PAYMENTS, NO_POLICY, DENY_SECRET]


@pytest.fixture(scope='module')
def pol(module_server_factory, tmp_path_factory):
    """A server whose credentials file carries the principals above, with
    streams orders-1 and payments (one shard each, one record each)."""
    srv = module_server_factory()
    srv.stop()
    sec.add_principals(srv, PRINCIPALS, policy_dir=str(tmp_path_factory.mktemp('policies')))
    srv.start()
    admin = srv.client()
    for name in ('orders-1', 'payments'):
        h.create_active(admin, name)
        admin.put_record(StreamName=name, Data=b'seed', PartitionKey='k')
    return srv


def denied(fn, key_id, action, resource, explicit=False, **kw):
    code, msg, status = sec.client_error(fn, **kw)
    assert (code, status) == ('AccessDeniedException', 400), (code, msg, status)
    assert msg == sec.denied_message(key_id, action, resource, explicit), msg


def denied_raw(srv, p, action, resource, payload, explicit=False):
    st, hd, body = srv.call(action, payload, key_id=p.key_id, secret=p.secret)
    h.assert_error(st, hd, body, 'AccessDeniedException',
                   sec.denied_message(p.key_id, action, resource, explicit))


def iterator(client, name):
    return client.get_shard_iterator(StreamName=name, ShardId=h.shard_id(0),
                                     ShardIteratorType='TRIM_HORIZON')['ShardIterator']


@pytest.mark.smoke
def test_policy_read_only(pol):
    admin, c, key = pol.client(), READ_ONLY.client(pol), READ_ONLY.key_id
    assert 'orders-1' in c.list_streams()['StreamNames']
    assert c.describe_stream(StreamName='orders-1')['StreamDescription']['StreamStatus'] \
        == 'ACTIVE'
    c.describe_stream_summary(StreamName='payments')
    assert len(c.list_shards(StreamName='payments')['Shards']) == 1
    recs = c.get_records(ShardIterator=iterator(c, 'payments'))['Records']
    assert [r['Data'] for r in recs] == [b'seed']

    arn = sec.stream_arn('orders-1')
    denied(c.put_record, key, 'PutRecord', arn, StreamName='orders-1', Data=b'x',
           PartitionKey='k')
    denied(c.put_records, key, 'PutRecords', arn, StreamName='orders-1',
           Records=[{'Data': b'x', 'PartitionKey': 'k'}])
    # By ARN (this botocore predates StreamARN, so a raw request).
    denied_raw(pol, READ_ONLY, 'PutRecord', arn,
               {'StreamARN': arn, 'Data': 'eA==', 'PartitionKey': 'k'})
    denied(c.create_stream, key, 'CreateStream', sec.stream_arn('ro-new'),
           StreamName='ro-new', ShardCount=1)
    denied(c.delete_stream, key, 'DeleteStream', arn, StreamName='orders-1')
    # The AWS CLI with the profile from the credentials file sees the same.
    rc, out, err = pol.aws('kinesis', 'put-record', '--profile', READ_ONLY.name,
                           '--stream-name', 'orders-1', '--data', 'eA==',
                           '--partition-key', 'k')
    assert rc != 0 and 'AccessDeniedException' in err, (rc, out, err)
    assert sec.denied_message(key, 'PutRecord', arn) in err, err
    rc, out, err = pol.aws('kinesis', 'list-streams', '--profile', READ_ONLY.name)
    assert rc == 0 and 'orders-1' in out['StreamNames'], (rc, out, err)
    # Denied calls had no effect.
    h.wait_status(admin, 'orders-1', 'ACTIVE', 1.0)
    assert 'ro-new' not in admin.list_streams()['StreamNames']
    recs = admin.get_records(ShardIterator=iterator(admin, 'orders-1'))['Records']
    assert [r['Data'] for r in recs] == [b'seed']


def test_policy_write_only(pol):
    admin, c, key = pol.client(), WRITE_ONLY.client(pol), WRITE_ONLY.key_id
    r = c.put_records(StreamName='payments', Records=[
        {'Data': b'w-%d' % i, 'PartitionKey': 'k'} for i in range(3)])
    assert r['FailedRecordCount'] == 0, r
    c.put_record(StreamName='payments', Data=b'w-3', PartitionKey='k')
    arn = sec.stream_arn('payments')
    denied(c.get_shard_iterator, key, 'GetShardIterator', arn, StreamName='payments',
           ShardId=h.shard_id(0), ShardIteratorType='TRIM_HORIZON')
    it = iterator(admin, 'payments')
    denied(c.get_records, key, 'GetRecords', arn, ShardIterator=it)
    denied(c.list_streams, key, 'ListStreams', '*')
    denied(c.describe_stream_summary, key, 'DescribeStreamSummary', arn,
           StreamName='payments')
    # The writes landed; the admin (no policy) reads them.
    data = [x['Data'] for x in admin.get_records(ShardIterator=it)['Records']]
    assert data[-4:] == [b'w-0', b'w-1', b'w-2', b'w-3'], data


def test_policy_per_stream(pol):
    admin, c, key = pol.client(), ORDERS_ONLY.client(pol), ORDERS_ONLY.key_id
    c.put_record(StreamName='orders-1', Data=b'o', PartitionKey='k')
    c.put_records(StreamName='orders-1', Records=[{'Data': b'o2', 'PartitionKey': 'k'}])
    recs = c.get_records(ShardIterator=iterator(c, 'orders-1'))['Records']
    assert recs[-2:] and [r['Data'] for r in recs[-2:]] == [b'o', b'o2']
    pay = sec.stream_arn('payments')
    # The ARN checked is the server's own (region us-east-1), whatever region
    # the client's StreamARN names.
    denied_raw(pol, ORDERS_ONLY, 'PutRecords', pay,
               {'StreamARN': sec.stream_arn('payments', 'eu-west-1'),
                'Records': [{'Data': 'eA==', 'PartitionKey': 'k'}]})
    denied(c.put_record, key, 'PutRecord', pay, StreamName='payments', Data=b'x',
           PartitionKey='k')
    denied_raw(pol, ORDERS_ONLY, 'PutRecords', pay,
               {'StreamARN': pay, 'Records': [{'Data': 'eA==', 'PartitionKey': 'k'}]})
    denied(c.describe_stream, key, 'DescribeStream', pay, StreamName='payments')
    denied(c.list_streams, key, 'ListStreams', '*')
    denied(c.create_stream, key, 'CreateStream', sec.stream_arn('other-1'),
           StreamName='other-1', ShardCount=1)
    # It may create (and delete) streams that match its pattern.
    h.create_active(c, 'orders-2')
    c.delete_stream(StreamName='orders-2')
    h.wait_gone(admin, 'orders-2')
    # An iterator the admin obtained for payments does not let it read payments.
    denied(c.get_records, key, 'GetRecords', pay, ShardIterator=iterator(admin, 'payments'))


def test_consumer_arn_names_its_stream(pol):
    """Issue 11: a credential allowed only on stream/orders-* described,
    deregistered and read (SubscribeToShard) another stream's consumer by
    sending an allowed StreamARN beside that consumer's ConsumerARN."""
    admin, c, key = pol.client(), ORDERS_ONLY.client(pol), ORDERS_ONLY.key_id
    pay, orders = sec.stream_arn('payments'), sec.stream_arn('orders-1')
    carn = admin.register_stream_consumer(StreamARN=pay, ConsumerName=h.uniq('pc'))[
        'Consumer']['ConsumerARN']
    cname = carn.split('/consumer/')[1].split(':')[0]
    deadline = time.monotonic() + 10
    while admin.describe_stream_consumer(ConsumerARN=carn)['ConsumerDescription'][
            'ConsumerStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline
        time.sleep(0.1)
    mismatch = 'StreamARN %s and ConsumerARN %s do not match.' % (orders, carn)
    for op, kw in [(c.describe_stream_consumer, {}), (c.deregister_stream_consumer, {})]:
        code, msg, status = sec.client_error(op, StreamARN=orders, ConsumerARN=carn, **kw)
        assert (code, msg, status) == ('InvalidArgumentException', mismatch, 400), msg
    st, hd, body = pol.call('DescribeStreamConsumer', {'StreamName': 'orders-1',
                                                       'ConsumerARN': carn},
                            key_id=key, secret=ORDERS_ONLY.secret)
    h.assert_error(st, hd, body, 'InvalidArgumentException',
                   'StreamName orders-1 and ConsumerARN %s do not match.' % carn)
    # Alone, the ConsumerARN is authorised as the consumer it names.
    denied(c.describe_stream_consumer, key, 'DescribeStreamConsumer', carn, ConsumerARN=carn)
    denied(c.deregister_stream_consumer, key, 'DeregisterStreamConsumer', carn,
           ConsumerARN=carn)
    # SubscribeToShard (HTTP/2), with and without the decoy StreamARN.
    for extra, type_, want in [
            ({'StreamARN': orders}, 'InvalidArgumentException', mismatch),
            ({}, 'AccessDeniedException',
             sec.denied_message(key, 'SubscribeToShard', carn))]:
        body = json.dumps(dict({'ConsumerARN': carn, 'ShardId': h.shard_id(0),
                                'StartingPosition': {'Type': 'TRIM_HORIZON'}},
                               **extra)).encode()
        hdrs = h.h2_headers(pol, 'SubscribeToShard', body, key_id=key,
                            secret=ORDERS_ONLY.secret)
        st, _, data = h.h2_exchange(pol, hdrs, body, stop_at_headers=False, timeout_s=3)
        assert st == 400, (st, data[:300])
        assert json.loads(data) == {'__type': type_, 'message': want}, data
    # The consumer is still there, and the audit line names its stream.
    assert admin.describe_stream_consumer(ConsumerARN=carn)['ConsumerDescription'][
        'ConsumerName'] == cname
    wait_audit(pol, lambda x: x.get('principal') == key and x.get('operation') ==
               'DeregisterStreamConsumer' and x.get('stream') == 'payments' and
               x.get('result') == 'AccessDeniedException', 'denied deregister')
    admin.deregister_stream_consumer(ConsumerARN=carn)


def test_region_does_not_steer_deny(pol):
    """Issue 11: a Deny on arn:aws:kinesis:us-east-1:...:stream/secret* was
    bypassed by signing for us-west-2 (DeleteStream deleted the stream)."""
    admin, key, secret = pol.client(), DENY_SECRET.key_id, DENY_SECRET.secret
    name = h.uniq('secret')
    h.create_active(admin, name)
    region_msg = "Credential should be scoped to a valid region, not 'us-west-2'. "
    st, hd, body = pol.call('DeleteStream', {'StreamName': name}, key_id=key, secret=secret,
                            region='us-west-2')
    h.assert_error(st, hd, body, 'InvalidSignatureException', region_msg)
    # The AWS CLI with --region us-west-2 gets the same answer.
    env_cmd = ['kinesis', 'delete-stream', '--stream-name', name, '--profile', 'nosecret']
    rc, _, err = pol.aws(*env_cmd, region='us-west-2')
    assert rc != 0 and 'InvalidSignatureException' in err and region_msg.strip() in err, err
    # A StreamARN naming another region is checked as the server's ARN.
    arn = sec.stream_arn(name)
    denied_raw(pol, DENY_SECRET, 'DeleteStream', arn,
               {'StreamARN': sec.stream_arn(name, 'us-west-2')}, explicit=True)
    denied(DENY_SECRET.client(pol).delete_stream, key, 'DeleteStream', arn, explicit=True,
           StreamName=name)
    time.sleep(0.5)
    assert admin.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'][
        'StreamStatus'] == 'ACTIVE'
    # The normal client in us-east-1 still works for what the policy allows.
    assert 'StreamNames' in DENY_SECRET.client(pol).list_streams()
    admin.delete_stream(StreamName=name)


def records(client, name):
    return [r['Data'] for r in client.get_records(ShardIterator=iterator(client, name))['Records']]


def test_policy_duplicate_keys_no_bypass(pol):
    """A body naming two streams (a duplicate key) is authorised against the
    stream the call then acts on, in either order."""
    admin = pol.client()
    for i, (first, last) in enumerate([('payments', 'orders-1'), ('orders-1', 'payments')]):
        marker = 'dup-%d-%s' % (i, h.uniq('m'))
        body = ('{"StreamName":"%s","StreamName":"%s","Data":"%s","PartitionKey":"k"}'
                % (first, last, base64.b64encode(marker.encode()).decode()))
        st, _, raw = pol.raw('PutRecord', body, key_id=ORDERS_ONLY.key_id,
                             secret=ORDERS_ONLY.secret)
        assert marker.encode() not in records(admin, 'payments'), (first, last, st, raw)
        if st == 200:
            assert marker.encode() in records(admin, 'orders-1'), (first, last, raw)
    for first, last in [('payments', 'orders-1'), ('orders-1', 'payments')]:
        st, _, raw = pol.raw('DeleteStream', '{"StreamName":"%s","StreamName":"%s"}'
                             % (first, last), key_id=ORDERS_ONLY.key_id,
                             secret=ORDERS_ONLY.secret)
        if st == 200:
            # Allowed only because it deleted orders-1: bring that back.
            h.wait_gone(admin, 'orders-1')
            h.create_active(admin, 'orders-1')
            admin.put_record(StreamName='orders-1', Data=b'seed', PartitionKey='k')
        time.sleep(0.4)  # past --delete-delay-ms
        h.wait_status(admin, 'payments', 'ACTIVE', 1.0)


def test_policy_explicit_deny_wins(pol):
    c, key = DENY_PAYMENTS.client(pol), DENY_PAYMENTS.key_id
    pay = sec.stream_arn('payments')
    denied(c.put_record, key, 'PutRecord', pay, explicit=True, StreamName='payments',
           Data=b'x', PartitionKey='k')
    denied(c.put_records, key, 'PutRecords', pay, explicit=True, StreamName='payments',
           Records=[{'Data': b'x', 'PartitionKey': 'k'}])
    # Everything the Deny does not name is allowed by the Allow.
    c.put_record(StreamName='orders-1', Data=b'd', PartitionKey='k')
    c.describe_stream_summary(StreamName='payments')
    c.get_records(ShardIterator=iterator(c, 'payments'))


def test_policy_none_is_full_access(pol):
    c = NO_POLICY.client(pol)
    c.put_record(StreamName='payments', Data=b'f', PartitionKey='k')
    h.create_active(c, 'full-1')
    c.delete_stream(StreamName='full-1')


def test_policy_denied_raw_response(pol):
    """The wire form: HTTP 400, JSON type and message, request id."""
    st, hd, body = pol.call('PutRecord', {'StreamName': 'orders-1', 'Data': 'eA==',
                                          'PartitionKey': 'k'},
                            key_id=READ_ONLY.key_id, secret=READ_ONLY.secret)
    h.assert_error(st, hd, body, 'AccessDeniedException',
                   sec.denied_message(READ_ONLY.key_id, 'PutRecord',
                                      sec.stream_arn('orders-1')))


def test_policy_bad_file_refuses_start(server_factory):
    """A policy that does not parse is a start-up error, not full access."""
    srv = server_factory()
    srv.stop()
    p = sec.Principal('broken', policy(stmt('Allow', 'kinesis:Get*', '*')))
    sec.add_principals(srv, [p])
    with open(os.path.join(srv.data_dir, 'policy-broken.json'), 'w') as f:
        f.write('{"Version": "2012-10-17", "Statement": [')
    with pytest.raises(AssertionError, match='exited'):
        srv.start(timeout_s=10)


# --- audit log ---------------------------------------------------------------

def wait_audit(srv, pred, what, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while True:
        lines = sec.audit_lines(srv)
        hits = [x for x in lines if pred(x)]
        if hits:
            return hits
        if time.monotonic() > deadline:
            raise AssertionError('no audit line for %s in:\n%s' % (what, lines[-20:]))
        time.sleep(0.05)


def check_fields(line):
    assert set(line) >= {'time', 'principal', 'source', 'operation', 'stream', 'result',
                         'status'}, line
    assert re.match(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d', str(line['time'])), line
    assert re.fullmatch(PORT_RE, line['source']), line
    assert isinstance(line['status'], int), line


def bad_signature(srv, p):
    """A ListStreams signed with the wrong secret for p's key, on a
    connection whose local port the test knows. Returns that port."""
    conn = sec.https_conn(srv, h.tls_context(srv.ca))
    try:
        conn.connect()
        port = conn.sock.getsockname()[1]
        st, body = sec.signed_request(srv, conn, 'ListStreams', key_id=p.key_id,
                                      secret='W' * 40)
        assert (st, body['__type']) == (400, 'InvalidSignatureException'), body
        return port
    finally:
        conn.close()


@pytest.mark.smoke
def test_audit_log(server_factory):
    reader = sec.Principal('reader', policy(stmt('Allow', 'kinesis:Describe*', '*')))
    srv = server_factory()
    srv.stop()
    sec.add_principals(srv, [reader])
    srv.start()
    admin, name, marker = srv.client(), h.uniq('audit'), 'PAYLOAD-' + h.uniq('m')
    h.create_active(admin, name)
    code, _, _ = sec.client_error(admin.create_stream, StreamName=name, ShardCount=1)
    assert code == 'ResourceInUseException'
    admin.put_record(StreamName=name, Data=marker.encode(), PartitionKey='pk')
    admin.put_records(StreamName=name, Records=[{'Data': marker.encode(), 'PartitionKey': 'q'}])
    port = bad_signature(srv, reader)
    code, _, _ = sec.client_error(reader.client(srv).delete_stream, StreamName=name)
    assert code == 'AccessDeniedException'
    unknown = sec.Principal('nobody')
    code, _, _ = sec.client_error(unknown.client(srv).describe_stream, StreamName=name)
    assert code == 'UnrecognizedClientException'

    ok = wait_audit(srv, lambda x: x.get('operation') == 'CreateStream' and
                    x.get('result') == 'OK', 'CreateStream OK')
    assert len(ok) == 1, ok
    assert (ok[0]['principal'], ok[0]['stream'], ok[0]['status']) == (srv.key_id, name, 200)
    inuse = wait_audit(srv, lambda x: x.get('result') == 'ResourceInUseException', 'in use')
    assert (inuse[0]['operation'], inuse[0]['principal'], inuse[0]['stream'],
            inuse[0]['status']) == ('CreateStream', srv.key_id, name, 400), inuse
    sig = wait_audit(srv, lambda x: x.get('result') == 'InvalidSignatureException', 'bad sig')
    assert (sig[0]['principal'], sig[0]['operation'], sig[0]['source'], sig[0]['status']) \
        == (reader.key_id, 'ListStreams', '127.0.0.1:%d' % port, 400), sig
    deny = wait_audit(srv, lambda x: x.get('result') == 'AccessDeniedException', 'denied')
    assert (deny[0]['principal'], deny[0]['operation'], deny[0]['stream'],
            deny[0]['status']) == (reader.key_id, 'DeleteStream', name, 400), deny
    unk = wait_audit(srv, lambda x: x.get('result') == 'UnrecognizedClientException', 'unknown')
    assert (unk[0]['principal'], unk[0]['operation'], unk[0]['status']) == \
        (unknown.key_id, 'DescribeStream', 400), unk
    # The denied DeleteStream did nothing; DescribeStreamSummary calls are audited.
    h.wait_status(admin, name, 'ACTIVE', 1.0)
    wait_audit(srv, lambda x: x.get('operation') == 'DescribeStreamSummary', 'describe')
    for line in sec.audit_lines(srv):
        check_fields(line)

    assert stat.S_IMODE(os.stat(sec.audit_path(srv)).st_mode) == 0o600
    secrets_ = [srv.secret, reader.secret, unknown.secret]
    with open(sec.audit_path(srv), 'rb') as f:
        audit = f.read()
    assert marker.encode() not in audit and b'UEFZTE9BRC' not in audit
    for s in secrets_:
        assert s.encode() not in audit
    # No secret anywhere under DIR but the credentials file, nor in the log.
    srv.stop()
    for root, _, files in os.walk(srv.data_dir):
        for fn in files:
            path = os.path.join(root, fn)
            if path == srv.creds_file:
                continue
            with open(path, 'rb') as f:
                data = f.read()
            for s in secrets_:
                assert s.encode() not in data, 'secret found in %s' % path
    with open(srv.log_path, 'rb') as f:
        log = f.read()
    for s in secrets_:
        assert s.encode() not in log, 'secret found in the server log'


def test_audit_rotation(server_factory):
    """--audit-max-mib 1: well over 1 MiB of audited calls (DescribeStreamSummary
    of missing streams with long names, pipelined) rotates to audit.log.1,
    and --audit-keep 1 keeps just that one."""
    srv = server_factory(extra_args=['--audit-max-mib', '1', '--audit-keep', '1'])
    per_batch, batches = 100, 0
    deadline = time.monotonic() + 30
    while not os.path.exists(sec.audit_path(srv) + '.1') or \
            os.path.getsize(sec.audit_path(srv)) < 64 * 1024:
        assert time.monotonic() < deadline, 'no audit.log.1 after %d calls' % (
            batches * per_batch)
        conn = srv.connect()
        try:
            conn.send(b''.join(srv.request_bytes(
                'DescribeStreamSummary', {'StreamName': 'missing-%03d-' % i + 'x' * 110})
                for i in range(per_batch)))
            for _ in range(per_batch):
                r = conn.read_response()
                assert r.status == 400 and b'ResourceNotFoundException' in r.body, r
        finally:
            conn.close()
        batches += 1
    # Let the writer flush, then look at the whole set.
    time.sleep(0.3)
    base = sec.audit_path(srv)
    assert not os.path.exists(base + '.2'), '--audit-keep 1 kept audit.log.2'
    size1 = os.path.getsize(base + '.1')
    # Rotated at the limit, give or take one line.
    assert (1 << 20) - 4096 <= size1 <= (1 << 20) + 4096, size1
    for p in (base, base + '.1'):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
        with open(p, 'rb') as f:
            lines = f.read().split(b'\n')
        # Whole JSON lines only: rotation never splits one.
        assert lines[-1] == b'', (p, lines[-1][:200])
        for line in lines[:-1]:
            ev = json.loads(line)
            # A full queue is reported as its own line, not silently.
            if ev.get('event') != 'audit-dropped':
                check_fields(ev)


# --- hostile input to the authoriser and the audit log ------------------------

def escaped(text):
    """text as a JSON string literal with every character \\u-escaped (the
    server must decode it, which is where lengths change)."""
    return '"' + ''.join('\\u%04x' % ord(ch) for ch in text) + '"'


def test_policy_long_escaped_arn(pol):
    """A StreamARN longer than any real one, written with escapes, from a
    principal with a policy: an error that names the ARN sent (or "*"), in
    valid UTF-8, and the server keeps running (this once read past the end
    of a stack buffer into the message)."""
    for name in ('payments-' + 'A' * 400, 'orders-' + 'A' * 400):
        arn = sec.stream_arn(name)
        body = '{"StreamARN":%s,"Data":"eA==","PartitionKey":"k"}' % escaped(arn)
        st, hd, raw = pol.raw('PutRecord', body, key_id=ORDERS_ONLY.key_id,
                              secret=ORDERS_ONLY.secret)
        assert pol.running(), pol.log_tail(4000)
        text = raw.decode('utf-8')  # the error must be valid UTF-8 JSON
        err = json.loads(text)
        assert st == 400, (st, text)
        if err['__type'] == 'AccessDeniedException':
            m = re.search(r' on resource: (.*) because ', h.error_message(err), re.S)
            got = m.group(1) if m else ''
            assert got in (arn, '*'), 'resource has %d chars (sent %d), ends %r' % (
                len(got), len(arn), got[-12:])
        else:
            assert err['__type'] in ('ValidationException', 'InvalidArgumentException'), err


def audit_after_stop(srv):
    """Stops srv (so every line is written) and returns its audit log lines
    as bytes."""
    time.sleep(0.3)
    srv.stop()
    with open(sec.audit_path(srv), 'rb') as f:
        return f.read().split(b'\n')[:-1]


def test_audit_hostile_fields(server_factory):
    """Quotes, newlines and over-long escaped stream names never break a line
    of the audit log or pull bytes from elsewhere into a field."""
    srv = server_factory()
    evil = 'x"\n{"principal":"root","result":"OK"}\\'
    st, _, _ = srv.call('DescribeStreamSummary', {'StreamName': evil})
    assert st == 400
    long_name = 'L' * 200
    st, _, _ = srv.raw('DescribeStreamSummary', '{"StreamName":%s}' % escaped(long_name))
    assert st == 400
    lines = [json.loads(x) for x in audit_after_stop(srv)]
    streams = [x['stream'] for x in lines if x['operation'] == 'DescribeStreamSummary']
    assert len(streams) == 2 and streams[0] == evil, streams
    # The over-long name is recorded cut short (or not at all), never with
    # bytes from elsewhere.
    assert long_name.startswith(streams[1]), 'stream field has %d chars, ends %r' % (
        len(streams[1]), streams[1][-30:])


def test_audit_non_utf8_target(server_factory):
    """An unauthenticated client's X-Amz-Target with bytes that are not UTF-8
    must not make the audit log invalid JSON (RFC 8259 requires UTF-8)."""
    srv = server_factory()
    conn = srv.connect()
    try:
        req = srv.request_bytes('ListStreams', '{}', secret='S' * 40)
        conn.send(req.replace(b'Kinesis_20131202.ListStreams',
                              b'Kinesis_20131202.List\xff\xfeStreams'))
        assert conn.read_response().status == 400
    finally:
        conn.close()
    lines = audit_after_stop(srv)
    for n, line in enumerate(lines, 1):
        try:
            json.loads(line.decode('utf-8'))
        except ValueError as e:
            raise AssertionError('audit line %d is not UTF-8 JSON (%s): %r' % (n, e, line))
    # No such operation: answered (and audited) before the signature is
    # looked at, as Kinesis answers it.
    assert any(b'UnknownOperationException' in x for x in lines), lines


# --- TLS: reload on SIGHUP, mTLS --------------------------------------------

def peer_cert_der(server, ctx):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=server.host) as t:
            return t.getpeercert(binary_form=True)


def pem_to_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def install(src, dst):
    shutil.copyfile(src[0], dst[0])
    shutil.copyfile(src[1], dst[1])


@pytest.mark.smoke
def test_tls_reload_on_sighup(server_factory, tmp_path):
    d = str(tmp_path)
    ca1, ca2 = sec.make_ca(d, 'ca1'), sec.make_ca(d, 'ca2', kind='rsa')
    set1 = sec.make_cert(d, 'srv1', ca1)
    set2 = sec.make_cert(d, 'srv2', ca2, kind='rsa')
    live = (os.path.join(d, 'live.pem'), os.path.join(d, 'live.key'))
    install(set1, live)
    srv = server_factory(extra_args=['--tls-cert', live[0], '--tls-key', live[1]])
    ctx1, ctx2 = h.tls_context(ca1[0]), h.tls_context(ca2[0])

    old = sec.https_conn(srv, ctx1)
    try:
        assert sec.signed_request(srv, old, 'ListStreams')[0] == 200
        sock = old.sock
        assert sock.getpeercert(binary_form=True) == pem_to_der(set1[0])
        with pytest.raises(ssl.SSLCertVerificationError):
            peer_cert_der(srv, ctx2)

        install(set2, live)
        srv.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert srv.running()
        assert peer_cert_der(srv, ctx2) == pem_to_der(set2[0])
        with pytest.raises(ssl.SSLCertVerificationError):
            peer_cert_der(srv, ctx1)
        new = sec.https_conn(srv, ctx2)
        try:
            assert sec.signed_request(srv, new, 'ListStreams')[0] == 200
        finally:
            new.close()
        # The connection made before the reload is still the same and works.
        st, body = sec.signed_request(srv, old, 'ListStreams')
        assert st == 200 and 'StreamNames' in body, body
        assert old.sock is sock

        # A reload from broken files keeps the current certificate.
        with open(live[0], 'w') as f:
            f.write('-----BEGIN CERTIFICATE-----\nnot a certificate\n')
        srv.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert srv.running()
        assert peer_cert_der(srv, ctx2) == pem_to_der(set2[0])
        # A key that does not match the certificate is refused as well.
        shutil.copyfile(set1[0], live[0])
        srv.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert peer_cert_der(srv, ctx2) == pem_to_der(set2[0])
        assert sec.signed_request(srv, old, 'ListStreams')[0] == 200
    finally:
        old.close()


@pytest.mark.smoke
def test_mtls(server_factory, tmp_path):
    d = str(tmp_path)
    cca, other = sec.make_ca(d, 'clientca'), sec.make_ca(d, 'otherca')
    good = sec.make_cert(d, 'client-good', cca, client=True)
    bad = sec.make_cert(d, 'client-bad', other, client=True)
    srv = server_factory(extra_args=['--tls-client-ca', cca[0]])

    def attempt(cert):
        ctx = h.tls_context(srv.ca)
        if cert:
            ctx.load_cert_chain(cert[0], cert[1])
        conn = sec.https_conn(srv, ctx, timeout_s=5)
        try:
            return sec.signed_request(srv, conn, 'ListStreams')
        finally:
            conn.close()

    for cert in (None, bad):
        # TLS 1.3 reports a refused client certificate after the handshake,
        # on the first read; either way no request gets an answer.
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            attempt(cert)
    st, body = attempt(good)
    assert st == 200 and 'StreamNames' in body, body
    # TLS 1.2 as well.
    ctx = h.tls_context(srv.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        peer_cert_der(srv, ctx)
    # boto3 with a client certificate.
    c = srv.client(client_cert=good)
    name = h.uniq('mtls')
    h.create_active(c, name)
    c.put_record(StreamName=name, Data=b'm', PartitionKey='k')
    nocert = srv.client()
    with pytest.raises(Exception) as ei:
        nocert.list_streams()
    assert 'SSL' in repr(ei.value) or 'Connection' in repr(ei.value), ei.value
    assert srv.running()


# --- TLS scan ----------------------------------------------------------------

TLS13_SUITES = {'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384',
                'TLS_CHACHA20_POLY1305_SHA256'}
TLS12_RE = re.compile(r'ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)')


def sslscan(srv):
    p = subprocess.run(['sslscan', '--no-colour', '--xml=-', srv.host_header()],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    root = ET.fromstring(p.stdout)
    test = root.find('ssltest')
    assert test is not None and root.find('.//error') is None, p.stdout[:2000]
    protos = {'%s%s' % (x.get('type'), x.get('version')): x.get('enabled')
              for x in test.findall('protocol')}
    ciphers = [(x.get('sslversion'), x.get('cipher')) for x in test.findall('cipher')]
    return protos, ciphers, test


def check_scan(srv):
    protos, ciphers, test = sslscan(srv)
    for old in ('ssl2', 'ssl3', 'tls1.0', 'tls1.1'):
        assert protos.get(old) == '0', protos
    assert protos.get('tls1.2') == '1' and protos.get('tls1.3') == '1', protos
    assert ciphers, 'sslscan found no cipher'
    for ver, name in ciphers:
        assert ver in ('TLSv1.2', 'TLSv1.3'), (ver, name)
        if ver == 'TLSv1.3':
            assert name in TLS13_SUITES, name
        else:
            assert TLS12_RE.fullmatch(name), name
    reneg = test.find('renegotiation')
    assert reneg is None or reneg.get('supported') == '0', ET.tostring(reneg)
    comp = test.find('compression')
    assert comp is None or comp.get('supported') == '0', ET.tostring(comp)
    return ciphers


@pytest.mark.skipif(not shutil.which('sslscan'), reason='sslscan not installed '
                    '(tests/run.sh installs it)')
def test_sslscan_default_and_rsa(server, server_factory, tmp_path):
    ciphers = check_scan(server)
    assert any(n.startswith('ECDHE-ECDSA-') for v, n in ciphers), ciphers
    # With an RSA certificate the TLS 1.2 suites are the ECDHE-RSA ones.
    d = str(tmp_path)
    ca = sec.make_ca(d, 'rsaca', kind='rsa')
    cert = sec.make_cert(d, 'rsasrv', ca, kind='rsa')
    srv = server_factory(extra_args=['--tls-cert', cert[0], '--tls-key', cert[1]])
    ciphers = check_scan(srv)
    assert any(n.startswith('ECDHE-RSA-') for v, n in ciphers), ciphers
    assert peer_cert_der(srv, h.tls_context(ca[0])) == pem_to_der(cert[0])
