#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# perf/sub_ab.sh: SubscribeToShard fan-out, two sluiced binaries side by
# side (alternated, same commands), as compare.sh --reads's SubscribeToShard
# rows do it: a 4-shard stream, NSUB registered consumers each subscribed to
# every shard (one loadgen --mode subscribe, LATEST, started 1 s first), and
# a producer of 500 x 1 KiB PutRecords (4 connections, 2 in flight) for DUR
# seconds, closed loop or at --rate. Server on CPU 0, generators on CPU 1.
# Per run: producer and consumer rates, sluiced's utime+stime (ticks),
# where reads were served from (/metrics), the 1-minute load average.
#
# usage: perf/sub_ab.sh OLD_SLUICED NEW_SLUICED [ROUNDS] [DUR]
#   outputs under perf/out/sub-ab-<time>/<old|new>-<s0|s5|s5rate>-r<N>/
set -u
OLD=$1 NEW=$2 ROUNDS=${3:-2} DUR=${4:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/perf/lib.sh"
LG=${LG:-$ROOT/build/perf/loadgen}
BASE=$ROOT/perf/out/sub-ab-$(date -u +%Y%m%dT%H%M%SZ)
one() { # binary nsub rate label
	local bin=$1 nsub=$2 rate=$3 out=$BASE/$4 rd args=() pid cpid t0
	rd=$out/data
	mkdir -p "$out"
	pl_start "$bin" "$rd" "$out/sluiced.log" 0 --admin-listen 127.0.0.1:0 ||
		echo "sub_ab: $4: sluiced did not start" >&2
	pid=$PL_PID
	local sa=$PL_ADDR adm
	adm=$(cat "$rd/sluiced.admin")
	pl_aws "$rd" "$sa" create-stream --stream-name s --shard-count 4 >/dev/null
	pl_wait_active "$rd" "$sa" s
	local sarn
	sarn=$(pl_aws "$rd" "$sa" describe-stream-summary --stream-name s \
		--query StreamDescriptionSummary.StreamARN --output text)
	mapfile -t args < <(pl_consumers "$rd" "$sa" "$sarn" "$nsub")
	m() { pl_metrics "$adm" |
		grep -E '^sluice_journal_(tail_read_records|disk_read_records|tail_bytes|tail_steals|tail_grows)'; }
	m >"$out/before"
	t0=$(pl_ticks "$pid")
	if [ "$nsub" -gt 0 ]; then
		taskset -c 1 "$LG" --endpoint "https://$sa" --stream s --mode subscribe --shards 4 \
			--iterator LATEST "${args[@]}" --duration $((DUR + 2)) --cpu 1 --json "$out/c.json" \
			--quiet --ca "$rd/tls/ca.pem" --credentials "$rd/credentials" >"$out/c.txt" 2>&1 &
		cpid=$!
		sleep 1
	fi
	taskset -c 1 "$LG" --endpoint "https://$sa" --stream s --record-bytes 1024 --batch 500 \
		--connections 4 --inflight 2 --duration "$DUR" --rate "$rate" --cpu 1 --json "$out/p.json" \
		--quiet --ca "$rd/tls/ca.pem" --credentials "$rd/credentials" >"$out/p.txt" 2>&1
	[ "$nsub" -gt 0 ] && wait "$cpid"
	echo $(($(pl_ticks "$pid") - t0)) >"$out/ticks"
	m >"$out/after"
	cut -d' ' -f1 /proc/loadavg >"$out/load"
	kill "$pid"
	wait "$pid" 2>/dev/null
	rm -rf "$rd"
}
for r in $(seq 1 "$ROUNDS"); do
	for b in old new; do
		bin=$OLD
		[ $b = new ] && bin=$NEW
		one "$bin" 0 0 "$b-s0-r$r"
		one "$bin" 5 0 "$b-s5-r$r"
		one "$bin" 5 4000 "$b-s5rate-r$r"
	done
done
/usr/bin/python3 "$ROOT/perf/sub_ab_table.py" "$BASE"
