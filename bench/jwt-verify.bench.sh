#!/usr/bin/env bash
# Usage: bench/jwt-verify.bench.sh [--help]   (run by `make bench`)
# Summary: verified EdDSA requests per second and p50/p99 latency of the real
# jwt-verify (one thread, pinned to CPU 0) under wrk (pinned to CPU 1) on
# loopback, its RSS, and the raw libsodium Ed25519 rate on CPU 0 in the same
# run (after each of BENCH_ROUNDS, default 3, turns of wrk); prints a table
# against the targets (>= 70% of raw, RSS < 4 MB). BENCH_SECONDS (default 9)
# sets wrk's time over all rounds; the server is stopped after.
set -euo pipefail

ROOT=${WS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${WS_BUILD:-$ROOT/build}
SECONDS_RUN=${BENCH_SECONDS:-9}
CONNS=${BENCH_CONNS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
WORKDIR=""
SERVER_PID=""

usage() { sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

cleanup() {
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	[[ -z $WORKDIR ]] || rm -rf "$WORKDIR"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
	local port=$1
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# to_us VALUE: wrk latency ("812.00us", "1.20ms", "2.00s") in microseconds.
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1e6; else print n
	}'
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

main() {
	if [[ ${1:-} == -h || ${1:-} == --help ]]; then
		usage
		exit 0
	fi
	local cpus
	cpus=$(nproc)
	local srv_cpu=0 wrk_cpu=$((cpus > 1 ? 1 : 0))
	trap cleanup EXIT
	WORKDIR=$(mktemp -d)
	make -s -C "$ROOT" "$BUILD/bench/jwt-verify-raw" BUILD="$BUILD" >/dev/null

	local fix="$ROOT/tests/jwt-verify/fixtures" port token
	port=$(free_port)
	token=$(/usr/bin/python3 "$ROOT/tests/lib/mint_jwt.py" --key "$fix/ed25519.pem" --sub bench \
		--lifetime 3000)
	taskset -c "$srv_cpu" "$BUILD/jwt-verify" --key "$fix/ed25519.pub.pem=bench" \
		--listen "127.0.0.1:$port" 2>"$WORKDIR/server.log" >/dev/null &
	SERVER_PID=$!
	wait_port "$port" || { echo "jwt-verify did not start" >&2; cat "$WORKDIR/server.log" >&2; exit 1; }
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-Uri: /ws?token=$token" \
		"http://127.0.0.1:$port/verify")
	[[ $code == 200 ]] || { echo "bench token refused: $code" >&2; exit 1; }

	# As Caddy sends it: the token in X-Forwarded-Uri, one request per keep-alive round trip.
	# ROUNDS turns of wrk then the raw rates on the server's CPU, so that a neighbour's load
	# weighs on both sides of the ratio alike; totals over the rounds, medians of latency.
	local out ticks0 ticks1 hz requests=0 cpu=0 rps_sum=0 round n non2xx=0
	local raw_sum=0 raw_wall_sum=0 pure_sum=0 r_raw r_wall r_pure
	local -a p50s=() p99s=()
	hz=$(getconf CLK_TCK)
	for ((round = 0; round < ROUNDS; round++)); do
		ticks0=$(cpu_ticks "$SERVER_PID")
		out=$(taskset -c "$wrk_cpu" wrk -t1 -c"$CONNS" -d"$((SECONDS_RUN / ROUNDS))s" --latency \
			-H "X-Forwarded-Uri: /ws?token=$token" -H "X-Forwarded-For: 127.0.0.1" \
			"http://127.0.0.1:$port/verify")
		ticks1=$(cpu_ticks "$SERVER_PID")
		cpu=$((cpu + ticks1 - ticks0))
		n=$(awk '/requests in/ { print $1 }' <<<"$out")
		requests=$((requests + n))
		rps_sum=$(awk -v a="$rps_sum" '/^Requests\/sec:/ { printf "%.0f", a + $2 }' <<<"$out")
		p50s+=("$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")")
		p99s+=("$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")")
		non2xx=$(awk -v a="$non2xx" '/Non-2xx/ { a += $NF } END { print a }' <<<"$out")
		read -r _ r_raw _ r_wall _ r_pure < <(taskset -c "$srv_cpu" "$BUILD/bench/jwt-verify-raw" 1 \
			"$fix/ed25519.pub.pem" "$token")
		raw_sum=$((raw_sum + r_raw))
		raw_wall_sum=$((raw_wall_sum + r_wall))
		pure_sum=$((pure_sum + r_pure))
	done
	local rps p50 p99 hwm rss anon raw raw_wall pure
	rps=$((rps_sum / ROUNDS))
	raw=$((raw_sum / ROUNDS))
	raw_wall=$((raw_wall_sum / ROUNDS))
	pure=$((pure_sum / ROUNDS))
	p50=$(printf '%s\n' "${p50s[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	p99=$(printf '%s\n' "${p99s[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	hwm=$(status_kb "$SERVER_PID" VmHWM)
	rss=$(status_kb "$SERVER_PID" VmRSS)
	anon=$(status_kb "$SERVER_PID" RssAnon)
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=""

	awk -v rps="$rps" -v raw="$raw" -v raw_wall="$raw_wall" -v pure="$pure" -v p50="$p50" -v p99="$p99" -v hwm="$hwm" -v rss="$rss" \
		-v bad="$non2xx" -v anon="$anon" \
		-v cpu="$cpu" -v hz="$hz" -v requests="$requests" -v conns="$CONNS" -v secs="$SECONDS_RUN" -v rounds="$ROUNDS" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
		# Both rates per CPU-second each process got: the machine is shared, and
		# wall-clock rates measure the neighbours as much as the code.
		per_cpu = cpu > 0 ? requests / (cpu / hz) : 0
		cratio = 100 * per_cpu / raw
		ratio = 100 * rps / raw_wall
		printf "jwt-verify, EdDSA, wrk -t1 -c%d, %d rounds of %ds, each followed by the raw rates (1 CPU-s), server pinned to one CPU; load average %s\n", conns, rounds, secs / rounds, load
		printf "%-38s %14s %14s %s\n", "measure", "measured", "target", "verdict"
		printf "%-38s %14d %14s %s\n", "verified requests per server CPU-s", per_cpu, "-", ""
		printf "%-38s %14d %14s %s\n", "raw Ed25519 verifies per CPU-s", raw, "-", ""
		printf "%-38s %13.1f%% %13s%% %s\n", "HTTP / raw, per CPU-s", cratio, ">= 70", (cratio >= 70 ? "ok" : "BELOW")
		printf "%-38s %14d %14s %s\n", "jwt_verify() alone per CPU-s", pure, "-", sprintf("(%.0f%% of raw)", 100 * pure / raw)
		printf "%-38s %14d %14s %s\n", "verified requests/s, wall clock", rps, "-", ""
		printf "%-38s %14d %14s %s\n", "raw Ed25519 verifies/s, wall clock", raw_wall, "-", ""
		printf "%-38s %13.1f%% %13s%% %s\n", "HTTP / raw, wall clock", ratio, ">= 70", (ratio >= 70 ? "ok" : "BELOW")
		printf "%-38s %12.0fus %14s %s\n", "latency p50", p50, "-", ""
		printf "%-38s %12.0fus %14s %s\n", "latency p99", p99, "-", ""
		printf "%-38s %11.2fMiB %11s MiB %s\n", "RSS peak (VmHWM)", hwm / 1024, "< 4", (hwm < 4096 ? "ok" : "OVER")
		printf "%-38s %11.2fMiB %11s MiB %s\n", "RSS after the run (VmRSS)", rss / 1024, "< 4", (rss < 4096 ? "ok" : "OVER")
		printf "%-38s %11.2fMiB %14s %s\n", "  of which private (RssAnon)", anon / 1024, "-", ""
		printf "%-38s %14d %14s %s\n", "non-2xx answers", bad, "0", (bad == 0 ? "ok" : "BAD")
	}'
}

main "$@"
