#!/usr/bin/env bash
# Usage: bash tests/exec/fuzz.test.sh (run by `make test`)
# Summary: builds the libFuzzer target on ptyd's exec protocol parsers (execproto.c) and runs it
# briefly (FUZZ_SECONDS, default 20) from the committed corpus; any crash,
# sanitizer report or contract abort fails. `make fuzz` runs it longer.
set -euo pipefail

# shellcheck source=tests/lib/tap.sh disable=SC1091
source "$WS_ROOT/tests/lib/tap.sh"

main() {
	local seconds=${FUZZ_SECONDS:-20} out rc=0
	local scratch="$WS_WORK/corpus" bin="$WS_BUILD/fuzz/fuzz_execproto"
	mkdir -p "$scratch"
	if ! out=$(make -s -C "$WS_ROOT" BUILD="$WS_BUILD" "$bin" 2>&1); then
		tap_fail "fuzz_execproto builds" "$out"
		tap_done
		return
	fi
	tap_ok "fuzz_execproto builds"
	# The scratch dir comes first: libFuzzer adds new inputs there, not to the committed corpus.
	out=$("$bin" -max_total_time="$seconds" -max_len=12000 \
		-artifact_prefix="$WS_WORK/" "$scratch" "$WS_ROOT/tests/fuzz/corpus/fuzz_execproto" 2>&1) || rc=$?
	if [[ $rc -eq 0 ]] && grep -q '^Done [0-9]* runs' <<<"$out"; then
		tap_ok "fuzz_execproto ran ${seconds}s without a finding ($(grep -o '^Done [0-9]* runs' <<<"$out"))"
	else
		tap_fail "fuzz_execproto ran ${seconds}s without a finding" "exit $rc" "$(tail -n 40 <<<"$out")"
	fi
	tap_done
}

main "$@"
