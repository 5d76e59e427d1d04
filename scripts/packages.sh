#!/usr/bin/env bash
# Usage: packages.sh [--dry-run|--check] [--help] PKG...
# Summary: installs Debian/Ubuntu packages non-interactively, updating the
# package lists only when needed. Self-contained, so it can be fetched alone by
# URL (combine.sh --script-url .../packages.sh); for the same reason it is the
# one place web-shell's scripts ask dpkg what is installed (--check).
set -euo pipefail

PROG=packages.sh
# apt's lists older than this many minutes are refreshed before installing.
readonly LISTS_MAX_AGE_MIN=1440

usage() {
	cat <<'USAGE'
Usage: packages.sh [--dry-run|--check] [--help] PKG...

Installs the named Debian/Ubuntu packages with apt-get, non-interactively and
without recommends. Packages already installed are left alone; when all are
there it changes nothing. The package lists are updated first only when they
are missing or older than a day, or when a package has no install candidate.
A package apt does not know is an error, also under --dry-run.

  --dry-run   print what would be installed, change nothing
  --check     print the packages that are not installed, one a line; exit 1
              if there is any, 0 if all are installed; change nothing
  --help      show this help

Needs root (except for --dry-run and --help).
USAGE
}

log() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() {
	printf "%s: %s (see '%s --help')\n" "$PROG" "$*" "$PROG" >&2
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

# without_candidate PKG...: prints those apt knows no installable version of.
without_candidate() {
	local pkg policy
	for pkg in "$@"; do
		policy=$(apt-cache policy "$pkg" 2>/dev/null || true)
		if [[ -z $policy || $policy == *'Candidate: (none)'* ]]; then
			printf '%s\n' "$pkg"
		fi
	done
}

# need_candidates PKG...: an error naming every package apt cannot install.
need_candidates() {
	local -a unknown
	mapfile -t unknown < <(without_candidate "$@")
	[[ ${#unknown[@]} -eq 0 ]] ||
		die "no such package in apt's lists: ${unknown[*]} (a typo, or a missing apt source)"
}

apt_get() {
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a \
		apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

main() {
	local dry_run=0 check=0
	local -a pkgs=()
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dry-run) dry_run=1 ;;
		--check) check=1 ;;
		-h | --help) usage; exit 0 ;;
		--) shift; pkgs+=("$@"); break ;;
		-*) usage_error "unknown option: $1" ;;
		*) pkgs+=("$1") ;;
		esac
		shift
	done
	[[ ${#pkgs[@]} -gt 0 ]] || usage_error "no package named"
	[[ $dry_run -eq 0 || $check -eq 0 ]] || usage_error "--dry-run and --check exclude each other"
	local pkg
	for pkg in "${pkgs[@]}"; do
		# Debian policy names, optionally :arch; refuses anything apt would read as an option.
		[[ $pkg =~ ^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$ ]] || usage_error "not a package name: '$pkg'"
	done
	command -v dpkg-query >/dev/null || die "dpkg-query not found: only Debian and Ubuntu are supported"

	local -a missing=()
	for pkg in "${pkgs[@]}"; do
		installed "$pkg" || missing+=("$pkg")
	done
	if [[ $check -eq 1 ]]; then
		[[ ${#missing[@]} -eq 0 ]] || printf '%s\n' "${missing[@]}"
		[[ ${#missing[@]} -eq 0 ]]
		return
	fi
	if [[ ${#missing[@]} -eq 0 ]]; then
		log "already installed: ${pkgs[*]}"
		return 0
	fi
	command -v apt-get >/dev/null || die "apt-get not found: only Debian and Ubuntu are supported"
	if [[ $dry_run -eq 1 ]]; then
		need_candidates "${missing[@]}"
		log "would install: ${missing[*]}"
		return 0
	fi
	[[ $(id -u) -eq 0 ]] || die "must run as root to install: ${missing[*]}"
	if lists_stale || [[ -n $(without_candidate "${missing[@]}") ]]; then
		log "updating the package lists"
		apt_get update
	fi
	need_candidates "${missing[@]}"
	log "installing: ${missing[*]}"
	apt_get install --no-install-recommends "${missing[@]}"
}

main "$@"
