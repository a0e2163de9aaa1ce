# SPDX-License-Identifier: Apache-2.0
"""Network namespaces and veth pairs for the e2e suite's DPDK mode
(SLUICE_TRANSPORT=dpdk).

pytest itself runs inside a client namespace (tests/run.sh makes it with
`ip netns exec sl-e2e-cli-TAG`). Each DPDK server gets a ServerNet: its own
namespace sl-e2e-TAG-K and a veth pair made here in the client namespace,
slcK (10.99.K.1/24, stays with us) and slsK (moved into the server namespace,
no address: sluiced drives it through DPDK's af_packet PMD as 10.99.K.2).

SLUICE_DPDK_IP6=1 makes every server dual stack (--dpdk-ip6 fd00:99:K::2/64,
the client side fd00:99:K::1/64) and points clients at [fd00:99:K::2]. A
ServerNet made with vlan=V puts the client's addresses on a VLAN
sub-interface slcK.V (tags in the frames) and runs sluiced with
--dpdk-vlan V.

Only 10.99.0.0/16 and interfaces made here are touched, and only from inside
a network namespace that is not the host's: require_client_netns() refuses
to run in the initial one. Everything is removed by ServerNet.destroy(), and
by an atexit hook for whatever a crash left behind."""

import atexit
import os
import re
import signal
import subprocess
import threading
import time

PREFIX = 'sl-e2e-'
# run.sh passes its pid so it can find (and delete) what this run made.
TAG = os.environ.get('SLUICE_NETNS_TAG') or str(os.getpid())
MAX_K = 250
IP6 = os.environ.get('SLUICE_DPDK_IP6') == '1'

_lock = threading.Lock()
_next_k = 1
_live = {}  # K -> ServerNet


class NetError(AssertionError):
    pass


