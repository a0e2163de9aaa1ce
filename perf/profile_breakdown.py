#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Where sluiced's CPU goes, per ingested MB, from a `perf record -e cpu-clock`
profile (perf/profile.sh). libcrypto on Debian has no symbols, so its samples
are classified by the instructions around the sampled address (sha256rnds2:
SHA-256 with SHA-NI, i.e. the SigV4 body hash; vaes*/aes*: AES-GCM, i.e. TLS
record decryption).

usage: profile_breakdown.py PERF_DATA SAMPLE_HZ SECONDS PAYLOAD_MB_PER_S
"""
import bisect
import re
import subprocess
import sys

CATS = [  # (category, regexp over "comm dso symbol"), first match wins
    ('SigV4 body SHA-256', r'^sha256'),
    ('TLS AES-GCM', r'^aes-gcm'),
    ('Blob validation (av_check_blob, scalar)', r' (av_get|av_check_blob|av_type_ok)$'),
    ('kernel: storage (ext4, block, nvme)', r'\[kernel\.kallsyms\] (ext4_\w+|iomap_\w+|'
     r'__iomap\w*|blk_\w+|__blk\w*|nvme_\w+|bio_\w+|submit_bio\w*|iowrite\w+|'
     r'jbd2\w*|dio_\w+)$'),
    ('log lcore (journal, CRC, copies)', r'^rte-worker'),
    ('JSON decode/encode', r' (parse_\w+|json_\w+|jw_\w+|jr_\w+|av_\w+|rec_\w+|'
                           r'__vfprintf_internal|_IO_\w+|__printf_\w+|snprintf|vsnprintf)$'),
    ('base64 decode', r' b64_\w+$'),
    ('routing MD5', r' (md5_\w+|route_\w+|rt_\w+)$'),
    ('sequence numbers', r' st_seq_\w+$'),
    ('copy (memmove/memcpy)', r' (__memmove\w*|__memcpy\w*|memcpy|memmove)$'),
    ('kernel: network (tcp/ip, recv, send)', r'\[kernel\.kallsyms\] (tcp_\w+|__tcp\w*|ip_\w+|'
     r'__ip\w*|sock_\w+|skb_\w+|__skb\w*|_copy_to_iter|copy_user\w*|'
     r'_copy_from_iter|__dev_queue\w*|net_\w+|__netif\w*|loopback\w*|'
     r'__sys_\w*|inet_\w+|io_recv|io_send\w*)$'),
    ('other kernel (scheduler, io_uring, irq)', r'\[kernel\.kallsyms\]'),
    ('libcrypto other', r'libcrypto'),
]


def crypto_classifier(lib):
    dis = subprocess.run(['objdump', '-d', '--no-show-raw-insn', lib], capture_output=True,
                         text=True).stdout
    ins = {}
    for line in dis.split('\n'):
        m = re.match(r'\s+([0-9a-f]+):\s+(\S+)', line)
        if m:
            ins[int(m.group(1), 16)] = m.group(2)
    addrs = sorted(ins)

    def classify(addr):
        i = bisect.bisect_left(addrs, addr)
        w = ' '.join(ins[a] for a in addrs[max(0, i - 40):i + 40])
        if 'sha256rnds2' in w or 'sha256msg' in w:
            return 'sha256'
        if re.search(r'\bv?aes(dec|enc)', w) or 'pclmul' in w:
            return 'aes-gcm'
        return None
    return classify


def main():
    data, hz, secs, mbps = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    rep = subprocess.run(['perf', 'report', '-i', data, '--no-children', '--sort',
                          'comm,dso,sym', '--stdio', '-g', 'none', '-F', 'sample,comm,dso,sym'],
                         capture_output=True, text=True).stdout
    lib = None
    rows = []
    for line in rep.split('\n'):
        m = re.match(r'\s+(\d+)\s+(\S+)\s+(\S+)\s+\[.\]\s+(\S+)', line)
        if not m:
            continue
        n, comm, dso, sym = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if 'libcrypto' in dso:
            lib = dso
        rows.append((n, comm, dso, sym))
    if lib and not lib.startswith('/'):
        ldd = subprocess.run(['ldconfig', '-p'], capture_output=True, text=True).stdout
        m = re.search(r'=> (\S*%s)' % re.escape(lib), ldd)
        lib = m.group(1) if m else None
    classify = crypto_classifier(lib) if lib else (lambda a: None)
    total = sum(r[0] for r in rows)
    acc = {}
    for n, comm, dso, sym in rows:
        key = '%s %s %s' % (comm, dso, sym)
        if 'libcrypto' in dso and sym.startswith('0x'):
            c = classify(int(sym, 16))
            if c:
                key = c + ' ' + key
        cat = 'other user space (sluiced, libc)'
        for name, rx in CATS:
            if re.search(rx, key):
                cat = name
                break
        acc[cat] = acc.get(cat, 0) + n
    cpu_s = total / hz
    mb = mbps * secs
    print('samples %d (%.2f CPU-s over %.1f s), %.0f MB ingested: %.2f CPU-ms per MB'
          % (total, cpu_s, secs, mb, 1000 * cpu_s / mb if mb else 0))
    print('| where | share | CPU-ms per ingested MB |')
    print('|---|---|---|')
    for cat, n in sorted(acc.items(), key=lambda x: -x[1]):
        print('| %s | %.1f%% | %.3f |' % (cat, 100.0 * n / total,
                                          1000 * n / hz / mb if mb else 0))


if __name__ == '__main__':
    main()
