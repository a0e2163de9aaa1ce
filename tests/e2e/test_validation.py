# SPDX-License-Identifier: Apache-2.0
"""AWS-exact validation and request handling (issue 13, item 4).

- every violation of a request in one ValidationException, in Kinesis's
  member order (kinesalite's tests and validations/*.js, recorded against the
  service), before anything is looked up;
- SerializationException texts for wrongly typed members ("Message", as Coral
  spells it);
- what Kinesis answers before authenticating: a method other than POST, a
  Content-Type it does not serve, no or an unknown X-Amz-Target, an empty
  body (kinesalite's test/connection.js);
- malformed Authorization headers and presigned query parameters;
- presigned (query-string) SigV4 accepted, with botocore's SigV4QueryAuth;
- operations without output answer 200 with an empty body.

Raw signed requests throughout: boto3 would refuse most of these bodies on
the client side."""

import datetime
import json
from unittest import mock

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import sluice_helpers as h
from sluice_helpers import ACCOUNT, assert_error, uniq

NAME_PAT = '[a-zA-Z0-9_.-]+'
HASH_PAT = r'0|([1-9]\d{0,38})'
SEQ_PAT = r'0|([1-9]\d{0,128})'
TBN = 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber'
DENIED_XML = (b'<AccessDeniedException>\n'
              b'  <Message>Unable to determine service/operation name to be authorized'
              b'</Message>\n</AccessDeniedException>\n')
MISSING_XML = (b'<MissingAuthenticationTokenException>\n'
               b'  <Message>Missing Authentication Token</Message>\n'
               b'</MissingAuthenticationTokenException>\n')


def v(value, member, constraint):
    shown = 'null' if value is None else "'%s'" % value
    return "Value %s at '%s' failed to satisfy constraint: %s" % (shown, member, constraint)


def pattern(value, member, pat=NAME_PAT):
    return v(value, member, 'Member must satisfy regular expression pattern: ' + pat)


def min_len(value, member, n=1):
    return v(value, member, 'Member must have length greater than or equal to %d' % n)


def not_null(member):
    return v(None, member, 'Member must not be null')


def errors(*parts):
    n = len(parts)
    return '%d validation error%s detected: %s' % (n, 's' if n > 1 else '', '; '.join(parts))


def check(server, op, payload, type_, message):
    st, hd, body = server.call(op, payload)
    assert_error(st, hd, body, type_, message)
    return body


# --- all violations, Kinesis's order ------------------------------------

