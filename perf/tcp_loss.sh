#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Goodput of the DPDK transport (our userspace TCP) against the kernel
# transport on the same lossy link, side by side in one run (issue #15 item 3).
#
# One veth pair between two network namespaces this script creates and
# removes (perf/netns_lib.sh, the set-up of perf/dpdk_vs_kernel.sh and
# tests/e2e/dpdk_net.py). sluiced runs in the server namespace, first on the
# kernel transport (the veth end has 10.99.210.2), then on DPDK (af_packet
# PMD on the same veth end, no kernel address, 10.99.210.2 in userspace);
# the load generator runs in the client namespace (10.99.210.1).
#
# Per transport and link condition, two workloads, each bounded by --cell-s:
#   put  PutRecords 500 x 1 KiB from 4 connections x 2 in flight into a fresh
#        4-shard stream (perf/loadgen --verify: self-checking data); the loss
#        is then lifted and everything acknowledged is read back and every
#        byte checked (not timed);
#   get  GetRecords (Limit 100, one call in flight) reading a 1-shard stream
#        prefilled over the clean link with --read-mb MB of 10 KB records,
#        from TRIM_HORIZON, every byte of every record checked.
# Link conditions: 0, 1, 2, 5% random loss of TCP segments in each direction
# (nftables netdev ingress+egress hooks on the client's veth end, so both
# stacks see the same wire loss), then delay, reordering and duplication.
# Those come from the DPDK stack's test-only fault stage (--net-fault-rx/tx,
# applied to received and sent frames); the kernel side gets the same from
# tc netem on both veth ends when the kernel has netem. Without netem it gets
# duplication from nftables (`dup to` on the egress hook of both veth ends),
# and for delay and reordering its column says n/a (no netem): only the
# DPDK figure is printed.
#
# Output: a markdown table (workload, link, kernel MB/s, DPDK MB/s, DPDK/kernel,
# integrity), appended to perf/RESULTS.md unless --no-append; JSON of every
# cell and the server logs in perf/out/<stamp>/tcp_loss (or --out DIR).
#
# Usage: perf/tcp_loss.sh [--quick] [--cell-s S] [--loss "0 1 2 5"]
#          [--faults "delay reorder dup" | --no-faults] [--read-mb N]
#          [--build DIR] [--out DIR] [--no-append]
#          [--kernel-cc NAME]
#        perf/tcp_loss.sh --sweep: only remove what runs killed -9 left
#          (every run does this first: their namespaces, sluiced, data)
#   default: 10 s per cell, 200 MB prefill: 6-8 minutes on a 2-vCPU VM;
#   --quick: 3 s per cell, 16 MB prefill: about 2 minutes.
#   --kernel-cc: the kernel's congestion control in the server namespace
#     (net.ipv4.tcp_congestion_control, e.g. cubic; default: the host's,
#     which is bbr on some machines: BBR does not back off on random loss,
#     our stack's CUBIC does, so say which the comparison was against).
# Per GetRecords cell, the server's timeouts and loss probes are counted
# (kernel: /proc/net/netstat in its namespace; DPDK: the stack's counters
# on the admin listener's /metrics) and printed under the table.
# Needs root (namespaces, nftables, af_packet). Exit status 0 when every
# cell ran and every integrity check passed (the 0.8x goal is reported, not
# enforced: this is a benchmark).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=perf/netns_lib.sh
. "$ROOT/perf/netns_lib.sh"

CELL_S=10
READ_MB=200
LOSSES="0 1 2 5"
FAULTS="delay reorder dup"
B=$ROOT/build
OUT=
APPEND=1
SWEEP_ONLY=0
KERNEL_CC=
CMDLINE="perf/tcp_loss.sh $*"
while [ $# -gt 0 ]; do
	case $1 in
	--quick) CELL_S=3 READ_MB=16 ;;
	--cell-s) CELL_S=$2; shift ;;
	--loss) LOSSES=$2; shift ;;
	--faults) FAULTS=$2; shift ;;
	--no-faults) FAULTS= ;;
	--read-mb) READ_MB=$2; shift ;;
	--build) B=$(cd "$2" && pwd); shift ;;
	--out) OUT=$2; shift ;;
	--no-append) APPEND=0 ;;
	--sweep) SWEEP_ONLY=1 ;;
	--kernel-cc) KERNEL_CC=$2; shift ;;
	-h | --help) sed -n '2,44p' "$0"; exit 0 ;;
	*) echo "tcp_loss.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
