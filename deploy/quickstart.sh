#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quickstart: on a fresh Debian 12 machine, install what is missing, build
# sluice into build/, and run sluiced in the foreground (Ctrl-C stops it).
# On first start sluiced creates a local CA, a server certificate and a
# credentials file under the data dir; once it is serving this prints the
# lines to paste into another terminal. Safe to run again: it reuses the
# build, the certificates and the credentials.
#
# Environment: SLUICE_LISTEN (default 127.0.0.1:4567), SLUICE_DATA_DIR
# (default ./var under the repository), SLUICE_ARGS (extra sluiced flags).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

LISTEN=${SLUICE_LISTEN:-127.0.0.1:4567}
DATA_DIR=${SLUICE_DATA_DIR:-$ROOT/var}
mkdir -p "$DATA_DIR"
chmod 700 "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)

DEPS=(libdpdk-dev libisal-dev libipsec-mb-dev liburing-dev libssl-dev libhwloc-dev zlib1g-dev libzstd-dev
      libsqlite3-dev libcmocka-dev libnghttp2-dev meson ninja-build pkg-config gcc awscli)

missing=()
for p in "${DEPS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null; then
			echo "quickstart: run as root (or install sudo) to install: ${missing[*]}" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	echo "quickstart: installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}"
fi

if [ -f build/meson-private/coredata.dat ]; then
	: # ninja re-runs meson itself when a meson.build changed
else
	rm -rf build
	meson setup build
fi
ninja -C build

BIN=build/sluiced
if [ ! -x "$BIN" ]; then
	BIN=$(find build -type f -name sluiced -perm -u+x | head -n 1)
fi
if [ -z "$BIN" ]; then
	echo "quickstart: build produced no sluiced binary" >&2
	exit 1
fi

# A stale address file would make us print the banner too early.
rm -f "$DATA_DIR/sluiced.addr"
# shellcheck disable=SC2086 # SLUICE_ARGS is a flag list
"$ROOT/$BIN" --listen "$LISTEN" --data-dir "$DATA_DIR" ${SLUICE_ARGS:-} &
PID=$!
trap 'kill -TERM "$PID" 2>/dev/null || true' INT TERM

for _ in $(seq 1 300); do
	[ -s "$DATA_DIR/sluiced.addr" ] && break
	if ! kill -0 "$PID" 2>/dev/null; then
		wait "$PID" || rc=$?
		echo "quickstart: sluiced exited (status ${rc:-0}) before it was ready" >&2
		exit "${rc:-1}"
	fi
	sleep 0.1
done
if [ ! -s "$DATA_DIR/sluiced.addr" ]; then
	echo "quickstart: sluiced did not become ready within 30 s" >&2
	kill -TERM "$PID" 2>/dev/null || true
	wait "$PID" || true
	exit 1
fi

ADDR=$(head -n 1 "$DATA_DIR/sluiced.addr")
case "$ADDR" in
0.0.0.0:*) ADDR="127.0.0.1:${ADDR##*:}" ;;
"[::]:"*) ADDR="[::1]:${ADDR##*:}" ;;
esac

cat <<EOF

sluice is running (pid $PID, data in $DATA_DIR). In another terminal:

export AWS_CA_BUNDLE=$DATA_DIR/tls/ca.pem
export AWS_SHARED_CREDENTIALS_FILE=$DATA_DIR/credentials
export AWS_DEFAULT_REGION=us-east-1
aws --endpoint-url https://$ADDR kinesis list-streams

(Debian's CLI is /usr/bin/aws; an older aws earlier on PATH may not work.)
Ctrl-C here stops sluiced.

EOF

# wait returns early when a trapped signal arrives; keep waiting until
# sluiced itself has exited, then pass on its status.
rc=0
while :; do
	wait "$PID" && rc=0 || rc=$?
	kill -0 "$PID" 2>/dev/null || break
done
exit "$rc"
