# SPDX-License-Identifier: Apache-2.0
"""TLS record buffers are kept while a connection is busy and given back
when it is idle (crypto/tls.c tls_conn_trim, called by http_conn_timers
after CONN_TLS_TRIM_IDLE_MS = 100 ms without input). These tests drive TLS
by hand (ssl.SSLObject over memory BIOs) so the ciphertext can be cut
anywhere: mid-record, between records, between pipelined requests, with
pauses longer than the trim delay, and check every record arrives intact."""

import base64
import json
import socket
import ssl
import time

import sluice_helpers as h
from sluice_helpers import uniq

# Longer than the 100 ms idle delay plus one 100 ms timer period, so the
# server's timer runs (and may trim) inside every pause.
PAUSE_S = 0.25


class ManualTls:
    """A TLS client whose records and ciphertext chunks we place."""

    def __init__(self, server, timeout_s=15.0):
        ctx = h.tls_context(server.ca)
        ctx.set_alpn_protocols(['http/1.1'])
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout_s)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=server.host)
        self.plain = b''
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._recv()
        self._flush()

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _recv(self):
        chunk = self.sock.recv(65536)
        assert chunk, 'server closed the connection'
        self.inc.write(chunk)

    def records(self, data, record_bytes):
        """Seals data as TLS records of at most record_bytes plaintext each
        and returns their ciphertext (not sent yet)."""
        for i in range(0, len(data), record_bytes):
            self.obj.write(data[i:i + record_bytes])
        return self.out.read()

    def send_cut(self, cipher, cuts, pause_s=PAUSE_S):
        """Sends cipher in pieces, cut at the given offsets, pausing after each."""
        last = 0
        for cut in sorted(cuts) + [len(cipher)]:
            if cut > last:
                self.sock.sendall(cipher[last:cut])
                last = cut
                if cut < len(cipher):
                    time.sleep(pause_s)

    def read_response(self):
        """One HTTP/1.1 response: (status, body bytes)."""
        while b'\r\n\r\n' not in self.plain:
            self._more()
        head, rest = self.plain.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split(' ')[1])
        length = 0
        for line in lines[1:]:
            k, v = line.split(':', 1)
            if k.strip().lower() == 'content-length':
                length = int(v)
        while len(rest) < length:
            self._more()
            rest = self.plain.split(b'\r\n\r\n', 1)[1]
        self.plain = rest[length:]
        return status, rest[:length]

    def _more(self):
        while True:
            try:
                self.plain += self.obj.read(65536)
                return
            except ssl.SSLWantReadError:
                self._recv()

    def close(self):
        self.sock.close()


def put_body(stream, tag, n, size):
    recs = [bytes([(tag * 31 + i * 7 + j) % 251 for j in range(size)]) for i in range(n)]
    body = {'StreamName': stream,
            'Records': [{'PartitionKey': 'k%d-%d' % (tag, i),
                         'Data': base64.b64encode(r).decode()} for i, r in enumerate(recs)]}
    return body, recs


def read_all(client, stream, want):
    it = client.get_shard_iterator(StreamName=stream, ShardId=h.shard_id(0),
                                   ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    got = []
    for _ in range(50):
        r = client.get_records(ShardIterator=it, Limit=1000)
        got += [x['Data'] for x in r['Records']]
        if len(got) >= want or not r.get('NextShardIterator'):
            break
        it = r['NextShardIterator']
    return got


def test_request_split_across_records_and_idle_pauses(server):
    """Two pipelined PutRecords (~45 KB each) sealed as 1000-byte TLS
    records, their ciphertext sent in pieces cut mid-record, at record
    boundaries and between the requests, pausing past the trim delay after
    each: both answered in order, every record stored intact."""
    client = server.client()
    stream = uniq('tlsbuf')
    h.create_active(client, stream)
    b1, r1 = put_body(stream, 1, 30, 1000)
    b2, r2 = put_body(stream, 2, 30, 1000)
    req1 = server.request_bytes('PutRecords', b1)
    req2 = server.request_bytes('PutRecords', b2)
    t = ManualTls(server)
    try:
        c1 = t.records(req1, 1000)
        c2 = t.records(req2, 1000)
        cipher = c1 + c2
        # 1000 bytes of plaintext seal to 1022 (TLS 1.3: 5-byte header,
        # 1 content-type byte, 16-byte tag): cut 7 bytes into a record's
        # header, in the middle of one, right on a boundary, right between
        # the two requests, and a few bytes into the second.
        rec = 1022
        cuts = [7, rec * 3 + 500, rec * 10, len(c1), len(c1) + 3, len(c1) + rec * 20 + 1]
        t.send_cut(cipher, cuts)
        for want in (r1, r2):
            status, body = t.read_response()
            assert status == 200, body
            assert json.loads(body)['FailedRecordCount'] == 0, body
        # Idle past the trim, then a third request on the same connection.
        time.sleep(PAUSE_S)
        b3, r3 = put_body(stream, 3, 5, 20000)
        t.send_cut(t.records(server.request_bytes('PutRecords', b3), 16384), [100])
        status, body = t.read_response()
        assert status == 200 and json.loads(body)['FailedRecordCount'] == 0, body
    finally:
        t.close()
    got = read_all(client, stream, len(r1) + len(r2) + len(r3))
    assert got == r1 + r2 + r3


def test_response_larger_than_a_record_after_idle(server):
    """After the connection sat idle (buffers trimmed), an answer larger than
    one TLS record (ListShards of a 300-shard stream) arrives whole, twice."""
    client = server.client()
    stream = uniq('tlsbig')
    h.create_active(client, stream, shards=300)
    t = ManualTls(server)
    try:
        for _ in range(2):
            time.sleep(PAUSE_S)
            req = server.request_bytes('ListShards', {'StreamName': stream, 'MaxResults': 1000})
            t.send_cut(t.records(req, 16384), [])
            status, body = t.read_response()
            assert status == 200, body
            assert len(body) > 16384, len(body)
            assert len(json.loads(body)['Shards']) == 300
    finally:
        t.close()
