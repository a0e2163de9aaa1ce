#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# perf/compare.sh: one run, side by side, on this machine:
#   sluice (kernel transport, durable acks) | kinesalite (npm, in-memory) |
#   tls-sink (our TLS layer, reads and drops) | storage limit (O_DIRECT+DSYNC)
# Workloads: PutRecords 500 x 1 KiB and 500 x 100 B, streams of 4 and 10000
# shards (quotas off); sluice also in CBOR (the Java SDK's encoding), 4
# shards. Prints a table, then
#   ratio sluice/kinesalite=X sluice/tls-sink=Y cbor/json=Z
# and appends the results to perf/RESULTS.md.
#
# usage: perf/compare.sh [--duration S] [--no-append] [--metrics-ab ROUNDS] [--reads]
#                        [--reads-behind] [--mirror ROUNDS] [--channel ROUNDS]
#   --reads-behind: producers (500 x 1 KiB, 4 shards) alone and beside 4
#   GetRecords consumers reading from TRIM_HORIZON a backlog written first
#   (DUR s of producing: far older than the tail, so read from the journal's
#   files), with --read-slots 16 (io_uring reads) and 0 (pread on the log
#   lcore), twice each, alternating; the measured producers run open loop
#   at BEHIND_RATE records/s (default 20000) so their acknowledgement
#   latency shows what the reads cost the journal, not the generator's CPU.
#   --reads: instead, the read path: producers (500 x 1 KiB, 4 shards) alone,
#   with 1 and with 8 GetRecords consumers at the tip, each with the
#   in-memory tail on (default flags) and off (--tail-ms 0); producer and
#   consumer rates, put-to-get latency, MillisBehindLatest, sluiced CPU per
#   ingested MB, and where the reads were served from (/metrics). Appends
#   to perf/RESULTS.md unless --no-append. TAIL_ON_ARGS: extra flags of the
#   tail-on sluiced (e.g. "--tail-shard-kib 16384 --tail-mib 256").
#   --mirror ROUNDS: instead, what a running mirror (--mirror-config) costs
#   producers: the same sluiced (500 x 1 KiB, 4 shards) without and with a
#   mirror of the stream, alternating, ROUNDS times each. The upstream is
#   tls_sink --put-ok (accepts every PutRecords, no storage) on the
#   generator's CPU, standing in for a remote endpoint. Producer records/s,
#   sluiced CPU per record, records the mirror forwarded during the run and
#   its lag at the end. Appends to perf/RESULTS.md unless --no-append.
#   --channel ROUNDS: as --mirror, with a third column: the same sluiced
#   delivering a channel of the stream (--channel-config, BYTE_ARRAY, no
#   compression, flush_ms 1000) to an S3 endpoint that discards the objects
#   (tls_sink --put-ok answers PutObject 200 once the body is in; s3rver,
#   node and file-backed, would be the bottleneck). Rounds alternate off,
#   mirror, channel.
#   --metrics-ab ROUNDS: instead, the cost of the metrics counters: the same
#   sluiced with --metrics on and --metrics off, alternating, ROUNDS times
#   each, 500 x 1 KiB and 500 x 100 B on a 4-shard stream; prints both
#   columns (the other contenders are not run).
#   env: BUILD (build dir, default ./build), SERVER_CPU (0), GEN_CPU (1),
#        CONNS (4), INFLIGHT (2)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/perf/lib.sh"
BUILD=${BUILD:-$ROOT/build}
DUR=10
APPEND=1
AB=0
READS=0
READS_BEHIND=0
MIRROR=0
CHANNEL=0
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DUR=$2; shift 2 ;;
	--no-append) APPEND=0; shift ;;
	--metrics-ab) AB=$2; shift 2 ;;
	--reads) READS=1; shift ;;
	--reads-behind) READS_BEHIND=1; shift ;;
	--mirror) MIRROR=$2; shift 2 ;;
	--channel) MIRROR=$2; CHANNEL=1; shift 2 ;;
	*) echo "usage: $0 [--duration S] [--no-append] [--metrics-ab ROUNDS] [--reads]" \
		"[--reads-behind] [--mirror ROUNDS] [--channel ROUNDS]" >&2; exit 2 ;;
	esac
done
CONNS=${CONNS:-4}
INFLIGHT=${INFLIGHT:-2}
NCPU=$(nproc)
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-$((NCPU > 1 ? 1 : 0))}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/perf/out/$STAMP
mkdir -p "$OUT"
PY=/usr/bin/python3
AWS=/usr/bin/aws
PIDS=()

log() { echo "compare: $*" >&2; }

