#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Linux-side peer for tcp_tap_test: runs inside the test's network namespace
and talks to the userspace stack through the TAP device. Exit status 0 means
the mode's checks passed; details go to stderr.

Modes:
  ping IP COUNT
  echo IP PORT NBYTES NCONN      pattern out, echo back, every byte checked
  rst IP PORT                    RST mid-transfer, then a clean echo
  craft IP PORT                  hand-made segments from a raw socket
  flood IP PORT NSYN             SYN flood from a raw socket + a real client
"""
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

PAT_LEN = 251  # prime: never lines up with segment or buffer sizes
PATTERN = bytes(i % PAT_LEN for i in range(PAT_LEN * 2048))


def log(*a):
    print("tcp_peer:", *a, file=sys.stderr, flush=True)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(ip, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(2)
    ok = 0
    for seq in range(count):
        payload = bytes(range(56))
        hdr = struct.pack("!BBHHH", 8, 0, 0, 0x1234, seq)
        hdr = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), 0x1234, seq)
        s.sendto(hdr + payload, (ip, 0))
        deadline = time.time() + 2
        while time.time() < deadline:
            try:
                pkt = s.recv(2048)
            except socket.timeout:
                break
            icmp = pkt[(pkt[0] & 0xF) * 4:]
            t, _, _, ident, sq = struct.unpack("!BBHHH", icmp[:8])
            if t == 0 and ident == 0x1234 and sq == seq and icmp[8:] == payload \
                    and csum(icmp) == 0:
                ok += 1
                break
    log("ping", ok, "/", count)
    return 0 if ok == count else 1


def echo_one(ip, port, nbytes, errors, chunk=65536):
    try:
        s = socket.create_connection((ip, port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def sender():
            off = 0
            try:
                while off < nbytes:
                    n = min(chunk, nbytes - off)
                    o = off % PAT_LEN
                    s.sendall(PATTERN[o:o + n])
                    off += n
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                errors.append("send: %r" % e)

        t = threading.Thread(target=sender)
        t.start()
        got = 0
        while True:
            b = s.recv(262144)
            if not b:
                break
            o = got % PAT_LEN
            if b != PATTERN[o:o + len(b)]:
                errors.append("mismatch at byte %d" % got)
                break
            got += len(b)
        t.join()
        s.close()
        if got != nbytes:
            errors.append("got %d of %d bytes" % (got, nbytes))
    except OSError as e:
        errors.append("conn: %r" % e)


def echo(ip, port, nbytes, nconn):
    errors = []
    t0 = time.time()
    ths = [threading.Thread(target=echo_one, args=(ip, port, nbytes, errors))
           for _ in range(nconn)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    dt = time.time() - t0
    total = nbytes * nconn
    log("echo %d x %d bytes in %.2f s: %.1f MB/s each way" %
        (nconn, nbytes, dt, total / dt / 1e6))
    for e in errors[:5]:
        log("error:", e)
    return 1 if errors else 0


def rst(ip, port):
    s = socket.create_connection((ip, port), timeout=10)
    s.sendall(PATTERN[:200000])
    got = 0
    while got < 100000:
        got += len(s.recv(65536))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST with data still in flight both ways
    time.sleep(0.2)
    errors = []
    echo_one(ip, port, 300000, errors)
    for e in errors:
        log("error:", e)
    return 1 if errors else 0


RAW_MARK = 0x51CE


def nft_drop_rst(ports):
    # The kernel would reset connections it did not open itself; our own raw
    # segments carry RAW_MARK and pass.
    cmds = ["add table ip sltest",
            "add chain ip sltest out { type filter hook output priority 0 ; }",
            "add rule ip sltest out tcp sport %s tcp flags & rst == rst meta mark != %d drop"
            % (ports, RAW_MARK)]
    for c in cmds:
        subprocess.run(["nft"] + c.split(" "), check=True)


class Raw:
    """Hand-made TCP over a raw IP socket (the kernel adds the IP header)."""

    def __init__(self, src, dst, sport, dport):
        self.src, self.dst, self.sport, self.dport = src, dst, sport, dport
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, RAW_MARK)
        self.s.settimeout(0.5)

    def send(self, seq, ack, flags, data=b"", opts=b"", bad=False, sport=None):
        sp = sport or self.sport
        off = (20 + len(opts)) // 4
        hdr = struct.pack("!HHIIBBHHH", sp, self.dport, seq & 0xFFFFFFFF,
                          ack & 0xFFFFFFFF, off << 4, flags, 65535, 0, 0) + opts
        ph = socket.inet_aton(self.src) + socket.inet_aton(self.dst) + \
            struct.pack("!BBH", 0, 6, len(hdr) + len(data))
        c = csum(ph + hdr + data)
        if bad:
            c ^= 0x5555
        hdr = hdr[:16] + struct.pack("!H", c) + hdr[18:]
        self.s.sendto(hdr + data, (self.dst, 0))

    def recv(self, timeout=0.5):
        """Next segment from the stack to our port: (seq, ack, flags, wnd, data)."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                pkt = self.s.recv(4096)
            except socket.timeout:
                return None
            ihl = (pkt[0] & 0xF) * 4
            t = pkt[ihl:]
            sp, dp, seq, ack, off, fl, wnd = struct.unpack("!HHIIBBH", t[:16])
            if sp == self.dport and dp == self.sport:
                return seq, ack, fl, wnd, t[(off >> 4) * 4:]
        return None

    def recv_ctl(self, timeout=1.0):
        """Next segment without payload (echoed data is skipped)."""
        end = time.time() + timeout
        while time.time() < end:
            x = self.recv(end - time.time())
            if x is None or not x[4]:
                return x
        return None


