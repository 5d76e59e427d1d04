# tests/lib/server.sh: the shell tests' one way to start a server and wait
# for it (source it; tap.sh does). Waits poll a condition (port, socket, log
# line, file) through scripts/lib/wait.sh, never a fixed sleep.
#
#   port=$(free_port)
#   server_start ptyd "$WS_WORK/ptyd.log" "$WS_BUILD/ptyd" --listen "127.0.0.1:$port" -- bash
#   wait_tcp 127.0.0.1 "$port" 15 "$SERVER_PID" || bail "ptyd did not listen: $(tail "$WS_WORK/ptyd.log")"
#   ...
#   server_stop "$SERVER_PID"        # also done for every server at exit by server_stop_all
# shellcheck shell=bash

# shellcheck source=scripts/lib/wait.sh
source "${WS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/scripts/lib/wait.sh"

# Every server started, for server_stop_all.
SERVER_PIDS=()
SERVER_PID=""

# free_port: a TCP port on 127.0.0.1 that nothing is bound to right now, from
# the suite's own range $WS_PORTS under tests/run.sh (tests/lib/server.py's free_port).
free_port() {
	/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from server import free_port; print(free_port())' \
		"$(dirname "${BASH_SOURCE[0]}")"
}

# wait_port PORT [SECONDS] [PID]: until something accepts on 127.0.0.1:PORT.
wait_port() {
	wait_tcp 127.0.0.1 "$1" "${2:-10}" "${3:-}"
}

# server_start NAME LOG CMD...: starts CMD in the background, in its own
# process group, stdin from /dev/null, stdout and stderr to LOG; sets
# SERVER_PID. NAME is for messages only.
server_start() {
	local name=$1 log=$2
	shift 2
	mkdir -p "$(dirname "$log")"
	printf '# starting %s: %s\n' "$name" "$*" >>"${SERVER_TRACE:-/dev/null}"
	setsid "$@" </dev/null >"$log" 2>&1 &
	SERVER_PID=$!
	SERVER_PIDS+=("$SERVER_PID")
}

# server_stop PID [SECONDS]: SIGTERM to PID's process group, SIGKILL after
# SECONDS (default 5); waits for it. Returns PID's exit status (143 for TERM).
server_stop() {
	local pid=$1 rc=0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || rc=$?; return "$rc"; }
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	if ! wait_until "${2:-5}" _server_gone "$pid"; then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# _server_gone PID: the process has exited (a zombie counts as gone).
_server_gone() {
	! process_alive "$1"
}

# server_stop_all: stops every server server_start started (call it from an EXIT trap).
server_stop_all() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		server_stop "$pid" || true
	done
	SERVER_PIDS=()
}

# connect_as USER GROUP PATH: connects to the unix socket PATH as USER and GROUP
# (names or numbers) with no supplementary group; prints "connected" or the
# error's name (PermissionError, FileNotFoundError, ...).
connect_as() {
	setpriv --reuid="$1" --regid="$2" --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(type(e).__name__)' "$3" 2>&1
}
