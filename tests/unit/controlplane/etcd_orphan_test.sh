#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# cp_store_test's etcd dies with it, however it ends: the test is killed -9
# while its etcd runs, and that etcd must be gone within 10 s (it was left
# running, holding its ports and data directory, before PR_SET_PDEATHSIG).
# Its etcd is found by its data directory, under a TMPDIR of this run's own.
# Skips (77) without etcd, like cp_store_etcd.
set -u
bin=$1
etcd=${SL_ETCD:-/usr/bin/etcd}
[ -x "$etcd" ] || { echo "SKIP: $etcd not found (Debian package etcd-server)"; exit 77; }
tmp=$(mktemp -d /tmp/cp_store_orphan_XXXXXX) || exit 1
test_pid=
etcd_pid=
cleanup() {
	[ -n "$test_pid" ] && kill -9 "$test_pid" 2>/dev/null
	[ -n "$etcd_pid" ] && alive "$etcd_pid" && kill -9 "$etcd_pid" 2>/dev/null
	rm -rf "$tmp"
}
# a zombie (dead, not yet reaped by whoever inherited it) is gone
alive() {
	[ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}
trap cleanup EXIT
# the pid of this run's etcd, from /proc (no procps on a minimal machine)
find_etcd() {
	local d cmd
	for d in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		case $cmd in *"--data-dir $tmp/cp_store_etcd_"*) echo "${d#/proc/}"; return ;; esac
	done
}

TMPDIR=$tmp "$bin" etcd >"$tmp/log" 2>&1 &
test_pid=$!
i=0
while [ $i -lt 600 ]; do # 60 s: an ASan build starts slowly on a loaded machine
	etcd_pid=$(find_etcd)
	[ -n "$etcd_pid" ] && break
	kill -0 "$test_pid" 2>/dev/null || { echo "cp_store_test ended before its etcd ran"; cat "$tmp/log"; exit 1; }
	sleep 0.1
	i=$((i + 1))
done
[ -n "$etcd_pid" ] || { echo "no etcd seen under $tmp within 60 s"; exit 1; }
kill -9 "$test_pid"
wait "$test_pid" 2>/dev/null
test_pid=
i=0
while [ $i -lt 100 ]; do
	alive "$etcd_pid" || { echo "ok: etcd $etcd_pid ended with its test"; exit 0; }
	sleep 0.1
	i=$((i + 1))
done
echo "etcd $etcd_pid outlived its killed test (left running)"
exit 1
