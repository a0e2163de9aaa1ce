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
LG=${LG:-$ROOT/build/perf/loadgen}
BASE=$ROOT/perf/out/sub-ab-$(date -u +%Y%m%dT%H%M%SZ)
one() { # binary nsub rate label
	local bin=$1 nsub=$2 rate=$3 out=$BASE/$4 rd args=() carn pid cpid t0
	rd=$out/data
	mkdir -p "$rd"
	taskset -c 0 "$bin" --listen 127.0.0.1:0 --data-dir "$rd" --create-delay-ms 0 \
		--quota-mode off --admin-listen 127.0.0.1:0 >"$out/sluiced.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 150); do [ -s "$rd/sluiced.addr" ] && [ -s "$rd/sluiced.admin" ] && break; sleep 0.2; done
	local sa adm
	sa=$(cat "$rd/sluiced.addr") adm=$(cat "$rd/sluiced.admin")
	A() { AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=$rd/tls/ca.pem \
		AWS_SHARED_CREDENTIALS_FILE=$rd/credentials /usr/bin/aws --endpoint-url "https://$sa" kinesis "$@"; }
	A create-stream --stream-name s --shard-count 4 >/dev/null
	for _ in $(seq 1 100); do
		[ "$(A describe-stream-summary --stream-name s --query StreamDescriptionSummary.StreamStatus \
			--output text 2>/dev/null)" = ACTIVE ] && break
		sleep 0.3
	done
	local sarn
	sarn=$(A describe-stream-summary --stream-name s --query StreamDescriptionSummary.StreamARN --output text)
	for k in $(seq 1 "$nsub"); do
		carn=$(A register-stream-consumer --stream-arn "$sarn" --consumer-name "c$k" \
			--query Consumer.ConsumerARN --output text)
		for _ in $(seq 1 100); do
			[ "$(A describe-stream-consumer --consumer-arn "$carn" \
				--query ConsumerDescription.ConsumerStatus --output text)" = ACTIVE ] && break
			sleep 0.2
		done
		args+=(--consumer-arn "$carn")
	done
	m() { /usr/bin/python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://$adm/metrics').read().decode())" |
		grep -E '^sluice_journal_(tail_read_records|disk_read_records|tail_bytes|tail_steals|tail_grows)'; }
	m >"$out/before"
	t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
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
	echo $(($(awk '{print $14+$15}' "/proc/$pid/stat") - t0)) >"$out/ticks"
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