# Bounded: each cell is a few seconds to a minute, whatever is asked.
in_range() { # VALUE LO HI: an integer in [LO, HI]
	[[ $1 =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3))
}
in_range "$CELL_S" 1 60 || { echo "tcp_loss.sh: --cell-s 1..60" >&2; exit 2; }
in_range "$READ_MB" 1 1024 || { echo "tcp_loss.sh: --read-mb 1..1024" >&2; exit 2; }
for l in $LOSSES; do
	in_range "$l" 0 50 || { echo "tcp_loss.sh: loss 0..50 (%)" >&2; exit 2; }
done
[[ -z $KERNEL_CC || $KERNEL_CC =~ ^[a-z0-9_]{1,16}$ ]] || { echo "tcp_loss.sh: --kernel-cc NAME" >&2; exit 2; }
for f in $FAULTS; do
	case $f in delay | reorder | dup) ;; *) echo "tcp_loss.sh: fault $f?" >&2; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || { echo "tcp_loss.sh: needs root (network namespaces, nftables)" >&2; exit 2; }
# A run killed -9 never ran its EXIT trap: its namespaces (with a sluiced
# still in them) and its data (GBs) would stay for good. Ours carry our
# pid, so those of runs that are gone are known and removed; a live run's
# are left alone.
nl_sweep_stale sl-tl tcp_loss.sh
for d in /tmp/sl-tl.[0-9]*.*; do
	[ -d "$d" ] || continue
	pid=${d#/tmp/sl-tl.}
	pid=${pid%%.*}
	[[ $pid =~ ^[0-9]+$ ]] || continue
	if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF tcp_loss.sh; then
		continue
	fi
	echo "removing $d: its run (pid $pid) is gone" >&2
	rm -rf "$d"
done
[ "$SWEEP_ONLY" = 0 ] || exit 0
if [ ! -x "$B/sluiced" ] || [ ! -x "$B/perf/loadgen" ]; then
	meson setup "$B" >/dev/null
	ninja -C "$B"
fi
[ -n "$OUT" ] || OUT=$ROOT/perf/out/$(date -u +%Y%m%dT%H%M%SZ)/tcp_loss
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Names carry our pid: two runs (or an e2e run beside this) never collide.
NS_S=sl-tl-$$-srv NS_C=sl-tl-$$-cli
IF_S=sltl0 IF_C=sltl1
SRV_IP=10.99.210.2 CLI_IP=10.99.210.1
PORT=4567
EP=https://$SRV_IP:$PORT
SPID=
NETEM=0

# Servers' data (several GB in a default run) stays out of $OUT.
DATA=$(mktemp -d /tmp/sl-tl.$$.XXXXXX) # our pid: the sweep above knows whose
RESTORE_ALLOWED=
cleanup() {
	[ -z "$RESTORE_ALLOWED" ] ||
		sysctl -qw "net.ipv4.tcp_allowed_congestion_control=$RESTORE_ALLOWED" || true
	stop_server
	nl_down "$NS_S" "$NS_C"
	rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A server that does not exit 0 on SIGTERM within 10 s (a crash, a
# sanitizer report, a hang) fails the run: SERVER_BAD says which.
SERVER_BAD=
stop_server() {
	local rc=0
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null || true
		# sluiced exits within seconds on SIGTERM; a wedged one is killed.
		for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || rc=$?
		[ $rc = 0 ] || SERVER_BAD+=" $SMODE(exit $rc)"
		SPID=
	fi
}

# start_server MODE DATADIR [extra sluiced flags...]: kernel | dpdk; the log
# goes to $OUT/MODE.log.
start_server() {
	local mode=$1 dd=$2 net
	shift 2
	stop_server
	ip -n "$NS_S" addr flush dev "$IF_S"
	ip -n "$NS_C" neigh flush dev "$IF_C" 2>/dev/null || true
	if [ "$mode" = kernel ]; then
		ip -n "$NS_S" addr add "$SRV_IP/24" dev "$IF_S"
		net=()
	else
		net=(--transport dpdk --dpdk-args "--vdev=net_af_packet0,iface=$IF_S"
			--ip "$SRV_IP/24")
	fi
	rm -f "$dd/sluiced.addr"
	# Lossy links stretch one request: no short request timeout; quotas
	# off (this measures the transport, not Kinesis's per-shard limits).
	ip netns exec "$NS_S" taskset -c 0 "$B/sluiced" "${net[@]}" --listen "$SRV_IP:$PORT" \
		--data-dir "$dd" --quota-mode off --create-delay-ms 0 \
		--request-timeout-ms 120000 --log-level info "$@" >>"$OUT/$mode.log" 2>&1 &
	SPID=$! SMODE=$mode
	nl_wait_file "$dd/sluiced.addr" 300 || {
		echo "tcp_loss.sh: sluiced ($mode) did not start; log:" >&2
		tail -20 "$OUT/$mode.log" >&2
		return 1
	}
}

# create_streams DATADIR NAME:SHARDS...: creates them and waits until ACTIVE
# (boto3 in the client namespace, verified against the server's CA).
create_streams() {
	local dd=$1
	shift
	AWS_CA_BUNDLE=$dd/tls/ca.pem AWS_SHARED_CREDENTIALS_FILE=$dd/credentials \
		AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1 \
		ip netns exec "$NS_C" timeout 120 /usr/bin/python3 - "$EP" "$@" <<'PY'
import sys, time
import boto3
k = boto3.client('kinesis', endpoint_url=sys.argv[1])
want = [a.split(':') for a in sys.argv[2:]]
for name, shards in want:
    k.create_stream(StreamName=name, ShardCount=int(shards))
for name, _ in want:
    for _ in range(200):
        if k.describe_stream_summary(StreamName=name)['StreamDescriptionSummary'][
                'StreamStatus'] == 'ACTIVE':
            break
        time.sleep(0.1)
    else:
        sys.exit('stream %s never became ACTIVE' % name)
PY
}

# lg DATADIR JSON LABEL loadgen-args...: one loadgen run in the client
# namespace on CPU 1 (sluiced's io lcore is on CPU 0), bounded by timeout.
lg() {
	local dd=$1 json=$2 label=$3
	shift 3
	ip netns exec "$NS_C" timeout 300 "$B/perf/loadgen" --endpoint "$EP" \
		--ca "$dd/tls/ca.pem" --credentials "$dd/credentials" --quiet --cpu 1 \
		--json "$json" --label "$label" "$@" >"${json%.json}.out" 2>&1 || {
		echo "tcp_loss.sh: loadgen $label failed (exit $?):" >&2
		tail -5 "${json%.json}.out" >&2
		return 1
	}
}

# jget JSON EXPR: a value from a loadgen JSON (python expression over r).
jget() {
	/usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$1" "$2" 2>/dev/null || echo 0
}

FILL_REC_BYTES=10000
FILL_RECORDS=$((READ_MB * 1000000 / FILL_REC_BYTES))

# prefill MODE DATADIR: the read workload's 1-shard stream, over the clean link.
prefill() {
	local dd=$2
	lg "$dd" "$OUT/$1-fill.json" "$1 fill" --stream fill --record-bytes $FILL_REC_BYTES \
		--batch 100 --keys fixed --connections 1 --inflight 2 --verify \
		--records $FILL_RECORDS --duration 120
	local ok
	ok=$(jget "$OUT/$1-fill.json" "r['records']")
	[ "$ok" = "$FILL_RECORDS" ] || {
		echo "tcp_loss.sh: prefill stored $ok of $FILL_RECORDS records" >&2
		return 1
	}
}

# cell MODE DATADIR COND APPLY LIFT: the two workloads under one link
# condition. APPLY/LIFT: commands that set and remove it ("" for none).
# Writes $OUT/MODE-COND-{put,get,back}.json and a line to $OUT/cells.
cell() {
	local mode=$1 dd=$2 cond=$3 apply=$4 lift=$5 put get back stream
	put=$OUT/$mode-$cond-put.json get=$OUT/$mode-$cond-get.json back=$OUT/$mode-$cond-back.json
	stream=put-$cond
	[ -z "$apply" ] || $apply
	# A failed run is reported in the table (BAD), not fatal here.
	lg "$dd" "$put" "$mode put $cond" --stream "$stream" --batch 500 --record-bytes 1024 \
		--keys uniform --connections 4 --inflight 2 --verify --duration "$CELL_S" || true
	local c0
	c0=$(srv_counters "$mode")
	lg "$dd" "$get" "$mode get $cond" --mode get --stream fill --shards 1 \
		--iterator TRIM_HORIZON --batch 100 --connections 1 --inflight 1 --verify \
		--records $FILL_RECORDS --duration "$CELL_S" || true
	sleep 0.3 # the DPDK counters reach /metrics every 100 ms
	echo "$mode $cond $c0 $(srv_counters "$mode")" >>"$OUT/rtos"
	# What nftables did to the wire in these two cells (0 when not used).
	local dropped dups
	dropped=$(nl_count "$NS_C" sl_loss)
	dups=$(($(nl_count "$NS_C" sl_dup) + $(nl_count "$NS_S" sl_dup)))
	[ -z "$lift" ] || $lift
	# Everything the put cell had acknowledged, read back (not timed).
	local acked
	acked=$(jget "$put" "r['records']")
	[[ $acked =~ ^[0-9]+$ ]] || acked=0
	if [ "$acked" -gt 0 ]; then
		lg "$dd" "$back" "$mode readback $cond" --mode get --stream "$stream" --shards 4 \
			--iterator TRIM_HORIZON --batch 1000 --connections 4 --inflight 1 --verify \
			--records "$acked" --duration 120 --poll-ms 20 || true
	fi
	echo "$mode $cond $dropped $dups" >>"$OUT/cells"
}

# srv_counters MODE: the server's timeout and probe counters, one word
# (name=value,...): the kernel's from its namespace's /proc/net/netstat, the
# DPDK stack's from the admin listener (127.0.0.1:PORT+1 in the namespace).
srv_counters() {
	# the server's CPU (utime + stime of sluiced, ms): per MB read
	local cpu
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$SPID/stat" 2>/dev/null || echo 0)
	if [ "$1" = kernel ]; then
		ip netns exec "$NS_S" cat /proc/net/netstat | awk '
			/^TcpExt:/ { if (!n) { for (i = 2; i <= NF; i++) k[i] = $i; n = 1 } else
				for (i = 2; i <= NF; i++) v[k[i]] = $i }
			END { printf "rto=%d,tlp=%d,lost_rexmit=%d,recoveries=%d,cpu_ms=%d\n", v["TCPTimeouts"],
				v["TCPLossProbes"], v["TCPLostRetransmit"], v["TCPSackRecovery"], cpu }' cpu="$cpu"
	else
		ip netns exec "$NS_S" curl -s --max-time 2 "http://127.0.0.1:$((PORT + 1))/metrics" |
			awk -F'[",} ]+' '/^sluice_net_stack_total\{counter="/ { v[$2] = $NF }
			END { printf "rto=%d,tlp=%d,rec_probes=%d,recoveries=%d,rto_recovery=%d,rto_after_tlp=%d,rto_repeat=%d,rto_no_tlp=%d,cpu_ms=%d\n",
				v["tcp_rto"], v["tcp_rexmit_tlp"], v["tcp_rec_probes"], v["tcp_prr_episodes"], v["tcp_rto_recovery"],
				v["tcp_rto_after_tlp"], v["tcp_rto_repeat"], v["tcp_rto_no_tlp"], cpu }' cpu="$cpu"
	fi
}

loss_on() { nl_loss "$NS_C" "$IF_C" "$LOSS_PCT"; }
loss_off() { nl_loss "$NS_C" "$IF_C" 0; }

# The fault stage's settings per condition (ppm; both directions, seeds
# fixed so a run can be replayed) and tc netem's equivalent on each end.
fault_spec() { # name seed
	case $1 in
	delay) echo "seed=$2,delay-us=1000" ;;
	reorder) echo "seed=$2,reorder=50000,reorder-us=2000" ;;
	dup) echo "seed=$2,dup=20000" ;;
	esac
}
netem_spec() {
	case $1 in
	delay) echo "delay 1ms" ;;
	# netem sends reorder% at once and delays the rest: 5% held 2 ms.
	reorder) echo "delay 2ms reorder 95%" ;;
	dup) echo "duplicate 2%" ;;
	esac
}
netem_on() {
	local s
	s=$(netem_spec "$FAULT")
	# shellcheck disable=SC2086 # the spec is words
	ip netns exec "$NS_C" tc qdisc replace dev "$IF_C" root netem $s
	# shellcheck disable=SC2086
	ip netns exec "$NS_S" tc qdisc replace dev "$IF_S" root netem $s
}
dup_on() {
	nl_dup "$NS_C" "$IF_C" 2
	nl_dup "$NS_S" "$IF_S" 2
}
dup_off() {
	nl_dup "$NS_C" "$IF_C" 0
	nl_dup "$NS_S" "$IF_S" 0
}
netem_off() {
	ip netns exec "$NS_C" tc qdisc del dev "$IF_C" root 2>/dev/null || true
	ip netns exec "$NS_S" tc qdisc del dev "$IF_S" root 2>/dev/null || true
}

