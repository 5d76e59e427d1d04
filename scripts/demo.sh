#!/usr/bin/env bash
# Usage: scripts/demo.sh [--dry-run] [--help]   (make demo runs it, with BUILD set, after building)
# Summary: the whole web-shell stack on loopback, no DNS and no TLS needed:
# Caddy on http://127.0.0.1:$DEMO_PORT serving the browser app, jwt-verify on a
# free loopback port, ptyd on a unix socket in a private directory, and a demo key pair the page can use. Prints one
# URL; Ctrl-C stops everything it started.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PROG=demo.sh
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source=scripts/lib/caddyfile.sh
source "$HERE/lib/caddyfile.sh"

# When started as root, the services run as this unprivileged user instead.
readonly DEMO_USER=webshell-demo

usage() {
	cat <<'USAGE'
Usage: scripts/demo.sh [--dry-run] [--help]      (normally: make demo)

Runs web-shell on loopback: Caddy on http://127.0.0.1:$DEMO_PORT (default
8080) serving the browser app, jwt-verify on a free loopback port and ptyd on
a unix socket in a directory only the demo's user may enter.
Makes a demo Ed25519 key pair under $BUILD/demo/ (once) and offers its private
key to the page at /demo-key.pem, on this loopback site only, so that "Use the
demo key" then "Connect" gives a terminal. Started as root, every service runs
as the unprivileged user webshell-demo (created if missing), and the shells
are that user's. Ctrl-C stops all of it.

  --dry-run   print the Caddyfile and the commands it would run; start,
              make and write nothing
  --help      show this help

Environment: BUILD (default build) holds jwt-verify and ptyd; DEMO_PORT.
USAGE
}

# pick_port: a TCP port on 127.0.0.1 that nothing accepts on right now, chosen
# below the kernel's ephemeral range so that no outgoing connection holds it.
pick_port() {
	local low=32768 port tries=0
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((low > 11000)) || low=60000
	while ((tries < 100)); do
		port=$((10000 + RANDOM % (low - 10000)))
		if ! tcp_open 127.0.0.1 "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
		tries=$((tries + 1))
	done
	abort "no free port found on 127.0.0.1"
}

# make_keys DIR: the demo key pair, made once: PKCS#8 private, SPKI public.
make_keys() {
	local dir=$1
	if [[ -s $dir/demo-key.pem && -s $dir/demo-pub.pem ]]; then
		return 0
	fi
	log::info "making the demo key pair in $dir"
	(umask 077 && openssl genpkey -algorithm ed25519 -out "$dir/demo-key.pem")
	openssl pkey -in "$dir/demo-key.pem" -pubout -out "$dir/demo-pub.pem"
}

# ensure_demo_user: the unprivileged user services run as when we are root.
ensure_demo_user() {
	getent passwd "$DEMO_USER" >/dev/null && return 0
	log::info "creating the unprivileged user $DEMO_USER for the demo's services and shells"
	useradd --system --create-home --home-dir "/var/lib/$DEMO_USER" --shell /bin/bash "$DEMO_USER"
}

# write_caddyfile FILE DEMO_PORT VERIFIER_PORT PTYD_SOCKET KEY_DIR
write_caddyfile() {
	{
		printf '# make demo: loopback only, plain HTTP (127.0.0.1 is a secure context).\n{\n'
		printf '\tadmin off\n\tdefault_bind 127.0.0.1\n'
		caddy::log_filter
		printf '}\n\nhttp://127.0.0.1:%s {\n' "$2"
		caddy::ws_route "127.0.0.1:$3" "unix/$4"
		# The demo private key, for the page's "Use the demo key" button: it is
		# served only by this loopback demo site, never by web-shell.sh's.
		printf '\thandle /demo-key.pem {\n\t\troot * "%s"\n\t\tfile_server\n\t}\n' "$5"
		printf '\thandle {\n\t\troot * "%s"\n\t\tfile_server\n\t}\n}\n' "$ROOT/examples/web-shell"
	} >"$1"
}

PIDS=()
NAMES=()
# The main loop's current `sleep`, stopped with the rest.
SLEEP_PID=""

# start NAME LOG CMD...: one service in its own session, as the demo user when root.
start() {
	local name=$1 log=$2
	shift 2
	local -a as=()
	if is_root; then
		as=(setpriv --reuid="$DEMO_USER" --regid="$DEMO_USER" --init-groups --inh-caps=-all --)
	fi
	setsid "${as[@]}" "$@" >"$log" 2>&1 </dev/null &
	PIDS+=("$!")
	NAMES+=("$name")
}

# start_on_free_port NAME LOG CMD...: starts NAME listening on a free loopback
# port, written {port} in CMD's arguments, and sets LISTEN_PORT to it. A port
# taken between the pick and the bind (another program's race) is retried.
LISTEN_PORT=""
start_on_free_port() {
	local name=$1 log=$2 tries port
	shift 2
	for tries in 1 2 3 4 5; do
		port=$(pick_port)
		start "$name" "$log" "${@//\{port\}/$port}"
		if wait_tcp 127.0.0.1 "$port" 15 "${PIDS[-1]}"; then
			LISTEN_PORT=$port
			return 0
		fi
		grep -q 'Address already in use' "$log" || break
		log::info "$name: 127.0.0.1:$port was taken meanwhile; trying another port ($tries)"
		wait "${PIDS[-1]}" 2>/dev/null || true
		unset 'PIDS[-1]' 'NAMES[-1]'
	done
	abort "$name did not start on 127.0.0.1:$port; its log: $(tail -n 5 "$log")"
}

