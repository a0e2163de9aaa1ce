# SPDX-License-Identifier: Apache-2.0
"""A quiet subscription is woken by its shard's new records (issue #16
item 4): its poll waits on the log lcore (--sub-wait-ms) and is answered as
soon as the records are durable, instead of at the io lcore's next poll.

The io lcore's poll interval is set to 10 s (--sub-poll-ms) so that a
subscription that polled would deliver each record seconds after the
PutRecord answer; woken, it comes well within 4 s (a few ms here; the bound
leaves room for the ASan build on a loaded machine). With --sub-wait-ms 0
(the polling this replaced) the first assertion fails. While the shard stays
quiet, heartbeat events still come about every second."""

import threading
import time

import pytest

import records_helpers as rh
import sluice_helpers as h

pytestmark = pytest.mark.kernel_only

LATE_S = 4.0  # woken: milliseconds; polled every 10 s: seconds


class Sub(threading.Thread):
    """One subscription: when each event and each record arrived."""

    def __init__(self, srv, carn, shard, want):
        super().__init__(daemon=True)
        self.k, self.carn, self.shard, self.want = srv.client(), carn, shard, want
        self.first = threading.Event()
        self.events, self.arrived, self.err = [], {}, None

    def run(self):
        try:
            resp = self.k.subscribe_to_shard(ConsumerARN=self.carn, ShardId=self.shard,
                                             StartingPosition={'Type': 'LATEST'})
            deadline = time.monotonic() + 90
            for ev in resp['EventStream']:
                now = time.monotonic()
                self.events.append(now)
                self.first.set()
                for r in ev.get('SubscribeToShardEvent', {}).get('Records', []):
                    self.arrived[r['SequenceNumber']] = now
                if len(self.arrived) >= self.want or now > deadline:
                    break
            resp['EventStream'].close()
        except Exception as e:  # reported by the test
            self.err = e
        finally:
            self.first.set()


def test_quiet_subscription_gets_records_at_once(server_factory):
    srv = server_factory(extra_args=['--sub-poll-ms', '10000'])
    c = srv.client()
    name = h.uniq('wake')
    h.create_active(c, name, 1)
    sarn = c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
    carn = c.register_stream_consumer(StreamARN=sarn, ConsumerName='w')[
        'Consumer']['ConsumerARN']
    rh.wait_until(lambda: c.describe_stream_consumer(ConsumerARN=carn)[
        'ConsumerDescription']['ConsumerStatus'] == 'ACTIVE', 10.0, what='consumer ACTIVE')
    n = 4
    sub = Sub(srv, carn, 'shardId-000000000000', n)
    sub.start()
    # The first event: the LATEST position is resolved.
    assert sub.first.wait(30), 'no first event within 30 s'
    assert sub.err is None, sub.err
    # Quiet for a while: heartbeats keep coming (a poll that waited is
    # answered empty when its time is up, and the io lcore sends an event
    # at least every second).
    time.sleep(4.5)
    quiet = [t for t in sub.events if t > sub.events[0]]
    assert len(quiet) >= 2, ('heartbeats while quiet', sub.events)
    late = []
    for i in range(n):
        r = c.put_record(StreamName=name, Data=b'wake%d' % i, PartitionKey='pk')
        answered = time.monotonic()
        seq = r['SequenceNumber']
        rh.wait_until(lambda: seq in sub.arrived or sub.err is not None, 30.0,
                      what='record %d pushed' % i)
        assert sub.err is None, sub.err
        late.append(sub.arrived[seq] - answered)
        time.sleep(0.3)
    assert max(late) < LATE_S, ('put -> event (s)', late)
    sub.join(30)
    assert not sub.is_alive()
    assert sub.err is None, sub.err
