#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Host preparation for `sluiced --transport dpdk`.
#
#   deploy/dpdk-setup.sh hugepages [N]   reserve N 2 MiB hugepages (default 512)
#                                        and mount hugetlbfs on /dev/hugepages
#   deploy/dpdk-setup.sh nic             print how to bind a NIC to vfio-pci
#                                        (prints only: never binds anything)
#   deploy/dpdk-setup.sh --netns-demo    make namespace sl-demo with a veth
#                                        pair (10.99.0.1 kernel side) and print
#                                        the sluiced command line to run
#   deploy/dpdk-setup.sh --netns-clean   remove what --netns-demo made
#
# Without hugepages sluiced still runs (EAL gets --no-huge -m 512).
set -eu

die() { echo "dpdk-setup: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "run as root"; }

hugepages() {
	need_root
	local n=${1:-512}
	local f=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
	echo "$n" > "$f"
	echo "2 MiB hugepages: $(cat "$f") reserved (asked for $n)"
	mkdir -p /dev/hugepages
	if ! mountpoint -q /dev/hugepages; then
		mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
	fi
	echo "hugetlbfs mounted on /dev/hugepages"
	grep -E 'HugePages_(Total|Free)' /proc/meminfo
	echo "To keep this across reboots: vm.nr_hugepages=$n in /etc/sysctl.d/, and"
	echo "  nodev /dev/hugepages hugetlbfs pagesize=2M 0 0   in /etc/fstab"
}

nic() {
	cat <<'TXT'
Binding a NIC to DPDK takes it away from the kernel: never bind the interface
you are logged in through. This script does not bind anything; the steps:

  apt-get install dpdk                        # dpdk-devbind.py
  dpdk-devbind.py --status-dev net            # find the PCI address, e.g. 0000:3b:00.0
  ip link set <ifname> down                   # the interface that NIC carries now
  modprobe vfio-pci
  dpdk-devbind.py --bind=vfio-pci 0000:3b:00.0

Then allow that device explicitly (sluice adds --no-pci unless -a is given):

  sluiced --transport dpdk --dpdk-args "-a 0000:3b:00.0" \
          --ip 192.168.10.5/24 --gateway 192.168.10.1 --io-cores 4 ...

io lcores and mbuf pools are placed on the NIC's NUMA node (hwloc). Undo with
  dpdk-devbind.py --bind=<kernel driver> 0000:3b:00.0
Mellanox (mlx5) NICs stay on their kernel driver: skip the bind, keep -a.
TXT
}

netns_demo() {
	need_root
	local ns=sl-demo
	ip netns add "$ns"
	# DPDK side (af_packet) in the namespace, kernel side (a client) in it
	# too, so nothing of the host's own networking changes.
	ip netns add sl-demo-client
	ip -n "$ns" link add sld0 type veth peer name slc0 netns sl-demo-client
	ip -n "$ns" link set lo up
	ip -n "$ns" link set sld0 up
	ip -n sl-demo-client link set lo up
	ip -n sl-demo-client addr add 10.99.0.1/24 dev slc0
	ip -n sl-demo-client link set slc0 up
	ip netns exec sl-demo-client ethtool -K slc0 tx off tso off gso off >/dev/null 2>&1 || true
	ip netns exec "$ns" ethtool -K sld0 tx off tso off gso off >/dev/null 2>&1 || true
	cat <<TXT
Made namespaces $ns (DPDK side, veth sld0, no address) and sl-demo-client
(kernel side, slc0 = 10.99.0.1/24). Run sluice in the first:

  ip netns exec $ns build/sluiced --transport dpdk \\
      --dpdk-args "--vdev=net_af_packet0,iface=sld0" \\
      --ip 10.99.0.2/24 --listen 10.99.0.2:4567 --data-dir /tmp/sl-demo

and talk to it from the second:

  ip netns exec sl-demo-client ping -c 3 10.99.0.2
  ip netns exec sl-demo-client aws --endpoint-url https://10.99.0.2:4567 kinesis list-streams

Remove with: $0 --netns-clean
TXT
}

netns_clean() {
	need_root
	ip netns del sl-demo 2>/dev/null || true
	ip netns del sl-demo-client 2>/dev/null || true
	echo "removed sl-demo, sl-demo-client"
}

case "${1:-}" in
hugepages) shift; hugepages "$@" ;;
nic) nic ;;
--netns-demo) netns_demo ;;
--netns-clean) netns_clean ;;
*) sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
