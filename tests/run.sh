#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, builds sluice three ways (plain, ASan+UBSan,
# libFuzzer) and runs every suite. Ends with the line "N passed, M failed";
# exits non-zero if anything failed or a suite could not run.
#
# Suites: layers (tests/layers.sh: the one-way include rule), unit (meson
# 'fast'), slow (meson 'slow': crash and network tests),
# unit under ASan/UBSan, e2e (pytest against
# build/sluiced), e2e against build-asan/sluiced, e2e-dpdk (the e2e suite
# over --transport dpdk: af_packet on veth pairs in network namespaces, plus
# test_dpdk.py), fuzz (each fuzz_* target for FUZZ_SECONDS, default 10).
#
# Environment: FUZZ_SECONDS (default 10); FUZZ_JOBS (targets at a time,
# default: the CPUs); E2E_ASAN=full|smoke|off (default
# full); E2E_DPDK=full|smoke|off (default full); SKIP_INSTALL=1 skips the
# apt-get step; JOBS (ninja -j, default nproc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PY=/usr/bin/python3
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
E2E_ASAN=${E2E_ASAN:-full}
E2E_DPDK=${E2E_DPDK:-full}
# E2E_DPDK_IP6=full|smoke|off (default smoke): suite e2e-dpdk-ip6, the same
# over IPv6 (SLUICE_DPDK_IP6=1), after e2e-dpdk.
E2E_DPDK_IP6=${E2E_DPDK_IP6:-smoke}
JOBS=${JOBS:-$(nproc)}
export PYTHONDONTWRITEBYTECODE=1

PASSED=0
FAILED=0
declare -a SUMMARY=()

WORK=$(mktemp -d /tmp/sluice-run.XXXXXX)
NETNS_CLI=sl-e2e-cli-$$
# Network namespaces of the e2e-dpdk suite go too, whatever happens.
cleanup() {
	[ -z "${GO_WARM_PID:-}" ] || kill "$GO_WARM_PID" 2>/dev/null || true
	if declare -F cleanup_netns >/dev/null; then
		cleanup_netns
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# Each summary line ends with the seconds its suite took (from the suite's
# "=== " line, or as given), so the next person trimming the run knows
# where the time goes; the run's total is printed before the last line.
SUITE_T0=$SECONDS
log() {
	SUITE_T0=$SECONDS
	printf '\n=== %s\n' "$*"
}

# record NAME PASSED FAILED [SECONDS]
record() {
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	SUMMARY+=("$(printf '%-22s %4d passed %4d failed %5ds' "$1" "$2" "$3" \
		"${4:-$((SECONDS - SUITE_T0))}")")
}

# took NAME: a summary line with only the time since the last "=== " line
# (builds, and the fuzz suite's wall time).
took() {
	SUMMARY+=("$(printf '%-22s %28s %5ds' "$1" '' "$((SECONDS - SUITE_T0))")")
}

# ---------------------------------------------------------------- packages
DEPS=(libdpdk-dev libisal-dev libipsec-mb-dev liburing-dev libssl-dev libhwloc-dev zlib1g-dev libzstd-dev zstd
      libsqlite3-dev libcmocka-dev meson ninja-build pkg-config gcc clang
      libclang-rt-14-dev awscli python3-boto3 python3-pytest openssl iproute2
      ethtool nftables sslscan libnghttp2-dev iputils-ping python3-h2 strace python3-cbor2
      chromium libnss3-tools golang-go golang-github-aws-aws-sdk-go-v2-dev
      golang-github-aws-aws-sdk-go-dev
      prometheus  # promtool and the server (test_metrics.py, test_prometheus.py)
      etcd-server)  # the etcd metadata store (cp_store_etcd, test_etcd.py)

install_deps() {
	local missing=() p sudo=()
	for p in "${DEPS[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || { echo "need root to install: ${missing[*]}"; return 1; }
		sudo=(sudo)
	fi
	log "installing: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}"
}

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
	if ! install_deps; then
		echo "dependency installation failed"
		record deps 0 1
		echo "${PASSED} passed, ${FAILED} failed"
		exit 1
	fi
fi

# ------------------------------------------------------------------ builds
# setup_dir DIR [meson options...]: reuse DIR when it is a meson build dir
# (reconfiguring so the options hold), else set it up fresh.
setup_dir() {
	local dir=$1
	shift
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$dir" "$@" ||
			meson setup --wipe "$dir" "$@"
	else
		rm -rf "$dir"
		meson setup "$dir" "$@"
	fi
}

# build NAME DIR [meson options...] -> 0 if DIR is built
build() {
	local name=$1 dir=$2
	shift 2
	log "build $name ($dir)"
	if setup_dir "$dir" "$@" && ninja -C "$dir" -j "$JOBS"; then
		took "build-$name"
		return 0
	fi
	echo "BUILD FAILED: $name"
	return 1
}

# find_sluiced DIR: DIR/sluiced, or wherever meson put it.
find_sluiced() {
	if [ -x "$1/sluiced" ]; then
		echo "$1/sluiced"
		return 0
	fi
	find "$1" -type f -name sluiced -perm -u+x 2>/dev/null | head -n 1
}

# tests/e2e/test_go.py compiles the Go SDKs (30-60 s of CPU cold): one
# cache for the e2e and e2e-asan runs, filled here in the background at
# nice 19 with test_go.py's own command while the C builds and unit suites
# run, so it takes only CPU they leave idle and the e2e suite finds it warm
# (a cache Go shares safely if test_go.py gets there first). Its log:
# $WORK/go-warm.log; a failure here is test_go.py's to report.
export GOCACHE="$WORK/gocache"
GO_WARM_PID=
if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/aws ]; then
	(cd tests/go && exec env GO111MODULE=off GOFLAGS= CGO_ENABLED=0 \
		GOPATH="$WORK/go-warm:/usr/share/gocode" nice -n 19 \
		go build -o "$WORK/go-warm/bin/" ./kinesis_v2 ./kinesis_v1) >"$WORK/go-warm.log" 2>&1 &
	GO_WARM_PID=$!
