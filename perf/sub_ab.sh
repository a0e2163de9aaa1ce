#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# perf/sub_ab.sh: SubscribeToShard fan-out and GetRecords consumers, two
# sluiced binaries side by side (alternated, same commands), as compare.sh
# --reads's rows do it: a 4-shard stream, NSUB registered consumers each
# subscribed to every shard (one loadgen --mode subscribe, LATEST, started
# 1 s first) or NGET loadgen --mode get processes (LATEST, 4 shards each),
# and a producer of 500 x 1 KiB PutRecords (4 connections, 2 in flight) for
# DUR seconds, closed loop or at a fixed rate. Server on CPU 0, generators
# on CPU 1. Per run: producer rate and p99, consumer rates, put-to-arrival
# latency and MillisBehindLatest, sluiced's utime+stime (ticks) and minor
# page faults, where reads
# were served from (/metrics), the 1-minute load average.
#
# MODES (default "s0 s5 s5@4000"): runs per binary and round, each
# KIND N[@RATE]: s = N subscribers per shard, g = N GetRecords consumers;
# RATE records/s (0 or none: closed loop). "s0@4000 s1@4000 s5@4000
# g1@4000 g8@4000" is the fair measurement of issue #16 item 4: 4 shards
# at ~1 MiB/s each, within Kinesis's per-shard write limit, so subscribers
# (2 MiB/s each) keep up and read from the tail. SARGS: extra sluiced flags
# for both binaries; NEW_ARGS / OLD_ARGS: for one of them.
#
# usage: perf/sub_ab.sh OLD_SLUICED NEW_SLUICED [ROUNDS] [DUR]
#   outputs under perf/out/sub-ab-<time>/<old|new>-<mode>-r<N>/
set -u
OLD=$1 NEW=$2 ROUNDS=${3:-2} DUR=${4:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LG=${LG:-$ROOT/build/perf/loadgen}
BASE=$ROOT/perf/out/sub-ab-$(date -u +%Y%m%dT%H%M%SZ)
MODES=${MODES:-s0 s5 s5@4000}
one() { # binary nsub rate label nget extra-flags
	local bin=$1 nsub=$2 rate=$3 out=$BASE/$4 nget=${5:-0} rd args=() carn pid cpid cpids=() t0 f0
	rd=$out/data
	mkdir -p "$rd"
	# shellcheck disable=SC2086 # flag lists
	taskset -c 0 "$bin" --listen 127.0.0.1:0 --data-dir "$rd" --create-delay-ms 0 \
		--quota-mode off --admin-listen 127.0.0.1:0 ${SARGS:-} $6 >"$out/sluiced.log" 2>&1 &
	pid=$!
	# Up to 2 minutes: on a loaded machine a start took over 30 s.
	for _ in $(seq 1 600); do [ -s "$rd/sluiced.addr" ] && [ -s "$rd/sluiced.admin" ] && break; sleep 0.2; done
	if ! [ -s "$rd/sluiced.addr" ] || ! [ -s "$rd/sluiced.admin" ]; then
		echo "$4: sluiced did not start; run skipped" >&2
		kill "$pid"
		wait "$pid" 2>/dev/null
		return
	fi
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
	f0=$(awk '{print $10}' "/proc/$pid/stat") # minor page faults
	if [ "$nsub" -gt 0 ]; then
		taskset -c 1 "$LG" --endpoint "https://$sa" --stream s --mode subscribe --shards 4 \
			--iterator LATEST "${args[@]}" --duration $((DUR + 2)) --cpu 1 --json "$out/c.json" \
			--quiet --ca "$rd/tls/ca.pem" --credentials "$rd/credentials" >"$out/c.txt" 2>&1 &
		cpids+=($!)
	fi
	for k in $(seq 1 "$nget"); do
		taskset -c 1 "$LG" --endpoint "https://$sa" --stream s --mode get --shards 4 \
			--iterator LATEST --batch 10000 --poll-ms 100 --connections 1 --inflight 4 \
			--duration $((DUR + 2)) --cpu 1 --json "$out/c$k.json" --quiet \
			--ca "$rd/tls/ca.pem" --credentials "$rd/credentials" >"$out/c$k.txt" 2>&1 &
		cpids+=($!)
	done
	[ ${#cpids[@]} -gt 0 ] && sleep 1
	taskset -c 1 "$LG" --endpoint "https://$sa" --stream s --record-bytes 1024 --batch 500 \
		--connections 4 --inflight 2 --duration "$DUR" --rate "$rate" --cpu 1 --json "$out/p.json" \
		--quiet --ca "$rd/tls/ca.pem" --credentials "$rd/credentials" >"$out/p.txt" 2>&1
	for cpid in "${cpids[@]}"; do wait "$cpid"; done
	echo $(($(awk '{print $14+$15}' "/proc/$pid/stat") - t0)) >"$out/ticks"
	echo $(($(awk '{print $10}' "/proc/$pid/stat") - f0)) >"$out/faults"
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
		extra=${OLD_ARGS:-}
		[ $b = new ] && extra=${NEW_ARGS:-}
		for mode in $MODES; do
			kind=${mode%%[0-9]*} rest=${mode#[sg]}
			n=${rest%@*} rate=0
			[ "$rest" != "$n" ] && rate=${rest#*@}
			lab=$b-${mode/@/at}-r$r
			if [ "$kind" = g ]; then
				one "$bin" 0 "$rate" "$lab" "$n" "$extra"
			else
				one "$bin" "$n" "$rate" "$lab" 0 "$extra"
			fi
		done
	done
done
/usr/bin/python3 "$ROOT/perf/sub_ab_table.py" "$BASE"