echo "tcp_loss.sh: $CELL_S s per cell, loss {$LOSSES}%, faults {$FAULTS}, prefill $READ_MB MB;" \
	"out $OUT" >&2
nl_up "$NS_S" "$NS_C" "$IF_S" "$IF_C" "$CLI_IP/24"
if [ -n "$KERNEL_CC" ]; then
	# A namespace may only pick an algorithm the host allows unprivileged
	# users (EPERM otherwise): allow it for the run, restored on exit.
	ALLOWED=$(sysctl -n net.ipv4.tcp_allowed_congestion_control)
	if [[ " $ALLOWED " != *" $KERNEL_CC "* ]]; then
		RESTORE_ALLOWED=$ALLOWED
		sysctl -qw "net.ipv4.tcp_allowed_congestion_control=$ALLOWED $KERNEL_CC"
	fi
	ip netns exec "$NS_S" sysctl -qw "net.ipv4.tcp_congestion_control=$KERNEL_CC"
fi
KCC=$(ip netns exec "$NS_S" sysctl -n net.ipv4.tcp_congestion_control)
if ip netns exec "$NS_C" tc qdisc add dev "$IF_C" root netem delay 1ms 2>/dev/null; then
	NETEM=1
	ip netns exec "$NS_C" tc qdisc del dev "$IF_C" root
