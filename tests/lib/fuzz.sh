# tests/lib/fuzz.sh: runs one libFuzzer target of the Makefile briefly as TAP
# cases (source it after tap.sh). Any crash, sanitizer report or abort fails.
# shellcheck shell=bash

# fuzz_one TARGET SECONDS: builds $WS_BUILD/fuzz/TARGET and runs it SECONDS from
# tests/fuzz/corpus/TARGET, adding new inputs to a scratch dir.
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
