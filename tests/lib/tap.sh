# tests/lib/tap.sh: TAP output for bash suites (source it). Every check prints
# "ok N - name" or "not ok N - name"; tap_done prints the plan and sets the status.
# shellcheck shell=bash

TAP_N=0
TAP_FAILED=0

tap_ok() {
	TAP_N=$((TAP_N + 1))
	printf 'ok %d - %s\n' "$TAP_N" "$1"
}

# tap_fail NAME [DETAIL...]: a failed case; details go out as TAP comments.
tap_fail() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$TAP_N" "$1"
	shift
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

tap_skip() {
	TAP_N=$((TAP_N + 1))
	printf 'ok %d - %s # SKIP %s\n' "$TAP_N" "$1" "$2"
}

# tap_check NAME COMMAND...: ok when COMMAND exits 0; its output is shown on failure.
tap_check() {
	local name=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [[ $rc -eq 0 ]]; then
		tap_ok "$name"
	else
		tap_fail "$name" "command: $*" "exit: $rc" "$out"
	fi
}

# tap_is NAME GOT WANT
tap_is() {
	if [[ $2 == "$3" ]]; then
		tap_ok "$1"
	else
		tap_fail "$1" "got:  $2" "want: $3"
	fi
}

tap_done() {
	printf '1..%d\n' "$TAP_N"
	[[ $TAP_FAILED -eq 0 ]]
}

# Starting servers and waiting for them: tests/lib/server.sh.
# shellcheck source=tests/lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/server.sh"
