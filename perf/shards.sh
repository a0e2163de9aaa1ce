#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# perf/shards.sh: 4 shards vs 10,000 shards, side by side in one run, for
# one sluiced binary or two (BASE=path/to/old/sluiced: the old one first,
# alternating per workload so drifts of a shared machine hit both alike).
# Each workload: a fresh sluiced (quotas off), PutRecords 500 x RB bytes,
# closed loop, then open loop at --rate records/s, DUR seconds each; the
# server's CPU over each run from `perf stat -e task-clock` (falls back to
# /proc utime+stime) gives CPU-us per acknowledged record, which moves far
# less than throughput when other jobs share the machine. Prints a table and
# the 10000/4 ratios; appends to perf/RESULTS.md unless --no-append.
#
# usage: perf/shards.sh [--duration S] [--rate R] [--record-bytes N] [--no-append]
#   env: BUILD (./build), BASE (old sluiced, optional), SERVER_CPU (0),
#        GEN_CPU (1), CONNS (4), INFLIGHT (2)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/perf/lib.sh"
BUILD=${BUILD:-$ROOT/build}
DUR=8
RATE=100000
RB=1024
APPEND=1
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DUR=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--record-bytes) RB=$2; shift 2 ;;
	--no-append) APPEND=0; shift ;;
	*) echo "usage: $0 [--duration S] [--rate R] [--record-bytes N] [--no-append]" >&2
	   exit 2 ;;
	esac
done
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
OUT=$ROOT/perf/out/shards-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
ninja -C "$BUILD" sluiced perf/loadgen >"$OUT/ninja.log" 2>&1 ||
	{ echo "shards: build failed, see $OUT/ninja.log" >&2; exit 1; }
LG=$BUILD/perf/loadgen
BINS=("new=$BUILD/sluiced")
[ -n "${BASE:-}" ] && BINS=("old=$BASE" "${BINS[@]}")
HAVE_PERF=0
perf stat -e task-clock -x, -o "$OUT/probe" true >/dev/null 2>&1 && HAVE_PERF=1
SP=
trap '[ -n "$SP" ] && kill $SP 2>/dev/null; wait 2>/dev/null; rm -rf "$OUT"/data-*' EXIT

# run TAG BIN SHARDS: one fresh server, closed loop then open loop.
run() {
	local tag=$1 bin=$2 n=$3 d=$OUT/data-$1
	pl_start "$bin" "$d" "$OUT/$tag.log" "$SERVER_CPU" --admin-listen off ||
		{ SP=$PL_PID; echo "shards: $tag: sluiced did not start" >&2; exit 1; }
	SP=$PL_PID
	local sa=$PL_ADDR
	pl_aws "$d" "$sa" create-stream --stream-name s --shard-count "$n" >/dev/null
	sleep 1
	for mode in closed open; do
		local extra=() name=$tag-$mode
		[ "$mode" = open ] && extra=(--rate "$RATE")
		local t0
		t0=$(pl_ticks "$SP")
		if [ $HAVE_PERF = 1 ]; then
			perf stat -e task-clock -x, -o "$OUT/$name.perf" -p "$SP" -- sleep "$DUR" \
				>/dev/null 2>&1 &
		fi
		local PS=$!
		taskset -c "$GEN_CPU" "$LG" --endpoint "https://$sa" --ca "$d/tls/ca.pem" \
			--credentials "$d/credentials" --stream s --record-bytes "$RB" --batch 500 \
			--connections "${CONNS:-4}" --inflight "${INFLIGHT:-2}" --duration "$DUR" \
			--cpu "$GEN_CPU" --quiet --json "$OUT/$name.json" "${extra[@]}" \
			>"$OUT/$name.txt" 2>&1 || echo "shards: $name: loadgen failed" >&2
		[ $HAVE_PERF = 1 ] && wait "$PS" 2>/dev/null
		echo $(($(pl_ticks "$SP") - t0)) >"$OUT/$name.ticks"
		cut -d' ' -f1 /proc/loadavg >"$OUT/$name.load"
	done
	kill "$SP" 2>/dev/null; wait "$SP" 2>/dev/null || true
	SP=
	ls -la "$d/log/0" >"$OUT/$tag.files" 2>/dev/null || true
	rm -rf "$d"
}

