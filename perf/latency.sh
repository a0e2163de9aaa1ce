#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# perf/latency.sh: acknowledgement latency vs load (issue #16 item 2), for one
# sluiced binary or two side by side (BASE=old sluiced: alternated per
# workload so a shared machine's drift hits both alike). For each workload
# (records x bytes per PutRecords: 1x1024, 10x1024, 100x100, 500x1024 by
# default): a fresh sluiced (4 shards, quotas off), closed loop for the
# saturation rate, then open loop (loadgen --rate: latency from the intended
# send time) at 10/25/50/75% of that rate, with --auto-conns (AUTO_MS, 50:
# enough connections that requests of 50 ms keep the schedule) and one
# request in flight per connection (OPEN_INFLIGHT), so the open loop
# measures the server, not the generator's slots; a run where the generator
# still fell behind its schedule is marked in the table ("behind"); p50/p99/p99.9 from the loadgen, sluiced's
# CPU per record from /proc utime+stime, and from /metrics (bucket upper
# bounds): the server's own PutRecords latency (request to durable answer),
# the log lcore's part of it (ring queue; posted to durable answer), the
# journal's write latency and commit wait, and records per write. Appends to perf/RESULTS.md unless
# --no-append.
#
# usage: perf/latency.sh [--duration S] [--workloads "1x1024 10x1024 100x100 500x1024"]
#                        [--batches "500 10" [--record-bytes N]]
#                        [--fractions "10 25 50 75"] [--no-append]
#   env: BUILD (./build), BASE (old sluiced, optional), NEW_ARGS (extra flags of
#        the new binary), SERVER_CPU (0), GEN_CPU (1), CONNS (4), INFLIGHT (4)
#        (closed loop), AUTO_MS (50), OPEN_INFLIGHT (1) (open loop)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/perf/lib.sh"
BUILD=${BUILD:-$ROOT/build}
DUR=6
RB=1024
BATCHES=
WORKLOADS="1x1024 10x1024 100x100 500x1024"
FRACS="10 25 50 75"
APPEND=1
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DUR=$2; shift 2 ;;
	--batches) BATCHES=$2; shift 2 ;;
	--workloads) WORKLOADS=$2; shift 2 ;;
	--record-bytes) RB=$2; shift 2 ;;
	--fractions) FRACS=$2; shift 2 ;;
	--no-append) APPEND=0; shift ;;
	*) echo "usage: $0 [--duration S] [--workloads \"1x1024 10x1024\"] [--batches \"500 10\"] [--record-bytes N]" \
		"[--fractions \"10 25 50 75\"] [--no-append]" >&2
	   exit 2 ;;
	esac
done
# --batches (the old form): those batch sizes, all of --record-bytes.
if [ -n "$BATCHES" ]; then
	WORKLOADS=
	for b in $BATCHES; do WORKLOADS="$WORKLOADS ${b}x$RB"; done
fi
for wl in $WORKLOADS; do
	case "$wl" in
	[0-9]*x[0-9]*) ;;
	*) echo "latency: bad workload $wl (want RECORDSxBYTES)" >&2; exit 2 ;;
	esac
done
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
OUT=$ROOT/perf/out/latency-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
ninja -C "$BUILD" sluiced perf/loadgen >"$OUT/ninja.log" 2>&1 ||
	{ echo "latency: build failed, see $OUT/ninja.log" >&2; exit 1; }
LG=$BUILD/perf/loadgen
BINS=("new=$BUILD/sluiced")
[ -n "${BASE:-}" ] && BINS=("old=$BASE" "${BINS[@]}")
SP=
trap '[ -n "$SP" ] && kill $SP 2>/dev/null; wait 2>/dev/null; rm -rf "$OUT"/data-*' EXIT

