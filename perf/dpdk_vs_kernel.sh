#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Per-request cost of the DPDK transport vs the kernel one, with the load
# generator, on this machine. Both servers: 1 io lcore + 1 log lcore,
# quotas off, 4 shards, 500 x 1 KiB PutRecords with durable acks.
#
# The kernel run talks over loopback; the DPDK run talks over a veth pair
# between two network namespaces this script creates (10.99.200.0/24) and
# removes, with af_packet as the PMD (what a VM without a DPDK NIC offers: it
# caps packet rates, see RESULTS.md). CPU is read from /proc/PID/stat of
# sluiced (all its threads). A polling lcore burns its core whether busy or
# not, so "CPU per MB" of the DPDK run includes idle polling: compare
# throughput and latency first.
#
# Usage: perf/dpdk_vs_kernel.sh [--duration S]   (root; needs build/)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=perf/netns_lib.sh
. "$ROOT/perf/netns_lib.sh"
DUR=10
[ "${1:-}" = --duration ] && DUR=$2
B=build
if [ ! -x $B/sluiced ] || [ ! -x $B/perf/loadgen ]; then
	meson setup $B >/dev/null
	ninja -C $B
fi
W=$(mktemp -d /tmp/sl-dvk.XXXXXX)
NS_S=sl-dvk-srv NS_C=sl-dvk-cli
cleanup() {
	if [ -n "${SPID:-}" ]; then
		kill -TERM "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	nl_down $NS_S $NS_C
	rm -rf "$W"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

create_stream() { # endpoint datadir [netns]
	local pre=()
	[ -n "${3:-}" ] && pre=(ip netns exec "$3")
	AWS_CA_BUNDLE=$2/tls/ca.pem AWS_SHARED_CREDENTIALS_FILE=$2/credentials \
		AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1 \
		"${pre[@]}" /usr/bin/aws --endpoint-url "$1" kinesis create-stream \
		--stream-name bench --shard-count 4
	sleep 1
}

run_one() { # label endpoint datadir [netns]
	local label=$1 ep=$2 dd=$3 ns=${4:-} pre=()
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	create_stream "$ep" "$dd" "$ns"
	local t0; t0=$(cpu_ticks "$SPID")
	"${pre[@]}" $B/perf/loadgen --endpoint "$ep" --ca "$dd/tls/ca.pem" \
		--credentials "$dd/credentials" --stream bench --duration "$DUR" \
		--connections 4 --inflight 2 --quiet --json "$W/$label.json" --label "$label" \
		--cpu 1 >"$W/$label.out" 2>&1 || { cat "$W/$label.out"; return 1; }
	local t1; t1=$(cpu_ticks "$SPID")
	/usr/bin/python3 - "$W/$label.json" "$((t1 - t0))" "$(getconf CLK_TCK)" "$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); ticks = int(sys.argv[2]); hz = int(sys.argv[3])
cpu_s = ticks / hz
mbps = r.get('payload_MB_per_s', 0) or 0
mb = mbps * (r.get('elapsed_s', 0) or 0)
reqs = r.get('requests', 0) or 0
rps = r.get('records_per_s', 0)
lat = r.get('latency_ms', {})
print("| %s | %.0f | %.1f | %.2f | %.1f | %.1f | %.0f |" % (
    sys.argv[4], rps, mbps, cpu_s, cpu_s * 1e3 / mb if mb else 0,
    cpu_s * 1e6 / reqs if reqs else 0, lat.get('p99', 0)))
PY
}

echo "| transport | records/s | payload MB/s | sluiced CPU s | CPU ms per MB | CPU us per request | p99 ms |"
echo "|---|---|---|---|---|---|---|"
# kernel transport
taskset -c 0 $B/sluiced --listen 127.0.0.1:0 --data-dir "$W/k" --quota-mode off \
	--create-delay-ms 0 >"$W/k.log" 2>&1 &
SPID=$!
nl_wait_file "$W/k/sluiced.addr"
run_one kernel "https://$(cat "$W/k/sluiced.addr")" "$W/k"
kill -TERM $SPID; wait $SPID || true; SPID=

# DPDK transport over af_packet on a veth between two namespaces
nl_up $NS_S $NS_C slv0 slv1 10.99.200.1/24
ip netns exec $NS_S taskset -c 0 $B/sluiced --transport dpdk \
	--dpdk-args "--vdev=net_af_packet0,iface=slv0" --ip 10.99.200.2/24 \
	--listen 10.99.200.2:4567 --data-dir "$W/d" --quota-mode off --create-delay-ms 0 \
	>"$W/d.log" 2>&1 &
SPID=$!
nl_wait_file "$W/d/sluiced.addr"
run_one dpdk "https://10.99.200.2:4567" "$W/d" $NS_C
