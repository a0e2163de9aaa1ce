# SPDX-License-Identifier: Apache-2.0
"""sluiced's signal dispositions from its first instant: SIGPIPE is
ignored before anything can write to a socket (a peer that goes away mid-
write must give EPIPE, not kill the process). The control plane's etcd
client writes to a socket inside cp_start, so the check is made while
sluiced waits there on a fake etcd that accepts and never answers."""

import os
import signal
import socket
import subprocess
import time

import pytest

import sluice_helpers as h

pytestmark = pytest.mark.kernel_only(reason='reads the kernel-transport process directly')


def ignored_signals(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('SigIgn:'):
                return int(line.split()[1], 16)
    raise AssertionError('no SigIgn in /proc/%d/status' % pid)


def test_sigpipe_ignored_before_the_control_plane_starts(tmp_path):
    lsn = socket.socket()
    lsn.bind(('127.0.0.1', 0))
    lsn.listen(4)
    lsn.settimeout(60)  # generous: the ASan build is slow to reach cp_start
    port = lsn.getsockname()[1]
    log = open(str(tmp_path / 'sluiced.log'), 'wb')
    proc = subprocess.Popen([h.default_binary(), '--listen', '127.0.0.1:0', '--data-dir',
                             str(tmp_path / 'd'), '--metadata',
                             'etcd=http://127.0.0.1:%d' % port, '--etcd-timeout-ms', '60000'],
                            stdout=log, stderr=log)
    conn = None
    try:
        # it connects from inside cp_start and waits there for an answer
        conn, _ = lsn.accept()
        assert proc.poll() is None
        mask = ignored_signals(proc.pid)
        assert mask & (1 << (signal.SIGPIPE - 1)), 'SigIgn %x: SIGPIPE not ignored' % mask
    finally:
        if conn:
            conn.close()
        lsn.close()
        # no etcd: the start fails (within the etcd timeout), or we end it
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
