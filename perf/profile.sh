#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# perf/profile.sh: where sluiced's CPU goes per ingested MB under
# PutRecords load. Starts sluiced (quotas off), runs loadgen pinned to another
# core, samples sluiced with `perf record -e cpu-clock` (this VM has no
# hardware counters, so perf stat cannot count cycles or instructions; the
# software clock works), then prints a breakdown table
# (perf/profile_breakdown.py).
#
# usage: perf/profile.sh [--duration S] [--record-bytes N] [--shards N]
#   env: BUILD (./build), SERVER_CPU (0), GEN_CPU (1), CONNS (4), INFLIGHT (2)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
DUR=8
RB=1024
SHARDS=4
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) DUR=$2; shift 2 ;;
	--record-bytes) RB=$2; shift 2 ;;
	--shards) SHARDS=$2; shift 2 ;;
	*) echo "usage: $0 [--duration S] [--record-bytes N] [--shards N]" >&2; exit 2 ;;
	esac
done
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
HZ=1999
OUT=$ROOT/perf/out/profile-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
if ! perf record -e cpu-clock -o "$OUT/probe.data" true >/dev/null 2>&1; then
	echo "profile: perf record does not work here; use valgrind --tool=callgrind" \
	     "on a short run instead (see perf/README.md)" >&2
	exit 1
fi
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$ROOT" >"$OUT/meson.log"
ninja -C "$BUILD" sluiced perf/loadgen >"$OUT/ninja.log"

SD=$OUT/data
mkdir -p "$SD"
QUOTA=()
# grep reads the whole help: with grep -q it could exit at the match while
# sluiced still writes, and under pipefail the SIGPIPE made the test fail
# (11 times in 20 on a busy machine): the run then had quotas on.
"$BUILD/sluiced" --help 2>&1 | grep -- '--quota-mode' >/dev/null && QUOTA=(--quota-mode off)
taskset -c "$SERVER_CPU" "$BUILD/sluiced" --listen 127.0.0.1:0 --data-dir "$SD" \
	--create-delay-ms 0 "${QUOTA[@]}" >"$OUT/sluiced.log" 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$SD" "$OUT/probe.data"' EXIT
for _ in $(seq 1 300); do [ -s "$SD/sluiced.addr" ] && break; sleep 0.1; done
SA=$(cat "$SD/sluiced.addr")
AWS_CA_BUNDLE=$SD/tls/ca.pem AWS_SHARED_CREDENTIALS_FILE=$SD/credentials \
	AWS_DEFAULT_REGION=us-east-1 /usr/bin/aws --endpoint-url "https://$SA" kinesis \
	create-stream --stream-name p --shard-count "$SHARDS" || { echo "profile: create-stream failed" >&2; exit 1; }
sleep 1
perf record -e cpu-clock -g -F "$HZ" -p "$SP" -o "$OUT/perf.data" -- sleep "$DUR" \
	>"$OUT/perf-record.log" 2>&1 &
PR=$!
taskset -c "$GEN_CPU" "$BUILD/perf/loadgen" --endpoint "https://$SA" --ca "$SD/tls/ca.pem" \
	--credentials "$SD/credentials" --stream p --record-bytes "$RB" --batch 500 \
	--connections "${CONNS:-4}" --inflight "${INFLIGHT:-2}" --duration "$DUR" \
	--cpu "$GEN_CPU" --quiet --json "$OUT/loadgen.json" >"$OUT/loadgen.txt" 2>&1
wait $PR || true
MBPS=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['payload_MB_per_s'])" \
	"$OUT/loadgen.json")
echo "profile: $RB-byte records x500, $SHARDS shards, $MBPS MB/s payload; raw data in $OUT"
/usr/bin/python3 "$ROOT/perf/profile_breakdown.py" "$OUT/perf.data" "$HZ" "$DUR" "$MBPS"
echo "top symbols:"
perf report -i "$OUT/perf.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null |
	grep -E '^ +[0-9]' | head -15
