#!/usr/bin/env bash
# tests/scripts/shellcheck.test.sh: every shell script of the repository
# (scripts/, tests/, bench/) passes shellcheck, sourced files followed (-x).
set -euo pipefail
# shellcheck source=tests/lib/tap.sh
source "$WS_ROOT/tests/lib/tap.sh"

# One shellcheck run over every file (a run per file costs seconds each), then
# one case per file with its own findings.
test_shellcheck() {
	local f out rc=0 mine
	local -a files
	mapfile -t files < <(find "$WS_ROOT/scripts" "$WS_ROOT/tests" "$WS_ROOT/bench" -name '*.sh' -type f | sort)
	out=$(cd "$WS_ROOT" && shellcheck -x -f gcc "${files[@]#"$WS_ROOT"/}" 2>&1) || rc=$?
	for f in "${files[@]#"$WS_ROOT"/}"; do
		mine=$(awk -v f="$f:" 'index($0, f) == 1' <<<"$out")
		if [[ -z $mine ]]; then
			tap_ok "shellcheck $f"
		else
			tap_fail "shellcheck $f" "$mine"
		fi
	done
	if [[ $rc -ne 0 && -z $(grep -E '^[^:]+:[0-9]+:[0-9]+: ' <<<"$out" || true) ]]; then
		tap_fail "shellcheck ran" "exit $rc" "$out"
	fi
}

main() {
	test_shellcheck
	tap_done
}

main "$@"
