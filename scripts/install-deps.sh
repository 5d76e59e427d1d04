#!/usr/bin/env bash
# Usage: scripts/install-deps.sh [--check] [--help]
# Summary: installs every build, test and benchmark dependency of web-shell from
# Debian's packages (and the npm packages pinned by package-lock.json), idempotently.
set -euo pipefail

readonly DEB_PACKAGES=(
	# build
	build-essential pkg-config libwebsockets-dev libcjson-dev libssl-dev libsodium-dev
	# sanitizers and the fuzzer
	clang libclang-rt-14-dev
	# tests: real Caddy, real browser, real clients
	caddy chromium curl openssl procps psmisc iproute2 python3 python3-cryptography
	python3-websockets python3-yaml shellcheck debootstrap cloud-init systemd
	# benchmarks
	wrk
)

usage() {
	cat <<'USAGE'
Usage: scripts/install-deps.sh [--check] [--help]

Installs what web-shell needs to build, test and benchmark, from Debian's
packages and the npm registry (npm ci, pinned by package-lock.json).
Runs apt-get as root, or through sudo. Does nothing that is already done.

  --check   only report what is missing; exit 1 if anything is
  --help    show this help
USAGE
}

log() { printf 'install-deps: %s\n' "$*" >&2; }

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

missing_debs() {
	local pkg
	for pkg in "${DEB_PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
			printf '%s\n' "$pkg"
		fi
	done
	# Node.js may come from elsewhere (nodesource); only ask Debian when absent.
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		printf '%s\n' nodejs npm
	fi
}

npm_needed() {
	local root=$1
	[[ -f "$root/package-lock.json" ]] || return 1
	[[ ! -d "$root/node_modules" ]] && return 0
	# node_modules older than the lock file: the pins changed.
	[[ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]]
}

main() {
	local check=0 root
	while [[ $# -gt 0 ]]; do
		case $1 in
		--check) check=1 ;;
		-h | --help) usage; exit 0 ;;
		*) printf 'install-deps: unknown option: %s\n' "$1" >&2; usage >&2; exit 2 ;;
		esac
		shift
	done
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

	local -a debs
	mapfile -t debs < <(missing_debs)
	if [[ $check -eq 1 ]]; then
		local rc=0
		if [[ ${#debs[@]} -gt 0 ]]; then log "missing packages: ${debs[*]}"; rc=1; fi
		if npm_needed "$root"; then log "npm packages not installed (npm ci)"; rc=1; fi
		return "$rc"
	fi
	if [[ ${#debs[@]} -gt 0 ]]; then
		log "installing from Debian: ${debs[*]}"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${debs[@]}"
	else
		log "Debian packages: all present"
	fi
	if npm_needed "$root"; then
		log "installing npm packages pinned by package-lock.json (npm ci)"
		(cd "$root" && npm ci --no-audit --no-fund)
	else
		log "npm packages: up to date"
	fi
}

main "$@"
