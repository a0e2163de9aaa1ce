#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes SigV4 test vectors signed by botocore (the oracle, not our code).

Output, one record per vector, every field hex-encoded so any byte survives:
    V <name>            start of a vector
    M <method>
    P <hex path>        path as sent on the wire (before '?')
    Q <hex query>       query as sent on the wire (after '?'), may be empty
    H <hex name> <hex value>   one wire header, in order (Authorization too)
    L <hex name> <hex value>   a header added on the wire after signing (an
                        attacker's addition; signers ignore it)
    B <hex body>
    T <epoch seconds>   the signing time, used as now_s
    E                   end of vector
"""
import datetime
import sys
from urllib.parse import urlsplit

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:  # the C test exits 77 (skip) on this marker
    botocore = None

ACCESS_KEY = 'AKIDEXAMPLE'
SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
FIXED = datetime.datetime(2013, 5, 24, 0, 0, 0)
ENDPOINT = 'https://127.0.0.1:4567'


class FixedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED


def hx(b):
    if isinstance(b, str):
        b = b.encode('utf-8')
    return b.hex() if b else '-'


SESSION_TOKEN = 'FQoGZXIvYXdzEXAMPLEsessionTOKEN/+='


def query_auth(creds, region, expires):
    """botocore's presigner (SigV4QueryAuth), keeping a JSON body as the
    body: it would move a form body into the query, which Kinesis's JSON
    protocol has not. The payload hash stays the body's."""
    class KeepBody(botocore.auth.SigV4QueryAuth):
        def _modify_request_before_signing(self, request):
            data, request.data = request.data, b''
            super()._modify_request_before_signing(request)
            request.data = data
    return KeepBody(creds, 'kinesis', region, expires=expires)


def sign(out, name, method='POST', path='/', params=None, headers=(), body=b'',
         region='us-east-1', late=(), token=None, presign_expires=None):
    req = AWSRequest(method=method, url=ENDPOINT + path, data=body, params=params)
    req.headers['Host'] = '127.0.0.1:4567'
    for k, v in headers:
        req.headers[k] = v  # HTTPHeaders appends, so repeats are kept
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    if presign_expires is not None:
        auth = query_auth(creds, region, presign_expires)
    else:
        auth = botocore.auth.SigV4Auth(creds, 'kinesis', region)
    orig = botocore.auth.datetime.datetime
    botocore.auth.datetime.datetime = FixedDatetime
    try:
        auth.add_auth(req)
    finally:
        botocore.auth.datetime.datetime = orig
    prep = req.prepare()
    parts = urlsplit(prep.url)
    out.write('V %s\nM %s\nP %s\nQ %s\n' % (name, method, hx(parts.path), hx(parts.query)))
    for k, v in req.headers.items():
        out.write('H %s %s\n' % (hx(k), hx(v)))
    for k, v in late:
        out.write('L %s %s\n' % (hx(k), hx(v)))
    out.write('B %s\nT %d\nE\n' % (hx(body), int(FIXED.replace(
        tzinfo=datetime.timezone.utc).timestamp())))


def main():
    out = open(sys.argv[1], 'w') if len(sys.argv) > 1 else sys.stdout
    if botocore is None:
        out.write('SKIP botocore not importable\n')
        return
    json_hdrs = [('Content-Type', 'application/x-amz-json-1.1'),
                 ('X-Amz-Target', 'Kinesis_20131202.PutRecord')]
    body = b'{"StreamName":"s1","Data":"aGVsbG8=","PartitionKey":"pk"}'
    sign(out, 'put_record', headers=json_hdrs, body=body)
    sign(out, 'list_streams_eu', headers=[('Content-Type', 'application/x-amz-json-1.1'),
                                          ('X-Amz-Target', 'Kinesis_20131202.ListStreams')],
         body=b'{}', region='eu-west-1')
    sign(out, 'content_sha256', headers=json_hdrs + [
        ('X-Amz-Content-SHA256', botocore.auth.sha256(body).hexdigest())], body=body)
    sign(out, 'query_special', method='GET', params=[
        ('b', 'x y'), ('a', 'c/d'), ('a', 'B&='), ('~t', "it's*"), ('\u00e9', '\u00fc'),
        ('empty', ''), ('Z', '1+1')])
    sign(out, 'header_spaces', headers=json_hdrs + [
        ('X-Custom', '  a   b \t c  '), ('X-Dup', 'one'), ('X-Dup', '  two  three ')],
        body=body)
    sign(out, 'path_segments', path='/some%20dir/./a-b_c~d/../e%2Ff/', headers=json_hdrs,
         body=body)
    sign(out, 'empty_body', headers=json_hdrs, body=b'')
    # Issue 11: a DescribeStreamSummary signed without X-Amz-Target, re-sent
    # with X-Amz-Target DeleteStream; and other required headers unsigned.
    summary = b'{"StreamName":"s1"}'
    sign(out, 'late_target', headers=[('Content-Type', 'application/x-amz-json-1.1')],
         body=summary, late=[('X-Amz-Target', 'Kinesis_20131202.DeleteStream')])
    sign(out, 'late_content_type',
         headers=[('X-Amz-Target', 'Kinesis_20131202.DescribeStreamSummary')],
         body=summary, late=[('Content-Type', 'application/x-amz-json-1.1')])
    sign(out, 'late_amz_header', headers=json_hdrs, body=body,
         late=[('x-amz-meta-anything', 'v')])
    sign(out, 'session_token', headers=json_hdrs, body=body, token=SESSION_TOKEN)
    # Presigned (query-string) authentication, issue 13 item 4.
    sign(out, 'presigned', headers=json_hdrs, body=body, presign_expires=300)
    sign(out, 'presigned_token', headers=json_hdrs, body=body, presign_expires=60,
         token=SESSION_TOKEN)
    if out is not sys.stdout:
        out.close()


if __name__ == '__main__':
    main()
