# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared shell of the perf scripts that start a sluiced of their own on
# loopback and drive it with perf/loadgen (perf/latency.sh, shards.sh,
# sub_ab.sh, compare.sh). Sourced, never run; every name starts with pl_.
# What varies between the scripts (flags, CPUs, how long) is an argument.

# pl_start BIN DIR LOG CPU [sluiced flags...]: a fresh data directory DIR and
# a sluiced on CPU (taskset) listening on 127.0.0.1:0, --create-delay-ms 0
# and --quota-mode off (a benchmark measures the server, not its limits),
# plus the flags given; output to LOG. Sets PL_PID and PL_ADDR (HOST:PORT,
# from DIR/sluiced.addr, written after the admin listener's address) and
# returns 0, or 1 when sluiced.addr did not appear within 30 s.
pl_start() {
	local bin=$1 dir=$2 log=$3 cpu=$4
	shift 4
	rm -rf "$dir"
	mkdir -p "$dir"
	taskset -c "$cpu" "$bin" --listen 127.0.0.1:0 --data-dir "$dir" --create-delay-ms 0 \
		--quota-mode off "$@" >"$log" 2>&1 &
	PL_PID=$!
	PL_ADDR=
	for _ in $(seq 1 300); do
		if [ -s "$dir/sluiced.addr" ]; then
			PL_ADDR=$(cat "$dir/sluiced.addr")
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# pl_aws DIR ADDR ARGS...: `aws kinesis ARGS` against the sluiced of data
# directory DIR at ADDR, trusting its CA, with its credentials file.
pl_aws() {
	local dir=$1 addr=$2
	shift 2
	AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=$dir/tls/ca.pem \
		AWS_SHARED_CREDENTIALS_FILE=$dir/credentials \
		/usr/bin/aws --endpoint-url "https://$addr" kinesis "$@"
}

# pl_wait_active DIR ADDR STREAM: until STREAM is ACTIVE (at most ~30 s);
# 1 if it never was.
pl_wait_active() {
	for _ in $(seq 1 100); do
		[ "$(pl_aws "$1" "$2" describe-stream-summary --stream-name "$3" \
			--query StreamDescriptionSummary.StreamStatus --output text 2>/dev/null)" = ACTIVE ] &&
			return 0
		sleep 0.3
	done
	return 1
}

# pl_consumers DIR ADDR STREAM_ARN N: registers consumers c1..cN, waits for
# each to be ACTIVE (at most ~20 s each), and prints "--consumer-arn ARN"
# per consumer, one word a line, for loadgen --mode subscribe
# (mapfile -t args < <(pl_consumers ...)).
pl_consumers() {
	local dir=$1 addr=$2 sarn=$3 n=$4 k carn
	for k in $(seq 1 "$n"); do
		carn=$(pl_aws "$dir" "$addr" register-stream-consumer --stream-arn "$sarn" \
			--consumer-name "c$k" --query Consumer.ConsumerARN --output text)
		for _ in $(seq 1 100); do
			[ "$(pl_aws "$dir" "$addr" describe-stream-consumer --consumer-arn "$carn" \
				--query ConsumerDescription.ConsumerStatus --output text)" = ACTIVE ] &&
				break
			sleep 0.2
		done
		printf -- '--consumer-arn\n%s\n' "$carn"
	done
}

# pl_ticks PID: the process's utime + stime so far, in clock ticks
# (getconf CLK_TCK a second): CPU per record moves far less than rates when
# other jobs share the machine.
pl_ticks() {
	awk '{print $14 + $15}' "/proc/$1/stat"
}

# pl_metrics ADMIN_ADDR: the admin listener's /metrics text on stdout.
pl_metrics() {
	/usr/bin/python3 -c 'import sys, urllib.request as u
sys.stdout.write(u.urlopen(sys.argv[1], timeout=10).read().decode())' "http://$1/metrics"
}