fi
: >"$OUT/cells"
: >"$OUT/rtos"

streams=(fill:1)
for l in $LOSSES; do streams+=("put-${l}pct:4"); done
for f in $FAULTS; do streams+=("put-$f:4"); done

for mode in kernel dpdk; do
	dd=$DATA/$mode
	start_server "$mode" "$dd"
	create_streams "$dd" "${streams[@]}"
	prefill "$mode" "$dd"
	for LOSS_PCT in $LOSSES; do
		cell "$mode" "$dd" "${LOSS_PCT}pct" loss_on loss_off
	done
	for FAULT in $FAULTS; do
		if [ "$mode" = kernel ]; then
			if [ $NETEM = 1 ]; then
				cell kernel "$dd" "$FAULT" netem_on netem_off
			elif [ "$FAULT" = dup ]; then
				cell kernel "$dd" dup dup_on dup_off
			fi
		else
			# The fault stage is configured at start-up: restart on the
			# same data dir (the prefilled stream stays).
			start_server dpdk "$dd" --net-fault-rx "$(fault_spec "$FAULT" 7)" \
				--net-fault-tx "$(fault_spec "$FAULT" 11)"
			cell dpdk "$dd" "$FAULT" "" ""
		fi
	done
	stop_server
	rm -rf "$dd"
