# SPDX-License-Identifier: Apache-2.0
"""SigV4 verification: every way a signature can be wrong, and the exact
error Kinesis answers with."""

import datetime
import re

import pytest

import sluice_helpers as h
from sluice_helpers import assert_error

MISMATCH = ('The request signature we calculated does not match the signature you provided. '
            'Check your AWS Secret Access Key and signing method. '
            'Consult the service documentation for details.')
STAMP = r'\d{8}T\d{6}Z'


def list_streams(server, **kw):
    st, hd, body = server.raw('ListStreams', b'{}', **kw)
    return st, hd, h.json.loads(body) if body else None


@pytest.mark.smoke
def test_valid_signature_any_region(server):
    for region in ['us-east-1', 'eu-central-1', 'ap-southeast-2', 'sluice-local-1']:
        st, _, body = list_streams(server, region=region)
        assert st == 200, (region, body)
        assert 'StreamNames' in body


@pytest.mark.smoke
def test_tampered_signature(server):
    method, path, hdrs, body = server.request_parts('ListStreams', b'{}')
    auth = dict(hdrs)['Authorization']
    sig = auth[-64:]
    flipped = sig[:-1] + ('0' if sig[-1] != '0' else '1')
    st, hd, b = list_streams(server, sign=False, headers={
        'X-Amz-Date': dict(hdrs)['X-Amz-Date'], 'Authorization': auth[:-64] + flipped})
    assert_error(st, hd, b, 'InvalidSignatureException', message_prefix=MISMATCH)


def test_tampered_body(server):
    method, path, hdrs, body = server.request_parts('ListStreams', b'{"Limit": 5}')
    d = dict(hdrs)
    st, hd, raw = server.raw('ListStreams', b'{"Limit": 6}', sign=False, headers={
        'X-Amz-Date': d['X-Amz-Date'], 'Authorization': d['Authorization']})
    assert_error(st, hd, h.json.loads(raw), 'InvalidSignatureException', message_prefix=MISMATCH)


def test_tampered_signed_header(server):
    method, path, hdrs, body = server.request_parts('ListStreams', b'{}')
    d = dict(hdrs)
    # Same signature, different operation: X-Amz-Target is a signed header.
    st, hd, raw = server.raw('DescribeStreamSummary', b'{}', sign=False, headers={
        'X-Amz-Date': d['X-Amz-Date'], 'Authorization': d['Authorization']})
    assert_error(st, hd, h.json.loads(raw), 'InvalidSignatureException', message_prefix=MISMATCH)


@pytest.mark.smoke
def test_wrong_secret(server):
    st, hd, b = list_streams(server, secret='x' * 40)
    assert_error(st, hd, b, 'InvalidSignatureException', message_prefix=MISMATCH)
    c = server.client(secret='y' * 40)
    with pytest.raises(c.exceptions.ClientError) as ei:
        c.list_streams()
    assert ei.value.response['Error']['Code'] == 'InvalidSignatureException'


@pytest.mark.smoke
def test_unknown_key(server):
    st, hd, b = list_streams(server, key_id='AKIAUNKNOWNKEY000000', secret='z' * 40)
    assert_error(st, hd, b, 'UnrecognizedClientException',
                 'The security token included in the request is invalid.')
    c = server.client(key_id='AKIAUNKNOWNKEY000001', secret='z' * 40)
    with pytest.raises(c.exceptions.ClientError) as ei:
        c.list_streams()
    assert ei.value.response['Error']['Code'] == 'UnrecognizedClientException'


@pytest.mark.smoke
def test_missing_authorization(server):
    stamp = datetime.datetime.utcnow().strftime('%Y%m%dT%H%M%SZ')
    st, hd, b = list_streams(server, sign=False, headers={'X-Amz-Date': stamp})
    assert_error(st, hd, b, 'MissingAuthenticationTokenException',
                 'Missing Authentication Token')
    st, hd, b = list_streams(server, sign=False)
    assert_error(st, hd, b, 'MissingAuthenticationTokenException',
                 'Missing Authentication Token')


def test_malformed_authorization(server):
    stamp = datetime.datetime.utcnow().strftime('%Y%m%dT%H%M%SZ')
    st, hd, b = list_streams(server, sign=False, headers={'X-Amz-Date': stamp,
                                                          'Authorization': 'X'})
    assert_error(st, hd, b, 'IncompleteSignatureException',
                 "Authorization header requires 'Credential' parameter. "
                 "Authorization header requires 'Signature' parameter. "
                 "Authorization header requires 'SignedHeaders' parameter. "
                 "Authorization=X")
    # A proper header with its Signature component cut off.
    method, path, hdrs, body = server.request_parts('ListStreams', b'{}')
    d = dict(hdrs)
    cut = d['Authorization'].split(', Signature=')[0]
    st, hd, b = list_streams(server, sign=False, headers={'X-Amz-Date': d['X-Amz-Date'],
                                                          'Authorization': cut})
    assert_error(st, hd, b, 'IncompleteSignatureException',
                 "Authorization header requires 'Signature' parameter. Authorization=" + cut)
    # No date at all.
    st, hd, b = list_streams(server, sign=False, headers={'Authorization': d['Authorization']})
    assert_error(st, hd, b, 'IncompleteSignatureException', message_prefix=(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."))


@pytest.mark.smoke
def test_signature_expired_past(server):
    when = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    sent = when.strftime('%Y%m%dT%H%M%SZ')
    st, hd, b = list_streams(server, when=when)
    assert_error(st, hd, b, 'InvalidSignatureException', message_re=(
        r'Signature expired: %s is now earlier than %s \(%s - (5|15) min\.\)'
        % (sent, STAMP, STAMP)))


def test_signature_expired_future(server):
    # Kinesis words a date in the future "Signature not yet current".
    when = datetime.datetime.utcnow() + datetime.timedelta(minutes=20)
    sent = when.strftime('%Y%m%dT%H%M%SZ')
    st, hd, b = list_streams(server, when=when)
    assert_error(st, hd, b, 'InvalidSignatureException', message_re=(
        r'Signature not yet current: %s is still later than %s \(%s \+ (5|15) min\.\)'
        % (sent, STAMP, STAMP)))


def test_small_clock_skew_accepted(server):
    for minutes in (-4, 4):
        when = datetime.datetime.utcnow() + datetime.timedelta(minutes=minutes)
        st, _, b = list_streams(server, when=when)
        assert st == 200, (minutes, b)


def test_wrong_service_in_scope(server):
    st, hd, b = list_streams(server, service='dynamodb')
    assert_error(st, hd, b, 'InvalidSignatureException')
    assert re.match(r"Credential should be scoped to correct service: 'kinesis'\. ?$",
                    h.error_message(b)), b
