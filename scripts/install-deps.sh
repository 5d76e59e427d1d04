#!/usr/bin/env bash
# Usage: scripts/install-deps.sh [--demo] [--check] [--help]
# Summary: installs web-shell's build, demo, test and benchmark dependencies from
# Debian's packages, through scripts/packages.sh, and the npm packages pinned by
# package-lock.json, idempotently. --demo: only what `make demo` needs.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PROG=install-deps
# shellcheck source=scripts/lib/common.sh
source "$HERE/lib/common.sh"

# What `make demo` needs: building both services, serving the app (Caddy), and
# the demo's own tools (openssl for its key pair). Node comes separately below.
readonly DEMO_PACKAGES=(
	build-essential pkg-config libwebsockets-dev libuv1-dev libcjson-dev libssl-dev libsodium-dev
	caddy openssl
)
# What only `make test`, `make fuzz` and `make bench` need on top.
readonly TEST_PACKAGES=(
	# sanitizers and the fuzzer
	clang libclang-rt-14-dev
	# tests: real browser, real clients, provisioning checks
	chromium curl procps psmisc iproute2 python3 python3-cryptography
	python3-websockets python3-yaml shellcheck debootstrap cloud-init systemd
	asciinema prometheus jq # recordings read back (asciinema cat), promtool check metrics, JSON logs
	# benchmarks
	wrk
)

usage() {
	cat <<'USAGE'
Usage: scripts/install-deps.sh [--demo] [--check] [--help]

Installs what web-shell needs to build, test and benchmark, from Debian's
packages (through scripts/packages.sh) and the npm registry (npm ci, pinned by
package-lock.json). Runs apt-get as root, or through sudo. Does nothing that
is already done.

  --demo    only what `make demo` needs: the build tools and libraries,
            Caddy, openssl, Node.js for the app's xterm.js (no Chromium,
            cloud-init, debootstrap, clang or wrk)
  --check   only report what is missing; exit 1 if anything is
  --help    show this help
USAGE
}

log() { log::info "$@" >&2; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		log "need root (or sudo) to run: $*"
		exit 1
	fi
}

# missing_debs PKG...: those not installed, one a line (packages.sh asks dpkg),
# and Node.js when absent (it may come from elsewhere, e.g. nodesource).
missing_debs() {
	"$HERE/packages.sh" --check "$@" || true
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		printf '%s\n' nodejs npm
	fi
}

npm_needed() {
	[[ -f "$ROOT/package-lock.json" ]] || return 1
	[[ ! -d "$ROOT/node_modules" ]] && return 0
	# node_modules older than the lock file: the pins changed.
	[[ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]
}

main() {
	local check=0 demo=0
	while [[ $# -gt 0 ]]; do
		case $1 in
		--check) check=1 ;;
		--demo) demo=1 ;;
		-h | --help) usage; exit 0 ;;
		*) printf 'install-deps: unknown option: %s\n' "$1" >&2; usage >&2; exit 2 ;;
		esac
		shift
	done
	local -a wanted=("${DEMO_PACKAGES[@]}") debs
	[[ $demo -eq 1 ]] || wanted+=("${TEST_PACKAGES[@]}")
	mapfile -t debs < <(missing_debs "${wanted[@]}")
	if [[ $check -eq 1 ]]; then
		local rc=0
		if [[ ${#debs[@]} -gt 0 ]]; then log "missing packages: ${debs[*]}"; rc=1; fi
		if npm_needed; then log "npm packages not installed (npm ci)"; rc=1; fi
		return "$rc"
	fi
	if [[ ${#debs[@]} -gt 0 ]]; then
		log "installing from Debian: ${debs[*]}"
		as_root "$HERE/packages.sh" "${debs[@]}"
		[[ " ${debs[*]} " != *" caddy "* ]] || note_system_caddy >&2
	else
		log "Debian packages: all present"
	fi
	if npm_needed; then
		log "installing npm packages pinned by package-lock.json (npm ci)"
		(cd "$ROOT" && npm ci --no-audit --no-fund)
	else
		log "npm packages: up to date"
	fi
}

main "$@"