fi

BUILD_OK=0
ASAN_OK=0
FUZZ_OK=0
build plain build && BUILD_OK=1
build asan build-asan -Db_sanitize=address,undefined -Db_lundef=false && ASAN_OK=1
# The fuzz build must be clang's; a gcc-configured dir is wiped.
if [ -f build-fuzz/meson-info/intro-compilers.json ] &&
	! grep -q '"clang"' build-fuzz/meson-info/intro-compilers.json; then
	rm -rf build-fuzz
fi
CC=clang build fuzz build-fuzz -Dfuzz=true -Dtests=false && FUZZ_OK=1

# ------------------------------------------------------------------ suites
# meson_suite NAME DIR SUITE [env...]: parses meson test's Ok:/Fail: summary.
meson_suite() {
	local name=$1 dir=$2 suite=$3 out rc=0 ok fail unexp tmo
	shift 3
	log "suite $name"
	out="$WORK/$name.log"
	{
		env "$@" meson test -C "$dir" --suite "$suite" --print-errorlogs 2>&1
		echo $? >"$out.rc"
	} | tee "$out" || true
	rc=$(cat "$out.rc" 2>/dev/null || echo 1)
	ok=$(sed -n 's/^Ok:[[:space:]]*\([0-9]\+\).*/\1/p' "$out" | tail -n 1)
	fail=$(sed -n 's/^Fail:[[:space:]]*\([0-9]\+\).*/\1/p' "$out" | tail -n 1)
	unexp=$(sed -n 's/^Unexpected Pass:[[:space:]]*\([0-9]\+\).*/\1/p' "$out" | tail -n 1)
	tmo=$(sed -n 's/^Timeout:[[:space:]]*\([0-9]\+\).*/\1/p' "$out" | tail -n 1)
	if [ -z "$ok" ]; then
		if [ "$rc" -eq 0 ] && grep -q 'No tests defined' "$out"; then
			record "$name" 0 0
		else
			echo "suite $name produced no summary (rc $rc)"
			record "$name" 0 1
		fi
		return 0
	fi
	fail=$((${fail:-0} + ${unexp:-0} + ${tmo:-0}))
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1 # meson failed without saying which test
	fi
	record "$name" "$ok" "$fail"
}

