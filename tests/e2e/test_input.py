# SPDX-License-Identifier: Apache-2.0
"""Request strings that do not fit a fixed buffer, non-ASCII tags and UTF-8 in
error messages (issue 11, items 5 and 7): a too-long list entry gets a
Kinesis-shaped 400 and the server lives on; tags in any language are stored
and returned intact, refused (never altered) when a character is outside
Kinesis's set; an error message quoting a long non-ASCII value is valid
UTF-8 JSON, cut between code points.

boto3 is the client wherever it sends the request as given (it checks
types and minimum lengths, not maximum lengths, enums or patterns); signed raw
requests are used for the few bodies boto3 cannot express (a \\u0000 escape,
CreateStream Tags in this botocore) and to read the bytes of an answer."""

import json

import botocore.exceptions
import pytest

import sluice_helpers as h
from sluice_helpers import ACCOUNT, assert_error, uniq

METRICS = ('IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, '
           'WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, '
           'IteratorAgeMilliseconds, ALL')
BAD_CHARS = ('Some tags contain invalid characters. Valid characters: Unicode letters, '
             'digits, white space, _ . / = + - % @ :.')
KEY_LEN = ('Member must satisfy constraint: [Member must have length less than or equal '
           'to 128, Member must have length greater than or equal to 1]')


@pytest.fixture(scope='module')
def stream(server):
    k = server.client()
    name = uniq('input')
    k.create_stream(StreamName=name, ShardCount=1)
    h.wait_status(k, name, 'ACTIVE')
    return name


