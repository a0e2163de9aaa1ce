# SPDX-License-Identifier: Apache-2.0
"""TLS policy (1.2 with forward-secret AEAD suites, 1.3), ALPN, the
generated CA and certificate, and the modes of secret files."""

import os
import socket
import ssl
import stat
import subprocess

import pytest

import sluice_helpers as h


def s_client(server, *args):
    cmd = ['openssl', 's_client', '-connect', server.host_header(),
           '-CAfile', server.ca, '-verify_return_error', '-verify_ip', server.host] + list(args)
    p = subprocess.run(cmd, input=b'', capture_output=True, timeout=20)
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def established(out):
    return 'Verify return code: 0 (ok)' in out and 'Cipher is (NONE)' not in out


def test_tls11_refused(server):
    rc, out = s_client(server, '-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0')
    assert rc != 0 and not established(out), out


def test_tls12_non_forward_secret_refused(server):
    for cipher in ['AES128-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA']:
        rc, out = s_client(server, '-tls1_2', '-cipher', cipher + ':@SECLEVEL=0')
        assert rc != 0 and not established(out), (cipher, out)


@pytest.mark.smoke
def test_tls12_ecdhe_ecdsa_gcm_accepted(server):
    rc, out = s_client(server, '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256')
    assert rc == 0 and established(out), out
    assert 'Cipher is ECDHE-ECDSA-AES128-GCM-SHA256' in out, out
    assert 'Protocol  : TLSv1.2' in out or 'TLSv1.2' in out, out


@pytest.mark.smoke
def test_tls13_accepted(server):
    rc, out = s_client(server, '-tls1_3')
    assert rc == 0 and established(out), out
    assert 'TLSv1.3' in out, out


def test_alpn_http11(server):
    rc, out = s_client(server, '-alpn', 'http/1.1')
    assert rc == 0 and established(out), out
    assert 'ALPN protocol: http/1.1' in out, out
    ctx = h.tls_context(server.ca)
    ctx.set_alpn_protocols(['http/1.1'])
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=server.host) as t:
            assert t.selected_alpn_protocol() == 'http/1.1'


@pytest.mark.smoke
def test_certificate_verifies_for_127_0_0_1(server):
    ctx = h.tls_context(server.ca)
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname='127.0.0.1') as t:
            cert = t.getpeercert()
            assert ('IP Address', '127.0.0.1') in cert.get('subjectAltName', ()), cert
            assert t.version() in ('TLSv1.2', 'TLSv1.3')
    p = subprocess.run(['openssl', 'verify', '-CAfile', server.ca,
                        os.path.join(server.data_dir, 'tls', 'server.pem')],
                       capture_output=True, text=True)
    assert p.returncode == 0 and ': OK' in p.stdout, p.stdout + p.stderr
    # And a client that does not trust our CA must fail.
    bad = ssl.create_default_context()
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            bad.wrap_socket(s, server_hostname='127.0.0.1')


@pytest.mark.smoke
def test_secret_file_modes(server):
    d = server.data_dir
    for rel in ['tls/ca.key', 'tls/server.key', 'credentials']:
        st = os.stat(os.path.join(d, rel))
        assert stat.S_IMODE(st.st_mode) == 0o600, '%s has mode %o' % (rel, stat.S_IMODE(st.st_mode))
    for rel in ['tls/ca.pem', 'tls/server.pem']:
        assert os.path.getsize(os.path.join(d, rel)) > 0, rel
    key_id, secret = h.read_credentials(server.creds_file)
    assert len(key_id) >= 16 and len(secret) >= 40, (len(key_id), len(secret))
