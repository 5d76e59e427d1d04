# tests/lib/fuzz.sh: runs one libFuzzer target of the Makefile briefly as TAP
# cases (source it after tap.sh). Any crash, sanitizer report or abort fails.
# shellcheck shell=bash

# fuzz_target NAME MAX_LEN: builds $WS_BUILD/fuzz/NAME and runs it FUZZ_SECONDS
# (default 20) from tests/fuzz/corpus/NAME, adding new inputs to a scratch dir.
fuzz_target() {
	local name=$1 max_len=$2 seconds=${FUZZ_SECONDS:-20} out rc=0
	local scratch="$WS_WORK/corpus-$name" bin="$WS_BUILD/fuzz/$name"
	mkdir -p "$scratch"
	if ! out=$(make -s -C "$WS_ROOT" BUILD="$WS_BUILD" "$bin" 2>&1); then
		tap_fail "$name builds" "$out"
		return
	fi
	tap_ok "$name builds"
	# The scratch dir comes first: libFuzzer adds new inputs there, not to the committed corpus.
	out=$("$bin" -max_total_time="$seconds" -max_len="$max_len" \
		-artifact_prefix="$WS_WORK/" "$scratch" "$WS_ROOT/tests/fuzz/corpus/$name" 2>&1) || rc=$?
	if [[ $rc -eq 0 ]] && grep -q '^Done [0-9]* runs' <<<"$out"; then
		tap_ok "$name ran ${seconds}s without a finding ($(grep -o '^Done [0-9]* runs' <<<"$out"))"
	else
		tap_fail "$name ran ${seconds}s without a finding" "exit $rc" "$(tail -n 40 <<<"$out")"
	fi
}
