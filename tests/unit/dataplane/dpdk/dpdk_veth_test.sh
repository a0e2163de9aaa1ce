#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Drives dpdk_veth_test with real PMDs against the kernel: two network
# namespaces made here, a veth pair between them (DPDK side: no address;
# kernel side: 10.99.X.1/24 with offloads off), and a tap device.
#   1. net_af_packet, one lcore: ARP/ping/UDP both ways, rough rates
#   2. net_af_packet qpairs=2, two lcores: software flow dispatch
#   3. net_af_xdp, one lcore (skipped when the PMD cannot attach)
#   4. net_tap, one lcore, the tap's kernel side in the DPDK namespace
# Only 10.99.0.0/16, only interfaces made here; --no-pci always (added by
# dpk_eal_argv_build, checked below). Exit 0 pass, 1 fail, 77 skip.
set -u
BIN=${1:?usage: dpdk_veth_test.sh path/to/dpdk_veth_test}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "no iproute2"

X=$(( ($$ % 200) + 20 ))          # 10.99.X.0/24 (veth), 10.99.X+1 (tap)
NSD=sl-dpdk-$$-d                   # DPDK side
NSK=sl-dpdk-$$-k                   # kernel side
cleanup() {
	ip netns del "$NSD" 2>/dev/null
	ip netns del "$NSK" 2>/dev/null
	rm -f /tmp/sl-dpdk-udp-ready-*
}
trap cleanup EXIT INT TERM

ip netns add "$NSD" 2>/dev/null || skip "cannot create a network namespace"
ip netns add "$NSK" || skip "cannot create a second network namespace"
ip -n "$NSD" link add sld0 type veth peer name slk0 netns "$NSK" || skip "cannot create veth"
ip -n "$NSD" link set lo up
ip -n "$NSK" link set lo up
ip -n "$NSK" addr add "10.99.$X.1/24" dev slk0
ip -n "$NSD" link set sld0 up
ip -n "$NSK" link set slk0 up
# Full checksums and no GSO from the kernel, or its frames carry partial
# checksums that a NIC would have finished.
for pair in "$NSK slk0" "$NSD sld0"; do
	set -- $pair
	ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 ||
		echo "note: ethtool -K $2 failed"
done

PEER_MAC=$(ip -n "$NSK" -br link show slk0 | awk '{print $3}')
COMMON=(--my-ip "10.99.$X.2" --peer-ip "10.99.$X.1" --peer-if slk0)
results=()
fails=0
passes=0

run() { # name, mode, args...
	local name=$1 mode=$2
	shift 2
	echo "=== $name"
	# Each run must see the kernel's ARP request: forget the last run's MAC.
	ip -n "$NSK" neigh flush all 2>/dev/null
	ip -n "$NSD" neigh flush all 2>/dev/null
	timeout 60 ip netns exec "$NSD" "$BIN" "$mode" "$@"
	local rc=$?
	case $rc in
	0) results+=("$name: pass"); passes=$((passes + 1)) ;;
	77) results+=("$name: skip") ;;
	*) results+=("$name: FAIL (exit $rc)"); fails=$((fails + 1)) ;;
	esac
	return $rc
}

MEM="--no-huge -m 256 --no-shconf --log-level=pmd.net:warning"
run af_packet basic --peer "ip netns exec $NSK" "${COMMON[@]}" --udp-port 7001 \
	--dpdk-args "$MEM --file-prefix sl$$a --vdev=net_af_packet0,iface=sld0"
run af_packet_dispatch dispatch --peer "ip netns exec $NSK" "${COMMON[@]}" \
	--dpdk-args "$MEM --file-prefix sl$$b --vdev=net_af_packet0,iface=sld0,qpairs=2"
run af_xdp basic --peer "ip netns exec $NSK" "${COMMON[@]}" --udp-port 7002 \
	--dpdk-args "$MEM --file-prefix sl$$c --vdev=net_af_xdp0,iface=sld0"
Y=$((X + 1))
run tap basic --peer "" --my-ip "10.99.$Y.2" --peer-ip "10.99.$Y.1" --udp-port 7003 \
	--peer-setup "ip addr add 10.99.$Y.1/24 dev sltap0 && ip link set sltap0 up &&
		      (ethtool -K sltap0 tx off tso off gso off >/dev/null 2>&1 || true)" \
	--dpdk-args "$MEM --file-prefix sl$$d --vdev=net_tap0,iface=sltap0"

echo "=== summary"
printf '%s\n' "${results[@]}"
[ "$fails" -eq 0 ] || exit 1
[ "$passes" -gt 0 ] || skip "no PMD could be tested"
exit 0
