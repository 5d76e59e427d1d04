# scripts/lib/wait.sh: the one way web-shell's shell code waits for something
# (a port, a socket, a file, any condition): poll the condition until a
# deadline, never a fixed sleep. Sourced by the scripts and by tests/lib/server.sh;
# defines functions only.
# shellcheck shell=bash

# _usec: the current time in microseconds.
_usec() {
	local t=${EPOCHREALTIME/[.,]/}
	printf '%s\n' "$((10#$t))"
}

# process_alive PID: PID runs (and is no zombie).
process_alive() {
	local stat
	[[ -n $1 ]] || return 1
	# read, not $(<...): a failed $(<FILE) ends a non-interactive bash.
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# wait_for SECONDS PID CMD...: runs CMD every 50 ms until it succeeds (0) or
# SECONDS have passed (1); gives up at once when the process PID (the one that
# should make CMD true; empty for none) has exited. SECONDS may be a fraction.
wait_for() {
	local pid=$2 limit deadline
	limit=$(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')
	deadline=$(($(_usec) + limit))
	shift 2
	while true; do
		"$@" && return 0
		if [[ -n $pid ]] && ! process_alive "$pid"; then
			return 1
		fi
		(($(_usec) < deadline)) || return 1
		sleep 0.05
	done
}

# wait_until SECONDS CMD...: wait_for with no process to watch.
wait_until() {
	wait_for "$1" "" "${@:2}"
}

# tcp_open HOST PORT: something accepts a TCP connection there now.
tcp_open() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_tcp HOST PORT SECONDS [PID]: until something accepts on HOST:PORT; with
# PID, fails at once if that process exits first.
wait_tcp() {
	wait_for "$3" "${4:-}" tcp_open "$1" "$2"
}

# wait_socket PATH SECONDS [PID]: until PATH is a unix socket (a server binds
# and listens before it reports ready; the socket file appears at bind).
wait_socket() {
	wait_for "$2" "${3:-}" test -S "$1"
}

# wait_file PATH SECONDS [PID]: until PATH exists and is not empty.
wait_file() {
	wait_for "$2" "${3:-}" test -s "$1"
}

# wait_log FILE REGEX SECONDS [PID]: until a line of FILE matches the extended REGEX.
wait_log() {
	wait_for "$3" "${4:-}" grep -qE -- "$2" "$1"
}