cleanup() {
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

# ---- dependencies and build -------------------------------------------
# The build dependencies of deploy/quickstart.sh, plus node/npm (kinesalite)
# and gnuplot (plots; runs go on without it).
DEPS=(libdpdk-dev libisal-dev libipsec-mb-dev liburing-dev libssl-dev libhwloc-dev
      libsqlite3-dev libcmocka-dev libnghttp2-dev meson ninja-build pkg-config gcc awscli
      nodejs npm gnuplot-nox util-linux)
need_apt=()
for p in "${DEPS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
	log "installing ${need_apt[*]}"
	sudo=()
	[ "$(id -u)" = 0 ] || sudo=(sudo)
	{ "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
	  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${need_apt[@]}"; } >"$OUT/apt.log" 2>&1 ||
		log "apt-get failed (see $OUT/apt.log); continuing with what is there"
fi
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$ROOT" >"$OUT/meson.log" 2>&1 ||
		{ log "meson setup failed, see $OUT/meson.log"; exit 1; }
fi
ninja -C "$BUILD" sluiced perf/loadgen perf/tls_sink perf/storage_limit >"$OUT/ninja.log" 2>&1 ||
	{ log "build failed, see $OUT/ninja.log"; exit 1; }
LG=$BUILD/perf/loadgen

KL_DIR=$ROOT/perf/kinesalite
KL_CLI=$KL_DIR/node_modules/kinesalite/cli.js
if [ ! -f "$KL_CLI" ] && command -v npm >/dev/null; then
	log "npm install kinesalite@3 into perf/kinesalite"
	mkdir -p "$KL_DIR"
	(cd "$KL_DIR" && npm install --no-audit --no-fund --prefix . kinesalite@3 \
		>"$OUT/npm.log" 2>&1) || log "kinesalite install failed (see $OUT/npm.log)"
fi

wait_file() { # file, seconds
	for _ in $(seq 1 $(($2 * 10))); do [ -s "$1" ] && return 0; sleep 0.1; done
	return 1
}

wait_port() { # port, seconds
	for _ in $(seq 1 $(($2 * 10))); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run_lg NAME ENDPOINT STREAM RECORD_BYTES extra-args...
run_lg() {
	local name=$1 ep=$2 stream=$3 rb=$4
	shift 4
	log "run $name ($DUR s)"
	taskset -c "$GEN_CPU" "$LG" --endpoint "$ep" --stream "$stream" --record-bytes "$rb" \
		--batch 500 --connections "$CONNS" --inflight "$INFLIGHT" --duration "$DUR" \
		--cpu "$GEN_CPU" --label "$name" --json "$OUT/$name.json" --plot "$OUT/$name.png" \
		--quiet "$@" >"$OUT/$name.txt" 2>&1 || log "$name: loadgen failed (see $OUT/$name.txt)"
	# 1-minute load average at the end of the run: other jobs on the machine
	# (anything above ~2 on 2 CPUs) make that row unreliable
	cut -d' ' -f1 /proc/loadavg >"$OUT/$name.load"
}

# ---- metrics on vs off (--metrics-ab) ----------------------------------
# One sluiced per run (fresh data directory), alternating on/off so slow
# drifts of a shared machine hit both columns alike. Besides throughput,
# each run records sluiced's CPU time (utime + stime): CPU per record is
# what the counters cost, and it moves far less than throughput when other
# jobs share the machine.
ab_run() { # metrics record-bytes round
	local m=$1 rb=$2 r=$3 d=$OUT/ab-data ok=0
	pl_start "$BUILD/sluiced" "$d" "$OUT/ab-sluiced-$m-$rb-$r.log" "$SERVER_CPU" \
		--metrics "$m" --admin-listen 127.0.0.1:0 && ok=1
	local pid=$PL_PID sa=$PL_ADDR
	PIDS+=($pid)
	[ $ok = 1 ] || { log "sluiced did not start"; exit 1; }
	pl_aws "$d" "$sa" create-stream --stream-name s4 --shard-count 4 >/dev/null
	sleep 0.5
	local t0
	t0=$(pl_ticks "$pid")
	run_lg "ab-$m-$rb-$r" "https://$sa" s4 "$rb" --ca "$d/tls/ca.pem" \
		--credentials "$d/credentials"
	echo $(($(pl_ticks "$pid") - t0)) >"$OUT/ab-$m-$rb-$r.ticks"
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	rm -rf "$d"
}
if [ "$AB" -gt 0 ]; then
	for r in $(seq 1 "$AB"); do
		for rb in 1024 100; do
			ab_run on "$rb" "$r"
			ab_run off "$rb" "$r"
		done
	done
	CMD="perf/compare.sh --duration $DUR --metrics-ab $AB (CONNS=$CONNS INFLIGHT=$INFLIGHT, server cpu $SERVER_CPU, generator cpu $GEN_CPU)"
	$PY - "$OUT" "$AB" "$CMD" "$(getconf CLK_TCK)" <<'PYEOF'
import json, os, sys
out, rounds, cmd, hz = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
def res(name):
    try:
        with open(os.path.join(out, name + '.json')) as f:
            j = json.load(f)
        with open(os.path.join(out, name + '.ticks')) as f:
            j['cpu_s'] = int(f.read()) / hz
        return j
    except (OSError, ValueError):
        return None
def mean(v):
    return sum(v) / len(v)
print('metrics on vs off: ' + cmd)
print('| workload | metrics on | metrics off | on/off |')
print('|---|---|---|---|')
for rb in (1024, 100):
    on = [x for x in (res('ab-on-%d-%d' % (rb, r)) for r in range(1, rounds + 1)) if x]
    off = [x for x in (res('ab-off-%d-%d' % (rb, r)) for r in range(1, rounds + 1)) if x]
    if not on or not off:
        print('| 500 x %d B | (missing) | (missing) | |' % rb)
        continue
    rows = (('records/s', lambda x: x['records_per_s'], '%.0f'),
            ('payload MB/s', lambda x: x['payload_MB_per_s'], '%.1f'),
            ('sluiced CPU us per record', lambda x: 1e6 * x['cpu_s'] / max(x['records'], 1),
             '%.3f'),
            ('p99 ms', lambda x: x['latency_ms']['p99'], '%.1f'))
    for label, f, fmt in rows:
        von, voff = [f(x) for x in on], [f(x) for x in off]
        print('| 500 x %d B, %s | %s (mean %s) | %s (mean %s) | %.3f |' % (
            rb, label, ', '.join(fmt % v for v in von), fmt % mean(von),
            ', '.join(fmt % v for v in voff), fmt % mean(voff), mean(von) / mean(voff)))
PYEOF
	exit 0
fi

# ---- a running mirror's cost to producers (--mirror) --------------------
# One sluiced per run (fresh data directory), alternating off/on. The sink
# stays up across runs; its CPU is the generator's (a remote upstream
# would cost this machine nothing), so "on" is if anything pessimistic.
mirror_run() { # on|off|channel round
	local mode=$1 r=$2 d=$OUT/mr-data extra=()
	if [ "$mode" = on ]; then
		(umask 077; printf 'stream = s4\nendpoint = https://%s\nregion = us-east-1\naccess_key = AKIDSINK\nsecret_key = sink\nca_bundle = %s\n' \
			"$(cat "$MR_SINK_DIR/sink.addr")" "$MR_SINK_DIR/tls/ca.pem" >"$OUT/mirror.conf")
		extra=(--mirror-config "$OUT/mirror.conf")
	elif [ "$mode" = channel ]; then
		(umask 077; printf 'endpoint = https://%s\nregion = us-east-1\naccess_key = AKIDSINK\nsecret_key = sink\nca_bundle = %s\nflush_ms = 1000\n' \
			"$(cat "$MR_SINK_DIR/sink.addr")" "$MR_SINK_DIR/tls/ca.pem" >"$OUT/channel.conf")
		extra=(--channel-config "$OUT/channel.conf")
	fi
	# MR_ARGS: extra sluiced flags of every run, off and on alike (e.g.
	# "--tail-idle-ms 0": every shard keeps a tail, as before readers
	# decided it, so "off" pays the tail copy a reader makes "on" pay).
	local mrargs=()
	read -r -a mrargs <<<"${MR_ARGS:-}"
	local ok=0
	pl_start "$BUILD/sluiced" "$d" "$OUT/mr-sluiced-$mode-$r.log" "$SERVER_CPU" \
		--admin-listen 127.0.0.1:0 "${extra[@]}" "${mrargs[@]}" && ok=1
	local pid=$PL_PID sa=$PL_ADDR
	PIDS+=($pid)
	[ $ok = 1 ] || { log "sluiced did not start"; exit 1; }
	pl_aws "$d" "$sa" create-stream --stream-name s4 "${S4_MODE[@]}" >/dev/null
	[ "$mode" = channel ] && mk_channel "$d" "$sa"
	sleep 1 # the mirror (or delivery) lists the shards
	local t0
	t0=$(pl_ticks "$pid")
	run_lg "mr-$mode-$r" "https://$sa" s4 1024 --ca "$d/tls/ca.pem" \
		--credentials "$d/credentials"
	echo $(($(pl_ticks "$pid") - t0)) >"$OUT/mr-$mode-$r.ticks"
	$PY - "http://$(cat "$d/sluiced.admin")/metrics" >"$OUT/mr-$mode-$r.mirror" <<'PYEOF' || true
import sys, urllib.request
for line in urllib.request.urlopen(sys.argv[1], timeout=10).read().decode().splitlines():
    if line.startswith(('sluice_mirror_records_sent_total', 'sluice_mirror_lag_milliseconds',
                        'sluice_channel_records_total', 'sluice_channel_lag_milliseconds')):
        print(line.split('{')[0], line.rsplit(' ', 1)[1])
PYEOF
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	rm -rf "$d"
}
# CreateChannel of s4 (signed by hand: botocore's kinesis model predates
# channels), then waits until it is ACTIVE.
mk_channel() { # data-dir host:port
	$PY - "$1" "$2" <<'PYEOF'
import configparser, json, ssl, sys, time, urllib.error, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
d, sa = sys.argv[1], sys.argv[2]
cp = configparser.ConfigParser()
cp.read(d + '/credentials')
sec = cp[cp.sections()[0]]
creds = Credentials(sec['aws_access_key_id'], sec['aws_secret_access_key'])
ctx = ssl.create_default_context(cafile=d + '/tls/ca.pem')
def call(op, body):
    req = AWSRequest('POST', 'https://%s/' % sa, data=json.dumps(body), headers={
        'X-Amz-Target': 'Kinesis_20131202.' + op,
        'Content-Type': 'application/x-amz-json-1.1'})
    SigV4Auth(creds, 'kinesis', 'us-east-1').add_auth(req)
    r = urllib.request.Request(req.url, data=req.body, headers=dict(req.headers))
    try:
        return json.loads(urllib.request.urlopen(r, context=ctx, timeout=10).read())
    except urllib.error.HTTPError as e:
        sys.exit('%s: %d %s' % (op, e.code, e.read()[:300]))
arn = call('DescribeStreamSummary', {'StreamName': 's4'})['StreamDescriptionSummary']['StreamARN']
ch = call('CreateChannel', {
    'ChannelName': 'c4', 'ServiceExecutionRoleARN': 'arn:aws:iam::123456789012:role/perf',
    'StreamConfigurationList': [{'StreamARN': arn,
                                 'RecordConfiguration': {'RecordFormatType': 'BYTE_ARRAY'}}],
    'S3DestinationConfiguration': {'StorageConfiguration': {
        'BucketARN': 'arn:aws:s3:::perf-sink', 'ExpectedBucketOwner': '123456789012',
        'CompressionType': 'NONE'}}})
for _ in range(100):
    desc = call('DescribeChannel', {'ChannelARN': ch['ChannelDescription']['ChannelARN']})
    if desc['ChannelDescription']['ChannelStatus'] == 'ACTIVE':
        sys.exit(0)
    time.sleep(0.1)
sys.exit('channel c4 not ACTIVE')
PYEOF
}

# Channels are for ON_DEMAND streams only (4 shards here, as the
# provisioned s4): with --channel every column uses one, so they compare.
S4_MODE=(--shard-count 4)
[ "$CHANNEL" = 1 ] && S4_MODE=(--stream-mode-details StreamMode=ON_DEMAND)
if [ "$MIRROR" -gt 0 ]; then
	MR_SINK_DIR=$OUT/mr-sink
	mkdir -p "$MR_SINK_DIR"
	taskset -c "$GEN_CPU" "$BUILD/perf/tls_sink" --listen 127.0.0.1:0 --dir "$MR_SINK_DIR" \
		--cpu "$GEN_CPU" --put-ok >"$OUT/mr-sink.log" 2>&1 &
	PIDS+=($!)
	wait_file "$MR_SINK_DIR/sink.addr" 20 || { log "tls_sink did not start"; exit 1; }
	for r in $(seq 1 "$MIRROR"); do
		mirror_run off "$r"
		mirror_run on "$r"
		[ "$CHANNEL" = 1 ] && mirror_run channel "$r"
	done
	FLAG=--mirror
	[ "$CHANNEL" = 1 ] && FLAG=--channel
	CMD="perf/compare.sh --duration $DUR $FLAG $MIRROR (CONNS=$CONNS INFLIGHT=$INFLIGHT, server cpu $SERVER_CPU, generator and sink cpu $GEN_CPU)"
	$PY - "$OUT" "$MIRROR" "$CMD" "$(getconf CLK_TCK)" >"$OUT/mirror.md" <<'PYEOF'
import json, os, sys
out, rounds, cmd, hz = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
def res(name):
    try:
        with open(os.path.join(out, name + '.json')) as f:
            j = json.load(f)
        with open(os.path.join(out, name + '.ticks')) as f:
            j['cpu_s'] = int(f.read()) / hz
        j['mirror'] = {}
        if os.path.exists(os.path.join(out, name + '.mirror')):
            for line in open(os.path.join(out, name + '.mirror')):
                k, v = line.split()
                j['mirror'][k] = float(v)
        with open(os.path.join(out, name + '.load')) as f:
            j['load'] = float(f.read())
        return j
    except (OSError, ValueError):
        return None
def mean(v):
    return sum(v) / len(v)
off = [x for x in (res('mr-off-%d' % r) for r in range(1, rounds + 1)) if x]
on = [x for x in (res('mr-on-%d' % r) for r in range(1, rounds + 1)) if x]
ch = [x for x in (res('mr-channel-%d' % r) for r in range(1, rounds + 1)) if x]
chan = '--channel' in cmd
print(('mirror and channel off vs on: ' if chan else 'mirror off vs on: ') + cmd)
print()
if chan:
    print('| 500 x 1 KiB, 4 shards | off | mirror on | channel on | mirror/off | channel/off |')
    print('|---|---|---|---|---|---|')
else:
    print('| 500 x 1 KiB, 4 shards | mirror off | mirror on | on/off |')
    print('|---|---|---|---|')
if not on or not off or (chan and not ch):
    print('| (missing runs) | | | |')
    sys.exit(0)
rows = (('producer records/s', lambda x: x['records_per_s'], '%.0f'),
        ('sluiced CPU us per record', lambda x: 1e6 * x['cpu_s'] / max(x['records'], 1), '%.2f'),
        ('p99 ms', lambda x: x['latency_ms']['p99'], '%.1f'),
        ('load average (1 min)', lambda x: x['load'], '%.2f'))
for label, f, fmt in rows:
    cols = [off, on] + ([ch] if chan else [])
    vals = [[f(x) for x in c] for c in cols]
    cells = ['%s (mean %s)' % (', '.join(fmt % v for v in vs), fmt % mean(vs)) for vs in vals]
    ratios = ['%.3f' % (mean(vs) / mean(vals[0])) for vs in vals[1:]]
    print('| %s | %s | %s |' % (label, ' | '.join(cells), ' | '.join(ratios)))
fw = ['%.0f of %d (lag %.0f ms)' % (x['mirror'].get('sluice_mirror_records_sent_total', 0),
                                    x['records'],
                                    x['mirror'].get('sluice_mirror_lag_milliseconds', -1))
      for x in on]
if chan:
    dl = ['%.0f of %d (lag %.0f ms)' % (x['mirror'].get('sluice_channel_records_total', 0),
                                        x['records'],
                                        x['mirror'].get('sluice_channel_lag_milliseconds', -1))
          for x in ch]
    print('| forwarded / delivered during the run | | %s | %s | | |' % (', '.join(fw), ', '.join(dl)))
else:
    print('| mirror: forwarded during the run | | %s | |' % ', '.join(fw))
PYEOF
	cat "$OUT/mirror.md"
	if [ "$APPEND" = 1 ]; then
		{ printf '\n## Mirror%s cost to producers (%s)\n\n' \
			"$([ "$CHANNEL" = 1 ] && echo ' and channel')" "$STAMP"; cat "$OUT/mirror.md"; } \
			>>"$ROOT/perf/RESULTS.md"
	fi
	exit 0
fi

# ---- the read path (--reads) -------------------------------------------
# One sluiced per tail setting; each workload on a fresh 4-shard stream.
# Consumers start at LATEST before the producer, so they read at the tip;
# they run DUR+2 s and the producer DUR s. Everything of the generator side
# runs on GEN_CPU (shared with the log lcore, see README "Caveats").
scrape_reads() { # admin-addr out-file
	$PY - "$1" >"$2" <<'PYEOF' || true
import sys, urllib.request
body = urllib.request.urlopen('http://%s/metrics' % sys.argv[1], timeout=10).read().decode()
for line in body.splitlines():
    if line.startswith(('sluice_journal_tail_read_records', 'sluice_journal_disk_read_records',
                        'sluice_journal_disk_read_chunks', 'sluice_journal_tail_bytes')):
        print(line)
PYEOF
}
reads_run() { # tail(on|off) consumers
	local tail=$1 nc=$2 name="reads-$1-g$2" stream="r$2"
	R_AWS create-stream --stream-name "$stream" --shard-count 4 >/dev/null
	wait_active R_AWS "$stream" || log "stream $stream not ACTIVE"
	scrape_reads "$RADM" "$OUT/$name.before"
	local t0 cpids=()
	t0=$(awk '{print $14+$15}' "/proc/$RPID/stat")
	for k in $(seq 1 "$nc"); do
		taskset -c "$GEN_CPU" "$LG" --endpoint "https://$RSA" --stream "$stream" --mode get \
			--shards 4 --iterator LATEST --batch 10000 --poll-ms 100 --connections 1 \
			--inflight 4 --duration $((DUR + 2)) --cpu "$GEN_CPU" --label "$name-c$k" \
			--json "$OUT/$name-c$k.json" --quiet --ca "$RD/tls/ca.pem" \
			--credentials "$RD/credentials" >"$OUT/$name-c$k.txt" 2>&1 &
		cpids+=($!)
	done
	sleep 1
	run_lg "$name-p" "https://$RSA" "$stream" 1024 --ca "$RD/tls/ca.pem" \
		--credentials "$RD/credentials"
	for p in "${cpids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	echo $(($(awk '{print $14+$15}' "/proc/$RPID/stat") - t0)) >"$OUT/$name.ticks"
	scrape_reads "$RADM" "$OUT/$name.after"
}
# SubscribeToShard: nc registered consumers, each subscribed to all 4 shards
# (nc consumers per shard), in one loadgen (one connection per subscription).
sub_run() { # tail(on|off) consumers-per-shard
	local tail=$1 nc=$2 name="reads-$1-s$2" stream="s$2" sarn args=()
	R_AWS create-stream --stream-name "$stream" --shard-count 4 >/dev/null
	wait_active R_AWS "$stream" || log "stream $stream not ACTIVE"
	sarn=$(R_AWS describe-stream-summary --stream-name "$stream" \
		--query StreamDescriptionSummary.StreamARN --output text)
	mapfile -t args < <(pl_consumers "$RD" "$RSA" "$sarn" "$nc")
	scrape_reads "$RADM" "$OUT/$name.before"
	local t0 cpid
	t0=$(awk '{print $14+$15}' "/proc/$RPID/stat")
	taskset -c "$GEN_CPU" "$LG" --endpoint "https://$RSA" --stream "$stream" \
		--mode subscribe --shards 4 --iterator LATEST "${args[@]}" \
		--duration $((DUR + 2)) --cpu "$GEN_CPU" --label "$name-c" \
		--json "$OUT/$name-c.json" --quiet --ca "$RD/tls/ca.pem" \
		--credentials "$RD/credentials" >"$OUT/$name-c.txt" 2>&1 &
	cpid=$!
	sleep 1
	run_lg "$name-p" "https://$RSA" "$stream" 1024 --ca "$RD/tls/ca.pem" \
		--credentials "$RD/credentials"
	wait "$cpid" 2>/dev/null || true
	echo $(($(awk '{print $14+$15}' "/proc/$RPID/stat") - t0)) >"$OUT/$name.ticks"
	scrape_reads "$RADM" "$OUT/$name.after"
}
if [ "$READS" = 1 ]; then
	export AWS_DEFAULT_REGION=us-east-1
	for tail in on off; do
		RD=$OUT/reads-data-$tail
		rm -rf "$RD"
		mkdir -p "$RD"
		read -r -a TAILARGS <<<"${TAIL_ON_ARGS:-}"
		[ "$tail" = off ] && TAILARGS=(--tail-ms 0)
		taskset -c "$SERVER_CPU" "$BUILD/sluiced" --listen 127.0.0.1:0 --data-dir "$RD" \
			--create-delay-ms 0 --quota-mode off --admin-listen 127.0.0.1:0 \
			"${TAILARGS[@]}" >"$OUT/reads-sluiced-$tail.log" 2>&1 &
		RPID=$!
		PIDS+=($RPID)
		wait_file "$RD/sluiced.addr" 30 || { log "sluiced did not start"; exit 1; }
		wait_file "$RD/sluiced.admin" 30 || { log "no admin listener"; exit 1; }
		RSA=$(cat "$RD/sluiced.addr")
		RADM=$(cat "$RD/sluiced.admin")
		R_AWS() {
			AWS_CA_BUNDLE=$RD/tls/ca.pem AWS_SHARED_CREDENTIALS_FILE=$RD/credentials \
				"$AWS" --endpoint-url "https://$RSA" kinesis "$@"
		}
		wait_active() { # aws-function stream
			for _ in $(seq 1 600); do
				st=$("$1" describe-stream-summary --stream-name "$2" \
					--query StreamDescriptionSummary.StreamStatus --output text \
					2>/dev/null || true)
				[ "$st" = ACTIVE ] && return 0
				sleep 0.5
			done
			return 1
		}
		for nc in 0 1 8; do
			reads_run "$tail" "$nc"
		done
		for nc in 1 5; do
			sub_run "$tail" "$nc"
		done
		kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null || true
		rm -rf "$RD"
	done
	CMD="TAIL_ON_ARGS='${TAIL_ON_ARGS:-}' perf/compare.sh --duration $DUR --reads (CONNS=$CONNS INFLIGHT=$INFLIGHT, server cpu $SERVER_CPU, generator and consumers cpu $GEN_CPU)"
	$PY "$ROOT/perf/compare_reads.py" "$OUT" "$CMD" "$APPEND" "$ROOT/perf/RESULTS.md" \
		"$(getconf CLK_TCK)"
	exit 0
fi

# ---- readers far behind (--reads-behind) --------------------------------
if [ "$READS_BEHIND" = 1 ]; then
	export AWS_DEFAULT_REGION=us-east-1
	for round in 16a 0a 16b 0b; do
		slots=${round%[ab]}
		RD=$OUT/behind-data-$round
		rm -rf "$RD"
		mkdir -p "$RD"
		taskset -c "$SERVER_CPU" "$BUILD/sluiced" --listen 127.0.0.1:0 --data-dir "$RD" \
			--create-delay-ms 0 --quota-mode off --admin-listen 127.0.0.1:0 \
			--read-slots "$slots" >"$OUT/behind-sluiced-$round.log" 2>&1 &
		RPID=$!
		PIDS+=($RPID)
		wait_file "$RD/sluiced.addr" 30 || { log "sluiced did not start"; exit 1; }
		wait_file "$RD/sluiced.admin" 30 || { log "no admin listener"; exit 1; }
		RSA=$(cat "$RD/sluiced.addr")
		AWS_CA_BUNDLE=$RD/tls/ca.pem AWS_SHARED_CREDENTIALS_FILE=$RD/credentials \
			"$AWS" --endpoint-url "https://$RSA" kinesis create-stream --stream-name b \
			--shard-count 4 >/dev/null
		sleep 2
		LGA=(--ca "$RD/tls/ca.pem" --credentials "$RD/credentials")
		run_lg "behind-$round-fill" "https://$RSA" b 1024 "${LGA[@]}"
		run_lg "behind-$round-alone" "https://$RSA" b 1024 "${LGA[@]}" --rate "${BEHIND_RATE:-20000}"
		cpids=()
		for k in 1 2 3 4; do
			taskset -c "$GEN_CPU" "$LG" --endpoint "https://$RSA" --stream b --mode get \
				--shards 4 --iterator TRIM_HORIZON --batch 10000 --poll-ms 100 \
				--connections 1 --inflight 4 --duration $((DUR + 2)) --cpu "$GEN_CPU" \
				--label "behind-$round-c$k" --json "$OUT/behind-$round-c$k.json" --quiet \
				"${LGA[@]}" >"$OUT/behind-$round-c$k.txt" 2>&1 &
			cpids+=($!)
		done
		sleep 1
		run_lg "behind-$round-with" "https://$RSA" b 1024 "${LGA[@]}" --rate "${BEHIND_RATE:-20000}"
		for p in "${cpids[@]}"; do wait "$p" 2>/dev/null || true; done
		$PY - "$(cat "$RD/sluiced.admin")" >"$OUT/behind-$round.metrics" <<'PYEOF' || true
import sys, urllib.request
body = urllib.request.urlopen('http://%s/metrics' % sys.argv[1], timeout=10).read().decode()
print('\n'.join(l for l in body.splitlines() if l.startswith('sluice_journal_') and
                ('read' in l) and not l.startswith('#')))
PYEOF
		kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null || true
		rm -rf "$RD"
	done
	$PY - "$OUT" <<'PYEOF'
import glob, json, sys
out = sys.argv[1]
def load(p):
    try:
        return json.load(open(p))
    except (OSError, ValueError):
        return None
print('| --read-slots (round) | producer alone rec/s | ack p50 / p99 / p99.9 ms | with 4 consumers rec/s | '
      'ack p50 / p99 / p99.9 ms | consumers MB/s (sum) | chunks read with io_uring |')
print('|---|---|---|---|---|---|---|')
for r in ('16a', '0a', '16b', '0b'):
    a, w = load('%s/behind-%s-alone.json' % (out, r)), load('%s/behind-%s-with.json' % (out, r))
    cs = [x for x in (load(f) for f in glob.glob('%s/behind-%s-c*.json' % (out, r))) if x]
    ach = '?'
    try:
        for line in open('%s/behind-%s.metrics' % (out, r)):
            if line.startswith('sluice_journal_async_read_chunks_total'):
                ach = line.split()[-1]
    except OSError:
        pass
    if not a or not w:
        print('| %s | (missing) |' % r)
        continue
    lat = lambda j: '%.1f / %.1f / %.1f' % (j['latency_ms']['p50'], j['latency_ms']['p99'],
                                            j['latency_ms']['p999'])
    print('| %s | %.0f | %s | %.0f | %s | %.1f | %s |' % (
        r, a['records_per_s'], lat(a), w['records_per_s'], lat(w),
        sum(c['payload_MB_per_s'] for c in cs), ach))
PYEOF
	exit 0
fi

# ---- sluice ------------------------------------------------------------
SD=$OUT/sluice-data
mkdir -p "$SD"
QUOTA=()
# grep reads the whole help: with grep -q it could exit at the match while
# sluiced still writes, and under pipefail the SIGPIPE made the test fail
# (11 times in 20 on a busy machine): the run then had quotas on.
"$BUILD/sluiced" --help 2>&1 | grep -- '--quota-mode' >/dev/null && QUOTA=(--quota-mode off)
taskset -c "$SERVER_CPU" "$BUILD/sluiced" --listen 127.0.0.1:0 --data-dir "$SD" \
	--create-delay-ms 0 "${QUOTA[@]}" >"$OUT/sluiced.log" 2>&1 &
PIDS+=($!)
SLUICED_PID=$!
wait_file "$SD/sluiced.addr" 30 || { log "sluiced did not start"; cat "$OUT/sluiced.log"; exit 1; }
SA=$(cat "$SD/sluiced.addr")
export AWS_DEFAULT_REGION=us-east-1
s_aws() {
	AWS_CA_BUNDLE=$SD/tls/ca.pem AWS_SHARED_CREDENTIALS_FILE=$SD/credentials \
		"$AWS" --endpoint-url "https://$SA" kinesis "$@"
}
wait_active() { # aws-function stream
	for _ in $(seq 1 600); do
		st=$("$1" describe-stream-summary --stream-name "$2" \
			--query StreamDescriptionSummary.StreamStatus --output text 2>/dev/null || true)
		[ "$st" = ACTIVE ] && return 0
		sleep 0.5
	done
	return 1
}
for n in 4 10000; do
	s_aws create-stream --stream-name "s$n" --shard-count "$n" >/dev/null
	wait_active s_aws "s$n" || log "sluice stream s$n not ACTIVE"
done
SLG=(--ca "$SD/tls/ca.pem" --credentials "$SD/credentials")
for n in 4 10000; do
	run_lg "sluice-1KiB-$n" "https://$SA" "s$n" 1024 "${SLG[@]}"
	# the Java SDK's encoding (application/x-amz-cbor-1.1), right after
	# the JSON run it is compared with
	if [ "$n" = 4 ]; then
		run_lg "sluice-cbor-1KiB-$n" "https://$SA" "s$n" 1024 "${SLG[@]}" --cbor
	fi
	run_lg "sluice-100B-$n" "https://$SA" "s$n" 100 "${SLG[@]}"
	if [ "$n" = 4 ]; then
		run_lg "sluice-cbor-100B-$n" "https://$SA" "s$n" 100 "${SLG[@]}" --cbor
	fi
done
# per-thread CPU of sluiced over the whole run (utime+stime, clock ticks)
for t in /proc/$SLUICED_PID/task/*; do
	echo "$(cat "$t/comm") $(awk '{print $14+$15}' "$t/stat")"
done >"$OUT/sluiced-threads.txt" 2>/dev/null || true
kill "$SLUICED_PID" 2>/dev/null; wait "$SLUICED_PID" 2>/dev/null || true
du -sh "$SD/log" >"$OUT/sluice-data-size.txt" 2>/dev/null || true
rm -rf "$SD" # gigabytes of journal segments

# ---- kinesalite (HTTP, in-memory; does not check signatures) -----------
if [ -f "$KL_CLI" ]; then
	KP=$(free_port)
	taskset -c "$SERVER_CPU" node "$KL_CLI" --port "$KP" --createStreamMs 0 \
		--shardLimit 20000 >"$OUT/kinesalite.log" 2>&1 &
	PIDS+=($!)
	KL_PID=$!
	if wait_port "$KP" 20; then
		k_aws() {
			AWS_ACCESS_KEY_ID=AKIDLOADGEN AWS_SECRET_ACCESS_KEY=loadgen-secret \
				"$AWS" --endpoint-url "http://127.0.0.1:$KP" kinesis "$@"
		}
		for n in 4 10000; do
			k_aws create-stream --stream-name "s$n" --shard-count "$n" >/dev/null
			wait_active k_aws "s$n" || log "kinesalite stream s$n not ACTIVE"
		done
		for n in 4 10000; do
			run_lg "kinesalite-1KiB-$n" "http://127.0.0.1:$KP" "s$n" 1024
			run_lg "kinesalite-100B-$n" "http://127.0.0.1:$KP" "s$n" 100
		done
	else
		log "kinesalite did not start (see $OUT/kinesalite.log)"
	fi
	kill "$KL_PID" 2>/dev/null; wait "$KL_PID" 2>/dev/null || true
else
	log "kinesalite not installed: its column stays empty"
fi

# ---- TLS sink -----------------------------------------------------------
KD=$OUT/sink
mkdir -p "$KD"
taskset -c "$SERVER_CPU" "$BUILD/perf/tls_sink" --listen 127.0.0.1:0 --dir "$KD" \
	--cpu "$SERVER_CPU" >"$OUT/tls_sink.log" 2>&1 &
PIDS+=($!)
SINK_PID=$!
wait_file "$KD/sink.addr" 20 || { log "tls_sink did not start"; exit 1; }
KA=$(cat "$KD/sink.addr")
run_lg "tls-sink-1KiB" "https://$KA" s 1024 --ca "$KD/tls/ca.pem"
run_lg "tls-sink-100B" "https://$KA" s 100 --ca "$KD/tls/ca.pem"
kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null || true

# ---- storage limit: the journal's write sizes, in the data directory ----
for wb in 65536 524288 4194304; do
	taskset -c "$SERVER_CPU" "$BUILD/perf/storage_limit" --file "$OUT/storage.bin" \
		--write-bytes "$wb" --inflight 2 --duration 3 >>"$OUT/storage.txt" 2>&1 || true
done

# ---- table, ratio line, RESULTS.md --------------------------------------
CMD="perf/compare.sh --duration $DUR (CONNS=$CONNS INFLIGHT=$INFLIGHT, server cpu $SERVER_CPU, generator cpu $GEN_CPU)"
$PY "$ROOT/perf/compare_table.py" "$OUT" "$CMD" "$APPEND" "$ROOT/perf/RESULTS.md"