def run(*cmd, check=True, timeout_s=30):
    """Runs a command; raises NetError with its output when it fails."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       timeout=timeout_s, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise NetError('%s failed (%d): %s%s' % (' '.join(map(str, cmd)), p.returncode,
                                                 p.stdout, p.stderr))
    return p


def foreign_interfaces():
    """Interfaces in our network namespace that are neither lo nor one of
    our slcK: any means this is not a client namespace of ours (probably
    the host's), where nothing may be touched."""
    with open('/proc/net/dev') as f:
        names = [line.split(':', 1)[0].strip() for line in f if ':' in line]
    return [n for n in names if n != 'lo' and not re.fullmatch(r'slc\d+(\.\d+)?', n)]


def require_client_netns():
    """Raises NetError unless the DPDK mode can run here: root, `ip`, and a
    network namespace of our own (never the VM's interfaces)."""
    if os.geteuid() != 0:
        raise NetError('SLUICE_TRANSPORT=dpdk needs root (network namespaces, af_packet)')
    other = foreign_interfaces()
    if other:
        raise NetError('this network namespace has interfaces %s: ' % ', '.join(other) +
                       'SLUICE_TRANSPORT=dpdk: run pytest inside a client network namespace, '
                       'e.g. ip netns add sl-e2e-cli-1; ip -n sl-e2e-cli-1 link set lo up; '
                       'ip netns exec sl-e2e-cli-1 /usr/bin/python3 -m pytest tests/e2e '
                       '(tests/run.sh does this)')


def _sysctl_quiet(ns, *kv):
    """Best effort: no IPv6 chatter (router solicitations, DAD) on our
    links, which the userspace stack would only count and drop."""
    cmd = ['ip', 'netns', 'exec', ns, 'sysctl', '-qw'] if ns else ['sysctl', '-qw']
    run(*(cmd + list(kv)), check=False)


def _ip6_clients_on():
    """urllib3 (boto3, the AWS CLI) only makes IPv6 connections when it can
    bind ::1, which it tries once, at import; run.sh turns IPv6 off in the
    client namespace, lo included. On for lo (new processes see it), and
    this process's urllib3 is told."""
    _sysctl_quiet(None, 'net.ipv6.conf.lo.disable_ipv6=0')
    try:
        import urllib3.util.connection as uc
        uc.HAS_IPV6 = True
    except ImportError:
        pass


class ServerNet:
    """A server namespace and its veth pair, numbered K (1..250)."""

    def __init__(self, k, ip6=IP6, vlan=0):
        self.k = k
        self.ip6 = ip6
        self.vlan = vlan
        self.cli_ip6 = 'fd00:99:%x::1' % k
        self.srv_ip6 = 'fd00:99:%x::2' % k
        self.ns = '%s%s-%d' % (PREFIX, TAG, k)
        self.cli_if = 'slc%d' % k
        self.srv_if = 'sls%d' % k
        self.cli_ip = '10.99.%d.1' % k
        self.srv_ip = '10.99.%d.2' % k
        # where the client's addresses live: the veth, or its VLAN
        self.cli_l3 = '%s.%d' % (self.cli_if, vlan) if vlan else self.cli_if
        self.alive = False

    @classmethod
    def create(cls, ip6=IP6, vlan=0):
        global _next_k
        with _lock:
            for _ in range(MAX_K):
                k = _next_k
                _next_k = _next_k % MAX_K + 1
                # slcK present: another process's (sharing our client
                # namespace), never to be touched.
                if k not in _live and not os.path.exists('/sys/class/net/slc%d' % k):
                    break
            else:
                raise NetError('more than %d DPDK servers alive at once' % MAX_K)
            net = cls(k, ip6, vlan)
            _live[k] = net
        try:
            net._setup()
        except BaseException:
            net.destroy()
            raise
        return net

    def _setup(self):
        self.alive = True
        # A namespace of that name can only be a leftover of a dead run
        # with the same tag: start clean.
        run('ip', 'netns', 'del', self.ns, check=False)
        run('ip', 'netns', 'add', self.ns)
        _sysctl_quiet(self.ns, 'net.ipv6.conf.all.disable_ipv6=1',
                      'net.ipv6.conf.default.disable_ipv6=1')
        run('ip', '-n', self.ns, 'link', 'set', 'lo', 'up')
        run('ip', 'link', 'add', self.cli_if, 'type', 'veth', 'peer', 'name', self.srv_if)
        run('ip', 'link', 'set', self.srv_if, 'netns', self.ns)
        run('ip', 'link', 'set', self.cli_if, 'up')
        self.vlan_dev = False
        if self.vlan:
            # a kernel without 8021q cannot: then only raw tagged frames
            # reach the server (test_dpdk_ip6.py's test_vlan sends those)
            p = run('ip', 'link', 'add', 'link', self.cli_if, 'name', self.cli_l3, 'type',
                    'vlan', 'id', str(self.vlan), check=False)
            self.vlan_dev = p.returncode == 0
            if not self.vlan_dev:
                self.cli_l3 = self.cli_if
        run('ip', 'addr', 'add', self.cli_ip + '/24', 'dev', self.cli_l3)
        if self.ip6:
            # the client namespace has IPv6 off (run.sh): on for this link
            # only; nodad: usable at once (nothing else holds the address)
            _sysctl_quiet(None, 'net.ipv6.conf.%s.disable_ipv6=0' % self.cli_l3,
                          'net.ipv6.conf.%s.accept_ra=0' % self.cli_l3)
            _ip6_clients_on()
            run('ip', '-6', 'addr', 'add', self.cli_ip6 + '/64', 'dev', self.cli_l3, 'nodad')
        run('ip', 'link', 'set', self.cli_l3, 'up')
        run('ip', '-n', self.ns, 'link', 'set', self.srv_if, 'up')
        # Without this the kernel hands the userspace stack TCP segments
        # with partial checksums and GSO sizes.
        run('ethtool', '-K', self.cli_if, 'tx', 'off', 'tso', 'off', 'gso', 'off')
        run('ip', 'netns', 'exec', self.ns, 'ethtool', '-K', self.srv_if,
            'tx', 'off', 'tso', 'off', 'gso', 'off', check=False)

    def exec_prefix(self):
        return ['ip', 'netns', 'exec', self.ns]

    def dpdk_args(self, port):
        """sluiced arguments that put it on this namespace's veth."""
        args = ['--transport', 'dpdk',
                '--dpdk-args', '--vdev=net_af_packet0,iface=%s' % self.srv_if,
                '--ip', self.srv_ip + '/24']
        if self.ip6:
            args += ['--dpdk-ip6', self.srv_ip6 + '/64',
                     '--listen', '[%s]:%d' % (self.srv_ip6, port)]
        else:
            args += ['--listen', '%s:%d' % (self.srv_ip, port)]
        if self.vlan:
            args += ['--dpdk-vlan', str(self.vlan)]
        return args

    def pids(self):
        p = run('ip', 'netns', 'pids', self.ns, check=False)
        return [int(x) for x in p.stdout.split() if x.isdigit()]

    def destroy(self):
        """Kills what still runs in the namespace, removes it and the veth
        (idempotent, never raises)."""
        if not self.alive:
            with _lock:
                _live.pop(self.k, None)
            return
        self.alive = False
        try:
            for sig in (signal.SIGKILL,):
                for pid in self.pids():
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass
            deadline = time.monotonic() + 5
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            run('ip', 'netns', 'del', self.ns, check=False)
            run('ip', 'link', 'del', self.cli_if, check=False)
        except Exception:  # teardown must go on
            pass
        finally:
            with _lock:
                _live.pop(self.k, None)


def destroy_all():
    with _lock:
        nets = list(_live.values())
    for net in nets:
        net.destroy()


atexit.register(destroy_all)


# --- client-namespace tools for tests -------------------------------------

class Nft:
    """One nftables netdev table in the client namespace, bound to one veth:
    drops there look like loss on the wire to both TCP stacks. Removed by
    close() / atexit (and with the device)."""

    def __init__(self, ifname, name='slt'):
        self.name = name
        self.ifname = ifname
        run('nft', 'delete', 'table', 'netdev', name, check=False)
        atexit.register(self.close)

    def script(self, text):
        p = subprocess.run(['nft', '-f', '-'], input=text, capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            raise NetError('nft -f failed: %s\n%s' % (p.stderr, text))

    def drop_tcp_percent(self, percent):
        """Drops percent% of the TCP segments leaving and entering the veth."""
        self.script('''
table netdev %(t)s {
  chain eg { type filter hook egress device "%(i)s" priority 0; policy accept;
    meta l4proto tcp numgen random mod 100 < %(p)d counter drop; }
  chain in { type filter hook ingress device "%(i)s" priority 0; policy accept;
    meta l4proto tcp numgen random mod 100 < %(p)d counter drop; }
}
''' % {'t': self.name, 'i': self.ifname, 'p': percent})

    def dropped(self):
        """Packets dropped so far (both directions)."""
        out = run('nft', 'list', 'table', 'netdev', self.name, check=False).stdout
        return sum(int(x) for x in re.findall(r'counter packets (\d+)', out))

    def close(self):
        run('nft', 'delete', 'table', 'netdev', self.name, check=False)
