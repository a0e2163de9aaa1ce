# SPDX-License-Identifier: Apache-2.0
"""IPv6 and 802.1Q on the DPDK transport (SLUICE_TRANSPORT=dpdk only),
against the Linux stack in the client namespace, whatever SLUICE_DPDK_IP6
says (these servers are always dual stack):

- Neighbor Discovery and ICMPv6 echo: `ping -6` of the global and the
  link-local address, the kernel's neighbor entry names the port's MAC;
- one dual-stack server: records put over IPv6 with boto3 read back over
  IPv4 and the other way round, the AWS CLI over IPv6;
- 200 concurrent TLS connections over IPv6;
- integrity under 5% loss over IPv6 (nftables on the client veth);
- a VLAN: sluiced --dpdk-vlan 100; raw tagged ARP, NS and ICMPv6 echo
  from the client veth are answered with tagged frames, untagged and VLAN
  200 ones are not (and with the kernel's 8021q, ping and put/get through
  slcK.100).

The whole e2e suite also runs over IPv6 with SLUICE_DPDK_IP6=1 (see
dpdk_net.py)."""

import base64
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

import dpdk_net
import sluice_helpers as h
from test_dpdk import _many, _raise_nofile, bulk_put_and_verify, csum, mac_of

pytestmark = [pytest.mark.dpdk, pytest.mark.ip6,
              pytest.mark.skipif(not h.DPDK, reason='DPDK transport only (SLUICE_TRANSPORT=dpdk, '
                                 'as tests/run.sh suite e2e-dpdk runs it)')]

ARGS = ['--create-delay-ms', '100', '--delete-delay-ms', '100', '--max-conns-per-addr', '2000',
        '--request-timeout-ms', '20000']


def start_server(factory, vlan=0, extra=()):
    """A dual-stack DPDK server on a ServerNet of its own (ip6 on)."""
    srv = factory(extra_args=ARGS + list(extra), start=False, base_args=False)
    srv.net = dpdk_net.ServerNet.create(ip6=True, vlan=vlan)
    return srv.start()


@pytest.fixture(scope='module')
def v6srv(module_server_factory):
    return start_server(module_server_factory)


def ping(addr, count=3, timeout_s=2, extra=()):
    p = subprocess.run(['ping', '-n', '-c', str(count), '-i', '0.2', '-W', str(timeout_s)] +
                       list(extra) + [addr], capture_output=True, text=True, timeout=30)
    return p.returncode == 0 and ' 0% packet loss' in p.stdout, p.stdout + p.stderr


def link_local(mac):
    """fe80:: address from a MAC (modified EUI-64), as the stack makes it."""
    b = bytes.fromhex(mac.replace(':', ''))
    b = bytes([b[0] ^ 2]) + b[1:3] + b'\xff\xfe' + b[3:]
    return 'fe80::' + ':'.join('%x' % int.from_bytes(b[i:i + 2], 'big') for i in range(0, 8, 2))


