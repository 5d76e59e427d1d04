#!/usr/bin/env bash
# Usage: packages.sh [--dry-run] [--help] PKG...
# Summary: installs Debian/Ubuntu packages non-interactively, updating the
# package lists only when needed. Self-contained, so it can be fetched alone by
# URL (combine.sh --script-url .../packages.sh).
set -euo pipefail

PROG=packages.sh
# apt's lists older than this many minutes are refreshed before installing.
readonly LISTS_MAX_AGE_MIN=1440

usage() {
	cat <<'USAGE'
Usage: packages.sh [--dry-run] [--help] PKG...

Installs the named Debian/Ubuntu packages with apt-get, non-interactively and
without recommends. Packages already installed are left alone; when all are
there it changes nothing. The package lists are updated first only when they
are missing or older than a day, or when a package has no install candidate.

  --dry-run   print what would be installed, change nothing
  --help      show this help

Needs root (except for --dry-run and --help).
USAGE
}

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	printf "Try '%s --help' for more information.\n" "$PROG" >&2
	exit 2
}

# installed PKG: dpkg has PKG fully installed.
installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# lists_stale: no package lists at all, or none refreshed within LISTS_MAX_AGE_MIN.
lists_stale() {
	local lists=/var/lib/apt/lists
	compgen -G "$lists/*_Packages*" >/dev/null || return 0
	[[ -z $(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin "-$LISTS_MAX_AGE_MIN" -print -quit) ]]
}

# no_candidate PKG...: true when apt knows no installable version of one of them.
no_candidate() {
	local pkg
	for pkg in "$@"; do
		if apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: (none)' ||
			[[ -z $(apt-cache policy "$pkg" 2>/dev/null) ]]; then
			return 0
		fi
	done
	return 1
}

apt_get() {
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a \
		apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

main() {
	local dry_run=0
	local -a pkgs=()
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dry-run) dry_run=1 ;;
		-h | --help) usage; exit 0 ;;
		--) shift; pkgs+=("$@"); break ;;
		-*) usage_error "unknown option: $1" ;;
		*) pkgs+=("$1") ;;
		esac
		shift
	done
	[[ ${#pkgs[@]} -gt 0 ]] || usage_error "no package named"
	local pkg
	for pkg in "${pkgs[@]}"; do
		# Debian policy names, optionally :arch; refuses anything apt would read as an option.
		[[ $pkg =~ ^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$ ]] || usage_error "not a package name: '$pkg'"
	done
	command -v apt-get >/dev/null || die "apt-get not found: only Debian and Ubuntu are supported"

	local -a missing=()
	for pkg in "${pkgs[@]}"; do
		installed "$pkg" || missing+=("$pkg")
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		log "already installed: ${pkgs[*]}"
		return 0
	fi
	if [[ $dry_run -eq 1 ]]; then
		log "would install: ${missing[*]}"
		return 0
	fi
	[[ $(id -u) -eq 0 ]] || die "must run as root to install: ${missing[*]}"
	if lists_stale || no_candidate "${missing[@]}"; then
		log "updating the package lists"
		apt_get update
	fi
	log "installing: ${missing[*]}"
	apt_get install --no-install-recommends "${missing[@]}"
}

main "$@"