done

SECTION=$OUT/section.md
/usr/bin/python3 - "$OUT" "$FILL_RECORDS" "$LOSSES" "$FAULTS" "$NETEM" "$CELL_S" "$READ_MB" \
	"$CMDLINE" "$KCC" >"$SECTION" <<'PY'
import json, os, platform, sys, time
out, fill_n, losses, faults, netem, cell_s, read_mb, cmd, kcc = sys.argv[1:10]
fill_n = int(fill_n)

def load(mode, cond, w):
    p = os.path.join(out, '%s-%s-%s.json' % (mode, cond, w))
    return json.load(open(p)) if os.path.exists(p) else None

def verdict(mode, cond, w):
    """(MB/s or None, integrity text, ok)."""
    r = load(mode, cond, w)
    if r is None:
        if mode == 'kernel' and not cond.endswith('pct') and netem == '0':
            return None, 'n/a (no netem)', True
        return None, 'BAD: no result (see the .out files)', False
    mbps = r.get('payload_MB_per_s', 0.0)
    errs = r.get('requests_failed', 0)
    if w == 'put':
        acked = r.get('records', 0)
        b = load(mode, cond, 'back')
        if not acked:
            return mbps, 'BAD: nothing acknowledged', False
        v = (b or {}).get('verify', {})
        if b is None or v.get('records_bad', 1) or b.get('records', 0) < acked:
            return mbps, 'BAD: read back %s of %d, %s corrupt' % (
                (b or {}).get('records'), acked, v.get('records_bad')), False
        note = ' (%d requests unanswered)' % errs if errs else ''
        return mbps, 'OK %d/%d%s' % (b['records'], acked, note), True
    v = r.get('verify', {})
    n = r.get('records', 0)
    if v.get('records_bad', 1) or v.get('records_ok', 0) != n or not n:
        return mbps, 'BAD: %d read, %s corrupt' % (n, v.get('records_bad')), False
    return mbps, 'OK %d/%d%s' % (n, fill_n, '' if n >= fill_n else ' (cell time up)'), True

