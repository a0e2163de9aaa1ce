#!/bin/bash
# Crash test for storage/: run the driver, kill -9 it at a random moment,
# reopen the journal and check every acknowledged record is there, intact and
# in order. Several rounds on the same journal (each restart recovers the
# previous crash). Usage: st_crash.sh PATH/TO/st_crash_driver [ROUNDS]
set -u
drv=$1
rounds=${2:-4}
dir=$(mktemp -d /tmp/st-crash-XXXXXX)
trap 'rm -rf "$dir"' EXIT
files=()
for ((r = 1; r <= rounds; r++)); do
	ack="$dir/acked.$r"
	files+=("$ack")
	"$drv" write "$dir/log" "$r" > "$ack" 2> "$dir/err.$r" &
	pid=$!
	# 0.3 .. 3.2 s: some rounds die while a write is in flight.
	sleep "$((RANDOM % 3)).$((RANDOM % 9 + 1))"
	kill -9 "$pid"
	wait "$pid" 2> /dev/null
	n=$(wc -l < "$ack")
	echo "round $r: killed after $n acknowledged records"
	if [ "$n" -eq 0 ]; then
		echo "FAIL: nothing was acknowledged"; cat "$dir/err.$r"; exit 1
	fi
	if ! "$drv" verify "$dir/log" "${files[@]}"; then
		echo "FAIL: round $r"; exit 1
	fi
done
echo "st_crash: $rounds rounds passed"