MULTI = [
    # kinesalite test/createStream.js
    ('CreateStream', {'StreamName': '', 'ShardCount': 0},
     errors(v(0, 'shardCount', 'Member must have value greater than or equal to 1'),
            pattern('', 'streamName'), min_len('', 'streamName'))),
    # kinesalite test/putRecords.js
    ('PutRecords', {'StreamName': '', 'Records': []},
     errors(min_len('[]', 'records'), pattern('', 'streamName'), min_len('', 'streamName'))),
    ('PutRecords', {'StreamName': 'a b', 'Records': [
        {'Data': '', 'PartitionKey': ''},
        {'PartitionKey': 'k', 'Data': 'AAAA', 'ExplicitHashKey': 'y'}]},
     errors(min_len('', 'records.1.member.partitionKey'),
            pattern('y', 'records.2.member.explicitHashKey', HASH_PAT),
            pattern('a b', 'streamName'))),
    # kinesalite test/getShardIterator.js (AT_TIMESTAMP is in today's enum)
    ('GetShardIterator', {'StreamName': '', 'ShardIteratorType': '', 'ShardId': '',
                          'StartingSequenceNumber': ''},
     errors(pattern('', 'shardId'), min_len('', 'shardId'),
            v('', 'shardIteratorType', 'Member must satisfy enum value set: '
              '[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, '
              'TRIM_HORIZON]'),
            pattern('', 'startingSequenceNumber', SEQ_PAT),
            pattern('', 'streamName'), min_len('', 'streamName'))),
    ('GetShardIterator', {},
     errors(not_null('shardId'), not_null('shardIteratorType'))),
    # kinesalite test/listShards.js (Limit is MaxResults today)
    ('ListShards', {'StreamName': '', 'MaxResults': 0, 'ExclusiveStartShardId': ''},
     errors(v(0, 'maxResults', 'Member must have value greater than or equal to 1'),
            pattern('', 'exclusiveStartShardId'), min_len('', 'exclusiveStartShardId'),
            pattern('', 'streamName'), min_len('', 'streamName'))),
    # kinesalite test/splitShard.js
    ('SplitShard', {'StreamName': '', 'ShardToSplit': '', 'NewStartingHashKey': ''},
     errors(pattern('', 'newStartingHashKey', HASH_PAT), pattern('', 'streamName'),
            min_len('', 'streamName'), pattern('', 'shardToSplit'),
            min_len('', 'shardToSplit'))),
    ('SplitShard', {'StreamName': 's'},
     errors(not_null('newStartingHashKey'), not_null('shardToSplit'))),
    # kinesalite validations/mergeShards.js
    ('MergeShards', {'StreamName': 'a b'},
     errors(not_null('shardToMerge'), not_null('adjacentShardToMerge'),
            pattern('a b', 'streamName'))),
    # kinesalite validations/updateShardCount.js
    ('UpdateShardCount', {'StreamName': 's', 'TargetShardCount': 0, 'ScalingType': 'X'},
     errors(v('X', 'scalingType', 'Member must satisfy enum value set: [UNIFORM_SCALING]'),
            v(0, 'targetShardCount', 'Member must have value greater than or equal to 1'))),
    # kinesalite validations/listTagsForStream.js
    ('ListTagsForStream', {'StreamName': 'a b', 'Limit': 0, 'ExclusiveStartTagKey': ''},
     errors(v(0, 'limit', 'Member must have value greater than or equal to 1'),
            min_len('', 'exclusiveStartTagKey'), pattern('a b', 'streamName'))),
    # kinesalite validations/putRecord.js
    ('PutRecord', {'StreamName': 'a b', 'PartitionKey': '', 'Data': '',
                   'ExplicitHashKey': 'x', 'SequenceNumberForOrdering': 'y'},
     errors(pattern('y', 'sequenceNumberForOrdering', SEQ_PAT),
            min_len('', 'partitionKey'), pattern('x', 'explicitHashKey', HASH_PAT),
            pattern('a b', 'streamName'))),
]


@pytest.mark.parametrize('op,payload,message', MULTI,
                         ids=['%s-%d' % (m[0], i) for i, m in enumerate(MULTI)])
def test_every_violation_in_order(server, op, payload, message):
    check(server, op, payload, 'ValidationException', message)


