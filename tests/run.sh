#!/usr/bin/env bash
# Usage: tests/run.sh [--fast] [-j N] [PATTERN]
# Summary: runs every test suite of web-shell and ends with one line
# "N passed, N failed, N skipped" counting the test cases of all suites.
# --fast (make check) runs only the fast tier: it leaves out the slow suites.
# -j N (or JOBS=N) runs N suites at a time (default: twice the number of
# CPUs: most suites wait on timers, processes and sockets, not on a CPU);
# -j 1 runs them one after another.
#
# Suites:
#   - C unit tests: every executable in $BUILD/tests/, run twice: as built, and
#     the sanitizer twin in $BUILD/asan/tests/.
#   - Area suites: tests/<area>/*.test.sh (bash), *.test.py (/usr/bin/python3),
#     *.test.mjs (node --test). A suite whose first lines hold "sanitize: yes"
#     runs a second time with WS_BUILD pointing at the sanitizer builds.
# Every suite prints TAP: "ok N - name", "not ok N - name", "# SKIP" for skips;
# only unindented lines count. Any sanitizer report fails the suite.
# A PATTERN keeps only suites whose name contains it.
# Each suite's line (PASS or FAIL, with its failed cases under it) is printed
# when it finishes; the longest suites (by their last run here) start first.
#
# Tiers: a suite is slow (left out by --fast) when it lives in tests/browser/
# (Chromium), its name holds "fuzz" (libFuzzer), or its first lines hold
# "tier: slow" (e.g. debootstrap, apt, load sweeps). Everything else is the
# fast tier: unit, service and protocol suites, under two minutes in all.
# --fast also runs the "sanitize: yes" area suites once (plain build); the C
# unit tests still run under ASan+UBSan too.
#
# Concurrency: suites run side by side, so a suite must not share anything
# with another run of itself or of any other suite:
#   - ports: take them from free_port() (tests/lib/server.{py,sh,mjs}); it
#     picks from $WS_PORTS, a range of its own this runner gives each running
#     suite below the kernel's ephemeral range (so no client socket and no
#     other suite takes it meanwhile), and start servers through the harness,
#     which retries on a port taken anyway;
#   - files: only under $WS_WORK (a directory per suite run) or mkdtemp;
#   - names: accounts, cgroups, sockets, process markers (a `sleep 98765`
#     looked for in /proc) carry the suite's pid (os.getpid(), $$), never a
#     fixed name; look for processes by pid, parent or that marker, never by
#     program name alone (pgrep ptyd sees the other suites' ones too);
#   - the machine: a suite that must have it to itself (Chromium's timing)
#     says "serial: yes" in its first lines (tests/browser/ suites are serial
#     anyway); it runs alone, after the others.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD="$ROOT/$BUILD"
LOGS="$BUILD/test-logs"
SUITE_TIMEOUT=${SUITE_TIMEOUT:-1500}
JOBS=${JOBS:-}
PATTERN=""
FAST=0

# The suites to run: name, build dir (WS_BUILD), what to run (see
# job_command), serial (1: alone) and the expected seconds.
JOB_NAME=()
JOB_BUILD=()
JOB_KIND=()  # unit:PATH | area:FILE | missing
JOB_SERIAL=()
JOB_COST=()

total_pass=0
total_fail=0
total_skip=0
failed_suites=()

