#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one-way layering rule, checked on every #include of the C sources.
#
#   admin -> controlplane -> dataplane -> crypto, storage -> common
#
# A file may include headers of its own top-level folder and of any folder
# ranked below it; crypto and storage (same rank) must not include each
# other. tests/, perf/ and sluiced/ (the program that wires the layers
# together) may include anything, and nothing in a layer may include them.
# A C file in a top-level folder with no rank here is an error too, so a new
# folder gets its place in the rule before it gets code.
#
# Private headers: a folder's *_internal.h is for that folder alone (and
# tests/), so a transport, say, cannot reach into the connection layer's
# struct conn. The exceptions are listed in internal_ok with their reason.
#
# Usage: tests/layers.sh [ROOT]   (default: the repository holding this script)
# Prints every violation as FILE:LINE: FOLDER includes TARGET; exits 0 when
# there is none, 1 otherwise, 2 on a usage error.
set -euo pipefail

ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[ -d "$ROOT" ] || { echo "layers.sh: no directory $ROOT" >&2; exit 2; }
cd "$ROOT"

# rank of a top-level folder; "any" for the folders above every layer.
rank_of() {
	case "$1" in
	common) echo 0 ;;
	crypto | storage) echo 1 ;;
	dataplane) echo 2 ;;
	controlplane) echo 3 ;;
	admin) echo 4 ;;
	tests | perf | sluiced) echo any ;;
	*) echo none ;;
	esac
}

# allowed FROM TO: 0 when a file under FROM may include a header under TO.
allowed() {
	local from=$1 to=$2 rf rt
	rf=$(rank_of "$from")
	rt=$(rank_of "$to")
	[ "$rf" = any ] && return 0
	[ "$from" = "$to" ] && return 0
	[ "$rt" = any ] && return 1   # a layer never reaches up to tests/perf/sluiced
	[ "$rt" = none ] && return 0  # not a folder of ours (a system header)
	[ "$rt" -lt "$rf" ]
}

# internal_ok FILE_DIR HEADER: 0 when a file in FILE_DIR may include the
# private header HEADER (a repository path).
internal_ok() {
	local dir=$1 hdr=$2
	[ "$dir" = "$(dirname "$hdr")" ] && return 0
	case "$dir:$hdr" in
	# The operation handlers answer through the connection's request slot
	# (struct conn's req/hdrs/body and reply state).
	dataplane/ops:dataplane/http/http_internal.h) return 0 ;;
	esac
	return 1
}

violations=0
checked=0
# Every C source and header, outside build trees, git and node modules.
while IFS= read -r -d '' f; do
	rel=${f#./}
	from=${rel%%/*}
	if [ "$from" = "$rel" ]; then
		echo "$rel: a C file at the top level has no layer"
		violations=$((violations + 1))
		continue
	fi
	if [ "$(rank_of "$from")" = none ]; then
		echo "$rel: folder '$from' has no rank in tests/layers.sh"
		violations=$((violations + 1))
		continue
	fi
	checked=$((checked + 1))
	# "#include <sp> "path"" or <path>, with optional spaces after '#'.
	while IFS=: read -r line inc; do
		[ -n "$inc" ] || continue
		case "$inc" in
		*/*) ;;
		*) continue ;; # same folder: "tcp_internal.h"
		esac
		target=$inc
		case "$inc" in
		./* | ../*)
			# Relative to the including file: resolve to a repo path.
			target=$(realpath -m --relative-to=. "$(dirname "$rel")/$inc")
			;;
		esac
		to=${target%%/*}
		if ! allowed "$from" "$to"; then
			echo "$rel:$line: $from includes $inc"
			violations=$((violations + 1))
		fi
		case "$target" in
		*_internal.h)
			if [ "$(rank_of "$from")" != any ] &&
				! internal_ok "$(dirname "$rel")" "$target"; then
				echo "$rel:$line: $inc is private to $(dirname "$target")/"
				violations=$((violations + 1))
			fi
			;;
		esac
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<][^">]+[">]' "$f" |
		sed -E 's/^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]+)[">].*/\1:\2/')
done < <(find . \( -name .git -o -name 'build*' -o -name node_modules -o -name subprojects \) \
	-prune -o -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)

if [ "$checked" -eq 0 ]; then
	echo "layers.sh: no C files found under $ROOT" >&2
	exit 2
fi
if [ "$violations" -ne 0 ]; then
	echo "layers: $violations include(s) break admin -> controlplane -> dataplane -> crypto," \
		"storage -> common, or reach into another folder's *_internal.h"
	exit 1
fi
echo "layers: $checked files follow admin -> controlplane -> dataplane -> crypto, storage -> common"