def test_validation_before_existence(server):
    """A bad request naming a stream that does not exist is a validation
    error; the same request made valid is ResourceNotFoundException."""
    name = uniq('nosuch')
    missing = 'Stream %s under account %s not found.' % (name, ACCOUNT)
    cases = [
        ('PutRecords', {'StreamName': name, 'Records': []},
         {'StreamName': name, 'Records': [{'Data': 'AAAA', 'PartitionKey': 'k'}]},
         errors(min_len('[]', 'records'))),
        ('PutRecord', {'StreamName': name, 'Data': 'AAAA', 'PartitionKey': ''},
         {'StreamName': name, 'Data': 'AAAA', 'PartitionKey': 'k'},
         errors(min_len('', 'partitionKey'))),
        ('ListShards', {'StreamName': name, 'MaxResults': 0}, {'StreamName': name},
         errors(v(0, 'maxResults', 'Member must have value greater than or equal to 1'))),
        ('SplitShard', {'StreamName': name, 'ShardToSplit': 'shardId-0',
                        'NewStartingHashKey': 'x'},
         {'StreamName': name, 'ShardToSplit': 'shardId-0', 'NewStartingHashKey': '5'},
         errors(pattern('x', 'newStartingHashKey', HASH_PAT))),
        ('DescribeStream', {'StreamName': name, 'Limit': 0}, {'StreamName': name},
         errors(v(0, 'limit', 'Member must have value greater than or equal to 1'))),
        ('DeleteStream', {'StreamName': name + '!'}, {'StreamName': name},
         errors(pattern(name + '!', 'streamName'))),
    ]
    for op, bad, good, message in cases:
        check(server, op, bad, 'ValidationException', message)
        st, hd, body = server.call(op, good)
        assert_error(st, hd, body, 'ResourceNotFoundException', message_prefix='Stream ')
        if op not in ('PutRecords', 'PutRecord', 'SplitShard'):
            assert h.error_message(body) == missing, body
    # GetShardIterator: a bad iterator type on a missing stream.
    check(server, 'GetShardIterator', {'StreamName': name, 'ShardId': 'shardId-0',
                                       'ShardIteratorType': 'NEWEST'},
          'ValidationException',
          errors(v('NEWEST', 'shardIteratorType', 'Member must satisfy enum value set: '
                   '[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, '
                   'TRIM_HORIZON]')))
    # CreateStream: the stream exists, the request is still invalid.
    k = server.client()
    there = uniq('there')
    k.create_stream(StreamName=there, ShardCount=1)
    check(server, 'CreateStream', {'StreamName': there, 'ShardCount': 0},
          'ValidationException',
          errors(v(0, 'shardCount', 'Member must have value greater than or equal to 1')))
    h.wait_status(k, there, 'ACTIVE')
    k.delete_stream(StreamName=there)


# --- SerializationException ----------------------------------------------

SER = [
    ('PutRecord', {'StreamName': 1}, TBN + ' can not be converted to an String'),
    ('PutRecord', {'StreamName': True}, 'class java.lang.Boolean can not be converted to an '
                                        'String'),
    ('PutRecord', {'StreamName': {}}, 'Start of structure or map found where not expected.'),
    ('PutRecord', {'StreamName': []}, 'Start of list found where not expected'),
    ('PutRecord', {'Data': 1}, TBN + ' can not be converted to a Blob'),
    ('PutRecord', {'Data': 'abc'}, "'abc' can not be converted to a Blob: Base64 encoded "
                                   "length is expected a multiple of 4 bytes but found: 3"),
    ('PutRecords', {'Records': 'x'}, 'Expected list or null'),
    ('PutRecords', {'Records': [1]}, 'Expected null'),
    ('GetShardIterator', {'Timestamp': 'x'},
     'class java.lang.String can not be converted to milliseconds since epoch'),
    ('CreateStream', {'ShardCount': '1'}, 'class java.lang.String can not be converted to an '
                                          'Integer'),
    ('CreateStream', {'ShardCount': True}, 'class java.lang.Boolean can not be converted to '
                                           'an Integer'),
    ('ListStreams', {'Limit': [1]}, 'Start of list found where not expected'),
    ('AddTagsToStream', {'StreamName': 's', 'Tags': 'x'}, 'Expected map or null'),
    # the first mismatch in Kinesis's member order wins (SplitShard:
    # NewStartingHashKey before StreamName)
    ('SplitShard', {'StreamName': 1, 'NewStartingHashKey': True},
     'class java.lang.Boolean can not be converted to an String'),
]


@pytest.mark.parametrize('op,payload,message', SER,
                         ids=['%s-%d' % (m[0], i) for i, m in enumerate(SER)])
def test_serialization_texts(server, op, payload, message):
    st, hd, body = server.call(op, payload)
    assert_error(st, hd, body, 'SerializationException')
    # Coral spells this member "Message", on both planes.
    assert body == {'__type': 'SerializationException', 'Message': message}, body


# --- before authentication -------------------------------------------------

