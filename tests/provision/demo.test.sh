#!/usr/bin/env bash
# tests/provision/demo.test.sh: `make demo`'s script for real: it prints one
# URL, serves the page and the demo key, a token signed with that key gets a
# shell through Caddy (as the unprivileged demo user when run as root), a bad
# token gets a 401 with its reason, no token reaches a log, and SIGINT stops
# everything it started, shells included.
set -euo pipefail
# shellcheck source=tests/lib/tap.sh
source "$WS_ROOT/tests/lib/tap.sh"

DEMO_PID=""
CLIENT_PID=""
cleanup() {
	local pid
	for pid in $CLIENT_PID $DEMO_PID; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

# descendants PID: every process below PID, one per line.
descendants() {
	local pid child
	for child in $(ps -o pid= --ppid "$1"); do
		printf '%s\n' "$child"
		descendants "$child"
	done
}

# none_alive PID...: every one of them has exited.
none_alive() {
	[[ -z $(alive "$@") ]]
}

# alive PID...: those still running (zombies count as gone only once reaped).
alive() {
	local pid
	for pid in "$@"; do
		if [[ -d /proc/$pid ]]; then
			printf '%s(%s) ' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)"
		fi
	done
}

main() {
	local b
	for b in jwt-verify ptyd; do
		if [[ ! -x $WS_BUILD/$b ]]; then
			tap_skip "make demo" "$WS_BUILD/$b is not built"
			tap_done
			return
		fi
	done
	local port log=$WS_WORK/demo.out run
	[[ $WS_BUILD = /* ]] || WS_BUILD=$WS_ROOT/$WS_BUILD
	port=$(free_port)
	run=$WS_BUILD/demo/run-$port
	# As under `make demo` in a terminal: SIGINT reaches demo.sh with its
	# default disposition (a background job of this script would ignore it).
	BUILD=$WS_BUILD DEMO_PORT=$port /usr/bin/python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$WS_ROOT/scripts/demo.sh" >"$log" 2>&1 &
	DEMO_PID=$!
	wait_log "$log" 'Open http' 60 "$DEMO_PID" || true
	local urls
	urls=$(grep -oE 'https?://[^ ]+' "$log" | sort -u || true)
	if [[ $urls == "http://127.0.0.1:$port/" ]]; then
		tap_ok "demo prints one URL: http://127.0.0.1:$port/"
	else
		tap_fail "demo prints one URL: http://127.0.0.1:$port/" "$(cat "$log")"
		return
	fi

	tap_check "caddy validate: the demo's Caddyfile" env XDG_DATA_HOME="$WS_WORK/xdg" XDG_CONFIG_HOME="$WS_WORK/xdg" \
		caddy validate --adapter caddyfile --config "$run/Caddyfile"
	local code
	code=$(curl -s -o "$WS_WORK/index.html" -w '%{http_code}' "http://127.0.0.1:$port/") || true
	if [[ $code == 200 ]] && grep -qi '<html' "$WS_WORK/index.html"; then
		tap_ok "the page is served"
	else
		tap_fail "the page is served" "HTTP $code"
	fi
	code=$(curl -s -o "$WS_WORK/demo-key.pem" -w '%{http_code}' "http://127.0.0.1:$port/demo-key.pem") || true
	if [[ $code == 200 ]] && cmp -s <(openssl pkey -in "$WS_WORK/demo-key.pem" -pubout 2>/dev/null) "$WS_BUILD/demo/demo-pub.pem"; then
		tap_ok "/demo-key.pem is the private half of the key jwt-verify trusts"
	else
		tap_fail "/demo-key.pem is the private half of the key jwt-verify trusts" "HTTP $code"
	fi
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/run-$port/Caddyfile") || true
	tap_is "nothing else from build/demo is served" "$code" 404

	local token want_user out rc=0
	token=$(/usr/bin/python3 "$WS_ROOT/tests/lib/mint_jwt.py" --key "$WS_WORK/demo-key.pem" --aud 127.0.0.1)
	want_user=$(id -un)
	[[ $(id -u) -ne 0 ]] || want_user=webshell-demo
	# shellcheck disable=SC2016 # expanded by the remote shell
	out=$(/usr/bin/python3 "$WS_ROOT/tests/provision/ttyd_client.py" --url "ws://127.0.0.1:$port/ws?token=$token" \
		--origin "http://127.0.0.1:$port" 'echo "I am $(id -un)"' 2>&1) || rc=$?
	if [[ $rc -eq 0 && $out == *"I am $want_user"* ]]; then
		tap_ok "a token from the demo key gets a shell through Caddy, as $want_user"
	else
		tap_fail "a token from the demo key gets a shell through Caddy, as $want_user" "exit $rc" "$out" \
			"$(tail -n 5 "$run"/*.log)"
	fi
	# Issue 9 s1: only Caddy reaches ptyd: its socket is in a directory of the demo's user alone.
	local sock=$run/ptyd/ptyd.sock got
	got=$(connect_as nobody nogroup "$sock")
	if [[ -S $sock && $(stat -c %a "$run/ptyd") == 700 && $got == PermissionError ]]; then
		tap_ok "ptyd's socket refuses a client of another uid (nobody: $got)"
	else
		tap_fail "ptyd's socket refuses a client of another uid" "nobody: $got" "$(ls -la "$run/ptyd" 2>&1)"
	fi
	got=$(connect_as "$want_user" "$(id -gn "$want_user")" "$sock")
	tap_is "the demo's own user (Caddy's) reaches it" "$got" connected
	rc=0
	code=$(curl -s -o "$WS_WORK/401.txt" -w '%{http_code}' "http://127.0.0.1:$port/ws?token=not.a.token") || rc=$?
	if [[ $code == 401 && -s $WS_WORK/401.txt ]]; then
		tap_ok "a bad token: 401 with its reason ($(head -c 80 "$WS_WORK/401.txt"))"
	else
		tap_fail "a bad token: 401 with its reason" "HTTP $code" "$(cat "$WS_WORK/401.txt")"
	fi
	if grep -rlF -- "$token" "$run" "$log" >/dev/null 2>&1; then
		tap_fail "the token appears in no log" "$(grep -rlF -- "$token" "$run" "$log")"
	else
		tap_ok "the token appears in no log"
	fi

	# A shell left open (sleeping) while the demo is stopped.
	/usr/bin/python3 "$WS_ROOT/tests/provision/ttyd_client.py" --timeout 60 \
		--url "ws://127.0.0.1:$port/ws?token=$token" --origin "http://127.0.0.1:$port" 'sleep 120' \
		>"$WS_WORK/client.out" 2>&1 &
	CLIENT_PID=$!
	wait_until 10 pgrep -u "$want_user" -f '^sleep 120$' >/dev/null || true
	local shell_pid
	shell_pid=$(pgrep -u "$want_user" -f '^sleep 120$' || true)
	local -a procs
	mapfile -t procs < <(descendants "$DEMO_PID")
	printf '# demo processes before SIGINT: %s\n' "$(alive "${procs[@]}")"
	kill -INT "$DEMO_PID"
	rc=0
	wait_until 15 _server_gone "$DEMO_PID" || true
	wait "$DEMO_PID" || rc=$?
	DEMO_PID=""
	tap_is "SIGINT stops the demo (exit 130)" "$rc" 130
	local left
	wait_until 5 none_alive "${procs[@]}" || true
	left=$(alive "${procs[@]}")
	if [[ -n $shell_pid && " ${procs[*]} " == *" $shell_pid "* && -z $left ]]; then
		tap_ok "nothing it started is left running (${#procs[@]} processes, an open shell among them)"
	else
		tap_fail "nothing it started is left running (${#procs[@]} processes, an open shell among them)" \
			"open shell's sleep: ${shell_pid:-none seen}" "left: $left" "$(tail -n 5 "$log")"
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		tap_fail "the demo port is closed again"
	else
		tap_ok "the demo port is closed again"
	fi
	# This run's state, kept while the suite's log was being written.
	cp "$run"/*.log "$WS_WORK/" 2>/dev/null || true
	rm -rf "$run"
}

main
tap_done
