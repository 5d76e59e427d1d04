#!/usr/bin/env bash
# Usage: bash tests/jwt-verify/fuzz.test.sh (run by `make test`)
# Summary: builds the libFuzzer targets on jwt-verify's pure part (fuzz_jwt),
# its RFC 8259 validator (fuzz_verify_parsers) and services/common's parsers and
# escapers (fuzz_common) and runs each briefly (FUZZ_SECONDS, default 20 for
# fuzz_jwt, a quarter of it for the others) from its committed corpus; any crash, sanitizer report or
# contract abort fails. `make fuzz` runs them longer.
set -euo pipefail

# shellcheck source=tests/lib/tap.sh disable=SC1091
source "$WS_ROOT/tests/lib/tap.sh"

# fuzz_one TARGET SECONDS
fuzz_one() {
	local target=$1 seconds=$2 out rc=0
	local scratch="$WS_WORK/corpus-$target" bin="$WS_BUILD/fuzz/$target"
	mkdir -p "$scratch"
	if ! out=$(make -s -C "$WS_ROOT" BUILD="$WS_BUILD" "$bin" 2>&1); then
		tap_fail "$target builds" "$out"
		return
	fi
	tap_ok "$target builds"
	# The scratch dir comes first: libFuzzer adds new inputs there, not to the committed corpus.
	out=$("$bin" -max_total_time="$seconds" -max_len=12000 \
		-artifact_prefix="$WS_WORK/" "$scratch" "$WS_ROOT/tests/fuzz/corpus/$target" 2>&1) || rc=$?
	if [[ $rc -eq 0 ]] && grep -q '^Done [0-9]* runs' <<<"$out"; then
		tap_ok "$target ran ${seconds}s without a finding ($(grep -o '^Done [0-9]* runs' <<<"$out"))"
	else
		tap_fail "$target ran ${seconds}s without a finding" "exit $rc" "$(tail -n 40 <<<"$out")"
	fi
}

main() {
	local seconds=${FUZZ_SECONDS:-20}
	fuzz_one fuzz_jwt "$seconds"
	fuzz_one fuzz_verify_parsers $(((seconds + 3) / 4))
	fuzz_one fuzz_common $(((seconds + 3) / 4))
	tap_done
}

main "$@"