# one NAME RATE BATCH BYTES: one loadgen run (RATE 0: closed loop) against $sa.
one() {
	local name=$1 rate=$2 batch=$3 rb=$4 extra=(--connections "${CONNS:-4}" --inflight "${INFLIGHT:-4}")
	[ "$rate" != 0 ] && extra=(--rate "$rate" --connections "${CONNS:-4}"
		--inflight "${OPEN_INFLIGHT:-1}" --auto-conns "${AUTO_MS:-50}")
	local t0
	t0=$(pl_ticks "$SP")
	taskset -c "$GEN_CPU" "$LG" --endpoint "https://$sa" --ca "$d/tls/ca.pem" \
		--credentials "$d/credentials" --stream s --record-bytes "$rb" --batch "$batch" \
		--duration "$DUR" \
		--cpu "$GEN_CPU" --quiet --json "$OUT/$name.json" "${extra[@]}" \
		>"$OUT/$name.txt" 2>&1 || echo "latency: $name: loadgen failed" >&2
	echo $(($(pl_ticks "$SP") - t0)) >"$OUT/$name.ticks"
	cut -d' ' -f1 /proc/loadavg >"$OUT/$name.load"
	# The journal's side of it (fresh server per run: totals are this run).
	pl_metrics "$(cat "$d/sluiced.admin")" >"$OUT/$name.metrics" 2>/dev/null || true
}

# start TAG BIN [flags]: a fresh server with a 4-shard stream; sets SP, sa, d.
start() {
	local tag=$1 bin=$2
	shift 2
	d=$OUT/data-$tag
	pl_start "$bin" "$d" "$OUT/$tag.log" "$SERVER_CPU" --admin-listen 127.0.0.1:0 "$@" ||
		{ SP=$PL_PID; echo "latency: $tag: sluiced did not start" >&2; exit 1; }
	SP=$PL_PID sa=$PL_ADDR
	pl_aws "$d" "$sa" create-stream --stream-name s --shard-count 4 >/dev/null
	sleep 1
}

stop() {
	kill "$SP" 2>/dev/null; wait "$SP" 2>/dev/null || true
	SP=
	rm -rf "$d"
}