# pytest_suite NAME SLUICED [pytest args...]: counts from the junit xml.
# PYTEST_WRAP (an array, may be empty) prefixes the pytest command.
PYTEST_WRAP=()
pytest_suite() {
	local name=$1 bin=$2 xml counts rc=0
	shift 2
	log "suite $name (SLUICED=$bin)"
	xml="$WORK/$name.xml"
	# What a person may want to look at afterwards (the status page's
	# screenshots, test_status_page.py) goes here, one folder per suite.
	local art="$ROOT/build/test-artifacts/$name"
	mkdir -p "$art" && echo "artifacts of $name: $art"
	# Its own temp root, removed when the suite passes: the servers' data
	# dirs add up over ~400 tests (pytest itself keeps the last three).
	# --durations: the 15 slowest tests of each suite in the log, where the
	# next trim of the suite's time starts.
	local tmp="$WORK/pytest-$name"
	SLUICE_ARTIFACTS="$art" SLUICED="$bin" "${PYTEST_WRAP[@]}" "$PY" -m pytest tests/e2e -q \
		--basetemp="$tmp" --junitxml="$xml" --durations=15 "$@" || rc=$?
	[ "$rc" -ne 0 ] || rm -rf "$tmp"
	counts=$("$PY" - "$xml" <<-'EOF' 2>/dev/null || true
		import sys, xml.etree.ElementTree as ET
		root = ET.parse(sys.argv[1]).getroot()
		suites = [root] if root.tag == 'testsuite' else list(root.iter('testsuite'))
		t = f = s = 0
		for su in suites:
		    t += int(su.get('tests', 0))
		    f += int(su.get('failures', 0)) + int(su.get('errors', 0))
		    s += int(su.get('skipped', 0))
		print(max(t - f - s, 0), f)
	EOF
	)
	if [ -z "$counts" ]; then
		echo "suite $name produced no junit xml (rc $rc)"
		record "$name" 0 1
		return 0
	fi
	local p f
	read -r p f <<<"$counts"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # pytest failed (e.g. collection) without a failing test
	fi
	record "$name" "$p" "$f"
}

# fuzz_one TARGET: one libFuzzer run on a copy of its seed corpus; its log,
# exit status and seconds go to $WORK/NAME.fuzz.{log,rc,s}.
fuzz_one() {
	local t=$1 name corpus t0=$SECONDS rc=0
	name=$(basename "$t")
	corpus="$WORK/corpus-$name"
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -r "tests/fuzz/corpus/$name/." "$corpus/"
	fi
	"$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="build-fuzz/fuzz-artifacts/$name-" \
		"$corpus" >"$WORK/$name.fuzz.log" 2>&1 || rc=$?
	echo "$rc" >"$WORK/$name.fuzz.rc"
	echo $((SECONDS - t0)) >"$WORK/$name.fuzz.s"
}

