# SPDX-License-Identifier: Apache-2.0
"""Disk full, for real: the data directory is a small tmpfs this test mounts.

When the journal cannot get space, the records of that write fail with
InternalFailure (never acknowledged), the server keeps serving reads of what
was acknowledged, and writes succeed again once space returns."""

import os
import subprocess
import time

import pytest

pytestmark = pytest.mark.kernel_only  # the tmpfs is mounted in this namespace


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / 'small'
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    rc = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=96m', 'tmpfs', str(mnt)],
                        capture_output=True)
    if rc.returncode != 0:
        pytest.skip('cannot mount a tmpfs here: %s' % rc.stderr.decode().strip())
    try:
        yield mnt
    finally:
        subprocess.run(['umount', '-l', str(mnt)], capture_output=True)


def fill(path, mib):
    with open(path, 'wb') as f:
        f.write(b'\0' * (mib << 20))
        f.flush()
        os.fsync(f.fileno())


def test_disk_full_fails_writes_keeps_reads_and_recovers(server_factory, small_fs):
    data = str(small_fs / 'data')
    srv = server_factory(data_dir=data, extra_args=['--segment-mib', '16'])
    k = srv.client()
    k.create_stream(StreamName='full', ShardCount=1)
    for _ in range(50):
        if k.describe_stream_summary(StreamName='full')['StreamDescriptionSummary'][
                'StreamStatus'] == 'ACTIVE':
            break
        time.sleep(0.1)
    acked = []
    payload = os.urandom(64 << 10)
    # Leave the journal little room: a filler file takes most of the rest.
    st = os.statvfs(str(small_fs))
    free_mib = st.f_bavail * st.f_frsize >> 20
    filler = str(small_fs / 'filler')
    fill(filler, max(free_mib - 24, 1))
    failed = None
    for i in range(400):  # bounded: ~400 x 64 KiB x 8 = 200 MiB at most
        r = k.put_records(StreamName='full', Records=[
            {'Data': payload, 'PartitionKey': 'p%d' % j} for j in range(8)])
        for e in r['Records']:
            if 'SequenceNumber' in e:
                acked.append(e['SequenceNumber'])
            else:
                failed = e
        if failed:
            break
    assert failed is not None, 'the disk never filled up'
    assert failed['ErrorCode'] == 'InternalFailure', failed
    assert acked, 'nothing was acknowledged before the disk filled'
    # Reads still work and return exactly what was acknowledged so far.
    it = k.get_shard_iterator(StreamName='full', ShardId='shardId-000000000000',
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    seen = []
    for _ in range(100):
        g = k.get_records(ShardIterator=it, Limit=1000)
        seen += [x['SequenceNumber'] for x in g['Records']]
        it = g['NextShardIterator']
        if not g['Records']:
            break
    assert seen[:len(acked)] == acked
    # Space returns: writes succeed again (bounded retries while the journal
    # rolls to a fresh segment).
    os.unlink(filler)
    ok = False
    for _ in range(50):
        r = k.put_records(StreamName='full', Records=[{'Data': b'again', 'PartitionKey': 'a'}])
        if r['FailedRecordCount'] == 0:
            ok = True
            break
        time.sleep(0.2)
    assert ok, 'writes did not recover after space was freed'
    # And what was acknowledged before is still there after a restart.
    srv.stop()
    srv.start()
    k = srv.client()
    it = k.get_shard_iterator(StreamName='full', ShardId='shardId-000000000000',
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    again = []
    for _ in range(200):
        g = k.get_records(ShardIterator=it, Limit=1000)
        again += [x['SequenceNumber'] for x in g['Records']]
        it = g['NextShardIterator']
        if not g['Records']:
            break
    assert again[:len(acked)] == acked