def put_get(kin, name, payloads):
    """Puts payloads into a new one-shard stream, reads them back."""
    kin.create_stream(StreamName=name, ShardCount=1)
    kin.get_waiter('stream_exists').wait(StreamName=name,
                                         WaiterConfig={'Delay': 0.2, 'MaxAttempts': 100})
    for i, p in enumerate(payloads):
        kin.put_record(StreamName=name, Data=p, PartitionKey='k%d' % i)
    shard = kin.list_shards(StreamName=name)['Shards'][0]['ShardId']
    it = kin.get_shard_iterator(StreamName=name, ShardId=shard,
                                ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    got = []
    for _ in range(20):
        r = kin.get_records(ShardIterator=it, Limit=1000)
        got += [rec['Data'] for rec in r['Records']]
        it = r['NextShardIterator']
        if len(got) >= len(payloads):
            break
    return got


@pytest.mark.skipif(not shutil.which('ping'), reason='ping is not installed')
def test_ping6_and_neighbor_discovery(v6srv):
    net = v6srv.net
    srv_mac = mac_of(net.ns, net.srv_if)
    dpdk_net.run('ip', '-6', 'neigh', 'flush', 'dev', net.cli_l3, check=False)
    ok, out = ping(net.srv_ip6)
    assert ok, out
    # the kernel resolved us by NS/NA: its entry names the port's MAC
    neigh = dpdk_net.run('ip', '-6', 'neigh', 'show', net.srv_ip6, 'dev', net.cli_l3).stdout
    assert srv_mac in neigh, neigh
    # sizes up to the MTU (1500 - 40 - 8)
    ok, out = ping(net.srv_ip6, count=2, extra=['-s', '1452'])
    assert ok, out
    # the link-local address made from the MAC answers too
    ok, out = ping('%s%%%s' % (link_local(srv_mac), net.cli_l3), count=2)
    assert ok, out
    # no answer for a neighbor that is not there
    ok, out = ping('fd00:99:%x::77' % net.k, count=1, timeout_s=1)
    assert not ok, out


@pytest.mark.filterwarnings('ignore::urllib3.exceptions.InsecureRequestWarning')
def test_dual_stack_put_get(v6srv):
    """Put over IPv6, read over IPv4, and the other way round."""
    assert ':' in v6srv.host, v6srv.host  # sluiced.addr names the IPv6 address
    kin6 = v6srv.client()
    # The certificate names the --listen address only (the IPv6 one), so
    # the IPv4 client checks the chain but not the name.
    import boto3
    kin4 = boto3.session.Session(
        aws_access_key_id=v6srv.key_id, aws_secret_access_key=v6srv.secret,
        region_name='us-east-1').client('kinesis', endpoint_url='https://%s:%d' % (
            v6srv.net.srv_ip, v6srv.port), verify=False)
    data = [os.urandom(n) for n in (1, 100, 5000, 60000)]
    assert put_get(kin6, 'ip6-a', data) == data
    assert put_get(kin4, 'ip6-b', data) == data
    # cross: what was put over one family is read over the other
    sh = kin4.list_shards(StreamName='ip6-a')['Shards'][0]['ShardId']
    it = kin4.get_shard_iterator(StreamName='ip6-a', ShardId=sh,
                                 ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    assert [r['Data'] for r in kin4.get_records(ShardIterator=it)['Records']] == data
    for name in ('ip6-a', 'ip6-b'):
        kin6.delete_stream(StreamName=name)


@pytest.mark.skipif(not shutil.which('unshare'), reason='unshare is not installed')
def test_aws_cli_over_ip6(v6srv):
    """The AWS CLI (sluice_helpers: 2.9 refuses an IPv6 literal in
    --endpoint-url, so it goes to https://localhost mapped to the server's
    IPv6 address alone by a private hosts file)."""
    def aws(*args):
        rc, out, err = v6srv.aws('kinesis', *args)
        assert rc == 0, err
        return out
    aws('create-stream', '--stream-name', 'ip6-cli', '--shard-count', '1')
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        d = aws('describe-stream-summary', '--stream-name', 'ip6-cli')
        if d['StreamDescriptionSummary']['StreamStatus'] == 'ACTIVE':
            break
        time.sleep(0.2)
    payload = base64.b64encode(b'over ipv6').decode()
    r = aws('put-record', '--stream-name', 'ip6-cli', '--partition-key', 'k', '--data', payload)
    assert r['ShardId'] == 'shardId-000000000000', r
    it = aws('get-shard-iterator', '--stream-name', 'ip6-cli', '--shard-id', r['ShardId'],
             '--shard-iterator-type', 'TRIM_HORIZON')['ShardIterator']
    recs = aws('get-records', '--shard-iterator', it)['Records']
    assert [base64.b64decode(x['Data']) for x in recs] == [b'over ipv6'], recs
    aws('delete-stream', '--stream-name', 'ip6-cli')


def test_200_concurrent_tls_connections_ip6(v6srv):
    import asyncio
    n = 200
    _raise_nofile(n + 200)
    results = asyncio.run(_many(v6srv, n))
    bad = [r for r in results if r != '200']
    assert not bad, '%d of %d failed: %s' % (len(bad), n, sorted(set(bad))[:5])


def test_integrity_ip6_under_5pct_loss(server_factory):
    srv = start_server(server_factory, extra=['--request-timeout-ms', '120000'])
    nft = dpdk_net.Nft(srv.net.cli_if, 'slt6loss')
    try:
        nft.drop_tcp_percent(5)
        mb, put_s, read_s = bulk_put_and_verify(srv, 20, 40)
        dropped = nft.dropped()
    finally:
        nft.close()
    print('IPv6, loss 5%%: %.0f MB put in %.1f s, read back in %.1f s, %d dropped'
          % (mb, put_s, read_s, dropped))
    assert dropped > 20, 'nftables dropped only %d segments' % dropped


SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID, PACKET_OUTGOING = 263, 8, 0x10, 4


def raw_exchange(ifname, frame, want, timeout_s=1.0):
    """Sends one raw frame on ifname; returns (frame, VLAN ID or None) of the
    first frame received for which want(frame) holds, or None. The kernel
    moves a received tag into metadata: PACKET_AUXDATA brings it back."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    try:
        s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        s.bind((ifname, 0))
        s.send(frame)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, anc, _, addr = s.recvmsg(4096, socket.CMSG_SPACE(20))
            except socket.timeout:
                return None
            if addr[2] == PACKET_OUTGOING:
                continue
            vid = None
            for lvl, typ, cd in anc:
                if lvl == SOL_PACKET and typ == PACKET_AUXDATA and len(cd) >= 20:
                    st, _, _, _, _, tci, _ = struct.unpack('IIIHHHH', cd[:20])
                    if st & TP_STATUS_VLAN_VALID:
                        vid = tci & 0xfff
            if data[12:14] == b'\x81\x00':  # tag left in the data
                vid, data = struct.unpack('!H', data[14:16])[0] & 0xfff, data[:12] + data[16:]
            if want(data):
                return data, vid
        return None
    finally:
        s.close()


def eth_hdr(dst, src, etype, vid):
    tag = struct.pack('!HH', 0x8100, vid) if vid is not None else b''
    return dst + src + tag + struct.pack('!H', etype)


def icmp6(src, dst, body):
    """An IPv6 packet carrying ICMPv6 body (checksum filled), hop limit 255."""
    ph = src + dst + struct.pack('!I3xB', len(body), 58)
    c = csum(ph + body)
    body = body[:2] + struct.pack('!H', c) + body[4:]
    return struct.pack('!IHBB', 6 << 28, len(body), 58, 255) + src + dst + body


def test_vlan(server_factory):
    """sluiced --dpdk-vlan 100: tagged ARP, ND and echo (v4 and v6) are
    answered, tagged; untagged and VLAN 200 are not. With the kernel's
    8021q, also ping and put/get through a VLAN sub-interface."""
    srv = start_server(server_factory, vlan=100)
    net = srv.net
    me = bytes.fromhex(mac_of(None, net.cli_if).replace(':', ''))
    srv_mac = bytes.fromhex(mac_of(net.ns, net.srv_if).replace(':', ''))
    bcast = b'\xff' * 6

    def arp(vid):
        a = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, me, socket.inet_aton(net.cli_ip),
                        b'\0' * 6, socket.inet_aton(net.srv_ip))
        return raw_exchange(net.cli_if, eth_hdr(bcast, me, 0x0806, vid) + a + b'\0' * 18,
                            lambda f: f[12:14] == b'\x08\x06' and f[20:22] == b'\0\x02' and
                            f[28:32] == socket.inet_aton(net.srv_ip))
    got = arp(100)
    assert got is not None, 'no ARP reply on VLAN 100'
    assert got[1] == 100 and got[0][22:28] == srv_mac, got
    assert arp(None) is None, 'an untagged ARP request was answered'
    assert arp(200) is None, 'an ARP request on VLAN 200 was answered'

    src6 = socket.inet_pton(socket.AF_INET6, net.cli_ip6)
    dst6 = socket.inet_pton(socket.AF_INET6, net.srv_ip6)
    sn = bytes.fromhex('ff0200000000000000000001ff') + dst6[13:]

    def ns(vid):
        body = struct.pack('!BBHI', 135, 0, 0, 0) + dst6 + bytes([1, 1]) + me
        return raw_exchange(net.cli_if, eth_hdr(b'\x33\x33' + sn[12:], me, 0x86dd, vid) +
                            icmp6(src6, sn, body),
                            lambda f: f[12:14] == b'\x86\xdd' and f[20] == 58 and
                            f[54] == 136)
    assert ns(None) is None, 'an untagged NS was answered'
    assert ns(200) is None, 'an NS on VLAN 200 was answered'
    got = ns(100)
    assert got is not None, 'no NA on VLAN 100'
    assert got[1] == 100 and got[0][6:12] == srv_mac and got[0][54 + 8:54 + 24] == dst6, got
    # echo over IPv6 (the NS taught the server our MAC), tagged both ways
    payload = os.urandom(64)
    body = struct.pack('!BBHHH', 128, 0, 0, 0x6e, 1) + payload
    pkt = icmp6(src6, dst6, body)
    pkt = pkt[:7] + b'\x40' + pkt[8:]  # hop limit 64
    got = raw_exchange(net.cli_if, eth_hdr(srv_mac, me, 0x86dd, 100) + pkt,
                       lambda f: f[12:14] == b'\x86\xdd' and f[20] == 58 and f[54] == 129)
    assert got is not None and got[1] == 100 and got[0][62:] == payload, got
    if net.vlan_dev and shutil.which('ping'):
        for addr in (net.srv_ip, net.srv_ip6):
            ok, out = ping(addr)
            assert ok, out
        data = [os.urandom(n) for n in (10, 3000)]
        assert put_get(srv.client(), 'vlan-a', data) == data