# The targets run FUZZ_JOBS at a time (default: the CPUs, nproc): each
# is one process on one CPU for FUZZ_SECONDS of wall time, and nothing else
# runs meanwhile, so each still gets its FUZZ_SECONDS of a CPU and the
# suite takes 1/FUZZ_JOBS of the time (18 targets x 10 s: ~95 s on 2 CPUs
# instead of ~185 s). Reported in name order, as before.
fuzz_suite() {
	local t name jobs=${FUZZ_JOBS:-$(nproc)} rc
	local -a targets=()
	log "suite fuzz (${FUZZ_SECONDS}s per target, ${jobs} at a time)"
	mkdir -p build-fuzz/fuzz-artifacts
	mapfile -t targets < <(find build-fuzz -type f -name 'fuzz_*' -perm -u+x | sort)
	if [ ${#targets[@]} -eq 0 ]; then
		echo "no fuzz targets found in build-fuzz"
		record fuzz 0 1
		return 0
	fi
	# Counts only its own children (the Go warm-up may still be running).
	local -a pids=()
	local live p
	for t in "${targets[@]}"; do
		while :; do
			live=0
			for p in "${pids[@]}"; do
				kill -0 "$p" 2>/dev/null && live=$((live + 1))
			done
			[ "$live" -lt "$jobs" ] && break
			wait -n "${pids[@]}" || true
		done
		fuzz_one "$t" &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	for t in "${targets[@]}"; do
		name=$(basename "$t")
		echo "--- $name"
		rc=$(cat "$WORK/$name.fuzz.rc" 2>/dev/null || echo 1)
		if [ "$rc" = 0 ]; then
			tail -n 3 "$WORK/$name.fuzz.log"
			record "$name" 1 0 "$(cat "$WORK/$name.fuzz.s")"
		else
			tail -n 60 "$WORK/$name.fuzz.log"
			echo "FUZZ FAILED: $name (artifacts in build-fuzz/fuzz-artifacts/)"
			record "$name" 0 1 "$(cat "$WORK/$name.fuzz.s" 2>/dev/null || echo 0)"
		fi
	done
	took fuzz
}

# layers: the one-way include rule (controlplane -> dataplane -> crypto,
# storage -> common); needs no build.
log "suite layers"
if tests/layers.sh; then
	record layers 1 0
else
	record layers 0 1
fi

if [ "$BUILD_OK" = 1 ]; then
	meson_suite unit build fast
	# Slow suite: crash (kill -9) tests, long network tests.
	meson_suite slow build slow
else
	record unit-build 0 1
fi

if [ "$ASAN_OK" = 1 ]; then
	meson_suite unit-asan build-asan fast \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
else
	record unit-asan-build 0 1
fi

# tests/e2e/test_browser.py bundles the browser SDK with esbuild from
# tests/browser/node_modules; without them it would skip, so a failed
# install is a failure here.
npm_browser() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >"$WORK/apt-node.log" 2>&1 || true
	fi
	if ! (cd tests/browser && npm ci --no-audit --no-fund >"$WORK/npm-browser.log" 2>&1); then
		tail -n 20 "$WORK/npm-browser.log"
		echo "npm ci in tests/browser failed"
		record npm-browser 0 1
	fi
}
npm_browser
# tests/e2e/test_channel_delivery.py runs npm's s3rver from tests/s3 (it
# would skip without it, so a failed install is a failure here).
if ! (cd tests/s3 && npm ci --no-audit --no-fund >"$WORK/npm-s3.log" 2>&1); then
	tail -n 20 "$WORK/npm-s3.log"
	echo "npm ci in tests/s3 failed"
	record npm-s3 0 1
fi
SLUICED_BIN=""
[ "$BUILD_OK" = 1 ] && SLUICED_BIN=$(find_sluiced build)
if [ -n "$SLUICED_BIN" ]; then
	pytest_suite e2e "$ROOT/$SLUICED_BIN"
else
	echo "no sluiced binary in build/"
	record e2e 0 1
fi

if [ "$E2E_ASAN" != off ]; then
	ASAN_BIN=""
	[ "$ASAN_OK" = 1 ] && ASAN_BIN=$(find_sluiced build-asan)
	if [ -n "$ASAN_BIN" ]; then
		sel=()
		[ "$E2E_ASAN" = smoke ] && sel=(-m smoke)
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 SLUICE_E2E_ASAN=${SLUICE_E2E_ASAN:-1} \
			pytest_suite e2e-asan "$ROOT/$ASAN_BIN" "${sel[@]}"
	else
		echo "no sluiced binary in build-asan/"
		record e2e-asan 0 1
	fi
fi

# e2e-dpdk: pytest runs in a client namespace of this run; each server gets
# a namespace and veth pair of its own (tests/e2e/dpdk_net.py), all named
# sl-e2e-*. Nothing here touches the host's interfaces.
cleanup_netns() {
	local ns tag
	command -v ip >/dev/null || return 0
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^sl-e2e-' || true); do
		# Ours (tag $$), or left by a run whose process is gone.
		tag=${ns#sl-e2e-}
		tag=${tag#cli-}
		tag=${tag%%-*}
		if [ "$tag" = "$$" ] || ! kill -0 "$tag" 2>/dev/null; then
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
}

# dpdk_prereq: empty output when the DPDK e2e mode can run, else why not.
dpdk_prereq() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces, af_packet)"; return; }
	local t
	for t in ip ethtool nft; do
		command -v "$t" >/dev/null || { echo "'$t' is not installed"; return; }
	done
	ip netns add "$NETNS_CLI" 2>"$WORK/netns.err" ||
		{ echo "cannot create a network namespace: $(cat "$WORK/netns.err")"; return; }
	ip -n "$NETNS_CLI" link set lo up 2>/dev/null || true
	ip netns exec "$NETNS_CLI" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
	if ! ip netns exec "$NETNS_CLI" "$PY" -c \
		'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()' \
		2>"$WORK/afp.err"; then
		echo "no AF_PACKET sockets: $(tail -n 1 "$WORK/afp.err")"
		return
	fi
	if ! ip netns exec "$NETNS_CLI" ip link add sl-probe0 type veth peer name sl-probe1 \
		2>"$WORK/veth.err"; then
		echo "cannot create veth pairs: $(cat "$WORK/veth.err")"
		return
	fi
	ip netns exec "$NETNS_CLI" ip link del sl-probe0 2>/dev/null || true
}

# The whole suite runs over DPDK by default (about 5 min on a 2-vCPU VM);
# E2E_DPDK=smoke runs the smoke subset plus test_dpdk.py (about 80 s).

if [ "$E2E_DPDK" != off ]; then
	if [ -z "$SLUICED_BIN" ]; then
		echo "no sluiced binary in build/"
		record e2e-dpdk 0 1
	else
		cleanup_netns
		why=$(dpdk_prereq)
		if [ -n "$why" ]; then
			# CI has namespaces and af_packet: not being able to run
			# this suite is a failure, never a silent pass.
			echo "suite e2e-dpdk cannot run: $why"
			record e2e-dpdk 0 1
		else
			sel=()
			[ "$E2E_DPDK" = smoke ] && sel=(-m "smoke or dpdk")
			PYTEST_WRAP=(ip netns exec "$NETNS_CLI" env SLUICE_TRANSPORT=dpdk
				SLUICE_NETNS_TAG=$$)
			pytest_suite e2e-dpdk "$ROOT/$SLUICED_BIN" "${sel[@]}"
			# again over IPv6: dual-stack servers, clients at [fd00:99:K::2]
			if [ "$E2E_DPDK_IP6" != off ]; then
				sel=()
				# smoke: the smoke set and the IPv6 file (test_dpdk.py's
				# load tests already ran over IPv4 just before)
				[ "$E2E_DPDK_IP6" = smoke ] && sel=(-m "smoke or ip6")
				PYTEST_WRAP=(ip netns exec "$NETNS_CLI" env SLUICE_TRANSPORT=dpdk
					SLUICE_DPDK_IP6=1 SLUICE_NETNS_TAG=$$)
				pytest_suite e2e-dpdk-ip6 "$ROOT/$SLUICED_BIN" "${sel[@]}"
			fi
			PYTEST_WRAP=()
		fi
		cleanup_netns
	fi
fi

# js: the AWS SDKs for JavaScript v3 (HTTP/2 by default) and v2, and KPL
# aggregation (aws-kinesis-agg), against build/sluiced.
# node's test runner ends with "# pass N" / "# fail N".
js_suite() {
	local out="$WORK/js.log" rc=0 p f
	log "suite js (JS SDK v3 over HTTP/2, JS SDK v2, KPL aggregation)"
	# The machine's own Node.js is used when present (Debian's nodejs
	# conflicts with it); Debian's is installed only where there is none.
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >"$WORK/apt-node.log" 2>&1 || true
	fi
	if ! (cd tests/js && npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1); then
		tail -n 20 "$WORK/npm.log"
		echo "npm ci failed"
		record js 0 1
		return 0
	fi
	(cd tests/js && SLUICED="$1" node --test) >"$out" 2>&1 || rc=$?
	tail -n 12 "$out"
	p=$(sed -n 's/^# pass \([0-9]\+\)/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^# fail \([0-9]\+\)/\1/p' "$out" | tail -n 1)
	if [ -z "$p" ]; then
		record js 0 1
		return 0
	fi
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		f=1
	fi
	record js "$p" "${f:-0}"
}

if [ -n "$SLUICED_BIN" ]; then
	js_suite "$ROOT/$SLUICED_BIN"
fi

if [ "$FUZZ_OK" = 1 ]; then
	fuzz_suite
else
	record fuzz-build 0 1
fi

log summary
printf '%s\n' "${SUMMARY[@]}"
echo "total $((SECONDS / 60)) min $((SECONDS % 60)) s"
echo "${PASSED} passed, ${FAILED} failed"
[ "$FAILED" -eq 0 ]
