# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the sluice end-to-end suite.

`server`         one sluiced for the whole session (127.0.0.1:0, temp data dir,
                 short lifecycle delays); stopped with SIGTERM at the end, and
                 the test run fails unless it exits 0 within 10 s.
`server_factory` starts extra, separate servers for one test (restarts, small
                 limits); each is stopped the same way when the test ends.

The binary is $SLUICED, else build/sluiced. On a failing test the tail of the
log of every server that test touched is attached to the report.

SLUICE_E2E_ETCD=http://HOST:PORT runs every server with its metadata in that
etcd (--metadata etcd=URL), each under its own cluster prefix (etcd_args).

SLUICE_TRANSPORT=dpdk runs every server over DPDK (af_packet on a veth) in a
network namespace of its own; pytest must then run in a client namespace
(tests/run.sh does that, see dpdk_net.py). Tests marked `kernel_only` (or
listed in KERNEL_ONLY below) are deselected in that mode; test_dpdk.py
skips itself in the kernel mode."""

import os
import atexit
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sluice_helpers as h  # noqa: E402

# Tests that cannot work over DPDK, with the reason (deselected in DPDK mode
# as if marked kernel_only; the test files are not ours to edit).
KERNEL_ONLY = {
    # The audit record's source must be '127.0.0.1:PORT'.
    'test_security.py::test_audit_log': 'asserts the audit source is 127.0.0.1',
    # Certificates from security_helpers.make_cert name only IP:127.0.0.1,
    # so clients cannot verify them against 10.99.K.2.
    'test_security.py::test_tls_reload_on_sighup': 'its certificates name only 127.0.0.1',
    'test_security.py::test_sslscan_default_and_rsa': 'its RSA certificate names only '
                                                      '127.0.0.1',
}

# Files whose subject does not depend on the transport (metadata, quotas,
# storage, the server's own client threads, other clients' SDK set-up): they
# run in suites e2e and e2e-asan, and the DPDK suites deselect them to keep
# the whole run well under 30 minutes (SLUICE_DPDK_ALL=1 keeps them). What
# the transport carries differently (bodies, pipelining, HTTP/2, event
# streams, many connections, TLS, loss) stays in the DPDK suites.
DPDK_REDUNDANT = {
    'test_mirror.py': 'mirror thread and its checkpoints (upstream on loopback)',
    'test_channel_delivery.py': 'delivery thread to S3 on loopback',
    'test_go.py': 'Go SDK set-up; its requests are HTTP/1.1 like boto3\'s',
    'test_etcd.py': 'metadata store on etcd',
    'test_quotas.py': 'quota arithmetic on the log lcore',
    'test_lifecycle.py': 'control-plane state machine',
    'test_seqnum.py': 'sequence-number layout',
    'test_resource_policy.py': 'policy evaluation',
    'test_crash.py': 'journal recovery after kill -9',
    'test_damage.py': 'journal damage handling',
    'test_restart.py': 'data directory across restarts',
    'test_shards10k.py': 'shard tables and checkpoints',
    'test_prometheus.py': 'the admin listener is a kernel socket in both modes',
    'test_status_page.py': 'the admin listener is a kernel socket in both modes',
    'test_loadgen_subscribe.py': 'the load generator\'s parser',
    'test_reshard.py': 'shard maps and resharding (control plane, log lcores)',
    'test_iterators.py': 'shard iterator positions and encoding (log lcores)',
    'test_pagination.py': 'the control plane\'s pagination tokens',
}

# Tests the e2e-asan suite (SLUICE_E2E_ASAN=1, set by tests/run.sh) leaves
# to e2e: their time goes to a client or to waiting, and the server code
# they reach is run under ASan by other tests (SLUICE_E2E_ASAN=all keeps
# them).
ASAN_REDUNDANT = {
    'test_go.py': 'Go SDK builds and runs; server paths as boto3 and the JS SDK reach them',
    'test_browser.py': 'Chromium; CORS answers are covered by test_cors.py',
    'test_prometheus.py': 'a Prometheus server; /metrics is covered by test_metrics.py',
    'test_loadgen_subscribe.py': 'the load generator\'s parser (unit-asan and fuzz_lg_sub)',
    'test_mirror.py::test_mirror_through_a_cut_link': 'waits out two 15 s I/O timeouts; '
                                                       'the other mirror tests run under ASan',
    # a process of /usr/bin/aws per call (about a second each): the requests
    # are the ones boto3 sends under ASan in the same files
    'test_lifecycle.py::test_cli_lifecycle': 'aws CLI and its waiters',
    'test_records.py::test_aws_cli_put_record_get_records': 'aws CLI',
    'test_seqnum.py::test_aws_cli': 'aws CLI',
}

BASE_ARGS = ['--create-delay-ms', '300', '--delete-delay-ms', '300',
             '--request-timeout-ms', '2000', '--log-level', 'info']


def etcd_args():
    """SLUICE_E2E_ETCD=http://HOST:PORT runs every server on the etcd
    metadata store (--metadata etcd=URL), each under a cluster prefix of its
    own, so the suite checks the etcd backend end to end. Unset: SQLite."""
    url = os.environ.get('SLUICE_E2E_ETCD')
    if not url:
        return []
    return ['--metadata', 'etcd=' + url, '--etcd-cluster', 'e2e-' + os.urandom(8).hex()]


class Factory:
    """Starts servers with separate data dirs; stops them all at close()."""

    def __init__(self, tmp_path_factory, name):
        self.tmp = tmp_path_factory
        self.name = name
        self.servers = []

    def new_dir(self):
        return str(self.tmp.mktemp(self.name) / 'data')

    def __call__(self, data_dir=None, extra_args=(), start=True, base_args=True):
        srv = h.Server(h.default_binary(), data_dir or self.new_dir(),
                       (BASE_ARGS + etcd_args() if base_args else []) + list(extra_args),
                       name='%s%d' % (self.name, len(self.servers)))
        self.servers.append(srv)
        if start:
            srv.start()
        return srv

    def close(self):
        """Stops what is still running; returns a list of complaints."""
        bad = []
        for srv in self.servers:
            try:
                if srv.running():
                    rc = srv.stop(10.0, signal.SIGTERM)
                    if rc != 0:
                        bad.append('%s exited with %r after SIGTERM (want 0 within 10 s)\n%s'
                                   % (srv.name, rc, srv.log_tail()))
            finally:
                srv.destroy_net()  # DPDK mode only
        return bad


def _kill_leftovers():
    """atexit: no sluiced outlives pytest (DPDK mode: nor its namespace)."""
    for srv in h.ALL_SERVERS:
        try:
            if srv.running():
                srv.stop(5.0, signal.SIGKILL)
        except Exception:
            pass
        srv.destroy_net()


atexit.register(_kill_leftovers)


def pytest_configure(config):
    config.addinivalue_line('markers', 'kernel_only(reason): cannot work over the DPDK '
                            'transport; deselected when SLUICE_TRANSPORT=dpdk')
    config.addinivalue_line('markers', 'dpdk: the DPDK transport\'s own tests (test_dpdk.py)')
    config.addinivalue_line('markers', 'ip6: IPv6/ND/VLAN over the DPDK transport '
                            '(test_dpdk_ip6.py; suite e2e-dpdk-ip6 runs these and the smoke set)')
    if h.DPDK:
        import dpdk_net
        try:
            dpdk_net.require_client_netns()
        except dpdk_net.NetError as e:
            raise pytest.UsageError(str(e))


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        # DPDK mode: audit records name the client as 10.99.K.1:PORT, not
        # 127.0.0.1:PORT; test_security's pattern for them follows.
        if h.DPDK and getattr(item.module, 'PORT_RE', None) == r'127\.0\.0\.1:\d{1,5}':
            item.module.PORT_RE = r'10\.99\.\d{1,3}\.1:\d{1,5}'
            if os.environ.get('SLUICE_DPDK_IP6') == '1':  # fd00:99:K::1
                item.module.PORT_RE = r'\[fd00:99:[0-9a-f]{1,2}::1\]:\d{1,5}'

        base = item.nodeid.split('[')[0].rsplit('/', 1)[-1]
        if base in KERNEL_ONLY:
            item.add_marker(pytest.mark.kernel_only(reason=KERNEL_ONLY[base]))
        only_kernel = item.get_closest_marker('kernel_only') is not None
        redundant = (h.DPDK and base.split('::')[0] in DPDK_REDUNDANT
                     and os.environ.get('SLUICE_DPDK_ALL') != '1')
        redundant = redundant or (os.environ.get('SLUICE_E2E_ASAN') == '1'
                                  and (base in ASAN_REDUNDANT
                                       or base.split('::')[0] in ASAN_REDUNDANT))
        (drop if (h.DPDK and only_kernel) or redundant else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope='session')
def server(tmp_path_factory):
    f = Factory(tmp_path_factory, 'session')
    srv = f()
    yield srv
    bad = f.close()
    assert not bad, '\n'.join(bad)


@pytest.fixture
def server_factory(tmp_path_factory):
    f = Factory(tmp_path_factory, 'extra')
    yield f
    bad = f.close()
    assert not bad, '\n'.join(bad)


@pytest.fixture(scope='module')
def module_server_factory(tmp_path_factory):
    f = Factory(tmp_path_factory, 'module')
    yield f
    bad = f.close()
    assert not bad, '\n'.join(bad)


@pytest.fixture
def kinesis(server):
    """A boto3 client for the session server."""
    return server.client()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    start = getattr(item, '_sluice_t0', 0.0)
    for srv in h.ALL_SERVERS:
        if srv.running() or srv.started_at >= start:
            rep.sections.append(('sluiced log (%s, %s)' % (srv.name, srv.log_path),
                                 srv.log_tail(8000)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    import time
    item._sluice_t0 = time.time()