@pytest.mark.smoke
def test_method_other_than_post(server):
    """403, no Content-Type, an XML body: AccessDenied when the request is
    signed, MissingAuthenticationToken when it is not."""
    for method in ['GET', 'PUT', 'DELETE', 'PATCH']:
        for sign, want in [(True, DENIED_XML), (False, MISSING_XML)]:
            st, hd, body = server.raw('ListStreams', b'{}', method=method, sign=sign)
            assert (st, body) == (403, want), (method, sign, st, body)
            assert 'content-type' not in hd, hd
            assert hd['content-length'] == str(len(want))
            assert 'x-amzn-requestid' in hd


def test_content_type(server):
    for ct in [None, 'text/plain', 'application/x-amz-json-1.0', 'application/xml']:
        for sign, want in [(True, DENIED_XML), (False, MISSING_XML)]:
            st, hd, body = server.raw('ListStreams', b'{}', sign=sign,
                                      headers={'Content-Type': ct})
            assert (st, body) == (403, want), (ct, sign, st, body)
            assert 'content-type' not in hd, hd
    # The content type is looked at before the target.
    st, _, body = server.raw('NoSuchOp', b'{}', headers={'Content-Type': None})
    assert (st, body) == (403, DENIED_XML)
    # A parameter after the media type is fine.
    st, _, body = server.raw('ListStreams', b'{}',
                             headers={'Content-Type': 'application/x-amz-json-1.1; charset=utf-8'})
    assert st == 200, body


def whole(server, *args, **kw):
    """One request sent in a single write, so its body is there with its
    head (a body still to come is never read before authentication)."""
    conn = server.connect()
    try:
        conn.send(server.request_bytes(*args, **kw))
        return conn.read_response()
    finally:
        conn.close()


def test_application_json_is_coral_envelope(server):
    """application/json gets Coral's old envelope, HTTP 200, and nothing is
    served that way."""
    for sign in [True, False]:
        for body_in, want in [
                (b'{}', {'Output': {'__type': 'com.amazon.coral.service#'
                                              'UnknownOperationException', 'message': None},
                         'Version': '1.0'}),
                (b'hello', {'Output': {'__type': 'com.amazon.coral.service#'
                                                 'SerializationException', 'Message': None},
                            'Version': '1.0'})]:
            r = whole(server, 'ListStreams', body_in, sign=sign,
                      headers={'Content-Type': 'application/json'})
            assert r.status == 200, r
            assert r.headers['content-type'] == 'application/json', r
            assert r.json() == want, r


def test_refused_from_the_head_alone(server):
    """A body still to come: the head is answered as Kinesis answers it and
    the connection closed, the body never awaited."""
    for hdrs, want in [({'Content-Type': 'text/plain'}, MISSING_XML),
                       ({'X-Amz-Target': 'Kinesis_20131202.Nope'},
                        b'{"__type":"UnknownOperationException"}')]:
        method, path, hlist, _ = server.request_parts('PutRecords', b'', headers=hdrs,
                                                      sign=False)
        hlist = [(k, v) for k, v in hlist if k.lower() != 'content-length']
        hlist.append(('Content-Length', str(1 << 20)))
        head = '%s %s HTTP/1.1\r\n' % (method, path)
        head += ''.join('%s: %s\r\n' % (k, v) for k, v in hlist) + '\r\n'
        conn = server.connect()
        try:
            conn.send(head.encode() + b'{"Records": [')
            r = conn.read_response(timeout=5)
            assert r.body == want, r
            assert conn.is_closed(), 'connection left open after a refused head'
        finally:
            conn.close()


def test_target_missing_or_unknown(server):
    for target in [None, 'Kinesis_20131202.ListStream', 'Kinesis_20131202.',
                   'DynamoDB_20120810.ListTables', 'X.ListStreams']:
        for sign in [True, False]:
            st, hd, body = server.raw(target, b'{}', sign=sign)
            assert st == 400, (target, sign, body)
            assert hd['content-type'] == h.JSON_CT
            assert json.loads(body) == {'__type': 'UnknownOperationException'}, body


