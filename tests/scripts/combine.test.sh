#!/usr/bin/env bash
# tests/scripts/combine.test.sh: combine.sh runs real scripts in order with
# their quoted arguments (by path, bare name and URL), never evaluates them,
# and stops at the first failing script, naming it and its exit code.
set -euo pipefail
# shellcheck source=tests/lib/tap.sh
source "$WS_ROOT/tests/lib/tap.sh"

trap server_stop_all EXIT

# A copy of combine.sh with its neighbours, as a checkout would have them.
setup() {
	D=$WS_WORK/scripts
	mkdir -p "$D"
	cp "$WS_ROOT/scripts/combine.sh" "$D/"
	# Each script appends its name and its arguments, one per line, to the log.
	cat >"$D/first.sh" <<'EOF'
printf 'first\n' >>"$COMBINE_LOG"
for a in "$@"; do printf '[%s]\n' "$a" >>"$COMBINE_LOG"; done
EOF
	cat >"$D/second.sh" <<'EOF'
printf 'second\n' >>"$COMBINE_LOG"
for a in "$@"; do printf '[%s]\n' "$a" >>"$COMBINE_LOG"; done
EOF
	cat >"$D/fails.sh" <<'EOF'
printf 'fails\n' >>"$COMBINE_LOG"
exit 7
EOF
	export COMBINE_LOG=$WS_WORK/combine.log
}

# combine ARGS...: runs the copy with a fresh log; sets RC and OUT.
combine() {
	: >"$COMBINE_LOG"
	RC=0
	OUT=$("$D/combine.sh" "$@" 2>&1) || RC=$?
}

test_two_scripts_quoted_args() {
	combine --script-url "$D/first.sh" --script-args "plain 'two words' \"dq \\\"x\\\"\" a\\ b '' \$HOME \$(touch $WS_WORK/pwned) *" \
		--script-url second.sh --script-args "--flag=1 'it''s'"
	tap_is "two scripts: exit 0" "$RC" 0
	local want
	# shellcheck disable=SC2016 # the literal words the script must receive
	want=$(printf '%s\n' first '[plain]' '[two words]' '[dq "x"]' '[a b]' '[]' '[$HOME]' '[$(touch]' \
		"[$WS_WORK/pwned)]" '[*]' second '[--flag=1]' "[its]")
	tap_is "two scripts ran in order with their arguments split like a shell, quotes kept" "$(cat "$COMBINE_LOG")" "$want"
	if [[ ! -e $WS_WORK/pwned ]]; then
		tap_ok "arguments are never evaluated (\$(...) not run)"
	else
		tap_fail "arguments are never evaluated (\$(...) not run)"
	fi
}

test_stops_at_failure() {
	combine --script-url first.sh --script-url fails.sh --script-args "x" --script-url second.sh
	tap_is "a failing script: combine.sh fails" "$RC" 1
	tap_is "scripts after the failing one do not run" "$(cat "$COMBINE_LOG")" "$(printf '%s\n' first fails)"
	if [[ $OUT == *"$D/fails.sh failed with exit code 7"* ]]; then
		tap_ok "the failing script and its exit code are named"
	else
		tap_fail "the failing script and its exit code are named" "$OUT"
	fi
}

test_missing_script() {
	combine --script-url first.sh --script-url nowhere.sh
	if [[ $RC -eq 1 && $OUT == *"script not found: $D/nowhere.sh"* ]]; then
		tap_ok "a missing script is named"
	else
		tap_fail "a missing script is named" "exit $RC" "$OUT"
	fi
}

test_bad_arguments() {
	combine --script-url first.sh --script-args "'unterminated" --script-url second.sh
	if [[ $RC -eq 2 && $OUT == *"unterminated ' quote"* && ! -s $COMBINE_LOG ]]; then
		tap_ok "an unterminated quote: exit 2 before running anything"
	else
		tap_fail "an unterminated quote: exit 2 before running anything" "exit $RC" "$OUT"
	fi
	combine --script-args "x"
	tap_is "--script-args before any --script-url: exit 2" "$RC" 2
	combine
	tap_is "no --script-url: exit 2" "$RC" 2
	combine --script-url first.sh --bogus
	if [[ $RC -eq 2 && $OUT == *"unknown argument: --bogus"* && ! -s $COMBINE_LOG ]]; then
		tap_ok "an unknown option: exit 2, nothing run"
	else
		tap_fail "an unknown option: exit 2, nothing run" "exit $RC" "$OUT"
	fi
	combine --base-url 'file:///etc' --script-url first.sh
	tap_is "--base-url must be http(s): exit 2" "$RC" 2
}

test_dry_run() {
	combine --dry-run --script-url first.sh --script-args "a 'b c'" --script-url fails.sh
	if [[ $RC -eq 0 && ! -s $COMBINE_LOG && $OUT == *"[1/2] $D/first.sh a b\\ c"* ]]; then
		tap_ok "--dry-run shows each script with its arguments and runs none"
	else
		tap_fail "--dry-run shows each script with its arguments and runs none" "exit $RC" "$OUT"
	fi
}

# Scripts by URL: a real HTTP server on loopback; HTTP errors fail the run.
test_urls() {
	local port www=$WS_WORK/www
	mkdir -p "$www/sub"
	cp "$D/second.sh" "$www/sub/remote.sh"
	port=$(free_port)
	server_start http "$WS_WORK/http.log" /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$www" "$port"
	if ! wait_port "$port" 10 "$SERVER_PID"; then
		tap_fail "local HTTP server started" "$(cat "$WS_WORK/http.log")"
		return
	fi
	combine --script-url "http://127.0.0.1:$port/sub/remote.sh" --script-args "'x y'"
	tap_is "a script by URL runs with its arguments" "$RC/$(cat "$COMBINE_LOG")" "0/$(printf '%s\n' second '[x y]')"
	combine --base-url "http://127.0.0.1:$port/sub" --script-url remote.sh --script-args z
	tap_is "a bare name resolves against --base-url" "$RC/$(cat "$COMBINE_LOG")" "0/$(printf '%s\n' second '[z]')"
	combine --script-url first.sh --script-url "http://127.0.0.1:$port/missing.sh" --script-url second.sh
	if [[ $RC -eq 1 && $OUT == *"cannot fetch http://127.0.0.1:$port/missing.sh"* && $OUT == *404* ]] &&
		[[ $(cat "$COMBINE_LOG") == first ]]; then
		tap_ok "an HTTP 404 stops the run, naming the URL"
	else
		tap_fail "an HTTP 404 stops the run, naming the URL" "exit $RC" "$OUT" "log: $(cat "$COMBINE_LOG")"
	fi
	# combine.sh itself fetched and run from stdin, as cloud-init may do it.
	: >"$COMBINE_LOG"
	RC=0
	OUT=$(curl -fsS "http://127.0.0.1:$port/sub/remote.sh" >/dev/null &&
		bash -s -- --base-url "http://127.0.0.1:$port/sub" --script-url remote.sh <"$D/combine.sh" 2>&1) || RC=$?
	tap_is "combine.sh read from stdin resolves bare names by --base-url" "$RC/$(cat "$COMBINE_LOG")" "0/second"
}

main() {
	setup
	test_two_scripts_quoted_args
	test_stops_at_failure
	test_missing_script
	test_bad_arguments
	test_dry_run
	test_urls
	tap_done
}

main "$@"