def client_error(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(**kw)
    return ei.value.response


def strict_json(body):
    """The answer's bytes as RFC 8259 JSON text: UTF-8, every sequence whole."""
    text = body.decode('utf-8')  # strict: raises on a cut sequence
    return json.loads(text)


def alive(server, kinesis):
    assert server.running()
    kinesis.list_streams(Limit=1)


# --- item 5: list entries longer than the decoding buffer ---

@pytest.mark.parametrize('size', [2304, 10000])
def test_long_shard_level_metric(server, kinesis, stream, size):
    resp = client_error(kinesis.enable_enhanced_monitoring, StreamName=stream,
                        ShardLevelMetrics=['x' * size])
    err = resp['Error']
    assert resp['ResponseMetadata']['HTTPStatusCode'] == 400
    assert err['Code'] == 'ValidationException'
    # The list as Coral prints it, cut (never extended with other bytes) at 1 KiB.
    shown = '[' + 'x' * 1022
    assert err['Message'] == (
        "1 validation error detected: Value '%s' at 'shardLevelMetrics' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[%s]]" % (shown, METRICS))
    alive(server, kinesis)


@pytest.mark.parametrize('size', [2304, 10000])
def test_long_tag_key_to_remove(server, kinesis, stream, size):
    resp = client_error(kinesis.remove_tags_from_stream, StreamName=stream,
                        TagKeys=['k' * size])
    assert resp['ResponseMetadata']['HTTPStatusCode'] == 400
    assert resp['Error']['Code'] == 'ValidationException'
    assert resp['Error']['Message'] == (
        "1 validation error detected: Value '[%s' at 'tagKeys' failed to satisfy "
        "constraint: %s" % ('k' * 1022, KEY_LEN))
    alive(server, kinesis)


@pytest.mark.parametrize('char', ['\u00e9', '\u20ac', '\U0001d400'])
def test_long_non_ascii_list_entry_cut_on_code_point(server, stream, char):
    # 1, 2 or 3 ASCII bytes first, so that the cut falls at every offset
    # inside a 2-, 3- and 4-byte sequence.
    for lead in range(4):
        entry = 'a' * lead + char * (12000 // len(char.encode()))
        st, hd, body = server.raw('EnableEnhancedMonitoring',
                                  {'StreamName': stream, 'ShardLevelMetrics': [entry]})
        doc = strict_json(body)
        assert_error(st, hd, doc, 'ValidationException')
        shown = doc['message'].split("Value '", 1)[1].split("' at 'shardLevelMetrics'")[0]
        assert shown.startswith('[' + 'a' * lead + char)
        assert set(shown[1 + lead:]) == {char}
        assert 1020 <= len(shown.encode()) <= 1023


# --- item 7: tags in any language ---

def tag_map(kinesis, name, **kw):
    return {t['Key']: t['Value'] for t in kinesis.list_tags_for_stream(StreamName=name,
                                                                        **kw)['Tags']}


def test_non_ascii_tags_round_trip(server, kinesis):
    name = uniq('tags')
    kinesis.create_stream(StreamName=name, ShardCount=1)
    h.wait_status(kinesis, name, 'ACTIVE')
    tags = {
        '\u0436' * 128: '\u5024' * 256,         # 128 Cyrillic, 256 CJK: 256 + 768 bytes
        'cl\u00e9 \u00f1': 'valeur \u00e0 \u00e9t\u00e9',
        '\U0001d400\U0001d401': '\U0001d7d8',  # mathematical letters and digit (4 bytes)
        '\uf900\u3000\u0663': '\u0939\u0928',  # CJK compatibility, ideographic space
        'k:/=+-@._': '',                        # Arabic-Indic digit; Devanagari letters
    }
    kinesis.add_tags_to_stream(StreamName=name, Tags=tags)
    assert tag_map(kinesis, name, Limit=50) == tags
    # Paging from a non-ASCII key, and removing by one.
    keys = sorted(tags, key=lambda s: s.encode())
    assert tag_map(kinesis, name, Limit=50, ExclusiveStartTagKey=keys[0]) == \
        {k: tags[k] for k in keys[1:]}
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=['\u0436' * 128, 'cl\u00e9 \u00f1'])
    del tags['\u0436' * 128], tags['cl\u00e9 \u00f1']
    assert tag_map(kinesis, name, Limit=50) == tags
    # CreateStream's Tags (not in this botocore's model: a signed raw call).
    name2 = uniq('tagc')
    st, hd, body = server.call('CreateStream', {'StreamName': name2, 'ShardCount': 1,
                                                'Tags': {'\u0436' * 128: '\u5024' * 256}})
    assert st == 200, body
    h.wait_status(kinesis, name2, 'ACTIVE')
    assert tag_map(kinesis, name2) == {'\u0436' * 128: '\u5024' * 256}
    # One character too many is refused, not cut.
    resp = client_error(kinesis.add_tags_to_stream, StreamName=name, Tags={'\u0436' * 129: 'v'})
    assert resp['Error']['Code'] == 'ValidationException'
    assert 'Map keys must satisfy constraint: [Member must have length less than or equal ' \
        'to 128' in resp['Error']['Message']
    assert tag_map(kinesis, name, Limit=50) == tags


@pytest.mark.parametrize('bad', [
    {'abc;def': '1'},             # ASCII punctuation outside the set
    {'abc\tdef': '1'},            # tab is white space but not a separator (\p{Z})
    {'k': '\U0001f600'},          # emoji: a symbol (So)
    {'k': '\u00d7'},              # multiplication sign (Sm), inside U+00C0..U+1FFF
    {'\u3001': 'v'},              # ideographic comma (Po), inside U+2C00..U+D7FF
    {'k': '\u0301'},              # combining accent (Mn)
])
def test_invalid_tag_chars_rejected(server, kinesis, stream, bad):
    resp = client_error(kinesis.add_tags_to_stream, StreamName=stream, Tags=bad)
    assert resp['ResponseMetadata']['HTTPStatusCode'] == 400
    assert resp['Error']['Code'] == 'InvalidArgumentException'
    assert resp['Error']['Message'] == BAD_CHARS
    assert tag_map(kinesis, stream, Limit=50) == {}
    if any(k != 'k' for k in bad):
        resp = client_error(kinesis.remove_tags_from_stream, StreamName=stream,
                            TagKeys=list(bad))
        assert resp['Error']['Code'] == 'InvalidArgumentException'
        assert resp['Error']['Message'] == BAD_CHARS


def test_nul_in_tag_rejected_not_cut(server, kinesis, stream):
    # "a\u0000b" must not be stored as "a" (what a C string would make of it).
    for body in ('{"StreamName":"%s","Tags":{"a\\u0000b":"v"}}' % stream,
                 '{"StreamName":"%s","Tags":{"a":"x\\u0000y"}}' % stream):
        st, hd, resp = server.call('AddTagsToStream', body)
        assert_error(st, hd, resp, 'InvalidArgumentException', BAD_CHARS)
    st, hd, resp = server.call('RemoveTagsFromStream',
                               '{"StreamName":"%s","TagKeys":["a\\u0000b"]}' % stream)
    assert_error(st, hd, resp, 'InvalidArgumentException', BAD_CHARS)
    name = uniq('tagn')
    st, hd, resp = server.call('CreateStream', '{"StreamName":"%s","ShardCount":1,'
                               '"Tags":{"a\\u0000b":"v"}}' % name)
    assert_error(st, hd, resp, 'InvalidArgumentException', BAD_CHARS)
    assert tag_map(kinesis, stream, Limit=50) == {}
    # A \u0000 in a stream name names no other stream.
    st, hd, resp = server.call('DescribeStreamSummary',
                               '{"StreamName":"%s\\u0000x"}' % stream)
    assert_error(st, hd, resp, 'ValidationException',
                 message_prefix="1 validation error detected: Value '%s\ufffdx' at "
                 "'streamName' failed to satisfy constraint: Member must satisfy regular "
                 "expression pattern" % stream)


def test_percent_in_tag(server, kinesis, stream):
    resp = client_error(kinesis.add_tags_to_stream, StreamName=stream, Tags={'a%': 'x'})
    assert resp['Error']['Code'] == 'InvalidArgumentException'
    assert resp['Error']['Message'] == (
        "Failed to add tags to stream %s under account %s because some tags contained "
        "illegal characters. The allowed characters are Unicode letters, white-spaces, "
        "'_',',','/','=','+','-','@',':'." % (stream, ACCOUNT))


# --- item 7: error messages never split a UTF-8 sequence ---

LONG_VALUES = [lead * 'a' + ch * (6000 // len(ch.encode()))
               for ch in ('\u00e9', '\u20ac', '\U0001d400') for lead in range(4)]


@pytest.mark.parametrize('value', LONG_VALUES, ids=lambda v: '%dx%d' % (
    v.count('a'), len(v[-1].encode())))
def test_long_non_ascii_stream_name_message_is_utf8(server, value):
    calls = [
        ('DescribeStream', {'StreamName': value}),                        # control plane
        ('ListTagsForStream', {'StreamName': value}),
        ('PutRecord', {'StreamName': value, 'PartitionKey': value, 'Data': 'AA=='}),
        ('PutRecords', {'StreamName': value, 'Records': [
            {'PartitionKey': value, 'Data': 'AA=='}]}),
        ('GetShardIterator', {'StreamName': value, 'ShardId': value,
                              'ShardIteratorType': value}),
        ('ListShards', {'StreamName': value, 'StreamARN': 'arn:aws:kinesis:' + value}),
    ]
    for op, payload in calls:
        st, hd, body = server.raw(op, payload)
        doc = strict_json(body)
        assert_error(st, hd, doc, 'ValidationException')
        assert value[:100] in doc['message'], (op, doc['message'][:300])


def test_long_non_ascii_stream_name_via_boto3(server, kinesis):
    # boto3 itself must be able to read the answer.
    resp = client_error(kinesis.describe_stream, StreamName='\u00e9' * 3000)
    assert resp['Error']['Code'] == 'ValidationException'
    assert resp['Error']['Message'].startswith(
        "2 validation errors detected: Value '" + '\u00e9' * 100)
    alive(server, kinesis)
