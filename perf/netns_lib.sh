# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared shell for the perf scripts that put sluiced on a veth pair between
# two network namespaces (perf/dpdk_vs_kernel.sh, perf/tcp_loss.sh). Sourced,
# never run. The same set-up as tests/e2e/dpdk_net.py: the server end has no
# kernel address when DPDK drives it (af_packet PMD), and checksum offloads
# and segmentation are off on both ends, or the kernel hands the userspace
# stack partial checksums and GSO-sized frames.
#
# Everything made here lives inside the two namespaces (the veth is created
# in one and its peer moved to the other), so deleting the namespaces
# removes it all: nothing of the host's network is touched.

# nl_up SRV_NS CLI_NS SRV_IF CLI_IF CLI_CIDR: both namespaces, the veth pair,
# the client address; IPv6 off (no router solicitations or DAD for the
# userspace stack to count and drop).
nl_up() {
	local sns=$1 cns=$2 sif=$3 cif=$4 ccidr=$5 ns
	for ns in "$sns" "$cns"; do
		ip netns del "$ns" 2>/dev/null || true
		ip netns add "$ns"
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
		ip -n "$ns" link set lo up
	done
	ip -n "$sns" link add "$sif" type veth peer name "$cif" netns "$cns"
	ip -n "$cns" addr add "$ccidr" dev "$cif"
	ip -n "$sns" link set "$sif" up
	ip -n "$cns" link set "$cif" up
	ip netns exec "$cns" ethtool -K "$cif" tx off tso off gso off >/dev/null 2>&1 || true
	ip netns exec "$sns" ethtool -K "$sif" tx off tso off gso off >/dev/null 2>&1 || true
}

# nl_down NS...: kills what still runs in each namespace, then deletes it
# (and the veth with it). Never fails.
nl_down() {
	local ns pid
	for ns in "$@"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
}

# nl_sweep_stale PREFIX SCRIPT: deletes the namespaces PREFIX-PID-NAME that a
# run of SCRIPT killed -9 left behind (its EXIT trap never ran), killing what
# still runs in them (a sluiced). A namespace whose PID is a live process
# with SCRIPT on its command line is a running run's, and kept; names of any
# other shape are not touched. Never fails.
nl_sweep_stale() {
	local prefix=$1 script=$2 ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $ns =~ ^${prefix}-([0-9]+)-[a-z]+$ ]] || continue
		pid=${BASH_REMATCH[1]}
		if [ -r "/proc/$pid/cmdline" ] &&
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$script"; then
			continue
		fi
		echo "removing namespace $ns: its run (pid $pid) is gone" >&2
		nl_down "$ns"
	done
}

# nl_loss NS IF PERCENT: drops PERCENT% of the TCP segments leaving and
# entering IF (nftables netdev ingress and egress hooks in NS, `numgen
# random`), so both TCP stacks see loss on the wire in both directions.
# 0 removes the table.
nl_loss() {
	local ns=$1 ifn=$2 pct=$3
	ip netns exec "$ns" nft delete table netdev sl_loss 2>/dev/null || true
	[ "$pct" = 0 ] && return 0
	ip netns exec "$ns" nft -f - <<NFT
table netdev sl_loss {
  chain eg { type filter hook egress device "$ifn" priority 0; policy accept;
    meta l4proto tcp numgen random mod 100 < $pct counter drop; }
  chain in { type filter hook ingress device "$ifn" priority 0; policy accept;
    meta l4proto tcp numgen random mod 100 < $pct counter drop; }
}
NFT
}

# nl_dup NS IF PERCENT: duplicates PERCENT% of the TCP segments leaving IF
# (nftables `dup to` on the egress hook: the copy is sent right behind the
# original). The copy carries mark 1, which the rule skips, so a copy is not
# copied again when it passes the hook. Frames that bypass the qdisc layer
# (DPDK's af_packet PMD sends that way) do not pass this hook. 0 removes it.
nl_dup() {
	local ns=$1 ifn=$2 pct=$3
	ip netns exec "$ns" nft delete table netdev sl_dup 2>/dev/null || true
	[ "$pct" = 0 ] && return 0
	ip netns exec "$ns" nft -f - <<NFT
table netdev sl_dup {
  chain eg { type filter hook egress device "$ifn" priority 0; policy accept;
    meta l4proto tcp meta mark 0 numgen random mod 100 < $pct meta mark set 1 counter dup to "$ifn"; }
}
NFT
}

# nl_count NS TABLE: packets counted so far by nl_loss's (sl_loss) or
# nl_dup's (sl_dup) table: dropped or duplicated. No table: 0. Never fails.
nl_count() {
	{ ip netns exec "$1" nft list table netdev "$2" 2>/dev/null || true; } |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) }
		     END { print s + 0 }'
}

# nl_wait_file FILE [TENTHS]: waits for FILE (sluiced.addr) up to TENTHS/10 s
# (default 100 = 10 s); fails when it never shows up.
nl_wait_file() {
	local i
	for ((i = 0; i < ${2:-100}; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
