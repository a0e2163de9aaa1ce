# SPDX-License-Identifier: Apache-2.0
"""The AWS SDKs for Go, v2 and v1, from Debian (golang-github-aws-aws-sdk-go-
v2-dev, golang-github-aws-aws-sdk-go-dev), against sluice. No Go module proxy
is reachable in CI, so tests/go/* build in GOPATH mode (GO111MODULE=off)
with Debian's /usr/share/gocode on GOPATH. Each program creates a stream,
PutRecords, reads every shard back with GetRecords and prints JSON; it is
configured only through the environment, as the README tells Go users
(credentials file, region, and the CA through AWS_CA_BUNDLE or
SSL_CERT_FILE: TLS is verified)."""

import json
import os
import shutil
import subprocess
import time

import pytest

import sluice_helpers as h
from sluice_helpers import uniq

GO = shutil.which('go')
GOCODE = '/usr/share/gocode'
PROGRAMS = {'v2': 'kinesis_v2', 'v1': 'kinesis_v1'}

pytestmark = [
    pytest.mark.kernel_only('compiling the SDKs again adds nothing over DPDK'),
    pytest.mark.skipif(not GO, reason='go is not installed (Debian golang-go)'),
    pytest.mark.skipif(
        not os.path.isdir(os.path.join(GOCODE, 'src/github.com/aws/aws-sdk-go-v2/service/kinesis'))
        or not os.path.isdir(os.path.join(GOCODE, 'src/github.com/aws/aws-sdk-go/service/kinesis')),
        reason='Debian golang-github-aws-aws-sdk-go-v2-dev / golang-github-aws-aws-sdk-go-dev '
               'are not installed'),
]


@pytest.fixture(scope='module')
def go_bins(tmp_path_factory):
    """Both programs, built once per module. The build cache is $GOCACHE
    when set (tests/run.sh points it into its work directory, so the ASan
    e2e run reuses the first run's compile), else the test's temporary
    directory: nothing outside them is written."""
    tmp = tmp_path_factory.mktemp('go')
    cache = os.environ.get('GOCACHE') or str(tmp / 'cache')
    env = dict(os.environ, GO111MODULE='off', GOFLAGS='', GOCACHE=cache,
               GOPATH='%s:%s' % (tmp / 'gopath', GOCODE), CGO_ENABLED='0')
    t0 = time.monotonic()
    r = subprocess.run([GO, 'build', '-o', str(tmp / 'bin') + '/'] +
                       ['./' + p for p in PROGRAMS.values()],
                       cwd=os.path.join(h.REPO, 'tests', 'go'), env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    print('go build of both SDK programs: %.1f s' % (time.monotonic() - t0))
    return {v: str(tmp / 'bin' / p) for v, p in PROGRAMS.items()}


def run_go(server, binary, stream, n, ca_env, tmp_path):
    # Only what a user would set; HOME is empty so no ~/.aws applies.
    env = {'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path),
           'AWS_SHARED_CREDENTIALS_FILE': server.creds_file, 'AWS_REGION': 'us-east-1',
           'SLUICE_ENDPOINT': server.endpoint}
    if ca_env:
        env[ca_env] = server.ca
    return subprocess.run([binary, stream, str(n)], env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.mark.parametrize('sdk,ca_env', [('v2', 'AWS_CA_BUNDLE'), ('v2', 'SSL_CERT_FILE'),
                                        ('v1', 'AWS_CA_BUNDLE'), ('v1', 'SSL_CERT_FILE')])
def test_go_sdk_round_trip(server, go_bins, tmp_path, sdk, ca_env):
    name, n = uniq('go' + sdk), 50
    r = run_go(server, go_bins[sdk], name, n, ca_env, tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res['stream'] == name and name in res['streamNames']
    assert res['put'] == n and res['failedPut'] == 0
    prefix = 'go-%s record ' % sdk
    got = {rec['partitionKey']: rec for rec in res['records']}
    assert len(res['records']) == n
    assert set(got) == {'pk-%d' % i for i in range(n)}
    for i in range(n):
        assert got['pk-%d' % i]['data'] == prefix + str(i)
    assert sorted(res['putSeqs']) == sorted(rec['sequenceNumber'] for rec in res['records'])
    # The records sit where Kinesis's hash routing puts them (both shards).
    assert {rec['shard'] for rec in res['records']} == \
        {'shardId-000000000000', 'shardId-000000000001'}
    # And boto3 sees what Go wrote.
    k = server.client()
    assert k.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'][
        'OpenShardCount'] == 2


@pytest.mark.parametrize('sdk', ['v2', 'v1'])
def test_go_sdk_verifies_tls(server, go_bins, tmp_path, sdk):
    """Without the CA the SDKs refuse sluice's certificate."""
    r = run_go(server, go_bins[sdk], uniq('go'), 1, None, tmp_path)
    assert r.returncode != 0
    assert 'x509' in r.stderr or 'certificate' in r.stderr, r.stderr[-2000:]