usage() {
	sed -n '2,43s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

slug_of() {
	local s=${1//[^A-Za-z0-9_.-]/_}
	printf '%s\n' "$s"
}

# add_job NAME BUILD_DIR KIND SERIAL FALLBACK_SECONDS: queues a suite (if PATTERN keeps it).
# Its expected time is its last run's here ($LOGS/SLUG.secs), else the fallback.
add_job() {
	local name=$1
	if [[ -n $PATTERN && $name != *"$PATTERN"* ]]; then
		return 0
	fi
	local cost=$5 f
	f="$LOGS/$(slug_of "$name").secs"
	if [[ -s $f ]]; then
		cost=$(<"$f")
	fi
	JOB_NAME+=("$name")
	JOB_BUILD+=("$2")
	JOB_KIND+=("$3")
	JOB_SERIAL+=("$4")
	JOB_COST+=("$cost")
}

# is_slow FILE: whether an area suite belongs to the slow tier (see the header).
is_slow() {
	case ${1#"$ROOT"/tests/} in
	browser/* | *fuzz*) return 0 ;;
	esac
	head -n 15 "$1" | grep -q "^# tier: slow"
}

# is_serial FILE: whether an area suite must run alone (see the header).
is_serial() {
	case ${1#"$ROOT"/tests/} in
	browser/*) return 0 ;;
	esac
	head -n 15 "$1" | grep -q "^# serial: yes"
}

# job_command KIND: the command of a suite, one word a line.
job_command() {
	case $1 in
	unit:*) printf '%s\n' "${1#unit:}" ;;
	missing) printf '%s\n' false ;;
	area:*.sh) printf '%s\n' bash "${1#area:}" ;;
	area:*.py) printf '%s\n' /usr/bin/python3 "${1#area:}" ;;
	area:*.mjs) printf '%s\n' node --test --test-reporter=tap "${1#area:}" ;;
	esac
}

# Ports for free_port(): the unprivileged ports below the ephemeral range,
# split into one range per concurrent slot.
PORT_LO=10000
PORT_HI=32767
port_ranges_init() {
	local eph_lo _
	if read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null &&
		[[ $eph_lo =~ ^[0-9]+$ ]] && ((eph_lo - 1 - PORT_LO >= 1000 * JOBS)); then
		PORT_HI=$((eph_lo - 1))
	fi
}

# slot_ports SLOT: "LO-HI", the ports of one concurrent slot.
slot_ports() {
	local span=$(((PORT_HI - PORT_LO + 1) / JOBS))
	printf '%d-%d\n' $((PORT_LO + $1 * span)) $((PORT_LO + ($1 + 1) * span - 1))
}

# Running suites: pid -> job index, slot, start time.
declare -A RUN_JOB=() RUN_SLOT=() RUN_START=()
declare -a SLOT_BUSY=()

# start_job INDEX: starts one suite in the background (its own process
# group: timeout makes one), output to its log.
start_job() {
	local i=$1 slot=0
	while [[ ${SLOT_BUSY[slot]:-0} -eq 1 ]]; do
		slot=$((slot + 1))
	done
	SLOT_BUSY[slot]=1
	local name=${JOB_NAME[i]} slug
	slug=$(slug_of "$name")
	local log="$LOGS/$slug.log" san="$LOGS/sanitizers/$slug" work="$LOGS/$slug.work"
	rm -rf "$san" "$work"
	mkdir -p "$san" "$work"
	local -a cmd
	mapfile -t cmd < <(job_command "${JOB_KIND[i]}")
	local ports
	ports=$(slot_ports "$slot")
	(
		cd "$ROOT"
		export WS_ROOT="$ROOT" WS_BUILD="${JOB_BUILD[i]}" WS_WORK="$work" WS_PORTS="$ports"
		export ASAN_OPTIONS="log_path=$san/asan:detect_leaks=1:abort_on_error=0"
		export UBSAN_OPTIONS="log_path=$san/ubsan:print_stacktrace=1:halt_on_error=1"
		exec timeout --kill-after=10 "$SUITE_TIMEOUT" "${cmd[@]}"
	) >"$log" 2>&1 </dev/null &
	RUN_JOB[$!]=$i
	RUN_SLOT[$!]=$slot
	RUN_START[$!]=$(date +%s.%N)
}

# finish_job PID RC: counts a finished suite's cases and prints its line
# (and, when it failed, its failed cases and the end of its log).
finish_job() {
	local pid=$1 rc=$2
	local i=${RUN_JOB[$pid]} start=${RUN_START[$pid]}
	SLOT_BUSY[${RUN_SLOT[$pid]}]=0
	unset "RUN_JOB[$pid]" "RUN_SLOT[$pid]" "RUN_START[$pid]"
	local name=${JOB_NAME[i]} slug end
	end=$(date +%s.%N)
	slug=$(slug_of "$name")
	local log="$LOGS/$slug.log" san="$LOGS/sanitizers/$slug"

	local pass fail skip
	pass=$(grep -cE '^ok [0-9]+' "$log" | tr -d '\n' || true)
	skip=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$log" | tr -d '\n' || true)
	fail=$(grep -cE '^not ok [0-9]+' "$log" | tr -d '\n' || true)
	pass=$((pass - skip))
	local problem=""
	if compgen -G "$san/*" >/dev/null; then
		problem="sanitizer report"
		fail=$((fail + 1))
	elif [[ $rc -ne 0 && $fail -eq 0 ]]; then
		problem="exited $rc"
		[[ $rc -eq 124 ]] && problem="timed out after ${SUITE_TIMEOUT}s"
		fail=$((fail + 1))
	elif [[ $((pass + fail + skip)) -eq 0 ]]; then
		problem="ran no test"
		fail=$((fail + 1))
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	local secs
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
	printf '%s\n' "$secs" >"$LOGS/$slug.secs"
	if [[ $fail -eq 0 ]]; then
		printf 'PASS %-44s %4d passed %3d skipped  %6ss\n' "$name" "$pass" "$skip" "$secs"
	else
		failed_suites+=("$name")
		printf 'FAIL %-44s %4d passed %3d failed %3d skipped  %6ss %s\n' \
			"$name" "$pass" "$fail" "$skip" "$secs" "${problem:+($problem)}"
		# Each failed case with the comment lines that explain it.
		awk '/^not ok [0-9]+/ { show = 6; n++ } n > 20 { exit }
			show > 0 && (/^not ok/ || /^#/) { print "     " $0; show--; next } { show = 0 }' "$log"
		if [[ -n $problem ]]; then
			tail -n 30 "$log" | sed 's/^/     | /'
			if compgen -G "$san/*" >/dev/null; then
				head -n 40 "$san"/* | sed 's/^/     ! /'
			fi
		fi
		printf '     log: %s\n' "$log"
	fi
}

# wait_one: waits for any running suite to finish and reports it.
wait_one() {
	local pid="" rc=0
	wait -n -p pid "${!RUN_JOB[@]}" || rc=$?
	if [[ -z $pid ]]; then
		return 0
	fi
	finish_job "$pid" "$rc"
}

# On ^C or TERM: the running suites get TERM (timeout passes it to the
# suite's process group), their reports are dropped.
interrupted() {
	local pid
	for pid in "${!RUN_JOB[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	printf 'tests/run.sh: interrupted\n' >&2
	exit 130
}

# run_jobs: every queued suite, JOBS at a time, longest first; serial ones
# last and alone.
run_jobs() {
	local -a order
	# Sort: concurrent before serial, then by expected time, longest first.
	mapfile -t order < <(for i in "${!JOB_NAME[@]}"; do
		printf '%s %s %s\n' "${JOB_SERIAL[i]}" "${JOB_COST[i]}" "$i"
	done | sort -k1,1n -k2,2gr | awk '{ print $3 }')
	trap interrupted INT TERM
	local i
	for i in "${order[@]}"; do
		if [[ ${JOB_SERIAL[i]} -eq 1 ]]; then
			while [[ ${#RUN_JOB[@]} -gt 0 ]]; do
				wait_one
			done
		fi
		while [[ ${#RUN_JOB[@]} -ge $JOBS ]]; do
			wait_one
		done
		start_job "$i"
		if [[ ${JOB_SERIAL[i]} -eq 1 ]]; then
			wait_one
		fi
	done
	while [[ ${#RUN_JOB[@]} -gt 0 ]]; do
		wait_one
	done
	trap - INT TERM
}

main() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		-h | --help)
			usage
			exit 0
			;;
		--fast) FAST=1 ;;
		-j)
			[[ $# -ge 2 ]] || {
				printf 'tests/run.sh: -j needs a number\n' >&2
				exit 2
			}
			JOBS=$2
			shift
			;;
		-j*) JOBS=${1#-j} ;;
		-*)
			printf 'tests/run.sh: unknown option %s\n' "$1" >&2
			usage >&2
			exit 2
			;;
		*) PATTERN=$1 ;;
		esac
		shift
	done
	[[ -n $JOBS ]] || JOBS=$((2 * $(nproc)))
	if ! [[ $JOBS =~ ^[1-9][0-9]*$ ]]; then
		printf 'tests/run.sh: -j/JOBS: not a number of suites at a time: %s\n' "$JOBS" >&2
		exit 2
	fi
	mkdir -p "$LOGS"
	port_ranges_init
	local t
	for t in "$BUILD"/tests/*; do
		[[ -f $t && -x $t ]] || continue
		add_job "unit/$(basename "$t")" "$BUILD" "unit:$t" 0 1
		if [[ -x $BUILD/asan/tests/$(basename "$t") ]]; then
			add_job "unit/$(basename "$t") [asan+ubsan]" "$BUILD/asan" "unit:$BUILD/asan/tests/$(basename "$t")" 0 1
		else
			add_job "unit/$(basename "$t") [asan+ubsan]" "$BUILD/asan" missing 0 1
		fi
	done
	local file name serial cost
	while IFS= read -r file; do
		name=${file#"$ROOT"/tests/}
		if [[ $FAST -eq 1 ]] && is_slow "$file"; then
			continue
		fi
		serial=0
		is_serial "$file" && serial=1
		# No run here yet: a guess from its size (a long suite has many cases).
		cost=$(($(wc -c <"$file") / 1000))
		add_job "$name" "$BUILD" "area:$file" "$serial" "$cost"
		if [[ $FAST -eq 0 ]] && head -n 5 "$file" | grep -q 'sanitize: yes'; then
			add_job "$name [asan+ubsan]" "$BUILD/asan" "area:$file" "$serial" "$((cost * 2))"
		fi
	done < <(find "$ROOT/tests" -mindepth 2 -maxdepth 2 -type f \
		\( -name '*.test.sh' -o -name '*.test.py' -o -name '*.test.mjs' \) | sort)

	run_jobs

	if [[ ${#failed_suites[@]} -gt 0 ]]; then
		printf 'failed suites: %s\n' "${failed_suites[*]}"
	fi
	printf '%d passed, %d failed, %d skipped\n' "$total_pass" "$total_fail" "$total_skip"
	[[ $total_fail -eq 0 ]]
}

main "$@"
