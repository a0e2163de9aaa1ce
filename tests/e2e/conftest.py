# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the sluice end-to-end suite.

`server`         one sluiced for the whole session (127.0.0.1:0, temp data dir,
                 short lifecycle delays); stopped with SIGTERM at the end, and
                 the test run fails unless it exits 0 within 10 s.
`server_factory` starts extra, separate servers for one test (restarts, small
                 limits); each is stopped the same way when the test ends.

The binary is $SLUICED, else build/sluiced. On a failing test the tail of the
log of every server that test touched is attached to the report."""

import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sluice_helpers as h  # noqa: E402

BASE_ARGS = ['--create-delay-ms', '300', '--delete-delay-ms', '300',
             '--request-timeout-ms', '2000', '--log-level', 'info']


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
                       (BASE_ARGS if base_args else []) + list(extra_args),
                       name='%s%d' % (self.name, len(self.servers)))
        self.servers.append(srv)
        if start:
            srv.start()
        return srv

    def close(self):
        """Stops what is still running; returns a list of complaints."""
        bad = []
        for srv in self.servers:
            if srv.running():
                rc = srv.stop(10.0, signal.SIGTERM)
                if rc != 0:
                    bad.append('%s exited with %r after SIGTERM (want 0 within 10 s)\n%s'
                               % (srv.name, rc, srv.log_tail()))
        return bad


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
