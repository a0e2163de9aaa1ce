# SPDX-License-Identifier: Apache-2.0
"""The data and keys directories: tightened to 0700 whatever mode they had,
and the keys (master, data, iterator) kept outside the data directory with
--keys-dir, so a copy of the data disk holds only ciphertext."""

import os
import stat

import pytest

import sluice_helpers as h


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_dir_tightened(server_factory):
    """An existing 0777 data directory is tightened to 0700 (and said so)."""
    srv = server_factory(start=False)
    os.makedirs(srv.data_dir)
    os.chmod(srv.data_dir, 0o777)
    srv.start()
    assert mode(srv.data_dir) == 0o700
    assert 'tightened to 0700' in srv.log_tail()
    # Still a working server.
    assert 'StreamNames' in srv.client().list_streams()


def test_keys_dir_outside_data_dir(server_factory, tmp_path):
    keys = str(tmp_path / 'keys')
    os.makedirs(keys)
    os.chmod(keys, 0o755)
    srv = server_factory(extra_args=['--keys-dir', keys])
    assert mode(keys) == 0o700
    c = srv.client()
    name = h.uniq('kd')
    h.create_active(c, name)
    sent = [('rec-%d' % i).encode() for i in range(20)]
    for d in sent:
        c.put_record(StreamName=name, Data=d, PartitionKey='k')

    # No key material under the data directory; all of it in --keys-dir,
    # every file 0600.
    for root, _dirs, files in os.walk(srv.data_dir):
        for f in files:
            assert f not in ('masters', 'iterator.key'), os.path.join(root, f)
    assert os.path.exists(os.path.join(keys, 'masters'))
    assert os.path.exists(os.path.join(keys, 'iterator.key'))
    for root, _dirs, files in os.walk(keys):
        for f in files:
            assert mode(os.path.join(root, f)) == 0o600, os.path.join(root, f)

    # A restart with the same keys reads everything back.
    assert srv.stop() == 0
    srv.start()
    got = read_all(srv.client(), name)
    assert got == sent

    # Without the keys directory the server refuses to start rather than
    # minting new master keys (which would leave the stream unreadable).
    assert srv.stop() == 0
    srv.args = [a for a in srv.args if a not in ('--keys-dir', keys)]
    with pytest.raises(AssertionError, match='exited'):
        srv.start(timeout_s=10)
    assert 'has no master keys' in srv.log_tail()
    assert not os.path.exists(os.path.join(srv.data_dir, 'keys', 'masters'))


def read_all(c, name):
    it = c.get_shard_iterator(StreamName=name, ShardId=h.shard_id(0),
                              ShardIteratorType='TRIM_HORIZON')['ShardIterator']
    out = []
    for _ in range(20):
        r = c.get_records(ShardIterator=it)
        out += [x['Data'] for x in r['Records']]
        if r.get('MillisBehindLatest', 0) == 0 and not r['Records']:
            break
        it = r['NextShardIterator']
    return out
