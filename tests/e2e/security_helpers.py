# SPDX-License-Identifier: Apache-2.0
"""Helpers for test_security.py: extra principals with access policies in the
credentials file, the audit log, and test PKI made with the openssl CLI."""

import http.client
import json
import os
import secrets
import string
import subprocess

import botocore.exceptions

import sluice_helpers as h

KEY_ALPHABET = string.ascii_uppercase + string.digits
SECRET_ALPHABET = string.ascii_letters + string.digits + '+/'


class Principal:
    """An access key with an optional policy (None: full access)."""

    def __init__(self, name, policy=None, absolute=False):
        self.name = name
        self.policy = policy
        self.absolute = absolute  # name the policy file by an absolute path
        self.key_id = 'AKIA' + ''.join(secrets.choice(KEY_ALPHABET) for _ in range(16))
        self.secret = ''.join(secrets.choice(SECRET_ALPHABET) for _ in range(40))

    def client(self, server, **kw):
        return server.client(key_id=self.key_id, secret=self.secret, **kw)


def policy(*statements):
    return {'Version': '2012-10-17', 'Statement': list(statements)}


def stmt(effect, action, resource):
    return {'Effect': effect, 'Action': action, 'Resource': resource}


def add_principals(server, principals, policy_dir=None):
    """Appends a profile per principal to the (stopped) server's credentials
    file; each policy goes to its own JSON file next to it (in policy_dir,
    named by its absolute path, for principals with absolute=True)."""
    assert not server.running(), 'stop the server before editing its credentials'
    lines = []
    for p in principals:
        lines += ['', '[%s]' % p.name, 'aws_access_key_id = %s' % p.key_id,
                  'aws_secret_access_key = %s' % p.secret]
        if p.policy is not None:
            fname = 'policy-%s.json' % p.name
            d = policy_dir if p.absolute else os.path.dirname(server.creds_file)
            path = os.path.join(d, fname)
            with open(path, 'w') as f:
                json.dump(p.policy, f, indent=1)
            lines.append('sluice_policy = %s' % (path if p.absolute else fname))
    with open(server.creds_file, 'a') as f:
        f.write('\n'.join(lines) + '\n')


def client_error(fn, *args, **kw):
    """Calls a boto3 method that must fail; returns (code, message, HTTP
    status)."""
    try:
        fn(*args, **kw)
    except botocore.exceptions.ClientError as e:
        err = e.response['Error']
        return (err.get('Code'), err.get('Message'),
                e.response['ResponseMetadata']['HTTPStatusCode'])
    raise AssertionError('%s succeeded; expected an error' % getattr(fn, '__name__', fn))


def denied_message(key_id, action, resource, explicit=False):
    why = ('an explicit deny in an identity-based policy' if explicit
           else 'no identity-based policy allows the action')
    return ('User: arn:aws:iam::%s:user/%s is not authorized to perform: kinesis:%s '
            'on resource: %s because %s' % (h.ACCOUNT, key_id, action, resource, why))


def stream_arn(name, region='us-east-1'):
    return 'arn:aws:kinesis:%s:%s:stream/%s' % (region, h.ACCOUNT, name)


# --- audit log ------------------------------------------------------------

def audit_path(server):
    return os.path.join(server.data_dir, 'audit.log')


def audit_lines(server):
    """Every line of DIR/audit.log parsed as JSON (a line that is not JSON
    fails the test)."""
    out = []
    with open(audit_path(server), 'rb') as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                raise AssertionError('audit.log line %d is not JSON: %r' % (n, line[:300]))
    return out


# --- PKI ------------------------------------------------------------------

def _openssl(*args, cwd):
    p = subprocess.run(['openssl'] + list(args), cwd=cwd, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, 'openssl %s failed:\n%s%s' % (' '.join(args), p.stdout, p.stderr)


def _newkey(kind):
    return ['-newkey', 'rsa:2048'] if kind == 'rsa' else \
        ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']


def make_ca(d, name, kind='ec'):
    """A self-signed CA in directory d: returns (cert path, key path)."""
    cert, key = os.path.join(d, name + '.pem'), os.path.join(d, name + '.key')
    _openssl('req', '-x509', *_newkey(kind), '-nodes', '-keyout', key, '-out', cert,
             '-days', '2', '-subj', '/CN=%s' % name,
             '-addext', 'basicConstraints=critical,CA:TRUE',
             '-addext', 'keyUsage=critical,keyCertSign,cRLSign', cwd=d)
    return cert, key


def make_cert(d, name, ca, kind='ec', client=False, san='IP:127.0.0.1'):
    """A leaf certificate signed by ca ((cert, key)): returns (cert, key)."""
    cert, key = os.path.join(d, name + '.pem'), os.path.join(d, name + '.key')
    csr = os.path.join(d, name + '.csr')
    ext = os.path.join(d, name + '.ext')
    with open(ext, 'w') as f:
        f.write('basicConstraints=CA:FALSE\n')
        if client:
            f.write('extendedKeyUsage=clientAuth\n')
        else:
            f.write('extendedKeyUsage=serverAuth\nsubjectAltName=%s\n' % san)
    _openssl('req', '-new', *_newkey(kind), '-nodes', '-keyout', key, '-out', csr,
             '-subj', '/CN=%s' % name, cwd=d)
    _openssl('x509', '-req', '-in', csr, '-CA', ca[0], '-CAkey', ca[1], '-CAcreateserial',
             '-out', cert, '-days', '2', '-extfile', ext, cwd=d)
    return cert, key


# --- HTTP on a connection the test keeps ----------------------------------

def signed_request(server, conn, target, body=b'{}', **sign_kw):
    """Sends one signed request on an open http.client connection (kept
    alive) and returns (status, parsed JSON body)."""
    method, path, hdrs, data = server.request_parts(target, body, **sign_kw)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in hdrs:
        conn.putheader(k, v)
    conn.endheaders(data)
    r = conn.getresponse()
    raw = r.read()
    return r.status, (json.loads(raw) if raw else None)


def https_conn(server, ctx, timeout_s=10):
    return http.client.HTTPSConnection(server.host, server.port, timeout=timeout_s, context=ctx)