def test_empty_body(server):
    for sign in [True, False]:
        st, hd, body = server.raw('ListStreams', b'', sign=sign)
        assert st == 400, body
        assert json.loads(body) == {'__type': 'SerializationException'}, body


# --- malformed Authorization -----------------------------------------------

def unsigned(server, headers, path='/'):
    st, hd, body = server.raw('ListStreams', b'{}', sign=False, headers=headers, path=path)
    return st, hd, json.loads(body)


def test_malformed_authorization(server):
    everything = ("Authorization header requires 'Credential' parameter. "
                  "Authorization header requires 'Signature' parameter. "
                  "Authorization header requires 'SignedHeaders' parameter. "
                  "Authorization header requires existence of either a 'X-Amz-Date' or a "
                  "'Date' header. Authorization=X")
    assert_error(*unsigned(server, {'Authorization': 'X'}), 'IncompleteSignatureException',
                 everything)
    # kinesalite's three spellings of a header missing SignedHeaders
    for auth in ['AWS4- Signature=b Credential=a', 'AWS4- Signature=b,Credential=a',
                 'AWS4- Signature=b, Credential=a']:
        assert_error(*unsigned(server, {'Authorization': auth, 'Date': 'a'}),
                     'IncompleteSignatureException',
                     "Authorization header requires 'SignedHeaders' parameter. "
                     "Authorization=" + auth)
    assert_error(*unsigned(server, {'Authorization': 'AWS4-HMAC-SHA1 Credential=a/b/c/d/e, '
                                                     'SignedHeaders=host, Signature=0',
                                    'X-Amz-Date': '20130524T000000Z'}),
                 'IncompleteSignatureException', "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'")
    # Both forms at once, and an incomplete header with a near-miss query name.
    assert_error(*unsigned(server, {'Authorization': 'X'}, path='/?X-Amz-Algorithm'),
                 'InvalidSignatureException',
                 "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' "
                 "as HTTP header.")
    assert_error(*unsigned(server, {'Authorization': 'X'}, path='/?X-Amz-Algorith'),
                 'IncompleteSignatureException', everything)


def test_malformed_presigned_query(server):
    assert_error(*unsigned(server, {}, path='/?X-Amz-Algorithm'),
                 'IncompleteSignatureException',
                 "AWS query-string parameters must include 'X-Amz-Algorithm'. "
                 "AWS query-string parameters must include 'X-Amz-Credential'. "
                 "AWS query-string parameters must include 'X-Amz-Signature'. "
                 "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
                 "AWS query-string parameters must include 'X-Amz-Date'. "
                 "Re-examine the query-string parameters.")
    # Everything but X-Amz-Algorithm: not a presigned request at all.
    assert_error(*unsigned(server, {}, path='/?X-Amz-Credential=a&X-Amz-Signature=b&'
                                            'X-Amz-SignedHeaders=c&X-Amz-Date=d'),
                 'MissingAuthenticationTokenException', 'Missing Authentication Token')
    assert_error(*unsigned(server, {}, path='/?X-Amz-Algorithm=AWS4-HMAC-SHA256&'
                                            'X-Amz-Credential=a&X-Amz-Signature=b&'
                                            'X-Amz-SignedHeaders=host'),
                 'IncompleteSignatureException',
                 "AWS query-string parameters must include 'X-Amz-Date'. "
                 "Re-examine the query-string parameters.")


# --- presigned requests ----------------------------------------------------

class _KeepBody(botocore.auth.SigV4QueryAuth):
    """botocore's presigner, keeping the JSON body as the body (it would move
    a form body into the query; Kinesis's JSON protocol has none)."""

    def _modify_request_before_signing(self, request):
        data, request.data = request.data, b''
        super()._modify_request_before_signing(request)
        request.data = data