conds = ['%spct' % l for l in losses.split()] + faults.split()
label = {c: ('%s%% loss' % c[:-3]) if c.endswith('pct') else {
    'delay': '+1 ms each way', 'reorder': '5% held 2 ms', 'dup': '2% duplicated'}[c]
    for c in conds}
dropped, dups = {}, {}
for line in open(os.path.join(out, 'cells')):
    m, c, d, u = line.split()
    dropped[(m, c)] = int(d)
    dups[(m, c)] = int(u)
all_ok = True
rows = []
for w in ('put', 'get'):
    for c in conds:
        km, ki, kok = verdict('kernel', c, w)
        dm, di, dok = verdict('dpdk', c, w)
        all_ok &= kok and dok
        ratio = '%.2fx' % (dm / km) if km and dm is not None else '-'
        rows.append('| %s | %s | %s | %s | %s | kernel %s; DPDK %s |' % (
            'PutRecords' if w == 'put' else 'GetRecords', label[c],
            '%.2f' % km if km is not None else 'n/a',
            '%.2f' % dm if dm is not None else 'n/a', ratio, ki, di))
print('## %s — TCP under loss: kernel vs DPDK transport (issue #15 item 3)\n' %
      time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
print('Command: `%s` (%s s per cell, %s MB prefill). Machine: %s, %d CPUs, %s; '
      'sluiced io lcore on CPU 0, loadgen on CPU 1. Link: one veth pair between two '
      'namespaces, offloads off; loss = nftables `numgen random` drops of TCP '
      'segments on both hooks of the client end; delay/reorder/dup = the DPDK '
      'fault stage on receive and transmit%s. MB/s = record payload (before base64), '
      '10^6 bytes/s. Integrity: records read back intact / expected.\n' % (
          cmd.strip(), cell_s, read_mb, platform.node(), os.cpu_count(), platform.release(),
          ', tc netem on both veth ends for the kernel' if netem == '1'
          else '; this kernel has no netem (CONFIG_NET_SCH_NETEM unset): the kernel '
          'gets duplication from nftables (`dup to` on the egress hook of both veth ends), '
          'and its delay and reordering cells are n/a'))
print('| workload | link | kernel MB/s | DPDK MB/s | DPDK/kernel (goal 0.8x) | integrity |')
print('|---|---|---|---|---|---|')
print('\n'.join(rows))
print('\nSegments dropped by nftables (put + get cells): %s\n' % ', '.join(
    '%s %s %d' % (m, c, d) for (m, c), d in sorted(dropped.items()) if c.endswith('pct')))
if any(dups.values()):
    print('Segments duplicated by nftables (kernel, put + get cells): %s\n' % ', '.join(
        '%s %d' % (c, u) for (m, c), u in sorted(dups.items()) if u))
def delta(a, b):
    pa = dict(kv.split('=') for kv in a.split(','))
    return ','.join('%s %d' % (k, int(v) - int(pa.get(k, 0))) for k, v in
                    (kv.split('=') for kv in b.split(',')))
cnt = []
for line in open(os.path.join(out, 'rtos')):
    w = line.split()
    if len(w) == 4:
        cnt.append('%s %s: %s' % (w[0], label.get(w[1], w[1]), delta(w[2], w[3]).replace(',', ', ')))
if cnt:
    print('Server timeouts and probes per GetRecords cell (kernel congestion control: %s; '
          'the DPDK stack: %s):\n' % (kcc, 'CUBIC'))
    print('\n'.join('- ' + c for c in cnt) + '\n')
print('integrity: %s' % ('all OK' if all_ok else 'FAILED'))
PY
cat "$SECTION"
if [ $APPEND = 1 ]; then
	{ echo; cat "$SECTION"; } >>"$ROOT/perf/RESULTS.md"
	echo "tcp_loss.sh: appended to perf/RESULTS.md" >&2
fi
if [ -n "$SERVER_BAD" ]; then
	echo "tcp_loss.sh: sluiced did not exit 0 on SIGTERM:$SERVER_BAD (logs in $OUT)" >&2
	exit 1
fi
grep -q '^integrity: all OK$' "$SECTION"
