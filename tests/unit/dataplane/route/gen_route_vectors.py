#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes routing test vectors computed by Python (hashlib, int), the oracle.

    H <hex key> <md5 hex> <md5 as decimal u128>
    S <n> <i> <start decimal> <end decimal>   CreateStream's even split
"""
import hashlib
import random
import sys


def main(out):
    rnd = random.Random(20131202)
    keys = [b'', b'a', b'b', b'e', b'f', b'abc', b'message digest',
            b'partition-key-1', 'ключ-☃'.encode(), b'\x00\xff' * 3,
            b'x' * 55, b'x' * 56, b'x' * 63, b'x' * 64, b'x' * 65, b'y' * 1024]
    for n in range(200):
        keys.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(300))))
    lines = []
    for k in keys:
        d = hashlib.md5(k).digest()
        lines.append('H %s %s %d' % (k.hex() or '-', d.hex(), int.from_bytes(d, 'big')))
    top = 1 << 128
    for n in (1, 2, 3, 7, 10000):
        step = top // n
        idx = range(n) if n < 100 else (0, 1, 2, 4999, 9998, 9999)
        for i in idx:
            end = top - 1 if i == n - 1 else step * (i + 1) - 1
            lines.append('S %d %d %d %d' % (n, i, step * i, end))
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main(sys.argv[1])