def presign(server, op, body=b'{}', expires=60, when=None, method='POST'):
    """Returns (path with the presigned query, headers) for one request."""
    req = AWSRequest(method=method, url=server.endpoint + '/', data=body,
                     headers={'Content-Type': h.JSON_CT,
                              'X-Amz-Target': h.TARGET_PREFIX + op})
    auth = _KeepBody(Credentials(server.key_id, server.secret), 'kinesis', 'us-east-1',
                     expires=expires)
    if when is None:
        auth.add_auth(req)
    else:
        with mock.patch.object(botocore.auth, 'datetime', h._FixedClock(when)):
            auth.add_auth(req)
    assert 'Authorization' not in req.headers
    return req.url[len(server.endpoint):], dict(req.headers)


def send_presigned(server, path, headers, body=b'{}', method='POST'):
    st, hd, raw = server.raw(None, body, headers=headers, sign=False, path=path,
                             method=method)
    return st, hd, (json.loads(raw) if raw.startswith(b'{') else raw)


@pytest.mark.smoke
def test_presigned_post_accepted(server):
    name = uniq('pre')
    body = json.dumps({'StreamName': name, 'ShardCount': 1}).encode()
    path, hdrs = presign(server, 'CreateStream', body)
    st, hd, out = send_presigned(server, path, hdrs, body)
    assert (st, out) == (200, b''), out
    h.wait_status(server.client(), name, 'ACTIVE')
    body = json.dumps({'StreamName': name}).encode()
    path, hdrs = presign(server, 'DescribeStreamSummary', body, expires=900)
    st, _, out = send_presigned(server, path, hdrs, body)
    assert st == 200, out
    assert out['StreamDescriptionSummary']['StreamName'] == name
    # The same presigned URL serves until it expires (no replay window of
    # its own beyond X-Amz-Expires).
    assert send_presigned(server, path, hdrs, body)[0] == 200
    server.client().delete_stream(StreamName=name)


def test_presigned_get_answered_as_kinesis(server):
    """Kinesis serves POST only: a presigned GET is refused before its
    signature is looked at, as any GET."""
    path, hdrs = presign(server, 'ListStreams', b'', method='GET')
    st, hd, out = send_presigned(server, path, hdrs, b'', method='GET')
    assert (st, out) == (403, DENIED_XML)


def test_presigned_expired(server):
    then = datetime.datetime.utcnow() - datetime.timedelta(seconds=120)
    path, hdrs = presign(server, 'ListStreams', expires=60, when=then)
    st, hd, out = send_presigned(server, path, hdrs)
    assert_error(st, hd, out, 'InvalidSignatureException',
                 message_re=r'Signature expired: %s is now earlier than \d{8}T\d{6}Z '
                            r'\(\d{8}T\d{6}Z - 60 sec\.\)' % then.strftime('%Y%m%dT%H%M%SZ'))
    # The same age within a longer X-Amz-Expires is fine (beyond the header
    # form's 5 minutes, too).
    then = datetime.datetime.utcnow() - datetime.timedelta(seconds=600)
    path, hdrs = presign(server, 'ListStreams', expires=3600, when=then)
    assert send_presigned(server, path, hdrs)[0] == 200