# stop_all: TERM to every service's process group, KILL after 5 s; waits for all.
stop_all() {
	trap - INT TERM EXIT
	local pid i deadline=$((SECONDS + 5))
	if [[ -n $SLEEP_PID ]]; then kill "$SLEEP_PID" 2>/dev/null || true; fi
	[[ ${#PIDS[@]} -gt 0 ]] || return 0
	log::info "stopping ${NAMES[*]}"
	for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
	for i in "${!PIDS[@]}"; do
		while kill -0 "${PIDS[i]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		if kill -0 "${PIDS[i]}" 2>/dev/null; then
			log::error "${NAMES[i]} ignored SIGTERM; killing it"
			kill -KILL -- "-${PIDS[i]}" 2>/dev/null || true
		fi
		wait "${PIDS[i]}" 2>/dev/null || true
	done
	PIDS=()
	log::info "stopped"
}

# dry_run BUILD DIR PORT: what a real run would do, changing nothing.
dry_run() {
	local build=$1 dir=$2 port=$3 who=""
	[[ -s $dir/demo-key.pem ]] || log::info "would make the demo key pair in $dir"
	if is_root; then
		getent passwd "$DEMO_USER" >/dev/null || log::info "would create the user $DEMO_USER"
		who="as $DEMO_USER: "
	fi
	log::info "would run ${who}$build/jwt-verify --key $dir/demo-pub.pem --listen 127.0.0.1:PORT1 --audience 127.0.0.1"
	log::info "would run ${who}$build/ptyd --listen unix:$dir/run-$port/ptyd/ptyd.sock --check-origin http://127.0.0.1:$port"
	log::info "would run ${who}caddy run --adapter caddyfile --config $dir/run-$port/Caddyfile, which would be:"
	write_caddyfile /dev/stdout "$port" PORT1 "$dir/run-$port/ptyd/ptyd.sock" "$dir"
}

main() {
	case ${1:-} in
	-h | --help) usage; exit 0 ;;
	--dry-run) DRY_RUN=1 ;;
	"") ;;
	*) usage_error "unknown argument: $1" ;;
	esac
	[[ $# -le 1 ]] || usage_error "unknown argument: $2"
	local build=${BUILD:-build} port=${DEMO_PORT:-8080}
	[[ $build = /* ]] || build="$ROOT/$build"
	[[ $port =~ ^[0-9]{1,5}$ && $port -ge 1 && $port -le 65535 ]] || usage_error "DEMO_PORT: not a port number: '$port'"
	local bin
	for bin in jwt-verify ptyd; do
		[[ -x $build/$bin ]] || abort "$build/$bin is missing: run make first (make demo builds it)"
	done
	command -v caddy >/dev/null || abort "caddy is not installed (scripts/install-deps.sh installs it)"
	command -v openssl >/dev/null || abort "openssl is not installed"
	if tcp_open 127.0.0.1 "$port"; then
		abort "port $port on 127.0.0.1 is taken; set DEMO_PORT to a free one"
	fi
	note_system_caddy

	local dir=$build/demo run
	# State and logs per port: two demos (two test runs) never share them.
	run=$dir/run-$port
	if [[ $DRY_RUN == 1 ]]; then
		dry_run "$build" "$dir" "$port"
		return 0
	fi
	mkdir -p "$dir"
	# One key pair, even when two demos start at once.
	exec 8>"$dir/.keys.lock"
	flock 8
	make_keys "$dir"
	exec 8>&-
	rm -rf "$run"
	mkdir -p "$run/caddy"
	# ptyd's socket lives in a directory only the demo's own user may enter:
	# no other local account can reach ptyd, only Caddy (same user) can.
	mkdir -m 0700 "$run/ptyd"
	if is_root; then
		ensure_demo_user
		# The demo user reads the demo keys and owns Caddy's state.
		chown "$DEMO_USER:" "$dir/demo-key.pem" "$dir/demo-pub.pem"
		chown -R "$DEMO_USER:" "$run"
	fi
	trap 'stop_all; exit 130' INT
	trap 'stop_all; exit 143' TERM
	trap stop_all EXIT
	start_on_free_port jwt-verify "$run/jwt-verify.log" "$build/jwt-verify" --key "$dir/demo-pub.pem" \
		--listen "127.0.0.1:{port}" --audience 127.0.0.1
	local vport=$LISTEN_PORT
	local sock=$run/ptyd/ptyd.sock
	start ptyd "$run/ptyd.log" "$build/ptyd" --listen "unix:$sock" --check-origin "http://127.0.0.1:$port"
	wait_socket "$sock" 15 "${PIDS[-1]}" || abort "ptyd did not start on unix:$sock; its log: $(tail -n 5 "$run/ptyd.log")"
	write_caddyfile "$run/Caddyfile" "$port" "$vport" "$sock" "$dir"
	start caddy "$run/caddy.log" env HOME="$run/caddy" XDG_DATA_HOME="$run/caddy/data" \
		XDG_CONFIG_HOME="$run/caddy/config" caddy run --adapter caddyfile --config "$run/Caddyfile"
	wait_tcp 127.0.0.1 "$port" 15 "${PIDS[-1]}" || abort "caddy did not start on 127.0.0.1:$port; its log: $(tail -n 5 "$run/caddy.log")"
	log::info "jwt-verify 127.0.0.1:$vport, ptyd unix:$sock, caddy 127.0.0.1:$port; logs in $run/"
	log::info "press Ctrl-C to stop"
	printf '\nOpen http://127.0.0.1:%s/ then "Use the demo key" and "Connect".\n\n' "$port"

	local i
	while true; do
		for i in "${!PIDS[@]}"; do
			if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
				abort "${NAMES[i]} exited; its log: $(tail -n 5 "$run/${NAMES[i]}.log")"
			fi
		done
		# In the background so that Ctrl-C's trap runs at once.
		sleep 1 &
		SLEEP_PID=$!
		wait "$SLEEP_PID" || true
	done
}

main "$@"
