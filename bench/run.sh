#!/usr/bin/env bash
# Usage: bench/run.sh [PATTERN]
# Summary: runs every benchmark (bench/*.bench.sh, *.bench.py, *.bench.mjs) in
# turn; each prints its own table of measured figures beside its targets.
# Benchmarks bind to 127.0.0.1 on free ports and stop what they start.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD="$ROOT/$BUILD"
PATTERN=${1:-}

main() {
	local file rc=0
	export WS_ROOT="$ROOT" WS_BUILD="$BUILD"
	cd "$ROOT"
	while IFS= read -r file; do
		# Matched against the path inside the tree, not the checkout's own path.
		[[ -z $PATTERN || ${file#"$ROOT"/} == *"$PATTERN"* ]] || continue
		printf '\n== %s\n' "${file#"$ROOT"/}"
		case $file in
		*.sh) bash "$file" || rc=1 ;;
		*.py) /usr/bin/python3 "$file" || rc=1 ;;
		*.mjs) node "$file" || rc=1 ;;
		esac
	done < <(find "$ROOT/bench" -maxdepth 1 -type f \
		\( -name '*.bench.sh' -o -name '*.bench.py' -o -name '*.bench.mjs' \) | sort)
	return "$rc"
}

main "$@"