def craft(ip, port):
    src = ip.rsplit(".", 1)[0] + ".1"
    nft_drop_rst("40000-40100")
    r = Raw(src, ip, 40000 + random.randint(0, 99), port)
    fails = []
    iss = 1000
    r.send(iss, 0, 0x02, opts=struct.pack("!BBH", 2, 4, 1460))
    sa = r.recv(2)
    if not sa or sa[2] & 0x12 != 0x12 or sa[1] != iss + 1:
        log("no SYN-ACK", sa)
        return 1
    irs = sa[0]
    nxt = iss + 1
    r.send(nxt, irs + 1, 0x10)
    # 1. bad checksum: ignored (no ACK moves, no data delivered)
    r.send(nxt, irs + 1, 0x18, b"BAD!", bad=True)
    x = r.recv(0.3)
    if x and x[1] != nxt:
        fails.append("bad checksum segment was accepted: %r" % (x,))
    # 2. good data: ACKed and echoed back
    r.send(nxt, irs + 1, 0x18, b"GOOD")
    nxt += 4
    x = r.recv(1)
    while x and x[1] != nxt:
        x = r.recv(1)
    if not x:
        fails.append("good data not ACKed")
    # 3. out-of-window data: an ACK for RCV.NXT, nothing else
    r.send(nxt + 1000000000, irs + 1, 0x18, b"FAR!")
    x = r.recv_ctl(1)
    if not x or x[1] != nxt or x[2] & 0x04:
        fails.append("out-of-window segment not answered by an ACK: %r" % (x,))
    # 4. RST in window but not at RCV.NXT: challenge ACK, connection lives
    r.send(nxt + 100, 0, 0x04)
    x = r.recv_ctl(1)
    if not x or x[1] != nxt or x[2] != 0x10:
        fails.append("no challenge ACK for in-window RST: %r" % (x,))
    # 5. SYN on a synchronized connection: challenge ACK
    r.send(nxt + 5, 0, 0x02)
    x = r.recv_ctl(1)
    if not x or x[1] != nxt or x[2] != 0x10:
        fails.append("no challenge ACK for SYN: %r" % (x,))
    # 6. still alive: more data is ACKed
    r.send(nxt, irs + 5, 0x18, b"MORE")  # also ACKs the echoed GOOD
    nxt += 4
    x = r.recv(1)
    while x and x[1] != nxt:
        x = r.recv(1)
    if not x:
        fails.append("connection died after challenge ACKs")
    # 7. RST exactly at RCV.NXT: the connection is reset (C side checks)
    r.send(nxt, 0, 0x04)
    time.sleep(0.2)
    # 8. an ACK for no connection gets a RST
    r.send(5555, 7777, 0x10, sport=40101)
    x = None
    end = time.time() + 1
    while time.time() < end:
        try:
            pkt = r.s.recv(4096)
        except socket.timeout:
            break
        t = pkt[(pkt[0] & 0xF) * 4:]
        sp, dp, seq = struct.unpack("!HHI", t[:8])
        if sp == port and dp == 40101:
            x = (seq, t[13])
            break
    if not x or x[0] != 7777 or not x[1] & 0x04:
        fails.append("no RST for a stray ACK: %r" % (x,))
    for f in fails:
        log("FAIL:", f)
    return 1 if fails else 0


def flood(ip, port, nsyn):
    src = ip.rsplit(".", 1)[0] + ".1"
    nft_drop_rst("20000-29999")
    r = Raw(src, ip, 20000, port)
    t0 = time.time()
    for i in range(nsyn):
        r.send(random.getrandbits(32), 0, 0x02,
               opts=struct.pack("!BBH", 2, 4, 1460), sport=20000 + i % 10000)
    log("sent %d SYNs in %.2f s" % (nsyn, time.time() - t0))
    errors = []
    ths = [threading.Thread(target=echo_one, args=(ip, port, 200000, errors))
           for _ in range(4)]
    for t in ths:
        t.start()
    for i in range(nsyn):  # keep the flood going while clients connect
        r.send(random.getrandbits(32), 0, 0x02, sport=20000 + i % 10000)
    for t in ths:
        t.join()
    for e in errors:
        log("error:", e)
    return 1 if errors else 0


def main():
    m = sys.argv[1]
    a = sys.argv[2:]
    if m == "ping":
        return ping(a[0], int(a[1]))
    if m == "echo":
        return echo(a[0], int(a[1]), int(a[2]), int(a[3]))
    if m == "rst":
        return rst(a[0], int(a[1]))
    if m == "craft":
        return craft(a[0], int(a[1]))
    if m == "flood":
        return flood(a[0], int(a[1]), int(a[2]))
    log("unknown mode", m)
    return 2


if __name__ == "__main__":
    sys.exit(main())