# Saturation of each binary first (closed loop), then each load level for
# both binaries back to back, at the same rate (the mean of their
# saturations, so "50%" is the same offered load for both).
for wl in $WORKLOADS; do
	batch=${wl%x*}
	rb=${wl#*x}
	sat=()
	for b in "${BINS[@]}"; do
		tag=${b%%=*}
		# shellcheck disable=SC2086
		start "$tag-$wl" "${b#*=}" $([ "$tag" = new ] && echo "${NEW_ARGS:-}")
		one "$tag-$wl-sat" 0 "$batch" "$rb"
		sat+=("$(/usr/bin/python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["records_per_s"]))' "$OUT/$tag-$wl-sat.json" 2>/dev/null || echo 0)")
		stop
	done
	S=0
	for s in "${sat[@]}"; do S=$((S + s)); done
	S=$((S / ${#sat[@]}))
	echo "$S" >"$OUT/sat-$wl"
	for f in $FRACS; do
		for b in "${BINS[@]}"; do
			tag=${b%%=*}
			# shellcheck disable=SC2086
			start "$tag-$wl-$f" "${b#*=}" $([ "$tag" = new ] && echo "${NEW_ARGS:-}")
			one "$tag-$wl-$f" $((S * f / 100)) "$batch" "$rb"
			stop
		done
	done
done
CMD="perf/latency.sh --duration $DUR --workloads \"$(echo $WORKLOADS)\"${BASE:+ (BASE=old sluiced)}${NEW_ARGS:+ (NEW_ARGS=$NEW_ARGS)} (closed loop CONNS=${CONNS:-4} INFLIGHT=${INFLIGHT:-4}; open loop --auto-conns ${AUTO_MS:-50} --inflight ${OPEN_INFLIGHT:-1}; server cpu $SERVER_CPU, generator cpu $GEN_CPU)"
/usr/bin/python3 - "$OUT" "$CMD" "$APPEND" "$ROOT/perf/RESULTS.md" "$(getconf CLK_TCK)" \
	"$(echo $WORKLOADS)" "$FRACS" "${BINS[@]%%=*}" <<'PYEOF'
import datetime, json, os, sys
out, cmd, append, results, hz, batches, fracs = sys.argv[1:8]
bins = sys.argv[8:]
hz = float(hz)
def hist_q(text, fam, q):
    # Upper bound of the bucket holding quantile q of histogram fam (all lcores).
    b = {}
    for line in text.splitlines():
        if line.startswith(fam + '_bucket{'):
            le = line.split('le="')[1].split('"')[0]
            b[le] = b.get(le, 0) + float(line.rsplit(' ', 1)[1])
    if not b:
        return None
    ks = sorted(b, key=lambda k: float('inf') if k == '+Inf' else float(k))
    tot = b[ks[-1]]
    if tot == 0:
        return None
    for k in ks:
        if b[k] >= q * tot:
            return k
def hist_mean(text, fam):
    s = c = 0.0
    for line in text.splitlines():
        if line.startswith(fam + '_sum'):
            s += float(line.rsplit(' ', 1)[1])
        elif line.startswith(fam + '_count'):
            c += float(line.rsplit(' ', 1)[1])
    return s / c if c else None
def ms(v):
    return '-' if v is None else ('>1000' if v == '+Inf' else '%g' % (float(v) * 1e3))
def res(name):
    try:
        j = json.load(open(os.path.join(out, name + '.json')))
        try:
            m = open(os.path.join(out, name + '.metrics')).read()
        except OSError:
            m = ''
        wl, cw = 'sluice_journal_write_latency_seconds', 'sluice_journal_commit_wait_seconds'
        bm = hist_mean(m, 'sluice_journal_batch_records')
        sv = 'sluice_kinesis_put_records_latency_seconds'
        lq, ld = 'sluice_log_put_queue_seconds', 'sluice_log_put_durable_seconds'
        j['journal'] = '%s / %s | %s / %s | %s / %s | %s / %s | %s' % (
            ms(hist_q(m, sv, 0.5)), ms(hist_q(m, sv, 0.99)),
            ms(hist_q(m, lq, 0.99)), ms(hist_q(m, ld, 0.99)),
            ms(hist_q(m, wl, 0.5)), ms(hist_q(m, wl, 0.99)), ms(hist_q(m, cw, 0.5)),
            ms(hist_q(m, cw, 0.99)), '-' if bm is None else '%.0f' % bm)
        j['cpu_s'] = int(open(os.path.join(out, name + '.ticks')).read()) / hz
        j['load'] = open(os.path.join(out, name + '.load')).read().strip()
        return j
    except (OSError, ValueError):
        return None
lines = ['', '## %s: acknowledgement latency vs load' % datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC'),
         '', '- command: `%s`' % cmd, '- machine: %s, %d CPUs' % (os.uname().nodename, os.cpu_count()), '',
         '| records x bytes | load | binary | records/s | p50 ms | p99 ms | p99.9 ms | max ms | generator: conns, sent/due, send lag p99 ms | CPU us/record | errors | load avg | server p50/p99 ms | log queue p99 / to durable p99 ms | write p50/p99 ms | commit wait p50/p99 ms | records/write |',
         '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
for batch in batches.split():
    for f in ['sat'] + fracs.split():
        for b in bins:
            j = res('%s-%s-%s' % (b, batch, f))
            what = 'closed (saturation)' if f == 'sat' else '%s%% open' % f
            if not j:
                lines.append('| %s | %s | %s | (missing) |' % (batch, what, b))
                continue
            L = j['latency_ms']
            sc = j.get('schedule')
            gen = '%d, closed' % j['connections'] if not sc else '%d, %d/%d, %.2f%s' % (
                j['connections'], sc['sent'], sc['due'], sc['send_lag_ms']['p99'],
                ' **behind**' if sc['fell_behind'] else '')
            lines.append('| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %s | %.2f | %d | %s | %s |' % (
                batch, what, b, j['records_per_s'], L['p50'], L['p99'], L['p999'], L['max'], gen,
                1e6 * j['cpu_s'] / max(j['records'], 1),
                j['requests_failed'] + j['records_failed'], j['load'], j['journal']))
text = '\n'.join(lines) + '\n'
print(text)
if append == '1':
    with open(results, 'a') as f:
        f.write(text)
PYEOF