for n in 4 10000; do
	for b in "${BINS[@]}"; do
		run "${b%%=*}-$n" "${b#*=}" "$n"
	done
done
CMD="perf/shards.sh --duration $DUR --rate $RATE --record-bytes $RB${BASE:+ (BASE=old sluiced)} (CONNS=${CONNS:-4} INFLIGHT=${INFLIGHT:-2}, server cpu $SERVER_CPU, generator cpu $GEN_CPU)"
/usr/bin/python3 - "$OUT" "$CMD" "$APPEND" "$ROOT/perf/RESULTS.md" "$(getconf CLK_TCK)" "$DUR" \
	"${BINS[@]%%=*}" <<'PYEOF'
import datetime, json, os, sys
out, cmd, append, results, hz, dur = sys.argv[1:7]
bins = sys.argv[7:]
hz, dur = float(hz), float(dur)
def res(name):
    try:
        j = json.load(open(os.path.join(out, name + '.json')))
    except (OSError, ValueError):
        return None
    cpu_s = None
    try:  # perf stat -x,: "msec,,task-clock,..."
        for line in open(os.path.join(out, name + '.perf')):
            f = line.split(',')
            if len(f) > 2 and f[2].startswith('task-clock'):
                cpu_s = float(f[0]) / 1000.0
    except (OSError, ValueError):
        pass
    if cpu_s is None:
        cpu_s = int(open(os.path.join(out, name + '.ticks')).read()) / hz
    j['cpu_s'] = cpu_s
    j['load'] = open(os.path.join(out, name + '.load')).read().strip()
    return j
lines = ['', '## %s: 4 vs 10,000 shards' % datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC'),
         '', '- command: `%s`' % cmd, '- machine: %s, %d CPUs' % (os.uname().nodename, os.cpu_count()),
         '',
         '| binary | shards | loop | records/s | MB/s | p50 ms | p99 ms | max ms | sluiced CPU us/record | errors | load |',
         '|---|---|---|---|---|---|---|---|---|---|---|']
R = {}
for b in bins:
    for n in (4, 10000):
        for mode in ('closed', 'open'):
            j = res('%s-%d-%s' % (b, n, mode))
            R[(b, n, mode)] = j
            if not j:
                lines.append('| %s | %d | %s | (missing) |' % (b, n, mode))
                continue
            cpu_us = 1e6 * j['cpu_s'] / max(j['records'], 1)
            j['cpu_us'] = cpu_us
            L = j['latency_ms']
            lines.append('| %s | %d | %s | %.0f | %.1f | %.1f | %.1f | %.1f | %.2f | %d | %s |' % (
                b, n, mode, j['records_per_s'], j['payload_MB_per_s'], L['p50'], L['p99'],
                L['max'], cpu_us, j['requests_failed'] + j['records_failed'], j['load']))
lines += ['', '| binary | loop | records/s 10000/4 | p99 10000/4 | CPU/record 10000/4 |', '|---|---|---|---|---|']
for b in bins:
    for mode in ('closed', 'open'):
        a, z = R.get((b, 4, mode)), R.get((b, 10000, mode))
        if a and z:
            lines.append('| %s | %s | %.2f | %.2f | %.2f |' % (
                b, mode, z['records_per_s'] / max(a['records_per_s'], 1),
                z['latency_ms']['p99'] / max(a['latency_ms']['p99'], 1e-9),
                z['cpu_us'] / max(a['cpu_us'], 1e-9)))
text = '\n'.join(lines) + '\n'
print(text)
if append == '1':
    with open(results, 'a') as f:
        f.write(text)
PYEOF