def test_presigned_mangled(server):
    path, hdrs = presign(server, 'ListStreams')
    mismatch = ('The request signature we calculated does not match the signature you '
                'provided. Check your AWS Secret Access Key and signing method. Consult the '
                'service documentation for details.')
    cases = [
        (path.replace('X-Amz-Signature=', 'X-Amz-Signature=0'), hdrs, b'{}',
         'InvalidSignatureException', mismatch),
        (path.replace('X-Amz-Expires=60', 'X-Amz-Expires=6000'), hdrs, b'{}',
         'InvalidSignatureException', mismatch),
        (path, hdrs, b'{"Limit": 1}', 'InvalidSignatureException', mismatch),
        (path, dict(hdrs, **{'X-Amz-Target': h.TARGET_PREFIX + 'DeleteStream'}), b'{}',
         'InvalidSignatureException', mismatch),
        (path.replace('us-east-1', 'eu-west-1'), hdrs, b'{}', 'InvalidSignatureException',
         "Credential should be scoped to a valid region, not 'eu-west-1'. "),
        (path.replace('X-Amz-Expires=60', 'X-Amz-Expires=604801'), hdrs, b'{}',
         'IncompleteSignatureException',
         'X-Amz-Expires must be less than a week (in seconds); that is, the given '
         'X-Amz-Expires must be less than 604800 seconds'),
        (path.replace('X-Amz-Algorithm=AWS4-HMAC-SHA256', 'X-Amz-Algorithm=AWS4-HMAC-SHA1'),
         hdrs, b'{}', 'IncompleteSignatureException',
         "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'"),
    ]
    for p, hd_in, body, type_, message in cases:
        st, hd, out = send_presigned(server, p, hd_in, body)
        assert_error(st, hd, out, type_, message)
    # A header signature as well: both forms.
    st, hd, out = send_presigned(server, path, dict(hdrs, Authorization='X'))
    assert_error(st, hd, out, 'InvalidSignatureException',
                 "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' "
                 "as HTTP header.")


# --- operations without output -------------------------------------------

def test_no_output_operations_answer_empty(server, kinesis):
    name = uniq('noout')

    def empty(op, payload):
        st, hd, body = server.raw(op, payload)
        assert (st, body) == (200, b''), (op, st, body)
        assert hd['content-type'] == h.JSON_CT, hd
        assert hd['content-length'] == '0', hd

    empty('CreateStream', {'StreamName': name, 'ShardCount': 1})
    h.wait_status(kinesis, name, 'ACTIVE')
    empty('AddTagsToStream', {'StreamName': name, 'Tags': {'a': 'b'}})
    empty('RemoveTagsFromStream', {'StreamName': name, 'TagKeys': ['a']})
    empty('IncreaseStreamRetentionPeriod', {'StreamName': name, 'RetentionPeriodHours': 48})
    h.wait_status(kinesis, name, 'ACTIVE')
    # boto3 reads the empty answer as AWS's.
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    h.wait_status(kinesis, name, 'ACTIVE')
    empty('DeleteStream', {'StreamName': name})


# --- the same over HTTP/2 ------------------------------------------------

def test_http2_answers(server):
    """HTTP/2 (the JS SDK v3's default): the XML 403 has no content-type,
    the bare UnknownOperationException, and a presigned request whose query
    is in :path."""
    get = [(':method' if k == ':method' else k, 'GET' if k == ':method' else v)
           for k, v in h.h2_headers(server, 'ListStreams', b'{}')]
    st, hd, body = h.h2_exchange(server, get, b'{}')
    assert (st, body) == (403, DENIED_XML), (st, body)
    assert 'content-type' not in hd, hd
    st, hd, body = h.h2_exchange(server, h.h2_headers(server, 'Nope', b'{}', sign=False),
                                 b'{}')
    assert (st, json.loads(body)) == (400, {'__type': 'UnknownOperationException'})
    # Unsigned, body announced but never sent: answered on its head, not
    # taken for an empty body.
    st, _, body = h.h2_exchange(server, h.h2_headers(server, 'ListStreams', b'{}', sign=False,
                                                     content_length=1 << 20),
                                end_stream=False, timeout_s=3)
    assert st == 400 and json.loads(body)['__type'] == 'MissingAuthenticationTokenException'
    path, hdrs = presign(server, 'ListStreams')
    req = [(':method', 'POST'), (':scheme', 'https'), (':authority', server.host_header()),
           (':path', path)] + [(k.lower(), v) for k, v in hdrs.items()] + \
        [('content-length', '2')]
    st, _, body = h.h2_exchange(server, req, b'{}')
    assert st == 200, body
    assert 'StreamNames' in json.loads(body)
