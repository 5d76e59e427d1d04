#!/usr/bin/env bash
# Usage: tests/run.sh [--fast] [PATTERN]
# Summary: runs every test suite of web-shell and ends with one line
# "N passed, N failed, N skipped" counting the test cases of all suites.
# --fast (make check) runs only the fast tier: it leaves out the slow suites.
#
# Suites:
#   - C unit tests: every executable in $BUILD/tests/, run twice: as built, and
#     the sanitizer twin in $BUILD/asan/tests/.
#   - Area suites: tests/<area>/*.test.sh (bash), *.test.py (/usr/bin/python3),
#     *.test.mjs (node --test). A suite whose first lines hold "sanitize: yes"
#     runs a second time with WS_BUILD pointing at the sanitizer builds.
# Every suite prints TAP: "ok N - name", "not ok N - name", "# SKIP" for skips;
# only unindented lines count. Any sanitizer report fails the suite.
# A PATTERN keeps only suites whose name contains it.
#
# Tiers: a suite is slow (left out by --fast) when it lives in tests/browser/
# (Chromium), its name holds "fuzz" (libFuzzer), or its first lines hold
# "tier: slow" (e.g. debootstrap, apt). Everything else is the fast tier:
# unit, service and protocol suites, under two minutes in all. --fast also
# runs the "sanitize: yes" area suites once (plain build); the C unit tests
# still run under ASan+UBSan too.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD="$ROOT/$BUILD"
LOGS="$BUILD/test-logs"
SUITE_TIMEOUT=${SUITE_TIMEOUT:-1500}
PATTERN=""
FAST=0

total_pass=0
total_fail=0
total_skip=0
failed_suites=()

usage() {
	sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# run_suite NAME BUILD_DIR COMMAND...
run_suite() {
	local name=$1 wsbuild=$2
	shift 2
	if [[ -n $PATTERN && $name != *"$PATTERN"* ]]; then
		return 0
	fi
	local slug=${name//[^A-Za-z0-9_.-]/_}
	local log="$LOGS/$slug.log" san="$LOGS/sanitizers/$slug" work="$LOGS/$slug.work"
	rm -rf "$san" "$work"
	mkdir -p "$san" "$work"
	local start end rc=0
	start=$(date +%s.%N)
	(
		cd "$ROOT"
		export WS_ROOT="$ROOT" WS_BUILD="$wsbuild" WS_WORK="$work"
		export ASAN_OPTIONS="log_path=$san/asan:detect_leaks=1:abort_on_error=0"
		export UBSAN_OPTIONS="log_path=$san/ubsan:print_stacktrace=1:halt_on_error=1"
		exec timeout --kill-after=10 "$SUITE_TIMEOUT" "$@"
	) >"$log" 2>&1 </dev/null || rc=$?
	end=$(date +%s.%N)

	local pass fail skip
	pass=$(grep -cE '^ok [0-9]+' "$log" | tr -d '\n' || true)
	skip=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$log" | tr -d '\n' || true)
	fail=$(grep -cE '^not ok [0-9]+' "$log" | tr -d '\n' || true)
	pass=$((pass - skip))
	local problem=""
	if compgen -G "$san/*" >/dev/null; then
		problem="sanitizer report"
		fail=$((fail + 1))
	elif [[ $rc -ne 0 && $fail -eq 0 ]]; then
		problem="exited $rc"
		[[ $rc -eq 124 ]] && problem="timed out after ${SUITE_TIMEOUT}s"
		fail=$((fail + 1))
	elif [[ $((pass + fail + skip)) -eq 0 ]]; then
		problem="ran no test"
		fail=$((fail + 1))
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	local secs
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
	if [[ $fail -eq 0 ]]; then
		printf 'PASS %-44s %4d passed %3d skipped  %6ss\n' "$name" "$pass" "$skip" "$secs"
	else
		failed_suites+=("$name")
		printf 'FAIL %-44s %4d passed %3d failed %3d skipped  %6ss %s\n' \
			"$name" "$pass" "$fail" "$skip" "$secs" "${problem:+($problem)}"
		# Each failed case with the comment lines that explain it.
		awk '/^not ok [0-9]+/ { show = 6; n++ } n > 20 { exit }
			show > 0 && (/^not ok/ || /^#/) { print "     " $0; show--; next } { show = 0 }' "$log"
		if [[ -n $problem ]]; then
			tail -n 30 "$log" | sed 's/^/     | /'
			if compgen -G "$san/*" >/dev/null; then
				head -n 40 "$san"/* | sed 's/^/     ! /'
			fi
		fi
		printf '     log: %s\n' "$log"
	fi
}

# is_slow FILE: whether an area suite belongs to the slow tier (see the header).
is_slow() {
	case ${1#"$ROOT"/tests/} in
	browser/* | *fuzz*) return 0 ;;
	esac
	head -n 15 "$1" | grep -q "^# tier: slow"
}

# suite_command FILE: how to run one area suite.
suite_command() {
	case $1 in
	*.sh) printf '%s\n' bash "$1" ;;
	*.py) printf '%s\n' /usr/bin/python3 "$1" ;;
	*.mjs) printf '%s\n' node --test --test-reporter=tap "$1" ;;
	esac
}

main() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help)
			usage
			exit 0
			;;
		--fast) FAST=1 ;;
		-*)
			printf 'tests/run.sh: unknown option %s\n' "$1" >&2
			usage >&2
			exit 2
			;;
		*) PATTERN=$1 ;;
		esac
		shift
	done
	mkdir -p "$LOGS"
	local t
	for t in "$BUILD"/tests/*; do
		[[ -f $t && -x $t ]] || continue
		run_suite "unit/$(basename "$t")" "$BUILD" "$t"
		if [[ -x $BUILD/asan/tests/$(basename "$t") ]]; then
			run_suite "unit/$(basename "$t") [asan+ubsan]" "$BUILD/asan" "$BUILD/asan/tests/$(basename "$t")"
		else
			run_suite "unit/$(basename "$t") [asan+ubsan]" "$BUILD/asan" false
		fi
	done
	local file name
	local -a cmd
	while IFS= read -r file; do
		name=${file#"$ROOT"/tests/}
		if [[ $FAST -eq 1 ]] && is_slow "$file"; then
			continue
		fi
		mapfile -t cmd < <(suite_command "$file")
		run_suite "$name" "$BUILD" "${cmd[@]}"
		if [[ $FAST -eq 0 ]] && head -n 5 "$file" | grep -q 'sanitize: yes'; then
			run_suite "$name [asan+ubsan]" "$BUILD/asan" "${cmd[@]}"
		fi
	done < <(find "$ROOT/tests" -mindepth 2 -maxdepth 2 -type f \
		\( -name '*.test.sh' -o -name '*.test.py' -o -name '*.test.mjs' \) | sort)

	if [[ ${#failed_suites[@]} -gt 0 ]]; then
		printf 'failed suites: %s\n' "${failed_suites[*]}"
	fi
	printf '%d passed, %d failed, %d skipped\n' "$total_pass" "$total_fail" "$total_skip"
	[[ $total_fail -eq 0 ]]
}

main "$@"
